/**
 * Kafka over WebSocket at `GET /kafka` (docs/decisions/0006-websocket-framing.md): one Kafka frame
 * per binary WebSocket message, each message the frame *with* its int32 length prefix, exactly the
 * bytes a TCP client writes; responses come back the same way, one message per response, in
 * request order. Requests go to the same Dispatcher, through the same RequestPipeline (admission,
 * ordering, in-flight limits, the broker-wide request and response budgets) as TCP; reading pauses
 * (ws.pause) while the connection is over its limits or its budget share, and a response counts
 * against them until the kernel takes it.
 *
 * Closes: a text message 1003; a message whose prefix disagrees with its length, or a frame the
 * dispatcher refuses (unknown API, unsupported version, malformed header), 1002 after the
 * responses before it; a message over socket.request.max.bytes (+4) 1009 (ws refuses it before
 * reading it); a failure inside the broker 1011; connections.max.idle.ms 1000; shutdown 1001 after
 * the requests already read are answered; a message not whole within request.frame.timeout.ms of
 * its first byte 1008, with a warn line. A plain GET gets 426 UPGRADE_REQUIRED.
 *
 * With the HTTP port's authentication on (authentication.ts) a connection authenticates as a
 * SASL_PLAINTEXT (over WSS: SASL_SSL) listener's does: SaslHandshake and SaslAuthenticate frames
 * (PLAIN, SCRAM-SHA-256/512 against the store's credentials) before anything but ApiVersions,
 * messages of at most 512 KiB until then (1009 beyond), a failed login answered and closed; its
 * principal is the user's. Browsers cannot put credentials on an upgrade; they can send frames.
 *
 * A message in progress is held by ws until whole: WsMessageMeter follows the frames on the raw
 * socket so that its bytes count against the request budget as a TCP frame in progress does
 * (reading pauses while the connection may take no more; the oldest begun finishes first).
 */
import type { Socket } from "node:net";
import type { FastifyPluginAsync } from "fastify";
import type { Logger } from "pino";
import type { RawData, WebSocket } from "ws";
import type { Dispatcher } from "../dispatch.js";
import { ConnectionAuth } from "../net/connection-auth.js";
import { CLOSE_LINGER_MS, type KafkaServerLimits } from "../net/kafka-server.js";
import { RequestPipeline } from "../net/request-pipeline.js";
import { ERROR_RESPONSES, HttpError, WS_CLOSE } from "./errors.js";
import { NO_QUERY } from "./schemas.js";
import type { HttpServer } from "./server.js";

/**
 * Room for WebSocket frame headers (2 to 14 bytes each) around a message's payload when a message
 * in progress is checked against the limit before authentication.
 */
const FRAME_HEADERS_SLACK_BYTES = 4096;

/** Longest close reason a WebSocket close frame carries, in bytes. */
const MAX_CLOSE_REASON_BYTES = 123;

/** Closes `ws` with `code` and `reason` (cut to fit a close frame) if it is still open. */
export function closeWebSocket(ws: WebSocket, code: number, reason: string): void {
  if (ws.readyState !== ws.OPEN) return;
  let text = reason;
  while (Buffer.byteLength(text) > MAX_CLOSE_REASON_BYTES) text = text.slice(0, -1);
  ws.close(code, text);
  // A peer that never answers the close frame is cut.
  const timer = setTimeout(() => ws.terminate(), CLOSE_LINGER_MS);
  timer.unref();
  ws.once("close", () => clearTimeout(timer));
}

function asBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/**
 * Follows the WebSocket frames a client sends, from the raw bytes of the socket (what ws reads
 * and holds until a message is whole), to tell the bytes of a data message not yet whole: from
 * the first byte of its first frame to the last byte of its final one, control frames in between
 * included. Only headers are parsed; payloads are skipped.
 */
export class WsMessageMeter {
  /** Bytes of the current frame's header read so far (at most 14). */
  private header: number[] = [];
  /** Payload bytes the current frame still lacks. */
  private payloadLeft = 0;
  /** Bytes read of the data message begun and not yet whole (0: none begun). */
  inProgress = 0;
  /** Data messages whole so far. */
  messages = 0;
  private inMessage = false;
  private fin = false;
  private control = false;

