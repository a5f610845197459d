/**
 * One connection to one broker, over TCP (`host:port`) or WebSocket (`ws://host:port/kafka`):
 * correlation ids, pipelined requests under a bound, ApiVersions negotiation, a timeout per
 * request, SASL authentication when asked (client/sasl.ts). A closed connection fails its
 * pending requests with a retriable CONNECTION_CLOSED; the cluster reconnects. With `ssl`, TCP
 * connections speak TLS; a failed handshake is a non-retriable SSL_HANDSHAKE_FAILED.
 *
 * A request that times out closes its connection (as Kafka's NetworkClient disconnects a node on a
 * request timeout): a broker answers a connection's requests in order, so those sent after it
 * would wait for the same silent broker; they fail at once with CONNECTION_CLOSED instead and are
 * retried elsewhere. An observer (the cluster's) hears of every answer and every failure.
 */
import * as net from "node:net";
import * as tls from "node:tls";
import { type Message, MessageCodec } from "../protocol/codec.js";
import { errorName, KafkaError } from "../protocol/errors.js";
import { RequestHeader, ResponseHeader } from "../protocol/messages/header.js";
import { API_SPECS } from "../protocol/messages/index.js";
import { Reader } from "../protocol/reader.js";
import type { ApiKey, RequestOf, ResponseOf } from "../protocol/types/index.js";
import { Writer } from "../protocol/writer.js";
import { ClientError, handshakeFailed, isTlsFailure } from "./errors.js";
import { type SaslOptions, SaslSession } from "./sasl.js";

export const API_VERSIONS = 18;

/** The highest version of each API this client speaks. */
export const CLIENT_MAX_VERSIONS: Record<number, number> = {
  0: 9, // Produce
  1: 12, // Fetch
  2: 7, // ListOffsets
  3: 12, // Metadata
  8: 9, // OffsetCommit
  9: 9, // OffsetFetch
  10: 4, // FindCoordinator
  11: 9, // JoinGroup
  12: 4, // Heartbeat
  13: 5, // LeaveGroup
  14: 5, // SyncGroup
  15: 5, // DescribeGroups
  16: 5, // ListGroups
  17: 1, // SaslHandshake
  18: 3, // ApiVersions
  19: 7, // CreateTopics
  20: 6, // DeleteTopics
  22: 4, // InitProducerId
  29: 3, // DescribeAcls
  30: 3, // CreateAcls
  31: 3, // DeleteAcls
  32: 4, // DescribeConfigs
  33: 2, // AlterConfigs
  35: 3, // DescribeLogDirs
  36: 2, // SaslAuthenticate
  37: 3, // CreatePartitions
  42: 2, // DeleteGroups
  43: 2, // ElectLeaders
  44: 1, // IncrementalAlterConfigs
  45: 0, // AlterPartitionReassignments
  46: 0, // ListPartitionReassignments
  47: 0, // OffsetDelete
  50: 0, // DescribeUserScramCredentials
  51: 0, // AlterUserScramCredentials
};

export interface ConnectionOptions {
  clientId?: string;
  /** Time allowed for each request's answer. */
  requestTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Requests sent and not yet answered; later ones wait their turn locally. */
  maxInFlightRequests?: number;
  /** Largest response frame accepted. */
  maxResponseBytes?: number;
  /**
   * TLS for `host:port` brokers (KafkaJS's `ssl`): `true` verifies the broker with the system's
   * CAs; an object is Node's `tls.connect` options (`ca`, `cert` and `key` for a client
   * certificate, `servername`, `rejectUnauthorized: false` to skip verification). A `wss://`
   * address is TLS by itself and takes the object's options; `ws://` ignores it.
   */
  ssl?: boolean | tls.ConnectionOptions;
  /** SASL credentials: each new connection authenticates after ApiVersions (client/sasl.ts). */
  sasl?: SaslOptions;
}

const DEFAULTS = {
  clientId: "samsa",
  requestTimeoutMs: 30_000,
  connectTimeoutMs: 10_000,
  maxInFlightRequests: 64,
  maxResponseBytes: 128 * 1024 * 1024,
};

