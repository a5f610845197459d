/**
 * Fault injection through FaultyFs: a disk that refuses writes (ENOSPC), tears them, or fails
 * fdatasync (EIO). The log must refuse the failing appends and every later one with
 * KAFKA_STORAGE_ERROR, keep serving reads, never acknowledge what it could not write and flush,
 * and reopen (uncleanly, on the real file system) with every acknowledged append intact.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { KafkaError } from "../../protocol/errors.js";
import { encodeRecordBatch } from "../../protocol/record-batch.js";
import { DEFAULT_LOG_CONFIG, type LogConfig } from "../../storage/config.js";
import { type AppendResult, PartitionLog } from "../../storage/log.js";
import { CLEAN_SHUTDOWN_MARKER, LogManager } from "../../storage/log-manager.js";
import { FaultyFs } from "../helpers/faulty-fs.js";
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
import { baseSeed, type Random, withSeed } from "../helpers/random.js";

const BASE_SEED = baseSeed(7_340_033);

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "samsa-faults-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function config(overrides: Partial<LogConfig> = {}): LogConfig {
  return {
    ...DEFAULT_LOG_CONFIG,
    fileDeleteDelayMs: 0,
    segmentBytes: 8192,
    indexIntervalBytes: 256,
    ...overrides,
  };
}

const isLogFile = (file: string) => file.endsWith(".log");

/** Appends `count` random appends, a few at a time, all acknowledged; the batches stored. */
async function appendAcked(log: PartitionLog, rng: Random, clock: TimestampClock, count: number) {
  const out: StoredBatch[] = [];
  while (count > 0) {
    const bufs = Array.from({ length: Math.min(count, rng.int(1, 5)) }, () => randomAppend(rng, clock));
    count -= bufs.length;
    await Promise.all(bufs.map((b) => log.append(b)));
    for (const b of bufs) out.push(...storedBatches(b));
  }
  return out;
}

/** Lets the writer start on what is queued (it starts on a microtask, then awaits the fs). */
function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Settles every promise, expecting each to have failed with KAFKA_STORAGE_ERROR. */
async function expectAllStorageErrors(promises: Promise<unknown>[], cause?: "EIO" | "ENOSPC"): Promise<void> {
  const results = await Promise.allSettled(promises);
  results.forEach((r, i) => {
    expect(r.status, `promise ${i}`).toBe("rejected");
    if (r.status !== "rejected") return;
    expect(KafkaError.is(r.reason, "KAFKA_STORAGE_ERROR"), `promise ${i}: ${r.reason}`).toBe(true);
    if (cause) expect((r.reason as KafkaError).cause, `cause of promise ${i}`).toMatchObject({ code: cause });
  });
}

/** A failed log refuses every change with KAFKA_STORAGE_ERROR, and still serves what it holds. */
async function expectFailedButReadable(
  log: PartitionLog,
  acked: StoredBatch[],
  rng: Random,
  clock: TimestampClock,
) {
  expect(log.failed).toBe(true);
  expect(log.logEndOffset, "log end after the fault").toBe(endOf(acked));
  await expectAllStorageErrors([
    log.append(randomAppend(rng, clock)),
    log.flush(),
    log.roll(),
    log.truncateTo(0),
  ]);
  expect(log.logEndOffset).toBe(endOf(acked));
  await expectLogHolds(log, acked, rng, { pointReads: 8, timestampLookups: 4 });
}

/**
 * Closes the faulty log, reopens the directory uncleanly on the real file system, and checks it
 * holds the acknowledged batches followed by, at most, a prefix of `unacknowledged` (bytes that
 * reached the file before the fault); then that appends continue at the log end.
 */
