/**
 * Errors the client raises. Broker answers arrive as protocol `KafkaError`s (code = Kafka's
 * name, `retriable` from Kafka's table); failures on the client's side are `ClientError`s with
 * codes of their own. Both carry `code` and `retriable`: callers never parse messages.
 */
import { errorName, KafkaError } from "../protocol/errors.js";

export { KafkaError };

export type ClientErrorCode =
  | "CONNECTION_FAILED"
  | "CONNECTION_CLOSED"
  | "REQUEST_TIMEOUT"
  | "TOO_MANY_IN_FLIGHT"
  | "NO_BROKER_AVAILABLE"
  | "BUFFER_FULL"
  | "CLOSED"
  | "INVALID_ARGUMENT"
  | "UNSUPPORTED_VERSION"
  | "SSL_HANDSHAKE_FAILED";

const RETRIABLE: Record<ClientErrorCode, boolean> = {
  CONNECTION_FAILED: true,
  CONNECTION_CLOSED: true,
  REQUEST_TIMEOUT: true,
  TOO_MANY_IN_FLIGHT: true,
  NO_BROKER_AVAILABLE: true,
  BUFFER_FULL: false,
  CLOSED: false,
  INVALID_ARGUMENT: false,
  UNSUPPORTED_VERSION: false,
  // As Kafka's clients (SslAuthenticationException): trust, certificates and the listener's
  // protocol are configuration, which a retry does not change.
  SSL_HANDSHAKE_FAILED: false,
};

export class ClientError extends Error {
  readonly code: ClientErrorCode;
  readonly retriable: boolean;

  constructor(code: ClientErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.name = "ClientError";
    this.code = code;
    this.retriable = RETRIABLE[code];
  }
}

/** Whether an error (client-side or from the broker) may succeed if retried. */
export function isRetriable(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { retriable?: unknown }).retriable === true;
}

/**
 * Argument checks shared by the Producer and Admin: each throws an INVALID_ARGUMENT ClientError
 * naming what is wrong, so a malformed call fails at once instead of writing a record the caller
 * did not mean (KafkaJS's `{ topic, messages }` given to `send()` used to write a null value).
 */
export function invalid(message: string): ClientError {
  return new ClientError("INVALID_ARGUMENT", message);
}

/** A non-empty string (a topic or group name). */
export function checkName(value: unknown, what: string): asserts value is string {
  if (typeof value !== "string" || value.length === 0)
    throw invalid(`${what} must be a non-empty string, got ${describe(value)}`);
}

/** An integer >= min (a partition, a count). */
export function checkInteger(value: unknown, what: string, min = 0): asserts value is number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min)
    throw invalid(`${what} must be an integer >= ${min}, got ${describe(value)}`);
}

/** An array (of records, names, offsets). */
export function checkArray(value: unknown, what: string): asserts value is unknown[] {
  if (!Array.isArray(value)) throw invalid(`${what} must be an array, got ${describe(value)}`);
}

/** What a wrong value was, for a message: its type, or a short rendering of a primitive. */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (Buffer.isBuffer(value)) return "a Buffer";
  if (typeof value === "string")
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === "object") return "an object";
  return `${typeof value} ${String(value)}`;
}

/**
 * The KafkaError for a broker's error answer (`code`, its errorMessage) about `what`. A broker may
 * start its errorMessage with the error's name (samsa's brokers send a KafkaError's whole message,
 * "INVALID_CONFIG: ..."): that name is dropped, so the KafkaError's own prefix says it once.
 */
export function brokerError(code: number, what: string, message?: string | null): KafkaError {
  const name = errorName(code);
  let detail = message ?? "";
  if (detail === name) detail = "";
  else if (detail.startsWith(`${name}: `)) detail = detail.slice(name.length + 2);
  return new KafkaError(name, detail ? `${what}: ${detail}` : what);
}

/**
 * Whether a socket error comes from TLS rather than from the network: a certificate the client
 * or the broker refused, an alert, or bytes that are not TLS (Node's codes, named after OpenSSL's).
 */
export function isTlsFailure(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === "string" && /^(ERR_SSL_|ERR_TLS_|UNABLE_TO_)|CERT|^EPROTO$/.test(code);
}

/** The SSL_HANDSHAKE_FAILED for a TLS connection to `address` that failed with `err`. */
export function handshakeFailed(address: string, err: NodeJS.ErrnoException): ClientError {
  const hint = handshakeHint(err);
  // OpenSSL's own errors carry a long message (library, function, source file) and a short `reason`.
  const what = (err as { reason?: unknown }).reason;
  const detail = typeof what === "string" && what.length > 0 ? what : err.message;
  return new ClientError(
    "SSL_HANDSHAKE_FAILED",
    `SSL handshake with ${address} failed: ${detail}${err.code ? ` (${err.code})` : ""}${hint ? `: ${hint}` : ""}`,
    { cause: err },
  );
}

/** What the usual causes mean for the caller's settings. */
function handshakeHint(err: NodeJS.ErrnoException): string | undefined {
  const code = err.code ?? "";
  if (code === "CERT_HAS_EXPIRED") return "the broker's certificate has expired";
  if (/^(UNABLE_TO_|SELF_SIGNED_CERT|DEPTH_ZERO_SELF_SIGNED_CERT)/.test(code))
    return "the broker's certificate is not signed by a CA this client trusts (ssl.ca)";
  if (code === "ECONNRESET" || /WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|HTTP_REQUEST/.test(code))
    return "the broker did not speak TLS: is the listener plaintext?";
  if (code.endsWith("_ALERT_CERTIFICATE_REQUIRED"))
    return "the broker requires a client certificate (ssl.cert and ssl.key)";
  if (/_ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_EXPIRED|CERTIFICATE_UNKNOWN)$/.test(code))
    return "the broker refused the client certificate";
  return undefined;
}
