/**
 * Log compaction (storage/cleaner.ts, PartitionLog.compact).
 *
 * A model-based test: seeded random appends of keyed records (tombstones included, some batches
 * compressed), rolls, compaction passes under a controllable clock, reads and reopens, each pass
 * checked against a model that keeps, below the pass's first uncleanable offset, only each key's
 * latest record, and drops a tombstone once delete.retention.ms has passed since the pass that
 * first cleaned it. Then crash tests: the directory is snapshotted at every step of the swap
 * protocol (and the pass stopped at random steps, and file-system faults injected), reopened
 * uncleanly, and checked readable and complete.
 *
 * Only records below the high watermark are cleaned; the logs here play a single broker's
 * leader, whose high watermark follows every append (`committed`), except in the test of that rule.
 */
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  truncateSync,
} from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Compression } from "../../protocol/compression.js";
import { KafkaError } from "../../protocol/errors.js";
import {
  batchSpans,
  decodeRecords,
  encodeRecordBatch,
  LAST_OFFSET_DELTA_OFFSET,
  type RecordInput,
} from "../../protocol/record-batch.js";
import { readInt64 } from "../../protocol/varint.js";
import type { CleanerStep, CompactStats } from "../../storage/cleaner.js";
import { DEFAULT_LOG_CONFIG, type LogConfig, parseLogConfig } from "../../storage/config.js";
import type { StorageFs } from "../../storage/fs.js";
import { PartitionLog } from "../../storage/log.js";
import { LogManager } from "../../storage/log-manager.js";
import { FaultyFs } from "../helpers/faulty-fs.js";
import { baseSeed, Random, withSeed } from "../helpers/random.js";

/**
 * `log`, with its high watermark moved to the log end now and after every append (a single
 * replica commits what it appends): what compaction may clean.
 */
function committed(log: PartitionLog): PartitionLog {
  const append = log.append.bind(log);
  log.setHighWatermark(log.logEndOffset);
  log.append = async (...args: Parameters<PartitionLog["append"]>) => {
    const result = await append(...args);
    log.setHighWatermark(log.logEndOffset);
    return result;
  };
  return log;
}

/** PartitionLog.open, committed (see above). */
async function openLog(options: Parameters<typeof PartitionLog.open>[0]): Promise<PartitionLog> {
  return committed(await PartitionLog.open(options));
}

const BASE_SEED = baseSeed(20_261_124);
const BASE_TS = 1_700_000_000_000;
const DELETE_RETENTION_MS = 50_000;

interface MRecord {
  offset: number;
  key: string;
  value: string | null;
  /** When the tombstone's batch was first cleaned, plus delete.retention.ms. */
  horizon?: number;
}

class Model {
  records: MRecord[] = [];
  logEnd = 0;

  append(records: { key: string; value: string | null }[]): void {
    for (const r of records) this.records.push({ offset: this.logEnd++, key: r.key, value: r.value });
  }

  /** What a pass cleaning everything below `cleanEnd` at `nowMs` leaves. */
  compact(cleanEnd: number, nowMs: number, deleteRetentionMs: number): void {
    const latest = new Map<string, number>();
    for (const r of this.records) if (r.offset < cleanEnd) latest.set(r.key, r.offset);
    this.records = this.records.filter(
      (r) =>
        r.offset >= cleanEnd ||
        (latest.get(r.key) === r.offset &&
          !(r.value === null && r.horizon !== undefined && r.horizon <= nowMs)),
    );
    for (const r of this.records)
      if (r.offset < cleanEnd && r.value === null && r.horizon === undefined)
        r.horizon = nowMs + deleteRetentionMs;
  }

  /** The latest live value of every key (a tombstone means none). */
  latest(): Map<string, string> {
    const out = new Map<string, string | null>();
    for (const r of this.records) out.set(r.key, r.value);
    return new Map([...out].filter((e): e is [string, string] => e[1] !== null));
  }

  clone(): Model {
    const m = new Model();
    m.records = this.records.map((r) => ({ ...r }));
    m.logEnd = this.logEnd;
    return m;
  }
}

interface ReadRecord {
  offset: number;
  key: string;
  value: string | null;
}

