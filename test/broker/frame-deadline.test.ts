/**
 * request.frame.timeout.ms runs per frame, from the frame's first bytes: a client that streams
 * frames back to back, always with the next one begun, is not closed while each frame is whole in
 * time; a frame not whole in time is. A FramedConnection runs in-process over a stand-in socket
 * and dispatcher, under vitest's fake timers, so the deadline is exact on any machine.
 */
import { EventEmitter } from "node:events";
import type * as net from "node:net";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Dispatcher } from "../../broker/dispatch.js";
import { ByteBudget } from "../../broker/net/byte-budget.js";
import { FramedConnection } from "../../broker/net/kafka-server.js";

const FRAME_TIMEOUT_MS = 1000;

/** The parts of a net.Socket a FramedConnection uses; `destroyed` says whether it was closed. */
class FakeSocket extends EventEmitter {
  remoteAddress = "127.0.0.1";
  remotePort = 1;
  writableLength = 0;
  destroyed = false;
  ended = false;
  setNoDelay(): void {}
  setTimeout(): void {}
  pause(): void {}
  resume(): void {}
  cork(): void {}
  uncork(): void {}
  write(_chunk: Buffer, cb?: () => void): boolean {
    cb?.();
    return true;
  }
  end(): void {
    this.ended = true;
  }
  destroy(): void {
    this.destroyed = true;
  }
}

/** Answers nothing for every frame, and counts them. */
function fakeDispatcher(): Dispatcher & { frames: number } {
  const d = {
    frames: 0,
    requestBudget: new ByteBudget("queued.max.request.bytes", 1024 * 1024),
    responseBudget: new ByteBudget("queued.max.response.bytes", 1024 * 1024),
    dispatch: async () => {
      d.frames++;
      return { kind: "none" as const };
    },
  };
  return d as unknown as Dispatcher & { frames: number };
}

function frame(bodyBytes: number): Buffer {
  const out = Buffer.alloc(4 + bodyBytes, 0x61);
  out.writeInt32BE(bodyBytes, 0);
  return out;
}

describe("request.frame.timeout.ms", () => {
  let socket: FakeSocket;
  let dispatcher: Dispatcher & { frames: number };
  beforeEach(() => {
    vi.useFakeTimers();
    socket = new FakeSocket();
    dispatcher = fakeDispatcher();
    new FramedConnection(
      socket as unknown as net.Socket,
      dispatcher,
      {
        maxInFlightRequests: 100,
        maxInFlightBytes: 1024 * 1024,
        maxRequestBytes: 1024 * 1024,
        idleTimeoutMs: 600_000,
        frameTimeoutMs: FRAME_TIMEOUT_MS,
      },
      pino({ level: "silent" }),
    );
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("runs per frame: frames completed in time, each with the next begun, keep the connection", async () => {
    const f = frame(100);
    // The first frame begun: its first half.
    socket.emit("data", f.subarray(0, 50));
    const rounds = 10;
    for (let i = 0; i < rounds; i++) {
      // 0.6 of the deadline later, the frame is whole and the next one begun in the same read.
      await vi.advanceTimersByTimeAsync(FRAME_TIMEOUT_MS * 0.6);
      socket.emit("data", Buffer.concat([f.subarray(50), f.subarray(0, 50)]));
      expect(socket.ended || socket.destroyed).toBe(false);
    }
    // Six deadlines have passed since the first frame began; each frame took 0.6 of one.
    await vi.advanceTimersByTimeAsync(1);
    expect(dispatcher.frames).toBe(rounds);
    expect(socket.ended || socket.destroyed).toBe(false);
    // The frame now begun is not whole within its deadline: closed.
    await vi.advanceTimersByTimeAsync(FRAME_TIMEOUT_MS);
    expect(socket.destroyed).toBe(true);
  });
});
