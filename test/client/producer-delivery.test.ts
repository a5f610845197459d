/**
 * The producer's delivery guarantees against one broker, with faults set on purpose:
 * - an idempotent partition's retry after a lost answer is recognised batch by batch, with more
 *   batches sealed behind it meanwhile (each request carries one batch per partition, as Kafka's
 *   clients send: a request of several, its first one a duplicate, is refused);
 * - a batch that fails for good leaves no gap that wedges its partition: the producer takes a new
 *   id and the records after it are written;
 * - retriable errors are retried until deliveryTimeoutMs, then fail with REQUEST_TIMEOUT naming
 *   the last error; an InitProducerId that meets one is retried too.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Admin, Consumer, type ConsumerRecord, Producer } from "../../client/index.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";

const PRODUCE = 0;
const INIT_PRODUCER_ID = 22;

let tb: TestBroker | null = null;
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c().catch(() => {});
  await tb?.stop();
  tb = null;
});

function track<T extends { close(): Promise<void> }>(x: T): T {
  closers.push(() => x.close());
  return x;
}

async function setup(topic: string, configs: Record<string, string> = {}): Promise<string[]> {
  tb = await startTestBroker();
  const brokers = [`127.0.0.1:${tb.port}`];
  const admin = new Admin({ brokers });
  await admin.createTopics([{ name: topic, configs }]);
  await admin.close();
  return brokers;
}

async function readValues(brokers: string[], topic: string, count: number): Promise<string[]> {
  const consumer = track(new Consumer({ brokers }, { maxWaitMs: 50 }));
  await consumer.assign([{ topic, partition: 0, start: "earliest" }]);
  const out: ConsumerRecord[] = [];
  while (out.length < count) {
    const batch = await consumer.nextBatch(5_000);
    if (!batch) break;
    out.push(...batch.records);
  }
  // Whatever more there is (a duplicate) shows up here too.
  const extra = await consumer.nextBatch(200);
  return [...out, ...(extra?.records ?? [])].map((r) => r.value?.toString() ?? "");
}

describe("producer delivery", () => {
  it("an idempotent retry after a lost answer, with batches sealed behind it, writes each record once", async () => {
    const topic = "lost-answer";
    const brokers = await setup(topic);
    // The first Produce runs and its answer is lost (the connection closes instead).
    tb!.broker.dispatcher.faults.add({ apiKey: PRODUCE, action: "drop", times: 1 });
    const producer = track(
      new Producer(
        { brokers, retry: { initialBackoffMs: 10, maxBackoffMs: 20 } },
        { acks: -1, idempotent: true, lingerMs: 0, batchSize: 300 },
      ),
    );
    const first = producer.send({ topic, partition: 0, value: "v0" });
    // The first request is on its way with one batch; these seal into several batches behind it.
    await new Promise((resolve) => setImmediate(resolve));
    const rest = Array.from({ length: 60 }, (_, i) =>
      producer.send({ topic, partition: 0, value: `v${i + 1}`.padEnd(40, ".") }),
    );
    const acked = await Promise.all([first, ...rest]);
    expect(tb!.broker.dispatcher.faults.hits.get(PRODUCE)).toBe(1);
    expect(acked.map((m) => m.offset)).toEqual(Array.from({ length: 61 }, (_, i) => i));
    const values = await readValues(brokers, topic, 61);
    expect(values.map((v) => v.replace(/\.+$/, ""))).toEqual(Array.from({ length: 61 }, (_, i) => `v${i}`));
  });

  it("retries an InitProducerId whose broker went away, so the sends waiting on it are written", async () => {
    const topic = "init-retried";
    const brokers = await setup(topic);
    // The first InitProducerId finds its connection cut (its broker killed, say).
    tb!.broker.dispatcher.faults.add({ apiKey: INIT_PRODUCER_ID, action: "close", times: 1 });
    const producer = track(
      new Producer({ brokers, retry: { initialBackoffMs: 10, maxBackoffMs: 20 } }, { acks: -1 }),
    );
    const acked = await Promise.all(
      Array.from({ length: 5 }, (_, i) => producer.send({ topic, partition: 0, value: `i${i}` })),
    );
    expect(tb!.broker.dispatcher.faults.hits.get(INIT_PRODUCER_ID)).toBe(1);
    expect(acked.map((m) => m.offset)).toEqual([0, 1, 2, 3, 4]);
  });

  it("a batch refused for good (MESSAGE_TOO_LARGE) leaves no gap: the records after it are written", async () => {
    const topic = "gap";
    const brokers = await setup(topic, { "max.message.bytes": "2000" });
    const producer = track(new Producer({ brokers }, { acks: -1, idempotent: true, lingerMs: 0 }));
    for (let i = 0; i < 5; i++) await producer.send({ topic, partition: 0, value: `a${i}` });
    await expect(producer.send({ topic, partition: 0, value: Buffer.alloc(5000, 1) })).rejects.toMatchObject({
      code: "MESSAGE_TOO_LARGE",
    });
    const after = await Promise.all(
      Array.from({ length: 5 }, (_, i) => producer.send({ topic, partition: 0, value: `b${i}` })),
    );
    expect(after.map((m) => m.offset)).toEqual([5, 6, 7, 8, 9]);
    expect(await readValues(brokers, topic, 10)).toEqual([
      ...Array.from({ length: 5 }, (_, i) => `a${i}`),
      ...Array.from({ length: 5 }, (_, i) => `b${i}`),
    ]);
  });

  it("retries a retriable error until deliveryTimeoutMs, then fails with REQUEST_TIMEOUT naming it", async () => {
    const topic = "never-enough";
    // acks=-1 with min.insync.replicas=2 on one broker: NOT_ENOUGH_REPLICAS on every attempt.
    const brokers = await setup(topic, { "min.insync.replicas": "2" });
    const producer = track(
      new Producer(
        { brokers, retry: { initialBackoffMs: 10, maxBackoffMs: 20 } },
        { acks: -1, deliveryTimeoutMs: 300 },
      ),
    );
    const err = await producer.send({ topic, partition: 0, value: "x" }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "REQUEST_TIMEOUT" });
    expect(String(err)).toMatch(/deliveryTimeoutMs \(300 ms\).*NOT_ENOUGH_REPLICAS/);
    expect(tb!.broker.dispatcher.faults.hits.size).toBe(0);
  });

  it("refuses a deliveryTimeoutMs that is not a positive integer", () => {
    expect(() => new Producer({ brokers: ["127.0.0.1:1"] }, { deliveryTimeoutMs: 0 })).toThrow(
      /deliveryTimeoutMs 0/,
    );
  });
});
