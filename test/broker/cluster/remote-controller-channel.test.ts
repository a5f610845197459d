/**
 * ClusterControllerChannel against a real broker acting as controller (node 1, its own store and
 * controller): the channel runs as node 2 on that broker's store, so every call is forwarded over
 * the wire and its answer turned back into the local controller's shapes. Then the retry path on
 * a MemoryClusterStore: no controller at first, a controller that cannot be reached, one that
 * answers NOT_CONTROLLER, and the deadline.
 */
import * as net from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { ClusterControllerChannel } from "../../../broker/cluster/remote-controller-channel.js";
import { Controller } from "../../../broker/controller/controller.js";
import type { BrokerSession, ClusterStore } from "../../../broker/metadata/cluster.js";
import { MemoryClusterStore } from "../../../broker/metadata/memory-store.js";
import { Connection } from "../../../client/connection.js";
import { KafkaError } from "../../../protocol/errors.js";
import { startTestBroker, type TestBroker } from "../../helpers/broker.js";
import { trustInterBroker } from "../../helpers/inter-broker.js";
import { waitFor, within } from "../../helpers/wait.js";
import { topicState } from "../metadata/store-contract.js";

const CONTROLLER_NODE = 1;
const ALTER_PARTITION = 56;
const THIS_NODE = 2;

let tb: TestBroker;
const clientIds: (string | null)[] = [];
let untrust: () => void;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  tb = await startTestBroker();
  untrust = trustInterBroker(tb.broker, (id) => {
    clientIds.push(id);
    return true;
  });
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

afterAll(async () => {
  untrust?.();
  await tb?.stop();
});

/** A channel of node `nodeId` on `store`; its own controller never runs (a local call fails). */
function channelOn(store: ClusterStore, nodeId = THIS_NODE, timeoutMs = 20_000): ClusterControllerChannel {
  const channel = new ClusterControllerChannel({
    store,
    nodeId,
    controller: new Controller(store, nodeId),
    timeoutMs,
    retryBackoffMs: 10,
    retryBackoffMaxMs: 50,
  });
  cleanups.push(() => channel.close());
  return channel;
}

async function rejection(promise: Promise<unknown>): Promise<KafkaError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!KafkaError.is(err)) throw new Error(`expected a KafkaError, got ${String(err)}`);
  return err;
}

