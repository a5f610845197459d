/**
 * CreateTopics (key 19), v2-v7 (Kafka 4's floor: v0-v1 were removed by KIP-896).
 * Validation order, per topic (each topic gets its own result; one failing does not stop others):
 *   1. the name appears more than once in the request: INVALID_REQUEST for every copy, nothing
 *      created ("Found multiple entries for this topic.", as Kafka's KafkaApis);
 *   2. the principal may create it: CREATE on the cluster or on the topic (ACLs), else
 *      TOPIC_AUTHORIZATION_FAILED ("Authorization failed.", as Kafka);
 *   2a. the name is legal (INVALID_TOPIC_EXCEPTION);
 *   3. the topic does not exist yet (TOPIC_ALREADY_EXISTS);
 *   4. it does not collide with an existing topic once '.' and '_' are unified
 *      (INVALID_TOPIC_EXCEPTION, as Kafka);
 *   5. no config value is null, every config name known (INVALID_CONFIG naming it);
 *   6. manual assignments, if any: numPartitions and replicationFactor must both be -1
 *      (INVALID_REQUEST); partition indexes must be 0..n-1 and every replica list exactly
 *      [this node] (INVALID_REPLICA_ASSIGNMENT: one broker can place replicas nowhere else);
 *   7. numPartitions (INVALID_PARTITIONS) and replicationFactor (INVALID_REPLICATION_FACTOR),
 *      -1 meaning the broker's num.partitions / default.replication.factor;
 *   8. the configs (INVALID_CONFIG: unknown key or bad value, named in errorMessage);
 *   9. validateOnly stops here; otherwise the topic is recorded and its partitions opened.
 * Config maps have no prototype (storage/topic-configs.ts configRecord): a key named `constructor`
 * or `__proto__` is an unknown key like any other.
 * Choices: -1 defaults are accepted at every version, not only v4+ (KIP-464): Kafka's broker does
 * not look at the version, and KafkaJS sends replicationFactor -1 on v0-v3 by default. A config
 * named twice takes its last value. errorMessage (v1+) is the KafkaError's message. v5+ results
 * carry the topic's partitions, replication factor and every topic config with its source;
 * topicId (v7) is the new id, or all zeroes for validateOnly (the topic never exists). A failed
 * topic reports -1/-1 and no configs. timeoutMs is ignored: creation completes before the answer.
 * A created topic's configs are listed only to a principal with DESCRIBE_CONFIGS on it; to others
 * TopicConfigErrorCode (v5+) is TOPIC_AUTHORIZATION_FAILED, as Kafka.
 */
import { errorCode, KafkaError } from "../../protocol/errors.js";
import type {
  CreatableTopic,
  CreatableTopicResult,
  CreateTopicsRequestData,
  CreateTopicsResponseData,
} from "../../protocol/types/create-topics.js";
import { configRecord } from "../../storage/topic-configs.js";
import type { Broker } from "../broker.js";
import { isInternalTopic, validateTopicName } from "../topics.js";
import { onCluster } from "./authorized.js";
import {
  asKafkaError,
  checkTopicConfigNames,
  duplicates,
  errorFields,
  topicConfigEntries,
} from "./config-entries.js";
import { boundedWait } from "./controller-calls.js";
import type { ApiHandler, RequestContext } from "./types.js";

const ZERO_UUID = "00000000000000000000000000000000";

function failed(name: string, err: KafkaError): CreatableTopicResult {
  return {
    name,
    topicId: ZERO_UUID,
    ...errorFields(err),
    numPartitions: -1,
    replicationFactor: -1,
    configs: [],
  };
}

/** A created topic's result for a principal that may not see its configs. */
function withoutConfigs(result: CreatableTopicResult): CreatableTopicResult {
  return { ...result, configs: [], topicConfigErrorCode: errorCode("TOPIC_AUTHORIZATION_FAILED") };
}

/** Kafka's collision rule: '.' and '_' may not be the only difference between two topics. */
function collisionKey(name: string): string {
  return name.replace(/\./g, "_");
}

/**
 * A manual assignment's replica lists by partition, checked for shape here (the controller checks
 * the brokers: registered, distinct, the same count for every partition).
 */
function checkAssignments(topic: CreatableTopic): number[][] {
  if (topic.numPartitions !== -1 || topic.replicationFactor !== -1) {
    throw new KafkaError(
      "INVALID_REQUEST",
      "a manual partition assignment was given, so numPartitions and replicationFactor must both be -1",
    );
  }
  const indexes = topic.assignments.map((a) => a.partitionIndex).sort((a, b) => a - b);
  indexes.forEach((index, i) => {
    if (index !== i) {
      throw new KafkaError(
        "INVALID_REPLICA_ASSIGNMENT",
        "partitions of a manual assignment must be a consecutive 0-based sequence",
      );
    }
  });
  const byIndex = [...topic.assignments].sort((a, b) => a.partitionIndex - b.partitionIndex);
  return byIndex.map((a) => [...a.brokerIds]);
}

