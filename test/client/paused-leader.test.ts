/**
 * A partition leader that stops answering the client (issue 14, the chaos soak's round 17), on a
 * three-broker in-process cluster. The leader's Produce and Metadata requests from the producer
 * under test are held unanswered by request faults, as a paused (SIGSTOP) or cut-off broker
 * holds them, while the cluster moves the leadership away (a reassignment that puts another
 * replica first, then a preferred election). The producer's metadata still names the old leader:
 * - its produce there times out once; the Metadata refresh that follows asks the other brokers,
 *   never the silent one, and the batch is written at the new leader within a delivery timeout
 *   shorter than two request timeouts, with the offset the stream expects (no duplicate);
 * - later refreshes keep away from the silent broker too.
 * And Admin.listOffsets whose cached metadata names a deposed leader still answers.
 * The rules alone, against stand-ins: test/client/suspect-brokers.test.ts.
 */
import { expect, it } from "vitest";
import type { RequestContext } from "../../broker/api/types.js";
import { Admin, Producer } from "../../client/index.js";
import { clusterForFile, type TestCluster } from "../helpers/cluster.js";
import { waitFor, within } from "../helpers/wait.js";

const PRODUCE = 0;
const METADATA = 3;
/** The producer under test, told apart by client id from the admin that moves leaderships. */
const CLIENT_ID = "paused-leader-test";
/** Short enough for a test, long enough for a loaded machine's Metadata and acks=all produce. */
const REQUEST_TIMEOUT_MS = 3_000;
/** A second request timeout would not fit. */
const DELIVERY_TIMEOUT_MS = 2 * REQUEST_TIMEOUT_MS - 500;

let cluster: TestCluster;
clusterForFile(3, {}, (c) => {
  cluster = c;
});

const ours = (ctx: RequestContext) => ctx.clientId === CLIENT_ID;

/** Creates `topic` with one partition on replicas [1, 2, 3] (1 leads) and waits for its full ISR. */
async function createTopic(admin: Admin, topic: string): Promise<void> {
  await admin.createTopics([
    { name: topic, assignments: [[1, 2, 3]], configs: { "min.insync.replicas": "2" } },
  ]);
  await cluster.waitForIsr(topic, 0, [1, 2, 3]);
  await waitFor(() => leaderEverywhere(topic, 1), `broker 1 leading ${topic}-0`);
}

/** Whether every broker's store names `leader` and that broker leads its replica. */
function leaderEverywhere(topic: string, leader: number): boolean {
  return (
    cluster.running().every((b) => b.store.topic(topic)?.partitions[0]?.leader === leader) &&
    cluster.broker(leader).topics.partition(topic, 0)?.role === "leader"
  );
}

/** Moves the leadership of `topic`-0 from broker 1 to broker 2: replicas [2, 1, 3], then elected. */
async function moveLeaderTo2(admin: Admin, topic: string): Promise<void> {
  await admin.alterPartitionReassignments([{ topic, partition: 0, replicas: [2, 1, 3] }]);
  await waitFor(
    async () => (await admin.listPartitionReassignments([{ topic, partition: 0 }])).length === 0,
    `the reassignment of ${topic}-0 done`,
  );
  await waitFor(async () => {
    const [r] = await admin.electLeaders("preferred", [{ topic, partition: 0 }]);
    return r.error === null || r.error.code === "ELECTION_NOT_NEEDED";
  }, `broker 2 elected for ${topic}-0`);
  await waitFor(() => leaderEverywhere(topic, 2), `broker 2 leading ${topic}-0 in every store`);
}

it("a produce held by a silent leader is retried at the new leader; Metadata avoids the silent broker", async () => {
  const topic = "paused-leader";
  const admin = new Admin({ brokers: cluster.bootstrap() });
  const producer = new Producer(
    {
      brokers: cluster.bootstrap(),
      clientId: CLIENT_ID,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      retry: { initialBackoffMs: 20, maxBackoffMs: 100 },
    },
    { acks: -1, lingerMs: 0, deliveryTimeoutMs: DELIVERY_TIMEOUT_MS },
  );
  const faults = cluster.broker(1).dispatcher.faults;
  try {
    await createTopic(admin, topic);
    expect((await producer.send({ topic, partition: 0, value: "v0" })).offset).toBe(0);

    // Broker 1 falls silent to the producer; the leadership moves on while the producer's
    // metadata still names broker 1.
    faults.add({ apiKey: PRODUCE, action: "hold", match: ours });
    faults.add({ apiKey: METADATA, action: "hold", match: ours });
    // The other brokers count the producer's Metadata requests (a fault that never applies).
    const asked = new Map<number, number>();
    for (const id of [2, 3]) {
      cluster.broker(id).dispatcher.faults.add({
        apiKey: METADATA,
        action: "delay",
        match: (ctx) => {
          if (ours(ctx)) asked.set(id, (asked.get(id) ?? 0) + 1);
          return false;
        },
      });
    }
    await moveLeaderTo2(admin, topic);

    const sent = await within(producer.send({ topic, partition: 0, value: "v1" }), "the send of v1");
    expect(sent.offset).toBe(1);
    // One produce reached the silent broker, no Metadata did; the refresh went to the others.
    expect(faults.hits.get(PRODUCE)).toBe(1);
    expect(faults.hits.get(METADATA) ?? 0).toBe(0);
    expect((asked.get(2) ?? 0) + (asked.get(3) ?? 0)).toBeGreaterThanOrEqual(1);

    // Refreshes go round the brokers; the silent one stays out of the turn.
    for (let i = 0; i < 6; i++) await producer.cluster.refresh([topic]);
    expect(faults.hits.get(METADATA) ?? 0).toBe(0);
    expect((await producer.send({ topic, partition: 0, value: "v2" })).offset).toBe(2);
    expect(faults.hits.get(PRODUCE)).toBe(1);
  } finally {
    for (const b of cluster.running()) b.dispatcher.faults.clear();
    await producer.close();
    await admin.close();
  }
}, 120_000);

it("Admin.listOffsets whose metadata names a deposed leader still answers", async () => {
  const topic = "moved-offsets";
  const admin = new Admin({ brokers: cluster.bootstrap() });
  // Its own metadata: the calls that move the leadership refresh theirs.
  const lister = new Admin({ brokers: cluster.bootstrap() });
  const producer = new Producer({ brokers: cluster.bootstrap() }, { acks: -1, lingerMs: 0 });
  try {
    await createTopic(admin, topic);
    for (let i = 0; i < 3; i++) await producer.send({ topic, partition: 0, value: `r${i}` });
    expect(await lister.listOffsets(topic, "latest")).toMatchObject([{ partition: 0, offset: 3 }]);
    await moveLeaderTo2(admin, topic);
    // The lister's cached metadata still names broker 1, which answers NOT_LEADER_OR_FOLLOWER.
    expect(lister.cluster.cachedTopic(topic)?.partitions[0].leader).toBe(1);
    expect(await lister.listOffsets(topic, "earliest")).toMatchObject([{ partition: 0, offset: 0 }]);
    // A new leader's high watermark catches up once its followers fetch again.
    await waitFor(
      async () => (await lister.listOffsets(topic, "latest"))[0].offset === 3,
      "the latest offset 3 at the new leader",
    );
  } finally {
    await producer.close();
    await lister.close();
    await admin.close();
  }
}, 120_000);
