/**
 * Leadership and replicas moving on a running cluster (issue 13): a reassignment {1,2,3} ->
 * {2,3,4} while an idempotent acks=all producer writes (KIP-455: the new replica copies the log,
 * joins the ISR, the old one leaves and deletes its log, nothing acknowledged is lost or
 * doubled), and the preferred leader restored after a restart, once by ElectLeaders and once by
 * the controller's periodic rebalance (leader.imbalance.*).
 */
import { existsSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Admin, Consumer, Producer } from "../../../client/index.js";
import { decodeBatches } from "../../../protocol/record-batch.js";
import { TestCluster } from "../../helpers/cluster.js";
import { waitFor } from "../../helpers/wait.js";

const FETCH = 1;
/** Records the producer keeps in flight at once. */
const PRODUCER_WINDOW = 10;
/** Long enough that the periodic rebalance never runs during a test. */
const NO_REBALANCE_SECONDS = 3600;

/** A partition's state as the store of the first running broker shows it. */
function stateOf(cluster: TestCluster, topic: string, partition: number) {
  return cluster.running()[0]?.store.topic(topic)?.partitions[partition];
}

/** Every record value of `topic`-0 below the offset `end`, read through `brokers`. */
async function readValues(brokers: string[], topic: string, end: number): Promise<string[]> {
  const consumer = new Consumer({ brokers });
  await consumer.assign([{ topic, partition: 0, start: "earliest" }]);
  const values: string[] = [];
  try {
    let next = 0;
    while (next < end) {
      const batch = await consumer.nextBatch(5_000);
      for (const r of batch?.records ?? []) {
        values.push(r.value?.toString() ?? "");
        next = r.offset + 1;
      }
    }
  } finally {
    await consumer.close();
  }
  return values;
}

/** Every record value a broker's own log of `topic`-0 holds, whatever its role. */
async function localValues(cluster: TestCluster, nodeId: number, topic: string): Promise<string[]> {
  const p = cluster.broker(nodeId).topics.partition(topic, 0);
  if (!p) throw new Error(`broker ${nodeId} holds no log of ${topic}-0`);
  const values: string[] = [];
  for (let offset = p.logStartOffset; offset < p.logEndOffset; ) {
    const { records } = await p.readLocal(offset, 1024 * 1024);
    const decoded = decodeBatches(records);
    if (decoded.length === 0) throw new Error(`broker ${nodeId} read nothing at ${offset}`);
    for (const r of decoded) values.push(r.value?.toString() ?? "");
    offset = decoded[decoded.length - 1].offset + 1;
  }
  return values;
}

/**
 * A producer writing m0, m1, ... to partition 0 of `topic` until stopped, `PRODUCER_WINDOW` at a
 * time; what was acknowledged (with its offset) and what failed.
 */
class NumberedStream {
  readonly acked: { value: string; offset: number }[] = [];
  readonly failed: unknown[] = [];
  private stopped = false;
  private readonly done: Promise<void>;

  constructor(
    private readonly producer: Producer,
    private readonly topic: string,
  ) {
    this.done = this.run();
  }

