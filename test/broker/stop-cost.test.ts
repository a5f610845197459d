/**
 * A graceful stop costs in proportion to what changed since the start: a broker with 60
 * partitions that was started and stopped again without a write makes no fdatasync per
 * partition (no producer-state snapshot, no index file, no segment flush), and what was written
 * before the stop is all there after the next start.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Broker } from "../../broker/broker.js";
import { loadBrokerConfig } from "../../broker/config.js";
import { encodeRecordBatch } from "../../protocol/record-batch.js";
import { NodeFs } from "../../storage/fs.js";

const PARTITIONS = 60;
const dirs: string[] = [];
const running: Broker[] = [];

afterEach(async () => {
  for (const b of running.splice(0)) await b.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** NodeFs counting fdatasyncs and directory fsyncs. */
class CountingFs extends NodeFs {
  syncs = 0;
  override fdatasync(fd: number): Promise<void> {
    this.syncs++;
    return super.fdatasync(fd);
  }
  override fsyncDir(dir: string): Promise<void> {
    this.syncs++;
    return super.fsyncDir(dir);
  }
}

async function start(fs: CountingFs, dataDir: string): Promise<Broker> {
  const config = loadBrokerConfig({ flags: { "data.dir": dataDir, "kafka.port": 0, "http.port": 0 } });
  const broker = await Broker.start(config, { fs });
  running.push(broker);
  return broker;
}

async function stop(broker: Broker): Promise<void> {
  running.splice(running.indexOf(broker), 1);
  await broker.stop();
}

describe("graceful stop", () => {
  it("syncs nothing per partition when nothing was written since the start", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "storage-stop-"));
    dirs.push(dataDir);
    const fs = new CountingFs();
    let broker = await start(fs, dataDir);
    await broker.topics.create("wide", PARTITIONS, 1, {});
    for (const p of broker.topics.allPartitions())
      await p.append(encodeRecordBatch([{ value: Buffer.from(`v${p.index}`) }]));
    await stop(broker);

    broker = await start(fs, dataDir);
    const before = fs.syncs;
    await stop(broker);
    const idleStopSyncs = fs.syncs - before;
    // Checkpoints, the journal and the clean-shutdown marker: a handful, never one per partition.
    expect(idleStopSyncs).toBeLessThan(PARTITIONS / 2);

    broker = await start(fs, dataDir);
    for (const p of broker.topics.allPartitions()) {
      const { records } = await p.read(0, 1 << 16);
      expect(records.length).toBeGreaterThan(0);
      expect(p.logEndOffset).toBe(1);
    }
  });
});
