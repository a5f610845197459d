/**
 * Partition roles (issue 13, docs/decisions/0027): two Partition objects in one process over temp
 * directories play leader and follower. The leader appends and stamps its epoch, the follower
 * fetches through fetchForFollower and stores with appendAsFollower, the high watermark follows
 * the least log end of the ISR, acks=all waits for it, a diverged follower is told where to
 * truncate (KIP-320), and a follower's producer state recognises a retry once it leads.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { ControllerChannel } from "../../broker/cluster/controller-channel.js";
import { IsrUpdater } from "../../broker/cluster/isr-updater.js";
import type { IsrChangeRequest, PartitionResult } from "../../broker/controller/controller.js";
import { requestedIsr } from "../../broker/controller/isr.js";
import { Partition } from "../../broker/partition.js";
import { ProducerIds } from "../../broker/producer-ids.js";
import { isrChanges, newReplicaState, recordFetch } from "../../broker/replicas.js";
import { KafkaError } from "../../protocol/errors.js";
import { batchSpans, encodeRecordBatch, readBatchHeader } from "../../protocol/record-batch.js";
import { DEFAULT_LOG_CONFIG } from "../../storage/config.js";
import { NodeFs } from "../../storage/fs.js";
import { PartitionLog } from "../../storage/log.js";
import { waitFor, within } from "../helpers/wait.js";

const LEADER = 1;
const FOLLOWER = 2;
const FETCH_BYTES = 1 << 20;
/** Producer ids below this count as handed out by InitProducerId. */
const ISSUED_IDS = 1_000;

const opened: { log: PartitionLog; dir: string }[] = [];

afterEach(async () => {
  for (const { log, dir } of opened.splice(0)) {
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

async function openPartition(
  localId: number,
  minInsyncReplicas = 1,
  maxEntries = 10_000,
): Promise<Partition> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `samsa-role-${localId}-`));
  const log = await PartitionLog.open({ dir, config: { ...DEFAULT_LOG_CONFIG, fileDeleteDelayMs: 0 } });
  opened.push({ log, dir });
  const limits = { expirationMs: 86_400_000, maxEntries, idsPerSecond: 1_000, quotaWindowMs: 1_000 };
  const ids = new ProducerIds(
    limits,
    () => ISSUED_IDS,
    () => [],
  );
  const partition = new Partition("t", 0, log, new NodeFs(), ids, localId, minInsyncReplicas);
  await partition.load();
  return partition;
}

function batch(values: string[], producer?: { id: number; epoch: number; seq: number }): Buffer {
  const records = values.map((v) => ({ value: Buffer.from(v), timestamp: Date.now() }));
  return encodeRecordBatch(
    records,
    producer ? { producerId: producer.id, producerEpoch: producer.epoch, baseSequence: producer.seq } : {},
  );
}

/** A leader of `replicas` (all in sync) and a follower of it, both at `epoch`. */
async function pair(epoch = 0, minInsyncReplicas = 1): Promise<{ leader: Partition; follower: Partition }> {
  const leader = await openPartition(LEADER, minInsyncReplicas);
  const follower = await openPartition(FOLLOWER, minInsyncReplicas);
  leader.makeLeader(epoch, 0, [LEADER, FOLLOWER], [LEADER, FOLLOWER]);
  follower.makeFollower(epoch, LEADER, 0);
  return { leader, follower };
}

/** The follower's last fetched epoch: the epoch of its last batch (-1 when empty). */
async function lastEpoch(p: Partition): Promise<number> {
  let epoch = -1;
  for (let offset = p.logStartOffset; offset < p.logEndOffset; ) {
    const { records } = await p.readLocal(offset, FETCH_BYTES);
    for (const [start] of batchSpans(records)) {
      const h = readBatchHeader(records, start);
      epoch = h.partitionLeaderEpoch;
      offset = h.baseOffset + h.lastOffsetDelta + 1;
    }
  }
  return epoch;
}

/** One round of the replica fetcher: fetch, truncate on divergence or append, take the HW. */
async function replicate(leader: Partition, follower: Partition, replicaId = FOLLOWER) {
  const fetched = await leader.fetchForFollower(replicaId, follower.logEndOffset, await lastEpoch(follower), {
    maxBytes: FETCH_BYTES,
    currentLeaderEpoch: follower.leaderEpoch,
  });
  if (fetched.divergingEpoch) {
    await follower.truncateTo(fetched.divergingEpoch.endOffset);
  } else if (fetched.records.length > 0) {
    await follower.appendAsFollower(fetched.records);
  }
  follower.updateFollowerHighWatermark(fetched.highWatermark);
  return fetched;
}

