/**
 * Frames in progress on the WebSocket door (/kafka): the raw bytes of a message not yet whole,
 * which ws holds until it is, count against queued.max.request.bytes as a TCP frame in progress
 * does (reading paused while the connection may take no more), and a message not whole within
 * request.frame.timeout.ms of its first byte closes the connection (1008). The attackers speak
 * WebSocket by hand over a raw socket, so that they can stop inside a message.
 */
import * as net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { WsMessageMeter } from "../../broker/http/kafka-ws.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { TestClient } from "../helpers/kafka-client.js";
import { failOnProcessErrors } from "../helpers/process-errors.js";
import { waitFor, waitForStable, within } from "../helpers/wait.js";

const API_VERSIONS = 18;
/** Most bytes one socket read hands the broker (libuv reads at most 64 KiB at a time). */
const SOCKET_READ_BYTES = 64 * 1024;

failOnProcessErrors();

/** A WebSocket spoken by hand: the upgrade, then whatever bytes the test writes. */
class RawWs {
  received = Buffer.alloc(0);
  closed = false;
  private constructor(readonly socket: net.Socket) {
    socket.on("data", (d: Buffer) => {
      this.received = Buffer.concat([this.received, d]);
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      this.closed = true;
    });
  }

  static async open(port: number): Promise<RawWs> {
    const socket = net.connect(port, "127.0.0.1");
    const ws = new RawWs(socket);
    socket.write(
      "GET /kafka HTTP/1.1\r\n" +
        `Host: 127.0.0.1:${port}\r\n` +
        "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    await waitFor(() => ws.received.includes("\r\n\r\n"), "the upgrade's answer");
    expect(ws.received.toString("latin1")).toMatch(/^HTTP\/1\.1 101 /);
    ws.received = ws.received.subarray(ws.received.indexOf("\r\n\r\n") + 4);
    return ws;
  }

  /** Writes the header of a masked binary frame declaring `size` payload bytes, and `body` of them. */
  begin(size: number, body: number): void {
    const header = Buffer.alloc(14);
    header[0] = 0x82;
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(size), 2);
    const payload = Buffer.alloc(body);
    // The Kafka length prefix the whole message would carry (the mask is zero).
    if (body >= 4) payload.writeInt32BE(size - 4, 0);
    this.socket.write(Buffer.concat([header, payload]));
  }

