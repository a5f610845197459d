/**
 * OffsetFetch (key 9), v1-v10 (Kafka 4's floor: v0 was removed by KIP-896; v10 names topics by
 * id, KIP-848). v2+ may ask for every partition of the group (null topics); v8+ ask for several
 * groups at once. A partition without a committed offset answers offset -1. RequireStable (v7+)
 * needs nothing here: transactions are not served, so no commit is ever pending.
 * Validation order: the coordinator shutting down -> NOT_COORDINATOR (top-level from v2, per
 * group from v8, per partition before v2); (v10) a topic id that names no topic ->
 * UNKNOWN_TOPIC_ID on each partition asked of it; otherwise no errors. At v10 the committed
 * offsets of every partition (null topics) are listed under their topics' current ids.
 * A group, topic or partition named more than once is answered once (api/distinct.ts).
 */
import type { Message } from "../../protocol/codec.js";
import { errorCode } from "../../protocol/errors.js";
import type { Broker } from "../broker.js";
import type { FetchedOffset } from "../group/offsets.js";
import { distinct, distinctPartitions } from "./distinct.js";
import type { ApiHandler } from "./types.js";

/** The first version that names topics by id. */
const TOPIC_ID_VERSION = 10;

function byTopic(broker: Broker, offsets: FetchedOffset[], code: number): Message[] {
  const topics = new Map<string, Message[]>();
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
      errorCode: code,
    });
  }
  return [...topics].map(([name, partitions]) => ({
    name,
    topicId: broker.store.topic(name)?.id,
    partitions,
  }));
}

function fetchGroup(broker: Broker, groupId: string, topics: Message[] | null) {
  const stopping = broker.groups.isStopped;
  const asked = topics
    ? distinctPartitions(
        topics.map((t) => ({ name: t.name as string, partitions: t.partitionIndexes as number[] })),
        (t) => t.name,
        (t) => t.partitions,
        (p) => p,
        (t, partitions) => ({ ...t, partitions }),
      )
    : undefined;
  const offsets = broker.offsets.fetch(groupId, asked ?? null);
  return { offsets, error: stopping ? errorCode("NOT_COORDINATOR") : 0 };
}

/** One v8+ group: at v10 its topics are named by id, resolved here, unknown ids answered apart. */
function fetchGroupTopics(broker: Broker, group: Message, version: number): Message {
  const named = (group.topics ?? null) as Message[] | null;
  // A topic id named again is answered once, its partitions merged.
  const asked =
    named &&
    distinctPartitions(
      named,
      (t) => String(t.topicId),
      (t) => t.partitionIndexes as number[],
      (p) => p,
      (t, partitionIndexes) => ({ ...t, partitionIndexes }),
    );
  if (version < TOPIC_ID_VERSION || asked === null) {
    const { offsets, error } = fetchGroup(broker, group.groupId, asked);
    const topics = byTopic(broker, offsets, 0);
    // Offsets of a topic deleted meanwhile have no id to be listed under.
    const listed = version < TOPIC_ID_VERSION ? topics : topics.filter((t) => t.topicId !== undefined);
    return { groupId: group.groupId, topics: listed, errorCode: error };
  }
  const known = asked.flatMap((t) => {
    const name = broker.store.topicById(t.topicId)?.name;
    return name ? [{ ...t, name }] : [];
  });
  const { offsets, error } = fetchGroup(broker, group.groupId, known);
  const unknown = asked
    .filter((t) => !broker.store.topicById(t.topicId))
    .map((t) => ({
      topicId: t.topicId,
      partitions: (t.partitionIndexes as number[]).map((p) => ({
        partitionIndex: p,
        committedOffset: -1,
        committedLeaderEpoch: -1,
        metadata: "",
        errorCode: errorCode("UNKNOWN_TOPIC_ID"),
      })),
    }));
  return { groupId: group.groupId, topics: [...byTopic(broker, offsets, 0), ...unknown], errorCode: error };
}

export const offsetFetch: ApiHandler = {
  apiKey: 9,
  name: "OffsetFetch",
  minVersion: 1,
  maxVersion: 10,
  async handle(broker, request, ctx): Promise<Message> {
    if (ctx.apiVersion >= 8) {
      return {
        throttleTimeMs: 0,
        // A group named again is answered once.
        groups: distinct(request.groups as Message[], (g) => g.groupId).map((g) =>
          fetchGroupTopics(broker, g, ctx.apiVersion),
        ),
      };
    }
    const topics = ctx.apiVersion >= 2 ? (request.topics ?? null) : request.topics;
    const { offsets, error } = fetchGroup(broker, request.groupId, topics);
    return {
      throttleTimeMs: 0,
      topics: byTopic(broker, offsets, ctx.apiVersion < 2 ? error : 0),
      errorCode: error,
    };
  },
};
