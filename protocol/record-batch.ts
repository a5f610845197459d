/**
 * Kafka RecordBatch v2 (magic 2): the unit that producers send, the log stores and consumers fetch.
 *
 * Layout of the 61-byte header (big-endian):
 *   baseOffset int64 | batchLength int32 | partitionLeaderEpoch int32 | magic int8 | crc uint32 |
 *   attributes int16 | lastOffsetDelta int32 | baseTimestamp int64 | maxTimestamp int64 |
 *   producerId int64 | producerEpoch int16 | baseSequence int32 | recordCount int32
 * `batchLength` counts the bytes after itself; the CRC-32C covers `attributes` to the batch end.
 * `baseOffset` and `partitionLeaderEpoch` lie outside the CRC, so a broker may patch them.
 */
import { Compression, compress, decompress } from "./compression.js";
import { crc32c } from "./crc32c.js";
import { KafkaError } from "./errors.js";
import {
  Cursor,
  readInt64,
  readVarint,
  readVarlong,
  sizeOfVarint,
  writeInt64,
  writeVarint,
} from "./varint.js";

export const BASE_OFFSET_OFFSET = 0;
export const LENGTH_OFFSET = 8;
export const PARTITION_LEADER_EPOCH_OFFSET = 12;
export const MAGIC_OFFSET = 16;
export const CRC_OFFSET = 17;
export const ATTRIBUTES_OFFSET = 21;
export const LAST_OFFSET_DELTA_OFFSET = 23;
export const BASE_TIMESTAMP_OFFSET = 27;
export const MAX_TIMESTAMP_OFFSET = 35;
export const PRODUCER_ID_OFFSET = 43;
export const PRODUCER_EPOCH_OFFSET = 51;
export const BASE_SEQUENCE_OFFSET = 53;
export const RECORD_COUNT_OFFSET = 57;
export const RECORDS_OFFSET = 61;
/** Bytes before `batchLength` counts: baseOffset and batchLength themselves. */
export const LOG_OVERHEAD = 12;
/** The smallest batch: a header and no records. */
export const BATCH_HEADER_SIZE = RECORDS_OFFSET;
export const CURRENT_MAGIC = 2;

export const COMPRESSION_MASK = 0x07;
export const TIMESTAMP_TYPE_MASK = 0x08;
export const TRANSACTIONAL_MASK = 0x10;
export const CONTROL_MASK = 0x20;
export const DELETE_HORIZON_MASK = 0x40;

export const NO_TIMESTAMP = -1;
export const NO_PRODUCER_ID = -1;
export const NO_PRODUCER_EPOCH = -1;
export const NO_SEQUENCE = -1;
export const NO_PARTITION_LEADER_EPOCH = -1;

/** Codec ids (attributes bits 0-2); defined with the codecs in compression.ts. */
export { Compression };

export enum TimestampType {
  CreateTime = 0,
  LogAppendTime = 1,
}

export enum ControlRecordType {
  Abort = 0,
  Commit = 1,
}

