/**
 * Producer ids as an unfriendly client sends them (issue 12, decision 0021): idempotent batches
 * with ids InitProducerId never handed out are refused (UNKNOWN_PRODUCER_ID) and leave no state,
 * while another client's idempotent producer keeps working; a data directory whose log or
 * snapshot holds invented ids loads without them; ids handed out before a restart keep working
 * after it; idle producers expire (`producer.id.expiration.ms`), also while state is rebuilt;
 * new producer ids are throttled per client (KIP-936) and capped broker-wide, and a deleted
 * topic's states leave that count at once; a snapshot of many producers is written and read back
 * whole, and a snapshot's batches at or past its offset are not restored. Limits are lowered so
 * each attack is small.
 */
import { readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { PRODUCER_SNAPSHOT_FILE } from "../../broker/partition.js";
import { ISSUED_LAG_WINDOW, ProducerIds } from "../../broker/producer-ids.js";
import type { Message } from "../../protocol/codec.js";
import { errorCode } from "../../protocol/errors.js";
import { encodeRecordBatch } from "../../protocol/record-batch.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { TestClient } from "../helpers/kafka-client.js";
import { storeAsReplica } from "../helpers/replica.js";
import { produceRequest } from "../helpers/requests.js";
import { waitFor } from "../helpers/wait.js";

const UNKNOWN_PRODUCER_ID = errorCode("UNKNOWN_PRODUCER_ID");
const THROTTLED = errorCode("THROTTLING_QUOTA_EXCEEDED");
/** Far beyond any id a test broker hands out. */
const INVENTED_BASE = 1_000_000;

let tb: TestBroker | null = null;
const clients: TestClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await tb?.stop();
  tb = null;
});

async function connect(clientId = "test"): Promise<TestClient> {
  const c = await TestClient.connect(tb!.port);
  c.clientId = clientId;
  clients.push(c);
  return c;
}

async function restart(flags: Record<string, unknown> = {}, beforeStart?: (dataDir: string) => void) {
  for (const c of clients.splice(0)) c.close();
  const dataDir = tb!.dataDir;
  await tb!.stop(true);
  tb = null;
  beforeStart?.(dataDir);
  tb = await startTestBroker(flags, dataDir);
}

const batch = (producerId: number, seq: number, value: string, timestamp?: number) =>
  encodeRecordBatch([{ value: Buffer.from(value), timestamp }], {
    producerId,
    producerEpoch: 0,
    baseSequence: seq,
  });

function initProducerId(c: TestClient): Promise<Message> {
  return c.request(22, 4, {
    transactionalId: null,
    transactionTimeoutMs: 60_000,
    producerId: -1,
    producerEpoch: -1,
  });
}

async function newProducerId(c: TestClient): Promise<number> {
  const r = await initProducerId(c);
  expect(r.errorCode).toBe(0);
  return r.producerId as number;
}

async function produceOne(c: TestClient, topic: string, records: Buffer, partition = 0): Promise<Message> {
  const r = await c.request(0, 9, produceRequest(topic, records, -1, partition));
  return r.responses[0].partitionResponses[0];
}

/** Producer-state entries of every partition of the test broker. */
function stateEntries(): number {
  return tb!.broker.topics.allPartitions().reduce((n, p) => n + p.producers.size, 0);
}

/** Whether `topic`'s partition 0 has state of `producerId`. */
function hasState(topic: string, producerId: number): boolean {
  const state = tb!.broker.topics.partition(topic, 0)?.producers.snapshot() ?? [];
  return state.some((p) => p.producerId === producerId);
}

