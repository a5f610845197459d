/**
 * OffsetFetch (key 9), v1-v9 (Kafka 4's floor: v0 was removed by KIP-896; v10 names topics by id
 * and is not served). v2+ may ask for every
 * partition of the group (null topics); v8+ ask for several groups at once. A partition without
 * a committed offset answers offset -1. RequireStable (v7+) needs nothing here: transactions
 * are not served, so no commit is ever pending.
 * Validation order: the coordinator shutting down -> NOT_COORDINATOR (top-level from v2, per
 * group from v8, per partition before v2); otherwise no errors.
 */
import type { Message } from "../../protocol/codec.js";
import { errorCode } from "../../protocol/errors.js";
import type { Broker } from "../broker.js";
import type { FetchedOffset } from "../group/offsets.js";
import type { ApiHandler } from "./types.js";

function byTopic(offsets: FetchedOffset[], code: number): Message[] {
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
  return [...topics].map(([name, partitions]) => ({ name, partitions }));
}

function fetchGroup(broker: Broker, groupId: string, topics: Message[] | null) {
  const stopping = broker.groups.isStopped;
  const asked = topics?.map((t) => ({ name: t.name as string, partitions: t.partitionIndexes as number[] }));
  const offsets = broker.offsets.fetch(groupId, asked ?? null);
  return { offsets, error: stopping ? errorCode("NOT_COORDINATOR") : 0 };
}

export const offsetFetch: ApiHandler = {
  apiKey: 9,
  name: "OffsetFetch",
  minVersion: 1,
  maxVersion: 9,
  async handle(broker, request, ctx): Promise<Message> {
    if (ctx.apiVersion >= 8) {
      return {
        throttleTimeMs: 0,
        groups: (request.groups as Message[]).map((g) => {
          const { offsets, error } = fetchGroup(broker, g.groupId, g.topics ?? null);
          return { groupId: g.groupId, topics: byTopic(offsets, 0), errorCode: error };
        }),
      };
    }
    const topics = ctx.apiVersion >= 2 ? (request.topics ?? null) : request.topics;
    const { offsets, error } = fetchGroup(broker, request.groupId, topics);
    return {
      throttleTimeMs: 0,
      topics: byTopic(offsets, ctx.apiVersion < 2 ? error : 0),
      errorCode: error,
    };
  },
};