async function allBytes(p: Partition): Promise<Buffer> {
  return (await p.readLocal(p.logStartOffset, FETCH_BYTES)).records;
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (KafkaError.is(err)) return err.code;
    throw err;
  }
  return "none";
}

describe("a single-broker leader", () => {
  it("stamps its epoch in every batch, records it in the epoch cache, and moves the HW at each append", async () => {
    const p = await openPartition(LEADER);
    p.makeLeader(3, 0, [LEADER]);
    expect(p.role).toBe("leader");
    expect(p.leader).toBe(LEADER);
    await p.appendAsLeader(batch(["a", "b"]), { acks: 1 });
    await p.appendAsLeader(batch(["c"]), { acks: -1 });
    expect(p.highWatermark).toBe(3);
    const { records } = await p.read(0, FETCH_BYTES);
    const epochs = [...batchSpans(records)].map(([s]) => readBatchHeader(records, s).partitionLeaderEpoch);
    expect(epochs).toEqual([3, 3]);
    expect(p.epochAt(2)).toBe(3);
    expect(p.lastOffsetForLeaderEpoch(3)).toEqual({ epoch: 3, endOffset: 3 });
    p.makeLeader(4, 1, [LEADER]);
    await p.appendAsLeader(batch(["d"]), { acks: 1 });
    expect(p.lastOffsetForLeaderEpoch(3)).toEqual({ epoch: 3, endOffset: 3 });
    expect(p.lastOffsetForLeaderEpoch(5, 4)).toEqual({ epoch: -1, endOffset: -1 });
  });

  it("checks clients' current leader epochs (KIP-320) and refuses older leader epochs", async () => {
    const p = await openPartition(LEADER);
    expect(p.leaderEpochError(-1)).toBe("NOT_LEADER_OR_FOLLOWER");
    p.makeLeader(5, 0, [LEADER]);
    expect(p.leaderEpochError(-1)).toBeNull();
    expect(p.leaderEpochError(5)).toBeNull();
    expect(p.leaderEpochError(4)).toBe("FENCED_LEADER_EPOCH");
    expect(p.leaderEpochError(6)).toBe("UNKNOWN_LEADER_EPOCH");
    expect(() => p.makeLeader(4, 0, [LEADER])).toThrow(
      expect.objectContaining({ code: "FENCED_LEADER_EPOCH" }),
    );
    expect(() => p.lastOffsetForLeaderEpoch(5, 4)).toThrow(
      expect.objectContaining({ code: "FENCED_LEADER_EPOCH" }),
    );
  });

  it("refuses acks=all below min.insync.replicas before writing, and after when the ISR shrank meanwhile", async () => {
    const p = await openPartition(LEADER, 2);
    p.makeLeader(0, 0, [LEADER]);
    expect(await refusal(p.appendAsLeader(batch(["x"]), { acks: -1 }))).toBe("NOT_ENOUGH_REPLICAS");
    expect(p.logEndOffset).toBe(0);
    // acks=1 is not held to min.insync.replicas, and one replica alone still moves the HW.
    await p.appendAsLeader(batch(["y"]), { acks: 1 });
    expect(p.highWatermark).toBe(1);

    const { leader, follower } = await pair(0, 2);
    const waiting = leader.appendAsLeader(batch(["z"]), { acks: -1 });
    await waitFor(() => leader.logEndOffset === 1, "the leader's append");
    leader.updateConfig(leader.logConfig, 3);
    await replicate(leader, follower);
    await replicate(leader, follower);
    expect(await within(refusal(waiting), "the acks=all answer")).toBe("NOT_ENOUGH_REPLICAS_AFTER_APPEND");
  });

  it("refuses appends, reads and epoch lookups while it does not lead", async () => {
    const { follower } = await pair();
    expect(await refusal(follower.appendAsLeader(batch(["x"]), { acks: 1 }))).toBe("NOT_LEADER_OR_FOLLOWER");
    expect(await refusal(follower.read(0, FETCH_BYTES))).toBe("NOT_LEADER_OR_FOLLOWER");
    expect(() => follower.lastOffsetForLeaderEpoch(0)).toThrow(
      expect.objectContaining({ code: "NOT_LEADER_OR_FOLLOWER" }),
    );
  });
});

