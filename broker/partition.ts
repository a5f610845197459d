/**
 * One partition this broker leads: every state change of it goes through here. Appends check
 * idempotent-producer sequences and then go to the log in arrival order; the high watermark moves
 * when an append is acknowledged (single broker: the in-sync replica set is this broker alone).
 * Handlers never touch the log directly.
 */
import * as path from "node:path";
import { KafkaError } from "../protocol/errors.js";
import {
  ATTRIBUTES_OFFSET,
  BASE_SEQUENCE_OFFSET,
  LAST_OFFSET_DELTA_OFFSET,
  LENGTH_OFFSET,
  LOG_OVERHEAD,
  MAX_TIMESTAMP_OFFSET,
  NO_TIMESTAMP,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  RECORDS_OFFSET,
  TIMESTAMP_TYPE_MASK,
} from "../protocol/record-batch.js";
import { readInt64 } from "../protocol/varint.js";
import { type StorageFs, writeFileAtomic } from "../storage/fs.js";
import type { AppendResult, PartitionLog, ReadResult } from "../storage/log.js";
import type { ProducerIds } from "./producer-ids.js";
import type { BatchSequence, ProducerSnapshot, ProducerStateManager } from "./producer-state.js";

export const PRODUCER_SNAPSHOT_FILE = "producer-state.snapshot";
/** The snapshot's layout: a header line, then one JSON line per producer. */
const SNAPSHOT_VERSION = 2;
/** Producers serialised per chunk of a snapshot (no single string holds them all). */
const SNAPSHOT_CHUNK_PRODUCERS = 10_000;
/** Bytes read per step while rebuilding producer state from the log. */
const REBUILD_READ_BYTES = 4 * 1024 * 1024;
const INT32_MAX = 0x7fff_ffff;
/** DeleteRecords' "up to the high watermark". */
const HIGH_WATERMARK_OFFSET = -1;

interface ProducerBatch {
  producerId: number;
  epoch: number;
  firstSeq: number;
  lastSeq: number;
  records: number;
}

/** `seq + n` in Kafka's sequence space, which wraps from 2^31-1 to 0. */
function addSequence(seq: number, n: number): number {
  return seq > INT32_MAX - n ? n - (INT32_MAX - seq) - 1 : seq + n;
}

/** The idempotent batches in `records` (producerId >= 0); null if the framing is broken. */
function producerBatches(records: Buffer): ProducerBatch[] | null {
  const out: ProducerBatch[] = [];
  let pos = 0;
  while (pos < records.length) {
    if (records.length - pos < RECORDS_OFFSET) return null;
    const size = LOG_OVERHEAD + records.readInt32BE(pos + LENGTH_OFFSET);
    if (size < RECORDS_OFFSET || pos + size > records.length) return null;
    const producerId = readInt64(records, pos + PRODUCER_ID_OFFSET);
    if (producerId >= 0) {
      const firstSeq = records.readInt32BE(pos + BASE_SEQUENCE_OFFSET);
      const delta = records.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET);
      out.push({
        producerId,
        epoch: records.readInt16BE(pos + PRODUCER_EPOCH_OFFSET),
        firstSeq,
        lastSeq: addSequence(firstSeq, delta),
        records: delta + 1,
      });
    }
    pos += size;
  }
  return out;
}

/** One producer as a snapshot line: [id, epoch, lastTimestampMs, [[firstSeq, lastSeq, baseOffset, lastOffset, logAppendTimeMs|null], ...]]. */
function snapshotLine(p: ProducerSnapshot): string {
  const batches = p.batches.map((b) => [
    b.firstSeq,
    b.lastSeq,
    b.baseOffset,
    b.lastOffset,
    b.logAppendTimeMs ?? null,
  ]);
  return `${JSON.stringify([p.producerId, p.epoch, p.lastTimestampMs, batches])}\n`;
}

function snapshotEntryFromLine(line: string): ProducerSnapshot {
  const [producerId, epoch, lastTimestampMs, batches] = JSON.parse(line) as [
    number,
    number,
    number,
    [number, number, number, number, number | null][],
  ];
  return {
    producerId,
    epoch,
    lastTimestampMs,
    batches: batches.map(([firstSeq, lastSeq, baseOffset, lastOffset, logAppendTimeMs]) => ({
      firstSeq,
      lastSeq,
      baseOffset,
      lastOffset,
      logAppendTimeMs: logAppendTimeMs ?? undefined,
    })),
  };
}

