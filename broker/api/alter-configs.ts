/**
 * AlterConfigs (key 33), v0-v2: the non-incremental form, which replaces a topic's whole set of
 * overrides; a config the request does not list reverts to its default (as Kafka).
 * Validation order, per resource:
 *   1. the resource (type and name) appears only once in the request: INVALID_REQUEST for every
 *      copy otherwise ("Each resource must appear at most once.", as Kafka);
 *   2. no config name appears twice (INVALID_REQUEST) and no value is null (INVALID_REQUEST,
 *      as Kafka's "Null value not supported");
 *   3. resource type: BROKER (4) gets INVALID_REQUEST (dynamic broker configs are not supported
 *      yet; the broker's config file, SAMSA_* environment and flags set them at start-up); any
 *      type but TOPIC (2) gets INVALID_REQUEST;
 *   4. TOPIC: a name is given (INVALID_REQUEST for the empty "default topic") and the topic
 *      exists (UNKNOWN_TOPIC_OR_PARTITION);
 *   5. the new set of configs is valid (INVALID_CONFIG, naming the bad key or value);
 *   6. validateOnly stops here; otherwise the set is stored and applied to the partition logs.
 * errorMessage is the KafkaError's message, null on success.
 */
import type { Message } from "../../protocol/codec.js";
import { KafkaError } from "../../protocol/errors.js";
import type { Broker } from "../broker.js";
import {
  asKafkaError,
  checkTopicResource,
  duplicates,
  errorFields,
  resourceKey,
  serialiseConfigChange,
} from "./config-entries.js";
import type { ApiHandler } from "./types.js";

interface AlterResource {
  resourceType: number;
  resourceName: string;
  configs: { name: string; value: string | null }[];
}

async function alter(broker: Broker, resource: AlterResource, validateOnly: boolean): Promise<void> {
  const names = resource.configs.map((c) => c.name);
  if (new Set(names).size !== names.length) throw new KafkaError("INVALID_REQUEST", "duplicate config keys");
  const nulls = resource.configs.filter((c) => c.value === null).map((c) => c.name);
  if (nulls.length > 0)
    throw new KafkaError("INVALID_REQUEST", `null value not supported for: ${nulls.join(", ")}`);
  checkTopicResource(broker, resource.resourceType, resource.resourceName);
  const configs: Record<string, string> = {};
  for (const c of resource.configs) configs[c.name] = c.value as string;
  await serialiseConfigChange(broker, () =>
    broker.topics.setConfigs(resource.resourceName, configs, validateOnly),
  );
}

export const alterConfigs: ApiHandler = {
  apiKey: 33,
  name: "AlterConfigs",
  minVersion: 0,
  maxVersion: 2,
  async handle(broker, request) {
    const resources = request.resources as AlterResource[];
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
