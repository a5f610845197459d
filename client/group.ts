/**
 * Membership in a consumer group (Kafka's classic group protocol), as the Consumer uses it:
 * FindCoordinator -> JoinGroup -> (the leader assigns) -> SyncGroup -> heartbeats, and again after
 * every rebalance. The member owns the protocol; the Consumer owns partitions and records and is
 * called through `MembershipHooks`.
 *
 * - Heartbeats run on their own timer over a connection of their own to the coordinator, so neither
 *   user code nor a long-polling fetch delays them. They pause only while JoinGroup/SyncGroup is
 *   in flight (the join itself proves liveness), as in the Java client.
 * - One loop joins, syncs and applies assignments, one step at a time. Eager protocols (range,
 *   roundrobin) revoke everything before each join; cooperative-sticky revokes only the partitions
 *   it lost after SyncGroup, then rejoins so that their new owner gets them (KIP-429). The group
 *   is cooperative only when every configured assignor is (Java's rule).
 * - A member whose handler overruns maxPollIntervalMs leaves the group (LeaveGroup, as Java does)
 *   and rejoins when the handler returns; its partitions are then lost, not revoked.
 */

import {
  ASSIGNORS,
  type AssignorName,
  type MemberSubscription,
  type PartitionAssignor,
  type TopicPartition,
} from "../protocol/assignors.js";
import {
  CONSUMER_PROTOCOL_VERSION,
  decodeAssignment,
  decodeSubscription,
  encodeAssignment,
  encodeSubscription,
  type Subscription,
  type TopicPartitions,
} from "../protocol/consumer-protocol.js";
import { errorName, KafkaError } from "../protocol/errors.js";
import type { Cluster } from "./cluster.js";
import type { Connection } from "./connection.js";
import {
  COORDINATOR_ERRORS,
  type CommittedOffset,
  commitOffsets,
  fetchOffsets,
  findCoordinator,
  type OffsetAndMetadata,
} from "./coordinator.js";
import { ClientError } from "./errors.js";
import { backoffMs } from "./retry.js";

const JOIN_GROUP = 11;
const HEARTBEAT = 12;
const LEAVE_GROUP = 13;
const SYNC_GROUP = 14;

/** Extra time past the rebalance timeout allowed for a JoinGroup/SyncGroup answer (Java: 5 s). */
const JOIN_GRACE_MS = 5_000;
/** Consecutive failed join attempts before the member gives up. */
const MAX_JOIN_FAILURES = 100;
/** Attempts per commit or offset fetch when the coordinator moves or is loading. */
const MAX_COORDINATOR_ATTEMPTS = 10;

export interface GroupOptions {
  groupId: string;
  /** Static membership (KIP-345): the member keeps its partitions across restarts within the session timeout. */
  groupInstanceId?: string | null;
  /** The coordinator removes a member it has not heard from for this long. */
  sessionTimeoutMs?: number;
  /** How long the coordinator waits for members to rejoin during a rebalance. */
  rebalanceTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** In order of preference; the coordinator picks the first one every member offers. */
  partitionAssignors?: readonly (AssignorName | PartitionAssignor)[];
  rackId?: string | null;
  /** How often the leader checks whether the group's topics changed (partitions added). */
  metadataCheckIntervalMs?: number;
  requestTimeoutMs?: number;
}

export const GROUP_DEFAULTS = {
  sessionTimeoutMs: 45_000,
  rebalanceTimeoutMs: 300_000,
  heartbeatIntervalMs: 3_000,
  partitionAssignors: ["range", "cooperative-sticky"] as readonly (AssignorName | PartitionAssignor)[],
  metadataCheckIntervalMs: 300_000,
  requestTimeoutMs: 30_000,
};

export interface MembershipHooks {
  /** The topics to subscribe to now (a RegExp subscription resolved against the cluster). */
  topics(): Promise<string[]>;
  /**
   * Partitions leave this member. `lost`: its generation already ended (session expired, fenced,
   * left), so their offsets cannot be committed.
   */
  revoke(partitions: TopicPartition[], lost: boolean): Promise<void>;
  /** Partitions join this member (possibly none: a rebalance completed). */
  assign(partitions: TopicPartition[]): Promise<void>;
  /** The member stopped for good (a non-retriable group error). */
  fail(err: unknown): void;
}

type Failure = "rejoin" | "backoff" | "fatal";

function partitionKey(tp: TopicPartition): string {
  return `${tp.topic}\u0000${tp.partition}`;
}

