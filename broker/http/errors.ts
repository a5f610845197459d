/**
 * Every error the HTTP and WebSocket doors answer with is made here. An HTTP error is the JSON
 * body `{"error_code": <code>, "message": <text>}` with a fitting status, where the code is a Kafka
 * error name (UNKNOWN_TOPIC_OR_PARTITION, TOPIC_ALREADY_EXISTS, ...) when a handler refused the
 * request, and one of HTTP_CODES when the HTTP layer did (BAD_REQUEST for a request its schema
 * refuses, NOT_FOUND for an unknown route, MISDIRECTED_REQUEST for a Host not served here,
 * FORBIDDEN for a browser page's Origin not allowed, UNAUTHORIZED for missing or wrong credentials
 * once authentication is on, ...). A WebSocket route that fails after the upgrade
 * closes with a code of WS_CLOSE and the message as the reason.
 *
 * Kafka errors map to statuses as: unknown topic or partition 404; topic already exists and a
 * group not empty 409;
 * invalid names, partitions, replication factors, configs, records 422; INVALID_REQUEST 400;
 * offset out of range 416; message too large 413; authorization failures 403; a timeout 504;
 * a missing resource (a user's credential) 404, a duplicate one 409, an unacceptable credential or
 * SASL mechanism 422; anything else retriable 503, anything else 500.
 */
import type { FastifyError, FastifyInstance, FastifySchemaValidationError } from "fastify";
import { type ErrorName, errorName, isRetriable, KafkaError } from "../../protocol/errors.js";

/** The codes of errors the HTTP layer raises itself, with their statuses. */
export const HTTP_CODES = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  MISDIRECTED_REQUEST: 421,
  UPGRADE_REQUIRED: 426,
  INTERNAL_SERVER_ERROR: 500,
  NOT_READY: 503,
} as const;

export type HttpCode = keyof typeof HTTP_CODES;

const KAFKA_STATUS: Partial<Record<ErrorName, number>> = {
  UNKNOWN_TOPIC_OR_PARTITION: 404,
  GROUP_ID_NOT_FOUND: 404,
  UNKNOWN_TOPIC_ID: 404,
  TOPIC_ALREADY_EXISTS: 409,
  NON_EMPTY_GROUP: 409,
  INVALID_REQUEST: 400,
  INVALID_TOPIC_EXCEPTION: 422,
  INVALID_PARTITIONS: 422,
  INVALID_REPLICATION_FACTOR: 422,
  INVALID_REPLICA_ASSIGNMENT: 422,
  INVALID_CONFIG: 422,
  POLICY_VIOLATION: 422,
  CORRUPT_MESSAGE: 422,
  INVALID_RECORD: 422,
  INVALID_TIMESTAMP: 422,
  UNSUPPORTED_FOR_MESSAGE_FORMAT: 422,
  OFFSET_OUT_OF_RANGE: 416,
  MESSAGE_TOO_LARGE: 413,
  RECORD_LIST_TOO_LARGE: 413,
  TOPIC_AUTHORIZATION_FAILED: 403,
  CLUSTER_AUTHORIZATION_FAILED: 403,
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: 403,
  GROUP_AUTHORIZATION_FAILED: 403,
  REQUEST_TIMED_OUT: 504,
  UNSUPPORTED_VERSION: 501,
  UNSUPPORTED_COMPRESSION_TYPE: 501,
  RESOURCE_NOT_FOUND: 404,
  DUPLICATE_RESOURCE: 409,
  UNACCEPTABLE_CREDENTIAL: 422,
  UNSUPPORTED_SASL_MECHANISM: 422,
};

/** WebSocket close codes of the routes under /ws and /kafka. */
export const WS_CLOSE = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  POLICY_VIOLATION: 1008,
  TOO_LARGE: 1009,
  INTERNAL: 1011,
  BAD_PARAMETERS: 4400,
  UNAUTHORIZED: 4401,
  UNKNOWN_TOPIC: 4404,
} as const;

/** An error answered as `{"error_code", "message"}` with `statusCode`. Made by the functions below. */
export class HttpError extends Error {
  private constructor(
    readonly statusCode: number,
    readonly code: string | number,
    message: string,
  ) {
    super(message);
    this.name = "HttpError";
  }

  /** An error the HTTP layer raises itself. */
  static http(code: HttpCode, message: string): HttpError {
    return new HttpError(HTTP_CODES[code], code, message);
  }

  /** A Kafka error (by name or wire code) as an HTTP error. */
  static kafka(code: ErrorName | number, message?: string | null): HttpError {
    const name = typeof code === "number" ? errorName(code) : code;
    const status = KAFKA_STATUS[name] ?? (isRetriable(name) ? 503 : 500);
    return new HttpError(status, name, message || name);
  }

  /** An error of fastify's with its own status (a 4xx), coded by that status unless `code` says. */
  static withStatus(statusCode: number, code: HttpCode | null, message: string): HttpError {
    return new HttpError(statusCode, code ?? codeForStatus(statusCode), message);
  }

  /**
   * An error of the Confluent REST Proxy v2 routes (/consumers), coded as Confluent codes them: a
   * number, e.g. 40403 (consumer instance not found) with status 404.
   */
  static rest(statusCode: number, code: number, message: string): HttpError {
    return new HttpError(statusCode, code, message);
  }

  static is(err: unknown): err is HttpError {
    return err instanceof HttpError;
  }

  get body(): { error_code: string | number; message: string } {
    return { error_code: this.code, message: this.message };
  }