describe("forwarded to the controller's broker", () => {
  it("creates, grows, configures and deletes a topic; each change in the view when the call resolves", async () => {
    const store = tb.broker.store;
    const channel = channelOn(store);
    clientIds.length = 0;
    const created = await channel.createTopic({
      name: "fwd",
      partitions: 2,
      replicationFactor: 1,
      configs: { "retention.ms": "60000" },
    });
    expect(clientIds).toContain(`samsa-broker-${THIS_NODE}`);
    expect(created).toBe(store.topic("fwd"));
    expect(created.partitions.map((p) => p.replicas)).toEqual([[CONTROLLER_NODE], [CONTROLLER_NODE]]);
    expect(created.configs["retention.ms"]).toBe("60000");
    expect(tb.broker.topics.partition("fwd", 1)).toBeDefined();

    const grown = await channel.createPartitions("fwd", 3);
    expect(grown.partitions).toHaveLength(3);
    expect(store.topic("fwd")?.partitions).toHaveLength(3);

    await channel.alterConfigs("fwd", { "cleanup.policy": "compact" });
    expect({ ...store.topic("fwd")?.configs }).toEqual({ "cleanup.policy": "compact" });

    await channel.deleteTopic("fwd");
    expect(store.topic("fwd")).toBeUndefined();
  });

  it("validateOnly creates nothing and answers the topic's shape", async () => {
    const channel = channelOn(tb.broker.store);
    const sketch = await channel.createTopic({
      name: "dry",
      partitions: 3,
      replicationFactor: 1,
      validateOnly: true,
    });
    expect(sketch.partitions).toHaveLength(3);
    expect(sketch.partitions[0].replicas).toHaveLength(1);
    expect(tb.broker.store.topic("dry")).toBeUndefined();
  });

  it("an answer's error is the KafkaError, its message not prefixed twice; it is not retried", async () => {
    const channel = channelOn(tb.broker.store);
    await channel.createTopic({ name: "twice", partitions: 1, replicationFactor: 1 });
    const err = await rejection(channel.createTopic({ name: "twice", partitions: 1, replicationFactor: 1 }));
    expect(err.code).toBe("TOPIC_ALREADY_EXISTS");
    expect(err.message).toBe("TOPIC_ALREADY_EXISTS: topic 'twice' already exists");
    const missing = await rejection(channel.deleteTopic("never"));
    expect(missing.code).toBe("UNKNOWN_TOPIC_OR_PARTITION");
  });

  it("AlterPartition v3 by topic id answers the committed state; ElectLeaders, reassignments and ControlledShutdown", async () => {
    const store = tb.broker.store;
    const channel = channelOn(store);
    await channel.createTopic({ name: "isr", partitions: 2, replicationFactor: 1 });
    const p = store.topic("isr")?.partitions[0];
    const epoch = store.broker(CONTROLLER_NODE)?.epoch ?? -1;
    if (!p) throw new Error("no isr-0");
    const [ok] = await channel.alterPartition([
      {
        topic: "isr",
        partition: 0,
        brokerId: CONTROLLER_NODE,
        brokerEpoch: epoch,
        leaderEpoch: p.leaderEpoch,
        partitionEpoch: p.partitionEpoch,
        newIsrWithEpochs: [{ brokerId: CONTROLLER_NODE, brokerEpoch: epoch }],
      },
    ]);
    expect(ok).toEqual({ topic: "isr", partition: 0, error: null, state: p });
    const [stale] = await channel.alterPartition([
      {
        topic: "isr",
        partition: 0,
        brokerId: CONTROLLER_NODE,
        brokerEpoch: epoch - 1,
        leaderEpoch: p.leaderEpoch,
        partitionEpoch: p.partitionEpoch,
        newIsr: [CONTROLLER_NODE],
      },
    ]);
    expect(stale.error?.code).toBe("STALE_BROKER_EPOCH");

    const [elected] = await channel.electLeaders("PREFERRED", [{ topic: "isr", partition: 0 }]);
    expect(elected.error?.code).toBe("ELECTION_NOT_NEEDED");
    expect(await channel.electLeaders("PREFERRED", null)).toEqual([]);

    const moved = await channel.alterReassignments([
      { topic: "isr", partition: 0, replicas: [CONTROLLER_NODE] },
      { topic: "isr", partition: 1, replicas: [7] },
    ]);
    expect(moved.map((r) => r.error?.code ?? null)).toEqual([null, "INVALID_REPLICA_ASSIGNMENT"]);
    expect(moved[0].state).toBe(store.topic("isr")?.partitions[0]);
    expect(await channel.listReassignments(null)).toEqual([]);

    const shutdown = await rejection(channel.controlledShutdown(THIS_NODE, 1));
    expect(shutdown.code).toBe("STALE_BROKER_EPOCH");
  });

  it("a NOT_CONTROLLER answer is retried until the controller takes the call", async () => {
    const store = tb.broker.store;
    const channel = channelOn(store);
    const spy = vi
      .spyOn(tb.broker.controller, "controlledShutdown")
      .mockRejectedValueOnce(new KafkaError("NOT_CONTROLLER", "term lost"))
      .mockRejectedValueOnce(new KafkaError("NOT_CONTROLLER", "term lost"));
    cleanups.push(async () => spy.mockRestore());
    const epoch = store.broker(CONTROLLER_NODE)?.epoch ?? -1;
    const remaining = await channel.controlledShutdown(CONTROLLER_NODE, epoch);
    expect(spy).toHaveBeenCalledTimes(3);
    expect(remaining.some((r) => r.topic === "isr")).toBe(true);
  });

  it("calls this node's own controller when the store names this node", async () => {
    const channel = new ClusterControllerChannel({
      store: tb.broker.store,
      nodeId: CONTROLLER_NODE,
      controller: tb.broker.controller,
    });
    cleanups.push(() => channel.close());
    clientIds.length = 0;
    const topic = await channel.createTopic({ name: "local", partitions: 1, replicationFactor: 1 });
    expect(topic.name).toBe("local");
    expect(clientIds).toEqual([]);
  });
});