export function groupByTopic(list: TopicPartition[]): TopicPartitions[] {
  const out = new Map<string, number[]>();
  for (const tp of list) {
    const l = out.get(tp.topic);
    if (l) l.push(tp.partition);
    else out.set(tp.topic, [tp.partition]);
  }
  return [...out].map(([topic, partitions]) => ({ topic, partitions: partitions.sort((a, b) => a - b) }));
}

function flatten(list: TopicPartitions[]): TopicPartition[] {
  return list.flatMap((t) => t.partitions.map((partition) => ({ topic: t.topic, partition })));
}

export class GroupMember {
  readonly groupId: string;
  readonly groupInstanceId: string | null;
  readonly cooperative: boolean;
  memberId = "";
  generationId = -1;
  protocolName: string | null = null;
  leaderId: string | null = null;
  /** What this member owns in its current generation. */
  private owned: TopicPartition[] = [];
  private readonly options: Required<Omit<GroupOptions, "groupInstanceId" | "rackId">> & {
    rackId: string | null;
  };
  private readonly assignors: PartitionAssignor[];
  private coordinator: Connection | null = null;
  private connecting: Promise<Connection> | null = null;
  private started = false;
  private closed = false;
  /** Set when the member must (re)join; cleared when a JoinGroup is sent. */
  private rejoinNeeded = false;
  /** Left the group because the handler overran; no rejoin until resume(). */
  private suspended = false;
  /** JoinGroup or SyncGroup in flight. */
  private joining = false;
  private poked = false;
  private wakeLoop: (() => void) | null = null;
  private loopDone: Promise<void> = Promise.resolve();
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private heartbeating = false;
  private subscribedTopics: string[] = [];
  /** Partition counts the leader assigned from; a change triggers a rebalance. */
  private assignedFrom: Map<string, number> | null = null;
  private lastMetadataCheckMs = 0;
  private checkingMetadata = false;
  /** JoinGroups sent: an answer to a request sent before the latest join is about the past. */
  private joinsSent = 0;
  /** Set when close() is done: a coordinator connection made after that is closed at once. */
  private finished = false;

  constructor(
    private readonly cluster: Cluster,
    options: GroupOptions,
    private readonly hooks: MembershipHooks,
  ) {
    if (!options.groupId) throw new ClientError("INVALID_ARGUMENT", "groupId must not be empty");
    this.groupId = options.groupId;
    this.groupInstanceId = options.groupInstanceId ?? null;
    const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    this.options = { ...GROUP_DEFAULTS, rackId: null, ...defined } as typeof this.options;
    this.assignors = resolveAssignors(this.options.partitionAssignors);
    if (this.assignors.length === 0) throw new ClientError("INVALID_ARGUMENT", "no partition assignor given");
    this.cooperative = this.assignors.every((a) => a.cooperative);
  }

  /** Whether the member is in a generation (its commits can succeed). */
  get inGeneration(): boolean {
    return this.generationId >= 0 && this.memberId !== "" && !this.joining;
  }

  get isLeader(): boolean {
    return this.leaderId !== null && this.leaderId === this.memberId;
  }

  get isStarted(): boolean {
    return this.started;
  }

  /** Partitions this member owns in its generation. */
  assignment(): TopicPartition[] {
    return [...this.owned];
  }

