/**
 * Crash recovery. A log of several segments is built and closed once per template; each iteration
 * copies it, damages the copy the way a crash or a bad disk would (a cut tail, flipped bits,
 * missing or wrong index files, files left mid-replacement), reopens it uncleanly and checks that
 * the log holds exactly the valid prefix of what was appended, byte for byte, and keeps working.
 * Seeded: a failure names the seed and the damage; SAMSA_SEED varies or replays the run.
 */
import {
  accessSync,
  constants,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchSpans,
  CRC_OFFSET,
  encodeRecordBatch,
  LENGTH_OFFSET,
  MAGIC_OFFSET,
} from "../../protocol/record-batch.js";
import { RECOVERY_POINT_CHECKPOINT } from "../../storage/checkpoint.js";
import { DEFAULT_LOG_CONFIG, type LogConfig } from "../../storage/config.js";
import type { EpochEntry } from "../../storage/leader-epoch-cache.js";
import { PartitionLog } from "../../storage/log.js";
import { CLEAN_SHUTDOWN_MARKER, LogManager } from "../../storage/log-manager.js";
import { segmentFileName } from "../../storage/segment.js";
import {
  endOf,
  expectLogHolds,
  newClock,
  randomAppend,
  readAll,
  type StoredBatch,
  storedBatches,
  type TimestampClock,
} from "../helpers/log-check.js";
import { baseSeed, Random, withSeed } from "../helpers/random.js";

const BASE_SEED = baseSeed(20_240_601);

/** A stored batch and where it lies on disk. */
interface PlacedBatch extends StoredBatch {
  segment: number;
  position: number;
}

interface Template {
  dir: string;
  config: LogConfig;
  batches: PlacedBatch[];
  /** Base offset and size of each segment, in order. */
  segments: { base: number; size: number }[];
  logEnd: number;
  epochs: EpochEntry[];
  clock: TimestampClock;
}

let root: string;
let templates: Template[] = [];

