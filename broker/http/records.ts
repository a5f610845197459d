/**
 * Records over HTTP, in the Redpanda HTTP Proxy / Confluent REST v2 shapes:
 *
 *   POST /topics/{topic}   produce `{"format"?: "json"|"binary", "records": [{key, value, partition,
 *                          headers}]}`, answered `{"offsets": [{"partition", "offset"} |
 *                          {"partition", "error_code", "message"}]}`, one entry per record in order.
 *   GET  /topics/{topic}/partitions/{p}/records?offset=&max_bytes=&timeout=
 *                          a JSON array of records from `offset` on.
 *
 * Produce: keys and values are JSON by default (stored as the bytes of their JSON text, so the
 * string "a" is stored as `"a"` with its quotes) or base64 with `"format": "binary"` (or a
 * `Content-Type: application/vnd.kafka.binary.v2+json`); null or absent is a Kafka null. Header
 * values are always base64 (or null). A record without `partition` goes to murmur2(key bytes) mod
 * partitions, as the Java client does, or round robin when its key is null. The records of one
 * partition are appended in order (acks=all) by one Produce of consecutive batches, each at most
 * the topic's max.message.bytes (and HTTP_BATCH_BYTES), which the log validates whole before it
 * writes any: all or none of a partition's records are appended, with consecutive offsets, and a
 * partition's error is every one of its records' error. Encoding yields to the event loop between
 * batches. How many records a body may hold, and how deep it may nest, json-body.ts bounds.
 *
 * Read: a record is `{topic, partition, offset, timestamp, key, key_format, value, value_format,
 * headers}`. A key or value whose bytes are UTF-8 JSON text (anything JSON.parse accepts except
 * `null`) is shown parsed, with format "json"; other bytes are base64 with format "binary"; a
 * Kafka null is `null` with format "json". Each shown key or value, sent back with its format,
 * produces the same bytes (JSON up to whitespace and number spelling). Header values are base64.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from "fastify";
import { errorName } from "../../protocol/errors.js";
import { partitionForKey } from "../../protocol/murmur2.js";
import {
  ATTRIBUTES_OFFSET,
  BATCH_HEADER_SIZE,
  batchSizeAt,
  COMPRESSION_MASK,
  CONTROL_MASK,
  encodeRecordBatch,
  type Record as KafkaRecord,
  LAST_OFFSET_DELTA_OFFSET,
  LENGTH_OFFSET,
  LOG_OVERHEAD,
  RECORDS_OFFSET,
  type RecordHeader,
  type RecordInput,
  visitRecords,
} from "../../protocol/record-batch.js";
import { readInt64 } from "../../protocol/varint.js";
import { type Decompressed, decompressor } from "../../storage/decompress.js";
import { DECOMPRESSED_BYTES_MIN } from "../../storage/validate.js";
import { ERROR_RESPONSES, HttpError } from "./errors.js";
import { boundedJsonParser, type JsonLimits } from "./json-body.js";
import { EARLIEST_OFFSET, LATEST_OFFSET } from "./kafka-api.js";
import { BASE64, OFFSET, PARTITION, TOPIC_NAME, TOPIC_PARAMS } from "./schemas.js";
import type { HttpServer } from "./server.js";

/** Most bytes per batch that an HTTP produce writes (less when the topic's max.message.bytes is). */
export const HTTP_BATCH_BYTES = 256 * 1024;
/** Default and largest max_bytes of a read. */
export const DEFAULT_READ_BYTES = 1024 * 1024;
export const MAX_READ_BYTES = 64 * 1024 * 1024;
/** Largest timeout (ms) of a read, as the Fetch handler's longest wait. */
export const MAX_READ_TIMEOUT_MS = 30_000;

export type Format = "json" | "binary";

export interface JsonHeader {
  key: string;
  value: string | null;
}

export interface JsonRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: unknown;
  key_format: Format;
  value: unknown;
  value_format: Format;
  headers: JsonHeader[];
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Bytes as shown in JSON: parsed when they are JSON text (other than `null`), else base64. */
export function renderBytes(bytes: Buffer | null): { data: unknown; format: Format } {
  if (bytes === null) return { data: null, format: "json" };
  if (bytes.length > 0) {
    try {
      const parsed: unknown = JSON.parse(utf8.decode(bytes));
      if (parsed !== null) return { data: parsed, format: "json" };
    } catch {
      // Not UTF-8, or not JSON: shown as base64.
    }
  }
  return { data: bytes.toString("base64"), format: "binary" };
}