async function reopenAndCheck(
  log: PartitionLog,
  cfg: LogConfig,
  acked: StoredBatch[],
  rng: Random,
  clock: TimestampClock,
  unacknowledged: StoredBatch[] = [],
): Promise<StoredBatch[]> {
  await log.close();
  const recoveryPoint = rng.int(0, endOf(acked));
  const reopened = await PartitionLog.open({ dir, config: cfg, recoveryPoint });
  try {
    const got = await readAll(reopened, 0, rng);
    expect(got.length, "batches after reopening").toBeGreaterThanOrEqual(acked.length);
    const expected = [...acked, ...unacknowledged].slice(0, got.length);
    expect(got.length, "batches after reopening").toBeLessThanOrEqual(acked.length + unacknowledged.length);
    await expectLogHolds(reopened, expected, rng, { pointReads: 8, timestampLookups: 4 });
    const buf = randomAppend(rng, clock);
    expect((await reopened.append(buf)).baseOffset, "append after reopening").toBe(endOf(expected));
    return expected.slice(acked.length);
  } finally {
    await reopened.close();
  }
}

describe("fault injection", () => {
  it("ENOSPC on write: the failing appends and all queued behind them fail; acknowledged ones survive", async () => {
    for (let i = 0; i < 12; i++) {
      await withSeed(BASE_SEED + i, async (rng) => {
        rmSync(dir, { recursive: true, force: true });
        const cfg = config();
        const fs = new FaultyFs();
        fs.target = isLogFile;
        const clock = newClock();
        const log = await PartitionLog.open({ dir, config: cfg, fs });
        const acked = await appendAcked(log, rng, clock, rng.int(0, 40));
        const recoveryPoint = log.recoveryPoint;
        expect(recoveryPoint).toBe(endOf(acked));

        // One append in flight (held at its write), more queued behind it, then the disk fills.
        const release = fs.holdWrites();
        const first = [log.append(randomAppend(rng, clock))];
        await tick();
        const queued: Promise<unknown>[] = [];
        for (let n = rng.int(1, 5); n > 0; n--) queued.push(log.append(randomAppend(rng, clock)));
        queued.push(log.flush());
        fs.failWrites(rng.chance(0.5) ? 1 : "all");
        release();
        await expectAllStorageErrors(first, "ENOSPC");
        await expectAllStorageErrors(queued);
        expect(fs.injected).toBe(1);
        expect(log.recoveryPoint, "recovery point").toBe(recoveryPoint);

        fs.heal();
        await expectFailedButReadable(log, acked, rng, clock);
        const extra = await reopenAndCheck(log, cfg, acked, rng, clock);
        expect(extra, "ENOSPC wrote nothing").toEqual([]);
      });
    }
  });

  it("fdatasync EIO: the group is not acknowledged, the log stays failed though later syncs would work", async () => {
    for (let i = 0; i < 12; i++) {
      await withSeed(BASE_SEED + 100 + i, async (rng) => {
        rmSync(dir, { recursive: true, force: true });
        const cfg = config();
        const fs = new FaultyFs();
        fs.target = isLogFile;
        const clock = newClock();
        const log = await PartitionLog.open({ dir, config: cfg, fs });
        const acked = await appendAcked(log, rng, clock, rng.int(0, 40));

        const release = fs.holdWrites();
        const bufs = Array.from({ length: rng.int(1, 4) }, () => randomAppend(rng, clock));
        const group = bufs.map((b) => log.append(b));
        await tick();
        const behind = [log.append(randomAppend(rng, clock)), log.roll()];
        fs.failFdatasync(1);
        release();
        await expectAllStorageErrors(group, "EIO");
        await expectAllStorageErrors(behind);
        expect(log.recoveryPoint, "recovery point").toBe(endOf(acked));

        // Only one fdatasync was made to fail: the log must not trust the disk again anyway.
        await expectFailedButReadable(log, acked, rng, clock);
        // The group's bytes reached the file (only the sync failed): they may come back, whole.
        const written = bufs.flatMap((b) => storedBatches(b));
        await reopenAndCheck(log, cfg, acked, rng, clock, written);
      });
    }
  });

  it("a torn write leaves the log recoverable to exactly the acknowledged prefix", async () => {
    for (let i = 0; i < 30; i++) {
      let damage = "";
      await withSeed(
        BASE_SEED + 200 + i,
        async (rng) => {
          rmSync(dir, { recursive: true, force: true });
          // Large segments: the appends below form one group, written by one writev.
          const cfg = config({ segmentBytes: 1 << 20 });
          const fs = new FaultyFs();
          fs.target = isLogFile;
          const clock = newClock();
          const log = await PartitionLog.open({ dir, config: cfg, fs });
          const acked = await appendAcked(log, rng, clock, rng.int(0, 30));

          const bufs = Array.from({ length: rng.int(1, 5) }, () => randomAppend(rng, clock));
          const total = bufs.reduce((n, b) => n + b.length, 0);
          // Within the first batch (nothing of the group is whole), or anywhere in the group.
          const firstBatch = storedBatches(bufs[0])[0].bytes.length;
          const torn = rng.chance(0.5) ? rng.int(0, firstBatch - 1) : rng.int(0, total - 1);
          damage = `torn after ${torn} of ${total} bytes (first batch ${firstBatch})`;
          fs.tearNextWrite(torn);
          const group = bufs.map((b) => log.append(b));
          await expectAllStorageErrors(group, "ENOSPC");
          expect(fs.injected).toBe(1);
          await expectFailedButReadable(log, acked, rng, clock);

          // Recovery keeps exactly the acknowledged batches and the group's batches that landed whole.
          const whole: StoredBatch[] = [];
          let bytes = 0;
          for (const b of bufs.flatMap((x) => storedBatches(x))) {
            bytes += b.bytes.length;
            if (bytes > torn) break;
            whole.push(b);
          }
          await log.close();
          const reopened = await PartitionLog.open({
            dir,
            config: cfg,
            recoveryPoint: rng.int(0, endOf(acked)),
          });
          try {
            const wholeBytes = whole.reduce((n, b) => n + b.bytes.length, 0);
            expect(reopened.recovery.bytesTruncated, "bytes truncated").toBe(torn - wholeBytes);
            await expectLogHolds(reopened, [...acked, ...whole], rng, { pointReads: 8, timestampLookups: 4 });
            const next = await reopened.append(randomAppend(rng, clock));
            expect(next.baseOffset).toBe(endOf([...acked, ...whole]));
          } finally {
            await reopened.close();
          }
        },
        () => damage,
      );
    }
  });

  it("a failed fdatasync while rolling a segment fails the log and creates no segment", async () => {
    await withSeed(BASE_SEED + 300, async (rng) => {
      const cfg = config({ segmentBytes: 4096 });
      const fs = new FaultyFs();
      fs.target = isLogFile;
      const clock = newClock();
      const log = await PartitionLog.open({ dir, config: cfg, fs });
      const acked = await appendAcked(log, rng, clock, 12);
      const segments = log.segmentBaseOffsets();
      // Whatever the active segment holds, a batch this large cannot join it: the log must roll.
      const big = bigBatch(rng, clock, 3900);
      fs.failFdatasync(1);
      const syncs = fs.calls.fdatasync;
      await expectAllStorageErrors([log.append(big)], "EIO");
      expect(fs.calls.fdatasync, "one fdatasync: the roll's").toBe(syncs + 1);
      expect(log.segmentBaseOffsets()).toEqual(segments);
      await expectFailedButReadable(log, acked, rng, clock);
      await reopenAndCheck(log, cfg, acked, rng, clock);
    });
  });

  it("flush.policy=os: a failed flush() fails the log and leaves the recovery point where it was", async () => {
    await withSeed(BASE_SEED + 400, async (rng) => {
      const cfg = config({ flushPolicy: "os", segmentBytes: 1 << 20 });
      const fs = new FaultyFs();
      fs.target = isLogFile;
      const clock = newClock();
      const log = await PartitionLog.open({ dir, config: cfg, fs });
      const flushed = await appendAcked(log, rng, clock, 10);
      await log.flush();
      expect(log.recoveryPoint).toBe(endOf(flushed));
      const syncs = fs.calls.fdatasync;
      const acked = [...flushed, ...(await appendAcked(log, rng, clock, 10))];
      expect(fs.calls.fdatasync, "no fdatasync per append under flush.policy=os").toBe(syncs);
      fs.failFdatasync("all");
      await expectAllStorageErrors([log.flush()], "EIO");
      expect(log.recoveryPoint, "recovery point").toBe(endOf(flushed));
      await expectFailedButReadable(log, acked, rng, clock);
      fs.heal();
      // The acknowledged appends reached the page cache, so they survive a process restart.
      await reopenAndCheck(log, cfg, acked, rng, clock);
    });
  });

  it("ENOSPC writing the leader-epoch checkpoint fails the append that needed it", async () => {
    await withSeed(BASE_SEED + 500, async (rng) => {
      const cfg = config();
      const fs = new FaultyFs();
      const clock = newClock();
      const log = await PartitionLog.open({ dir, config: cfg, fs });
      const acked: StoredBatch[] = [];
      for (let n = 0; n < 5; n++) {
        const buf = randomAppend(rng, clock);
        await log.append(buf, { leaderEpoch: 1 });
        acked.push(...storedBatches(buf));
      }
      fs.target = (file) => file.includes("leader-epoch-checkpoint");
      fs.failWrites("all");
      const buf = randomAppend(rng, clock);
      await expectAllStorageErrors([log.append(buf, { leaderEpoch: 2 })], "ENOSPC");
      fs.heal();
      await expectFailedButReadable(log, acked, rng, clock);
      // Its batch was written and synced before the checkpoint failed: it may come back.
      await reopenAndCheck(log, cfg, acked, rng, clock, storedBatches(buf));
    });
  });

  it("close() waits for segment deletions already running, so the directory reopens at once", async () => {
    await withSeed(BASE_SEED + 900, async (rng) => {
      const fs = new FaultyFs();
      const cfg = config({ fileDeleteDelayMs: 0 });
      const clock = newClock();
      const log = await PartitionLog.open({ dir, config: cfg, fs });
      const batches: StoredBatch[] = [];
      for (let n = 0; n < 3; n++) {
        batches.push(...(await appendAcked(log, rng, clock, 3)));
        await log.roll();
      }
      const release = fs.hold("unlink");
      const start = log.segmentBaseOffsets()[2];
      await log.advanceLogStartOffset(start);
      // The deletion timer fires and its unlinks wait at the gate.
      await new Promise((resolve) => setTimeout(resolve, 20));
      let closed = false;
      const closing = log.close().then(() => {
        closed = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(closed, "close() returned while a deletion was still unlinking files").toBe(false);
      release();
      await closing;
      expect(readdirSync(dir).filter((n) => n.endsWith(".deleted"))).toEqual([]);
      const reopened = await PartitionLog.open({ dir, config: cfg, recoveryPoint: 0, logStartOffset: start });
      try {
        await expectLogHolds(
          reopened,
          batches.filter((b) => b.base >= start),
          rng,
        );
      } finally {
        await reopened.close();
      }
    });
  });

  it("appends made together share one writev and one fdatasync (group commit)", async () => {
    await withSeed(BASE_SEED + 600, async (rng) => {
      const fs = new FaultyFs();
      const clock = newClock();
      const log = await PartitionLog.open({ dir, config: config({ segmentBytes: 1 << 20 }), fs });
      await log.append(randomAppend(rng, clock));
      const writes = fs.calls.writev;
      const syncs = fs.calls.fdatasync;
      const results: AppendResult[] = await Promise.all(
        Array.from({ length: 20 }, () => log.append(randomAppend(rng, clock))),
      );
      expect(fs.calls.writev - writes, "writev calls").toBe(1);
      expect(fs.calls.fdatasync - syncs, "fdatasync calls").toBe(1);
      for (let j = 1; j < results.length; j++)
        expect(results[j].baseOffset).toBe(results[j - 1].lastOffset + 1);
      await log.close();
    });
  });

  it("a flush that fails while closing fails the log: LogManager writes no clean-shutdown marker", async () => {
    await withSeed(BASE_SEED + 800, async (rng) => {
      const fs = new FaultyFs();
      // Under flush.policy=os the flush at close is the one that makes acknowledged appends durable.
      const cfg = config({ flushPolicy: "os" });
      const open = (sfs?: FaultyFs) =>
        LogManager.open({
          dataDir: dir,
          fs: sfs,
          configFor: () => cfg,
          checkpointIntervalMs: 0,
          retentionCheckIntervalMs: 0,
        });
      const manager = await open(fs);
      const clock = newClock();
      const log = await manager.createLog("t", 0);
      const acked = await appendAcked(log, rng, clock, 10);
      fs.target = isLogFile;
      fs.failFdatasync("all");
      await manager.close();
      expect(fs.injected, "the close's fdatasync failed").toBeGreaterThan(0);
      expect(log.failed, "log failed by its close").toBe(true);
      expect(existsSync(path.join(dir, CLEAN_SHUTDOWN_MARKER)), "clean-shutdown marker").toBe(false);

      const reopened = await open();
      try {
        expect(reopened.cleanStart).toBe(false);
        const again = reopened.getLog("t", 0);
        if (!again) expect.fail("partition was not loaded");
        expect(again.recovery.segmentsRecovered).toBeGreaterThan(0);
        await expectLogHolds(again, acked, rng);
      } finally {
        await reopened.close();
      }
    });
  });

  it("a LogManager with a failed log keeps serving the others and writes no clean-shutdown marker", async () => {
    await withSeed(BASE_SEED + 700, async (rng) => {
      const fs = new FaultyFs();
      const cfg = config();
      const open = (sfs?: FaultyFs) =>
        LogManager.open({
          dataDir: dir,
          fs: sfs,
          configFor: () => cfg,
          checkpointIntervalMs: 0,
          retentionCheckIntervalMs: 0,
        });
      const manager = await open(fs);
      const clock = newClock();
      const healthy = await manager.createLog("t", 0);
      const failing = await manager.createLog("t", 1);
      const ackedHealthy = await appendAcked(healthy, rng, clock, 10);
      const ackedFailing = await appendAcked(failing, rng, clock, 10);
      fs.target = (file) => file.includes(`${path.sep}t-1${path.sep}`);
      fs.failFdatasync("all");
      await expectAllStorageErrors([failing.append(randomAppend(rng, clock))], "EIO");
      ackedHealthy.push(...(await appendAcked(healthy, rng, clock, 5)));
      await manager.close();
      expect(existsSync(path.join(dir, CLEAN_SHUTDOWN_MARKER)), "clean-shutdown marker").toBe(false);

      const reopened = await open();
      try {
        expect(reopened.cleanStart).toBe(false);
        const h = reopened.getLog("t", 0);
        const f = reopened.getLog("t", 1);
        if (!h || !f) expect.fail("partitions were not loaded");
        await expectLogHolds(h, ackedHealthy, rng);
        const got = await readAll(f, 0, rng);
        expect(got.length).toBeGreaterThanOrEqual(ackedFailing.length);
        for (let j = 0; j < ackedFailing.length; j++) {
          if (!got[j].equals(ackedFailing[j].bytes)) expect.fail(`acknowledged batch ${j} of t-1 changed`);
        }
      } finally {
        await reopened.close();
      }
    });
  });
});

/** One batch of a single record whose value is `bytes` bytes long. */
function bigBatch(rng: Random, clock: TimestampClock, bytes: number): Buffer {
  clock.now += 1;
  return encodeRecordBatch([{ key: null, value: Buffer.from(rng.text(bytes)), timestamp: clock.now }]);
}