  /** Follows `chunk`, the next bytes read from the socket. */
  feed(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      if (this.payloadLeft > 0) {
        const take = Math.min(this.payloadLeft, chunk.length - off);
        this.payloadLeft -= take;
        off += take;
        if (this.inMessage) this.inProgress += take;
        if (this.payloadLeft === 0) this.frameEnd();
        continue;
      }
      const byte = chunk[off++];
      if (this.header.length === 0) this.frameStart(byte);
      if (this.inMessage) this.inProgress++;
      this.header.push(byte);
      this.headerByte();
    }
  }

  /** Bytes the message begun still lacks as far as known (the rest of its current frame), or null. */
  rest(): number | null {
    if (!this.inMessage) return null;
    return Math.max(1, this.payloadLeft + this.headerLeft());
  }

  private frameStart(byte: number): void {
    this.fin = (byte & 0x80) !== 0;
    this.control = (byte & 0x08) !== 0;
    if (!this.control) this.inMessage = true;
  }

  /** The header so far is `this.header`: once whole, the payload follows. */
  private headerByte(): void {
    if (this.headerLeft() > 0) return;
    this.payloadLeft = this.payloadLength();
    this.header = [];
    if (this.payloadLeft === 0) this.frameEnd();
  }

  /** Header bytes still missing (as far as the bytes read tell). */
  private headerLeft(): number {
    const h = this.header;
    if (h.length === 0) return 0;
    if (h.length < 2) return 2 - h.length;
    const len7 = h[1] & 0x7f;
    const size = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (h[1] & 0x80 ? 4 : 0);
    return size - h.length;
  }

  private payloadLength(): number {
    const h = Buffer.from(this.header);
    const len7 = h[1] & 0x7f;
    if (len7 === 126) return h.readUInt16BE(2);
    if (len7 === 127) return Number(h.readBigUInt64BE(2));
    return len7;
  }

  private frameEnd(): void {
    if (this.control || !this.fin) return;
    this.messages++;
    this.inMessage = false;
    this.inProgress = 0;
  }
}

interface Refusal {
  code: number;
  reason: string;
}

