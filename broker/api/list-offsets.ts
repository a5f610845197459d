/**
 * ListOffsets (key 2), v1-v11 (Kafka 4's range: v0 was removed by KIP-896).
 * Validation order: per topic and partition: unknown -> UNKNOWN_TOPIC_OR_PARTITION; a current
 * leader epoch (v4+) older than the partition's -> FENCED_LEADER_EPOCH, newer ->
 * UNKNOWN_LEADER_EPOCH, then a partition this broker does not lead -> NOT_LEADER_OR_FOLLOWER;
 * then the timestamp: -1 latest (the high watermark; the last stable offset, equal here, under
 * read_committed; the log end for a follower: a replica id >= 0 from an inter-broker caller, as
 * Kafka answers a replica fetcher's out-of-range check), -2 earliest (log start), -3 the record with the
 * largest timestamp (v7+), -4 earliest local (= earliest: every record is local), -5 latest tiered
 * (v9+) and -6 earliest pending upload (v11+) offset -1 (no record was ever tiered: what Kafka
 * answers for a topic without remote storage), otherwise the first record at or after the
 * timestamp (offset -1 when none). v10+ TimeoutMs only bounds remote-storage lookups: unused here.
 * Before all of these, as Kafka: a topic the principal may not DESCRIBE (ACLs) ->
 * TOPIC_AUTHORIZATION_FAILED on each of its partitions, whether it exists or not; then a partition
 * named more than once in the request is answered INVALID_REQUEST at each mention, without a
 * lookup (one small request cannot ask for thousands). The follower's answer needs CLUSTER_ACTION
 * on the cluster as well; without it a replica id is answered as a consumer's.
 * A lookup by timestamp decompresses at most one batch at a time, through the broker's bounded
 * decompressor (storage/decompress.ts), off the event loop when the batch is large.
 */
import { type ErrorName, errorCode, KafkaError } from "../../protocol/errors.js";
import type {
  ListOffsetsPartitionResponse,
  ListOffsetsRequestData,
  ListOffsetsResponseData,
} from "../../protocol/types/list-offsets.js";
import type { Partition } from "../partition.js";
import { authorizedNames, onCluster } from "./authorized.js";
import type { ApiHandler } from "./types.js";

export const LATEST = -1;
export const EARLIEST = -2;
export const MAX_TIMESTAMP = -3;
export const EARLIEST_LOCAL = -4;
export const LATEST_TIERED = -5;
export const EARLIEST_PENDING_UPLOAD = -6;

async function lookup(
  partition: Partition,
  timestamp: number,
  replica: boolean,
): Promise<{ offset: number; timestamp: number }> {
  switch (timestamp) {
    case LATEST:
      return { offset: replica ? partition.logEndOffset : partition.highWatermark, timestamp: -1 };
    case EARLIEST:
    case EARLIEST_LOCAL:
      return { offset: partition.logStartOffset, timestamp: -1 };
    case LATEST_TIERED:
    case EARLIEST_PENDING_UPLOAD:
      return { offset: -1, timestamp: -1 };
    case MAX_TIMESTAMP:
      return (await partition.maxTimestampOffset()) ?? { offset: -1, timestamp: -1 };
    default:
      return (await partition.offsetForTimestamp(timestamp)) ?? { offset: -1, timestamp: -1 };
  }
}

function result(
  index: number,
  code: ErrorName | null,
  offset = -1,
  timestamp = -1,
  leaderEpoch = -1,
): ListOffsetsPartitionResponse {
  return {
    partitionIndex: index,
    errorCode: code ? errorCode(code) : 0,
    timestamp,
    offset,
    leaderEpoch,
  };
}

/** `topic\0partition` of every partition the request names more than once. */
function duplicatePartitions(
  topics: { name: string; partitions: { partitionIndex: number }[] }[],
): Set<string> {
  const seen = new Set<string>();
  const duplicates = new Set<string>();
  for (const t of topics) {
    for (const p of t.partitions) {
      const key = `${t.name}\u0000${p.partitionIndex}`;
      if (seen.has(key)) duplicates.add(key);
      seen.add(key);
    }
  }
  return duplicates;
}

export const listOffsets: ApiHandler<ListOffsetsRequestData, ListOffsetsResponseData> = {
  apiKey: 2,
  name: "ListOffsets",
  minVersion: 1,
  maxVersion: 11,
  async handle(broker, request, ctx) {
    // Only another broker sees records above the high watermark (a replica id from a client is
    // answered as a consumer's).
    const replica = request.replicaId >= 0 && ctx.interBroker && onCluster(ctx, "CLUSTER_ACTION");
    // v1-v3 carry no leader epoch: -1 checks none.
    const topics = request.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({ ...p, currentLeaderEpoch: p.currentLeaderEpoch ?? -1 })),
    }));
    const duplicates = duplicatePartitions(topics);
    const describable = authorizedNames(
      ctx,
      "DESCRIBE",
      "TOPIC",
      topics.map((t) => t.name),
    );
    const out = await Promise.all(
      topics.map(async (t) => ({
        name: t.name,
        partitions: await Promise.all(
          t.partitions.map(async (p) => {
            if (!describable.has(t.name)) return result(p.partitionIndex, "TOPIC_AUTHORIZATION_FAILED");
            if (duplicates.has(`${t.name}\u0000${p.partitionIndex}`))
              return result(p.partitionIndex, "INVALID_REQUEST");
            const partition = broker.topics.partition(t.name, p.partitionIndex);
            if (!partition)
              return result(p.partitionIndex, broker.topics.missingPartitionError(t.name, p.partitionIndex));
            const epochError = partition.leaderEpochError(p.currentLeaderEpoch);
            if (epochError) return result(p.partitionIndex, epochError);
            try {
              const found = await lookup(partition, p.timestamp, replica);
              const epoch = found.offset >= 0 ? partition.epochAt(found.offset) : -1;
              return result(p.partitionIndex, null, found.offset, found.timestamp, epoch);
            } catch (err) {
              if (!KafkaError.is(err)) throw err;
              return result(p.partitionIndex, err.code);
            }
          }),
        ),
      })),
    );
    return { throttleTimeMs: 0, topics: out };
  },
};