describe("a broker whose channel forwards", () => {
  it("answers ListPartitionReassignments and ElectLeaders with what the controller's broker answers", async () => {
    const other = await startTestBroker({ "node.id": THIS_NODE });
    cleanups.push(() => other.stop());
    const store = new MemoryClusterStore();
    cleanups.push(() => store.close());
    const session = await store.register({
      nodeId: CONTROLLER_NODE,
      host: "127.0.0.1",
      port: tb.port,
      rack: null,
      httpPort: null,
    });
    cleanups.push(() => session.close());
    const term = await store.campaign(CONTROLLER_NODE);
    cleanups.push(() => term.resign());
    const original = other.broker.channel;
    Object.defineProperty(other.broker, "channel", { value: channelOn(store), configurable: true });
    cleanups.push(async () => {
      Object.defineProperty(other.broker, "channel", { value: original, configurable: true });
    });
    const ongoing = {
      topic: "far",
      partition: 3,
      replicas: [1, 4],
      addingReplicas: [4],
      removingReplicas: [],
    };
    const spy = vi.spyOn(tb.broker.controller, "listReassignments").mockReturnValue([ongoing]);
    cleanups.push(async () => spy.mockRestore());

    const conn = await Connection.connect(`127.0.0.1:${other.port}`);
    cleanups.push(() => conn.close());
    const listed = await conn.send(46, 0, { timeoutMs: 10_000, topics: null });
    expect(listed.topics).toEqual([
      {
        name: "far",
        partitions: [{ partitionIndex: 3, replicas: [1, 4], addingReplicas: [4], removingReplicas: [] }],
      },
    ]);
    const elected = await conn.send(43, 2, { electionType: 0, topicPartitions: null, timeoutMs: 10_000 });
    expect(elected).toMatchObject({ errorCode: 0, replicaElectionResults: [] });
  });
});

