/**
 * The durability journal (storage/journal.ts): its file format and torn tails, group commit
 * across partitions, rotation, failures, and the property it exists for: after a power cut,
 * which keeps of each file only what was fdatasync'ed (test/helpers/lossy-fs.ts), every
 * acknowledged append is back, byte for byte, in every partition, through truncations, deletions
 * and re-creations. Seeded: SAMSA_SEED varies or replays the runs.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { KafkaError } from "../../protocol/errors.js";
import { encodeRecordBatch } from "../../protocol/record-batch.js";
import { writeInt64 } from "../../protocol/varint.js";
import { DEFAULT_LOG_CONFIG, type LogConfig } from "../../storage/config.js";
import {
  batchHeadsCrc,
  decodeJournal,
  encodeEntryHeader,
  JOURNAL_DIR,
  type JournalEntry,
  newReplayReport,
  type ReplayReport,
  type ReplayTarget,
  replayJournal,
} from "../../storage/journal.js";
import { JOURNAL_BYPASS_BYTES, type PartitionLog } from "../../storage/log.js";
import { LogManager, type LogManagerOptions } from "../../storage/log-manager.js";
import { segmentFileName, WRITE_BEHIND_MAX_CHUNKS, writeBehindChunks } from "../../storage/segment.js";
import { FaultyFs } from "../helpers/faulty-fs.js";
import {
  expectLogHolds,
  newClock,
  randomAppend,
  type StoredBatch,
  storedBatches,
} from "../helpers/log-check.js";
import { LossyFs } from "../helpers/lossy-fs.js";
import { baseSeed, Random, withSeed } from "../helpers/random.js";
import { batchOf } from "../helpers/records.js";

const BASE_SEED = baseSeed(20_261_124);

const CONFIG: LogConfig = {
  ...DEFAULT_LOG_CONFIG,
  segmentBytes: 16 * 1024,
  indexIntervalBytes: 512,
  flushPolicy: "always",
  fileDeleteDelayMs: 0,
};

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "samsa-journal-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function openManager(fs: FaultyFs, options: Partial<LogManagerOptions> = {}): Promise<LogManager> {
  return LogManager.open({
    dataDir: dir,
    fs,
    configFor: () => CONFIG,
    checkpointIntervalMs: 0,
    retentionCheckIntervalMs: 0,
    cleanerBackoffMs: 0,
    ...options,
  });
}

/** A batch of `count` records whose offsets start at `base`. */
function batchAt(base: number, count: number, prefix: string): Buffer {
  const b = batchOf(count, prefix);
  writeInt64(b, 0, base);
  return b;
}

function entryBytes(e: Omit<JournalEntry, "payload"> & { payload?: Buffer }): Buffer {
  const payload = e.payload ?? Buffer.alloc(0);
  const heads = e.type === "data" ? batchHeadsCrc([payload]) : 0;
  return Buffer.concat([
    encodeEntryHeader(e.type, e.key, e.offset, e.lastOffset, payload.length, heads),
    payload,
  ]);
}

function journalFiles(): string[] {
  const d = path.join(dir, JOURNAL_DIR);
  return existsSync(d) ? readdirSync(d).filter((n) => n.endsWith(".journal")) : [];
}

const quiet = () => new Promise((r) => setTimeout(r, 10));

/** One batch of JOURNAL_BYPASS_BYTES or more: three records of ~100 KiB. */
function bigAppend(rng: Random, clock: { now: number }): Buffer {
  const records = Array.from({ length: 3 }, () => {
    clock.now += 1;
    return {
      key: Buffer.from(rng.text(4)),
      value: rng.bytes(JOURNAL_BYPASS_BYTES / 3 + 64),
      timestamp: clock.now,
    };
  });
  return encodeRecordBatch(records);
}

