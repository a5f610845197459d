/**
 * What the broker changes in a leader's batches after validation and before they are stored, as
 * Kafka's LogValidator does (docs/decisions/0011). In this order, per data batch:
 *   1. compression.type other than `producer`, and a batch codec that differs: the records are
 *      decompressed (at most decompressedBytesMax, else MESSAGE_TOO_LARGE) and must fill the
 *      decompressed section exactly (INVALID_RECORD), their timestamps are checked against the
 *      bounds (INVALID_TIMESTAMP), and the batch is re-encoded with the topic's codec (header
 *      fields kept, new CRC); a result larger than max.message.bytes is refused
 *      (MESSAGE_TOO_LARGE). This is the only place the produce path decompresses a batch's
 *      records for storing. A produce does this step ahead, in PartitionLog.validateRecords
 *      (`recompressAhead`: decompression and compression of large batches off the event loop
 *      through storage/decompress.ts, in call order), and `rewriteBatches` takes its result; the
 *      broker's own appends (bounded) do it here, on the event loop;
 *   2. message.timestamp.type=LogAppendTime: attributes bit 3 set and maxTimestamp = the append
 *      time (records keep their deltas, as in Kafka);
 *   3. CreateTime: a header maxTimestamp that differs from the records' largest timestamp
 *      (validate.ts computed it) is overwritten.
 * A batch whose header changes gets a new CRC. Unchanged batches keep every byte. Control batches
 * are the broker's own and are left alone. Followers and journal replay never come here: their
 * batches were rewritten by whoever appended them first.
 */
import { Compression, compressionFromName, decompress } from "../protocol/compression.js";
import { KafkaError } from "../protocol/errors.js";
import {
  ATTRIBUTES_OFFSET,
  COMPRESSION_MASK,
  CONTROL_MASK,
  CRC_OFFSET,
  computeBatchCrc,
  decodeRecords,
  encodeRecordBatch,
  LENGTH_OFFSET,
  LOG_OVERHEAD,
  MAX_TIMESTAMP_OFFSET,
  NO_TIMESTAMP,
  RECORD_COUNT_OFFSET,
  RECORDS_OFFSET,
  readBatchHeader,
  TIMESTAMP_TYPE_MASK,
  TimestampType,
  TRANSACTIONAL_MASK,
  walkRecords,
} from "../protocol/record-batch.js";
import { Cursor, readInt64, writeInt64 } from "../protocol/varint.js";
import type { CompressionType, LogConfig } from "./config.js";
import { decompressor } from "./decompress.js";
import { checkTimestamp, decompressedBytesMax, type ValidAppend, type ValidBatch } from "./validate.js";

export interface RewrittenAppend {
  /** The batches to store: `buf` itself (patched in place) unless a batch was recompressed. */
  buf: Buffer;
  valid: ValidAppend;
  /** The append time stamped into the batches under LogAppendTime, else -1 (Produce's logAppendTimeMs). */
  logAppendTimeMs: number;
}

/** The codec batches must be stored with, or null to keep the producer's. */
export function targetCodec(type: CompressionType): Compression | null {
  if (type === "producer") return null;
  if (type === "uncompressed") return Compression.None;
  return compressionFromName(type);
}

function levelFor(codec: Compression, config: LogConfig): number | undefined {
  if (codec === Compression.Gzip && config.compressionGzipLevel !== -1) return config.compressionGzipLevel;
  if (codec === Compression.Zstd) return config.compressionZstdLevel;
  return undefined;
}

/** Applies the topic's compression and timestamp rules to validated batches (see the header). */
export function rewriteBatches(
  buf: Buffer,
  valid: ValidAppend,
  config: LogConfig,
  nowMs: number,
): RewrittenAppend {
  const target = targetCodec(config.compressionType);
  const logAppendTime = config.timestampType === "LogAppendTime";
  let out = buf;
  let batches = valid.batches;
  const ahead = (valid as RecompressedAppend).recompressed;
  if (target !== null && ahead?.codec === target) {
    ({ buf: out, batches } = ahead);
  } else if (target !== null && valid.batches.some((b) => needsRecompression(buf, b, target))) {
    ({ out, batches } = recompressAll(buf, valid.batches, target, config, nowMs));
  }
  // The usual append changes nothing: no array or object is copied then (the append hot path).
  let changed = batches !== valid.batches;
  let maxTimestamp = NO_TIMESTAMP;
  for (let i = 0; i < batches.length; i++) {
    const patched = patchTimestamps(out, batches[i], logAppendTime, nowMs);
    if (patched !== batches[i]) {
      if (!changed) batches = [...batches];
      changed = true;
      batches[i] = patched;
    }
    if (patched.maxTimestamp > maxTimestamp) maxTimestamp = patched.maxTimestamp;
  }
  const logAppendTimeMs = logAppendTime ? nowMs : NO_TIMESTAMP;
  if (!changed) return { buf, valid, logAppendTimeMs };
  return {
    buf: out,
    valid: { batches, recordCount: valid.recordCount, maxTimestamp, recordsChecked: valid.recordsChecked },
    logAppendTimeMs,
  };
}