/** The fixed fields of a batch, read without touching its records. */
export interface BatchHeader {
  baseOffset: number;
  /** Bytes after the batchLength field; the batch occupies LOG_OVERHEAD + batchLength bytes. */
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

/** A record as a producer gives it. */
export interface RecordInput {
  key?: Buffer | null;
  value: Buffer | null;
  headers?: RecordHeader[];
  /** Milliseconds since the epoch; defaults to the batch's base timestamp. */
  timestamp?: number;
}

/** A record read back from a batch, with its absolute offset and timestamp. */
export interface Record {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

export interface EncodeBatchOptions {
  baseOffset?: number;
  partitionLeaderEpoch?: number;
  compression?: Compression;
  /** The codec's level (gzip, zstd); the codec's default when absent. */
  compressionLevel?: number;
  timestampType?: TimestampType;
  transactional?: boolean;
  control?: boolean;
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  /** Timestamp of records that carry none; defaults to Date.now(). */
  baseTimestamp?: number;
}

/** Reads the header of the batch that starts at `pos`. The caller checks that 61 bytes remain. */
export function readBatchHeader(buf: Buffer, pos = 0): BatchHeader {
  return {
    baseOffset: readInt64(buf, pos + BASE_OFFSET_OFFSET),
    batchLength: buf.readInt32BE(pos + LENGTH_OFFSET),
    partitionLeaderEpoch: buf.readInt32BE(pos + PARTITION_LEADER_EPOCH_OFFSET),
    magic: buf.readInt8(pos + MAGIC_OFFSET),
    crc: buf.readUInt32BE(pos + CRC_OFFSET),
    attributes: buf.readInt16BE(pos + ATTRIBUTES_OFFSET),
    lastOffsetDelta: buf.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET),
    baseTimestamp: readInt64(buf, pos + BASE_TIMESTAMP_OFFSET),
    maxTimestamp: readInt64(buf, pos + MAX_TIMESTAMP_OFFSET),
    producerId: readInt64(buf, pos + PRODUCER_ID_OFFSET),
    producerEpoch: buf.readInt16BE(pos + PRODUCER_EPOCH_OFFSET),
    baseSequence: buf.readInt32BE(pos + BASE_SEQUENCE_OFFSET),
    recordCount: buf.readInt32BE(pos + RECORD_COUNT_OFFSET),
  };
}

/** Total bytes of the batch at `pos` (LOG_OVERHEAD + batchLength), read from its length field. */
export function batchSizeAt(buf: Buffer, pos: number): number {
  return LOG_OVERHEAD + buf.readInt32BE(pos + LENGTH_OFFSET);
}

/** The CRC-32C that the batch at `pos` of `size` bytes should carry. */
export function computeBatchCrc(buf: Buffer, pos: number, size: number): number {
  return crc32c(buf, pos + ATTRIBUTES_OFFSET, pos + size);
}

/**
 * Rewrites the idempotence fields of the single batch that fills `buf` (producer id, epoch and
 * base sequence) and its CRC: a producer that took a new id re-numbers batches it never sent.
 */
export function restampProducer(
  buf: Buffer,
  producerId: number,
  producerEpoch: number,
  baseSequence: number,
): void {
  writeInt64(buf, PRODUCER_ID_OFFSET, producerId);
  buf.writeInt16BE(producerEpoch, PRODUCER_EPOCH_OFFSET);
  buf.writeInt32BE(baseSequence, BASE_SEQUENCE_OFFSET);
  buf.writeUInt32BE(computeBatchCrc(buf, 0, buf.length), CRC_OFFSET);
}

export function compressionOf(attributes: number): Compression {
  return (attributes & COMPRESSION_MASK) as Compression;
}

function sizeOfBytesField(value: Buffer | null | undefined): number {
  return value == null ? sizeOfVarint(-1) : sizeOfVarint(value.length) + value.length;
}

function writeBytesField(buf: Buffer, pos: number, value: Buffer | null | undefined): number {
  if (value == null) return writeVarint(buf, pos, -1);
  pos = writeVarint(buf, pos, value.length);
  value.copy(buf, pos);
  return pos + value.length;
}

function recordBodySize(r: RecordInput, offsetDelta: number, timestampDelta: number): number {
  let size = 1 + sizeOfVarint(timestampDelta) + sizeOfVarint(offsetDelta);
  size += sizeOfBytesField(r.key) + sizeOfBytesField(r.value);
  const headers = r.headers ?? NO_RECORD_HEADERS;
  size += sizeOfVarint(headers.length);
  for (const h of headers) {
    const keyLength = Buffer.byteLength(h.key);
    size += sizeOfVarint(keyLength) + keyLength + sizeOfBytesField(h.value);
  }
  return size;
}

/**
 * Encodes the records of a batch (uncompressed) after `headroom` bytes left for the caller: an
 * uncompressed batch writes its header there, so its records are never copied again.
 */
function encodeRecords(records: RecordInput[], baseTimestamp: number, headroom = 0): Buffer {
  const bodySizes = new Array<number>(records.length);
  let total = 0;
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    const body = recordBodySize(r, i, (r.timestamp ?? baseTimestamp) - baseTimestamp);
    bodySizes[i] = body;
    total += sizeOfVarint(body) + body;
  }
  const out = Buffer.allocUnsafe(headroom + total);
  let pos = headroom;
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    pos = writeRecord(out, pos, r, bodySizes[i], i, (r.timestamp ?? baseTimestamp) - baseTimestamp);
  }
  return out;
}

/** Writes one record (its length, then its body of `bodySize` bytes) at `pos`; returns the end. */
function writeRecord(
  out: Buffer,
  pos: number,
  r: RecordInput,
  bodySize: number,
  offsetDelta: number,
  timestampDelta: number,
): number {
  pos = writeVarint(out, pos, bodySize);
  out[pos++] = 0;
  pos = writeVarint(out, pos, timestampDelta);
  pos = writeVarint(out, pos, offsetDelta);
  pos = writeBytesField(out, pos, r.key);
  pos = writeBytesField(out, pos, r.value);
  const headers = r.headers ?? NO_RECORD_HEADERS;
  pos = writeVarint(out, pos, headers.length);
  for (const h of headers) {
    const keyLength = Buffer.byteLength(h.key);
    pos = writeVarint(out, pos, keyLength);
    pos += out.write(h.key, pos);
    pos = writeBytesField(out, pos, h.value);
  }
  return pos;
}

