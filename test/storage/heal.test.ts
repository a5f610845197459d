/**
 * Faults that heal (storage/heal.ts, decision 0018): ENOSPC on a journal write, EIO on its
 * fdatasync, EMFILE on opening a segment or journal file, torn and unsynced segment tails. While
 * the fault lasts, appends are refused with KAFKA_STORAGE_ERROR and reads serve what was
 * acknowledged; probes keep failing; once the disk or the descriptors are back the journal and
 * the logs resume on their own, without a restart, at the acknowledged log end: every
 * acknowledged batch is there byte for byte, no refused one is, also after a power cut. One fault
 * event and one heal event per journal or partition, however many appends were refused.
 * Deleting a partition while its heal probe is in progress waits for the probe: the probe's
 * journal marker never follows the deleted log's forget marker.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { KafkaError } from "../../protocol/errors.js";
import { DEFAULT_LOG_CONFIG, type LogConfig } from "../../storage/config.js";
import { HEAL_PROBE_BYTES, type StorageFaultEvent, type StorageHealedEvent } from "../../storage/heal.js";
import { JOURNAL_DIR, type Journal } from "../../storage/journal.js";
import { PartitionLog } from "../../storage/log.js";
import { LogManager, type LogManagerOptions } from "../../storage/log-manager.js";
import { FaultyFs } from "../helpers/faulty-fs.js";
import {
  endOf,
  expectLogHolds,
  newClock,
  randomAppend,
  type StoredBatch,
  storedBatches,
  type TimestampClock,
} from "../helpers/log-check.js";
import { LossyFs } from "../helpers/lossy-fs.js";
import { baseSeed, type Random, withSeed } from "../helpers/random.js";
import { waitFor } from "../helpers/wait.js";

const BASE_SEED = baseSeed(18_180_018);

const CONFIG: LogConfig = {
  ...DEFAULT_LOG_CONFIG,
  segmentBytes: 16 * 1024,
  indexIntervalBytes: 512,
  flushPolicy: "always",
  fileDeleteDelayMs: 0,
};

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "faults-heal-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

interface Events {
  faults: StorageFaultEvent[];
  healed: StorageHealedEvent[];
}

function openManager(fs: FaultyFs, events: Events, options: Partial<LogManagerOptions> = {}) {
  return LogManager.open({
    dataDir: dir,
    fs,
    configFor: () => CONFIG,
    checkpointIntervalMs: 0,
    retentionCheckIntervalMs: 0,
    cleanerBackoffMs: 0,
    healBackoffMs: 2,
    healBackoffMaxMs: 20,
    events: { fault: (e) => events.faults.push(e), healed: (e) => events.healed.push(e) },
    ...options,
  });
}

function journalFiles(): string[] {
  const d = path.join(dir, JOURNAL_DIR);
  return existsSync(d) ? readdirSync(d).filter((n) => n.endsWith(".journal")) : [];
}

const inJournal = (file: string) => file.includes(`${path.sep}${JOURNAL_DIR}${path.sep}`);

async function expectStorageError(p: Promise<unknown>, what: string): Promise<void> {
  const r = await Promise.allSettled([p]);
  expect(r[0].status, what).toBe("rejected");
  const reason = (r[0] as PromiseRejectedResult).reason;
  expect(KafkaError.is(reason, "KAFKA_STORAGE_ERROR"), `${what}: ${reason}`).toBe(true);
}

/** Appends to every log, all acknowledged; the batches stored, per log. */
async function ackEach(logs: PartitionLog[], acked: StoredBatch[][], rng: Random, clock: TimestampClock) {
  const bufs = logs.map(() => randomAppend(rng, clock));
  await Promise.all(logs.map((log, i) => log.append(bufs[i])));
  for (let i = 0; i < bufs.length; i++) acked[i].push(...storedBatches(bufs[i]));
}

/** Lets the healer probe while the fault lasts: waits until `attempts` more opens were tried. */
async function probesFail(fs: FaultyFs, attempts: number): Promise<void> {
  const from = fs.calls.open + fs.calls.ftruncate;
  await waitFor(() => fs.calls.open + fs.calls.ftruncate >= from + attempts, `${attempts} probes`);
}