beforeAll(async () => {
  root = mkdtempSync(path.join(scratchDir(), "samsa-crash-"));
  templates = [];
  for (let i = 0; i < 4; i++)
    templates.push(await buildTemplate(BASE_SEED * 31 + i, path.join(root, `t${i}`)));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/**
 * Where the copies live. Damage here is done to files directly, no power is lost, so a RAM file
 * system (when there is one) tests the same thing without the cost of thousands of fsyncs on a
 * shared disk. SAMSA_CRASH_DIR overrides it.
 */
function scratchDir(): string {
  if (process.env.SAMSA_CRASH_DIR) return process.env.SAMSA_CRASH_DIR;
  try {
    accessSync("/dev/shm", constants.W_OK);
    return "/dev/shm";
  } catch {
    return tmpdir();
  }
}

function config(overrides: Partial<LogConfig> = {}): LogConfig {
  return { ...DEFAULT_LOG_CONFIG, fileDeleteDelayMs: 0, ...overrides };
}

/** Appends random batches (a few at a time, so some share a group) until `targetBytes` are written. */
async function fillLog(
  log: PartitionLog,
  rng: Random,
  clock: TimestampClock,
  targetBytes: number,
): Promise<StoredBatch[]> {
  const out: StoredBatch[] = [];
  let epoch = 0;
  let bytes = 0;
  while (bytes < targetBytes) {
    const pending: Promise<Buffer>[] = [];
    for (let n = rng.int(1, 6); n > 0; n--) {
      if (rng.chance(0.04)) epoch++;
      const buf = randomAppend(rng, clock);
      bytes += buf.length;
      pending.push(log.append(buf, { leaderEpoch: epoch }).then(() => buf));
    }
    for (const buf of await Promise.all(pending)) out.push(...storedBatches(buf));
  }
  return out;
}

/** Reads a closed log's segment files and places each expected batch on disk. */
function placeBatches(dir: string, batches: StoredBatch[]): Pick<Template, "batches" | "segments"> {
  const names = readdirSync(dir)
    .filter((n) => n.endsWith(".log"))
    .sort();
  const placed: PlacedBatch[] = [];
  const segments: { base: number; size: number }[] = [];
  for (const name of names) {
    const data = readFileSync(path.join(dir, name));
    segments.push({ base: Number(name.slice(0, 20)), size: data.length });
    for (const [start, end] of batchSpans(data)) {
      const b = batches[placed.length];
      if (!b?.bytes.equals(data.subarray(start, end)))
        throw new Error(`template batch ${placed.length} moved`);
      placed.push({ ...b, segment: segments.length - 1, position: start });
    }
  }
  if (placed.length !== batches.length) throw new Error("template log lost batches");
  return { batches: placed, segments };
}

async function buildTemplate(seed: number, dir: string): Promise<Template> {
  const rng = new Random(seed);
  const cfg = config({
    segmentBytes: rng.int(4096, 16384),
    indexIntervalBytes: rng.pick([0, 64, 200, 512, 1024]),
    flushPolicy: "os",
  });
  const clock = newClock();
  const log = await PartitionLog.open({ dir, config: cfg });
  const batches = await fillLog(log, rng, clock, cfg.segmentBytes * rng.int(3, 6));
  const epochs = log.epochs.list();
  const logEnd = log.logEndOffset;
  await log.close();
  return {
    dir,
    config: { ...cfg, flushPolicy: "always" },
    logEnd,
    epochs,
    clock,
    ...placeBatches(dir, batches),
  };
}

/** A private copy of a template's directory. */
function copyOf(t: Template, name: string): string {
  const dir = path.join(root, "work", name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(path.dirname(dir), { recursive: true });
  cpSync(t.dir, dir, { recursive: true });
  return dir;
}

function segmentPath(dir: string, t: Template, segment: number, suffix = ".log"): string {
  return path.join(dir, segmentFileName(t.segments[segment].base, suffix));
}

/** Batches wholly before byte `position` of segment `segment`, and every earlier segment's. */
function prefixBefore(batches: PlacedBatch[], segment: number, position: number): PlacedBatch[] {
  return batches.filter(
    (b) => b.segment < segment || (b.segment === segment && b.position + b.bytes.length <= position),
  );
}

/**
 * After the checks on the recovered log: no leftovers on disk, an append continues at the log
 * end, and a clean reopen (from the index files the log wrote) sees the same log.
 */
async function expectUsable(
  log: PartitionLog,
  dir: string,
  t: Template,
  expected: StoredBatch[],
  segmentsKept: number,
  rng: Random,
): Promise<void> {
  const names = readdirSync(dir);
  expect(
    names.filter((n) => /\.(deleted|cleaned|swap|tmp)$/.test(n)),
    "leftover files",
  ).toEqual([]);
  const logs = names.filter((n) => n.endsWith(".log")).sort();
  expect(logs, "segment files").toEqual(
    t.segments.slice(0, segmentsKept).map((s) => segmentFileName(s.base, ".log")),
  );
  const end = endOf(expected);
  const epochs = t.epochs.filter((e) => e.startOffset < end);
  expect(log.epochs.list(), "leader epochs").toEqual(epochs);
  const epoch = epochs.length > 0 ? epochs[epochs.length - 1].epoch : 0;

  const clock = { now: t.clock.now };
  const more: StoredBatch[] = [];
  for (let n = rng.int(1, 4); n > 0; n--) {
    const buf = randomAppend(rng, clock);
    const result = await log.append(buf, { leaderEpoch: epoch });
    expect(result.baseOffset, "offset of the first append after recovery").toBe(endOf(more, end));
    more.push(...storedBatches(buf));
  }
  const all = [...expected, ...more];
  const logEnd = endOf(all);
  expect(log.logEndOffset, "log end after the appends").toBe(logEnd);
  const tail = await readAll(log, end, rng);
  expect(tail.length, "batches appended after recovery").toBe(more.length);
  tail.forEach((b, j) => {
    if (!b.equals(more[j].bytes)) expect.fail(`batch ${j} appended after recovery reads back changed`);
  });
  await log.close();

  const reopened = await PartitionLog.open({
    dir,
    config: t.config,
    cleanShutdown: true,
    recoveryPoint: logEnd,
  });
  try {
    expect(reopened.recovery.segmentsRecovered, "segments recovered on a clean reopen").toBe(0);
    await expectLogHolds(reopened, all, rng, { pointReads: 4, timestampLookups: 3 });
  } finally {
    await reopened.close();
  }
}

/** A recovery point to reopen with: 0, the checkpointed log end, or something in [0, max]. */
function recoveryPointUpTo(rng: Random, max: number): number {
  return rng.pick([0, max, rng.int(0, max)]);
}

describe("unclean recovery after a crash", () => {
  it("keeps exactly the whole batches before a cut in the last segment", async () => {
    const iterations = 120;
    for (let i = 0; i < iterations; i++) {
      let damage = "";
      await withSeed(
        BASE_SEED + i,
        async (rng) => {
          const t = rng.pick(templates);
          const dir = copyOf(t, "cut");
          const last = t.segments.length - 1;
          const size = t.segments[last].size;
          const inLast = t.batches.filter((b) => b.segment === last);
          const boundary = rng.pick(inLast).position;
          const cut = rng.pick([
            rng.int(0, size),
            rng.int(0, size),
            boundary,
            Math.min(size, boundary + rng.int(1, 70)),
            Math.max(0, size - rng.int(1, 100)),
            size,
            0,
          ]);
          const recoveryPoint = recoveryPointUpTo(rng, t.logEnd);
          damage = `cut ${segmentFileName(t.segments[last].base, ".log")} to ${cut} of ${size} bytes, recovery point ${recoveryPoint}`;
          truncateSync(segmentPath(dir, t, last), cut);

          const expected = prefixBefore(t.batches, last, cut);
          const log = await PartitionLog.open({ dir, config: t.config, recoveryPoint });
          try {
            expect(log.recovery.bytesTruncated, "bytes truncated").toBe(
              cut - (endPosition(expected, last) ?? 0),
            );
            await expectLogHolds(log, expected, rng);
            await expectUsable(log, dir, t, expected, t.segments.length, rng);
          } finally {
            await log.close();
          }
        },
        () => damage,
      );
    }
  });

  it("cuts the log at the first batch with a flipped bit and drops what follows", async () => {
    const iterations = 120;
    for (let i = 0; i < iterations; i++) {
      let damage = "";
      await withSeed(
        BASE_SEED + 1000 + i,
        async (rng) => {
          const t = rng.pick(templates);
          const dir = copyOf(t, "flip");
          // Flip 1-4 bits in bytes the CRC, the length or the magic guard; remember the first.
          const flips = new Map<string, { segment: number; position: number; bit: number }>();
          for (let n = rng.int(1, 4); n > 0; n--) {
            const b = rng.pick(t.batches);
            const at = rng.chance(0.15)
              ? rng.pick([LENGTH_OFFSET, LENGTH_OFFSET + 3, MAGIC_OFFSET, CRC_OFFSET + rng.int(0, 3)])
              : rng.int(MAGIC_OFFSET, b.bytes.length - 1);
            const flip = { segment: b.segment, position: b.position + at, bit: rng.int(0, 7) };
            flips.set(`${flip.segment}/${flip.position}/${flip.bit}`, flip);
          }
          const first = [...flips.values()].sort(
            (x, y) => x.segment - y.segment || x.position - y.position,
          )[0];
          // Bits below the recovery point are trusted, as Kafka trusts them: recover from there.
          const damagedSegment = first.segment;
          const isLast = damagedSegment === t.segments.length - 1;
          const recoveryPoint = recoveryPointUpTo(rng, isLast ? t.logEnd : t.segments[damagedSegment].base);
          damage = `flipped ${[...flips.keys()].join(", ")} (segment/position/bit), recovery point ${recoveryPoint}`;
          for (const f of flips.values()) flipBit(segmentPath(dir, t, f.segment), f.position, f.bit);

          const expected = prefixBefore(t.batches, first.segment, first.position);
          const log = await PartitionLog.open({ dir, config: t.config, recoveryPoint });
          try {
            await expectLogHolds(log, expected, rng);
            await expectUsable(log, dir, t, expected, damagedSegment + 1, rng);
          } finally {
            await log.close();
          }
        },
        () => damage,
      );
    }
  });

  it("keeps the log consistent when bits flip outside the CRC (base offset, leader epoch)", async () => {
    // Neither field is covered by the CRC, so such a flip cannot always be detected (nor can it
    // in Kafka). What must hold: the batches before it survive intact, the log stays ordered
    // and readable to its end, and appends continue from that end.
    const iterations = 60;
    for (let i = 0; i < iterations; i++) {
      let damage = "";
      await withSeed(
        BASE_SEED + 2000 + i,
        async (rng) => {
          const t = rng.pick(templates);
          const dir = copyOf(t, "flip-outside");
          const k = rng.int(0, t.batches.length - 1);
          const b = t.batches[k];
          const at = rng.chance(0.5) ? rng.int(0, 7) : rng.int(12, 15);
          const bit = rng.int(0, 7);
          damage = `flipped batch ${k} byte ${at} bit ${bit}`;
          flipBit(segmentPath(dir, t, b.segment), b.position + at, bit);

          const log = await PartitionLog.open({ dir, config: t.config, recoveryPoint: 0 });
          try {
            const got = await readBatchesOf(log, rng);
            expect(got.length, "batches before the flip are all kept").toBeGreaterThanOrEqual(k);
            // Every batch kept is the one appended at its place; the flipped one differs by its bit.
            for (let j = 0; j < got.length; j++) {
              const want = Buffer.from(t.batches[j].bytes);
              if (j === k) want[at] ^= 1 << bit;
              if (!got[j].bytes.equals(want)) expect.fail(`batch ${j} is not the one appended`);
            }
            for (let j = 1; j < got.length; j++) {
              expect(got[j].base, `batch ${j} follows batch ${j - 1}`).toBeGreaterThan(got[j - 1].last);
            }
            const end = log.logEndOffset;
            expect(end, "log end").toBe(got.length > 0 ? got[got.length - 1].last + 1 : 0);
            const buf = randomAppend(rng, { now: t.clock.now });
            expect((await log.append(buf)).baseOffset, "first append after recovery").toBe(end);
            const again = await readBatchesOf(log, rng);
            expect(again.length, "batches after one more append").toBe(
              got.length + storedBatches(buf).length,
            );
          } finally {
            await log.close();
          }
        },
        () => damage,
      );
    }
  });

  it("cuts a batch whose flipped base offset runs into the next segment's offsets", async () => {
    // Left in place, such a batch hides the offsets between it and the next segment: the log
    // end would fall inside a range no read can return.
    await withSeed(BASE_SEED + 2500, async (rng) => {
      const t = templates[0];
      const dir = copyOf(t, "flip-into-next");
      const lastOfFirst = t.batches.filter((b) => b.segment === 0).at(-1)!;
      const nextBase = t.segments[1].base;
      // The lowest bit of the base offset that, set, lifts the batch to the next segment or beyond.
      let bit = 0;
      while ((lastOfFirst.base & (1 << bit)) !== 0 || lastOfFirst.base + (1 << bit) < nextBase) bit++;
      flipBit(segmentPath(dir, t, 0), lastOfFirst.position + 7 - Math.floor(bit / 8), bit % 8);
      const log = await PartitionLog.open({ dir, config: t.config, recoveryPoint: 0 });
      try {
        const expected = t.batches.filter((b) => b.segment === 0 && b !== lastOfFirst);
        await expectLogHolds(log, expected, rng);
        await expectUsable(log, dir, t, expected, 1, rng);
      } finally {
        await log.close();
      }
    });
  });

  it("recovers every partition of a LogManager that stopped without its clean-shutdown marker", async () => {
    const iterations = 25;
    for (let i = 0; i < iterations; i++) {
      let damage = "";
      await withSeed(
        BASE_SEED + 3000 + i,
        async (rng) => {
          const dataDir = path.join(root, "manager", String(i));
          const cfg = config({
            segmentBytes: rng.int(4096, 8192),
            indexIntervalBytes: rng.pick([0, 100, 512]),
          });
          let building = true;
          const open = () =>
            LogManager.open({
              dataDir,
              configFor: () => (building ? { ...cfg, flushPolicy: "os" } : cfg),
              checkpointIntervalMs: 0,
              retentionCheckIntervalMs: 0,
            });
          const manager = await open();
          const partitions = rng.int(1, 3);
          const written: StoredBatch[][] = [];
          const clock = newClock();
          for (let p = 0; p < partitions; p++) {
            const log = await manager.createLog("events", p);
            written.push(await fillLog(log, rng, clock, cfg.segmentBytes * rng.int(2, 4)));
          }
          await manager.close();
          building = false;
          expect(existsSync(path.join(dataDir, CLEAN_SHUTDOWN_MARKER)), "marker after a clean close").toBe(
            true,
          );

          // The crash: no marker, and the recovery-point checkpoint is either kept or lost.
          unlinkSync(path.join(dataDir, CLEAN_SHUTDOWN_MARKER));
          const checkpointLost = rng.chance(0.4);
          if (checkpointLost) unlinkSync(path.join(dataDir, RECOVERY_POINT_CHECKPOINT));
          const expected: StoredBatch[][] = [];
          const notes: string[] = [];
          for (let p = 0; p < partitions; p++) {
            const dir = path.join(dataDir, `events-${p}`);
            const segs = readdirSync(dir)
              .filter((n) => n.endsWith(".log"))
              .sort();
            const placed = placeBatches(dir, written[p]);
            const kind = rng.pick(["none", "cut", "flip"]);
            if (kind === "cut") {
              const s = segs.length - 1;
              const file = path.join(dir, segs[s]);
              const size = placed.segments[s].size;
              const cut = rng.int(0, size);
              truncateSync(file, cut);
              expected.push(prefixBefore(placed.batches, s, cut));
              notes.push(`events-${p}: cut ${segs[s]} to ${cut}`);
            } else if (kind === "flip") {
              // With the checkpoint, only the last segment is re-validated: damage only it.
              const s = checkpointLost ? rng.int(0, segs.length - 1) : segs.length - 1;
              const file = path.join(dir, segs[s]);
              const b = rng.pick(placed.batches.filter((x) => x.segment === s));
              const position = b.position + rng.int(MAGIC_OFFSET, b.bytes.length - 1);
              const bit = rng.int(0, 7);
              flipBit(file, position, bit);
              expected.push(prefixBefore(placed.batches, s, position));
              notes.push(`events-${p}: flipped ${segs[s]} at ${position} bit ${bit}`);
            } else {
              expected.push(placed.batches);
            }
          }
          damage = `checkpoint ${checkpointLost ? "lost" : "kept"}; ${notes.join("; ")}`;

          const reopened = await open();
          try {
            expect(reopened.cleanStart, "clean start").toBe(false);
            expect(existsSync(path.join(dataDir, CLEAN_SHUTDOWN_MARKER)), "marker while running").toBe(false);
            for (let p = 0; p < partitions; p++) {
              const log = reopened.getLog("events", p);
              if (!log) expect.fail(`partition ${p} was not loaded`);
              await expectLogHolds(log, expected[p], rng, { pointReads: 6, timestampLookups: 4 });
              const buf = randomAppend(rng, clock);
              expect((await log.append(buf)).baseOffset, `append to partition ${p}`).toBe(endOf(expected[p]));
              expected[p] = [...expected[p], ...storedBatches(buf)];
            }
          } finally {
            await reopened.close();
          }
          const third = await open();
          try {
            expect(third.cleanStart, "clean start after a clean close").toBe(true);
            for (let p = 0; p < partitions; p++) {
              const log = third.getLog("events", p);
              if (!log) expect.fail(`partition ${p} was not loaded`);
              expect(log.recovery.segmentsRecovered, "segments recovered on a clean start").toBe(0);
              await expectLogHolds(log, expected[p], rng, { pointReads: 4, timestampLookups: 2 });
            }
          } finally {
            await third.close();
          }
          rmSync(dataDir, { recursive: true, force: true });
        },
        () => damage,
      );
    }
  });
});

describe("a process crash at any moment between operations", () => {
  it("recovers a copy of a live log's directory to exactly the acknowledged state", async () => {
    // Every write goes straight to its file, so a copy of the directory while the log is open is
    // what a killed process leaves behind: no index files for the active segment, stale ones
    // from an earlier clean start, `.deleted` files awaiting their timer.
    const iterations = 12;
    const history: string[] = [];
    for (let i = 0; i < iterations; i++) {
      let step = "";
      await withSeed(
        BASE_SEED + 8000 + i,
        async (rng) => {
          const cfg = config({
            segmentBytes: rng.int(2048, 8192),
            indexIntervalBytes: rng.pick([0, 100, 512]),
            flushPolicy: rng.pick(["always", "os"] as const),
          });
          const dir = path.join(root, "live", String(i));
          let log = await PartitionLog.open({ dir, config: cfg });
          const clock = newClock();
          let model: StoredBatch[] = [];
          let logStart = 0;
          let logEnd = 0;
          let snapshots = 0;
          history.length = 0;
          try {
            for (let s = 0; s < 50; s++) {
              const r = rng.float();
              if (r < 0.55) {
                step = `step ${s}: append`;
                const bufs = Array.from({ length: rng.int(1, 4) }, () => randomAppend(rng, clock));
                await Promise.all(bufs.map((b) => log.append(b)));
                for (const b of bufs) model.push(...storedBatches(b));
                logEnd = endOf(model, logEnd);
              } else if (r < 0.62) {
                step = `step ${s}: roll`;
                await log.roll();
              } else if (r < 0.68) {
                const offset = rng.int(logStart, logEnd + 1);
                step = `step ${s}: truncateTo(${offset})`;
                await log.truncateTo(offset);
                if (offset >= logEnd) {
                  // Nothing to remove.
                } else if (offset <= logStart) {
                  logStart = logEnd = offset;
                  model = [];
                } else {
                  // The whole batch holding `offset` goes; the log end never drops below its start.
                  const cut = model.findIndex((b) => b.last >= offset);
                  logEnd = Math.max(model[cut].base, logStart);
                  model = model.slice(0, cut);
                }
              } else if (r < 0.73) {
                const offset = rng.int(logStart, logEnd);
                step = `step ${s}: advanceLogStartOffset(${offset})`;
                await log.advanceLogStartOffset(offset);
                logStart = Math.max(logStart, offset);
              } else if (r < 0.78) {
                step = `step ${s}: clean restart`;
                await log.close();
                log = await PartitionLog.open({
                  dir,
                  config: cfg,
                  cleanShutdown: true,
                  recoveryPoint: log.recoveryPoint,
                  logStartOffset: logStart,
                });
              } else {
                const recoveryPoint = rng.pick([0, log.recoveryPoint]);
                step = `step ${s}: snapshot, recovery point ${recoveryPoint} (log ${logStart}..${logEnd})`;
                const snap = path.join(root, "live", `${i}-snap`);
                rmSync(snap, { recursive: true, force: true });
                snapshotDir(dir, snap);
                snapshots++;
                const copy = await PartitionLog.open({
                  dir: snap,
                  config: cfg,
                  recoveryPoint,
                  logStartOffset: logStart,
                });
                try {
                  const visible = model.filter((b) => b.last >= logStart);
                  await expectLogHolds(copy, visible, rng, {
                    logStart,
                    logEnd,
                    pointReads: 6,
                    timestampLookups: 4,
                  });
                  const buf = randomAppend(rng, clock);
                  expect((await copy.append(buf)).baseOffset, "append to the copy").toBe(logEnd);
                } finally {
                  await copy.close();
                  rmSync(snap, { recursive: true, force: true });
                }
              }
              model = model.filter((b) => b.last >= logStart);
              expect(log.logStartOffset, "live log start").toBe(logStart);
              expect(log.logEndOffset, "live log end").toBe(logEnd);
              history.push(`${step} -> ${log.logStartOffset}..${log.logEndOffset}`);
            }
            expect(snapshots).toBeGreaterThan(0);
          } finally {
            await log.close();
            rmSync(dir, { recursive: true, force: true });
          }
        },
        () => `${step}; history: ${history.slice(-8).join(" | ")}`,
      );
    }
  });
});

describe("a log start inside a batch (found by the snapshot test above)", () => {
  const T = 1_700_000_000_000;
  const batch = (stamps: number[]) =>
    encodeRecordBatch(stamps.map((s, i) => ({ key: null, value: Buffer.from(`r${i}`), timestamp: T + s })));

  it("offsetForTimestamp answers with a record at or after the log start, and its own timestamp", async () => {
    const dir = path.join(root, "start-inside-batch-ts");
    const log = await PartitionLog.open({ dir, config: config() });
    try {
      await log.append(batch([0, 10, 1, 1, 20]));
      await log.append(batch([30, 31]));
      await log.advanceLogStartOffset(2);
      expect(await log.offsetForTimestamp(0)).toEqual({ offset: 2, timestamp: T + 1 });
      // Offset 1 (T+10) lies below the log start: the answer is offset 4, not the start.
      expect(await log.offsetForTimestamp(T + 5)).toEqual({ offset: 4, timestamp: T + 20 });
      expect(await log.offsetForTimestamp(T + 21)).toEqual({ offset: 5, timestamp: T + 30 });
    } finally {
      await log.close();
    }
  });

  it("truncateTo an offset whose batch straddles the log start leaves the log empty at its start", async () => {
    const dir = path.join(root, "start-inside-batch-truncate");
    const cfg = config();
    const log = await PartitionLog.open({ dir, config: cfg });
    try {
      await log.append(batch([0, 1, 2, 3, 4]));
      await log.append(batch([5, 6, 7, 8, 9]));
      await log.advanceLogStartOffset(7);
      await log.truncateTo(8);
      expect([log.logStartOffset, log.logEndOffset]).toEqual([7, 7]);
      expect((await log.read(7, { maxBytes: 1000 })).records.length).toBe(0);
      expect((await log.append(batch([10]))).baseOffset).toBe(7);
    } finally {
      await log.close();
    }
    const reopened = await PartitionLog.open({
      dir,
      config: cfg,
      cleanShutdown: true,
      recoveryPoint: 8,
      logStartOffset: 7,
    });
    try {
      expect([reopened.logStartOffset, reopened.logEndOffset]).toEqual([7, 8]);
    } finally {
      await reopened.close();
    }
  });
});

type IndexDamage =
  | "delete index"
  | "delete timeindex"
  | "delete both"
  | "index odd length"
  | "timeindex odd length"
  | "index position past the log"
  | "index entries out of order"
  | "timeindex offset out of range"
  | "timeindex out of order"
  | "index garbage";

/** Damage the sanity check must catch; the segment is then rebuilt from its log. */
const DETECTED: IndexDamage[] = [
  "delete index",
  "delete timeindex",
  "delete both",
  "index odd length",
  "timeindex odd length",
  "index position past the log",
  "index entries out of order",
  "timeindex offset out of range",
  "timeindex out of order",
  "index garbage",
];

/** Harmless damage: a shorter index is still a valid sparse index (reads just scan further). */
type BenignDamage = "index empty" | "index prefix";

function damageIndex(
  dir: string,
  t: Template,
  segment: number,
  what: IndexDamage | BenignDamage,
  rng: Random,
) {
  const index = segmentPath(dir, t, segment, ".index");
  const timeIndex = segmentPath(dir, t, segment, ".timeindex");
  const idx = readFileSync(index);
  const tix = readFileSync(timeIndex);
  const entries = idx.length / 8;
  const timeEntries = tix.length / 12;
  switch (what) {
    case "delete index":
      unlinkSync(index);
      return;
    case "delete timeindex":
      unlinkSync(timeIndex);
      return;
    case "delete both":
      unlinkSync(index);
      unlinkSync(timeIndex);
      return;
    case "index odd length":
      writeFileSync(index, idx.length >= 8 ? idx.subarray(0, idx.length - rng.int(1, 7)) : Buffer.alloc(3));
      return;
    case "timeindex odd length":
      writeFileSync(timeIndex, tix.subarray(0, tix.length - rng.int(1, 11)));
      return;
    case "index position past the log":
    case "index entries out of order":
    case "index garbage": {
      if (what === "index entries out of order" && entries >= 2) {
        const i = rng.int(0, entries - 2);
        const a = Buffer.from(idx.subarray(i * 8, i * 8 + 8));
        idx.copy(idx, i * 8, (i + 1) * 8, (i + 2) * 8);
        a.copy(idx, (i + 1) * 8);
        writeFileSync(index, idx);
      } else if (what === "index garbage" && entries >= 1) {
        // Random bytes, with every position field made larger than any segment here.
        const junk = rng.bytes(idx.length);
        for (let i = 0; i < entries; i++) junk[i * 8 + 4] |= 0x80;
        writeFileSync(index, junk);
      } else {
        const entry = Buffer.alloc(8);
        entry.writeUInt32BE(entries === 0 ? 1 : idx.readUInt32BE(idx.length - 8) + 1, 0);
        entry.writeUInt32BE(t.segments[segment].size + rng.int(0, 1000), 4);
        writeFileSync(index, Buffer.concat([idx, entry]));
      }
      return;
    }
    case "timeindex offset out of range": {
      const i = rng.int(0, timeEntries - 1);
      tix.writeUInt32BE(0x8000_0000 + rng.int(0, 1000), i * 12 + 8);
      writeFileSync(timeIndex, tix);
      return;
    }
    case "timeindex out of order": {
      if (timeEntries >= 2) {
        const i = rng.int(0, timeEntries - 2);
        const a = Buffer.from(tix.subarray(i * 12, i * 12 + 12));
        tix.copy(tix, i * 12, (i + 1) * 12, (i + 2) * 12);
        a.copy(tix, (i + 1) * 12);
      } else {
        tix.writeUInt32BE(0x8000_0000, 8);
      }
      writeFileSync(timeIndex, tix);
      return;
    }
    case "index empty":
      writeFileSync(index, Buffer.alloc(0));
      return;
    case "index prefix":
      writeFileSync(index, idx.subarray(0, 8 * rng.int(0, entries)));
      return;
  }
}

describe("index files", () => {
  it("rebuilds missing or damaged index files from the log, and writes them back", async () => {
    const iterations = 80;
    for (let i = 0; i < iterations; i++) {
      let damage = "";
      await withSeed(
        BASE_SEED + 4000 + i,
        async (rng) => {
          const t = rng.pick(templates);
          const dir = copyOf(t, "index");
          const notes: string[] = [];
          let detected = 0;
          const damaged = new Set<number>();
          for (let s = 0; s < t.segments.length; s++) {
            if (!rng.chance(0.4) && !(s === t.segments.length - 1 && damaged.size === 0)) continue;
            const what = rng.chance(0.85)
              ? rng.pick(DETECTED)
              : rng.pick<BenignDamage>(["index empty", "index prefix"]);
            damageIndex(dir, t, s, what, rng);
            notes.push(`segment ${s}: ${what}`);
            if ((DETECTED as string[]).includes(what)) {
              detected++;
              damaged.add(s);
            }
          }
          const clean = rng.chance(0.5);
          const recoveryPoint = clean ? t.logEnd : recoveryPointUpTo(rng, t.logEnd);
          damage = `${notes.join("; ")}; ${clean ? "clean" : `unclean, recovery point ${recoveryPoint}`} open`;

          const log = await PartitionLog.open({ dir, config: t.config, cleanShutdown: clean, recoveryPoint });
          try {
            if (clean) expect(log.recovery.segmentsRecovered, "segments rebuilt").toBe(detected);
            else expect(log.recovery.segmentsRecovered).toBeGreaterThanOrEqual(detected > 0 ? 1 : 0);
            expect(log.recovery.bytesTruncated, "bytes truncated").toBe(0);
            await expectLogHolds(log, t.batches, rng, { pointReads: 24, timestampLookups: 16 });
            const max = await log.maxTimestampOffset();
            const top = Math.max(...t.batches.flatMap((b) => b.records.map((r) => r.timestamp)));
            expect(max?.timestamp, "max timestamp").toBe(top);
          } finally {
            await log.close();
          }
          // Every rebuilt index is back on disk, as it was written when its segment was sealed.
          for (const s of damaged) {
            for (const suffix of [".index", ".timeindex"]) {
              const rebuilt = readFileSync(segmentPath(dir, t, s, suffix));
              const original = readFileSync(segmentPath(t.dir, t, s, suffix));
              if (!rebuilt.equals(original)) expect.fail(`segment ${s} ${suffix} was not rebuilt as written`);
            }
          }
          const reopened = await PartitionLog.open({
            dir,
            config: t.config,
            cleanShutdown: true,
            recoveryPoint: t.logEnd,
          });
          try {
            expect(reopened.recovery.segmentsRecovered, "segments rebuilt again").toBe(0);
            await expectLogHolds(reopened, t.batches, rng, { pointReads: 8, timestampLookups: 8 });
          } finally {
            await reopened.close();
          }
        },
        () => damage,
      );
    }
  });
});

describe("files left mid-replacement", () => {
  it("removes .deleted segments (retention interrupted by a crash) and starts after them", async () => {
    for (let i = 0; i < 8; i++) {
      await withSeed(BASE_SEED + 5000 + i, async (rng) => {
        const t = templates[i % templates.length];
        const dir = copyOf(t, "deleted");
        const gone = rng.int(1, Math.min(2, t.segments.length - 1));
        for (let s = 0; s < gone; s++) {
          for (const suffix of [".log", ".index", ".timeindex"]) {
            if (s === gone - 1 && suffix !== ".log" && rng.chance(0.5)) continue; // renamed partway
            renameSync(segmentPath(dir, t, s, suffix), `${segmentPath(dir, t, s, suffix)}.deleted`);
          }
        }
        const clean = rng.chance(0.5);
        const log = await PartitionLog.open({
          dir,
          config: t.config,
          cleanShutdown: clean,
          recoveryPoint: 0,
        });
        try {
          const expected = t.batches.filter((b) => b.segment >= gone);
          expect(log.segmentBaseOffsets()).toEqual(t.segments.slice(gone).map((s) => s.base));
          await expectLogHolds(log, expected, rng, { logStart: t.segments[gone].base });
          await expect(log.read(0, { maxBytes: 100 })).rejects.toMatchObject({ code: "OFFSET_OUT_OF_RANGE" });
          const names = readdirSync(dir);
          expect(names.filter((n) => n.endsWith(".deleted"))).toEqual([]);
          for (let s = 0; s < gone; s++) {
            expect(names.some((n) => n.startsWith(segmentFileName(t.segments[s].base, "")))).toBe(false);
          }
          const buf = randomAppend(rng, { now: t.clock.now });
          expect((await log.append(buf)).baseOffset).toBe(t.logEnd);
        } finally {
          await log.close();
        }
      });
    }
  });

  it("removes .cleaned, .tmp and orphan index files and leaves the log as it was", async () => {
    for (let i = 0; i < 8; i++) {
      await withSeed(BASE_SEED + 6000 + i, async (rng) => {
        const t = templates[i % templates.length];
        const dir = copyOf(t, "cleaned");
        const s = rng.int(0, t.segments.length - 1);
        const cleaned = segmentPath(dir, t, s, ".log.cleaned");
        // A half-written compaction output: the first batches of the segment, then a torn one.
        const data = readFileSync(segmentPath(dir, t, s));
        writeFileSync(cleaned, data.subarray(0, rng.int(0, data.length)));
        writeFileSync(segmentPath(dir, t, s, ".index.cleaned"), rng.bytes(16));
        writeFileSync(path.join(dir, "leader-epoch-checkpoint.tmp"), "0\n1\n99 0\n");
        writeFileSync(segmentPath(dir, t, s, ".index.tmp"), rng.bytes(8));
        const orphan = segmentFileName(t.logEnd + 1000, ".index");
        writeFileSync(path.join(dir, orphan), rng.bytes(8));
        writeFileSync(path.join(dir, segmentFileName(t.logEnd + 1000, ".timeindex")), rng.bytes(12));

        const clean = rng.chance(0.5);
        const log = await PartitionLog.open({
          dir,
          config: t.config,
          cleanShutdown: clean,
          recoveryPoint: 0,
        });
        try {
          const names = readdirSync(dir);
          expect(names.filter((n) => /\.(cleaned|tmp)$/.test(n))).toEqual([]);
          expect(names).not.toContain(orphan);
          expect(log.epochs.list()).toEqual(t.epochs);
          await expectLogHolds(log, t.batches, rng);
        } finally {
          await log.close();
        }
      });
    }
  });

  it("completes a .swap: the swapped-in segment replaces the segments it covers", async () => {
    for (let i = 0; i < 12; i++) {
      let damage = "";
      await withSeed(
        BASE_SEED + 7000 + i,
        async (rng) => {
          const t = templates[i % templates.length];
          const dir = copyOf(t, "swap");
          // A compaction of segments 0..k: a random subset of their batches, in one file.
          const k = rng.int(0, t.segments.length - 2);
          const covered = t.batches.filter((b) => b.segment <= k);
          let kept = covered.filter(() => rng.chance(0.6));
          if (kept.length === 0 || rng.chance(0.5))
            kept = [...kept.filter((b) => b !== covered.at(-1)), covered.at(-1)!];
          kept.sort((a, b) => a.base - b.base);
          const swapLast = kept[kept.length - 1].last;
          writeFileSync(segmentPath(dir, t, 0, ".log.swap"), Buffer.concat(kept.map((b) => b.bytes)));
          if (rng.chance(0.5)) writeFileSync(segmentPath(dir, t, 0, ".index.swap"), Buffer.alloc(8));
          // A crash partway through the swap may already have removed some covered files.
          const removed: string[] = [];
          for (let s = 1; s <= k; s++) {
            if (t.segments[s].base <= swapLast && rng.chance(0.3)) {
              unlinkSync(segmentPath(dir, t, s));
              removed.push(segmentFileName(t.segments[s].base, ".log"));
            }
          }
          damage = `swap over segments 0..${k} keeping ${kept.length}/${covered.length} batches, last offset ${swapLast}; already removed: ${removed.join(",")}`;

          const expected = [...kept, ...t.batches.filter((b) => t.segments[b.segment].base > swapLast)];
          const clean = rng.chance(0.5);
          const log = await PartitionLog.open({
            dir,
            config: t.config,
            cleanShutdown: clean,
            recoveryPoint: 0,
          });
          try {
            const names = readdirSync(dir);
            expect(names.filter((n) => n.endsWith(".swap"))).toEqual([]);
            const bases = t.segments.filter((s, j) => j === 0 || s.base > swapLast).map((s) => s.base);
            expect(log.segmentBaseOffsets()).toEqual(bases);
            await expectLogHolds(log, expected, rng, { logStart: 0, pointReads: 24 });
            const buf = randomAppend(rng, { now: t.clock.now });
            expect((await log.append(buf)).baseOffset).toBe(t.logEnd);
          } finally {
            await log.close();
          }
        },
        () => damage,
      );
    }
  });
});

/** The position after the last of `batches` in segment `segment`, or undefined if none lies there. */
function endPosition(batches: PlacedBatch[], segment: number): number | undefined {
  const last = batches.filter((b) => b.segment === segment).at(-1);
  return last ? last.position + last.bytes.length : undefined;
}

/**
 * Copies a live log's directory file by file, as a crash at that moment would leave it; a file
 * unlinked meanwhile (a segment deletion running on its timer) is simply not there.
 */
function snapshotDir(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) {
    try {
      copyFileSync(path.join(from, name), path.join(to, name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
}

function flipBit(file: string, position: number, bit: number): void {
  const data = readFileSync(file);
  data[position] ^= 1 << bit;
  writeFileSync(file, data);
}

/** Every batch of the log from its start, as StoredBatches. */
async function readBatchesOf(log: PartitionLog, rng: Random): Promise<StoredBatch[]> {
  const out: StoredBatch[] = [];
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    const { records } = await log.read(offset, { maxBytes: rng.int(1, 16384) });
    if (records.length === 0) break;
    for (const b of storedBatches(records)) {
      out.push(b);
      offset = b.last + 1;
    }
  }
  return out;
}
