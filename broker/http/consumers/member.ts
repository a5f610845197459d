/**
 * The group member behind a REST consumer instance that subscribed: the classic group protocol
 * run through the broker's own handlers (JoinGroup, SyncGroup, Heartbeat, LeaveGroup through
 * Dispatcher.handle, as call-api.ts runs every HTTP request), never through the samsa client.
 *
 * `rejoin()` runs one join at a time: JoinGroup (v4+: a first call without a member id is answered
 * MEMBER_ID_REQUIRED with one, and joined again with it), then SyncGroup. The member offers the
 * "range" and "roundrobin" assignors (protocol/assignors.ts, Java's and librdkafka's names), so it
 * can share a group with members that offer only one of them; as leader it runs the one the
 * coordinator chose over the members' subscriptions and the topics' partition counts (Metadata). Retriable answers (REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION, a coordinator
 * loading or moving) join again after JOIN_RETRY_BACKOFF_MS, at most JOIN_ATTEMPTS_MAX times;
 * UNKNOWN_MEMBER_ID joins again as a new member. Heartbeats run on a timer every
 * HEARTBEAT_INTERVAL_MS while the member is Stable, whatever the HTTP client does, so an instance
 * keeps its partitions between polls; a heartbeat answered REBALANCE_IN_PROGRESS (another
 * instance joined or left) starts a rejoin at once; a rejoin asked for during a join (a new
 * subscription) joins once more when that join ends. `leave()` stops the timer and sends
 * LeaveGroup, so the others' partitions are rebalanced without waiting for a session timeout (a
 * join that completes after it leaves again).
 */

import type { Logger } from "pino";
import {
  type PartitionAssignor,
  rangeAssignor,
  roundRobinAssignor,
  type TopicPartition,
} from "../../../protocol/assignors.js";
import {
  decodeAssignment,
  decodeSubscription,
  encodeAssignment,
  encodeSubscription,
} from "../../../protocol/consumer-protocol.js";
import { type ErrorName, errorName, KafkaError } from "../../../protocol/errors.js";
import type { ApiKey, RequestOf, ResponseOf } from "../../../protocol/types/index.js";
import type { KafkaApi } from "../kafka-api.js";

/** The protocol type of consumer groups. */
const CONSUMER_PROTOCOL_TYPE = "consumer";
/** The assignors offered in JoinGroup, in order of preference. */
const ASSIGNORS: readonly PartitionAssignor[] = [rangeAssignor, roundRobinAssignor];

const JOIN_GROUP = 11;
const HEARTBEAT = 12;
const LEAVE_GROUP = 13;
const SYNC_GROUP = 14;

/** The versions the member speaks; each handler serves them. */
const VERSIONS = { joinGroup: 7, syncGroup: 5, heartbeat: 4, leaveGroup: 4 } as const;

/** Session timeout asked for: the coordinator drops a member that stops heartbeating this long. */
export const SESSION_TIMEOUT_MS = 10_000;
/** How long the coordinator waits for every member to rejoin in a rebalance. */
export const REBALANCE_TIMEOUT_MS = 30_000;
export const HEARTBEAT_INTERVAL_MS = 1000;
export const JOIN_RETRY_BACKOFF_MS = 100;
export const JOIN_ATTEMPTS_MAX = 50;

/** Errors after which a join is simply tried again. */
const JOIN_AGAIN = new Set<ErrorName>([
  "REBALANCE_IN_PROGRESS",
  "ILLEGAL_GENERATION",
  "COORDINATOR_LOAD_IN_PROGRESS",
  "COORDINATOR_NOT_AVAILABLE",
  "NOT_COORDINATOR",
  "MEMBER_ID_REQUIRED",
  "UNKNOWN_MEMBER_ID",
]);

/** A Kafka request run as the instance's creator (call-api.ts). */
export type ApiCall = <K extends ApiKey>(
  apiKey: K,
  version: number,
  request: RequestOf<K>,
) => Promise<ResponseOf<K>>;