/** Reads the whole log with random maxBytes; checks offsets strictly increase. */
async function readLog(log: PartitionLog, rng: Random): Promise<ReadRecord[]> {
  const out: ReadRecord[] = [];
  let offset = log.logStartOffset;
  const end = log.logEndOffset;
  while (offset < end) {
    const { records } = await log.read(offset, { maxBytes: rng.int(1, 16 * 1024) });
    if (records.length === 0) throw new Error(`read at ${offset} below the log end ${end} returned nothing`);
    for (const [start, stop] of batchSpans(records)) {
      const batch = records.subarray(start, stop);
      const last = readInt64(batch, 0) + batch.readInt32BE(LAST_OFFSET_DELTA_OFFSET);
      for (const r of decodeRecords(batch)) {
        if (r.offset < offset) continue;
        if (out.length > 0 && r.offset <= out[out.length - 1].offset)
          throw new Error(`offset ${r.offset} after ${out[out.length - 1].offset}`);
        out.push({
          offset: r.offset,
          key: r.key?.toString() ?? "<null>",
          value: r.value?.toString() ?? null,
        });
      }
      offset = Math.max(offset, last + 1);
    }
  }
  return out;
}

function plain(records: readonly { offset: number; key: string; value: string | null }[]): ReadRecord[] {
  return records.map((r) => ({ offset: r.offset, key: r.key, value: r.value }));
}

function encode(rng: Random, records: { key: string; value: string | null }[], timestamp: number): Buffer {
  const inputs: RecordInput[] = records.map((r, i) => ({
    key: Buffer.from(r.key),
    value: r.value === null ? null : Buffer.from(r.value),
    timestamp: timestamp + i,
    headers: rng.chance(0.1) ? [{ key: "h", value: Buffer.from(r.key) }] : undefined,
  }));
  const compression = rng.chance(0.2)
    ? rng.pick([Compression.Gzip, Compression.Lz4, Compression.Snappy])
    : Compression.None;
  return encodeRecordBatch(inputs, { compression });
}

function randomRecords(rng: Random, keys: number, step: number): { key: string; value: string | null }[] {
  return Array.from({ length: rng.int(1, 10) }, (_, i) => ({
    key: `key-${rng.int(0, keys - 1)}`,
    value: rng.chance(0.15) ? null : `v${step}.${i}-${"x".repeat(rng.int(0, 120))}`,
  }));
}

/**
 * Copies a log directory as a crash would leave it. The live log may unlink a `.deleted` file (in
 * libuv's thread pool) while the copy runs; a file gone mid-copy is one the crash found deleted.
 */
function copyLogDir(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const n of readdirSync(from)) {
    try {
      copyFileSync(path.join(from, n), path.join(to, n));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT" || !n.endsWith(".deleted")) throw err;
    }
  }
}

function compactConfig(overrides: Partial<LogConfig> = {}): LogConfig {
  return {
    ...DEFAULT_LOG_CONFIG,
    cleanupPolicy: "compact",
    segmentBytes: 1024,
    indexIntervalBytes: 256,
    fileDeleteDelayMs: 0,
    deleteRetentionMs: DELETE_RETENTION_MS,
    ...overrides,
  };
}

let root: string;
beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), "samsa-compaction-"));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** Checks what a pass reported against the log and applies it to the model. */
function applyPass(
  model: Model,
  log: PartitionLog,
  stats: CompactStats,
  nowMs: number,
  config: LogConfig,
): void {
  if (stats.skipped) return;
  const bases = log.segmentBaseOffsets();
  expect(bases).toContain(stats.cleanedUpTo);
  model.compact(stats.cleanedUpTo, nowMs, config.deleteRetentionMs);
  expect(log.cleanerCheckpointOffset).toBe(stats.cleanedUpTo);
}

