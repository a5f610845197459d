/**
 * Shared by the cluster compat suites: a replicated topic made through the samsa admin client and
 * waited for until every partition has a leader and a full ISR, and who leads what.
 */
import { Admin } from "../../../client/index.js";
import { KafkaError } from "../../../protocol/errors.js";
import type { TestCluster } from "../../helpers/cluster.js";
import { waitFor } from "../../helpers/wait.js";

/** CreateTopics attempts while the controller moves. */
const CREATE_ATTEMPTS = 5;

/** Every partition on all three brokers; acks=all needs two of them (survives one loss). */
export const REPLICATED = { replicationFactor: 3, configs: { "min.insync.replicas": "2" } };

/**
 * Creates `topic` (RF=3, min.insync.replicas=2) and waits until each partition has a leader and
 * an ISR of every broker; resolves with the leader's node id by partition.
 */
export async function createReplicatedTopic(
  cluster: TestCluster,
  topic: string,
  partitions: number,
): Promise<number[]> {
  const admin = new Admin({ brokers: cluster.bootstrap() });
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        await admin.createTopics([{ name: topic, partitions, ...REPLICATED }]);
        break;
      } catch (err) {
        // The admin client asks the controller it last learned of; on a loaded machine a short
        // lease can move the controller in between (NOT_CONTROLLER: nothing was created).
        if (!KafkaError.is(err) || err.code !== "NOT_CONTROLLER" || attempt >= CREATE_ATTEMPTS) throw err;
        admin.cluster.invalidate();
        await admin.cluster.refresh([]);
      }
    }
  } finally {
    await admin.close();
  }
  const ids = cluster
    .running()
    .map((b) => b.config.nodeId)
    .sort((a, b) => a - b);
  const leaders: number[] = [];
  for (let p = 0; p < partitions; p++) {
    await cluster.waitForIsr(topic, p, ids);
    leaders.push((await cluster.leaderOf(topic, p)).config.nodeId);
  }
  // Every broker's store has caught up with the same leaders and ISR (stores follow etcd apart).
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

/** The Kafka port of running broker `nodeId`. */
export function portOf(cluster: TestCluster, nodeId: number): number {
  return cluster.broker(nodeId).kafkaPort;
}
