/**
 * The samsa consumer. Either assign partitions yourself and choose where each starts (earliest,
 * latest, an offset, a timestamp), or join a consumer group with `subscribe` (needs `groupId`):
 * the group shares the topics' partitions among its members, and positions start from the
 * group's committed offsets. Read with `for await`, `nextBatch` or `run({ eachMessage |
 * eachBatch })`. A fetch loop runs ahead of the reader (prefetch) up to `maxBufferedRecords`;
 * `seek`, `pause` and `resume` take effect on the next fetch, and records fetched before a seek
 * are dropped. Batches from any Kafka producer decode (all four codecs); control batches are skipped.
 *
 * In a group, a record counts as processed when the reader comes back for more: `eachMessage` or
 * `eachBatch` returned, the `for await` body finished, or the next `nextBatch()` call was made.
 * Commits (automatic, on revoke, on close, or `commit()`) store the offset after the last processed
 * record of each partition, as Kafka does. Membership (heartbeats, rebalances) lives in group.ts.
 */

import type { AssignorName, PartitionAssignor, TopicPartition } from "../protocol/assignors.js";
import { errorName, KafkaError } from "../protocol/errors.js";
import {
  ATTRIBUTES_OFFSET,
  BATCH_HEADER_SIZE,
  CONTROL_MASK,
  LAST_OFFSET_DELTA_OFFSET,
  LENGTH_OFFSET,
  LOG_OVERHEAD,
  type RecordHeader,
  type RecordVisitor,
  TIMESTAMP_TYPE_MASK,
  visitRecords,
} from "../protocol/record-batch.js";
import { readInt64 } from "../protocol/varint.js";
import { Admin } from "./admin.js";
import { Cluster, type ClusterOptions } from "./cluster.js";
import type { OffsetAndMetadata } from "./coordinator.js";
import { ClientError, isRetriable } from "./errors.js";
import { GroupMember } from "./group.js";
import { backoffMs } from "./retry.js";

export type StartAt = "earliest" | "latest" | number | { timestamp: number };

/**
 * What a record's timestamp is (its batch's attributes bit 3): the producer's time of creation, or
 * the broker's time of appending (a topic with `message.timestamp.type=LogAppendTime`).
 */
export type RecordTimestampType = "CreateTime" | "LogAppendTime";

export interface ConsumerRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  timestampType: RecordTimestampType;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

export interface ConsumerBatch {
  topic: string;
  partition: number;
  highWatermark: number;
  records: ConsumerRecord[];
}

export interface ConsumerOptions {
  /** How long the broker may hold a fetch waiting for minBytes. */
  maxWaitMs?: number;
  minBytes?: number;
  maxBytes?: number;
  maxPartitionBytes?: number;
  /** 0 read_uncommitted, 1 read_committed. */
  isolationLevel?: 0 | 1;
  /** Where a partition restarts when its position is out of range; "none" raises the error. */
  autoOffsetReset?: "earliest" | "latest" | "none";
  /** Records fetched ahead of the reader before the fetch loop waits. */
  maxBufferedRecords?: number;
  retries?: number;

  /** The consumer group to join with `subscribe` (and to commit offsets to). */
  groupId?: string;
  /** Static membership (KIP-345): a restart within the session timeout keeps the partitions. */
  groupInstanceId?: string;
  /** The coordinator removes a member it has not heard from for this long. */
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** A handler that runs longer than this makes the member leave the group until it returns. */
  maxPollIntervalMs?: number;
  /** How long the coordinator waits for members to rejoin; defaults to maxPollIntervalMs. */
  rebalanceTimeoutMs?: number;
  /** In order of preference: "range", "roundrobin", "cooperative-sticky", or your own. */
  partitionAssignors?: (AssignorName | PartitionAssignor)[];
  /** Commit processed offsets every autoCommitIntervalMs, on revoke and on close. */
  autoCommit?: boolean;
  autoCommitIntervalMs?: number;
  rackId?: string;
}

/** Called around rebalances; a listener's error is raised from the next read. */
export interface RebalanceListener {
  /** After a rebalance, with the partitions added (eager: the whole assignment). */
  onPartitionsAssigned?: (partitions: TopicPartition[]) => Promise<void> | void;
  /** Before partitions go to another member; their processed offsets are committed first. */
  onPartitionsRevoked?: (partitions: TopicPartition[]) => Promise<void> | void;
  /** Partitions already owned by others (session lost, left the group); defaults to onPartitionsRevoked. */
  onPartitionsLost?: (partitions: TopicPartition[]) => Promise<void> | void;
}

