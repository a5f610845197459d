/**
 * The Kafka TCP listener: length-prefixed frames in, responses out in request order per
 * connection. Requests on one connection run concurrently (pipelining) but are answered in the
 * order they arrived; a request that gets no response (acks=0) keeps its place and sends nothing.
 *
 * Limits: a frame larger than socket.request.max.bytes closes the connection before its body is
 * buffered; a connection with too many requests, or request bytes, unanswered (or responses not
 * yet taken by the client) stops being read until it drains; an idle connection is closed.
 */
import * as net from "node:net";
import type { Logger } from "pino";
import type { Dispatcher, DispatchResult } from "../dispatch.js";

export interface KafkaServerLimits {
  maxRequestBytes: number;
  maxInFlightRequests: number;
  maxInFlightBytes: number;
  idleTimeoutMs: number;
}

interface Slot {
  size: number;
  /** The request bytes until the request is started. */
  frame: Buffer | null;
  result: DispatchResult | null;
}

/** One client connection's framing, ordering and backpressure. */
export class FramedConnection {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private readonly slots: Slot[] = [];
  private inFlightBytes = 0;
  /** Responses written to the socket and not yet taken by the kernel. */
  private unsent = 0;
  private paused = false;
  /** No more requests are read (a frame over the limit, or shutdown); what was read is answered. */
  private refused = false;
  /** A started request has not yet been admitted; later requests wait for it. */
  private admitting = false;
  private closed = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly dispatcher: Dispatcher,
    private readonly limits: KafkaServerLimits,
    private readonly log: Logger,
    private readonly listener = "kafka",
  ) {
    socket.setNoDelay(true);
    socket.setTimeout(limits.idleTimeoutMs, () => this.close("idle timeout"));
    socket.on("data", (data: Buffer) => this.onData(data));
    socket.on("drain", () => this.maybeResume());
    socket.on("error", (err) => this.log.debug({ err }, "connection error"));
    socket.on("close", () => {
      this.closed = true;
    });
  }

  private onData(data: Buffer): void {
    // Once refused or closed, whatever the peer still sends is dropped (see close()).
    if (this.closed || this.refused) return;
    this.chunks.push(data);
    this.buffered += data.length;
    this.parse();
  }

  /**
   * Starts the buffered requests while the connection is within its limits; complete frames
   * beyond them stay buffered (at most one socket read) until responses are taken.
   */
  private parse(): void {
    while (!this.closed && !this.refused && this.buffered >= 4 && !this.overLimits()) {
      const size = this.peekInt32();
      if (size < 0 || size > this.limits.maxRequestBytes) {
        this.refuse(`frame of ${size} bytes exceeds socket.request.max.bytes`);
        return;
      }
      if (this.buffered < 4 + size) break;
      const frame = this.take(4 + size).subarray(4);
      this.startRequest(frame);
    }
    this.maybePause();
  }

  /** Reads nothing more; the requests already read are answered in order, then the connection closes. */
  private refuse(reason: string): void {
    this.refused = true;
    this.chunks = [];
    this.buffered = 0;
    this.paused = true;
    this.socket.pause();
    this.slots.push({ size: 0, frame: null, result: { kind: "close", reason } });
    this.flushSlots();
  }

  private peekInt32(): number {
    const first = this.chunks[0];
    if (first.length >= 4) return first.readInt32BE(0);
    return Buffer.concat(this.chunks, Math.min(this.buffered, 8)).readInt32BE(0);
  }

  /** Removes `n` bytes from the front of the buffered chunks (no copy when they lie in one). */
  private take(n: number): Buffer {
    const first = this.chunks[0];
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      const all = Buffer.concat(this.chunks, this.buffered);
      out = all.subarray(0, n);
      this.chunks = all.length > n ? [all.subarray(n)] : [];
    }
    this.buffered -= n;
    return out;
  }

  /**
   * Queues a request. Requests start one at a time, in arrival order: the next starts once the
   * previous one is admitted (a produce once its appends hold their place in the logs, a fetch at
   * once, anything else when it completes), so a connection's requests take effect in the order
   * it sent them while produce and fetch still overlap.
   */
  private startRequest(frame: Buffer): void {
    this.slots.push({ size: frame.length, frame, result: null });
    this.inFlightBytes += frame.length;
    if (!this.admitting) this.startNext();
  }

  private startNext(): void {
    const slot = this.slots.find((s) => s.frame !== null);
    if (!slot || this.closed) return;
    const frame = slot.frame!;
    slot.frame = null;
    this.admitting = true;
    let admitted = false;
    const admit = () => {
      if (admitted) return;
      admitted = true;
      this.admitting = false;
      this.startNext();
    };
    this.dispatcher
      .dispatch(frame, { clientHost: this.socket.remoteAddress ?? "", listener: this.listener, admit })
      .then(
        (result) => {
          slot.result = result;
        },
        (err) => {
          this.log.error({ err }, "dispatch failed");
          slot.result = { kind: "close", reason: "internal error" };
        },
      )
      .finally(() => {
        admit();
        this.flushSlots();
      });
  }

  /** Sends every finished response at the head of the queue, in arrival order. */
  private flushSlots(): void {
    if (this.closed) return;
    let wrote = false;
    while (this.slots.length > 0 && this.slots[0].result) {
      const slot = this.slots.shift()!;
      this.inFlightBytes -= slot.size;
      const result = slot.result!;
      if (result.kind === "close") {
        // The responses written before it still go out (close() half-closes after them).
        this.close(result.reason);
        return;
      }
      if (result.kind === "respond") {
        if (!wrote) this.socket.cork();
        wrote = true;
        // Until the kernel takes it, a response counts against the in-flight limit: a client
        // that does not read cannot make the broker buffer responses without bound.
        this.unsent++;
        const last = result.chunks.length - 1;
        for (let i = 0; i <= last; i++)
          this.socket.write(result.chunks[i], i === last ? this.onSent : undefined);
      }
    }
    if (wrote) process.nextTick(() => this.socket.uncork());
    this.maybeResume();
  }

  private readonly onSent = (): void => {
    this.unsent--;
    this.maybeResume();
  };

  private overLimits(): boolean {
    return (
      this.slots.length + this.unsent >= this.limits.maxInFlightRequests ||
      this.inFlightBytes >= this.limits.maxInFlightBytes ||
      this.socket.writableLength >= this.limits.maxInFlightBytes
    );
  }

  private maybePause(): void {
    if (!this.paused && this.overLimits()) {
      this.paused = true;
      this.socket.pause();
    }
  }

  private maybeResume(): void {
    if (this.paused && !this.refused && !this.closed && !this.overLimits()) {
      this.paused = false;
      this.socket.resume();
      this.parse();
    }
  }

  /**
   * Stops reading new requests, waits (up to `timeoutMs`) until every request already read is
   * answered and written out, then closes.
   */
  async drainAndClose(timeoutMs: number): Promise<void> {
    // refused: finishing requests must not resume reading (maybeResume).
    this.refused = true;
    this.socket.pause();
    this.paused = true;
    const deadline = Date.now() + timeoutMs;
    while (
      !this.closed &&
      (this.slots.length > 0 || this.socket.writableLength > 0) &&
      Date.now() < deadline
    ) {
      await new Promise((r) => setTimeout(r, 10));
    }
    this.close("broker shutting down", false);
  }

  /**
   * Closes the connection. Gracefully by default: the responses already written still go out
   * (half-close after them), and what the peer sends meanwhile is read and dropped, since closing
   * a socket with unread input resets it and loses them; a peer that does not close its side is
   * cut after CLOSE_LINGER_MS. `graceful = false` destroys the socket at once.
   */
  close(reason: string, graceful = true): void {
    if (this.closed) {
      // A connection still lingering after a graceful close is cut by a forced one (shutdown).
      if (!graceful) this.socket.destroy();
      return;
    }
    this.closed = true;
    this.log.debug({ reason, peer: this.socket.remoteAddress }, "closing connection");
    this.chunks = [];
    this.buffered = 0;
    if (!graceful || this.socket.destroyed) {
      this.socket.destroy();
      return;
    }
    const timer = setTimeout(() => this.socket.destroy(), CLOSE_LINGER_MS);
    timer.unref();
    this.socket.once("close", () => clearTimeout(timer));
    this.socket.end();
    this.socket.resume();
  }
}

/** How long a connection closed by the broker waits for its peer to close before it is cut. */
export const CLOSE_LINGER_MS = 2_000;

/** How long a shutdown waits for requests already read to be answered. */
export const SHUTDOWN_DRAIN_MS = 5_000;

export class KafkaServer {
  private server: net.Server | null = null;
  private readonly connections = new Set<FramedConnection>();

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly limits: KafkaServerLimits,
    private readonly log: Logger,
  ) {}

  /** Listens on host:port (0 for any free port); resolves with the bound port. */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const server = net.createServer((socket) => {
        const conn = new FramedConnection(socket, this.dispatcher, this.limits, this.log);
        this.connections.add(conn);
        socket.on("close", () => this.connections.delete(conn));
      });
      server.once("error", reject);
      server.listen(port, host, () => {
        this.server = server;
        resolve((server.address() as net.AddressInfo).port);
      });
    });
  }

  /** Stops accepting, then closes every connection. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    await Promise.all([...this.connections].map((conn) => conn.drainAndClose(SHUTDOWN_DRAIN_MS)));
    await closed;
  }
}
