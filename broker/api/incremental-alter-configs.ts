/**
 * IncrementalAlterConfigs (key 44), v0-v1: changes named configs of a topic and leaves the rest.
 * Operations: SET (0) sets an override, DELETE (1) removes one (the default applies again; a key
 * that has no override is a no-op), APPEND (2) and SUBTRACT (3) add or remove comma-separated
 * items of a LIST config (cleanup.policy), starting from the override or, without one, from the
 * value the topic has now.
 * Validation order, per resource:
 *   1. the resource (type and name) appears only once in the request: INVALID_REQUEST for every
 *      copy otherwise ("Each resource must appear at most once.", as Kafka);
 *   2. no config name appears twice (INVALID_REQUEST), no SET/APPEND/SUBTRACT value is null
 *      (INVALID_REQUEST) and every operation is one of 0-3 (INVALID_REQUEST);
 *   3. resource type: BROKER (4) gets INVALID_REQUEST (dynamic broker configs are not supported
 *      yet); any type but TOPIC (2) gets INVALID_REQUEST;
 *   4. TOPIC: a name is given (INVALID_REQUEST) and the topic exists (UNKNOWN_TOPIC_OR_PARTITION);
 *   5. APPEND/SUBTRACT name a LIST config (INVALID_CONFIG otherwise, as Kafka);
 *   6. the resulting set of overrides is valid (INVALID_CONFIG, naming the bad key or value);
 *   7. validateOnly stops here; otherwise the set is stored and applied to the partition logs.
 * Changes to one broker's configs run one at a time, so concurrent requests never compute from
 * the same stale overrides. errorMessage is the KafkaError's message, null on success.
 */
import type { Message } from "../../protocol/codec.js";
import { KafkaError } from "../../protocol/errors.js";
import type { Broker } from "../broker.js";
import {
  asKafkaError,
  checkTopicResource,
  duplicates,
  errorFields,
  isListConfig,
  resourceKey,
  serialiseConfigChange,
  topicDefaultValue,
} from "./config-entries.js";
import type { ApiHandler } from "./types.js";

const SET = 0;
const DELETE = 1;
const APPEND = 2;
const SUBTRACT = 3;
const OP_NAMES = ["SET", "DELETE", "APPEND", "SUBTRACT"];

interface IncrementalResource {
  resourceType: number;
  resourceName: string;
  configs: { name: string; configOperation: number; value: string | null }[];
}

function items(list: string): string[] {
  return list
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

function checkRequest(resource: IncrementalResource): void {
  const names = resource.configs.map((c) => c.name);
  if (new Set(names).size !== names.length) throw new KafkaError("INVALID_REQUEST", "duplicate config keys");
  const nulls = resource.configs
    .filter((c) => c.configOperation !== DELETE && c.value === null)
    .map((c) => c.name);
  if (nulls.length > 0)
    throw new KafkaError("INVALID_REQUEST", `null value not supported for: ${nulls.join(", ")}`);
  const badOp = resource.configs.find((c) => c.configOperation < SET || c.configOperation > SUBTRACT);
  if (badOp) {
    throw new KafkaError(
      "INVALID_REQUEST",
      `unknown operation type ${badOp.configOperation} for ${badOp.name}`,
    );
  }
}

async function alter(broker: Broker, resource: IncrementalResource, validateOnly: boolean): Promise<void> {
  checkRequest(resource);
  const name = resource.resourceName;
  checkTopicResource(broker, resource.resourceType, name);
  await serialiseConfigChange(broker, async () => {
    const topic = broker.store.topic(name);
    if (!topic) throw new KafkaError("UNKNOWN_TOPIC_OR_PARTITION", `topic ${name} does not exist`);
    const next: Record<string, string> = { ...topic.configs };
    for (const c of resource.configs) {
      const op = c.configOperation;
      if (op === SET) {
        next[c.name] = c.value as string;
      } else if (op === DELETE) {
        delete next[c.name];
      } else {
        if (!isListConfig(c.name)) {
          throw new KafkaError(
            "INVALID_CONFIG",
            `can't ${OP_NAMES[op]} to key ${c.name} because its type is not LIST`,
          );
        }
        const current = items(next[c.name] ?? topicDefaultValue(broker.config, c.name) ?? "");
        const given = items(c.value as string);
        const updated =
          op === APPEND
            ? [...current, ...given.filter((v) => !current.includes(v))]
            : current.filter((v) => !given.includes(v));
        next[c.name] = updated.join(",");
      }
    }
    await broker.topics.setConfigs(name, next, validateOnly);
  });
}

export const incrementalAlterConfigs: ApiHandler = {
  apiKey: 44,
  name: "IncrementalAlterConfigs",
  minVersion: 0,
  maxVersion: 1,
  async handle(broker, request) {
    const resources = request.resources as IncrementalResource[];
    const validateOnly = Boolean(request.validateOnly);
    const repeated = duplicates(resources, resourceKey);
    const responses: Message[] = [];
    for (const resource of resources) {
      const head = { resourceType: resource.resourceType, resourceName: resource.resourceName };
      try {
        if (repeated.has(resourceKey(resource))) {
          throw new KafkaError("INVALID_REQUEST", "Each resource must appear at most once.");
        }
        await alter(broker, resource, validateOnly);
        responses.push({ errorCode: 0, errorMessage: null, ...head });
      } catch (err) {
        const e = asKafkaError(broker, err, `altering configs of ${resource.resourceName}`);
        responses.push({ ...errorFields(e), ...head });
      }
    }
    return { throttleTimeMs: 0, responses };
  },
};
