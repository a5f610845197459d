/**
 * KafkaJS 2.2.4 against an in-process broker: its admin client (topics, partitions, configs,
 * offsets) and its producer (acks -1/1/0, keys, headers, gzip, the idempotent producer), with
 * everything it wrote read back over the raw TestClient. KafkaJS's consumer needs consumer
 * groups, which are not served yet. Its logger is silenced and its retries are off (except where
 * the idempotent producer demands some), so that a failure surfaces at once.
 */
import {
  type Admin,
  CompressionTypes,
  ConfigResourceTypes,
  Kafka,
  logLevel,
  type Producer,
  type RecordMetadata,
} from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeRecordBatch } from "../../protocol/record-batch.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { TestClient } from "../helpers/kafka-client.js";
import { fetchPartition } from "./helpers.js";

let tb: TestBroker;
let client: TestClient;
let kafka: Kafka;
let admin: Admin;
const producers: Producer[] = [];

beforeAll(async () => {
  tb = await startTestBroker({ "num.partitions": 3 });
  client = await TestClient.connect(tb.port);
  kafka = new Kafka({
    clientId: "samsa-compat",
    brokers: [`127.0.0.1:${tb.port}`],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    requestTimeout: 5000,
    retry: { retries: 0 },
  });
  admin = kafka.admin({ retry: { retries: 0 } });
  await admin.connect();
});

afterAll(async () => {
  for (const p of producers) await p.disconnect().catch(() => {});
  await admin?.disconnect().catch(() => {});
  client?.close();
  await tb?.stop();
});

async function producer(config: Parameters<Kafka["producer"]>[0] = {}): Promise<Producer> {
  const p = kafka.producer({ retry: { retries: 0 }, allowAutoTopicCreation: true, ...config });
  producers.push(p);
  await p.connect();
  return p;
}

const text = (b: Buffer | null | undefined) => (b == null ? null : b.toString("utf8"));

/** Every record of every partition of `topic`, by partition. */
async function readTopic(topic: string, partitions: number) {
  const out = new Map<number, Awaited<ReturnType<typeof fetchPartition>>>();
  for (let p = 0; p < partitions; p++) out.set(p, await fetchPartition(client, topic, p));
  return out;
}

