/**
 * Validation of record batches before they are appended. The checks run in this order, and the
 * first failure refuses the whole append with nothing written:
 *   1. legacy format: a magic byte of 0 or 1 (a v0/v1 message set) -> UNSUPPORTED_FOR_MESSAGE_FORMAT;
 *   2. framing: at least a batch header remains, and the declared length fits the bytes present
 *      (CORRUPT_MESSAGE); the batch is no larger than max.message.bytes (MESSAGE_TOO_LARGE);
 *   3. magic: 2 (CORRUPT_MESSAGE otherwise);
 *   4. CRC-32C over attributes..end (CORRUPT_MESSAGE);
 *   5. header: a known codec (UNSUPPORTED_COMPRESSION_TYPE); at least one record and
 *      lastOffsetDelta = recordCount - 1 (INVALID_RECORD); no control batch unless allowed;
 *   6. timestamps, on a CreateTime topic for a CreateTime batch: none below -1, within
 *      message.timestamp.{before,after,difference}.max.ms of now (INVALID_TIMESTAMP);
 *   7. records: each record's fields fill its declared length, offset deltas run 0..n-1, there
 *      are as many records as declared and they fill the (decompressed) section exactly
 *      (INVALID_RECORD; CORRUPT_MESSAGE for a field that overruns its record), each CreateTime
 *      record's timestamp as in 6;
 *   8. on a compacted log (cleanup.policy compact or compact,delete), every record of a data batch
 *      has a key (INVALID_RECORD, as Kafka's LogValidator: "Compacted topic cannot accept message
 *      without key").
 * `validateBatches` runs checks 1-6 on every batch and 7-8 on uncompressed ones (none on batches
 * a log checked before: `recordsChecked`). Compressed data batches get 7-8 from
 * `checkCompressedRecords` (asynchronous: storage/decompress.ts, the produce path) or
 * `checkCompressedRecordsSync` (bounded, on the event loop: appends the broker makes itself), as
 * Kafka's LogValidator decompresses every compressed batch: records that do not
 * decompress (CORRUPT_MESSAGE), or decompress beyond decompressedBytesMax (MESSAGE_TOO_LARGE), or
 * whose count or offset deltas differ from the header, are refused before anything is stored.
 *
 * Each ValidBatch's maxTimestamp is the largest record timestamp, computed from the records
 * whatever the header says (docs/decisions/0011); until check 7 has run on a compressed batch, and
 * on batches checked before (`recordsChecked`), it is its header's.
 */
import { decompress } from "../protocol/compression.js";
import { KafkaError } from "../protocol/errors.js";
import {
  ATTRIBUTES_OFFSET,
  BASE_SEQUENCE_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  BATCH_HEADER_SIZE,
  COMPRESSION_MASK,
  CONTROL_MASK,
  CRC_OFFSET,
  computeBatchCrc,
  LAST_OFFSET_DELTA_OFFSET,
  LENGTH_OFFSET,
  LOG_OVERHEAD,
  MAGIC_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  NO_TIMESTAMP,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  RECORD_COUNT_OFFSET,
  RECORDS_OFFSET,
  TIMESTAMP_TYPE_MASK,
} from "../protocol/record-batch.js";
import { readInt64 } from "../protocol/varint.js";
import type { LogConfig } from "./config.js";
import { decompressor } from "./decompress.js";

/** Where one validated batch lies in the appended buffer, and what the log needs from it. */
export interface ValidBatch {
  position: number;
  size: number;
  recordCount: number;
  /** The largest record timestamp (see the file's header), -1 when the records carry none. */
  maxTimestamp: number;
  /** The idempotent producer's id (-1 for none), epoch and first sequence, from the header. */
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
}

export interface ValidAppend {
  batches: ValidBatch[];
  recordCount: number;
  maxTimestamp: number;
  /** False while compressed data batches still need checks 7-8 (see the file's header). */
  recordsChecked: boolean;
}

