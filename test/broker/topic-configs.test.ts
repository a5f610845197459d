/**
 * Kafka's topic configs at the protocol level: CreateTopics, AlterConfigs and
 * IncrementalAlterConfigs accept every key of storage/topic-configs.ts and validate values as
 * Kafka does; DescribeConfigs lists them with their source and documentation. Then the effects:
 * compression.type recompresses, LogAppendTime stamps batches and answers logAppendTimeMs, the
 * timestamp bounds refuse records (INVALID_TIMESTAMP), max.message.bytes (MESSAGE_TOO_LARGE), and
 * ListOffsets by time is right for a batch whose header maxTimestamp is -1, also after a restart.
 */
import { afterEach, describe, expect, it } from "vitest";
import { loadBrokerConfig } from "../../broker/config.js";
import type { Message } from "../../protocol/codec.js";
import { Compression } from "../../protocol/compression.js";
import { errorCode } from "../../protocol/errors.js";
import {
  COMPRESSION_MASK,
  CRC_OFFSET,
  computeBatchCrc,
  decodeBatches,
  encodeRecordBatch,
  MAX_TIMESTAMP_OFFSET,
  readBatchHeader,
  TIMESTAMP_TYPE_MASK,
} from "../../protocol/record-batch.js";
import { writeInt64 } from "../../protocol/varint.js";
import { TOPIC_CONFIGS } from "../../storage/topic-configs.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { TestClient } from "../helpers/kafka-client.js";
import { fetchRequest, produceRequest } from "../helpers/requests.js";
import { ISSUE_CONFIGS } from "../helpers/topic-configs.js";

const CREATE_TOPICS = 19;
const DESCRIBE_CONFIGS = 32;
const ALTER_CONFIGS = 33;
const INCREMENTAL_ALTER_CONFIGS = 44;
const TOPIC = 2;
const SET = 0;
const DELETE = 1;
const SOURCE_TOPIC = 1;
const SOURCE_STATIC_BROKER = 4;
const SOURCE_DEFAULT = 5;

let tb: TestBroker | null = null;
let client: TestClient | null = null;
afterEach(async () => {
  client?.close();
  await tb?.stop();
  tb = null;
  client = null;
});

async function start(dataDir?: string, flags: Record<string, unknown> = {}): Promise<TestClient> {
  tb = await startTestBroker(flags, dataDir);
  client = await TestClient.connect(tb.port);
  return client;
}

function creatable(name: string, configs: Record<string, string>): Message {
  return {
    name,
    numPartitions: 1,
    replicationFactor: 1,
    assignments: [],
    configs: Object.entries(configs).map(([n, value]) => ({ name: n, value })),
  };
}

async function create(c: TestClient, name: string, configs: Record<string, string>): Promise<Message> {
  const r = await c.request(CREATE_TOPICS, 7, {
    topics: [creatable(name, configs)],
    timeoutMs: 5000,
    validateOnly: false,
  });
  return r.topics[0];
}

async function describeTopic(c: TestClient, name: string): Promise<Map<string, Message>> {
  const r = await c.request(DESCRIBE_CONFIGS, 4, {
    resources: [{ resourceType: TOPIC, resourceName: name, configurationKeys: null }],
    includeSynonyms: true,
    includeDocumentation: true,
  });
  expect(r.results[0].errorCode).toBe(0);
  return new Map((r.results[0].configs as Message[]).map((e) => [e.name as string, e]));
}

async function alter(c: TestClient, name: string, configs: Record<string, string>): Promise<Message> {
  const r = await c.request(ALTER_CONFIGS, 2, {
    resources: [
      {
        resourceType: TOPIC,
        resourceName: name,
        configs: Object.entries(configs).map(([n, value]) => ({ name: n, value })),
      },
    ],
    validateOnly: false,
  });
  return r.responses[0];
}

async function incremental(
  c: TestClient,
  name: string,
  ops: [string, number, string | null][],
): Promise<Message> {
  const r = await c.request(INCREMENTAL_ALTER_CONFIGS, 1, {
    resources: [
      {
        resourceType: TOPIC,
        resourceName: name,
        configs: ops.map(([n, configOperation, value]) => ({ name: n, configOperation, value })),
      },
    ],
    validateOnly: false,
  });
  return r.responses[0];
}

async function produce(c: TestClient, topic: string, records: Buffer): Promise<Message> {
  const r = await c.request(0, 9, produceRequest(topic, records));
  return r.responses[0].partitionResponses[0];
}

