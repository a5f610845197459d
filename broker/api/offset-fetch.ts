/**
 * OffsetFetch (key 9), v1-v10 (Kafka 4's floor: v0 was removed by KIP-896; v10 names topics by
 * id, KIP-848). v2+ may ask for every partition of the group (null topics); v8+ ask for several
 * groups at once. A partition without a committed offset answers offset -1. RequireStable (v7+)
 * needs nothing here: transactions are not served, so no commit is ever pending.
 * Validation order: no DESCRIBE on the group (ACLs) -> GROUP_AUTHORIZATION_FAILED (where the
 * group's error goes, below); the coordinator shutting down or the group's offsets partition not led here
 * -> NOT_COORDINATOR, that partition loading -> COORDINATOR_LOAD_IN_PROGRESS (top-level from v2,
 * per group from v8, per partition before v2; no offsets then); (v10) a topic id that names no topic ->
 * UNKNOWN_TOPIC_ID on each partition asked of it; otherwise no errors. At v10 the committed
 * offsets of every partition (null topics) are listed under their topics' current ids.
 * Topics, as Kafka: every partition (null topics) lists only the topics the principal may
 * DESCRIBE; a named topic it may not -> TOPIC_AUTHORIZATION_FAILED on each partition, offset -1.
 * A group, topic or partition named more than once is answered once (api/distinct.ts).
 */
import { errorCode } from "../../protocol/errors.js";
import type { Int64 } from "../../protocol/reader.js";
import type {
  OffsetFetchRequestData,
  OffsetFetchRequestGroup,
  OffsetFetchResponseData,
  OffsetFetchResponseGroup,
  OffsetFetchResponsePartitions,
} from "../../protocol/types/offset-fetch.js";
import type { Broker } from "../broker.js";
import type { FetchedOffset } from "../group/offsets.js";
import { authorizedNames, type Checks } from "./authorized.js";
import { distinct, distinctPartitions } from "./distinct.js";
import type { ApiHandler } from "./types.js";

/** A fetched offset, with its own error where it is refused apart from its group (ACLs). */
type Answered = FetchedOffset & { errorCode?: number };

/** The first version that names topics by id. */
const TOPIC_ID_VERSION = 10;

/** A topic's answer, by name (v0-v7) and with its id (v8+; undefined once deleted). */
interface TopicOffsets {
  name: string;
  topicId: string | undefined;
  partitions: OffsetFetchResponsePartitions<Int64>[];
}

function byTopic(broker: Broker, offsets: Answered[], code: number): TopicOffsets[] {
  const topics = new Map<string, OffsetFetchResponsePartitions<Int64>[]>();
  for (const o of offsets) {
    let list = topics.get(o.topic);
    if (!list) {
      list = [];
      topics.set(o.topic, list);
    }
    list.push({
      partitionIndex: o.partition,
      committedOffset: o.offset,
      committedLeaderEpoch: o.leaderEpoch,
      metadata: o.metadata,
      errorCode: o.errorCode ?? code,
    });
  }
  return [...topics].map(([name, partitions]) => ({
    name,
    topicId: broker.store.topic(name)?.id,
    partitions,
  }));
}

/** The offsets of `topics` (each named; all when null), and the group's error. */
function fetchGroup(
  broker: Broker,
  ctx: Checks,
  groupId: string,
  topics: { name?: string; partitionIndexes: number[] }[] | null,
): { offsets: Answered[]; error: number } {
  const asked = topics
    ? distinctPartitions(
        topics.map((t) => ({ name: t.name ?? "", partitions: t.partitionIndexes })),
        (t) => t.name,
        (t) => t.partitions,
        (p) => p,
        (t, partitions) => ({ ...t, partitions }),
      )
    : undefined;
  const refused = ctx.authorize("DESCRIBE", "GROUP", groupId)
    ? broker.groups.coordinatorError(groupId)
    : "GROUP_AUTHORIZATION_FAILED";
  if (refused) return { offsets: unknownOffsets(asked ?? []), error: errorCode(refused) };
  return { offsets: describableOffsets(broker, ctx, groupId, asked ?? null), error: 0 };
}

