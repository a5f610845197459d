/**
 * A minimal Kafka protocol client for broker tests: one TCP connection, requests encoded with the
 * protocol codecs at an explicit version, responses matched by correlation id. Not the samsa
 * client library; it exists so tests can speak any API at any version, and send raw bytes.
 */
import * as net from "node:net";
import { type Message, MessageCodec } from "../../protocol/codec.js";
import { RequestHeader, ResponseHeader } from "../../protocol/messages/header.js";
import { API_SPECS } from "../../protocol/messages/index.js";
import { Reader } from "../../protocol/reader.js";
import { Writer } from "../../protocol/writer.js";

const requestHeader = new MessageCodec(RequestHeader);
const responseHeader = new MessageCodec(ResponseHeader);

interface Waiting {
  apiKey: number;
  version: number;
  resolve: (m: Message) => void;
  reject: (e: Error) => void;
}

export class TestClient {
  private buffered = Buffer.alloc(0);
  private nextCorrelationId = 1;
  private readonly waiting = new Map<number, Waiting>();
  closed = false;
  /** Responses that matched no request waiting for one (acks=0 must produce none). */
  strayResponses = 0;
  /** The client id in each request header (quotas tell clients apart by it). */
  clientId = "test";

  private constructor(private readonly socket: net.Socket) {
    socket.on("data", (d: Buffer) => this.onData(d));
    socket.on("close", () => {
      this.closed = true;
      for (const w of this.waiting.values()) w.reject(new Error("connection closed"));
      this.waiting.clear();
    });
    socket.on("error", () => {});
  }

  static connect(port: number, host = "127.0.0.1"): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, host, () => resolve(new TestClient(socket)));
      socket.once("error", reject);
    });
  }

  /** Encodes a request frame (with length prefix). */
  static frame(
    apiKey: number,
    version: number,
    body: Message,
    correlationId: number,
    clientId = "test",
  ): Buffer {
    const spec = API_SPECS[apiKey];
    const codec = new MessageCodec(spec.request);
    const w = new Writer();
    w.int32(0);
    requestHeader.encode(w, codec.isFlexible(version) ? 2 : 1, {
      requestApiKey: apiKey,
      requestApiVersion: version,
      correlationId,
      clientId,
    });
    codec.encode(w, version, body);
    const buf = w.toBuffer();
    buf.writeInt32BE(buf.length - 4, 0);
    return buf;
  }

  /** Sends a request and resolves with the decoded response body. */
  request(apiKey: number, version: number, body: Message): Promise<Message> {
    const correlationId = this.nextCorrelationId++;
    const frame = TestClient.frame(apiKey, version, body, correlationId, this.clientId);
    return new Promise((resolve, reject) => {
      this.waiting.set(correlationId, { apiKey, version, resolve, reject });
      this.socket.write(frame);
    });
  }

  /** Sends a request that expects no response (acks=0 produce). */
  send(apiKey: number, version: number, body: Message): void {
    this.socket.write(TestClient.frame(apiKey, version, body, this.nextCorrelationId++, this.clientId));
  }

  writeRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  private onData(data: Buffer): void {
    this.buffered = Buffer.concat([this.buffered, data]);
    while (this.buffered.length >= 4) {
      const size = this.buffered.readInt32BE(0);
      if (this.buffered.length < 4 + size) return;
      const frame = this.buffered.subarray(4, 4 + size);
      this.buffered = this.buffered.subarray(4 + size);
      const correlationId = frame.readInt32BE(0);
      const w = this.waiting.get(correlationId);
      if (!w) {
        this.strayResponses++;
        continue;
      }
      this.waiting.delete(correlationId);
      const codec = new MessageCodec(API_SPECS[w.apiKey].response);
      const r = new Reader(frame);
      responseHeader.decode(r, codec.isFlexible(w.version) && w.apiKey !== 18 ? 1 : 0);
      try {
        w.resolve(codec.decode(r, w.version));
      } catch (err) {
        w.reject(err as Error);
      }
    }
  }

  close(): void {
    this.socket.destroy();
  }
}