export interface MemberOptions {
  group: string;
  call: ApiCall;
  api: KafkaApi;
  /** The topics to subscribe, asked at each join (a pattern's matches change). */
  topics: () => Promise<string[]>;
  /** Told each new assignment (after a SyncGroup). */
  onAssigned: (partitions: TopicPartition[]) => void;
  log: Logger;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

export class GroupMember {
  memberId = "";
  generationId = -1;
  /** Stable: joined and synced, heartbeating. */
  stable = false;
  private joining: Promise<void> | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private closed = false;
  /** A rejoin was asked for while a join was under way. */
  private joinAgain = false;
  /** Why the last join gave up, for the next poll to report. */
  lastError: unknown = null;

  constructor(private readonly o: MemberOptions) {}

  /** Joins (again); resolves when synced or given up (lastError says why). One join at a time. */
  rejoin(): Promise<void> {
    this.stable = false;
    // A join under way may carry an old subscription: it joins once more when it ends.
    if (this.joining !== null) this.joinAgain = true;
    if (this.joining === null) {
      this.joining = this.joinLoop().finally(() => {
        this.joining = null;
      });
    }
    return this.joining;
  }

  /** Resolves true once Stable, false if `timeoutMs` passes first or the join gave up. */
  async ready(timeoutMs: number): Promise<boolean> {
    if (this.stable) return true;
    const joined = this.joining ?? this.rejoin();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([joined, timeout]);
    clearTimeout(timer);
    return this.stable;
  }

  private async joinLoop(): Promise<void> {
    this.stopHeartbeats();
    for (let attempt = 0; attempt < JOIN_ATTEMPTS_MAX && !this.closed; attempt++) {
      try {
        const error = await this.joinOnce();
        if (error === null && this.closed) {
          // Left while this join was under way: leave again, so no member lingers for a session.
          await this.sendLeave();
          return;
        }
        if (error === null && this.joinAgain) {
          this.joinAgain = false;
          continue;
        }
        if (error === null) {
          this.stable = true;
          this.lastError = null;
          this.startHeartbeats();
          return;
        }
        if (error === "UNKNOWN_MEMBER_ID") this.memberId = "";
        if (!JOIN_AGAIN.has(error)) throw new KafkaError(error, `joining group ${this.o.group}`);
        if (error !== "MEMBER_ID_REQUIRED") await sleep(JOIN_RETRY_BACKOFF_MS);
      } catch (err) {
        this.lastError = err;
        this.o.log.warn({ err, group: this.o.group }, "REST consumer could not join its group");
        return;
      }
    }
    if (!this.closed)
      this.lastError = new KafkaError("REBALANCE_IN_PROGRESS", `joining group ${this.o.group}`);
  }

  /** One JoinGroup + SyncGroup; the error name that ended it, or null when synced. */
  private async joinOnce(): Promise<ErrorName | null> {
    const topics = await this.o.topics();
    const joined = await this.o.call(JOIN_GROUP, VERSIONS.joinGroup, {
      groupId: this.o.group,
      sessionTimeoutMs: SESSION_TIMEOUT_MS,
      rebalanceTimeoutMs: REBALANCE_TIMEOUT_MS,
      memberId: this.memberId,
      groupInstanceId: null,
      protocolType: CONSUMER_PROTOCOL_TYPE,
      protocols: ASSIGNORS.map((a) => ({ name: a.name, metadata: encodeSubscription({ topics }) })),
    });
    if (joined.memberId) this.memberId = joined.memberId;
    if (joined.errorCode !== 0) return errorName(joined.errorCode);
    this.generationId = joined.generationId;
    const protocol = joined.protocolName ?? ASSIGNORS[0].name;
    const assignments = joined.leader === this.memberId ? await this.assign(protocol, joined.members) : [];
    const synced = await this.o.call(SYNC_GROUP, VERSIONS.syncGroup, {
      groupId: this.o.group,
      generationId: this.generationId,
      memberId: this.memberId,
      groupInstanceId: null,
      protocolType: CONSUMER_PROTOCOL_TYPE,
      protocolName: protocol,
      assignments,
    });
    if (synced.errorCode !== 0) return errorName(synced.errorCode);
    const assigned = assignmentOf(synced.assignment);
    this.o.onAssigned(
      assigned.flatMap((t) => t.partitions.map((partition) => ({ topic: t.topic, partition }))),
    );
    return null;
  }

