import { afterEach, describe, expect, it } from "vitest";
import { MAX_FETCH_WAIT_MS } from "../../broker/api/fetch.js";
import { errorCode } from "../../protocol/errors.js";
import { decodeBatches, encodeRecordBatch } from "../../protocol/record-batch.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { TestClient } from "../helpers/kafka-client.js";
import { fetchRequest, produceRequest } from "../helpers/requests.js";
import { waitFor, within } from "../helpers/wait.js";

let tb: TestBroker | null = null;
let client: TestClient | null = null;
afterEach(async () => {
  client?.close();
  await tb?.stop();
  tb = null;
  client = null;
});

async function start(flags: Record<string, unknown> = {}): Promise<TestClient> {
  tb = await startTestBroker(flags);
  client = await TestClient.connect(tb.port);
  return client;
}

const produceBody = (topic: string, partition: number, records: Buffer, acks = -1) =>
  produceRequest(topic, records, acks, partition);

const fetchBody = (
  topic: string,
  partition: number,
  fetchOffset: number,
  extra: Record<string, unknown> = {},
) => ({
  ...fetchRequest(topic, fetchOffset, { partition }),
  ...extra,
});

const batch = (values: string[], timestamp = Date.now()) =>
  encodeRecordBatch(
    values.map((v, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(v), timestamp: timestamp + i })),
  );

describe("start-up", () => {
  it("fails cleanly when a port is taken, releasing the data directory", async () => {
    const first = await startTestBroker();
    const dataDir = `${first.dataDir}-second`;
    await expect(startTestBroker({ "http.port": first.broker.httpPort }, dataDir)).rejects.toMatchObject({
      code: "EADDRINUSE",
    });
    await first.stop();
    // The failed start closed its logs: the same directory opens again.
    const again = await startTestBroker({}, dataDir);
    await again.stop();
  });
});

describe("ApiVersions and Metadata", () => {
  it("advertises the served APIs and answers an unknown version with the v0 error reply", async () => {
    const c = await start();
    for (const version of [0, 3]) {
      const r = await c.request(18, version, {
        clientSoftwareName: "samsa-test",
        clientSoftwareVersion: "1.0",
      });
      expect(r.errorCode).toBe(0);
      const keys = (r.apiKeys as { apiKey: number; maxVersion: number }[]).map((k) => k.apiKey);
      expect(keys).toEqual(expect.arrayContaining([0, 1, 2, 3, 18, 22]));
    }
  });

  it("auto-creates topics on metadata requests, honours allowAutoTopicCreation and validates names", async () => {
    const c = await start({ "num.partitions": 3 });
    const created = await c.request(3, 9, { topics: [{ name: "orders" }], allowAutoTopicCreation: true });
    const topic = created.topics[0];
    expect(topic.errorCode).toBe(0);
    expect(topic.partitions).toHaveLength(3);
    expect(created.brokers).toEqual([{ nodeId: 1, host: "127.0.0.1", port: tb!.port, rack: null }]);
    const notCreated = await c.request(3, 9, { topics: [{ name: "nope" }], allowAutoTopicCreation: false });
    expect(notCreated.topics[0].errorCode).toBe(errorCode("UNKNOWN_TOPIC_OR_PARTITION"));
    const bad = await c.request(3, 1, { topics: [{ name: "bad/name" }] });
    expect(bad.topics[0].errorCode).toBe(errorCode("INVALID_TOPIC_EXCEPTION"));
    const all = await c.request(3, 12, { topics: null, allowAutoTopicCreation: false });
    expect(all.topics.map((t: { name: string }) => t.name)).toEqual(["orders"]);
    expect(all.topics[0].topicId).toMatch(/^[0-9a-f]{32}$/);
    expect(all.clusterId).toBeTruthy();
  });
});

