/**
 * From one request frame to one response frame, whatever the transport: decode the request
 * header and body with the API's spec at the requested version, run the handler, encode the
 * response with the right header version. TCP and WebSocket call this with the frame's bytes
 * (without the length prefix); HTTP builds request objects and calls `handle`.
 *
 * Order of checks: a frame too short for a header, or an unknown API key, closes the connection
 * (as Kafka does); an unsupported version gets ApiVersions' v0 error reply for ApiVersions and
 * closes otherwise. Both closes are logged at warn level, naming the API key, version, client id
 * and peer, and that ApiVersions lists what is served: a client that calls an API this broker
 * lacks is told so in the log, never dropped silently (docs/decisions/0010). No error frame is
 * sent: the response layout of an unknown key, or of a version the spec does not describe, is
 * unknown, and a frame the client cannot parse is worse than a closed connection; a body that does not decode, or a handler that fails unexpectedly, gets the
 * response's top-level error code where the response has one at that version, and closes the
 * connection where not. So does an int64 beyond +-(2^53 - 1) for a handler that does not take
 * bigints (ApiHandler.wideInt64): refused as INVALID_REQUEST rather than rounded.
 */
import type { Logger } from "pino";
import { type Message, MessageCodec } from "../protocol/codec.js";
import { errorCode, KafkaError } from "../protocol/errors.js";
import { RequestHeader, ResponseHeader } from "../protocol/messages/header.js";
import { API_SPECS } from "../protocol/messages/index.js";
import { Reader } from "../protocol/reader.js";
import { inVersions, parseVersions, type VersionRange } from "../protocol/schema.js";
import { Writer } from "../protocol/writer.js";
import { saslStep } from "./api/sasl-authenticate.js";
import type { AnyApiHandler, RequestContext, ResponseReservation } from "./api/types.js";
import type { Broker } from "./broker.js";
import type { ConnectionMetrics } from "./metrics/connections.js";
import type { RequestMetrics } from "./metrics/requests.js";
import { ByteBudget } from "./net/byte-budget.js";
import { ANONYMOUS, type ConnectionAuth } from "./net/connection-auth.js";
import { RequestFaults } from "./net/faults.js";
import { authorizeRequest } from "./security/authorize.js";

const API_VERSIONS_KEY = 18;
const requestHeaderCodec = new MessageCodec(RequestHeader);
const responseHeaderCodec = new MessageCodec(ResponseHeader);

interface ApiCodecs {
  request: MessageCodec;
  response: MessageCodec;
  /** The versions whose response has a top-level ErrorCode to carry a failure (Fetch: v7+). */
  topLevelError: VersionRange;
}

const codecs = new Map<number, ApiCodecs>();
for (const [key, spec] of Object.entries(API_SPECS)) {
  codecs.set(Number(key), {
    request: new MessageCodec(spec.request),
    response: new MessageCodec(spec.response),
    topLevelError: parseVersions(spec.response.fields.find((f) => f.name === "ErrorCode")?.versions),
  });
}

export function codecsFor(apiKey: number): ApiCodecs | undefined {
  return codecs.get(apiKey);
}

/**
 * The client id of a request header (v1 and v2 both carry it as a non-compact nullable string
 * after the correlation id), or null when the frame is too short to hold it.
 */
function peekClientId(frame: Buffer): string | null {
  const CLIENT_ID_AT = 8;
  if (frame.length < CLIENT_ID_AT + 2) return null;
  const length = frame.readInt16BE(CLIENT_ID_AT);
  if (length < 0 || frame.length < CLIENT_ID_AT + 2 + length) return null;
  return frame.toString("utf8", CLIENT_ID_AT + 2, CLIENT_ID_AT + 2 + length);
}

/** What the transport does with a frame: send these bytes, send nothing, or close. */
export type DispatchResult =
  | { kind: "respond"; chunks: Buffer[]; size: number; closeAfter?: string }
  | { kind: "none" }
  | { kind: "close"; reason: string };

export interface Connection {
  clientHost: string;
  listener: string;
  /** Lets the connection start its next request (see RequestContext.admit). */
  admit?: () => void;
  /** The connection's share of the response budget (see RequestContext.responseBytes). */
  responseBytes?: ResponseReservation;
  /** Whether the peer may send inter-broker requests (see RequestContext.interBroker). */
  interBroker?: boolean;
  /** See RequestContext.whenClosed. */
  whenClosed?: (key: string, listener: () => void) => void;
  /** What the peer proved (net/connection-auth.ts); absent: nothing to prove, ANONYMOUS. */
  auth?: ConnectionAuth;
}

