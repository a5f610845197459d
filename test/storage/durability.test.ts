import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_LOG_CONFIG, type LogConfig } from "../../storage/config.js";
import { PartitionLog } from "../../storage/log.js";
import { FaultyFs } from "../helpers/faulty-fs.js";
import { batchOf } from "../helpers/records.js";
import { waitFor } from "../helpers/wait.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "samsa-dur-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Counts the bytes that reads return, to prove what an open does not read. */
class CountingFs extends FaultyFs {
  bytesRead = 0;
  override async read(
    fd: number,
    buf: Buffer,
    offset: number,
    length: number,
    position: number,
  ): Promise<number> {
    const n = await super.read(fd, buf, offset, length, position);
    this.bytesRead += n;
    return n;
  }
}

function config(overrides: Partial<LogConfig>): LogConfig {
  return { ...DEFAULT_LOG_CONFIG, fileDeleteDelayMs: 0, ...overrides };
}

describe("flush policies", () => {
  it("always: one fdatasync shared by appends in flight together, recovery point at the log end", async () => {
    const fs = new CountingFs();
    const log = await PartitionLog.open({ dir, config: config({ flushPolicy: "always" }), fs });
    const before = fs.calls.fdatasync;
    await Promise.all(Array.from({ length: 64 }, (_, i) => log.append(batchOf(10, `g${i}`))));
    const syncs = fs.calls.fdatasync - before;
    expect(syncs).toBeGreaterThanOrEqual(1);
    expect(syncs).toBeLessThanOrEqual(2);
    expect(log.recoveryPoint).toBe(640);
    await log.append(batchOf(1, "one"));
    expect(log.recoveryPoint).toBe(641);
    await log.close();
  });

  it("os: no fdatasync on append; the recovery point moves on roll and on flush", async () => {
    const fs = new CountingFs();
    const log = await PartitionLog.open({
      dir,
      config: config({ flushPolicy: "os", segmentBytes: 4096 }),
      fs,
    });
    const before = fs.calls.fdatasync;
    await log.append(batchOf(5, "a"));
    expect(fs.calls.fdatasync).toBe(before);
    expect(log.recoveryPoint).toBe(0);
    while (log.segmentCount() < 2) await log.append(batchOf(5, "b"));
    expect(log.recoveryPoint).toBe(log.segmentBaseOffsets()[1]);
    await log.flush();
    expect(log.recoveryPoint).toBe(log.logEndOffset);
    await log.close();
  });

  it("interval: flushes within flush.ms", async () => {
    const log = await PartitionLog.open({ dir, config: config({ flushPolicy: "interval", flushMs: 20 }) });
    await log.append(batchOf(5, "a"));
    expect(log.recoveryPoint).toBe(0);
    await waitFor(() => log.recoveryPoint >= 5, "the interval flush to move the recovery point to 5");
    expect(log.recoveryPoint).toBe(5);
    await log.close();
  });
});

describe("opening after a clean shutdown", () => {
  it("reads index files and the tail of the last segment, not the log", async () => {
    const cfg = config({ segmentBytes: 32 * 1024 });
    let log = await PartitionLog.open({ dir, config: cfg });
    for (let i = 0; i < 100; i++) await log.append(batchOf(100, `r${i}`));
    const size = log.sizeBytes();
    expect(log.segmentCount()).toBeGreaterThan(3);
    await log.close();
    const fs = new CountingFs();
    log = await PartitionLog.open({ dir, config: cfg, fs, cleanShutdown: true });
    expect(log.logEndOffset).toBe(10_000);
    expect(fs.bytesRead).toBeLessThan(size / 20);
    await log.close();
    // The same log opened as after a crash re-reads the segment holding the recovery point.
    const unclean = new CountingFs();
    log = await PartitionLog.open({ dir, config: cfg, fs: unclean, cleanShutdown: false, recoveryPoint: 0 });
    expect(unclean.bytesRead).toBeGreaterThanOrEqual(size);
    await log.close();
  });
});
