/**
 * Timestamps and the batch rewrites of storage/rewrite.ts: the stored maxTimestamp is the
 * records' largest whatever the producer's header said (time index and lookups, also after a
 * clean and an unclean reopen), LogAppendTime, the timestamp bounds, and compression.type.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Compression } from "../../protocol/compression.js";
import {
  ATTRIBUTES_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  COMPRESSION_MASK,
  CRC_OFFSET,
  computeBatchCrc,
  decodeBatches,
  encodeRecordBatch,
  LAST_OFFSET_DELTA_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  RECORD_COUNT_OFFSET,
  type RecordInput,
  readBatchHeader,
  TIMESTAMP_TYPE_MASK,
} from "../../protocol/record-batch.js";
import { readInt64, writeInt64 } from "../../protocol/varint.js";
import { DEFAULT_LOG_CONFIG, type LogConfig, parseLogConfig } from "../../storage/config.js";
import { PartitionLog } from "../../storage/log.js";
import { mulberry32 } from "../helpers/random.js";

const T0 = 1_700_000_000_000;
const NOW = T0 + 60_000;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "samsa-ts-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function config(overrides: Partial<LogConfig> = {}): LogConfig {
  return { ...DEFAULT_LOG_CONFIG, fileDeleteDelayMs: 0, ...overrides };
}

function open(cfg: LogConfig, extra: { cleanShutdown?: boolean } = {}): Promise<PartitionLog> {
  return PartitionLog.open({ dir, config: cfg, now: () => NOW, ...extra });
}

/** Records whose timestamps are `stamps`, in that order. */
function records(stamps: number[], prefix = "v"): RecordInput[] {
  return stamps.map((timestamp, i) => ({
    key: Buffer.from(`k${i}`),
    value: Buffer.from(`${prefix}${i}`),
    timestamp,
  }));
}

/** A batch as an older Go client writes it: maxTimestamp -1 in the header, real record timestamps. */
function headerWithoutMax(stamps: number[], compression = Compression.None): Buffer {
  const batch = encodeRecordBatch(records(stamps), { compression });
  writeInt64(batch, MAX_TIMESTAMP_OFFSET, -1);
  batch.writeUInt32BE(computeBatchCrc(batch, 0, batch.length), CRC_OFFSET);
  return batch;
}

async function storedBatches(log: PartitionLog): Promise<Buffer> {
  return (await log.read(0, { maxBytes: 1 << 20 })).records;
}

describe("the stored maxTimestamp is computed from the records", () => {
  // Batch 0: offsets 0-2 at T0+10..30; batch 1: offsets 3-5 at T0+100, T0+300, T0+200.
  const first = [T0 + 10, T0 + 20, T0 + 30];
  const second = [T0 + 100, T0 + 300, T0 + 200];

  async function check(log: PartitionLog): Promise<void> {
    expect(await log.offsetForTimestamp(T0 + 25)).toEqual({ offset: 2, timestamp: T0 + 30 });
    expect(await log.offsetForTimestamp(T0 + 150)).toEqual({ offset: 4, timestamp: T0 + 300 });
    expect(await log.offsetForTimestamp(T0 + 250)).toEqual({ offset: 4, timestamp: T0 + 300 });
    expect(await log.offsetForTimestamp(T0 + 301)).toBeNull();
    expect(await log.maxTimestampOffset()).toEqual({ offset: 4, timestamp: T0 + 300 });
  }

  it.each([
    ["uncompressed", Compression.None],
    ["gzip", Compression.Gzip],
    ["zstd", Compression.Zstd],
  ])(
    "%s: ListOffsets by time finds the record, before and after a clean and an unclean reopen",
    async (_n, codec) => {
      const cfg = config({ segmentBytes: 1024 * 1024 });
      let log = await open(cfg);
      await log.append(headerWithoutMax(first, codec));
      await log.append(headerWithoutMax(second, codec));
      await check(log);
      // The header now carries the records' maximum, under a CRC that matches, as Kafka writes it.
      const stored = await storedBatches(log);
      const h0 = readBatchHeader(stored, 0);
      expect(h0.maxTimestamp).toBe(T0 + 30);
      expect(h0.crc).toBe(computeBatchCrc(stored, 0, 12 + h0.batchLength));
      await log.close();
      log = await open(cfg, { cleanShutdown: true });
      await check(log);
      await log.close();
      // Unclean: no index is trusted; recovery rebuilds the time index from the batches.
      for (const f of ["00000000000000000000.index", "00000000000000000000.timeindex"])
        rmSync(path.join(dir, f), { force: true });
      log = await open(cfg);
      await check(log);
      await log.close();
    },
  );

  it("a header with a wrong maximum is overwritten; a right one leaves every byte as sent", async () => {
    const log = await open(config());
    const right = encodeRecordBatch(records([T0 + 5, T0 + 9]));
    const sent = Buffer.from(right);
    await log.append(right);
    const wrong = encodeRecordBatch(records([T0 + 50, T0 + 70]));
    writeInt64(wrong, MAX_TIMESTAMP_OFFSET, T0 + 60);
    wrong.writeUInt32BE(computeBatchCrc(wrong, 0, wrong.length), CRC_OFFSET);
    await log.append(wrong);
    const stored = await storedBatches(log);
    // Only baseOffset (0 here) and partitionLeaderEpoch may differ from what was sent.
    expect(stored.subarray(16, sent.length).equals(sent.subarray(16))).toBe(true);
    expect(readInt64(stored, sent.length + MAX_TIMESTAMP_OFFSET)).toBe(T0 + 70);
    expect(await log.offsetForTimestamp(T0 + 65)).toEqual({ offset: 3, timestamp: T0 + 70 });
    await log.close();
  });
});