describe("producer ids never handed out", () => {
  it("refuses 5,000 invented ids with UNKNOWN_PRODUCER_ID, keeps no state, serves another producer, restarts small", async () => {
    const PARTITIONS = 10;
    const ROUNDS = 500;
    tb = await startTestBroker({ "num.partitions": PARTITIONS });
    const attacker = await connect("attacker");
    expect(
      await produceOne(attacker, "t", encodeRecordBatch([{ value: Buffer.from("plain") }])),
    ).toMatchObject({
      errorCode: 0,
    });
    // Another client's idempotent producer is served during the attack: one batch per round.
    const good = await connect("good");
    const pid = await newProducerId(good);
    const codes = new Map<number, number>();
    let seq = 0;
    for (let round = 0; round < ROUNDS; round += 50) {
      const sends = [];
      for (let r = round; r < round + 50; r++) {
        const partitionData = Array.from({ length: PARTITIONS }, (_, index) => ({
          index,
          records: batch(INVENTED_BASE + r * PARTITIONS + index, 0, "x"),
        }));
        sends.push(
          attacker.request(0, 9, {
            transactionalId: null,
            acks: -1,
            timeoutMs: 30_000,
            topicData: [{ name: "t", partitionData }],
          }),
        );
      }
      const served = produceOne(good, "t", batch(pid, seq, `g${seq}`));
      for (const response of await Promise.all(sends)) {
        for (const p of response.responses[0].partitionResponses as Message[]) {
          const code = p.errorCode as number;
          codes.set(code, (codes.get(code) ?? 0) + 1);
          if (code === UNKNOWN_PRODUCER_ID) expect(p.logStartOffset).toBe(0);
        }
      }
      expect(await served).toMatchObject({ errorCode: 0, baseOffset: seq + 1 });
      seq++;
    }
    expect(Object.fromEntries(codes)).toEqual({ [UNKNOWN_PRODUCER_ID]: ROUNDS * PARTITIONS });
    // The good producer's state on partition 0 is all the broker holds.
    expect(stateEntries()).toBe(1);

    await restart({ "num.partitions": PARTITIONS });
    expect(stateEntries()).toBe(1);
    const snapshot = path.join(tb!.dataDir, "t-0", PRODUCER_SNAPSHOT_FILE);
    expect(statSync(snapshot).size).toBeLessThan(1024);
    // The id handed out before the restart keeps working: a retry is answered with its offsets.
    const again = await connect("good");
    const last = seq - 1;
    expect(await produceOne(again, "t", batch(pid, last, `g${last}`))).toMatchObject({
      errorCode: 0,
      baseOffset: last + 1,
    });
    expect(await produceOne(again, "t", batch(pid, seq, `g${seq}`))).toMatchObject({
      errorCode: 0,
      baseOffset: seq + 1,
    });
    expect(await produceOne(again, "t", batch(INVENTED_BASE, 0, "x"))).toMatchObject({
      errorCode: UNKNOWN_PRODUCER_ID,
    });
  });

  it("loads a data directory whose log and old-format snapshot hold invented ids, without their state", async () => {
    tb = await startTestBroker();
    const c = await connect();
    const pid = await newProducerId(c);
    expect(await produceOne(c, "old", batch(pid, 0, "legit"))).toMatchObject({ errorCode: 0, baseOffset: 0 });
    // As an older samsa stored them: batches of invented ids straight into the log.
    const partition = tb.broker.topics.partition("old", 0)!;
    for (let i = 0; i < 1000; i++) await storeAsReplica(partition, batch(INVENTED_BASE + i, 0, "invented"));
    const logEnd = partition.logEndOffset;
    await restart({}, (dataDir) => rmSync(path.join(dataDir, "old-0", PRODUCER_SNAPSHOT_FILE)));
    expect(hasState("old", pid)).toBe(true);
    expect(stateEntries()).toBe(1);

    // The single-document snapshot of older versions, naming the legit id and invented ones.
    const legacy = {
      offset: logEnd,
      producers: [
        { producerId: pid, epoch: 0, batches: [{ firstSeq: 0, lastSeq: 0, baseOffset: 0, lastOffset: 0 }] },
        ...Array.from({ length: 100 }, (_, i) => ({
          producerId: INVENTED_BASE + i,
          epoch: 0,
          batches: [{ firstSeq: 0, lastSeq: 0, baseOffset: i + 1, lastOffset: i + 1 }],
        })),
      ],
    };
    await restart({}, (dataDir) =>
      writeFileSync(path.join(dataDir, "old-0", PRODUCER_SNAPSHOT_FILE), JSON.stringify(legacy)),
    );
    expect(stateEntries()).toBe(1);
    const c2 = await connect();
    expect(await produceOne(c2, "old", batch(pid, 0, "legit"))).toMatchObject({
      errorCode: 0,
      baseOffset: 0,
    });
    expect(await produceOne(c2, "old", batch(pid, 1, "next"))).toMatchObject({
      errorCode: 0,
      baseOffset: logEnd,
    });
  });
});