const GROUP_CONSUMER_DEFAULTS = {
  maxPollIntervalMs: 300_000,
  autoCommit: true,
  autoCommitIntervalMs: 5_000,
};

const DEFAULTS = {
  maxWaitMs: 500,
  minBytes: 1,
  maxBytes: 50 * 1024 * 1024,
  maxPartitionBytes: 1024 * 1024,
  isolationLevel: 0 as 0 | 1,
  autoOffsetReset: "latest" as "earliest" | "latest" | "none",
  maxBufferedRecords: 50_000,
  retries: 10,
};

interface Assigned {
  topic: string;
  partition: number;
  position: number;
  paused: boolean;
  /** Bumped by seek: a fetch begun under an older generation is discarded. */
  generation: number;
  highWatermark: number;
}

/** Splits fetched bytes into whole batches; a truncated last batch (allowed by Kafka) is dropped. */
function wholeBatches(buf: Buffer): [number, number][] {
  const out: [number, number][] = [];
  let pos = 0;
  while (buf.length - pos >= BATCH_HEADER_SIZE) {
    const size = LOG_OVERHEAD + buf.readInt32BE(pos + LENGTH_OFFSET);
    if (size < BATCH_HEADER_SIZE || pos + size > buf.length) break;
    out.push([pos, pos + size]);
    pos += size;
  }
  return out;
}

export class Consumer {
  readonly cluster: Cluster;
  private readonly owned: boolean;
  private readonly options: typeof DEFAULTS;
  private readonly groupOptions: ConsumerOptions & typeof GROUP_CONSUMER_DEFAULTS;
  private readonly assigned = new Map<string, Assigned>();
  private readonly buffer: ConsumerBatch[] = [];
  private buffered = 0;
  private readonly dataWaiters: (() => void)[] = [];
  private readonly spaceWaiters: (() => void)[] = [];
  private loop: Promise<void> | null = null;
  private running = false;
  private failure: unknown = null;
  private readonly admin: Admin;

  // Groups.
  private member: GroupMember | null = null;
  private subscription: string[] | RegExp | null = null;
  private listener: RebalanceListener = {};
  /** Offset after the last processed record, per partition (what a commit stores). */
  private readonly processed = new Map<string, number>();
  /** What was last committed, per partition. */
  private readonly committedOffsets = new Map<string, number>();
  /** Partitions being revoked: no longer fetched, their in-flight records may still finish. */
  private readonly revoking = new Set<string>();
  /** When the user's handler got its record or batch; null while the reader waits in the consumer. */
  private handlerSinceMs: number | null = null;
  private readonly idleWaiters: (() => void)[] = [];
  private pollTimer: NodeJS.Timeout | null = null;
  private autoCommitTimer: NodeJS.Timeout | null = null;
  /** Commits run one after another, so that an older one never lands after a newer one. */
  private commitChain: Promise<void> = Promise.resolve();
  /** The batch nextBatch() last returned: processed when nextBatch() is called again. */
  private outstanding: ConsumerBatch | null = null;
  /** A rebalance listener's error, raised once from the next read. */
  private listenerError: unknown = null;
  private closing = false;

  /**
   * `cluster`: connection options or a shared Cluster. Consumer options may be given in `options`
   * or, with connection options, in the same object: `new Consumer({ brokers, groupId })`.
   */
  constructor(cluster: (ClusterOptions & ConsumerOptions) | Cluster, options: ConsumerOptions = {}) {
    this.owned = !(cluster instanceof Cluster);
    this.cluster = cluster instanceof Cluster ? cluster : new Cluster(cluster);
    const given: ConsumerOptions = { ...(cluster instanceof Cluster ? {} : cluster), ...options };
    const defined = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
    this.options = { ...DEFAULTS };
    for (const k of Object.keys(DEFAULTS) as (keyof typeof DEFAULTS)[]) {
      if (defined[k] !== undefined) (this.options as Record<string, unknown>)[k] = defined[k];
    }
    this.groupOptions = { ...GROUP_CONSUMER_DEFAULTS, ...defined };
    this.admin = new Admin(this.cluster);
  }

  private static id(topic: string, partition: number): string {
    return `${topic}\u0000${partition}`;
  }