export interface PartitionAppend {
  result: AppendResult;
  /** The batch was a retry of one already written: its original offsets are returned. */
  duplicate: boolean;
}

export class Partition {
  readonly producers: ProducerStateManager;
  leaderEpoch = 0;
  private readonly listeners = new Set<() => void>();

  constructor(
    readonly topic: string,
    readonly index: number,
    readonly log: PartitionLog,
    private readonly sfs: StorageFs,
    private readonly producerIds: ProducerIds,
  ) {
    this.producers = producerIds.newState();
  }

  /**
   * Loads producer state: the snapshot if it matches the log, then the batches after it. Only ids
   * that were handed out are kept, expired ones are dropped, and no more than the broker-wide cap
   * is added, so a log full of invented ids loads in bounded memory.
   */
  async load(): Promise<void> {
    let from = this.log.logStartOffset;
    const data = await this.sfs.readFile(path.join(this.log.dir, PRODUCER_SNAPSHOT_FILE));
    if (data) {
      try {
        const offset = this.restoreSnapshot(data);
        if (offset !== null) from = offset;
      } catch {
        // A damaged snapshot is rebuilt from the log.
        this.producers.clear();
      }
    }
    await this.rebuildFrom(from);
    this.producers.removeExpired(this.producerIds.nowMs(), this.producerIds.limits.expirationMs);
    this.log.setHighWatermark(this.log.logEndOffset);
  }

  /** Restores a snapshot (this version's or the older single-document one); its offset, or null. */
  private restoreSnapshot(data: Buffer): number | null {
    const firstEnd = data.indexOf(10);
    const head = JSON.parse(data.toString("utf8", 0, firstEnd < 0 ? data.length : firstEnd)) as {
      version?: number;
      offset: number;
      producers?: ProducerSnapshot[];
    };
    if (head.offset > this.log.logEndOffset || head.offset < this.log.logStartOffset) return null;
    const now = this.producerIds.nowMs();
    if (head.version === undefined) {
      for (const p of head.producers ?? []) this.keepSnapshotEntry(p, head.offset, now);
      return head.offset;
    }
    for (let pos = firstEnd + 1; pos > 0 && pos < data.length; ) {
      const end = data.indexOf(10, pos);
      const line = data.toString("utf8", pos, end < 0 ? data.length : end);
      if (line.length > 0) this.keepSnapshotEntry(snapshotEntryFromLine(line), head.offset, now);
      pos = end < 0 ? data.length : end + 1;
    }
    return head.offset;
  }

  /**
   * Restores one producer's entry, without batches at or past the snapshot's offset: a snapshot
   * written by an older version may hold batches whose append was pending and then refused, and
   * restoring them would answer the producer's retry as a duplicate of offsets that hold nothing.
   */
  private keepSnapshotEntry(p: ProducerSnapshot, snapshotOffset: number, nowMs: number): void {
    const batches = p.batches.filter((b) => b.lastOffset < snapshotOffset);
    if (batches.length === 0) return;
    if (!this.producerIds.isIssued(p.producerId)) return;
    if (nowMs - (p.lastTimestampMs ?? nowMs) >= this.producerIds.limits.expirationMs) return;
    if (!this.producerIds.hasRoom()) return;
    this.producers.restoreEntry({ ...p, batches }, nowMs);
  }