describe("log compaction: model", () => {
  // Three seeds of 350 steps rather than two of 1000: the cost of a run grows faster than its
  // steps (every check reads the whole log), and more seeds try more configurations.
  for (let run = 0; run < 3; run++) {
    const seed = BASE_SEED + run;
    it(`keeps every key's latest record, offsets unchanged (seed ${seed})`, async () => {
      let step = 0;
      await withSeed(
        seed,
        async (rng) => {
          const dir = path.join(root, "log");
          let clock = BASE_TS;
          const config = compactConfig({
            cleanupPolicy: rng.chance(0.5) ? "compact" : "compact,delete",
            retentionMs: -1,
            segmentBytes: rng.int(1, 4) * 1024,
            indexIntervalBytes: rng.int(0, 4) * 256,
            minCleanableDirtyRatio: rng.pick([0, 0.3, 0.5, 0.9]),
            minCompactionLagMs: rng.pick([0, 0, 5_000]),
            // Durability is not under test here; "always" only slows the run.
            flushPolicy: "os",
          });
          const keys = rng.int(5, 40);
          const open = (cleanShutdown: boolean) =>
            openLog({ dir, config, now: () => clock, cleanShutdown, recoveryPoint: 0 });
          let log = await open(false);
          const model = new Model();
          const check = async () => {
            expect(log.logEndOffset).toBe(model.logEnd);
            expect(await readLog(log, rng)).toEqual(plain(model.records));
          };
          for (step = 0; step < 350; step++) {
            const op = rng.float();
            if (op < 0.55) {
              const n = rng.int(1, 3);
              const batches = Array.from({ length: n }, () => randomRecords(rng, keys, step));
              await Promise.all(batches.map((b) => log.append(encode(rng, b, clock))));
              for (const b of batches) model.append(b);
              clock += rng.int(0, 400);
            } else if (op < 0.62) {
              await log.roll();
            } else if (op < 0.8) {
              clock += rng.pick([0, 1_000, 20_000, 60_000]);
              const end = log.logEndOffset;
              const stats = await log.compact(clock, { force: rng.chance(0.7) });
              expect(log.logEndOffset).toBe(end);
              applyPass(model, log, stats, clock, config);
              await check();
            } else if (op < 0.9) {
              const offset = rng.int(0, model.logEnd);
              const { records } = await log.read(offset, { maxBytes: rng.int(1, 8192) });
              const got = [...batchSpans(records)].flatMap(([s]) => decodeRecords(records, s));
              const want = model.records.filter((r) => r.offset >= offset);
              const firstGot = got.filter((r) => r.offset >= offset);
              expect(
                firstGot.map((r) => r.offset),
                `read at ${offset}`,
              ).toEqual(want.slice(0, firstGot.length).map((r) => r.offset));
            } else if (op < 0.95) {
              await log.close();
              log = await open(rng.chance(0.5));
              await check();
            } else {
              await check();
            }
          }
          await log.close();
        },
        () => `step ${step}`,
      );
    }, 300_000);
  }

  it("removes a tombstone only delete.retention.ms after the pass that first cleaned it", async () => {
    const rng = new Random(BASE_SEED);
    let clock = BASE_TS;
    const log = await openLog({ dir: root, config: compactConfig(), now: () => clock });
    await log.append(
      encode(
        rng,
        [
          { key: "a", value: "1" },
          { key: "b", value: "1" },
        ],
        clock,
      ),
    );
    await log.append(encode(rng, [{ key: "a", value: null }], clock));
    await log.roll();
    await log.append(encode(rng, [{ key: "c", value: "1" }], clock));
    let stats = await log.compact(clock, { force: true });
    expect(stats.segmentsCleaned).toBe(1);
    expect(await readLog(log, rng)).toEqual([
      { offset: 1, key: "b", value: "1" },
      { offset: 2, key: "a", value: null },
      { offset: 3, key: "c", value: "1" },
    ]);
    clock += DELETE_RETENTION_MS - 1;
    stats = await log.compact(clock, { force: true });
    expect((await readLog(log, rng)).map((r) => r.offset)).toEqual([1, 2, 3]);
    clock += 1;
    stats = await log.compact(clock, { force: true });
    expect(stats.tombstonesRemoved).toBe(1);
    expect((await readLog(log, rng)).map((r) => r.offset)).toEqual([1, 3]);
    expect(log.logEndOffset).toBe(4);
    // Timestamps survive the re-based delete horizon.
    const { records } = await log.read(0, { maxBytes: 1 << 20 });
    expect(decodeRecords(records).map((r) => r.timestamp)).toEqual([BASE_TS + 1]);
    await log.close();
  });

  it("keeps a segment whose records all go as one empty batch, so offsets stay in place", async () => {
    const rng = new Random(BASE_SEED);
    const log = await openLog({ dir: root, config: compactConfig() });
    await log.append(encode(rng, [{ key: "a", value: "1" }], BASE_TS));
    await log.roll();
    await log.append(encode(rng, [{ key: "a", value: "2" }], BASE_TS));
    await log.roll();
    await log.compact(BASE_TS, { force: true });
    expect(log.segmentBaseOffsets()).toEqual([0, 1, 2]);
    const { records } = await log.read(0, { maxBytes: 1 << 20 });
    // Segment 0 holds one batch with no records; reads go on to offset 1.
    expect([...batchSpans(records)].length).toBe(1);
    expect(decodeRecords(records)).toEqual([]);
    expect(await readLog(log, rng)).toEqual([{ offset: 1, key: "a", value: "2" }]);
    await log.close();
    const again = await openLog({ dir: root, config: compactConfig(), recoveryPoint: 0 });
    expect(again.logEndOffset).toBe(2);
    expect(await readLog(again, rng)).toEqual([{ offset: 1, key: "a", value: "2" }]);
    await again.close();
  });

  it("cleans only when min.cleanable.dirty.ratio or max.compaction.lag.ms asks", async () => {
    const rng = new Random(BASE_SEED);
    let clock = BASE_TS;
    const config = compactConfig({ minCleanableDirtyRatio: 0.5, maxCompactionLagMs: 100_000 });
    const log = await openLog({ dir: root, config, now: () => clock });
    for (let i = 0; i < 4; i++) {
      await log.append(encode(rng, [{ key: "k", value: `v${i}` }], clock));
      await log.roll();
    }
    expect((await log.compact(clock)).segmentsCleaned).toBe(3);
    await log.append(encode(rng, [{ key: "k", value: "v4" }], clock));
    await log.roll();
    // One small dirty segment beside four clean ones: below the ratio.
    expect((await log.compact(clock)).skipped).toBe("below-dirty-ratio");
    clock += 100_001;
    expect((await log.compact(clock)).skipped).toBeUndefined();
    expect(await readLog(log, rng)).toEqual([{ offset: 4, key: "k", value: "v4" }]);
    await log.close();
  });

  it("cleans only below the high watermark: a key's newer record above it may yet be truncated", async () => {
    const rng = new Random(BASE_SEED);
    // A follower's or a new leader's log: its high watermark is not at its end.
    const log = await PartitionLog.open({ dir: root, config: compactConfig() });
    for (let i = 0; i < 4; i++) {
      await log.append(encode(rng, [{ key: "k", value: `v${i}` }], BASE_TS));
      await log.roll();
    }
    log.setHighWatermark(2);
    const held = await log.compact(BASE_TS, { force: true });
    expect(held.cleanedUpTo).toBe(2);
    // Offset 1 is the newest below the high watermark: 0 goes, 1 to 3 stay.
    expect((await readLog(log, rng)).map((r) => r.value)).toEqual(["v1", "v2", "v3"]);
    // The uncommitted tail goes (a divergence): v1 is the key's record again, as it must be.
    await log.truncateTo(2);
    expect((await readLog(log, rng)).map((r) => r.value)).toEqual(["v1"]);
    log.setHighWatermark(log.logEndOffset);
    await log.close();
  });

  it("does not clean segments holding records newer than min.compaction.lag.ms", async () => {
    const rng = new Random(BASE_SEED);
    let clock = BASE_TS;
    const log = await openLog({
      dir: root,
      config: compactConfig({ minCompactionLagMs: 10_000 }),
      now: () => clock,
    });
    await log.append(encode(rng, [{ key: "k", value: "old" }], clock));
    await log.roll();
    clock += 20_000;
    await log.append(encode(rng, [{ key: "k", value: "new" }], clock));
    await log.roll();
    let stats = await log.compact(clock, { force: true });
    expect(stats.cleanedUpTo).toBe(1);
    expect((await readLog(log, rng)).length).toBe(2);
    clock += 10_000;
    stats = await log.compact(clock, { force: true });
    expect(stats.cleanedUpTo).toBe(2);
    expect(await readLog(log, rng)).toEqual([{ offset: 1, key: "k", value: "new" }]);
    await log.close();
  });

  it("does nothing under cleanup.policy=delete", async () => {
    const log = await openLog({
      dir: root,
      config: { ...compactConfig(), cleanupPolicy: "delete" },
    });
    expect((await log.compact()).skipped).toBe("not-compacted");
    await log.close();
  });

  it("runs beside appends and reads", async () => {
    const rng = new Random(BASE_SEED + 7);
    const log = await openLog({ dir: root, config: compactConfig() });
    const model = new Model();
    for (let i = 0; i < 200; i++) {
      const b = randomRecords(rng, 10, i);
      await log.append(encode(rng, b, BASE_TS));
      model.append(b);
    }
    await log.roll();
    const cleanEnd = log.logEndOffset;
    const pass = log.compact(BASE_TS, { force: true });
    expect(log.compact(BASE_TS)).toBe(pass);
    const appends: Promise<unknown>[] = [];
    for (let i = 0; i < 50; i++) {
      const b = randomRecords(rng, 10, 1000 + i);
      appends.push(log.append(encode(rng, b, BASE_TS)));
      model.append(b);
      await log.read(rng.int(0, log.logEndOffset), { maxBytes: 4096 });
    }
    await Promise.all(appends);
    await pass;
    model.compact(cleanEnd, BASE_TS, DELETE_RETENTION_MS);
    expect(await readLog(log, rng)).toEqual(plain(model.records));
    await log.close();
  });
});

