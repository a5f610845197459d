/**
 * Bytes and records in and out per topic. In: what a Produce appended as leader (the batches'
 * bytes and records, counted once the append succeeds). Out: what a Fetch returned, consumers in
 * `samsa_topic_bytes_out_total` / `samsa_topic_records_out_total` and followers' replica fetches
 * apart in `samsa_topic_replication_bytes_out_total` / `..._records_out_total` (Kafka's
 * BytesOutPerSec and ReplicationBytesOutPerSec). A follower counts what its replica fetcher
 * appended in `samsa_topic_replication_bytes_in_total` / `..._records_in_total` (Kafka's
 * ReplicationBytesInPerSec). Records are counted from the batches' headers (records count field),
 * never by decoding records. A topic's slots are resolved on its
 * first use and dropped when it is deleted.
 */
import type { Registry } from "prom-client";
import { type CounterSlot, SlotCounter } from "./slots.js";

/** RecordBatch v2: where the batch length and the record count lie, and the log overhead before `length`'s end. */
const BATCH_LENGTH_AT = 8;
const BATCH_RECORDS_AT = 57;
const LOG_OVERHEAD = 12;
const BATCH_HEADER_BYTES = 61;

/** The bytes and records of the whole batches of `records` (a partial trailing batch is not counted). */
export function wholeBatches(records: Buffer): { bytes: number; records: number } {
  let count = 0;
  let at = 0;
  while (at + BATCH_HEADER_BYTES <= records.length) {
    const length = records.readInt32BE(at + BATCH_LENGTH_AT);
    if (length <= 0 || at + LOG_OVERHEAD + length > records.length) break;
    count += records.readInt32BE(at + BATCH_RECORDS_AT);
    at += LOG_OVERHEAD + length;
  }
  return { bytes: at, records: count };
}

/** Records in the whole batches of `records` (a partial trailing batch is not counted). */
export function recordsIn(records: Buffer): number {
  return wholeBatches(records).records;
}

interface TopicSlots {
  bytesIn: CounterSlot;
  recordsIn: CounterSlot;
  bytesOut: CounterSlot;
  recordsOut: CounterSlot;
  replicationBytesOut: CounterSlot;
  replicationRecordsOut: CounterSlot;
  replicationBytesIn: CounterSlot;
  replicationRecordsIn: CounterSlot;
}

export class TopicMetrics {
  private readonly counters: Record<keyof TopicSlots, SlotCounter>;
  private readonly topics = new Map<string, TopicSlots>();

  constructor(registry: Registry) {
    const counter = (name: string, help: string) => new SlotCounter(registry, name, help, ["topic"]);
    this.counters = {
      bytesIn: counter("samsa_topic_bytes_in_total", "Bytes produced to a topic (appended as leader)"),
      recordsIn: counter("samsa_topic_records_in_total", "Records produced to a topic (appended as leader)"),
      bytesOut: counter("samsa_topic_bytes_out_total", "Bytes fetched from a topic by consumers"),
      recordsOut: counter("samsa_topic_records_out_total", "Records fetched from a topic by consumers"),
      replicationBytesOut: counter(
        "samsa_topic_replication_bytes_out_total",
        "Bytes fetched from a topic by follower replicas",
      ),
      replicationRecordsOut: counter(
        "samsa_topic_replication_records_out_total",
        "Records fetched from a topic by follower replicas",
      ),
      replicationBytesIn: counter(
        "samsa_topic_replication_bytes_in_total",
        "Bytes of a topic copied from its leaders by this broker's replica fetchers",
      ),
      replicationRecordsIn: counter(
        "samsa_topic_replication_records_in_total",
        "Records of a topic copied from its leaders by this broker's replica fetchers",
      ),
    };
  }

  private slots(topic: string): TopicSlots {
    let slots = this.topics.get(topic);
    if (!slots) {
      const c = this.counters;
      const labels = { topic };
      slots = {
        bytesIn: c.bytesIn.slot(labels),
        recordsIn: c.recordsIn.slot(labels),
        bytesOut: c.bytesOut.slot(labels),
        recordsOut: c.recordsOut.slot(labels),
        replicationBytesOut: c.replicationBytesOut.slot(labels),
        replicationRecordsOut: c.replicationRecordsOut.slot(labels),
        replicationBytesIn: c.replicationBytesIn.slot(labels),
        replicationRecordsIn: c.replicationRecordsIn.slot(labels),
      };
      this.topics.set(topic, slots);
    }
    return slots;
  }

  /** A Produce appended `records` records in `bytes` bytes to `topic`. */
  produced(topic: string, bytes: number, records: number): void {
    const s = this.slots(topic);
    s.bytesIn.value += bytes;
    s.recordsIn.value += records;
  }

  /** A Fetch returned `records` (whole batches) of `topic`, to a follower when `replica`. */
  fetched(topic: string, records: Buffer, replica: boolean): void {
    if (records.length === 0) return;
    const s = this.slots(topic);
    const count = recordsIn(records);
    if (replica) {
      s.replicationBytesOut.value += records.length;
      s.replicationRecordsOut.value += count;
    } else {
      s.bytesOut.value += records.length;
      s.recordsOut.value += count;
    }
  }

  /** This broker's replica fetcher appended `records` (whole batches) of `topic` as a follower. */
  copied(topic: string, records: Buffer): void {
    if (records.length === 0) return;
    const s = this.slots(topic);
    const whole = wholeBatches(records);
    s.replicationBytesIn.value += whole.bytes;
    s.replicationRecordsIn.value += whole.records;
  }

  /** `topic` was deleted: its series end. */
  forget(topic: string): void {
    if (!this.topics.delete(topic)) return;
    for (const c of Object.values(this.counters)) c.removeWhere("topic", topic);
  }
}
