/**
 * Topics over HTTP (Confluent REST v2 / Redpanda HTTP Proxy shapes where they exist):
 *
 *   GET    /topics          `["name", ...]`, sorted (Metadata).
 *   POST   /topics          create `{"name", "partitions"?, "replication_factor"?, "configs"?: {k: v}}`
 *                           (CreateTopics; absent counts take the broker's defaults): 201 with
 *                           `{name, topic_id, partitions_count, replication_factor, configs}`.
 *   GET    /topics/{topic}  `{name, topic_id, internal, replication_factor, configs, partitions:
 *                           [{partition, leader, leader_epoch, replicas: [{broker, leader, in_sync}],
 *                           log_start_offset, log_end_offset, high_watermark, size_bytes}]}`.
 *   DELETE /topics/{topic}  204 (DeleteTopics).
 *
 * The description comes from Kafka APIs only: Metadata (leaders, replicas, ISR), ListOffsets (log
 * start offset, high watermark), DescribeLogDirs (size on disk; log end offset = high watermark +
 * offset lag) and DescribeConfigs (effective configs). Offsets and sizes are asked of each
 * partition's leader (leaders.ts: this broker as the request's principal, the others over peer
 * connections), log directories only when the principal may DESCRIBE the cluster; where a leader
 * does not answer (or there is none, or no log directories may be described) the numbers are -1.
 */
import type { FastifyPluginAsync } from "fastify";
import { ERROR_RESPONSES } from "./errors.js";
import { asker, key, leaderFacts, type PartitionRef } from "./leaders.js";
import { NO_QUERY, TOPIC_NAME, TOPIC_PARAMS } from "./schemas.js";
import type { HttpServer } from "./server.js";

const CONFIGS = { type: "object", additionalProperties: { type: ["string", "null"] } } as const;

const CREATE_BODY = {
  type: "object",
  required: ["name"],
  additionalProperties: false,
  properties: {
    name: TOPIC_NAME,
    partitions: { type: "integer", minimum: 1, maximum: 0x7fff_ffff },
    replication_factor: { type: "integer", minimum: 1, maximum: 0x7fff },
    configs: { type: "object", additionalProperties: { type: "string" } },
  },
} as const;

const CREATED_RESPONSE = {
  type: "object",
  required: ["name", "topic_id", "partitions_count", "replication_factor", "configs"],
  properties: {
    name: { type: "string" },
    topic_id: { type: "string" },
    partitions_count: { type: "integer" },
    replication_factor: { type: "integer" },
    configs: CONFIGS,
  },
} as const;

const TOPIC_RESPONSE = {
  type: "object",
  required: ["name", "topic_id", "internal", "replication_factor", "configs", "partitions"],
  properties: {
    name: { type: "string" },
    topic_id: { type: "string" },
    internal: { type: "boolean" },
    replication_factor: { type: "integer" },
    configs: CONFIGS,
    partitions: {
      type: "array",
      items: {
        type: "object",
        properties: {
          partition: { type: "integer" },
          leader: { type: "integer" },
          leader_epoch: { type: "integer" },
          replicas: {
            type: "array",
            items: {
              type: "object",
              properties: {
                broker: { type: "integer" },
                leader: { type: "boolean" },
                in_sync: { type: "boolean" },
              },
            },
          },
          log_start_offset: { type: "integer" },
          log_end_offset: { type: "integer" },
          high_watermark: { type: "integer" },
          size_bytes: { type: "integer" },
        },
      },
    },
  },
} as const;

interface CreateBody {
  name: string;
  partitions?: number;
  replication_factor?: number;
  configs?: Record<string, string>;
}

export const topicRoutes: FastifyPluginAsync<{ server: HttpServer }> = async (app, { server }) => {
  app.get(
    "/topics",
    {
      schema: {
        querystring: NO_QUERY,
        response: { 200: { type: "array", items: { type: "string" } }, ...ERROR_RESPONSES },
      },
    },
    async (request) => (await server.api(request).topics()).map((t) => t.name),
  );

  app.post<{ Body: CreateBody }>(
    "/topics",
    {
      schema: {
        querystring: NO_QUERY,
        body: CREATE_BODY,
        response: { 201: CREATED_RESPONSE, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const created = await server
        .api(request)
        .createTopic(body.name, body.partitions ?? -1, body.replication_factor ?? -1, body.configs ?? {});
      reply.status(201).header("location", `/topics/${encodeURIComponent(created.name)}`);
      return {
        name: created.name,
        topic_id: created.topicId,
        partitions_count: created.partitions,
        replication_factor: created.replicationFactor,
        configs: created.configs,
      };
    },
  );

  app.get<{ Params: { topic: string } }>(
    "/topics/:topic",
    {
      schema: {
        params: TOPIC_PARAMS,
        querystring: NO_QUERY,
        response: { 200: TOPIC_RESPONSE, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const api = server.api(request);
      const name = request.params.topic;
      const topic = await api.topic(name, false);
      const byLeader = new Map<number, PartitionRef[]>();
      for (const p of topic.partitions)
        if (p.leader >= 0)
          byLeader.set(p.leader, [
            ...(byLeader.get(p.leader) ?? []),
            { topic: name, partition: p.partition },
          ]);
      const logDirsAllowed = server.caller(request).authorize("DESCRIBE", "CLUSTER", "kafka-cluster");
      const [{ facts }, configs] = await Promise.all([
        leaderFacts(asker(server, request), byLeader, logDirsAllowed),
        api.topicConfigs(name),
      ]);
      return {
        name: topic.name,
        topic_id: topic.topicId,
        internal: topic.internal,
        replication_factor: topic.partitions[0]?.replicas.length ?? 0,
        configs,
        partitions: topic.partitions.map((p) => {
          const f = facts.get(key(name, p.partition));
          const highWatermark = f?.end ?? -1;
          return {
            partition: p.partition,
            leader: p.leader,
            leader_epoch: p.leaderEpoch,
            replicas: p.replicas.map((broker) => ({
              broker,
              leader: broker === p.leader,
              in_sync: p.isr.includes(broker),
            })),
            log_start_offset: f?.start ?? -1,
            log_end_offset: f?.offsetLag != null && highWatermark >= 0 ? highWatermark + f.offsetLag : -1,
            high_watermark: highWatermark,
            size_bytes: f?.size ?? -1,
          };
        }),
      };
    },
  );

  app.delete<{ Params: { topic: string } }>(
    "/topics/:topic",
    {
      schema: {
        params: TOPIC_PARAMS,
        querystring: NO_QUERY,
        response: { 204: { type: "null" }, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      await server.api(request).deleteTopic(request.params.topic);
      return reply.status(204).send();
    },
  );
};
