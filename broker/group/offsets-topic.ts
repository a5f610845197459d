/**
 * The internal compacted topic `__consumer_offsets`: where the coordinator writes committed
 * offsets and group metadata, and what it reads back when it is elected leader of a partition. A
 * group lives in partition abs(hashCode(groupId)) mod partitions, as in Kafka, so a group's records
 * stay in order. The topic is created on first use with `offsets.topic.num.partitions` partitions.
 *
 * Writes go to the local leader replica with acks=all: a write is answered once every in-sync
 * replica holds it (or fails after `offsets.commit.timeout.ms`), so an acknowledged commit
 * survives a change of leader. Failures are mapped as Kafka's coordinator maps them
 * (`coordinatorWriteError`).
 */
import { type ErrorName, KafkaError } from "../../protocol/errors.js";
import {
  batchSpans,
  CONTROL_MASK,
  decodeRecords,
  encodeRecordBatch,
  readBatchHeader,
} from "../../protocol/record-batch.js";
import type { BrokerConfig } from "../config.js";
import type { TopicManager } from "../topics.js";
import { decodeOffsetsRecord, type OffsetsRecord, offsetsPartitionFor } from "./records.js";

export const OFFSETS_TOPIC = "__consumer_offsets";
/** Bytes read from the offsets topic per step while loading. */
const LOAD_READ_BYTES = 4 * 1024 * 1024;
/** Upper bound on load steps per partition (a guard against a log that never advances). */
const LOAD_MAX_STEPS = 10_000_000;

export interface OffsetsRecordWrite {
  key: Buffer;
  value: Buffer | null;
}

export class OffsetsTopic {
  private creating: Promise<void> | null = null;

  constructor(
    private readonly topics: TopicManager,
    private readonly config: BrokerConfig,
  ) {}

  /** Partitions of the topic: as created, or as it will be created. */
  partitionCount(): number {
    return this.topics.record(OFFSETS_TOPIC)?.partitions.length ?? this.config.offsetsTopicPartitions;
  }

  partitionFor(groupId: string): number {
    return offsetsPartitionFor(groupId, this.partitionCount());
  }

  /**
   * Creates the topic if it does not exist yet (compacted, the broker's offsets settings), with
   * offsets.topic.replication.factor replicas. A cluster refuses (COORDINATOR_NOT_AVAILABLE)
   * while fewer brokers are registered, as Kafka does; a single broker, which with the default of
   * 3 never has enough, creates it with one.
   */
  ensure(): Promise<void> {
    if (this.topics.record(OFFSETS_TOPIC)) return Promise.resolve();
    const wanted = this.config.offsetsTopicReplicationFactor;
    const live = this.topics.liveBrokerCount();
    // A cluster waits for enough brokers, as Kafka does: a topic made with fewer replicas would
    // keep every group's offsets on fewer brokers for good. A single broker takes what it has.
    if (this.config.cluster !== "" && live < wanted)
      return Promise.reject(
        new KafkaError(
          "COORDINATOR_NOT_AVAILABLE",
          `${OFFSETS_TOPIC} needs offsets.topic.replication.factor=${wanted} brokers; ${live} registered`,
        ),
      );
    const replicas = Math.max(1, Math.min(wanted, live));
    this.creating ??= this.topics
      .create(
        OFFSETS_TOPIC,
        this.config.offsetsTopicPartitions,
        replicas,
        {
          "cleanup.policy": "compact",
          "segment.bytes": String(this.config.offsetsTopicSegmentBytes),
        },
        false,
        true,
      )
      .then(
        () => {},
        (err) => {
          if (!KafkaError.is(err, "TOPIC_ALREADY_EXISTS")) throw err;
        },
      )
      .finally(() => {
        this.creating = null;
      });
    return this.creating;
  }

  /** Whether the topic exists (in the cluster store). */
  exists(): boolean {
    return this.topics.record(OFFSETS_TOPIC) !== undefined;
  }

  /** Whether partition `index` has no records locally (a load of it needs no read). */
  isEmpty(index: number): boolean {
    const partition = this.topics.partition(OFFSETS_TOPIC, index);
    return !partition || partition.logEndOffset <= partition.logStartOffset;
  }

