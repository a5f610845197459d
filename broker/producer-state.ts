/**
 * Idempotent-producer state of one partition: for each producer id, its epoch and the sequence
 * ranges of its last five batches with their offsets. A retried batch (same sequences) gets its
 * original offsets back instead of being written again; a gap gets OUT_OF_ORDER_SEQUENCE_NUMBER;
 * an older epoch gets INVALID_PRODUCER_EPOCH. Rebuilt from the log's batch headers on start-up
 * (from a snapshot when one matches), so retries across a crash stay exactly-once.
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
  batches: BatchSequence[];
}

export interface ProducerSnapshot {
  producerId: number;
  epoch: number;
  batches: BatchSequence[];
}

function nextSeq(seq: number): number {
  return seq === INT32_MAX ? 0 : seq + 1;
}

export class ProducerStateManager {
  private readonly producers = new Map<number, ProducerEntry>();

  get size(): number {
    return this.producers.size;
  }

  /**
   * Checks a batch of `producerId` at `epoch` with sequences [firstSeq, lastSeq]. Returns the
   * remembered batch when this one is a duplicate, null when it may be appended; throws
   * INVALID_PRODUCER_EPOCH or OUT_OF_ORDER_SEQUENCE_NUMBER otherwise.
   */
  check(producerId: number, epoch: number, firstSeq: number, lastSeq: number): BatchSequence | null {
    const entry = this.producers.get(producerId);
    if (!entry) {
      if (firstSeq !== 0) {
        throw new KafkaError(
          "OUT_OF_ORDER_SEQUENCE_NUMBER",
          `producer ${producerId} is unknown; sequence ${firstSeq}`,
        );
      }
      return null;
    }
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

  /** Records an accepted batch (a new epoch forgets the old epoch's batches). */
  record(producerId: number, epoch: number, batch: BatchSequence): void {
    let entry = this.producers.get(producerId);
    if (!entry || epoch > entry.epoch) {
      entry = { epoch, batches: [] };
      this.producers.set(producerId, entry);
    }
    entry.batches.push(batch);
    if (entry.batches.length > PRODUCER_BATCHES_KEPT) entry.batches.shift();
  }

  /** Forgets batches at or after `offset` (the log was truncated there). */
  truncateTo(offset: number): void {
    for (const [id, entry] of this.producers) {
      entry.batches = entry.batches.filter((b) => b.lastOffset < offset);
      if (entry.batches.length === 0) this.producers.delete(id);
    }
  }

  snapshot(): ProducerSnapshot[] {
    return [...this.producers].map(([producerId, e]) => ({
      producerId,
      epoch: e.epoch,
      batches: e.batches.map(({ firstSeq, lastSeq, baseOffset, lastOffset, logAppendTimeMs }) => ({
        firstSeq,
        lastSeq,
        baseOffset,
        lastOffset,
        logAppendTimeMs,
      })),
    }));
  }

  restore(entries: ProducerSnapshot[]): void {
    this.producers.clear();
    for (const e of entries) this.producers.set(e.producerId, { epoch: e.epoch, batches: e.batches });
  }
}
