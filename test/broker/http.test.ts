/**
 * The HTTP port: every HTTP/JSON route and its errors (through fastify's inject), produce then
 * read back through the same handlers Kafka clients reach, Kafka frames over the /kafka WebSocket
 * answered byte for byte as over TCP (in order, with the same backpressure), and the JSON live
 * tail over a real `ws` client: records appended after it starts, its error close codes, and a
 * slow reader that stops the tail with its memory bounded.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { MAX_READ_TIMEOUT_MS } from "../../broker/http/records.js";
import type { HttpServer } from "../../broker/http/server.js";
import {
  TAIL_MAX_BUFFERED_BYTES,
  TAIL_RECHECK_MS,
  TAIL_RESUME_BYTES,
  type TailStats,
} from "../../broker/http/tail.js";
import type { Message } from "../../protocol/codec.js";
import { partitionForKey } from "../../protocol/murmur2.js";
import { encodeRecordBatch } from "../../protocol/record-batch.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { TestClient } from "../helpers/kafka-client.js";
import { failOnProcessErrors } from "../helpers/process-errors.js";
import { decodeResponse, RawConn } from "../helpers/raw-conn.js";
import { batchOf } from "../helpers/records.js";
import { fetchRequest, produceRequest } from "../helpers/requests.js";
import { waitFor, within } from "../helpers/wait.js";

const PRODUCE = 0;
const FETCH = 1;
const METADATA = 3;
const DESCRIBE_CONFIGS = 32;
const API_VERSIONS = 18;

// ------------------------------------------------------------------------------------------------
// Process-level failures: any uncaught exception or unhandled rejection fails the suite.

failOnProcessErrors();

// ------------------------------------------------------------------------------------------------
// Helpers

function httpOf(tb: TestBroker): HttpServer {
  const http = tb.broker.http;
  if (!http) throw new Error("the broker has no HTTP server");
  return http;
}

interface Injected {
  statusCode: number;
  headers: Record<string, unknown>;
  body: string;
  json: () => unknown;
}

function inject(
  tb: TestBroker,
  method: "GET" | "POST" | "DELETE",
  url: string,
  payload?: unknown,
  headers: Record<string, string> = {},
): Promise<Injected> {
  const body =
    payload === undefined ? undefined : typeof payload === "string" ? payload : JSON.stringify(payload);
  const contentType = payload === undefined ? {} : { "content-type": "application/json" };
  return httpOf(tb).app.inject({ method, url, payload: body, headers: { ...contentType, ...headers } });
}

/** Expects an error answer: the status and `{"error_code", "message"}`. */
function expectError(res: Injected, status: number, code: string): string {
  expect(res.statusCode, res.body).toBe(status);
  const body = res.json() as { error_code: string; message: string };
  expect(body.error_code).toBe(code);
  expect(typeof body.message).toBe("string");
  expect(body.message.length).toBeGreaterThan(0);
  return body.message;
}

async function createTopic(tb: TestBroker, name: string, partitions = 1): Promise<void> {
  const res = await inject(tb, "POST", "/topics", { name, partitions });
  expect(res.statusCode, res.body).toBe(201);
}

interface Offset {
  partition?: number;
  offset?: number;
  error_code?: string;
  message?: string;
}

async function produceJson(tb: TestBroker, topic: string, body: unknown): Promise<Offset[]> {
  const res = await inject(tb, "POST", `/topics/${topic}`, body);
  expect(res.statusCode, res.body).toBe(200);
  return (res.json() as { offsets: Offset[] }).offsets;
}

interface JsonRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: unknown;
  key_format: string;
  value: unknown;
  value_format: string;
  headers: { key: string; value: string | null }[];
}

async function readRecords(
  tb: TestBroker,
  topic: string,
  partition: number,
  query: string,
): Promise<JsonRecord[]> {
  const res = await inject(tb, "GET", `/topics/${topic}/partitions/${partition}/records?${query}`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as JsonRecord[];
}

const b64 = (s: string | Buffer) => (typeof s === "string" ? Buffer.from(s) : s).toString("base64");

function metadataRequest(topics: string[]): Message {
  return {
    topics: topics.map((name) => ({ name })),
    allowAutoTopicCreation: false,
    includeTopicAuthorizedOperations: false,
  };
}

/** A real WebSocket client that keeps what it receives in order and how it was closed. */
class WsClient {
  readonly messages: { data: Buffer; binary: boolean }[] = [];
  closed: { code: number; reason: string } | null = null;
  private waiters: (() => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data: Buffer, binary: boolean) => {
      this.messages.push({ data, binary });
      this.notify();
    });
    ws.on("close", (code: number, reason: Buffer) => {
      this.closed = { code, reason: reason.toString() };
      this.notify();
    });
    ws.on("error", () => {});
  }

  static open(url: string): Promise<WsClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      const client = new WsClient(ws);
      ws.once("open", () => resolve(client));
      ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once("error", reject);
    });
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private change(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async next(timeoutMs = 5000): Promise<{ data: Buffer; binary: boolean }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.messages.shift();
      if (m) return m;
      if (this.closed) throw new Error(`closed ${this.closed.code} ${this.closed.reason}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no message within ${timeoutMs} ms`);
      await this.change(left);
    }
  }

  /** The next message, parsed as a tail's JSON record. */
  async nextRecord(timeoutMs = 5000): Promise<JsonRecord> {
    const m = await this.next(timeoutMs);
    expect(m.binary).toBe(false);
    return JSON.parse(m.data.toString("utf8")) as JsonRecord;
  }

  async waitClosed(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`not closed within ${timeoutMs} ms`);
      await this.change(left);
    }
    return this.closed;
  }

  send(data: Buffer | string): void {
    this.ws.send(data);
  }

  close(): void {
    this.ws.terminate();
  }
}

function wsUrl(tb: TestBroker, path: string): string {
  return `ws://127.0.0.1:${tb.broker.httpPort}${path}`;
}

