/**
 * Producer.sendBatch() against a real in-process broker: partitioning (keys, null keys, explicit
 * partitions), every record written once and in order per partition (read back with the
 * Consumer), rejections (unknown topic, bad partition, closed producer, a broker's refusal),
 * mixing send() and sendBatch(), the idempotent producer, and a call larger than bufferMemory.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  Admin,
  ClientError,
  Consumer,
  type ConsumerRecord,
  KafkaError,
  Producer,
  type ProducerRecord,
} from "../../client/index.js";
import { partitionForKey } from "../../protocol/murmur2.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";

let tb: TestBroker | null = null;
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c().catch(() => {});
  await tb?.stop();
  tb = null;
});

async function setup() {
  tb = await startTestBroker();
  const brokers = [`127.0.0.1:${tb.port}`];
  const admin = track(new Admin({ brokers }));
  return { brokers, admin };
}

function track<T extends { close(): Promise<void> }>(x: T): T {
  closers.push(() => x.close());
  return x;
}

/** Every record of `topic` (all partitions), read from the beginning until `count` came. */
async function readTopic(
  brokers: string[],
  topic: string,
  count: number,
  timeoutMs = 10_000,
): Promise<ConsumerRecord[]> {
  const consumer = track(new Consumer({ brokers, maxWaitMs: 50 }));
  await consumer.assignTopic(topic, "earliest");
  const out: ConsumerRecord[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < count && Date.now() < deadline) {
    const batch = await consumer.nextBatch(Math.max(1, deadline - Date.now()));
    if (!batch) break;
    out.push(...batch.records);
  }
  await consumer.close();
  return out;
}

/** Record values by partition, in offset order. */
function byPartition(records: ConsumerRecord[]): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const r of [...records].sort((a, b) => a.partition - b.partition || a.offset - b.offset)) {
    const list = out.get(r.partition) ?? [];
    list.push(r.value!.toString());
    out.set(r.partition, list);
  }
  return out;
}

const indexOf = (value: string) => Number(value.slice(1));