describe("journal file format", () => {
  const data = Buffer.concat([batchAt(10, 3, "x"), batchAt(13, 2, "y")]);
  const entries = [
    entryBytes({ type: "data", key: "orders-0", offset: 10, lastOffset: 14, payload: data }),
    entryBytes({ type: "truncate", key: "orders-0", offset: 12, lastOffset: -1 }),
    entryBytes({ type: "forget", key: "t\u00e9-3", offset: -1, lastOffset: -1 }),
  ];
  const file = Buffer.concat(entries);

  it("decodes what it encodes", () => {
    const { entries: got, validBytes } = decodeJournal(file);
    expect(validBytes).toBe(file.length);
    expect(got.map((e) => [e.type, e.key, e.offset, e.lastOffset])).toEqual([
      ["data", "orders-0", 10, 14],
      ["truncate", "orders-0", 12, -1],
      ["forget", "t\u00e9-3", -1, -1],
    ]);
    expect(got[0].payload.equals(data)).toBe(true);
  });

  it("a file cut at any byte yields exactly the whole entries before the cut", () => {
    const ends: number[] = [];
    let at = 0;
    for (const e of entries) {
      at += e.length;
      ends.push(at);
    }
    for (let cut = 0; cut < file.length; cut++) {
      const whole = ends.filter((end) => end <= cut).length;
      const { entries: got, validBytes } = decodeJournal(file.subarray(0, cut));
      expect(got.length, `cut at ${cut}`).toBe(whole);
      expect(validBytes).toBe(whole === 0 ? 0 : ends[whole - 1]);
    }
  });

  it("stops at a flipped bit in a header or in a batch, and at zeros", () => {
    const rng = new Random(BASE_SEED);
    for (let i = 0; i < 200; i++) {
      const damaged = Buffer.from(file);
      const at = rng.int(0, entries[0].length - 1);
      damaged[at] ^= 1 << rng.int(0, 7);
      const { entries: got } = decodeJournal(damaged);
      // Every byte is under a CRC: the header's, a batch's, or the batch heads'.
      expect(got.length, `bit flipped at ${at}`).toBe(0);
    }
    expect(decodeJournal(Buffer.concat([entries[0], Buffer.alloc(4096)])).entries.length).toBe(1);
  });

  it("refuses a data entry whose batches do not cover its offsets", () => {
    const wrong = entryBytes({ type: "data", key: "a-0", offset: 10, lastOffset: 15, payload: data });
    expect(decodeJournal(wrong).entries.length).toBe(0);
  });
});

describe("replay", () => {
  class FakeLog implements ReplayTarget {
    appended: Buffer[] = [];
    constructor(
      public logStartOffset: number,
      public logEndOffset: number,
    ) {}
    async truncateTo(offset: number) {
      this.logEndOffset = Math.min(this.logEndOffset, offset);
    }
    async truncateFullyAndStartAt(offset: number) {
      this.logStartOffset = this.logEndOffset = offset;
    }
    async appendReplayed(records: Buffer) {
      this.appended.push(records);
      const { last } = storedBatches(records)[0];
      this.logEndOffset = last + 1;
    }
  }

  const report = (): ReplayReport => newReplayReport(1);

  function data(key: string, batches: Buffer[]): JournalEntry {
    const payload = Buffer.concat(batches);
    const stored = storedBatches(payload);
    return { type: "data", key, offset: stored[0].base, lastOffset: stored[stored.length - 1].last, payload };
  }

  it("appends only the batches past each log's end, and uses only entries after the last marker", async () => {
    const a = new FakeLog(0, 4);
    const b = new FakeLog(0, 9);
    const r = report();
    await replayJournal(
      [
        data("a-0", [batchAt(0, 2, "a"), batchAt(2, 2, "a")]),
        data("a-0", [batchAt(4, 3, "a"), batchAt(7, 1, "a")]),
        data("b-0", [batchAt(0, 9, "old")]),
        { type: "truncate", key: "b-0", offset: 5, lastOffset: -1, payload: Buffer.alloc(0) },
        data("b-0", [batchAt(5, 2, "new")]),
        data("gone-0", [batchAt(0, 1, "z")]),
        { type: "forget", key: "c-0", offset: -1, lastOffset: -1, payload: Buffer.alloc(0) },
      ],
      (key) => ({ "a-0": a, "b-0": b })[key],
      r,
    );
    expect(a.logEndOffset).toBe(8);
    expect(a.appended.map((x) => storedBatches(x)[0].base)).toEqual([4, 7]);
    expect(b.logEndOffset).toBe(7);
    expect(b.appended.map((x) => storedBatches(x)[0].base)).toEqual([5]);
    expect(r.markersApplied).toBe(1);
    expect(r.unknownKeys).toEqual(["gone-0"]);
    expect(r.gaps).toEqual([]);
    expect(r.touched.sort()).toEqual(["a-0", "b-0"]);
  });

  it("does not apply a truncation again once a synced marker says it reached the disk", async () => {
    // c-0 was cut to 5, then took a large group 5..7 that skipped the journal (flushed in its
    // segment): replaying the truncate would remove it.
    const log = new FakeLog(0, 8);
    const r = report();
    const marker = (type: "truncate" | "synced", offset: number): JournalEntry => ({
      type,
      key: "c-0",
      offset,
      lastOffset: -1,
      payload: Buffer.alloc(0),
    });
    await replayJournal(
      [data("c-0", [batchAt(0, 10, "old")]), marker("truncate", 5), marker("synced", 5)],
      (key) => (key === "c-0" ? log : undefined),
      r,
    );
    expect(log.logEndOffset).toBe(8);
    expect(r.markersApplied).toBe(0);
    // Without the synced marker (a crash between the marker and the cut), the cut is redone.
    const again = new FakeLog(0, 10);
    await replayJournal(
      [data("c-0", [batchAt(0, 10, "old")]), marker("truncate", 5)],
      (key) => (key === "c-0" ? again : undefined),
      report(),
    );
    expect(again.logEndOffset).toBe(5);
  });

  it("stops for a log whose history diverged or that misses records, and reports it", async () => {
    const straddle = new FakeLog(0, 3);
    const gap = new FakeLog(0, 2);
    const r = report();
    await replayJournal(
      [data("s-0", [batchAt(0, 5, "s"), batchAt(5, 1, "s")]), data("g-0", [batchAt(4, 1, "g")])],
      (key) => ({ "s-0": straddle, "g-0": gap })[key],
      r,
    );
    expect(straddle.appended).toEqual([]);
    expect(gap.appended).toEqual([]);
    expect(r.gaps).toEqual([
      { key: "s-0", logEnd: 3, entryOffset: 0 },
      { key: "g-0", logEnd: 2, entryOffset: 4 },
    ]);
  });
});