  /** Assigns partitions (replacing any earlier assignment) and resolves their start offsets. */
  async assign(partitions: { topic: string; partition: number; start?: StartAt }[]): Promise<void> {
    if (this.subscription !== null) {
      throw new ClientError("INVALID_ARGUMENT", "assign() cannot follow subscribe() on one consumer");
    }
    const next: Assigned[] = [];
    for (const p of partitions) {
      const position = await this.resolve(p.topic, p.partition, p.start ?? this.options.autoOffsetReset);
      next.push({
        topic: p.topic,
        partition: p.partition,
        position,
        paused: false,
        generation: 0,
        highWatermark: -1,
      });
    }
    // Swap in one step: a fetch still in flight for the old assignment no longer matches.
    this.assigned.clear();
    this.delivered.clear();
    this.processed.clear();
    for (const a of next) {
      this.assigned.set(Consumer.id(a.topic, a.partition), a);
      this.delivered.set(Consumer.id(a.topic, a.partition), a.position);
    }
    this.buffer.length = 0;
    this.buffered = 0;
    this.start();
    this.wake(this.spaceWaiters);
  }

  /** Assigns every partition of `topic`. */
  async assignTopic(topic: string, start?: StartAt): Promise<void> {
    const info = await this.cluster.topic(topic);
    await this.assign(info.partitions.map((p) => ({ topic, partition: p.partition, start })));
  }

  // ----------------------------------------------------------------------------------------------
  // Groups

  /**
   * Joins the consumer group `groupId` for `topics` (or every topic matching a RegExp); calling it
   * again changes the subscription. Returns at once: the member joins in the background, and
   * reads wait for its first assignment. `listener` hears about assignments and revocations.
   */
  subscribe(topics: string[] | RegExp, listener: RebalanceListener = {}): void {
    if (Array.isArray(topics) && topics.length === 0) {
      throw new ClientError("INVALID_ARGUMENT", "subscribe to at least one topic");
    }
    if (this.subscription === null && this.assigned.size > 0) {
      throw new ClientError("INVALID_ARGUMENT", "subscribe() cannot follow assign() on one consumer");
    }
    const member = this.groupMember();
    this.subscription = Array.isArray(topics) ? [...topics] : topics;
    this.listener = listener;
    this.start();
    if (member.isStarted) {
      member.requestRejoin();
      return;
    }
    member.start();
    if (this.groupOptions.autoCommit) {
      this.autoCommitTimer = setInterval(
        () => void this.autoCommit(),
        this.groupOptions.autoCommitIntervalMs,
      );
      this.autoCommitTimer.unref?.();
    }
  }

  private groupMember(): GroupMember {
    if (this.member) return this.member;
    const o = this.groupOptions;
    if (!o.groupId) throw new ClientError("INVALID_ARGUMENT", "consumer groups need the groupId option");
    this.member = new GroupMember(
      this.cluster,
      {
        groupId: o.groupId,
        groupInstanceId: o.groupInstanceId ?? null,
        sessionTimeoutMs: o.sessionTimeoutMs,
        heartbeatIntervalMs: o.heartbeatIntervalMs,
        rebalanceTimeoutMs: o.rebalanceTimeoutMs ?? o.maxPollIntervalMs,
        partitionAssignors: o.partitionAssignors,
        rackId: o.rackId ?? null,
        metadataCheckIntervalMs: this.cluster.options.metadataMaxAgeMs,
        requestTimeoutMs: this.cluster.options.requestTimeoutMs,
      },
      {
        topics: () => this.subscribedTopics(),
        revoke: (partitions, lost) => this.revokePartitions(partitions, lost),
        assign: (partitions) => this.assignPartitions(partitions),
        fail: (err) => this.failGroup(err),
      },
    );
    return this.member;
  }

  /** The member id the coordinator gave this consumer ("" outside a group). */
  get memberId(): string {
    return this.member?.memberId ?? "";
  }

  /** The group generation this consumer is in (-1 outside one). */
  get generationId(): number {
    return this.member?.generationId ?? -1;
  }

  /** The partitions this consumer reads now, sorted. */
  assignment(): TopicPartition[] {
    return [...this.assigned.values()]
      .map((a) => ({ topic: a.topic, partition: a.partition }))
      .sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
  }

  private async subscribedTopics(): Promise<string[]> {
    const s = this.subscription;
    if (s === null) return [];
    if (Array.isArray(s)) return s;
    await this.cluster.refresh();
    return this.cluster
      .knownTopics()
      .map((t) => t.name)
      .filter((name) => {
        s.lastIndex = 0;
        return !name.startsWith("__") && s.test(name);
      });
  }

