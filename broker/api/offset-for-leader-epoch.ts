/**
 * OffsetForLeaderEpoch (key 23), v2-v4 (Kafka 4's range: v0-v1 were removed by KIP-896).
 * Validation order: a replica id >= 0 (v3+, a follower) from a caller that is not inter-broker
 * (RequestContext.interBroker) or lacks CLUSTER_ACTION on the cluster (ACLs) ->
 * CLUSTER_AUTHORIZATION_FAILED on every partition; as Kafka (KIP-320), CLUSTER_ACTION on the
 * cluster or else DESCRIBE on the topic, whose lack -> TOPIC_AUTHORIZATION_FAILED on each of its
 * partitions; per topic and partition: unknown -> UNKNOWN_TOPIC_OR_PARTITION; a current leader epoch older than the
 * partition's -> FENCED_LEADER_EPOCH, newer -> UNKNOWN_LEADER_EPOCH, then a partition this broker
 * does not lead -> NOT_LEADER_OR_FOLLOWER (KIP-320, Partition.leaderEpochError); then the
 * partition's leader-epoch cache answers (Partition.lastOffsetForLeaderEpoch): the largest epoch
 * <= the requested one and the start offset of the next higher epoch (the log end offset for the
 * latest epoch); epoch and offset -1 when the requested epoch is newer than the latest. Consumers
 * and followers get the same answer: a follower truncates to it (KIP-101/279). The leader's
 * current epoch always answers the log end offset, even before anything was written in it: as
 * Kafka's, the leader puts its epoch in the cache when it takes the lead (broker/partition.ts
 * `makeLeader`).
 * A partition named more than once is answered once (api/distinct.ts).
 */
import { type ErrorName, errorCode, KafkaError } from "../../protocol/errors.js";
import type {
  OffsetForLeaderEpochRequestData,
  OffsetForLeaderEpochResponseData,
  OffsetForLeaderPartitionResult,
} from "../../protocol/types/offset-for-leader-epoch.js";
import { authorizedNames, onCluster } from "./authorized.js";
import { distinctPartitions } from "./distinct.js";
import type { ApiHandler } from "./types.js";

function result(
  partition: number,
  code: ErrorName | null,
  leaderEpoch = -1,
  endOffset = -1,
): OffsetForLeaderPartitionResult {
  return { errorCode: code ? errorCode(code) : 0, partition, leaderEpoch, endOffset };
}

export const offsetForLeaderEpoch: ApiHandler<
  OffsetForLeaderEpochRequestData,
  OffsetForLeaderEpochResponseData
> = {
  apiKey: 23,
  name: "OffsetForLeaderEpoch",
  minVersion: 2,
  maxVersion: 4,
  async handle(broker, request, ctx) {
    // A partition named again is answered once (its first occurrence).
    const topics = distinctPartitions(
      request.topics.map((t) => ({
        topic: t.topic,
        partitions: t.partitions.map((p) => ({ ...p, currentLeaderEpoch: p.currentLeaderEpoch ?? -1 })),
      })),
      (t) => t.topic,
      (t) => t.partitions,
      (p) => p.partition,
      (t, partitions) => ({ ...t, partitions }),
    );
    const clusterAction = onCluster(ctx, "CLUSTER_ACTION");
    const follower = ctx.apiVersion >= 3 && (request.replicaId ?? -1) >= 0;
    const refused = follower && (!ctx.interBroker || !clusterAction);
    const describable = clusterAction
      ? null
      : authorizedNames(
          ctx,
          "DESCRIBE",
          "TOPIC",
          topics.map((t) => t.topic),
        );
    return {
      throttleTimeMs: 0,
      topics: topics.map((t) => ({
        topic: t.topic,
        partitions: t.partitions.map((p) => {
          if (refused) return result(p.partition, "CLUSTER_AUTHORIZATION_FAILED");
          if (describable && !describable.has(t.topic))
            return result(p.partition, "TOPIC_AUTHORIZATION_FAILED");
          const partition = broker.topics.partition(t.topic, p.partition);
          if (!partition)
            return result(p.partition, broker.topics.missingPartitionError(t.topic, p.partition));
          const epochError = partition.leaderEpochError(p.currentLeaderEpoch);
          if (epochError) return result(p.partition, epochError);
          try {
            const found = partition.lastOffsetForLeaderEpoch(p.leaderEpoch);
            return result(p.partition, null, found.epoch, found.endOffset);
          } catch (err) {
            // A leader whose own follower writes are still queued answers NOT_LEADER_OR_FOLLOWER.
            if (KafkaError.is(err)) return result(p.partition, err.code);
            throw err;
          }
        }),
      })),
    };
  },
};
