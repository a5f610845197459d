/**
 * The Confluent REST Proxy v2 consumer API (the one Redpanda's HTTP Proxy serves too), over the
 * instances of instances.ts:
 *
 *   POST   /consumers/{group}                                   create an instance -> {instance_id, base_uri}
 *   DELETE /consumers/{group}/instances/{instance}              close it (LeaveGroup) -> 204
 *   POST   .../subscription  {topics} | {topic_pattern}         subscribe -> 204
 *   GET    .../subscription                                     -> {topics}
 *   DELETE .../subscription                                     unsubscribe -> 204
 *   POST   .../assignments   {partitions: [{topic, partition}]} assign by hand -> 204
 *   GET    .../assignments                                      -> {partitions}
 *   GET    .../records?timeout=&max_bytes=                      poll -> [{topic, key, value, partition, offset}]
 *   POST   .../offsets       {offsets: [{topic, partition, offset}]} | nothing   commit -> 204
 *   GET    .../offsets       {partitions} (a GET body, as Confluent) | nothing   -> {offsets: [{topic, partition, offset, metadata}]}
 *   POST   .../positions     {offsets}                          seek -> 204
 *   POST   .../positions/beginning | .../positions/end  {partitions}   seek -> 204
 *
 * Bodies may be `application/vnd.kafka.v2+json`, `application/vnd.kafka.json.v2+json`,
 * `application/vnd.kafka.binary.v2+json` or `application/json`; answers are
 * `application/vnd.kafka.v2+json`, records `application/vnd.kafka.<format>.v2+json`. A poll whose
 * Accept names only an embedded format other than the instance's is 406 (40601). Every error is
 * `{"error_code": <number>, "message"}` with Confluent's codes (rest-errors.ts).
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import type { TopicPartition } from "../../../protocol/assignors.js";
import { ERROR_RESPONSES, HttpError } from "../errors.js";
import { boundedJsonParser } from "../json-body.js";
import { DEFAULT_READ_BYTES, KAFKA_JSON_TYPES, MAX_READ_BYTES, MAX_READ_TIMEOUT_MS } from "../records.js";
import { GROUP_ID, GROUP_PARAMS, PARTITION, TOPIC_NAME } from "../schemas.js";
import type { HttpServer } from "../server.js";
import type {
  ConsumerSettings,
  EmbeddedFormat,
  OffsetReset,
  PartitionOffset,
  RestConsumer,
} from "./consumer.js";
import { restError, restErrorOf } from "./rest-errors.js";

export const KAFKA_V2_JSON = "application/vnd.kafka.v2+json";
const JSON_V2 = "application/vnd.kafka.json.v2+json";
const BINARY_V2 = "application/vnd.kafka.binary.v2+json";

/** What the OpenAPI description says of every consumer route: its tag and content types. */
const DESCRIBED = {
  tags: ["consumers (REST Proxy v2)"],
  consumes: [KAFKA_V2_JSON, JSON_V2, BINARY_V2, "application/json"],
  produces: [KAFKA_V2_JSON],
};

/** Confluent's consumer.request.timeout.ms default: a poll's wait when none is named. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 1000;

/** Instance names appear in base_uri paths: URL-safe characters only. */
const INSTANCE_ID = { type: "string", pattern: "^[A-Za-z0-9._~-]{1,249}$" } as const;
/** Confluent's and Redpanda's clients send these settings as strings: a count as a number or its digits. */
const NUMBER_OR_DIGITS = {
  anyOf: [
    { type: "integer", minimum: 0, maximum: 0x7fff_ffff },
    { type: "string", pattern: "^[0-9]{1,9}$" },
  ],
} as const;

const INSTANCE_PARAMS = {
  type: "object",
  required: ["group", "instance"],
  additionalProperties: false,
  properties: { group: GROUP_ID, instance: INSTANCE_ID },
} as const;

const TOPIC_PARTITION = {
  type: "object",
  required: ["topic", "partition"],
  additionalProperties: false,
  properties: { topic: TOPIC_NAME, partition: PARTITION },
} as const;

const PARTITION_OFFSET = {
  type: "object",
  required: ["topic", "partition", "offset"],
  additionalProperties: false,
  properties: {
    topic: TOPIC_NAME,
    partition: PARTITION,
    offset: { type: "integer", minimum: -1, maximum: Number.MAX_SAFE_INTEGER - 1 },
    metadata: { type: "string" },
  },
} as const;

const PARTITIONS_BODY = {
  type: "object",
  required: ["partitions"],
  additionalProperties: false,
  properties: { partitions: { type: "array", items: TOPIC_PARTITION } },
} as const;

const OFFSETS_BODY = {
  type: "object",
  required: ["offsets"],
  additionalProperties: false,
  properties: { offsets: { type: "array", items: PARTITION_OFFSET } },
} as const;

