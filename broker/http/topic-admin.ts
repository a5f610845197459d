/**
 * Changing a topic over HTTP (the console's topic page; Kafka's kafka-configs and kafka-topics
 * --alter):
 *
 *   GET   /topics/{topic}/configs     `{topic, configs: [{name, value, source, default, read_only,
 *                                     sensitive, type, documentation, synonyms: [{name, value,
 *                                     source}]}]}`, sorted by name (DescribeConfigs v4 with
 *                                     synonyms and documentation). `source` is Kafka's name:
 *                                     DYNAMIC_TOPIC_CONFIG (set on the topic), STATIC_BROKER_CONFIG
 *                                     (the broker's default), DEFAULT_CONFIG (built in).
 *   PATCH /topics/{topic}/configs     `{"set"?: {key: value}, "reset"?: [key], "validate_only"?}`:
 *                                     IncrementalAlterConfigs v1, SET and DELETE (back to the
 *                                     default) in one request, all or nothing; answers as GET.
 *   POST  /topics/{topic}/partitions  `{"count": n}`, the new total (CreatePartitions v3):
 *                                     `{topic, partitions_count}`; not more than now is 422
 *                                     INVALID_PARTITIONS.
 *
 * Each runs through the Kafka handler as the request's principal (ALTER_CONFIGS, ALTER,
 * DESCRIBE_CONFIGS on the topic), so refusals are Kafka's, mapped by errors.ts.
 */
import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import { callApi } from "./call-api.js";
import { ERROR_RESPONSES, HttpError } from "./errors.js";
import { NO_QUERY, TOPIC_PARAMS } from "./schemas.js";
import type { HttpServer } from "./server.js";

const DESCRIBE_CONFIGS = 32;
const INCREMENTAL_ALTER_CONFIGS = 44;
const CREATE_PARTITIONS = 37;
const RESOURCE_TOPIC = 2;
const OP_SET = 0;
const OP_DELETE = 1;

/** Kafka's ConfigSource names, by id (DescribeConfigsResponse). */
const SOURCE_NAMES = [
  "UNKNOWN",
  "DYNAMIC_TOPIC_CONFIG",
  "DYNAMIC_BROKER_CONFIG",
  "DYNAMIC_DEFAULT_BROKER_CONFIG",
  "STATIC_BROKER_CONFIG",
  "DEFAULT_CONFIG",
  "DYNAMIC_BROKER_LOGGER_CONFIG",
];
/** Kafka's ConfigType names, by id. */
const TYPE_NAMES = [
  "UNKNOWN",
  "BOOLEAN",
  "STRING",
  "INT",
  "SHORT",
  "LONG",
  "DOUBLE",
  "LIST",
  "CLASS",
  "PASSWORD",
];

/** Most keys one PATCH may set or reset (every topic config Kafka knows is fewer). */
const MAX_CHANGES = 100;
const CONFIG_KEY = { type: "string", minLength: 1, maxLength: 255 } as const;
const CONFIG_VALUE = { type: "string", maxLength: 0x7fff } as const;

const PATCH_BODY = {
  type: "object",
  additionalProperties: false,
  minProperties: 1,
  properties: {
    set: {
      type: "object",
      maxProperties: MAX_CHANGES,
      propertyNames: CONFIG_KEY,
      additionalProperties: CONFIG_VALUE,
    },
    reset: { type: "array", maxItems: MAX_CHANGES, items: CONFIG_KEY },
    validate_only: { type: "boolean" },
  },
} as const;

const PARTITIONS_BODY = {
  type: "object",
  required: ["count"],
  additionalProperties: false,
  properties: { count: { type: "integer", minimum: 1, maximum: 0x7fff_ffff } },
} as const;

const SYNONYM = {
  type: "object",
  properties: { name: { type: "string" }, value: { type: ["string", "null"] }, source: { type: "string" } },
} as const;

const CONFIGS_RESPONSE = {
  type: "object",
  required: ["topic", "configs"],
  properties: {
    topic: { type: "string" },
    configs: {
      type: "array",
      items: {
        type: "object",
        required: ["name", "value", "source", "default", "read_only", "sensitive"],
        properties: {
          name: { type: "string" },
          value: { type: ["string", "null"] },
          source: { type: "string" },
          default: { type: "boolean" },
          read_only: { type: "boolean" },
          sensitive: { type: "boolean" },
          type: { type: "string" },
          documentation: { type: ["string", "null"] },
          synonyms: { type: "array", items: SYNONYM },
        },
      },
    },
  },
} as const;

const PARTITIONS_RESPONSE = {
  type: "object",
  required: ["topic", "partitions_count"],
  properties: { topic: { type: "string" }, partitions_count: { type: "integer" } },
} as const;

