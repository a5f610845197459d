/**
 * OffsetCommit (key 8), v2-v9 (Kafka 4's floor: v0-v1 were removed by KIP-896; v10 names topics by
 * id and is not served). Generation -1 commits for a standalone consumer (a group without
 * members); v2-v4's retention time is ignored: offsets.retention.minutes applies (KIP-211).
 * Validation order: see broker/group/offsets.ts. Each partition answers once the commit is
 * durable in __consumer_offsets.
 */
import type { Message } from "../../protocol/codec.js";
import { errorCode } from "../../protocol/errors.js";
import type { ApiHandler } from "./types.js";

export const offsetCommit: ApiHandler = {
  apiKey: 8,
  name: "OffsetCommit",
  minVersion: 2,
  maxVersion: 9,
  async handle(broker, request, ctx): Promise<Message> {
    const topics = request.topics as Message[];
    const results = await broker.offsets.commit({
      apiVersion: ctx.apiVersion,
      groupId: request.groupId,
      generationId: ctx.apiVersion >= 1 ? request.generationIdOrMemberEpoch : -1,
      memberId: ctx.apiVersion >= 1 ? request.memberId : "",
      groupInstanceId: request.groupInstanceId ?? null,
      topics: topics.map((t) => ({
        name: t.name,
        partitions: (t.partitions as Message[]).map((p) => ({
          partition: p.partitionIndex,
          offset: p.committedOffset,
          leaderEpoch: p.committedLeaderEpoch ?? -1,
          metadata: p.committedMetadata ?? null,
        })),
      })),
    });
    return {
      throttleTimeMs: 0,
      topics: topics.map((t, ti) => ({
        name: t.name,
        partitions: (t.partitions as Message[]).map((p, pi) => ({
          partitionIndex: p.partitionIndex,
          errorCode: results[ti][pi] ? errorCode(results[ti][pi]) : 0,
        })),
      })),
    };
  },
};