  /**
   * Appends a group's records as one batch to its partition, whose local replica must lead at
   * `leaderEpoch` (the epoch the coordinator was elected with; else NOT_COORDINATOR). Resolves once
   * every in-sync replica holds the batch; a failure is a KafkaError with the code a client is
   * answered (`coordinatorWriteError`).
   */
  async append(groupId: string, records: OffsetsRecordWrite[], leaderEpoch: number): Promise<void> {
    if (records.length === 0) return;
    const partition = this.topics.partition(OFFSETS_TOPIC, this.partitionFor(groupId));
    if (!partition || partition.leaderEpoch !== leaderEpoch) {
      throw new KafkaError(
        "NOT_COORDINATOR",
        `${OFFSETS_TOPIC} partition of ${groupId} is not led here at epoch ${leaderEpoch}`,
      );
    }
    const batch = encodeRecordBatch(records.map((r) => ({ key: r.key, value: r.value })));
    try {
      await partition.appendAsLeader(batch, { acks: -1, timeoutMs: this.config.offsetsCommitTimeoutMs });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new KafkaError(coordinatorWriteError(err), `cannot store group records: ${message}`);
    }
  }

  /**
   * Every record of partition `index`, in log order, from its log start to its log end (Kafka's
   * coordinator loads to the log end too). Stops early, returning what it visited, once `current`
   * says the load is no longer wanted. Nothing is read when this broker holds no replica of it.
   */
  async loadPartition(
    index: number,
    visit: (record: OffsetsRecord) => void,
    current: () => boolean,
  ): Promise<number> {
    const partition = this.topics.partition(OFFSETS_TOPIC, index);
    if (!partition) return 0;
    let count = 0;
    let next = partition.logStartOffset;
    for (let steps = 0; next < partition.logEndOffset && steps < LOAD_MAX_STEPS; steps++) {
      const { records } = await partition.readLocal(next, LOAD_READ_BYTES);
      if (records.length === 0 || !current()) break;
      for (const [start] of batchSpans(records)) {
        const header = readBatchHeader(records, start);
        next = Math.max(next, header.baseOffset + header.lastOffsetDelta + 1);
        if ((header.attributes & CONTROL_MASK) !== 0) continue;
        for (const r of decodeRecords(records, start)) {
          if (!r.key) continue;
          const parsed = decodeOffsetsRecord(r.key, r.value);
          if (parsed) {
            visit(parsed);
            count++;
          }
        }
      }
    }
    return count;
  }
}

/** Append errors that mean this broker does not (or no longer) lead the partition. */
const NOT_COORDINATOR_ERRORS: ReadonlySet<ErrorName> = new Set<ErrorName>([
  "NOT_LEADER_OR_FOLLOWER",
  "KAFKA_STORAGE_ERROR",
  "FENCED_LEADER_EPOCH",
  "NOT_COORDINATOR",
]);
/** Append errors a client is told as an unexpected failure (the records were too large). */
const SERVER_ERRORS: ReadonlySet<ErrorName> = new Set<ErrorName>([
  "MESSAGE_TOO_LARGE",
  "RECORD_LIST_TOO_LARGE",
  "INVALID_FETCH_SIZE",
]);

/**
 * What a failed write to `__consumer_offsets` answers a client, as Kafka's group coordinator maps
 * it (CoordinatorRuntime's handleOperationException): not leading -> NOT_COORDINATOR (the client
 * looks for the coordinator again); too large -> UNKNOWN_SERVER_ERROR; anything else, notably
 * REQUEST_TIMED_OUT (the in-sync replicas did not confirm in time), NOT_ENOUGH_REPLICAS(_AFTER_APPEND)
 * and UNKNOWN_TOPIC_OR_PARTITION -> COORDINATOR_NOT_AVAILABLE, which clients retry.
 */
export function coordinatorWriteError(err: unknown): ErrorName {
  const code = KafkaError.is(err) ? err.code : null;
  if (code && NOT_COORDINATOR_ERRORS.has(code)) return "NOT_COORDINATOR";
  if (code && SERVER_ERRORS.has(code)) return "UNKNOWN_SERVER_ERROR";
  return "COORDINATOR_NOT_AVAILABLE";
}
