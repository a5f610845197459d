import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Admin, ClientError, Consumer, type ConsumerRecord, Producer } from "../../client/index.js";
import { partitionForKey } from "../../protocol/murmur2.js";
import { ControlRecordType, encodeControlKey, encodeRecordBatch } from "../../protocol/record-batch.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { waitFor } from "../helpers/wait.js";

let tb: TestBroker | null = null;
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c().catch(() => {});
  await tb?.stop();
  tb = null;
});

type Transport = "tcp" | "ws";
let transport: Transport = "tcp";

function addressOf(b: TestBroker): string {
  return transport === "ws" ? `ws://127.0.0.1:${b.broker.httpPort}/kafka` : `127.0.0.1:${b.port}`;
}

async function setup(flags: Record<string, unknown> = {}) {
  tb = await startTestBroker(flags);
  const brokers = [addressOf(tb)];
  const admin = new Admin({ brokers });
  closers.push(() => admin.close());
  return { brokers, admin };
}

function track<T extends { close(): Promise<void> }>(x: T): T {
  closers.push(() => x.close());
  return x;
}

async function readAll(consumer: Consumer, count: number, timeoutMs = 10_000): Promise<ConsumerRecord[]> {
  const out: ConsumerRecord[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < count && Date.now() < deadline) {
    const batch = await consumer.nextBatch(Math.max(1, deadline - Date.now()));
    if (!batch) break;
    out.push(...batch.records);
  }
  return out;
}

describe("Admin", () => {
  beforeEach(() => {
    transport = "tcp";
  });

  it("creates, lists, describes, grows, configures and deletes topics", async () => {
    const { admin } = await setup();
    await admin.createTopics([
      { name: "a", partitions: 3, configs: { "retention.ms": "60000" } },
      { name: "b" },
    ]);
    expect(await admin.listTopics()).toEqual(["a", "b"]);
    const [a] = await admin.describeTopics(["a"]);
    expect(a.partitions.map((p) => [p.partition, p.leader])).toEqual([
      [0, 1],
      [1, 1],
      [2, 1],
    ]);
    await expect(admin.createTopics([{ name: "a" }])).rejects.toMatchObject({ code: "TOPIC_ALREADY_EXISTS" });
    await admin.createPartitions("a", 5);
    expect((await admin.describeTopics(["a"]))[0].partitions).toHaveLength(5);
    const configs = await admin.describeTopicConfigs("a");
    expect(configs.find((c) => c.name === "retention.ms")?.value).toBe("60000");
    await admin.alterTopicConfigs("a", { "retention.ms": "120000", "segment.bytes": null });
    expect((await admin.describeTopicConfigs("a")).find((c) => c.name === "retention.ms")?.value).toBe(
      "120000",
    );
    expect(await admin.topicOffsets("a")).toHaveLength(5);
    await admin.deleteTopics(["b"]);
    expect(await admin.listTopics()).toEqual(["a"]);
    await expect(admin.deleteTopics(["nope"])).rejects.toMatchObject({
      code: "UNKNOWN_TOPIC_OR_PARTITION",
      retriable: true,
    });
  });
});