/**
 * Whether a CreateTopics came from another broker's controller channel (broker/cluster/
 * remote-controller-channel.ts), forwarding a creation that broker decided, such as
 * `__consumer_offsets` on a group's first FindCoordinator: an internal topic is then created as
 * that broker asked. Until authentication (issue 15) this trusts the inter-broker door and the
 * client id, as decision 0030 says.
 */
function forwardedByBroker(ctx: RequestContext): boolean {
  return ctx.interBroker && (ctx.clientId ?? "").startsWith("samsa-broker-");
}

async function createOne(
  broker: Broker,
  topic: CreatableTopic,
  validateOnly: boolean,
  internal: boolean,
): Promise<CreatableTopicResult> {
  const { name } = topic;
  validateTopicName(name);
  if (broker.store.topic(name))
    throw new KafkaError("TOPIC_ALREADY_EXISTS", `topic '${name}' already exists`);
  const key = collisionKey(name);
  const collides = broker.store.topics().find((t) => collisionKey(t.name) === key);
  if (collides) {
    throw new KafkaError(
      "INVALID_TOPIC_EXCEPTION",
      `topic '${name}' collides with existing topic: ${collides.name}`,
    );
  }
  const nulls = topic.configs.filter((c) => c.value === null).map((c) => c.name);
  if (nulls.length > 0) {
    throw new KafkaError("INVALID_CONFIG", `null value not supported for topic configs: ${nulls.join(", ")}`);
  }
  checkTopicConfigNames(topic.configs.map((c) => c.name));
  const configs = configRecord(topic.configs.map((c) => [c.name, c.value ?? ""]));
  const assignments = topic.assignments.length > 0 ? checkAssignments(topic) : null;
  const numPartitions = assignments ? assignments.length : topic.numPartitions;
  const replicationFactor = assignments ? (assignments[0]?.length ?? 0) : topic.replicationFactor;
  const record = await broker.topics.create(
    name,
    numPartitions,
    replicationFactor,
    configs,
    validateOnly,
    internal && isInternalTopic(name),
    false,
    assignments,
  );
  return {
    name,
    topicId: validateOnly ? ZERO_UUID : record.id,
    errorCode: 0,
    errorMessage: null,
    numPartitions: record.partitions.length,
    replicationFactor: record.partitions[0]?.replicas.length ?? replicationFactor,
    configs: topicConfigEntries(broker.config, record.configs).map((e) => ({
      name: e.name,
      value: e.value,
      readOnly: e.readOnly,
      configSource: e.configSource,
      isSensitive: e.isSensitive,
    })),
  };
}

export const createTopics: ApiHandler<CreateTopicsRequestData, CreateTopicsResponseData> = {
  apiKey: 19,
  name: "CreateTopics",
  minVersion: 2,
  maxVersion: 7,
  async handle(broker, request, ctx) {
    const topics = request.topics;
    const validateOnly = request.validateOnly ?? false;
    const repeated = duplicates(topics, (t) => t.name);
    const clusterCreate = onCluster(ctx, "CREATE");
    const results: CreatableTopicResult[] = [];
    // timeoutMs bounds the wait for the whole request; a creation still under way when it passes
    // is answered REQUEST_TIMED_OUT and may complete later, as on Kafka.
    const deadline = Date.now() + request.timeoutMs;
    for (const topic of topics) {
      if (repeated.has(topic.name)) {
        results.push(
          failed(topic.name, new KafkaError("INVALID_REQUEST", "Found multiple entries for this topic.")),
        );
        continue;
      }
      if (!clusterCreate && !ctx.authorize("CREATE", "TOPIC", topic.name)) {
        results.push(
          failed(topic.name, new KafkaError("TOPIC_AUTHORIZATION_FAILED", "Authorization failed.")),
        );
        continue;
      }
      try {
        const creating = createOne(broker, topic, validateOnly, forwardedByBroker(ctx));
        const left = request.timeoutMs > 0 ? Math.max(1, deadline - Date.now()) : 0;
        const created = await boundedWait(creating, left, `creating topic ${topic.name}`);
        results.push(
          ctx.authorize("DESCRIBE_CONFIGS", "TOPIC", topic.name) ? created : withoutConfigs(created),
        );
      } catch (err) {
        results.push(failed(topic.name, asKafkaError(broker, err, `creating topic ${topic.name}`)));
      }
    }
    return { throttleTimeMs: 0, topics: results };
  },
};
