/**
 * A raw Kafka TCP connection for framing and fuzz tests: writes arbitrary bytes, splits what comes
 * back into length-prefixed frames kept in arrival order, reports when the broker closes it, and
 * can stop reading (to exercise the broker's backpressure). Unlike TestClient it never matches
 * responses to requests: the tests check the order themselves.
 */
import * as net from "node:net";
import { type Message, MessageCodec } from "../../protocol/codec.js";
import { ResponseHeader } from "../../protocol/messages/header.js";
import { API_SPECS } from "../../protocol/messages/index.js";
import { Reader } from "../../protocol/reader.js";
import { Writer } from "../../protocol/writer.js";

const responseHeader = new MessageCodec(ResponseHeader);
const responseCodecs = new Map<number, MessageCodec>();

function responseCodec(apiKey: number): MessageCodec {
  let codec = responseCodecs.get(apiKey);
  if (!codec) {
    const spec = API_SPECS[apiKey];
    if (!spec) throw new Error(`no spec for API key ${apiKey}`);
    codec = new MessageCodec(spec.response);
    responseCodecs.set(apiKey, codec);
  }
  return codec;
}

/** Decodes a response frame (without its length prefix); every byte must be consumed. */
export function decodeResponse(
  frame: Buffer,
  apiKey: number,
  version: number,
): { correlationId: number; body: Message } {
  const codec = responseCodec(apiKey);
  const r = new Reader(frame);
  // ApiVersions answers with response header v0 at every version.
  const header = responseHeader.decode(r, codec.isFlexible(version) && apiKey !== 18 ? 1 : 0);
  const body = codec.decode(r, version);
  if (r.remaining() !== 0) {
    throw new Error(`${r.remaining()} bytes left after the ${API_SPECS[apiKey].name} v${version} response`);
  }
  return { correlationId: header.correlationId as number, body };
}

/** A request frame (with length prefix) with header v1 and `body` as raw bytes after it. */
export function rawFrame(apiKey: number, version: number, correlationId: number, body = Buffer.alloc(0)) {
  const w = new Writer();
  w.int32(0).int16(apiKey).int16(version).int32(correlationId).nullableString("raw");
  w.raw(body);
  const buf = w.toBuffer();
  buf.writeInt32BE(buf.length - 4, 0);
  return buf;
}

export class ConnectionClosedError extends Error {
  constructor() {
    super("connection closed by the broker");
  }
}

export class RawConn {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private readonly frames: Buffer[] = [];
  private waiters: (() => void)[] = [];
  /** Set when the socket closed (either side). */
  closed = false;
  /** Response bytes received so far. */
  receivedBytes = 0;

  private constructor(readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on("data", (d: Buffer) => this.onData(d));
    socket.on("close", () => {
      this.closed = true;
      this.notify();
    });
    socket.on("error", () => {});
  }

  static connect(port: number, host = "127.0.0.1"): Promise<RawConn> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, host, () => {
        socket.off("error", reject);
        resolve(new RawConn(socket));
      });
      socket.once("error", reject);
    });
  }

  /** Writes bytes; resolves once they were handed to the kernel (or the socket is gone). */
  write(bytes: Buffer): Promise<void> {
    if (this.closed || this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.write(bytes, () => resolve());
    });
  }

  /** Stops reading: responses pile up in the kernel's buffers and then in the broker's. */
  pauseReading(): void {
    this.socket.pause();
  }

  resumeReading(): void {
    this.socket.resume();
  }

  /** Frames received and not yet taken. */
  get pending(): number {
    return this.frames.length;
  }

  private onData(data: Buffer): void {
    this.receivedBytes += data.length;
    this.chunks.push(data);
    this.buffered += data.length;
    if (this.buffered < 4) return;
    let all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.buffered);
    while (all.length >= 4) {
      const size = all.readInt32BE(0);
      if (size < 0) throw new Error(`response frame with negative length ${size}`);
      if (all.length < 4 + size) break;
      this.frames.push(all.subarray(4, 4 + size));
      all = all.subarray(4 + size);
    }
    this.chunks = all.length > 0 ? [all] : [];
    this.buffered = all.length;
    this.notify();
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Resolves on the next data or close, or after `ms`. */
  private change(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** The next response frame (without length prefix); throws ConnectionClosedError or on timeout. */
  async nextFrame(timeoutMs = 5000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const frame = this.frames.shift();
      if (frame) return frame;
      if (this.closed) throw new ConnectionClosedError();
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no response within ${timeoutMs} ms`);
      await this.change(left);
    }
  }

  /** Whether the connection closed within `timeoutMs`. */
  async waitClosed(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await this.change(left);
    }
    return true;
  }

  close(): void {
    this.socket.destroy();
  }
}
