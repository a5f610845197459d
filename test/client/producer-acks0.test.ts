/**
 * acks=0 gets no answer, so the producer's only proof that a record left is its socket write:
 * flush() and close() wait for every request's write, and close() half-closes the connection
 * instead of destroying it with bytes unsent. Counted on the broker with ListOffsets.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Admin, Producer } from "../../client/index.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { waitFor } from "../helpers/wait.js";

let tb: TestBroker | null = null;
afterEach(async () => {
  await tb?.stop();
  tb = null;
});

async function stored(admin: Admin, topic: string): Promise<number> {
  const latest = await admin.listOffsets(topic, "latest");
  return latest.reduce((n, p) => n + p.offset, 0);
}

/** Polls until `topic` holds `expected` records (the broker appends acks=0 requests as it reads them). */
async function waitStored(admin: Admin, topic: string, expected: number): Promise<number> {
  let n = 0;
  await waitFor(async () => {
    n = await stored(admin, topic);
    return n >= expected;
  }, `${expected} records in ${topic}`);
  return n;
}

describe("acks=0", () => {
  it("close() sends every record accepted before it", async () => {
    tb = await startTestBroker();
    const brokers = [`127.0.0.1:${tb.port}`];
    const admin = new Admin({ brokers });
    await admin.createTopics([{ name: "zero", partitions: 2 }]);
    const value = Buffer.alloc(500, "v");
    for (let round = 0; round < 3; round++) {
      const producer = new Producer({ brokers }, { acks: 0, lingerMs: 0 });
      const sends: Promise<unknown>[] = [];
      for (let i = 0; i < 5_000; i++) sends.push(producer.send({ topic: "zero", key: `k${i}`, value }));
      await producer.close();
      await Promise.all(sends);
      expect(await waitStored(admin, "zero", 5_000 * (round + 1))).toBe(5_000 * (round + 1));
    }
    await admin.close();
  });

  it("flush() resolves once every request is written, sendBatch() too", async () => {
    tb = await startTestBroker();
    const brokers = [`127.0.0.1:${tb.port}`];
    const admin = new Admin({ brokers });
    await admin.createTopics([{ name: "zero-b", partitions: 1 }]);
    const producer = new Producer({ brokers }, { acks: 0 });
    const records = Array.from({ length: 4_000 }, (_, i) => ({ topic: "zero-b", value: `line ${i}` }));
    const batch = producer.sendBatch(records);
    await producer.flush();
    await batch;
    // Nothing of it is left in the connection's socket: a hard cut now loses nothing.
    const conn = await producer.cluster.brokerConnection(1);
    (conn as unknown as { transport: { socket: { writableLength: number } } }).transport.socket
      .writableLength === 0 || expect.fail("bytes left in the socket after flush()");
    await producer.close();
    expect(await waitStored(admin, "zero-b", 4_000)).toBe(4_000);
    await admin.close();
  });
});