describe("KafkaJS admin", () => {
  it("createTopics, listTopics, fetchTopicMetadata and deleteTopics", async () => {
    const created = await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: "admin-a", numPartitions: 4, configEntries: [{ name: "retention.ms", value: "3600000" }] },
        { topic: "admin-b" },
      ],
    });
    expect(created).toBe(true);
    expect(await admin.listTopics()).toEqual(expect.arrayContaining(["admin-a", "admin-b"]));
    const meta = await admin.fetchTopicMetadata({ topics: ["admin-a", "admin-b"] });
    const partitions = Object.fromEntries(meta.topics.map((t) => [t.name, t.partitions.length]));
    // admin-b asked for no count: the broker's num.partitions (3).
    expect(partitions).toEqual({ "admin-a": 4, "admin-b": 3 });
    for (const p of meta.topics[0].partitions) {
      expect(p.leader).toBe(1);
      expect(p.replicas).toEqual([1]);
      expect(p.isr).toEqual([1]);
    }
    expect(tb.broker.store.topic("admin-a")?.configs).toEqual({ "retention.ms": "3600000" });

    // Creating it again: KafkaJS reports false for TOPIC_ALREADY_EXISTS.
    expect(await admin.createTopics({ topics: [{ topic: "admin-a", numPartitions: 4 }] })).toBe(false);
    // More replicas than brokers is refused.
    await expect(
      admin.createTopics({ topics: [{ topic: "admin-c", numPartitions: 1, replicationFactor: 3 }] }),
    ).rejects.toThrow();
    expect(await admin.listTopics()).not.toContain("admin-c");

    await admin.deleteTopics({ topics: ["admin-a", "admin-b"] });
    const after = await admin.listTopics();
    expect(after).not.toContain("admin-a");
    expect(after).not.toContain("admin-b");
    expect(tb.broker.topics.partition("admin-a", 0)).toBeUndefined();
    // Deleting what does not exist fails.
    await expect(admin.deleteTopics({ topics: ["admin-a"] })).rejects.toThrow();
  });

  it("createPartitions grows a topic, and the new partitions take writes", async () => {
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: "grow", numPartitions: 2 }] });
    await admin.createPartitions({ topicPartitions: [{ topic: "grow", count: 5 }] });
    const meta = await admin.fetchTopicMetadata({ topics: ["grow"] });
    expect(meta.topics[0].partitions.map((p) => p.partitionId).sort()).toEqual([0, 1, 2, 3, 4]);
    const p = await producer();
    await p.send({ topic: "grow", acks: -1, messages: [{ partition: 4, value: "in the new one" }] });
    const [record] = (await fetchPartition(client, "grow", 4)).records;
    expect(text(record.value)).toBe("in the new one");
    // Shrinking is refused.
    await expect(
      admin.createPartitions({ topicPartitions: [{ topic: "grow", count: 3 }] }),
    ).rejects.toThrow();
  });

  it("describeConfigs and alterConfigs on a topic", async () => {
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic: "configured", configEntries: [{ name: "retention.ms", value: "60000" }] }],
    });
    const describe = async () => {
      const r = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: "configured" }],
      });
      expect(r.resources[0].errorCode).toBe(0);
      return new Map(r.resources[0].configEntries.map((e) => [e.configName, e.configValue]));
    };
    expect((await describe()).get("retention.ms")).toBe("60000");
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: "configured",
          configEntries: [{ name: "retention.ms", value: "120000" }],
        },
      ],
    });
    expect((await describe()).get("retention.ms")).toBe("120000");
  });

  it("fetchTopicOffsets and fetchTopicOffsetsByTimestamp", async () => {
    const topic = "offsets-kjs";
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 3 }] });
    // Partition 1: offsets 0..4 at t0 + 1000 * offset; partition 2: two records; 0: none.
    const t0 = 1_700_000_000_000;
    const produce = async (partition: number, records: { value: string; timestamp: number }[]) => {
      const batch = encodeRecordBatch(
        records.map((r) => ({ value: Buffer.from(r.value), timestamp: r.timestamp })),
      );
      const r = await client.request(0, 9, {
        transactionalId: null,
        acks: -1,
        timeoutMs: 5000,
        topicData: [{ name: topic, partitionData: [{ index: partition, records: batch }] }],
      });
      expect(r.responses[0].partitionResponses[0].errorCode).toBe(0);
    };
    await produce(
      1,
      [0, 1, 2].map((i) => ({ value: `p1-${i}`, timestamp: t0 + 1000 * i })),
    );
    await produce(
      1,
      [3, 4].map((i) => ({ value: `p1-${i}`, timestamp: t0 + 1000 * i })),
    );
    await produce(
      2,
      [0, 1].map((i) => ({ value: `p2-${i}`, timestamp: t0 + 1000 * i })),
    );

    const offsets = (await admin.fetchTopicOffsets(topic)).sort((a, b) => a.partition - b.partition);
    expect(offsets).toEqual([
      { partition: 0, offset: "0", high: "0", low: "0" },
      { partition: 1, offset: "5", high: "5", low: "0" },
      { partition: 2, offset: "2", high: "2", low: "0" },
    ]);

    const at = async (ts: number) =>
      Object.fromEntries(
        (await admin.fetchTopicOffsetsByTimestamp(topic, ts)).map((e) => [e.partition, e.offset]),
      );
    // KafkaJS replaces "no record that late" (-1) with the partition's high watermark.
    expect(await at(t0)).toEqual({ 0: "0", 1: "0", 2: "0" });
    expect(await at(t0 + 1500)).toEqual({ 0: "0", 1: "2", 2: "2" });
    expect(await at(t0 + 3000)).toEqual({ 0: "0", 1: "3", 2: "2" });
    expect(await at(t0 + 99_000)).toEqual({ 0: "0", 1: "5", 2: "2" });
  });
});

