/**
 * One partition of this broker, leader or follower: the only door to its log and its replication
 * state (as Kafka's `Partition`). The controller's decisions arrive as `makeLeader`/`makeFollower`
 * with epochs that fence stale ones. As leader it appends in arrival order after the
 * idempotent-producer checks, stamps its leader epoch in every batch, serves followers' fetches,
 * tracks their log ends and moves the high watermark to the least of the in-sync replicas'
 * (single broker: the ISR is this broker alone, so at each durable append). As follower it stores
 * the leader's batches unchanged, truncates where its log diverged and takes the leader's high
 * watermark. Handlers never touch the log; the grep test test/broker/partition-door.test.ts checks it.
 */
import * as path from "node:path";
import { type ErrorName, KafkaError } from "../protocol/errors.js";
import {
  ATTRIBUTES_OFFSET,
  BASE_SEQUENCE_OFFSET,
  CONTROL_MASK,
  LAST_OFFSET_DELTA_OFFSET,
  LENGTH_OFFSET,
  LOG_OVERHEAD,
  MAX_TIMESTAMP_OFFSET,
  NO_TIMESTAMP,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  RECORDS_OFFSET,
  TIMESTAMP_TYPE_MASK,
} from "../protocol/record-batch.js";
import { readInt64 } from "../protocol/varint.js";
import type { LogConfig } from "../storage/config.js";
import { type StorageFs, writeFileAtomic } from "../storage/fs.js";
import type { AppendResult, PartitionLog, ReadResult, TimestampOffset } from "../storage/log.js";
import type { ValidAppend } from "../storage/validate.js";
import { type AckWaiter, AckWaiters } from "./ack-waiters.js";
import type { ProducerIds } from "./producer-ids.js";
import type { BatchSequence, ProducerSnapshot, ProducerStateManager } from "./producer-state.js";
import {
  type IsrChanges,
  isrChanges,
  isrHighWatermark,
  newReplicaState,
  type ReplicaState,
  recordBrokerEpoch,
  recordFetch,
  resetReplicaState,
  UNKNOWN_BROKER_EPOCH,
} from "./replicas.js";

export const PRODUCER_SNAPSHOT_FILE = "producer-state.snapshot";
/** The snapshot's layout: a header line, then one JSON line per producer. */
const SNAPSHOT_VERSION = 2;
/** Producers serialised per chunk of a snapshot (no single string holds them all). */
const SNAPSHOT_CHUNK_PRODUCERS = 10_000;
/** Bytes read per step while rebuilding producer state from the log. */
const REBUILD_READ_BYTES = 4 * 1024 * 1024;
const INT32_MAX = 0x7fff_ffff;
/** DeleteRecords' "up to the high watermark". */
const HIGH_WATERMARK_OFFSET = -1;

interface ProducerBatch {
  producerId: number;
  epoch: number;
  firstSeq: number;
  lastSeq: number;
  records: number;
  /** Records in the append before this batch: its base offset is the append's plus this. */
  offsetDelta: number;
}

/** `seq + n` in Kafka's sequence space, which wraps from 2^31-1 to 0. */
function addSequence(seq: number, n: number): number {
  return seq > INT32_MAX - n ? n - (INT32_MAX - seq) - 1 : seq + n;
}

function isControl(records: Buffer, position: number): boolean {
  return (records.readInt16BE(position + ATTRIBUTES_OFFSET) & CONTROL_MASK) !== 0;
}

/** The idempotent data batches of an append (producerId >= 0), from the header fields storage validated. */
function producerBatches(records: Buffer, validated: ValidAppend): ProducerBatch[] {
  const out: ProducerBatch[] = [];
  let offsetDelta = 0;
  for (const b of validated.batches) {
    if (b.producerId >= 0 && !isControl(records, b.position)) {
      out.push({
        producerId: b.producerId,
        epoch: b.producerEpoch,
        firstSeq: b.baseSequence,
        lastSeq: addSequence(b.baseSequence, b.recordCount - 1),
        records: b.recordCount,
        offsetDelta,
      });
    }
    offsetDelta += b.recordCount;
  }
  return out;
}

/** One producer as a snapshot line: [id, epoch, lastTimestampMs, [[firstSeq, lastSeq, baseOffset, lastOffset, logAppendTimeMs|null], ...]]. */
function snapshotLine(p: ProducerSnapshot): string {
  const batches = p.batches.map((b) => [
    b.firstSeq,
    b.lastSeq,
    b.baseOffset,
    b.lastOffset,
    b.logAppendTimeMs ?? null,
  ]);
  return `${JSON.stringify([p.producerId, p.epoch, p.lastTimestampMs, batches])}\n`;
}

function snapshotEntryFromLine(line: string): ProducerSnapshot {
  const [producerId, epoch, lastTimestampMs, batches] = JSON.parse(line) as [
    number,
    number,
    number,
    [number, number, number, number, number | null][],
  ];
  return {
    producerId,
    epoch,
    lastTimestampMs,
    batches: batches.map(([firstSeq, lastSeq, baseOffset, lastOffset, logAppendTimeMs]) => ({
      firstSeq,
      lastSeq,
      baseOffset,
      lastOffset,
      logAppendTimeMs: logAppendTimeMs ?? undefined,
    })),
  };
}

export interface PartitionAppend {
  result: AppendResult;
  /** The batch was a retry of one already written: its original offsets are returned. */
  duplicate: boolean;
}

/** Leader: appends and answers followers; follower: copies its leader; none: not yet assigned a role. */
export type PartitionRole = "leader" | "follower" | "none";

export interface LeaderAppendOptions {
  /** 0 or 1: answer after the leader's durable append; -1 (all): after the high watermark passes it. */
  acks: number;
  /** Whose producer-id quota a producer new to this partition counts against. */
  client?: string;
  /** Accept control batches (markers the broker writes itself). */
  allowControl?: boolean;
  /** acks=all: the longest wait for the in-sync replicas, then REQUEST_TIMED_OUT. None: no limit. */
  timeoutMs?: number;
}

/** The end of a leader epoch (OffsetForLeaderEpoch): the largest epoch <= the one asked, and where it ends. */
export interface EpochEndOffset {
  epoch: number;
  endOffset: number;
}

export interface FollowerFetchOptions {
  maxBytes: number;
  /** Return the first batch whole even beyond maxBytes (KIP-74; default true). */
  minOneBatch?: boolean;
  /** The follower's belief of the leader epoch (-1: none); older or newer is refused (KIP-320). */
  currentLeaderEpoch?: number;
  /**
   * The follower's broker epoch (Fetch v15 ReplicaState.ReplicaEpoch; -1 or absent: unknown). A
   * newer one than its last resets what the leader knew of it; an older one is refused (KIP-903).
   */
  brokerEpoch?: number;
  nowMs?: number;
}

/** One member of a proposed ISR with the broker epoch its fetches named (AlterPartition v3 NewIsrWithEpochs). */
export interface IsrMember {
  brokerId: number;
  /** -1 when unknown (no fetch under this leader named one yet). */
  brokerEpoch: number;
}

/**
 * An ISR change this leader asks the controller for (AlterPartition), made by `proposeIsr`. While
 * it is in flight the high watermark and acks=all count the maximal ISR (the committed one plus
 * the members it adds); it ends with `isrProposalCommitted`, `isrProposalFailed` or a role change.
 */
