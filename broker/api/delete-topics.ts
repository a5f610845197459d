/**
 * DeleteTopics (key 20), v1-v6 (Kafka 4's floor: v0 was removed by KIP-896).
 * Topics are named by topicNames (v0-v5) or by topics, each with a name or a topicId (v6).
 * Validation order, per topic:
 *   1. v6: exactly one of name and topicId is given (INVALID_REQUEST otherwise);
 *   2. the name (or id) appears only once in the request: a repeated one gets a single
 *      INVALID_REQUEST result and is not deleted (as Kafka's controller does);
 *   3. a name without DELETE on it (ACLs): TOPIC_AUTHORIZATION_FAILED, whether it exists or not;
 *   4. the topic exists: UNKNOWN_TOPIC_OR_PARTITION for a name, UNKNOWN_TOPIC_ID for an id; an
 *      id's topic without DELETE: TOPIC_AUTHORIZATION_FAILED, naming the topic only to a principal
 *      that may DESCRIBE it (as Kafka's controller);
 *   5. the topic is deleted: removed from the metadata store, then its partition logs.
 * Results come in request order; v6 results carry both the name and the id where known (an
 * unknown id has a null name). errorMessage (v5+) is the KafkaError's message. timeoutMs is
 * ignored: deletion completes before the answer.
 */
import { KafkaError } from "../../protocol/errors.js";
import type {
  DeletableTopicResult,
  DeleteTopicsRequestData,
  DeleteTopicsResponseData,
} from "../../protocol/types/delete-topics.js";
import { asKafkaError, duplicates, errorFields } from "./config-entries.js";
import type { ApiHandler } from "./types.js";

const ZERO_UUID = "00000000000000000000000000000000";

interface Target {
  name: string | null;
  topicId: string;
}

function result(name: string | null, topicId: string, err?: KafkaError): DeletableTopicResult {
  return err ? { name, topicId, ...errorFields(err) } : { name, topicId, errorCode: 0, errorMessage: null };
}

export const deleteTopics: ApiHandler<DeleteTopicsRequestData, DeleteTopicsResponseData> = {
  apiKey: 20,
  name: "DeleteTopics",
  minVersion: 1,
  maxVersion: 6,
  async handle(broker, request, ctx) {
    const targets: Target[] =
      ctx.apiVersion >= 6
        ? (request.topics ?? [])
        : (request.topicNames ?? []).map((name) => ({ name, topicId: ZERO_UUID }));
    const keyOf = (t: Target) => (t.name !== null ? `name:${t.name}` : `id:${t.topicId}`);
    const repeated = duplicates(targets, keyOf);
    const reported = new Set<string>();
    const results: DeletableTopicResult[] = [];
    for (const target of targets) {
      const { name, topicId } = target;
      const byName = name !== null;
      const byId = topicId !== ZERO_UUID;
      if (byName === byId) {
        const why = byName
          ? "you may not specify both topic name and topic id"
          : "neither topic name nor id were specified";
        results.push(result(name, topicId, new KafkaError("INVALID_REQUEST", why)));
        continue;
      }
      const key = keyOf(target);
      if (repeated.has(key)) {
        if (reported.has(key)) continue;
        reported.add(key);
        const why = byName ? "duplicate topic name" : "duplicate topic id";
        results.push(result(name, topicId, new KafkaError("INVALID_REQUEST", why)));
        continue;
      }
      if (byName && !ctx.authorize("DELETE", "TOPIC", name)) {
        results.push(
          result(name, topicId, new KafkaError("TOPIC_AUTHORIZATION_FAILED", "Authorization failed.")),
        );
        continue;
      }
      const record = byName ? broker.store.topic(name) : broker.store.topicById(topicId);
      if (!record) {
        const err = byName
          ? new KafkaError("UNKNOWN_TOPIC_OR_PARTITION", `topic ${name} does not exist`)
          : new KafkaError("UNKNOWN_TOPIC_ID", `no topic has id ${topicId}`);
        results.push(result(name, topicId, err));
        continue;
      }
      if (!byName && !ctx.authorize("DELETE", "TOPIC", record.name)) {
        const shown = ctx.authorize("DESCRIBE", "TOPIC", record.name) ? record.name : null;
        results.push(
          result(shown, topicId, new KafkaError("TOPIC_AUTHORIZATION_FAILED", "Authorization failed.")),
        );
        continue;
      }
      try {
        await broker.topics.delete(record.name);
        results.push(result(record.name, record.id));
      } catch (err) {
        results.push(
          result(record.name, record.id, asKafkaError(broker, err, `deleting topic ${record.name}`)),
        );
      }
    }
    return { throttleTimeMs: 0, responses: results };
  },
};