describe("producer.id.expiration.ms", () => {
  it("removes an idle producer's state from memory and the next snapshot; its next batch is accepted as Kafka does", async () => {
    const flags = { "producer.id.expiration.ms": 200, "producer.id.expiration.check.interval.ms": 20 };
    tb = await startTestBroker(flags);
    const c = await connect();
    const pid = await newProducerId(c);
    for (let seq = 0; seq < 3; seq++)
      expect(await produceOne(c, "exp", batch(pid, seq, `v${seq}`))).toMatchObject({
        errorCode: 0,
        baseOffset: seq,
      });
    await waitFor(() => !hasState("exp", pid), "the idle producer's state to expire");
    await tb.broker.snapshot();
    const snapshot = readFileSync(path.join(tb.dataDir, "exp-0", PRODUCER_SNAPSHOT_FILE), "utf8");
    expect(snapshot.trim().split("\n")).toHaveLength(1);
    // Kafka accepts any sequence from a producer it holds no state of (KIP-360).
    expect(await produceOne(c, "exp", batch(pid, 3, "v3"))).toMatchObject({ errorCode: 0, baseOffset: 3 });
    expect(hasState("exp", pid)).toBe(true);
  });

  it("drops producers whose last batch is older than the expiration while rebuilding from the log", async () => {
    tb = await startTestBroker();
    const c = await connect();
    const idle = await newProducerId(c);
    const live = await newProducerId(c);
    const hourAgo = Date.now() - 3_600_000;
    expect(await produceOne(c, "rb", batch(idle, 0, "old", hourAgo))).toMatchObject({ errorCode: 0 });
    expect(await produceOne(c, "rb", batch(live, 0, "new"))).toMatchObject({ errorCode: 0 });
    await restart({ "producer.id.expiration.ms": 600_000 }, (dataDir) =>
      rmSync(path.join(dataDir, "rb-0", PRODUCER_SNAPSHOT_FILE)),
    );
    expect(hasState("rb", idle)).toBe(false);
    expect(hasState("rb", live)).toBe(true);
  });
});