const requestHeader = new MessageCodec(RequestHeader);
const responseHeader = new MessageCodec(ResponseHeader);
const codecs = new Map<number, { request: MessageCodec; response: MessageCodec }>();
function codecsFor(apiKey: number) {
  let c = codecs.get(apiKey);
  if (!c) {
    const spec = API_SPECS[apiKey];
    if (!spec) throw new ClientError("INVALID_ARGUMENT", `unknown API key ${apiKey}`);
    c = { request: new MessageCodec(spec.request), response: new MessageCodec(spec.response) };
    codecs.set(apiKey, c);
  }
  return c;
}

/** Carries whole frames (without the length prefix) both ways. */
interface Transport {
  /** Writes a frame; `written` runs once the transport handed all of it to the kernel (or failed). */
  send(chunks: Buffer[], written?: (err?: Error | null) => void): void;
  /** Closes after what was written is sent; resolves once the transport is closed. */
  close(): Promise<void>;
  onFrame: (frame: Buffer) => void;
  onClose: (err?: Error) => void;
}

class TcpTransport implements Transport {
  onFrame: (frame: Buffer) => void = () => {};
  onClose: (err?: Error) => void = () => {};
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** The size of the frame being assembled, once its length prefix has arrived; -1 before. */
  private expected = -1;

  constructor(
    private readonly socket: net.Socket,
    private readonly maxFrameBytes: number,
  ) {
    socket.setNoDelay(true);
    socket.on("data", (d: Buffer) => this.onData(d));
    socket.on("error", (err) => this.onClose(err));
    socket.on("close", () => this.onClose());
  }

  static connect(
    host: string,
    port: number,
    timeoutMs: number,
    maxFrameBytes: number,
    ssl?: boolean | tls.ConnectionOptions,
  ): Promise<TcpTransport> {
    const address = `${host}:${port}`;
    return new Promise((resolve, reject) => {
      const socket = ssl
        ? tls.connect(tlsOptions(host, port, ssl))
        : net.connect({ host, port, autoSelectFamily: true });
      /** Whether TCP is connected: a later failure, before `secureConnect`, is the handshake's. */
      let tcpUp = false;
      const timer = setTimeout(() => {
        socket.destroy();
        const stage = tcpUp ? " (the TLS handshake did not finish: is the listener plaintext?)" : "";
        reject(new ClientError("CONNECTION_FAILED", `connect to ${address} timed out${stage}`));
      }, timeoutMs);
      socket.once("connect", () => {
        tcpUp = true;
      });
      socket.once(ssl ? "secureConnect" : "connect", () => {
        clearTimeout(timer);
        socket.removeAllListeners("error");
        resolve(new TcpTransport(socket, maxFrameBytes));
      });
      socket.once("error", (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (ssl && (tcpUp || isTlsFailure(err))) reject(handshakeFailed(address, err));
        else
          reject(
            new ClientError("CONNECTION_FAILED", `connect to ${address}: ${err.message}`, { cause: err }),
          );
      });
    });
  }

  /**
   * Chunks are kept as they arrive and joined once per complete frame (joining on every chunk
   * copies a large response again for each of its chunks: quadratic in its size).
   */
  private onData(data: Buffer): void {
    this.chunks.push(data);
    this.buffered += data.length;
    for (;;) {
      if (this.expected < 0) {
        if (this.buffered < 4) return;
        const first = this.chunks[0];
        const size = first.length >= 4 ? first.readInt32BE(0) : Buffer.concat(this.chunks, 4).readInt32BE(0);
        if (size < 0 || size > this.maxFrameBytes) {
          this.socket.destroy(new ClientError("CONNECTION_CLOSED", `response frame of ${size} bytes`));
          return;
        }
        this.expected = size;
      }
      if (this.buffered < 4 + this.expected) return;
      const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.buffered);
      const frame = all.subarray(4, 4 + this.expected);
      const rest = all.subarray(4 + this.expected);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
      this.expected = -1;
      this.onFrame(frame);
    }
  }

  send(chunks: Buffer[], written?: (err?: Error | null) => void): void {
    this.socket.cork();
    const last = chunks.length - 1;
    for (let i = 0; i <= last; i++) this.socket.write(chunks[i], i === last ? written : undefined);
    process.nextTick(() => this.socket.uncork());
  }

  /**
   * Half-closes after every byte written so far (destroying a socket drops its unsent bytes: an
   * acks=0 producer's last requests), then waits for the broker to close its side, at most
   * CLOSE_GRACE_MS.
   */
  close(): Promise<void> {
    const socket = this.socket;
    if (socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
      timer.unref();
      socket.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      socket.end();
      // Answers still arriving are read and dropped: unread input would reset the connection.
      socket.resume();
    });
  }
}

