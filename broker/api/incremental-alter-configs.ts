/**
 * IncrementalAlterConfigs (key 44), v0-v1: SET, DELETE, APPEND or SUBTRACT single topic configs.
 * Validation order, per resource: each resource at most once; ALTER_CONFIGS on the topic
 * (TOPIC_AUTHORIZATION_FAILED) or, for a broker, the cluster (CLUSTER_AUTHORIZATION_FAILED), as
 * Kafka (ACLs, api/authorized.ts configRefusal); no config named twice, no null value
 * but for DELETE, known operations (INVALID_REQUEST); a topic that exists; then every key known,
 * whatever its operation (INVALID_CONFIG naming the key), APPEND / SUBTRACT on LIST keys only,
 * and the resulting configs valid as a whole. validateOnly stops there; nothing is stored unless
 * the whole resource is valid.
 */
import { KafkaError } from "../../protocol/errors.js";
import type {
  IncrementalAlterConfigsRequestData,
  IncrementalAlterConfigsResponseData,
  AlterConfigsResource as IncrementalResource,
} from "../../protocol/types/incremental-alter-configs.js";
import { configRecord } from "../../storage/topic-configs.js";
import type { Broker } from "../broker.js";
import { configRefusal } from "./authorized.js";
import {
  alterEach,
  checkTopicConfigNames,
  checkTopicResource,
  isListConfig,
  serialiseConfigChange,
  topicDefaultValue,
} from "./config-entries.js";
import type { ApiHandler } from "./types.js";

const SET = 0;
const DELETE = 1;
const APPEND = 2;
const SUBTRACT = 3;
const OP_NAMES = ["SET", "DELETE", "APPEND", "SUBTRACT"];

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
    const next = configRecord(Object.entries(topic.configs));
    checkTopicConfigNames(resource.configs.map((c) => c.name));
    for (const c of resource.configs) {
      const op = c.configOperation;
      if (op === SET) {
        next[c.name] = c.value ?? "";
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
        const given = items(c.value ?? "");
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

export const incrementalAlterConfigs: ApiHandler<
  IncrementalAlterConfigsRequestData,
  IncrementalAlterConfigsResponseData
> = {
  apiKey: 44,
  name: "IncrementalAlterConfigs",
  minVersion: 0,
  maxVersion: 1,
  async handle(broker, request, ctx) {
    const resources = request.resources;
    const validateOnly = request.validateOnly;
    const refusal = (r: { resourceType: number; resourceName: string }) =>
      configRefusal(ctx, "ALTER_CONFIGS", r.resourceType, r.resourceName);
    const responses = await alterEach(broker, resources, refusal, (resource) =>
      alter(broker, resource, validateOnly),
    );
    return { throttleTimeMs: 0, responses };
  },
};
