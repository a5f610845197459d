/**
 * The replica manager over MemoryClusterStore and a LogManager in a temp directory: it applies
 * what the controller writes to node 1's local replicas. Created partitions assigned here are
 * opened with the role the store names (leader with its epochs and ISR, or follower, told to the
 * follower hook); partitions assigned elsewhere are not; added partitions, config changes,
 * leadership moves, a replica moved away and a deleted topic reach the logs; logs on disk that no
 * topic assigns here are removed at start. The leadership listener hears every role applied (a
 * new term led or followed) and every removal, and one that throws changes nothing applied.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type FollowerHook, ReplicaManager } from "../../../broker/cluster/replica-manager.js";
import { defaultBrokerConfig } from "../../../broker/config.js";
import { Controller } from "../../../broker/controller/controller.js";
import type { BrokerSession } from "../../../broker/metadata/cluster.js";
import { MemoryClusterStore } from "../../../broker/metadata/memory-store.js";
import type { Partition } from "../../../broker/partition.js";
import { producerIdsFor } from "../../../broker/producer-ids.js";
import { logConfigOf, minInsyncReplicasOf } from "../../../broker/topics.js";
import type { KafkaError } from "../../../protocol/errors.js";
import { encodeRecordBatch } from "../../../protocol/record-batch.js";
import { NodeFs } from "../../../storage/fs.js";
import { LogManager } from "../../../storage/log-manager.js";
import { waitFor, within } from "../../helpers/wait.js";

const LOCAL = 1;
const OTHER = 2;
const THIRD = 3;
const CONTROLLER_ID = 100;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** What the follower hook was told, in order. */
class RecordingHook implements FollowerHook {
  readonly calls: string[] = [];
  onFollow(p: Partition, leaderId: number): void {
    this.calls.push(`follow ${p.topic}-${p.index} ${leaderId}`);
  }
  onStopFollowing(p: Partition): void {
    this.calls.push(`stop ${p.topic}-${p.index}`);
  }
}

interface Setup {
  store: MemoryClusterStore;
  controller: Controller;
  replicas: ReplicaManager;
  hook: RecordingHook;
  removed: string[];
  sessions: Map<number, BrokerSession>;
  dataDir: string;
}