  /**
   * The leader's assignment by the chosen `protocol` over every member's subscription. A member
   * whose subscription does not decode subscribes to nothing.
   */
  private async assign(
    protocol: string,
    members: { memberId: string; groupInstanceId?: string | null; metadata: Buffer }[],
  ): Promise<{ memberId: string; assignment: Buffer }[]> {
    const assignor = ASSIGNORS.find((a) => a.name === protocol) ?? ASSIGNORS[0];
    const subscriptions = members.map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId ?? null,
      subscription: subscriptionOf(m.metadata),
    }));
    const counts = new Map<string, number>();
    for (const t of await this.o.api.topics()) counts.set(t.name, t.partitions.length);
    const plan = assignor.assign(subscriptions, counts);
    return [...plan].map(([memberId, partitions]) => ({
      memberId,
      assignment: encodeAssignment({ assignedPartitions: byTopic(partitions) }),
    }));
  }

  private startHeartbeats(): void {
    this.stopHeartbeats();
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), HEARTBEAT_INTERVAL_MS);
    this.heartbeatTimer.unref();
  }

  private stopHeartbeats(): void {
    if (this.heartbeatTimer !== null) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
  }

  private async heartbeat(): Promise<void> {
    if (!this.stable || this.closed) return;
    try {
      const response = await this.o.call(HEARTBEAT, VERSIONS.heartbeat, {
        groupId: this.o.group,
        generationId: this.generationId,
        memberId: this.memberId,
        groupInstanceId: null,
      });
      if (response.errorCode === 0 || this.closed || !this.stable) return;
      const error = errorName(response.errorCode);
      if (error === "UNKNOWN_MEMBER_ID") this.memberId = "";
      void this.rejoin();
    } catch (err) {
      this.o.log.debug({ err, group: this.o.group }, "REST consumer heartbeat failed");
    }
  }

  /** Leaves the group (LeaveGroup) and stops; the member is not used again. */
  async leave(): Promise<void> {
    this.closed = true;
    this.stable = false;
    this.stopHeartbeats();
    await this.sendLeave();
  }

  private async sendLeave(): Promise<void> {
    if (this.memberId === "") return;
    try {
      await this.o.call(LEAVE_GROUP, VERSIONS.leaveGroup, {
        groupId: this.o.group,
        members: [{ memberId: this.memberId, groupInstanceId: null }],
      });
    } catch (err) {
      this.o.log.debug({ err, group: this.o.group }, "REST consumer could not leave its group");
    }
  }
}

function subscriptionOf(metadata: Buffer): ReturnType<typeof decodeSubscription> {
  try {
    return decodeSubscription(metadata);
  } catch {
    return { version: 0, topics: [], userData: null, ownedPartitions: [], generationId: -1, rackId: null };
  }
}

/** The partitions of a SyncGroup's assignment; none when the leader sent bytes that do not decode. */
function assignmentOf(bytes: Buffer): { topic: string; partitions: number[] }[] {
  try {
    return decodeAssignment(bytes).assignedPartitions;
  } catch {
    return [];
  }
}

/** Partitions grouped by topic, in first-seen order. */
function byTopic(partitions: TopicPartition[]): { topic: string; partitions: number[] }[] {
  const out = new Map<string, number[]>();
  for (const { topic, partition } of partitions) {
    const list = out.get(topic);
    if (list) list.push(partition);
    else out.set(topic, [partition]);
  }
  return [...out].map(([topic, list]) => ({ topic, partitions: list }));
}
