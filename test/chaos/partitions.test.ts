/**
 * Issue 14's network partitions, on test hosts in network namespaces (test/helpers/net-cluster.ts:
 * etcd on one host, each broker on its own; the workload in the root namespace reaches them all):
 * a leader isolated from its followers and etcd while the producer still reaches it (none of its
 * writes acknowledged, the workload goes on at a new leader); a leader that appended writes no
 * follower saw, killed, and back as a follower with that divergent tail (cut away: read from it as
 * leader again, every offset holds what was acknowledged there); every broker cut from etcd past
 * its session (data keeps flowing at the leaders). Each judged by the verify checker.
 * Needs root, `ip` and `nft`. CHAOS_SEED replays a printed schedule.
 */
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Admin } from "../../client/index.js";
import { batchSpans, decodeRecords, PARTITION_LEADER_EPOCH_OFFSET } from "../../protocol/record-batch.js";
import { FaultDriver } from "../helpers/chaos-faults.js";
import {
  CHAOS_BROKER_FLAGS,
  CHAOS_WAIT_MS,
  ChaosRun,
  createChaosTopic,
  SHORT_PRODUCER_TIMEOUTS,
} from "../helpers/chaos-run.js";
import { guarded, runSchedule } from "../helpers/chaos-scenario.js";
import { chaosSeed, type Schedule } from "../helpers/chaos-schedule.js";
import { brokerHost, ETCD_HOST, type NetCluster, startNetCluster } from "../helpers/net-cluster.js";
import { waitFor } from "../helpers/wait.js";

const SEED = chaosSeed(1416);
const PARTITIONS = 3;
/** Records the isolated leader must hold beyond its followers before it is killed. */
const TAIL_MIN = 1;
const replay = (name: string) =>
  `CHAOS_SEED=${SEED} npx vitest run test/chaos/partitions.test.ts -t "${name}"`;

let net: NetCluster;

beforeAll(async () => {
  // Without the durability journal, a segment file holds every batch as soon as it is appended
  // (the journal keeps a segment's tail in memory), so the test can read a broker's log from disk.
  net = await startNetCluster(3, { ...CHAOS_BROKER_FLAGS, "log.journal.enable": false });
}, 120_000);

afterAll(async () => {
  await net?.cluster.close();
}, 60_000);

describe("an isolated leader", () => {
  it("cut from its followers and etcd but reachable by the producer acks none of its writes; a new leader goes on", async () => {
    const name = "cut from its followers and etcd";
    const schedule: Schedule = {
      seed: SEED,
      faults: [{ kind: "isolate", target: { role: "leader", partition: 0 }, afterAcks: 100, holdAcks: 200 }],
    };
    const env = { cluster: net.cluster, network: net.network, topic: "isolated", partitions: PARTITIONS };
    await runSchedule(name, env, schedule, replay(name), {
      workload: { producerTimeouts: SHORT_PRODUCER_TIMEOUTS },
    });
  }, 300_000);
});

interface StoredRecord {
  value: string;
  /** The leader epoch stamped on its batch: the term of the leader that appended it. */
  epoch: number;
}

/**
 * Every record in broker `id`'s log of `topic`-0 by offset, read from its segment files; a batch
 * being written while this reads (the broker runs) ends the read.
 */
function logOnDisk(id: number, topic: string): Map<number, StoredRecord> {
  const node = net.cluster.nodes.get(id);
  if (!node) throw new Error(`no broker ${id}`);
  const dir = path.join(node.dataDir, `${topic}-0`);
  const records = new Map<number, StoredRecord>();
  const files = readdirSync(dir).filter((f) => f.endsWith(".log"));
  for (const file of files.sort()) {
    const bytes = readFileSync(path.join(dir, file));
    try {
      for (const [start] of batchSpans(bytes)) {
        const epoch = bytes.readInt32BE(start + PARTITION_LEADER_EPOCH_OFFSET);
        for (const r of decodeRecords(bytes, start)) records.set(r.offset, { value: String(r.value), epoch });
      }
    } catch {
      // a torn last batch
    }
  }
  return records;
}