describe("Producer.sendBatch", () => {
  it("partitions by explicit partition, key and sticky null key; every record lands once, in order", async () => {
    const { brokers, admin } = await setup();
    await admin.createTopics([{ name: "mix", partitions: 4 }]);
    const producer = track(new Producer({ brokers, acks: 1 }, { batchSize: 2000 }));
    const all: ProducerRecord[] = Array.from({ length: 900 }, (_, i) => {
      const value = `v${i}`;
      if (i % 3 === 0) return { topic: "mix", key: `k${i % 7}`, value };
      if (i % 3 === 1) return { topic: "mix", key: null, value };
      return { topic: "mix", partition: i % 4, value };
    });
    const calls = [all.slice(0, 1), all.slice(1, 400), all.slice(400)];
    expect(await Promise.all(calls.map((c) => producer.sendBatch(c)))).toEqual([
      undefined,
      undefined,
      undefined,
    ]);

    // Resolved means acknowledged: every record is in the log already.
    const offsets = await admin.topicOffsets("mix");
    expect(offsets.reduce((sum, p) => sum + p.latest, 0)).toBe(all.length);
    const read = await readTopic(brokers, "mix", all.length);
    expect(read).toHaveLength(all.length);
    expect(new Set(read.map((r) => r.value!.toString())).size).toBe(all.length);
    for (const r of read) {
      const i = indexOf(r.value!.toString());
      if (i % 3 === 0) {
        expect(r.key!.toString()).toBe(`k${i % 7}`);
        expect(r.partition).toBe(partitionForKey(Buffer.from(`k${i % 7}`), 4));
      } else if (i % 3 === 1) {
        expect(r.key).toBeNull();
      } else {
        expect(r.partition).toBe(i % 4);
      }
    }
    for (const [partition, values] of byPartition(read)) {
      const order = values.map(indexOf);
      expect(order, `partition ${partition}`).toEqual([...order].sort((a, b) => a - b));
    }
    // Null keys are sticky, not all on one partition: a sealed batch moves them on.
    const nullPartitions = new Set(read.filter((r) => r.key === null).map((r) => r.partition));
    expect(nullPartitions.size).toBeGreaterThan(1);
  });

  it("keeps call order when send() and sendBatch() calls mix", async () => {
    const { brokers } = await setup();
    const producer = track(new Producer({ brokers, acks: 1 }));
    await producer.send({ topic: "mixed", partition: 0, value: "v0" });
    const singles: Promise<{ offset: number }>[] = [];
    const batches: Promise<void>[] = [];
    let i = 1;
    for (let round = 0; round < 50; round++) {
      singles.push(producer.send({ topic: "mixed", partition: 0, value: `v${i++}` }));
      const batch = Array.from({ length: round % 5 }, () => ({
        topic: "mixed",
        partition: 0,
        value: `v${i++}`,
      }));
      batches.push(producer.sendBatch(batch));
    }
    await Promise.all(batches);
    // A send() resolves with its own offset, counting the batch records before it.
    const offsets = (await Promise.all(singles)).map((m) => m.offset);
    const expected: number[] = [];
    let next = 1;
    for (let round = 0; round < 50; round++) {
      expected.push(next);
      next += 1 + (round % 5);
    }
    expect(offsets).toEqual(expected);
    const read = await readTopic(brokers, "mixed", i);
    expect(read.map((r) => r.value!.toString())).toEqual(Array.from({ length: i }, (_, k) => `v${k}`));
  });

  it("writes every record once with the idempotent producer", async () => {
    const { brokers, admin } = await setup();
    await admin.createTopics([{ name: "idem", partitions: 2 }]);
    const producer = track(new Producer({ brokers }, { lingerMs: 0, batchSize: 500 }));
    const records = Array.from({ length: 2000 }, (_, i) => ({
      topic: "idem",
      partition: i % 2,
      value: `v${i}`,
      headers: { n: String(i) },
    }));
    await Promise.all([producer.sendBatch(records.slice(0, 1000)), producer.sendBatch(records.slice(1000))]);
    const read = await readTopic(brokers, "idem", records.length);
    const parts = byPartition(read);
    expect(parts.get(0)).toEqual(records.filter((r) => r.partition === 0).map((r) => r.value));
    expect(parts.get(1)).toEqual(records.filter((r) => r.partition === 1).map((r) => r.value));
    expect(
      read.every(
        (r) => r.headers.find((h) => h.key === "n")?.value?.toString() === r.value!.toString().slice(1),
      ),
    ).toBe(true);
  });

  it("writes records given as Buffers, a headers array and a timestamp (encoded as given) exactly", async () => {
    const { brokers, admin } = await setup();
    await admin.createTopics([{ name: "ready", partitions: 1 }]);
    const producer = track(new Producer({ brokers }, { lingerMs: 0 }));
    const headers = [{ key: "h", value: Buffer.from("x") }];
    const records: ProducerRecord[] = Array.from({ length: 300 }, (_, i) => ({
      topic: "ready",
      key: i % 3 === 0 ? null : Buffer.from(`k${i}`),
      value: Buffer.from(`v${i}`),
      headers: i % 2 === 0 ? headers : undefined,
      timestamp: 1_000_000 + i,
    }));
    await producer.sendBatch(records);
    // A string header value in an array (untyped callers; checkHeaders allows it) is encoded too,
    // not a failure of the whole batch.
    await producer.sendBatch([
      { topic: "ready-str", value: "s", headers: [{ key: "h", value: "text" as unknown as Buffer }] },
    ]);
    const [str] = await readTopic(brokers, "ready-str", 1);
    expect(str.headers.map((h) => [h.key, h.value?.toString()])).toEqual([["h", "text"]]);
    const read = await readTopic(brokers, "ready", records.length);
    expect(
      read.map((r) => [r.key?.toString() ?? null, r.value!.toString(), r.headers.length, r.timestamp]),
    ).toEqual(
      records.map((r, i) => [r.key?.toString() ?? null, `v${i}`, i % 2 === 0 ? 1 : 0, 1_000_000 + i]),
    );
  });

  it("rejects a bad topic, a bad partition and a closed producer, queueing nothing", async () => {
    const { brokers, admin } = await setup();
    await admin.createTopics([{ name: "two", partitions: 2 }]);
    const producer = new Producer({ brokers, acks: 1, allowAutoTopicCreation: false });
    const unknown = producer.sendBatch([
      { topic: "two", value: "a" },
      { topic: "nope", value: "b" },
    ]);
    await expect(unknown).rejects.toBeInstanceOf(KafkaError);
    await expect(unknown).rejects.toMatchObject({ code: "UNKNOWN_TOPIC_OR_PARTITION" });
    await expect(
      producer.sendBatch([
        { topic: "two", partition: 1, value: "a" },
        { topic: "two", partition: 2, value: "b" },
      ]),
    ).rejects.toMatchObject({ code: "UNKNOWN_TOPIC_OR_PARTITION", message: /no partition 2/ });
    await expect(producer.sendBatch([])).resolves.toBeUndefined();
    await producer.flush();
    expect((await admin.topicOffsets("two")).map((p) => p.latest)).toEqual([0, 0]);
    await producer.close();
    const closed = producer.sendBatch([{ topic: "two", value: "c" }]);
    await expect(closed).rejects.toBeInstanceOf(ClientError);
    await expect(closed).rejects.toMatchObject({ code: "CLOSED" });
  });

  it("rejects with the broker's error when one record is refused", async () => {
    const { brokers } = await setup();
    const producer = track(new Producer({ brokers, acks: 1 }, { batchSize: 1 }));
    const call = producer.sendBatch([
      { topic: "big", partition: 0, value: "small" },
      { topic: "big", partition: 0, value: Buffer.alloc(1024 * 1024 + 100) },
    ]);
    await expect(call).rejects.toBeInstanceOf(KafkaError);
    await expect(call).rejects.toMatchObject({ code: "MESSAGE_TOO_LARGE" });
    // The broker's errorMessage starts with the code too: the error names it once.
    const message = await call.then(
      () => "",
      (err: Error) => err.message,
    );
    expect(message).toMatch(/^MESSAGE_TOO_LARGE: big-0: /);
    expect(message.split("MESSAGE_TOO_LARGE")).toHaveLength(2);
  });

  it("queues a call larger than bufferMemory as memory frees, without waiting out the linger", async () => {
    const { brokers, admin } = await setup();
    const producer = track(
      new Producer({ brokers, acks: 1 }, { bufferMemory: 4096, lingerMs: 60_000, maxBlockMs: 10_000 }),
    );
    const records = Array.from({ length: 500 }, (_, i) => ({
      topic: "small-buffer",
      value: `v${i}`.padEnd(100, "."),
    }));
    const call = producer.sendBatch(records);
    // 4096 bytes hold 33 of these records: the rest wait for memory, which frees only because a
    // waiting call seals the lingering batches. Only the last batch may wait for its linger.
    const fewerThan = records.length - 4096 / 124;
    const deadline = Date.now() + 10_000;
    let written = 0;
    while (written < fewerThan && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      written = (await admin.topicOffsets("small-buffer").catch(() => [{ latest: 0 }]))[0].latest;
    }
    expect(written).toBeGreaterThanOrEqual(fewerThan);
    await producer.flush();
    await call;
    const read = await readTopic(brokers, "small-buffer", records.length);
    expect(read.map((r) => r.value!.toString())).toEqual(records.map((r) => r.value));

    const tooBig = producer.sendBatch([
      { topic: "small-buffer", value: "fits" },
      { topic: "small-buffer", value: Buffer.alloc(5000) },
    ]);
    await expect(tooBig).rejects.toBeInstanceOf(ClientError);
    await expect(tooBig).rejects.toMatchObject({ code: "BUFFER_FULL" });
    await producer.flush();
    expect(await readTopic(brokers, "small-buffer", records.length + 1, 1000)).toHaveLength(records.length);
  });

  it("fails with BUFFER_FULL when no memory frees within maxBlockMs", async () => {
    const { brokers, admin } = await setup();
    // acks=-1 with min.insync.replicas=2 on one broker: every produce is refused (retriable) and
    // retried, so the records queued first keep their memory.
    await admin.createTopics([{ name: "stuck", configs: { "min.insync.replicas": "2" } }]);
    const producer = track(
      new Producer(
        { brokers, retry: { initialBackoffMs: 20, maxBackoffMs: 50 } },
        { bufferMemory: 4096, maxBlockMs: 300, retries: 1000 },
      ),
    );
    const records = Array.from({ length: 100 }, (_, i) => ({ topic: "stuck", value: `v${i}`.padEnd(100) }));
    const call = producer.sendBatch(records);
    await expect(call).rejects.toBeInstanceOf(ClientError);
    await expect(call).rejects.toMatchObject({ code: "BUFFER_FULL" });
    // Once the topic accepts them, the records that were queued are written, once and in order.
    await admin.alterTopicConfigs("stuck", { "min.insync.replicas": null });
    await producer.flush();
    const read = await readTopic(brokers, "stuck", records.length, 1000);
    expect(read.length).toBeGreaterThan(0);
    expect(read.length).toBeLessThan(records.length);
    expect(read.map((r) => r.value!.toString())).toEqual(records.slice(0, read.length).map((r) => r.value));
  });
});
