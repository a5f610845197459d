/**
 * The broker's own state over HTTP:
 *
 *   GET /health   200 while the process is up (it answers at all).
 *   GET /ready    200 once the logs are loaded and both listeners are bound, 503 (NOT_READY)
 *                 before that and while the broker shuts down.
 *   GET /brokers  `{"brokers": [<node id>, ...]}` (Confluent REST v2 / Redpanda shape), from Metadata.
 */
import type { FastifyPluginAsync } from "fastify";
import { ERROR_RESPONSES, HttpError } from "./errors.js";
import { NO_QUERY } from "./schemas.js";
import type { HttpServer } from "./server.js";

const HEALTH_RESPONSE = {
  type: "object",
  required: ["status", "uptime_ms"],
  properties: { status: { type: "string", enum: ["ok"] }, uptime_ms: { type: "integer" } },
} as const;

const READY_RESPONSE = {
  type: "object",
  required: ["status", "kafka_port", "http_port"],
  properties: {
    status: { type: "string", enum: ["ready"] },
    kafka_port: { type: "integer" },
    http_port: { type: "integer" },
  },
} as const;

const BROKERS_RESPONSE = {
  type: "object",
  required: ["brokers"],
  properties: { brokers: { type: "array", items: { type: "integer" } } },
} as const;

export const clusterRoutes: FastifyPluginAsync<{ server: HttpServer }> = async (app, { server }) => {
  app.get(
    "/health",
    { schema: { querystring: NO_QUERY, response: { 200: HEALTH_RESPONSE, ...ERROR_RESPONSES } } },
    async () => ({ status: "ok", uptime_ms: Date.now() - server.broker.startedAtMs }),
  );

  app.get(
    "/ready",
    { schema: { querystring: NO_QUERY, response: { 200: READY_RESPONSE, ...ERROR_RESPONSES } } },
    async () => {
      const missing = server.notReadyBecause();
      if (missing) throw HttpError.http("NOT_READY", missing);
      return { status: "ready", kafka_port: server.broker.kafkaPort, http_port: server.port };
    },
  );

  app.get(
    "/brokers",
    { schema: { querystring: NO_QUERY, response: { 200: BROKERS_RESPONSE, ...ERROR_RESPONSES } } },
    async (request) => {
      const brokers = await server.api(request).brokers();
      return { brokers: brokers.map((b) => b.nodeId).sort((a, b) => a - b) };
    },
  );
};
