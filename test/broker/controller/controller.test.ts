/**
 * The Controller over MemoryClusterStore: reactions to brokers coming and going, the operations,
 * and a deposed controller's silence.
 */
import { afterEach, describe, expect, it } from "vitest";
import { defaultBrokerConfig } from "../../../broker/config.js";
import {
  Controller,
  type ControllerOptions,
  controllerOptions,
} from "../../../broker/controller/controller.js";
import type {
  BrokerSession,
  ClusterStore,
  ControllerSession,
  PartitionState,
} from "../../../broker/metadata/cluster.js";
import { NO_LEADER } from "../../../broker/metadata/cluster.js";
import { MemoryClusterStore } from "../../../broker/metadata/memory-store.js";
import { KafkaError } from "../../../protocol/errors.js";
import { waitFor } from "../../helpers/wait.js";

/** The controllers' node ids: apart from the brokers', so expiring a broker leaves the controller. */
const CONTROLLER_ID = 100;

interface Cluster {
  store: MemoryClusterStore;
  sessions: Map<number, BrokerSession>;
  controller: Controller;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Registers `nodeId`, as the process `incarnationId` (undefined: a registration without one). */
async function register(
  store: MemoryClusterStore,
  nodeId: number,
  rack: string | null = null,
  incarnationId?: string,
) {
  const info = { nodeId, host: "127.0.0.1", port: 9000 + nodeId, rack, httpPort: null };
  return store.register(incarnationId === undefined ? info : { ...info, incarnationId });
}

async function cluster(
  brokerIds: number[],
  options: ControllerOptions = {},
  racks: (string | null)[] = [],
  store = new MemoryClusterStore(),
): Promise<Cluster> {
  const sessions = new Map<number, BrokerSession>();
  for (const [i, id] of brokerIds.entries()) sessions.set(id, await register(store, id, racks[i] ?? null));
  const controller = new Controller(store, CONTROLLER_ID, { placementStart: () => 0, ...options });
  controller.start();
  cleanups.push(async () => {
    await controller.stop();
    await store.close();
  });
  await waitFor(() => controller.active, "the controller to be elected");
  return { store, sessions, controller };
}

function partitions(store: ClusterStore, topic: string): readonly PartitionState[] {
  return store.topic(topic)?.partitions ?? [];
}

function counts(states: readonly PartitionState[]) {
  const replicas = new Map<number, number>();
  const leaders = new Map<number, number>();
  for (const s of states) {
    leaders.set(s.leader, (leaders.get(s.leader) ?? 0) + 1);
    for (const id of s.replicas) replicas.set(id, (replicas.get(id) ?? 0) + 1);
  }
  return { replicas, leaders };
}

function spread(m: Map<number, number>, ids: number[]): number {
  const values = ids.map((id) => m.get(id) ?? 0);
  return Math.max(...values) - Math.min(...values);
}

/**
 * A MemoryClusterStore whose partition writes are recorded (by session), can be lost
 * (`lose(n)`) and, after `hold()`,
 * the next one is held until released and then answered as a lost compare-and-set: a
 * controller that still believed in its term would re-read and write again.
 */
function heldWrites() {
  const inner = new MemoryClusterStore();
  const writes: ControllerSession[] = [];
  let gate: Promise<void> | null = null;
  let lost = 0;
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === "updatePartition")
        return async (ctl: ControllerSession, ...rest: [string, number, PartitionState]) => {
          writes.push(ctl);
          if (lost > 0) {
            lost--;
            return false;
          }
          const held = gate;
          if (!held) return target.updatePartition(ctl, ...rest);
          gate = null;
          await held;
          return false;
        };
      const value = Reflect.get(target, prop, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as MemoryClusterStore;
  const hold = () => {
    let release!: () => void;
    gate = new Promise((r) => {
      release = r;
    });
    return release;
  };
  /** The next `n` writes are answered as lost compare-and-sets, writing nothing. */
  const lose = (n: number) => {
    lost = n;
  };
  return { store, writes, hold, lose };
}

async function rejected(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (KafkaError.is(err)) return err.code;
    throw err;
  }
  return "NONE";
}

