/**
 * One consumer group as the coordinator holds it: state, generation, chosen protocol, leader,
 * members (with the replies they wait for) and committed offsets. The state machine that moves a
 * group lives in coordinator.ts; this file holds the data and the questions asked of it.
 */
import type { CommittedOffset, StoredGroup } from "./records.js";

/** Kafka's classic group states, by the names DescribeGroups and ListGroups report. */
export type GroupState = "Empty" | "PreparingRebalance" | "CompletingRebalance" | "Stable" | "Dead";

export interface Protocol {
  name: string;
  metadata: Buffer;
}

export interface JoinResult {
  errorCode: number;
  /** JoinGroup v9: the leader need not assign (a static leader rejoined a Stable group). */
  skipAssignment: boolean;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leader: string;
  memberId: string;
  members: { memberId: string; groupInstanceId: string | null; metadata: Buffer }[];
}

export interface SyncResult {
  errorCode: number;
  protocolType: string | null;
  protocolName: string | null;
  assignment: Buffer;
}

export interface Member {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: Protocol[];
  assignment: Buffer;
  /** The JoinGroup reply this member waits for, while the group prepares a rebalance. */
  joinWaiter: ((r: JoinResult) => void) | null;
  /** The SyncGroup reply this member waits for, while the leader's assignment is awaited. */
  syncWaiter: ((r: SyncResult) => void) | null;
  /** Fires when the member has not been heard from for its session timeout. */
  sessionTimer: NodeJS.Timeout | null;
  /** Joined during the current rebalance (Kafka lets new members that vanish expire quickly). */
  isNew: boolean;
}

export const EMPTY_ASSIGNMENT = Buffer.alloc(0);

export function offsetKeyOf(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

export class Group {
  state: GroupState = "Empty";
  generationId = 0;
  protocolType: string | null = null;
  protocolName: string | null = null;
  leaderId: string | null = null;
  /** When the state last changed (ms); an Empty group's offsets expire from here. */
  stateTimestamp = Date.now();
  readonly members = new Map<string, Member>();
  /** group.instance.id -> member id of the static members. */
  readonly staticMembers = new Map<string, string>();
  /** Member ids handed out with MEMBER_ID_REQUIRED, not yet joined: id -> expiry timer. */
  readonly pendingMembers = new Map<string, NodeJS.Timeout>();
  /** Members that sent SyncGroup in the current generation. */
  readonly synced = new Set<string>();
  /** Committed offsets by `offsetKeyOf(topic, partition)`. */
  readonly offsets = new Map<string, CommittedOffset & { topic: string; partition: number }>();
  /** Offset commits whose records are being stored: deletion waits for them. */
  readonly pendingCommits = new Set<Promise<unknown>>();
  /** The timer that ends the current join phase (initial delay or rebalance timeout). */
  joinTimer: NodeJS.Timeout | null = null;
  /** A member joined since the initial delay was last armed (the delay then runs again). */
  newMemberAdded = false;
  /** While the initial delay of an empty group's first rebalance runs. */
  initialDelayUntilMs = 0;
  /** The timer that removes members that have not synced within the rebalance timeout. */
  syncTimer: NodeJS.Timeout | null = null;

  constructor(readonly id: string) {}

  transition(state: GroupState): void {
    this.state = state;
    this.stateTimestamp = Date.now();
  }

  /** Protocol names every member supports, in the first member's order of preference. */
  candidateProtocols(): string[] {
    let candidates: string[] | null = null;
    for (const m of this.members.values()) {
      const names = m.protocols.map((p) => p.name);
      candidates = candidates === null ? names : candidates.filter((n) => names.includes(n));
    }
    return candidates ?? [];
  }

  /** Whether a member offering these protocols may join (Kafka's supportsProtocols). */
  supports(protocolType: string, protocols: Protocol[]): boolean {
    if (this.members.size === 0) return protocolType.length > 0 && protocols.length > 0;
    if (this.protocolType !== protocolType) return false;
    const candidates = this.candidateProtocols();
    return protocols.some((p) => candidates.includes(p.name));
  }

  /**
   * Each member votes for the first candidate it lists; the most votes wins. Joins are refused
   * unless a common protocol remains, so candidates are never empty; were they, the first
   * member's first protocol is chosen rather than failing inside a timer.
   */
  selectProtocol(): string {
    const candidates = this.candidateProtocols();
    if (candidates.length === 0) return this.members.values().next().value?.protocols[0]?.name ?? "";
    const votes = new Map<string, number>();
    for (const m of this.members.values()) {
      const choice = m.protocols.find((p) => candidates.includes(p.name));
      if (choice) votes.set(choice.name, (votes.get(choice.name) ?? 0) + 1);
    }
    let best = candidates[0];
    for (const name of candidates) if ((votes.get(name) ?? 0) > (votes.get(best) ?? 0)) best = name;
    return best;
  }

  metadataFor(member: Member, protocol: string | null): Buffer {
    return member.protocols.find((p) => p.name === protocol)?.metadata ?? EMPTY_ASSIGNMENT;
  }

  /** Every member has rejoined and no member id handed out is still to come. */
  allMembersJoined(): boolean {
    if (this.pendingMembers.size > 0) return false;
    for (const m of this.members.values()) if (!m.joinWaiter) return false;
    return true;
  }

  /** The longest rebalance timeout of the members: how long a rebalance waits for them. */
  rebalanceTimeoutMs(): number {
    let max = 0;
    for (const m of this.members.values()) max = Math.max(max, m.rebalanceTimeoutMs);
    return max;
  }

  /** Topics the members subscribe to, when the group uses the consumer protocol. */
  subscribedTopics(): Set<string> | null {
    if (this.protocolType !== "consumer" || this.state === "Empty") return null;
    const topics = new Set<string>();
    for (const m of this.members.values()) {
      const meta = this.metadataFor(m, this.protocolName);
      const parsed = subscriptionTopics(meta);
      if (parsed === null) return null;
      for (const t of parsed) topics.add(t);
    }
    return topics;
  }

  /** The form `__consumer_offsets` stores. */
  toStored(): StoredGroup {
    return {
      protocolType: this.protocolType ?? "",
      generation: this.generationId,
      protocol: this.protocolName,
      leader: this.leaderId,
      stateTimestamp: this.stateTimestamp,
      members: [...this.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        rebalanceTimeoutMs: m.rebalanceTimeoutMs,
        sessionTimeoutMs: m.sessionTimeoutMs,
        subscription: this.metadataFor(m, this.protocolName),
        assignment: m.assignment,
      })),
    };
  }
}

/**
 * The topic names of a ConsumerProtocol subscription (int16 version, then an array of strings,
 * the same in every version); null when the bytes are not one.
 */
export function subscriptionTopics(meta: Buffer): string[] | null {
  if (meta.length < 6) return null;
  let pos = 2;
  const count = meta.readInt32BE(pos);
  pos += 4;
  if (count < 0 || count > meta.length) return null;
  const topics: string[] = [];
  for (let i = 0; i < count; i++) {
    if (pos + 2 > meta.length) return null;
    const len = meta.readInt16BE(pos);
    pos += 2;
    if (len < 0 || pos + len > meta.length) return null;
    topics.push(meta.toString("utf8", pos, pos + len));
    pos += len;
  }
  return topics;
}