export interface ValidateOptions {
  config: LogConfig;
  nowMs: number;
  /** Control batches are written by the broker itself; clients may not send them. */
  allowControl?: boolean;
  /**
   * Batches that passed every check when a log first appended them (a follower's copy of its
   * leader's batches, the journal's replay), whose CRC proves them unchanged since: checks 1-6
   * only, no walk of the records (7-8), as Kafka's follower checks only each batch's CRC. Their
   * maxTimestamp is the header's, which that first append made right (docs/decisions/0011).
   */
  recordsChecked?: boolean;
}

const MAX_CODEC = 4;

/**
 * The least a compressed batch's records may decompress to where validation or a rewrite reads
 * them (compacted-log keys, a maxTimestamp to recompute, recompression): a few hundred bytes of
 * gzip or zstd can claim gigabytes (docs/decisions/0014). The bound is this or max.message.bytes,
 * whichever is larger; beyond it the batch is refused with MESSAGE_TOO_LARGE.
 */
export const DECOMPRESSED_BYTES_MIN = 64 * 1024 * 1024;

/** The most bytes a batch's records may decompress to on the produce path (see above). */
export function decompressedBytesMax(config: LogConfig): number {
  return Math.max(DECOMPRESSED_BYTES_MIN, config.maxMessageBytes);
}

/** Validates every batch in `buf` (batches back to back). Throws a KafkaError on the first fault. */
export function validateBatches(buf: Buffer, options: ValidateOptions): ValidAppend {
  if (buf.length === 0) throw new KafkaError("CORRUPT_MESSAGE", "no record batch");
  const batches: ValidBatch[] = [];
  let recordCount = 0;
  let maxTimestamp = NO_TIMESTAMP;
  let recordsChecked = true;
  let pos = 0;
  while (pos < buf.length) {
    const batch = validateOne(buf, pos, options);
    batches.push(batch);
    recordCount += batch.recordCount;
    if (batch.maxTimestamp > maxTimestamp) maxTimestamp = batch.maxTimestamp;
    if (isCompressedData(buf, pos) && !options.recordsChecked) recordsChecked = false;
    pos += batch.size;
  }
  return { batches, recordCount, maxTimestamp, recordsChecked };
}

function isCompressedData(buf: Buffer, pos: number): boolean {
  const attributes = buf.readInt16BE(pos + ATTRIBUTES_OFFSET);
  return (attributes & COMPRESSION_MASK) !== 0 && (attributes & CONTROL_MASK) === 0;
}

/** What check 7 of a compressed batch needs besides its records: the header's fields and bounds. */
function recordsWindow(buf: Buffer, b: ValidBatch, options: ValidateOptions) {
  const attributes = buf.readInt16BE(b.position + ATTRIBUTES_OFFSET);
  const createTime = (attributes & TIMESTAMP_TYPE_MASK) === 0;
  const checkTimestamps = createTime && options.config.timestampType !== "LogAppendTime";
  const { before, after } = timestampBounds(options.config);
  return {
    codec: attributes & COMPRESSION_MASK,
    createTime,
    baseTimestamp: readInt64(buf, b.position + BASE_TIMESTAMP_OFFSET),
    lo: checkTimestamps ? Math.max(0, options.nowMs - before) : -Infinity,
    hi: checkTimestamps ? options.nowMs + after : Infinity,
  };
}

/** Checks 7-8 on one compressed batch's decompressed records; the batch with their max timestamp. */
function checkDecompressed(buf: Buffer, b: ValidBatch, body: Buffer, options: ValidateOptions): ValidBatch {
  const w = recordsWindow(buf, b, options);
  const max = checkRecords(body, 0, body.length, b.recordCount, w.baseTimestamp, w.lo, w.hi, options);
  if (options.config.cleanupPolicy !== "delete") requireKeysIn(body, 0, b.recordCount);
  return w.createTime && max !== b.maxTimestamp ? { ...b, maxTimestamp: max } : b;
}

