/**
 * CreatePartitions (key 37), v0-v3.
 * Validation order, per topic:
 *   1. the topic appears only once in the request: a repeated one gets a single INVALID_REQUEST
 *      result and is not changed (as Kafka);
 *   2. the principal may ALTER the topic (ACLs), whether it exists or not
 *      (TOPIC_AUTHORIZATION_FAILED, as Kafka's controller);
 *   2a. the topic exists (UNKNOWN_TOPIC_OR_PARTITION);
 *   3. count is more than the current partition count and at most the per-topic limit
 *      (INVALID_PARTITIONS);
 *   4. assignments, if given: one per new partition (the controller checks the brokers named)
 *      (INVALID_REPLICA_ASSIGNMENT: one broker can place replicas nowhere else);
 *   5. validateOnly stops here; otherwise the new partitions are recorded and opened.
 * Choice: an empty assignments array counts as none (null), since KafkaJS sends [] when the
 * caller gives no assignment. errorMessage is the KafkaError's message. timeoutMs is ignored.
 */
import { KafkaError } from "../../protocol/errors.js";
import type {
  CreatePartitionsRequestData,
  CreatePartitionsResponseData,
  CreatePartitionsTopicResult,
} from "../../protocol/types/create-partitions.js";
import type { Broker } from "../broker.js";
import { asKafkaError, duplicates, errorFields } from "./config-entries.js";
import type { ApiHandler } from "./types.js";

interface PartitionsTopic {
  name: string;
  count: number;
  assignments: { brokerIds: number[] }[] | null;
}

function checkAssignments(topic: PartitionsTopic, added: number): void {
  const assignments = topic.assignments;
  if (!assignments || assignments.length === 0) return;
  if (assignments.length !== added) {
    throw new KafkaError(
      "INVALID_REPLICA_ASSIGNMENT",
      `${added} partition(s) would be added, but ${assignments.length} assignment(s) were given`,
    );
  }
}

async function grow(broker: Broker, topic: PartitionsTopic, validateOnly: boolean): Promise<void> {
  // Existence and count first (this changes nothing), then the assignments, then the change.
  await broker.topics.addPartitions(topic.name, topic.count, true);
  const current = broker.store.topic(topic.name)?.partitions.length ?? 0;
  checkAssignments(topic, topic.count - current);
  // The controller checks the brokers named (registered, distinct, the topic's replica count).
  const assignments = topic.assignments?.length ? topic.assignments.map((a) => [...a.brokerIds]) : null;
  await broker.topics.addPartitions(topic.name, topic.count, validateOnly, assignments);
}

export const createPartitions: ApiHandler<CreatePartitionsRequestData, CreatePartitionsResponseData> = {
  apiKey: 37,
  name: "CreatePartitions",
  minVersion: 0,
  maxVersion: 3,
  async handle(broker, request, ctx) {
    const topics = request.topics;
    const validateOnly = request.validateOnly;
    const repeated = duplicates(topics, (t) => t.name);
    const reported = new Set<string>();
    const results: CreatePartitionsTopicResult[] = [];
    for (const topic of topics) {
      if (repeated.has(topic.name)) {
        if (reported.has(topic.name)) continue;
        reported.add(topic.name);
        const err = new KafkaError("INVALID_REQUEST", "duplicate topic name");
        results.push({ name: topic.name, ...errorFields(err) });
        continue;
      }
      if (!ctx.authorize("ALTER", "TOPIC", topic.name)) {
        const err = new KafkaError("TOPIC_AUTHORIZATION_FAILED", "Authorization failed.");
        results.push({ name: topic.name, ...errorFields(err) });
        continue;
      }
      try {
        await grow(broker, topic, validateOnly);
        results.push({ name: topic.name, errorCode: 0, errorMessage: null });
      } catch (err) {
        const e = asKafkaError(broker, err, `adding partitions to ${topic.name}`);
        results.push({ name: topic.name, ...errorFields(e) });
      }
    }
    return { throttleTimeMs: 0, results };
  },
};