/** One Kafka client over a WebSocket. */
export class WsKafkaConnection {
  private readonly limits: KafkaServerLimits;
  private readonly pipeline: RequestPipeline;
  /**
   * Frames received while the connection is over its limits, not yet started: ws still emits
   * the messages of data it had read before it was paused (at most about one socket read).
   */
  private held: (Buffer | Refusal)[] = [];
  /** A refused message is held: everything after it is dropped. */
  private refusing = false;
  private closed = false;
  /** The close code of a refusal queued behind the requests already read. */
  private refusalCode: number = WS_CLOSE.PROTOCOL_ERROR;
  /** Follows the raw bytes of the message not yet whole, which ws holds until it is. */
  private readonly meter = new WsMessageMeter();
  /** Bytes of the message in progress counted against the request budget. */
  private counted = 0;
  /** Runs from the first byte of a message until it is whole (request.frame.timeout.ms). */
  private frameTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly ws: WebSocket,
    socket: Socket,
    dispatcher: Dispatcher,
    limits: KafkaServerLimits,
    private readonly log: Logger,
    clientHost: string,
    /** The SASL state of an authenticating connection (authentication on); absent: ANONYMOUS. */
    private readonly auth?: ConnectionAuth,
  ) {
    this.limits = limits;
    this.pipeline = new RequestPipeline(
      dispatcher,
      {
        // One message per response, sent as fragments of its chunks (no copy); the frame keeps
        // its length prefix.
        write: (chunks, sent) => {
          const last = chunks.length - 1;
          for (let i = 0; i <= last; i++) {
            ws.send(chunks[i], { binary: true, fin: i === last }, i === last ? () => sent() : undefined);
          }
        },
        writableLength: () => ws.bufferedAmount,
        pause: () => ws.pause(),
        resume: () => {
          ws.resume();
          this.startHeld();
        },
        close: (reason, internal) => this.close(internal ? WS_CLOSE.INTERNAL : this.refusalCode, reason),
      },
      { clientHost, listener: "ws", auth },
      limits,
      log,
    );
    ws.binaryType = "nodebuffer";
    ws.on("message", (data: RawData, isBinary: boolean) => this.onMessage(data, isBinary));
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    this.log.debug({ peer, listener: "ws" }, "connection opened");
    // After ws's own listener: counts what ws holds of a message not yet whole.
    socket.on("data", (chunk: Buffer) => this.onRaw(chunk));
    ws.on("close", () => {
      this.closed = true;
      this.clearFrameTimer();
      this.pipeline.markClosed();
      this.log.debug({ peer, listener: "ws" }, "connection closed");
    });
    // ws resets the socket's timeout when it takes it over; set after the upgrade.
    socket.setTimeout(limits.idleTimeoutMs, () => this.close(WS_CLOSE.NORMAL, "idle timeout"));
  }

  /**
   * Counts the bytes of the message in progress against the request budget (as TCP counts a frame
   * in progress: the oldest let finish first, reading paused while the connection may take no
   * more), and runs the frame deadline from its first byte until it is whole.
   */
  private onRaw(chunk: Buffer): void {
    if (this.closed) return;
    const before = this.meter.messages;
    this.meter.feed(chunk);
    const now = this.meter.inProgress;
    if (now > this.counted) this.pipeline.received(now - this.counted);
    else this.pipeline.discarded(this.counted - now);
    this.counted = now;
    if (this.auth && now > this.maxMessageBytes() + FRAME_HEADERS_SLACK_BYTES) {
      this.close(WS_CLOSE.TOO_LARGE, "message larger than the limit before authentication");
      return;
    }
    const rest = this.meter.rest();
    if (this.meter.messages !== before) {
      // A message begun after one completed takes its place behind those begun before it.
      this.pipeline.frameRest(null);
      this.clearFrameTimer();
    }
    this.pipeline.frameRest(rest === null ? null : Math.min(rest, this.limits.maxRequestBytes + 4));
    this.pipeline.maybePause();
    if (rest === null) this.clearFrameTimer();
    else this.watchFrame();
  }

  private watchFrame(): void {
    if (this.frameTimer) return;
    this.frameTimer = setTimeout(() => {
      this.frameTimer = null;
      this.log.warn(
        { listener: "ws", bufferedBytes: this.meter.inProgress },
        `a message begun ${this.limits.frameTimeoutMs} ms ago is not whole (request.frame.timeout.ms): closing the connection`,
      );
      this.close(WS_CLOSE.POLICY_VIOLATION, "frame timeout");
    }, this.limits.frameTimeoutMs);
    this.frameTimer.unref();
  }

  private clearFrameTimer(): void {
    if (this.frameTimer) clearTimeout(this.frameTimer);
    this.frameTimer = null;
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    // Once refused or closed, whatever the peer still sends is dropped.
    if (!this.pipeline.accepting || this.refusing) return;
    if (!isBinary) {
      this.refuse(WS_CLOSE.UNSUPPORTED_DATA, "Kafka frames are binary WebSocket messages");
      return;
    }
    const message = asBuffer(data);
    if (message.length > this.maxMessageBytes()) {
      this.refuse(WS_CLOSE.TOO_LARGE, "message larger than the limit before authentication");
      return;
    }
    if (message.length < 4 || message.readInt32BE(0) !== message.length - 4) {
      this.refuse(
        WS_CLOSE.PROTOCOL_ERROR,
        "a message must be one Kafka frame: an int32 length prefix equal to the bytes after it",
      );
      return;
    }
    this.pipeline.received(message.length);
    this.pipeline.discarded(4);
    this.held.push(message.subarray(4));
    this.startHeld();
  }

  /** The largest message taken now: a frame and its prefix; 512 KiB + 4 before authentication. */
  private maxMessageBytes(): number {
    const limit = this.limits.maxRequestBytes;
    return (this.auth ? this.auth.maxFrameBytes(limit) : limit) + 4;
  }

  /**
   * Starts the held frames while the connection is within its limits, as TCP's parse does; a
   * held refusal closes the connection once the frames before it are started.
   */
  private startHeld(): void {
    let i = 0;
    while (i < this.held.length && this.pipeline.accepting && !this.pipeline.overLimits()) {
      const next = this.held[i++];
      if (Buffer.isBuffer(next)) {
        this.pipeline.push(next);
        continue;
      }
      for (const dropped of this.held.slice(i))
        if (Buffer.isBuffer(dropped)) this.pipeline.discarded(dropped.length);
      this.held = [];
      this.refusalCode = next.code;
      this.pipeline.refuse(next.reason);
      return;
    }
    this.held = i === this.held.length ? [] : this.held.slice(i);
    this.pipeline.maybePause();
  }

  /** Takes nothing after this message; the frames before it are answered, then the socket closes. */
  private refuse(code: number, reason: string): void {
    this.refusing = true;
    this.held.push({ code, reason });
    this.startHeld();
  }

  /** Waits (up to `timeoutMs`) until every request already read is answered and sent, then closes. */
  async drainAndClose(timeoutMs: number): Promise<void> {
    this.pipeline.stopReading();
    const deadline = Date.now() + timeoutMs;
    while (
      !this.closed &&
      (this.pipeline.pending > 0 || this.ws.bufferedAmount > 0) &&
      Date.now() < deadline
    ) {
      await new Promise((r) => setTimeout(r, 10));
    }
    this.close(WS_CLOSE.GOING_AWAY, "broker shutting down");
  }

  /** Closes after the responses already sent; what the peer sends meanwhile is dropped. */
  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.clearFrameTimer();
    this.held = [];
    this.pipeline.markClosed();
    this.log.debug({ code, reason }, "closing Kafka WebSocket");
    // Read again (dropping data messages) so that the peer's answer to the close frame arrives.
    this.ws.resume();
    closeWebSocket(this.ws, code, reason);
  }
}

export const kafkaWsRoutes: FastifyPluginAsync<{ server: HttpServer }> = async (app, { server }) => {
  app.route({
    method: "GET",
    url: "/kafka",
    schema: { querystring: NO_QUERY, response: { ...ERROR_RESPONSES } },
    handler: async () => {
      throw HttpError.http("UPGRADE_REQUIRED", "GET /kafka is a WebSocket: Kafka frames in binary messages");
    },
    wsHandler: (ws, request) => {
      if (server.closing) {
        closeWebSocket(ws, WS_CLOSE.GOING_AWAY, "broker shutting down");
        return;
      }
      const conn = new WsKafkaConnection(
        ws,
        request.socket,
        server.broker.dispatcher,
        server.broker.config,
        server.log,
        request.ip,
        server.authenticator
          ? new ConnectionAuth(server.broker.config.httpTlsEnable ? "SASL_SSL" : "SASL_PLAINTEXT")
          : undefined,
      );
      server.kafkaConnections.add(conn);
      ws.on("close", () => server.kafkaConnections.delete(conn));
    },
  });
};