  private async run(): Promise<void> {
    for (let n = 0; !this.stopped; ) {
      const sends = Array.from({ length: PRODUCER_WINDOW }, () => {
        const value = `m${n++}`;
        return this.producer.send({ topic: this.topic, partition: 0, value }).then(
          (md) => void this.acked.push({ value, offset: md.offset }),
          (err) => void this.failed.push(err),
        );
      });
      await Promise.all(sends);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
    await this.producer.close();
  }
}

describe("a reassignment {1,2,3} -> {2,3,4} under an idempotent acks=all producer", () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await TestCluster.start(4, { "leader.imbalance.check.interval.seconds": NO_REBALANCE_SECONDS });
  }, 60_000);

  afterAll(async () => {
    await cluster?.close();
  }, 60_000);

  it("moves the data to broker 4, drops broker 1's log, and loses or doubles nothing", async () => {
    const topic = "moved";
    const admin = new Admin({ brokers: cluster.bootstrap() });
    await admin.createTopics([
      { name: topic, assignments: [[1, 2, 3]], configs: { "min.insync.replicas": "2" } },
    ]);
    expect((await cluster.leaderOf(topic, 0)).config.nodeId).toBe(1);
    const stream = new NumberedStream(
      new Producer({ brokers: cluster.bootstrap() }, { acks: -1, idempotent: true, lingerMs: 1 }),
      topic,
    );
    await waitFor(() => stream.acked.length >= 200, "200 records acknowledged before the move");
    // Broker 4's fetches are held at the leader until the reassignment has been seen in progress.
    const release = cluster.broker(1).dispatcher.faults.add({
      apiKey: FETCH,
      action: "hold",
      match: (ctx) => ctx.clientId === "samsa-replica-fetcher-4",
    });
    await admin.alterPartitionReassignments([{ topic, partition: 0, replicas: [2, 3, 4] }]);
    const ongoing = await admin.listPartitionReassignments([{ topic, partition: 0 }]);
    expect(ongoing).toEqual([
      { topic, partition: 0, replicas: [2, 3, 4, 1], addingReplicas: [4], removingReplicas: [1] },
    ]);
    const acksBefore = stream.acked.length;
    await waitFor(() => stream.acked.length >= acksBefore + 50, "records acknowledged while 4 is held");
    release();
    await waitFor(() => {
      const s = stateOf(cluster, topic, 0);
      return (
        s !== undefined &&
        s.replicas.join() === "2,3,4" &&
        [...s.isr].sort().join() === "2,3,4" &&
        s.addingReplicas.length === 0 &&
        s.removingReplicas.length === 0
      );
    }, "replicas and ISR [2,3,4], no reassignment left");
    expect(await admin.listPartitionReassignments([{ topic, partition: 0 }])).toEqual([]);
    const oldDir = path.join(cluster.nodes.get(1)!.dataDir, `${topic}-0`);
    await waitFor(
      () => cluster.broker(1).topics.partition(topic, 0) === undefined && !existsSync(oldDir),
      "broker 1 drops its log",
    );
    const leader = await cluster.leaderOf(topic, 0);
    expect(leader.config.nodeId).not.toBe(1);
    const acksAfter = stream.acked.length;
    await waitFor(() => stream.acked.length >= acksAfter + 50, "records acknowledged by the new leader");
    await stream.stop();
    await admin.close();

    expect(stream.failed).toEqual([]);
    const acked = [...stream.acked].sort((a, b) => a.offset - b.offset).map((a) => a.value);
    const numbered = Array.from({ length: acked.length }, (_, i) => `m${i}`);
    expect(acked).toEqual(numbered);
    const end = leader.topics.partition(topic, 0)!.highWatermark;
    expect(await readValues(cluster.bootstrap(), topic, end)).toEqual(numbered);
    await waitFor(
      () => cluster.broker(4).topics.partition(topic, 0)?.logEndOffset === end,
      "broker 4 at the leader's end",
    );
    expect(await localValues(cluster, 4, topic)).toEqual(numbered);
  }, 120_000);
});

/**
 * Broker 1 stops (controlled shutdown) and starts again: its preferred partition 0 of `topic` is
 * led by another broker meanwhile, and broker 1 is back in its ISR at the end. Returns the leader
 * epoch partition 0 had while broker 1 was away.
 */