describe("KafkaJS producer", () => {
  it("acks -1: keyed messages with headers across partitions come back exactly", async () => {
    const topic = "kjs-keyed";
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 4 }] });
    const p = await producer();
    const messages = Array.from({ length: 40 }, (_, i) => ({
      key: `key-${i % 9}`,
      value: i % 5 === 0 ? Buffer.from([0, 255, i, 0x80, 10]) : `value-${i} ☃`,
      headers: { n: String(i), bin: Buffer.from([1, 2, 255]) },
      timestamp: String(1_700_000_000_000 + i),
    }));
    const results: RecordMetadata[] = [];
    for (let i = 0; i < messages.length; i += 10)
      results.push(...(await p.send({ topic, acks: -1, messages: messages.slice(i, i + 10) })));
    for (const r of results) expect(r.errorCode).toBe(0);

    const read = await readTopic(topic, 4);
    const back = [...read.entries()].flatMap(([partition, f]) => f.records.map((r) => ({ partition, r })));
    expect(back).toHaveLength(messages.length);
    const partitionOfKey = new Map<string, number>();
    for (const { partition, r } of back) {
      const i = Number(r.headers.find((h) => h.key === "n")?.value?.toString());
      const sent = messages[i];
      expect(text(r.key)).toBe(sent.key);
      expect(r.value).toEqual(Buffer.isBuffer(sent.value) ? sent.value : Buffer.from(sent.value));
      expect(r.timestamp).toBe(Number(sent.timestamp));
      expect(r.headers.map((h) => [h.key, h.value])).toEqual([
        ["n", Buffer.from(String(i))],
        ["bin", Buffer.from([1, 2, 255])],
      ]);
      expect(partitionOfKey.get(sent.key) ?? partition).toBe(partition);
      partitionOfKey.set(sent.key, partition);
    }
    expect(new Set(partitionOfKey.values()).size).toBeGreaterThan(1);
    // Within a partition, the order sent; offsets dense.
    for (const f of read.values()) {
      const indexes = f.records.map((r) => Number(r.headers[0].value?.toString()));
      expect(indexes).toEqual([...indexes].sort((a, b) => a - b));
      expect(f.records.map((r) => r.offset)).toEqual(f.records.map((_, i) => i));
    }
    // What send() reported agrees with the log: the last base offset per partition is below its end.
    for (const r of results) expect(Number(r.baseOffset)).toBeLessThan(read.get(r.partition)!.highWatermark);
  });

  it("acks 1, acks 0, explicit partitions, gzip and sendBatch to several topics", async () => {
    const p = await producer();
    await p.send({ topic: "kjs-acks", acks: 1, messages: [{ partition: 0, key: "a", value: "one" }] });
    const none = await p.send({
      topic: "kjs-acks",
      acks: 0,
      messages: [{ partition: 0, key: "b", value: "zero" }],
    });
    expect(none).toEqual([]);
    await p.sendBatch({
      acks: -1,
      compression: CompressionTypes.GZIP,
      topicMessages: [
        { topic: "kjs-acks", messages: [{ partition: 0, key: "c", value: "gz ".repeat(200) }] },
        { topic: "kjs-other", messages: [{ partition: 2, key: null, value: "elsewhere" }] },
      ],
    });
    // acks=0 has no answer to wait for, but the acks=-1 send after it on the same connection
    // is appended after it.
    const f = await fetchPartition(client, "kjs-acks", 0);
    expect(f.records.map((r) => [r.offset, text(r.key), text(r.value)])).toEqual([
      [0, "a", "one"],
      [1, "b", "zero"],
      [2, "c", "gz ".repeat(200)],
    ]);
    expect(f.batches[2].attributes & 0x07).toBe(CompressionTypes.GZIP);
    const other = await fetchPartition(client, "kjs-other", 2);
    expect(other.records.map((r) => [r.key, text(r.value)])).toEqual([[null, "elsewhere"]]);
  });

  it("idempotent: sequences start at 0 and continue per partition, nothing duplicated", async () => {
    const topic = "kjs-idempotent";
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 3 }] });
    // KafkaJS refuses an idempotent producer without retries, or with more than one in flight.
    const p = await producer({
      idempotent: true,
      maxInFlightRequests: 1,
      retry: { retries: 2, initialRetryTime: 50, maxRetryTime: 200 },
    });
    const sent: string[] = [];
    for (let round = 0; round < 4; round++) {
      const messages = Array.from({ length: 5 }, (_, i) => ({ key: `k${i}`, value: `r${round}-m${i}` }));
      sent.push(...messages.map((m) => m.value));
      const results = await p.send({ topic, acks: -1, messages });
      for (const r of results) expect(r.errorCode).toBe(0);
    }
    const read = await readTopic(topic, 3);
    const values = [...read.values()].flatMap((f) => f.records.map((r) => text(r.value)));
    expect(values.sort()).toEqual([...sent].sort());
    let producerId: number | null = null;
    for (const f of read.values()) {
      let next = 0;
      for (const b of f.batches) {
        expect(b.producerId).toBeGreaterThanOrEqual(0);
        producerId ??= b.producerId;
        expect(b.producerId).toBe(producerId);
        expect(b.producerEpoch).toBe(0);
        expect(b.baseSequence).toBe(next);
        next += b.recordCount;
      }
    }
    expect(producerId).not.toBeNull();
  });
});
