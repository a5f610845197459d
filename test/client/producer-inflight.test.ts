/**
 * The producer's bound on produce requests in flight per broker (`maxInFlightPerBroker`): batches
 * of many partitions sealed while the broker is at the bound wait and share its next request,
 * and every record still lands once, in order, in its partition.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Admin, ClientError, Consumer, type ConsumerRecord, Producer } from "../../client/index.js";
import type { ApiKey, RequestOf } from "../../protocol/types/index.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";

let tb: TestBroker | null = null;
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c().catch(() => {});
  await tb?.stop();
  tb = null;
});

interface Watch {
  requests: number;
  maxInFlight: number;
  partitionsPerRequest: number[];
}

/** Counts the producer's Produce requests on its connection to broker 1. */
async function watchProduce(producer: Producer): Promise<Watch> {
  const conn = await producer.cluster.brokerConnection(1);
  const watch: Watch = { requests: 0, maxInFlight: 0, partitionsPerRequest: [] };
  let inFlight = 0;
  const original = conn.request.bind(conn);
  conn.request = (async (apiKey: ApiKey, body: RequestOf<ApiKey>, ...rest: unknown[]) => {
    if (apiKey !== 0) return original(apiKey, body, ...(rest as []));
    watch.requests++;
    const produce = body as RequestOf<0>;
    const topics = produce.topicData;
    watch.partitionsPerRequest.push(topics.reduce((n, t) => n + t.partitionData.length, 0));
    inFlight++;
    watch.maxInFlight = Math.max(watch.maxInFlight, inFlight);
    try {
      return await original(0, produce, ...(rest as []));
    } finally {
      inFlight--;
    }
  }) as typeof conn.request;
  return watch;
}

describe("produce requests in flight per broker", () => {
  it("keeps at most maxInFlightPerBroker, packs the rest into later requests, loses and reorders nothing", async () => {
    tb = await startTestBroker();
    const brokers = [`127.0.0.1:${tb.port}`];
    const admin = new Admin({ brokers });
    closers.push(() => admin.close());
    const partitions = 40;
    await admin.createTopics([{ name: "fan", partitions }]);
    const producer = new Producer({ brokers }, { acks: 1, lingerMs: 0, maxInFlightPerBroker: 2 });
    closers.push(() => producer.close());
    await producer.cluster.topic("fan");
    const watch = await watchProduce(producer);

    const perPartition = 25;
    const sends: Promise<unknown>[] = [];
    for (let round = 0; round < perPartition; round++) {
      for (let p = 0; p < partitions; p++) {
        sends.push(producer.send({ topic: "fan", partition: p, value: `${p}:${round}` }));
      }
      // Each round seals on its own turn: without the bound, a request per round at least.
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(sends);
    expect(watch.maxInFlight).toBeLessThanOrEqual(2);
    expect(watch.maxInFlight).toBeGreaterThanOrEqual(1);
    // Requests carried many partitions each.
    expect(Math.max(...watch.partitionsPerRequest)).toBeGreaterThan(1);

    const consumer = new Consumer({ brokers });
    closers.push(() => consumer.close());
    await consumer.assign(
      Array.from({ length: partitions }, (_, p) => ({ topic: "fan", partition: p, start: 0 })),
    );
    const got: ConsumerRecord[] = [];
    const deadline = Date.now() + 10_000;
    while (got.length < partitions * perPartition && Date.now() < deadline) {
      const batch = await consumer.nextBatch(1000);
      if (batch) got.push(...batch.records);
    }
    expect(got.length).toBe(partitions * perPartition);
    for (let p = 0; p < partitions; p++) {
      const values = got.filter((r) => r.partition === p).map((r) => r.value?.toString());
      expect(values).toEqual(Array.from({ length: perPartition }, (_, i) => `${p}:${i}`));
    }
  });

  it("refuses a bound below 1", () => {
    expect(() => new Producer({ brokers: ["127.0.0.1:1"] }, { maxInFlightPerBroker: 0 })).toThrow(
      ClientError,
    );
  });
});
