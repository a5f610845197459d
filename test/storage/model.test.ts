/**
 * Model-based test of PartitionLog: random sequences of append / read / timestamp lookup / roll /
 * retention / truncate / reopen (clean and unclean), each checked against a plain in-memory model
 * of batches. Seeded: a failure prints the seed and step so it can be replayed exactly.
 */
import { mkdtempSync, readdirSync, rmSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  batchSpans,
  decodeBatches,
  encodeRecordBatch,
  type RecordInput,
} from "../../protocol/record-batch.js";
import { DEFAULT_LOG_CONFIG, type LogConfig } from "../../storage/config.js";
import { type LogJournal, PartitionLog } from "../../storage/log.js";
import { writeBehindChunks } from "../../storage/segment.js";
import { baseSeed, mulberry32 } from "../helpers/random.js";

interface ModelRecord {
  offset: number;
  timestamp: number;
  value: string;
}

interface ModelBatch {
  base: number;
  last: number;
  records: ModelRecord[];
}

class Model {
  batches: ModelBatch[] = [];
  logStart = 0;
  logEnd = 0;

  append(records: { timestamp: number; value: string }[]): ModelBatch {
    const batch: ModelBatch = {
      base: this.logEnd,
      last: this.logEnd + records.length - 1,
      records: records.map((r, i) => ({ ...r, offset: this.logEnd + i })),
    };
    this.batches.push(batch);
    this.logEnd = batch.last + 1;
    return batch;
  }

  records(): ModelRecord[] {
    return this.batches.flatMap((b) => b.records).filter((r) => r.offset >= this.logStart);
  }

  truncateTo(offset: number): void {
    if (offset >= this.logEnd) return;
    const kept = this.batches.filter((b) => b.last < offset);
    this.batches = kept;
    const cut = this.batches.length > 0 ? this.batches[this.batches.length - 1].last + 1 : this.logStart;
    this.logEnd = Math.max(cut, this.logStart);
  }

  advanceStart(offset: number): void {
    this.logStart = offset;
    this.batches = this.batches.filter((b) => b.last >= offset);
  }