/** A "drop" request fault's outcome: the handler ran, its answer is lost with the connection. */
const RESPONSE_DROPPED: DispatchResult = { kind: "close", reason: "request fault (test): response dropped" };

export class Dispatcher {
  /** Request bytes held by every Kafka connection (TCP and WebSocket): queued.max.request.bytes. */
  readonly requestBudget: ByteBudget;
  /** Response bytes held by every Kafka connection: queued.max.response.bytes. */
  readonly responseBudget: ByteBudget;
  /** Delays, holds or cuts requests by API key, for tests (net/faults.ts). */
  readonly faults = new RequestFaults();
  /** Per-API counts and latencies (broker/metrics/), or null with metrics.enable=false. */
  private readonly metrics: RequestMetrics | null;
  /** Connections by listener, counted by the Kafka listeners; null with metrics off. */
  readonly connectionMetrics: ConnectionMetrics | null;

  constructor(
    private readonly broker: Broker,
    private readonly handlers: Map<number, AnyApiHandler>,
    private readonly log: Logger,
  ) {
    const queued = broker.config.queuedMaxRequestBytes;
    this.requestBudget = new ByteBudget(
      "queued.max.request.bytes",
      queued === -1 ? Number.MAX_SAFE_INTEGER : queued,
    );
    this.responseBudget = new ByteBudget("queued.max.response.bytes", broker.config.queuedMaxResponseBytes);
    this.metrics = broker.metrics?.requests ?? null;
    this.connectionMetrics = broker.metrics?.connections ?? null;
  }

  /**
   * One frame to its result; with metrics on, counted and timed by API key (a frame too short for
   * a header, a raw SASL token or an unknown key is not).
   */
  async dispatch(frame: Buffer, conn: Connection): Promise<DispatchResult> {
    const metrics = this.metrics;
    if (metrics === null || frame.length < 8 || conn.auth?.rawTokens) return this.dispatchFrame(frame, conn);
    const started = performance.now();
    const result = await this.dispatchFrame(frame, conn);
    metrics.completed(frame.readInt16BE(0), conn.listener, (performance.now() - started) / 1000);
    return result;
  }

  /** Peeks at the header: the API key, version and whether the request expects no response. */
  private async dispatchFrame(frame: Buffer, conn: Connection): Promise<DispatchResult> {
    if (conn.auth?.rawTokens) return this.rawSaslToken(frame, conn, conn.auth);
    if (frame.length < 8) return { kind: "close", reason: "frame shorter than a request header" };
    const apiKey = frame.readInt16BE(0);
    const apiVersion = frame.readInt16BE(2);
    const correlationId = frame.readInt32BE(4);
    const handler = this.handlers.get(apiKey);
    const api = codecs.get(apiKey);
    if (!handler || !api) return this.refuse(frame, conn, `unknown API key ${apiKey}`);
    if (conn.auth && !conn.auth.allows(apiKey)) return this.unauthenticated(frame, conn, handler.name);
    const supported = apiVersion >= handler.minVersion && apiVersion <= handler.maxVersion;
    if (!supported) {
      if (apiKey === API_VERSIONS_KEY) return this.apiVersionsFallback(correlationId);
      return this.refuse(
        frame,
        conn,
        `${handler.name} v${apiVersion} is not supported (v${handler.minVersion}-v${handler.maxVersion} are)`,
      );
    }
    const flexible = api.request.isFlexible(apiVersion);
    const reader = new Reader(frame);
    let header: Message;
    let request: Message;
    try {
      header = requestHeaderCodec.decode(reader, flexible ? 2 : 1);
      request = api.request.decode(reader, apiVersion);
    } catch (err) {
      this.log.debug({ err, apiKey, apiVersion }, "malformed request");
      this.metrics?.failed(apiKey, "INVALID_REQUEST");
      return this.errorResponse(api, apiKey, apiVersion, correlationId, "INVALID_REQUEST");
    }
    if (reader.wideInt64s > 0 && !handler.wideInt64) {
      // An offset, timestamp or id beyond 2^53 that this handler would have to round: refused.
      this.log.debug({ apiKey, apiVersion }, "int64 beyond 2^53 refused");
      this.metrics?.failed(apiKey, "INVALID_REQUEST");
      return this.errorResponse(api, apiKey, apiVersion, correlationId, "INVALID_REQUEST");
    }
    const principal = conn.auth?.principal ?? ANONYMOUS;
    const ctx: RequestContext = {
      ...authorizeRequest(this.broker.authorizer, principal, conn.clientHost),
      apiKey,
      apiVersion,
      correlationId,
      clientId: header.clientId,
      principal,
      listener: conn.listener,
      clientHost: conn.clientHost,
      admit: conn.admit ?? (() => {}),
      responseBytes: conn.responseBytes,
      interBroker: conn.interBroker ?? false,
      whenClosed: conn.whenClosed,
      auth: conn.auth,
    };
    const fault = await this.faults.apply(ctx);
    if (fault === "close") return { kind: "close", reason: "request fault (test)" };
    let response: Message | null;
    try {
      response = await handler.handle(this.broker, request, ctx);
    } catch (err) {
      const code = KafkaError.is(err) ? err.code : "UNKNOWN_SERVER_ERROR";
      if (!KafkaError.is(err)) this.log.error({ err, api: handler.name }, "handler failed");
      this.metrics?.failed(apiKey, code);
      if (fault === "drop") return RESPONSE_DROPPED;
      return this.errorResponse(api, apiKey, apiVersion, correlationId, code);
    }
    if (response !== null) this.metrics?.responded(apiKey, response);
    if (fault === "drop") return RESPONSE_DROPPED;
    if (response === null) return { kind: "none" };
    const encoded = this.encode(api, apiKey, apiVersion, correlationId, response);
    if (conn.auth?.failed && encoded.kind === "respond") encoded.closeAfter = "authentication failed";
    return this.bounded(encoded, frame, conn);
  }