/** Step 1 done ahead of the append, its result carried by the validated append it came from. */
export interface Recompressed {
  codec: Compression;
  buf: Buffer;
  batches: ValidBatch[];
}

export type RecompressedAppend = ValidAppend & { recompressed?: Recompressed };

/**
 * Step 1 for a validated leader append, ahead of `rewriteBatches` (PartitionLog.validateRecords):
 * each batch's decompression and compression off the event loop where large
 * (storage/decompress.ts), one batch after the other. `valid` itself when nothing needs it.
 */
export async function recompressAhead(
  buf: Buffer,
  valid: ValidAppend,
  config: LogConfig,
  nowMs: number,
): Promise<RecompressedAppend> {
  const target = targetCodec(config.compressionType);
  if (target === null || !valid.batches.some((b) => needsRecompression(buf, b, target))) return valid;
  const parts: Buffer[] = [];
  const batches: ValidBatch[] = [];
  let position = 0;
  for (const b of valid.batches) {
    let part = buf.subarray(b.position, b.position + b.size);
    let maxTimestamp = b.maxTimestamp;
    if (needsRecompression(buf, b, target)) {
      part = await recompressAsync(part, target, config, nowMs);
      maxTimestamp = readInt64(part, MAX_TIMESTAMP_OFFSET);
    }
    parts.push(part);
    batches.push({ ...b, position, size: part.length, maxTimestamp });
    position += part.length;
  }
  return { ...valid, recompressed: { codec: target, buf: Buffer.concat(parts, position), batches } };
}

function needsRecompression(buf: Buffer, b: ValidBatch, target: Compression): boolean {
  const attributes = buf.readInt16BE(b.position + ATTRIBUTES_OFFSET);
  return (attributes & CONTROL_MASK) === 0 && (attributes & COMPRESSION_MASK) !== target;
}

/** Step 1 for every batch: the batches to store, back to back in a new buffer. */
function recompressAll(
  buf: Buffer,
  valid: ValidBatch[],
  target: Compression,
  config: LogConfig,
  nowMs: number,
): { out: Buffer; batches: ValidBatch[] } {
  const parts: Buffer[] = [];
  const batches: ValidBatch[] = [];
  let position = 0;
  for (const b of valid) {
    let part = buf.subarray(b.position, b.position + b.size);
    let maxTimestamp = b.maxTimestamp;
    if (needsRecompression(buf, b, target)) {
      part = recompress(part, target, config, nowMs);
      maxTimestamp = readInt64(part, MAX_TIMESTAMP_OFFSET);
    }
    parts.push(part);
    batches.push({ ...b, position, size: part.length, maxTimestamp });
    position += part.length;
  }
  return { out: Buffer.concat(parts, position), batches };
}

/**
 * Re-encodes one batch with `codec`, keeping its header fields; checks max.message.bytes. The
 * header's maxTimestamp becomes the records' largest, so on a CreateTime topic each CreateTime
 * record passes the timestamp bounds first (validation trusted the compressed batch's header).
 */
function recompress(batch: Buffer, codec: Compression, config: LogConfig, nowMs: number): Buffer {
  const header = readBatchHeader(batch);
  const plain = exactly(
    batch,
    header.attributes,
    decompress(
      header.attributes & COMPRESSION_MASK,
      batch.subarray(RECORDS_OFFSET),
      decompressedBytesMax(config),
    ),
  );
  return checkSize(reencode(plain, header, codec, config, nowMs), config);
}

/**
 * As `recompress`, with the decompression and the compression of large batches off the event
 * loop (storage/decompress.ts); the decompression's memory reservation is returned on every path.
 */