/** The most a RecordBatchBuilder allocates up front; a larger batch grows into its size. */
const BUILDER_INITIAL_BYTES_MAX = 1024 * 1024;

/**
 * A batch encoded record by record as the records arrive (a producer's open batch): each
 * `append` copies its record into the batch at once, so nothing of it need be kept until the
 * batch is sealed, and `finish` writes the header (compressing the records when asked) as
 * `encodeRecordBatch` does, with the same bytes for the same records. The base timestamp is the
 * first record's.
 */
export class RecordBatchBuilder {
  private buf: Buffer;
  private pos = RECORDS_OFFSET;
  /** Records appended so far. */
  count = 0;
  private baseTimestamp = 0;
  private maxTimestamp = 0;

  /** `capacity`: the record bytes expected (room grows beyond it as needed). */
  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafe(
      RECORDS_OFFSET + Math.min(Math.max(capacity, 0), BUILDER_INITIAL_BYTES_MAX),
    );
  }

  /** Appends a record; one without a timestamp takes the first record's (or now, if first). */
  append(r: RecordInput): void {
    if (this.count === 0) {
      this.baseTimestamp = r.timestamp ?? Date.now();
      this.maxTimestamp = this.baseTimestamp;
    }
    const timestamp = r.timestamp ?? this.baseTimestamp;
    if (timestamp > this.maxTimestamp) this.maxTimestamp = timestamp;
    const delta = timestamp - this.baseTimestamp;
    const body = recordBodySize(r, this.count, delta);
    const end = this.pos + sizeOfVarint(body) + body;
    if (end > this.buf.length) this.grow(end);
    this.pos = writeRecord(this.buf, this.pos, r, body, this.count, delta);
    this.count++;
  }

  private grow(needed: number): void {
    const next = Buffer.allocUnsafe(Math.max(needed, this.buf.length * 2));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /**
   * The batch (at least one record appended); once only, as the builder lets its room go. Its
   * timestamps are the records'; `baseTimestamp` in `options` is ignored. A buffer far larger
   * than the batch is not kept: the batch is copied out of it.
   */
  finish(options: EncodeBatchOptions = {}): Buffer {
    if (this.count === 0) throw new RangeError("a record batch needs at least one record");
    if (this.buf === EMPTY) throw new RangeError("the batch was finished already");
    const compression = options.compression ?? Compression.None;
    let buf: Buffer;
    if (compression === Compression.None) {
      buf =
        this.pos * 2 < this.buf.length
          ? Buffer.from(this.buf.subarray(0, this.pos))
          : this.buf.subarray(0, this.pos);
    } else {
      const records = this.buf.subarray(RECORDS_OFFSET, this.pos);
      const body = compress(compression, records, { level: options.compressionLevel });
      buf = Buffer.allocUnsafe(RECORDS_OFFSET + body.length);
      body.copy(buf, RECORDS_OFFSET);
    }
    writeBatchHeader(buf, compression, this.count, this.baseTimestamp, this.maxTimestamp, options);
    // The batch no longer needs the room it was built in.
    this.buf = EMPTY;
    return buf;
  }
}

const EMPTY = Buffer.alloc(0);

