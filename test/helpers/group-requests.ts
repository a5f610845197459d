/**
 * Group API request bodies (decoded-message shaped, see protocol/messages) and the ConsumerProtocol
 * bytes that consumer groups carry, for tests that speak the group protocol by hand.
 */
import type { Message } from "../../protocol/codec.js";
import { Writer } from "../../protocol/writer.js";

export const API = {
  OFFSET_COMMIT: 8,
  OFFSET_FETCH: 9,
  FIND_COORDINATOR: 10,
  JOIN_GROUP: 11,
  HEARTBEAT: 12,
  LEAVE_GROUP: 13,
  SYNC_GROUP: 14,
  DESCRIBE_GROUPS: 15,
  LIST_GROUPS: 16,
  DELETE_GROUPS: 42,
  OFFSET_DELETE: 47,
} as const;

/** A ConsumerProtocol Subscription v0: int16 version, [topic], user data (null). */
export function subscription(topics: string[]): Buffer {
  const w = new Writer(64);
  w.int16(0);
  w.int32(topics.length);
  for (const t of topics) w.nullableString(t);
  w.int32(-1);
  return w.toBuffer();
}

/** A ConsumerProtocol Assignment v0: int16 version, [topic, [partition]], user data (empty). */
export function assignment(topics: Record<string, number[]>, userData = Buffer.alloc(0)): Buffer {
  const w = new Writer(64);
  w.int16(0);
  const entries = Object.entries(topics);
  w.int32(entries.length);
  for (const [topic, partitions] of entries) {
    w.nullableString(topic);
    w.int32(partitions.length);
    for (const p of partitions) w.int32(p);
  }
  w.nullableBytes(userData);
  return w.toBuffer();
}

export interface JoinOptions {
  memberId?: string;
  groupInstanceId?: string | null;
  sessionTimeoutMs?: number;
  rebalanceTimeoutMs?: number;
  protocolType?: string;
  /** Protocol name -> metadata, in order of preference. */
  protocols?: [string, Buffer][];
}

export function joinGroupRequest(groupId: string, o: JoinOptions = {}): Message {
  return {
    groupId,
    sessionTimeoutMs: o.sessionTimeoutMs ?? 10_000,
    rebalanceTimeoutMs: o.rebalanceTimeoutMs ?? 10_000,
    memberId: o.memberId ?? "",
    groupInstanceId: o.groupInstanceId ?? null,
    protocolType: o.protocolType ?? "consumer",
    protocols: (o.protocols ?? [["range", subscription(["t"])]]).map(([name, metadata]) => ({
      name,
      metadata,
    })),
    reason: null,
  };
}

export function syncGroupRequest(
  groupId: string,
  generationId: number,
  memberId: string,
  assignments: { memberId: string; assignment: Buffer }[] = [],
  groupInstanceId: string | null = null,
): Message {
  return {
    groupId,
    generationId,
    memberId,
    groupInstanceId,
    protocolType: null,
    protocolName: null,
    assignments,
  };
}

export function heartbeatRequest(
  groupId: string,
  generationId: number,
  memberId: string,
  groupInstanceId: string | null = null,
): Message {
  return { groupId, generationId, memberId, groupInstanceId };
}

export interface CommitPartition {
  partition: number;
  offset: number;
  metadata?: string | null;
}

export function offsetCommitRequest(
  groupId: string,
  topics: Record<string, CommitPartition[]>,
  generationId = -1,
  memberId = "",
  groupInstanceId: string | null = null,
): Message {
  return {
    groupId,
    generationIdOrMemberEpoch: generationId,
    memberId,
    groupInstanceId,
    retentionTimeMs: -1,
    topics: Object.entries(topics).map(([name, partitions]) => ({
      name,
      partitions: partitions.map((p) => ({
        partitionIndex: p.partition,
        committedOffset: p.offset,
        committedLeaderEpoch: -1,
        commitTimestamp: -1,
        committedMetadata: p.metadata === undefined ? "" : p.metadata,
      })),
    })),
  };
}

/** OffsetFetch v0-v7; `topics` null asks for every partition (v2+). */
export function offsetFetchRequest(groupId: string, topics: Record<string, number[]> | null): Message {
  return {
    groupId,
    topics:
      topics === null
        ? null
        : Object.entries(topics).map(([name, partitionIndexes]) => ({ name, partitionIndexes })),
    requireStable: false,
  };
}

/** OffsetFetch v8+: several groups at once. */
export function offsetFetchGroupsRequest(groups: Record<string, Record<string, number[]> | null>): Message {
  return {
    groups: Object.entries(groups).map(([groupId, topics]) => ({
      groupId,
      memberId: null,
      memberEpoch: -1,
      topics:
        topics === null
          ? null
          : Object.entries(topics).map(([name, partitionIndexes]) => ({ name, partitionIndexes })),
    })),
    requireStable: false,
  };
}

/** A topic -> partition -> committed offset map of an OffsetFetch answer's topics. */
export function committedOf(topics: Message[]): Record<string, Record<number, number>> {
  const out: Record<string, Record<number, number>> = {};
  for (const t of topics) {
    out[t.name] ??= {};
    for (const p of t.partitions as Message[]) out[t.name][p.partitionIndex] = p.committedOffset;
  }
  return out;
}

/** The JoinGroup answer's fields that tests look at. */
export interface Joined {
  errorCode: number;
  generationId: number;
  /** v9+: a static leader that rejoined a Stable group keeps the current assignment. */
  skipAssignment?: boolean;
  memberId: string;
  leader: string;
  protocolName: string | null;
  members: { memberId: string; groupInstanceId?: string | null; metadata: Buffer }[];
}

interface Requester {
  request(apiKey: number, version: number, body: Message): Promise<Message>;
}

/**
 * Joins at `version`; from v4 a new member is first told MEMBER_ID_REQUIRED with its id and joins
 * again with it (once), as clients do. Resolves when the join phase ends.
 */
export async function joinGroup(
  client: Requester,
  groupId: string,
  o: JoinOptions = {},
  version = 5,
): Promise<Joined> {
  let r = await client.request(API.JOIN_GROUP, version, joinGroupRequest(groupId, o));
  if (r.errorCode === 79 && (o.memberId ?? "") === "") {
    r = await client.request(
      API.JOIN_GROUP,
      version,
      joinGroupRequest(groupId, { ...o, memberId: r.memberId }),
    );
  }
  return r as unknown as Joined;
}