describe("Produce, Fetch and ListOffsets", () => {
  it("produces and fetches the same bytes at old and flexible versions", async () => {
    const c = await start();
    const sent = [batch(["a", "b"]), batch(["c"]), batch(["d", "e", "f"])];
    const offsets: number[] = [];
    for (const [i, records] of sent.entries()) {
      const version = [3, 7, 9][i];
      const r = await c.request(0, version, produceBody("t", 0, Buffer.from(records)));
      const p = r.responses[0].partitionResponses[0];
      expect(p.errorCode).toBe(0);
      offsets.push(p.baseOffset);
    }
    expect(offsets).toEqual([0, 2, 3]);
    for (const version of [4, 11, 12]) {
      const r = await c.request(1, version, fetchBody("t", 0, 0));
      const p = r.responses[0].partitions[0];
      expect(p.errorCode).toBe(0);
      expect(p.highWatermark).toBe(6);
      const values = decodeBatches(p.records).map((rec) => rec.value?.toString());
      expect(values).toEqual(["a", "b", "c", "d", "e", "f"]);
      // Bytes on the wire equal what was sent, but for the offsets the broker patched in.
      expect(p.records.subarray(16, sent[0].length).equals(sent[0].subarray(16))).toBe(true);
    }
    const middle = await c.request(1, 12, fetchBody("t", 0, 3));
    expect(decodeBatches(middle.responses[0].partitions[0].records)[0].offset).toBe(3);
    const beyond = await c.request(1, 12, fetchBody("t", 0, 99));
    expect(beyond.responses[0].partitions[0].errorCode).toBe(errorCode("OFFSET_OUT_OF_RANGE"));
  });

  it("refuses corrupt batches with CORRUPT_MESSAGE and keeps what was stored", async () => {
    const c = await start();
    await c.request(0, 9, produceBody("t", 0, batch(["ok"])));
    const bad = batch(["bad"]);
    bad[bad.length - 1] ^= 0xff;
    const r = await c.request(0, 9, produceBody("t", 0, bad));
    expect(r.responses[0].partitionResponses[0].errorCode).toBe(errorCode("CORRUPT_MESSAGE"));
    const unknown = await c.request(0, 9, produceBody("t", 5, batch(["x"])));
    expect(unknown.responses[0].partitionResponses[0].errorCode).toBe(
      errorCode("UNKNOWN_TOPIC_OR_PARTITION"),
    );
    const f = await c.request(1, 12, fetchBody("t", 0, 0));
    expect(decodeBatches(f.responses[0].partitions[0].records).map((x) => x.value?.toString())).toEqual([
      "ok",
    ]);
  });

  it("refuses legacy magic 0/1 message sets with UNSUPPORTED_FOR_MESSAGE_FORMAT on Produce v0-v2", async () => {
    const c = await start();
    // A magic-1 message set: offset, size, then crc, magic 1, attributes, timestamp, key, value.
    const message = Buffer.alloc(4 + 1 + 1 + 8 + 4 + 4 + 1);
    message.writeInt8(1, 4);
    message.writeInt32BE(-1, 14);
    message.writeInt32BE(1, 18);
    const legacy = Buffer.concat([Buffer.alloc(8), Buffer.alloc(4), message]);
    legacy.writeInt32BE(message.length, 8);
    for (const version of [0, 2]) {
      const r = await c.request(0, version, produceBody("old", 0, legacy));
      expect(r.responses[0].partitionResponses[0].errorCode).toBe(
        errorCode("UNSUPPORTED_FOR_MESSAGE_FORMAT"),
      );
    }
    const modern = await c.request(0, 2, produceBody("old", 0, batch(["v2 batch in a v2 request"])));
    expect(modern.responses[0].partitionResponses[0]).toMatchObject({ errorCode: 0, baseOffset: 0 });
  });

  it("answers a long-poll fetch as soon as data arrives", async () => {
    const c = await start();
    await c.request(3, 9, { topics: [{ name: "t" }], allowAutoTopicCreation: true });
    const other = await TestClient.connect(tb!.port);
    // The fetch waits up to the longest wait: only the record can answer it before the deadline.
    const pending = c.request(1, 12, fetchBody("t", 0, 0, { maxWaitMs: MAX_FETCH_WAIT_MS, minBytes: 1 }));
    const listeners = () =>
      (tb!.broker.topics.partition("t", 0) as unknown as { listeners: Set<unknown> }).listeners.size;
    await waitFor(() => listeners() > 0, "the fetch to wait for an append");
    await other.request(0, 9, produceBody("t", 0, batch(["late"])));
    const r = await within(pending, "the waiting fetch to answer once a record arrived");
    expect(decodeBatches(r.responses[0].partitions[0].records)[0].value?.toString()).toBe("late");
    other.close();
  });

  it("lists earliest, latest, by timestamp and max timestamp offsets", async () => {
    const c = await start();
    const t0 = 1_800_000_000_000;
    await c.request(0, 9, produceBody("t", 0, batch(["a", "b"], t0)));
    await c.request(0, 9, produceBody("t", 0, batch(["c", "d"], t0 + 100)));
    const ask = async (timestamp: number, version = 7) => {
      const r = await c.request(2, version, {
        replicaId: -1,
        isolationLevel: 0,
        topics: [
          {
            name: "t",
            partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp, maxNumOffsets: 1 }],
          },
        ],
        timeoutMs: 1000,
      });
      return r.topics[0].partitions[0];
    };
    expect((await ask(-2)).offset).toBe(0);
    expect((await ask(-1)).offset).toBe(4);
    expect(await ask(t0 + 1)).toMatchObject({ offset: 1, timestamp: t0 + 1 });
    expect(await ask(t0 + 50)).toMatchObject({ offset: 2, timestamp: t0 + 100 });
    expect(await ask(t0 + 10_000)).toMatchObject({ offset: -1, timestamp: -1 });
    expect(await ask(-3)).toMatchObject({ offset: 3, timestamp: t0 + 101 });
    expect((await ask(-1, 1)).offset).toBe(4);
    // v8-v11 sentinels: earliest local is the log start; nothing is ever tiered.
    expect((await ask(-4, 8)).offset).toBe(0);
    expect(await ask(-5, 9)).toMatchObject({ errorCode: 0, offset: -1, timestamp: -1 });
    expect(await ask(-6, 11)).toMatchObject({ errorCode: 0, offset: -1, timestamp: -1 });
    expect((await ask(-1, 10)).offset).toBe(4);
  });

  it("sends no response to acks=0, and applies it before the connection's next request", async () => {
    const c = await start();
    c.send(0, 9, produceBody("t", 0, batch(["fire", "forget"]), 0));
    const latest = async () =>
      (
        await c.request(2, 7, {
          replicaId: -1,
          isolationLevel: 0,
          topics: [{ name: "t", partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1 }] }],
        })
      ).topics[0].partitions[0];
    // The topic exists (created by the produce) by the time the next request runs.
    expect((await latest()).errorCode).toBe(0);
    await waitFor(async () => (await latest()).offset === 2, "the acks=0 records at offsets 0 and 1");
    expect(c.strayResponses).toBe(0);
  });

  it("keeps topics and data across a restart", async () => {
    const c = await start();
    await c.request(0, 9, produceBody("kept", 0, batch(["one", "two"])));
    c.close();
    const dataDir = tb!.dataDir;
    await tb!.stop(true);
    tb = await startTestBroker({}, dataDir);
    client = await TestClient.connect(tb.port);
    const f = await client.request(1, 12, fetchBody("kept", 0, 0));
    expect(decodeBatches(f.responses[0].partitions[0].records).map((x) => x.value?.toString())).toEqual([
      "one",
      "two",
    ]);
  });
});