/** How long a closing connection waits for the broker to close its side before it is cut. */
const CLOSE_GRACE_MS = 2_000;

/** Whether TLS options hold a client certificate. */
function sentCertificate(ssl: ConnectionOptions["ssl"]): boolean {
  return typeof ssl === "object" && (ssl.cert !== undefined || ssl.pfx !== undefined);
}

/**
 * With TLS 1.3 the broker checks the client's certificate after the client's side of the
 * handshake is done, and a Node.js server refuses one by closing the connection without an
 * alert: a connection closed before its first answer (ApiVersions) is taken for that refusal.
 */
function refusedCertificate(address: string, err: unknown): unknown {
  if (!(err instanceof ClientError) || err.code !== "CONNECTION_CLOSED") return err;
  return new ClientError(
    "SSL_HANDSHAKE_FAILED",
    `SSL handshake with ${address} failed: the broker closed the connection before its first answer: it may have refused the client certificate`,
    { cause: err },
  );
}

/**
 * `tls.connect` options for a broker: SNI names the host unless it is an IP address (RFC 6066
 * allows no IP literals there); the caller's options win.
 */
function tlsOptions(host: string, port: number, ssl: true | tls.ConnectionOptions): tls.ConnectionOptions {
  const given = ssl === true ? {} : ssl;
  return {
    host,
    port,
    ...(net.isIP(host) === 0 ? { servername: host } : {}),
    ...given,
  };
}

/**
 * Told how a broker behaves (client/cluster.ts keeps its "suspect" marks from it): `answered` for
 * each response, `failed` when a request timed out or the transport broke (not when the client
 * closed it).
 */
export interface ConnectionObserver {
  answered(): void;
  failed(): void;
}

interface Pending {
  apiKey: number;
  version: number;
  resolve: (m: Message) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** Parses `host:port` (IPv6 in brackets allowed). */
export function parseHostPort(address: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(address.trim());
  if (!m) throw new ClientError("INVALID_ARGUMENT", `broker address "${address}" is not host:port`);
  return { host: m[1], port: Number(m[2]) };
}

export class Connection {
  private readonly options: typeof DEFAULTS;
  private nextCorrelationId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly waitingToSend: (() => void)[] = [];
  private versions = new Map<number, { min: number; max: number }>();
  /** The SASL session, when the options ask for one: its re-authentications pause new requests. */
  private sasl: SaslSession | undefined;
  /** Why the client closed the connection itself, for the errors of the requests it fails. */
  private closeReason = "";
  closed = false;

  private constructor(
    readonly address: string,
    private readonly transport: Transport,
    options: ConnectionOptions,
    private readonly observer?: ConnectionObserver,
  ) {
    this.options = { ...DEFAULTS, ...options };
    transport.onFrame = (frame) => this.onFrame(frame);
    transport.onClose = (err) => this.onClosed(err);
  }