async function fetchAll(c: TestClient, topic: string): Promise<Buffer> {
  const r = await c.request(1, 12, fetchRequest(topic, 0));
  return r.responses[0].partitions[0].records as Buffer;
}

async function offsetForTime(c: TestClient, topic: string, timestamp: number): Promise<Message> {
  const r = await c.request(2, 7, {
    replicaId: -1,
    isolationLevel: 0,
    topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp }] }],
  });
  return r.topics[0].partitions[0];
}

describe("accepting and describing Kafka's topic configs", () => {
  it("CreateTopics takes the issue's twelve keys; DescribeConfigs shows them as topic overrides", async () => {
    const c = await start();
    const created = await create(c, "twelve", ISSUE_CONFIGS);
    expect(created.errorCode, created.errorMessage).toBe(0);
    const configs = await describeTopic(c, "twelve");
    for (const [key, value] of Object.entries(ISSUE_CONFIGS)) {
      expect(configs.get(key), key).toMatchObject({ value, configSource: SOURCE_TOPIC, isDefault: false });
    }
    // Every topic config Kafka 4 knows is listed, with a type and documentation.
    expect([...configs.keys()].sort()).toEqual(Object.keys(TOPIC_CONFIGS).sort());
    for (const entry of configs.values()) {
      expect(entry.configType, entry.name).toBeGreaterThan(0);
      expect(entry.documentation, entry.name).toBeTruthy();
    }
    expect(configs.get("compression.gzip.level")).toMatchObject({
      value: "-1",
      configSource: SOURCE_DEFAULT,
    });
    expect(configs.get("preallocate")?.documentation).toContain("no effect");
    expect(configs.get("unclean.leader.election.enable")?.documentation).toContain(
      "no effect until replication",
    );
    expect(configs.get("message.downconversion.enable")?.documentation).toContain(
      "Kafka 4 removed down-conversion",
    );
    expect(configs.get("compression.type")?.documentation).not.toContain("no effect");
    const log = tb!.broker.topics.partition("twelve", 0)!.logConfig;
    expect(log).toMatchObject({
      compressionType: "zstd",
      timestampType: "LogAppendTime",
      timestampDifferenceMaxMs: 86_400_000,
      maxMessageBytes: 2_000_000,
    });
  });

  it("AlterConfigs and IncrementalAlterConfigs set and remove them", async () => {
    const c = await start();
    expect((await create(c, "altered", {})).errorCode).toBe(0);
    expect((await alter(c, "altered", ISSUE_CONFIGS)).errorCode).toBe(0);
    let configs = await describeTopic(c, "altered");
    for (const [key, value] of Object.entries(ISSUE_CONFIGS))
      expect(configs.get(key)?.value, key).toBe(value);
    const set: Record<string, string> = { "compression.type": "lz4", preallocate: "false" };
    const ops = Object.keys(ISSUE_CONFIGS).map((k): [string, number, string | null] =>
      set[k] ? [k, SET, set[k]] : [k, DELETE, null],
    );
    expect((await incremental(c, "altered", ops)).errorCode).toBe(0);
    configs = await describeTopic(c, "altered");
    expect(configs.get("compression.type")).toMatchObject({ value: "lz4", configSource: SOURCE_TOPIC });
    expect(configs.get("preallocate")).toMatchObject({ value: "false", configSource: SOURCE_TOPIC });
    expect(configs.get("message.timestamp.type")).toMatchObject({
      value: "CreateTime",
      configSource: SOURCE_DEFAULT,
    });
    expect(configs.get("flush.messages")).toMatchObject({
      value: "9223372036854775807",
      configSource: SOURCE_DEFAULT,
    });
    expect(tb!.broker.topics.partition("altered", 0)!.logConfig.compressionType).toBe("lz4");
  });

  it.each([
    ["compression.type", "brotli"],
    ["message.timestamp.type", "createtime"],
    ["unclean.leader.election.enable", "yes"],
    ["message.timestamp.difference.max.ms", "-1"],
    ["message.timestamp.before.max.ms", "1.5"],
    ["flush.messages", "0"],
    ["preallocate", "1"],
    ["segment.jitter.ms", "abc"],
    ["message.downconversion.enable", ""],
    ["max.message.bytes", "3000000000"],
    ["compression.zstd.level", "23"],
    ["compression.gzip.level", "0"],
    ["compression.lz4.level", "18"],
    ["leader.replication.throttled.replicas", "0-1"],
    ["remote.storage.enable", "true"],
    ["no.such.config", "1"],
  ])(
    "%s=%j is INVALID_CONFIG for CreateTopics, AlterConfigs and IncrementalAlterConfigs",
    async (key, value) => {
      const c = await start();
      const created = await create(c, "bad", { [key]: value });
      expect(created.errorCode).toBe(errorCode("INVALID_CONFIG"));
      expect(created.errorMessage).toContain(key);
      expect(tb!.broker.store.topic("bad")).toBeUndefined();
      expect((await create(c, "good", {})).errorCode).toBe(0);
      const altered = await alter(c, "good", { [key]: value });
      expect(altered.errorCode).toBe(errorCode("INVALID_CONFIG"));
      expect(altered.errorMessage).toContain(key);
      const inc = await incremental(c, "good", [[key, SET, value]]);
      expect(inc.errorCode).toBe(errorCode("INVALID_CONFIG"));
      expect(tb!.broker.store.topic("good")!.configs).toEqual({});
    },
  );

  it("HTTP POST /topics takes them too; a bad value is 422 INVALID_CONFIG", async () => {
    await start();
    const post = (body: unknown) =>
      fetch(`http://127.0.0.1:${tb!.broker.httpPort}/topics`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const created = await post({ name: "http-twelve", configs: ISSUE_CONFIGS });
    expect(created.status).toBe(201);
    const body = (await created.json()) as { configs: Record<string, string> };
    for (const [key, value] of Object.entries(ISSUE_CONFIGS)) expect(body.configs[key], key).toBe(value);
    const refused = await post({ name: "http-bad", configs: { preallocate: "maybe" } });
    expect(refused.status).toBe(422);
    expect(await refused.json()).toMatchObject({ error_code: "INVALID_CONFIG" });
  });

  it("takes broker-wide defaults from Kafka's broker keys (compression.type, log.message.timestamp.*)", async () => {
    const c = await start(undefined, {
      "compression.type": "gzip",
      "log.message.timestamp.type": "LogAppendTime",
      "log.message.timestamp.after.max.ms": "60000",
    });
    expect((await create(c, "defaults", {})).errorCode).toBe(0);
    const configs = await describeTopic(c, "defaults");
    expect(configs.get("compression.type")).toMatchObject({
      value: "gzip",
      configSource: SOURCE_STATIC_BROKER,
      synonyms: [
        { name: "compression.type", value: "gzip", source: SOURCE_STATIC_BROKER },
        { name: "compression.type", value: "producer", source: SOURCE_DEFAULT },
      ],
    });
    expect(configs.get("message.timestamp.type")).toMatchObject({
      value: "LogAppendTime",
      synonyms: [
        { name: "log.message.timestamp.type", value: "LogAppendTime", source: SOURCE_STATIC_BROKER },
        { name: "log.message.timestamp.type", value: "CreateTime", source: SOURCE_DEFAULT },
      ],
    });
    expect(tb!.broker.topics.partition("defaults", 0)!.logConfig).toMatchObject({
      compressionType: "gzip",
      timestampType: "LogAppendTime",
      timestampAfterMaxMs: 60_000,
    });
    expect(() => loadBrokerConfig({ flags: { "log.message.timestamp.type": "Sometimes" } })).toThrow(
      expect.objectContaining({ code: "INVALID_CONFIG" }),
    );
  });

  it("flush.messages=1 means flush.policy=always unless the topic sets flush.policy", async () => {
    const c = await start(undefined, { "log.flush.policy": "os" });
    const policy = async (name: string, configs: Record<string, string>) => {
      expect((await create(c, name, configs)).errorCode).toBe(0);
      return tb!.broker.topics.partition(name, 0)!.logConfig.flushPolicy;
    };
    expect(await policy("fm-none", {})).toBe("os");
    expect(await policy("fm-one", { "flush.messages": "1" })).toBe("always");
    expect(await policy("fm-many", { "flush.messages": "1000" })).toBe("os");
    expect(await policy("fm-explicit", { "flush.messages": "1", "flush.policy": "interval" })).toBe(
      "interval",
    );
  });

  it("refuses min.compaction.lag.ms above max.compaction.lag.ms, as Kafka", async () => {
    const c = await start();
    const created = await create(c, "lags", { "min.compaction.lag.ms": "10", "max.compaction.lag.ms": "5" });
    expect(created.errorCode).toBe(errorCode("INVALID_CONFIG"));
  });
});

const T0 = Date.now() - 60_000;
const records = (stamps: number[]) =>
  stamps.map((timestamp, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(`v${i}`), timestamp }));