describe("message.timestamp.type=LogAppendTime", () => {
  it("stamps each batch with the append time (attribute bit 3, maxTimestamp) and returns it", async () => {
    const log = await open(config({ timestampType: "LogAppendTime" }));
    const result = await log.append(encodeRecordBatch(records([T0 + 1, T0 + 2])));
    expect(result.logAppendTimeMs).toBe(NOW);
    const stored = await storedBatches(log);
    const header = readBatchHeader(stored, 0);
    expect(header.attributes & TIMESTAMP_TYPE_MASK).toBe(TIMESTAMP_TYPE_MASK);
    expect(header.maxTimestamp).toBe(NOW);
    expect(header.baseTimestamp).toBe(T0 + 1);
    expect(header.crc).toBe(computeBatchCrc(stored, 0, stored.length));
    expect(decodeBatches(stored).map((r) => r.timestamp)).toEqual([NOW, NOW]);
    expect(await log.offsetForTimestamp(T0 + 2)).toEqual({ offset: 0, timestamp: NOW });
    await log.close();
  });

  it("ignores the timestamp bounds, as Kafka does for LogAppendTime", async () => {
    const log = await open(config({ timestampType: "LogAppendTime", timestampBeforeMaxMs: 1000 }));
    await expect(log.append(encodeRecordBatch(records([T0])))).resolves.toMatchObject({ baseOffset: 0 });
    await log.close();
  });

  it("CreateTime appends answer logAppendTimeMs -1", async () => {
    const log = await open(config());
    expect((await log.append(encodeRecordBatch(records([T0])))).logAppendTimeMs).toBe(-1);
    await log.close();
  });
});

describe("timestamp bounds", () => {
  it.each([
    ["message.timestamp.before.max.ms", { "message.timestamp.before.max.ms": "1000" }, NOW - 5000],
    ["message.timestamp.after.max.ms", { "message.timestamp.after.max.ms": "1000" }, NOW + 5000],
    [
      "message.timestamp.difference.max.ms (past)",
      { "message.timestamp.difference.max.ms": "1000" },
      NOW - 5000,
    ],
    [
      "message.timestamp.difference.max.ms (future)",
      { "message.timestamp.difference.max.ms": "1000" },
      NOW + 5000,
    ],
  ])("%s refuses a record outside it with INVALID_TIMESTAMP", async (_n, props, outside) => {
    const log = await open(parseLogConfig(props, config()));
    await expect(log.append(encodeRecordBatch(records([NOW, outside])))).rejects.toMatchObject({
      code: "INVALID_TIMESTAMP",
    });
    await expect(log.append(encodeRecordBatch(records([NOW - 500, NOW + 500])))).resolves.toMatchObject({
      baseOffset: 0,
    });
    await log.close();
  });

  it("checks the records of a compressed batch whose header maxTimestamp is -1", async () => {
    const log = await open(config({ timestampAfterMaxMs: 1000 }));
    await expect(log.append(headerWithoutMax([NOW, NOW + 5000], Compression.Lz4))).rejects.toMatchObject({
      code: "INVALID_TIMESTAMP",
    });
    await log.close();
  });

  it("checks the records of a batch it recompresses, whatever its header claims", async () => {
    // The header claims NOW; a record lies outside the bound. Recompression reads every record and
    // stores their true maximum, so that record must pass the bounds too (as Kafka's walk does).
    const log = await open(config({ timestampAfterMaxMs: 1000, compressionType: "zstd" }));
    const batch = encodeRecordBatch(records([NOW, NOW + 5000]), { compression: Compression.Gzip });
    writeInt64(batch, MAX_TIMESTAMP_OFFSET, NOW);
    batch.writeUInt32BE(computeBatchCrc(batch, 0, batch.length), CRC_OFFSET);
    await expect(log.append(batch)).rejects.toMatchObject({ code: "INVALID_TIMESTAMP" });
    expect(log.logEndOffset).toBe(0);
    const fine = encodeRecordBatch(records([NOW, NOW + 500]), { compression: Compression.Gzip });
    await expect(log.append(fine)).resolves.toMatchObject({ baseOffset: 0 });
    await log.close();
  });
});

