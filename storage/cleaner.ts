/**
 * Log compaction, as Kafka's log cleaner does it, for logs with cleanup.policy `compact` or
 * `compact,delete`. PartitionLog.compact drives a pass; this file holds what a pass computes.
 *
 * A pass looks at the closed segments below the first uncleanable offset (the active segment's
 * base, or earlier: the first closed segment holding a record younger than min.compaction.lag.ms
 * or an offset at or above the high watermark, which may yet be truncated).
 * The part above the log's cleaner checkpoint is dirty. A pass:
 *   1. builds the offset map key -> latest offset over the dirty segments;
 *   2. rewrites each cleanable segment into `<base>.log.cleaned`: a record survives when it has a
 *      key, no later offset in the map holds that key, and it is not a tombstone past its delete
 *      horizon; fsyncs the file;
 *   3. swaps it in (PartitionLog): `.cleaned` -> `.swap`, the old segment's files -> `.deleted`,
 *      `.swap` -> `.log`, the segment object replaced in the segment list, index files written,
 *      old files deleted after file.delete.delay.ms (readers holding the old segment finish on
 *      its open file);
 *   4. moves the cleaner checkpoint to the first uncleanable offset.
 *
 * Offsets never change: a rewritten batch keeps its baseOffset, lastOffsetDelta, producer fields
 * and partition leader epoch; its survivors keep their offset deltas (so recordCount may be less
 * than lastOffsetDelta + 1, as in Kafka). A batch whose records all go is dropped; a segment that
 * would become empty keeps its last batch with no records (a 61-byte header), so every segment
 * stays non-empty and its offset range stays where it was. Unchanged batches are copied byte for
 * byte. A changed compressed batch is re-encoded with its codec. Control batches are copied.
 *
 * Tombstones (null values) follow KIP-534: the first pass that keeps a tombstone rewrites its
 * batch with the DELETE_HORIZON attribute bit set and baseTimestamp = now + delete.retention.ms
 * (record timestamp deltas are re-based, so record timestamps do not change). A later pass at or
 * after that horizon removes the batch's tombstones.
 *
 * Compressed batches are decompressed through the broker's bounded decompressor
 * (storage/decompress.ts: within decompression.memory.max.bytes, off the event loop when large);
 * scans hand batches to the pass a chunk at a time (`scanEach`) so that it may wait for it.
 */
import { type Compression, compress } from "../protocol/compression.js";
import {
  ATTRIBUTES_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  COMPRESSION_MASK,
  CONTROL_MASK,
  CRC_OFFSET,
  computeBatchCrc,
  DELETE_HORIZON_MASK,
  decodeRecords,
  LENGTH_OFFSET,
  LOG_OVERHEAD,
  RECORD_COUNT_OFFSET,
  RECORDS_OFFSET,
  type Record,
} from "../protocol/record-batch.js";
import { readInt64, sizeOfVarint, writeInt64, writeVarint } from "../protocol/varint.js";
import type { LogConfig } from "./config.js";
import { type Decompressed, decompressor } from "./decompress.js";
import type { StorageFs } from "./fs.js";
import { type LogSegment, type ScanEnd, type ScannedBatch, scanBatches } from "./segment.js";
import { DECOMPRESSED_BYTES_MIN } from "./validate.js";

/** log.cleaner.backoff.ms: how often LogManager looks for logs to clean. */
export const DEFAULT_CLEANER_BACKOFF_MS = 15_000;
/** Bytes of cleaned output buffered before they are written out. */
const WRITE_CHUNK_BYTES = 4 * 1024 * 1024;
/** The per-log file holding the cleaner checkpoint (Kafka keeps one per data directory). */
export const CLEANER_CHECKPOINT_FILE = "cleaner-offset-checkpoint";

/** Points of the swap protocol, reported to `onCleanerStep` (tests stop or snapshot there). */
export type CleanerStep =
  | "cleaned-written"
  | "cleaned-synced"
  | "swap-renamed"
  | "old-marked-deleted"
  | "swap-installed"
  | "swapped"
  | "checkpointed";

export interface CompactOptions {
  /** Clean even when the dirty ratio and max.compaction.lag.ms do not ask for it. */
  force?: boolean;
}

export interface CompactStats {
  /** Why nothing was done, when nothing was. */
  skipped?: "not-compacted" | "nothing-cleanable" | "below-dirty-ratio" | "closed" | "failed";
  /** The first uncleanable offset: every closed segment below it was cleaned. */
  cleanedUpTo: number;
  dirtyRatio: number;
  segmentsCleaned: number;
  bytesBefore: number;
  bytesAfter: number;
  recordsRead: number;
  recordsRemoved: number;
  tombstonesRemoved: number;
  /** Segments swapped out beside the cleaner by retention or truncation, left as they were. */
  segmentsSkipped: number;
}

