import { describe, expect, it } from "vitest";
import { crc32c, crc32cImplementation, crc32cPortable } from "../../protocol/crc32c.js";
import {
  BATCH_HEADER_SIZE,
  CONTROL_MASK,
  Compression,
  ControlRecordType,
  controlRecordType,
  decodeRecords,
  encodeControlKey,
  encodeRecordBatch,
  RecordBatchBuilder,
  type RecordInput,
  readBatchHeader,
  TimestampType,
} from "../../protocol/record-batch.js";
import { mulberry32 } from "../helpers/random.js";

describe("CRC-32C", () => {
  it("matches the standard check value", () => {
    expect(crc32c(Buffer.from("123456789"))).toBe(0xe3069283);
    expect(crc32cPortable(Buffer.from("123456789"))).toBe(0xe3069283);
  });

  it("gives the same values in the native and the portable implementation", () => {
    // On this project's machines the native one must load; elsewhere the portable one serves.
    expect(crc32cImplementation).toBe("native");
    const rand = mulberry32(3);
    for (let i = 0; i < 500; i++) {
      const buf = Buffer.alloc(Math.floor(rand() * 5000));
      for (let j = 0; j < buf.length; j++) buf[j] = Math.floor(rand() * 256);
      const start = Math.floor(rand() * buf.length);
      expect(crc32c(buf, start)).toBe(crc32cPortable(buf.subarray(start)));
    }
  });
});

describe("RecordBatch v2", () => {
  const records = [
    { key: Buffer.from("k1"), value: Buffer.from("hello"), timestamp: 1000 },
    { key: null, value: null, timestamp: 1005, headers: [{ key: "h", value: Buffer.from("v") }] },
    {
      key: Buffer.alloc(0),
      value: Buffer.alloc(300, 7),
      timestamp: 999,
      headers: [{ key: "n", value: null }],
    },
  ];

  it("encodes the 61-byte header as Kafka lays it out", () => {
    const buf = encodeRecordBatch(records, {
      baseOffset: 42,
      producerId: 7,
      producerEpoch: 3,
      baseSequence: 11,
      partitionLeaderEpoch: 5,
    });
    const h = readBatchHeader(buf);
    expect(BATCH_HEADER_SIZE).toBe(61);
    expect(h).toMatchObject({
      baseOffset: 42,
      batchLength: buf.length - 12,
      partitionLeaderEpoch: 5,
      magic: 2,
      attributes: 0,
      lastOffsetDelta: 2,
      baseTimestamp: 1000,
      maxTimestamp: 1005,
      producerId: 7,
      producerEpoch: 3,
      baseSequence: 11,
      recordCount: 3,
    });
    expect(h.crc).toBe(crc32c(buf, 21));
  });

  it("round-trips keys, values, nulls, headers and timestamps", () => {
    for (const compression of [Compression.None, Compression.Gzip]) {
      const buf = encodeRecordBatch(records, { baseOffset: 100, compression });
      const decoded = decodeRecords(buf);
      expect(decoded.map((r) => r.offset)).toEqual([100, 101, 102]);
      expect(decoded.map((r) => r.timestamp)).toEqual([1000, 1005, 999]);
      expect(decoded[0].key?.toString()).toBe("k1");
      expect(decoded[0].value?.toString()).toBe("hello");
      expect(decoded[1].key).toBeNull();
      expect(decoded[1].value).toBeNull();
      expect(decoded[1].headers).toEqual([{ key: "h", value: Buffer.from("v") }]);
      expect(decoded[2].key).toEqual(Buffer.alloc(0));
      expect(decoded[2].value).toEqual(Buffer.alloc(300, 7));
      expect(decoded[2].headers).toEqual([{ key: "n", value: null }]);
    }
  });

  it("gives every record the batch's max timestamp under LogAppendTime", () => {
    const buf = encodeRecordBatch(records, { timestampType: TimestampType.LogAppendTime });
    expect(decodeRecords(buf).map((r) => r.timestamp)).toEqual([1005, 1005, 1005]);
  });

  it("marks control batches and reads control record types", () => {
    const buf = encodeRecordBatch(
      [{ key: encodeControlKey(ControlRecordType.Commit), value: Buffer.alloc(6) }],
      {
        control: true,
        transactional: true,
      },
    );
    expect(readBatchHeader(buf).attributes & CONTROL_MASK).not.toBe(0);
    expect(controlRecordType(decodeRecords(buf)[0])).toBe(ControlRecordType.Commit);
  });

  it("refuses codec ids beyond zstd with UNSUPPORTED_COMPRESSION_TYPE", () => {
    expect(() => encodeRecordBatch(records, { compression: 5 as Compression })).toThrow(
      /UNSUPPORTED_COMPRESSION_TYPE/,
    );
  });

  it("throws CORRUPT_MESSAGE, not a RangeError, on records that overrun the batch", () => {
    const buf = encodeRecordBatch(records);
    const cut = buf.subarray(0, buf.length - 10);
    cut.writeInt32BE(cut.length - 12, 8);
    expect(() => decodeRecords(cut)).toThrow(/CORRUPT_MESSAGE/);
  });
});

describe("RecordBatchBuilder", () => {
  /** Records of every shape: null and empty keys and values, headers, timestamps out of order. */
  function records(count: number, seed: number): RecordInput[] {
    const rand = mulberry32(seed);
    const bytes = (max: number) => Buffer.from(Array.from({ length: Math.floor(rand() * max) }, () => 97));
    return Array.from({ length: count }, (_, i) => ({
      key: rand() < 0.3 ? null : bytes(20),
      value: rand() < 0.1 ? null : bytes(rand() < 0.05 ? 5000 : 60),
      headers: rand() < 0.3 ? [{ key: `h${i}`, value: rand() < 0.5 ? null : bytes(10) }] : undefined,
      timestamp: 1_700_000_000_000 + Math.floor(rand() * 10_000) - 5_000,
    }));
  }

  it.each([
    ["none", Compression.None],
    ["gzip", Compression.Gzip],
    ["lz4", Compression.Lz4],
    ["zstd", Compression.Zstd],
  ])("writes the same bytes as encodeRecordBatch (%s), growing past its first capacity", (_, compression) => {
    for (const [count, capacity] of [
      [1, 0],
      [7, 16],
      [500, 1024],
      [500, 1024 * 1024],
    ]) {
      const input = records(count, count + capacity);
      const options = { compression, producerId: 7, producerEpoch: 1, baseSequence: 40 };
      const builder = new RecordBatchBuilder(capacity);
      for (const r of input) builder.append(r);
      expect(builder.count).toBe(count);
      const built = builder.finish(options);
      const encoded = encodeRecordBatch(input, { ...options, baseTimestamp: input[0].timestamp });
      expect(built.equals(encoded), `${count} records, capacity ${capacity}`).toBe(true);
      expect(decodeRecords(built).map((r) => r.timestamp)).toEqual(input.map((r) => r.timestamp));
      expect(() => builder.finish(options)).toThrow(RangeError);
    }
  });

  it("refuses to finish an empty batch", () => {
    expect(() => new RecordBatchBuilder(100).finish()).toThrow(RangeError);
  });
});
