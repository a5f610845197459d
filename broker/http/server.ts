/**
 * The HTTP port (http.port, default 8082): one fastify instance, logging through the broker's
 * pino logger, serving the WebSocket Kafka door (/kafka), the HTTP/JSON routes and the JSON live
 * tail, each a fastify plugin of this folder. Every route has a JSON schema; every error is
 * answered by errors.ts. Request bodies are limited to http.request.max.bytes, and JSON bodies are
 * scanned for depth and record count before they are parsed (json-body.ts). Every request, WebSocket
 * upgrades included, first passes the Host, Origin and CORS checks of request-guard.ts, then,
 * with authentication on, the credential check of authentication.ts (the request's principal,
 * which its Kafka handlers authorize). With http.tls.enable the port serves HTTPS and WSS with the
 * Kafka TLS listeners' certificate files, reloaded when they change (`reloadTls`).
 *
 * `close()` refuses new requests, answers the Kafka requests already read on each WebSocket (up
 * to SHUTDOWN_DRAIN_MS) and closes them and the tails with 1001, then closes the server: HTTP
 * requests in flight (a long-polling read) get SHUTDOWN_DRAIN_MS before their connections are cut.
 */
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import type { Server as TlsServer } from "node:tls";
import websocket from "@fastify/websocket";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from "fastify";
import type { Logger } from "pino";
import type { Broker } from "../broker.js";
import { metricsRoutes } from "../metrics/route.js";
import { ANONYMOUS } from "../net/connection-auth.js";
import { SHUTDOWN_DRAIN_MS } from "../net/kafka-server.js";
import { authorizeRequest } from "../security/authorize.js";
import { credentialsInside, HttpAuthenticator, httpAuthenticationOn, OPEN_ROUTES } from "./authentication.js";
import type { HttpCaller } from "./call-api.js";
import { clusterRoutes } from "./cluster.js";
import { consoleRoutes } from "./console.js";
import { ConsumerInstances } from "./consumers/instances.js";
import { consumerRoutes } from "./consumers/routes.js";
import { formatValidationErrors, HttpError, installErrorHandling, toHttpError, WS_CLOSE } from "./errors.js";
import { groupOffsetRoutes } from "./group-offsets.js";
import { groupRoutes } from "./groups.js";
import { installJsonParser, type JsonLimits } from "./json-body.js";
import { KafkaApi } from "./kafka-api.js";
import { kafkaWsRoutes, type WsKafkaConnection } from "./kafka-ws.js";
import { messageRoutes } from "./messages.js";
import { installOpenApi, type RegisteredRoute } from "./openapi.js";
import { overviewRoutes } from "./overview.js";
import { recordRoutes } from "./records.js";
import { RequestGuard } from "./request-guard.js";
import { securityRoutes } from "./security.js";
import { type Tail, tailRoutes } from "./tail.js";
import { topicAdminRoutes } from "./topic-admin.js";
import { topicRoutes } from "./topics.js";

declare module "fastify" {
  interface FastifyRequest {
    /** Who sent the request: `User:<name>` with authentication on (authentication.ts), else User:ANONYMOUS. */
    principal: string;
  }
}

/** The certificate and key of the HTTPS port: the Kafka TLS listeners' files. */
function tlsOptions(config: Broker["config"]): { cert: Buffer; key: Buffer } {
  return { cert: readFileSync(config.sslCertificateLocation), key: readFileSync(config.sslKeyLocation) };
}

/** Fastify's per-request log lines at debug rather than info (the Kafka door logs none either). */
class RequestLog extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ method: request.method, url: request.url }, "incoming request");
  }

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    if (error) super.requestCompleted(error, request, reply);
    else reply.log.debug({ status: reply.statusCode, ms: reply.elapsedTime }, "request completed");
  }
}

/** Longest path parameter: a 249-character topic name with every character percent-encoded (3 each). */
const MAX_PARAM_LENGTH = 3 * 249;

export class HttpServer {
  readonly app: FastifyInstance;
  readonly log: Logger;
  /** The bound port (differs from the config when it asked for port 0). */
  port = 0;
  private listening = false;
  private closingSince: number | null = null;
  readonly kafkaConnections = new Set<WsKafkaConnection>();
  readonly tails = new Set<Tail>();
  /** Where round-robin partitioning of null-key records stands, per topic. */
  private readonly roundRobin = new Map<string, number>();
  /** The bounds every JSON body is scanned against before it is parsed. */
  readonly jsonLimits: JsonLimits;
  /** The credential check, or null with authentication off (authentication.ts). */
  readonly authenticator: HttpAuthenticator | null;
  /** The REST Proxy v2 consumer instances (consumers/). */
  readonly consumers: ConsumerInstances;
  /** Every route registered, for the OpenAPI test (openapi.ts). */
  readonly routes: RegisteredRoute[] = [];

