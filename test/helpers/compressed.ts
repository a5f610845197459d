/**
 * Compressed batches with a hand-made records section: what a hostile or broken client may send
 * (plain text inside gzip, a header declaring more records than it holds, bombs).
 */
import { type Compression, compress } from "../../protocol/compression.js";
import {
  ATTRIBUTES_OFFSET,
  CRC_OFFSET,
  computeBatchCrc,
  encodeRecordBatch,
  LAST_OFFSET_DELTA_OFFSET,
  LENGTH_OFFSET,
  LOG_OVERHEAD,
  RECORD_COUNT_OFFSET,
  RECORDS_OFFSET,
  type RecordInput,
} from "../../protocol/record-batch.js";

/** The uncompressed records section of `records` (timestamps relative to `baseTimestamp`). */
export function recordsSection(records: RecordInput[], baseTimestamp: number): Buffer {
  return encodeRecordBatch(records, { baseTimestamp }).subarray(RECORDS_OFFSET);
}

/**
 * A batch whose records section is `section` compressed with `codec` (or `compressed` as given),
 * its header declaring `count` records (lastOffsetDelta count - 1) and base and max timestamps
 * `options.timestamp` (the base the section was written against), with a correct CRC.
 */
export function batchWithSection(
  codec: Compression,
  section: Buffer,
  count: number,
  options: { timestamp?: number; compressed?: Buffer } = {},
): Buffer {
  const header = encodeRecordBatch([{ value: Buffer.from("x"), timestamp: options.timestamp }], {
    baseTimestamp: options.timestamp,
  }).subarray(0, RECORDS_OFFSET);
  const body = options.compressed ?? compress(codec, section);
  const batch = Buffer.concat([header, body]);
  batch.writeInt32BE(batch.length - LOG_OVERHEAD, LENGTH_OFFSET);
  batch.writeInt16BE(codec, ATTRIBUTES_OFFSET);
  batch.writeInt32BE(count, RECORD_COUNT_OFFSET);
  batch.writeInt32BE(count - 1, LAST_OFFSET_DELTA_OFFSET);
  batch.writeUInt32BE(computeBatchCrc(batch, 0, batch.length), CRC_OFFSET);
  return batch;
}

/** One record of `bytes` zeros compressed with `codec`: a few KiB on the wire, `bytes` inflated. */
export function zerosBatch(codec: Compression, bytes: number, timestamp = Date.now()): Buffer {
  return encodeRecordBatch([{ key: Buffer.from("k"), value: Buffer.alloc(bytes), timestamp }], {
    compression: codec,
    baseTimestamp: timestamp,
  });
}
