/**
 * ListOffsets (key 2), v0-v7.
 * Validation order: per topic and partition: unknown -> UNKNOWN_TOPIC_OR_PARTITION; a current
 * leader epoch (v4+) older than the partition's -> FENCED_LEADER_EPOCH, newer ->
 * UNKNOWN_LEADER_EPOCH; then the timestamp: -1 latest (the high watermark; the last stable
 * offset, equal here, under read_committed), -2 earliest (log start), -3 the record with the
 * largest timestamp (v7+), -4 earliest local (= earliest), otherwise the first record at or after
 * the timestamp (offset -1 when none). v0 answers in oldStyleOffsets.
 */
import type { Message } from "../../protocol/codec.js";
import { type ErrorName, errorCode, KafkaError } from "../../protocol/errors.js";
import type { Partition } from "../partition.js";
import type { ApiHandler } from "./types.js";

export const LATEST = -1;
export const EARLIEST = -2;
export const MAX_TIMESTAMP = -3;
export const EARLIEST_LOCAL = -4;

function epochAt(partition: Partition, offset: number): number {
  let epoch = -1;
  for (const e of partition.log.epochs.list()) if (e.startOffset <= offset) epoch = e.epoch;
  return epoch;
}

async function lookup(
  partition: Partition,
  timestamp: number,
): Promise<{ offset: number; timestamp: number }> {
  switch (timestamp) {
    case LATEST:
      return { offset: partition.log.highWatermark, timestamp: -1 };
    case EARLIEST:
    case EARLIEST_LOCAL:
      return { offset: partition.log.logStartOffset, timestamp: -1 };
    case MAX_TIMESTAMP:
      return (await partition.log.maxTimestampOffset()) ?? { offset: -1, timestamp: -1 };
    default:
      return (await partition.log.offsetForTimestamp(timestamp)) ?? { offset: -1, timestamp: -1 };
  }
}

function result(
  index: number,
  code: ErrorName | null,
  offset = -1,
  timestamp = -1,
  leaderEpoch = -1,
): Message {
  return {
    partitionIndex: index,
    errorCode: code ? errorCode(code) : 0,
    oldStyleOffsets: offset >= 0 ? [offset] : [],
    timestamp,
    offset,
    leaderEpoch,
  };
}

export const listOffsets: ApiHandler = {
  apiKey: 2,
  name: "ListOffsets",
  minVersion: 0,
  maxVersion: 7,
  async handle(broker, request) {
    const topics = request.topics as {
      name: string;
      partitions: { partitionIndex: number; currentLeaderEpoch: number; timestamp: number }[];
    }[];
    const out = await Promise.all(
      topics.map(async (t) => ({
        name: t.name,
        partitions: await Promise.all(
          t.partitions.map(async (p) => {
            const partition = broker.topics.partition(t.name, p.partitionIndex);
            if (!partition) return result(p.partitionIndex, "UNKNOWN_TOPIC_OR_PARTITION");
            if (p.currentLeaderEpoch >= 0 && p.currentLeaderEpoch !== partition.leaderEpoch) {
              const code =
                p.currentLeaderEpoch < partition.leaderEpoch ? "FENCED_LEADER_EPOCH" : "UNKNOWN_LEADER_EPOCH";
              return result(p.partitionIndex, code);
            }
            try {
              const found = await lookup(partition, p.timestamp);
              const epoch = found.offset >= 0 ? epochAt(partition, found.offset) : -1;
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