describe("the journal heals", () => {
  for (const fault of ["ENOSPC on write", "EIO on fdatasync"] as const) {
    it(`${fault}: refused while it lasts, resumes without a restart, loses nothing acknowledged`, async () => {
      await withSeed(BASE_SEED + (fault.startsWith("E") ? 1 : 2), async (rng) => {
        const fs = new LossyFs();
        const events: Events = { faults: [], healed: [] };
        const lm = await openManager(fs, events);
        const clock = newClock();
        const logs = await Promise.all([0, 1, 2].map((i) => lm.createLog("h", i)));
        const acked: StoredBatch[][] = logs.map(() => []);
        for (let i = 0; i < 3; i++) await ackEach(logs, acked, rng, clock);

        fs.target = inJournal;
        if (fault === "ENOSPC on write") fs.failWrites("all");
        else fs.failFdatasync("all");
        for (let n = 0; n < 5; n++) {
          for (const log of logs) await expectStorageError(log.append(randomAppend(rng, clock)), "during");
        }
        await probesFail(fs, 6);
        for (let i = 0; i < logs.length; i++) {
          expect(logs[i].failed, `log ${i} while the disk is full`).toBe(true);
          // Reads of what was acknowledged go on.
          await expectLogHolds(logs[i], acked[i], rng, { pointReads: 4, timestampLookups: 2 });
        }
        const code = fault === "ENOSPC on write" ? "ENOSPC" : "EIO";
        expect(events.faults.filter((e) => e.kind === "journal")).toEqual([
          expect.objectContaining({ key: JOURNAL_DIR, code }),
        ]);
        // One event per partition, however many appends it refused.
        expect(
          events.faults
            .filter((e) => e.kind === "partition")
            .map((e) => e.key)
            .sort(),
        ).toEqual(["h-0", "h-1", "h-2"]);
        expect(events.healed).toEqual([]);

        fs.heal();
        await waitFor(() => logs.every((l) => !l.failed) && lm.healer.failing.length === 0, "the heal");
        expect(events.healed.map((e) => e.key).sort()).toEqual(["h-0", "h-1", "h-2", JOURNAL_DIR]);
        expect(events.healed.find((e) => e.kind === "journal")).toMatchObject({ code });
        for (let i = 0; i < 3; i++) {
          const buf = randomAppend(rng, clock);
          // The refused appends' offsets are given again: nothing they held is in the log.
          expect((await logs[i].append(buf)).baseOffset).toBe(endOf(acked[i]));
          acked[i].push(...storedBatches(buf));
        }
        await ackEach(logs, acked, rng, clock);
        for (let i = 0; i < 3; i++) await expectLogHolds(logs[i], acked[i], rng);

        // A power cut now keeps exactly what was acknowledged: no refused batch comes back.
        fs.powerCut();
        const again = await openManager(new LossyFs(), { faults: [], healed: [] });
        try {
          for (let i = 0; i < 3; i++) {
            const log = again.getLog("h", i);
            if (!log) expect.fail(`h-${i} was not loaded`);
            await expectLogHolds(log, acked[i], rng);
          }
        } finally {
          await again.close();
        }
      });
    });
  }

  it("a journal file kept because a log could not flush at its retirement goes once the log heals", async () => {
    await withSeed(BASE_SEED + 5, async (rng) => {
      const fs = new LossyFs();
      const events: Events = { faults: [], healed: [] };
      const lm = await openManager(fs, events, { journalBytes: 4096 });
      const clock = newClock();
      const log = await lm.createLog("k", 0);
      const acked: StoredBatch[][] = [[]];
      fs.target = (file) => file.endsWith(".log");
      fs.failFdatasync("all");
      // Journaled appends need no segment flush; the journal's rotation does, and fails.
      for (let n = 0; n < 200 && !log.failed; n++) {
        const buf = randomAppend(rng, clock);
        try {
          await log.append(buf);
          acked[0].push(...storedBatches(buf));
        } catch (err) {
          expect(KafkaError.is(err, "KAFKA_STORAGE_ERROR")).toBe(true);
        }
      }
      await waitFor(() => log.failed, "the retirement's flush to fail the log");
      await lm.drainJournal();
      expect(journalFiles().length, "the old file is kept").toBeGreaterThan(1);
      fs.heal();
      await waitFor(() => !log.failed, "the heal");
      await waitFor(async () => {
        await lm.drainJournal();
        return journalFiles().length === 1;
      }, "the kept journal file to go");
      await ackEach([log], acked, rng, clock);
      await expectLogHolds(log, acked[0], rng);
      await lm.close();
    });
  });

  it("EMFILE when the journal rotates: refused until a descriptor is free, then rotates", async () => {
    await withSeed(BASE_SEED + 3, async (rng) => {
      const fs = new LossyFs();
      const events: Events = { faults: [], healed: [] };
      const lm = await openManager(fs, events, { journalBytes: 4096 });
      const clock = newClock();
      const log = await lm.createLog("r", 0);
      const acked: StoredBatch[][] = [[]];
      fs.target = inJournal;
      fs.failOpens("all");
      // Appends until the journal's rotation, which cannot open its next file.
      for (let n = 0; n < 200 && !log.failed; n++) {
        const buf = randomAppend(rng, clock);
        try {
          await log.append(buf);
          acked[0].push(...storedBatches(buf));
        } catch (err) {
          expect(KafkaError.is(err, "KAFKA_STORAGE_ERROR")).toBe(true);
        }
      }
      await waitFor(() => log.failed, "the journal's rotation to fail the log");
      await probesFail(fs, 4);
      expect(events.faults.find((e) => e.kind === "journal")).toMatchObject({ code: "EMFILE" });
      expect(log.failed).toBe(true);
      fs.heal();
      await waitFor(() => !log.failed && lm.healer.failing.length === 0, "the heal");
      for (let n = 0; n < 10; n++) await ackEach([log], acked, rng, clock);
      await expectLogHolds(log, acked[0], rng);
      await lm.close();
    });
  });
});

