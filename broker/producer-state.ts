/**
 * Idempotent-producer state of one partition: for each producer id, its epoch, the time of its
 * last batch and the sequence ranges of its last five batches with their offsets. A retried batch
 * (same sequences) gets its original offsets back instead of being written again; a gap gets
 * OUT_OF_ORDER_SEQUENCE_NUMBER; an older epoch gets INVALID_PRODUCER_EPOCH. A producer without
 * state here (new, or expired after `producer.id.expiration.ms` without a batch) may start at any
 * sequence, as Kafka since KIP-360. Rebuilt from the log's batch headers on start-up (from a
 * snapshot when one matches), so retries across a crash stay exactly-once.
 *
 * Every entry added or removed is reported to `onSizeChange`, so the broker can hold all
 * partitions' entries under one cap (broker/producer-ids.ts).
 */
import { KafkaError } from "../protocol/errors.js";
import type { AppendResult } from "../storage/log.js";

/** Batches remembered per producer, as Kafka (max.in.flight.requests.per.connection <= 5). */
export const PRODUCER_BATCHES_KEPT = 5;
const INT32_MAX = 0x7fff_ffff;

export interface BatchSequence {
  firstSeq: number;
  lastSeq: number;
  baseOffset: number;
  lastOffset: number;
  /** The time a LogAppendTime topic stamped into the batch (Produce's logAppendTimeMs), else absent. */
  logAppendTimeMs?: number;
  /** While the original append is still being written: its outcome, for duplicates to share. */
  pending?: Promise<AppendResult>;
}

interface ProducerEntry {
  epoch: number;
  /** When its last batch was appended (broker clock; from the batch's timestamp when rebuilt). */
  lastTimestampMs: number;
  batches: BatchSequence[];
}

export interface ProducerSnapshot {
  producerId: number;
  epoch: number;
  /** Absent in snapshots written before expiry existed: taken as the time they are loaded. */
  lastTimestampMs?: number;
  batches: BatchSequence[];
}

function nextSeq(seq: number): number {
  return seq === INT32_MAX ? 0 : seq + 1;
}

export class ProducerStateManager {
  private readonly producers = new Map<number, ProducerEntry>();

  /** `onSizeChange(delta)` hears of every entry added (+1) or removed (-1). */
  constructor(private readonly onSizeChange: (delta: number) => void = () => {}) {}

  get size(): number {
    return this.producers.size;
  }

  has(producerId: number): boolean {
    return this.producers.has(producerId);
  }

  /**
   * Checks a batch of `producerId` at `epoch` with sequences [firstSeq, lastSeq]. Returns the
   * remembered batch when this one is a duplicate, null when it may be appended; throws
   * INVALID_PRODUCER_EPOCH or OUT_OF_ORDER_SEQUENCE_NUMBER otherwise. A producer without state
   * here may start at any sequence (Kafka's rule once its state is gone).
   */
  check(producerId: number, epoch: number, firstSeq: number, lastSeq: number): BatchSequence | null {
    const entry = this.producers.get(producerId);
    if (!entry) return null;
    if (epoch < entry.epoch) {
      throw new KafkaError(
        "INVALID_PRODUCER_EPOCH",
        `producer ${producerId} epoch ${epoch} < ${entry.epoch}`,
      );
    }
    if (epoch > entry.epoch) {
      if (firstSeq !== 0) {
        throw new KafkaError("OUT_OF_ORDER_SEQUENCE_NUMBER", `new epoch ${epoch} must start at sequence 0`);
      }
      return null;
    }
    const duplicate = entry.batches.find((b) => b.firstSeq === firstSeq && b.lastSeq === lastSeq);
    if (duplicate) return duplicate;
    const last = entry.batches[entry.batches.length - 1];
    if (last && firstSeq !== nextSeq(last.lastSeq)) {
      throw new KafkaError(
        "OUT_OF_ORDER_SEQUENCE_NUMBER",
        `producer ${producerId} sent sequence ${firstSeq}, expected ${nextSeq(last.lastSeq)}`,
      );
    }
    return null;
  }

  /** Records an accepted batch appended at `timestampMs` (a new epoch forgets the old epoch's batches). */
  record(producerId: number, epoch: number, batch: BatchSequence, timestampMs: number): void {
    let entry = this.producers.get(producerId);
    if (!entry) this.onSizeChange(1);
    if (!entry || epoch > entry.epoch) {
      entry = { epoch, lastTimestampMs: timestampMs, batches: [] };
      this.producers.set(producerId, entry);
    }
    entry.lastTimestampMs = Math.max(entry.lastTimestampMs, timestampMs);
    entry.batches.push(batch);
    if (entry.batches.length > PRODUCER_BATCHES_KEPT) entry.batches.shift();
  }

  /**
   * Removes producers whose last batch is `expirationMs` or more before `nowMs` (Kafka's
   * producer.id.expiration.ms). Returns how many were removed.
   */
  removeExpired(nowMs: number, expirationMs: number): number {
    let removed = 0;
    for (const [id, entry] of this.producers) {
      if (nowMs - entry.lastTimestampMs < expirationMs) continue;
      this.producers.delete(id);
      removed++;
    }
    if (removed > 0) this.onSizeChange(-removed);
    return removed;
  }

  /** Forgets batches at or after `offset` (the log was truncated there). */
  truncateTo(offset: number): void {
    let removed = 0;
    for (const [id, entry] of this.producers) {
      entry.batches = entry.batches.filter((b) => b.lastOffset < offset);
      if (entry.batches.length > 0) continue;
      this.producers.delete(id);
      removed++;
    }
    if (removed > 0) this.onSizeChange(-removed);
  }

  /** Forgets every producer (the partition is gone or is being reloaded). */
  clear(): void {
    if (this.producers.size > 0) this.onSizeChange(-this.producers.size);
    this.producers.clear();
  }

  /** One producer's state, in the snapshot's shape (no pending promises). */
  private static view(producerId: number, e: ProducerEntry): ProducerSnapshot {
    return {
      producerId,
      epoch: e.epoch,
      lastTimestampMs: e.lastTimestampMs,
      batches: e.batches.map(({ firstSeq, lastSeq, baseOffset, lastOffset, logAppendTimeMs }) => ({
        firstSeq,
        lastSeq,
        baseOffset,
        lastOffset,
        logAppendTimeMs,
      })),
    };
  }

  /** Every producer's state, one at a time: a snapshot of many producers needs no second copy. */
  *entries(): Generator<ProducerSnapshot> {
    for (const [producerId, e] of this.producers) yield ProducerStateManager.view(producerId, e);
  }

  snapshot(): ProducerSnapshot[] {
    return [...this.entries()];
  }

  /** Adds one producer's state from a snapshot; `nowMs` stands in for a missing timestamp. */
  restoreEntry(e: ProducerSnapshot, nowMs: number): void {
    if (!this.producers.has(e.producerId)) this.onSizeChange(1);
    const lastTimestampMs = Math.min(e.lastTimestampMs ?? nowMs, nowMs);
    this.producers.set(e.producerId, { epoch: e.epoch, lastTimestampMs, batches: e.batches });
  }
}