describe("idempotent producers", () => {
  const idempotentBatch = (producerId: number, epoch: number, seq: number, values: string[]) =>
    encodeRecordBatch(
      values.map((v) => ({ value: Buffer.from(v) })),
      { producerId, producerEpoch: epoch, baseSequence: seq },
    );

  async function produceOne(c: TestClient, records: Buffer) {
    const r = await c.request(0, 9, produceBody("idem", 0, records));
    return r.responses[0].partitionResponses[0];
  }

  it("returns the original offsets for a retried batch, refuses gaps and stale epochs", async () => {
    const c = await start();
    const init = await c.request(22, 4, {
      transactionalId: null,
      transactionTimeoutMs: 1000,
      producerId: -1,
      producerEpoch: -1,
    });
    expect(init.errorCode).toBe(0);
    const pid = init.producerId as number;
    expect(await produceOne(c, idempotentBatch(pid, 0, 0, ["a", "b"]))).toMatchObject({
      errorCode: 0,
      baseOffset: 0,
    });
    expect(await produceOne(c, idempotentBatch(pid, 0, 2, ["c"]))).toMatchObject({
      errorCode: 0,
      baseOffset: 2,
    });
    // A retry of the first batch: same offsets, nothing written.
    expect(await produceOne(c, idempotentBatch(pid, 0, 0, ["a", "b"]))).toMatchObject({
      errorCode: 0,
      baseOffset: 0,
    });
    expect(await produceOne(c, idempotentBatch(pid, 0, 5, ["gap"]))).toMatchObject({
      errorCode: errorCode("OUT_OF_ORDER_SEQUENCE_NUMBER"),
    });
    // A producer that moves to a new epoch starts again at sequence 0; older epochs are fenced.
    expect(await produceOne(c, idempotentBatch(pid, 1, 0, ["d"]))).toMatchObject({
      errorCode: 0,
      baseOffset: 3,
    });
    const f = await c.request(1, 12, fetchBody("idem", 0, 0));
    expect(decodeBatches(f.responses[0].partitions[0].records).map((x) => x.value?.toString())).toEqual([
      "a",
      "b",
      "c",
      "d",
    ]);
    const txn = await c.request(22, 4, {
      transactionalId: "tx",
      transactionTimeoutMs: 1000,
      producerId: -1,
      producerEpoch: -1,
    });
    expect(txn.errorCode).toBe(errorCode("TRANSACTIONAL_ID_AUTHORIZATION_FAILED"));
  });

  it("applies pipelined produces of one connection in the order sent, even while a topic is created", async () => {
    const c = await start();
    const pid = (
      await c.request(22, 4, {
        transactionalId: null,
        transactionTimeoutMs: 1000,
        producerId: -1,
        producerEpoch: -1,
      })
    ).producerId as number;
    const sends = Array.from({ length: 5 }, (_, seq) =>
      c.request(0, 9, produceBody("fresh", 0, idempotentBatch(pid, 0, seq, [`s${seq}`]))),
    );
    const results = (await Promise.all(sends)).map((r) => r.responses[0].partitionResponses[0]);
    expect(results.map((r) => [r.errorCode, r.baseOffset])).toEqual([
      [0, 0],
      [0, 1],
      [0, 2],
      [0, 3],
      [0, 4],
    ]);
  });

  it("rebuilds producer state from the log after a crash, so retries stay exactly-once", async () => {
    const c = await start();
    const init = await c.request(22, 4, {
      transactionalId: null,
      transactionTimeoutMs: 1000,
      producerId: -1,
      producerEpoch: -1,
    });
    const pid = init.producerId as number;
    for (let seq = 0; seq < 10; seq++) await produceOne(c, idempotentBatch(pid, 0, seq, [`v${seq}`]));
    c.close();
    const dataDir = tb!.dataDir;
    // No clean stop: close the logs without producer snapshots, as a crash leaves them (the
    // broker is stopped too, which releases the data directory's lock).
    await tb!.broker.logs.close();
    await tb!.broker.stop();
    const { rmSync, existsSync } = await import("node:fs");
    rmSync(`${dataDir}/.samsa_cleanshutdown`, { force: true });
    rmSync(`${dataDir}/idem-0/producer-state.snapshot`, { force: true });
    expect(existsSync(`${dataDir}/idem-0`)).toBe(true);
    tb = await startTestBroker({}, dataDir);
    client = await TestClient.connect(tb.port);
    expect(await produceOne(client, idempotentBatch(pid, 0, 9, ["v9"]))).toMatchObject({
      errorCode: 0,
      baseOffset: 9,
    });
    expect(await produceOne(client, idempotentBatch(pid, 0, 10, ["v10"]))).toMatchObject({
      errorCode: 0,
      baseOffset: 10,
    });
    const again = await client.request(22, 4, {
      transactionalId: null,
      transactionTimeoutMs: 1000,
      producerId: -1,
      producerEpoch: -1,
    });
    expect(again.producerId).not.toBe(pid);
  });
});