  /** The WebSocket close code for this error. */
  get wsCloseCode(): number {
    if (this.statusCode === 404) return WS_CLOSE.UNKNOWN_TOPIC;
    if (this.statusCode >= 400 && this.statusCode < 500) return WS_CLOSE.BAD_PARAMETERS;
    return WS_CLOSE.INTERNAL;
  }
}

/** Strips a KafkaError message of its "CODE: " prefix (the code travels in error_code). */
function kafkaMessage(err: KafkaError): string {
  const prefix = `${err.code}: `;
  return err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
}

function isFastifyError(err: unknown): err is FastifyError {
  return err instanceof Error && typeof (err as Partial<FastifyError>).statusCode === "number";
}

function codeForStatus(status: number): HttpCode {
  if (status === 404) return "NOT_FOUND";
  if (status === 413) return "PAYLOAD_TOO_LARGE";
  if (status === 415) return "UNSUPPORTED_MEDIA_TYPE";
  if (status === 503) return "NOT_READY";
  return status >= 500 ? "INTERNAL_SERVER_ERROR" : "BAD_REQUEST";
}

/**
 * Any error as an HttpError: HttpErrors as they are, KafkaErrors by their code, fastify's own
 * (schema validation, unparsable JSON, body too large, unknown content type) by their status;
 * anything else is an internal error whose details stay in the log.
 */
export function toHttpError(err: unknown): HttpError {
  if (HttpError.is(err)) return err;
  if (KafkaError.is(err)) return HttpError.kafka(err.code, kafkaMessage(err));
  if (isFastifyError(err) && err.statusCode !== undefined && err.statusCode < 500) {
    // Name the setting, not only the fact.
    const message =
      err.code === "FST_ERR_CTP_BODY_TOO_LARGE"
        ? "request body is larger than http.request.max.bytes"
        : err.message;
    return HttpError.withStatus(err.statusCode, err.validation ? "BAD_REQUEST" : null, message);
  }
  return HttpError.http("INTERNAL_SERVER_ERROR", "internal server error");
}

/**
 * The message of a request its schema refuses (400 BAD_REQUEST): where and what, naming an
 * unknown property rather than only saying there is one.
 */
export function formatValidationErrors(errors: FastifySchemaValidationError[], dataVar: string): Error {
  const parts = errors.map((e) => {
    const where = `${dataVar}${e.instancePath}`;
    if (e.keyword === "additionalProperties")
      return `${where} has an unknown property "${e.params.additionalProperty}"`;
    return `${where} ${e.message ?? "is not valid"}`;
  });
  return new Error(parts.join("; "));
}

/** The `$ref` of the error body's schema, for every route's 4xx and 5xx responses. */
export const ERROR_SCHEMA_REF = { $ref: "HttpError#" } as const;

/** Response schemas for the error statuses, to spread into a route's `response`. */
export const ERROR_RESPONSES = { "4xx": ERROR_SCHEMA_REF, "5xx": ERROR_SCHEMA_REF } as const;

/** Registers the error body's schema and answers every error and unknown route with it. */
export function installErrorHandling(app: FastifyInstance): void {
  app.addSchema({
    $id: "HttpError",
    type: "object",
    required: ["error_code", "message"],
    // A name (UNKNOWN_TOPIC_OR_PARTITION); a number on the REST Proxy routes and for 405, as Confluent.
    properties: { error_code: { type: ["string", "integer"] }, message: { type: "string" } },
  });
  app.setErrorHandler((err, request, reply) => {
    const httpError = toHttpError(err);
    if (httpError.statusCode >= 500 && !KafkaError.is(err) && !HttpError.is(err)) {
      request.log.error({ err, url: request.url }, "HTTP request failed");
    }
    return reply.status(httpError.statusCode).send(httpError.body);
  });
  const routes = new RouteMethods();
  app.addHook("onRoute", (route) => routes.add(route.method, route.url));
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split("?")[0];
    const allowed = routes.allowed(path);
    if (allowed.length > 0) {
      reply.header("allow", allowed.join(", "));
      const err = HttpError.rest(
        405,
        405,
        `${request.method} is not allowed on ${path}; allowed: ${allowed.join(", ")}`,
      );
      return reply.status(err.statusCode).send(err.body);
    }
    const err = HttpError.http("NOT_FOUND", `no route ${request.method} ${path}`);
    return reply.status(err.statusCode).send(err.body);
  });
}

/**
 * The methods each registered path serves, to tell a wrong method (405 with `Allow`) from an
 * unknown path (404): each route's URL as a pattern (`:param` one segment, `*` the rest).
 */
class RouteMethods {
  private readonly routes: { pattern: RegExp; methods: Set<string> }[] = [];
  private readonly byUrl = new Map<string, Set<string>>();

  add(method: string | string[], url: string): void {
    let methods = this.byUrl.get(url);
    if (methods === undefined) {
      methods = new Set();
      this.byUrl.set(url, methods);
      this.routes.push({ pattern: urlPattern(url), methods });
    }
    for (const m of Array.isArray(method) ? method : [method]) methods.add(m.toUpperCase());
  }

  /** The methods served on `path` (sorted), empty when no route's URL matches it. */
  allowed(path: string): string[] {
    const out = new Set<string>();
    for (const r of this.routes) if (r.pattern.test(path)) for (const m of r.methods) out.add(m);
    return [...out].sort();
  }
}

function urlPattern(url: string): RegExp {
  const source = url
    .split("/")
    .map((segment) => {
      if (segment === "*") return ".*";
      if (segment.startsWith(":")) return "[^/]+";
      return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    })
    .join("/");
  return new RegExp(`^${source}/?$`);
}
