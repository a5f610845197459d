/**
 * The message browser's routes (issue 16, decision 0042):
 *
 *   GET  /topics/{topic}/messages?partition=&start=&offset=&timestamp=&limit=&key=&header=
 *        &header_value=&json_path=&json_value=&match=&cursor=&max_scan=
 *        A page of records of one partition or all (merged by timestamp), from the beginning, the
 *        end (the last `limit` records of each partition, the newest `limit` matches of them
 *        shown), an offset or a timestamp (ListOffsets by time), filtered by key, header and a
 *        JSON path in the value (record-filter.ts), with a cursor to continue and how far the
 *        bounded scan got (message-scan.ts). `cursor` ("p:offset,p:offset", from the previous
 *        page) replaces the start; a partition it does not name starts at its beginning.
 *   POST /topics/{topic}/partitions/{p}/records/{offset}/republish  {"topic", "partition"?}
 *        Produces the record's exact key, value and header bytes to another topic (acks=all, a new
 *        timestamp), to `partition` or as the produce route picks one (murmur2 of the key, round
 *        robin for a null key): `{topic, partition, offset}`.
 *
 * A record is shown as records.ts shows it (key and value as JSON when their bytes are JSON text,
 * else base64 with format "binary"), plus for binary bytes their hex and, when they are UTF-8,
 * their text; a header value is its UTF-8 text (encoding "utf8") or else base64.
 */
import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import { partitionForKey } from "../../protocol/murmur2.js";
import { encodeRecordBatch } from "../../protocol/record-batch.js";
import { ERROR_RESPONSES, HttpError } from "./errors.js";
import { JsonPathError } from "./json-path.js";
import { EARLIEST_OFFSET, type KafkaApi, LATEST_OFFSET } from "./kafka-api.js";
import {
  type Lane,
  lanePosition,
  type Match,
  newLane,
  PAGE_BYTES_MAX,
  recordBytes,
  SCAN_RECORDS_MAX,
  type ScanResult,
  scanLanes,
} from "./message-scan.js";
import { compileFilter, type MatchMode } from "./record-filter.js";
import { renderBytes } from "./records.js";
import { OFFSET, PARTITION, TOPIC_NAME, TOPIC_PARAMS } from "./schemas.js";
import type { HttpServer } from "./server.js";

/** Records a page shows by default and at most. */
export const PAGE_LIMIT_DEFAULT = 100;
export const PAGE_LIMIT_MAX = 500;
/** The longest filter text and cursor accepted. */
const FILTER_MAX_CHARS = 1024;
const CURSOR_MAX_CHARS = 16 * 1024;

type Start = "beginning" | "end" | "offset" | "timestamp";

interface MessagesQuery {
  partition: string;
  start: Start;
  offset?: number;
  timestamp?: number;
  limit: number;
  key?: string;
  header?: string;
  header_value?: string;
  json_path?: string;
  json_value?: string;
  match: MatchMode;
  cursor?: string;
  max_scan: number;
}

const FILTER_TEXT = { type: "string", minLength: 1, maxLength: FILTER_MAX_CHARS } as const;