export function renderRecord(topic: string, partition: number, r: KafkaRecord): JsonRecord {
  const key = renderBytes(r.key);
  const value = renderBytes(r.value);
  return {
    topic,
    partition,
    offset: r.offset,
    timestamp: r.timestamp,
    key: key.data,
    key_format: key.format,
    value: value.data,
    value_format: value.format,
    headers: r.headers.map((h) => ({
      key: h.key,
      value: h.value === null ? null : h.value.toString("base64"),
    })),
  };
}

/**
 * The most bytes the first batch of a read may decompress to when it alone is larger than the
 * read's max_bytes (a reader must be able to get past it, as Kafka returns a first batch over
 * the limit): a batch stored as a producer sent it may be a compression bomb (decisions 0014,
 * 0020); beyond this the read is MESSAGE_TOO_LARGE (413).
 */
const RECORDS_DECOMPRESSED_BYTES_MAX = DECOMPRESSED_BYTES_MIN;
/** What a shown record costs against max_bytes besides its key, value and headers: its JSON fields. */
const RECORD_JSON_OVERHEAD_BYTES = 100;

/**
 * The most records one read shows: rendering them and serialising the response run on the event
 * loop in one go, so this bounds how long one read holds it (tens of milliseconds), whatever
 * max_bytes allows for records of a few bytes each.
 */
export const RECORDS_PER_READ_MAX = 10_000;

/** Thrown by the record visitor to end a batch's walk once a read has shown enough. */
const ENOUGH = Symbol("enough");

/**
 * The records at or after `from` in fetched batches (control batches left out), and the offset
 * after the last record shown. A trailing partial batch is ignored, as Kafka consumers do.
 * `maxBytes` (the read's max_bytes) bounds both what is decompressed (off the event loop beyond a
 * small batch, storage/decompress.ts) and what is shown (keys, values, headers and
 * RECORD_JSON_OVERHEAD_BYTES a record): a batch that would decompress past what is left ends the
 * read before it, and showing stops after the record that spends the rest, even inside a batch.
 * The first batch may decompress to RECORDS_DECOMPRESSED_BYTES_MAX, past it MESSAGE_TOO_LARGE;
 * at least one record is shown whatever its size, at most RECORDS_PER_READ_MAX.
 */
export function recordsOf(
  topic: string,
  partition: number,
  batches: Buffer,
  from: number,
  maxBytes: number,
): Promise<{ records: JsonRecord[]; next: number }> {
  return renderedRecordsOf(renderRecord, topic, partition, batches, from, maxBytes);
}

/** How a read shows one record (renderRecord for the records routes; the REST consumers' own shape). */
export type RecordRenderer<T> = (topic: string, partition: number, r: KafkaRecord) => T;

/** recordsOf with each record shown by `render`. */
export async function renderedRecordsOf<T>(
  render: RecordRenderer<T>,
  topic: string,
  partition: number,
  batches: Buffer,
  from: number,
  maxBytes: number,
): Promise<{ records: T[]; next: number }> {
  const records: T[] = [];
  let next = from;
  let pos = 0;
  let inflateLeft = maxBytes;
  let showLeft = maxBytes;
  while (batches.length - pos >= BATCH_HEADER_SIZE && showLeft > 0 && records.length < RECORDS_PER_READ_MAX) {
    const size = batchSizeAt(batches, pos);
    if (size < BATCH_HEADER_SIZE || pos + size > batches.length) break;
    const last = readInt64(batches, pos) + batches.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET);
    const attributes = batches.readInt16BE(pos + ATTRIBUTES_OFFSET);
    if ((attributes & CONTROL_MASK) === 0) {
      const first = pos === 0;
      const plain = await plainBatch(
        batches,
        pos,
        size,
        first ? Math.max(inflateLeft, RECORDS_DECOMPRESSED_BYTES_MAX) : inflateLeft,
      );
      if (plain === null) break;
      inflateLeft -= plain.batch.length;
      let stoppedAt = -1;
      try {
        visitRecords(plain.batch, 0, (offset, timestamp, key, value, headers) => {
          if (offset < from) return;
          if (records.length >= RECORDS_PER_READ_MAX || (records.length > 0 && showLeft <= 0)) {
            stoppedAt = offset;
            throw ENOUGH;
          }
          records.push(render(topic, partition, { offset, timestamp, key, value, headers: [...headers] }));
          showLeft -= shownBytes(key, value, headers);
        });
      } catch (err) {
        if (err !== ENOUGH) throw err;
      } finally {
        plain.release();
      }
      if (stoppedAt >= 0) return { records, next: Math.max(next, stoppedAt) };
    }
    next = Math.max(next, last + 1);
    pos += size;
  }
  return { records, next };
}