describe("a partition log heals", () => {
  it("EMFILE opening its next segment: refused until descriptors are back, then it rolls", async () => {
    await withSeed(BASE_SEED + 4, async (rng) => {
      const fs = new FaultyFs();
      const events: Events = { faults: [], healed: [] };
      const lm = await openManager(fs, events);
      const clock = newClock();
      const log = await lm.createLog("m", 0);
      const other = await lm.createLog("m", 1);
      const acked: StoredBatch[][] = [[], []];
      fs.target = (file) => file.includes(`${path.sep}m-0${path.sep}`) && file.endsWith(".log");
      fs.failOpens("all");
      for (let n = 0; n < 400 && !log.failed; n++) {
        const buf = randomAppend(rng, clock);
        try {
          await log.append(buf);
          acked[0].push(...storedBatches(buf));
        } catch (err) {
          expect((err as KafkaError).cause, `${err}`).toMatchObject({ code: "EMFILE" });
        }
      }
      expect(log.failed, "the roll failed the log").toBe(true);
      const segments = log.segmentCount();
      await probesFail(fs, 4);
      expect(log.failed, "still failed while descriptors are exhausted").toBe(true);
      await expectStorageError(log.append(randomAppend(rng, clock)), "append during EMFILE");
      // Another partition keeps working.
      await ackEach([other], [acked[1]], rng, clock);
      expect(events.faults).toEqual([
        expect.objectContaining({ kind: "partition", key: "m-0", code: "EMFILE" }),
      ]);

      fs.heal();
      await waitFor(() => !log.failed, "the heal");
      expect(events.healed).toEqual([
        expect.objectContaining({ kind: "partition", key: "m-0", code: "EMFILE" }),
      ]);
      await ackEach([log], [acked[0]], rng, clock);
      expect(log.segmentCount(), "the roll happened").toBe(segments + 1);
      await expectLogHolds(log, acked[0], rng);
      await lm.close();
    });
  });

  it("a torn segment write (no journal): the torn bytes are cut and appends go on at the log end", async () => {
    for (let i = 0; i < 6; i++) {
      await withSeed(BASE_SEED + 10 + i, async (rng) => {
        rmSync(dir, { recursive: true, force: true });
        const fs = new FaultyFs();
        const clock = newClock();
        const log = await PartitionLog.open({ dir, config: { ...CONFIG, segmentBytes: 1 << 20 }, fs });
        const acked: StoredBatch[][] = [[]];
        for (let n = rng.int(0, 20); n > 0; n--) await ackEach([log], acked, rng, clock);
        fs.tearNextWrite(rng.int(1, 60));
        await expectStorageError(log.append(randomAppend(rng, clock)), "the torn append");
        await log.heal();
        expect(log.failed).toBe(false);
        for (let n = rng.int(1, 10); n > 0; n--) await ackEach([log], acked, rng, clock);
        await expectLogHolds(log, acked[0], rng);
        await log.close();
        const reopened = await PartitionLog.open({ dir, config: CONFIG });
        await expectLogHolds(reopened, acked[0], rng);
        await reopened.close();
      });
    }
  });

  it("after a failed fdatasync, heal writes the unflushed tail again before it syncs (fsyncgate)", async () => {
    await withSeed(BASE_SEED + 20, async (rng) => {
      const fs = new FaultyFs();
      const clock = newClock();
      const log = await PartitionLog.open({
        dir,
        config: { ...CONFIG, flushPolicy: "os", segmentBytes: 1 << 20 },
        fs,
      });
      const acked: StoredBatch[][] = [[]];
      for (let n = 0; n < 20; n++) await ackEach([log], acked, rng, clock);
      await log.flush();
      for (let n = 0; n < 20; n++) await ackEach([log], acked, rng, clock);
      const unflushed = acked[0]
        .filter((b) => b.base >= log.recoveryPoint)
        .reduce((n, b) => n + b.bytes.length, 0);
      expect(unflushed).toBeGreaterThan(0);
      fs.failFdatasync("all");
      await expectStorageError(log.flush(), "the failed flush");
      expect(log.failed).toBe(true);
      await expectStorageError(log.heal(), "heal while fdatasync still fails");
      fs.heal();
      const before = fs.bytesWritten;
      await log.heal();
      // The acknowledged but unflushed tail went to the file again, then was synced.
      expect(fs.bytesWritten - before, "bytes rewritten").toBe(HEAL_PROBE_BYTES + unflushed);
      expect(log.recoveryPoint).toBe(endOf(acked[0]));
      await ackEach([log], acked, rng, clock);
      await expectLogHolds(log, acked[0], rng);
      await log.close();
    });
  });
});