/** Writes the header (and CRC) of the batch that fills `buf`, its records already in place. */
function writeBatchHeader(
  buf: Buffer,
  compression: Compression,
  count: number,
  baseTimestamp: number,
  maxTimestamp: number,
  options: EncodeBatchOptions,
): void {
  let attributes: number = compression;
  if (options.timestampType === TimestampType.LogAppendTime) attributes |= TIMESTAMP_TYPE_MASK;
  if (options.transactional) attributes |= TRANSACTIONAL_MASK;
  if (options.control) attributes |= CONTROL_MASK;
  const size = buf.length;
  writeInt64(buf, BASE_OFFSET_OFFSET, options.baseOffset ?? 0);
  buf.writeInt32BE(size - LOG_OVERHEAD, LENGTH_OFFSET);
  buf.writeInt32BE(options.partitionLeaderEpoch ?? NO_PARTITION_LEADER_EPOCH, PARTITION_LEADER_EPOCH_OFFSET);
  buf.writeInt8(CURRENT_MAGIC, MAGIC_OFFSET);
  buf.writeInt16BE(attributes, ATTRIBUTES_OFFSET);
  buf.writeInt32BE(count - 1, LAST_OFFSET_DELTA_OFFSET);
  writeInt64(buf, BASE_TIMESTAMP_OFFSET, baseTimestamp);
  writeInt64(buf, MAX_TIMESTAMP_OFFSET, maxTimestamp);
  writeInt64(buf, PRODUCER_ID_OFFSET, options.producerId ?? NO_PRODUCER_ID);
  buf.writeInt16BE(options.producerEpoch ?? NO_PRODUCER_EPOCH, PRODUCER_EPOCH_OFFSET);
  buf.writeInt32BE(options.baseSequence ?? NO_SEQUENCE, BASE_SEQUENCE_OFFSET);
  buf.writeInt32BE(count, RECORD_COUNT_OFFSET);
  buf.writeUInt32BE(computeBatchCrc(buf, 0, size), CRC_OFFSET);
}

/** Encodes a RecordBatch v2 with a correct CRC. At least one record is required. */
export function encodeRecordBatch(records: RecordInput[], options: EncodeBatchOptions = {}): Buffer {
  if (records.length === 0) throw new RangeError("a record batch needs at least one record");
  const baseTimestamp = options.baseTimestamp ?? records[0].timestamp ?? Date.now();
  let maxTimestamp = baseTimestamp;
  for (const r of records)
    if (r.timestamp !== undefined && r.timestamp > maxTimestamp) maxTimestamp = r.timestamp;
  const compression = options.compression ?? Compression.None;
  // Uncompressed, the records are written after room for the header: no second copy.
  const uncompressed = compression === Compression.None;
  const encoded = encodeRecords(records, baseTimestamp, uncompressed ? RECORDS_OFFSET : 0);
  const body = uncompressed ? encoded : compress(compression, encoded, { level: options.compressionLevel });

  const buf = uncompressed ? body : Buffer.allocUnsafe(RECORDS_OFFSET + body.length);
  if (!uncompressed) body.copy(buf, RECORDS_OFFSET);
  writeBatchHeader(buf, compression, records.length, baseTimestamp, maxTimestamp, options);
  return buf;
}

/** Encodes the key of a control record (COMMIT or ABORT marker of a transaction). */
export function encodeControlKey(type: ControlRecordType): Buffer {
  const key = Buffer.alloc(4);
  key.writeInt16BE(0, 0);
  key.writeInt16BE(type, 2);
  return key;
}

/** The control type of a record of a control batch, or undefined if its key is not one. */
export function controlRecordType(record: Record): ControlRecordType | undefined {
  if (!record.key || record.key.length < 4) return undefined;
  return record.key.readInt16BE(2) as ControlRecordType;
}

function readBytesField(c: Cursor): Buffer | null {
  const length = readVarint(c);
  if (length < 0) return null;
  c.need(length);
  const value = c.buf.subarray(c.pos, c.pos + length);
  c.pos += length;
  return value;
}

function skipBytesField(c: Cursor): void {
  const length = readVarint(c);
  if (length > 0) {
    c.need(length);
    c.pos += length;
  }
}

/**
 * Visits each record of an uncompressed record section without building objects: calls
 * `visit(offsetDelta, timestampDelta)` and returns how many records it walked. Throws
 * CORRUPT_MESSAGE when a record's declared length disagrees with its fields or the bytes present.
 */
export function walkRecords(
  c: Cursor,
  count: number,
  visit?: (offsetDelta: number, timestampDelta: number) => void,
): number {
  const outerEnd = c.end;
  for (let i = 0; i < count; i++) {
    const length = readVarint(c);
    if (length <= 0) throw new KafkaError("CORRUPT_MESSAGE", `record ${i} has length ${length}`);
    c.need(length);
    const recordEnd = c.pos + length;
    c.end = recordEnd; // every field read below is bounded by this record
    c.pos++; // attributes, unused in v2
    const timestampDelta = readVarlong(c);
    const offsetDelta = readVarint(c);
    skipBytesField(c);
    skipBytesField(c);
    const headerCount = readVarint(c);
    if (headerCount < 0 || headerCount > c.remaining()) {
      throw new KafkaError("CORRUPT_MESSAGE", `record ${i} declares ${headerCount} headers`);
    }
    for (let h = 0; h < headerCount; h++) {
      const keyLength = readVarint(c);
      if (keyLength < 0) throw new KafkaError("CORRUPT_MESSAGE", "header key is null");
      c.need(keyLength);
      c.pos += keyLength;
      skipBytesField(c);
    }
    if (c.pos !== recordEnd) {
      throw new KafkaError("CORRUPT_MESSAGE", `record ${i} fields do not fill its declared length`);
    }
    c.end = outerEnd;
    visit?.(offsetDelta, timestampDelta);
  }
  return count;
}

