/**
 * AlterConfigs (key 33), v0-v2: replaces a topic's configs with the ones given. Validation order,
 * per resource: each resource at most once (INVALID_REQUEST); ALTER_CONFIGS on the topic
 * (TOPIC_AUTHORIZATION_FAILED) or, for a broker, the cluster (CLUSTER_AUTHORIZATION_FAILED), as
 * Kafka (ACLs, api/authorized.ts configRefusal); no config named twice and no null
 * value (INVALID_REQUEST), a topic that exists (checkTopicResource), then every key known and
 * every value valid (INVALID_CONFIG naming the key); validateOnly stops there. Nothing is stored
 * unless the whole resource is valid.
 */
import { KafkaError } from "../../protocol/errors.js";
import type {
  AlterConfigsRequestData,
  AlterConfigsResource,
  AlterConfigsResponseData,
} from "../../protocol/types/alter-configs.js";
import { configRecord } from "../../storage/topic-configs.js";
import type { Broker } from "../broker.js";
import { configRefusal } from "./authorized.js";
import {
  alterEach,
  checkTopicConfigNames,
  checkTopicResource,
  serialiseConfigChange,
} from "./config-entries.js";
import type { ApiHandler } from "./types.js";

async function alter(broker: Broker, resource: AlterConfigsResource, validateOnly: boolean): Promise<void> {
  const names = resource.configs.map((c) => c.name);
  if (new Set(names).size !== names.length) throw new KafkaError("INVALID_REQUEST", "duplicate config keys");
  const nulls = resource.configs.filter((c) => c.value === null).map((c) => c.name);
  if (nulls.length > 0)
    throw new KafkaError("INVALID_REQUEST", `null value not supported for: ${nulls.join(", ")}`);
  checkTopicResource(broker, resource.resourceType, resource.resourceName);
  checkTopicConfigNames(names);
  const configs = configRecord(resource.configs.map((c) => [c.name, c.value ?? ""]));
  await serialiseConfigChange(broker, () =>
    broker.topics.setConfigs(resource.resourceName, configs, validateOnly),
  );
}

export const alterConfigs: ApiHandler<AlterConfigsRequestData, AlterConfigsResponseData> = {
  apiKey: 33,
  name: "AlterConfigs",
  minVersion: 0,
  maxVersion: 2,
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