/** A FaultyFs that can hold the directory syncs of one directory. */
class DirGateFs extends FaultyFs {
  gateDir: string | null = null;
  gate: Promise<void> | null = null;
  held = 0;

  override async fsyncDir(d: string): Promise<void> {
    if (this.gate && d === this.gateDir) {
      this.held++;
      await this.gate;
    }
    return super.fsyncDir(d);
  }
}

describe("a partition deleted while it heals", () => {
  it("waits for the heal probe in progress: its marker comes before the forget marker", async () => {
    await withSeed(BASE_SEED + 30, async (rng) => {
      const fs = new DirGateFs();
      const events: Events = { faults: [], healed: [] };
      const lm = await openManager(fs, events);
      const clock = newClock();
      const log = await lm.createLog("d", 0);
      const other = await lm.createLog("d", 1);
      await log.append(randomAppend(rng, clock));
      fs.target = (file) => file.includes(`${path.sep}d-0${path.sep}`) && file.endsWith(".log");
      fs.failFdatasync("all");
      await log.append(randomAppend(rng, clock)).catch(() => {});
      await log.flush().catch(() => {});
      await waitFor(() => log.failed, "the log failed by its fdatasync");
      // The next probe passes its fdatasyncs and is held at its directory sync.
      let release = () => {};
      fs.gateDir = path.join(dir, "d-0");
      fs.gate = new Promise<void>((r) => (release = r));
      fs.heal();
      await waitFor(() => fs.held > 0, "the heal probe held at its directory sync");

      const journal = (lm as unknown as { journal: Journal }).journal;
      const marks: string[] = [];
      const mark = journal.mark.bind(journal);
      vi.spyOn(journal, "mark").mockImplementation((type, key, offset) => {
        if (key === "d-0") marks.push(type);
        return mark(type, key, offset);
      });
      const deleted = lm.deleteLog("d", 0);
      // Before the fix the delete ran on and journaled its forget marker here.
      for (let i = 0; i < 200 && marks.length === 0; i++) await new Promise((r) => setImmediate(r));
      fs.gate = null;
      release();
      expect(await deleted).toBe(true);
      expect(marks.at(-1), marks.join(",")).toBe("forget");
      expect(marks.indexOf("synced")).toBeLessThan(marks.indexOf("forget"));
      // The other partition is served throughout.
      const acked: StoredBatch[][] = [[]];
      await ackEach([other], acked, rng, clock);
      await expectLogHolds(other, acked[0], rng);
      await lm.close();
    });
  });
});