  /** The group gave these partitions to this consumer: start each at its committed offset. */
  private async assignPartitions(partitions: TopicPartition[]): Promise<void> {
    const member = this.member!;
    const committed = new Map(
      (await member.fetchCommitted(partitions)).map((c) => [Consumer.id(c.topic, c.partition), c.offset]),
    );
    for (const p of partitions) {
      const id = Consumer.id(p.topic, p.partition);
      const offset = committed.get(id) ?? -1;
      let position = offset;
      if (position < 0) {
        try {
          position = await this.resolve(p.topic, p.partition, this.options.autoOffsetReset);
        } catch (err) {
          // Retriable: the member rejoins. Otherwise (autoOffsetReset "none") reading stops here.
          if (isRetriable(err)) throw err;
          this.failGroup(err);
          return;
        }
      }
      if (offset >= 0) this.committedOffsets.set(id, offset);
      this.assigned.set(id, {
        topic: p.topic,
        partition: p.partition,
        position,
        paused: false,
        generation: 0,
        highWatermark: -1,
      });
      this.delivered.set(id, position);
    }
    this.wake(this.spaceWaiters);
    await this.callListener(this.listener.onPartitionsAssigned, partitions);
  }

  private failGroup(err: unknown): void {
    this.failure = err;
    this.running = false;
    this.wake(this.dataWaiters);
    this.wake(this.spaceWaiters);
  }

  /**
   * Partitions leave this consumer: stop fetching them, let the running handler finish, commit
   * what was processed (unless lost), then tell the listener.
   */
  private async revokePartitions(partitions: TopicPartition[], lost: boolean): Promise<void> {
    const ids = partitions.map((p) => Consumer.id(p.topic, p.partition));
    for (const [i, id] of ids.entries()) {
      this.assigned.delete(id);
      this.revoking.add(id);
      this.dropBuffered(partitions[i].topic, partitions[i].partition);
    }
    await this.waitIdle();
    const isLost = lost || !this.member!.inGeneration;
    if (!isLost && this.groupOptions.autoCommit) await this.commitProcessed(ids).catch(() => {});
    for (const id of ids) {
      this.revoking.delete(id);
      this.processed.delete(id);
      this.delivered.delete(id);
      this.committedOffsets.delete(id);
    }
    const l = this.listener;
    await this.callListener(
      isLost ? (l.onPartitionsLost ?? l.onPartitionsRevoked) : l.onPartitionsRevoked,
      partitions,
    );
  }

  private async callListener(
    fn: ((partitions: TopicPartition[]) => Promise<void> | void) | undefined,
    partitions: TopicPartition[],
  ): Promise<void> {
    if (!fn) return;
    try {
      await fn(partitions.map((p) => ({ topic: p.topic, partition: p.partition })));
    } catch (err) {
      this.listenerError ??= err;
      this.wake(this.dataWaiters);
    }
  }