describe("new producer ids are bounded", () => {
  it("throttles InitProducerId and first batches beyond a client's producer-id rate (KIP-936)", async () => {
    // One window of 30 s at 1 id per second: 30 new ids per client.
    tb = await startTestBroker({
      "producer.ids.rate": 1,
      "producer.id.quota.window.num": 1,
      "producer.id.quota.window.size.seconds": 30,
    });
    const greedy = await connect("greedy");
    const inits = await Promise.all(Array.from({ length: 35 }, () => initProducerId(greedy)));
    const granted = inits.filter((r) => r.errorCode === 0).map((r) => r.producerId as number);
    const throttled = inits.filter((r) => r.errorCode === THROTTLED);
    expect(granted).toHaveLength(30);
    expect(throttled).toHaveLength(5);
    for (const r of throttled) expect(r.throttleTimeMs).toBeGreaterThan(0);

    // Another client gets ids; a third brings 35 ids it was not handed: 30 pass, 5 are throttled.
    const other = await connect("other");
    const more = await Promise.all(Array.from({ length: 5 }, () => newProducerId(other)));
    const producer = await connect("producer");
    const results: Message[] = [];
    for (const pid of [...granted, ...more]) {
      const r = await producer.request(0, 9, produceRequest("q", batch(pid, 0, "first")));
      results.push({ ...r.responses[0].partitionResponses[0], throttleTimeMs: r.throttleTimeMs });
    }
    expect(results.filter((r) => r.errorCode === 0)).toHaveLength(30);
    const refused = results.filter((r) => r.errorCode === THROTTLED);
    expect(refused).toHaveLength(5);
    for (const r of refused) expect(r.throttleTimeMs).toBeGreaterThan(0);
    // A producer with state keeps producing; the other client is still served.
    expect(await produceOne(producer, "q", batch(granted[0], 1, "second"))).toMatchObject({ errorCode: 0 });
    expect(await produceOne(other, "q", batch(more[0], 0, "own"))).toMatchObject({ errorCode: 0 });
  });

  it("holds at most max.concurrent.producer.ids producer states broker-wide", async () => {
    tb = await startTestBroker({ "max.concurrent.producer.ids": 20 });
    const c = await connect();
    const pids: number[] = [];
    for (let i = 0; i < 25; i++) pids.push(await newProducerId(c));
    const codes: number[] = [];
    for (const pid of pids) codes.push((await produceOne(c, "cap", batch(pid, 0, "x"))).errorCode as number);
    expect(codes.filter((code) => code === 0)).toHaveLength(20);
    expect(codes.filter((code) => code === THROTTLED)).toHaveLength(5);
    expect(stateEntries()).toBe(20);
    expect(await produceOne(c, "cap", batch(pids[0], 1, "y"))).toMatchObject({ errorCode: 0 });
  });

  it("gives back a deleted topic's producer states to the broker-wide count at once", async () => {
    tb = await startTestBroker({ "max.concurrent.producer.ids": 3, "num.partitions": 2 });
    const c = await connect();
    const other = await connect("other");
    const ids = tb.broker.topics.producerIds;
    const pids: number[] = [];
    for (let i = 0; i < 3; i++) pids.push(await newProducerId(c));
    for (const [i, pid] of pids.entries()) {
      expect(await produceOne(c, "gone", batch(pid, 0, "x"), i % 2)).toMatchObject({ errorCode: 0 });
    }
    expect(ids.entries).toBe(3);
    expect(ids.throttleMs("other")).toBeGreaterThan(0);
    await tb.broker.topics.delete("gone");
    expect(ids.entries).toBe(0);
    expect(ids.throttleMs("other")).toBe(0);
    const fresh = await newProducerId(other);
    const r = await produceOne(other, "kept", batch(fresh, 0, "y"));
    expect(r).toMatchObject({ errorCode: 0 });
    expect(ids.entries).toBe(1);
  });
});

describe("producer-state snapshots", () => {
  it("writes and reads back the state of 20,000 producers", async () => {
    tb = await startTestBroker();
    const c = await connect();
    expect(await produceOne(c, "big", encodeRecordBatch([{ value: Buffer.from("v") }]))).toMatchObject({
      errorCode: 0,
    });
    const COUNT = 20_000;
    let last = 0;
    for (let i = 0; i < COUNT; i++) last = await tb.broker.producerIdBlocks.nextId();
    expect(last).toBe(COUNT - 1);
    const state = tb.broker.topics.partition("big", 0)!.producers;
    const now = Date.now();
    for (let id = 0; id < COUNT; id++) {
      for (let seq = 0; seq < 3; seq++) {
        // Offset 0 holds the one stored record: a snapshot keeps only batches below the log end.
        state.record(id, 1, { firstSeq: seq, lastSeq: seq, baseOffset: 0, lastOffset: 0 }, now);
      }
    }
    const before = state.snapshot();
    await restart();
    const after = tb!.broker.topics.partition("big", 0)!.producers;
    expect(after.size).toBe(COUNT);
    expect(after.snapshot()).toEqual(before);
  });
});

