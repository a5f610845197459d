/**
 * The group coordinator: Kafka's classic group protocol (JoinGroup, SyncGroup, Heartbeat,
 * LeaveGroup) over the groups of this broker, and their persistence in `__consumer_offsets`.
 * Committed offsets are handled by `GroupOffsets` (offsets.ts) over the same groups.
 *
 * A group moves Empty -> PreparingRebalance (members join; the first rebalance of an empty group
 * waits `group.initial.rebalance.delay.ms` for more) -> CompletingRebalance (the leader computes
 * assignments) -> Stable (after the leader's SyncGroup is stored) and back to PreparingRebalance
 * when a member joins, leaves, changes its subscription or misses its session timeout. Every
 * change happens on the event loop in one synchronous step; the only awaits are the stores of
 * group metadata, after which the step checks that the generation is still the one it stored.
 *
 * Guarantees: a JoinGroup reply carries the generation that all joined members share; a member
 * gets its assignment only once the leader's assignments are on every in-sync replica; members
 * awaiting a join or sync reply are never expired; a rebalance ends within the members' longest
 * rebalance timeout (members that did not rejoin are removed).
 *
 * Ownership (Kafka's onElection / onResignation): this broker coordinates the groups of the
 * `__consumer_offsets` partitions it leads. `elect(partition, leaderEpoch)` loads a partition's
 * groups and offsets (loader.ts) and serves them once loaded; meanwhile their requests answer
 * COORDINATOR_LOAD_IN_PROGRESS. `resign(partition)` answers their waiting joins and syncs
 * NOT_COORDINATOR, stops their timers and drops them. A group of a partition not led here
 * answers NOT_COORDINATOR everywhere. Every group held is in a loaded partition, and only the
 * group object held writes to the log, at the epoch its partition was elected with.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { type ErrorName, errorCode, KafkaError } from "../../protocol/errors.js";
import type { BrokerConfig } from "../config.js";
import {
  EMPTY_ASSIGNMENT,
  Group,
  type JoinResult,
  type Member,
  type Protocol,
  type SyncResult,
} from "./group.js";
import { type LoadedPartition, loadOffsetsPartition } from "./loader.js";
import { OFFSETS_TOPIC, type OffsetsRecordWrite, type OffsetsTopic } from "./offsets-topic.js";
import { groupKey, groupValue, type StoredGroup } from "./records.js";

/** Pause before a failed load of an offsets partition is tried again (while still elected). */
export const LOAD_RETRY_MS = 1000;

/** Why this broker does not serve a group now. */
export type CoordinatorRefusal = "NOT_COORDINATOR" | "COORDINATOR_LOAD_IN_PROGRESS";

/** An offsets partition this broker was elected to coordinate, at a leader epoch. */
interface OwnedPartition {
  readonly epoch: number;
  /** Until its groups are installed: their requests answer COORDINATOR_LOAD_IN_PROGRESS. */
  loading: boolean;
  /** Settles when the first load attempt ends (loaded, overtaken or failed). */
  loaded: Promise<void>;
  retry: NodeJS.Timeout | null;
}

export interface JoinRequest {
  groupId: string;
  sessionTimeoutMs: number;
  /** -1 (JoinGroup v0) means the session timeout. */
  rebalanceTimeoutMs: number;
  memberId: string;
  groupInstanceId: string | null;
  protocolType: string;
  protocols: Protocol[];
  /** JoinGroup v4+: a new member first gets MEMBER_ID_REQUIRED and its id. */
  requireKnownMemberId: boolean;
  clientId: string;
  clientHost: string;
}

export interface SyncRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  protocolType: string | null;
  protocolName: string | null;
  assignments: { memberId: string; assignment: Buffer }[];
}

export interface MemberIdentity {
  memberId: string;
  groupInstanceId: string | null;
}

function joinError(name: ErrorName, memberId: string): JoinResult {
  return {
    errorCode: errorCode(name),
    skipAssignment: false,
    generationId: -1,
    protocolType: null,
    protocolName: null,
    leader: "",
    memberId,
    members: [],
  };
}

function syncError(name: ErrorName): SyncResult {
  return { errorCode: errorCode(name), protocolType: null, protocolName: null, assignment: EMPTY_ASSIGNMENT };
}

function sameProtocols(member: Member, protocols: Protocol[]): boolean {
  if (member.protocols.length !== protocols.length) return false;
  return member.protocols.every(
    (p, i) => p.name === protocols[i].name && p.metadata.equals(protocols[i].metadata),
  );
}

export class GroupCoordinator {
  private readonly groups = new Map<string, Group>();
  /** The offsets partitions elected here, by partition. */
  private readonly owned = new Map<number, OwnedPartition>();
  private stopped = false;