  /** Starts joining and heartbeating. */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.rejoinNeeded = true;
    this.loopDone = this.loop();
    this.startHeartbeats();
  }

  /** Asks for a rebalance (subscription changed, partitions lost, coordinator said so). */
  requestRejoin(): void {
    this.rejoinNeeded = true;
    this.poke();
  }

  // ----------------------------------------------------------------------------------------------
  // Coordinator connection

  private async coordinatorConnection(): Promise<Connection> {
    if (this.coordinator && !this.coordinator.closed) return this.coordinator;
    if (!this.connecting) {
      this.connecting = (async () => {
        const broker = await findCoordinator(this.cluster, this.groupId);
        const conn = await this.cluster.dedicatedConnection(broker);
        if (this.finished) {
          conn.close();
          throw new ClientError("CLOSED", `member of ${this.groupId} is closed`);
        }
        this.coordinator?.close();
        this.coordinator = conn;
        return conn;
      })().finally(() => {
        this.connecting = null;
      });
    }
    return this.connecting;
  }

  /** Forgets the coordinator; the next request looks it up again. */
  private coordinatorLost(): void {
    this.coordinator?.close();
    this.coordinator = null;
  }

  private resetGeneration(resetMemberId: boolean): void {
    this.generationId = -1;
    this.leaderId = null;
    this.assignedFrom = null;
    if (resetMemberId) this.memberId = "";
  }

  // ----------------------------------------------------------------------------------------------
  // The join loop

  private poke(): void {
    this.poked = true;
    const wake = this.wakeLoop;
    this.wakeLoop = null;
    wake?.();
  }

  private async waitForPoke(): Promise<void> {
    if (!this.poked) await new Promise<void>((resolve) => (this.wakeLoop = resolve));
    this.poked = false;
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      if (!this.rejoinNeeded || this.suspended) {
        await this.waitForPoke();
        continue;
      }
      try {
        await this.prepareJoin();
        if (this.closed || this.suspended) continue;
        await this.joinAndSync();
        failures = 0;
        // The handler overran while the join was in flight: leave now.
        if (this.suspended) await this.leave("consumer poll timeout has expired");
      } catch (err) {
        if (this.closed) break;
        this.rejoinNeeded = true;
        const action = this.classify(err);
        if (action === "fatal" || ++failures > MAX_JOIN_FAILURES) {
          this.closed = true;
          this.stopHeartbeats();
          this.hooks.fail(err);
          break;
        }
        if (action === "backoff") this.coordinatorLost();
        // A coordinator that keeps saying "rebalance" is not spun against.
        if (action === "backoff" || failures > 3) {
          await this.sleep(backoffMs(Math.min(failures, 8), this.cluster.retry));
        }
      }
    }
  }

  /**
   * Another consumer joined with this member's group.instance.id: as the Java client, this one
   * stops (rejoining would fence the other in turn, and the two would take turns forever).
   */
  private fenced(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopHeartbeats();
    this.hooks.fail(
      new KafkaError(
        "FENCED_INSTANCE_ID",
        `another consumer joined ${this.groupId} as ${this.groupInstanceId}`,
      ),
    );
    this.poke();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      timer.unref?.();
    });
  }

  /** What to do after a failed join step. */
  private classify(err: unknown): Failure {
    if (err instanceof KafkaError) {
      switch (err.code) {
        case "MEMBER_ID_REQUIRED":
        case "REBALANCE_IN_PROGRESS":
          return "rejoin";
        case "UNKNOWN_MEMBER_ID":
          this.resetGeneration(true);
          return "rejoin";
        case "ILLEGAL_GENERATION":
          this.resetGeneration(false);
          return "rejoin";
        default:
          if (COORDINATOR_ERRORS.has(err.code) || err.retriable) return "backoff";
          return "fatal";
      }
    }
    if (err instanceof ClientError) return err.retriable ? "backoff" : "fatal";
    return "fatal";
  }

  /** Before a join: eager members give everything up; a member out of its generation lost all. */
  private async prepareJoin(): Promise<void> {
    if (this.owned.length === 0) return;
    const lost = this.generationId < 0;
    if (!lost && this.cooperative) return;
    const partitions = this.owned;
    // Forgotten first: a close() meanwhile must not revoke them a second time.
    this.owned = [];
    await this.hooks.revoke(partitions, lost);
  }

  private subscriptionFor(assignor: PartitionAssignor): Buffer {
    return encodeSubscription({
      topics: this.subscribedTopics,
      userData: assignor.subscriptionUserData(this.generationId),
      ownedPartitions: groupByTopic(this.owned),
      generationId: this.generationId,
      rackId: this.options.rackId,
    });
  }

  private async joinAndSync(): Promise<void> {
    this.subscribedTopics = [...new Set(await this.hooks.topics())].sort();
    const conn = await this.coordinatorConnection();
    const joinVersion = conn.versionFor(JOIN_GROUP);
    if (this.groupInstanceId !== null && joinVersion < 5) {
      throw new ClientError("UNSUPPORTED_VERSION", "static membership needs JoinGroup v5 or later");
    }
    const holdMs = this.options.rebalanceTimeoutMs + JOIN_GRACE_MS;
    this.rejoinNeeded = false;
    this.joining = true;
    this.joinsSent++;
    let assigned: TopicPartition[];
    try {
      const join = await conn.request(
        JOIN_GROUP,
        {
          groupId: this.groupId,
          sessionTimeoutMs: this.options.sessionTimeoutMs,
          rebalanceTimeoutMs: this.options.rebalanceTimeoutMs,
          memberId: this.memberId,
          groupInstanceId: this.groupInstanceId,
          protocolType: "consumer",
          protocols: this.assignors.map((a) => ({ name: a.name, metadata: this.subscriptionFor(a) })),
          reason: null,
        },
        holdMs,
      );
      if (join.errorCode !== 0) {
        const code = errorName(join.errorCode);
        // KIP-394: the coordinator names our member id; join again with it.
        if (code === "MEMBER_ID_REQUIRED") this.memberId = join.memberId;
        throw new KafkaError(code, `join group ${this.groupId}`);
      }
      this.memberId = join.memberId;
      this.generationId = join.generationId;
      this.protocolName = join.protocolName;
      this.leaderId = join.leader;
      let assignments: { memberId: string; assignment: Buffer }[] = [];
      if (this.isLeader && !join.skipAssignment) {
        assignments = await this.leaderAssign(
          join.members as { memberId: string; groupInstanceId: string | null; metadata: Buffer }[],
          join.protocolName ?? "",
        );
      }
      const sync = await conn.request(
        SYNC_GROUP,
        {
          groupId: this.groupId,
          generationId: this.generationId,
          memberId: this.memberId,
          groupInstanceId: this.groupInstanceId,
          protocolType: "consumer",
          protocolName: this.protocolName,
          assignments,
        },
        holdMs,
      );
      if (sync.errorCode !== 0) throw new KafkaError(errorName(sync.errorCode), `sync group ${this.groupId}`);
      assigned = flatten(decodeAssignment(sync.assignment).assignedPartitions);
    } finally {
      this.joining = false;
    }
    await this.applyAssignment(assigned);
  }

  /** The leader's part: run the chosen assignor over every member's subscription. */
  private async leaderAssign(
    members: { memberId: string; groupInstanceId: string | null; metadata: Buffer }[],
    protocolName: string,
  ): Promise<{ memberId: string; assignment: Buffer }[]> {
    const assignor = this.assignors.find((a) => a.name === protocolName);
    if (!assignor) {
      throw new KafkaError("INCONSISTENT_GROUP_PROTOCOL", `the coordinator chose ${protocolName}`);
    }
    const subscriptions: (MemberSubscription & { version: number })[] = members.map((m) => {
      let subscription: Subscription & { version: number };
      try {
        subscription = decodeSubscription(m.metadata);
      } catch {
        // A member whose metadata we cannot read gets nothing rather than breaking the group.
        subscription = {
          version: 0,
          topics: [],
          userData: null,
          ownedPartitions: [],
          generationId: -1,
          rackId: null,
        };
      }
      return {
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        subscription,
        version: subscription.version,
      };
    });
    const topics = [...new Set(subscriptions.flatMap((s) => s.subscription.topics))].sort();
    const partitionsPerTopic = await this.partitionCounts(topics);
    // Topics that do not exist yet count as 0 partitions: their creation triggers a rebalance.
    this.assignedFrom = new Map(topics.map((t) => [t, partitionsPerTopic.get(t) ?? 0]));
    this.lastMetadataCheckMs = Date.now();
    const result = assignor.assign(subscriptions, partitionsPerTopic);
    // Every version lays an assignment out alike; write the oldest any member speaks.
    const version = Math.max(0, Math.min(CONSUMER_PROTOCOL_VERSION, ...subscriptions.map((s) => s.version)));
    return subscriptions.map((s) => ({
      memberId: s.memberId,
      assignment: encodeAssignment(
        { assignedPartitions: groupByTopic(result.get(s.memberId) ?? []), userData: null },
        version,
      ),
    }));
  }

  private async partitionCounts(topics: string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (topics.length === 0) return out;
    // On the member's own coordinator connection: the shared one may hold a long-polling fetch,
    // and every member's SyncGroup waits for this leader.
    await this.cluster.refresh(topics, false, await this.coordinatorConnection());
    const wanted = new Set(topics);
    for (const t of this.cluster.knownTopics()) if (wanted.has(t.name)) out.set(t.name, t.partitions.length);
    return out;
  }

  private async applyAssignment(assigned: TopicPartition[]): Promise<void> {
    const next = new Set(assigned.map(partitionKey));
    const had = new Set(this.owned.map(partitionKey));
    const revoked = this.owned.filter((tp) => !next.has(partitionKey(tp)));
    const added = assigned.filter((tp) => !had.has(partitionKey(tp)));
    if (revoked.length > 0) {
      // Cooperative: give up what moved, then rejoin so that its new owner gets it.
      await this.hooks.revoke(revoked, false);
      this.owned = this.owned.filter((tp) => next.has(partitionKey(tp)));
      this.requestRejoin();
    }
    this.owned = assigned;
    await this.hooks.assign(added);
  }

  // ----------------------------------------------------------------------------------------------
  // Heartbeats

  private startHeartbeats(): void {
    this.heartbeating = true;
    this.scheduleHeartbeat();
  }

  private scheduleHeartbeat(): void {
    if (this.closed || !this.heartbeating || this.heartbeatTimer) return;
    this.heartbeatTimer = setTimeout(() => {
      this.heartbeatTimer = null;
      void this.heartbeat();
    }, this.options.heartbeatIntervalMs);
    this.heartbeatTimer.unref?.();
  }

  /** Stops heartbeating; one in flight does not schedule another. */
  private stopHeartbeats(): void {
    this.heartbeating = false;
    if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = null;
  }

  private async heartbeat(): Promise<void> {
    try {
      if (this.generationId >= 0 && this.memberId !== "" && !this.joining && !this.suspended) {
        await this.sendHeartbeat();
      }
      this.maybeCheckMetadata();
    } finally {
      this.scheduleHeartbeat();
    }
  }

  private async sendHeartbeat(): Promise<void> {
    const generation = this.generationId;
    const memberId = this.memberId;
    const joins = this.joinsSent;
    let r: { errorCode: number };
    try {
      const conn = await this.coordinatorConnection();
      r = await conn.request(
        HEARTBEAT,
        { groupId: this.groupId, generationId: generation, memberId, groupInstanceId: this.groupInstanceId },
        Math.min(this.options.requestTimeoutMs, this.options.sessionTimeoutMs),
      );
    } catch {
      this.coordinatorLost();
      return;
    }
    // A join, reset or new generation happened meanwhile: this answer is about the past.
    if (generation !== this.generationId || memberId !== this.memberId || joins !== this.joinsSent) return;
    const code = errorName(r.errorCode);
    switch (code) {
      case "NONE":
        return;
      case "REBALANCE_IN_PROGRESS":
        this.requestRejoin();
        return;
      case "UNKNOWN_MEMBER_ID":
        this.resetGeneration(true);
        this.requestRejoin();
        return;
      case "FENCED_INSTANCE_ID":
        this.fenced();
        return;
      case "ILLEGAL_GENERATION":
        this.resetGeneration(false);
        this.requestRejoin();
        return;
      default:
        if (COORDINATOR_ERRORS.has(code)) this.coordinatorLost();
    }
  }

  /**
   * Every metadataCheckIntervalMs: a member whose topic list changed (a RegExp subscription meets
   * a new topic) and a leader whose topics gained partitions ask for a rebalance. Runs beside the
   * heartbeats, never in their way.
   */
  private maybeCheckMetadata(): void {
    if (this.checkingMetadata || this.generationId < 0 || this.joining) return;
    if (Date.now() - this.lastMetadataCheckMs < this.options.metadataCheckIntervalMs) return;
    this.checkingMetadata = true;
    this.lastMetadataCheckMs = Date.now();
    void (async () => {
      try {
        const topics = [...new Set(await this.hooks.topics())].sort();
        if (topics.join("\u0000") !== this.subscribedTopics.join("\u0000")) {
          this.requestRejoin();
          return;
        }
        const before = this.assignedFrom;
        if (!this.isLeader || !before) return;
        const now = await this.partitionCounts([...before.keys()]);
        for (const [topic, count] of before) if ((now.get(topic) ?? 0) !== count) this.requestRejoin();
      } catch {
        // Checked again next interval.
      } finally {
        this.checkingMetadata = false;
      }
    })();
  }

  // ----------------------------------------------------------------------------------------------
  // Leaving

  /**
   * The user's handler has run past maxPollIntervalMs: leave the group (Java's behaviour) so the
   * others can take the partitions; rejoin on resume().
   */
  pollTimeoutExpired(): void {
    if (this.suspended || this.closed || !this.started) return;
    this.suspended = true;
    if (!this.joining) void this.leave("consumer poll timeout has expired");
  }

  /** The handler returned after a poll timeout: rejoin. */
  resume(): void {
    if (!this.suspended) return;
    this.suspended = false;
    this.requestRejoin();
  }

  /** Sends LeaveGroup (dynamic members only, as Java) and forgets the generation. */
  private async leave(reason: string): Promise<void> {
    const memberId = this.memberId;
    this.resetGeneration(true);
    if (memberId === "" || this.groupInstanceId !== null) return;
    try {
      const conn = await this.coordinatorConnection();
      await conn.request(LEAVE_GROUP, {
        groupId: this.groupId,
        memberId,
        members: [{ memberId, groupInstanceId: null, reason }],
      });
    } catch {
      // The coordinator drops the member after its session timeout anyway.
    }
  }

  /** Leaves the group (unless static) and stops. The Consumer has revoked its partitions. */
  async close(): Promise<void> {
    if (this.closed) {
      this.finished = true;
      this.coordinatorLost();
      return;
    }
    const wasStarted = this.started;
    this.closed = true;
    this.started = false;
    this.stopHeartbeats();
    // An abandoned JoinGroup would hold the LeaveGroup behind it on the same connection.
    if (this.joining) this.coordinatorLost();
    this.poke();
    await this.loopDone.catch(() => {});
    if (wasStarted) await this.leave("the consumer is being closed");
    this.owned = [];
    this.finished = true;
    this.coordinatorLost();
  }

  // ----------------------------------------------------------------------------------------------
  // Offsets

  /**
   * Runs a coordinator request, looking the coordinator up again after it moved or while it loads.
   */
  private async withCoordinator<T>(what: (conn: Connection) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await what(await this.coordinatorConnection());
      } catch (err) {
        const moved =
          (err instanceof KafkaError &&
            (COORDINATOR_ERRORS.has(err.code) || err.code === "UNSTABLE_OFFSET_COMMIT")) ||
          (err instanceof ClientError && err.retriable);
        if (!moved || attempt + 1 >= MAX_COORDINATOR_ATTEMPTS || this.closed) throw err;
        if (!(err instanceof KafkaError && err.code === "UNSTABLE_OFFSET_COMMIT")) this.coordinatorLost();
        await this.sleep(backoffMs(attempt, this.cluster.retry));
      }
    }
  }

  /**
   * Commits offsets under this member's generation, or, when `standalone` (assign mode), as a
   * client outside the group (generation -1, member ""). A commit the coordinator refuses because
   * the generation moved on is not retried: the member rejoins and the caller gets the error.
   */
  async commit(offsets: OffsetAndMetadata[], standalone = false): Promise<void> {
    if (offsets.length === 0) return;
    if (!standalone && this.joining) {
      throw new KafkaError("REBALANCE_IN_PROGRESS", `group ${this.groupId} is rebalancing`);
    }
    if (!standalone && this.generationId < 0) {
      throw new KafkaError("ILLEGAL_GENERATION", `member of ${this.groupId} is not in a generation`);
    }
    const generationId = standalone ? -1 : this.generationId;
    const memberId = standalone ? "" : this.memberId;
    const joins = this.joinsSent;
    const failed = await this.withCoordinator(async (conn) => {
      const failed = await commitOffsets(conn, {
        groupId: this.groupId,
        generationId,
        memberId,
        groupInstanceId: standalone ? null : this.groupInstanceId,
        offsets,
      });
      const moved = failed.find((f) => COORDINATOR_ERRORS.has(f.error));
      if (moved) throw new KafkaError(moved.error, `commit offsets of ${this.groupId}`);
      return failed;
    });
    if (failed.length === 0) return;
    const first = failed[0];
    if (!standalone && generationId === this.generationId && joins === this.joinsSent) {
      switch (first.error) {
        case "REBALANCE_IN_PROGRESS":
          this.requestRejoin();
          break;
        case "ILLEGAL_GENERATION":
          this.resetGeneration(false);
          this.requestRejoin();
          break;
        case "UNKNOWN_MEMBER_ID":
          this.resetGeneration(true);
          this.requestRejoin();
          break;
        case "FENCED_INSTANCE_ID":
          this.fenced();
          break;
      }
    }
    throw new KafkaError(
      first.error,
      `commit offset of ${first.topic}-${first.partition} for ${this.groupId}`,
    );
  }

  /** Committed offsets of `partitions` (-1 where none). */
  fetchCommitted(partitions: TopicPartition[]): Promise<CommittedOffset[]> {
    if (partitions.length === 0) return Promise.resolve([]);
    return this.withCoordinator((conn) => fetchOffsets(conn, this.groupId, partitions, true));
  }
}

/** Resolves assignor names (or custom assignors) to assignors. */
export function resolveAssignors(list: readonly (AssignorName | PartitionAssignor)[]): PartitionAssignor[] {
  return list.map((a) => {
    if (typeof a !== "string") return a;
    const found = ASSIGNORS[a];
    if (!found) throw new ClientError("INVALID_ARGUMENT", `unknown partition assignor "${a}"`);
    return found;
  });
}
