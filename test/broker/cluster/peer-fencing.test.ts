/**
 * Fast detection of a crashed broker (decision 0033): a peer refused by a registered listener
 * ends that registration at once. The unit tests drive `PeerFencer` over the in-memory store; the
 * process tests kill -9 brokers of a cluster whose session timeout and replica.lag.time.max.ms
 * are ten minutes, so a new leader, a new controller, a follower leaving the ISR or a restarted
 * broker's registration inside the test's waits can only come from fencing.
 */
import { type AddressInfo, createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PeerFencer, refused } from "../../../broker/cluster/peer-fencer.js";
import { MemoryClusterStore } from "../../../broker/metadata/memory-store.js";
import { Cluster } from "../../../client/cluster.js";
import { Connection } from "../../../client/connection.js";
import { Admin, Producer } from "../../../client/index.js";
import { freePort } from "../../helpers/etcd.js";
import { ProcessCluster } from "../../helpers/process-cluster.js";
import { waitFor } from "../../helpers/wait.js";

/** The error a connection to a port nothing listens on fails with. */
async function refusal(): Promise<unknown> {
  const port = await freePort();
  return Connection.connect(`127.0.0.1:${port}`, { connectTimeoutMs: 5000 }).then(
    () => new Error("connected"),
    (err: unknown) => err,
  );
}