  private constructor(readonly broker: Broker) {
    this.log = broker.log.child({ listener: "http" });
    const config = broker.config;
    this.jsonLimits = { maxDepth: config.httpJsonMaxDepth, maxItems: config.httpProduceMaxRecords };
    this.authenticator = httpAuthenticationOn(config, broker.listeners)
      ? new HttpAuthenticator(broker.sasl.credential, config.failedAuthenticationDelayMs, this.log)
      : null;
    this.app = Fastify({
      ...(config.httpTlsEnable ? { https: tlsOptions(config) } : {}),
      loggerInstance: this.log as FastifyBaseLogger,
      logController: new RequestLog(),
      bodyLimit: config.httpRequestMaxBytes,
      // A legal topic name (249 characters), percent-encoded, fits a path parameter.
      routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
      // The router's own refusals (a malformed URL, a parameter too long) as coded JSON too.
      frameworkErrors: (err, _request, reply) => {
        const httpError = toHttpError(err);
        (reply as FastifyReply).status(httpError.statusCode).send(httpError.body);
      },
      // Unknown properties are refused (400), not silently dropped.
      ajv: { customOptions: { removeAdditional: false } },
      schemaErrorFormatter: formatValidationErrors,
    });
    installErrorHandling(this.app);
    // Before any route: the description learns each route as it is added.
    installOpenApi(this.app, this.routes);
    this.consumers = new ConsumerInstances(
      broker,
      { timeoutMs: config.httpConsumerInstanceTimeoutMs, max: config.httpConsumerInstancesMax },
      this.log,
    );
    installJsonParser(this.app, this.jsonLimits);
    const guard = new RequestGuard(config, this.authenticator !== null);
    this.app.decorateRequest("principal", ANONYMOUS);
    this.app.addHook("onRequest", async (request, reply) => {
      // Host and Origin first (request-guard.ts): a refused page learns nothing, not even readiness.
      if (guard.check(request, reply)) return reply;
      if (this.closing) throw HttpError.http("NOT_READY", "the broker is shutting down");
      if (this.authenticator === null || OPEN_ROUTES.has(request.routeOptions.url ?? "")) return;
      if (credentialsInside(request)) return;
      const principal = await this.authenticator.principal(request, reply);
      if (principal === null) return reply;
      request.principal = principal;
    });
    // A WebSocket upgrade answered with an error (not upgraded) holds a socket that no HTTP parser
    // owns any more: nothing would ever close it, and close() would wait on it. Close it once sent.
    this.app.addHook("onResponse", async (request) => {
      if (request.headers.upgrade !== undefined) request.raw.socket.destroySoon();
    });
    this.app.register(websocket, {
      // A Kafka frame with its length prefix; larger messages are refused before they are read.
      options: { maxPayload: config.maxRequestBytes + 4 },
      // ws closes the socket itself on protocol errors (1002, 1009); a handler never throws.
      errorHandler: (err, ws) => {
        this.log.debug({ err }, "websocket error");
        if (ws.readyState === ws.OPEN) ws.close(WS_CLOSE.INTERNAL, "internal error");
      },
    });
    const opts = { server: this };
    this.app.register(clusterRoutes, opts);
    this.app.register(topicRoutes, opts);
    this.app.register(recordRoutes, opts);
    this.app.register(groupRoutes, opts);
    this.app.register(messageRoutes, opts);
    this.app.register(securityRoutes, opts);
    this.app.register(consumerRoutes, opts);
    this.app.register(tailRoutes, opts);
    this.app.register(kafkaWsRoutes, opts);
    this.app.register(consoleRoutes, opts);
    this.app.register(overviewRoutes, opts);
    this.app.register(topicAdminRoutes, opts);
    this.app.register(groupOffsetRoutes, opts);
    this.app.register(metricsRoutes, opts);
  }

  /** Builds the server and listens on the broker's host and http.port (0: any free port). */
  static async start(broker: Broker): Promise<HttpServer> {
    const server = new HttpServer(broker);
    await server.app.listen({ host: broker.config.host, port: broker.config.httpPort });
    server.port = (server.app.server.address() as AddressInfo).port;
    server.listening = true;
    return server;
  }

  get closing(): boolean {
    return this.closingSince !== null;
  }

  /** Why the broker is not ready, or null when it is (logs loaded, both listeners bound). */
  notReadyBecause(): string | null {
    if (this.closing) return "the broker is shutting down";
    if (!this.listening) return "the HTTP listener is not bound yet";
    if (this.broker.kafkaPort === 0) return "the Kafka listener is not bound yet";
    return null;
  }

  /** The Kafka APIs, as the client of `request` (its address and principal). */
  api(request: FastifyRequest): KafkaApi {
    return new KafkaApi(this.broker.dispatcher, this.caller(request));
  }

  /** Who `request` is to the Kafka handlers: its address, principal and that principal's ACL checks. */
  caller(request: FastifyRequest): HttpCaller {
    return {
      clientHost: request.ip,
      principal: request.principal,
      ...authorizeRequest(this.broker.authorizer, request.principal, request.ip),
    };
  }

  /** Loads the HTTPS certificate and key again (http.tls.enable): new connections get them. */
  reloadTls(): void {
    if (this.broker.config.httpTlsEnable)
      (this.app.server as unknown as TlsServer).setSecureContext(tlsOptions(this.broker.config));
  }

  /** The partition for the next null-key record of `topic`. */
  nextRoundRobin(topic: string, partitions: number): number {
    const next = this.roundRobin.get(topic) ?? 0;
    this.roundRobin.set(topic, (next + 1) % partitions);
    return next % partitions;
  }

  /** Graceful shutdown; safe to call twice; never rejects (Broker.stop must go on to the logs). */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closingSince = Date.now();
    for (const t of this.tails) t.close(WS_CLOSE.GOING_AWAY, "broker shutting down");
    await this.consumers.closeAll();
    await Promise.all([...this.kafkaConnections].map((c) => c.drainAndClose(SHUTDOWN_DRAIN_MS)));
    const cut = setTimeout(() => {
      this.app.server.closeAllConnections();
      for (const ws of this.app.websocketServer?.clients ?? []) ws.terminate();
    }, SHUTDOWN_DRAIN_MS);
    try {
      await this.app.close();
    } catch (err) {
      this.log.warn({ err }, "closing the HTTP server failed");
    } finally {
      clearTimeout(cut);
    }
  }
}
