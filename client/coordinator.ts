/**
 * What a group member and Admin both say to a group coordinator: FindCoordinator (key type 0,
 * groups), OffsetCommit and OffsetFetch, across the versions whose layouts differ (FindCoordinator
 * v4+ batches keys; OffsetFetch v8+ batches groups).
 */

import type { TopicPartition } from "../protocol/assignors.js";
import type { Message } from "../protocol/codec.js";
import { type ErrorName, errorCode, errorName, KafkaError } from "../protocol/errors.js";
import type { BrokerInfo, Cluster } from "./cluster.js";
import type { Connection } from "./connection.js";
import { brokerError } from "./errors.js";
import { withRetry } from "./retry.js";

const FIND_COORDINATOR = 10;
const OFFSET_COMMIT = 8;
const OFFSET_FETCH = 9;

/** Errors after which the coordinator must be looked up again. */
export const COORDINATOR_ERRORS: ReadonlySet<string> = new Set<ErrorName>([
  "COORDINATOR_NOT_AVAILABLE",
  "NOT_COORDINATOR",
  "COORDINATOR_LOAD_IN_PROGRESS",
]);

export interface OffsetAndMetadata extends TopicPartition {
  offset: number;
  metadata?: string | null;
  leaderEpoch?: number;
}

export interface CommittedOffset extends TopicPartition {
  /** -1 when nothing is committed. */
  offset: number;
  metadata: string | null;
  leaderEpoch: number;
}

/** The coordinator of `groupId`, retrying while the broker is still electing or loading one. */
export async function findCoordinator(cluster: Cluster, groupId: string): Promise<BrokerInfo> {
  return withRetry(async () => {
    const conn = await cluster.anyConnection();
    const version = conn.versionFor(FIND_COORDINATOR);
    const r = await conn.request(
      FIND_COORDINATOR,
      version >= 4 ? { keyType: 0, coordinatorKeys: [groupId] } : { key: groupId, keyType: 0 },
    );
    const c: Message =
      version >= 4 ? (r.coordinators?.[0] ?? { errorCode: errorCode("UNKNOWN_SERVER_ERROR") }) : r;
    if (c.errorCode !== 0) {
      throw brokerError(c.errorCode, `find coordinator of ${groupId}`, c.errorMessage);
    }
    return { nodeId: c.nodeId, host: c.host, port: c.port };
  }, cluster.retry);
}

function byTopic<T extends TopicPartition>(list: T[]): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const tp of list) {
    const l = out.get(tp.topic);
    if (l) l.push(tp);
    else out.set(tp.topic, [tp]);
  }
  return out;
}

/**
 * Sends OffsetCommit; resolves with the partitions that failed (empty when all were stored).
 * Generation -1 with member "" is the form for a client outside the group (Admin, assign mode).
 */
export async function commitOffsets(
  conn: Connection,
  request: {
    groupId: string;
    generationId: number;
    memberId: string;
    groupInstanceId: string | null;
    offsets: OffsetAndMetadata[];
  },
): Promise<(TopicPartition & { error: ErrorName })[]> {
  const r = await conn.request(OFFSET_COMMIT, {
    groupId: request.groupId,
    generationIdOrMemberEpoch: request.generationId,
    memberId: request.memberId,
    groupInstanceId: request.groupInstanceId,
    retentionTimeMs: -1,
    topics: [...byTopic(request.offsets)].map(([name, partitions]) => ({
      name,
      partitions: partitions.map((p) => ({
        partitionIndex: p.partition,
        committedOffset: p.offset,
        committedLeaderEpoch: p.leaderEpoch ?? -1,
        commitTimestamp: -1,
        committedMetadata: p.metadata ?? "",
      })),
    })),
  });
  const failed: (TopicPartition & { error: ErrorName })[] = [];
  for (const t of r.topics as {
    name: string;
    partitions: { partitionIndex: number; errorCode: number }[];
  }[]) {
    for (const p of t.partitions) {
      if (p.errorCode !== 0)
        failed.push({ topic: t.name, partition: p.partitionIndex, error: errorName(p.errorCode) });
    }
  }
  return failed;
}

/**
 * Committed offsets of `groupId`: of the given partitions, or (topics null) of every partition the
 * group has committed. Throws the group-level error; partition errors throw too.
 */
export async function fetchOffsets(
  conn: Connection,
  groupId: string,
  partitions: TopicPartition[] | null,
  requireStable = false,
): Promise<CommittedOffset[]> {
  const version = conn.versionFor(OFFSET_FETCH);
  const topics =
    partitions === null
      ? null
      : [...byTopic(partitions)].map(([name, list]) => ({
          name,
          partitionIndexes: list.map((p) => p.partition),
        }));
  const body: Message =
    version >= 8
      ? { groups: [{ groupId, memberId: null, memberEpoch: -1, topics }], requireStable }
      : { groupId, topics, requireStable };
  const r = await conn.request(OFFSET_FETCH, body);
  const groupError: number = version >= 8 ? (r.groups?.[0]?.errorCode ?? 0) : (r.errorCode ?? 0);
  if (groupError !== 0) throw new KafkaError(errorName(groupError), `fetch offsets of group ${groupId}`);
  const answered = (version >= 8 ? (r.groups?.[0]?.topics ?? []) : (r.topics ?? [])) as {
    name: string;
    partitions: {
      partitionIndex: number;
      committedOffset: number | bigint;
      committedLeaderEpoch: number;
      metadata: string | null;
      errorCode: number;
    }[];
  }[];
  const out: CommittedOffset[] = [];
  for (const t of answered) {
    for (const p of t.partitions) {
      if (p.errorCode !== 0) {
        throw new KafkaError(
          errorName(p.errorCode),
          `fetch offset of ${t.name}-${p.partitionIndex} for group ${groupId}`,
        );
      }
      if (typeof p.committedOffset === "bigint") {
        // Committed by another client; this one counts offsets in numbers and would round it.
        throw new KafkaError(
          "OFFSET_OUT_OF_RANGE",
          `committed offset ${p.committedOffset} of ${t.name}-${p.partitionIndex} for group ${groupId} is beyond 2^53`,
        );
      }
      out.push({
        topic: t.name,
        partition: p.partitionIndex,
        offset: p.committedOffset,
        metadata: p.metadata,
        leaderEpoch: p.committedLeaderEpoch,
      });
    }
  }
  return out.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
}
