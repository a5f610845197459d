/**
 * The Kafka TCP listener: length-prefixed frames in, responses out in request order per
 * connection. Requests on one connection run concurrently (pipelining) but are answered in the
 * order they arrived; a request that gets no response (acks=0) keeps its place and sends nothing.
 *
 * Limits: a frame larger than socket.request.max.bytes closes the connection before its body is
 * buffered; a connection with too many requests, or request bytes, unanswered (or responses not
 * yet taken by the client) stops being read until it drains; an idle connection is closed.
 * A frame's bytes are kept as they arrive, never allocated up front from its declared size, and
 * count against the broker-wide queued.max.request.bytes (the pipeline pauses reading while the
 * connection may take no more; the oldest frame begun broker-wide is let finish first); a frame
 * not whole within request.frame.timeout.ms of its first byte closes the connection with a warn
 * line. That deadline runs per frame, also while the broker has paused reading the connection.
 * Ordering, admission and backpressure live in request-pipeline.ts, shared with the WebSocket door.
 */
import * as net from "node:net";
import * as tls from "node:tls";
import type { Logger } from "pino";
import type { Dispatcher } from "../dispatch.js";
import { ConnectionAuth } from "./connection-auth.js";
import { type ListenerSpec, usesSasl, usesTls } from "./listeners.js";
import { type PipelineLimits, RequestPipeline } from "./request-pipeline.js";

export interface KafkaServerLimits extends PipelineLimits {
  maxRequestBytes: number;
  idleTimeoutMs: number;
  frameTimeoutMs: number;
}

/**
 * One client connection's framing; ordering, admission and backpressure are its RequestPipeline's
 * (shared with the WebSocket door).
 */