interface PatchBody {
  set?: Record<string, string>;
  reset?: string[];
  validate_only?: boolean;
}

async function describeConfigs(server: HttpServer, request: FastifyRequest, topic: string) {
  const response = await callApi(server.broker.dispatcher, server.caller(request), DESCRIBE_CONFIGS, 4, {
    resources: [{ resourceType: RESOURCE_TOPIC, resourceName: topic, configurationKeys: null }],
    includeSynonyms: true,
    includeDocumentation: true,
  });
  const result = response.results[0];
  if (!result) throw HttpError.kafka("UNKNOWN_SERVER_ERROR", `no configs of ${topic}`);
  if (result.errorCode !== 0) throw HttpError.kafka(result.errorCode, result.errorMessage);
  const configs = [...result.configs]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((c) => {
      const source = SOURCE_NAMES[c.configSource ?? 0] ?? "UNKNOWN";
      return {
        name: c.name,
        value: c.isSensitive ? null : c.value,
        source,
        default: source !== "DYNAMIC_TOPIC_CONFIG",
        read_only: c.readOnly,
        sensitive: c.isSensitive,
        type: TYPE_NAMES[c.configType ?? 0] ?? "UNKNOWN",
        documentation: c.documentation ?? null,
        synonyms: (c.synonyms ?? []).map((s) => ({
          name: s.name,
          value: c.isSensitive ? null : s.value,
          source: SOURCE_NAMES[s.source] ?? "UNKNOWN",
        })),
      };
    });
  return { topic, configs };
}

async function alterConfigs(server: HttpServer, request: FastifyRequest, topic: string, body: PatchBody) {
  const set = Object.entries(body.set ?? {});
  const reset = body.reset ?? [];
  if (set.length === 0 && reset.length === 0)
    throw HttpError.http("BAD_REQUEST", "body.set and body.reset name no config to change");
  const response = await callApi(
    server.broker.dispatcher,
    server.caller(request),
    INCREMENTAL_ALTER_CONFIGS,
    1,
    {
      resources: [
        {
          resourceType: RESOURCE_TOPIC,
          resourceName: topic,
          configs: [
            ...set.map(([name, value]) => ({ name, configOperation: OP_SET, value })),
            ...reset.map((name) => ({ name, configOperation: OP_DELETE, value: null })),
          ],
        },
      ],
      validateOnly: body.validate_only ?? false,
    },
  );
  const result = response.responses[0];
  if (!result) throw HttpError.kafka("UNKNOWN_SERVER_ERROR", `no answer altering ${topic}`);
  if (result.errorCode !== 0) throw HttpError.kafka(result.errorCode, result.errorMessage);
}

async function addPartitions(server: HttpServer, request: FastifyRequest, topic: string, count: number) {
  const response = await callApi(server.broker.dispatcher, server.caller(request), CREATE_PARTITIONS, 3, {
    topics: [{ name: topic, count, assignments: null }],
    timeoutMs: 60_000,
    validateOnly: false,
  });
  const result = response.results[0];
  if (!result) throw HttpError.kafka("UNKNOWN_SERVER_ERROR", `no answer adding partitions to ${topic}`);
  if (result.errorCode !== 0) throw HttpError.kafka(result.errorCode, result.errorMessage);
  return { topic, partitions_count: count };
}

export const topicAdminRoutes: FastifyPluginAsync<{ server: HttpServer }> = async (app, { server }) => {
  app.get<{ Params: { topic: string } }>(
    "/topics/:topic/configs",
    {
      schema: {
        params: TOPIC_PARAMS,
        querystring: NO_QUERY,
        response: { 200: CONFIGS_RESPONSE, ...ERROR_RESPONSES },
      },
    },
    async (request) => describeConfigs(server, request, request.params.topic),
  );

  app.patch<{ Params: { topic: string }; Body: PatchBody }>(
    "/topics/:topic/configs",
    {
      schema: {
        params: TOPIC_PARAMS,
        querystring: NO_QUERY,
        body: PATCH_BODY,
        response: { 200: CONFIGS_RESPONSE, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      await alterConfigs(server, request, request.params.topic, request.body);
      return describeConfigs(server, request, request.params.topic);
    },
  );

  app.post<{ Params: { topic: string }; Body: { count: number } }>(
    "/topics/:topic/partitions",
    {
      schema: {
        params: TOPIC_PARAMS,
        querystring: NO_QUERY,
        body: PARTITIONS_BODY,
        response: { 200: PARTITIONS_RESPONSE, ...ERROR_RESPONSES },
      },
    },
    async (request) => addPartitions(server, request, request.params.topic, request.body.count),
  );
};