  private async rebuildFrom(offset: number): Promise<void> {
    let next = offset;
    const now = this.producerIds.nowMs();
    for (let steps = 0; next < this.log.logEndOffset && steps < 10_000_000; steps++) {
      const { records } = await this.log.read(next, { maxBytes: REBUILD_READ_BYTES });
      if (records.length === 0) break;
      let pos = 0;
      while (pos + RECORDS_OFFSET <= records.length) {
        const size = LOG_OVERHEAD + records.readInt32BE(pos + LENGTH_OFFSET);
        const base = readInt64(records, pos);
        const last = base + records.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET);
        const producerId = readInt64(records, pos + PRODUCER_ID_OFFSET);
        if (producerId >= 0 && last >= next) this.rebuildBatch(records, pos, base, last, now);
        next = Math.max(next, last + 1);
        pos += size;
      }
    }
  }

  /** Records one stored batch's producer state, unless its id was never issued or the cap is reached. */
  private rebuildBatch(records: Buffer, pos: number, base: number, last: number, nowMs: number): void {
    const producerId = readInt64(records, pos + PRODUCER_ID_OFFSET);
    if (!this.producerIds.isIssued(producerId)) return;
    if (!this.producers.has(producerId) && !this.producerIds.hasRoom()) return;
    const firstSeq = records.readInt32BE(pos + BASE_SEQUENCE_OFFSET);
    const logAppendTime = (records.readInt16BE(pos + ATTRIBUTES_OFFSET) & TIMESTAMP_TYPE_MASK) !== 0;
    const maxTimestamp = readInt64(records, pos + MAX_TIMESTAMP_OFFSET);
    // The broker's clock at append time is not stored; the batch's timestamp stands in for it,
    // never later than now (a future timestamp must not keep state alive longer).
    const timestampMs = maxTimestamp >= 0 ? Math.min(maxTimestamp, nowMs) : nowMs;
    this.producers.record(
      producerId,
      records.readInt16BE(pos + PRODUCER_EPOCH_OFFSET),
      {
        firstSeq,
        lastSeq: addSequence(firstSeq, last - base),
        baseOffset: base,
        lastOffset: last,
        logAppendTimeMs: logAppendTime ? maxTimestamp : undefined,
      },
      timestampMs,
    );
  }

  /**
   * Writes the producer-state snapshot at the current log end: a header line and one line per
   * producer, serialised in chunks, so a snapshot of many producers never needs one huge string.
   * Only batches below that log end are written: a batch still pending there may yet be refused
   * (a storage fault), and a snapshot naming it would make its retry a duplicate of nothing.
   */
  async snapshot(): Promise<void> {
    const offset = this.log.logEndOffset;
    const chunks = [Buffer.from(`${JSON.stringify({ version: SNAPSHOT_VERSION, offset })}\n`)];
    let lines: string[] = [];
    for (const p of this.producers.entries()) {
      const batches = p.batches.filter((b) => b.lastOffset < offset);
      if (batches.length === 0) continue;
      lines.push(snapshotLine({ ...p, batches }));
      if (lines.length < SNAPSHOT_CHUNK_PRODUCERS) continue;
      chunks.push(Buffer.from(lines.join("")));
      lines = [];
    }
    chunks.push(Buffer.from(lines.join("")));
    await writeFileAtomic(this.sfs, path.join(this.log.dir, PRODUCER_SNAPSHOT_FILE), Buffer.concat(chunks));
  }

  /**
   * Appends batches as the leader. Batches are validated (storage/validate.ts), then idempotent
   * ones are checked against their producer's sequences: a retry returns the original offsets.
   * Resolves once the log acknowledges (durable under the topic's flush policy) and the high
   * watermark has moved. A producer id never handed out is UNKNOWN_PRODUCER_ID; a producer new to
   * this partition counts against `client`'s producer-id quota and the broker-wide cap
   * (THROTTLING_QUOTA_EXCEEDED beyond either).
   */
  async append(records: Buffer, client = "internal"): Promise<PartitionAppend> {
    // Whole batches are checked first: a corrupt or old-format batch carrying the producer id and
    // sequences of a stored one is refused, never answered as that batch's duplicate.
    // Compressed batches' records are checked off the event loop (storage/decompress.ts); a
    // leadership change meanwhile refuses the append rather than writing under a stale epoch.
    const epoch = this.leaderEpoch;
    const validated = await this.log.validateRecords(records);
    if (this.leaderEpoch !== epoch)
      throw new KafkaError("NOT_LEADER_OR_FOLLOWER", "leadership changed while the batches were checked");
    const batches = producerBatches(records);
    if (batches && batches.length > 0) {
      for (const b of batches) this.producerIds.checkIssued(b.producerId);
      const duplicate = this.checkSequences(batches);
      if (!duplicate && !this.producers.has(batches[0].producerId))
        this.producerIds.admitNew(client, batches[0].producerId);
      if (duplicate) {
        const result = duplicate.pending ? await duplicate.pending : undefined;
        return {
          duplicate: true,
          result: {
            baseOffset: duplicate.baseOffset,
            lastOffset: duplicate.lastOffset,
            recordCount: duplicate.lastOffset - duplicate.baseOffset + 1,
            logStartOffset: result?.logStartOffset ?? this.log.logStartOffset,
            // As Kafka, a retry of a LogAppendTime batch is answered with the time it was stored at.
            logAppendTimeMs: result?.logAppendTimeMs ?? duplicate.logAppendTimeMs ?? NO_TIMESTAMP,
          },
        };
      }
    }
    const pending = this.log.appendOrThrow(records, { leaderEpoch: this.leaderEpoch, validated });
    const recorded: BatchSequence[] = [];
    if (batches && batches.length > 0) {
      // The log assigned offsets synchronously, patching the first batch's baseOffset in place.
      let offset = readInt64(records, 0);
      const now = this.producerIds.nowMs();
      for (const b of batches) {
        const seq: BatchSequence = {
          firstSeq: b.firstSeq,
          lastSeq: b.lastSeq,
          baseOffset: offset,
          lastOffset: offset + b.records - 1,
          pending,
        };
        this.producers.record(b.producerId, b.epoch, seq, now);
        recorded.push(seq);
        offset += b.records;
      }
    }
    let result: AppendResult;
    try {
      result = await pending;
    } catch (err) {
      // Refused (a storage fault): the sequences were never written, so the producer's retry
      // after the log heals is appended, not answered as a duplicate of nothing.
      if (recorded.length > 0) this.producers.truncateTo(recorded[0].baseOffset);
      throw err;
    }
    for (const seq of recorded) {
      seq.pending = undefined;
      if (result.logAppendTimeMs !== undefined && result.logAppendTimeMs !== NO_TIMESTAMP)
        seq.logAppendTimeMs = result.logAppendTimeMs;
    }
    this.log.setHighWatermark(this.log.logEndOffset);
    for (const listener of this.listeners) listener();
    return { result, duplicate: false };
  }

  /** Sequence checks across the batches of one append; the duplicate when all are retries. */
  private checkSequences(batches: ProducerBatch[]): BatchSequence | null {
    const first = batches[0];
    const duplicate = this.producers.check(first.producerId, first.epoch, first.firstSeq, first.lastSeq);
    for (let i = 1; i < batches.length; i++) {
      const b = batches[i];
      const prev = batches[i - 1];
      const contiguous =
        b.producerId === prev.producerId &&
        b.epoch === prev.epoch &&
        b.firstSeq === addSequence(prev.lastSeq, 1);
      if (!contiguous || duplicate) {
        throw new KafkaError(
          "OUT_OF_ORDER_SEQUENCE_NUMBER",
          "batches of one append must continue each other",
        );
      }
    }
    return duplicate;
  }

  /** Reads for a consumer: whole batches below the high watermark. */
  read(offset: number, maxBytes: number, minOneBatch = true): Promise<ReadResult> {
    return this.log.read(offset, { maxBytes, maxOffset: this.log.highWatermark, minOneBatch });
  }

  /**
   * Moves the log start offset up to `offset` (DeleteRecords; -1 means the high watermark).
   * Throws OFFSET_OUT_OF_RANGE beyond the high watermark or for another negative offset, and
   * POLICY_VIOLATION where cleanup.policy lacks `delete` (as Kafka). Resolves with the new log
   * start offset, never lower than before; the caller checkpoints it.
   */
  async deleteRecordsBefore(offset: number): Promise<number> {
    const hw = this.log.highWatermark;
    const target = offset === HIGH_WATERMARK_OFFSET ? hw : offset;
    if (target < 0 || target > hw) {
      throw new KafkaError(
        "OFFSET_OUT_OF_RANGE",
        `offset ${offset} is outside [0, ${hw}] (the high watermark)`,
      );
    }
    if (!this.log.logConfig.cleanupPolicy.includes("delete")) {
      throw new KafkaError(
        "POLICY_VIOLATION",
        `${this.topic}-${this.index} is compacted: its records cannot be deleted`,
      );
    }
    await this.log.advanceLogStartOffset(target);
    return this.log.logStartOffset;
  }

  /** Calls `listener` after every acknowledged append until the returned function is called. */
  onAppend(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
