/**
 * The internal compacted topic `__consumer_offsets`: where the coordinator writes committed
 * offsets and group metadata, and what it reads back at start-up. A group lives in partition
 * abs(hashCode(groupId)) mod partitions, as in Kafka, so a group's records stay in order.
 * The topic is created on first use with `offsets.topic.num.partitions` partitions.
 */
import { KafkaError } from "../../protocol/errors.js";
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

  /** Creates the topic if it does not exist yet (compacted, the broker's offsets settings). */
  ensure(): Promise<void> {
    if (this.topics.record(OFFSETS_TOPIC)) return Promise.resolve();
    this.creating ??= this.topics
      .create(
        OFFSETS_TOPIC,
        this.config.offsetsTopicPartitions,
        -1,
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

  /**
   * Appends a group's records as one batch to its partition; resolves once durable (the topic's
   * flush policy). Storage failures become COORDINATOR_NOT_AVAILABLE, which clients retry.
   */
  async append(groupId: string, records: OffsetsRecordWrite[]): Promise<void> {
    if (records.length === 0) return;
    await this.ensure();
    const partition = this.topics.partition(OFFSETS_TOPIC, this.partitionFor(groupId));
    if (!partition) throw new KafkaError("COORDINATOR_NOT_AVAILABLE", `${OFFSETS_TOPIC} is not open`);
    const batch = encodeRecordBatch(records.map((r) => ({ key: r.key, value: r.value })));
    try {
      await partition.append(batch);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new KafkaError("COORDINATOR_NOT_AVAILABLE", `cannot store group records: ${message}`);
    }
  }

  /** Every record of the topic, partition by partition, in log order (for start-up). */
  async load(visit: (record: OffsetsRecord) => void): Promise<number> {
    const record = this.topics.record(OFFSETS_TOPIC);
    if (!record) return 0;
    let count = 0;
    for (const p of record.partitions) {
      const partition = this.topics.partition(OFFSETS_TOPIC, p.partition);
      if (!partition) continue;
      let next = partition.logStartOffset;
      for (let steps = 0; next < partition.logEndOffset && steps < LOAD_MAX_STEPS; steps++) {
        const { records } = await partition.readLocal(next, LOAD_READ_BYTES);
        if (records.length === 0) break;
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
    }
    return count;
  }
}
