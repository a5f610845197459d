import { mkdtempSync, readFileSync, rmSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_LOG_CONFIG } from "../../storage/config.js";
import { NodeFs } from "../../storage/fs.js";
import { LEADER_EPOCH_CHECKPOINT, LeaderEpochCache } from "../../storage/leader-epoch-cache.js";
import { PartitionLog } from "../../storage/log.js";
import { batchOf } from "../helpers/records.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "samsa-epoch-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const config = { ...DEFAULT_LOG_CONFIG, fileDeleteDelayMs: 0 };

describe("LeaderEpochCache", () => {
  it("answers end offsets as OffsetForLeaderEpoch does", async () => {
    const cache = await LeaderEpochCache.load(new NodeFs(), dir);
    cache.assign(1, 0);
    cache.assign(3, 10);
    cache.assign(3, 15); // a repeat of the latest epoch keeps its first offset
    cache.assign(5, 20);
    expect(cache.list()).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 3, startOffset: 10 },
      { epoch: 5, startOffset: 20 },
    ]);
    expect(cache.endOffsetFor(5, 42)).toEqual({ epoch: 5, startOffset: 42 });
    expect(cache.endOffsetFor(3, 42)).toEqual({ epoch: 3, startOffset: 20 });
    expect(cache.endOffsetFor(4, 42)).toEqual({ epoch: 3, startOffset: 20 });
    expect(cache.endOffsetFor(0, 42)).toEqual({ epoch: 0, startOffset: 0 });
    expect(cache.endOffsetFor(6, 42)).toEqual({ epoch: -1, startOffset: -1 });
    expect(cache.endOffsetFor(-1, 42)).toEqual({ epoch: -1, startOffset: -1 });
    cache.truncateFromEnd(20);
    expect(cache.latestEpoch()).toBe(3);
    cache.truncateFromStart(12);
    expect(cache.list()).toEqual([{ epoch: 3, startOffset: 12 }]);
    await cache.flush();
    expect(readFileSync(path.join(dir, LEADER_EPOCH_CHECKPOINT), "utf8")).toBe("0\n1\n3 12\n");
    const again = await LeaderEpochCache.load(new NodeFs(), dir);
    expect(again.list()).toEqual([{ epoch: 3, startOffset: 12 }]);
  });
});

describe("PartitionLog leader epochs", () => {
  it("stamps epochs into batches, checkpoints them, truncates them and rebuilds them in recovery", async () => {
    let log = await PartitionLog.open({ dir, config });
    await log.append(batchOf(5, "a"), { leaderEpoch: 0 });
    await log.append(batchOf(5, "b"), { leaderEpoch: 2 });
    await log.append(batchOf(5, "c"), { leaderEpoch: 2 });
    await log.append(batchOf(5, "d"), { leaderEpoch: 4 });
    const read = await log.read(5, { maxBytes: 1 << 20 });
    expect(read.records.readInt32BE(12)).toBe(2);
    expect(log.epochs.list()).toEqual([
      { epoch: 0, startOffset: 0 },
      { epoch: 2, startOffset: 5 },
      { epoch: 4, startOffset: 15 },
    ]);
    expect(log.epochs.endOffsetFor(2, log.logEndOffset)).toEqual({ epoch: 2, startOffset: 15 });
    await log.truncateTo(12);
    expect(log.logEndOffset).toBe(10);
    expect(log.epochs.latestEpoch()).toBe(2);
    await log.close();
    unlinkSync(path.join(dir, LEADER_EPOCH_CHECKPOINT));
    log = await PartitionLog.open({ dir, config, cleanShutdown: false, recoveryPoint: 0 });
    expect(log.epochs.list()).toEqual([
      { epoch: 0, startOffset: 0 },
      { epoch: 2, startOffset: 5 },
    ]);
    await log.close();
  });

  it("copies a leader's batches with their offsets as a follower, refusing overlaps", async () => {
    const leader = await PartitionLog.open({ dir: path.join(dir, "leader"), config });
    await leader.append(batchOf(3, "a"), { leaderEpoch: 1 });
    await leader.append(batchOf(3, "b"), { leaderEpoch: 2 });
    const follower = await PartitionLog.open({ dir: path.join(dir, "follower"), config });
    const data = (await leader.read(0, { maxBytes: 1 << 20 })).records;
    await follower.append(Buffer.from(data), { keepOffsets: true });
    expect(follower.logEndOffset).toBe(6);
    expect(follower.epochs.list()).toEqual(leader.epochs.list());
    await expect(follower.append(Buffer.from(data), { keepOffsets: true })).rejects.toMatchObject({
      code: "INVALID_RECORD",
    });
    const copy = (await follower.read(0, { maxBytes: 1 << 20 })).records;
    expect(copy.equals(data)).toBe(true);
    await follower.truncateFullyAndStartAt(100);
    expect([follower.logStartOffset, follower.logEndOffset]).toEqual([100, 100]);
    expect(follower.epochs.list()).toEqual([]);
    await leader.close();
    await follower.close();
  });
});