  /** Resolves when no user handler holds records (at once while closing). */
  private waitIdle(): Promise<void> {
    if (this.handlerSinceMs === null || this.closing) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Records went to user code. Per record: no timer is made here, only a timestamp. */
  private beginHandler(): void {
    if (this.handlerSinceMs !== null) return;
    this.handlerSinceMs = Date.now();
    if (this.member?.isStarted && !this.pollTimer) this.armPollTimer(this.groupOptions.maxPollIntervalMs);
  }

  /**
   * One timer watches maxPollIntervalMs: when it fires it checks how long the current handler has
   * run, and re-arms for the rest, or stops while the reader is idle (the next handler re-arms it).
   */
  private armPollTimer(ms: number): void {
    this.pollTimer = setTimeout(() => {
      this.pollTimer = null;
      if (this.handlerSinceMs === null || this.closing) return;
      const left = this.handlerSinceMs + this.groupOptions.maxPollIntervalMs - Date.now();
      if (left > 0) this.armPollTimer(left);
      else this.pollTimeoutExpired();
    }, ms);
    this.pollTimer.unref?.();
  }

  /** The reader came back. */
  private endHandler(): void {
    if (this.handlerSinceMs === null) return;
    this.handlerSinceMs = null;
    if (this.idleWaiters.length > 0) this.wake(this.idleWaiters);
    if (!this.closing) this.member?.resume();
  }

  /**
   * The handler overran maxPollIntervalMs: the member leaves the group, and the partitions stop
   * here at once (their new owners will read them); what is still in the handler's hands is lost.
   */
  private pollTimeoutExpired(): void {
    if (!this.member?.isStarted) return;
    for (const a of [...this.assigned.values()]) {
      this.assigned.delete(Consumer.id(a.topic, a.partition));
      this.dropBuffered(a.topic, a.partition);
    }
    this.member.pollTimeoutExpired();
  }

  private markProcessed(topic: string, partition: number, next: number): void {
    const id = Consumer.id(topic, partition);
    if (this.assigned.has(id) || this.revoking.has(id)) this.processed.set(id, next);
  }

  /** nextBatch()'s previous batch counts as processed once the reader asks again. */
  private finishOutstanding(): void {
    const b = this.outstanding;
    if (!b) return;
    this.outstanding = null;
    this.markProcessed(b.topic, b.partition, b.records[b.records.length - 1].offset + 1);
    this.endHandler();
  }

  private async autoCommit(): Promise<void> {
    if (!this.member?.inGeneration || this.closing) return;
    await this.commitProcessed(null).catch(() => {});
  }

  /** Commits the processed offsets (of `ids`, or of every partition) that moved since the last commit. */
  private commitProcessed(ids: string[] | null): Promise<void> {
    const run = async () => {
      const offsets: (OffsetAndMetadata & { id: string })[] = [];
      for (const [id, offset] of this.processed) {
        if (ids && !ids.includes(id)) continue;
        if (this.committedOffsets.get(id) === offset) continue;
        const cut = id.lastIndexOf("\u0000");
        offsets.push({ id, topic: id.slice(0, cut), partition: Number(id.slice(cut + 1)), offset });
      }
      if (offsets.length === 0) return;
      await this.groupMember().commit(offsets, this.subscription === null);
      for (const o of offsets) this.committedOffsets.set(o.id, o.offset);
    };
    const next = this.commitChain.then(run, run);
    this.commitChain = next.catch(() => {});
    return next;
  }

  /**
   * Commits offsets to the group: the given ones, or the offset after the last processed record
   * of every partition. In a subscribed group the commit carries the member's generation; a
   * rebalance in between makes it fail with REBALANCE_IN_PROGRESS or ILLEGAL_GENERATION (the member
   * rejoins; the commit is not retried across generations). With assign() it commits as a client
   * outside the group.
   */
  async commit(
    offsets?: { topic: string; partition: number; offset: number; metadata?: string }[],
  ): Promise<void> {
    const member = this.groupMember();
    if (!offsets) {
      this.finishOutstandingIfIdle();
      return this.commitProcessed(null);
    }
    const run = async () => {
      await member.commit(offsets, this.subscription === null);
      for (const o of offsets) this.committedOffsets.set(Consumer.id(o.topic, o.partition), o.offset);
    };
    const next = this.commitChain.then(run, run);
    this.commitChain = next.catch(() => {});
    return next;
  }

  /** commit() called between nextBatch() calls commits the batch the caller holds, as Java's commitSync(). */
  private finishOutstandingIfIdle(): void {
    const b = this.outstanding;
    if (b) this.markProcessed(b.topic, b.partition, b.records[b.records.length - 1].offset + 1);
  }

  // ----------------------------------------------------------------------------------------------
  // Positions

  private async resolve(topic: string, partition: number, start: StartAt | "none"): Promise<number> {
    if (typeof start === "number") {
      if (start >= 0) return start;
      // -N: N records before the end.
      const latest = (await this.admin.listOffsets(topic, "latest")).find((o) => o.partition === partition);
      const earliest = (await this.admin.listOffsets(topic, "earliest")).find(
        (o) => o.partition === partition,
      );
      return Math.max(earliest?.offset ?? 0, (latest?.offset ?? 0) + start);
    }
    if (start === "none")
      throw new KafkaError("OFFSET_OUT_OF_RANGE", `${topic}-${partition} has no valid position`);
    const spec = typeof start === "string" ? start : { timestamp: start.timestamp };
    const offsets = await this.admin.listOffsets(topic, spec);
    const found = offsets.find((o) => o.partition === partition);
    if (!found) throw new KafkaError("UNKNOWN_TOPIC_OR_PARTITION", `${topic}-${partition}`);
    if (found.offset >= 0) return found.offset;
    // No record at or after the timestamp: start at the end.
    return (
      (await this.admin.listOffsets(topic, "latest")).find((o) => o.partition === partition)?.offset ?? 0
    );
  }

  /** Moves a partition's position; records fetched before are dropped. */
  async seek(topic: string, partition: number, to: StartAt): Promise<void> {
    const a = this.assigned.get(Consumer.id(topic, partition));
    if (!a) throw new ClientError("INVALID_ARGUMENT", `${topic}-${partition} is not assigned`);
    const position = await this.resolve(topic, partition, to);
    this.dropBuffered(topic, partition);
    a.position = position;
    a.generation++;
    this.delivered.set(Consumer.id(topic, partition), position);
    // As in Kafka, a group commits the position the consumer was moved to.
    if (this.subscription !== null) this.processed.set(Consumer.id(topic, partition), position);
  }
  /** The offset of the next record the reader will get from this partition. */
  position(topic: string, partition: number): number | undefined {
    const id = Consumer.id(topic, partition);
    if (!this.assigned.has(id)) return undefined;
    return this.delivered.get(id);
  }

  pause(partitions: { topic: string; partition: number }[]): void {
    for (const p of partitions) {
      const a = this.assigned.get(Consumer.id(p.topic, p.partition));
      if (a) {
        a.paused = true;
        a.generation++;
        this.dropBuffered(p.topic, p.partition);
      }
    }
  }

  resume(partitions: { topic: string; partition: number }[]): void {
    for (const p of partitions) {
      const a = this.assigned.get(Consumer.id(p.topic, p.partition));
      if (a) a.paused = false;
    }
    this.wake(this.spaceWaiters);
  }

  private dropBuffered(topic: string, partition: number): void {
    for (let i = this.buffer.length - 1; i >= 0; i--) {
      const b = this.buffer[i];
      if (b.topic === topic && b.partition === partition) {
        this.buffered -= b.records.length;
        this.buffer.splice(i, 1);
      }
    }
    // The position must go back to the first record not yet handed out.
    const a = this.assigned.get(Consumer.id(topic, partition));
    if (a) a.position = this.delivered.get(Consumer.id(topic, partition)) ?? a.position;
    this.wake(this.spaceWaiters);
  }

  /** Offset after the last record handed to the reader, per partition. */
  private readonly delivered = new Map<string, number>();
  /** Fetched partitions' batches waiting to be decoded, in fetch order. */
  private readonly fetched: { a: Assigned; data: Buffer; from: number; generation: number }[] = [];

  private wake(list: (() => void)[]): void {
    for (const w of list.splice(0)) w();
  }

  private start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.fetchLoop();
  }