describe("compression.type", () => {
  const stamps = [T0 + 1, T0 + 2, T0 + 3];

  it("refuses a batch whose records do not fill its decompressed section (INVALID_RECORD)", async () => {
    // Three records inside, two declared: re-encoding the two would drop the third unsaid.
    const log = await open(parseLogConfig({ "compression.type": "zstd" }, config()));
    const batch = encodeRecordBatch(records(stamps), { compression: Compression.Gzip });
    batch.writeInt32BE(2, RECORD_COUNT_OFFSET);
    batch.writeInt32BE(1, LAST_OFFSET_DELTA_OFFSET);
    batch.writeUInt32BE(computeBatchCrc(batch, 0, batch.length), CRC_OFFSET);
    await expect(log.append(batch)).rejects.toMatchObject({ code: "INVALID_RECORD" });
    expect(log.logEndOffset).toBe(0);
    await log.close();
  });

  it.each([
    ["zstd", Compression.None, Compression.Zstd],
    ["gzip", Compression.Snappy, Compression.Gzip],
    ["lz4", Compression.Gzip, Compression.Lz4],
    ["snappy", Compression.Zstd, Compression.Snappy],
    ["uncompressed", Compression.Zstd, Compression.None],
  ] as const)("%s recompresses a batch sent with another codec", async (type, sent, stored) => {
    const log = await open(parseLogConfig({ "compression.type": type }, config()));
    const batch = encodeRecordBatch(records(stamps), {
      compression: sent,
      producerId: 7,
      producerEpoch: 2,
      baseSequence: 10,
    });
    const result = await log.append(Buffer.concat([encodeRecordBatch(records([T0])), batch]));
    expect(result).toMatchObject({ baseOffset: 0, lastOffset: 3 });
    const out = await storedBatches(log);
    const second = 12 + out.readInt32BE(8);
    const header = readBatchHeader(out, second);
    expect(header.attributes & COMPRESSION_MASK).toBe(stored);
    expect(readBatchHeader(out, 0).attributes & COMPRESSION_MASK).toBe(stored);
    expect(header).toMatchObject({
      baseOffset: 1,
      producerId: 7,
      producerEpoch: 2,
      baseSequence: 10,
      recordCount: 3,
    });
    expect(header.maxTimestamp).toBe(T0 + 3);
    expect(header.crc).toBe(computeBatchCrc(out, second, out.length - second));
    expect(decodeBatches(out).map((r) => [r.offset, r.timestamp, r.value?.toString()])).toEqual([
      [0, T0, "v0"],
      [1, T0 + 1, "v0"],
      [2, T0 + 2, "v1"],
      [3, T0 + 3, "v2"],
    ]);
    await log.close();
  });

  it("producer (the default) and a matching codec keep the producer's bytes", async () => {
    const log = await open(parseLogConfig({ "compression.type": "gzip" }, config()));
    const batch = encodeRecordBatch(records(stamps), { compression: Compression.Gzip });
    const sent = Buffer.from(batch);
    await log.append(batch);
    const out = await storedBatches(log);
    expect(out.subarray(16).equals(sent.subarray(16))).toBe(true);
    await log.close();
  });

  it("refuses a batch that recompression makes larger than max.message.bytes", async () => {
    // Random bytes do not compress: gzip adds its framing.
    const next = mulberry32(11);
    const value = Buffer.from(Array.from({ length: 2000 }, () => Math.floor(next() * 256)));
    const batch = encodeRecordBatch([{ value, timestamp: T0 }]);
    const cfg = parseLogConfig(
      { "compression.type": "gzip", "max.message.bytes": String(batch.length) },
      config(),
    );
    const log = await open(cfg);
    await expect(log.append(batch)).rejects.toMatchObject({ code: "MESSAGE_TOO_LARGE" });
    expect(log.logEndOffset).toBe(0);
    await log.close();
  });

  it("a compressed batch sent to compression.type=uncompressed keeps its base timestamp", async () => {
    const log = await open(parseLogConfig({ "compression.type": "uncompressed" }, config()));
    await log.append(encodeRecordBatch(records(stamps), { compression: Compression.Gzip }));
    const out = await storedBatches(log);
    expect(readInt64(out, BASE_TIMESTAMP_OFFSET)).toBe(T0 + 1);
    expect(out.readInt16BE(ATTRIBUTES_OFFSET) & COMPRESSION_MASK).toBe(0);
    await log.close();
  });
});