describe("group commit across partitions", () => {
  it("appends to 40 partitions at once cost one or two journal flushes and no segment flush", async () => {
    for (const journal of [true, false]) {
      rmSync(dir, { recursive: true, force: true });
      const fs = new FaultyFs();
      const lm = await openManager(fs, { journal });
      const logs = await Promise.all(Array.from({ length: 40 }, (_, i) => lm.createLog("t", i)));
      const before = fs.calls.fdatasync;
      const rounds = lm.journalRounds;
      await Promise.all(logs.map((log, i) => log.append(batchOf(3, `p${i}`))));
      const syncs = fs.calls.fdatasync - before;
      if (journal) {
        expect(syncs).toBeLessThanOrEqual(2);
        expect(lm.journalRounds - rounds).toBe(syncs);
        // The segments are not flushed: the recovery point stays where it was.
        for (const log of logs) expect(log.recoveryPoint).toBe(0);
      } else {
        expect(syncs).toBeGreaterThanOrEqual(40);
        for (const log of logs) expect(log.recoveryPoint).toBe(3);
      }
      for (const log of logs) expect(log.logEndOffset).toBe(3);
      await lm.close();
    }
  });

  it("a clean close flushes the logs and removes the journal; the next start replays nothing", async () => {
    const fs = new FaultyFs();
    const lm = await openManager(fs);
    const log = await lm.createLog("t", 0);
    await log.append(batchOf(5, "v"));
    expect(journalFiles().length).toBe(1);
    await lm.close();
    expect(journalFiles()).toEqual([]);
    const again = await openManager(new FaultyFs());
    expect(again.journalReplay?.files).toBe(0);
    expect(again.getLog("t", 0)?.logEndOffset).toBe(5);
    await again.close();
  });
});

describe("write-behind", () => {
  it("holds at most WRITE_BEHIND_MAX_CHUNKS chunks in the process; the rest write through", async () => {
    const before = writeBehindChunks();
    const fs = new FaultyFs();
    const lm = await openManager(fs);
    const count = WRITE_BEHIND_MAX_CHUNKS - before + 8;
    const logs: PartitionLog[] = [];
    for (let i = 0; i < count; i++) logs.push(await lm.createLog("w", i));
    const bufs = logs.map((_, i) => batchOf(2, `w${i}`));
    await Promise.all(logs.map((log, i) => log.append(bufs[i])));
    expect(writeBehindChunks()).toBe(WRITE_BEHIND_MAX_CHUNKS);
    const onDisk = logs.filter((log) => statSync(path.join(log.dir, segmentFileName(0, ".log"))).size > 0);
    expect(onDisk.length).toBe(8);
    // Held or written, every log reads back what it was given.
    for (let i = 0; i < count; i++) {
      const got = storedBatches((await logs[i].read(0, { maxBytes: 1 << 16 })).records);
      expect(got.map((b) => b.bytes.equals(storedBatches(bufs[i])[0].bytes))).toEqual([true]);
    }
    await lm.close();
    expect(writeBehindChunks()).toBe(before);
  }, 60_000);
});