/** The append with its compressed batches' maxTimestamps from their records. */
function withBatches(valid: ValidAppend, batches: ValidBatch[]): ValidAppend {
  let maxTimestamp = NO_TIMESTAMP;
  for (const b of batches) if (b.maxTimestamp > maxTimestamp) maxTimestamp = b.maxTimestamp;
  return { batches, recordCount: valid.recordCount, maxTimestamp, recordsChecked: true };
}

/** The records section of a batch, as stored (compressed). */
function section(buf: Buffer, b: ValidBatch): Buffer {
  return buf.subarray(b.position + RECORDS_OFFSET, b.position + b.size);
}

/**
 * Checks 7-8 on every compressed data batch of an append that `validateBatches` passed,
 * decompressing through the process-wide Decompressor (bounded, off the event loop for large
 * batches, one batch at a time). Resolves with the append's batches carrying their records' max
 * timestamps; rejects with the first fault.
 */
export async function checkCompressedRecords(
  buf: Buffer,
  valid: ValidAppend,
  options: ValidateOptions,
): Promise<ValidAppend> {
  if (valid.recordsChecked) return valid;
  const batches: ValidBatch[] = [];
  const maxBytes = decompressedBytesMax(options.config);
  for (const b of valid.batches) {
    if (!isCompressedData(buf, b.position)) {
      batches.push(b);
      continue;
    }
    const codec = buf.readInt16BE(b.position + ATTRIBUTES_OFFSET) & COMPRESSION_MASK;
    const d = await decompressor().decompress(codec, section(buf, b), maxBytes);
    try {
      batches.push(checkDecompressed(buf, b, d.body, options));
    } finally {
      d.release();
    }
  }
  return withBatches(valid, batches);
}

/** As `checkCompressedRecords`, on the event loop (bounded by decompressedBytesMax). */
export function checkCompressedRecordsSync(
  buf: Buffer,
  valid: ValidAppend,
  options: ValidateOptions,
): ValidAppend {
  if (valid.recordsChecked) return valid;
  const maxBytes = decompressedBytesMax(options.config);
  const batches = valid.batches.map((b) => {
    if (!isCompressedData(buf, b.position)) return b;
    const codec = buf.readInt16BE(b.position + ATTRIBUTES_OFFSET) & COMPRESSION_MASK;
    return checkDecompressed(buf, b, decompress(codec, section(buf, b), maxBytes), options);
  });
  return withBatches(valid, batches);
}