describe("PeerFencer", () => {
  it("recognises a refused connection, and nothing else, as refused", async () => {
    expect(refused(await refusal())).toBe(true);
    const timedOut = Object.assign(new Error("connect timed out"), { code: "ETIMEDOUT" });
    expect(refused(timedOut)).toBe(false);
    expect(refused(new Error("wrapper", { cause: timedOut }))).toBe(false);
    expect(
      refused(new AggregateError([timedOut, Object.assign(new Error("x"), { code: "ECONNREFUSED" })])),
    ).toBe(true);
    expect(refused("ECONNREFUSED")).toBe(false);
  });

  it("ends the registration that advertises the refusing address, once, and no other", async () => {
    const store = new MemoryClusterStore();
    const info = (nodeId: number) => ({
      nodeId,
      host: "127.0.0.1",
      port: 9000 + nodeId,
      rack: null,
      httpPort: null,
    });
    await store.register(info(1));
    const two = await store.register(info(2));
    const fencer = new PeerFencer(store, 1);
    const err = await refusal();
    fencer.connectFailed(2, "127.0.0.1:9999", err);
    fencer.connectFailed(2, "127.0.0.1:9002", new Error("reset"));
    fencer.connectFailed(1, "127.0.0.1:9001", err);
    await store.allocateProducerIds(1);
    expect(store.broker(2)?.epoch).toBe(two.epoch);
    expect(store.broker(1)).toBeDefined();
    const calls: number[] = [];
    const fence = store.fenceBroker.bind(store);
    store.fenceBroker = (nodeId, epoch) => {
      calls.push(epoch);
      return fence(nodeId, epoch);
    };
    fencer.connectFailed(2, "127.0.0.1:9002", err);
    fencer.connectFailed(2, "127.0.0.1:9002", err);
    await waitFor(() => store.broker(2) === undefined, "node 2's registration ended");
    expect(two.alive).toBe(false);
    const again = await store.register(info(2));
    fencer.connectFailed(2, "127.0.0.1:9002", err);
    await waitFor(() => store.broker(2) === undefined, "node 2's next registration ended too");
    expect(calls).toEqual([two.epoch, again.epoch]);
  });

  it("probes again when a probe was accepted: a dying broker's listener may outlive the closed connection", async () => {
    // A listener that accepts the first probe, then goes, as a kill -9'ed broker's does.
    const server = createServer((socket) => {
      socket.destroy();
      server.close();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    const store = new MemoryClusterStore();
    await store.register({ nodeId: 1, host: "127.0.0.1", port: 1, rack: null, httpPort: null });
    const two = await store.register({ nodeId: 2, host: "127.0.0.1", port, rack: null, httpPort: null });
    new PeerFencer(store, 1).probe(2);
    await waitFor(() => store.broker(2) === undefined, "node 2 fenced by a later probe");
    expect(two.alive).toBe(false);
  });
});

describe("kill -9 with ten-minute session and replica lag timeouts", () => {
  let cluster: ProcessCluster;

  beforeAll(async () => {
    cluster = await ProcessCluster.start(3, {
      "broker.session.timeout.ms": 600_000,
      "replica.lag.time.max.ms": 600_000,
    });
    const admin = new Admin({ brokers: cluster.bootstrap() });
    // Broker 3 leads none of these: a dead broker 3 is found only by the leaders it follows.
    await admin.createTopics([
      {
        name: "fenced",
        assignments: [
          [1, 2, 3],
          [2, 1, 3],
          [1, 3, 2],
        ],
        configs: { "min.insync.replicas": "2" },
      },
    ]);
    await admin.close();
    for (let p = 0; p < 3; p++) await cluster.waitForLeader("fenced", p, () => true);
  }, 90_000);

  afterAll(async () => {
    await cluster?.close();
  }, 60_000);

  async function controllerId(askIds: number[]): Promise<number> {
    const client = new Cluster({ brokers: askIds.map((id) => cluster.endpoint(id)) });
    try {
      await client.refresh([]);
      return client.controllerId;
    } finally {
      await client.close();
    }
  }

  async function produceAll(): Promise<void> {
    const producer = new Producer({ brokers: cluster.bootstrap() }, { acks: -1 });
    try {
      for (let p = 0; p < 3; p++) await producer.send({ topic: "fenced", partition: p, value: `after-${p}` });
    } finally {
      await producer.close();
    }
  }

  it("a dead follower leaves the ISR, found by its leader, and acks=all goes on", async () => {
    const follower = 3;
    for (let p = 0; p < 3; p++)
      expect((await cluster.waitForLeader("fenced", p, () => true)).leader).not.toBe(3);
    await cluster.kill(follower);
    const alive = cluster.running();
    await waitFor(
      async () => (await cluster.partition("fenced", 1, alive))?.isr.includes(follower) === false,
      `broker ${follower} out of the ISR`,
    );
    await produceAll();
    await cluster.startNode(follower);
    await cluster.waitForBrokers(3);
    await waitFor(
      async () => (await cluster.partition("fenced", 1))?.isr.includes(follower) === true,
      `broker ${follower} back in the ISR`,
    );
  });

  it("a dead leader's partition gets a new leader, and the broker registers again at once", async () => {
    const { leader } = await cluster.waitForLeader("fenced", 0, () => true);
    const ctl = await controllerId(cluster.running());
    // Kill a leader that is not the controller (the next test kills the controller).
    const victim = leader !== ctl ? leader : ([1, 2, 3].find((id) => id !== ctl) ?? 1);
    let partition = 0;
    for (let p = 0; p < 3; p++) if ((await cluster.partition("fenced", p))?.leader === victim) partition = p;
    await cluster.kill(victim);
    const alive = cluster.running();
    const moved = await cluster.waitForLeader("fenced", partition, (l) => l !== victim, alive);
    expect(moved.isr).not.toContain(victim);
    await produceAll();
    await cluster.startNode(victim);
    await cluster.waitForBrokers(3);
    await waitFor(
      async () => (await cluster.partition("fenced", partition))?.isr.includes(victim) === true,
      `broker ${victim} back in the ISR`,
    );
  });

  it("a dead controller that leads partitions is replaced by another controller", async () => {
    const ctl = await controllerId(cluster.running());
    await cluster.waitForLeader("fenced", 0, () => true);
    // Give the controller leaderships, so that followers fetch from it and find it refusing.
    const admin = new Admin({ brokers: cluster.bootstrap() });
    try {
      await admin.createTopics([
        {
          name: "led-by-controller",
          assignments: [[ctl, ...[1, 2, 3].filter((id) => id !== ctl)]],
        },
      ]);
    } finally {
      await admin.close();
    }
    await cluster.waitForLeader("led-by-controller", 0, (l) => l === ctl);
    await cluster.kill(ctl);
    const alive = cluster.running();
    await waitFor(async () => {
      const next = await controllerId(alive).catch(() => -1);
      return next >= 0 && next !== ctl;
    }, "another controller elected");
    await cluster.waitForLeader("led-by-controller", 0, (l) => l !== ctl, alive);
    await produceAll();
  });
});