const MESSAGES_QUERY = {
  type: "object",
  additionalProperties: false,
  properties: {
    partition: { type: "string", pattern: "^(all|0|[1-9][0-9]{0,9})$", default: "all" },
    start: { type: "string", enum: ["beginning", "end", "offset", "timestamp"], default: "end" },
    offset: OFFSET,
    timestamp: { type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    limit: { type: "integer", minimum: 1, maximum: PAGE_LIMIT_MAX, default: PAGE_LIMIT_DEFAULT },
    key: { type: "string", maxLength: FILTER_MAX_CHARS },
    header: FILTER_TEXT,
    header_value: { type: "string", maxLength: FILTER_MAX_CHARS },
    json_path: FILTER_TEXT,
    json_value: { type: "string", maxLength: FILTER_MAX_CHARS },
    match: { type: "string", enum: ["contains", "exact"], default: "contains" },
    cursor: {
      type: "string",
      maxLength: CURSOR_MAX_CHARS,
      pattern: "^[0-9]{1,10}:[0-9]{1,16}(,[0-9]{1,10}:[0-9]{1,16})*$",
    },
    max_scan: { type: "integer", minimum: 1, maximum: SCAN_RECORDS_MAX, default: SCAN_RECORDS_MAX },
  },
} as const;

const NULLABLE_STRING = { type: ["string", "null"] } as const;

export const BROWSE_RECORD_SCHEMA = {
  type: "object",
  properties: {
    partition: { type: "integer" },
    offset: { type: "integer" },
    timestamp: { type: "integer" },
    key: {},
    key_format: { type: "string", enum: ["json", "binary"] },
    key_hex: NULLABLE_STRING,
    key_text: NULLABLE_STRING,
    value: {},
    value_format: { type: "string", enum: ["json", "binary"] },
    value_hex: NULLABLE_STRING,
    value_text: NULLABLE_STRING,
    headers: {
      type: "array",
      items: {
        type: "object",
        properties: {
          key: { type: "string" },
          value: NULLABLE_STRING,
          encoding: { type: "string", enum: ["utf8", "base64"] },
        },
      },
    },
    size: { type: "integer" },
  },
} as const;

const MESSAGES_RESPONSE = {
  type: "object",
  required: ["topic", "records", "cursor", "positions", "scanned", "stopped", "done"],
  properties: {
    topic: { type: "string" },
    records: { type: "array", items: BROWSE_RECORD_SCHEMA },
    cursor: { type: "string" },
    positions: {
      type: "array",
      items: {
        type: "object",
        properties: {
          partition: { type: "integer" },
          next_offset: { type: "integer" },
          end_offset: { type: "integer" },
        },
      },
    },
    scanned: { type: "integer" },
    scanned_bytes: { type: "integer" },
    elapsed_ms: { type: "integer" },
    stopped: {
      type: "string",
      enum: ["limit", "end", "page_bytes", "scan_limit", "bytes_limit", "time_limit"],
    },
    done: { type: "boolean" },
  },
} as const;

const utf8 = new TextDecoder("utf-8", { fatal: true });

function utf8Text(bytes: Buffer): string | null {
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}

/** A matching record as the browser shows it. */
export function browseRecord(r: Match) {
  const key = renderBytes(r.key);
  const value = renderBytes(r.value);
  const binary = (bytes: Buffer | null, format: string) =>
    format === "binary" && bytes !== null
      ? { hex: bytes.toString("hex"), text: utf8Text(bytes) }
      : { hex: null, text: null };
  const keyExtra = binary(r.key, key.format);
  const valueExtra = binary(r.value, value.format);
  return {
    partition: r.partition,
    offset: r.offset,
    timestamp: r.timestamp,
    key: key.data,
    key_format: key.format,
    key_hex: keyExtra.hex,
    key_text: keyExtra.text,
    value: value.data,
    value_format: value.format,
    value_hex: valueExtra.hex,
    value_text: valueExtra.text,
    headers: r.headers.map((h) => {
      const text = h.value === null ? null : utf8Text(h.value);
      if (h.value === null || text !== null) return { key: h.key, value: text, encoding: "utf8" };
      return { key: h.key, value: h.value.toString("base64"), encoding: "base64" };
    }),
    size: recordBytes(r),
  };
}

/** "0:12,1:40" as partition -> offset. */
export function parseCursor(cursor: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const part of cursor.split(",")) {
    const [p, o] = part.split(":").map(Number);
    if (!Number.isSafeInteger(o)) throw HttpError.http("BAD_REQUEST", `cursor offset ${o} is too large`);
    out.set(p, o);
  }
  return out;
}

function filterOf(q: MessagesQuery) {
  if (q.header_value !== undefined && q.header === undefined)
    throw HttpError.http("BAD_REQUEST", "header_value needs header (the header's name)");
  if (q.json_value !== undefined && q.json_path === undefined)
    throw HttpError.http("BAD_REQUEST", "json_value needs json_path");
  try {
    return compileFilter({
      key: q.key,
      header: q.header,
      headerValue: q.header_value,
      jsonPath: q.json_path,
      jsonValue: q.json_value,
      match: q.match,
    });
  } catch (err) {
    if (err instanceof JsonPathError) throw HttpError.http("BAD_REQUEST", err.message);
    throw err;
  }
}

/** The partitions the query names: all of the topic's, or the one (404 when the topic has no such). */
async function partitionsOf(api: KafkaApi, topic: string, partition: string): Promise<number[]> {
  const all = (await api.topic(topic, false)).partitions.map((p) => p.partition);
  if (partition === "all") return all;
  const p = Number(partition);
  if (!all.includes(p))
    throw HttpError.kafka("UNKNOWN_TOPIC_OR_PARTITION", `topic ${topic} has no partition ${p}`);
  return [p];
}

/** Each partition's lane: from the cursor or the start, up to its high watermark now. */
async function lanesOf(
  api: KafkaApi,
  topic: string,
  partitions: number[],
  q: MessagesQuery,
): Promise<Lane[]> {
  const [starts, ends] = await Promise.all([
    api.offsets(topic, partitions, EARLIEST_OFFSET),
    api.offsets(topic, partitions, LATEST_OFFSET),
  ]);
  const cursor = q.cursor === undefined ? null : parseCursor(q.cursor);
  let byTime: Map<number, number> | null = null;
  if (cursor === null && q.start === "timestamp") {
    if (q.timestamp === undefined) throw HttpError.http("BAD_REQUEST", "start=timestamp needs timestamp");
    byTime = await api.offsets(topic, partitions, q.timestamp);
  }
  if (cursor === null && q.start === "offset" && q.offset === undefined)
    throw HttpError.http("BAD_REQUEST", "start=offset needs offset");
  return partitions.map((p) => {
    const start = starts.get(p) ?? 0;
    const end = ends.get(p) ?? 0;
    let from = start;
    if (cursor !== null) from = cursor.get(p) ?? start;
    else if (q.start === "end") from = end - q.limit;
    else if (q.start === "offset") from = q.offset ?? start;
    else if (byTime !== null) from = (byTime.get(p) ?? -1) < 0 ? end : (byTime.get(p) ?? end);
    return newLane(p, Math.max(start, from), end);
  });
}