/**
 * The group's offsets of `asked` (every partition when null) as the principal may see them, as
 * Kafka: every partition leaves out the topics it may not DESCRIBE, named ones are refused.
 */
function describableOffsets(
  broker: Broker,
  ctx: Checks,
  groupId: string,
  asked: { name: string; partitions: number[] }[] | null,
): Answered[] {
  if (!asked) {
    const all = broker.offsets.fetch(groupId, null);
    const describable = authorizedNames(ctx, "DESCRIBE", "TOPIC", new Set(all.map((o) => o.topic)));
    return all.filter((o) => describable.has(o.topic));
  }
  const describable = authorizedNames(ctx, "DESCRIBE", "TOPIC", new Set(asked.map((t) => t.name)));
  const refused = unknownOffsets(asked.filter((t) => !describable.has(t.name))).map((o) => ({
    ...o,
    errorCode: errorCode("TOPIC_AUTHORIZATION_FAILED"),
  }));
  return [
    ...broker.offsets.fetch(
      groupId,
      asked.filter((t) => describable.has(t.name)),
    ),
    ...refused,
  ];
}

/** No offsets: -1 for each partition asked (they carry the error before v2). */
function unknownOffsets(topics: { name: string; partitions: number[] }[]): FetchedOffset[] {
  return topics.flatMap((t) =>
    t.partitions.map((partition) => ({
      topic: t.name,
      partition,
      offset: -1,
      leaderEpoch: -1,
      metadata: "",
    })),
  );
}

/** One v8+ group: at v10 its topics are named by id, resolved here, unknown ids answered apart. */
function fetchGroupTopics(
  broker: Broker,
  ctx: Checks,
  group: OffsetFetchRequestGroup,
  version: number,
): OffsetFetchResponseGroup<Int64> {
  const named = group.topics;
  // A topic id named again is answered once, its partitions merged.
  const asked =
    named &&
    distinctPartitions(
      named,
      (t) => String(t.topicId),
      (t) => t.partitionIndexes,
      (p) => p,
      (t, partitionIndexes) => ({ ...t, partitionIndexes }),
    );
  if (version < TOPIC_ID_VERSION || asked === null) {
    const { offsets, error } = fetchGroup(broker, ctx, group.groupId, asked);
    const topics = byTopic(broker, offsets, 0);
    // Offsets of a topic deleted meanwhile have no id to be listed under.
    const listed = version < TOPIC_ID_VERSION ? topics : topics.filter((t) => t.topicId !== undefined);
    return { groupId: group.groupId, topics: listed, errorCode: error };
  }
  const known = asked.flatMap((t) => {
    const name = broker.store.topicById(t.topicId ?? "")?.name;
    return name ? [{ ...t, name }] : [];
  });
  const { offsets, error } = fetchGroup(broker, ctx, group.groupId, known);
  const unknown = asked
    .filter((t) => !broker.store.topicById(t.topicId ?? ""))
    .map((t) => ({
      topicId: t.topicId,
      partitions: t.partitionIndexes.map((p) => ({
        partitionIndex: p,
        committedOffset: -1,
        committedLeaderEpoch: -1,
        metadata: "",
        errorCode: errorCode("UNKNOWN_TOPIC_ID"),
      })),
    }));
  return { groupId: group.groupId, topics: [...byTopic(broker, offsets, 0), ...unknown], errorCode: error };
}

export const offsetFetch: ApiHandler<OffsetFetchRequestData, OffsetFetchResponseData<Int64>> = {
  apiKey: 9,
  name: "OffsetFetch",
  minVersion: 1,
  maxVersion: 10,
  async handle(broker, request, ctx) {
    if (ctx.apiVersion >= 8) {
      return {
        throttleTimeMs: 0,
        // A group named again is answered once.
        groups: distinct(request.groups ?? [], (g) => g.groupId).map((g) =>
          fetchGroupTopics(broker, ctx, g, ctx.apiVersion),
        ),
      };
    }
    const topics = request.topics ?? null;
    const { offsets, error } = fetchGroup(broker, ctx, request.groupId ?? "", topics);
    return {
      throttleTimeMs: 0,
      topics: byTopic(broker, offsets, ctx.apiVersion < 2 ? error : 0),
      errorCode: error,
    };
  },
};