describe("faults and heals at random", () => {
  type Fault = (fs: LossyFs, rng: Random) => void;
  const FAULTS: Fault[] = [
    (fs, rng) => fs.failWrites(rng.chance(0.5) ? rng.int(1, 3) : "all"),
    (fs, rng) => fs.failFdatasync(rng.chance(0.5) ? rng.int(1, 3) : "all"),
    (fs, rng) => fs.failOpens(rng.chance(0.5) ? 1 : "all"),
    (fs, rng) => fs.tearNextWrite(rng.int(1, 200)),
  ];
  const TARGETS: ((file: string) => boolean)[] = [inJournal, (file) => file.endsWith(".log"), () => true];

  for (let run = 0; run < 4; run++) {
    it(`every acknowledged append survives faults, heals and a power cut; no refused one appears (seed ${BASE_SEED + 100 + run})`, async () => {
      await withSeed(BASE_SEED + 100 + run, async (rng) => {
        rmSync(dir, { recursive: true, force: true });
        const fs = new LossyFs();
        const events: Events = { faults: [], healed: [] };
        const lm = await openManager(fs, events, { journalBytes: 8 * 1024 });
        const clock = newClock();
        const logs = await Promise.all([0, 1, 2].map((i) => lm.createLog("z", i)));
        const acked: StoredBatch[][] = logs.map(() => []);
        const appendSome = async () => {
          const calls = Array.from({ length: rng.int(1, 8) }, () => {
            const i = rng.int(0, logs.length - 1);
            const buf = randomAppend(rng, clock);
            return { i, buf, done: logs[i].append(buf) };
          });
          const results = await Promise.allSettled(calls.map((c) => c.done));
          results.forEach((r, n) => {
            if (r.status === "fulfilled") acked[calls[n].i].push(...storedBatches(calls[n].buf));
            else expect(KafkaError.is(r.reason, "KAFKA_STORAGE_ERROR"), `${r.reason}`).toBe(true);
          });
        };
        for (let round = 0; round < 12; round++) {
          for (let n = rng.int(0, 4); n > 0; n--) await appendSome();
          fs.target = rng.pick(TARGETS);
          rng.pick(FAULTS)(fs, rng);
          for (let n = rng.int(1, 4); n > 0; n--) await appendSome();
          fs.heal();
          await waitFor(
            () => logs.every((l) => !l.failed) && lm.healer.failing.length === 0,
            `heal ${round}`,
          );
          for (const a of acked) a.sort((x, y) => x.base - y.base);
          for (let i = 0; i < logs.length; i++)
            await expectLogHolds(logs[i], acked[i], rng, { pointReads: 4 });
        }
        expect(events.healed.length, "heals").toBe(events.faults.length);
        await appendSome();
        for (const a of acked) a.sort((x, y) => x.base - y.base);
        // A crashed process does nothing more: no probe or journal retirement runs past the cut.
        await lm.healer.close();
        await lm.drainJournal();
        fs.powerCut();
        const again = await openManager(new LossyFs(), { faults: [], healed: [] });
        try {
          for (let i = 0; i < logs.length; i++) {
            const log = again.getLog("z", i);
            if (!log) expect.fail(`z-${i} was not loaded`);
            await expectLogHolds(log, acked[i], rng, { pointReads: 4 });
          }
        } finally {
          await again.close();
        }
      });
    });
  }
});
