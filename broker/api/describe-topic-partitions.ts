/**
 * DescribeTopicPartitions (key 75), v0 (Kafka 4's range; KIP-966: Metadata's topic part, paged).
 * Validation order: no topics named means every topic; the topics are taken in name order, from
 * the cursor's topic on (a cursor naming a topic outside a non-empty request list, or a negative
 * partition index -> INVALID_REQUEST on every topic of the answer, as Kafka refuses such a
 * cursor); a topic the principal may not DESCRIBE (ACLs) is left out of an every-topic answer and
 * answered TOPIC_AUTHORIZATION_FAILED when named, whether it exists or not (as Kafka); a named
 * topic that does not exist -> UNKNOWN_TOPIC_OR_PARTITION (never auto-created). Each topic
 * described carries its authorized operations (Kafka's bit set, always: the request has no flag).
 * Paging: at most ResponsePartitionLimit partitions (clamped to 1..2000, Kafka's
 * max.request.partition.size.limit default) per answer; NextCursor names the first partition not
 * sent, or is null when everything was.
 */
import { type ErrorName, errorCode } from "../../protocol/errors.js";
import type {
  DescribeTopicPartitionsRequestCursor as Cursor,
  DescribeTopicPartitionsRequestData,
  DescribeTopicPartitionsResponseData,
  DescribeTopicPartitionsResponseTopic,
} from "../../protocol/types/describe-topic-partitions.js";
import type { TopicState } from "../metadata/cluster.js";
import { NULL_TOPIC_ID } from "../metadata/store.js";
import { isInternalTopic } from "../topics.js";
import { authorizedOperations, OPERATIONS_OMITTED } from "./authorized.js";
import type { ApiHandler } from "./types.js";

/** Kafka's max.request.partition.size.limit default: most partitions per answer. */
export const MAX_PARTITIONS_PER_DESCRIBE = 2000;

function topicError(name: string, code: ErrorName): DescribeTopicPartitionsResponseTopic {
  return {
    errorCode: errorCode(code),
    name,
    topicId: NULL_TOPIC_ID,
    isInternal: false,
    partitions: [],
    topicAuthorizedOperations: OPERATIONS_OMITTED,
  };
}

function describe(
  topic: TopicState,
  from: number,
  count: number,
  live: ReadonlySet<number>,
): DescribeTopicPartitionsResponseTopic {
  return {
    errorCode: 0,
    name: topic.name,
    topicId: topic.id,
    isInternal: isInternalTopic(topic.name),
    partitions: topic.partitions.slice(from, from + count).map((p) => ({
      errorCode: 0,
      partitionIndex: p.partition,
      leaderId: p.leader,
      leaderEpoch: p.leaderEpoch,
      replicaNodes: p.replicas,
      isrNodes: p.isr,
      eligibleLeaderReplicas: null,
      lastKnownELR: null,
      offlineReplicas: p.replicas.filter((id) => !live.has(id)),
    })),
    topicAuthorizedOperations: OPERATIONS_OMITTED,
  };
}

export const describeTopicPartitions: ApiHandler<
  DescribeTopicPartitionsRequestData,
  DescribeTopicPartitionsResponseData
> = {
  apiKey: 75,
  name: "DescribeTopicPartitions",
  minVersion: 0,
  maxVersion: 0,
  async handle(broker, request, ctx) {
    const requested = request.topics.map((t) => t.name);
    const cursor = request.cursor;
    const names = [
      ...new Set(requested.length > 0 ? requested : broker.store.topics().map((t) => t.name)),
    ].sort();
    const answer = (topics: DescribeTopicPartitionsResponseTopic[], next: Cursor | null) => ({
      throttleTimeMs: 0,
      topics,
      nextCursor: next,
    });
    if (
      cursor &&
      (cursor.partitionIndex < 0 || (requested.length > 0 && !names.includes(cursor.topicName)))
    ) {
      return answer(
        names.map((n) => topicError(n, "INVALID_REQUEST")),
        null,
      );
    }
    const limit = Math.min(Math.max(1, request.responsePartitionLimit), MAX_PARTITIONS_PER_DESCRIBE);
    let left = limit;
    const live = new Set(broker.store.brokers().map((b) => b.nodeId));
    const topics: DescribeTopicPartitionsResponseTopic[] = [];
    for (const name of names) {
      if (cursor && name < cursor.topicName) continue;
      if (!ctx.authorize("DESCRIBE", "TOPIC", name)) {
        if (requested.length > 0) topics.push(topicError(name, "TOPIC_AUTHORIZATION_FAILED"));
        continue;
      }
      const topic = broker.store.topic(name);
      if (!topic) {
        topics.push(topicError(name, "UNKNOWN_TOPIC_OR_PARTITION"));
        continue;
      }
      const from = cursor && name === cursor.topicName ? cursor.partitionIndex : 0;
      if (left === 0) return answer(topics, { topicName: name, partitionIndex: from });
      const count = Math.min(left, Math.max(0, topic.partitions.length - from));
      topics.push({
        ...describe(topic, from, count, live),
        topicAuthorizedOperations: authorizedOperations(ctx, "TOPIC", name),
      });
      left -= count;
      if (from + count < topic.partitions.length) {
        return answer(topics, { topicName: name, partitionIndex: from + count });
      }
    }
    return answer(topics, null);
  },
};