export function emptyStats(cleanedUpTo: number): CompactStats {
  return {
    cleanedUpTo,
    dirtyRatio: 0,
    segmentsCleaned: 0,
    bytesBefore: 0,
    bytesAfter: 0,
    recordsRead: 0,
    recordsRemoved: 0,
    tombstonesRemoved: 0,
    segmentsSkipped: 0,
  };
}

/** Map keys: a record key's bytes as a latin1 string (one char per byte, so exact). */
export type OffsetMap = Map<string, number>;

function mapKey(key: Buffer): string {
  return key.toString("latin1");
}

function isControl(b: ScannedBatch): boolean {
  return (b.buf.readInt16BE(b.at + ATTRIBUTES_OFFSET) & CONTROL_MASK) !== 0;
}

/**
 * A batch's records, or null for one that would decompress beyond DECOMPRESSED_BYTES_MIN (a bomb
 * stored as sent under cleanup.policy=delete, then compacted): such a batch is kept as it is and
 * its keys supersede nothing, so the cleaner never inflates it (docs/decisions/0014).
 */
async function recordsOf(bytes: Buffer): Promise<Record[] | null> {
  const attributes = bytes.readInt16BE(ATTRIBUTES_OFFSET);
  const codec = attributes & COMPRESSION_MASK;
  if (codec === 0) return decodeRecords(bytes, 0);
  let d: Decompressed;
  try {
    d = await decompressor().decompress(codec, bytes.subarray(RECORDS_OFFSET), DECOMPRESSED_BYTES_MIN);
  } catch (err) {
    if ((err as { code?: string }).code === "MESSAGE_TOO_LARGE") return null;
    throw err;
  }
  try {
    const plain = Buffer.concat([bytes.subarray(0, RECORDS_OFFSET), d.body]);
    plain.writeInt32BE(plain.length - LOG_OVERHEAD, LENGTH_OFFSET);
    plain.writeInt16BE(attributes & ~COMPRESSION_MASK, ATTRIBUTES_OFFSET);
    return decodeRecords(plain, 0);
  } finally {
    d.release();
  }
}

/** Batch bytes a scan hands over at once to an asynchronous visitor. */
const SCAN_BATCH_BYTES = 1024 * 1024;

/**
 * scanBatches with an asynchronous visitor: batches are gathered SCAN_BATCH_BYTES at a time (a
 * scan's buffers are its own, so gathered batches stay valid), then visited in order. Returns as
 * scanBatches; a visitor returning false ends it ("stopped").
 */
async function scanEach(
  segment: LogSegment,
  from: number,
  visit: (b: ScannedBatch) => Promise<boolean>,
): Promise<{ position: number; end: ScanEnd }> {
  let position = from;
  // Each round visits at least one batch (or ends): bounded by the segment's batch count.
  for (;;) {
    const gathered: ScannedBatch[] = [];
    let bytes = 0;
    const scan = await scanBatches(segment.reader, segment.fd, position, segment.size, false, (b) => {
      if (bytes >= SCAN_BATCH_BYTES) return false;
      gathered.push(b);
      bytes += b.size;
      return true;
    });
    for (const b of gathered) if (!(await visit(b))) return { position: b.position, end: "stopped" };
    if (scan.end !== "stopped") return scan;
    position = scan.position;
  }
}

/** Adds every keyed record of `segment` to `map` (later offsets win). */
export async function addToOffsetMap(segment: LogSegment, map: OffsetMap): Promise<number> {
  let records = 0;
  segment.acquire();
  try {
    await scanEach(segment, 0, async (b) => {
      if (isControl(b)) return true;
      for (const r of (await recordsOf(b.buf.subarray(b.at, b.at + b.size))) ?? []) {
        records++;
        if (r.key !== null) map.set(mapKey(r.key), r.offset);
      }
      return true;
    });
  } finally {
    segment.release();
  }
  return records;
}

/** The max timestamp of a segment's first batch (Kafka's age of the oldest dirty record), or null. */
export async function firstBatchTimestamp(segment: LogSegment): Promise<number | null> {
  let ts: number | null = null;
  segment.acquire();
  try {
    await scanBatches(segment.reader, segment.fd, 0, segment.size, false, (b) => {
      ts = b.maxTimestamp;
      return false;
    });
  } finally {
    segment.release();
  }
  return ts;
}

/**
 * Whether cleaning would change anything in `segment` (a read-only scan): a segment that would be
 * copied byte for byte is left alone instead of rewritten.
 */