describe("producer-state snapshots of batches past their offset", () => {
  it("drops a snapshot's batches at or past its offset, so their retry is appended", async () => {
    tb = await startTestBroker();
    const c = await connect();
    const pid = await newProducerId(c);
    expect(await produceOne(c, "ph", batch(pid, 0, "a"))).toMatchObject({ errorCode: 0, baseOffset: 0 });
    await restart({}, (dataDir) => {
      // As an older version wrote it: a batch at offset 1 whose append was pending, then refused.
      const file = path.join(dataDir, "ph-0", PRODUCER_SNAPSHOT_FILE);
      const [head, line] = readFileSync(file, "utf8").trim().split("\n");
      expect(JSON.parse(head)).toMatchObject({ offset: 1 });
      const entry = JSON.parse(line);
      entry[3].push([1, 1, 1, 1, null]);
      writeFileSync(file, `${head}\n${JSON.stringify(entry)}\n`);
    });
    const retry = await connect();
    expect(await produceOne(retry, "ph", batch(pid, 1, "b"))).toMatchObject({ errorCode: 0, baseOffset: 1 });
    expect(await produceOne(retry, "ph", batch(pid, 1, "b"))).toMatchObject({ errorCode: 0, baseOffset: 1 });
    expect(await produceOne(retry, "ph", batch(pid, 2, "c"))).toMatchObject({ errorCode: 0, baseOffset: 2 });
  });
});

describe("ProducerIds quota windows", () => {
  it("counts distinct ids per client per window and says how long to wait", () => {
    let now = 1_000_000;
    const ids = new ProducerIds(
      { expirationMs: 1000, maxEntries: 100, idsPerSecond: 2, quotaWindowMs: 1000 },
      () => 100,
      () => [],
      () => now,
    );
    ids.admitNew("a", 1);
    ids.admitNew("a", 2);
    // The same id again costs nothing; a third id waits for the window's end.
    ids.admitNew("a", 1);
    expect(() => ids.admitNew("a", 3)).toThrow(
      expect.objectContaining({ code: "THROTTLING_QUOTA_EXCEEDED" }),
    );
    expect(ids.throttleMs("a")).toBe(1000);
    expect(ids.throttleMs("b")).toBe(0);
    now += 400;
    expect(ids.throttleMs("a")).toBe(600);
    now += 600;
    expect(ids.throttleMs("a")).toBe(0);
    ids.admitNew("a", 3);
    expect(() => ids.checkIssued(100)).toThrow(expect.objectContaining({ code: "UNKNOWN_PRODUCER_ID" }));
    ids.checkIssued(99);
  });
});

describe("ProducerIds.checkIssuedFresh", () => {
  const limits = { expirationMs: 1000, maxEntries: 100, idsPerSecond: 100, quotaWindowMs: 1000 };

  it("looks an id beyond the view up in the store once, shared by the checks waiting meanwhile", async () => {
    let reads = 0;
    let storeEnd = 2000;
    const ids = new ProducerIds(
      limits,
      () => 1000,
      () => [],
      Date.now,
      async () => {
        reads++;
        return storeEnd;
      },
    );
    await ids.checkIssuedFresh(999);
    expect(reads).toBe(0);
    await Promise.all([ids.checkIssuedFresh(1000), ids.checkIssuedFresh(1999)]);
    expect(reads).toBe(1);
    await expect(ids.checkIssuedFresh(2000)).rejects.toMatchObject({ code: "UNKNOWN_PRODUCER_ID" });
    expect(reads).toBe(2);
    storeEnd = 3000;
    await ids.checkIssuedFresh(2000);
    expect(reads).toBe(3);
  });

  it("refuses an id far beyond the view without asking the store, and times out when the store cannot answer", async () => {
    let reads = 0;
    const ids = new ProducerIds(
      limits,
      () => 1000,
      () => [],
      Date.now,
      async () => {
        reads++;
        throw new Error("etcd unreachable");
      },
    );
    await expect(ids.checkIssuedFresh(1000 + ISSUED_LAG_WINDOW)).rejects.toMatchObject({
      code: "UNKNOWN_PRODUCER_ID",
    });
    expect(reads).toBe(0);
    await expect(ids.checkIssuedFresh(1000)).rejects.toMatchObject({ code: "REQUEST_TIMED_OUT" });
    expect(reads).toBe(1);
  });

  it("without a store to ask, the view is the last word", async () => {
    const ids = new ProducerIds(
      limits,
      () => 1000,
      () => [],
    );
    await expect(ids.checkIssuedFresh(1000)).rejects.toMatchObject({ code: "UNKNOWN_PRODUCER_ID" });
  });
});
