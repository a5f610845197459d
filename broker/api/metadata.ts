/**
 * Metadata (key 3), v0-v13 (v13 adds a top-level error code, always 0 here).
 * Validation order: topics null (v1+) or empty (v0) means every topic; each named topic is looked
 * up, and created when missing if allowAutoTopicCreation (v4+, always for v0-v3) and the broker's
 * auto.create.topics.enable allow it; an illegal name gets INVALID_TOPIC_EXCEPTION, an absent
 * topic UNKNOWN_TOPIC_OR_PARTITION. Topic ids (v10+) that name no topic get UNKNOWN_TOPIC_ID.
 * A topic named (or an id given) more than once is answered once, as Kafka does: the answer is
 * bounded by the cluster, never multiplied by the request (docs/decisions/0019).
 */
import { errorCode, KafkaError } from "../../protocol/errors.js";
import type {
  MetadataRequestData,
  MetadataResponseData,
  MetadataResponseTopic,
} from "../../protocol/types/metadata.js";
import type { Broker } from "../broker.js";
import { type ClusterStore, endpointOn, type TopicState } from "../metadata/cluster.js";
import { NULL_TOPIC_ID } from "../metadata/store.js";
import { isInternalTopic } from "../topics.js";
import type { ApiHandler } from "./types.js";

/** Kafka's "authorized operations not requested" marker. */
const OPERATIONS_OMITTED = -2147483648;

/** Node ids of the registered (live) brokers. */
export function liveBrokers(store: ClusterStore): Set<number> {
  return new Set(store.brokers().map((b) => b.nodeId));
}

/** A topic as Metadata describes it; replicas of brokers not in `live` are offline. */
export function describeTopic(topic: TopicState, live: ReadonlySet<number>): MetadataResponseTopic {
  return {
    errorCode: 0,
    name: topic.name,
    topicId: topic.id,
    isInternal: isInternalTopic(topic.name),
    partitions: topic.partitions.map((p) => ({
      errorCode: 0,
      partitionIndex: p.partition,
      leaderId: p.leader,
      leaderEpoch: p.leaderEpoch,
      replicaNodes: p.replicas,
      isrNodes: p.isr,
      offlineReplicas: p.replicas.filter((id) => !live.has(id)),
    })),
    topicAuthorizedOperations: OPERATIONS_OMITTED,
  };
}

function topicError(
  name: string | null,
  topicId: string,
  code: Parameters<typeof errorCode>[0],
): MetadataResponseTopic {
  return {
    errorCode: errorCode(code),
    name,
    topicId,
    isInternal: false,
    partitions: [],
    topicAuthorizedOperations: OPERATIONS_OMITTED,
  };
}

async function resolveTopic(
  broker: Broker,
  name: string,
  autoCreate: boolean,
): Promise<MetadataResponseTopic> {
  try {
    const topic = await broker.topics.getOrCreate(name, autoCreate);
    return topic
      ? describeTopic(topic, liveBrokers(broker.store))
      : topicError(name, NULL_TOPIC_ID, "UNKNOWN_TOPIC_OR_PARTITION");
  } catch (err) {
    if (KafkaError.is(err)) return topicError(name, NULL_TOPIC_ID, err.code);
    throw err;
  }
}

/** The requested topics, each name and each id once, in the order first named. */
function distinctTopics<T extends { name: string | null; topicId?: string }>(requested: T[]): T[] {
  const seen = new Set<string>();
  return requested.filter((t) => {
    const key = t.name === null || t.name === undefined ? `i:${t.topicId}` : `n:${t.name}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export const metadata: ApiHandler<MetadataRequestData, MetadataResponseData> = {
  apiKey: 3,
  name: "Metadata",
  minVersion: 0,
  maxVersion: 13,
  async handle(broker, request, ctx) {
    const requested = request.topics;
    const all = requested === null || (ctx.apiVersion === 0 && requested.length === 0);
    const autoCreate = ctx.apiVersion < 4 ? true : (request.allowAutoTopicCreation ?? true);
    let topics: MetadataResponseTopic[];
    if (all) {
      const live = liveBrokers(broker.store);
      topics = broker.store.topics().map((t) => describeTopic(t, live));
    } else {
      topics = [];
      for (const t of distinctTopics(requested)) {
        if (t.name === null || t.name === undefined) {
          const topicId = t.topicId ?? NULL_TOPIC_ID;
          const byId = broker.store.topicById(topicId);
          topics.push(
            byId
              ? describeTopic(byId, liveBrokers(broker.store))
              : topicError(null, topicId, "UNKNOWN_TOPIC_ID"),
          );
        } else {
          topics.push(await resolveTopic(broker, t.name, autoCreate));
        }
      }
    }
    return {
      throttleTimeMs: 0,
      errorCode: 0,
      brokers: broker.store
        .brokers()
        .map((b) => ({ nodeId: b.nodeId, ...endpointOn(b, ctx.listener), rack: b.rack })),
      clusterId: broker.store.clusterId(),
      controllerId: broker.store.controller()?.nodeId ?? -1,
      topics,
      clusterAuthorizedOperations: OPERATIONS_OMITTED,
    };
  },
};