export async function segmentNeedsCleaning(segment: LogSegment, ctx: CleanContext): Promise<boolean> {
  const dry: CleanContext = { ...ctx, stats: emptyStats(0) };
  let changed = false;
  segment.acquire();
  try {
    await scanEach(segment, 0, async (b) => {
      changed = (await cleanBatch(b, dry)).changed;
      return !changed;
    });
  } finally {
    segment.release();
  }
  return changed;
}

/** A batch written to a cleaned segment: what its index needs. */
export interface CleanedBatch {
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
  position: number;
  size: number;
}

export interface CleanedSegment {
  file: string;
  batches: CleanedBatch[];
  size: number;
}

export interface CleanContext {
  map: OffsetMap;
  nowMs: number;
  config: LogConfig;
  stats: CompactStats;
  /** Stop (throw) between chunks when the log is closing. */
  aborted: () => boolean;
  /** Called once the cleaned file is written, before its fdatasync. */
  beforeSync?: (baseOffset: number) => Promise<void>;
}

/**
 * Rewrites `segment` into `file` (created, written, fdatasync'ed and closed). The caller removes
 * the file if this throws.
 */
export async function writeCleanedSegment(
  sfs: StorageFs,
  segment: LogSegment,
  file: string,
  ctx: CleanContext,
): Promise<CleanedSegment> {
  const fd = await sfs.open(file, "create");
  const out: CleanedBatch[] = [];
  let written = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let last: ScannedBatch | null = null;
  const emit = (buf: Buffer, b: ScannedBatch) => {
    out.push({
      baseOffset: b.baseOffset,
      lastOffset: b.lastOffset,
      maxTimestamp: b.maxTimestamp,
      position: written + pendingBytes,
      size: buf.length,
    });
    pending.push(buf);
    pendingBytes += buf.length;
  };
  const flush = async () => {
    if (pending.length === 0) return;
    await sfs.writev(fd, pending, written);
    written += pendingBytes;
    pending = [];
    pendingBytes = 0;
  };
  try {
    segment.acquire();
    try {
      let position = 0;
      while (position < segment.size) {
        if (ctx.aborted()) throw new Error("log closed during compaction");
        const scan = await scanEach(segment, position, async (b) => {
          if (pendingBytes >= WRITE_CHUNK_BYTES) return false;
          last = b;
          const kept = (await cleanBatch(b, ctx)).bytes;
          if (kept) emit(kept, b);
          return true;
        });
        if (scan.end === "torn" || scan.end === "corrupt") {
          throw new Error(`segment ${segment.baseOffset} is ${scan.end} at ${scan.position}`);
        }
        position = scan.position;
        await flush();
      }
    } finally {
      segment.release();
    }
    const tail = last as ScannedBatch | null;
    if (out.length === 0 && tail) {
      // Keep the segment non-empty (and its offset range) with its last batch, emptied.
      emit(emptyBatchOf(tail), tail);
      await flush();
    }
    await ctx.beforeSync?.(segment.baseOffset);
    await sfs.fdatasync(fd);
  } finally {
    await sfs.close(fd);
  }
  return { file, batches: out, size: written };
}

/**
 * What the batch becomes in the cleaned segment: the same bytes when nothing changes, a rewritten
 * batch, or null when no record survives.
 */
export async function cleanBatch(
  b: ScannedBatch,
  ctx: CleanContext,
): Promise<{ bytes: Buffer | null; changed: boolean }> {
  const bytes = b.buf.subarray(b.at, b.at + b.size);
  if (isControl(b)) return { bytes, changed: false };
  const attributes = bytes.readInt16BE(ATTRIBUTES_OFFSET);
  const hasHorizon = (attributes & DELETE_HORIZON_MASK) !== 0;
  const baseTimestamp = readInt64(bytes, BASE_TIMESTAMP_OFFSET);
  const horizonPassed = hasHorizon && baseTimestamp <= ctx.nowMs;
  const records = await recordsOf(bytes);
  // An empty batch (left by an earlier pass to keep a segment's offset range) stays, as does one
  // the cleaner will not decompress.
  if (records === null || records.length === 0) return { bytes, changed: false };
  const survivors: Record[] = [];
  let tombstones = 0;
  for (const r of records) {
    ctx.stats.recordsRead++;
    const latest = r.key === null ? undefined : ctx.map.get(mapKey(r.key));
    const superseded = r.key === null || (latest !== undefined && latest > r.offset);
    if (superseded) {
      ctx.stats.recordsRemoved++;
      continue;
    }
    if (r.value === null) {
      if (horizonPassed) {
        ctx.stats.recordsRemoved++;
        ctx.stats.tombstonesRemoved++;
        continue;
      }
      tombstones++;
    }
    survivors.push(r);
  }
  if (survivors.length === 0) return { bytes: null, changed: records.length > 0 };
  const setHorizon = tombstones > 0 && !hasHorizon;
  if (survivors.length === records.length && !setHorizon) return { bytes, changed: false };
  const newBase = setHorizon ? ctx.nowMs + ctx.config.deleteRetentionMs : baseTimestamp;
  const attrs = setHorizon ? attributes | DELETE_HORIZON_MASK : attributes;
  return { bytes: rewriteBatch(bytes, survivors, newBase, attrs), changed: true };
}