describe("Controller", () => {
  it("creates topics balanced over 3 and 4 brokers with racks", async () => {
    for (const [ids, racks] of [
      [
        [1, 2, 3],
        ["a", "b", "c"],
      ],
      [
        [1, 2, 3, 4],
        ["a", "a", "b", "b"],
      ],
    ] as [number[], string[]][]) {
      const { store, controller } = await cluster(ids, {}, racks);
      await controller.createTopic({ name: "t", partitions: 100, replicationFactor: 3 });
      const states = partitions(store, "t");
      expect(states).toHaveLength(100);
      const { replicas, leaders } = counts(states);
      expect(spread(replicas, ids)).toBeLessThanOrEqual(1);
      expect(spread(leaders, ids)).toBeLessThanOrEqual(1);
      for (const s of states) {
        expect(s).toMatchObject({
          leader: s.replicas[0],
          isr: s.replicas,
          leaderEpoch: 0,
          partitionEpoch: 0,
        });
        expect(new Set(s.replicas.map((id) => racks[ids.indexOf(id)])).size).toBe(
          Math.min(3, new Set(racks).size),
        );
      }
    }
  });

  it("refuses what cannot be placed, and a name taken", async () => {
    const { controller } = await cluster([1, 2]);
    expect(await rejected(controller.createTopic({ name: "t", partitions: 1, replicationFactor: 3 }))).toBe(
      "INVALID_REPLICATION_FACTOR",
    );
    expect(
      await rejected(
        controller.createTopic({ name: "t", partitions: 1, replicationFactor: 1, assignments: [[1, 3]] }),
      ),
    ).toBe("INVALID_REPLICA_ASSIGNMENT");
    await controller.createTopic({ name: "t", partitions: 1, replicationFactor: 1, assignments: [[2, 1]] });
    expect(await rejected(controller.createTopic({ name: "t", partitions: 1, replicationFactor: 1 }))).toBe(
      "TOPIC_ALREADY_EXISTS",
    );
  });

  it("adds partitions with the topic's replication factor, counting the existing load", async () => {
    const { store, controller } = await cluster([1, 2, 3, 4]);
    await controller.createTopic({ name: "t", partitions: 2, replicationFactor: 2 });
    await controller.createPartitions("t", 8);
    const states = partitions(store, "t");
    expect(states.map((s) => s.partition)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(states.every((s) => s.replicas.length === 2)).toBe(true);
    expect(spread(counts(states).replicas, [1, 2, 3, 4])).toBeLessThanOrEqual(1);
    expect(await rejected(controller.createPartitions("t", 8))).toBe("INVALID_PARTITIONS");
    expect(await rejected(controller.createPartitions("t", 9, [[1, 2, 3]]))).toBe(
      "INVALID_REPLICA_ASSIGNMENT",
    );
  });

  it("moves leaders and shrinks ISRs when a broker is lost", async () => {
    const { store, controller } = await cluster([1, 2, 3]);
    await controller.createTopic({ name: "t", partitions: 6, replicationFactor: 3 });
    const before = partitions(store, "t");
    await store.expire(1);
    await waitFor(
      () => partitions(store, "t").every((s) => !s.isr.includes(1) && s.leader !== 1),
      "broker 1 out of every ISR and leadership",
    );
    for (const [i, s] of partitions(store, "t").entries()) {
      const old = before[i];
      expect(s.isr).toEqual(old.isr.filter((id) => id !== 1));
      expect(s.partitionEpoch).toBe(old.partitionEpoch + 1);
      expect(s.leaderEpoch).toBe(old.leader === 1 ? old.leaderEpoch + 1 : old.leaderEpoch);
      expect(s.leader).toBe(old.leader === 1 ? s.replicas.find((id) => id !== 1) : old.leader);
    }
  });

  it("keeps the last ISR member of a leaderless partition and elects it when it comes back", async () => {
    const { store, controller } = await cluster([1, 2]);
    await controller.createTopic({ name: "t", partitions: 1, replicationFactor: 1, assignments: [[2]] });
    await store.expire(2);
    await waitFor(() => partitions(store, "t")[0].leader === NO_LEADER, "the partition to lose its leader");
    expect(partitions(store, "t")[0]).toMatchObject({ isr: [2], leaderEpoch: 1 });
    await register(store, 2);
    await waitFor(() => partitions(store, "t")[0].leader === 2, "broker 2 to lead again");
    expect(partitions(store, "t")[0]).toMatchObject({ isr: [2], leaderEpoch: 2, partitionEpoch: 2 });
  });

  it("applies ISR changes by compare-and-set and refuses stale epochs", async () => {
    const { store, sessions, controller } = await cluster([1, 2, 3]);
    await controller.createTopic({
      name: "t",
      partitions: 1,
      replicationFactor: 3,
      assignments: [[1, 2, 3]],
    });
    const leader = { topic: "t", partition: 0, brokerId: 1, brokerEpoch: sessions.get(1)!.epoch };
    const [shrunk] = await controller.alterPartition([
      { ...leader, leaderEpoch: 0, partitionEpoch: 0, newIsr: [1, 2] },
    ]);
    expect(shrunk.error).toBeNull();
    expect(partitions(store, "t")[0]).toMatchObject({ isr: [1, 2], partitionEpoch: 1, leaderEpoch: 0 });

    const stale = await controller.alterPartition([
      { ...leader, leaderEpoch: 0, partitionEpoch: 0, newIsr: [1, 2, 3] },
      {
        ...leader,
        brokerEpoch: leader.brokerEpoch - 1,
        leaderEpoch: 0,
        partitionEpoch: 1,
        newIsr: [1, 2, 3],
      },
      { ...leader, partition: 7, leaderEpoch: 0, partitionEpoch: 1, newIsr: [1] },
    ]);
    expect(stale.map((r) => r.error?.code)).toEqual([
      "INVALID_UPDATE_VERSION",
      "STALE_BROKER_EPOCH",
      "UNKNOWN_TOPIC_OR_PARTITION",
    ]);
    expect(partitions(store, "t")[0]).toMatchObject({ isr: [1, 2], partitionEpoch: 1 });

    await store.expire(1);
    await waitFor(() => partitions(store, "t")[0].leader === 2, "broker 2 to take over");
    const [fenced] = await controller.alterPartition([
      { ...leader, brokerEpoch: -1, leaderEpoch: 0, partitionEpoch: 1, newIsr: [1] },
    ]);
    expect(fenced.error?.code).toBe("FENCED_LEADER_EPOCH");
  });

  it("refuses to bring back into the ISR a follower that restarted since its leader saw it (KIP-903)", async () => {
    const { store, sessions, controller } = await cluster([1, 2]);
    await controller.createTopic({ name: "t", partitions: 1, replicationFactor: 2, assignments: [[1, 2]] });
    const leader = {
      topic: "t",
      partition: 0,
      brokerId: 1,
      brokerEpoch: sessions.get(1)!.epoch,
      leaderEpoch: 0,
    };
    await controller.alterPartition([{ ...leader, partitionEpoch: 0, newIsr: [1] }]);
    const old2 = sessions.get(2)!.epoch;
    await sessions.get(2)!.close();
    const new2 = (await register(store, 2)).epoch;
    const expand = (epochOf2: number) => ({
      ...leader,
      partitionEpoch: 1,
      newIsrWithEpochs: [
        { brokerId: 1, brokerEpoch: leader.brokerEpoch },
        { brokerId: 2, brokerEpoch: epochOf2 },
      ],
    });
    const [stale] = await controller.alterPartition([expand(old2)]);
    expect(stale.error?.code).toBe("INELIGIBLE_REPLICA");
    const [fresh] = await controller.alterPartition([expand(new2)]);
    expect(fresh.error).toBeNull();
    expect(partitions(store, "t")[0]).toMatchObject({ isr: [1, 2], partitionEpoch: 2 });
  });

  it("a broker shutting down hands over its leaderships; ControlledShutdown lists what it still leads", async () => {
    const { store, sessions, controller } = await cluster([1, 2, 3]);
    await controller.createTopic({
      name: "t",
      partitions: 3,
      replicationFactor: 2,
      assignments: [
        [1, 2],
        [1, 3],
        [2, 3],
      ],
    });
    await controller.createTopic({ name: "solo", partitions: 1, replicationFactor: 1, assignments: [[1]] });
    expect(await rejected(controller.controlledShutdown(1, sessions.get(1)!.epoch + 1))).toBe(
      "STALE_BROKER_EPOCH",
    );
    const still = await controller.controlledShutdown(1, sessions.get(1)!.epoch);
    expect(still).toEqual([{ topic: "solo", partition: 0 }]);
    expect(partitions(store, "t").map((s) => [s.leader, s.isr])).toEqual([
      [2, [2]],
      [3, [3]],
      [2, [2, 3]],
    ]);
    await sessions.get(1)!.markShuttingDown();
    await sessions.get(1)!.close();
    await waitFor(() => partitions(store, "solo")[0].leader === NO_LEADER, "solo to go leaderless");
  });

  it("reassigns {1,2,3} -> {2,3,4}, completing once 4 joins the ISR", async () => {
    const { store, sessions, controller } = await cluster([1, 2, 3, 4]);
    await controller.createTopic({
      name: "t",
      partitions: 1,
      replicationFactor: 3,
      assignments: [[1, 2, 3]],
    });
    const [started] = await controller.alterReassignments([
      { topic: "t", partition: 0, replicas: [2, 3, 4] },
    ]);
    expect(started.error).toBeNull();
    expect(controller.listReassignments()).toEqual([
      { topic: "t", partition: 0, replicas: [2, 3, 4, 1], addingReplicas: [4], removingReplicas: [1] },
    ]);
    const moving = partitions(store, "t")[0];
    const [joined] = await controller.alterPartition([
      {
        topic: "t",
        partition: 0,
        brokerId: 1,
        brokerEpoch: sessions.get(1)!.epoch,
        leaderEpoch: moving.leaderEpoch,
        partitionEpoch: moving.partitionEpoch,
        newIsr: [1, 2, 3, 4],
      },
    ]);
    expect(joined.error).toBeNull();
    expect(partitions(store, "t")[0]).toMatchObject({
      replicas: [2, 3, 4],
      isr: [2, 3, 4],
      leader: 2,
      addingReplicas: [],
      removingReplicas: [],
      leaderEpoch: moving.leaderEpoch + 1,
    });
    expect(controller.listReassignments()).toEqual([]);
    const [none] = await controller.alterReassignments([{ topic: "t", partition: 0, replicas: null }]);
    expect(none.error?.code).toBe("NO_REASSIGNMENT_IN_PROGRESS");
  });

  it("elects preferred leaders on request and by the periodic rebalance", async () => {
    const { store, sessions, controller } = await cluster([1, 2], { autoLeaderRebalance: false });
    await controller.createTopic({
      name: "t",
      partitions: 2,
      replicationFactor: 2,
      assignments: [
        [1, 2],
        [1, 2],
      ],
    });
    await store.expire(1);
    await waitFor(() => partitions(store, "t").every((s) => s.leader === 2), "broker 2 to lead both");
    await register(store, 1);
    // Broker 1 catches up: its leader adds it back to the ISR.
    for (const s of partitions(store, "t")) {
      const change = { leaderEpoch: s.leaderEpoch, partitionEpoch: s.partitionEpoch, newIsr: [2, 1] };
      const leader = { topic: "t", partition: s.partition, brokerId: 2, brokerEpoch: sessions.get(2)!.epoch };
      const [r] = await controller.alterPartition([{ ...leader, ...change }]);
      expect(r.error).toBeNull();
    }
    const results = await controller.electLeaders("PREFERRED", [{ topic: "t", partition: 0 }]);
    expect(results.map((r) => r.error)).toEqual([null]);
    expect(partitions(store, "t").map((s) => s.leader)).toEqual([1, 2]);
    const again = await controller.electLeaders("PREFERRED", [{ topic: "t", partition: 0 }]);
    expect(again[0].error?.code).toBe("ELECTION_NOT_NEEDED");
    expect(await controller.electLeaders("UNCLEAN", null)).toEqual([]);

    // A successor with the rebalance on restores the other preferred leader by itself.
    const successor = new Controller(store, CONTROLLER_ID + 1, { rebalanceIntervalMs: 20 });
    successor.start();
    cleanups.push(() => successor.stop());
    await controller.stop();
    await waitFor(() => successor.active, "the successor to take over");
    await waitFor(
      () => partitions(store, "t")[1].leader === 1,
      "the rebalance to restore the preferred leader",
    );
  });

  it("elects out of the ISR only with unclean.leader.election.enable", async () => {
    const { store, controller } = await cluster([1, 2]);
    await controller.createTopic({ name: "t", partitions: 1, replicationFactor: 2, assignments: [[1, 2]] });
    const s = partitions(store, "t")[0];
    const [shrunk] = await controller.alterPartition([
      {
        topic: "t",
        partition: 0,
        brokerId: 1,
        brokerEpoch: -1,
        leaderEpoch: s.leaderEpoch,
        partitionEpoch: s.partitionEpoch,
        newIsr: [1],
      },
    ]);
    expect(shrunk.error).toBeNull();
    await store.expire(1);
    await waitFor(() => partitions(store, "t")[0].leader === NO_LEADER, "the partition to lose its leader");
    await controller.alterConfigs("t", { "unclean.leader.election.enable": "true" });
    await waitFor(() => partitions(store, "t")[0].leader === 2, "an unclean election of broker 2");
    expect(partitions(store, "t")[0].isr).toEqual([2]);
  });

  it("a deposed controller writes nothing and campaigns again", async () => {
    const { store, writes, hold } = heldWrites();
    const a = await cluster([1, 2, 3], {}, [], store);
    await a.controller.createTopic({
      name: "t",
      partitions: 4,
      replicationFactor: 3,
      assignments: [
        [1, 2, 3],
        [1, 2, 3],
        [1, 3, 2],
        [1, 3, 2],
      ],
    });
    const b = new Controller(store, CONTROLLER_ID + 1);
    b.start();
    cleanups.push(() => b.stop());

    // A's pass after broker 1's loss is held at its first write; then A loses its term.
    const release = hold();
    await store.expire(1);
    await waitFor(() => writes.length === 1, "A's first write");
    const aSession = writes[0];
    await store.expire(CONTROLLER_ID);
    expect(a.controller.active).toBe(false);
    release();
    await waitFor(() => b.active, "B to be elected");
    await waitFor(
      () => partitions(store, "t").every((s) => s.leader !== 1 && !s.isr.includes(1)),
      "B to move every leadership",
    );
    expect(writes.filter((s) => s === aSession)).toHaveLength(1);
    expect(await rejected(a.controller.createTopic({ name: "u", partitions: 1, replicationFactor: 1 }))).toBe(
      "NOT_CONTROLLER",
    );

    await b.stop();
    await waitFor(() => a.controller.active, "A to be elected again");
    expect(a.controller.epoch).toBeGreaterThan(aSession.epoch);
  });

  it("treats a broker registered again before a pass saw it go as fenced", async () => {
    const { store, hold } = heldWrites();
    const { sessions, controller } = await cluster([1, 2, 3], {}, [], store);
    await controller.createTopic({
      name: "t",
      partitions: 2,
      replicationFactor: 3,
      assignments: [
        [1, 2, 3],
        [2, 1, 3],
      ],
    });
    // The queue is busy with an ISR change while broker 1 stops and starts again.
    const release = hold();
    const s = partitions(store, "t")[0];
    const busy = controller.alterPartition([
      {
        topic: "t",
        partition: 0,
        brokerId: 1,
        brokerEpoch: -1,
        leaderEpoch: s.leaderEpoch,
        partitionEpoch: s.partitionEpoch,
        newIsr: [1, 2, 3],
      },
    ]);
    await sessions.get(1)!.close();
    await register(store, 1);
    release();
    await busy;
    await waitFor(() => partitions(store, "t").every((p) => !p.isr.includes(1)), "broker 1 out of every ISR");
    expect(partitions(store, "t").map((p) => [p.leader, p.isr])).toEqual([
      [2, [2, 3]],
      [2, [2, 3]],
    ]);
  });

  it("gives a sole-ISR leader that restarted before a pass saw it go a new leader epoch", async () => {
    const { store, hold } = heldWrites();
    const { sessions, controller } = await cluster([1, 2], {}, [], store);
    await controller.createTopic({ name: "t", partitions: 1, replicationFactor: 2, assignments: [[1, 2]] });
    await controller.createTopic({
      name: "busy",
      partitions: 1,
      replicationFactor: 2,
      assignments: [[2, 1]],
    });
    const change = { partition: 0, brokerEpoch: -1, leaderEpoch: 0, partitionEpoch: 0 };
    await controller.alterPartition([{ ...change, topic: "t", brokerId: 1, newIsr: [1] }]);
    // The queue is busy while broker 1 stops and starts again: the pass sees it live, same id.
    const release = hold();
    const busy = controller.alterPartition([{ ...change, topic: "busy", brokerId: 2, newIsr: [2] }]);
    await sessions.get(1)!.close();
    await register(store, 1);
    release();
    await busy;
    await waitFor(() => partitions(store, "t")[0].leaderEpoch === 1, "a new leader epoch for broker 1");
    expect(partitions(store, "t")[0]).toMatchObject({ leader: 1, isr: [1], leaderEpoch: 1 });
  });

  describe("incarnations (a lapse is not a restart)", () => {
    /** Brokers 1-3 registered as processes p1-p3, a controller, and topic t over them: [1,2,3], [2,3,1]. */
    async function incarnated() {
      const { store, hold, writes } = heldWrites();
      const sessions = new Map<number, BrokerSession>();
      for (const id of [1, 2, 3]) sessions.set(id, await register(store, id, null, `p${id}`));
      const { controller } = await cluster([], {}, [], store);
      await controller.createTopic({
        name: "t",
        partitions: 2,
        replicationFactor: 3,
        assignments: [
          [1, 2, 3],
          [2, 3, 1],
        ],
      });
      return { store, hold, writes, sessions, controller };
    }

    /** Broker 1's registration ends and comes back as `incarnationId` while a pass's write is held. */
    async function backDuringAPass(
      c: Awaited<ReturnType<typeof incarnated>>,
      incarnationId: string | undefined,
    ): Promise<void> {
      const release = c.hold();
      await c.store.expire(1);
      await waitFor(() => c.store.broker(1) === undefined, "broker 1's registration gone");
      await register(c.store, 1, null, incarnationId);
      release();
      // Queued behind every pass those events asked for.
      await c.controller.electLeaders("PREFERRED", []);
    }

    it("takes back the same process registered again before a pass saw it go: nothing fenced", async () => {
      const c = await incarnated();
      const before = partitions(c.store, "t");
      await backDuringAPass(c, "p1");
      expect(partitions(c.store, "t")).toEqual(before);
    });

    it("fences a new process, or one of unknown incarnation, registered again before a pass saw it go", async () => {
      for (const incarnationId of ["p1-restarted", undefined]) {
        const c = await incarnated();
        await backDuringAPass(c, incarnationId);
        expect(partitions(c.store, "t").map((p) => [p.leader, p.isr, p.leaderEpoch])).toEqual([
          [2, [2, 3], 1],
          [2, [2, 3], 0],
        ]);
      }
    });

    it("fences a lapse that a pass saw once, not again when the same process returns", async () => {
      const c = await incarnated();
      await c.store.expire(1);
      await waitFor(
        () => partitions(c.store, "t").every((p) => !p.isr.includes(1)),
        "broker 1 out of every ISR",
      );
      const fenced = partitions(c.store, "t");
      await register(c.store, 1, null, "p1");
      await c.controller.electLeaders("PREFERRED", []);
      expect(partitions(c.store, "t")).toEqual(fenced);
    });

    it("a restart is still fenced when the restarted process lapses and returns during the pass", async () => {
      const c = await incarnated();
      const release = c.hold();
      await c.store.expire(1);
      await register(c.store, 1, null, "p1-restarted");
      // The pass has begun (its first write is held) with broker 1 restarted; the new process lapses.
      await waitFor(() => c.writes.length > 0, "the pass's first write");
      await c.store.expire(1);
      await register(c.store, 1, null, "p1-restarted");
      release();
      await c.controller.electLeaders("PREFERRED", []);
      expect(partitions(c.store, "t").every((p) => !p.isr.includes(1))).toBe(true);
    });
  });

  it("reacts to a broker marking itself shutting down", async () => {
    const { store, sessions, controller } = await cluster([1, 2, 3]);
    await controller.createTopic({ name: "t", partitions: 3, replicationFactor: 3 });
    await sessions.get(2)!.markShuttingDown();
    await waitFor(
      () => partitions(store, "t").every((p) => p.leader !== 2 && !p.isr.includes(2)),
      "broker 2 to hand over",
    );
  });

  it("stores the configs it is given and reads its options from the broker config", async () => {
    const { store, controller } = await cluster([1]);
    await controller.createTopic({
      name: "t",
      partitions: 1,
      replicationFactor: 1,
      configs: { "retention.ms": "5" },
    });
    expect({ ...store.topic("t")?.configs }).toEqual({ "retention.ms": "5" });
    const validated = await controller.createTopic({
      name: "v",
      partitions: 2,
      replicationFactor: 1,
      validateOnly: true,
    });
    expect(validated.partitions).toHaveLength(2);
    expect(store.topic("v")).toBeUndefined();
    const config = {
      ...defaultBrokerConfig(),
      leaderImbalanceCheckIntervalSeconds: 7,
      autoLeaderRebalanceEnable: false,
    };
    expect(controllerOptions(config)).toEqual({
      uncleanLeaderElection: false,
      autoLeaderRebalance: false,
      rebalanceIntervalMs: 7000,
      imbalancePercentage: 10,
    });
  });

  it("re-decides after a lost compare-and-set, a bounded number of times", async () => {
    const { store, writes, lose } = heldWrites();
    const { controller } = await cluster([1, 2], { casAttempts: 3 }, [], store);
    await controller.createTopic({ name: "t", partitions: 1, replicationFactor: 2, assignments: [[1, 2]] });
    const change = {
      topic: "t",
      partition: 0,
      brokerId: 1,
      brokerEpoch: -1,
      leaderEpoch: 0,
      partitionEpoch: 0,
    };
    lose(2);
    const [won] = await controller.alterPartition([{ ...change, newIsr: [1] }]);
    expect(won.error).toBeNull();
    expect(writes).toHaveLength(3);
    expect(partitions(store, "t")[0]).toMatchObject({ isr: [1], partitionEpoch: 1 });
    lose(3);
    const [gaveUp] = await controller.alterPartition([{ ...change, partitionEpoch: 1, newIsr: [1, 2] }]);
    expect(gaveUp.error?.code).toBe("REQUEST_TIMED_OUT");
    expect(writes).toHaveLength(6);
    expect(partitions(store, "t")[0]).toMatchObject({ isr: [1], partitionEpoch: 1 });
  });

  it("deletes topics", async () => {
    const { store, controller } = await cluster([1]);
    await controller.createTopic({ name: "t", partitions: 1, replicationFactor: 1 });
    await controller.deleteTopic("t");
    expect(store.topic("t")).toBeUndefined();
    expect(await rejected(controller.deleteTopic("t"))).toBe("UNKNOWN_TOPIC_OR_PARTITION");
  });
});
