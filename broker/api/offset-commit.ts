/**
 * OffsetCommit (key 8), v2-v10 (Kafka 4's floor: v0-v1 were removed by KIP-896; v10 names topics
 * by id, KIP-848). Generation -1 commits for a standalone consumer (a group without members);
 * v2-v4's retention time is ignored: offsets.retention.minutes applies (KIP-211). A committed
 * offset is any int64, kept exactly (a bigint beyond 2^53) through __consumer_offsets, restarts
 * and OffsetFetch, as Kafka keeps a long.
 * Validation order: no READ on the group (ACLs) -> GROUP_AUTHORIZATION_FAILED on every partition,
 * nothing committed; (v10) a topic id that names no topic -> UNKNOWN_TOPIC_ID on each of its
 * partitions, nothing committed for it; no READ on a topic -> TOPIC_AUTHORIZATION_FAILED on each
 * of its partitions, nothing committed for it (as Kafka); then see broker/group/offsets.ts. Each partition answers
 * once the commit is durable in __consumer_offsets.
 */
import { type ErrorName, errorCode } from "../../protocol/errors.js";
import type { Int64 } from "../../protocol/reader.js";
import type {
  OffsetCommitRequestData,
  OffsetCommitResponseData,
} from "../../protocol/types/offset-commit.js";
import { authorizedNames } from "./authorized.js";
import type { ApiHandler } from "./types.js";

/** The first version that names topics by id. */
const TOPIC_ID_VERSION = 10;

/** The answer refusing every partition of the request with `code`. */
function everyPartition(
  topics: OffsetCommitRequestData<Int64>["topics"],
  code: ErrorName,
): OffsetCommitResponseData {
  return {
    throttleTimeMs: 0,
    topics: topics.map((t) => ({
      name: t.name,
      topicId: t.topicId,
      partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: errorCode(code) })),
    })),
  };
}

export const offsetCommit: ApiHandler<OffsetCommitRequestData<Int64>, OffsetCommitResponseData> = {
  apiKey: 8,
  name: "OffsetCommit",
  minVersion: 2,
  maxVersion: 10,
  wideInt64: true,
  async handle(broker, request, ctx) {
    const requested = request.topics;
    if (!ctx.authorize("READ", "GROUP", request.groupId))
      return everyPartition(requested, "GROUP_AUTHORIZATION_FAILED");
    // v10 names topics by id: resolve each to its name; an unknown id commits nothing.
    const names: (string | null)[] = requested.map((t) =>
      ctx.apiVersion >= TOPIC_ID_VERSION
        ? (broker.store.topicById(t.topicId ?? "")?.name ?? null)
        : (t.name ?? ""),
    );
    const readable = authorizedNames(
      ctx,
      "READ",
      "TOPIC",
      names.flatMap((n) => (n === null ? [] : [n])),
    );
    const refusal = (i: number): ErrorName | null => {
      const name = names[i];
      if (name === null) return "UNKNOWN_TOPIC_ID";
      return readable.has(name) ? null : "TOPIC_AUTHORIZATION_FAILED";
    };
    const topics = requested.filter((_, i) => refusal(i) === null);
    const committed = await broker.offsets.commit({
      apiVersion: ctx.apiVersion,
      groupId: request.groupId,
      generationId: ctx.apiVersion >= 1 ? (request.generationIdOrMemberEpoch ?? -1) : -1,
      memberId: ctx.apiVersion >= 1 ? (request.memberId ?? "") : "",
      groupInstanceId: request.groupInstanceId ?? null,
      topics: topics.map((t) => ({
        name: names[requested.indexOf(t)] ?? "",
        partitions: t.partitions.map((p) => ({
          partition: p.partitionIndex,
          offset: p.committedOffset,
          leaderEpoch: p.committedLeaderEpoch ?? -1,
          metadata: p.committedMetadata ?? null,
        })),
      })),
    });
    let next = 0;
    return {
      throttleTimeMs: 0,
      topics: requested.map((t, ti) => {
        const refused = refusal(ti);
        const results = refused ? null : committed[next++];
        return {
          name: t.name,
          topicId: t.topicId,
          partitions: t.partitions.map((p, pi) => {
            const result = results ? results[pi] : refused;
            return { partitionIndex: p.partitionIndex, errorCode: result ? errorCode(result) : 0 };
          }),
        };
      }),
    };
  },
};