  /**
   * A bare SASL token after a SaslHandshake v0: answered with the mechanism's reply, framed by its
   * length alone; a failure closes the connection without an answer (Kafka's v0 flow has none).
   */
  private async rawSaslToken(frame: Buffer, conn: Connection, auth: ConnectionAuth): Promise<DispatchResult> {
    try {
      const { reply } = await saslStep(this.broker, auth, frame);
      const length = Buffer.alloc(4);
      length.writeInt32BE(reply.length, 0);
      return { kind: "respond", chunks: [length, reply], size: 4 + reply.length };
    } catch (err) {
      auth.fail();
      this.log.warn({ err, peer: conn.clientHost, listener: conn.listener }, "SASL authentication failed");
      return { kind: "close", reason: "SASL authentication failed" };
    }
  }

  /**
   * A request other than ApiVersions and the SASL ones before authentication (or after the
   * session expired, KIP-368): the connection closes, as Kafka's does, logged at info level.
   */
  private unauthenticated(frame: Buffer, conn: Connection, api: string): DispatchResult {
    const reason = conn.auth?.expired
      ? `${api} after the SASL session expired (connections.max.reauth.ms)`
      : `${api} before SASL authentication`;
    this.log.info(
      { clientId: peekClientId(frame), peer: conn.clientHost, listener: conn.listener },
      `${reason}: closing the connection`,
    );
    return { kind: "close", reason };
  }

  /**
   * A response larger than the whole response budget is not sent: the connection closes with a
   * warn-level line (docs/decisions/0019). Handlers answer each distinct item once and Fetch is
   * capped by fetch.max.bytes, so only a cluster far beyond the budget gets here.
   */
  private bounded(result: DispatchResult, frame: Buffer, conn: Connection): DispatchResult {
    const limit = this.responseBudget.limit;
    if (result.kind !== "respond" || result.size <= limit) return result;
    const reason = `a response of ${result.size} bytes exceeds queued.max.response.bytes (${limit})`;
    this.log.warn(
      {
        apiKey: frame.readInt16BE(0),
        apiVersion: frame.readInt16BE(2),
        clientId: peekClientId(frame),
        peer: conn.clientHost,
        listener: conn.listener,
      },
      `${reason}: closing the connection`,
    );
    return { kind: "close", reason };
  }

