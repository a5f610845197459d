/**
 * A raw Kafka connection for the attack harness: requests encoded with the protocol codecs at an
 * explicit version and matched by correlation id, raw bytes written as they are, reading paused
 * on demand, and every response's raw frame kept beside its decoding (a field the codec clamps,
 * such as an int64 beyond 2^53, can still be checked in the bytes). Each request has a deadline.
 */
import * as net from "node:net";
import { type Message, MessageCodec } from "../../protocol/codec.js";
import { RequestHeader, ResponseHeader } from "../../protocol/messages/header.js";
import { API_SPECS } from "../../protocol/messages/index.js";
import { Reader } from "../../protocol/reader.js";
import { Writer } from "../../protocol/writer.js";

const requestHeader = new MessageCodec(RequestHeader);
const responseHeader = new MessageCodec(ResponseHeader);

export interface Response {
  body: Message;
  /** The response frame without its length prefix. */
  raw: Buffer;
}

interface Waiting {
  apiKey: number;
  version: number;
  resolve: (r: Response) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** A request frame with its length prefix. */
export function requestFrame(apiKey: number, version: number, body: Message, correlationId: number): Buffer {
  const codec = new MessageCodec(API_SPECS[apiKey].request);
  const w = new Writer();
  w.int32(0);
  requestHeader.encode(w, codec.isFlexible(version) ? 2 : 1, {
    requestApiKey: apiKey,
    requestApiVersion: version,
    correlationId,
    clientId: "attack",
  });
  codec.encode(w, version, body);
  const buf = w.toBuffer();
  buf.writeInt32BE(buf.length - 4, 0);
  return buf;
}

export class KafkaConn {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private nextCorrelationId = 1;
  private readonly waiting = new Map<number, Waiting>();
  closed = false;
  /** Response bytes received so far. */
  receivedBytes = 0;

  private constructor(readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on("data", (d: Buffer) => this.onData(d));
    socket.on("close", () => {
      this.closed = true;
      for (const w of this.waiting.values()) {
        clearTimeout(w.timer);
        w.reject(new Error("connection closed"));
      }
      this.waiting.clear();
    });
    socket.on("error", () => {});
  }

  static connect(port: number, timeoutMs = 10_000): Promise<KafkaConn> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, "127.0.0.1");
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${port}: no answer in ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.off("error", reject);
        resolve(new KafkaConn(socket));
      });
      socket.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  /** Sends a request; resolves with its response, rejects on close or after `timeoutMs`. */
  request(apiKey: number, version: number, body: Message, timeoutMs = 30_000): Promise<Response> {
    const correlationId = this.nextCorrelationId++;
    const frame = requestFrame(apiKey, version, body, correlationId);
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error("connection closed"));
      const timer = setTimeout(() => {
        this.waiting.delete(correlationId);
        reject(new Error(`API ${apiKey} v${version}: no response in ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(correlationId, { apiKey, version, resolve, reject, timer });
      this.socket.write(frame);
    });
  }

  /** Sends a request whose response is never waited for (it is dropped if it comes). */
  send(apiKey: number, version: number, body: Message): boolean {
    return this.socket.write(requestFrame(apiKey, version, body, this.nextCorrelationId++));
  }

  /** Writes bytes; resolves once the kernel took them (or the socket is gone). */
  /** Resolves true once `bytes` were handed to the kernel, false if the connection is closed. */
  writeRaw(bytes: Buffer): Promise<boolean> {
    if (this.closed || this.socket.destroyed) return Promise.resolve(false);
    return new Promise((resolve) => this.socket.write(bytes, (err) => resolve(!err)));
  }

  /** Stops reading: responses pile up in the kernel's buffers and then in the broker's. */
  pauseReading(): void {
    this.socket.pause();
  }

  private onData(data: Buffer): void {
    this.receivedBytes += data.length;
    this.chunks.push(data);
    this.buffered += data.length;
    if (this.buffered < 4) return;
    let all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.buffered);
    while (all.length >= 4) {
      const size = all.readInt32BE(0);
      if (all.length < 4 + size) break;
      this.deliver(all.subarray(4, 4 + size));
      all = all.subarray(4 + size);
    }
    this.chunks = all.length > 0 ? [all] : [];
    this.buffered = all.length;
  }

  private deliver(frame: Buffer): void {
    const w = this.waiting.get(frame.readInt32BE(0));
    if (!w) return;
    this.waiting.delete(frame.readInt32BE(0));
    clearTimeout(w.timer);
    try {
      const codec = new MessageCodec(API_SPECS[w.apiKey].response);
      const r = new Reader(frame);
      // ApiVersions answers with response header v0 at every version.
      responseHeader.decode(r, codec.isFlexible(w.version) && w.apiKey !== 18 ? 1 : 0);
      w.resolve({ body: codec.decode(r, w.version), raw: frame });
    } catch (err) {
      w.reject(err as Error);
    }
  }

  close(): void {
    this.socket.destroy();
  }
}
