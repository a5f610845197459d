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
  | "UNSUPPORTED_VERSION";

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
