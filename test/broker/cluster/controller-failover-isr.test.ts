/**
 * An ISR shrink asked of a controller that stops answering (as a paused process does: its kernel
 * still accepts and acknowledges) commits at the controller elected after it, while the old one
 * still holds the request: the leader's controller channel gives the attempt up as soon as the
 * store names a new controller, as Kafka's leader resends AlterPartition to the new controller.
 * Before, the shrink waited for the channel's 30 s deadline, with acks=all held all that time at
 * the maximal ISR (the follower being removed still counted). Issue 14's soak, fault 1.
 */
import { expect, it } from "vitest";
import { Admin, Producer } from "../../../client/index.js";
import { clusterForFile, type TestCluster } from "../../helpers/cluster.js";
import { waitFor, within } from "../../helpers/wait.js";

const TOPIC = "failover-isr";
const FETCH = 1;
const ALTER_PARTITION = 56;

let cluster: TestCluster;
clusterForFile(3, {}, (c) => {
  cluster = c;
});

it("commits a leader's ISR shrink at the new controller while the old one still holds it", async () => {
  const admin = new Admin({ brokers: cluster.bootstrap() });
  await admin.createTopics([
    { name: TOPIC, partitions: 3, replicationFactor: 3, configs: { "min.insync.replicas": "2" } },
  ]);
  await admin.close();
  for (let p = 0; p < 3; p++) await cluster.waitForIsr(TOPIC, p, [1, 2, 3]);
  // A partition led by a broker that is not the controller, and its follower that is not either.
  const controller = cluster.broker(1).store.controller()?.nodeId ?? -1;
  let partition = -1;
  let leader = -1;
  for (let p = 0; p < 3 && partition < 0; p++) {
    const id = (await cluster.leaderOf(TOPIC, p)).config.nodeId;
    if (id !== controller) [partition, leader] = [p, id];
  }
  const follower = [1, 2, 3].find((id) => id !== leader && id !== controller) ?? -1;
  const led = cluster.broker(leader).topics.partition(TOPIC, partition);
  if (!led) throw new Error("no partition at its leader");

  const faults = cluster.broker(controller).dispatcher.faults;
  const heldBefore = faults.hits.get(ALTER_PARTITION) ?? 0;
  const releaseController = faults.add({ apiKey: ALTER_PARTITION, action: "hold" });
  const releaseFollower = cluster.broker(leader).dispatcher.faults.add({
    apiKey: FETCH,
    action: "hold",
    match: (ctx) => ctx.clientId === `samsa-replica-fetcher-${follower}`,
  });
  const producer = new Producer({ brokers: cluster.bootstrap() }, { acks: -1, retries: 0 });
  try {
    // An acks=all record the held follower never fetches: it falls out of sync, and the record
    // waits for the maximal ISR, which holds the follower until the shrink commits.
    let answered = false;
    const first = producer.send({ topic: TOPIC, partition, value: "held" }).finally(() => {
      answered = true;
    });
    await waitFor(
      () => led.isrProposal !== null && !led.isrProposal.newIsr.includes(follower),
      `the leader proposing to drop broker ${follower}`,
    );
    await waitFor(
      () => (faults.hits.get(ALTER_PARTITION) ?? 0) > heldBefore,
      "the shrink held by the controller",
    );
    expect(led.maximalIsr).toContain(follower);
    expect(answered).toBe(false);

    // The controller resigns (its broker goes on holding the request); another is elected.
    await cluster.broker(controller).controller.stop();
    await waitFor(
      () => ![undefined, controller].includes(cluster.broker(leader).store.controller()?.nodeId),
      "another controller",
    );
    await waitFor(() => !led.maximalIsr.includes(follower), "the shrink committed by the new controller");
    expect([...led.isr].sort()).toEqual([leader, controller].sort());
    expect(cluster.broker(leader).store.topic(TOPIC)?.partitions[partition].isr).not.toContain(follower);

    // acks=all goes on without the held follower, the old controller still holding its request.
    expect((await within(first, "the held record acknowledged")).offset).toBe(0);
    const acked = await producer.send({ topic: TOPIC, partition, value: "after the shrink" });
    expect(acked.offset).toBe(1);
  } finally {
    await producer.close();
    releaseFollower();
    releaseController();
  }
});