/** Waits until the broker runs a tail of `topic` whose start positions are known. */
async function tailStarted(tb: TestBroker, topic: string): Promise<TailStats> {
  const deadline = Date.now() + 5000;
  for (;;) {
    for (const t of httpOf(tb).tails) {
      const stats = t.stats();
      if (stats.topic === topic && Object.keys(stats.positions).length > 0) return stats;
    }
    if (Date.now() > deadline) throw new Error(`no tail of ${topic} started`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How many waiting readers (fetches, tails) listen for appends to the topic's partition 0. */
function appendListeners(tb: TestBroker, topic: string): number {
  const partition = tb.broker.topics.partition(topic, 0);
  return partition ? (partition as unknown as { listeners: Set<unknown> }).listeners.size : 0;
}

// ------------------------------------------------------------------------------------------------

describe("HTTP/JSON", () => {
  let tb: TestBroker;
  beforeAll(async () => {
    tb = await startTestBroker({ "auto.create.topics.enable": false, "log.flush.policy": "os" });
  });
  afterAll(async () => {
    await tb?.stop();
  });

  describe("health, readiness, brokers", () => {
    it("listens on its own port and answers /health and /ready", async () => {
      expect(tb.broker.httpPort).toBeGreaterThan(0);
      expect(tb.broker.httpPort).not.toBe(tb.port);
      // Over the network, not only inject.
      const health = await fetch(`http://127.0.0.1:${tb.broker.httpPort}/health`);
      expect(health.status).toBe(200);
      const body = (await health.json()) as { status: string; uptime_ms: number };
      expect(body.status).toBe("ok");
      expect(body.uptime_ms).toBeGreaterThanOrEqual(0);

      const ready = await inject(tb, "GET", "/ready");
      expect(ready.statusCode).toBe(200);
      expect(ready.json()).toEqual({ status: "ready", kafka_port: tb.port, http_port: tb.broker.httpPort });
    });

    it("lists the brokers through Metadata", async () => {
      const res = await inject(tb, "GET", "/brokers");
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ brokers: [1] });
    });

    it("answers unknown routes, methods and query parameters with coded JSON errors", async () => {
      expectError(await inject(tb, "GET", "/nope"), 404, "NOT_FOUND");
      // A wrong method on a path that exists: 405 with Allow (test/broker/http/openapi.test.ts).
      const wrongMethod = await inject(tb, "POST", "/health", {});
      expect(wrongMethod.statusCode).toBe(405);
      expect(wrongMethod.headers.allow).toBe("GET, HEAD");
      expectError(await inject(tb, "GET", "/health?verbose=1"), 400, "BAD_REQUEST");
      expectError(await inject(tb, "GET", "/topics?limit=1"), 400, "BAD_REQUEST");
    });

    it("is not ready, and refuses requests, once the broker shuts down", async () => {
      const other = await startTestBroker();
      const http = httpOf(other);
      const stopping = other.stop();
      expect(http.notReadyBecause()).toBe("the broker is shutting down");
      const res = await http.app.inject({ method: "GET", url: "/ready" });
      expect(res.statusCode).toBe(503);
      expect((res.json() as { error_code: string }).error_code).toBe("NOT_READY");
      await stopping;
    });
  });

  describe("topics", () => {
    it("creates, lists, describes and deletes a topic", async () => {
      const created = await inject(tb, "POST", "/topics", {
        name: "http-topic",
        partitions: 3,
        replication_factor: 1,
        configs: { "retention.ms": "60000", "cleanup.policy": "delete" },
      });
      expect(created.statusCode, created.body).toBe(201);
      expect(created.headers.location).toBe("/topics/http-topic");
      const c = created.json() as Record<string, unknown>;
      expect(c.name).toBe("http-topic");
      expect(c.topic_id).toMatch(/^[0-9a-f]{32}$/);
      expect(c.partitions_count).toBe(3);
      expect(c.replication_factor).toBe(1);
      expect((c.configs as Record<string, string>)["retention.ms"]).toBe("60000");

      const list = await inject(tb, "GET", "/topics");
      expect(list.statusCode).toBe(200);
      const names = list.json() as string[];
      expect(names).toContain("http-topic");
      expect([...names].sort()).toEqual(names);

      await produceJson(tb, "http-topic", {
        records: [
          { value: 1, partition: 1 },
          { value: 2, partition: 1 },
        ],
      });
      const described = await inject(tb, "GET", "/topics/http-topic");
      expect(described.statusCode, described.body).toBe(200);
      const d = described.json() as {
        name: string;
        topic_id: string;
        internal: boolean;
        replication_factor: number;
        configs: Record<string, string | null>;
        partitions: Record<string, unknown>[];
      };
      expect(d.name).toBe("http-topic");
      expect(d.topic_id).toBe(c.topic_id);
      expect(d.internal).toBe(false);
      expect(d.replication_factor).toBe(1);
      expect(d.configs["retention.ms"]).toBe("60000");
      expect(d.configs["segment.bytes"]).toBeDefined();
      expect(d.partitions).toHaveLength(3);
      expect(d.partitions[0]).toEqual({
        partition: 0,
        leader: 1,
        leader_epoch: 0,
        replicas: [{ broker: 1, leader: true, in_sync: true }],
        log_start_offset: 0,
        log_end_offset: 0,
        high_watermark: 0,
        size_bytes: 0,
      });
      expect(d.partitions[1]).toMatchObject({ partition: 1, log_end_offset: 2, high_watermark: 2 });
      expect(d.partitions[1].size_bytes as number).toBeGreaterThan(0);

      const deleted = await inject(tb, "DELETE", "/topics/http-topic");
      expect(deleted.statusCode).toBe(204);
      expect(deleted.body).toBe("");
      expectError(await inject(tb, "GET", "/topics/http-topic"), 404, "UNKNOWN_TOPIC_OR_PARTITION");
      expectError(await inject(tb, "DELETE", "/topics/http-topic"), 404, "UNKNOWN_TOPIC_OR_PARTITION");
    });

    it("takes the broker's defaults for absent partitions and replication factor", async () => {
      const res = await inject(tb, "POST", "/topics", { name: "http-defaults" });
      expect(res.statusCode, res.body).toBe(201);
      expect(res.json()).toMatchObject({ partitions_count: 1, replication_factor: 1 });
    });

    it("answers refused creations with the handler's Kafka error", async () => {
      await createTopic(tb, "http-twice");
      const twice = expectError(
        await inject(tb, "POST", "/topics", { name: "http-twice" }),
        409,
        "TOPIC_ALREADY_EXISTS",
      );
      expect(twice).toContain("http-twice");
      expectError(await inject(tb, "POST", "/topics", { name: "bad name!" }), 422, "INVALID_TOPIC_EXCEPTION");
      expectError(
        await inject(tb, "POST", "/topics", { name: "http-rf", replication_factor: 3 }),
        422,
        "INVALID_REPLICATION_FACTOR",
      );
      const config = expectError(
        await inject(tb, "POST", "/topics", { name: "http-cfg", configs: { "retention.ms": "soon" } }),
        422,
        "INVALID_CONFIG",
      );
      expect(config).toContain("retention.ms");
      expectError(
        await inject(tb, "POST", "/topics", { name: "http-cfg", configs: { "no.such.config": "1" } }),
        422,
        "INVALID_CONFIG",
      );
      // Nothing of the refused ones was created.
      const names = (await inject(tb, "GET", "/topics")).json() as string[];
      expect(names).not.toContain("http-rf");
      expect(names).not.toContain("http-cfg");
    });

    it("refuses bodies its schema does not allow", async () => {
      expectError(await inject(tb, "POST", "/topics", { name: "x", partitions: 0 }), 400, "BAD_REQUEST");
      expectError(await inject(tb, "POST", "/topics", { name: "x", partitons: 2 }), 400, "BAD_REQUEST");
      expectError(await inject(tb, "POST", "/topics", { partitions: 2 }), 400, "BAD_REQUEST");
      expectError(await inject(tb, "POST", "/topics", { name: "" }), 400, "BAD_REQUEST");
      expectError(await inject(tb, "POST", "/topics", "{not json"), 400, "BAD_REQUEST");
      expectError(
        await inject(tb, "POST", "/topics", "<topic/>", { "content-type": "application/xml" }),
        415,
        "UNSUPPORTED_MEDIA_TYPE",
      );
    });

    it("does not create a topic by describing it", async () => {
      expectError(await inject(tb, "GET", "/topics/never-made"), 404, "UNKNOWN_TOPIC_OR_PARTITION");
      expect((await inject(tb, "GET", "/topics")).json()).not.toContain("never-made");
    });
  });

  describe("produce and read", () => {
    it("produces JSON records, partitions keys with murmur2, and reads them back", async () => {
      await createTopic(tb, "orders", 3);
      const offsets = await produceJson(tb, "orders", {
        records: [
          { key: "user-1", value: { n: 1 } },
          { key: "user-1", value: { n: 2 }, headers: [{ key: "trace", value: b64("abc") }] },
          { key: { id: 7 }, value: "text" },
          { value: [1, 2, 3], partition: 2 },
        ],
      });
      // JSON keys are stored as their JSON text: the Java client would pick this partition.
      const userPartition = partitionForKey(Buffer.from('"user-1"'), 3);
      const objectPartition = partitionForKey(Buffer.from('{"id":7}'), 3);
      expect(offsets).toHaveLength(4);
      expect(offsets[0]).toEqual({ partition: userPartition, offset: expect.any(Number) });
      expect(offsets[1]).toEqual({ partition: userPartition, offset: (offsets[0].offset as number) + 1 });
      expect(offsets[2].partition).toBe(objectPartition);
      expect(offsets[3]).toMatchObject({ partition: 2 });

      const records = await readRecords(tb, "orders", userPartition, "offset=0");
      const mine = records.filter((r) => r.key === "user-1");
      expect(mine).toHaveLength(2);
      expect(mine[0]).toEqual({
        topic: "orders",
        partition: userPartition,
        offset: offsets[0].offset,
        timestamp: expect.any(Number),
        key: "user-1",
        key_format: "json",
        value: { n: 1 },
        value_format: "json",
        headers: [],
      });
      expect(Math.abs(mine[0].timestamp - Date.now())).toBeLessThan(60_000);
      expect(mine[1].value).toEqual({ n: 2 });
      expect(mine[1].headers).toEqual([{ key: "trace", value: b64("abc") }]);

      const objectRecords = await readRecords(tb, "orders", objectPartition, "offset=0");
      expect(objectRecords.find((r) => r.offset === offsets[2].offset)).toMatchObject({
        key: { id: 7 },
        value: "text",
      });
    });

    it("sends null-key records round robin", async () => {
      await createTopic(tb, "round-robin", 3);
      const offsets = await produceJson(tb, "round-robin", {
        records: [{ value: 1 }, { value: 2 }, { value: 3 }, { value: 4 }, { value: 5 }, { value: 6 }],
      });
      const partitions = offsets.map((o) => o.partition);
      expect(new Set(partitions.slice(0, 3))).toEqual(new Set([0, 1, 2]));
      expect(partitions.slice(3)).toEqual(partitions.slice(0, 3));
    });

    it("produces binary (base64) records, by body format or by content type", async () => {
      await createTopic(tb, "binary");
      const raw = Buffer.from([0xff, 0x00, 0x80]);
      await produceJson(tb, "binary", {
        format: "binary",
        records: [
          { key: b64("k"), value: b64(raw) },
          { key: null, value: b64('{"a":1}') },
          { value: b64("null") },
          { value: null },
          { value: b64("") },
        ],
      });
      const viaType = await inject(
        tb,
        "POST",
        "/topics/binary",
        JSON.stringify({ records: [{ value: b64(raw) }] }),
        {
          "content-type": "application/vnd.kafka.binary.v2+json",
        },
      );
      expect(viaType.statusCode, viaType.body).toBe(200);
      const viaJsonType = await inject(
        tb,
        "POST",
        "/topics/binary",
        JSON.stringify({ records: [{ value: "j" }] }),
        {
          "content-type": "application/vnd.kafka.json.v2+json",
        },
      );
      expect(viaJsonType.statusCode, viaJsonType.body).toBe(200);

      const records = await readRecords(tb, "binary", 0, "offset=0");
      const shown = records.map((r) => [r.key, r.key_format, r.value, r.value_format]);
      expect(shown).toEqual([
        // "k" is not JSON text: base64.
        [b64("k"), "binary", b64(raw), "binary"],
        // Bytes that are JSON text are shown parsed, however they were produced.
        [null, "json", { a: 1 }, "json"],
        // The text `null` is shown as bytes, so that a null value always means a Kafka null.
        [null, "json", b64("null"), "binary"],
        [null, "json", null, "json"],
        [null, "json", "", "binary"],
        [null, "json", b64(raw), "binary"],
        [null, "json", "j", "json"],
      ]);
    });

    it("reads what Kafka clients produced, and Kafka clients read what HTTP produced", async () => {
      await createTopic(tb, "both-doors");
      const client = await TestClient.connect(tb.port);
      try {
        const res = await client.request(PRODUCE, 9, produceRequest("both-doors", batchOf(3, "tcp"), -1));
        expect(res.responses[0].partitionResponses[0].errorCode).toBe(0);
        const records = await readRecords(tb, "both-doors", 0, "offset=0");
        expect(records.map((r) => [r.offset, Buffer.from(r.value as string, "base64").toString()])).toEqual([
          [0, "tcp-0"],
          [1, "tcp-1"],
          [2, "tcp-2"],
        ]);
        expect(records[0].key_format).toBe("binary");
        expect(records[1].timestamp).toBe(1_700_000_000_001);

        await produceJson(tb, "both-doors", { records: [{ key: "h", value: { from: "http" } }] });
        const fetched = await client.request(FETCH, 12, fetchRequest("both-doors", 3));
        const p = fetched.responses[0].partitions[0];
        expect(p.errorCode).toBe(0);
        expect(p.highWatermark).toBe(4);
        const { decodeBatches } = await import("../../protocol/record-batch.js");
        const [r] = decodeBatches(p.records as Buffer);
        expect(r.offset).toBe(3);
        expect(r.key?.toString()).toBe('"h"');
        expect(r.value?.toString()).toBe('{"from":"http"}');
      } finally {
        client.close();
      }
    });

    it("goes through the Kafka API handlers, as listener http", async () => {
      await createTopic(tb, "through-handlers");
      const dispatcher = tb.broker.dispatcher;
      const handle = dispatcher.handle.bind(dispatcher);
      const calls: { apiKey: number; listener: string }[] = [];
      dispatcher.handle = (apiKey, version, request, conn) => {
        calls.push({ apiKey, listener: conn.listener });
        return handle(apiKey, version, request, conn);
      };
      try {
        await produceJson(tb, "through-handlers", { records: [{ value: 1 }] });
        await readRecords(tb, "through-handlers", 0, "offset=0");
        // The produce looks up the topic's max.message.bytes to size its batches.
        expect(calls.map((c) => c.apiKey)).toEqual([METADATA, DESCRIBE_CONFIGS, PRODUCE, FETCH]);
        calls.length = 0;
        const described = await inject(tb, "GET", "/topics/through-handlers");
        expect(described.statusCode).toBe(200);
        // Metadata, ListOffsets (earliest, latest), DescribeLogDirs, DescribeConfigs.
        expect(calls.map((c) => c.apiKey).sort((a, b) => a - b)).toEqual([2, 2, 3, 32, 35]);
        calls.length = 0;
        await inject(tb, "DELETE", "/topics/through-handlers");
        expect(calls.map((c) => c.apiKey)).toEqual([20]);
      } finally {
        dispatcher.handle = handle;
      }
      expect(new Set(calls.map((c) => c.listener))).toEqual(new Set(["http"]));
    });

    it("answers per record: a partition's error is its records' error", async () => {
      await createTopic(tb, "per-record", 2);
      const offsets = await produceJson(tb, "per-record", {
        records: [
          { value: "a", partition: 0 },
          { value: "b", partition: 7 },
          { value: "c", partition: 1 },
        ],
      });
      expect(offsets[0]).toEqual({ partition: 0, offset: 0 });
      expect(offsets[1]).toMatchObject({ partition: 7, error_code: "UNKNOWN_TOPIC_OR_PARTITION" });
      expect(offsets[1].message).toContain("per-record-7");
      expect(offsets[2]).toEqual({ partition: 1, offset: 0 });
    });

    it("writes large produces as several batches with consecutive offsets", async () => {
      await createTopic(tb, "large-produce");
      const value = "x".repeat(100_000);
      const records = Array.from({ length: 30 }, (_, i) => ({ key: i, value }));
      const offsets = await produceJson(tb, "large-produce", { records });
      expect(offsets.map((o) => o.offset)).toEqual(records.map((_, i) => i));
      const read = await readRecords(tb, "large-produce", 0, "offset=0&max_bytes=64000000");
      expect(read.map((r) => r.key)).toEqual(records.map((_, i) => i));
    });

    it("refuses produce bodies its schema does not allow", async () => {
      await createTopic(tb, "produce-schema");
      const bad = [
        {},
        { records: [] },
        { records: [{ value: 1, extra: true }] },
        { records: [{ value: 1, partition: -1 }] },
        { format: "avro", records: [{ value: 1 }] },
        { format: "binary", records: [{ value: "not base64!" }] },
        { format: "binary", records: [{ key: 12, value: null }] },
        { records: [{ value: 1, headers: [{ key: "h", value: "?" }] }] },
        { records: [{ value: 1, headers: [{ value: b64("v") }] }] },
      ];
      for (const body of bad) {
        expectError(await inject(tb, "POST", "/topics/produce-schema", body), 400, "BAD_REQUEST");
      }
      // Nothing was written.
      expect(await readRecords(tb, "produce-schema", 0, "offset=0")).toEqual([]);
    });

    it("refuses a produce to a topic that does not exist (auto-creation off)", async () => {
      expectError(
        await inject(tb, "POST", "/topics/no-such-topic", { records: [{ value: 1 }] }),
        404,
        "UNKNOWN_TOPIC_OR_PARTITION",
      );
    });

    it("reads from an offset inside a batch, and at least one batch whatever max_bytes", async () => {
      await createTopic(tb, "read-offsets");
      await produceJson(tb, "read-offsets", {
        records: Array.from({ length: 10 }, (_, i) => ({ value: i })),
      });
      const fromFour = await readRecords(tb, "read-offsets", 0, "offset=4");
      expect(fromFour.map((r) => r.offset)).toEqual([4, 5, 6, 7, 8, 9]);
      expect(fromFour.map((r) => r.value)).toEqual([4, 5, 6, 7, 8, 9]);
      const tiny = await readRecords(tb, "read-offsets", 0, "offset=0&max_bytes=1");
      expect(tiny.length).toBeGreaterThan(0);
      expect(await readRecords(tb, "read-offsets", 0, "offset=10")).toEqual([]);
    });

    it("waits up to timeout for records at the end of the log", async () => {
      await createTopic(tb, "long-poll");
      // The read waits up to the longest timeout: only the record can answer it before the deadline.
      const pending = readRecords(tb, "long-poll", 0, `offset=0&timeout=${MAX_READ_TIMEOUT_MS}`);
      await waitFor(() => appendListeners(tb, "long-poll") > 0, "the read to wait for an append");
      await produceJson(tb, "long-poll", { records: [{ value: "late" }] });
      const records = await within(pending, "the waiting read to answer once a record arrived");
      expect(records.map((r) => r.value)).toEqual(["late"]);

      const idleStart = Date.now();
      expect(await readRecords(tb, "long-poll", 0, "offset=1&timeout=300")).toEqual([]);
      expect(Date.now() - idleStart).toBeGreaterThanOrEqual(250);
    });

    it("answers read errors with coded JSON", async () => {
      await createTopic(tb, "read-errors");
      await produceJson(tb, "read-errors", { records: [{ value: 1 }, { value: 2 }] });
      const range = expectError(
        await inject(tb, "GET", "/topics/read-errors/partitions/0/records?offset=50"),
        416,
        "OFFSET_OUT_OF_RANGE",
      );
      expect(range).toContain("[0, 2)");
      expectError(
        await inject(tb, "GET", "/topics/read-errors/partitions/3/records?offset=0"),
        404,
        "UNKNOWN_TOPIC_OR_PARTITION",
      );
      expectError(
        await inject(tb, "GET", "/topics/no-such/partitions/0/records?offset=0"),
        404,
        "UNKNOWN_TOPIC_OR_PARTITION",
      );
      for (const query of [
        "",
        "offset=-1",
        "offset=x",
        "offset=0&max_bytes=0",
        "offset=0&timeout=60000",
        "offset=0&x=1",
      ]) {
        expectError(
          await inject(tb, "GET", `/topics/read-errors/partitions/0/records?${query}`),
          400,
          "BAD_REQUEST",
        );
      }
      expectError(
        await inject(tb, "GET", "/topics/read-errors/partitions/p/records?offset=0"),
        400,
        "BAD_REQUEST",
      );
    });
  });
});

// ------------------------------------------------------------------------------------------------

describe("Kafka over WebSocket at /kafka", () => {
  let tb: TestBroker;
  beforeAll(async () => {
    tb = await startTestBroker({ "log.flush.policy": "os" });
  });
  afterAll(async () => {
    await tb?.stop();
  });

  /** The answer to `frame` over TCP, with its length prefix. */
  async function viaTcp(frame: Buffer): Promise<Buffer> {
    const conn = await RawConn.connect(tb.port);
    try {
      await conn.write(frame);
      const answer = await conn.nextFrame();
      const prefix = Buffer.alloc(4);
      prefix.writeInt32BE(answer.length);
      return Buffer.concat([prefix, answer]);
    } finally {
      conn.close();
    }
  }

  /** The answer to `frame` over the WebSocket: one binary message. */
  async function viaWs(frame: Buffer): Promise<Buffer> {
    const client = await WsClient.open(wsUrl(tb, "/kafka"));
    try {
      client.send(frame);
      const m = await client.next();
      expect(m.binary).toBe(true);
      return m.data;
    } finally {
      client.close();
    }
  }

  /** Sends `frame` over TCP and over the WebSocket; returns both answers (with length prefix). */
  async function bothDoors(frame: Buffer): Promise<{ tcp: Buffer; ws: Buffer }> {
    return { tcp: await viaTcp(frame), ws: await viaWs(frame) };
  }

  it("answers ApiVersions, Metadata and Fetch with the same bytes as TCP", async () => {
    const av = await bothDoors(
      TestClient.frame(API_VERSIONS, 3, { clientSoftwareName: "t", clientSoftwareVersion: "1" }, 7),
    );
    expect(av.ws.equals(av.tcp)).toBe(true);
    expect(decodeResponse(av.ws.subarray(4), API_VERSIONS, 3).body.errorCode).toBe(0);
    const av0 = await bothDoors(TestClient.frame(API_VERSIONS, 0, {}, 8));
    expect(av0.ws.equals(av0.tcp)).toBe(true);

    const client = await TestClient.connect(tb.port);
    const produced = await client.request(PRODUCE, 9, produceRequest("ws-same", batchOf(5, "x"), -1));
    expect(produced.responses[0].partitionResponses[0].errorCode).toBe(0);
    client.close();

    const md = await bothDoors(TestClient.frame(METADATA, 12, metadataRequest(["ws-same"]), 9));
    expect(md.ws.equals(md.tcp)).toBe(true);
    expect(decodeResponse(md.ws.subarray(4), METADATA, 12).body.topics[0].name).toBe("ws-same");
    const md1 = await bothDoors(TestClient.frame(METADATA, 1, { topics: null }, 10));
    expect(md1.ws.equals(md1.tcp)).toBe(true);

    for (const version of [4, 12]) {
      const f = await bothDoors(TestClient.frame(FETCH, version, fetchRequest("ws-same", 0), 11));
      expect(f.ws.equals(f.tcp)).toBe(true);
      const p = decodeResponse(f.ws.subarray(4), FETCH, version).body.responses[0].partitions[0];
      expect(p.errorCode).toBe(0);
      expect((p.records as Buffer).length).toBeGreaterThan(0);
    }
  });

  it("answers Produce as TCP does", async () => {
    const batch = batchOf(4, "p");
    // Each door appends to its own new topic, so that both answers say offset 0.
    const answers = [
      await viaTcp(TestClient.frame(PRODUCE, 9, produceRequest("ws-produce-tcp", batch, -1), 21)),
      await viaWs(TestClient.frame(PRODUCE, 9, produceRequest("ws-produce-wss", batch, -1), 21)),
    ];
    const [tcp, ws] = answers.map((a) => decodeResponse(a.subarray(4), PRODUCE, 9));
    expect(ws.correlationId).toBe(21);
    expect(ws.body.responses[0].name).toBe("ws-produce-wss");
    ws.body.responses[0].name = "ws-produce-tcp";
    expect(ws.body).toEqual(tcp.body);
    expect(answers[0].length).toBe(answers[1].length);
    expect(ws.body.responses[0].partitionResponses[0]).toMatchObject({ errorCode: 0, baseOffset: 0 });
  });

  it("answers pipelined requests in order; acks=0 produces keep their place and send nothing", async () => {
    const client = await WsClient.open(wsUrl(tb, "/kafka"));
    const sent: { corr: number; apiKey: number; version: number }[] = [];
    for (let corr = 1; corr <= 60; corr++) {
      const kind = corr % 4;
      if (kind === 0) {
        client.send(
          TestClient.frame(PRODUCE, 9, produceRequest("ws-pipeline", batchOf(2, `a${corr}`), 0), corr),
        );
        continue;
      }
      const [apiKey, version, body] =
        kind === 1
          ? [PRODUCE, 9, produceRequest("ws-pipeline", batchOf(2, `b${corr}`), 1)]
          : kind === 2
            ? [FETCH, 12, fetchRequest("ws-pipeline", 0)]
            : [API_VERSIONS, 3, {}];
      client.send(TestClient.frame(apiKey, version, body, corr));
      sent.push({ corr, apiKey, version });
    }
    let lastBase = -1;
    for (const s of sent) {
      const m = await client.next();
      const { correlationId, body } = decodeResponse(m.data.subarray(4), s.apiKey, s.version);
      expect(correlationId).toBe(s.corr);
      expect(m.data.readInt32BE(0)).toBe(m.data.length - 4);
      if (s.apiKey === PRODUCE) {
        const p = body.responses[0].partitionResponses[0];
        expect(p.errorCode).toBe(0);
        expect(p.baseOffset).toBeGreaterThan(lastBase);
        lastBase = p.baseOffset as number;
      }
    }
    await sleep(100);
    expect(client.messages).toEqual([]);
    // acks=0 appends happened too: 30 produces of 2 records.
    expect(await readHighWatermark(tb, "ws-pipeline")).toBe(60);
    client.close();
  });

  async function readHighWatermark(b: TestBroker, topic: string): Promise<number> {
    const c = await TestClient.connect(b.port);
    try {
      const res = await c.request(FETCH, 12, fetchRequest(topic, 0, { maxBytes: 1 }));
      return res.responses[0].partitions[0].highWatermark as number;
    } finally {
      c.close();
    }
  }

  it("closes on a text message (1003) and on a message that is not one frame (1002), answering what came before", async () => {
    const text = await WsClient.open(wsUrl(tb, "/kafka"));
    text.send(TestClient.frame(API_VERSIONS, 3, {}, 1));
    text.send("hello");
    const answer = await text.next();
    expect(decodeResponse(answer.data.subarray(4), API_VERSIONS, 3).correlationId).toBe(1);
    expect((await text.waitClosed()).code).toBe(1003);

    const frame = TestClient.frame(API_VERSIONS, 3, {}, 2);
    for (const bad of [
      Buffer.concat([frame, Buffer.from([0])]),
      frame.subarray(0, frame.length - 1),
      Buffer.from([0, 0]),
    ]) {
      const client = await WsClient.open(wsUrl(tb, "/kafka"));
      client.send(frame);
      client.send(bad);
      expect(decodeResponse((await client.next()).data.subarray(4), API_VERSIONS, 3).correlationId).toBe(2);
      const closed = await client.waitClosed();
      expect(closed.code).toBe(1002);
      expect(closed.reason).toContain("length prefix");
    }
  });

  it("closes on an unknown API key as TCP does (1002)", async () => {
    const client = await WsClient.open(wsUrl(tb, "/kafka"));
    const frame = TestClient.frame(API_VERSIONS, 3, {}, 3);
    frame.writeInt16BE(999, 4);
    client.send(frame);
    const closed = await client.waitClosed();
    expect(closed.code).toBe(1002);
    expect(closed.reason).toContain("unknown API key 999");
  });

  it("closes idle connections (connections.max.idle.ms) with 1000", async () => {
    const idle = await startTestBroker({ "connections.max.idle.ms": 200 });
    try {
      const client = await WsClient.open(wsUrl(idle, "/kafka"));
      client.send(TestClient.frame(API_VERSIONS, 3, {}, 1));
      await client.next();
      const closed = await client.waitClosed(3000);
      expect(closed).toEqual({ code: 1000, reason: "idle timeout" });
      const deadline = Date.now() + 3000;
      while (httpOf(idle).kafkaConnections.size > 0 && Date.now() < deadline) await sleep(10);
      expect(httpOf(idle).kafkaConnections.size).toBe(0);
    } finally {
      await idle.stop();
    }
  });

  it("answers a plain GET with 426", async () => {
    expectError(await inject(tb, "GET", "/kafka"), 426, "UPGRADE_REQUIRED");
  });

  it("refuses a message over socket.request.max.bytes before reading it (1009)", async () => {
    const small = await startTestBroker({ "socket.request.max.bytes": 1024 });
    try {
      const client = await WsClient.open(wsUrl(small, "/kafka"));
      const ok = TestClient.frame(API_VERSIONS, 3, {}, 1);
      client.send(ok);
      expect(decodeResponse((await client.next()).data.subarray(4), API_VERSIONS, 3).correlationId).toBe(1);
      const big = Buffer.alloc(4 + 2000);
      big.writeInt32BE(2000);
      client.send(big);
      expect((await client.waitClosed()).code).toBe(1009);
    } finally {
      await small.stop();
    }
  });

  it("stops reading from a client that does not read its responses, and answers once it does", async () => {
    const bp = await startTestBroker({ "connection.max.inflight.requests": 4, "log.flush.policy": "os" });
    const dispatcher = bp.broker.dispatcher;
    const dispatch = dispatcher.dispatch.bind(dispatcher);
    let dispatched = 0;
    dispatcher.dispatch = (frame, conn) => {
      dispatched++;
      return dispatch(frame, conn);
    };
    try {
      const recordBytes = 100_000;
      const producer = await TestClient.connect(bp.port);
      const batch = encodeRecordBatch([{ value: Buffer.alloc(recordBytes, 0x61), timestamp: Date.now() }]);
      await producer.request(PRODUCE, 7, produceRequest("ws-bp", batch, 1));
      producer.close();
      dispatched = 0;

      const client = await WsClient.open(wsUrl(bp, "/kafka"));
      client.ws.pause();
      const requests = 1000;
      for (let corr = 1; corr <= requests; corr++)
        client.send(TestClient.frame(FETCH, 4, fetchRequest("ws-bp", 0), corr));
      let last = -1;
      for (let stable = 0; stable < 5; ) {
        await sleep(100);
        stable = dispatched === last ? stable + 1 : 0;
        last = dispatched;
      }
      // ~100 KB per response: what the broker took is what the kernel buffers hold plus the
      // in-flight limit, not the 100 MB the client asked for.
      expect(dispatched, "requests read while the client reads nothing").toBeLessThan(requests / 4);
      expect(client.closed).toBe(null);

      client.ws.resume();
      for (let corr = 1; corr <= requests; corr++) {
        const m = await client.next(10_000);
        const { correlationId, body } = decodeResponse(m.data.subarray(4), FETCH, 4);
        expect(correlationId).toBe(corr);
        expect((body.responses[0].partitions[0].records as Buffer).length).toBeGreaterThan(recordBytes);
      }
      expect(dispatched).toBe(requests);
      client.close();
    } finally {
      dispatcher.dispatch = dispatch;
      await bp.stop();
    }
  });
});

// ------------------------------------------------------------------------------------------------

describe("JSON live tail at /ws/topics/{topic}", () => {
  let tb: TestBroker;
  beforeAll(async () => {
    tb = await startTestBroker({ "auto.create.topics.enable": false, "log.flush.policy": "os" });
  });
  afterAll(async () => {
    await tb?.stop();
  });

  it("sends records appended after it started, one message per record", async () => {
    await createTopic(tb, "tail-latest", 2);
    await produceJson(tb, "tail-latest", { records: [{ value: "before", partition: 0 }] });
    const client = await WsClient.open(wsUrl(tb, "/ws/topics/tail-latest"));
    await tailStarted(tb, "tail-latest");
    await produceJson(tb, "tail-latest", {
      records: [
        { key: "a", value: { n: 1 }, partition: 0 },
        { key: "b", value: { n: 2 }, partition: 1 },
      ],
    });
    const got = [await client.nextRecord(), await client.nextRecord()].sort(
      (x, y) => x.partition - y.partition,
    );
    expect(got[0]).toMatchObject({
      topic: "tail-latest",
      partition: 0,
      offset: 1,
      key: "a",
      value: { n: 1 },
    });
    expect(got[1]).toMatchObject({
      topic: "tail-latest",
      partition: 1,
      offset: 0,
      key: "b",
      value: { n: 2 },
    });
    expect(got[0].value_format).toBe("json");
    // Later appends keep coming.
    await sleep(50);
    await produceJson(tb, "tail-latest", { records: [{ value: "again", partition: 1 }] });
    expect(await client.nextRecord()).toMatchObject({ partition: 1, offset: 1, value: "again" });
    expect(client.messages).toEqual([]);

    // A client that goes away ends its tail: no tail left, no append listener left.
    const partition = tb.broker.topics.partition("tail-latest", 0)!;
    const listeners = () => (partition as unknown as { listeners: Set<unknown> }).listeners.size;
    expect(listeners()).toBe(1);
    client.close();
    const deadline = Date.now() + 5000;
    while ([...httpOf(tb).tails].some((t) => t.topic === "tail-latest") && Date.now() < deadline)
      await sleep(10);
    expect([...httpOf(tb).tails].filter((t) => t.topic === "tail-latest")).toEqual([]);
    expect(listeners()).toBe(0);
  });

  it("starts at earliest or at an offset of one partition", async () => {
    await createTopic(tb, "tail-from", 2);
    await produceJson(tb, "tail-from", {
      records: [0, 1, 2, 3].map((i) => ({ value: i, partition: 0 })).concat([{ value: 9, partition: 1 }]),
    });
    const all = await WsClient.open(wsUrl(tb, "/ws/topics/tail-from?from=earliest"));
    const five = [];
    for (let i = 0; i < 5; i++) five.push(await all.nextRecord());
    expect(five.map((r) => `${r.partition}:${r.offset}`).sort()).toEqual(["0:0", "0:1", "0:2", "0:3", "1:0"]);
    all.close();

    const one = await WsClient.open(wsUrl(tb, "/ws/topics/tail-from?from=2&partition=0"));
    expect((await one.nextRecord()).value).toBe(2);
    expect((await one.nextRecord()).value).toBe(3);
    await produceJson(tb, "tail-from", {
      records: [
        { value: "p1", partition: 1 },
        { value: "p0", partition: 0 },
      ],
    });
    expect(await one.nextRecord()).toMatchObject({ partition: 0, offset: 4, value: "p0" });
    await sleep(100);
    expect(one.messages).toEqual([]);
    one.close();
  });

  it("picks up partitions added while it runs", async () => {
    await createTopic(tb, "tail-grow", 1);
    const client = await WsClient.open(wsUrl(tb, "/ws/topics/tail-grow"));
    await tailStarted(tb, "tail-grow");
    await tb.broker.topics.addPartitions("tail-grow", 2);
    await sleep(TAIL_RECHECK_MS * 2);
    await produceJson(tb, "tail-grow", { records: [{ value: "new", partition: 1 }] });
    expect(await client.nextRecord(5000)).toMatchObject({ partition: 1, offset: 0, value: "new" });
    client.close();
  });

  it("closes with 4404, 4400 and a reason on bad requests", async () => {
    await createTopic(tb, "tail-errors", 1);
    await produceJson(tb, "tail-errors", { records: [{ value: 1 }] });
    const cases: [string, number, string][] = [
      ["/ws/topics/no-such-topic", 4404, "no-such-topic"],
      ["/ws/topics/tail-errors?partition=5", 4404, "partition 5"],
      ["/ws/topics/tail-errors?from=yesterday", 4400, "from"],
      ["/ws/topics/tail-errors?from=3", 4400, "partition"],
      ["/ws/topics/tail-errors?from=5&partition=0", 4400, "outside"],
      ["/ws/topics/tail-errors?partition=-1", 4400, "partition"],
      ["/ws/topics/tail-errors?colour=red", 4400, "colour"],
    ];
    for (const [path, code, reason] of cases) {
      const client = await WsClient.open(wsUrl(tb, path));
      const closed = await client.waitClosed();
      expect(closed.code, path).toBe(code);
      expect(closed.reason, path).toContain(reason);
    }
    expectError(await inject(tb, "GET", "/ws/topics/tail-errors"), 426, "UPGRADE_REQUIRED");
  });

  it("closes with 4404 when its topic is deleted", async () => {
    await createTopic(tb, "tail-deleted", 1);
    const client = await WsClient.open(wsUrl(tb, "/ws/topics/tail-deleted"));
    await tailStarted(tb, "tail-deleted");
    expect((await inject(tb, "DELETE", "/topics/tail-deleted")).statusCode).toBe(204);
    const closed = await client.waitClosed(TAIL_RECHECK_MS * 5);
    expect(closed.code).toBe(4404);
    expect(closed.reason).toContain("deleted");
  });

  it("stops reading for a slow reader, with its memory bounded, and catches up once it reads", async () => {
    const topic = "tail-slow";
    await createTopic(tb, topic, 1);
    const client = await TestClient.connect(tb.port);
    const value = Buffer.from(JSON.stringify("v".repeat(4000)));
    const perBatch = 100;
    const batches = 80;
    const total = perBatch * batches; // ~32 MB of records, far beyond kernel buffers
    for (let b = 0; b < batches; b++) {
      const records = Array.from({ length: perBatch }, (_, i) => ({
        key: Buffer.from(String(b * perBatch + i)),
        value,
      }));
      const res = await client.request(PRODUCE, 9, produceRequest(topic, encodeRecordBatch(records), 1));
      expect(res.responses[0].partitionResponses[0].errorCode).toBe(0);
    }
    client.close();

    const reader = new WebSocket(wsUrl(tb, `/ws/topics/${topic}?from=earliest`));
    const received: number[] = [];
    reader.on("message", (data: Buffer) => received.push((JSON.parse(data.toString()) as JsonRecord).offset));
    await new Promise<void>((resolve, reject) => {
      reader.once("open", () => {
        reader.pause();
        resolve();
      });
      reader.once("error", reject);
    });

    // Wait until the tail stops sending.
    let stats = await tailStarted(tb, topic);
    let last = -1;
    for (let stable = 0; stable < 5; ) {
      await sleep(100);
      stats = [...httpOf(tb).tails].find((t) => t.topic === topic)!.stats();
      stable = stats.sent === last ? stable + 1 : 0;
      last = stats.sent;
    }
    expect(stats.paused).toBe(true);
    expect(stats.sent).toBeLessThan(total / 2);
    // What the broker holds for this reader: the socket's buffer up to the limit plus one
    // message, and the records of one fetch.
    expect(stats.bufferedAmount).toBeGreaterThanOrEqual(TAIL_RESUME_BYTES);
    expect(stats.bufferedAmount).toBeLessThan(TAIL_MAX_BUFFERED_BYTES + 8 * 1024);
    expect(stats.queued).toBeLessThanOrEqual(perBatch * 3);
    expect(stats.positions[0]).toBeLessThan(total / 2);

    reader.resume();
    const deadline = Date.now() + 30_000;
    while (received.length < total && Date.now() < deadline) await sleep(50);
    expect(received.length).toBe(total);
    expect(received.every((offset, i) => offset === i)).toBe(true);
    stats = [...httpOf(tb).tails].find((t) => t.topic === topic)!.stats();
    expect(stats.sent).toBe(total);
    expect(stats.paused).toBe(false);
    reader.terminate();
  });
});

// ------------------------------------------------------------------------------------------------

describe("shutdown", () => {
  it("answers the requests already read, then closes Kafka WebSockets and tails with 1001", async () => {
    const tb = await startTestBroker({ "auto.create.topics.enable": false });
    await createTopic(tb, "shutdown", 1);
    const kafka = await WsClient.open(wsUrl(tb, "/kafka"));
    const tail = await WsClient.open(wsUrl(tb, "/ws/topics/shutdown"));
    await tailStarted(tb, "shutdown");
    // A long-polling fetch is in flight when the broker stops: shutdown lets it finish its wait
    // (shorter than the drain limit, past which the connection would close unanswered).
    const longPoll = { ...fetchRequest("shutdown", 0), maxWaitMs: 1000, minBytes: 1 };
    kafka.send(TestClient.frame(FETCH, 12, longPoll, 1));
    await waitFor(() => appendListeners(tb, "shutdown") > 1, "the fetch to wait for an append");
    await tb.stop();
    const answer = await kafka.next();
    expect(decodeResponse(answer.data.subarray(4), FETCH, 12).correlationId).toBe(1);
    expect((await kafka.waitClosed()).code).toBe(1001);
    expect((await tail.waitClosed()).code).toBe(1001);
  });
});