function shownBytes(key: Buffer | null, value: Buffer | null, headers: RecordHeader[]): number {
  let bytes = RECORD_JSON_OVERHEAD_BYTES + (key?.length ?? 0) + (value?.length ?? 0);
  for (const h of headers) bytes += h.key.length + (h.value?.length ?? 0);
  return bytes;
}

/**
 * The batch at `pos` with its records uncompressed (a copy when they were compressed), or null
 * when they would decompress past `maxBytes` and it is not the read's first batch. Also used by
 * the message browser's scan (message-scan.ts).
 */
export async function plainBatch(
  batches: Buffer,
  pos: number,
  size: number,
  maxBytes: number,
): Promise<{ batch: Buffer; release: () => void } | null> {
  const batch = batches.subarray(pos, pos + size);
  const attributes = batch.readInt16BE(ATTRIBUTES_OFFSET);
  const codec = attributes & COMPRESSION_MASK;
  if (codec === 0) return { batch, release: () => {} };
  let body: Decompressed;
  try {
    body = await decompressor().decompress(codec, batch.subarray(RECORDS_OFFSET), maxBytes);
  } catch (err) {
    if (pos > 0 && (err as { code?: string }).code === "MESSAGE_TOO_LARGE") return null;
    throw err;
  }
  try {
    const plain = Buffer.concat([batch.subarray(0, RECORDS_OFFSET), body.body]);
    plain.writeInt32BE(plain.length - LOG_OVERHEAD, LENGTH_OFFSET);
    plain.writeInt16BE(attributes & ~COMPRESSION_MASK, ATTRIBUTES_OFFSET);
    // The budget stays reserved while the copy is walked; the decompressed original is garbage.
    return { batch: plain, release: body.release };
  } catch (err) {
    // The copy was not made (out of memory): nobody will hold the body, so its budget returns now.
    body.release();
    throw err;
  }
}

export const RECORD_SCHEMA = {
  type: "object",
  properties: {
    topic: { type: "string" },
    partition: { type: "integer" },
    offset: { type: "integer" },
    timestamp: { type: "integer" },
    key: {},
    key_format: { type: "string", enum: ["json", "binary"] },
    value: {},
    value_format: { type: "string", enum: ["json", "binary"] },
    headers: {
      type: "array",
      items: {
        type: "object",
        properties: { key: { type: "string" }, value: { type: ["string", "null"] } },
      },
    },
  },
} as const;

interface ProduceRecord {
  key?: unknown;
  value?: unknown;
  partition?: number;
  headers?: { key: string; value?: string | null }[];
}

interface ProduceBody {
  format?: Format;
  records: ProduceRecord[];
}

type ProduceResult =
  | { partition: number; offset: number }
  | { partition?: number; error_code: string; message: string };

// One type list rather than anyOf: ajv's type coercion would turn null into "" in a string branch.
const NULLABLE_BASE64 = { type: ["string", "null"], pattern: BASE64.pattern } as const;

const PRODUCE_BODY = {
  type: "object",
  required: ["records"],
  additionalProperties: false,
  properties: {
    format: { type: "string", enum: ["json", "binary"] },
    records: {
      type: "array",
      minItems: 1,
      items: {
        type: "object",
        additionalProperties: false,
        properties: {
          key: {},
          value: {},
          partition: PARTITION,
          headers: {
            type: "array",
            items: {
              type: "object",
              required: ["key"],
              additionalProperties: false,
              properties: { key: { type: "string" }, value: NULLABLE_BASE64 },
            },
          },
        },
      },
    },
  },
  // Binary keys and values are base64 strings or null.
  if: { required: ["format"], properties: { format: { const: "binary" } } },
  // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then, not a thenable.
  then: {
    properties: {
      records: {
        type: "array",
        items: { type: "object", properties: { key: NULLABLE_BASE64, value: NULLABLE_BASE64 } },
      },
    },
  },
} as const;

const PRODUCE_RESPONSE = {
  type: "object",
  required: ["offsets"],
  properties: {
    offsets: {
      type: "array",
      items: {
        type: "object",
        properties: {
          partition: { type: "integer" },
          offset: { type: "integer" },
          error_code: { type: "string" },
          message: { type: "string" },
        },
      },
    },
  },
} as const;