/** A commit: given offsets, or none (an empty body) for every position. */
const COMMIT_BODY = {
  type: "object",
  additionalProperties: false,
  properties: { offsets: { type: "array", items: PARTITION_OFFSET } },
} as const;

const CREATE_BODY = {
  type: "object",
  additionalProperties: false,
  properties: {
    name: INSTANCE_ID,
    format: { type: "string", enum: ["json", "binary"] },
    "auto.offset.reset": { type: "string", enum: ["earliest", "latest", "none"] },
    "auto.commit.enable": { anyOf: [{ type: "boolean" }, { type: "string", enum: ["true", "false"] }] },
    "fetch.min.bytes": NUMBER_OR_DIGITS,
    "consumer.request.timeout.ms": NUMBER_OR_DIGITS,
  },
} as const;

const CREATE_RESPONSE = {
  type: "object",
  required: ["instance_id", "base_uri"],
  properties: { instance_id: { type: "string" }, base_uri: { type: "string" } },
} as const;

const SUBSCRIPTION_BODY = {
  type: "object",
  additionalProperties: false,
  properties: {
    topics: { type: "array", items: TOPIC_NAME },
    topic_pattern: { type: "string", minLength: 1, maxLength: 1024 },
  },
} as const;

const TOPICS_RESPONSE = {
  type: "object",
  required: ["topics"],
  properties: { topics: { type: "array", items: { type: "string" } } },
} as const;

const PARTITIONS_RESPONSE = {
  type: "object",
  required: ["partitions"],
  properties: {
    partitions: {
      type: "array",
      items: {
        type: "object",
        required: ["topic", "partition"],
        properties: { topic: { type: "string" }, partition: { type: "integer" } },
      },
    },
  },
} as const;

const COMMITTED_RESPONSE = {
  type: "object",
  required: ["offsets"],
  properties: {
    offsets: {
      type: "array",
      items: {
        type: "object",
        required: ["topic", "partition", "offset", "metadata"],
        properties: {
          topic: { type: "string" },
          partition: { type: "integer" },
          offset: { type: "integer" },
          metadata: { type: "string" },
        },
      },
    },
  },
} as const;

const RECORDS_RESPONSE = {
  type: "array",
  items: {
    type: "object",
    required: ["topic", "key", "value", "partition", "offset"],
    properties: {
      topic: { type: "string" },
      key: {},
      value: {},
      partition: { type: "integer" },
      offset: { type: "integer" },
    },
  },
} as const;

const RECORDS_QUERY = {
  type: "object",
  additionalProperties: false,
  properties: {
    timeout: { type: "integer", minimum: 0, maximum: MAX_READ_TIMEOUT_MS },
    max_bytes: { type: "integer", minimum: 1, maximum: MAX_READ_BYTES, default: DEFAULT_READ_BYTES },
  },
} as const;

const NO_CONTENT = { 204: { type: "null", description: "done" }, ...ERROR_RESPONSES } as const;

interface CreateBody {
  name?: string;
  format?: EmbeddedFormat;
  "auto.offset.reset"?: OffsetReset;
  "auto.commit.enable"?: boolean | string;
  "fetch.min.bytes"?: number | string;
  "consumer.request.timeout.ms"?: number | string;
}

type InstanceParams = { group: string; instance: string };

/** An absent body is an empty object (Confluent takes POSTs without one), before the schema checks it. */
async function emptyBodyAsObject(request: FastifyRequest): Promise<void> {
  if (request.body === undefined || request.body === null) request.body = {};
}

function settingsOf(body: CreateBody): ConsumerSettings {
  const timeout = Number(body["consumer.request.timeout.ms"] ?? DEFAULT_REQUEST_TIMEOUT_MS);
  if (timeout > MAX_READ_TIMEOUT_MS)
    throw restError(
      "INVALID_CONSUMER_CONFIG",
      `consumer.request.timeout.ms may be at most ${MAX_READ_TIMEOUT_MS}`,
    );
  return {
    format: body.format ?? "binary",
    autoOffsetReset: body["auto.offset.reset"] ?? "latest",
    autoCommit: String(body["auto.commit.enable"] ?? "true") === "true",
    fetchMinBytes: Math.max(1, Number(body["fetch.min.bytes"] ?? 1)),
    requestTimeoutMs: timeout,
  };
}

/** The embedded formats an Accept header asks for; null when it takes any (absent, JSON, a wildcard). */
function acceptedFormats(accept: string | undefined): Set<string> | null {
  if (accept === undefined || accept.trim() === "") return null;
  const formats = new Set<string>();
  for (const part of accept.split(",")) {
    const type = part.split(";")[0].trim().toLowerCase();
    if (type === "*/*" || type === "application/*" || type === "application/json" || type === KAFKA_V2_JSON)
      return null;
    const embedded = /^application\/vnd\.kafka\.([a-z]+)\.v2\+json$/.exec(type);
    formats.add(embedded ? embedded[1] : type);
  }
  return formats;
}

