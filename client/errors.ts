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