describe("a leader and its follower", () => {
  it("copy batches unchanged; the HW follows the follower's log end and acks=all waits for it", async () => {
    const { leader, follower } = await pair(2);
    await leader.appendAsLeader(batch(["a", "b"]), { acks: 1 });
    expect(leader.highWatermark).toBe(0);
    const all = leader.appendAsLeader(batch(["c"]), { acks: -1, timeoutMs: 60_000 });
    await waitFor(() => leader.logEndOffset === 3, "the acks=all append in the leader's log");
    let answered = false;
    void all.then(() => {
      answered = true;
    });

    await replicate(leader, follower);
    expect(follower.logEndOffset).toBe(3);
    expect(leader.highWatermark).toBe(0);
    expect(answered).toBe(false);
    await replicate(leader, follower);
    expect(leader.highWatermark).toBe(3);
    expect(follower.highWatermark).toBe(3);
    expect((await within(all, "the acks=all append")).result.baseOffset).toBe(2);
    expect(await allBytes(follower)).toEqual(await allBytes(leader));
    expect(follower.epochAt(0)).toBe(2);
    expect(leader.followerState(FOLLOWER)).toMatchObject({ logEndOffset: 3 });
  });

  it("never moves the HW back, and refuses replicas not assigned and offsets out of range", async () => {
    const { leader, follower } = await pair();
    await leader.appendAsLeader(batch(["a", "b", "c"]), { acks: 1 });
    await replicate(leader, follower);
    await replicate(leader, follower);
    expect(leader.highWatermark).toBe(3);
    await leader.fetchForFollower(FOLLOWER, 1, 0, { maxBytes: FETCH_BYTES });
    expect(leader.highWatermark).toBe(3);
    expect(await refusal(leader.fetchForFollower(9, 0, -1, { maxBytes: FETCH_BYTES }))).toBe(
      "NOT_LEADER_OR_FOLLOWER",
    );
    expect(await refusal(leader.fetchForFollower(FOLLOWER, 4, -1, { maxBytes: FETCH_BYTES }))).toBe(
      "OFFSET_OUT_OF_RANGE",
    );
    expect(
      await refusal(
        leader.fetchForFollower(FOLLOWER, 3, 0, { maxBytes: FETCH_BYTES, currentLeaderEpoch: 1 }),
      ),
    ).toBe("UNKNOWN_LEADER_EPOCH");
  });

  it("tell a diverged follower where to truncate; it then copies the new leader's log", async () => {
    const { leader: a, follower: b } = await pair(0);
    await a.appendAsLeader(batch(["a0", "a1"]), { acks: 1 });
    await a.appendAsLeader(batch(["a2", "a3"]), { acks: 1 });
    await replicate(a, b);
    expect(b.logEndOffset).toBe(4);
    // Written by A alone, then A loses the lead: B leads at epoch 1 and writes other records.
    await a.appendAsLeader(batch(["lost4", "lost5"]), { acks: 1 });
    b.makeLeader(1, 1, [FOLLOWER], [LEADER, FOLLOWER]);
    a.makeFollower(1, FOLLOWER, 1);
    await b.appendAsLeader(batch(["b4", "b5", "b6"]), { acks: 1 });
    expect(b.lastOffsetForLeaderEpoch(0)).toEqual({ epoch: 0, endOffset: 4 });

    const diverged = await replicate(b, a, LEADER);
    expect(diverged.divergingEpoch).toEqual({ epoch: 0, endOffset: 4 });
    expect(diverged.records.length).toBe(0);
    expect(a.logEndOffset).toBe(4);
    const copied = await replicate(b, a, LEADER);
    expect(copied.divergingEpoch).toBeNull();
    expect(a.logEndOffset).toBe(7);
    expect(await allBytes(a)).toEqual(await allBytes(b));
    expect(a.epochAt(4)).toBe(1);
    expect(b.isrChangesNeeded(Date.now(), 30_000)).toEqual({ shrink: [], expand: [] });
    await replicate(b, a, LEADER);
    expect(b.isrChangesNeeded(Date.now(), 30_000)).toEqual({ shrink: [], expand: [LEADER] });
  });

  it("rebuild producer state on the follower: a retried idempotent batch is a duplicate once it leads", async () => {
    const { leader, follower } = await pair(0);
    const producer = { id: 7, epoch: 0, seq: 0 };
    await leader.appendAsLeader(batch(["p0", "p1", "p2"], producer), { acks: 1 });
    await replicate(leader, follower);
    follower.makeLeader(1, 1, [FOLLOWER], [LEADER, FOLLOWER]);
    const retry = await follower.appendAsLeader(batch(["p0", "p1", "p2"], producer), { acks: 1 });
    expect(retry.duplicate).toBe(true);
    expect(retry.result).toMatchObject({ baseOffset: 0, lastOffset: 2 });
    expect(follower.logEndOffset).toBe(3);
    const next = await follower.appendAsLeader(batch(["p3"], { ...producer, seq: 3 }), { acks: 1 });
    expect(next).toMatchObject({ duplicate: false, result: { baseOffset: 3 } });
    expect(await refusal(follower.appendAsLeader(batch(["gap"], { ...producer, seq: 9 }), { acks: 1 }))).toBe(
      "OUT_OF_ORDER_SEQUENCE_NUMBER",
    );
  });

  it("keep the leader's producer state on a follower whose producer-id cap is full (review: a retry was rewritten)", async () => {
    const leader = await openPartition(LEADER);
    const follower = await openPartition(FOLLOWER, 1, 1);
    leader.makeLeader(0, 0, [LEADER, FOLLOWER], [LEADER, FOLLOWER]);
    follower.makeFollower(0, LEADER, 0);
    const first = { id: 7, epoch: 0, seq: 0 };
    const second = { id: 8, epoch: 0, seq: 0 };
    await leader.appendAsLeader(batch(["a0"], first), { acks: 1 });
    await leader.appendAsLeader(batch(["b0", "b1"], second), { acks: 1 });
    await replicate(leader, follower);
    expect(follower.logEndOffset).toBe(3);
    follower.makeLeader(1, 1, [FOLLOWER], [LEADER, FOLLOWER]);
    // The cap (1) was full after producer 7; producer 8's retry is still known as a duplicate.
    const retry = await follower.appendAsLeader(batch(["b0", "b1"], second), { acks: 1 });
    expect(retry).toMatchObject({ duplicate: true, result: { baseOffset: 1, lastOffset: 2 } });
    expect(follower.logEndOffset).toBe(3);
  });

  it("answers acks=all appends NOT_LEADER_OR_FOLLOWER when the leader becomes a follower", async () => {
    const { leader } = await pair();
    const waiting = leader.appendAsLeader(batch(["x"]), { acks: -1 });
    await waitFor(() => leader.logEndOffset === 1, "the leader's append");
    leader.makeFollower(1, FOLLOWER);
    expect(await within(refusal(waiting), "the acks=all answer")).toBe("NOT_LEADER_OR_FOLLOWER");
  });
});