export interface IsrProposal {
  readonly leaderEpoch: number;
  /** The partition epoch the change is based on (the controller's compare-and-set token). */
  readonly partitionEpoch: number;
  readonly newIsr: readonly number[];
  readonly newIsrWithEpochs: readonly IsrMember[];
}

/** The ISR a controller committed (the AlterPartition answer, or the partition state it wrote). */
export interface CommittedIsr {
  leaderEpoch: number;
  partitionEpoch: number;
  isr: readonly number[];
}

/**
 * What became of a failed proposal (decision 0027): `stale`, not the one in flight (ignored);
 * `reverted`, refused and surely not applied, the committed ISR stands and a new proposal may
 * follow; `await-metadata`, refused by a state that changed (the proposal may have been applied
 * by an earlier attempt), it stays in flight until makeLeader/makeFollower brings the new state;
 * `retry`, outcome unknown (a timeout, no controller), send the same proposal again.
 */
export type IsrProposalOutcome = "stale" | "reverted" | "await-metadata" | "retry";

/** Refusals that come after the controller's partition-epoch check: no attempt of the proposal was applied. */
const REVERTING_ERRORS: ReadonlySet<ErrorName> = new Set<ErrorName>([
  "OPERATION_NOT_ATTEMPTED",
  "INELIGIBLE_REPLICA",
  "INVALID_REQUEST",
]);
/** Refusals by a changed state: the truth comes with the next metadata (Kafka waits for it too). */
const AWAITING_ERRORS: ReadonlySet<ErrorName> = new Set<ErrorName>([
  "FENCED_LEADER_EPOCH",
  "NOT_LEADER_OR_FOLLOWER",
  "INVALID_UPDATE_VERSION",
  "UNKNOWN_TOPIC_OR_PARTITION",
  "UNKNOWN_TOPIC_ID",
  "NEW_LEADER_ELECTED",
]);

/** Where a partition's append listeners report a throw (they never fail the append or role change). */
export interface ListenerErrorLogger {
  error(fields: Record<string, unknown>, message: string): void;
}

export interface FollowerFetch {
  /** Whole batches from the fetch offset up to the leader's log end (empty when diverging). */
  records: Buffer;
  highWatermark: number;
  logStartOffset: number;
  logEndOffset: number;
  /** KIP-320: the follower's log diverges from the leader's; it truncates to `endOffset` first. */
  divergingEpoch: EpochEndOffset | null;
}

/** Most acks=all appends one partition holds waiting for its followers (then NOT_ENOUGH_REPLICAS). */
export const MAX_ACK_WAITERS = 65_536;
/** The leader epoch and ISR of a partition no role was given yet. */
const NO_EPOCH = -1;
const NO_LEADER = -1;
const EMPTY = Buffer.alloc(0);

/** Throws when an invariant of the partition's replication state is broken (a bug, never input). */
function invariant(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`partition invariant broken: ${message}`);
}

export class Partition {
  readonly producers: ProducerStateManager;
  private roleNow: PartitionRole = "none";
  private leaderEpochNow = NO_EPOCH;
  private partitionEpochNow = NO_EPOCH;
  private leaderIdNow = NO_LEADER;
  private isrNow: readonly number[] = [];
  /** The ISR proposal in flight (one at a time, as Kafka), and the ISR it makes maximal. */
  private pendingIsr: IsrProposal | null = null;
  private maximalIsrNow: readonly number[] = [];
  private replicasNow: readonly number[] = [];
  /**
   * Where the current leader epoch starts in the log (the log end when this broker took the lead);
   * infinite while follower appends queued before the lead are still being written.
   */
  private leaderEpochStartOffset = 0;
  /** Followers of this leader (every assigned replica but this broker). */
  private readonly followers = new Map<number, ReplicaState>();
  /** ISR changes committed while this broker led, within a term (`countIsrChange`): only grow. */
  isrShrinks = 0;
  isrExpands = 0;
  private readonly ackWaiters = new AckWaiters();
  private minIsr: number;
  private readonly listeners = new Set<() => void>();
  /** Follower appends and truncations queued in the log and not done; a new leader waits for them. */
  private followerOps = 0;
  private followerIdleNow: { promise: Promise<void>; resolve: () => void } | null = null;
  /** Append listeners that threw (logged, never failing the append). */
  listenerFailures = 0;

  constructor(
    readonly topic: string,
    readonly index: number,
    private readonly log: PartitionLog,
    private readonly sfs: StorageFs,
    private readonly producerIds: ProducerIds,
    /** This broker's node id: the replica id it holds of this partition. */
    readonly localId: number,
    minInsyncReplicas = 1,
    private readonly logger?: ListenerErrorLogger,
  ) {
    this.producers = producerIds.newState();
    this.minIsr = minInsyncReplicas;
  }

  get role(): PartitionRole {
    return this.roleNow;
  }

  get leaderEpoch(): number {
    return this.leaderEpochNow;
  }

  get partitionEpoch(): number {
    return this.partitionEpochNow;
  }

  /** The leader's node id (this broker's while it leads; -1 before any role). */
  get leader(): number {
    return this.leaderIdNow;
  }

  /** The in-sync replicas as this leader knows them committed (empty on a follower). */
  get isr(): readonly number[] {
    return this.isrNow;
  }

  /**
   * The ISR the high watermark and acks=all count: the committed one plus the members an ISR
   * proposal in flight adds (a proposed removal keeps its member until committed). Kafka's
   * maximal ISR: always a superset of the controller's, whatever it has committed meanwhile.
   */
  get maximalIsr(): readonly number[] {
    return this.maximalIsrNow;
  }

  /** The ISR proposal in flight, if any. */
  get isrProposal(): IsrProposal | null {
    return this.pendingIsr;
  }

  get replicas(): readonly number[] {
    return this.replicasNow;
  }

  get minInsyncReplicas(): number {
    return this.minIsr;
  }

  get logStartOffset(): number {
    return this.log.logStartOffset;
  }

  get logEndOffset(): number {
    return this.log.logEndOffset;
  }

  get highWatermark(): number {
    return this.log.highWatermark;
  }

  /** The log failed (a storage fault) and refuses appends until it heals. */
  get failed(): boolean {
    return this.log.failed;
  }

  get logConfig(): LogConfig {
    return this.log.logConfig;
  }

  sizeBytes(): number {
    return this.log.sizeBytes();
  }

  segmentCount(): number {
    return this.log.segmentCount();
  }

  /** Applies changed topic configs: the log's, and min.insync.replicas (which may free the high watermark). */
  updateConfig(config: LogConfig, minInsyncReplicas: number): void {
    this.log.updateConfig(config);
    this.minIsr = minInsyncReplicas;
    this.advanceHighWatermark();
  }

  // ---------------------------------------------------------------------------------------------
  // Roles and epochs

