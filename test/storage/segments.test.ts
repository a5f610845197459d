import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { batchSpans, decodeBatches, encodeRecordBatch } from "../../protocol/record-batch.js";
import { DEFAULT_LOG_CONFIG, type LogConfig, parseLogConfig } from "../../storage/config.js";
import { PartitionLog } from "../../storage/log.js";
import { OffsetIndex } from "../../storage/offset-index.js";
import { TimeIndex } from "../../storage/time-index.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "samsa-seg-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function config(overrides: Partial<LogConfig> = {}): LogConfig {
  return { ...DEFAULT_LOG_CONFIG, fileDeleteDelayMs: 0, ...overrides };
}

const T0 = 1_700_000_000_000;

/** One record per batch with timestamp T0 + 10 * offset and value `r<offset>`. */
async function fill(log: PartitionLog, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const offset = log.logEndOffset;
    await log.append(encodeRecordBatch([{ value: Buffer.from(`r${offset}`), timestamp: T0 + 10 * offset }]));
  }
}

describe("OffsetIndex and TimeIndex", () => {
  it("finds the floor entry and truncates", () => {
    const index = new OffsetIndex(100);
    for (let i = 1; i <= 10; i++) expect(index.append(i * 10, i * 1000)).toBe(true);
    expect(index.lookup(5)).toBe(0);
    expect(index.lookup(10)).toBe(1000);
    expect(index.lookup(55)).toBe(5000);
    expect(index.lookup(1000)).toBe(10000);
    index.truncateToOffset(50);
    expect(index.lastOffset()).toBe(40);
    expect(() => index.append(30, 99999)).toThrow();
    const loaded = OffsetIndex.fromBuffer(index.toBuffer(), 100, 1 << 20, 1 << 30);
    expect(loaded?.entries).toBe(4);
    expect(OffsetIndex.fromBuffer(index.toBuffer(), 100, 3000, 1 << 30)).toBeNull();
    expect(OffsetIndex.fromBuffer(Buffer.alloc(7), 100, 3000, 1 << 30)).toBeNull();
  });

  it("refuses entries once full", () => {
    const index = new OffsetIndex(2);
    expect(index.append(1, 1)).toBe(true);
    expect(index.append(2, 2)).toBe(true);
    expect(index.isFull()).toBe(true);
    expect(index.append(3, 3)).toBe(false);
  });

  it("keeps time entries increasing and searches strictly below a timestamp", () => {
    const index = new TimeIndex();
    index.maybeAppend(100, 0);
    index.maybeAppend(90, 5); // not larger: ignored
    index.maybeAppend(200, 10);
    expect(index.entries).toBe(2);
    expect(index.searchStart(100)).toBe(0);
    expect(index.searchStart(150)).toBe(0);
    expect(index.searchStart(201)).toBe(10);
    expect(TimeIndex.fromBuffer(index.toBuffer(), 100)?.lastTimestamp()).toBe(200);
    expect(TimeIndex.fromBuffer(index.toBuffer(), 5)).toBeNull();
  });
});