  firstAtOrAfter(timestamp: number): ModelRecord | undefined {
    return this.records().find((r) => r.timestamp >= timestamp);
  }
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "samsa-model-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const BASE_TS = 1_700_000_000_000;

/**
 * A journal that holds nothing and answers at once: with it, flush.policy=always appends take
 * the journaled path, so the active segment's tail waits in memory (write-behind) and every read,
 * timestamp lookup, roll, truncation and close below runs against that memory.
 */
const INSTANT_JOURNAL: LogJournal = {
  commit: () => Promise.resolve(),
  mark: () => Promise.resolve(),
};

async function runModel(seed: number, steps: number, journaled = false): Promise<void> {
  const rand = mulberry32(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const config: LogConfig = {
    ...DEFAULT_LOG_CONFIG,
    segmentBytes: int(2, 8) * 1024,
    indexIntervalBytes: int(0, 3) * 512,
    fileDeleteDelayMs: 0,
    retentionMs: -1,
    flushPolicy: journaled || rand() < 0.5 ? "always" : "os",
  };
  const journal = journaled ? INSTANT_JOURNAL : undefined;
  const chunksBefore = writeBehindChunks();
  let log = await PartitionLog.open({ dir, config, journal });
  const model = new Model();
  let clock = BASE_TS;
  let step = 0;
  const where = () => `seed ${seed} step ${step}`;

  const makeRecords = () => {
    const count = int(1, 12);
    const out: { timestamp: number; value: string }[] = [];
    for (let i = 0; i < count; i++) {
      // Mostly increasing timestamps, sometimes a late record, to exercise the time index.
      clock += int(0, 5);
      const timestamp = rand() < 0.1 ? clock - int(1, 200) : clock;
      out.push({ timestamp, value: `v${step}-${i}-${"x".repeat(int(0, 300))}` });
    }
    return out;
  };
  const encode = (records: { timestamp: number; value: string }[]) => {
    const inputs: RecordInput[] = records.map((r) => ({
      key: Buffer.from(`k${r.value.length % 5}`),
      value: Buffer.from(r.value),
      timestamp: r.timestamp,
    }));
    return encodeRecordBatch(inputs);
  };

  try {
    for (step = 0; step < steps; step++) {
      const op = rand();
      if (op < 0.4) {
        // Several appends in flight at once: offsets follow call order.
        const n = int(1, 4);
        const batches = Array.from({ length: n }, makeRecords);
        const results = await Promise.all(batches.map((b) => log.append(encode(b))));
        for (let i = 0; i < n; i++) {
          const expected = model.append(batches[i]);
          expect(results[i].baseOffset, where()).toBe(expected.base);
          expect(results[i].lastOffset, where()).toBe(expected.last);
        }
        expect(log.logEndOffset, where()).toBe(model.logEnd);
      } else if (op < 0.65) {
        const offset = int(model.logStart, model.logEnd);
        const maxBytes = int(1, 20_000);
        const read = await log.read(offset, { maxBytes });
        const got = decodeBatches(read.records);
        const expected = model.records().filter((r) => r.offset >= offset);
        if (offset === model.logEnd) {
          expect(got.length, where()).toBe(0);
        } else {
          expect(got.length, where()).toBeGreaterThan(0);
          // The first batch holds `offset`; records run contiguously in model order.
          const first = got.findIndex((r) => r.offset === offset);
          expect(first, where()).toBeGreaterThanOrEqual(0);
          const tail = got.slice(first);
          expect(
            tail.map((r) => [r.offset, r.value?.toString(), r.timestamp]),
            where(),
          ).toEqual(expected.slice(0, tail.length).map((r) => [r.offset, r.value, r.timestamp]));
          if (read.records.length > maxBytes) {
            // Only a single oversized first batch may exceed maxBytes.
            expect([...batchSpans(read.records)].length, where()).toBe(1);
          }
        }
        await expect(log.read(model.logEnd + 1, { maxBytes: 100 }), where()).rejects.toMatchObject({
          code: "OFFSET_OUT_OF_RANGE",
        });
      } else if (op < 0.72) {
        const records = model.records();
        const timestamp =
          records.length > 0 && rand() < 0.8
            ? records[int(0, records.length - 1)].timestamp + int(-2, 2)
            : clock + int(-500, 500);
        const found = await log.offsetForTimestamp(timestamp);
        const expected = model.firstAtOrAfter(timestamp);
        expect(found?.offset ?? null, where()).toBe(expected?.offset ?? null);
        if (expected) expect(found?.timestamp, where()).toBe(expected.timestamp);
      } else if (op < 0.77) {
        await log.roll();
      } else if (op < 0.82) {
        const before = log.logStartOffset;
        const retentionBytes = int(0, 6) * 4096;
        const highWatermark = rand() < 0.5 ? model.logEnd : int(model.logStart, model.logEnd);
        log.setHighWatermark(highWatermark);
        log.updateConfig({ ...config, retentionBytes });
        await log.applyRetention();
        log.updateConfig(config);
        const after = log.logStartOffset;
        expect(after, where()).toBeGreaterThanOrEqual(before);
        // Records a follower may not have yet (at or above the high watermark) are never expired.
        expect(after, where()).toBeLessThanOrEqual(highWatermark);
        if (after > before) {
          // Retention removes whole segments: the new start is a batch boundary.
          expect(model.batches.some((b) => b.base === after) || after === model.logEnd, where()).toBe(true);
          expect(log.segmentBaseOffsets()[0], where()).toBe(after);
        }
        model.advanceStart(after);
      } else if (op < 0.88) {
        const offset = int(model.logStart, model.logEnd);
        await log.truncateTo(offset);
        model.truncateTo(offset);
        expect(log.logEndOffset, where()).toBe(model.logEnd);
      } else if (op < 0.94) {
        await log.close();
        log = await PartitionLog.open({
          dir,
          config,
          journal,
          cleanShutdown: true,
          recoveryPoint: model.logEnd,
          logStartOffset: model.logStart,
        });
        expect(log.recovery.segmentsRecovered, where()).toBe(0);
        expect(log.logEndOffset, where()).toBe(model.logEnd);
      } else {
        // Unclean reopen from an older recovery point, sometimes without some index files.
        await log.close();
        for (const name of readdirSync(dir)) {
          if (/\.(index|timeindex)$/.test(name) && rand() < 0.3) unlinkSync(path.join(dir, name));
        }
        log = await PartitionLog.open({
          dir,
          config,
          journal,
          cleanShutdown: false,
          recoveryPoint: int(0, model.logEnd),
          logStartOffset: model.logStart,
        });
        expect(log.recovery.bytesTruncated, where()).toBe(0);
        expect(log.logEndOffset, where()).toBe(model.logEnd);
      }
      expect(log.logStartOffset, where()).toBe(model.logStart);
    }
    // Finally every record survives one more reopen and reads back in order.
    await log.close();
    log = await PartitionLog.open({ dir, config, cleanShutdown: true, logStartOffset: model.logStart });
    const all: { offset: number; value: string | undefined }[] = [];
    let offset = log.logStartOffset;
    for (let reads = 0; offset < log.logEndOffset && reads < 100_000; reads++) {
      const read = await log.read(offset, { maxBytes: 8192 });
      for (const r of decodeBatches(read.records)) {
        if (r.offset >= offset) all.push({ offset: r.offset, value: r.value?.toString() });
      }
      offset = all.length > 0 ? all[all.length - 1].offset + 1 : offset;
    }
    expect(all, where()).toEqual(model.records().map((r) => ({ offset: r.offset, value: r.value })));
  } finally {
    await log.close();
  }
  // Every segment that held bytes in memory gave its chunk back: written out or dropped.
  expect(writeBehindChunks()).toBe(chunksBefore);
}

describe("PartitionLog against an in-memory model", () => {
  const first = baseSeed(1);
  for (let seed = first; seed < first + 4; seed++) {
    it(`seed ${seed}: 700 random steps`, async () => {
      await runModel(seed, 700);
    });
  }
  for (let seed = first + 100; seed < first + 103; seed++) {
    it(`seed ${seed}: 700 random steps, journaled (the segment tail in memory)`, async () => {
      await runModel(seed, 700, true);
    });
  }
});