describe("a divergent tail", () => {
  it("a leader that appended writes nobody else saw, killed, returns as a follower and cuts them away", async () => {
    const topic = "divergent";
    const { cluster, network } = net;
    await createChaosTopic(cluster, topic, 1, [[1, 2, 3]]);
    const run = await ChaosRun.start(cluster, { topic, producerTimeouts: SHORT_PRODUCER_TIMEOUTS });
    const driver = new FaultDriver({ cluster, network, topic, partitions: 1 }, run);
    /** Offsets broker 1 held when killed that neither follower had, with what it held there. */
    let tail: [number, StoredRecord][] = [];
    const unreplicated = () => {
      const [b1, b2, b3] = [1, 2, 3].map((id) => logOnDisk(id, topic));
      return [...b1].filter(([offset]) => !b2.has(offset) && !b3.has(offset));
    };
    await guarded(run, driver, async () => {
      await driver.leaderOf(0, (leader) => leader === 1);
      await run.progress(100, "acks at broker 1");
      await network.isolate(brokerHost(1));
      run.note("broker 1 isolated from brokers 2, 3 and etcd");
      // The producer still reaches broker 1, which appends what it sends and can ack none of it.
      await waitFor(() => unreplicated().length >= TAIL_MIN, "broker 1's unreplicated tail", CHAOS_WAIT_MS);
      await cluster.kill(1);
      tail = unreplicated();
      run.note(`broker 1 killed holding ${tail.length} records no follower has`);
      // Still cut off: a fetch answer broker 1's kernel still holds reaches no follower before a
      // new leader is elected (after the rejoin it may, and must be ignored as stale).
      await driver.leaderOf(0, (leader) => leader !== 1);
      await network.rejoin(brokerHost(1));
      await run.progress(200, "acks at the new leader", 0);
      await cluster.startNode(1);
      await driver.inSync();
      const admin = new Admin({ brokers: driver.askIds().map((id) => cluster.endpoint(id)) });
      await waitFor(
        async () => (await admin.electLeaders("preferred", [{ topic, partition: 0 }]))[0]?.error === null,
        "broker 1 elected again",
      ).finally(() => admin.close());
      await driver.leaderOf(0, (leader) => leader === 1);
      run.note("broker 1 leads again");
      await run.progress(100, "acks at broker 1 again", 0);
    });
    const report = await run.finish({ finalRead: true });
    run.assertClean(report, "a divergent tail");
    // Its own tail is gone: at those offsets broker 1 now holds what a later leader appended.
    const now = logOnDisk(1, topic);
    const kept = tail
      .filter(([offset, old]) => (now.get(offset)?.epoch ?? -1) <= old.epoch)
      .map(([offset, old]) => ({ offset, before: old, after: now.get(offset) ?? null }));
    expect(kept, `broker 1's divergent tail still in its log (it ends at ${now.size})`).toEqual([]);
  }, 300_000);
});

describe("brokers cut from etcd", () => {
  it("past their sessions: data keeps flowing at the leaders, and nothing is lost once healed", async () => {
    const name = "brokers cut from etcd";
    const etcdUrl = `http://${net.network.address(ETCD_HOST)}:2379`;
    const schedule: Schedule = {
      seed: SEED,
      faults: [{ kind: "etcd_cut", target: { role: "all_brokers" }, afterAcks: 100, holdAcks: 300 }],
    };
    const env = { cluster: net.cluster, network: net.network, topic: "etcd-cut", partitions: PARTITIONS };
    await runSchedule(name, env, schedule, replay(name), {
      // Held until etcd has expired every broker's lease: the brokers are past their sessions.
      whileHeld: () =>
        waitFor(async () => (await leases(etcdUrl)) === 0, "every lease expired", CHAOS_WAIT_MS),
    });
  }, 300_000);
});

/** How many leases etcd holds. */
async function leases(etcdUrl: string): Promise<number> {
  const r = await fetch(`${etcdUrl}/v3/lease/leases`, { method: "POST", body: "{}" });
  const body = (await r.json()) as { leases?: unknown[] };
  return body.leases?.length ?? 0;
}
