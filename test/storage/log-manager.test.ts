import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { decodeBatches } from "../../protocol/record-batch.js";
import { RECOVERY_POINT_CHECKPOINT } from "../../storage/checkpoint.js";
import { DEFAULT_LOG_CONFIG } from "../../storage/config.js";
import { CLEAN_SHUTDOWN_MARKER, LogManager, parsePartitionDir } from "../../storage/log-manager.js";
import { batchOf } from "../helpers/records.js";

let dataDir: string;
beforeEach(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), "samsa-mgr-"));
});
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

const open = () =>
  LogManager.open({
    dataDir,
    configFor: () => ({ ...DEFAULT_LOG_CONFIG, segmentBytes: 4096 }),
    checkpointIntervalMs: 0,
    retentionCheckIntervalMs: 0,
    recoveryConcurrency: 3,
  });

describe("LogManager", () => {
  it("parses partition directory names", () => {
    expect(parsePartitionDir("orders-3")).toEqual({ topic: "orders", partition: 3 });
    expect(parsePartitionDir("my-topic-12")).toEqual({ topic: "my-topic", partition: 12 });
    expect(parsePartitionDir("orders")).toBeNull();
    expect(parsePartitionDir("orders-x")).toBeNull();
  });

  it("creates logs on demand, reports sizes and reloads them cleanly and uncleanly", async () => {
    let manager = await open();
    expect(manager.cleanStart).toBe(false);
    const [a, again] = await Promise.all([manager.createLog("orders", 0), manager.createLog("orders", 0)]);
    expect(a).toBe(again);
    for (let p = 0; p < 8; p++) {
      const log = await manager.createLog("events", p);
      for (let i = 0; i <= p; i++) await log.append(batchOf(10, `p${p}`));
    }
    await a.append(batchOf(3, "o"));
    const sizes = manager.sizes();
    expect(sizes).toHaveLength(9);
    expect(sizes.find((s) => s.topic === "events" && s.partition === 7)?.logEndOffset).toBe(80);
    expect(sizes.every((s) => s.bytes > 0)).toBe(true);
    await manager.close();
    expect(existsSync(path.join(dataDir, CLEAN_SHUTDOWN_MARKER))).toBe(true);
    expect(readFileSync(path.join(dataDir, RECOVERY_POINT_CHECKPOINT), "utf8")).toContain("events 7 80");

    manager = await open();
    expect(manager.cleanStart).toBe(true);
    expect(existsSync(path.join(dataDir, CLEAN_SHUTDOWN_MARKER))).toBe(false);
    expect(manager.all().every(({ log }) => log.recovery.segmentsRecovered === 0)).toBe(true);
    expect(manager.getLog("events", 7)?.logEndOffset).toBe(80);
    // Simulate a crash: drop the manager without close, so no marker is written.
    await manager.getLog("orders", 0)?.append(batchOf(2, "late"));
    for (const { log } of manager.all()) await log.close();

    manager = await open();
    expect(manager.cleanStart).toBe(false);
    expect(manager.getLog("orders", 0)?.logEndOffset).toBe(5);
    const read = await manager.getLog("orders", 0)!.read(3, { maxBytes: 1000 });
    expect(decodeBatches(read.records).map((r) => r.value?.toString())).toEqual(["late-0", "late-1"]);
    await manager.close();
  });

  it("deletes partitions, and finishes deletions a crash interrupted", async () => {
    let manager = await open();
    await (await manager.createLog("gone", 0)).append(batchOf(1, "x"));
    await manager.createLog("kept", 0);
    expect(await manager.deleteLog("gone", 0)).toBe(true);
    expect(await manager.deleteLog("gone", 0)).toBe(false);
    expect(manager.getLog("gone", 0)).toBeUndefined();
    await manager.close();
    mkdirSync(path.join(dataDir, "half-0.abc-delete"));
    manager = await open();
    expect(readdirSync(dataDir).filter((n) => n.includes("delete") || n.startsWith("gone"))).toEqual([]);
    expect(manager.all().map((l) => l.topic)).toEqual(["kept"]);
    await manager.close();
  });

  it("applies retention to every log", async () => {
    const manager = await LogManager.open({
      dataDir,
      configFor: () => ({
        ...DEFAULT_LOG_CONFIG,
        segmentBytes: 2048,
        retentionBytes: 0,
        retentionMs: -1,
        fileDeleteDelayMs: 0,
      }),
      checkpointIntervalMs: 0,
      retentionCheckIntervalMs: 0,
    });
    const log = await manager.createLog("t", 0);
    for (let i = 0; i < 100; i++) await log.append(batchOf(5, `r${i}`));
    log.setHighWatermark(log.logEndOffset);
    expect(log.segmentCount()).toBeGreaterThan(2);
    expect(await manager.applyRetention()).toBeGreaterThan(0);
    expect(log.segmentCount()).toBe(1);
    expect(log.logStartOffset).toBe(log.segmentBaseOffsets()[0]);
    await manager.close();
  });

  it("writes checkpoints one at a time when asked concurrently", async () => {
    const manager = await open();
    await manager.createLog("c", 0);
    await Promise.all([manager.checkpoint(), manager.checkpoint(), manager.checkpoint()]);
    await manager.close();
  });
});