export class FramedConnection {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private readonly pipeline: RequestPipeline;
  private closed = false;
  /** RequestContext.whenClosed's listeners, by key. */
  private readonly closeListeners = new Map<string, () => void>();
  /**
   * Runs while part of a frame is buffered, from that frame's first byte, whether or not the
   * connection is being read; restarted for each frame.
   */
  private frameTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly socket: net.Socket,
    dispatcher: Dispatcher,
    private readonly limits: KafkaServerLimits,
    private readonly log: Logger,
    listener = "kafka",
    /** The listener's policy: whether its peers may send inter-broker requests. */
    interBroker = false,
    /** What the peer must prove, and has (net/connection-auth.ts); absent: nothing, ANONYMOUS. */
    private readonly auth?: ConnectionAuth,
  ) {
    this.pipeline = new RequestPipeline(
      dispatcher,
      {
        write: (chunks, sent) => {
          const last = chunks.length - 1;
          for (let i = 0; i <= last; i++) socket.write(chunks[i], i === last ? sent : undefined);
        },
        writableLength: () => socket.writableLength,
        pause: () => socket.pause(),
        resume: () => {
          socket.resume();
          this.parse();
        },
        close: (reason) => this.close(reason),
        cork: () => socket.cork(),
        uncork: () => process.nextTick(() => socket.uncork()),
      },
      {
        clientHost: socket.remoteAddress ?? "",
        listener,
        interBroker,
        auth,
        whenClosed: (key, run) => {
          if (!this.closed && !this.closeListeners.has(key)) this.closeListeners.set(key, run);
        },
      },
      limits,
      log,
    );
    socket.setNoDelay(true);
    socket.setTimeout(limits.idleTimeoutMs, () => this.close("idle timeout"));
    socket.on("data", (data: Buffer) => this.onData(data));
    socket.on("drain", () => this.pipeline.maybeResume());
    socket.on("error", (err) => this.log.debug({ err }, "connection error"));
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    this.log.debug({ peer, listener }, "connection opened");
    socket.on("close", () => {
      this.closed = true;
      this.clearFrameTimer();
      this.pipeline.markClosed();
      this.log.debug({ peer, listener }, "connection closed");
      for (const run of this.closeListeners.values()) {
        try {
          run();
        } catch (err) {
          this.log.error({ err }, "a connection-close listener threw");
        }
      }
      this.closeListeners.clear();
    });
  }

  private onData(data: Buffer): void {
    // Once refused or closed, whatever the peer still sends is dropped (see close()).
    if (!this.pipeline.accepting) return;
    this.chunks.push(data);
    this.buffered += data.length;
    this.pipeline.received(data.length);
    this.parse();
  }

  /**
   * Starts the buffered requests while the connection is within its limits; complete frames
   * beyond them stay buffered (at most one socket read) until responses are taken.
   */
  private parse(): void {
    let took = false;
    while (this.pipeline.accepting && this.buffered >= 4 && !this.pipeline.overLimits()) {
      const size = this.peekInt32();
      if (size < 0 || size > this.maxFrameBytes()) {
        this.refuse(`frame of ${size} bytes exceeds ${this.frameLimitName()}`);
        return;
      }
      if (this.buffered < 4 + size) break;
      const frame = this.take(4 + size).subarray(4);
      // The deadline is per frame: the next one's runs from its own first bytes.
      this.clearFrameTimer();
      took = true;
      this.pipeline.discarded(4);
      this.pipeline.push(frame);
    }
    // A frame begun after one completed takes its place behind the frames begun before it.
    if (took) this.pipeline.frameRest(null);
    this.pipeline.frameRest(this.frameRest());
    this.pipeline.maybePause();
    this.watchFrame();
  }

  /** Bytes the first buffered frame still lacks, or null when none is begun. */
  private frameRest(): number | null {
    if (!this.partialFrame()) return null;
    if (this.buffered < 4) return 4 - this.buffered;
    const size = this.peekInt32();
    // A size beyond the limit is refused, not waited for.
    if (size > this.maxFrameBytes()) return null;
    return Math.max(0, 4 + size - this.buffered);
  }

  /**
   * Runs the frame deadline while a frame is begun and not whole, from its first bytes, whether or
   * not the broker is reading the connection: a peer that closes while its reading is paused is
   * noticed no later than this, and the bytes it held are given back.
   */
  private watchFrame(): void {
    if (!this.pipeline.accepting || !this.partialFrame()) {
      this.clearFrameTimer();
      return;
    }
    if (this.frameTimer) return;
    this.frameTimer = setTimeout(() => {
      this.frameTimer = null;
      this.log.warn(
        { peer: this.socket.remoteAddress, bufferedBytes: this.buffered },
        `a frame begun ${this.limits.frameTimeoutMs} ms ago is not whole (request.frame.timeout.ms): closing the connection`,
      );
      this.close("frame timeout", false);
    }, this.limits.frameTimeoutMs);
    this.frameTimer.unref();
  }

  /** The largest frame taken now: 512 KiB before SASL authentication, else socket.request.max.bytes. */
  private maxFrameBytes(): number {
    return this.auth ? this.auth.maxFrameBytes(this.limits.maxRequestBytes) : this.limits.maxRequestBytes;
  }

  private frameLimitName(): string {
    return this.maxFrameBytes() < this.limits.maxRequestBytes
      ? "the limit before authentication"
      : "socket.request.max.bytes";
  }

  /** Whether the first buffered frame is begun and not yet whole. */
  private partialFrame(): boolean {
    if (this.buffered === 0) return false;
    return this.buffered < 4 || this.buffered < 4 + this.peekInt32();
  }

  private clearFrameTimer(): void {
    if (this.frameTimer) clearTimeout(this.frameTimer);
    this.frameTimer = null;
  }

  /** Reads nothing more; the requests already read are answered in order, then the connection closes. */
  private refuse(reason: string): void {
    this.pipeline.discarded(this.buffered);
    this.chunks = [];
    this.buffered = 0;
    this.clearFrameTimer();
    this.pipeline.frameRest(null);
    this.pipeline.refuse(reason);
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
   * Stops reading new requests, waits (up to `timeoutMs`) until every request already read is
   * answered and written out, then closes.
   */
  async drainAndClose(timeoutMs: number): Promise<void> {
    // Stopped: finishing requests must not resume reading.
    this.pipeline.stopReading();
    const deadline = Date.now() + timeoutMs;
    while (
      !this.closed &&
      (this.pipeline.pending > 0 || this.socket.writableLength > 0) &&
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
    this.clearFrameTimer();
    this.pipeline.markClosed();
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

/** A TLS listener's certificate, key and client-certificate policy, as node:tls takes them. */
export interface ListenerTls {
  options(): tls.SecureContextOptions;
  clientAuth: "none" | "requested" | "required";
}

/**
 * The principal of a TLS peer's verified client certificate: `User:` and its subject as a
 * distinguished name (`CN=alice,O=example`), as Kafka's default principal builder names it;
 * null when none was presented or it did not verify.
 */
export function certificatePrincipal(socket: tls.TLSSocket): string | null {
  if (!socket.authorized) return null;
  const subject = socket.getPeerCertificate()?.subject as Record<string, string | string[]> | undefined;
  if (!subject || Object.keys(subject).length === 0) return null;
  const parts = Object.entries(subject).flatMap(([k, v]) =>
    (Array.isArray(v) ? v : [v]).map((x) => `${k}=${x}`),
  );
  return `User:${parts.join(",")}`;
}

export interface KafkaServerOptions {
  /** The listener's name and security protocol (default: PLAINTEXT named "kafka"). */
  listener?: Pick<ListenerSpec, "name" | "securityProtocol">;
  /**
   * Whether this listener's peers may act as brokers (RequestContext.interBroker): the cluster's
   * inter-broker listener; a single broker trusts none.
   */
  interBroker?: boolean;
  /** Certificates of an SSL or SASL_SSL listener. */
  tls?: ListenerTls;
}

export class KafkaServer {
  private server: net.Server | null = null;
  private readonly connections = new Set<FramedConnection>();
  private readonly listenerName: string;
  private readonly protocol: ListenerSpec["securityProtocol"];

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly limits: KafkaServerLimits,
    private readonly log: Logger,
    private readonly options: KafkaServerOptions = {},
  ) {
    this.listenerName = options.listener?.name ?? "kafka";
    this.protocol = options.listener?.securityProtocol ?? "PLAINTEXT";
    if (usesTls(this.protocol) && !options.tls)
      throw new Error(`listener ${this.listenerName} needs TLS options`);
  }

  private accept(socket: net.Socket, principal: string | null): void {
    const needsAuth = usesSasl(this.protocol) || usesTls(this.protocol);
    const auth = needsAuth ? new ConnectionAuth(this.protocol, principal) : undefined;
    const conn = new FramedConnection(
      socket,
      this.dispatcher,
      this.limits,
      this.log,
      this.listenerName,
      this.options.interBroker ?? false,
      auth,
    );
    this.connections.add(conn);
    const counted = this.dispatcher.connectionMetrics;
    counted?.connectionOpened(this.listenerName);
    socket.on("close", () => {
      this.connections.delete(conn);
      counted?.connectionClosed(this.listenerName);
    });
  }

  private createServer(): net.Server {
    const t = this.options.tls;
    if (!t || !usesTls(this.protocol)) return net.createServer((socket) => this.accept(socket, null));
    const server = tls.createServer(
      {
        ...t.options(),
        requestCert: t.clientAuth !== "none",
        rejectUnauthorized: t.clientAuth === "required",
      },
      (socket) => this.accept(socket, certificatePrincipal(socket)),
    );
    server.on("tlsClientError", (err, socket) => {
      this.log.info({ err, peer: socket.remoteAddress, listener: this.listenerName }, "TLS handshake failed");
    });
    return server;
  }

  /** Loads the TLS listener's certificate and key again: new connections get them (no restart). */
  reloadTls(): void {
    const server = this.server;
    if (server instanceof tls.Server && this.options.tls) server.setSecureContext(this.options.tls.options());
  }

  /** Listens on host:port (0 for any free port); resolves with the bound port. */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const server = this.createServer();
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