function checkAccept(request: FastifyRequest, format: EmbeddedFormat): void {
  const formats = acceptedFormats(request.headers.accept);
  if (formats === null || formats.has(format)) return;
  throw restError(
    "FORMAT_MISMATCH",
    `The requested embedded data format does not match the deserializer for this consumer instance (${format}; Accept: ${request.headers.accept})`,
  );
}

/** The body of a GET (Confluent's GET .../offsets carries one), read by hand: fastify reads none for GET. */
async function getBody(server: HttpServer, app: FastifyInstance, request: FastifyRequest): Promise<unknown> {
  const length = request.headers["content-length"];
  if ((length === undefined || length === "0") && request.headers["transfer-encoding"] === undefined)
    return null;
  const limit = server.broker.config.httpRequestMaxBytes;
  if (length !== undefined && Number(length) > limit)
    throw HttpError.http("PAYLOAD_TOO_LARGE", "request body is larger than http.request.max.bytes");
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request.raw) {
    size += (chunk as Buffer).length;
    if (size > limit)
      throw HttpError.http("PAYLOAD_TOO_LARGE", "request body is larger than http.request.max.bytes");
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return null;
  const parse = boundedJsonParser(app, server.jsonLimits);
  return parse(request, Buffer.concat(chunks).toString("utf8"));
}

function partitionsOf(request: FastifyRequest, body: unknown): TopicPartition[] | null {
  if (body === null) return null;
  const validate = request.compileValidationSchema(PARTITIONS_BODY);
  if (!validate(body))
    throw HttpError.http("BAD_REQUEST", `body does not match {"partitions": [{"topic", "partition"}]}`);
  return (body as { partitions: TopicPartition[] }).partitions;
}

