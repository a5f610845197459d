/**
 * Metadata (key 3), v0-v13 (v13 adds a top-level error code, always 0 here).
 * Validation order: topics null (v1+) or empty (v0) means every topic; each named topic is looked
 * up, and created when missing if allowAutoTopicCreation (v4+, always for v0-v3) and the broker's
 * auto.create.topics.enable allow it; an illegal name gets INVALID_TOPIC_EXCEPTION, an absent
 * topic UNKNOWN_TOPIC_OR_PARTITION. Topic ids (v10+) that name no topic get UNKNOWN_TOPIC_ID.
 * A topic named (or an id given) more than once is answered once, as Kafka does: the answer is
 * bounded by the cluster, never multiplied by the request (docs/decisions/0019).
 * ACLs, as Kafka: every topic requested (null topics) lists only the topics the principal may
 * DESCRIBE; a named one it may not -> TOPIC_AUTHORIZATION_FAILED whether it exists or not (an id
 * that names one: the same, with the id and no name); an absent topic that would be auto-created
 * for a principal without CREATE on the cluster or the topic -> TOPIC_AUTHORIZATION_FAILED.
 * IncludeClusterAuthorizedOperations (v8-v10) and IncludeTopicAuthorizedOperations (v8+) ask for
 * Kafka's bit sets (api/authorized.ts); the cluster's is 0 without DESCRIBE on it.
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
import {
  authorizedOperations,
  type Checks,
  clusterOperations,
  creationRefused,
  OPERATIONS_OMITTED,
} from "./authorized.js";
import type { ApiHandler } from "./types.js";

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
  ctx: Checks,
  name: string,
  autoCreate: boolean,
): Promise<MetadataResponseTopic> {
  const refused = (): MetadataResponseTopic => topicError(name, NULL_TOPIC_ID, "TOPIC_AUTHORIZATION_FAILED");
  if (!ctx.authorize("DESCRIBE", "TOPIC", name) || creationRefused(broker, ctx, name, autoCreate))
    return refused();
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
      topics = broker.store
        .topics()
        .filter((t) => ctx.authorize("DESCRIBE", "TOPIC", t.name))
        .map((t) => describeTopic(t, live));
    } else {
      topics = [];
      for (const t of distinctTopics(requested)) {
        if (t.name === null || t.name === undefined) {
          const topicId = t.topicId ?? NULL_TOPIC_ID;
          const byId = broker.store.topicById(topicId);
          if (!byId) topics.push(topicError(null, topicId, "UNKNOWN_TOPIC_ID"));
          else if (!ctx.authorize("DESCRIBE", "TOPIC", byId.name))
            topics.push(topicError(null, topicId, "TOPIC_AUTHORIZATION_FAILED"));
          else topics.push(describeTopic(byId, liveBrokers(broker.store)));
        } else {
          topics.push(await resolveTopic(broker, ctx, t.name, autoCreate));
        }
      }
    }
    if (request.includeTopicAuthorizedOperations) {
      for (const t of topics)
        if (t.errorCode === 0 && t.name)
          t.topicAuthorizedOperations = authorizedOperations(ctx, "TOPIC", t.name);
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
      clusterAuthorizedOperations: clusterOperations(
        ctx,
        ctx.apiVersion <= 10 && (request.includeClusterAuthorizedOperations ?? false),
      ),
    };
  },
};