  /**
   * Makes this broker the leader at `leaderEpoch` with in-sync replicas `isr` (which holds this
   * broker). A new epoch starts in the epoch cache at the log end (once follower appends queued
   * before it are written), and every follower's log end is unknown until it fetches; the same
   * epoch with a newer partition epoch only updates the ISR and replicas (a change the controller
   * committed; it ends an ISR proposal in flight, and resets the state of followers that left the
   * ISR); an older partition epoch at the same leader epoch is ignored (a stale update). An older
   * leader epoch is FENCED_LEADER_EPOCH.
   */
  makeLeader(
    leaderEpoch: number,
    partitionEpoch: number,
    isr: readonly number[],
    replicas: readonly number[] = isr,
  ): void {
    invariant(isr.includes(this.localId), `leader ${this.localId} not in its ISR [${isr}]`);
    this.refuseOlderEpoch(leaderEpoch);
    const sameTerm = this.roleNow === "leader" && leaderEpoch === this.leaderEpochNow;
    if (sameTerm && partitionEpoch < this.partitionEpochNow) return;
    if (!sameTerm) this.startTerm(leaderEpoch);
    else if (partitionEpoch > this.partitionEpochNow) this.pendingIsr = null;
    if (sameTerm) this.countIsrChange(isr);
    this.roleNow = "leader";
    this.leaderEpochNow = leaderEpoch;
    this.partitionEpochNow = partitionEpoch;
    this.leaderIdNow = this.localId;
    this.applyIsr(isr, replicas);
    this.advanceHighWatermark();
  }

  /**
   * A new term: followers forgotten, no proposal in flight, the epoch stamped at the log end. If
   * follower appends or truncations are still queued, the stamp waits for them (Kafka holds the
   * partition's lock across them instead): stamped now, the epoch would claim their offsets.
   */
  private startTerm(leaderEpoch: number): void {
    this.followers.clear();
    this.pendingIsr = null;
    if (this.followerOps === 0) {
      this.stampEpoch(leaderEpoch);
      return;
    }
    this.leaderEpochStartOffset = Number.POSITIVE_INFINITY;
    void this.followerIdle().then(() => {
      if (this.roleNow !== "leader" || this.leaderEpochNow !== leaderEpoch) return;
      this.stampEpoch(leaderEpoch);
      this.advanceHighWatermark();
    });
  }

  /**
   * Enters `leaderEpoch` in the epoch cache where the next append lands, unless an append of it
   * already did: past an append of the previous term still being written (this broker led it
   * too), whose batch carries that term's epoch. Stamped at the written log end instead, the new
   * epoch would claim that batch's offset, and a follower that copied it would be told to cut it
   * and fetch it again, for ever.
   */
  private stampEpoch(leaderEpoch: number): void {
    const epochs = this.log.epochs;
    if (leaderEpoch > epochs.latestEpoch()) epochs.assign(leaderEpoch, this.log.nextAppendOffset);
    const entry = epochs.list().find((e) => e.epoch === leaderEpoch);
    this.leaderEpochStartOffset = entry ? entry.startOffset : this.log.nextAppendOffset;
  }

  /**
   * Counts a committed ISR change of this leader's term (its own proposal, or the controller's
   * removal of a fenced or shutting-down broker): a shrink when members leave, an expand when
   * members join (both for a swap). Read by the broker's metrics (Kafka's IsrShrinksPerSec).
   */
  private countIsrChange(isr: readonly number[]): void {
    if (this.isrNow.some((id) => !isr.includes(id))) this.isrShrinks++;
    if (isr.some((id) => !this.isrNow.includes(id))) this.isrExpands++;
  }

  /**
   * The committed ISR and replicas: a follower that left the ISR starts over (log end unknown,
   * not caught up: it may since have lost records, KIP-903); a new replica starts unknown.
   */
  private applyIsr(isr: readonly number[], replicas: readonly number[]): void {
    const now = this.producerIds.nowMs();
    for (const id of this.isrNow) {
      const state = this.followers.get(id);
      if (state && !isr.includes(id)) resetReplicaState(state);
    }
    for (const id of this.followers.keys()) if (!replicas.includes(id)) this.followers.delete(id);
    for (const id of replicas) {
      if (id !== this.localId && !this.followers.has(id))
        this.followers.set(id, newReplicaState(id, isr.includes(id), now));
    }
    this.isrNow = [...isr];
    this.replicasNow = [...replicas];
    this.updateMaximalIsr();
  }

  private updateMaximalIsr(): void {
    const added = this.pendingIsr?.newIsr.filter((id) => !this.isrNow.includes(id)) ?? [];
    this.maximalIsrNow = added.length === 0 ? this.isrNow : [...this.isrNow, ...added];
  }

  /**
   * Makes this broker a follower of `leader` at `leaderEpoch`. Appends waiting for acks=all are
   * answered NOT_LEADER_OR_FOLLOWER; the log is left as it is (the replica fetcher truncates it
   * by the leader's epochs). An older epoch is FENCED_LEADER_EPOCH.
   */
  makeFollower(leaderEpoch: number, leader: number, partitionEpoch = this.partitionEpochNow): void {
    invariant(leader !== this.localId, "a follower of itself");
    this.refuseOlderEpoch(leaderEpoch);
    this.roleNow = "follower";
    this.leaderEpochNow = leaderEpoch;
    this.partitionEpochNow = partitionEpoch;
    this.leaderIdNow = leader;
    this.isrNow = [];
    this.pendingIsr = null;
    this.updateMaximalIsr();
    this.followers.clear();
    this.ackWaiters.failAll(
      new KafkaError("NOT_LEADER_OR_FOLLOWER", `${this.name()} is now a follower of ${leader}`),
    );
  }

  /**
   * The replica leaves this broker (moved away by a reassignment, or its topic deleted), as
   * Kafka's StopReplica: it leads and follows nothing from now on, and appends waiting for
   * acks=all are answered NOT_LEADER_OR_FOLLOWER (the producer finds the new leader, whose
   * sequences answer its retry), not left to time out on a log no one fetches from.
   */
  stopReplica(): void {
    this.roleNow = "none";
    this.leaderIdNow = NO_LEADER;
    this.isrNow = [];
    this.pendingIsr = null;
    this.updateMaximalIsr();
    this.followers.clear();
    this.ackWaiters.failAll(new KafkaError("NOT_LEADER_OR_FOLLOWER", `${this.name()} left this broker`));
  }

  private refuseOlderEpoch(leaderEpoch: number): void {
    if (leaderEpoch >= this.leaderEpochNow) return;
    throw new KafkaError(
      "FENCED_LEADER_EPOCH",
      `${this.name()}: leader epoch ${leaderEpoch} is older than ${this.leaderEpochNow}`,
    );
  }

  /**
   * KIP-320: a client's current leader epoch (-1: none) older than this partition's is
   * FENCED_LEADER_EPOCH, newer is UNKNOWN_LEADER_EPOCH; then a partition that does not lead is
   * NOT_LEADER_OR_FOLLOWER. Null when the request may go on.
   */
  leaderEpochError(currentLeaderEpoch: number): ErrorName | null {
    if (currentLeaderEpoch >= 0 && currentLeaderEpoch < this.leaderEpochNow) return "FENCED_LEADER_EPOCH";
    if (currentLeaderEpoch > this.leaderEpochNow) return "UNKNOWN_LEADER_EPOCH";
    if (this.roleNow !== "leader") return "NOT_LEADER_OR_FOLLOWER";
    return null;
  }

  /** As `leaderEpochError`, thrown. */
  checkLeaderEpoch(currentLeaderEpoch: number): void {
    const code = this.leaderEpochError(currentLeaderEpoch);
    if (code)
      throw new KafkaError(code, `${this.name()} leader epoch ${this.leaderEpochNow}, role ${this.roleNow}`);
  }

  private name(): string {
    return `${this.topic}-${this.index}`;
  }

  // ---------------------------------------------------------------------------------------------
  // Loading and snapshots