describe("ISR change proposals (broker/replicas.ts)", () => {
  const base = {
    leaderId: 1,
    highWatermark: 10,
    leaderEndOffset: 12,
    leaderEpochStartOffset: 5,
    lagTimeMaxMs: 1_000,
  };

  it("shrink an in-sync follower not caught up for longer than replica.lag.time.max.ms", () => {
    const f = newReplicaState(2, true, 0);
    const followers = new Map([[2, f]]);
    expect(isrChanges({ ...base, isr: [1, 2], followers, nowMs: 1_000 }).shrink).toEqual([]);
    expect(isrChanges({ ...base, isr: [1, 2], followers, nowMs: 1_001 }).shrink).toEqual([2]);
    recordFetch(f, 10, 10, 1_001);
    expect(isrChanges({ ...base, isr: [1, 2], followers, nowMs: 2_001 }).shrink).toEqual([]);
  });

  it("count a follower caught up when it reaches where the leader's end was at its previous fetch", () => {
    const f = newReplicaState(2, false, 0);
    recordFetch(f, 4, 10, 100);
    expect(f.lastCaughtUpTimeMs).toBe(0);
    recordFetch(f, 10, 15, 200);
    expect(f.lastCaughtUpTimeMs).toBe(100);
    recordFetch(f, 15, 15, 300);
    expect(f.lastCaughtUpTimeMs).toBe(300);
  });

  it("expand with a follower that reached the HW and the current epoch's start", () => {
    const f = newReplicaState(3, false, 0);
    const followers = new Map([[3, f]]);
    recordFetch(f, 9, 12, 0);
    expect(isrChanges({ ...base, isr: [1], followers, nowMs: 0 }).expand).toEqual([]);
    recordFetch(f, 10, 12, 0);
    expect(isrChanges({ ...base, isr: [1], followers, nowMs: 0 }).expand).toEqual([3]);
    expect(isrChanges({ ...base, leaderEpochStartOffset: 11, isr: [1], followers, nowMs: 0 }).expand).toEqual(
      [],
    );
  });
});