function validateOne(buf: Buffer, pos: number, options: ValidateOptions): ValidBatch {
  const remaining = buf.length - pos;
  // Legacy message sets (magic 0/1) are shorter than a v2 header: look at the magic first.
  if (remaining > MAGIC_OFFSET) {
    const magic = buf.readInt8(pos + MAGIC_OFFSET);
    if (magic === 0 || magic === 1) {
      throw new KafkaError(
        "UNSUPPORTED_FOR_MESSAGE_FORMAT",
        `message set magic ${magic}; only magic 2 is stored`,
      );
    }
  }
  if (remaining < BATCH_HEADER_SIZE) {
    throw new KafkaError("CORRUPT_MESSAGE", `${remaining} trailing bytes are not a batch header`);
  }
  const size = LOG_OVERHEAD + buf.readInt32BE(pos + LENGTH_OFFSET);
  if (size < BATCH_HEADER_SIZE || size > remaining) {
    throw new KafkaError("CORRUPT_MESSAGE", `batch declares ${size} bytes, ${remaining} present`);
  }
  if (size > options.config.maxMessageBytes) {
    throw new KafkaError("MESSAGE_TOO_LARGE", `batch of ${size} bytes exceeds max.message.bytes`);
  }
  const magic = buf.readInt8(pos + MAGIC_OFFSET);
  if (magic !== 2)
    throw new KafkaError("CORRUPT_MESSAGE", `record batch magic ${magic}; only magic 2 is stored`);
  if (computeBatchCrc(buf, pos, size) !== buf.readUInt32BE(pos + CRC_OFFSET)) {
    throw new KafkaError("CORRUPT_MESSAGE", "record batch CRC mismatch");
  }
  const attributes = buf.readInt16BE(pos + ATTRIBUTES_OFFSET);
  const codec = attributes & COMPRESSION_MASK;
  if (codec > MAX_CODEC) throw new KafkaError("UNSUPPORTED_COMPRESSION_TYPE", `codec ${codec}`);
  if ((attributes & CONTROL_MASK) !== 0 && !options.allowControl) {
    throw new KafkaError("INVALID_RECORD", "clients may not write control batches");
  }
  const recordCount = buf.readInt32BE(pos + RECORD_COUNT_OFFSET);
  const lastOffsetDelta = buf.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET);
  if (recordCount < 1 || lastOffsetDelta !== recordCount - 1) {
    throw new KafkaError(
      "INVALID_RECORD",
      `recordCount ${recordCount} with lastOffsetDelta ${lastOffsetDelta}`,
    );
  }
  const baseTimestamp = readInt64(buf, pos + BASE_TIMESTAMP_OFFSET);
  let maxTimestamp = readInt64(buf, pos + MAX_TIMESTAMP_OFFSET);
  const checkTimestamps =
    (attributes & TIMESTAMP_TYPE_MASK) === 0 && options.config.timestampType !== "LogAppendTime";
  if (checkTimestamps) {
    checkTimestamp(baseTimestamp, options);
    checkTimestamp(maxTimestamp, options);
  }
  // Records inside the accepted window need no further check; checkTimestamp explains the others.
  const { before, after } = timestampBounds(options.config);
  const lo = checkTimestamps ? Math.max(0, options.nowMs - before) : -Infinity;
  const hi = checkTimestamps ? options.nowMs + after : Infinity;
  // A LogAppendTime batch's timestamp is its header's maxTimestamp, whatever its records say.
  const createTime = (attributes & TIMESTAMP_TYPE_MASK) === 0;
  if (codec === 0 && !options.recordsChecked) {
    const recordsMax = checkRecords(
      buf,
      pos + RECORDS_OFFSET,
      pos + size,
      recordCount,
      baseTimestamp,
      lo,
      hi,
      options,
    );
    if (createTime) maxTimestamp = recordsMax;
    if (options.config.cleanupPolicy !== "delete" && (attributes & CONTROL_MASK) === 0) {
      requireKeysIn(buf, pos + RECORDS_OFFSET, recordCount);
    }
  }
  return {
    position: pos,
    size,
    recordCount,
    maxTimestamp,
    producerId: readInt64(buf, pos + PRODUCER_ID_OFFSET),
    producerEpoch: buf.readInt16BE(pos + PRODUCER_EPOCH_OFFSET),
    baseSequence: buf.readInt32BE(pos + BASE_SEQUENCE_OFFSET),
  };
}

/** Check 8: every one of `count` records from `start` has a key (their framing is already checked). */
function requireKeysIn(buf: Buffer, start: number, count: number): void {
  at = start;
  for (let i = 0; i < count; i++) {
    const length = zigzag(buf, buf.length);
    const end = at + length;
    at++;
    zigzag(buf, end);
    zigzag(buf, end);
    if (zigzag(buf, end) < 0) throw keylessRecord();
    at = end;
  }
}

function keylessRecord(): KafkaError {
  return new KafkaError("INVALID_RECORD", "compacted topic cannot accept a record without a key");
}

/**
 * How far from now a CreateTime record may lie: message.timestamp.before/after.max.ms, each
 * narrowed by Kafka 3's message.timestamp.difference.max.ms when that is set.
 */
export function timestampBounds(config: LogConfig): { before: number; after: number } {
  const difference = config.timestampDifferenceMaxMs;
  return {
    before: Math.min(config.timestampBeforeMaxMs, difference),
    after: Math.min(config.timestampAfterMaxMs, difference),
  };
}

/** A CreateTime record's timestamp: -1, or not negative and within the bounds of now. */
export function checkTimestamp(timestamp: number, options: Pick<ValidateOptions, "config" | "nowMs">): void {
  if (timestamp === NO_TIMESTAMP) return;
  if (timestamp < 0) throw new KafkaError("INVALID_TIMESTAMP", `timestamp ${timestamp} is negative`);
  const { nowMs, config } = options;
  const { before, after } = timestampBounds(config);
  if (nowMs - timestamp > before || timestamp - nowMs > after) {
    throw new KafkaError("INVALID_TIMESTAMP", `timestamp ${timestamp} lies outside the accepted window`);
  }
}

