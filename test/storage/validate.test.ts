import { describe, expect, it } from "vitest";
import { crc32c } from "../../protocol/crc32c.js";
import {
  decodeRecords,
  encodeControlKey,
  encodeRecordBatch,
  TimestampType,
} from "../../protocol/record-batch.js";
import { DEFAULT_LOG_CONFIG } from "../../storage/config.js";
import { validateBatches } from "../../storage/validate.js";
import { mulberry32 } from "../helpers/random.js";
import { batchOf } from "../helpers/records.js";

const options = { config: DEFAULT_LOG_CONFIG, nowMs: 1_700_000_000_000 };

/** Re-seals a batch after a test edits bytes inside the CRC-covered range. */
function reseal(buf: Buffer): Buffer {
  buf.writeUInt32BE(crc32c(buf, 21), 17);
  return buf;
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

describe("validateBatches", () => {
  it("accepts several batches back to back and counts their records", () => {
    const buf = Buffer.concat([batchOf(3, "a"), batchOf(4, "b")]);
    const valid = validateBatches(buf, options);
    expect(valid.batches.map((b) => b.recordCount)).toEqual([3, 4]);
    expect(valid.recordCount).toBe(7);
  });

  it("refuses each fault with its Kafka error code", () => {
    const good = batchOf(3, "a");
    const cases: [string, Buffer][] = [
      ["CORRUPT_MESSAGE", Buffer.alloc(0)],
      ["CORRUPT_MESSAGE", good.subarray(0, 40)],
      ["CORRUPT_MESSAGE", good.subarray(0, good.length - 1)],
      ["CORRUPT_MESSAGE", Buffer.concat([good, Buffer.alloc(5)])],
    ];
    const badCrc = Buffer.from(good);
    badCrc[70] ^= 1;
    cases.push(["CORRUPT_MESSAGE", badCrc]);
    const magic1 = Buffer.from(good);
    magic1.writeInt8(1, 16);
    cases.push(["UNSUPPORTED_FOR_MESSAGE_FORMAT", magic1]);
    const countMismatch = Buffer.from(good);
    countMismatch.writeInt32BE(5, 57);
    cases.push(["INVALID_RECORD", reseal(countMismatch)]);
    const deltaMismatch = Buffer.from(good);
    deltaMismatch.writeInt32BE(7, 23);
    cases.push(["INVALID_RECORD", reseal(deltaMismatch)]);
    const codec = Buffer.from(good);
    codec.writeInt16BE(6, 21);
    cases.push(["UNSUPPORTED_COMPRESSION_TYPE", reseal(codec)]);
    const negativeTs = Buffer.from(good);
    negativeTs.writeBigInt64BE(-5n, 27);
    cases.push(["INVALID_TIMESTAMP", reseal(negativeTs)]);
    for (const [code, buf] of cases) expect(codeOf(() => validateBatches(buf, options))).toBe(code);
  });

  it("refuses a batch over max.message.bytes with MESSAGE_TOO_LARGE and accepts one at the limit", () => {
    const big = encodeRecordBatch([{ value: Buffer.alloc(5000) }], { baseTimestamp: options.nowMs });
    const config = { ...DEFAULT_LOG_CONFIG, maxMessageBytes: big.length };
    expect(validateBatches(big, { ...options, config }).recordCount).toBe(1);
    const tooSmall = { ...config, maxMessageBytes: big.length - 1 };
    expect(codeOf(() => validateBatches(big, { ...options, config: tooSmall }))).toBe("MESSAGE_TOO_LARGE");
  });

  it("refuses records whose offset deltas are not 0..n-1", () => {
    const buf = batchOf(2, "a");
    // The second record's offset delta varint sits after its length, attributes and timestamp delta.
    const records = buf.subarray(61);
    const firstLength = records[0] >> 1;
    const second = 1 + firstLength;
    expect(records[second + 3]).toBe(2); // zigzag(1)
    records[second + 3] = 4; // zigzag(2)
    expect(codeOf(() => validateBatches(reseal(buf), options))).toBe("INVALID_RECORD");
  });

  it("does not walk the records of batches checked before (recordsChecked), but still checks their CRC", () => {
    const buf = batchOf(2, "a");
    const records = buf.subarray(61);
    records[1 + (records[0] >> 1) + 3] = 4; // the second record's offset delta: 2, not 1
    reseal(buf);
    const header = 1_700_000_000_123;
    buf.writeBigInt64BE(BigInt(header), 35); // maxTimestamp, which the first append made right
    reseal(buf);
    expect(codeOf(() => validateBatches(buf, options))).toBe("INVALID_RECORD");
    const valid = validateBatches(buf, { ...options, recordsChecked: true });
    expect(valid.recordCount).toBe(2);
    expect(valid.maxTimestamp).toBe(header);
    buf[70] ^= 1;
    expect(codeOf(() => validateBatches(buf, { ...options, recordsChecked: true }))).toBe("CORRUPT_MESSAGE");
  });

  it("enforces message.timestamp.{before,after}.max.ms and skips LogAppendTime batches", () => {
    const config = { ...DEFAULT_LOG_CONFIG, timestampBeforeMaxMs: 1000, timestampAfterMaxMs: 1000 };
    const old = encodeRecordBatch([{ value: Buffer.from("x"), timestamp: options.nowMs - 5000 }]);
    const future = encodeRecordBatch([{ value: Buffer.from("x"), timestamp: options.nowMs + 5000 }]);
    expect(codeOf(() => validateBatches(old, { ...options, config }))).toBe("INVALID_TIMESTAMP");
    expect(codeOf(() => validateBatches(future, { ...options, config }))).toBe("INVALID_TIMESTAMP");
    const appendTime = encodeRecordBatch([{ value: Buffer.from("x"), timestamp: options.nowMs - 5000 }], {
      timestampType: TimestampType.LogAppendTime,
    });
    expect(validateBatches(appendTime, { ...options, config }).recordCount).toBe(1);
  });

  it("refuses control batches from clients unless allowed", () => {
    const control = encodeRecordBatch([{ key: encodeControlKey(1), value: Buffer.alloc(6) }], {
      control: true,
    });
    expect(codeOf(() => validateBatches(control, options))).toBe("INVALID_RECORD");
    expect(validateBatches(control, { ...options, allowControl: true }).recordCount).toBe(1);
  });

  it("never accepts a mutated record section that cannot be decoded, and never throws anything but a KafkaError", () => {
    const rand = mulberry32(11);
    for (let i = 0; i < 3000; i++) {
      const buf = encodeRecordBatch(
        Array.from({ length: 1 + Math.floor(rand() * 5) }, (_, j) => ({
          key: rand() < 0.3 ? null : Buffer.from(`key-${j}`),
          value: Buffer.alloc(Math.floor(rand() * 40), j),
          headers: rand() < 0.5 ? [{ key: "h", value: Buffer.from("v") }] : [],
          timestamp: options.nowMs + j,
        })),
      );
      const flips = 1 + Math.floor(rand() * 3);
      for (let f = 0; f < flips; f++)
        buf[61 + Math.floor(rand() * (buf.length - 61))] = Math.floor(rand() * 256);
      reseal(buf);
      let accepted = false;
      try {
        validateBatches(buf, options);
        accepted = true;
      } catch (err) {
        expect((err as { name?: string }).name).toBe("KafkaError");
      }
      if (accepted) expect(decodeRecords(buf).length).toBe(buf.readInt32BE(57));
    }
  });
});
