/**
 * GET /metrics on the HTTP port: the broker's registry in Prometheus text format (0.0.4). With
 * metrics.enable=false: 404 NOT_FOUND, as an unknown route. The plugin also counts the HTTP port's
 * connections (`http`) and WebSocket upgrades (`ws`) for samsa_connections.
 */
import type { FastifyPluginAsync } from "fastify";
import { ERROR_RESPONSES, HttpError } from "../http/errors.js";
import { NO_QUERY } from "../http/schemas.js";
import type { HttpServer } from "../http/server.js";

export const metricsRoutes: FastifyPluginAsync<{ server: HttpServer }> = async (app, { server }) => {
  const metrics = server.broker.metrics;
  if (metrics) {
    const c = metrics.connections;
    app.server.on("connection", (socket) => {
      c.connectionOpened("http");
      socket.once("close", () => c.connectionClosed("http"));
    });
    app.server.on("upgrade", (_request, socket) => {
      c.connectionOpened("ws");
      socket.once("close", () => c.connectionClosed("ws"));
    });
  }
  app.get(
    "/metrics",
    { schema: { querystring: NO_QUERY, response: { 200: { type: "string" }, ...ERROR_RESPONSES } } },
    async (_request, reply) => {
      if (!metrics) throw HttpError.http("NOT_FOUND", "metrics are off (metrics.enable=false)");
      const text = await metrics.text();
      return reply.type(metrics.contentType).send(text);
    },
  );
};
