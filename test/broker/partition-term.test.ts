/**
 * A broker made leader while its own follower truncation is still queued: until that truncation
 * is done its term has not started, so a follower's fetch is neither compared with the old log
 * end nor recorded (review finding: the HW could count a follower's stale tail). And an acks=all
 * append whose lead is lost while its write is in flight is answered, never left waiting for a high
 * watermark no one moves. And a new term of the same leader, begun while an append of its old term
 * is still being written, starts after that append (a chaos replay: a follower cut and refetched
 * the batch for ever).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, expect, it } from "vitest";
import { Partition } from "../../broker/partition.js";
import { ProducerIds } from "../../broker/producer-ids.js";
import { DEFAULT_LOG_CONFIG } from "../../storage/config.js";
import { NodeFs } from "../../storage/fs.js";
import { PartitionLog } from "../../storage/log.js";
import { FaultyFs } from "../helpers/faulty-fs.js";
import { batchOf } from "../helpers/records.js";
import { waitFor, within } from "../helpers/wait.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

async function leaderOfTen(): Promise<{ p: Partition; log: PartitionLog }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "samsa-term-"));
  dirs.push(dir);
  const log = await PartitionLog.open({ dir, config: { ...DEFAULT_LOG_CONFIG, fileDeleteDelayMs: 0 } });
  const limits = { expirationMs: 86_400_000, maxEntries: 10_000, idsPerSecond: 1_000, quotaWindowMs: 1_000 };
  const ids = new ProducerIds(
    limits,
    () => 1_000_000,
    () => [],
  );
  const p = new Partition("t", 0, log, new NodeFs(), ids, 2);
  await p.load();
  p.makeLeader(4, 0, [2], [2, 3]);
  for (let i = 0; i < 10; i++) await p.appendAsLeader(batchOf(10, `e4-${i}`), { acks: 1 });
  return { p, log };
}

it("a follower's fetch waits for the new leader's queued truncation and then diverges", async () => {
  const { p, log } = await leaderOfTen();
  expect(p.logEndOffset).toBe(100);
  // Node 1 led epoch 5 and told this broker (2) to cut at 80; then 2 is elected at epoch 6.
  p.makeFollower(5, 1, 1);
  const cut = p.truncateTo(80, 5);
  p.makeLeader(6, 2, [2, 3], [2, 3]);
  // Replica 3 still holds this broker's old epoch-4 records 80..99.
  const answer = await p.fetchForFollower(3, 100, 4, { maxBytes: 1 << 20, currentLeaderEpoch: 6 });
  await cut;
  expect(answer.divergingEpoch).toEqual({ epoch: 4, endOffset: 80 });
  expect(p.followerState(3)?.logEndOffset ?? -1).toBeLessThan(100);
  for (let i = 0; i < 2; i++) await p.appendAsLeader(batchOf(10, `e6-${i}`), { acks: 1 });
  expect(p.logEndOffset).toBe(100);
  // Replica 3's 80..99 are not the epoch-6 records: the HW must not pass 80 on its account.
  expect(p.highWatermark).toBeLessThanOrEqual(80);
  await log.close();
});

it("OffsetForLeaderEpoch is refused (retriable) until the new leader's term starts", async () => {
  const { p, log } = await leaderOfTen();
  p.makeFollower(5, 1, 1);
  const cut = p.truncateTo(80, 5);
  p.makeLeader(6, 2, [2, 3], [2, 3]);
  expect(() => p.lastOffsetForLeaderEpoch(4, 6)).toThrow(
    expect.objectContaining({ code: "NOT_LEADER_OR_FOLLOWER" }),
  );
  await cut;
  expect(p.lastOffsetForLeaderEpoch(4, 6)).toEqual({ epoch: 4, endOffset: 80 });
  await log.close();
});

it("an acks=all append whose lead is lost while it is written is answered NOT_LEADER_OR_FOLLOWER", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "samsa-term-"));
  dirs.push(dir);
  const sfs = new FaultyFs();
  const log = await PartitionLog.open({ dir, fs: sfs, config: DEFAULT_LOG_CONFIG });
  const limits = { expirationMs: 86_400_000, maxEntries: 10_000, idsPerSecond: 1_000, quotaWindowMs: 1_000 };
  const p = new Partition(
    "t",
    0,
    log,
    sfs,
    new ProducerIds(
      limits,
      () => 1_000_000,
      () => [],
    ),
    2,
  );
  await p.load();
  p.makeLeader(1, 0, [2, 3], [2, 3]);
  const release = sfs.holdWrites();
  const writes = sfs.calls.writev;
  const settled = p.appendAsLeader(batchOf(1, "v"), { acks: -1 }).then(
    () => "acknowledged",
    (err: { code?: string }) => err.code,
  );
  await waitFor(() => sfs.calls.writev > writes, "the append's write held");
  // The replica leaves this broker (or follows another) before its write lands: no waiter may stay.
  p.stopReplica();
  release();
  expect(await within(settled, "the append answered")).toBe("NOT_LEADER_OR_FOLLOWER");
  await log.close();
});

it("a new term of the same leader begins after an append of the old term still being written", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "samsa-term-"));
  dirs.push(dir);
  const sfs = new FaultyFs();
  const log = await PartitionLog.open({ dir, fs: sfs, config: DEFAULT_LOG_CONFIG });
  const limits = { expirationMs: 86_400_000, maxEntries: 10_000, idsPerSecond: 1_000, quotaWindowMs: 1_000 };
  const ids = new ProducerIds(
    limits,
    () => 1_000_000,
    () => [],
  );
  const p = new Partition("t", 0, log, sfs, ids, 2);
  await p.load();
  p.makeLeader(1, 0, [2], [2, 3]);
  await p.appendAsLeader(batchOf(10, "e1"), { acks: 1 });
  const release = sfs.holdWrites();
  const writes = sfs.calls.writev;
  const held = p.appendAsLeader(batchOf(1, "e1-held"), { acks: 1 });
  await waitFor(() => sfs.calls.writev > writes, "the epoch-1 append's write held at offset 10");
  // The controller elects this broker again, at epoch 2 (a pass after its registration was
  // renewed, say), while that write is in flight: the batch at 10 carries epoch 1.
  p.makeLeader(2, 1, [2], [2, 3]);
  release();
  expect((await within(held, "the held append")).result.baseOffset).toBe(10);
  await p.appendAsLeader(batchOf(1, "e2"), { acks: 1 });
  // Epoch 1 ends after its last batch, so a follower that copied it does not diverge (before,
  // epoch 2 was stamped at 10 and such a follower truncated to 10 and fetched it again, forever).
  expect(p.lastOffsetForLeaderEpoch(1, 2)).toEqual({ epoch: 1, endOffset: 11 });
  const answer = await p.fetchForFollower(3, 11, 1, { maxBytes: 1 << 20, currentLeaderEpoch: 2 });
  expect(answer.divergingEpoch).toBeNull();
  await log.close();
});
