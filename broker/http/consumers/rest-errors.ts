/**
 * The errors of the Confluent REST Proxy v2 consumer routes, coded as Confluent codes them: a
 * number whose first three digits are the HTTP status (40403 consumer instance not found, 40601
 * embedded format not the instance's, 40902 instance name in use, 40903 illegal state, 42204
 * invalid consumer configuration, 50002 a Kafka error, 50003 a retriable one). Any other error on
 * these routes (a refused schema, a Kafka error of a handler) is recoded by `restError`, so every
 * answer of /consumers carries a number, as Confluent's and Redpanda's proxies answer.
 */
import { type ErrorName, errorCode, errorName, isRetriable, KafkaError } from "../../../protocol/errors.js";
import { HTTP_CODES, HttpError, toHttpError } from "../errors.js";

export const REST_ERRORS = {
  TOPIC_NOT_FOUND: { status: 404, code: 40401 },
  PARTITION_NOT_FOUND: { status: 404, code: 40402 },
  CONSUMER_INSTANCE_NOT_FOUND: { status: 404, code: 40403 },
  FORMAT_MISMATCH: { status: 406, code: 40601 },
  CONSUMER_ALREADY_SUBSCRIBED: { status: 409, code: 40901 },
  CONSUMER_ALREADY_EXISTS: { status: 409, code: 40902 },
  ILLEGAL_STATE: { status: 409, code: 40903 },
  INVALID_CONSUMER_CONFIG: { status: 422, code: 42204 },
  /** Beyond http.consumer.instances.max: Confluent has no code for it; 429 says "not now". */
  TOO_MANY_INSTANCES: { status: 429, code: 42901 },
  KAFKA_ERROR: { status: 500, code: 50002 },
  KAFKA_RETRIABLE_ERROR: { status: 500, code: 50003 },
} as const;

export type RestErrorName = keyof typeof REST_ERRORS;

export function restError(name: RestErrorName, message: string): HttpError {
  const { status, code } = REST_ERRORS[name];
  return HttpError.rest(status, code, message);
}

/** A Kafka error code's name as the REST error Confluent answers for it. */
function fromKafka(name: ErrorName, message: string): HttpError {
  const text = message.startsWith(name) ? message : `${name}: ${message}`;
  if (name === "UNKNOWN_TOPIC_OR_PARTITION") return restError("TOPIC_NOT_FOUND", text);
  if (name.endsWith("_AUTHORIZATION_FAILED")) return HttpError.rest(403, 40301, text);
  return restError(isRetriable(name) ? "KAFKA_RETRIABLE_ERROR" : "KAFKA_ERROR", text);
}

/** Whether `code` names a Kafka error (rather than one of the HTTP layer's own codes). */
function kafkaErrorName(code: string): ErrorName | null {
  if (code in HTTP_CODES) return null;
  const name = code as ErrorName;
  try {
    return errorName(errorCode(name)) === name ? name : null;
  } catch {
    return null;
  }
}

/**
 * Any error on a /consumers route as a numerically coded HttpError: those already numbered as
 * they are; Kafka errors (thrown, or named by an HttpError of the shared helpers) as 403xx, 404xx
 * or 5000x; the HTTP layer's own (400 schema, 415 content type, 413 size) keep their status, which
 * becomes the code (Confluent answers `{"error_code": 400, ...}` the same way).
 */
export function restErrorOf(err: unknown): HttpError {
  if (KafkaError.is(err)) return fromKafka(err.code, err.message);
  const httpError = toHttpError(err);
  if (typeof httpError.code === "number") return httpError;
  const kafkaName = kafkaErrorName(httpError.code);
  if (kafkaName !== null) return fromKafka(kafkaName, httpError.message);
  return HttpError.rest(httpError.statusCode, httpError.statusCode, httpError.message);
}