describe.each(["tcp", "ws"] as const)("Producer and Consumer over %s", (t) => {
  beforeEach(() => {
    transport = t;
  });

  it("keeps per-partition order, sends keys where the Java client would, and reads everything back", async () => {
    const { brokers, admin } = await setup();
    await admin.createTopics([{ name: "orders", partitions: 4 }]);
    const producer = track(new Producer({ brokers }, { lingerMs: 2 }));
    const sent = await Promise.all(
      Array.from({ length: 400 }, (_, i) =>
        producer.send({
          topic: "orders",
          key: `customer-${i % 13}`,
          value: `order-${i}`,
          headers: { n: String(i) },
        }),
      ),
    );
    for (const [i, m] of sent.entries()) {
      expect(m.partition).toBe(partitionForKey(Buffer.from(`customer-${i % 13}`), 4));
    }
    const consumer = track(new Consumer({ brokers }, { maxWaitMs: 50 }));
    await consumer.assignTopic("orders", "earliest");
    const got = await readAll(consumer, 400);
    expect(got).toHaveLength(400);
    for (let p = 0; p < 4; p++) {
      const values = got.filter((r) => r.partition === p).map((r) => Number(r.value!.toString().slice(6)));
      expect(values).toEqual([...values].sort((x, y) => x - y));
    }
    const byValue = new Map(got.map((r) => [r.value!.toString(), r]));
    for (const [i, m] of sent.entries()) {
      const r = byValue.get(`order-${i}`)!;
      expect([r.partition, r.offset]).toEqual([m.partition, m.offset]);
      expect(r.headers[0].value?.toString()).toBe(String(i));
    }
  });

  it("starts from earliest, latest, an offset, a timestamp; seeks, pauses and resumes", async () => {
    const { brokers } = await setup();
    const producer = track(new Producer({ brokers }));
    const t0 = Date.now() - 10_000;
    for (let i = 0; i < 10; i++)
      await producer.send({ topic: "t", partition: 0, value: `v${i}`, timestamp: t0 + i * 100 });
    const consumer = track(new Consumer({ brokers }, { maxWaitMs: 50 }));
    const first = async () => (await readAll(consumer, 1, 3000))[0]?.offset;
    await consumer.assign([{ topic: "t", partition: 0, start: "earliest" }]);
    expect(await first()).toBe(0);
    await consumer.assign([{ topic: "t", partition: 0, start: 7 }]);
    expect(await first()).toBe(7);
    await consumer.assign([{ topic: "t", partition: 0, start: { timestamp: t0 + 450 } }]);
    expect(await first()).toBe(5);
    await consumer.assign([{ topic: "t", partition: 0, start: -2 }]);
    expect(await first()).toBe(8);
    await consumer.assign([{ topic: "t", partition: 0, start: "latest" }]);
    await producer.send({ topic: "t", partition: 0, value: "new" });
    expect(await first()).toBe(10);
    await consumer.seek("t", 0, 3);
    expect(await first()).toBe(3);
    consumer.pause([{ topic: "t", partition: 0 }]);
    await producer.send({ topic: "t", partition: 0, value: "while paused" });
    expect(await readAll(consumer, 1, 300)).toEqual([]);
    consumer.resume([{ topic: "t", partition: 0 }]);
    expect((await readAll(consumer, 1, 3000)).length).toBe(1);
  });

  it("tells a record's timestamp type: CreateTime as sent, LogAppendTime as the broker stamped it", async () => {
    const { brokers, admin } = await setup();
    await admin.createTopics([
      { name: "ts-create", partitions: 1 },
      { name: "ts-append", partitions: 1, configs: { "message.timestamp.type": "LogAppendTime" } },
    ]);
    const producer = track(new Producer({ brokers }));
    const before = Date.now();
    for (const topic of ["ts-create", "ts-append"])
      await producer.sendBatch([1, 2].map((i) => ({ topic, value: `v${i}`, timestamp: 1_000 + i })));
    const read = async (topic: string) => {
      const consumer = track(new Consumer({ brokers }, { maxWaitMs: 50 }));
      await consumer.assign([{ topic, partition: 0, start: "earliest" }]);
      return readAll(consumer, 2);
    };
    const created = await read("ts-create");
    expect(created.map((r) => [r.timestampType, r.timestamp])).toEqual([
      ["CreateTime", 1_001],
      ["CreateTime", 1_002],
    ]);
    const appended = await read("ts-append");
    expect(appended.map((r) => r.timestampType)).toEqual(["LogAppendTime", "LogAppendTime"]);
    for (const r of appended) expect(r.timestamp).toBeGreaterThanOrEqual(before);
  });

  it("keeps a partition's records in order with several produce requests in flight", async () => {
    const { brokers, admin } = await setup();
    await admin.createTopics([{ name: "inflight", partitions: 2 }]);
    expect(() => new Producer({ brokers, acks: 1, maxInFlightPerPartition: 0 })).toThrow(
      /maxInFlightPerPartition/,
    );
    const producer = track(
      new Producer({ brokers, acks: 1, maxInFlightPerPartition: 4, lingerMs: 0, batchSize: 200 }),
    );
    const sent = await Promise.all(
      Array.from({ length: 2000 }, (_, i) =>
        producer.send({ topic: "inflight", partition: i % 2, value: Buffer.from(String(i)) }),
      ),
    );
    for (const p of [0, 1]) {
      const offsets = sent.filter((m) => m.partition === p).map((m) => m.offset);
      expect(offsets).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    }
    const consumer = track(new Consumer({ brokers, maxWaitMs: 50 }));
    await consumer.assign([{ topic: "inflight", partition: 1, start: "earliest" }]);
    const values = (await readAll(consumer, 1000)).map((r) => Number(r.value?.toString()));
    expect(values).toEqual(Array.from({ length: 1000 }, (_, i) => 2 * i + 1));
  });

  it("sends with every compression codec and reads them back", async () => {
    const { brokers } = await setup();
    for (const compression of ["none", "gzip", "snappy", "lz4", "zstd"] as const) {
      const producer = track(new Producer({ brokers }, { compression }));
      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          producer.send({ topic: `z-${compression}`, key: "k", value: `${compression}-${i}`.repeat(20) }),
        ),
      );
      const consumer = track(new Consumer({ brokers }, { maxWaitMs: 50 }));
      await consumer.assignTopic(`z-${compression}`, "earliest");
      const got = await readAll(consumer, 50);
      expect(got.map((r) => r.value!.toString())).toEqual(
        Array.from({ length: 50 }, (_, i) => `${compression}-${i}`.repeat(20)),
      );
    }
  });

  it("sends records near the size limit and refuses larger ones with MESSAGE_TOO_LARGE", async () => {
    const { brokers } = await setup();
    const producer = track(new Producer({ brokers }, { batchSize: 1 }));
    const big = Buffer.alloc(1024 * 1024 - 200, 7);
    const m = await producer.send({ topic: "big", value: big });
    await expect(
      producer.send({ topic: "big", value: Buffer.alloc(1024 * 1024 + 100) }),
    ).rejects.toMatchObject({
      code: "MESSAGE_TOO_LARGE",
    });
    const consumer = track(new Consumer({ brokers }, { maxWaitMs: 50 }));
    await consumer.assign([{ topic: "big", partition: 0, start: m.offset }]);
    const [r] = await readAll(consumer, 1);
    expect(r.value!.equals(big)).toBe(true);
  });

  it("fails send() with BUFFER_FULL when no memory frees in time", async () => {
    const { brokers, admin } = await setup();
    // acks=-1 with min.insync.replicas=2 on one broker: NOT_ENOUGH_REPLICAS, retried, so the first
    // records keep their memory (a blocked send() seals lingering batches, so linger cannot).
    await admin.createTopics([{ name: "bp", configs: { "min.insync.replicas": "2" } }]);
    const producer = track(
      new Producer(
        { brokers, retry: { initialBackoffMs: 20, maxBackoffMs: 50 } },
        { bufferMemory: 10_000, maxBlockMs: 200, lingerMs: 60_000, batchSize: 1 << 20, retries: 1000 },
      ),
    );
    const pending = Array.from({ length: 5 }, () =>
      producer.send({ topic: "bp", value: Buffer.alloc(1500) }),
    );
    await expect(producer.send({ topic: "bp", value: Buffer.alloc(5000) })).rejects.toBeInstanceOf(
      ClientError,
    );
    await expect(producer.send({ topic: "bp", value: Buffer.alloc(5000) })).rejects.toMatchObject({
      code: "BUFFER_FULL",
    });
    await admin.alterTopicConfigs("bp", { "min.insync.replicas": null });
    await producer.flush();
    expect((await Promise.all(pending)).map((m) => m.offset)).toEqual([0, 1, 2, 3, 4]);
  });

  it("reconnects after a broker restart and writes every record once (idempotent retries)", async () => {
    const { brokers } = await setup();
    const dataDir = tb!.dataDir;
    const port = tb!.port;
    const httpPort = tb!.broker.httpPort;
    const producer = track(
      new Producer(
        { brokers, retry: { initialBackoffMs: 50, maxBackoffMs: 200 } },
        { lingerMs: 1, retries: 50 },
      ),
    );
    const first = await Promise.all(
      Array.from({ length: 50 }, (_, i) => producer.send({ topic: "r", partition: 0, value: `a${i}` })),
    );
    expect(first.at(-1)!.offset).toBe(49);
    await tb!.stop(true);
    const during = Array.from({ length: 50 }, (_, i) =>
      producer.send({ topic: "r", partition: 0, value: `b${i}` }),
    );
    await new Promise((r) => setTimeout(r, 300));
    tb = await startTestBroker({ "kafka.port": port, "http.port": httpPort }, dataDir);
    const second = await Promise.all(during);
    expect(second.map((m) => m.offset)).toEqual(Array.from({ length: 50 }, (_, i) => 50 + i));
    const consumer = track(new Consumer({ brokers }, { maxWaitMs: 50 }));
    await consumer.assign([{ topic: "r", partition: 0, start: "earliest" }]);
    const got = await readAll(consumer, 100);
    expect(got.map((r) => r.value!.toString())).toEqual([
      ...Array.from({ length: 50 }, (_, i) => `a${i}`),
      ...Array.from({ length: 50 }, (_, i) => `b${i}`),
    ]);
  });

  it("sends with acks 0 and 1, and reads with run({ eachBatch }) past control batches", async () => {
    const { brokers } = await setup();
    const p1 = track(new Producer({ brokers }, { acks: 1 }));
    const m = await p1.send({ topic: "acks", partition: 0, value: "one" });
    expect(m.offset).toBe(0);
    const p0 = track(new Producer({ brokers }, { acks: 0 }));
    expect((await p0.send({ topic: "acks", partition: 0, value: "zero" })).offset).toBe(-1);
    // A transaction marker in the log, as a transaction coordinator writes it: readers skip it.
    const partition = tb!.broker.topics.partition("acks", 0)!;
    await waitFor(() => partition.logEndOffset >= 2, "both acks=0 and acks=1 records in the log");
    await partition.appendAsLeader(
      encodeRecordBatch([{ key: encodeControlKey(ControlRecordType.Commit), value: Buffer.alloc(6) }], {
        control: true,
      }),
      { acks: 1, allowControl: true },
    );
    await p1.send({ topic: "acks", partition: 0, value: "after" });
    const consumer = track(new Consumer({ brokers }, { maxWaitMs: 50 }));
    await consumer.assign([{ topic: "acks", partition: 0, start: "earliest" }]);
    const seen: string[] = [];
    const running = consumer.run({
      eachBatch: (batch) => {
        for (const r of batch.records) seen.push(`${r.offset}:${r.value}`);
        if (seen.length >= 3) void consumer.stop();
      },
    });
    await running;
    expect(seen).toEqual(["0:one", "1:zero", "3:after"]);
  });
});