describe("segments, indexes and timestamp lookups", () => {
  it("looks up every offset and timestamp across many segments, before and after reopening", async () => {
    const cfg = config({ segmentBytes: 2048, indexIntervalBytes: 200 });
    let log = await PartitionLog.open({ dir, config: cfg });
    await fill(log, 600);
    expect(log.segmentCount()).toBeGreaterThan(20);
    const check = async () => {
      for (let offset = 0; offset < 600; offset += 7) {
        const read = await log.read(offset, { maxBytes: 1 });
        expect(decodeBatches(read.records)[0].offset).toBe(offset);
        expect(await log.offsetForTimestamp(T0 + 10 * offset)).toEqual({
          offset,
          timestamp: T0 + 10 * offset,
        });
        expect(await log.offsetForTimestamp(T0 + 10 * offset - 3)).toEqual({
          offset,
          timestamp: T0 + 10 * offset,
        });
      }
      expect(await log.offsetForTimestamp(T0 + 10 * 600)).toBeNull();
      expect(await log.offsetForTimestamp(0)).toEqual({ offset: 0, timestamp: T0 });
      expect(await log.maxTimestampOffset()).toEqual({ offset: 599, timestamp: T0 + 5990 });
    };
    await check();
    await log.close();
    log = await PartitionLog.open({ dir, config: cfg, cleanShutdown: true });
    expect(log.recovery.segmentsRecovered).toBe(0);
    await check();
    await log.close();
    log = await PartitionLog.open({ dir, config: cfg, cleanShutdown: false, recoveryPoint: 0 });
    expect(log.recovery.segmentsRecovered).toBe(log.segmentCount());
    await check();
    await log.close();
  });

  it("finds the first record at or after a timestamp inside a batch, with late records", async () => {
    const log = await PartitionLog.open({ dir, config: config() });
    await log.append(
      encodeRecordBatch([
        { value: Buffer.from("a"), timestamp: 100 },
        { value: Buffer.from("b"), timestamp: 300 },
        { value: Buffer.from("c"), timestamp: 200 },
        { value: Buffer.from("d"), timestamp: 400 },
      ]),
    );
    expect(await log.offsetForTimestamp(150)).toEqual({ offset: 1, timestamp: 300 });
    expect(await log.offsetForTimestamp(301)).toEqual({ offset: 3, timestamp: 400 });
    expect(await log.maxTimestampOffset()).toEqual({ offset: 3, timestamp: 400 });
    await log.close();
  });

  it("serves an empty log", async () => {
    let log = await PartitionLog.open({ dir, config: config() });
    expect(log.logEndOffset).toBe(0);
    expect((await log.read(0, { maxBytes: 100 })).records.length).toBe(0);
    await expect(log.read(1, { maxBytes: 100 })).rejects.toMatchObject({ code: "OFFSET_OUT_OF_RANGE" });
    expect(await log.offsetForTimestamp(0)).toBeNull();
    expect(await log.maxTimestampOffset()).toBeNull();
    await log.close();
    log = await PartitionLog.open({ dir, config: config(), cleanShutdown: true });
    expect(log.logEndOffset).toBe(0);
    await log.close();
    log = await PartitionLog.open({ dir, config: config(), cleanShutdown: false });
    expect(log.logEndOffset).toBe(0);
    await log.append(encodeRecordBatch([{ value: Buffer.from("x") }]));
    expect(log.logEndOffset).toBe(1);
    await log.close();
  });

  it("rolls on segment.ms, on a full index and when offsets no longer fit the segment", async () => {
    let now = T0;
    const cfg = config({ segmentMs: 1000 });
    let log = await PartitionLog.open({ dir, config: cfg, now: () => now });
    await fill(log, 3);
    expect(log.segmentCount()).toBe(1);
    now += 1000;
    await fill(log, 1);
    expect(log.segmentBaseOffsets()).toEqual([0, 3]);
    await log.close();

    rmSync(dir, { recursive: true });
    log = await PartitionLog.open({ dir, config: config({ segmentIndexBytes: 32, indexIntervalBytes: 0 }) });
    await fill(log, 20);
    // 4 index entries a segment; the first batch of a segment needs none.
    expect(log.segmentBaseOffsets()).toEqual([0, 5, 10, 15]);
    await log.close();

    rmSync(dir, { recursive: true });
    log = await PartitionLog.open({ dir, config: config() });
    await fill(log, 2);
    const far = 2 ** 31 + 10;
    const batch = encodeRecordBatch([{ value: Buffer.from("far") }], { baseOffset: far });
    await log.append(batch, { keepOffsets: true });
    expect(log.segmentBaseOffsets()).toEqual([0, far]);
    expect(log.logEndOffset).toBe(far + 1);
    expect(decodeBatches((await log.read(far, { maxBytes: 100 })).records)[0].value?.toString()).toBe("far");
    expect(decodeBatches((await log.read(1, { maxBytes: 1000 })).records).map((r) => r.offset)).toEqual([1]);
    await log.close();
  });

  it("stores a batch at max.message.bytes, alone in a segment when larger than segment.bytes", async () => {
    const cfg = config({ segmentBytes: 64 * 1024 });
    const log = await PartitionLog.open({ dir, config: cfg });
    const value = Buffer.alloc(cfg.maxMessageBytes - 61 - 20, 9);
    const big = encodeRecordBatch([{ value }]);
    expect(big.length).toBeLessThanOrEqual(cfg.maxMessageBytes);
    await fill(log, 1);
    await log.append(big);
    await fill(log, 1);
    expect(log.segmentBaseOffsets()).toEqual([0, 1, 2]);
    const read = await log.read(1, { maxBytes: 10 });
    expect(read.records.length).toBe(big.length);
    expect(decodeBatches(read.records)[0].value?.equals(value)).toBe(true);
    const none = await log.read(1, { maxBytes: 10, minOneBatch: false });
    expect(none.records.length).toBe(0);
    await log.close();
  });

  it("reads whole batches only, never past maxBytes except for the first, and never past maxOffset", async () => {
    const log = await PartitionLog.open({ dir, config: config() });
    for (let i = 0; i < 50; i++) await log.append(encodeRecordBatch([{ value: Buffer.alloc(100 + i) }]));
    for (const maxBytes of [1, 170, 500, 2000, 100_000]) {
      const read = await log.read(10, { maxBytes });
      const spans = [...batchSpans(read.records)];
      expect(spans.length).toBeGreaterThan(0);
      if (spans.length > 1) expect(read.records.length).toBeLessThanOrEqual(maxBytes);
    }
    const limited = await log.read(10, { maxBytes: 100_000, maxOffset: 20 });
    expect(decodeBatches(limited.records).map((r) => r.offset)).toEqual([
      10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
    ]);
    expect((await log.read(20, { maxBytes: 100, maxOffset: 20 })).records.length).toBe(0);
    await log.close();
  });
});