/** A leader of replicas 1, 2 and 3 with ISR `isr`, and followers 2 and 3 of it, at epoch 0. */
async function trio(isr: number[]): Promise<{ leader: Partition; f2: Partition; f3: Partition }> {
  const leader = await openPartition(LEADER);
  const f2 = await openPartition(FOLLOWER);
  const f3 = await openPartition(THIRD);
  leader.makeLeader(0, 0, isr, [LEADER, FOLLOWER, THIRD]);
  f2.makeFollower(0, LEADER, 0);
  f3.makeFollower(0, LEADER, 0);
  return { leader, f2, f3 };
}

/** Whether `promise` has settled, after the microtasks queued now have run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  await new Promise((r) => setImmediate(r));
  return done;
}

const THIRD = 3;

describe("ISR proposals in flight: the maximal ISR (review finding 2)", () => {
  it("count a proposed new member at once for the HW and acks=all", async () => {
    const { leader, f2, f3 } = await trio([LEADER, FOLLOWER]);
    await replicate(leader, f3, THIRD);
    expect(leader.isrChangesNeeded(Date.now(), 30_000).expand).toEqual([THIRD]);
    const proposal = leader.proposeIsr([LEADER, FOLLOWER, THIRD], 11);
    expect(proposal).toMatchObject({ leaderEpoch: 0, partitionEpoch: 0, newIsr: [1, 2, 3] });
    expect(proposal.newIsrWithEpochs).toEqual([
      { brokerId: 1, brokerEpoch: 11 },
      { brokerId: 2, brokerEpoch: -1 },
      { brokerId: 3, brokerEpoch: -1 },
    ]);
    expect(leader.isr).toEqual([LEADER, FOLLOWER]);
    expect(leader.maximalIsr).toEqual([LEADER, FOLLOWER, THIRD]);

    // The controller may already have committed {1,2,3}: replica 3 must hold the records too.
    const waiting = leader.appendAsLeader(batch(["a", "b", "c"]), { acks: -1, timeoutMs: 60_000 });
    await waitFor(() => leader.logEndOffset === 3, "the acks=all append in the leader's log");
    await replicate(leader, f2);
    await replicate(leader, f2);
    expect(leader.highWatermark).toBe(0);
    expect(await settled(waiting)).toBe(false);
    await replicate(leader, f3, THIRD);
    await replicate(leader, f3, THIRD);
    expect(leader.highWatermark).toBe(3);
    expect((await within(waiting, "the acks=all append")).result.lastOffset).toBe(2);
  });

  it("keep a proposed removal's member until the controller commits it; one proposal at a time", async () => {
    const { leader, f2 } = await trio([LEADER, FOLLOWER, THIRD]);
    const proposal = leader.proposeIsr([LEADER, FOLLOWER]);
    expect(leader.maximalIsr).toEqual([LEADER, FOLLOWER, THIRD]);
    expect(() => leader.proposeIsr([LEADER])).toThrow(
      expect.objectContaining({ code: "OPERATION_NOT_ATTEMPTED" }),
    );
    expect(leader.isrChangesNeeded(Date.now() + 3_600_000, 1_000)).toEqual({ shrink: [], expand: [] });
    await leader.appendAsLeader(batch(["a", "b"]), { acks: 1 });
    await replicate(leader, f2);
    await replicate(leader, f2);
    expect(leader.highWatermark).toBe(0);

    expect(
      leader.isrProposalCommitted(proposal, { leaderEpoch: 0, partitionEpoch: 1, isr: [LEADER, FOLLOWER] }),
    ).toBe(true);
    expect(leader.isr).toEqual([LEADER, FOLLOWER]);
    expect(leader.partitionEpoch).toBe(1);
    expect(leader.isrProposal).toBeNull();
    expect(leader.highWatermark).toBe(2);
    expect(leader.isrProposalCommitted(proposal, { leaderEpoch: 0, partitionEpoch: 2, isr: [LEADER] })).toBe(
      false,
    );
  });

  it("end a failed proposal as decision 0027 says: retry, wait for metadata, or revert", async () => {
    const { leader, f3 } = await trio([LEADER, FOLLOWER]);
    await replicate(leader, f3, THIRD);
    const grow = [LEADER, FOLLOWER, THIRD];
    const first = leader.proposeIsr(grow);
    // Unknown outcome: the controller may have committed it; the maximal ISR stays.
    expect(leader.isrProposalFailed(first, new KafkaError("REQUEST_TIMED_OUT"))).toBe("retry");
    expect(leader.isrProposalFailed(first, new Error("connection closed"))).toBe("retry");
    // A refusal of this broker's registration, not of the partition: no metadata need follow it.
    expect(leader.isrProposalFailed(first, new KafkaError("STALE_BROKER_EPOCH"))).toBe("retry");
    expect(leader.isrProposal).toBe(first);
    expect(leader.maximalIsr).toEqual(grow);
    // A changed state: an earlier attempt may have been applied; wait for the metadata.
    expect(leader.isrProposalFailed(first, new KafkaError("INVALID_UPDATE_VERSION"))).toBe("await-metadata");
    expect(leader.maximalIsr).toEqual(grow);
    leader.makeLeader(0, 0, [LEADER, FOLLOWER], [LEADER, FOLLOWER, THIRD]);
    expect(leader.isrProposal).toBe(first);
    leader.makeLeader(0, 1, [LEADER, FOLLOWER], [LEADER, FOLLOWER, THIRD]);
    expect(leader.isrProposal).toBeNull();
    expect(leader.maximalIsr).toEqual([LEADER, FOLLOWER]);
    expect(leader.isrProposalFailed(first, new KafkaError("INELIGIBLE_REPLICA"))).toBe("stale");

    // Refused after the partition-epoch check: surely not applied, the committed ISR stands.
    const second = leader.proposeIsr(grow);
    expect(second.partitionEpoch).toBe(1);
    expect(leader.isrProposalFailed(second, new KafkaError("INELIGIBLE_REPLICA"))).toBe("reverted");
    expect(leader.isrProposal).toBeNull();
    expect(leader.maximalIsr).toEqual([LEADER, FOLLOWER]);
    expect(() => leader.proposeIsr([FOLLOWER, THIRD])).toThrow(
      expect.objectContaining({ code: "INVALID_REQUEST" }),
    );
    expect(() => leader.proposeIsr([LEADER, 9])).toThrow(
      expect.objectContaining({ code: "INVALID_REQUEST" }),
    );
  });
});

describe("the ISR updater's answers (broker/cluster/isr-updater.ts)", () => {
  it("sends again a shrink refused STALE_BROKER_EPOCH, and acks=all goes on once it commits", async () => {
    const { leader, f2 } = await trio([LEADER, FOLLOWER, THIRD]);
    await leader.appendAsLeader(batch(["a"]), { acks: 1 });
    await replicate(leader, f2);
    await replicate(leader, f2);
    expect(leader.highWatermark).toBe(0);
    // The controller's view has not yet seen this broker's new registration, then has.
    const asked: IsrChangeRequest[][] = [];
    const alterPartition = async (requests: readonly IsrChangeRequest[]): Promise<PartitionResult[]> => {
      asked.push([...requests]);
      return requests.map((r) => {
        if (asked.length === 1) return { ...r, error: new KafkaError("STALE_BROKER_EPOCH"), state: null };
        const isr = requestedIsr(r).map((m) => m.brokerId);
        const state = { partition: 0, replicas: [LEADER, FOLLOWER, THIRD], isr, leader: LEADER };
        return {
          ...r,
          error: null,
          state: { ...state, leaderEpoch: 0, partitionEpoch: 1, addingReplicas: [], removingReplicas: [] },
        };
      });
    };
    const updater = new IsrUpdater(() => [leader], { alterPartition } as unknown as ControllerChannel, {
      nodeId: LEADER,
      lagTimeMaxMs: 1_000,
      checkIntervalMs: 3_600_000,
      retryMs: 1,
      brokerEpoch: () => 7,
    });
    updater.start();
    try {
      updater.checkAll(Date.now() + 60_000);
      await waitFor(() => leader.isrProposal === null, "the shrink committed at the second attempt");
      expect(asked).toHaveLength(2);
      expect(leader.isr).toEqual([LEADER, FOLLOWER]);
      expect(leader.highWatermark).toBe(1);
    } finally {
      await updater.stop();
    }
  });
});

describe("followers' state on the leader (review findings 3 and 4)", () => {
  it("forget a follower's log end when it leaves the ISR, so it rejoins only after fetching again", async () => {
    const { leader, f3 } = await trio([LEADER, FOLLOWER, THIRD]);
    await leader.appendAsLeader(batch(["a", "b", "c"]), { acks: 1 });
    await replicate(leader, f3, THIRD);
    await replicate(leader, f3, THIRD);
    expect(leader.followerState(THIRD)).toMatchObject({ logEndOffset: 3 });
    leader.makeLeader(0, 1, [LEADER, FOLLOWER], [LEADER, FOLLOWER, THIRD]);
    expect(leader.followerState(THIRD)).toMatchObject({ logEndOffset: -1, lastCaughtUpTimeMs: 0 });
    expect(leader.isrChangesNeeded(Date.now(), 30_000).expand).toEqual([]);
  });

  it("record a follower's broker epoch, refuse an older one, and start over at a newer one (KIP-903)", async () => {
    const { leader } = await trio([LEADER, FOLLOWER, THIRD]);
    await leader.appendAsLeader(batch(["a", "b", "c"]), { acks: 1 });
    const fetch = (offset: number, brokerEpoch: number) =>
      leader.fetchForFollower(THIRD, offset, offset > 0 ? 0 : -1, { maxBytes: FETCH_BYTES, brokerEpoch });
    await fetch(3, 5);
    expect(leader.followerState(THIRD)).toMatchObject({ logEndOffset: 3, brokerEpoch: 5 });
    const caughtUp = leader.followerState(THIRD)?.lastCaughtUpTimeMs ?? 0;
    expect(caughtUp).toBeGreaterThan(0);
    expect(await refusal(fetch(3, 4))).toBe("NOT_LEADER_OR_FOLLOWER");
    // Restarted with a shorter log: not caught up at any earlier time.
    await fetch(1, 6);
    expect(leader.followerState(THIRD)).toMatchObject({
      logEndOffset: 1,
      brokerEpoch: 6,
      lastCaughtUpTimeMs: 0,
    });
    leader.makeLeader(0, 1, [LEADER, FOLLOWER], [LEADER, FOLLOWER, THIRD]);
    await fetch(3, 6);
    const proposal = leader.proposeIsr([LEADER, FOLLOWER, THIRD]);
    expect(proposal.newIsrWithEpochs.find((m) => m.brokerId === THIRD)).toEqual({
      brokerId: THIRD,
      brokerEpoch: 6,
    });
  });

  it("keep a caught-up follower of an idle partition in the ISR however long ago it fetched", async () => {
    const { leader, follower } = await pair();
    await leader.appendAsLeader(batch(["a"]), { acks: 1 });
    await replicate(leader, follower);
    await replicate(leader, follower);
    const later = Date.now() + 3_600_000;
    expect(leader.isrChangesNeeded(later, 1_000).shrink).toEqual([]);
    await leader.appendAsLeader(batch(["b"]), { acks: 1 });
    expect(leader.isrChangesNeeded(later, 1_000).shrink).toEqual([FOLLOWER]);
  });

  it("shrink only a follower whose log end differs from the leader's (replicas.ts)", () => {
    const f = newReplicaState(2, true, 0);
    recordFetch(f, 12, 12, 0);
    const input = {
      leaderId: 1,
      isr: [1, 2],
      followers: new Map([[2, f]]),
      highWatermark: 12,
      leaderEpochStartOffset: 0,
      lagTimeMaxMs: 1_000,
      nowMs: 10_000,
    };
    expect(isrChanges({ ...input, leaderEndOffset: 12 }).shrink).toEqual([]);
    expect(isrChanges({ ...input, leaderEndOffset: 13 }).shrink).toEqual([2]);
  });
});

describe("the follower side under a moved epoch (review findings 10 and 11)", () => {
  it("refuse follower changes made under an older leader epoch, and on a leader, with KafkaErrors", async () => {
    const { leader, follower } = await pair(0);
    await leader.appendAsLeader(batch(["a", "b"]), { acks: 1 });
    const fetched = await leader.fetchForFollower(FOLLOWER, 0, -1, {
      maxBytes: FETCH_BYTES,
      currentLeaderEpoch: 0,
    });
    follower.makeFollower(1, THIRD, 1);
    expect(await refusal(follower.appendAsFollower(fetched.records, 0))).toBe("FENCED_LEADER_EPOCH");
    expect(follower.logEndOffset).toBe(0);
    expect(await refusal(follower.truncateTo(0, 0))).toBe("FENCED_LEADER_EPOCH");
    expect(await refusal(follower.truncateFullyAndStartAt(0, 0))).toBe("FENCED_LEADER_EPOCH");
    expect(() => follower.updateFollowerHighWatermark(2, 0)).toThrow(
      expect.objectContaining({ code: "FENCED_LEADER_EPOCH" }),
    );
    await follower.appendAsFollower(fetched.records, 1);
    expect(follower.logEndOffset).toBe(2);

    expect(await refusal(leader.truncateTo(0))).toBe("NOT_LEADER_OR_FOLLOWER");
    expect(await refusal(leader.truncateFullyAndStartAt(0))).toBe("NOT_LEADER_OR_FOLLOWER");
    expect(await refusal(leader.appendAsFollower(fetched.records))).toBe("NOT_LEADER_OR_FOLLOWER");
    expect(() => leader.updateFollowerHighWatermark(2)).toThrow(
      expect.objectContaining({ code: "NOT_LEADER_OR_FOLLOWER" }),
    );
  });

  it("start a new leader's epoch after the follower appends queued before it", async () => {
    const { leader, follower } = await pair(0);
    await leader.appendAsLeader(batch(["a", "b", "c"]), { acks: 1 });
    const fetched = await leader.fetchForFollower(FOLLOWER, 0, -1, {
      maxBytes: FETCH_BYTES,
      currentLeaderEpoch: 0,
    });
    const copying = follower.appendAsFollower(fetched.records, 0);
    follower.makeLeader(1, 1, [FOLLOWER], [LEADER, FOLLOWER]);
    const own = follower.appendAsLeader(batch(["d"]), { acks: 1 });
    await copying;
    expect((await own).result.baseOffset).toBe(3);
    expect(follower.epochAt(2)).toBe(0);
    expect(follower.epochAt(3)).toBe(1);
    expect(follower.lastOffsetForLeaderEpoch(0)).toEqual({ epoch: 0, endOffset: 3 });
    expect(follower.highWatermark).toBe(4);

    // The old leader, now following, joins the ISR once past the new epoch's start (3).
    leader.makeFollower(1, FOLLOWER, 1);
    await replicate(follower, leader, LEADER);
    await replicate(follower, leader, LEADER);
    expect(follower.isrChangesNeeded(Date.now(), 30_000).expand).toEqual([LEADER]);
  });
});

describe("append listeners (review finding 7)", () => {
  it("log a throwing listener and still answer the append and finish makeLeader", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "samsa-role-listener-"));
    const log = await PartitionLog.open({ dir, config: { ...DEFAULT_LOG_CONFIG, fileDeleteDelayMs: 0 } });
    opened.push({ log, dir });
    const limits = {
      expirationMs: 86_400_000,
      maxEntries: 10_000,
      idsPerSecond: 1_000,
      quotaWindowMs: 1_000,
    };
    const ids = new ProducerIds(
      limits,
      () => ISSUED_IDS,
      () => [],
    );
    const logged: string[] = [];
    const logger = {
      error: (_fields: Record<string, unknown>, message: string) => void logged.push(message),
    };
    const p = new Partition("t", 0, log, new NodeFs(), ids, LEADER, 1, logger);
    await p.load();
    let calls = 0;
    p.onAppend(() => {
      throw new Error("listener bug");
    });
    p.onAppend(() => {
      calls++;
    });
    p.makeLeader(0, 0, [LEADER]);
    const appended = await p.appendAsLeader(batch(["a"]), { acks: 1 });
    expect(appended.result.baseOffset).toBe(0);
    expect(p.highWatermark).toBe(1);
    expect(calls).toBe(1);
    expect(p.listenerFailures).toBe(1);
    expect(logged).toEqual(["partition append listener failed"]);
  });
});