  /**
   * Connects and negotiates API versions. `address` is `host:port` or `ws://host:port/kafka`;
   * `observer` hears of the connection's answers and failures from its first request on.
   */
  static async connect(
    address: string,
    options: ConnectionOptions = {},
    observer?: ConnectionObserver,
  ): Promise<Connection> {
    const opts = { ...DEFAULTS, ...options };
    let transport: Transport;
    if (/^wss?:\/\//.test(address)) {
      const { WsTransport } = await import("./ws-transport.js");
      const ssl = typeof options.ssl === "object" ? options.ssl : {};
      transport = await WsTransport.connect(address, opts.connectTimeoutMs, opts.maxResponseBytes, ssl);
    } else {
      const { host, port } = parseHostPort(address);
      transport = await TcpTransport.connect(
        host,
        port,
        opts.connectTimeoutMs,
        opts.maxResponseBytes,
        options.ssl,
      );
    }
    const conn = new Connection(address, transport, opts, observer);
    try {
      await conn.negotiate();
      if (opts.sasl) await conn.authenticate(opts.sasl);
    } catch (err) {
      conn.close();
      throw sentCertificate(options.ssl) ? refusedCertificate(address, err) : err;
    }
    return conn;
  }

  private async negotiate(): Promise<void> {
    let r = await this.send(API_VERSIONS, 3, { clientSoftwareName: "samsa", clientSoftwareVersion: "0.1.0" });
    if (r.errorCode !== 0) r = await this.send(API_VERSIONS, 0, {});
    if (r.errorCode !== 0) throw new KafkaError(errorName(r.errorCode), "ApiVersions failed");
    this.versions = new Map(r.apiKeys.map((k) => [k.apiKey, { min: k.minVersion, max: k.maxVersion }]));
  }

  /** Authenticates with SASL; the session re-authenticates by itself when the broker asks. */
  private authenticate(options: SaslOptions): Promise<void> {
    this.sasl = new SaslSession(options, {
      address: this.address,
      versionFor: (apiKey) => this.versionFor(apiKey),
      send: (apiKey, version, body) => this.transmit(apiKey, version, body),
      close: () => void this.close(),
    });
    return this.sasl.authenticate();
  }

  /** The version to use for `apiKey`: the highest both sides speak. */
  versionFor(apiKey: number): number {
    const broker = this.versions.get(apiKey);
    const ours = CLIENT_MAX_VERSIONS[apiKey] ?? 0;
    if (!broker || broker.min > ours) {
      throw new ClientError(
        "UNSUPPORTED_VERSION",
        `broker ${this.address} does not serve API ${apiKey} at a version we speak`,
      );
    }
    return Math.min(ours, broker.max);
  }

  /**
   * Sends a request at the negotiated version; resolves with the response body. `timeoutMs`
   * overrides requestTimeoutMs for requests a broker may hold longer (JoinGroup, SyncGroup).
   */
  request<K extends ApiKey>(apiKey: K, body: RequestOf<K>, timeoutMs?: number): Promise<ResponseOf<K>> {
    return this.send(apiKey, this.versionFor(apiKey), body, timeoutMs);
  }

  /**
   * Sends a request that gets no response (Produce with acks=0); resolves once the request is
   * handed to the kernel, so whoever waits on it (a producer's flush) knows no byte is left unsent.
   */
  async sendOnly<K extends ApiKey>(apiKey: K, body: RequestOf<K>): Promise<void> {
    await this.whenSendable();
    const version = this.versionFor(apiKey);
    await new Promise<void>((resolve, reject) =>
      this.write(apiKey, version, body, this.nextCorrelationId++, (err) =>
        err
          ? reject(
              new ClientError("CONNECTION_CLOSED", `write to ${this.address}: ${err.message}`, {
                cause: err,
              }),
            )
          : resolve(),
      ),
    );
  }

  private whenSendable(): Promise<void> {
    if (this.closed)
      return Promise.reject(new ClientError("CONNECTION_CLOSED", `connection to ${this.address} is closed`));
    const paused = this.sasl?.paused;
    if (paused) return paused.then(() => this.whenSendable());
    if (this.pending.size < this.options.maxInFlightRequests) return Promise.resolve();
    // A re-authentication that begins while this waits for a slot holds it too.
    const slot = new Promise<void>((resolve) => this.waitingToSend.push(resolve));
    return slot.then(() => this.sasl?.paused);
  }

