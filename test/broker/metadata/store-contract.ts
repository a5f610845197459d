/**
 * The ClusterStore contract (broker/metadata/cluster.ts) as a reusable suite: every store
 * (memory, embedded, etcd) runs `describeClusterStore(name, factory)` from its own test file.
 *
 * Beyond cluster.ts the suite asks one thing: read-your-writes. A write (register, campaign,
 * createTopic, ...) resolves only once the same store's view reflects it, so a controller can read
 * what it wrote (an etcd store waits for its watch to reach the write's revision).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { aclResourceKey } from "../../../broker/metadata/acl-bindings.js";
import {
  type BrokerInfo,
  type ClusterStore,
  type ControllerSession,
  type MetadataEvent,
  NO_LEADER,
  type PartitionState,
  type TopicState,
} from "../../../broker/metadata/cluster.js";
import { KafkaError } from "../../../protocol/errors.js";
import { waitFor, within } from "../../helpers/wait.js";
import { describeSecurityMetadata } from "./store-security-contract.js";

/** One store under test, and the hooks the suite needs around it. */
export interface ClusterStoreHarness {
  readonly store: ClusterStore;
  /**
   * Ends every session `nodeId` holds in the cluster (its registration, its controller term) as
   * a lost lease does: an etcd store revokes the node's lease(s) from outside the store.
   */
  loseSession(nodeId: number): Promise<void>;
  /**
   * Another view of the same cluster, as a second broker process holds (etcd: a second client;
   * an in-process store may return `store` itself). Closed by `cleanup`.
   */
  openPeer(): Promise<ClusterStore>;
  /** Closes the stores (closing a closed store is allowed) and frees everything else held. */
  cleanup(): Promise<void>;
}

/** Each call gives a fresh, empty cluster (an etcd store: a fresh key prefix or server). */
export type ClusterStoreFactory = () => Promise<ClusterStoreHarness>;

export function brokerInfo(nodeId: number): BrokerInfo {
  return { nodeId, host: `broker-${nodeId}.test`, port: 9000 + nodeId, rack: null, httpPort: null };
}

export function partitionState(partition: number, replicas: number[], epoch = 0): PartitionState {
  return {
    partition,
    replicas,
    isr: [...replicas],
    leader: replicas[0] ?? NO_LEADER,
    leaderEpoch: epoch,
    partitionEpoch: epoch,
    addingReplicas: [],
    removingReplicas: [],
  };
}

let topicSeq = 0;

/** A topic with `partitions` partitions on `replicas`, and a fresh id. */
export function topicState(name: string, partitions = 1, replicas = [1]): TopicState {
  topicSeq += 1;
  const id = `${topicSeq.toString(16).padStart(8, "0")}${"ab".repeat(12)}`;
  return {
    name,
    id,
    partitions: Array.from({ length: partitions }, (_, p) => partitionState(p, replicas)),
    configs: {},
  };
}

/** What an event says is now true, checked against `store`'s view when the event arrives. */
function viewAgrees(store: ClusterStore, e: MetadataEvent): boolean {
  switch (e.type) {
    case "broker":
      return JSON.stringify(store.broker(e.nodeId) ?? null) === JSON.stringify(e.registration);
    case "topic":
      return JSON.stringify(store.topic(e.name) ?? null) === JSON.stringify(e.topic);
    case "partition":
      return JSON.stringify(store.topic(e.topic)?.partitions[e.partition]) === JSON.stringify(e.state);
    case "controller":
      return JSON.stringify(store.controller()) === JSON.stringify(e.controller);
    case "scram":
      return (
        JSON.stringify(store.scramCredential(e.user, e.mechanism) ?? null) === JSON.stringify(e.credential)
      );
    case "acl": {
      const key = aclResourceKey(e.pattern);
      const now = store.aclBindings().filter((b) => aclResourceKey(b) === key);
      return JSON.stringify(now) === JSON.stringify(e.bindings);
    }
    case "resync":
      return true;
  }
}

/** Records `store`'s events and whether its view already reflected each one on arrival. */
export function recordEvents(store: ClusterStore): {
  events: MetadataEvent[];
  stale: MetadataEvent[];
  stop: () => void;
} {
  const events: MetadataEvent[] = [];
  const stale: MetadataEvent[] = [];
  const stop = store.watch((e) => {
    events.push(e);
    if (!viewAgrees(store, e)) stale.push(e);
  });
  return { events, stale, stop };
}

