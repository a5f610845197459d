/**
 * What the broker changes in a leader's batches after validation and before they are stored, as
 * Kafka's LogValidator does (docs/decisions/0011). In this order, per data batch:
 *   1. compression.type other than `producer`, and a batch codec that differs: the records are
 *      decompressed (at most decompressedBytesMax, else MESSAGE_TOO_LARGE) and must fill the
 *      decompressed section exactly (INVALID_RECORD), their timestamps are checked against the
 *      bounds (INVALID_TIMESTAMP), and the batch is re-encoded with the topic's codec (header
 *      fields kept, new CRC); a result larger than max.message.bytes is refused
 *      (MESSAGE_TOO_LARGE). This is the only place the produce path decompresses a batch's
 *      records for storing;
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
  if (target !== null && valid.batches.some((b) => needsRecompression(buf, b, target))) {
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
    batches.push({ position, size: part.length, recordCount: b.recordCount, maxTimestamp });
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
  const decoded = decodeRecords(decompressExactly(batch, header.attributes, config));
  if (config.timestampType === "CreateTime" && (header.attributes & TIMESTAMP_TYPE_MASK) === 0) {
    for (const r of decoded) checkTimestamp(r.timestamp, { config, nowMs });
  }
  const records = decoded.map((r) => ({
    key: r.key,
    value: r.value,
    headers: r.headers,
    timestamp: r.timestamp,
  }));
  const out = encodeRecordBatch(records, {
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
  if (out.length > config.maxMessageBytes) {
    throw new KafkaError(
      "MESSAGE_TOO_LARGE",
      `batch of ${out.length} bytes after recompression exceeds max.message.bytes (${config.maxMessageBytes})`,
    );
  }
  return out;
}

/**
 * The batch with its records decompressed (at most decompressedBytesMax), checked to fill the
 * decompressed section exactly, as Kafka's reader requires: bytes after the declared records
 * would otherwise vanish in the re-encoding (INVALID_RECORD).
 */
function decompressExactly(batch: Buffer, attributes: number, config: LogConfig): Buffer {
  const body = decompress(
    attributes & COMPRESSION_MASK,
    batch.subarray(RECORDS_OFFSET),
    decompressedBytesMax(config),
  );
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