/** start=end: every match of the lanes' windows, then the newest `limit` that fit a page. */
async function newest(
  api: KafkaApi,
  topic: string,
  lanes: Lane[],
  q: MessagesQuery,
  filter: ReturnType<typeof filterOf>,
) {
  const result = await scanLanes(api, topic, lanes, {
    filter,
    limit: Number.POSITIVE_INFINITY,
    maxScan: q.max_scan,
    pageBytes: Number.POSITIVE_INFINITY,
  });
  let from = Math.max(0, result.records.length - q.limit);
  let bytes = 0;
  for (let i = result.records.length - 1; i >= from; i--) {
    bytes += recordBytes(result.records[i]);
    if (bytes > PAGE_BYTES_MAX && i < result.records.length - 1) {
      from = i + 1;
      break;
    }
  }
  return { ...result, records: result.records.slice(from) };
}

async function browse(server: HttpServer, request: FastifyRequest, topic: string, q: MessagesQuery) {
  const startedMs = Date.now();
  const api = server.api(request);
  const filter = filterOf(q);
  const partitions = await partitionsOf(api, topic, q.partition);
  const lanes = await lanesOf(api, topic, partitions, q);
  const result: ScanResult =
    q.cursor === undefined && q.start === "end"
      ? await newest(api, topic, lanes, q, filter)
      : await scanLanes(api, topic, lanes, {
          filter,
          limit: q.limit,
          maxScan: q.max_scan,
          pageBytes: PAGE_BYTES_MAX,
        });
  const positions = lanes.map((l) => ({
    partition: l.partition,
    next_offset: lanePosition(l),
    end_offset: l.end,
  }));
  return {
    topic,
    records: result.records.map(browseRecord),
    cursor: positions.map((p) => `${p.partition}:${p.next_offset}`).join(","),
    positions,
    scanned: result.scanned,
    scanned_bytes: result.scannedBytes,
    elapsed_ms: Date.now() - startedMs,
    stopped: result.stopped,
    done: positions.every((p) => p.next_offset >= p.end_offset),
  };
}

interface RepublishParams {
  topic: string;
  partition: number;
  offset: number;
}

interface RepublishBody {
  topic: string;
  partition?: number;
}

async function republish(
  server: HttpServer,
  request: FastifyRequest,
  params: RepublishParams,
  body: RepublishBody,
) {
  const api = server.api(request);
  api.requireTopic("WRITE", body.topic);
  const lane = newLane(params.partition, params.offset, params.offset + 1);
  await partitionsOf(api, params.topic, String(params.partition));
  const found = await scanLanes(api, params.topic, [lane], {
    filter: null,
    limit: 1,
    maxScan: 1,
    pageBytes: 1,
  });
  const record = found.records[0];
  if (record?.offset !== params.offset)
    throw HttpError.http(
      "NOT_FOUND",
      `${params.topic}-${params.partition} has no record at offset ${params.offset}`,
    );
  const target = await api.topic(body.topic, false);
  const count = target.partitions.length;
  const partition =
    body.partition ??
    (record.key !== null ? partitionForKey(record.key, count) : server.nextRoundRobin(body.topic, count));
  if (partition >= count)
    throw HttpError.kafka("UNKNOWN_TOPIC_OR_PARTITION", `topic ${body.topic} has no partition ${partition}`);
  const batch = encodeRecordBatch([{ key: record.key, value: record.value, headers: record.headers }]);
  const [result] = await api.produce(body.topic, [{ partition, records: batch }]);
  if (result?.errorCode !== 0)
    throw HttpError.kafka(result?.errorCode ?? "UNKNOWN_SERVER_ERROR", result?.errorMessage);
  return { topic: body.topic, partition, offset: result.baseOffset };
}

export const messageRoutes: FastifyPluginAsync<{ server: HttpServer }> = async (app, { server }) => {
  app.get<{ Params: { topic: string }; Querystring: MessagesQuery }>(
    "/topics/:topic/messages",
    {
      schema: {
        params: TOPIC_PARAMS,
        querystring: MESSAGES_QUERY,
        response: { 200: MESSAGES_RESPONSE, ...ERROR_RESPONSES },
      },
    },
    (request) => browse(server, request, request.params.topic, request.query),
  );

  app.post<{ Params: RepublishParams; Body: RepublishBody }>(
    "/topics/:topic/partitions/:partition/records/:offset/republish",
    {
      schema: {
        params: {
          type: "object",
          required: ["topic", "partition", "offset"],
          additionalProperties: false,
          properties: { topic: TOPIC_NAME, partition: PARTITION, offset: OFFSET },
        },
        body: {
          type: "object",
          required: ["topic"],
          additionalProperties: false,
          properties: { topic: TOPIC_NAME, partition: PARTITION },
        },
        response: {
          200: {
            type: "object",
            required: ["topic", "partition", "offset"],
            properties: {
              topic: { type: "string" },
              partition: { type: "integer" },
              offset: { type: "integer" },
            },
          },
          ...ERROR_RESPONSES,
        },
      },
    },
    (request) => republish(server, request, request.params, request.body),
  );
};