export const consumerRoutes: FastifyPluginAsync<{ server: HttpServer }> = async (app, { server }) => {
  const instances = server.consumers;
  // An empty body under a JSON content type is no body (curl -XPOST -H 'content-type: ...' commits all).
  const parseJson = boundedJsonParser(app, server.jsonLimits);
  const parseMaybeEmpty = async (request: FastifyRequest, body: string | Buffer) =>
    body.length === 0 ? undefined : parseJson(request, body as string);
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, parseMaybeEmpty);
  app.addContentTypeParser(KAFKA_JSON_TYPES, { parseAs: "string" }, parseMaybeEmpty);
  app.setErrorHandler((err, request, reply) => {
    const error = restErrorOf(err);
    if (error.statusCode >= 500 && !HttpError.is(err) && !(err instanceof Error && "errorCode" in err))
      request.log.error({ err, url: request.url }, "REST consumer request failed");
    return reply.status(error.statusCode).type(KAFKA_V2_JSON).send(error.body);
  });
  app.addHook("preHandler", async (_request, reply) => {
    reply.type(KAFKA_V2_JSON);
  });

  const instance = (request: FastifyRequest<{ Params: InstanceParams }>): RestConsumer =>
    instances.get(request.params.group, request.params.instance, request.principal);
  const done = (reply: FastifyReply) => reply.status(204).send();
  const schema = (extra: object) => ({ ...DESCRIBED, params: INSTANCE_PARAMS, ...extra });

  app.post<{ Params: { group: string }; Body: CreateBody }>(
    "/consumers/:group",
    {
      preValidation: emptyBodyAsObject,
      schema: {
        ...DESCRIBED,
        params: GROUP_PARAMS,
        body: CREATE_BODY,
        response: { 200: CREATE_RESPONSE, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const body = request.body;
      const consumer = instances.create(
        request.params.group,
        body.name ?? null,
        settingsOf(body),
        server.caller(request),
      );
      const base = `${request.protocol}://${request.host}/consumers/${encodeURIComponent(consumer.group)}`;
      return { instance_id: consumer.id, base_uri: `${base}/instances/${consumer.id}` };
    },
  );

  app.delete<{ Params: InstanceParams }>(
    "/consumers/:group/instances/:instance",
    { schema: schema({ response: NO_CONTENT }) },
    async (request, reply) => {
      await instances.delete(instance(request));
      return done(reply);
    },
  );

  app.post<{ Params: InstanceParams; Body: { topics?: string[]; topic_pattern?: string } }>(
    "/consumers/:group/instances/:instance/subscription",
    { schema: schema({ body: SUBSCRIPTION_BODY, response: NO_CONTENT }) },
    async (request, reply) => {
      const { topics, topic_pattern: pattern } = request.body;
      if ((topics === undefined) === (pattern === undefined))
        throw HttpError.http("BAD_REQUEST", "give either topics or topic_pattern");
      if (pattern !== undefined) {
        try {
          new RegExp(pattern);
        } catch {
          throw HttpError.http(
            "BAD_REQUEST",
            `topic_pattern ${JSON.stringify(pattern)} is not a regular expression`,
          );
        }
      }
      const consumer = instance(request);
      await consumer.serially(async () => {
        if (topics !== undefined && topics.length === 0) await consumer.unsubscribe();
        else consumer.subscribe(topics ?? null, pattern ?? null);
      });
      return done(reply);
    },
  );

  app.get<{ Params: InstanceParams }>(
    "/consumers/:group/instances/:instance/subscription",
    { schema: schema({ response: { 200: TOPICS_RESPONSE, ...ERROR_RESPONSES } }) },
    async (request) => {
      const consumer = instance(request);
      return { topics: await consumer.serially(() => consumer.subscribedTopics()) };
    },
  );

  app.delete<{ Params: InstanceParams }>(
    "/consumers/:group/instances/:instance/subscription",
    { schema: schema({ response: NO_CONTENT }) },
    async (request, reply) => {
      const consumer = instance(request);
      await consumer.serially(() => consumer.unsubscribe());
      return done(reply);
    },
  );

  app.post<{ Params: InstanceParams; Body: { partitions: TopicPartition[] } }>(
    "/consumers/:group/instances/:instance/assignments",
    { schema: schema({ body: PARTITIONS_BODY, response: NO_CONTENT }) },
    async (request, reply) => {
      const consumer = instance(request);
      await consumer.serially(async () => consumer.assign(request.body.partitions));
      return done(reply);
    },
  );

  app.get<{ Params: InstanceParams }>(
    "/consumers/:group/instances/:instance/assignments",
    { schema: schema({ response: { 200: PARTITIONS_RESPONSE, ...ERROR_RESPONSES } }) },
    async (request) => ({ partitions: instance(request).assigned() }),
  );

  app.get<{ Params: InstanceParams; Querystring: { timeout?: number; max_bytes: number } }>(
    "/consumers/:group/instances/:instance/records",
    {
      schema: schema({
        querystring: RECORDS_QUERY,
        produces: [JSON_V2, BINARY_V2],
        response: { 200: RECORDS_RESPONSE, ...ERROR_RESPONSES },
      }),
    },
    async (request, reply) => {
      const consumer = instance(request);
      checkAccept(request, consumer.settings.format);
      const maxBytes = Math.min(request.query.max_bytes, server.broker.config.fetchMaxBytes);
      const records = await consumer.serially(() =>
        consumer.records(request.query.timeout ?? null, maxBytes),
      );
      reply.type(`application/vnd.kafka.${consumer.settings.format}.v2+json`);
      return records;
    },
  );

  app.post<{ Params: InstanceParams; Body: { offsets?: PartitionOffset[] } }>(
    "/consumers/:group/instances/:instance/offsets",
    { preValidation: emptyBodyAsObject, schema: schema({ body: COMMIT_BODY, response: NO_CONTENT }) },
    async (request, reply) => {
      const consumer = instance(request);
      const offsets = request.body.offsets ?? null;
      await consumer.serially(() => consumer.commit(offsets !== null && offsets.length > 0 ? offsets : null));
      return done(reply);
    },
  );

  app.get<{ Params: InstanceParams }>(
    "/consumers/:group/instances/:instance/offsets",
    { schema: schema({ response: { 200: COMMITTED_RESPONSE, ...ERROR_RESPONSES } }) },
    async (request) => {
      const consumer = instance(request);
      const partitions = partitionsOf(request, await getBody(server, app, request));
      return { offsets: await consumer.serially(() => consumer.committed(partitions)) };
    },
  );

  app.post<{ Params: InstanceParams; Body: { offsets: PartitionOffset[] } }>(
    "/consumers/:group/instances/:instance/positions",
    { schema: schema({ body: OFFSETS_BODY, response: NO_CONTENT }) },
    async (request, reply) => {
      const consumer = instance(request);
      await consumer.serially(async () => consumer.seek(request.body.offsets));
      return done(reply);
    },
  );

  for (const end of ["beginning", "end"] as const) {
    app.post<{ Params: InstanceParams; Body: { partitions: TopicPartition[] } }>(
      `/consumers/:group/instances/:instance/positions/${end}`,
      { schema: schema({ body: PARTITIONS_BODY, response: NO_CONTENT }) },
      async (request, reply) => {
        const consumer = instance(request);
        const partitions = request.body.partitions;
        await consumer.serially(() =>
          end === "beginning" ? consumer.seekToBeginning(partitions) : consumer.seekToEnd(partitions),
        );
        return done(reply);
      },
    );
  }
};