  private async fetchLoop(): Promise<void> {
    let attempt = 0;
    while (this.running) {
      if (this.buffered >= this.options.maxBufferedRecords) {
        this.decodeFetched();
        await new Promise<void>((r) => this.spaceWaiters.push(r));
        continue;
      }
      const active = [...this.assigned.values()].filter((a) => !a.paused);
      if (active.length === 0) {
        this.decodeFetched();
        await new Promise<void>((r) => this.spaceWaiters.push(r));
        continue;
      }
      try {
        const fetching = this.fetchOnce(active);
        // Awaited below; until then a failure (a leader's connection closing) must not count as
        // an unhandled rejection while the previous answer is decoded.
        fetching.catch(() => {});
        if (this.fetched.length > 0) {
          // The previous answer is decoded while this request travels and the broker reads.
          await new Promise<void>((r) => setImmediate(r));
          this.decodeFetched();
        }
        await fetching;
        attempt = 0;
      } catch (err) {
        if (!isRetriable(err) || attempt >= this.options.retries) {
          this.failure = err;
          this.running = false;
          this.wake(this.dataWaiters);
          return;
        }
        this.cluster.invalidate();
        await new Promise((r) => setTimeout(r, backoffMs(attempt++, this.cluster.retry)));
      }
    }
  }

  private async fetchOnce(active: Assigned[]): Promise<void> {
    const byLeader = new Map<number, Assigned[]>();
    for (const a of active) {
      const info = await this.cluster.topic(a.topic);
      const leader = info.partitions[a.partition]?.leader ?? -1;
      byLeader.set(leader, [...(byLeader.get(leader) ?? []), a]);
    }
    await Promise.all([...byLeader].map(([leader, parts]) => this.fetchFrom(leader, parts)));
  }