/** The KafkaError code `promise` rejects with (fails if it resolves or rejects otherwise). */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (KafkaError.is(err)) return err.code;
    throw err;
  }
  throw new Error("expected a rejection");
}

/** Whether `promise` has settled, after the store has answered `probe` (a round trip). */
async function settledAfter(promise: Promise<unknown>, probe: () => Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  await probe();
  await probe();
  return settled;
}

export function describeClusterStore(name: string, factory: ClusterStoreFactory): void {
  describe(`${name}: ClusterStore contract`, () => {
    let h: ClusterStoreHarness;
    let store: ClusterStore;

    beforeEach(async () => {
      h = await factory();
      store = h.store;
    });
    afterEach(async () => {
      await h.cleanup();
    });

    async function controller(nodeId = 1): Promise<ControllerSession> {
      return within(store.campaign(nodeId), `node ${nodeId} elected`);
    }

    describe("registration", () => {
      it("lists live brokers by node id with the store's epochs", async () => {
        const sessions = [];
        for (const id of [3, 1, 2]) sessions.push(await store.register(brokerInfo(id)));
        expect(store.brokers().map((b) => b.nodeId)).toEqual([1, 2, 3]);
        const b1 = store.broker(1);
        expect(b1).toEqual({ ...brokerInfo(1), epoch: sessions[1].epoch, shuttingDown: false });
        for (const s of sessions) expect(Number.isSafeInteger(s.epoch)).toBe(true);
        expect(store.broker(4)).toBeUndefined();
      });

      it("gives every registration of a node a larger epoch than the one before", async () => {
        const epochs: number[] = [];
        for (let round = 0; round < 4; round++) {
          const s = await store.register(brokerInfo(1));
          const other = await store.register(brokerInfo(2 + round));
          epochs.push(s.epoch);
          await s.close();
          await other.close();
        }
        for (let i = 1; i < epochs.length; i++) expect(epochs[i]).toBeGreaterThan(epochs[i - 1]);
      });

      it("refuses a second live registration of a node with DUPLICATE_BROKER_REGISTRATION", async () => {
        const s = await store.register(brokerInfo(1));
        expect(await codeOf(store.register({ ...brokerInfo(1), host: "impostor.test" }))).toBe(
          "DUPLICATE_BROKER_REGISTRATION",
        );
        expect(store.broker(1)?.host).toBe("broker-1.test");
        expect(store.broker(1)?.epoch).toBe(s.epoch);
        await s.close();
        const again = await store.register(brokerInfo(1));
        expect(again.epoch).toBeGreaterThan(s.epoch);
      });

      it("keeps a registration's incarnation id, through shutting down, and none where none was given", async () => {
        const incarnationId = "7f3c1d2e-0b4a-4e59-9a61-2c8d5e6f7a80";
        const s = await store.register({ ...brokerInfo(1), incarnationId });
        await store.register(brokerInfo(2));
        await s.markShuttingDown();
        for (const view of [store, await h.openPeer()]) {
          await waitFor(() => view.broker(1)?.shuttingDown === true, "broker 1 shutting down in the view");
          expect(view.broker(1)?.incarnationId).toBe(incarnationId);
          expect(view.broker(2)).not.toHaveProperty("incarnationId");
        }
      });

      it("marks a broker shutting down and removes it on close", async () => {
        const s = await store.register(brokerInfo(1));
        await s.markShuttingDown();
        expect(store.broker(1)?.shuttingDown).toBe(true);
        await s.close();
        expect(store.broker(1)).toBeUndefined();
        expect(store.brokers()).toEqual([]);
      });
    });

    describe("watches", () => {
      it("tells every change after the view reflects it, and stops when unsubscribed", async () => {
        const rec = recordEvents(store);
        const s = await store.register(brokerInfo(1));
        const ctl = await controller(1);
        await store.createTopic(ctl, topicState("t", 2));
        const p0 = store.topic("t")?.partitions[0] as PartitionState;
        await store.updatePartition(ctl, "t", p0.partitionEpoch, { ...p0, isr: [1], partitionEpoch: 1 });
        await store.setTopicConfigs(ctl, "t", { "retention.ms": "1000" });
        await store.deleteTopic(ctl, "t");
        await s.markShuttingDown();
        await s.close();
        await ctl.resign();
        await waitFor(
          () => rec.events.some((e) => e.type === "controller" && e.controller === null),
          "the controller event of the resignation",
        );
        const kinds = new Set(rec.events.map((e) => e.type));
        expect([...kinds]).toEqual(expect.arrayContaining(["broker", "controller", "partition", "topic"]));
        expect(rec.events).toContainEqual({ type: "topic", name: "t", topic: null });
        expect(rec.events).toContainEqual({ type: "broker", nodeId: 1, registration: null });
        expect(rec.events).toContainEqual({
          type: "partition",
          topic: "t",
          partition: 0,
          state: expect.objectContaining({ partitionEpoch: 1 }),
        });
        expect(rec.stale).toEqual([]);
        rec.stop();
        const seen = rec.events.length;
        await store.register(brokerInfo(2));
        expect(rec.events.length).toBe(seen);
      });
    });

    describe("controller", () => {
      it("elects a campaigner with an epoch the view shows", async () => {
        const ctl = await controller(1);
        expect(ctl.nodeId).toBe(1);
        expect(store.controller()).toEqual({ nodeId: 1, epoch: ctl.epoch });
      });

      it("keeps a campaign waiting while another node holds, then elects it with a larger epoch", async () => {
        const first = await controller(1);
        const second = store.campaign(2);
        expect(await settledAfter(second, () => store.allocateProducerIds(1))).toBe(false);
        expect(store.controller()?.nodeId).toBe(1);
        await first.resign();
        const next = await within(second, "node 2 elected after node 1 resigned");
        expect(next.nodeId).toBe(2);
        expect(next.epoch).toBeGreaterThan(first.epoch);
        expect(store.controller()).toEqual({ nodeId: 2, epoch: next.epoch });
      });

      it("refuses every write under a resigned session with NOT_CONTROLLER", async () => {
        const old = await controller(1);
        await store.createTopic(old, topicState("t"));
        await old.resign();
        const current = await controller(2);
        const p0 = store.topic("t")?.partitions[0] as PartitionState;
        const writes = [
          () => store.createTopic(old, topicState("u")),
          () => store.deleteTopic(old, "t"),
          () => store.setTopicConfigs(old, "t", { "retention.ms": "1" }),
          () => store.addPartitions(old, "t", [partitionState(1, [1])]),
          () =>
            store.updatePartition(old, "t", p0.partitionEpoch, {
              ...p0,
              partitionEpoch: p0.partitionEpoch + 1,
            }),
        ];
        for (const write of writes) expect(await codeOf(write())).toBe("NOT_CONTROLLER");
        expect(store.topic("u")).toBeUndefined();
        expect(store.topic("t")?.partitions).toEqual([p0]);
        expect(store.topic("t")?.configs).toEqual({});
        await store.createTopic(current, topicState("u"));
        expect(store.topic("u")).toBeDefined();
      });
    });

    describe("topics", () => {
      let ctl: ControllerSession;
      beforeEach(async () => {
        ctl = await controller(1);
      });

      it("creates a topic, found by name and id, and refuses its name twice", async () => {
        const t = topicState("orders", 3, [1, 2]);
        await store.createTopic(ctl, t);
        expect(store.topic("orders")).toEqual(t);
        expect(store.topicById(t.id)).toEqual(t);
        expect(store.topics().map((x) => x.name)).toEqual(["orders"]);
        const again = topicState("orders");
        expect(await codeOf(store.createTopic(ctl, again))).toBe("TOPIC_ALREADY_EXISTS");
        expect(store.topic("orders")?.id).toBe(t.id);
        expect(store.topicById(again.id)).toBeUndefined();
      });

      it("shares nothing with what was passed in", async () => {
        const t = topicState("t", 1, [1, 2]);
        const before = structuredClone(t);
        await store.createTopic(ctl, t);
        t.partitions[0].isr.push(9);
        t.partitions.push(partitionState(1, [1]));
        t.configs["retention.ms"] = "5";
        expect(store.topic("t")).toEqual(before);
      });

      it("deletes a topic and refuses an absent one with UNKNOWN_TOPIC_OR_PARTITION", async () => {
        const t = topicState("t");
        await store.createTopic(ctl, t);
        await store.deleteTopic(ctl, "t");
        expect(store.topic("t")).toBeUndefined();
        expect(store.topicById(t.id)).toBeUndefined();
        expect(store.topics()).toEqual([]);
        expect(await codeOf(store.deleteTopic(ctl, "t"))).toBe("UNKNOWN_TOPIC_OR_PARTITION");
      });

      it("replaces a topic's configs in a map without a prototype", async () => {
        await store.createTopic(ctl, { ...topicState("t"), configs: { "cleanup.policy": "compact" } });
        await store.setTopicConfigs(ctl, "t", { "retention.ms": "1000", constructor: "x" });
        const configs = store.topic("t")?.configs as Record<string, string>;
        expect(Object.getPrototypeOf(configs)).toBeNull();
        expect({ ...configs }).toEqual({ "retention.ms": "1000", constructor: "x" });
        expect(await codeOf(store.setTopicConfigs(ctl, "absent", {}))).toBe("UNKNOWN_TOPIC_OR_PARTITION");
      });

      it("appends partitions that continue the numbering, and refuses others", async () => {
        await store.createTopic(ctl, topicState("t", 2));
        await store.addPartitions(ctl, "t", [partitionState(2, [1]), partitionState(3, [1])]);
        expect(store.topic("t")?.partitions.map((p) => p.partition)).toEqual([0, 1, 2, 3]);
        await expect(store.addPartitions(ctl, "t", [partitionState(5, [1])])).rejects.toBeInstanceOf(
          KafkaError,
        );
        expect(store.topic("t")?.partitions).toHaveLength(4);
        expect(await codeOf(store.addPartitions(ctl, "absent", [partitionState(0, [1])]))).toBe(
          "UNKNOWN_TOPIC_OR_PARTITION",
        );
      });

      it("updates a partition only from the epoch it expects", async () => {
        await store.createTopic(ctl, topicState("t", 2, [1, 2, 3]));
        const p1 = store.topic("t")?.partitions[1] as PartitionState;
        const shrunk = { ...p1, isr: [1, 2], partitionEpoch: p1.partitionEpoch + 1 };
        expect(await store.updatePartition(ctl, "t", p1.partitionEpoch, shrunk)).toBe(true);
        expect(store.topic("t")?.partitions[1]).toEqual(shrunk);

        const rec = recordEvents(store);
        const stale = { ...p1, isr: [1], partitionEpoch: p1.partitionEpoch + 1 };
        expect(await store.updatePartition(ctl, "t", p1.partitionEpoch, stale)).toBe(false);
        expect(store.topic("t")?.partitions[1]).toEqual(shrunk);
        expect(store.topic("t")?.partitions[0]).toEqual(partitionState(0, [1, 2, 3]));

        const led = { ...shrunk, leader: 2, leaderEpoch: 1, partitionEpoch: shrunk.partitionEpoch + 1 };
        expect(await store.updatePartition(ctl, "t", shrunk.partitionEpoch, led)).toBe(true);
        await waitFor(() => rec.events.length > 0, "the partition event");
        expect(rec.events).toEqual([{ type: "partition", topic: "t", partition: 1, state: led }]);
        expect(await codeOf(store.updatePartition(ctl, "absent", 0, partitionState(0, [1], 1)))).toBe(
          "UNKNOWN_TOPIC_OR_PARTITION",
        );
        const fallen = { ...led, leaderEpoch: 0, partitionEpoch: led.partitionEpoch + 1 };
        expect(await codeOf(store.updatePartition(ctl, "t", led.partitionEpoch, fallen))).toBe(
          "INVALID_REQUEST",
        );
        expect(store.topic("t")?.partitions[1]).toEqual(led);
      });
    });

    describe("producer ids", () => {
      it("hands out increasing blocks, never above producerIdsIssued", async () => {
        let end = 0;
        for (const count of [1, 10, 1000, 3]) {
          const first = await store.allocateProducerIds(count);
          expect(first).toBeGreaterThanOrEqual(end);
          end = first + count;
          expect(store.producerIdsIssued()).toBeGreaterThanOrEqual(end);
        }
      });

      it("hands out disjoint blocks to concurrent callers", async () => {
        const firsts = await Promise.all(Array.from({ length: 20 }, () => store.allocateProducerIds(5)));
        const sorted = [...firsts].sort((a, b) => a - b);
        for (let i = 1; i < sorted.length; i++) expect(sorted[i]).toBeGreaterThanOrEqual(sorted[i - 1] + 5);
        expect(store.producerIdsIssued()).toBeGreaterThanOrEqual((sorted.at(-1) as number) + 5);
      });
    });

    describe("lost sessions", () => {
      it("tells a broker once that its registration was lost and removes it", async () => {
        const s = await store.register(brokerInfo(1));
        let lost = 0;
        s.onLost(() => lost++);
        await h.loseSession(1);
        await waitFor(() => lost > 0, "onLost of node 1's registration");
        await waitFor(() => store.broker(1) === undefined, "node 1's registration to leave the view");
        const again = await store.register(brokerInfo(1));
        expect(again.epoch).toBeGreaterThan(s.epoch);
        let late = 0;
        s.onLost(() => late++);
        await waitFor(() => late === 1, "a listener added after the loss told at once");
        expect(lost).toBe(1);
      });

      it("deposes a controller whose session was lost and elects a waiting one", async () => {
        const s = await store.register(brokerInfo(1));
        const old = await controller(1);
        await store.createTopic(old, topicState("t"));
        let lost = 0;
        old.onLost(() => lost++);
        const waiting = store.campaign(2);
        await h.loseSession(1);
        await waitFor(() => lost > 0, "onLost of node 1's controller term");
        const next = await within(waiting, "node 2 elected after node 1 was lost");
        expect(next.epoch).toBeGreaterThan(old.epoch);
        expect(await codeOf(store.deleteTopic(old, "t"))).toBe("NOT_CONTROLLER");
        expect(store.topic("t")).toBeDefined();
        expect(lost).toBe(1);
        await s.close();
      });
    });

    describe("fenceBroker", () => {
      it("ends a registration and the seat its node took under it, when asked by a peer", async () => {
        const s = await store.register(brokerInfo(1));
        const seat = await controller(1);
        let lost = 0;
        s.onLost(() => lost++);
        seat.onLost(() => lost++);
        const waiting = store.campaign(2);
        const peer = await h.openPeer();
        await waitFor(() => peer.broker(1)?.epoch === s.epoch, "node 1 in the peer's view");
        expect(await peer.fenceBroker(1, s.epoch)).toBe(true);
        expect(peer.broker(1)).toBeUndefined();
        await waitFor(() => lost === 2, "onLost of node 1's registration and seat");
        const next = await within(waiting, "node 2 elected once node 1 was fenced");
        expect(next.nodeId).toBe(2);
        expect(await codeOf(store.createTopic(seat, topicState("late")))).toBe("NOT_CONTROLLER");
      });

      it("leaves a registration of another epoch, and another node's seat, alone", async () => {
        const first = await store.register(brokerInfo(1));
        await h.loseSession(1);
        await waitFor(() => store.broker(1) === undefined, "node 1's first registration gone");
        const again = await store.register(brokerInfo(1));
        await store.register(brokerInfo(2));
        const seat = await controller(2);
        expect(await store.fenceBroker(1, first.epoch)).toBe(false);
        expect(await store.fenceBroker(3, 1)).toBe(false);
        expect(store.broker(1)?.epoch).toBe(again.epoch);
        expect(again.alive).toBe(true);
        expect(await store.fenceBroker(1, again.epoch)).toBe(true);
        expect(store.broker(1)).toBeUndefined();
        expect(store.controller()?.nodeId).toBe(2);
        await store.createTopic(seat, topicState("kept"));
        expect(await store.fenceBroker(1, again.epoch)).toBe(false);
      });
    });

    describe("peers", () => {
      it("shows one view's writes to another, and refuses a node registered through either", async () => {
        const peer = await h.openPeer();
        const rec = recordEvents(peer);
        const ctl = await controller(1);
        const t = topicState("shared", 2);
        await store.createTopic(ctl, t);
        await waitFor(() => peer.topic("shared") !== undefined, "the topic in the peer's view");
        expect(peer.topic("shared")).toEqual(t);
        expect(peer.clusterId()).toBe(store.clusterId());
        await peer.register(brokerInfo(7));
        expect(await codeOf(store.register(brokerInfo(7)))).toBe("DUPLICATE_BROKER_REGISTRATION");
        expect(rec.stale).toEqual([]);
        const issued = await peer.allocateProducerIds(10);
        const mine = await store.allocateProducerIds(10);
        expect(Math.abs(mine - issued)).toBeGreaterThanOrEqual(10);
      });
    });

    describe("close", () => {
      it("closes once or twice, ends waiting campaigns and refuses later writes", async () => {
        await controller(1);
        const waiting = store.campaign(2);
        await store.close();
        await expect(waiting).rejects.toBeInstanceOf(Error);
        await store.close();
        await expect(store.register(brokerInfo(1))).rejects.toBeInstanceOf(Error);
        await expect(store.allocateProducerIds(1)).rejects.toBeInstanceOf(Error);
      });
    });
  });
  describeSecurityMetadata(name, factory);
}
