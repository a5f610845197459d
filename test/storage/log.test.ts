import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { KafkaError } from "../../protocol/errors.js";
import { decodeBatches } from "../../protocol/record-batch.js";
import { DEFAULT_LOG_CONFIG, type LogConfig } from "../../storage/config.js";
import { PartitionLog } from "../../storage/log.js";
import { batchOf } from "../helpers/records.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "samsa-log-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function config(overrides: Partial<LogConfig> = {}): LogConfig {
  return { ...DEFAULT_LOG_CONFIG, fileDeleteDelayMs: 0, ...overrides };
}

describe("PartitionLog", () => {
  it("assigns offsets in call order and reads back what was appended", async () => {
    const log = await PartitionLog.open({ dir, config: config() });
    const results = await Promise.all([log.append(batchOf(3, "a")), log.append(batchOf(2, "b"))]);
    expect(results.map((r) => [r.baseOffset, r.lastOffset])).toEqual([
      [0, 2],
      [3, 4],
    ]);
    expect(log.logEndOffset).toBe(5);
    const read = await log.read(0, { maxBytes: 1 << 20 });
    const records = decodeBatches(read.records);
    expect(records.map((r) => [r.offset, r.value?.toString()])).toEqual([
      [0, "a-0"],
      [1, "a-1"],
      [2, "a-2"],
      [3, "b-0"],
      [4, "b-1"],
    ]);
    await log.close();
  });

  it("refuses a batch with a bad CRC and writes nothing", async () => {
    const log = await PartitionLog.open({ dir, config: config() });
    const bad = batchOf(2, "x");
    bad[bad.length - 1] ^= 0xff;
    await expect(log.append(bad)).rejects.toMatchObject({ code: "CORRUPT_MESSAGE" });
    expect(log.logEndOffset).toBe(0);
    await log.close();
  });

  it("rolls segments and reopens cleanly without re-reading the log", async () => {
    const cfg = config({ segmentBytes: 4096, indexIntervalBytes: 256 });
    let log = await PartitionLog.open({ dir, config: cfg });
    for (let i = 0; i < 100; i++) await log.append(batchOf(5, `r${i}`));
    expect(log.segmentCount()).toBeGreaterThan(3);
    await log.close();
    log = await PartitionLog.open({ dir, config: cfg, cleanShutdown: true, recoveryPoint: 500 });
    expect(log.recovery.segmentsRecovered).toBe(0);
    expect(log.logEndOffset).toBe(500);
    const read = await log.read(250, { maxBytes: 100 });
    expect(decodeBatches(read.records)[0].offset).toBe(250);
    await expect(log.read(501, { maxBytes: 100 })).rejects.toBeInstanceOf(KafkaError);
    await log.close();
  });
});