/** The headers of a record that has none: one shared, frozen array (never mutated). */
export const NO_RECORD_HEADERS: RecordHeader[] = Object.freeze([]) as unknown as RecordHeader[];

/** Called once per record by `visitRecords`, with the record's absolute offset and timestamp. */
export type RecordVisitor = (
  offset: number,
  timestamp: number,
  key: Buffer | null,
  value: Buffer | null,
  headers: RecordHeader[],
) => void;

/**
 * Walks the records of the batch at `buf[pos...]` (decompressed where needed) without building a
 * record object per record: the consumer's hot path builds its own. Keys and values are views
 * into the batch (or its decompressed copy). Returns the number of records. Records that would
 * decompress to more than `maxBytes` are refused (MESSAGE_TOO_LARGE) before they are allocated.
 */
export function visitRecords(
  buf: Buffer,
  pos: number,
  visit: RecordVisitor,
  maxBytes = Number.POSITIVE_INFINITY,
): number {
  const header = readBatchHeader(buf, pos);
  const end = pos + LOG_OVERHEAD + header.batchLength;
  if (end > buf.length) throw new KafkaError("CORRUPT_MESSAGE", "batch extends past the buffer");
  const body = decompress(
    compressionOf(header.attributes),
    buf.subarray(pos + RECORDS_OFFSET, end),
    maxBytes,
  );
  const c = new Cursor(body, 0);
  const logAppendTime = (header.attributes & TIMESTAMP_TYPE_MASK) !== 0;
  for (let i = 0; i < header.recordCount; i++) {
    const length = readVarint(c);
    c.need(length);
    const recordEnd = c.pos + length;
    c.pos++;
    const timestampDelta = readVarlong(c);
    const offsetDelta = readVarint(c);
    const key = readBytesField(c);
    const value = readBytesField(c);
    const headerCount = readVarint(c);
    if (headerCount < 0 || headerCount > recordEnd - c.pos) {
      throw new KafkaError("CORRUPT_MESSAGE", `record declares ${headerCount} headers`);
    }
    let headers = NO_RECORD_HEADERS;
    if (headerCount > 0) {
      headers = [];
      for (let h = 0; h < headerCount; h++) {
        const keyBytes = readBytesField(c);
        headers.push({ key: keyBytes ? keyBytes.toString("utf8") : "", value: readBytesField(c) });
      }
    }
    if (c.pos !== recordEnd) throw new KafkaError("CORRUPT_MESSAGE", "record fields do not fill its length");
    visit(
      header.baseOffset + offsetDelta,
      logAppendTime ? header.maxTimestamp : header.baseTimestamp + timestampDelta,
      key,
      value,
      headers,
    );
  }
  return header.recordCount;
}

/** The records of the batch at `buf[pos...]`, decompressed where needed (at most `maxBytes`). */
export function decodeRecords(buf: Buffer, pos = 0, maxBytes = Number.POSITIVE_INFINITY): Record[] {
  const records: Record[] = [];
  visitRecords(
    buf,
    pos,
    (offset, timestamp, key, value, headers) => {
      records.push({ offset, timestamp, key, value, headers: headers === NO_RECORD_HEADERS ? [] : headers });
    },
    maxBytes,
  );
  return records;
}

/** Splits a buffer holding whole batches back to back into [start, end) spans. */
export function* batchSpans(buf: Buffer): Generator<[number, number]> {
  let pos = 0;
  while (pos < buf.length) {
    if (buf.length - pos < LOG_OVERHEAD) throw new KafkaError("CORRUPT_MESSAGE", "partial batch header");
    const size = batchSizeAt(buf, pos);
    if (size < BATCH_HEADER_SIZE || pos + size > buf.length) {
      throw new KafkaError("CORRUPT_MESSAGE", "batch length disagrees with the bytes present");
    }
    yield [pos, pos + size];
    pos += size;
  }
}

/** Decodes every record of every batch in a buffer of whole batches. */
export function decodeBatches(buf: Buffer): Record[] {
  const out: Record[] = [];
  for (const [start] of batchSpans(buf)) for (const r of decodeRecords(buf, start)) out.push(r);
  return out;
}