describe("effects", () => {
  it("compression.type recompresses what producers send", async () => {
    const c = await start();
    expect((await create(c, "zstd", { "compression.type": "zstd" })).errorCode).toBe(0);
    expect((await produce(c, "zstd", encodeRecordBatch(records([T0, T0 + 1])))).errorCode).toBe(0);
    const gz = encodeRecordBatch(records([T0 + 2]), { compression: Compression.Gzip });
    expect((await produce(c, "zstd", gz)).errorCode).toBe(0);
    const out = await fetchAll(c, "zstd");
    expect(readBatchHeader(out, 0).attributes & COMPRESSION_MASK).toBe(Compression.Zstd);
    expect(decodeBatches(out).map((r) => [r.offset, r.value?.toString()])).toEqual([
      [0, "v0"],
      [1, "v1"],
      [2, "v0"],
    ]);
  });

  it("LogAppendTime stamps the batch and Produce answers logAppendTimeMs", async () => {
    const c = await start();
    expect((await create(c, "lat", { "message.timestamp.type": "LogAppendTime" })).errorCode).toBe(0);
    const before = Date.now();
    const answer = await produce(c, "lat", encodeRecordBatch(records([T0, T0 + 1])));
    const after = Date.now();
    expect(answer.errorCode).toBe(0);
    expect(answer.logAppendTimeMs).toBeGreaterThanOrEqual(before);
    expect(answer.logAppendTimeMs).toBeLessThanOrEqual(after);
    const out = await fetchAll(c, "lat");
    const header = readBatchHeader(out, 0);
    expect(header.attributes & TIMESTAMP_TYPE_MASK).toBe(TIMESTAMP_TYPE_MASK);
    expect(header.maxTimestamp).toBe(answer.logAppendTimeMs);
    expect(decodeBatches(out).map((r) => r.timestamp)).toEqual([
      answer.logAppendTimeMs,
      answer.logAppendTimeMs,
    ]);
    // A CreateTime topic still answers -1.
    const plain = await produce(c, "plain", encodeRecordBatch(records([T0])));
    expect(plain.logAppendTimeMs).toBe(-1);
  });

  it.each([
    ["message.timestamp.before.max.ms", T0 - 10 * 60_000],
    ["message.timestamp.after.max.ms", Date.now() + 10 * 60_000],
    ["message.timestamp.difference.max.ms", T0 - 10 * 60_000],
  ])("%s refuses a record outside it with INVALID_TIMESTAMP", async (key, outside) => {
    const c = await start();
    expect((await create(c, "bounded", { [key]: String(5 * 60_000) })).errorCode).toBe(0);
    const refused = await produce(c, "bounded", encodeRecordBatch(records([T0, outside])));
    expect(refused.errorCode).toBe(errorCode("INVALID_TIMESTAMP"));
    expect((await produce(c, "bounded", encodeRecordBatch(records([T0])))).errorCode).toBe(0);
  });

  it("max.message.bytes refuses a larger batch with MESSAGE_TOO_LARGE", async () => {
    const c = await start();
    expect((await create(c, "small", { "max.message.bytes": "200" })).errorCode).toBe(0);
    const big = encodeRecordBatch([{ value: Buffer.alloc(300, 1), timestamp: T0 }]);
    expect((await produce(c, "small", big)).errorCode).toBe(errorCode("MESSAGE_TOO_LARGE"));
  });

  it("ListOffsets by time is right for a batch whose header maxTimestamp is -1, also after a restart", async () => {
    let c = await start();
    const first = encodeRecordBatch(records([T0, T0 + 10, T0 + 20]));
    const second = encodeRecordBatch(records([T0 + 100, T0 + 300, T0 + 200]));
    for (const batch of [first, second]) {
      writeInt64(batch, MAX_TIMESTAMP_OFFSET, -1);
      batch.writeUInt32BE(computeBatchCrc(batch, 0, batch.length), CRC_OFFSET);
      expect((await produce(c, "go", batch)).errorCode).toBe(0);
    }
    const check = async () => {
      expect(await offsetForTime(c, "go", T0 + 15)).toMatchObject({ offset: 2, timestamp: T0 + 20 });
      expect(await offsetForTime(c, "go", T0 + 150)).toMatchObject({ offset: 4, timestamp: T0 + 300 });
      expect(await offsetForTime(c, "go", -3)).toMatchObject({ offset: 4, timestamp: T0 + 300 });
    };
    await check();
    c.close();
    const dataDir = tb!.dataDir;
    await tb!.stop(true);
    c = await start(dataDir);
    await check();
  });
});
