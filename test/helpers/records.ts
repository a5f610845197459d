import { encodeRecordBatch, type RecordInput } from "../../protocol/record-batch.js";

/** A batch of `count` records whose values are `${prefix}-${i}` and keys `k${i % 7}`. */
export function batchOf(count: number, prefix: string, timestamp = 1_700_000_000_000): Buffer {
  const records: RecordInput[] = [];
  for (let i = 0; i < count; i++) {
    records.push({
      key: Buffer.from(`k${i % 7}`),
      value: Buffer.from(`${prefix}-${i}`),
      timestamp: timestamp + i,
    });
  }
  return encodeRecordBatch(records);
}