/**
 * A copy of the batch `bytes` holding only `records` (with their offsets and timestamps), with
 * `baseTimestamp` and `attributes`; every other header field is kept, and the CRC recomputed.
 */
export function rewriteBatch(
  bytes: Buffer,
  records: Record[],
  baseTimestamp: number,
  attributes: number,
): Buffer {
  const baseOffset = readInt64(bytes, 0);
  const body = compress(
    (attributes & COMPRESSION_MASK) as Compression,
    encodeRecords(records, baseOffset, baseTimestamp),
  );
  const out = Buffer.allocUnsafe(RECORDS_OFFSET + body.length);
  bytes.copy(out, 0, 0, RECORDS_OFFSET);
  body.copy(out, RECORDS_OFFSET);
  out.writeInt32BE(out.length - LOG_OVERHEAD, LENGTH_OFFSET);
  out.writeInt16BE(attributes, ATTRIBUTES_OFFSET);
  writeInt64(out, BASE_TIMESTAMP_OFFSET, baseTimestamp);
  out.writeInt32BE(records.length, RECORD_COUNT_OFFSET);
  out.writeUInt32BE(computeBatchCrc(out, 0, out.length), CRC_OFFSET);
  return out;
}

/** The header of `b` with no records (uncompressed), keeping its offset range. */
function emptyBatchOf(b: ScannedBatch): Buffer {
  const bytes = b.buf.subarray(b.at, b.at + b.size);
  const attributes = bytes.readInt16BE(ATTRIBUTES_OFFSET) & ~COMPRESSION_MASK;
  return rewriteBatch(bytes, [], readInt64(bytes, BASE_TIMESTAMP_OFFSET), attributes);
}

function sizeOfField(value: Buffer | null): number {
  return value === null ? sizeOfVarint(-1) : sizeOfVarint(value.length) + value.length;
}

function writeField(buf: Buffer, pos: number, value: Buffer | null): number {
  if (value === null) return writeVarint(buf, pos, -1);
  pos = writeVarint(buf, pos, value.length);
  value.copy(buf, pos);
  return pos + value.length;
}

/** Encodes records with their own offset deltas (encodeRecordBatch numbers them 0..n-1). */
function encodeRecords(records: Record[], baseOffset: number, baseTimestamp: number): Buffer {
  const bodies: number[] = [];
  let total = 0;
  for (const r of records) {
    let size = 1 + sizeOfVarint(r.timestamp - baseTimestamp) + sizeOfVarint(r.offset - baseOffset);
    size += sizeOfField(r.key) + sizeOfField(r.value) + sizeOfVarint(r.headers.length);
    for (const h of r.headers) {
      const keyLength = Buffer.byteLength(h.key);
      size += sizeOfVarint(keyLength) + keyLength + sizeOfField(h.value);
    }
    bodies.push(size);
    total += sizeOfVarint(size) + size;
  }
  const out = Buffer.allocUnsafe(total);
  let pos = 0;
  records.forEach((r, i) => {
    pos = writeVarint(out, pos, bodies[i]);
    out[pos++] = 0;
    pos = writeVarint(out, pos, r.timestamp - baseTimestamp);
    pos = writeVarint(out, pos, r.offset - baseOffset);
    pos = writeField(out, pos, r.key);
    pos = writeField(out, pos, r.value);
    pos = writeVarint(out, pos, r.headers.length);
    for (const h of r.headers) {
      const keyLength = Buffer.byteLength(h.key);
      pos = writeVarint(out, pos, keyLength);
      pos += out.write(h.key, pos);
      pos = writeField(out, pos, h.value);
    }
  });
  return out;
}

/** Parses the cleaner checkpoint file's content; null when absent or unreadable. */
export function parseCleanerCheckpoint(data: Buffer | null): number | null {
  if (!data) return null;
  const n = Number(data.toString("utf8").trim());
  return Number.isSafeInteger(n) && n >= 0 ? n : null;
}