  /** The close code of a close frame the broker sent, if any. */
  closeCode(): number | null {
    const at = this.received.indexOf(0x88);
    if (at < 0 || this.received.length < at + 4) return null;
    return this.received.readUInt16BE(at + 2);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** A WebSocket client gets ApiVersions answered. */
async function expectWsServed(httpPort: number): Promise<void> {
  const ws = new WebSocket(`ws://127.0.0.1:${httpPort}/kafka`);
  ws.on("error", () => {});
  try {
    await within(new Promise((resolve) => ws.once("open", resolve)), "a WebSocket to open");
    const answer = new Promise<Buffer>((resolve) => ws.once("message", (d) => resolve(d as Buffer)));
    ws.send(TestClient.frame(API_VERSIONS, 3, {}, 7));
    const res = await within(answer, "ApiVersions over another WebSocket");
    expect(res.readInt32BE(4)).toBe(7);
  } finally {
    ws.terminate();
  }
}

/** A TCP client gets ApiVersions answered. */
async function expectServed(port: number): Promise<void> {
  const client = await TestClient.connect(port);
  try {
    const res = await within(client.request(API_VERSIONS, 3, {}), "ApiVersions from another client");
    expect(res.errorCode).toBe(0);
  } finally {
    client.close();
  }
}

/** A masked client frame (mask zero): `first` is FIN + opcode. */
function wsFrame(first: number, payload: number): Buffer {
  const ext = payload < 126 ? 0 : payload < 65536 ? 2 : 8;
  const header = Buffer.alloc(2 + ext + 4);
  header[0] = first;
  header[1] = 0x80 | (ext === 0 ? payload : ext === 2 ? 126 : 127);
  if (ext === 2) header.writeUInt16BE(payload, 2);
  if (ext === 8) header.writeBigUInt64BE(BigInt(payload), 2);
  return Buffer.concat([header, Buffer.alloc(payload)]);
}

describe("WsMessageMeter", () => {
  it("tells the bytes of a message in progress, fed a byte at a time, pings between fragments", () => {
    const first = wsFrame(0x02, 300); // binary, not final, 16-bit length
    const ping = wsFrame(0x89, 3);
    const last = wsFrame(0x80, 70_000); // continuation, final, 64-bit length
    const next = wsFrame(0x82, 5);
    const meter = new WsMessageMeter();
    const stream = Buffer.concat([first, ping, last, next.subarray(0, 3)]);
    const whole = first.length + ping.length + last.length;
    for (let i = 0; i < stream.length; i++) {
      meter.feed(stream.subarray(i, i + 1));
      const fed = i + 1;
      // Every byte of the headers, then every 997th of the long payload.
      if (fed > 400 && fed < whole - 20 && fed % 997 !== 0) continue;
      if (fed < whole) {
        expect(meter.inProgress).toBe(fed);
        expect(meter.rest()).toBeGreaterThan(0);
        expect(meter.messages).toBe(0);
      } else {
        expect(meter.messages).toBe(1);
        expect(meter.inProgress).toBe(fed - whole);
      }
    }
    // Three bytes of its header are missing; its length is not known yet.
    expect(meter.rest()).toBe(3);
    meter.feed(next.subarray(3));
    expect(meter.messages).toBe(2);
    expect(meter.rest()).toBeNull();
    // A ping between messages is no message in progress.
    meter.feed(ping.subarray(0, 4));
    expect(meter.rest()).toBeNull();
    expect(meter.inProgress).toBe(0);
  });
});

describe("WebSocket messages in progress", () => {
  let tb: TestBroker;
  const frameLimit = 1024 * 1024;
  const budget = 2 * 1024 * 1024;
  beforeAll(async () => {
    tb = await startTestBroker({
      "socket.request.max.bytes": frameLimit,
      "queued.max.request.bytes": budget,
      "request.frame.timeout.ms": 60_000,
    });
  });
  afterAll(async () => {
    await tb?.stop();
  });

  it("connections stalled inside large messages count against the request budget and are paused", async () => {
    const requests = tb.broker.dispatcher.requestBudget;
    requests.peak = 0;
    const attackers = 8;
    const conns: RawWs[] = [];
    try {
      for (let i = 0; i < attackers; i++) {
        const conn = await RawWs.open(tb.broker.httpPort);
        conns.push(conn);
        // Most of a message of the largest size, never finished.
        conn.begin(frameLimit + 4, frameLimit - 1000);
      }
      // Without the count, ws holds them and the budget sees nothing.
      await waitFor(() => requests.used >= budget / 2, "the stalled messages to fill the request budget");
      await waitForStable(() => requests.used, "the request budget");
      // Without the pause they would hold attackers x ~1 MiB.
      expect(requests.peak).toBeLessThanOrEqual(budget + attackers * SOCKET_READ_BYTES);
      await expectServed(tb.port);
      await expectWsServed(tb.broker.httpPort);
    } finally {
      for (const conn of conns) conn.destroy();
    }
    await waitFor(() => requests.used === 0, "the request budget back to 0 after the attackers closed");
    await expectWsServed(tb.broker.httpPort);
  });

  it("a message sent in pieces completes and is answered; the budget returns to 0", async () => {
    const requests = tb.broker.dispatcher.requestBudget;
    const conn = await RawWs.open(tb.broker.httpPort);
    try {
      const frame = TestClient.frame(API_VERSIONS, 3, {}, 42);
      const header = Buffer.from([0x82, 0x80 | frame.length, 0, 0, 0, 0]);
      const all = Buffer.concat([header, frame]);
      for (let i = 0; i < all.length; i += 5) {
        conn.socket.write(all.subarray(i, i + 5));
        await waitFor(() => conn.socket.writableLength === 0, "a piece written");
      }
      await waitFor(() => conn.received.length >= 12, "the answer");
      expect(conn.received[0]).toBe(0x82);
      expect(conn.received.readInt32BE(conn.received[1] === 126 ? 8 : 6)).toBe(42);
    } finally {
      conn.destroy();
    }
    await waitFor(() => requests.used === 0, "the request budget back to 0");
  });
});

describe("the WebSocket door's frame deadline", () => {
  let tb: TestBroker;
  beforeAll(async () => {
    tb = await startTestBroker({ "request.frame.timeout.ms": 300 });
  });
  afterAll(async () => {
    await tb?.stop();
  });

  it("a message whose sender stalls is closed (1008); a WebSocket between messages is not", async () => {
    const idle = new WebSocket(`ws://127.0.0.1:${tb.broker.httpPort}/kafka`);
    idle.on("error", () => {});
    let idleClosed = false;
    idle.on("close", () => {
      idleClosed = true;
    });
    await within(new Promise((resolve) => idle.once("open", resolve)), "the idle WebSocket to open");
    const stalled = await RawWs.open(tb.broker.httpPort);
    try {
      stalled.begin(10_000, 100);
      await waitFor(() => stalled.closeCode() !== null, "the stalled message's connection to be closed");
      expect(stalled.closeCode()).toBe(1008);
      await waitFor(() => stalled.closed, "the stalled connection cut");
      // The idle one has been idle longer than the frame timeout, between messages: kept.
      expect(idleClosed).toBe(false);
      const answer = new Promise<Buffer>((resolve) => idle.once("message", (d) => resolve(d as Buffer)));
      idle.send(TestClient.frame(API_VERSIONS, 3, {}, 9));
      expect((await within(answer, "ApiVersions on the idle WebSocket")).readInt32BE(4)).toBe(9);
    } finally {
      stalled.destroy();
      idle.terminate();
    }
    await waitFor(() => tb.broker.dispatcher.requestBudget.used === 0, "the request budget back to 0");
  });
});