function encodeField(v: unknown, format: Format): Buffer | null {
  if (v === undefined || v === null) return null;
  if (format === "binary") return Buffer.from(v as string, "base64");
  return Buffer.from(JSON.stringify(v), "utf8");
}

function recordInput(r: ProduceRecord, format: Format): RecordInput {
  const headers: RecordHeader[] = (r.headers ?? []).map((h) => ({
    key: h.key,
    value: h.value == null ? null : Buffer.from(h.value, "base64"),
  }));
  return { key: encodeField(r.key, format), value: encodeField(r.value, format), headers };
}

/**
 * The most bytes `r` takes in a batch: its key, value and headers, plus the longest varints of
 * its length, attributes, timestamp delta, offset delta, field lengths and header count.
 */
function recordBytesMax(r: RecordInput): number {
  let n = RECORD_OVERHEAD_MAX + (r.key?.length ?? 0) + (r.value?.length ?? 0);
  for (const h of r.headers ?? [])
    n += HEADER_OVERHEAD_MAX + Buffer.byteLength(h.key) + (h.value?.length ?? 0);
  return n;
}

/** length, attributes, timestamp delta, offset delta, key length, value length, header count. */
const RECORD_OVERHEAD_MAX = 5 + 1 + 10 + 5 + 5 + 5 + 5;
/** header key length, header value length. */
const HEADER_OVERHEAD_MAX = 5 + 5;

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * The records `indexes` of `records`, in that order, as consecutive batches of at most
 * `batchBytesMax` bytes each (one record larger than that alone in its batch, for the log to
 * refuse). Yields to the event loop after each batch, so that a large body keeps other clients
 * answered while it is encoded.
 */
async function encodeBatches(
  records: ProduceRecord[],
  indexes: number[],
  format: Format,
  batchBytesMax: number,
): Promise<Buffer> {
  const batches: Buffer[] = [];
  let current: RecordInput[] = [];
  let bytes = BATCH_HEADER_SIZE;
  for (const index of indexes) {
    const r = recordInput(records[index], format);
    const size = recordBytesMax(r);
    if (current.length > 0 && bytes + size > batchBytesMax) {
      batches.push(encodeRecordBatch(current));
      current = [];
      bytes = BATCH_HEADER_SIZE;
      await yieldToEventLoop();
    }
    current.push(r);
    bytes += size;
  }
  if (current.length > 0) batches.push(encodeRecordBatch(current));
  return batches.length === 1 ? batches[0] : Buffer.concat(batches);
}

/** The record indexes of each partition, in request order: explicit, murmur2 of the key, or round robin. */
function byPartition(
  server: HttpServer,
  topic: string,
  records: ProduceRecord[],
  format: Format,
  count: number,
): Map<number, number[]> {
  const groups = new Map<number, number[]>();
  for (let index = 0; index < records.length; index++) {
    const r = records[index];
    let partition = r.partition;
    if (partition === undefined) {
      const key = encodeField(r.key, format);
      partition = key !== null ? partitionForKey(key, count) : server.nextRoundRobin(topic, count);
    }
    const group = groups.get(partition);
    if (group) group.push(index);
    else groups.set(partition, [index]);
  }
  return groups;
}

/**
 * Produces the body's records (acks=all). Each partition's records go in one Produce as
 * consecutive batches no larger than the topic's max.message.bytes (and HTTP_BATCH_BYTES), which
 * the log validates whole before writing any: a partition's records are appended all or none, in
 * request order, with consecutive offsets. Partitions succeed or fail on their own.
 */
async function produce(
  server: HttpServer,
  request: FastifyRequest,
  topic: string,
  body: ProduceBody,
): Promise<{ offsets: ProduceResult[] }> {
  const api = server.api(request);
  api.requireTopic("WRITE", topic);
  const format: Format = body.format ?? "json";
  const metadata = await api.topic(topic, true);
  const batchBytesMax = Math.min(HTTP_BATCH_BYTES, await api.maxMessageBytes(topic));
  const groups = byPartition(server, topic, body.records, format, metadata.partitions.length);
  const data: { partition: number; records: Buffer }[] = [];
  for (const [partition, indexes] of groups) {
    data.push({ partition, records: await encodeBatches(body.records, indexes, format, batchBytesMax) });
  }
  const results = await api.produce(topic, data);
  const offsets: ProduceResult[] = new Array(body.records.length);
  for (const result of results) {
    const indexes = groups.get(result.partition);
    if (!indexes) continue;
    const failed =
      result.errorCode === 0
        ? null
        : {
            partition: result.partition,
            error_code: errorName(result.errorCode),
            message: result.errorMessage ?? errorName(result.errorCode),
          };
    indexes.forEach((recordIndex, i) => {
      offsets[recordIndex] = failed ?? { partition: result.partition, offset: result.baseOffset + i };
    });
  }
  return { offsets };
}