  private write(
    apiKey: number,
    version: number,
    body: Message,
    correlationId: number,
    written?: (err?: Error | null) => void,
  ): void {
    const { request } = codecsFor(apiKey);
    const w = new Writer();
    w.int32(0);
    requestHeader.encode(w, request.isFlexible(version) ? 2 : 1, {
      requestApiKey: apiKey,
      requestApiVersion: version,
      correlationId,
      clientId: this.options.clientId,
    });
    request.encode(w, version, body);
    const size = w.size;
    const chunks = w.toChunks();
    chunks[0].writeInt32BE(size - 4, 0);
    this.transport.send(chunks, written);
  }

  /**
   * Sends a request at `version`; resolves with the response body, typed by the API key (its
   * int64 fields as numbers: see protocol/types/README.md).
   */
  async send<K extends ApiKey>(
    apiKey: K,
    version: number,
    body: RequestOf<K>,
    timeoutMs?: number,
  ): Promise<ResponseOf<K>> {
    await this.whenSendable();
    return this.transmit(apiKey, version, body, timeoutMs);
  }

  /** `send` without waiting for a free slot or a re-authentication: SASL's own requests. */
  private async transmit<K extends ApiKey>(
    apiKey: K,
    version: number,
    body: RequestOf<K>,
    timeoutMs?: number,
  ): Promise<ResponseOf<K>> {
    if (this.closed) throw new ClientError("CONNECTION_CLOSED", `connection to ${this.address} is closed`);
    const correlationId = this.nextCorrelationId++;
    const response = new Promise<Message>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(correlationId);
        reject(new ClientError("REQUEST_TIMEOUT", `API ${apiKey} to ${this.address} timed out`));
        this.timedOut();
      }, timeoutMs ?? this.options.requestTimeoutMs);
      this.pending.set(correlationId, { apiKey, version, resolve, reject, timer });
      this.write(apiKey, version, body, correlationId);
    });
    // The codec of `apiKey` decodes the response: its type is the API's (protocol/types/).
    return (await response) as ResponseOf<K>;
  }

  /**
   * A request went unanswered for its whole timeout: the broker is paused, cut off or stuck, and
   * the requests behind it on this connection would be answered only after it. The connection is
   * closed so that they fail now (CONNECTION_CLOSED, retriable) and the next use reconnects.
   */
  private timedOut(): void {
    this.observer?.failed();
    this.closeReason = " after a request timed out";
    void this.close().catch(() => {});
  }

  private releaseSlot(): void {
    const next = this.waitingToSend.shift();
    if (next) next();
  }

  private onFrame(frame: Buffer): void {
    if (frame.length < 4) return;
    const correlationId = frame.readInt32BE(0);
    const p = this.pending.get(correlationId);
    if (!p) return;
    this.pending.delete(correlationId);
    clearTimeout(p.timer);
    this.releaseSlot();
    this.observer?.answered();
    try {
      const { response } = codecsFor(p.apiKey);
      const r = new Reader(frame);
      responseHeader.decode(r, response.isFlexible(p.version) && p.apiKey !== API_VERSIONS ? 1 : 0);
      p.resolve(response.decode(r, p.version));
    } catch (err) {
      p.reject(err as Error);
    }
  }

  private onClosed(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    if (err) this.observer?.failed();
    this.sasl?.stop();
    // TLS 1.3 ends the handshake on the client's side before the broker has checked the client's
    // certificate: the broker's refusal (an alert) arrives as the first request's answer.
    const failure = isTlsFailure(err)
      ? handshakeFailed(this.address, err as NodeJS.ErrnoException)
      : new ClientError(
          "CONNECTION_CLOSED",
          `connection to ${this.address} closed${err ? `: ${err.message}` : this.closeReason}`,
        );
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(failure);
    }
    this.pending.clear();
    for (const w of this.waitingToSend.splice(0)) w();
  }

  /**
   * Closes the connection: pending requests fail at once with CONNECTION_CLOSED, bytes already
   * written are still sent. Resolves once the transport is closed.
   */
  close(): Promise<void> {
    const closing = this.transport.close();
    this.onClosed();
    return closing;
  }
}
