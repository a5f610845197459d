/**
 * Shared by the cluster compat suites: a replicated topic made through the samsa admin client and
 * waited for until every partition has a leader and a full ISR on every broker's view, and who
 * leads what.
 */
import { Admin } from "../../../client/index.js";
import type { TestCluster } from "../../helpers/cluster.js";
import { waitFor } from "../../helpers/wait.js";

/** Every partition on all three brokers; acks=all needs two of them (survives one loss). */
export const MIN_INSYNC = { "min.insync.replicas": "2" };

/**
 * Creates `topic` (RF=3, min.insync.replicas=2) and waits until it is replicated
 * (`waitForReplicated`); resolves with the leader's node id by partition.
 */
export async function createReplicatedTopic(
  cluster: TestCluster,
  topic: string,
  partitions: number,
): Promise<number[]> {
  const admin = new Admin({ brokers: cluster.bootstrap() });
  try {
    await admin.createTopics([{ name: topic, partitions, replicationFactor: 3, configs: MIN_INSYNC }]);
  } finally {
    await admin.close();
  }
  return waitForReplicated(cluster, topic, partitions);
}

/**
 * Waits until each partition of `topic` has a leader and an ISR of every running broker, and
 * every broker's store shows the same (stores follow etcd apart); resolves with the leader's
 * node id by partition.
 */
export async function waitForReplicated(
  cluster: TestCluster,
  topic: string,
  partitions: number,
): Promise<number[]> {
  const ids = cluster
    .running()
    .map((b) => b.config.nodeId)
    .sort((a, b) => a - b);
  const leaders: number[] = [];
  for (let p = 0; p < partitions; p++) {
    await cluster.waitForIsr(topic, p, ids);
    leaders.push((await cluster.leaderOf(topic, p)).config.nodeId);
  }
  const want = JSON.stringify(leaders.map((leader) => [leader, ids]));
  await waitFor(
    () =>
      cluster.running().every((b) => {
        const state = b.store.topic(topic)?.partitions ?? [];
        return JSON.stringify(state.map((s) => [s.leader, [...s.isr].sort((a, b) => a - b)])) === want;
      }),
    `every broker's store to show ${topic}'s leaders ${leaders} and full ISRs`,
  );
  return leaders;
}