/**
 * The read position of the record walk below. The walk runs for every record appended, so it
 * keeps its position here instead of in a cursor object, and reads varints inline.
 */
let at = 0;

/** Reads a zigzag varint or varlong at `at`, bounded by `end`. */
function zigzag(buf: Buffer, end: number): number {
  let value = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    if (at >= end) throw new KafkaError("CORRUPT_MESSAGE", "record truncated inside a varint");
    const b = buf[at++];
    value |= (b & 0x7f) << shift;
    if (b < 0x80) return value & 1 ? -(value + 1) / 2 : value >>> 1;
  }
  let scale = 0x1000_0000;
  for (let i = 4; i < 10; i++) {
    if (at >= end) throw new KafkaError("CORRUPT_MESSAGE", "record truncated inside a varint");
    const b = buf[at++];
    value += (b & 0x7f) * scale;
    if (b < 0x80) {
      if (value > Number.MAX_SAFE_INTEGER) throw new KafkaError("CORRUPT_MESSAGE", "varint beyond 2^53");
      return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
    }
    scale *= 128;
  }
  throw new KafkaError("CORRUPT_MESSAGE", "varint longer than 10 bytes");
}

/** Skips a varint-length-prefixed byte field (key, value, header value); -1 means null. */
function skipBytes(buf: Buffer, end: number, nullable: boolean): void {
  const length = zigzag(buf, end);
  if (length < (nullable ? -1 : 0) || at + length > end) {
    throw new KafkaError("CORRUPT_MESSAGE", `field length ${length} does not fit its record`);
  }
  if (length > 0) at += length;
}

/**
 * Walks the records of an uncompressed batch: each record's fields fill exactly its declared
 * length, offset deltas run 0..count-1, timestamps lie in [lo, hi] (else checkTimestamp says why),
 * and the records fill the batch exactly. Returns the largest record timestamp.
 */
function checkRecords(
  buf: Buffer,
  start: number,
  batchEnd: number,
  count: number,
  baseTimestamp: number,
  lo: number,
  hi: number,
  options: ValidateOptions,
): number {
  at = start;
  let max = NO_TIMESTAMP;
  for (let i = 0; i < count; i++) {
    if (at >= batchEnd) throw new KafkaError("INVALID_RECORD", `${count} records declared, ${i} present`);
    const length = zigzag(buf, batchEnd);
    if (length <= 0 || at + length > batchEnd) {
      throw new KafkaError("CORRUPT_MESSAGE", `record ${i} declares ${length} bytes`);
    }
    const end = at + length;
    at++; // attributes: unused in v2
    const timestampDelta = zigzag(buf, end);
    const offsetDelta = zigzag(buf, end);
    if (offsetDelta !== i)
      throw new KafkaError("INVALID_RECORD", `record offset delta ${offsetDelta}, expected ${i}`);
    const timestamp = baseTimestamp + timestampDelta;
    if (timestampDelta !== 0 && (timestamp < lo || timestamp > hi)) checkTimestamp(timestamp, options);
    if (timestamp > max) max = timestamp;
    skipBytes(buf, end, true);
    skipBytes(buf, end, true);
    const headers = zigzag(buf, end);
    if (headers < 0 || headers > end - at)
      throw new KafkaError("CORRUPT_MESSAGE", `record ${i} declares ${headers} headers`);
    for (let h = 0; h < headers; h++) {
      skipBytes(buf, end, false);
      skipBytes(buf, end, true);
    }
    if (at !== end)
      throw new KafkaError("CORRUPT_MESSAGE", `record ${i} fields do not fill its declared length`);
  }
  if (at !== batchEnd) throw new KafkaError("INVALID_RECORD", `${batchEnd - at} bytes after the last record`);
  return max;
}
