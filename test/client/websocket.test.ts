/** The client over the WebSocket door (`ws://host:port/kafka`), as browsers and HTTP-only networks use it. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Admin, Consumer, type ConsumerRecord, Producer } from "../../client/index.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";

let tb: TestBroker;
let url: string;
beforeAll(async () => {
  tb = await startTestBroker();
  url = `ws://127.0.0.1:${tb.broker.httpPort}/kafka`;
});
afterAll(async () => tb.stop());

describe("client over WebSocket", () => {
  it("administers, produces with every codec and consumes through ws://", async () => {
    const admin = new Admin({ brokers: [url] });
    await admin.createTopics([{ name: "ws-t", partitions: 2 }]);
    expect(await admin.listTopics()).toContain("ws-t");
    const producer = new Producer({ brokers: [url] }, { compression: "lz4" });
    const sent = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        producer.send({ topic: "ws-t", key: `k${i % 5}`, value: `v${i}` }),
      ),
    );
    await producer.close();
    const consumer = new Consumer({ brokers: [url] }, { maxWaitMs: 50 });
    await consumer.assignTopic("ws-t", "earliest");
    const got: ConsumerRecord[] = [];
    const deadline = Date.now() + 10_000;
    while (got.length < 200 && Date.now() < deadline) {
      const batch = await consumer.nextBatch(Math.max(1, deadline - Date.now()));
      if (batch) got.push(...batch.records);
    }
    await consumer.close();
    expect(got).toHaveLength(200);
    const byValue = new Map(got.map((r) => [r.value!.toString(), r]));
    for (const [i, m] of sent.entries()) expect(byValue.get(`v${i}`)?.offset).toBe(m.offset);
    const offsets = await admin.topicOffsets("ws-t");
    expect(offsets.reduce((n, o) => n + o.latest, 0)).toBe(200);
    await admin.close();
  });

  it("fails to connect with a clear, retriable error when nothing listens", async () => {
    const admin = new Admin({ brokers: ["ws://127.0.0.1:1/kafka"], retry: { retries: 0 } });
    await expect(admin.listTopics()).rejects.toMatchObject({ code: "NO_BROKER_AVAILABLE", retriable: true });
    await admin.close();
  });
});