describe("log compaction: crashes and faults", () => {
  /** Builds a compacted log of several segments; returns it open, with its model. */
  async function build(
    rng: Random,
    dir: string,
    config: LogConfig,
    fs?: StorageFs,
  ): Promise<{ log: PartitionLog; model: Model }> {
    const log = await openLog({ dir, config, fs, now: () => BASE_TS });
    const model = new Model();
    const n = rng.int(20, 60);
    for (let i = 0; i < n; i++) {
      const b = randomRecords(rng, rng.int(3, 15), i);
      await log.append(encode(rng, b, BASE_TS));
      model.append(b);
      if (rng.chance(0.1)) await log.roll();
    }
    await log.roll();
    return { log, model };
  }

  /**
   * A log reopened after a crash mid-pass: same end, nothing invented (every record is one the
   * model had before the pass, at its offset), nothing lost (every record the pass keeps is
   * there), the same latest value per key; and a pass run again gives exactly the model after it.
   */
  async function expectRecovered(
    dir: string,
    config: LogConfig,
    before: Model,
    after: Model,
    nowMs: number,
    cleanEnd: number,
    rng: Random,
  ): Promise<void> {
    const log = await openLog({ dir, config, recoveryPoint: 0, now: () => nowMs });
    try {
      expect(log.logEndOffset).toBe(before.logEnd);
      const got = await readLog(log, rng);
      const known = new Map(before.records.map((r) => [r.offset, r]));
      for (const r of got) expect(plain([known.get(r.offset) as MRecord])[0]).toEqual(r);
      const gotOffsets = new Set(got.map((r) => r.offset));
      for (const r of after.records) expect(gotOffsets.has(r.offset), `offset ${r.offset} lost`).toBe(true);
      const live = new Model();
      live.records = got.map((r) => ({ ...r }));
      expect(live.latest()).toEqual(after.latest());
      const stats = await log.compact(nowMs, { force: true });
      expect(stats.cleanedUpTo).toBe(cleanEnd);
      expect(await readLog(log, rng)).toEqual(plain(after.records));
      const names = readdirSync(dir);
      expect(names.filter((n) => /\.(cleaned|swap)$/.test(n))).toEqual([]);
    } finally {
      await log.close();
    }
  }

  for (let run = 0; run < 3; run++) {
    const seed = BASE_SEED + 100 + run;
    it(`a crash at any step of the swap protocol leaves the log readable and complete (seed ${seed})`, async () => {
      let where = "";
      await withSeed(
        seed,
        async (rng) => {
          const dir = path.join(root, "log");
          const config = compactConfig({ segmentBytes: rng.int(1, 3) * 1024 });
          const { log, model } = await build(rng, dir, config);
          // Earlier passes: some tombstones flagged, so this pass also expires some.
          const nowMs = BASE_TS + DELETE_RETENTION_MS + 1;
          const first = await log.compact(BASE_TS, { force: true });
          model.compact(first.cleanedUpTo, BASE_TS, DELETE_RETENTION_MS);
          for (let i = 0; i < 10; i++) {
            const b = randomRecords(rng, 10, 500 + i);
            await log.append(encode(rng, b, BASE_TS));
            model.append(b);
          }
          await log.roll();
          await log.close();

          const snapshots: { name: string; step: CleanerStep | "before" }[] = [];
          const snap = (step: CleanerStep | "before", base: number) => {
            const name = path.join(root, `snap-${snapshots.length}`);
            copyLogDir(dir, name);
            snapshots.push({ name, step });
            where = `${step} of segment ${base}`;
          };
          snap("before", 0);
          const live = await openLog({
            dir,
            config,
            now: () => nowMs,
            onCleanerStep: (step, base) => snap(step, base),
          });
          const before = model.clone();
          const stats = await live.compact(nowMs, { force: true });
          model.compact(stats.cleanedUpTo, nowMs, DELETE_RETENTION_MS);
          expect(stats.segmentsCleaned).toBeGreaterThan(0);
          expect(await readLog(live, rng)).toEqual(plain(model.records));
          await live.close();
          expect(snapshots.length).toBeGreaterThan(6);
          for (const s of snapshots) {
            where = `snapshot ${s.name} at ${s.step}`;
            // A crash before the fsync may leave any prefix of the cleaned file.
            for (const n of readdirSync(s.name)) {
              const file = path.join(s.name, n);
              if (n.endsWith(".cleaned") && rng.chance(0.5))
                truncateSync(file, rng.int(0, statSync(file).size));
            }
            await expectRecovered(s.name, config, before, model, nowMs, stats.cleanedUpTo, rng);
          }
        },
        () => where,
      );
    }, 120_000);
  }

  for (let run = 0; run < 6; run++) {
    const seed = BASE_SEED + 200 + run;
    it(`a pass stopped at a random step, then reopened uncleanly, loses nothing (seed ${seed})`, async () => {
      await withSeed(seed, async (rng) => {
        const dir = path.join(root, "log");
        const config = compactConfig();
        const built = await build(rng, dir, config);
        await built.log.close();
        const model = built.model;
        const steps: CleanerStep[] = [
          "cleaned-written",
          "cleaned-synced",
          "swap-renamed",
          "old-marked-deleted",
          "swap-installed",
          "swapped",
        ];
        const stopAt = rng.pick(steps);
        let remaining = rng.int(0, 3);
        const log = await openLog({
          dir,
          config,
          now: () => BASE_TS,
          onCleanerStep: (step) => {
            if (step === stopAt && remaining-- === 0) throw new Error(`stopped at ${step}`);
          },
        });
        const before = model.clone();
        const after = model.clone();
        const cleanEnd = log.segmentBaseOffsets().at(-1) as number;
        after.compact(cleanEnd, BASE_TS, DELETE_RETENTION_MS);
        const result = await log.compact(BASE_TS, { force: true }).catch((e: Error) => e);
        // Reads keep working in the process, whatever the pass left.
        const got = await readLog(log, rng);
        expect(got.length).toBeGreaterThanOrEqual(after.records.length);
        if (result instanceof Error && !log.failed) {
          // Stopped before the swap began: nothing changed on disk but the discarded .cleaned.
          expect(readdirSync(dir).filter((n) => n.endsWith(".cleaned"))).toEqual([]);
        }
        // An abandoned process: no close; the directory is copied as it stands.
        const crashed = path.join(root, "crashed");
        copyLogDir(dir, crashed);
        await log.close().catch(() => {});
        await expectRecovered(crashed, config, before, after, BASE_TS, cleanEnd, rng);
      });
    }, 60_000);
  }

  for (const fault of ["fdatasync", "write", "torn"] as const) {
    it(`a ${fault} failure on the cleaned file fails the pass, not the log`, async () => {
      const rng = new Random(BASE_SEED + 300);
      const dir = path.join(root, "log");
      const fs = new FaultyFs();
      const config = compactConfig();
      const { log, model } = await build(rng, dir, config, fs);
      fs.target = (file) => file.endsWith(".cleaned");
      if (fault === "fdatasync") fs.failFdatasync(1);
      else if (fault === "write") fs.failWrites(1);
      else fs.tearNextWrite(30);
      const cleanEnd = log.segmentBaseOffsets().at(-1) as number;
      await expect(log.compact(BASE_TS, { force: true })).rejects.toThrow();
      expect(log.failed).toBe(false);
      expect(readdirSync(dir).filter((n) => n.endsWith(".cleaned"))).toEqual([]);
      // Segments cleaned before the fault are in; the rest are as they were.
      const got = await readLog(log, rng);
      const after = model.clone();
      after.compact(cleanEnd, BASE_TS, DELETE_RETENTION_MS);
      const live = new Model();
      live.records = got.map((r) => ({ ...r }));
      expect(live.latest()).toEqual(after.latest());
      // Appends still work, and the next pass finishes the job.
      fs.heal();
      await log.append(encode(rng, [{ key: "z", value: "1" }], BASE_TS));
      after.append([{ key: "z", value: "1" }]);
      const stats = await log.compact(BASE_TS, { force: true });
      expect(stats.cleanedUpTo).toBe(cleanEnd);
      expect(await readLog(log, rng)).toEqual(plain(after.records));
      await log.close();
    });
  }
});