  /**
   * Loads producer state: the snapshot if it matches the log, then the batches after it. Only ids
   * that were handed out are kept, expired ones are dropped, and no more than the broker-wide cap
   * is added, so a log full of invented ids loads in bounded memory.
   */
  async load(): Promise<void> {
    invariant(this.roleNow === "none", `${this.name()} loaded after it took a role`);
    let from = this.log.logStartOffset;
    const data = await this.sfs.readFile(path.join(this.log.dir, PRODUCER_SNAPSHOT_FILE));
    if (data) {
      try {
        const offset = this.restoreSnapshot(data);
        if (offset !== null) from = offset;
      } catch {
        // A damaged snapshot is rebuilt from the log.
        this.producers.clear();
      }
    }
    await this.rebuildFrom(from);
    this.producers.removeExpired(this.producerIds.nowMs(), this.producerIds.limits.expirationMs);
  }

  /** Restores a snapshot (this version's or the older single-document one); its offset, or null. */
  private restoreSnapshot(data: Buffer): number | null {
    const firstEnd = data.indexOf(10);
    const head = JSON.parse(data.toString("utf8", 0, firstEnd < 0 ? data.length : firstEnd)) as {
      version?: number;
      offset: number;
      producers?: ProducerSnapshot[];
    };
    if (head.offset > this.log.logEndOffset || head.offset < this.log.logStartOffset) return null;
    const now = this.producerIds.nowMs();
    if (head.version === undefined) {
      for (const p of head.producers ?? []) this.keepSnapshotEntry(p, head.offset, now);
      return head.offset;
    }
    for (let pos = firstEnd + 1; pos > 0 && pos < data.length; ) {
      const end = data.indexOf(10, pos);
      const line = data.toString("utf8", pos, end < 0 ? data.length : end);
      if (line.length > 0) this.keepSnapshotEntry(snapshotEntryFromLine(line), head.offset, now);
      pos = end < 0 ? data.length : end + 1;
    }
    return head.offset;
  }

  /**
   * Restores one producer's entry, without batches at or past the snapshot's offset: a snapshot
   * written by an older version may hold batches whose append was pending and then refused, and
   * restoring them would answer the producer's retry as a duplicate of offsets that hold nothing.
   */
  private keepSnapshotEntry(p: ProducerSnapshot, snapshotOffset: number, nowMs: number): void {
    const batches = p.batches.filter((b) => b.lastOffset < snapshotOffset);
    if (batches.length === 0) return;
    if (!this.producerIds.isIssued(p.producerId)) return;
    if (nowMs - (p.lastTimestampMs ?? nowMs) >= this.producerIds.limits.expirationMs) return;
    if (!this.producerIds.hasRoom()) return;
    this.producers.restoreEntry({ ...p, batches }, nowMs);
  }