describe("rotation", () => {
  it("a full journal file is retired once the logs that wrote to it are flushed", async () => {
    const fs = new LossyFs();
    const lm = await openManager(fs, { journalBytes: 4096 });
    const logs = await Promise.all(Array.from({ length: 5 }, (_, i) => lm.createLog("r", i)));
    const expected: StoredBatch[][] = logs.map(() => []);
    for (let round = 0; round < 40; round++) {
      const bufs = logs.map((_, i) => batchOf(4, `r${round}-${i}`));
      await Promise.all(logs.map((log, i) => log.append(bufs[i])));
      for (let i = 0; i < logs.length; i++) expected[i].push(...storedBatches(bufs[i]));
    }
    await lm.drainJournal();
    expect(journalFiles().length).toBeLessThanOrEqual(2);
    for (const log of logs) expect(log.recoveryPoint).toBeGreaterThan(0);
    await quiet();
    fs.powerCut();
    const again = await openManager(new LossyFs());
    const rng = new Random(BASE_SEED + 1);
    for (let i = 0; i < logs.length; i++) {
      await expectLogHolds(again.getLog("r", i) as PartitionLog, expected[i], rng);
    }
    expect(again.journalReplay?.gaps).toEqual([]);
    await again.close();
  });
});

describe("failures", () => {
  it("a failed journal flush acknowledges nothing, fails the logs, and loses nothing acknowledged", async () => {
    const fs = new LossyFs();
    const lm = await openManager(fs);
    const logs = await Promise.all(Array.from({ length: 3 }, (_, i) => lm.createLog("f", i)));
    const first = logs.map((_, i) => batchOf(2, `ok${i}`));
    await Promise.all(logs.map((log, i) => log.append(first[i])));
    fs.target = (file) => file.includes(`${path.sep}${JOURNAL_DIR}${path.sep}`);
    fs.failFdatasync(1);
    const results = await Promise.allSettled(logs.map((log, i) => log.append(batchOf(2, `lost${i}`))));
    for (const r of results) {
      expect(r.status).toBe("rejected");
      expect(KafkaError.is((r as PromiseRejectedResult).reason, "KAFKA_STORAGE_ERROR")).toBe(true);
    }
    await expect(logs[0].append(batchOf(1, "later"))).rejects.toSatisfy((e) =>
      KafkaError.is(e, "KAFKA_STORAGE_ERROR"),
    );
    for (const log of logs) expect(log.failed).toBe(true);
    fs.heal();
    await quiet();
    // A crashed process probes no more: the healer must not touch descriptors the cut closed.
    await lm.healer.close();
    fs.powerCut();
    const again = await openManager(new LossyFs());
    const rng = new Random(BASE_SEED + 2);
    for (let i = 0; i < logs.length; i++) {
      const log = again.getLog("f", i) as PartitionLog;
      // The refused batches may or may not be there (they reached the segment); the
      // acknowledged ones must be.
      const got = storedBatches((await log.read(0, { maxBytes: 1 << 20 })).records);
      expect(got[0].bytes.equals(storedBatches(first[i])[0].bytes)).toBe(true);
    }
    await again.close();
    void rng;
  });
});