  private async fetchFrom(leader: number, parts: Assigned[]): Promise<void> {
    const conn = await this.cluster.brokerConnection(leader);
    // Partitions paused, seeked or unassigned while connecting are left out of this fetch.
    const started = parts
      .filter((a) => !a.paused && this.assigned.get(Consumer.id(a.topic, a.partition)) === a)
      .map((a) => ({ a, generation: a.generation, position: a.position }));
    if (started.length === 0) return;
    const topics = new Map<
      string,
      {
        partition: number;
        currentLeaderEpoch: number;
        fetchOffset: number;
        logStartOffset: number;
        partitionMaxBytes: number;
      }[]
    >();
    for (const { a, position } of started) {
      topics.set(a.topic, [
        ...(topics.get(a.topic) ?? []),
        {
          partition: a.partition,
          currentLeaderEpoch: -1,
          fetchOffset: position,
          logStartOffset: -1,
          partitionMaxBytes: this.options.maxPartitionBytes,
        },
      ]);
    }
    const r = await conn.request(1, {
      replicaId: -1,
      maxWaitMs: this.options.maxWaitMs,
      minBytes: this.options.minBytes,
      maxBytes: this.options.maxBytes,
      isolationLevel: this.options.isolationLevel,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })),
      forgottenTopicsData: [],
      rackId: "",
    });
    Cluster.check(r.errorCode ?? 0, "fetch");
    for (const t of r.responses as {
      topic: string;
      partitions: {
        partitionIndex: number;
        errorCode: number;
        highWatermark: number;
        records: Buffer | null;
      }[];
    }[]) {
      for (const p of t.partitions) {
        const entry = started.find((s) => s.a.topic === t.topic && s.a.partition === p.partitionIndex);
        if (!entry || entry.a.generation !== entry.generation) continue;
        if (this.assigned.get(Consumer.id(t.topic, p.partitionIndex)) !== entry.a) continue;
        const a = entry.a;
        if (p.errorCode !== 0) {
          const code = errorName(p.errorCode);
          if (code === "OFFSET_OUT_OF_RANGE" && this.options.autoOffsetReset !== "none") {
            a.position = await this.resolve(a.topic, a.partition, this.options.autoOffsetReset);
            a.generation++;
            continue;
          }
          throw new KafkaError(code, `fetch ${a.topic}-${a.partition} at ${entry.position}`);
        }
        a.highWatermark = p.highWatermark;
        if (p.records && p.records.length > 0) this.accept(a, p.records);
      }
    }
  }

  /**
   * Takes a fetched partition's batches: only their headers now, so that the position moves on and
   * the next fetch can leave at once; the records are decoded by `decodeFetched`, while that
   * fetch is on its way.
   */
  private accept(a: Assigned, data: Buffer): void {
    let next = a.position;
    for (const [start] of wholeBatches(data)) {
      const lastOffset = readInt64(data, start) + data.readInt32BE(start + LAST_OFFSET_DELTA_OFFSET);
      if (lastOffset + 1 > next) next = lastOffset + 1;
    }
    this.fetched.push({ a, data, from: a.position, generation: a.generation });
    a.position = next;
  }

  /** Decodes fetched batches into records at or after their fetch position and buffers them. */
  private decodeFetched(): void {
    if (this.fetched.length === 0) return;
    for (const f of this.fetched.splice(0)) {
      const a = f.a;
      // Seeked, paused or unassigned since: dropBuffered moved the position back already.
      if (a.generation !== f.generation || this.assigned.get(Consumer.id(a.topic, a.partition)) !== a)
        continue;
      const records: ConsumerRecord[] = [];
      const { topic, partition } = a;
      const from = f.from;
      let timestampType: RecordTimestampType = "CreateTime";
      const visit: RecordVisitor = (offset, timestamp, key, value, headers) => {
        if (offset >= from)
          records.push({ topic, partition, offset, timestamp, timestampType, key, value, headers });
      };
      for (const [start] of wholeBatches(f.data)) {
        const lastOffset = readInt64(f.data, start) + f.data.readInt32BE(start + LAST_OFFSET_DELTA_OFFSET);
        if (lastOffset < from) continue;
        const attributes = f.data.readInt16BE(start + ATTRIBUTES_OFFSET);
        if ((attributes & CONTROL_MASK) !== 0) continue;
        timestampType = (attributes & TIMESTAMP_TYPE_MASK) !== 0 ? "LogAppendTime" : "CreateTime";
        visitRecords(f.data, start, visit);
      }
      if (records.length === 0) continue;
      this.buffer.push({ topic, partition, highWatermark: a.highWatermark, records });
      this.buffered += records.length;
    }
    this.wake(this.dataWaiters);
  }

  /**
   * The next fetched batch, waiting for one up to `timeoutMs`; null on timeout or once stopped.
   * In a group, the batch returned before counts as processed from this call on.
   */
  async nextBatch(timeoutMs = Number.POSITIVE_INFINITY): Promise<ConsumerBatch | null> {
    this.finishOutstanding();
    const batch = await this.takeBatch(timeoutMs);
    if (batch) {
      this.outstanding = batch;
      this.beginHandler();
    }
    return batch;
  }

  private async takeBatch(timeoutMs = Number.POSITIVE_INFINITY): Promise<ConsumerBatch | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.listenerError) {
        const err = this.listenerError;
        this.listenerError = null;
        throw err;
      }
      if (this.buffer.length === 0) this.decodeFetched();
      const batch = this.buffer.shift();
      if (batch) {
        this.buffered -= batch.records.length;
        const last = batch.records[batch.records.length - 1];
        this.delivered.set(Consumer.id(batch.topic, batch.partition), last.offset + 1);
        this.wake(this.spaceWaiters);
        return batch;
      }
      if (this.failure) throw this.failure;
      if (!this.running) return null;
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await new Promise<void>((resolve) => {
        let timer: NodeJS.Timeout | undefined;
        const waiter = () => {
          if (timer) clearTimeout(timer);
          resolve();
        };
        if (Number.isFinite(left)) {
          timer = setTimeout(() => {
            const i = this.dataWaiters.indexOf(waiter);
            if (i >= 0) this.dataWaiters.splice(i, 1);
            resolve();
          }, left);
        }
        this.dataWaiters.push(waiter);
      });
    }
  }

  /** Whether the rest of a batch may still go to the reader: its partition was not revoked meanwhile. */
  private stillAssigned(batch: ConsumerBatch, entry: Assigned | undefined): boolean {
    return this.assigned.get(Consumer.id(batch.topic, batch.partition)) === entry;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<ConsumerRecord> {
    this.finishOutstanding();
    for (;;) {
      const batch = await this.takeBatch();
      if (!batch) return;
      const entry = this.assigned.get(Consumer.id(batch.topic, batch.partition));
      for (const r of batch.records) {
        if (!this.stillAssigned(batch, entry)) break;
        this.beginHandler();
        try {
          yield r;
        } finally {
          this.markProcessed(r.topic, r.partition, r.offset + 1);
          this.endHandler();
        }
      }
    }
  }

  /** Calls `eachBatch` or `eachMessage` for every record until stop(); resolves when stopped. */
  async run(handlers: {
    eachMessage?: (record: ConsumerRecord) => Promise<void> | void;
    eachBatch?: (batch: ConsumerBatch) => Promise<void> | void;
  }): Promise<void> {
    this.finishOutstanding();
    for (;;) {
      const batch = await this.takeBatch();
      if (!batch) return;
      const entry = this.assigned.get(Consumer.id(batch.topic, batch.partition));
      if (handlers.eachBatch) {
        this.beginHandler();
        try {
          await handlers.eachBatch(batch);
          const last = batch.records[batch.records.length - 1];
          this.markProcessed(batch.topic, batch.partition, last.offset + 1);
        } finally {
          this.endHandler();
        }
      } else if (handlers.eachMessage) {
        for (const r of batch.records) {
          if (!this.stillAssigned(batch, entry)) break;
          this.beginHandler();
          try {
            await handlers.eachMessage(r);
            this.markProcessed(r.topic, r.partition, r.offset + 1);
          } finally {
            this.endHandler();
          }
        }
      }
    }
  }

  /** Stops fetching; pending reads end. A group member stays in its group until close(). */
  async stop(): Promise<void> {
    this.running = false;
    this.wake(this.dataWaiters);
    this.wake(this.spaceWaiters);
    await this.loop?.catch(() => {});
  }

  /**
   * Stops reading. In a group: commits what was processed (autoCommit), tells the listener the
   * partitions are revoked, and leaves the group (static members stay until their session ends).
   */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.finishOutstanding();
    await this.stop();
    this.wake(this.idleWaiters);
    if (this.autoCommitTimer) clearInterval(this.autoCommitTimer);
    if (this.pollTimer) clearTimeout(this.pollTimer);
    const member = this.member;
    if (member?.isStarted) {
      const partitions = member.assignment();
      const ids = partitions.map((p) => Consumer.id(p.topic, p.partition));
      if (this.groupOptions.autoCommit && member.inGeneration)
        await this.commitProcessed(ids).catch(() => {});
      if (partitions.length > 0) {
        const lost = !member.inGeneration;
        const l = this.listener;
        await this.callListener(
          lost ? (l.onPartitionsLost ?? l.onPartitionsRevoked) : l.onPartitionsRevoked,
          partitions,
        );
      }
    }
    await member?.close();
    this.assigned.clear();
    if (this.owned) await this.cluster.close();
  }
}