async function setup(dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "samsa-rm-"))): Promise<Setup> {
  const config = defaultBrokerConfig();
  const store = new MemoryClusterStore();
  const sessions = new Map<number, BrokerSession>();
  for (const id of [LOCAL, OTHER, THIRD])
    sessions.set(
      id,
      await store.register({ nodeId: id, host: "127.0.0.1", port: 9000 + id, rack: null, httpPort: null }),
    );
  const controller = new Controller(store, CONTROLLER_ID, { placementStart: () => 0 });
  controller.start();
  await controller.elected();
  const logs = await LogManager.open({
    dataDir,
    checkpointIntervalMs: 0,
    retentionCheckIntervalMs: 0,
    journal: false,
  });
  const producerIds = producerIdsFor(config, store, () => []);
  const replicas = new ReplicaManager(store, LOCAL, {
    logs,
    sfs: new NodeFs(),
    producerIds,
    logConfig: (configs) => logConfigOf(config, configs),
    minInsyncReplicas: (configs) => minInsyncReplicasOf(config, configs),
  });
  const hook = new RecordingHook();
  replicas.followers = hook;
  const removed: string[] = [];
  replicas.onTopicRemoved = async (name) => {
    removed.push(name);
  };
  cleanups.push(async () => {
    await controller.stop();
    await replicas.stop();
    await logs.close();
    await store.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
  return { store, controller, replicas, hook, removed, sessions, dataDir };
}

function dirs(dataDir: string, topic: string): string[] {
  return fs
    .readdirSync(dataDir)
    .filter((d) => d.startsWith(`${topic}-`) && !d.endsWith("-delete"))
    .sort();
}

describe("the replica manager", () => {
  it("opens the partitions assigned here with the role the store names", async () => {
    const s = await setup();
    await s.replicas.start();
    // p0 led here, p1 led by the other broker with a replica here, p2 not here at all.
    const topic = await s.controller.createTopic({
      name: "t",
      partitions: 0,
      replicationFactor: 0,
      assignments: [
        [LOCAL, OTHER],
        [OTHER, LOCAL],
        [OTHER, THIRD],
      ],
    });
    await s.replicas.sync("t");
    const p0 = s.replicas.partition("t", 0)!;
    expect(p0.role).toBe("leader");
    expect(p0.leaderEpoch).toBe(topic.partitions[0].leaderEpoch);
    expect(p0.partitionEpoch).toBe(topic.partitions[0].partitionEpoch);
    expect([...p0.isr].sort()).toEqual([LOCAL, OTHER]);
    const p1 = s.replicas.partition("t", 1)!;
    expect(p1.role).toBe("follower");
    expect(p1.leader).toBe(OTHER);
    expect(s.replicas.partition("t", 2)).toBeUndefined();
    expect(s.hook.calls).toEqual([`follow t-1 ${OTHER}`]);
    expect(dirs(s.dataDir, "t")).toEqual(["t-0", "t-1"]);
  });

  it("applies added partitions, configs, leadership moves, a replica moved away and a deletion", async () => {
    const s = await setup();
    await s.replicas.start();
    await s.controller.createTopic({
      name: "t",
      partitions: 0,
      replicationFactor: 0,
      assignments: [
        [LOCAL, OTHER],
        [OTHER, LOCAL],
      ],
    });
    // Applied from the store's events alone, without sync.
    await waitFor(() => s.replicas.partition("t", 1)?.role === "follower", "t-1 a follower");

    await s.controller.createPartitions("t", 3, [[LOCAL, OTHER]]);
    await waitFor(() => s.replicas.partition("t", 2)?.role === "leader", "the added t-2 led here");

    await s.controller.alterConfigs("t", { "retention.ms": "1234", "min.insync.replicas": "2" });
    await s.replicas.sync("t");
    for (const i of [0, 1, 2]) {
      expect(s.replicas.partition("t", i)!.logConfig.retentionMs).toBe(1234);
      expect(s.replicas.partition("t", i)!.minInsyncReplicas).toBe(2);
    }

    // The other broker moves t-2's replica here away: its log goes.
    const [moved] = await s.controller.alterReassignments([{ topic: "t", partition: 2, replicas: [OTHER] }]);
    expect(moved.error).toBeNull();
    await waitFor(() => s.replicas.partition("t", 2) === undefined, "t-2 removed here");
    await s.replicas.sync("t");
    expect(dirs(s.dataDir, "t")).toEqual(["t-0", "t-1"]);

    // The leader of t-1 goes: this broker (in its ISR) leads it at a newer epoch.
    const epoch = s.replicas.partition("t", 1)!.leaderEpoch;
    await s.store.expire(OTHER);
    await waitFor(() => s.replicas.partition("t", 1)?.role === "leader", "t-1 led here");
    expect(s.replicas.partition("t", 1)!.leaderEpoch).toBeGreaterThan(epoch);
    expect(s.hook.calls).toEqual([`follow t-1 ${OTHER}`, "stop t-1"]);

    await s.controller.deleteTopic("t");
    await s.replicas.sync("t");
    expect(s.replicas.partition("t", 0)).toBeUndefined();
    expect(s.replicas.allPartitions()).toEqual([]);
    expect(dirs(s.dataDir, "t")).toEqual([]);
    expect(s.removed).toEqual(["t"]);
  });

  it("removes at start the logs on disk that no topic assigns here", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "samsa-rm-"));
    for (const d of ["gone-0", "kept-0", "kept-1"]) fs.mkdirSync(path.join(dataDir, d));
    const s = await setup(dataDir);
    await s.controller.createTopic({
      name: "kept",
      partitions: 0,
      replicationFactor: 0,
      assignments: [[LOCAL], [OTHER]],
    });
    await s.replicas.start();
    expect(s.replicas.partition("kept", 0)?.role).toBe("leader");
    expect(
      fs
        .readdirSync(dataDir)
        .filter((d) => /-\d+$/.test(d))
        .sort(),
    ).toEqual(["kept-0"]);
  });

  it("tells the leadership listener of each new term led or followed and of each removal", async () => {
    const s = await setup();
    const heard: string[] = [];
    s.replicas.onLeadership = (topic, partition, leading, epoch) => {
      heard.push(`${topic}-${partition} ${leading ? "leads" : "follows"} ${epoch}`);
      // A listener that throws is logged; the application goes on.
      if (partition === 1) throw new Error("listener failure");
    };
    await s.replicas.start();
    const created = await s.controller.createTopic({
      name: "t",
      partitions: 0,
      replicationFactor: 0,
      assignments: [
        [LOCAL, OTHER],
        [OTHER, LOCAL],
      ],
    });
    await s.replicas.sync("t");
    const [e0, e1] = created.partitions.map((p) => p.leaderEpoch);
    expect(heard).toEqual([`t-0 leads ${e0}`, `t-1 follows ${e1}`]);
    expect(s.replicas.partition("t", 1)?.role).toBe("follower");

    // A config change applies no new role: nothing is heard.
    await s.controller.alterConfigs("t", { "retention.ms": "1234" });
    await s.replicas.sync("t");
    expect(heard).toHaveLength(2);

    // The leader of t-1 goes: this broker leads it at a newer epoch.
    await s.store.expire(OTHER);
    await waitFor(() => s.replicas.partition("t", 1)?.role === "leader", "t-1 led here");
    const led = s.replicas.partition("t", 1)!.leaderEpoch;
    expect(led).toBeGreaterThan(e1);
    expect(heard.slice(2)).toEqual([`t-1 leads ${led}`]);

    await s.controller.deleteTopic("t");
    await s.replicas.sync("t");
    expect(heard.slice(3).sort()).toEqual([`t-0 follows ${e0}`, `t-1 follows ${led}`]);
    expect(s.replicas.allPartitions()).toEqual([]);
  });

  it("answers acks=all appends waiting at a leader moved away NOT_LEADER_OR_FOLLOWER", async () => {
    const s = await setup();
    await s.replicas.start();
    await s.controller.createTopic({
      name: "t",
      partitions: 0,
      replicationFactor: 0,
      assignments: [[LOCAL, OTHER]],
    });
    await s.replicas.sync("t");
    const p = s.replicas.partition("t", 0)!;
    expect(p.role).toBe("leader");
    // OTHER never fetches: the append waits for it until the replica leaves this broker.
    const waiting = p.appendAsLeader(encodeRecordBatch([{ value: Buffer.from("v") }]), { acks: -1 });
    const settled = waiting.then(
      () => "acknowledged",
      (err: KafkaError) => err.code,
    );
    await waitFor(() => p.logEndOffset === 1, "the append written");
    const [moved] = await s.controller.alterReassignments([{ topic: "t", partition: 0, replicas: [OTHER] }]);
    expect(moved.error).toBeNull();
    await waitFor(() => s.replicas.partition("t", 0) === undefined, "t-0 removed here");
    expect(await within(settled, "the waiting append answered")).toBe("NOT_LEADER_OR_FOLLOWER");
    expect(p.role).toBe("none");
  });
});