async function recompressAsync(
  batch: Buffer,
  codec: Compression,
  config: LogConfig,
  nowMs: number,
): Promise<Buffer> {
  const header = readBatchHeader(batch);
  const d = await decompressor().decompress(
    header.attributes & COMPRESSION_MASK,
    batch.subarray(RECORDS_OFFSET),
    decompressedBytesMax(config),
  );
  let plain: Buffer;
  try {
    plain = exactly(batch, header.attributes, d.body);
  } finally {
    d.release();
  }
  const records = reencode(plain, header, Compression.None, config, nowMs);
  const body = await decompressor().compress(
    codec,
    records.subarray(RECORDS_OFFSET),
    levelFor(codec, config),
  );
  const out = Buffer.allocUnsafe(RECORDS_OFFSET + body.length);
  records.copy(out, 0, 0, RECORDS_OFFSET);
  body.copy(out, RECORDS_OFFSET);
  out.writeInt32BE(out.length - LOG_OVERHEAD, LENGTH_OFFSET);
  out.writeInt16BE((out.readInt16BE(ATTRIBUTES_OFFSET) & ~COMPRESSION_MASK) | codec, ATTRIBUTES_OFFSET);
  out.writeUInt32BE(computeBatchCrc(out, 0, out.length), CRC_OFFSET);
  return checkSize(out, config);
}

/** The uncompressed batch `plain` encoded with `codec` and `header`'s fields (see `recompress`). */
function reencode(
  plain: Buffer,
  header: ReturnType<typeof readBatchHeader>,
  codec: Compression,
  config: LogConfig,
  nowMs: number,
): Buffer {
  const decoded = decodeRecords(plain);
  if (config.timestampType === "CreateTime" && (header.attributes & TIMESTAMP_TYPE_MASK) === 0) {
    for (const r of decoded) checkTimestamp(r.timestamp, { config, nowMs });
  }
  const records = decoded.map((r) => ({
    key: r.key,
    value: r.value,
    headers: r.headers,
    timestamp: r.timestamp,
  }));
  return encodeRecordBatch(records, {
    baseOffset: header.baseOffset,
    partitionLeaderEpoch: header.partitionLeaderEpoch,
    compression: codec,
    compressionLevel: levelFor(codec, config),
    timestampType:
      (header.attributes & TIMESTAMP_TYPE_MASK) !== 0
        ? TimestampType.LogAppendTime
        : TimestampType.CreateTime,
    transactional: (header.attributes & TRANSACTIONAL_MASK) !== 0,
    producerId: header.producerId,
    producerEpoch: header.producerEpoch,
    baseSequence: header.baseSequence,
    baseTimestamp: header.baseTimestamp,
  });
}

function checkSize(out: Buffer, config: LogConfig): Buffer {
  if (out.length > config.maxMessageBytes) {
    throw new KafkaError(
      "MESSAGE_TOO_LARGE",
      `batch of ${out.length} bytes after recompression exceeds max.message.bytes (${config.maxMessageBytes})`,
    );
  }
  return out;
}

/**
 * The batch with its decompressed records `body`, checked to fill the decompressed section
 * exactly, as Kafka's reader requires: bytes after the declared records would otherwise vanish in
 * the re-encoding (INVALID_RECORD). A copy: `body` may be released after.
 */
function exactly(batch: Buffer, attributes: number, body: Buffer): Buffer {
  const c = new Cursor(body, 0);
  walkRecords(c, batch.readInt32BE(RECORD_COUNT_OFFSET));
  if (c.pos !== body.length)
    throw new KafkaError("INVALID_RECORD", `${body.length - c.pos} bytes after the last record`);
  const plain = Buffer.concat([batch.subarray(0, RECORDS_OFFSET), body]);
  plain.writeInt32BE(plain.length - LOG_OVERHEAD, LENGTH_OFFSET);
  plain.writeInt16BE(attributes & ~COMPRESSION_MASK, ATTRIBUTES_OFFSET);
  return plain;
}

/** Steps 2 and 3 for the batch `b` of `buf`, in place; returns it with its stored maxTimestamp. */
function patchTimestamps(buf: Buffer, b: ValidBatch, logAppendTime: boolean, nowMs: number): ValidBatch {
  const at = b.position;
  const attributes = buf.readInt16BE(at + ATTRIBUTES_OFFSET);
  if ((attributes & CONTROL_MASK) !== 0) return b;
  let newAttributes = attributes;
  let maxTimestamp = b.maxTimestamp;
  if (logAppendTime) {
    newAttributes |= TIMESTAMP_TYPE_MASK;
    maxTimestamp = nowMs;
  }
  if (newAttributes === attributes && readInt64(buf, at + MAX_TIMESTAMP_OFFSET) === maxTimestamp) return b;
  buf.writeInt16BE(newAttributes, at + ATTRIBUTES_OFFSET);
  writeInt64(buf, at + MAX_TIMESTAMP_OFFSET, maxTimestamp);
  buf.writeUInt32BE(computeBatchCrc(buf, at, b.size), at + CRC_OFFSET);
  return { ...b, maxTimestamp };
}