interface ReadQuery {
  offset: number;
  max_bytes: number;
  timeout: number;
}

async function read(
  server: HttpServer,
  request: FastifyRequest,
  topic: string,
  partition: number,
  query: ReadQuery,
): Promise<JsonRecord[]> {
  const api = server.api(request);
  const [fetched] = await api.fetch(topic, [{ partition, offset: query.offset }], {
    maxWaitMs: query.timeout,
    minBytes: 1,
    maxBytes: query.max_bytes,
    partitionMaxBytes: query.max_bytes,
  });
  if (!fetched) throw HttpError.kafka("UNKNOWN_TOPIC_OR_PARTITION", `no partition ${topic}-${partition}`);
  if (fetched.errorCode !== 0) {
    const code = errorName(fetched.errorCode);
    if (code === "UNKNOWN_TOPIC_OR_PARTITION")
      throw HttpError.kafka(code, `topic ${topic} has no partition ${partition}`);
    if (code === "OFFSET_OUT_OF_RANGE") {
      const [start, end] = await Promise.all([
        api.offsets(topic, [partition], EARLIEST_OFFSET),
        api.offsets(topic, [partition], LATEST_OFFSET),
      ]);
      throw HttpError.kafka(
        code,
        `offset ${query.offset} is outside ${topic}-${partition}, which holds [${start.get(partition)}, ${end.get(partition)})`,
      );
    }
    throw HttpError.kafka(code, `reading ${topic}-${partition}`);
  }
  return (await recordsOf(topic, partition, fetched.records, query.offset, query.max_bytes)).records;
}

export const KAFKA_JSON_TYPES = /^application\/vnd\.kafka(?:\.(json|binary))?\.v2\+json$/;

/**
 * Accepts the REST Proxy content types as JSON; `application/vnd.kafka.binary.v2+json` means
 * `"format": "binary"` unless the body says otherwise.
 */
function acceptKafkaContentTypes(app: FastifyInstance, limits: JsonLimits): void {
  const parseJson = boundedJsonParser(app, limits);
  app.addContentTypeParser(
    KAFKA_JSON_TYPES,
    { parseAs: "string" },
    async (request: FastifyRequest, body: string | Buffer) => {
      const parsed = await parseJson(request, body as string);
      const type = (request.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
      const binary = KAFKA_JSON_TYPES.exec(type)?.[1] === "binary";
      if (binary && parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) {
        const object = parsed as { format?: unknown };
        if (object.format === undefined) object.format = "binary";
      }
      return parsed;
    },
  );
}

export const recordRoutes: FastifyPluginAsync<{ server: HttpServer }> = async (app, { server }) => {
  acceptKafkaContentTypes(app, server.jsonLimits);

  app.post<{ Params: { topic: string }; Body: ProduceBody }>(
    "/topics/:topic",
    {
      schema: {
        params: TOPIC_PARAMS,
        body: PRODUCE_BODY,
        response: { 200: PRODUCE_RESPONSE, ...ERROR_RESPONSES },
      },
    },
    (request) => produce(server, request, request.params.topic, request.body),
  );

  app.get<{ Params: { topic: string; partition: number }; Querystring: ReadQuery }>(
    "/topics/:topic/partitions/:partition/records",
    {
      schema: {
        params: {
          type: "object",
          required: ["topic", "partition"],
          additionalProperties: false,
          properties: { topic: TOPIC_NAME, partition: PARTITION },
        },
        querystring: {
          type: "object",
          required: ["offset"],
          additionalProperties: false,
          properties: {
            offset: OFFSET,
            max_bytes: { type: "integer", minimum: 1, maximum: MAX_READ_BYTES, default: DEFAULT_READ_BYTES },
            timeout: { type: "integer", minimum: 0, maximum: MAX_READ_TIMEOUT_MS, default: 0 },
          },
        },
        response: { 200: { type: "array", items: RECORD_SCHEMA }, ...ERROR_RESPONSES },
      },
    },
    (request) => read(server, request, request.params.topic, request.params.partition, request.query),
  );
};