describe("the retry path", () => {
  /** A store that names node 1 controller, registered at `port`. */
  async function register(store: MemoryClusterStore, port: number): Promise<BrokerSession> {
    return store.register({ nodeId: CONTROLLER_NODE, host: "127.0.0.1", port, rack: null, httpPort: null });
  }

  /** A listener that accepts and at once closes every connection; counts them. */
  async function slammingListener(): Promise<{ port: number; accepted: () => number }> {
    let accepted = 0;
    const server = net.createServer((socket) => {
      accepted++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise((resolve) => server.close(() => resolve())));
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    return { port: address.port, accepted: () => accepted };
  }

  it("waits while no controller is elected, then forwards to the one that appears", async () => {
    const store = new MemoryClusterStore();
    cleanups.push(() => store.close());
    const channel = channelOn(store);
    let settled = false;
    const listing = channel.listReassignments(null).finally(() => {
      settled = true;
    });
    const session = await register(store, tb.port);
    cleanups.push(() => session.close());
    expect(settled).toBe(false);
    const term = await store.campaign(CONTROLLER_NODE);
    cleanups.push(() => term.resign());
    expect(await within(listing, "the forwarded listing")).toEqual([]);
  });

  it("retries a controller it cannot reach and follows its new registration", async () => {
    const store = new MemoryClusterStore();
    cleanups.push(() => store.close());
    const dead = await slammingListener();
    const first = await register(store, dead.port);
    const term = await store.campaign(CONTROLLER_NODE);
    cleanups.push(() => term.resign());
    const channel = channelOn(store);
    const electing = channel.electLeaders("PREFERRED", null);
    await waitFor(() => dead.accepted() >= 2, "two attempts at the unreachable controller");
    await first.close();
    const second = await register(store, tb.port);
    cleanups.push(() => second.close());
    expect(await within(electing, "the forwarded election")).toEqual([]);
  });

  it("a call held by a controller that loses its term goes at once to the new one", async () => {
    // Node 1 (the test broker) is the controller and holds every AlterPartition unanswered, as a
    // paused process does; node 2, the leader asking, becomes the controller meanwhile.
    const store = new MemoryClusterStore();
    cleanups.push(() => store.close());
    const first = await register(store, tb.port);
    cleanups.push(() => first.close());
    const self = await store.register({
      nodeId: THIS_NODE,
      host: "127.0.0.1",
      port: 1,
      rack: null,
      httpPort: null,
    });
    cleanups.push(() => self.close());
    const term = await store.campaign(CONTROLLER_NODE);
    await store.createTopic(term, topicState("held", 1, [THIS_NODE, CONTROLLER_NODE]));
    const release = tb.broker.dispatcher.faults.add({ apiKey: ALTER_PARTITION, action: "hold" });
    cleanups.push(async () => release());
    const heldBefore = tb.broker.dispatcher.faults.hits.get(ALTER_PARTITION) ?? 0;
    const controller = new Controller(store, THIS_NODE);
    cleanups.push(() => controller.stop());
    const channel = new ClusterControllerChannel({
      store,
      nodeId: THIS_NODE,
      controller,
      timeoutMs: 120_000,
    });
    cleanups.push(() => channel.close());

    const shrinking = channel.alterPartition([
      {
        topic: "held",
        partition: 0,
        brokerId: THIS_NODE,
        brokerEpoch: self.epoch,
        leaderEpoch: 0,
        partitionEpoch: 0,
        newIsrWithEpochs: [{ brokerId: THIS_NODE, brokerEpoch: self.epoch }],
      },
    ]);
    await waitFor(
      () => (tb.broker.dispatcher.faults.hits.get(ALTER_PARTITION) ?? 0) > heldBefore,
      "the AlterPartition held by the controller",
    );
    controller.start();
    await term.resign();
    const [result] = await within(shrinking, "the ISR change committed by the new controller");
    expect(result.error).toBeNull();
    expect(result.state?.isr).toEqual([THIS_NODE]);
    expect(store.topic("held")?.partitions[0].isr).toEqual([THIS_NODE]);
    expect(store.controller()?.nodeId).toBe(THIS_NODE);
  });

  it("a forwarded change this node's view never shows fails with REQUEST_TIMED_OUT, though it was made", async () => {
    const store = new MemoryClusterStore();
    cleanups.push(() => store.close());
    const session = await register(store, tb.port);
    cleanups.push(() => session.close());
    const term = await store.campaign(CONTROLLER_NODE);
    cleanups.push(() => term.resign());
    const channel = channelOn(store, THIS_NODE, 300);
    const err = await rejection(channel.createTopic({ name: "unseen", partitions: 1, replicationFactor: 1 }));
    expect(err.code).toBe("REQUEST_TIMED_OUT");
    expect(err.message).toContain("has not shown");
    expect(tb.broker.store.topic("unseen")).toBeDefined();
  });

  it("fails with REQUEST_TIMED_OUT once no controller answered within timeoutMs", async () => {
    const store = new MemoryClusterStore();
    cleanups.push(() => store.close());
    const channel = channelOn(store, THIS_NODE, 200);
    const err = await rejection(channel.listReassignments(null));
    expect(err.code).toBe("REQUEST_TIMED_OUT");
    expect(err.message).toContain("no controller is elected");
  });

  it("close() ends calls still waiting", async () => {
    const store = new MemoryClusterStore();
    cleanups.push(() => store.close());
    const channel = channelOn(store);
    const waiting = rejection(channel.listReassignments(null));
    await channel.close();
    expect((await within(waiting, "the call to end")).code).toBe("REQUEST_TIMED_OUT");
  });
});
