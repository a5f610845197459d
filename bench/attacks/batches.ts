/**
 * Hostile record batches, built by hand: a batch header with any declared record count, codec,
 * producer id and timestamps over records bytes given as they are (the CRC is right, so only
 * what the header claims is a lie), and compression bombs that declare little and inflate to
 * much: a gzip stream of zeros (deflate's ~1000:1), and zstd frames of RLE blocks (4 bytes of
 * input per 128 KiB of output), each holding one record whose value is the zeros.
 */
import { createGzip } from "node:zlib";
import { Compression, lz4Compress } from "../../protocol/compression.js";
import {
  ATTRIBUTES_OFFSET,
  BASE_SEQUENCE_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  CRC_OFFSET,
  computeBatchCrc,
  LAST_OFFSET_DELTA_OFFSET,
  LENGTH_OFFSET,
  LOG_OVERHEAD,
  MAGIC_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  PARTITION_LEADER_EPOCH_OFFSET,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  RECORD_COUNT_OFFSET,
  RECORDS_OFFSET,
} from "../../protocol/record-batch.js";

export interface HeaderFields {
  compression?: Compression;
  recordCount?: number;
  lastOffsetDelta?: number;
  producerId?: number | bigint;
  producerEpoch?: number;
  baseSequence?: number;
  baseTimestamp?: number;
  maxTimestamp?: number;
}

/** A RecordBatch v2 around `records` (raw, possibly compressed) with the header saying `h`. */
export function rawBatch(records: Buffer, h: HeaderFields = {}): Buffer {
  const buf = Buffer.alloc(RECORDS_OFFSET + records.length);
  const count = h.recordCount ?? 1;
  buf.writeBigInt64BE(0n, 0);
  buf.writeInt32BE(buf.length - LOG_OVERHEAD, LENGTH_OFFSET);
  buf.writeInt32BE(-1, PARTITION_LEADER_EPOCH_OFFSET);
  buf.writeInt8(2, MAGIC_OFFSET);
  buf.writeInt16BE(h.compression ?? Compression.None, ATTRIBUTES_OFFSET);
  buf.writeInt32BE(h.lastOffsetDelta ?? count - 1, LAST_OFFSET_DELTA_OFFSET);
  const ts = h.baseTimestamp ?? Date.now();
  buf.writeBigInt64BE(BigInt(ts), BASE_TIMESTAMP_OFFSET);
  buf.writeBigInt64BE(BigInt(h.maxTimestamp ?? ts), MAX_TIMESTAMP_OFFSET);
  buf.writeBigInt64BE(BigInt(h.producerId ?? -1), PRODUCER_ID_OFFSET);
  buf.writeInt16BE(h.producerEpoch ?? -1, PRODUCER_EPOCH_OFFSET);
  buf.writeInt32BE(h.baseSequence ?? -1, BASE_SEQUENCE_OFFSET);
  buf.writeInt32BE(count, RECORD_COUNT_OFFSET);
  records.copy(buf, RECORDS_OFFSET);
  buf.writeUInt32BE(computeBatchCrc(buf, 0, buf.length), CRC_OFFSET);
  return buf;
}

function zigzag(n: number): number[] {
  let v = n >= 0 ? n * 2 : -n * 2 - 1;
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

/**
 * The bytes of one record (offset delta 0, key `key`) whose value is `valueBytes` zeros, split
 * around the zeros: [the bytes before the value, the bytes after it (no headers)].
 */
export function recordAroundZeros(valueBytes: number, key: string | null = null): [Buffer, Buffer] {
  const keyBytes = key === null ? [...zigzag(-1)] : [...zigzag(key.length), ...Buffer.from(key)];
  const afterLength = [0, ...zigzag(0), ...zigzag(0), ...keyBytes, ...zigzag(valueBytes)];
  const bodyLength = afterLength.length + valueBytes + 1;
  return [Buffer.from([...zigzag(bodyLength), ...afterLength]), Buffer.from([0])];
}

/** The records bytes of `count` small records, offset deltas 0..count-1, values `v<i>`. */
export function smallRecords(count: number, key: string | null = null): Buffer {
  const parts: number[] = [];
  for (let i = 0; i < count; i++) {
    const value = Buffer.from(`v${i}`);
    const keyBytes = key === null ? zigzag(-1) : [...zigzag(key.length), ...Buffer.from(key)];
    const body = [0, ...zigzag(0), ...zigzag(i), ...keyBytes, ...zigzag(value.length), ...value, 0];
    parts.push(...zigzag(body.length), ...body);
  }
  return Buffer.from(parts);
}

/** A gzip stream of one record with `valueBytes` zeros (made by streaming, never held whole). */
export async function gzipBomb(valueBytes: number, key: string | null = null): Promise<Buffer> {
  const [before, after] = recordAroundZeros(valueBytes, key);
  const gz = createGzip({ level: 9 });
  const out: Buffer[] = [];
  gz.on("data", (d: Buffer) => out.push(d));
  const ended = new Promise<void>((resolve, reject) => {
    gz.once("end", () => resolve());
    gz.once("error", reject);
  });
  const zeros = Buffer.alloc(1 << 20);
  const write = (b: Buffer) =>
    new Promise<void>((resolve) => (gz.write(b) ? resolve() : gz.once("drain", () => resolve())));
  await write(before);
  for (let left = valueBytes; left > 0; left -= zeros.length)
    await write(left >= zeros.length ? zeros : zeros.subarray(0, left));
  gz.end(after);
  await ended;
  return Buffer.concat(out);
}

const ZSTD_MAGIC = 0xfd2fb528;
/** The largest block zstd allows (Block_Maximum_Size), so one RLE block says 128 KiB. */
const ZSTD_MAX_BLOCK = 128 * 1024;

/** A zstd block header: 3 bytes LE of last flag, type (0 raw, 1 RLE) and size. */
function zstdBlock(last: boolean, type: 0 | 1, size: number, payload: Buffer): Buffer {
  const v = (last ? 1 : 0) | (type << 1) | (size << 3);
  return Buffer.concat([Buffer.from([v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff]), payload]);
}

/**
 * A zstd frame of one record with `valueBytes` zeros: the record's head in a raw block, the zeros
 * in RLE blocks, its tail in a last raw block. No content size: a reader learns the size by
 * decoding (or by summing the block headers).
 */
export function zstdBomb(valueBytes: number, key: string | null = null): Buffer {
  const [before, after] = recordAroundZeros(valueBytes, key);
  // Magic, frame header descriptor (no content size, not single segment), window 2^17.
  const parts: Buffer[] = [Buffer.from([0, 0, 0, 0, 0x00, 0x38])];
  parts[0].writeUInt32LE(ZSTD_MAGIC, 0);
  parts.push(zstdBlock(false, 0, before.length, before));
  for (let left = valueBytes; left > 0; left -= ZSTD_MAX_BLOCK)
    parts.push(zstdBlock(false, 1, Math.min(left, ZSTD_MAX_BLOCK), Buffer.from([0])));
  parts.push(zstdBlock(true, 0, after.length, after));
  return Buffer.concat(parts);
}

/** An lz4 batch of one tiny record whose header declares `count` records (84 bytes). */
export function lz4LyingBatch(count = 0x7fff_ffff): Buffer {
  return rawBatch(lz4Compress(smallRecords(1)), { compression: Compression.Lz4, recordCount: count });
}
