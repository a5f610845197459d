/**
 * Brokers whose registrations lapse (cut from etcd past their sessions) and are renewed by the
 * same process, under its incarnation id (issue 14):
 * - the controller learns of a broker's lapse and return together (its own link to etcd held
 *   meanwhile, so no pass saw the broker gone): it fences nothing, since the broker did not
 *   restart (counted as a restart, the broker was taken out of every ISR and its leaderships
 *   moved, with new leader epochs);
 * - every broker cut from etcd until etcd has expired every lease, the controller's seat too,
 *   then healed: once every ISR is whole again, a clean stop of a broker hands its leaderships to
 *   in-sync followers, every partition keeps a leader and acks=all goes on.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PartitionState } from "../../../broker/metadata/cluster.js";
import { Admin, Producer } from "../../../client/index.js";
import { readRecords, TestCluster } from "../../helpers/cluster.js";
import { waitFor } from "../../helpers/wait.js";

const PARTITIONS = 3;

let cluster: TestCluster;
let admin: Admin;

beforeAll(async () => {
  cluster = await TestCluster.start(3, {}, { etcdProxies: true });
  admin = new Admin({ brokers: cluster.bootstrap() });
}, 60_000);

afterAll(async () => {
  await admin?.close();
  await cluster?.close();
}, 60_000);

/** The states of `topic`'s partitions in a running broker's view. */
function states(topic: string): readonly PartitionState[] {
  return cluster.running()[0]?.store.topic(topic)?.partitions ?? [];
}

/** Leader and leader epoch of each partition of `topic`. */
function terms(topic: string): { leader: number; leaderEpoch: number }[] {
  return states(topic).map((s) => ({ leader: s.leader, leaderEpoch: s.leaderEpoch }));
}

/** An RF=3 topic with min.insync.replicas=2, written to and replicated to every broker. */
async function replicatedTopic(topic: string): Promise<void> {
  await admin.createTopics([
    { name: topic, partitions: PARTITIONS, replicationFactor: 3, configs: { "min.insync.replicas": "2" } },
  ]);
  await produce(topic, "before", 5);
  await wholeIsrs(topic);
}

async function wholeIsrs(topic: string): Promise<void> {
  const ids = cluster.running().map((b) => b.config.nodeId);
  for (let p = 0; p < PARTITIONS; p++) await cluster.waitForIsr(topic, p, ids);
}

/** `count` acks=all writes to every partition of `topic`, through the running brokers. */
async function produce(topic: string, tag: string, count: number): Promise<void> {
  const producer = new Producer({ brokers: cluster.bootstrap() }, { acks: -1, lingerMs: 0 });
  try {
    for (let i = 0; i < count; i++)
      for (let partition = 0; partition < PARTITIONS; partition++)
        await producer.send({ topic, partition, value: `${tag}-${partition}-${i}` });
  } finally {
    await producer.close();
  }
}

/** Resolves once the controller has passed over what the store showed it before this call. */
async function controllerSettled(name: string): Promise<void> {
  // Queued at the controller behind every pass already asked for.
  await admin.createTopics([{ name, partitions: 1, replicationFactor: 1 }]);
}

/** How many leases etcd holds, asked of etcd itself (not through a broker's proxy). */
async function leases(): Promise<number> {
  const body = (await cluster.etcd.request("/v3/lease/leases", {})) as { leases?: unknown[] };
  return body.leases?.length ?? 0;
}

describe("a registration renewed by the same process", () => {
  it("is not fenced when the controller sees it lapse and return at once", async () => {
    await replicatedTopic("lapsed");
    const controllerId = cluster.running()[0].store.controller()?.nodeId ?? -1;
    const lapsing = cluster.running().find((b) => b.config.nodeId !== controllerId);
    if (!lapsing) throw new Error("no broker but the controller");
    const id = lapsing.config.nodeId;
    const before = terms("lapsed");
    const epoch = lapsing.brokerEpoch();

    cluster.etcdProxy(id).cut();
    await waitFor(() => !lapsing.mayLead(), `broker ${id} gives up its registration`);
    // The controller's link held (shorter than its session) while broker id registers again.
    cluster.etcdProxy(controllerId).freeze();
    cluster.etcdProxy(id).restore();
    await waitFor(() => lapsing.mayLead() && lapsing.brokerEpoch() > epoch, `broker ${id} registered again`);
    cluster.etcdProxy(controllerId).thaw();
    await waitFor(
      () => cluster.broker(controllerId).store.broker(id)?.epoch === lapsing.brokerEpoch(),
      "the controller sees the new registration",
    );
    await controllerSettled("after-lapse");
    expect(cluster.broker(controllerId).controller.active).toBe(true);
    expect(terms("lapsed")).toEqual(before);
    expect(states("lapsed").every((s) => s.isr.includes(id))).toBe(true);
  }, 120_000);
});

describe("every broker cut from etcd past its session, then healed", () => {
  it("keeps every partition led and acks=all going through a clean stop once the ISRs are whole", async () => {
    await replicatedTopic("healed");
    const ids = cluster.running().map((b) => b.config.nodeId);
    for (const id of ids) cluster.etcdProxy(id).cut();
    await waitFor(
      () => cluster.running().every((b) => !b.mayLead()),
      "every broker gives up its registration",
    );
    await waitFor(async () => (await leases()) === 0, "etcd expires every lease");
    for (const id of ids) cluster.etcdProxy(id).restore();
    await waitFor(() => cluster.running().every((b) => b.mayLead()), "every broker registered again");
    await cluster.waitForBrokers(3);
    await controllerSettled("after-heal");
    await wholeIsrs("healed");

    const stopped = states("healed")[0].leader;
    await cluster.stopNode(stopped);
    await waitFor(
      () => states("healed").every((s) => s.leader !== stopped && s.leader >= 0),
      `every partition led by a broker other than ${stopped}`,
    );
    await produce("healed", "after", 5);
    const values = await readRecords(cluster.bootstrap(), "healed", 30, { partitions: PARTITIONS });
    expect(new Set(values).size).toBe(30);
  }, 120_000);
});