  /**
   * Runs the handler of `apiKey` on a request object instead of a frame, for the doors that build
   * requests rather than decode them (HTTP/JSON): the same handlers and version check, no bytes.
   * Fields the request leaves out get the schema's defaults at `apiVersion`. The handler sees
   * `conn.principal` (the HTTP request's authenticated user; ANONYMOUS when absent). Throws
   * UNSUPPORTED_VERSION for an API or version this broker does not serve; a handler's error
   * propagates. Resolves with null where the handler answers nothing (acks=0).
   */
  async handle(
    apiKey: number,
    apiVersion: number,
    request: Message,
    conn: Connection & { clientId?: string | null; principal?: string },
  ): Promise<Message | null> {
    const handler = this.handlers.get(apiKey);
    const api = codecs.get(apiKey);
    if (!handler || !api || apiVersion < handler.minVersion || apiVersion > handler.maxVersion) {
      throw new KafkaError("UNSUPPORTED_VERSION", `API ${apiKey} v${apiVersion} is not served`);
    }
    const principal = conn.principal ?? ANONYMOUS;
    const ctx: RequestContext = {
      ...authorizeRequest(this.broker.authorizer, principal, conn.clientHost),
      apiKey,
      apiVersion,
      correlationId: 0,
      clientId: conn.clientId ?? null,
      principal,
      listener: conn.listener,
      clientHost: conn.clientHost,
      admit: conn.admit ?? (() => {}),
      interBroker: false,
    };
    const metrics = this.metrics;
    const full = { ...api.request.defaults(apiVersion), ...request };
    if (metrics === null) return handler.handle(this.broker, full, ctx);
    const started = performance.now();
    try {
      const response = await handler.handle(this.broker, full, ctx);
      if (response !== null) metrics.responded(apiKey, response);
      return response;
    } catch (err) {
      metrics.failed(apiKey, KafkaError.is(err) ? err.code : "UNKNOWN_SERVER_ERROR");
      throw err;
    } finally {
      metrics.completed(apiKey, conn.listener, (performance.now() - started) / 1000);
    }
  }

  private encode(
    api: ApiCodecs,
    apiKey: number,
    apiVersion: number,
    correlationId: number,
    response: Message,
  ): DispatchResult {
    const w = new Writer();
    w.int32(0); // length, patched below
    // ApiVersions answers with response header v0 at every version, so old clients can read it.
    const headerVersion = api.response.isFlexible(apiVersion) && apiKey !== API_VERSIONS_KEY ? 1 : 0;
    responseHeaderCodec.encode(w, headerVersion, { correlationId });
    api.response.encode(w, apiVersion, response);
    const size = w.size;
    const chunks = w.toChunks();
    chunks[0].writeInt32BE(size - 4, 0);
    return { kind: "respond", chunks, size };
  }

  private errorResponse(
    api: ApiCodecs,
    apiKey: number,
    apiVersion: number,
    correlationId: number,
    code: Parameters<typeof errorCode>[0],
  ): DispatchResult {
    if (!inVersions(api.topLevelError, apiVersion))
      return { kind: "close", reason: `${code} on API ${apiKey} without a top-level error` };
    const response = api.response.defaults(apiVersion);
    response.errorCode = errorCode(code);
    return this.encode(api, apiKey, apiVersion, correlationId, response);
  }

  /** Closes the connection for a request this broker does not serve, saying so in the log. */
  private refuse(frame: Buffer, conn: Connection, reason: string): DispatchResult {
    this.log.warn(
      {
        apiKey: frame.readInt16BE(0),
        apiVersion: frame.readInt16BE(2),
        clientId: peekClientId(frame),
        peer: conn.clientHost,
        listener: conn.listener,
      },
      `${reason}: closing the connection (ApiVersions lists the APIs and versions served)`,
    );
    return { kind: "close", reason };
  }

  /** ApiVersions' answer to a version it does not know: v0 layout, UNSUPPORTED_VERSION, our APIs. */
  private apiVersionsFallback(correlationId: number): DispatchResult {
    const api = codecs.get(API_VERSIONS_KEY)!;
    return this.encode(api, API_VERSIONS_KEY, 0, correlationId, {
      errorCode: errorCode("UNSUPPORTED_VERSION"),
      apiKeys: this.advertised(),
    });
  }

  /** Every API and version range this broker serves, for ApiVersions. */
  advertised(): { apiKey: number; minVersion: number; maxVersion: number }[] {
    return [...this.handlers.values()]
      .map((h) => ({ apiKey: h.apiKey, minVersion: h.minVersion, maxVersion: h.maxVersion }))
      .sort((a, b) => a.apiKey - b.apiKey);
  }
}