async function restartPreferredLeader(cluster: TestCluster, topic: string): Promise<number> {
  const admin = new Admin({ brokers: cluster.bootstrap() });
  await admin.createTopics([
    {
      name: topic,
      assignments: [
        [1, 2, 3],
        [2, 3, 1],
        [3, 1, 2],
      ],
    },
  ]);
  await admin.close();
  for (const p of [0, 1, 2]) expect((await cluster.leaderOf(topic, p)).config.nodeId).toBe(p + 1);
  const before = new Producer({ brokers: cluster.bootstrap() }, { acks: -1, lingerMs: 0 });
  for (const p of [0, 1, 2]) await before.send({ topic, partition: p, value: `before${p}` });
  await before.close();
  await cluster.stopNode(1);
  await waitFor(() => {
    const s = stateOf(cluster, topic, 0);
    return s?.leader === 2 && !s.isr.includes(1);
  }, "partition 0 led by broker 2 without broker 1");
  const away = stateOf(cluster, topic, 0)!;
  // Written while broker 1 is away: it has to catch up before it may lead again.
  const during = new Producer({ brokers: cluster.bootstrap() }, { acks: -1, lingerMs: 0 });
  for (let i = 0; i < 20; i++) await during.send({ topic, partition: 0, value: `during${i}` });
  await during.close();
  await cluster.startNode(1);
  await cluster.waitForBrokers(3);
  await cluster.waitForIsr(topic, 0, [1, 2, 3]);
  return away.leaderEpoch;
}

/** Whether broker 1 leads `topic`-0 in the store and in its own log. */
function broker1Leads(cluster: TestCluster, topic: string): boolean {
  return (
    stateOf(cluster, topic, 0)?.leader === 1 &&
    cluster.broker(1).topics.partition(topic, 0)?.role === "leader"
  );
}

/** Broker 1 leads `topic`-0 with all 21 records, and reads through the cluster agree. */
async function expectLedByBroker1(cluster: TestCluster, topic: string, awayEpoch: number): Promise<void> {
  const state = stateOf(cluster, topic, 0)!;
  expect(state.leader).toBe(1);
  expect(state.leaderEpoch).toBeGreaterThan(awayEpoch);
  expect([1, 2].map((p) => stateOf(cluster, topic, p)?.leader)).toEqual([2, 3]);
  const want = ["before0", ...Array.from({ length: 20 }, (_, i) => `during${i}`)];
  await waitFor(
    () => cluster.broker(1).topics.partition(topic, 0)?.highWatermark === 21,
    "broker 1's HW at 21",
  );
  expect(await readValues(cluster.bootstrap(), topic, 21)).toEqual(want);
}

describe("a preferred leader election after a restart", () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await TestCluster.start(3, { "leader.imbalance.check.interval.seconds": NO_REBALANCE_SECONDS });
  }, 60_000);

  afterAll(async () => {
    await cluster?.close();
  }, 60_000);

  it("gives partition 0 back to broker 1, once", async () => {
    const topic = "prefer";
    const awayEpoch = await restartPreferredLeader(cluster, topic);
    expect(stateOf(cluster, topic, 0)?.leader).toBe(2);
    const admin = new Admin({ brokers: cluster.bootstrap() });
    const first = await admin.electLeaders("preferred");
    expect(first.filter((r) => r.topic === topic)).toEqual([{ topic, partition: 0, error: null }]);
    await waitFor(() => broker1Leads(cluster, topic), "broker 1 leads partition 0 again");
    await expectLedByBroker1(cluster, topic, awayEpoch);
    // Nothing left to elect: all partitions leave out the balanced ones, named ones say so.
    expect((await admin.electLeaders("preferred")).filter((r) => r.topic === topic)).toEqual([]);
    const again = await admin.electLeaders("preferred", [{ topic, partition: 0 }]);
    expect(again).toMatchObject([{ topic, partition: 0, error: { code: "ELECTION_NOT_NEEDED" } }]);
    await admin.close();
  }, 120_000);
});

describe("the periodic leader rebalance after a restart", () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await TestCluster.start(3, {
      "leader.imbalance.check.interval.seconds": 1,
      "leader.imbalance.per.broker.percentage": 1,
    });
  }, 60_000);

  afterAll(async () => {
    await cluster?.close();
  }, 60_000);

  it("gives partition 0 back to broker 1 by itself", async () => {
    const topic = "rebalance";
    const awayEpoch = await restartPreferredLeader(cluster, topic);
    await waitFor(() => broker1Leads(cluster, topic), "broker 1 leads partition 0 again by the rebalance");
    await expectLedByBroker1(cluster, topic, awayEpoch);
  }, 120_000);
});