describe("keyless records", () => {
  const keyless = (compression: Compression) =>
    encodeRecordBatch(
      [
        { key: Buffer.from("k"), value: Buffer.from("a") },
        { key: null, value: Buffer.from("b") },
      ],
      { compression, baseTimestamp: BASE_TS },
    );

  for (const policy of ["compact", "compact,delete"] as const) {
    for (const compression of [Compression.None, Compression.Gzip]) {
      it(`are refused on cleanup.policy=${policy} with INVALID_RECORD (codec ${compression})`, async () => {
        const log = await openLog({ dir: root, config: compactConfig({ cleanupPolicy: policy }) });
        await expect(log.append(keyless(compression))).rejects.toSatisfy((e) =>
          KafkaError.is(e, "INVALID_RECORD"),
        );
        expect(log.logEndOffset).toBe(0);
        await log.close();
      });
    }
  }

  it("are accepted under cleanup.policy=delete", async () => {
    const log = await openLog({ dir: root, config: { ...DEFAULT_LOG_CONFIG } });
    await log.append(keyless(Compression.None));
    await log.append(keyless(Compression.Gzip));
    expect(log.logEndOffset).toBe(4);
    await log.close();
  });
});

describe("compaction configs and the log manager", () => {
  it("parses Kafka's names with Kafka's defaults", () => {
    expect(DEFAULT_LOG_CONFIG.deleteRetentionMs).toBe(86_400_000);
    expect(DEFAULT_LOG_CONFIG.minCleanableDirtyRatio).toBe(0.5);
    expect(DEFAULT_LOG_CONFIG.minCompactionLagMs).toBe(0);
    expect(DEFAULT_LOG_CONFIG.maxCompactionLagMs).toBe(Number.MAX_SAFE_INTEGER);
    const c = parseLogConfig({
      "delete.retention.ms": "1000",
      "min.cleanable.dirty.ratio": "0.25",
      "min.compaction.lag.ms": "5",
      "max.compaction.lag.ms": "600000",
    });
    expect(c).toMatchObject({
      deleteRetentionMs: 1000,
      minCleanableDirtyRatio: 0.25,
      minCompactionLagMs: 5,
      maxCompactionLagMs: 600_000,
    });
    expect(() => parseLogConfig({ "min.cleanable.dirty.ratio": "1.5" })).toThrow(/min.cleanable.dirty.ratio/);
  });

  it("LogManager.compactAll cleans compacted logs only", async () => {
    const rng = new Random(BASE_SEED);
    const manager = await LogManager.open({
      dataDir: root,
      configFor: (topic) => compactConfig({ cleanupPolicy: topic === "c" ? "compact" : "delete" }),
      checkpointIntervalMs: 0,
      retentionCheckIntervalMs: 0,
      cleanerBackoffMs: 0,
    });
    for (const topic of ["c", "d"]) {
      const log = committed(await manager.createLog(topic, 0));
      for (let i = 0; i < 5; i++) await log.append(encode(rng, [{ key: "k", value: `v${i}` }], BASE_TS));
      await log.roll();
    }
    expect(await manager.compactAll()).toBe(1);
    expect((await readLog(manager.getLog("c", 0) as PartitionLog, rng)).map((r) => r.offset)).toEqual([4]);
    expect((await readLog(manager.getLog("d", 0) as PartitionLog, rng)).length).toBe(5);
    await manager.close();
    expect(existsSync(path.join(root, "c-0", "cleaner-offset-checkpoint"))).toBe(true);
  });
});