describe("power cuts", () => {
  const TOPICS = ["a", "b"];
  const PARTITIONS = 3;

  async function run(seed: number, steps: number): Promise<{ cuts: number; replayed: number }> {
    let step = 0;
    let lastOp = "";
    return withSeed(
      seed,
      async (rng) => {
        const fs = new LossyFs();
        const journalBytes = rng.pick([2048, 16 * 1024, 1024 * 1024]);
        let lm = await openManager(fs, { journalBytes });
        const model = new Map<string, StoredBatch[]>();
        const clock = newClock();
        let cuts = 0;
        let replayed = 0;
        const check = async () => {
          for (const topic of TOPICS) {
            for (let p = 0; p < PARTITIONS; p++) {
              const expected = model.get(`${topic}-${p}`);
              const log = lm.getLog(topic, p);
              if (!expected) {
                expect(log, `${topic}-${p} was deleted`).toBeUndefined();
                continue;
              }
              expect(log, `${topic}-${p}`).toBeDefined();
              await expectLogHolds(log as PartitionLog, expected, rng, {
                logStart: 0,
                pointReads: 4,
                timestampLookups: 2,
              });
            }
          }
        };
        for (step = 0; step < steps; step++) {
          const topic = rng.pick(TOPICS);
          const partition = rng.int(0, PARTITIONS - 1);
          const key = `${topic}-${partition}`;
          const roll = rng.float();
          if (roll < 0.7) {
            lastOp = `append to ${key}`;
            const log = await lm.createLog(topic, partition);
            if (!model.has(key)) model.set(key, []);
            // Now and then a group large enough to skip the journal (flushed in its segment).
            const bufs = Array.from({ length: rng.int(1, 4) }, () =>
              rng.chance(0.08) ? bigAppend(rng, clock) : randomAppend(rng, clock),
            );
            // Several partitions at once, so rounds carry entries of more than one log.
            const other = await lm.createLog(topic === "a" ? "b" : "a", partition);
            const otherKey = `${topic === "a" ? "b" : "a"}-${partition}`;
            if (!model.has(otherKey)) model.set(otherKey, []);
            const otherBuf = randomAppend(rng, clock);
            await Promise.all([...bufs.map((b) => log.append(b)), other.append(otherBuf)]);
            for (const b of bufs) model.get(key)?.push(...storedBatches(b));
            model.get(otherKey)?.push(...storedBatches(otherBuf));
          } else if (roll < 0.8) {
            const batches = model.get(key);
            if (!batches || batches.length < 2) continue;
            const keep = rng.int(0, batches.length - 1);
            lastOp = `truncate ${key} to ${batches[keep].base}`;
            await lm.getLog(topic, partition)?.truncateTo(batches[keep].base);
            model.set(key, batches.slice(0, keep));
          } else if (roll < 0.86) {
            if (!model.has(key)) continue;
            lastOp = `delete ${key}`;
            await lm.deleteLog(topic, partition);
            model.delete(key);
          } else {
            lastOp = "power cut";
            await lm.drainJournal();
            await quiet();
            fs.powerCut();
            cuts++;
            lm = await openManager(fs, { journalBytes });
            replayed += lm.journalReplay?.batchesReplayed ?? 0;
            expect(lm.journalReplay?.gaps).toEqual([]);
            await check();
          }
        }
        await lm.drainJournal();
        await quiet();
        fs.powerCut();
        lm = await openManager(fs, { journalBytes });
        await check();
        await lm.close();
        lm = await openManager(fs, { journalBytes });
        await check();
        await lm.close();
        return { cuts: cuts + 1, replayed: replayed + (lm.journalReplay?.batchesReplayed ?? 0) };
      },
      () => `step ${step}: ${lastOp}`,
    );
  }

  for (let i = 0; i < 4; i++) {
    it(`every acknowledged append survives power cuts (seed ${BASE_SEED + 10 + i})`, async () => {
      const { cuts } = await run(BASE_SEED + 10 + i, 150);
      expect(cuts).toBeGreaterThan(1);
    }, 60_000);
  }

  it("a store abandoned at a power cut cannot close or read the files of the store opened after it", async () => {
    const fs = new LossyFs();
    const a = path.join(dir, "a");
    const b = path.join(dir, "b");
    const before = await fs.open(a, "create");
    await fs.writev(before, [Buffer.from("aaaa")], 0);
    fs.powerCut();
    const after = await fs.open(b, "create");
    await fs.writev(after, [Buffer.from("bbbb")], 0);
    // The abandoned store's late close (its descriptor number may be the new store's now).
    await expect(fs.close(before)).rejects.toMatchObject({ code: "EBADF" });
    const buf = Buffer.alloc(4);
    expect(await fs.read(after, buf, 0, 4, 0)).toBe(4);
    expect(buf.toString()).toBe("bbbb");
    await fs.close(after);
  });

  it("without the journal's replay the same power cut loses acknowledged appends", async () => {
    const fs = new LossyFs();
    const lm = await openManager(fs);
    const logs = await Promise.all(Array.from({ length: 4 }, (_, i) => lm.createLog("c", i)));
    await Promise.all(logs.map((log, i) => log.append(batchOf(3, `c${i}`))));
    await lm.drainJournal();
    // The appends are in the journal; their segments hold them in memory or unsynced at most.
    fs.powerCut();
    // The same directory twice: once as it is, once with the journal taken away.
    const copy = mkdtempSync(path.join(tmpdir(), "samsa-journal-copy-"));
    try {
      const { cpSync } = await import("node:fs");
      cpSync(dir, copy, { recursive: true });
      rmSync(path.join(copy, JOURNAL_DIR), { recursive: true });
      const without = await LogManager.open({
        dataDir: copy,
        fs: new LossyFs(),
        configFor: () => CONFIG,
        checkpointIntervalMs: 0,
        retentionCheckIntervalMs: 0,
        cleanerBackoffMs: 0,
      });
      expect(logs.map((_, i) => without.getLog("c", i)?.logEndOffset)).toEqual([0, 0, 0, 0]);
      await without.close();
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
    const again = await openManager(new LossyFs());
    expect(logs.map((_, i) => again.getLog("c", i)?.logEndOffset)).toEqual([3, 3, 3, 3]);
    expect(again.journalReplay?.batchesReplayed).toBe(4);
    await again.close();
  });
});