  constructor(
    readonly offsetsTopic: OffsetsTopic,
    private readonly config: BrokerConfig,
    private readonly log: Logger,
  ) {}

  group(id: string): Group | undefined {
    return this.groups.get(id);
  }

  allGroups(): Group[] {
    return [...this.groups.values()];
  }

  /** The group, created Empty if it does not exist (for commits of standalone consumers). */
  getOrCreate(id: string): Group {
    let group = this.groups.get(id);
    if (!group) {
      group = new Group(id);
      this.groups.set(id, group);
    }
    return group;
  }

  /** Forgets a group (deleted, or expired with nothing left). */
  remove(group: Group): void {
    group.transition("Dead");
    this.clearTimers(group);
    if (this.groups.get(group.id) === group) this.groups.delete(group.id);
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  // ---- Ownership of offsets partitions ------------------------------------------------------

  /** The replica manager's leadership listener: elects or resigns `__consumer_offsets` partitions. */
  onLeadership(topic: string, partition: number, leading: boolean, leaderEpoch: number): void {
    if (topic !== OFFSETS_TOPIC) return;
    if (leading) void this.elect(partition, leaderEpoch);
    else this.resign(partition, leaderEpoch);
  }

  /**
   * Coordinates the groups of offsets partition `partition` from `leaderEpoch` on: reads its log
   * up to the end and serves its groups once loaded (an empty log at once). The epoch held or an
   * older one changes nothing; a newer one drops what is held and loads again. A load overtaken by
   * a resignation or a newer election installs nothing. A failed load is logged and tried again
   * after LOAD_RETRY_MS while the election holds. Resolves when the first attempt has ended.
   */
  elect(partition: number, leaderEpoch: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const held = this.owned.get(partition);
    if (held && held.epoch >= leaderEpoch) return held.loaded;
    if (held) this.unload(partition, held);
    const entry: OwnedPartition = {
      epoch: leaderEpoch,
      loading: true,
      loaded: Promise.resolve(),
      retry: null,
    };
    this.owned.set(partition, entry);
    if (this.offsetsTopic.isEmpty(partition)) entry.loading = false;
    else entry.loaded = this.load(partition, entry);
    return entry.loaded;
  }

  /**
   * Stops coordinating the groups of offsets partition `partition` (Kafka's onResignation):
   * members waiting for a join or sync reply get NOT_COORDINATOR, timers stop, the groups are
   * dropped (Dead), and a load under way installs nothing. A resignation of an older leader epoch
   * than the one elected is ignored.
   */
  resign(partition: number, leaderEpoch?: number): void {
    const held = this.owned.get(partition);
    if (!held || (leaderEpoch !== undefined && leaderEpoch < held.epoch)) return;
    this.unload(partition, held);
    this.log.info({ partition, epoch: held.epoch }, "resigned as coordinator of an offsets partition");
  }

  /** Resolves once every load under way has made its first attempt (start-up waits for it). */
  async loading(): Promise<void> {
    await Promise.all([...this.owned.values()].map((o) => o.loaded));
  }

  /** Whether some elected offsets partition is still loading. */
  isLoading(): boolean {
    for (const o of this.owned.values()) if (o.loading) return true;
    return false;
  }

  /**
   * Null when this broker serves `groupId` now: its offsets partition is elected here and loaded.
   * COORDINATOR_LOAD_IN_PROGRESS while it loads; NOT_COORDINATOR when it is not led here or the
   * coordinator stopped. Before `__consumer_offsets` exists no group exists anywhere: null (the
   * request then finds no group).
   */
  coordinatorError(groupId: string): CoordinatorRefusal | null {
    if (this.stopped) return "NOT_COORDINATOR";
    if (!this.offsetsTopic.exists()) return null;
    const owned = this.owned.get(this.offsetsTopic.partitionFor(groupId));
    if (!owned) return "NOT_COORDINATOR";
    return owned.loading ? "COORDINATOR_LOAD_IN_PROGRESS" : null;
  }

  /**
   * As `coordinatorError`, for a request that may create a group: `__consumer_offsets` is created
   * first when it does not exist (COORDINATOR_NOT_AVAILABLE if that fails), so that the answer
   * names the partition's real leader.
   */
  async coordinatorErrorCreating(groupId: string): Promise<ErrorName | null> {
    if (!this.stopped && !this.offsetsTopic.exists()) {
      try {
        await this.offsetsTopic.ensure();
      } catch (err) {
        this.log.warn({ err }, `creating ${OFFSETS_TOPIC} failed`);
        return "COORDINATOR_NOT_AVAILABLE";
      }
    }
    return this.coordinatorError(groupId);
  }

  private async load(partition: number, entry: OwnedPartition): Promise<void> {
    const current = () => !this.stopped && this.owned.get(partition) === entry;
    let loaded: LoadedPartition;
    try {
      loaded = await loadOffsetsPartition(this.offsetsTopic, partition, current);
    } catch (err) {
      if (!current()) return;
      this.log.warn({ err, partition, epoch: entry.epoch }, "loading an offsets partition failed; retrying");
      entry.retry = setTimeout(() => {
        entry.retry = null;
        if (current()) void this.load(partition, entry);
      }, LOAD_RETRY_MS);
      entry.retry.unref();
      return;
    }
    if (!current()) return;
    this.install(partition, entry, loaded);
  }

  /** Serves the loaded groups: each member gets a fresh session, as after a failover in Kafka. */
  private install(partition: number, entry: OwnedPartition, loaded: LoadedPartition): void {
    for (const group of loaded.groups.values()) {
      const stale = this.groups.get(group.id);
      if (stale) this.unloadGroup(stale);
      this.groups.set(group.id, group);
      for (const m of group.members.values()) this.armSession(group, m);
    }
    entry.loading = false;
    if (loaded.records > 0) {
      this.log.info(
        { partition, epoch: entry.epoch, records: loaded.records, groups: loaded.groups.size },
        "offsets partition loaded",
      );
    }
  }

  private unload(partition: number, held: OwnedPartition): void {
    this.owned.delete(partition);
    if (held.retry) clearTimeout(held.retry);
    held.retry = null;
    for (const group of [...this.groups.values()]) {
      if (this.offsetsTopic.partitionFor(group.id) === partition) this.unloadGroup(group);
    }
  }

  /** Answers what the group's members wait for with NOT_COORDINATOR, stops its timers, drops it. */
  private unloadGroup(group: Group): void {
    this.answerWaiters(group, "NOT_COORDINATOR");
    this.remove(group);
  }

  // ---- JoinGroup ----------------------------------------------------------------------------

  join(req: JoinRequest): Promise<JoinResult> {
    if (this.stopped) return Promise.resolve(joinError("NOT_COORDINATOR", req.memberId));
    if (!req.groupId) return Promise.resolve(joinError("INVALID_GROUP_ID", req.memberId));
    if (!this.offsetsTopic.exists()) {
      // The first group request: the offsets topic is created, then the join is decided.
      return this.coordinatorErrorCreating(req.groupId).then((refused) =>
        refused ? joinError(refused, req.memberId) : this.joinServed(req),
      );
    }
    const refused = this.coordinatorError(req.groupId);
    if (refused) return Promise.resolve(joinError(refused, req.memberId));
    return this.joinServed(req);
  }

  /** A join of a group this broker serves: the request's own checks, then the join itself. */
  private joinServed(req: JoinRequest): Promise<JoinResult> {
    const { groupMinSessionTimeoutMs: min, groupMaxSessionTimeoutMs: max } = this.config;
    if (req.sessionTimeoutMs < min || req.sessionTimeoutMs > max) {
      return Promise.resolve(joinError("INVALID_SESSION_TIMEOUT", req.memberId));
    }
    if (!req.protocolType || req.protocols.length === 0) {
      return Promise.resolve(joinError("INCONSISTENT_GROUP_PROTOCOL", req.memberId));
    }
    let group = this.groups.get(req.groupId);
    if (!group) {
      if (req.memberId !== "") return Promise.resolve(joinError("UNKNOWN_MEMBER_ID", req.memberId));
      group = this.getOrCreate(req.groupId);
    }
    if (group.state === "Dead") return Promise.resolve(joinError("COORDINATOR_NOT_AVAILABLE", req.memberId));
    const target = group;
    return new Promise((resolve) => {
      if (req.memberId === "") this.joinNewMember(target, req, resolve);
      else this.joinKnownMember(target, req, resolve);
    });
  }

  private joinNewMember(group: Group, req: JoinRequest, resolve: (r: JoinResult) => void): void {
    if (!group.supports(req.protocolType, req.protocols)) {
      resolve(joinError("INCONSISTENT_GROUP_PROTOCOL", ""));
      return;
    }
    const memberId = `${req.groupInstanceId ?? (req.clientId || "member")}-${randomUUID()}`;
    if (req.groupInstanceId) {
      const previous = group.staticMembers.get(req.groupInstanceId);
      const old = previous === undefined ? undefined : group.members.get(previous);
      if (old) {
        this.replaceStaticMember(group, old, memberId, req, resolve);
        return;
      }
    }
    if (group.members.size >= this.config.groupMaxSize) {
      resolve(joinError("GROUP_MAX_SIZE_REACHED", ""));
      return;
    }
    if (req.requireKnownMemberId && !req.groupInstanceId) {
      // The member must come back with this id; until it does (or its session passes) the
      // rebalance waits for it, so a member that loses the reply is not counted twice.
      const timer = setTimeout(() => {
        group.pendingMembers.delete(memberId);
        this.tryCompleteJoin(group);
        this.maybeForget(group);
      }, req.sessionTimeoutMs);
      timer.unref();
      group.pendingMembers.set(memberId, timer);
      resolve(joinError("MEMBER_ID_REQUIRED", memberId));
      return;
    }
    this.addMember(group, memberId, req, resolve);
  }

  private joinKnownMember(group: Group, req: JoinRequest, resolve: (r: JoinResult) => void): void {
    const pending = group.pendingMembers.get(req.memberId);
    if (pending) {
      clearTimeout(pending);
      group.pendingMembers.delete(req.memberId);
      if (!group.supports(req.protocolType, req.protocols)) {
        resolve(joinError("INCONSISTENT_GROUP_PROTOCOL", req.memberId));
        this.tryCompleteJoin(group);
        return;
      }
      if (group.members.size >= this.config.groupMaxSize) {
        resolve(joinError("GROUP_MAX_SIZE_REACHED", req.memberId));
        this.tryCompleteJoin(group);
        return;
      }
      this.addMember(group, req.memberId, req, resolve);
      return;
    }
    if (this.fenced(group, req.memberId, req.groupInstanceId)) {
      resolve(joinError("FENCED_INSTANCE_ID", req.memberId));
      return;
    }
    const member = group.members.get(req.memberId);
    if (!member) {
      resolve(joinError("UNKNOWN_MEMBER_ID", req.memberId));
      return;
    }
    if (!group.supports(req.protocolType, req.protocols)) {
      resolve(joinError("INCONSISTENT_GROUP_PROTOCOL", req.memberId));
      return;
    }
    switch (group.state) {
      case "PreparingRebalance":
        this.updateMember(member, req, resolve);
        this.tryCompleteJoin(group);
        return;
      case "CompletingRebalance":
        if (sameProtocols(member, req.protocols)) {
          // A lost JoinGroup reply: the member gets the generation it is part of again.
          resolve(this.joinResult(group, member));
          return;
        }
        this.updateMember(member, req, resolve);
        this.prepareRebalance(group, `member ${member.memberId} changed its protocols`);
        return;
      case "Stable":
        if (member.memberId === group.leaderId || !sameProtocols(member, req.protocols)) {
          this.updateMember(member, req, resolve);
          this.prepareRebalance(group, `member ${member.memberId} rejoined`);
          return;
        }
        this.armSession(group, member);
        resolve(this.joinResult(group, member));
        return;
      default:
        resolve(joinError("UNKNOWN_MEMBER_ID", req.memberId));
    }
  }

  /** A static member restarted with a new member id: the old id is fenced, its place kept. */
  private replaceStaticMember(
    group: Group,
    old: Member,
    memberId: string,
    req: JoinRequest,
    resolve: (r: JoinResult) => void,
  ): void {
    this.detach(old, "FENCED_INSTANCE_ID");
    group.members.delete(old.memberId);
    const member: Member = {
      ...old,
      memberId,
      clientId: req.clientId,
      clientHost: req.clientHost,
      sessionTimeoutMs: req.sessionTimeoutMs,
      rebalanceTimeoutMs: req.rebalanceTimeoutMs < 0 ? req.sessionTimeoutMs : req.rebalanceTimeoutMs,
      protocols: req.protocols,
      joinWaiter: null,
      syncWaiter: null,
      sessionTimer: null,
    };
    group.members.set(memberId, member);
    group.staticMembers.set(req.groupInstanceId as string, memberId);
    if (group.leaderId === old.memberId) group.leaderId = memberId;
    this.log.info({ group: group.id, instance: req.groupInstanceId, memberId }, "static member replaced");
    if (group.state === "Stable" && group.selectProtocol() === group.protocolName) {
      // As Kafka (doStaticNewMemberJoinGroup): no rebalance unless the group's protocol would
      // change; the new id keeps the old assignment. A leader gets the members, and from v9
      // SkipAssignment, since the assignment stands.
      this.armSession(group, member);
      void this.storeGroup(group).catch((err) =>
        this.log.warn({ err, group: group.id }, "storing group metadata failed"),
      );
      resolve({ ...this.joinResult(group, member), skipAssignment: group.leaderId === memberId });
      return;
    }
    member.joinWaiter = resolve;
    if (group.state === "PreparingRebalance") this.tryCompleteJoin(group);
    else this.prepareRebalance(group, `static member ${req.groupInstanceId} rejoined`);
  }

  private addMember(group: Group, memberId: string, req: JoinRequest, resolve: (r: JoinResult) => void) {
    const member: Member = {
      memberId,
      groupInstanceId: req.groupInstanceId,
      clientId: req.clientId,
      clientHost: req.clientHost,
      sessionTimeoutMs: req.sessionTimeoutMs,
      rebalanceTimeoutMs: req.rebalanceTimeoutMs < 0 ? req.sessionTimeoutMs : req.rebalanceTimeoutMs,
      protocolType: req.protocolType,
      protocols: req.protocols,
      assignment: EMPTY_ASSIGNMENT,
      joinWaiter: resolve,
      syncWaiter: null,
      sessionTimer: null,
      isNew: true,
    };
    if (group.members.size === 0) group.protocolType = req.protocolType;
    group.members.set(memberId, member);
    if (req.groupInstanceId) group.staticMembers.set(req.groupInstanceId, memberId);
    if (!group.leaderId || !group.members.has(group.leaderId)) group.leaderId = memberId;
    group.newMemberAdded = true;
    if (group.state === "PreparingRebalance") this.tryCompleteJoin(group);
    else this.prepareRebalance(group, `member ${memberId} joined`);
  }

  private updateMember(member: Member, req: JoinRequest, resolve: (r: JoinResult) => void): void {
    member.protocols = req.protocols;
    member.sessionTimeoutMs = req.sessionTimeoutMs;
    member.rebalanceTimeoutMs = req.rebalanceTimeoutMs < 0 ? req.sessionTimeoutMs : req.rebalanceTimeoutMs;
    member.clientId = req.clientId;
    member.clientHost = req.clientHost;
    // A second JoinGroup while the first waits: the first is answered, the second waits.
    member.joinWaiter?.(joinError("REBALANCE_IN_PROGRESS", member.memberId));
    member.joinWaiter = resolve;
  }

  private joinResult(group: Group, member: Member): JoinResult {
    const isLeader = member.memberId === group.leaderId;
    return {
      errorCode: 0,
      skipAssignment: false,
      generationId: group.generationId,
      protocolType: group.protocolType,
      protocolName: group.protocolName,
      leader: group.leaderId ?? "",
      memberId: member.memberId,
      members: isLeader
        ? [...group.members.values()].map((m) => ({
            memberId: m.memberId,
            groupInstanceId: m.groupInstanceId,
            metadata: group.metadataFor(m, group.protocolName),
          }))
        : [],
    };
  }

  /** Starts a rebalance from Empty, Stable or CompletingRebalance. */
  private prepareRebalance(group: Group, reason: string): void {
    if (group.state === "CompletingRebalance") {
      for (const m of group.members.values()) {
        m.assignment = EMPTY_ASSIGNMENT;
        const waiter = m.syncWaiter;
        m.syncWaiter = null;
        waiter?.(syncError("REBALANCE_IN_PROGRESS"));
      }
    }
    if (group.syncTimer) clearTimeout(group.syncTimer);
    group.syncTimer = null;
    if (group.joinTimer) clearTimeout(group.joinTimer);
    const wasEmpty = group.state === "Empty";
    group.transition("PreparingRebalance");
    this.log.info({ group: group.id, generation: group.generationId, reason }, "rebalance started");
    const rebalanceTimeoutMs = group.rebalanceTimeoutMs();
    const initialDelayMs = Math.min(this.config.groupInitialRebalanceDelayMs, rebalanceTimeoutMs);
    if (wasEmpty && initialDelayMs > 0) {
      this.armInitialDelay(group, initialDelayMs, rebalanceTimeoutMs - initialDelayMs);
      return;
    }
    group.initialDelayUntilMs = 0;
    group.joinTimer = setTimeout(() => {
      group.joinTimer = null;
      this.completeJoin(group);
    }, rebalanceTimeoutMs);
    group.joinTimer.unref();
    this.tryCompleteJoin(group);
  }

  /**
   * The first rebalance of an empty group waits for more members: `delayMs`, again while new
   * members keep arriving, at most the rebalance timeout in all (Kafka's InitialDelayedJoin).
   */
  private armInitialDelay(group: Group, delayMs: number, remainingMs: number): void {
    group.newMemberAdded = false;
    group.initialDelayUntilMs = Date.now() + delayMs;
    group.joinTimer = setTimeout(() => {
      group.joinTimer = null;
      if (group.state !== "PreparingRebalance") return;
      if (group.newMemberAdded && remainingMs > 0) {
        const next = Math.min(this.config.groupInitialRebalanceDelayMs, remainingMs);
        this.armInitialDelay(group, next, remainingMs - next);
        return;
      }
      group.initialDelayUntilMs = 0;
      this.completeJoin(group);
    }, delayMs);
    group.joinTimer.unref();
  }

  private tryCompleteJoin(group: Group): void {
    if (group.state !== "PreparingRebalance" || group.initialDelayUntilMs !== 0) return;
    if (group.allMembersJoined()) this.completeJoin(group);
  }

  /** Ends the join phase: members that did not rejoin are removed, the rest get the generation. */
  private completeJoin(group: Group): void {
    if (group.state !== "PreparingRebalance") return;
    if (group.joinTimer) clearTimeout(group.joinTimer);
    group.joinTimer = null;
    group.initialDelayUntilMs = 0;
    for (const m of [...group.members.values()]) {
      if (!m.joinWaiter) {
        this.log.info({ group: group.id, memberId: m.memberId }, "member did not rejoin in time; removed");
        this.detach(m, "UNKNOWN_MEMBER_ID");
        this.forgetMember(group, m);
      }
    }
    group.generationId++;
    group.synced.clear();
    if (group.members.size === 0) {
      group.protocolName = null;
      group.leaderId = null;
      group.transition("Empty");
      this.log.info({ group: group.id, generation: group.generationId }, "group is empty");
      void this.storeGroup(group).catch((err) =>
        this.log.warn({ err, group: group.id }, "storing group metadata failed"),
      );
      return;
    }
    group.protocolName = group.selectProtocol();
    if (!group.leaderId || !group.members.has(group.leaderId)) {
      group.leaderId = group.members.keys().next().value as string;
    }
    group.transition("CompletingRebalance");
    this.log.info(
      {
        group: group.id,
        generation: group.generationId,
        protocol: group.protocolName,
        members: group.members.size,
      },
      "join phase complete",
    );
    for (const m of group.members.values()) {
      const waiter = m.joinWaiter;
      m.joinWaiter = null;
      m.isNew = false;
      this.armSession(group, m);
      waiter?.(this.joinResult(group, m));
    }
    const generation = group.generationId;
    group.syncTimer = setTimeout(() => {
      group.syncTimer = null;
      if (group.state !== "CompletingRebalance" || group.generationId !== generation) return;
      // The leader never sent its assignments: members that did not sync are removed.
      for (const m of [...group.members.values()]) {
        if (!group.synced.has(m.memberId)) {
          this.detach(m, "UNKNOWN_MEMBER_ID");
          this.forgetMember(group, m);
        }
      }
      this.prepareRebalance(group, "members did not sync in time");
    }, group.rebalanceTimeoutMs());
    group.syncTimer.unref();
  }

  // ---- SyncGroup ----------------------------------------------------------------------------

  sync(req: SyncRequest): Promise<SyncResult> {
    if (this.stopped) return Promise.resolve(syncError("NOT_COORDINATOR"));
    if (!req.groupId) return Promise.resolve(syncError("INVALID_GROUP_ID"));
    const refused = this.coordinatorError(req.groupId);
    if (refused) return Promise.resolve(syncError(refused));
    const group = this.groups.get(req.groupId);
    if (!group) return Promise.resolve(syncError("UNKNOWN_MEMBER_ID"));
    if (this.fenced(group, req.memberId, req.groupInstanceId)) {
      return Promise.resolve(syncError("FENCED_INSTANCE_ID"));
    }
    const member = group.members.get(req.memberId);
    if (!member) return Promise.resolve(syncError("UNKNOWN_MEMBER_ID"));
    if (req.generationId !== group.generationId) return Promise.resolve(syncError("ILLEGAL_GENERATION"));
    if (
      (req.protocolType !== null && req.protocolType !== group.protocolType) ||
      (req.protocolName !== null && req.protocolName !== group.protocolName)
    ) {
      return Promise.resolve(syncError("INCONSISTENT_GROUP_PROTOCOL"));
    }
    switch (group.state) {
      case "PreparingRebalance":
        return Promise.resolve(syncError("REBALANCE_IN_PROGRESS"));
      case "Stable":
        this.armSession(group, member);
        return Promise.resolve(this.syncResult(group, member));
      case "CompletingRebalance":
        return new Promise((resolve) => {
          member.syncWaiter?.(syncError("REBALANCE_IN_PROGRESS"));
          member.syncWaiter = resolve;
          group.synced.add(member.memberId);
          this.armSession(group, member);
          if (member.memberId === group.leaderId) void this.completeSync(group, req.assignments);
        });
      default:
        return Promise.resolve(syncError("UNKNOWN_MEMBER_ID"));
    }
  }

  private syncResult(group: Group, member: Member): SyncResult {
    return {
      errorCode: 0,
      protocolType: group.protocolType,
      protocolName: group.protocolName,
      assignment: member.assignment,
    };
  }

  /** Stores the leader's assignments, then hands each member its own: the group is Stable. */
  private async completeSync(
    group: Group,
    assignments: { memberId: string; assignment: Buffer }[],
  ): Promise<void> {
    const generation = group.generationId;
    const byMember = new Map(assignments.map((a) => [a.memberId, a.assignment]));
    const stored = group.toStored();
    for (const m of stored.members) m.assignment = byMember.get(m.memberId) ?? EMPTY_ASSIGNMENT;
    try {
      await this.appendGroup(group, stored);
    } catch (err) {
      this.log.warn({ err, group: group.id }, "storing the assignment failed");
      if (group.state === "CompletingRebalance" && group.generationId === generation) {
        const answer: ErrorName = KafkaError.is(err) ? err.code : "COORDINATOR_NOT_AVAILABLE";
        for (const m of group.members.values()) {
          const waiter = m.syncWaiter;
          m.syncWaiter = null;
          waiter?.(syncError(answer));
        }
        this.prepareRebalance(group, "storing the assignment failed");
      }
      return;
    }
    if (group.state !== "CompletingRebalance" || group.generationId !== generation) return;
    if (group.syncTimer) clearTimeout(group.syncTimer);
    group.syncTimer = null;
    for (const m of group.members.values()) m.assignment = byMember.get(m.memberId) ?? EMPTY_ASSIGNMENT;
    group.transition("Stable");
    this.log.info({ group: group.id, generation }, "group is stable");
    for (const m of group.members.values()) {
      const waiter = m.syncWaiter;
      m.syncWaiter = null;
      waiter?.(this.syncResult(group, m));
    }
  }

  // ---- Heartbeat and LeaveGroup -------------------------------------------------------------

  /** Answers a heartbeat: null when all is well, else the error the member acts on. */
  heartbeat(
    groupId: string,
    generationId: number,
    memberId: string,
    instanceId: string | null,
  ): ErrorName | null {
    if (this.stopped) return "NOT_COORDINATOR";
    if (!groupId) return "INVALID_GROUP_ID";
    const refused = this.coordinatorError(groupId);
    if (refused) return refused;
    const group = this.groups.get(groupId);
    if (!group) return "UNKNOWN_MEMBER_ID";
    if (this.fenced(group, memberId, instanceId)) return "FENCED_INSTANCE_ID";
    const member = group.members.get(memberId);
    if (!member) return "UNKNOWN_MEMBER_ID";
    if (generationId !== group.generationId) return "ILLEGAL_GENERATION";
    this.armSession(group, member);
    return group.state === "PreparingRebalance" ? "REBALANCE_IN_PROGRESS" : null;
  }

  /** Removes members that leave; each gets its own answer (null: removed). */
  leave(groupId: string, identities: MemberIdentity[]): (ErrorName | null)[] {
    const refused = this.coordinatorError(groupId);
    if (refused) return identities.map(() => refused);
    const group = this.groups.get(groupId);
    if (!group) return identities.map(() => "UNKNOWN_MEMBER_ID");
    return identities.map((who) => {
      let memberId = who.memberId;
      if (who.groupInstanceId) {
        const known = group.staticMembers.get(who.groupInstanceId);
        if (known === undefined) return "UNKNOWN_MEMBER_ID";
        if (memberId && memberId !== known) return "FENCED_INSTANCE_ID";
        memberId = known;
      }
      const pending = group.pendingMembers.get(memberId);
      if (pending) {
        clearTimeout(pending);
        group.pendingMembers.delete(memberId);
        this.tryCompleteJoin(group);
        return null;
      }
      const member = group.members.get(memberId);
      if (!member) return "UNKNOWN_MEMBER_ID";
      this.log.info({ group: group.id, memberId }, "member left");
      this.removeMember(group, member, `member ${memberId} left`);
      return null;
    });
  }

  /** A static member whose instance id now belongs to another member id is fenced. */
  private fenced(group: Group, memberId: string, instanceId: string | null): boolean {
    if (!instanceId) return false;
    const known = group.staticMembers.get(instanceId);
    return known !== undefined && known !== memberId;
  }

  /** (Re)starts the member's session: it is removed if not heard from within its timeout. */
  private armSession(group: Group, member: Member): void {
    if (member.sessionTimer) clearTimeout(member.sessionTimer);
    member.sessionTimer = setTimeout(() => {
      member.sessionTimer = null;
      if (group.members.get(member.memberId) !== member || this.stopped) return;
      if (member.joinWaiter || member.syncWaiter) {
        this.armSession(group, member);
        return;
      }
      this.log.info({ group: group.id, memberId: member.memberId }, "member session expired");
      this.removeMember(group, member, `member ${member.memberId} session expired`);
    }, member.sessionTimeoutMs);
    member.sessionTimer.unref();
  }

  private removeMember(group: Group, member: Member, reason: string): void {
    this.detach(member, "UNKNOWN_MEMBER_ID");
    this.forgetMember(group, member);
    if (group.state === "Stable" || group.state === "CompletingRebalance")
      this.prepareRebalance(group, reason);
    else if (group.state === "PreparingRebalance") this.tryCompleteJoin(group);
  }

  /** Answers whatever the member waits for and stops its session timer. */
  private detach(member: Member, answer: ErrorName): void {
    if (member.sessionTimer) clearTimeout(member.sessionTimer);
    member.sessionTimer = null;
    const join = member.joinWaiter;
    const sync = member.syncWaiter;
    member.joinWaiter = null;
    member.syncWaiter = null;
    join?.(joinError(answer, member.memberId));
    sync?.(syncError(answer));
  }

  private forgetMember(group: Group, member: Member): void {
    group.members.delete(member.memberId);
    if (member.groupInstanceId && group.staticMembers.get(member.groupInstanceId) === member.memberId) {
      group.staticMembers.delete(member.groupInstanceId);
    }
    if (group.leaderId === member.memberId) {
      group.leaderId = group.members.size > 0 ? (group.members.keys().next().value as string) : null;
    }
  }

  /** Drops an empty group that holds nothing: no members, no offsets, no pending ids. */
  maybeForget(group: Group): void {
    if (group.state !== "Empty" || group.members.size > 0 || group.pendingMembers.size > 0) return;
    if (group.offsets.size > 0 || group.generationId > 0) return;
    this.remove(group);
  }

  // ---- Persistence --------------------------------------------------------------------------

  /**
   * Appends records of `group` to its offsets partition (acks=all, see offsets-topic.ts).
   * NOT_COORDINATOR unless `group` is the one held and its partition is loaded here: a group
   * dropped by a resignation or a newer election writes nothing.
   */
  append(group: Group, records: OffsetsRecordWrite[]): Promise<void> {
    const owned = this.owned.get(this.offsetsTopic.partitionFor(group.id));
    if (!owned || owned.loading || this.groups.get(group.id) !== group) {
      return Promise.reject(
        new KafkaError("NOT_COORDINATOR", `this broker no longer coordinates group ${group.id}`),
      );
    }
    return this.offsetsTopic.append(group.id, records, owned.epoch);
  }

  private appendGroup(group: Group, stored: StoredGroup | null): Promise<void> {
    return this.append(group, [{ key: groupKey(group.id), value: stored ? groupValue(stored) : null }]);
  }

  /** Writes the group's current metadata (generation, protocol, members, assignments). */
  storeGroup(group: Group): Promise<void> {
    return this.appendGroup(group, group.toStored());
  }

  /** Writes a tombstone for the group's metadata. */
  deleteStoredGroup(group: Group): Promise<void> {
    return this.appendGroup(group, null);
  }

  private clearTimers(group: Group): void {
    if (group.joinTimer) clearTimeout(group.joinTimer);
    if (group.syncTimer) clearTimeout(group.syncTimer);
    group.joinTimer = null;
    group.syncTimer = null;
    for (const t of group.pendingMembers.values()) clearTimeout(t);
    group.pendingMembers.clear();
    for (const m of group.members.values()) {
      if (m.sessionTimer) clearTimeout(m.sessionTimer);
      m.sessionTimer = null;
    }
  }

  /**
   * Stops the coordinator (broker shutdown): members waiting for a join or sync reply get
   * NOT_COORDINATOR at once, so that shutdown does not wait out a rebalance; timers stop.
   */
  stop(): void {
    this.stopped = true;
    for (const owned of this.owned.values()) if (owned.retry) clearTimeout(owned.retry);
    for (const group of this.groups.values()) {
      this.answerWaiters(group, "NOT_COORDINATOR");
      this.clearTimers(group);
    }
  }

  /** Answers every join and sync reply the group's members wait for with `answer`. */
  private answerWaiters(group: Group, answer: ErrorName): void {
    for (const m of group.members.values()) {
      const join = m.joinWaiter;
      const sync = m.syncWaiter;
      m.joinWaiter = null;
      m.syncWaiter = null;
      join?.(joinError(answer, m.memberId));
      sync?.(syncError(answer));
    }
  }
}
