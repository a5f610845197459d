/**
 * What every API handler sees. A handler takes a decoded request and a context and returns a
 * response object (or null for a request that gets no response, such as acks=0 produce).
 * Transports (TCP, WebSocket) only frame bytes and call `handle`.
 */
import type { Broker } from "../broker.js";
import type { ConnectionAuth } from "../net/connection-auth.js";
import type { RequestAuthorization } from "../security/authorize.js";

export interface RequestContext extends RequestAuthorization {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  /**
   * The authenticated principal ("User:alice"); "User:ANONYMOUS" where nothing was proved. Its
   * ACL checks are `authorize` and `authorizeAny` (security/authorize.ts): always true unless the
   * broker has an authorizer (authorizer.class.name).
   */
  principal: string;
  /** The connection's authentication state, on Kafka doors (the SASL handlers change it). */
  auth?: ConnectionAuth;
  /** Which door the request came through: a Kafka listener's name ("PLAINTEXT", "SASL_SSL", ...), "ws" or "http". */
  listener: string;
  /** The peer address, for logs and group member hosts. */
  clientHost: string;
  /**
   * Whether the caller may act as a broker of this cluster: fetch as a replica, ask for ISR
   * changes, forward admin requests (docs/decisions/0024). Set by the transport from the
   * listener's policy (later: the inter-broker principal); never by the HTTP or WebSocket doors.
   */
  interBroker: boolean;
  /**
   * Tells the connection that this request's effects hold their place, so its next request may
   * start. Handlers that never call it are admitted when they complete: a connection's requests
   * take effect in the order it sent them, as on Kafka.
   */
  admit: () => void;
  /**
   * The connection's share of the broker's response budget (queued.max.response.bytes), for
   * handlers whose answer size the client chooses (Fetch). Absent on doors without one (HTTP).
   */
  responseBytes?: ResponseReservation;
  /**
   * Runs `listener` once when this request's connection closes; one listener per `key` (a later
   * one under a key already held is dropped). Absent on doors without a lasting connection (HTTP).
   */
  whenClosed?: (key: string, listener: () => void) => void;
}

/** Response bytes reserved ahead of building a response (net/request-pipeline.ts). */
export interface ResponseReservation {
  /**
   * Reserves up to `wanted` bytes and returns how many were granted; `firstWhole` says whether
   * the answer may still carry one batch beyond the grant (KIP-74): only while the connection
   * holds nothing else, so that one connection has at most one such batch outstanding.
   */
  reserve(wanted: number): { granted: number; firstWhole: boolean };
  /** Gives back reserved bytes that the response will not use. */
  unreserve(bytes: number): void;
}

/**
 * The handler of one API: `Req` is the decoded request (protocol/types/, with `L = Int64` where
 * `wideInt64` is set), `Res` the response it builds.
 */
export interface ApiHandler<Req, Res> {
  apiKey: number;
  name: string;
  /** The versions advertised in ApiVersions and accepted. */
  minVersion: number;
  maxVersion: number;
  /**
   * Whether the handler takes int64 fields beyond +-(2^53 - 1), which the codec decodes as exact
   * bigints (protocol/reader.ts). A request holding one for any other handler is refused
   * (INVALID_REQUEST) before it runs, since a handler working in numbers would change the value.
   */
  wideInt64?: boolean;
  handle(broker: Broker, request: Req, ctx: RequestContext): Promise<Res | null>;
}

/**
 * A handler with its message types erased, for the dispatcher's registry: the codec of its API
 * key decodes what it reads and encodes what it returns.
 */
// biome-ignore lint/suspicious/noExplicitAny: the registry holds handlers of every message type.
export type AnyApiHandler = ApiHandler<any, any>;