  private async rebuildFrom(offset: number): Promise<void> {
    let next = offset;
    const now = this.producerIds.nowMs();
    for (let steps = 0; next < this.log.logEndOffset && steps < 10_000_000; steps++) {
      const { records } = await this.log.read(next, { maxBytes: REBUILD_READ_BYTES });
      if (records.length === 0) break;
      let pos = 0;
      while (pos + RECORDS_OFFSET <= records.length) {
        const size = LOG_OVERHEAD + records.readInt32BE(pos + LENGTH_OFFSET);
        const base = readInt64(records, pos);
        const last = base + records.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET);
        const producerId = readInt64(records, pos + PRODUCER_ID_OFFSET);
        if (producerId >= 0 && last >= next) this.rememberBatch(records, pos, base, last, now, false);
        next = Math.max(next, last + 1);
        pos += size;
      }
    }
  }

  /**
   * Records one stored batch's producer state, unless, for a batch read back from the log, its id
   * was never issued or the cap is reached. A leader's batches copied by a follower are `trusted`:
   * the leader checked the id (this broker's view of issued ids may lag behind it), and they are
   * kept even beyond max.concurrent.producer.ids. The cap guards against clients inventing state
   * (producer-ids.ts); a follower's entries were each admitted under its leader's cap, so they are
   * bounded, and dropping one would let a retry after a failover be written twice (Kafka has no
   * cap). They still count towards the cap, so this broker admits fewer new producers as leader,
   * and expire as any other.
   */
  private rememberBatch(
    records: Buffer,
    pos: number,
    base: number,
    last: number,
    nowMs: number,
    trusted: boolean,
  ): void {
    const producerId = readInt64(records, pos + PRODUCER_ID_OFFSET);
    if (!trusted && !this.producerIds.isIssued(producerId)) return;
    if (!trusted && !this.producers.has(producerId) && !this.producerIds.hasRoom()) return;
    const firstSeq = records.readInt32BE(pos + BASE_SEQUENCE_OFFSET);
    const logAppendTime = (records.readInt16BE(pos + ATTRIBUTES_OFFSET) & TIMESTAMP_TYPE_MASK) !== 0;
    const maxTimestamp = readInt64(records, pos + MAX_TIMESTAMP_OFFSET);
    // The broker's clock at append time is not stored; the batch's timestamp stands in for it,
    // never later than now (a future timestamp must not keep state alive longer).
    const timestampMs = maxTimestamp >= 0 ? Math.min(maxTimestamp, nowMs) : nowMs;
    this.producers.record(
      producerId,
      records.readInt16BE(pos + PRODUCER_EPOCH_OFFSET),
      {
        firstSeq,
        lastSeq: addSequence(firstSeq, last - base),
        baseOffset: base,
        lastOffset: last,
        logAppendTimeMs: logAppendTime ? maxTimestamp : undefined,
      },
      timestampMs,
    );
  }

  /**
   * Writes the producer-state snapshot at the current log end: a header line and one line per
   * producer, serialised in chunks, so a snapshot of many producers never needs one huge string.
   * Only batches below that log end are written: a batch still pending there may yet be refused
   * (a storage fault), and a snapshot naming it would make its retry a duplicate of nothing.
   */
  async snapshot(): Promise<void> {
    const offset = this.log.logEndOffset;
    const chunks = [Buffer.from(`${JSON.stringify({ version: SNAPSHOT_VERSION, offset })}\n`)];
    let lines: string[] = [];
    for (const p of this.producers.entries()) {
      const batches = p.batches.filter((b) => b.lastOffset < offset);
      if (batches.length === 0) continue;
      lines.push(snapshotLine({ ...p, batches }));
      if (lines.length < SNAPSHOT_CHUNK_PRODUCERS) continue;
      chunks.push(Buffer.from(lines.join("")));
      lines = [];
    }
    chunks.push(Buffer.from(lines.join("")));
    await writeFileAtomic(this.sfs, path.join(this.log.dir, PRODUCER_SNAPSHOT_FILE), Buffer.concat(chunks));
  }

  // ---------------------------------------------------------------------------------------------
  // Leader appends

  /**
   * Appends batches as the leader: NOT_LEADER_OR_FOLLOWER unless this broker leads; for acks=all,
   * NOT_ENOUGH_REPLICAS while the ISR is smaller than min.insync.replicas (nothing written). Then
   * the batches are validated (storage/validate.ts) and idempotent ones checked against their
   * producer's sequences: a retry returns the original offsets. Every batch is stamped with the
   * leader epoch, which the epoch cache records. Resolves once the log acknowledges (durable under
   * the topic's flush policy) or, for acks=all, once the high watermark passes the batches, and
   * then NOT_ENOUGH_REPLICAS_AFTER_APPEND if the maximal ISR shrank below min.insync.replicas
   * meanwhile (Kafka checks the committed ISR before, the maximal one after).
   * A producer id never handed out is UNKNOWN_PRODUCER_ID; a producer new to this partition counts
   * against `client`'s producer-id quota and the broker-wide cap (THROTTLING_QUOTA_EXCEEDED).
   */
  async appendAsLeader(records: Buffer, options: LeaderAppendOptions): Promise<PartitionAppend> {
    this.checkLeaderEpoch(NO_EPOCH);
    if (options.acks === -1) this.checkEnoughReplicas("NOT_ENOUGH_REPLICAS", this.isrNow);
    const appended = await this.appendLocally(records, options);
    if (options.acks === -1) {
      await this.awaitHighWatermark(appended.result.lastOffset, options.timeoutMs);
      this.checkEnoughReplicas("NOT_ENOUGH_REPLICAS_AFTER_APPEND", this.maximalIsrNow);
    }
    return appended;
  }

  /** Appends as the leader with acks=1 (the broker's own records: group metadata, markers). */
  append(records: Buffer, client = "internal"): Promise<PartitionAppend> {
    return this.appendAsLeader(records, { acks: 1, client });
  }

  private checkEnoughReplicas(
    code: "NOT_ENOUGH_REPLICAS" | "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
    isr: readonly number[],
  ): void {
    if (isr.length >= this.minIsr) return;
    throw new KafkaError(code, `${isr.length} in-sync replicas, min.insync.replicas=${this.minIsr}`);
  }

  /** Producer ids this broker's view does not show as issued, checked in the store (producer-ids.ts). */
  private async lookUpProducerIds(batches: readonly { producerId: number }[], epoch: number): Promise<void> {
    for (const b of batches) await this.producerIds.checkIssuedFresh(b.producerId);
    if (this.leaderEpochNow !== epoch || this.roleNow !== "leader")
      throw new KafkaError("NOT_LEADER_OR_FOLLOWER", "leadership changed while producer ids were looked up");
  }

  /** The leader's append up to its durable write: validation, sequences, offsets and the epoch stamp. */
  private async appendLocally(records: Buffer, options: LeaderAppendOptions): Promise<PartitionAppend> {
    // Whole batches are checked first: a corrupt or old-format batch carrying the producer id and
    // sequences of a stored one is refused, never answered as that batch's duplicate.
    // Compressed batches' records are checked off the event loop (storage/decompress.ts); a
    // leadership change meanwhile refuses the append rather than writing under a stale epoch.
    const epoch = this.leaderEpochNow;
    const appendOptions = { allowControl: options.allowControl };
    const validated = await this.log.validateRecords(records, appendOptions);
    // Follower appends queued before this broker took the lead go first (see startTerm).
    if (this.followerOps > 0) await this.followerIdle();
    if (this.leaderEpochNow !== epoch || this.roleNow !== "leader")
      throw new KafkaError("NOT_LEADER_OR_FOLLOWER", "leadership changed while the batches were checked");
    const batches = producerBatches(records, validated);
    if (batches.length > 0) {
      if (batches.some((b) => !this.producerIds.inView(b.producerId)))
        await this.lookUpProducerIds(batches, epoch);
      const duplicate = this.checkSequences(batches);
      if (duplicate) return this.answerDuplicate(duplicate);
      if (!this.producers.has(batches[0].producerId))
        this.producerIds.admitNew(options.client ?? "internal", batches[0].producerId);
    }
    const pending = this.log.appendOrThrow(records, { ...appendOptions, leaderEpoch: epoch, validated });
    const recorded = this.recordSequences(batches, readInt64(records, 0), pending);
    let result: AppendResult;
    try {
      result = await pending;
    } catch (err) {
      // Refused (a storage fault): the sequences were never written, so the producer's retry
      // after the log heals is appended, not answered as a duplicate of nothing.
      if (recorded.length > 0) this.producers.truncateTo(recorded[0].baseOffset);
      throw err;
    }
    for (const seq of recorded) {
      seq.pending = undefined;
      if (result.logAppendTimeMs !== undefined && result.logAppendTimeMs !== NO_TIMESTAMP)
        seq.logAppendTimeMs = result.logAppendTimeMs;
    }
    invariant(result.lastOffset < this.log.logEndOffset, "an acknowledged offset at or past the log end");
    if (!this.advanceHighWatermark()) this.notify();
    return { result, duplicate: false };
  }

  /** A retry of a stored batch: its original offsets (once its first append is written). */
  private async answerDuplicate(duplicate: BatchSequence): Promise<PartitionAppend> {
    const result = duplicate.pending ? await duplicate.pending : undefined;
    return {
      duplicate: true,
      result: {
        baseOffset: duplicate.baseOffset,
        lastOffset: duplicate.lastOffset,
        recordCount: duplicate.lastOffset - duplicate.baseOffset + 1,
        logStartOffset: result?.logStartOffset ?? this.log.logStartOffset,
        // As Kafka, a retry of a LogAppendTime batch is answered with the time it was stored at.
        logAppendTimeMs: result?.logAppendTimeMs ?? duplicate.logAppendTimeMs ?? NO_TIMESTAMP,
      },
    };
  }

  /**
   * Records the sequences of an append whose offsets the log assigned synchronously (patching the
   * first batch's baseOffset in place, read here as `baseOffset`).
   */
  private recordSequences(
    batches: ProducerBatch[],
    baseOffset: number,
    pending: Promise<AppendResult>,
  ): BatchSequence[] {
    const recorded: BatchSequence[] = [];
    const offset = baseOffset;
    const now = this.producerIds.nowMs();
    for (const b of batches) {
      const seq: BatchSequence = {
        firstSeq: b.firstSeq,
        lastSeq: b.lastSeq,
        baseOffset: offset + b.offsetDelta,
        lastOffset: offset + b.offsetDelta + b.records - 1,
        pending,
      };
      this.producers.record(b.producerId, b.epoch, seq, now);
      recorded.push(seq);
    }
    return recorded;
  }

  /** Sequence checks across the batches of one append; the duplicate when all are retries. */
  private checkSequences(batches: ProducerBatch[]): BatchSequence | null {
    const first = batches[0];
    const duplicate = this.producers.check(first.producerId, first.epoch, first.firstSeq, first.lastSeq);
    for (let i = 1; i < batches.length; i++) {
      const b = batches[i];
      const prev = batches[i - 1];
      const contiguous =
        b.producerId === prev.producerId &&
        b.epoch === prev.epoch &&
        b.firstSeq === addSequence(prev.lastSeq, 1);
      if (!contiguous || duplicate) {
        throw new KafkaError(
          "OUT_OF_ORDER_SEQUENCE_NUMBER",
          "batches of one append must continue each other",
        );
      }
    }
    return duplicate;
  }

  // ---------------------------------------------------------------------------------------------
  // The high watermark

  /**
   * Moves the high watermark up to the least log end offset of the maximal ISR (the committed one
   * and the members a proposal in flight adds), never back, and only while the committed ISR holds
   * at least min.insync.replicas (capped at the replica count: a single-replica partition is never
   * held), as Kafka. Not while follower appends queued before the lead are written. Answers the
   * acks=all appends it passes and wakes readers. Returns whether it moved.
   */
  private advanceHighWatermark(): boolean {
    if (this.roleNow !== "leader" || this.followerOps > 0) return false;
    if (this.isrNow.length < Math.min(this.minIsr, this.replicasNow.length)) return false;
    const before = this.log.highWatermark;
    const end = this.log.logEndOffset;
    const candidate = isrHighWatermark(this.localId, end, this.maximalIsrNow, this.followers);
    if (candidate <= before) return false;
    this.log.setHighWatermark(candidate);
    const hw = this.log.highWatermark;
    invariant(hw >= before && hw <= this.log.logEndOffset, `high watermark ${before} -> ${hw}`);
    this.settleAckWaiters();
    this.notify();
    return true;
  }

  /** Resolves once the high watermark is past `offset`; REQUEST_TIMED_OUT after `timeoutMs`. */
  private awaitHighWatermark(offset: number, timeoutMs?: number): Promise<void> {
    if (this.log.highWatermark > offset) return Promise.resolve();
    // The lead was lost while the append was written: no one would ever settle the waiter.
    if (this.roleNow !== "leader")
      return Promise.reject(
        new KafkaError("NOT_LEADER_OR_FOLLOWER", `${this.name()} stopped leading during the append`),
      );
    if (this.ackWaiters.size >= MAX_ACK_WAITERS) {
      return Promise.reject(
        new KafkaError(
          "NOT_ENOUGH_REPLICAS",
          `${MAX_ACK_WAITERS} appends already wait for the in-sync replicas`,
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: AckWaiter = { offset, resolve, reject, timer: null, done: false };
      if (timeoutMs !== undefined) {
        waiter.timer = setTimeout(() => {
          this.ackWaiters.remove(waiter);
          reject(new KafkaError("REQUEST_TIMED_OUT", `the in-sync replicas did not reach offset ${offset}`));
        }, timeoutMs);
      }
      this.ackWaiters.add(waiter);
    });
  }

  private settleAckWaiters(): void {
    this.ackWaiters.settle(this.log.highWatermark);
  }

  /**
   * Calls every append listener; one that throws is logged and counted, and neither stops the
   * others nor fails the append or role change that called it (the batch is written: a failed
   * answer would make a producer retry it).
   */
  private notify(): void {
    for (const listener of this.listeners) {
      try {
        listener();
      } catch (err) {
        this.listenerFailures++;
        this.logger?.error({ err, partition: this.name() }, "partition append listener failed");
      }
    }
  }

  /** Calls `listener` after every append and high-watermark move until the returned function is called. */
  onAppend(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---------------------------------------------------------------------------------------------
  // Serving followers

  /**
   * A follower's fetch (the leader side of replication): checks its current leader epoch
   * (KIP-320), that it is an assigned replica (NOT_LEADER_OR_FOLLOWER otherwise) and its broker
   * epoch (KIP-903: an older one than it fetched with before is NOT_LEADER_OR_FOLLOWER; a newer
   * one, a restart, resets what this leader knew of it). When its
   * last fetched epoch and fetch offset contradict this leader's epoch cache it gets the diverging
   * epoch and that epoch's end offset, no records, and nothing is recorded. Otherwise records its
   * log end offset (the fetch offset) and when it was caught up, advances the high watermark, and
   * returns whole batches up to the log end (OFFSET_OUT_OF_RANGE outside [log start, log end]).
   */
  async fetchForFollower(
    replicaId: number,
    fetchOffset: number,
    lastFetchedEpoch: number,
    options: FollowerFetchOptions,
  ): Promise<FollowerFetch> {
    // A new leader whose own follower writes are still queued has not started its term: its log
    // end and epoch cache are not yet the ones it leads with (startTerm), so nothing is compared
    // with them or recorded until those writes are done.
    if (this.followerOps > 0) await this.followerIdle();
    this.checkLeaderEpoch(options.currentLeaderEpoch ?? NO_EPOCH);
    const state = this.followers.get(replicaId);
    if (!state)
      throw new KafkaError("NOT_LEADER_OR_FOLLOWER", `replica ${replicaId} is not assigned ${this.name()}`);
    const brokerEpoch = options.brokerEpoch ?? UNKNOWN_BROKER_EPOCH;
    if (!recordBrokerEpoch(state, brokerEpoch)) {
      throw new KafkaError(
        "NOT_LEADER_OR_FOLLOWER",
        `replica ${replicaId} fetches with broker epoch ${brokerEpoch}, older than ${state.brokerEpoch}`,
      );
    }
    const diverging = lastFetchedEpoch >= 0 ? this.divergence(fetchOffset, lastFetchedEpoch) : null;
    if (diverging) return this.followerAnswer(EMPTY, diverging);
    if (fetchOffset < this.log.logStartOffset || fetchOffset > this.log.logEndOffset) {
      throw new KafkaError(
        "OFFSET_OUT_OF_RANGE",
        `replica ${replicaId} fetches ${fetchOffset}, outside [${this.log.logStartOffset}, ${this.log.logEndOffset}]`,
      );
    }
    recordFetch(state, fetchOffset, this.log.logEndOffset, options.nowMs ?? this.producerIds.nowMs());
    this.advanceHighWatermark();
    const read = await this.log.read(fetchOffset, {
      maxBytes: options.maxBytes,
      minOneBatch: options.minOneBatch ?? true,
    });
    return this.followerAnswer(read.records, null);
  }

  private followerAnswer(records: Buffer, divergingEpoch: EpochEndOffset | null): FollowerFetch {
    return {
      records,
      highWatermark: this.log.highWatermark,
      logStartOffset: this.log.logStartOffset,
      logEndOffset: this.log.logEndOffset,
      divergingEpoch,
    };
  }

  /**
   * KIP-320: the follower's last fetched epoch ends here earlier than its fetch offset, or is not
   * known here: the end of the largest epoch <= it, where the follower truncates. Null otherwise.
   */
  private divergence(fetchOffset: number, lastFetchedEpoch: number): EpochEndOffset | null {
    const end = this.epochEndOffset(lastFetchedEpoch);
    if (end.epoch < lastFetchedEpoch || end.endOffset < fetchOffset) return end;
    return null;
  }

  /**
   * OffsetForLeaderEpoch (KIP-101/279): the largest epoch <= `epoch` in this leader's epoch cache
   * and its end offset (the start of the next epoch; the log end for the current one); -1 and -1
   * when `epoch` is newer than any known. Checks the caller's current leader epoch (KIP-320).
   */
  lastOffsetForLeaderEpoch(epoch: number, currentLeaderEpoch = NO_EPOCH): EpochEndOffset {
    this.checkLeaderEpoch(currentLeaderEpoch);
    if (this.roleNow === "leader" && this.followerOps > 0) {
      // The term has not started (startTerm): the epoch cache still ends where the old leader
      // said. The caller retries after its backoff.
      throw new KafkaError("NOT_LEADER_OR_FOLLOWER", `${this.name()} is finishing its follower writes`);
    }
    return this.epochEndOffset(epoch);
  }

  private epochEndOffset(epoch: number): EpochEndOffset {
    const end = this.log.logEndOffset;
    if (epoch === this.leaderEpochNow && this.log.epochs.latestEpoch() <= this.leaderEpochNow)
      return { epoch, endOffset: end };
    const found = this.log.epochs.endOffsetFor(epoch, end);
    return { epoch: found.epoch, endOffset: found.startOffset };
  }

  /**
   * The ISR changes this leader should propose (pure; see broker/replicas.ts). None unless it
   * leads, and none while a proposal is in flight (one at a time, as Kafka).
   */
  isrChangesNeeded(nowMs: number, lagTimeMaxMs: number): IsrChanges {
    if (this.roleNow !== "leader" || this.pendingIsr) return { shrink: [], expand: [] };
    return isrChanges({
      leaderId: this.localId,
      isr: this.isrNow,
      followers: this.followers,
      highWatermark: this.log.highWatermark,
      leaderEndOffset: this.log.logEndOffset,
      leaderEpochStartOffset: this.leaderEpochStartOffset,
      nowMs,
      lagTimeMaxMs,
    });
  }

  /**
   * Starts an ISR change: returns the AlterPartition request to send (this leader's epochs, the
   * new ISR and each member's broker epoch as its fetches named it, this broker's being
   * `localBrokerEpoch`) and holds it in flight: until it ends, the high watermark and acks=all
   * count the maximal ISR (members it adds count at once; members it removes until committed).
   * NOT_LEADER_OR_FOLLOWER unless leading; OPERATION_NOT_ATTEMPTED while another is in flight;
   * INVALID_REQUEST for an ISR without this broker, with duplicates or with non-replicas.
   */
  proposeIsr(newIsr: readonly number[], localBrokerEpoch = UNKNOWN_BROKER_EPOCH): IsrProposal {
    this.checkLeaderEpoch(NO_EPOCH);
    if (this.pendingIsr)
      throw new KafkaError("OPERATION_NOT_ATTEMPTED", `${this.name()}: an ISR change is already in flight`);
    const problem = this.isrProblem(newIsr);
    if (problem) throw new KafkaError("INVALID_REQUEST", `${this.name()}: ${problem}`);
    const brokerEpochOf = (id: number) =>
      id === this.localId ? localBrokerEpoch : (this.followers.get(id)?.brokerEpoch ?? UNKNOWN_BROKER_EPOCH);
    const proposal: IsrProposal = {
      leaderEpoch: this.leaderEpochNow,
      partitionEpoch: this.partitionEpochNow,
      newIsr: [...newIsr],
      newIsrWithEpochs: newIsr.map((id) => ({ brokerId: id, brokerEpoch: brokerEpochOf(id) })),
    };
    this.pendingIsr = proposal;
    this.updateMaximalIsr();
    return proposal;
  }

  private isrProblem(isr: readonly number[]): string | null {
    if (!isr.includes(this.localId)) return `ISR [${isr}] leaves out the leader ${this.localId}`;
    if (new Set(isr).size !== isr.length) return `ISR [${isr}] names a broker twice`;
    const strangers = isr.filter((id) => !this.replicasNow.includes(id));
    if (strangers.length > 0) return `ISR members [${strangers}] are not replicas`;
    return null;
  }

  /**
   * The controller committed `proposal` (its AlterPartition answer): the ISR it answers becomes
   * the committed one, unless the answer is for another leader epoch or older than what this
   * leader has (then the proposal stays in flight until the metadata brings the truth, as Kafka).
   * Returns whether it was applied; a proposal no longer in flight is ignored.
   */
  isrProposalCommitted(proposal: IsrProposal, committed: CommittedIsr): boolean {
    if (proposal !== this.pendingIsr || this.roleNow !== "leader") return false;
    if (committed.leaderEpoch !== this.leaderEpochNow || committed.partitionEpoch < this.partitionEpochNow)
      return false;
    if (!committed.isr.includes(this.localId)) return false;
    this.pendingIsr = null;
    this.partitionEpochNow = committed.partitionEpoch;
    this.countIsrChange(committed.isr);
    this.applyIsr(committed.isr, this.replicasNow);
    this.advanceHighWatermark();
    return true;
  }

  /**
   * The controller refused `proposal`, or its answer was lost. See `IsrProposalOutcome`: errors
   * the controller checks after the partition epoch (INELIGIBLE_REPLICA, INVALID_REQUEST,
   * OPERATION_NOT_ATTEMPTED) revert to the committed ISR; a changed state (FENCED_LEADER_EPOCH,
   * INVALID_UPDATE_VERSION, NOT_LEADER_OR_FOLLOWER, ...) keeps it in flight until the metadata
   * arrives, since an earlier attempt may have been applied; anything else (REQUEST_TIMED_OUT,
   * NOT_CONTROLLER, a broken connection) is retried with the same proposal. STALE_BROKER_EPOCH is
   * retried too, as Kafka's AlterPartition manager does: it judges this broker's registration, not
   * the partition, so no metadata need follow it (the controller's view had not yet seen this
   * broker's new registration), and a proposal kept waiting would hold the maximal ISR for good;
   * the retry names the broker epoch of that moment. Never clearing on an unknown outcome is what
   * keeps the maximal ISR a superset of the controller's.
   */
  isrProposalFailed(proposal: IsrProposal, error: unknown): IsrProposalOutcome {
    if (proposal !== this.pendingIsr) return "stale";
    const code = KafkaError.is(error) ? error.code : null;
    if (code !== null && AWAITING_ERRORS.has(code)) return "await-metadata";
    if (code === null || !REVERTING_ERRORS.has(code)) return "retry";
    this.pendingIsr = null;
    this.updateMaximalIsr();
    this.advanceHighWatermark();
    return "reverted";
  }

  /** What this leader knows of follower `replicaId` (a copy), if it is one. */
  followerState(replicaId: number): ReplicaState | undefined {
    const state = this.followers.get(replicaId);
    return state ? { ...state } : undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // Following

  /**
   * Stores the leader's batches unchanged (offsets, epochs, timestamps and compression kept),
   * checking framing and CRC only, and records their epochs in the epoch cache and their
   * idempotent producers' sequences, so that retries are recognised once this broker leads.
   * NOT_LEADER_OR_FOLLOWER unless this broker follows; with `expectedLeaderEpoch` (the epoch the
   * fetch was made under), FENCED_LEADER_EPOCH once the partition has moved to another (Kafka's
   * fetcher drops such answers); INVALID_RECORD for batches below the log end.
   */
  appendAsFollower(records: Buffer, expectedLeaderEpoch?: number): Promise<AppendResult> {
    try {
      this.checkFollowing(expectedLeaderEpoch, "follower");
      const options = { keepOffsets: true, allowControl: true, replayed: true };
      const validated = this.log.validate(records, options);
      const pending = this.log.appendOrThrow(records, { ...options, validated });
      return this.trackFollowerOp(this.rememberFollowerBatches(records, validated, pending));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private async rememberFollowerBatches(
    records: Buffer,
    validated: ValidAppend,
    pending: Promise<AppendResult>,
  ): Promise<AppendResult> {
    const result = await pending;
    const now = this.producerIds.nowMs();
    for (const b of validated.batches) {
      if (b.producerId < 0 || isControl(records, b.position)) continue;
      const base = readInt64(records, b.position);
      this.rememberBatch(records, b.position, base, base + b.recordCount - 1, now, true);
    }
    this.notify();
    return result;
  }

  /**
   * Removes every batch at or after `offset` (the follower's log diverged from its leader's) and
   * the producer sequences they held. NOT_LEADER_OR_FOLLOWER on the leader, whose log is the
   * truth; with `expectedLeaderEpoch`, FENCED_LEADER_EPOCH once the partition has moved on. Epochs
   * that start at or past the new log end leave the epoch cache even when no batch goes (as
   * Kafka): a broker that took the lead and wrote nothing in its epoch must not send that epoch as
   * its last fetched one, or its new leader would find it diverging again at every fetch.
   */
  truncateTo(offset: number, expectedLeaderEpoch?: number): Promise<void> {
    return this.followerTruncation(expectedLeaderEpoch, async () => {
      await this.log.truncateTo(offset);
      this.log.epochs.truncateFromEnd(this.log.logEndOffset);
      this.producers.truncateTo(offset);
    });
  }

  /**
   * Empties the log and restarts it at `offset` (the leader no longer holds the follower's
   * offsets). Refused as `truncateTo` is.
   */
  truncateFullyAndStartAt(offset: number, expectedLeaderEpoch?: number): Promise<void> {
    return this.followerTruncation(expectedLeaderEpoch, async () => {
      await this.log.truncateFullyAndStartAt(offset);
      this.producers.clear();
    });
  }

  private followerTruncation(
    expectedLeaderEpoch: number | undefined,
    run: () => Promise<void>,
  ): Promise<void> {
    try {
      this.checkFollowing(expectedLeaderEpoch, "not leader");
      return this.trackFollowerOp(run());
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * The leader's log start offset (records deleted or expired there), as far as this follower's
   * high watermark reaches; never moves back. Segments wholly below it are deleted. Refused as
   * `updateFollowerHighWatermark` is.
   */
  updateFollowerLogStartOffset(logStartOffset: number, expectedLeaderEpoch?: number): Promise<void> {
    try {
      this.checkFollowing(expectedLeaderEpoch, "follower");
      const target = Math.min(logStartOffset, this.log.highWatermark);
      if (target <= this.log.logStartOffset) return Promise.resolve();
      return this.trackFollowerOp(this.log.advanceLogStartOffset(target));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** The latest epoch of this replica's epoch cache (-1: none): a follower's last fetched epoch. */
  get latestEpoch(): number {
    return this.log.epochs.latestEpoch();
  }

  /**
   * This replica's own end of `epoch`, whatever its role: the largest epoch <= it in the local
   * epoch cache and where that ends (the next epoch's start; the log end for the latest); -1 and
   * -1 when the cache knows none that old or `epoch` is newer than any. The follower compares it
   * with its leader's answer to find where their logs diverge (KIP-101/279).
   */
  localEpochEndOffset(epoch: number): EpochEndOffset {
    const found = this.log.epochs.endOffsetFor(epoch, this.log.logEndOffset);
    return { epoch: found.epoch, endOffset: found.startOffset };
  }

  /**
   * The leader's high watermark, as far as this follower's log reaches; never moves back. Throws
   * NOT_LEADER_OR_FOLLOWER unless following, FENCED_LEADER_EPOCH as `appendAsFollower`.
   */
  updateFollowerHighWatermark(highWatermark: number, expectedLeaderEpoch?: number): void {
    this.checkFollowing(expectedLeaderEpoch, "follower");
    const next = Math.min(highWatermark, this.log.logEndOffset);
    if (next <= this.log.highWatermark) return;
    this.log.setHighWatermark(next);
    this.notify();
  }

  /**
   * Refuses a follower-side change made under another leader epoch (FENCED_LEADER_EPOCH if older,
   * UNKNOWN_LEADER_EPOCH if newer) or in the wrong role (NOT_LEADER_OR_FOLLOWER): `follower`
   * requires following, `not leader` allows a partition with no role yet.
   */
  private checkFollowing(expectedLeaderEpoch: number | undefined, role: "follower" | "not leader"): void {
    if (expectedLeaderEpoch !== undefined && expectedLeaderEpoch !== this.leaderEpochNow) {
      const code = expectedLeaderEpoch < this.leaderEpochNow ? "FENCED_LEADER_EPOCH" : "UNKNOWN_LEADER_EPOCH";
      throw new KafkaError(
        code,
        `${this.name()}: leader epoch ${expectedLeaderEpoch}, now ${this.leaderEpochNow}`,
      );
    }
    const refused = role === "follower" ? this.roleNow !== "follower" : this.roleNow === "leader";
    if (refused)
      throw new KafkaError("NOT_LEADER_OR_FOLLOWER", `${this.name()} is ${this.roleNow}, not a follower`);
  }

  /** Counts a queued follower append or truncation until it settles (a new leader waits for them). */
  private async trackFollowerOp<T>(op: Promise<T>): Promise<T> {
    if (this.followerOps++ === 0) {
      let resolve = () => {};
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      this.followerIdleNow = { promise, resolve };
    }
    try {
      return await op;
    } finally {
      if (--this.followerOps === 0) {
        this.followerIdleNow?.resolve();
        this.followerIdleNow = null;
      }
    }
  }

  /** Resolves once no follower append or truncation is queued. */
  private followerIdle(): Promise<void> {
    return this.followerIdleNow?.promise ?? Promise.resolve();
  }

  // ---------------------------------------------------------------------------------------------
  // Reads

  /** Reads for a consumer: whole batches below the high watermark; NOT_LEADER_OR_FOLLOWER unless leading. */
  async read(offset: number, maxBytes: number, minOneBatch = true): Promise<ReadResult> {
    this.checkLeaderEpoch(NO_EPOCH);
    return this.log.read(offset, { maxBytes, maxOffset: this.log.highWatermark, minOneBatch });
  }

  /** Reads whole batches up to the log end, whatever the role (the broker loading its own state). */
  readLocal(offset: number, maxBytes: number): Promise<ReadResult> {
    return this.log.read(offset, { maxBytes });
  }

  /** The first record at or after `timestamp` (ListOffsets by time), or null when every one is older. */
  offsetForTimestamp(timestamp: number): Promise<TimestampOffset | null> {
    return this.log.offsetForTimestamp(timestamp);
  }

  /** The record with the largest timestamp (ListOffsets MAX_TIMESTAMP), or null when none. */
  maxTimestampOffset(): Promise<TimestampOffset | null> {
    return this.log.maxTimestampOffset();
  }

  /** The leader epoch the record at `offset` was written in (-1 when the cache knows none). */
  epochAt(offset: number): number {
    let epoch = NO_EPOCH;
    for (const e of this.log.epochs.list()) if (e.startOffset <= offset) epoch = e.epoch;
    return epoch;
  }

  /**
   * Moves the log start offset up to `offset` (DeleteRecords; -1 means the high watermark).
   * Throws OFFSET_OUT_OF_RANGE beyond the high watermark or for another negative offset, and
   * POLICY_VIOLATION where cleanup.policy lacks `delete` (as Kafka). Resolves with the new log
   * start offset, never lower than before; the caller checkpoints it.
   */
  async deleteRecordsBefore(offset: number): Promise<number> {
    this.checkLeaderEpoch(NO_EPOCH);
    const hw = this.log.highWatermark;
    const target = offset === HIGH_WATERMARK_OFFSET ? hw : offset;
    if (target < 0 || target > hw) {
      throw new KafkaError(
        "OFFSET_OUT_OF_RANGE",
        `offset ${offset} is outside [0, ${hw}] (the high watermark)`,
      );
    }
    if (!this.log.logConfig.cleanupPolicy.includes("delete")) {
      throw new KafkaError(
        "POLICY_VIOLATION",
        `${this.topic}-${this.index} is compacted: its records cannot be deleted`,
      );
    }
    await this.log.advanceLogStartOffset(target);
    return this.log.logStartOffset;
  }
}