describe("retention", () => {
  it("deletes sealed segments past retention.ms and rolls an expired active segment", async () => {
    let now = T0 + 1000;
    const cfg = config({ segmentBytes: 2048, retentionMs: 50_000 });
    const log = await PartitionLog.open({ dir, config: cfg, now: () => now });
    await fill(log, 100); // timestamps T0 .. T0 + 990
    log.setHighWatermark(log.logEndOffset);
    const segments = log.segmentCount();
    expect(await log.applyRetention()).toBe(0);
    now = T0 + 50_500; // records older than T0 + 500 expire
    const deleted = await log.applyRetention();
    expect(deleted).toBeGreaterThan(0);
    expect(log.segmentCount()).toBe(segments - deleted);
    expect(log.logStartOffset).toBe(log.segmentBaseOffsets()[0]);
    expect(log.logStartOffset).toBeLessThanOrEqual(51);
    await expect(log.read(0, { maxBytes: 10 })).rejects.toMatchObject({ code: "OFFSET_OUT_OF_RANGE" });
    now = T0 + 1_000_000;
    await log.applyRetention(); // deletes all sealed, rolls the active one
    await log.applyRetention(); // deletes the segment just sealed
    expect(log.logStartOffset).toBe(100);
    expect(log.logEndOffset).toBe(100);
    expect(log.sizeBytes()).toBe(0);
    await fill(log, 1);
    expect(log.logEndOffset).toBe(101);
    await log.close();
    const names = readdirSync(dir).filter((n) => n.endsWith(".log"));
    expect(names).toEqual(["00000000000000000100.log"]);
  });

  it("deletes the oldest segments beyond retention.bytes", async () => {
    const cfg = config({ segmentBytes: 2048, retentionMs: -1, retentionBytes: 5000 });
    const log = await PartitionLog.open({ dir, config: cfg });
    await fill(log, 200);
    log.setHighWatermark(log.logEndOffset);
    await log.applyRetention();
    const size = log.sizeBytes();
    expect(size).toBeLessThan(5000 + 2048);
    expect(size).toBeGreaterThanOrEqual(5000 - 2048);
    const first = decodeBatches((await log.read(log.logStartOffset, { maxBytes: 100 })).records)[0];
    expect(first.value?.toString()).toBe(`r${log.logStartOffset}`);
    await log.close();
  });

  it("deletes only segments wholly below the high watermark, by time or by size", async () => {
    const now = T0 + 1_000_000; // every record is past retention.ms
    for (const overrides of [{ retentionMs: 1000 }, { retentionMs: -1, retentionBytes: 0 }]) {
      rmSync(dir, { recursive: true, force: true });
      const log = await PartitionLog.open({
        dir,
        config: config({ segmentBytes: 2048, ...overrides }),
        now: () => now,
      });
      await fill(log, 100);
      const bases = log.segmentBaseOffsets();
      expect(bases.length).toBeGreaterThan(3);
      // The high watermark inside the third segment: only the first two lie wholly below it.
      log.setHighWatermark(bases[2] + 1);
      expect(await log.applyRetention()).toBe(2);
      expect(log.logStartOffset).toBe(bases[2]);
      expect(await log.applyRetention()).toBe(0);
      // A follower catches up: the rest may go (the active segment is rolled first, by time).
      log.setHighWatermark(log.logEndOffset);
      await log.applyRetention();
      expect(log.logStartOffset).toBeGreaterThan(bases[2]);
      expect(log.logStartOffset).toBeLessThanOrEqual(log.highWatermark);
      await log.close();
    }
  });

  it("keeps a read that started before its segment was deleted working", async () => {
    const cfg = config({ segmentBytes: 2048, retentionMs: -1, retentionBytes: 0, fileDeleteDelayMs: 0 });
    const log = await PartitionLog.open({ dir, config: cfg });
    await fill(log, 100);
    log.setHighWatermark(log.logEndOffset);
    const reading = log.read(0, { maxBytes: 2048 });
    await log.applyRetention();
    const read = await reading;
    expect(decodeBatches(read.records)[0].offset).toBe(0);
    await log.close();
  });
});

describe("topic configs", () => {
  it("parses Kafka names and refuses bad ones with INVALID_CONFIG", () => {
    const cfg = parseLogConfig({ "retention.ms": "1000", "segment.bytes": "4096", "flush.policy": "os" });
    expect(cfg).toMatchObject({ retentionMs: 1000, segmentBytes: 4096, flushPolicy: "os" });
    expect(() => parseLogConfig({ "retention.ms": "soon" })).toThrow(/INVALID_CONFIG/);
    expect(() => parseLogConfig({ "no.such.thing": "1" })).toThrow(/INVALID_CONFIG/);
    expect(() => parseLogConfig({ "flush.policy": "sometimes" })).toThrow(/INVALID_CONFIG/);
    expect(parseLogConfig({ "cleanup.policy": "delete,compact" }).cleanupPolicy).toBe("compact,delete");
  });
});
