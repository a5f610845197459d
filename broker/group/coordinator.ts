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
 * gets its assignment only once the leader's assignments are durable; members awaiting a join or
 * sync reply are never expired; a rebalance ends within the members' longest rebalance timeout
 * (members that did not rejoin are removed).
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { type ErrorName, errorCode } from "../../protocol/errors.js";
import type { BrokerConfig } from "../config.js";
import {
  EMPTY_ASSIGNMENT,
  Group,
  type JoinResult,
  type Member,
  type Protocol,
  type SyncResult,
} from "./group.js";
import type { OffsetsTopic } from "./offsets-topic.js";
import { groupKey, groupValue, type OffsetsRecord, type StoredGroup } from "./records.js";

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

  // ---- JoinGroup ----------------------------------------------------------------------------

  join(req: JoinRequest): Promise<JoinResult> {
    if (this.stopped) return Promise.resolve(joinError("NOT_COORDINATOR", req.memberId));
    if (!req.groupId) return Promise.resolve(joinError("INVALID_GROUP_ID", req.memberId));
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
      await this.appendGroup(group.id, stored);
    } catch (err) {
      this.log.warn({ err, group: group.id }, "storing the assignment failed");
      if (group.state === "CompletingRebalance" && group.generationId === generation) {
        for (const m of group.members.values()) {
          const waiter = m.syncWaiter;
          m.syncWaiter = null;
          waiter?.(syncError("COORDINATOR_NOT_AVAILABLE"));
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
    if (this.stopped) return identities.map(() => "NOT_COORDINATOR");
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

  private appendGroup(groupId: string, stored: StoredGroup | null): Promise<void> {
    return this.offsetsTopic.append(groupId, [
      { key: groupKey(groupId), value: stored ? groupValue(stored) : null },
    ]);
  }

  /** Writes the group's current metadata (generation, protocol, members, assignments). */
  storeGroup(group: Group): Promise<void> {
    return this.appendGroup(group.id, group.toStored());
  }

  /** Writes a tombstone for the group's metadata. */
  deleteStoredGroup(groupId: string): Promise<void> {
    return this.appendGroup(groupId, null);
  }

  /**
   * Rebuilds groups and offsets from `__consumer_offsets` (at start-up). Groups stored with
   * members come back Stable with their generation and assignments, and each member gets a fresh
   * session: members that do not return are removed after their session timeout, as after a
   * coordinator failover in Kafka.
   */
  async load(): Promise<number> {
    const stored = new Map<string, StoredGroup | null>();
    const count = await this.offsetsTopic.load((record: OffsetsRecord) => {
      if (record.kind === "group") {
        stored.set(record.group, record.value);
        return;
      }
      const key = `${record.topic}\u0000${record.partition}`;
      if (record.value) {
        this.getOrCreate(record.group).offsets.set(key, {
          ...record.value,
          topic: record.topic,
          partition: record.partition,
        });
      } else {
        this.groups.get(record.group)?.offsets.delete(key);
      }
    });
    for (const [id, value] of stored) {
      if (!value) continue;
      const group = this.getOrCreate(id);
      group.generationId = value.generation;
      group.protocolType = value.protocolType || null;
      group.protocolName = value.protocol;
      group.leaderId = value.leader;
      for (const m of value.members) {
        const member: Member = {
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          sessionTimeoutMs: m.sessionTimeoutMs,
          rebalanceTimeoutMs: m.rebalanceTimeoutMs < 0 ? m.sessionTimeoutMs : m.rebalanceTimeoutMs,
          protocolType: value.protocolType,
          protocols: [{ name: value.protocol ?? "", metadata: m.subscription }],
          assignment: m.assignment,
          joinWaiter: null,
          syncWaiter: null,
          sessionTimer: null,
          isNew: false,
        };
        group.members.set(m.memberId, member);
        if (m.groupInstanceId) group.staticMembers.set(m.groupInstanceId, m.memberId);
        this.armSession(group, member);
      }
      group.transition(group.members.size > 0 ? "Stable" : "Empty");
      if (value.stateTimestamp > 0) group.stateTimestamp = value.stateTimestamp;
    }
    for (const group of this.allGroups()) {
      if (group.members.size === 0 && group.offsets.size === 0 && !stored.get(group.id)) this.remove(group);
    }
    return count;
  }

  private clearTimers(group: Group): void {
    if (group.joinTimer) clearTimeout(group.joinTimer);
    if (group.syncTimer) clearTimeout(group.syncTimer);
    group.joinTimer = null;
    group.syncTimer = null;
    for (const t of group.pendingMembers.values()) clearTimeout(t);
    group.pendingMembers.clear();
    for (const m of group.members.values()) if (m.sessionTimer) clearTimeout(m.sessionTimer);
  }

  /**
   * Stops the coordinator (broker shutdown): members waiting for a join or sync reply get
   * NOT_COORDINATOR at once, so that shutdown does not wait out a rebalance; timers stop.
   */
  stop(): void {
    this.stopped = true;
    for (const group of this.groups.values()) {
      for (const m of group.members.values()) {
        const join = m.joinWaiter;
        const sync = m.syncWaiter;
        m.joinWaiter = null;
        m.syncWaiter = null;
        join?.(joinError("NOT_COORDINATOR", m.memberId));
        sync?.(syncError("NOT_COORDINATOR"));
      }
      this.clearTimers(group);
    }
  }
}
