/**
 * DescribeConfigs (key 32), v1-v4 (Kafka 4's floor: v0 was removed by KIP-896).
 * Validation order, per resource:
 *   0. ACLs: DESCRIBE_CONFIGS on the topic (TOPIC_AUTHORIZATION_FAILED), on the cluster for a
 *      broker (CLUSTER_AUTHORIZATION_FAILED), as Kafka (api/authorized.ts configRefusal);
 *   1. resource type: TOPIC (2) and BROKER (4) are served, any other gets INVALID_REQUEST;
 *   2. TOPIC: the name is legal (INVALID_TOPIC_EXCEPTION) and the topic exists
 *      (UNKNOWN_TOPIC_OR_PARTITION);
 *      BROKER: the name is empty or this node's id (INVALID_REQUEST otherwise, as Kafka);
 *   3. configurationKeys filters the entries when non-empty (null or empty means all, as Kafka's
 *      ConfigHelper); a key that is not a config is left out, not an error.
 * The same resource asked again with the same keys is answered once (docs/decisions/0019).
 * A topic answers every topic config (storage/topic-configs.ts: every key Kafka 4 knows) with
 * its effective value and source (see config-entries.ts), readOnly and isSensitive false. The
 * broker answers BROKER_CONFIG_KEYS with effective values, all readOnly (dynamic broker configs
 * are not served). An empty broker name describes this broker too: samsa has no cluster-wide
 * dynamic defaults to show instead. isDefault (v0) is true for DEFAULT_CONFIG sources, which is
 * how the Java client reads it. Synonyms (v1+) only with includeSynonyms, documentation (v3+)
 * only with includeDocumentation, as Kafka; configType (v3+) always.
 */
import { KafkaError } from "../../protocol/errors.js";
import type {
  DescribeConfigsRequestData,
  DescribeConfigsResource,
  DescribeConfigsResponseData,
  DescribeConfigsResult,
} from "../../protocol/types/describe-configs.js";
import type { Broker } from "../broker.js";
import { validateTopicName } from "../topics.js";
import { configRefusal } from "./authorized.js";
import {
  asKafkaError,
  brokerConfigEntries,
  type ConfigEntry,
  errorFields,
  RESOURCE_BROKER,
  RESOURCE_TOPIC,
  topicConfigEntries,
} from "./config-entries.js";
import { distinct } from "./distinct.js";
import type { ApiHandler } from "./types.js";

function entriesOf(broker: Broker, resource: DescribeConfigsResource): ConfigEntry[] {
  const { resourceType: type, resourceName: name } = resource;
  if (type === RESOURCE_TOPIC) {
    validateTopicName(name);
    const topic = broker.store.topic(name);
    if (!topic) throw new KafkaError("UNKNOWN_TOPIC_OR_PARTITION", `topic ${name} does not exist`);
    return topicConfigEntries(broker.config, topic.configs);
  }
  if (type === RESOURCE_BROKER) {
    const nodeId = broker.config.nodeId;
    if (name !== "") {
      if (!/^-?\d+$/.test(name))
        throw new KafkaError("INVALID_REQUEST", `broker id must be an integer, not "${name}"`);
      if (Number(name) !== nodeId) {
        throw new KafkaError(
          "INVALID_REQUEST",
          `unexpected broker id: this is broker ${nodeId}, not ${name}`,
        );
      }
    }
    return brokerConfigEntries(broker);
  }
  throw new KafkaError(
    "INVALID_REQUEST",
    `unsupported resource type ${type}: only topics (2) and brokers (4)`,
  );
}

/**
 * What makes two resources of a request the same question: type, name and the keys asked for
 * (none meaning all), so that the same resource asked with other keys is still answered.
 */
function resourceKey(r: DescribeConfigsResource): string {
  const keys = r.configurationKeys && r.configurationKeys.length > 0 ? [...r.configurationKeys].sort() : null;
  return JSON.stringify([r.resourceType, r.resourceName, keys]);
}

export const describeConfigs: ApiHandler<DescribeConfigsRequestData, DescribeConfigsResponseData> = {
  apiKey: 32,
  name: "DescribeConfigs",
  minVersion: 1,
  maxVersion: 4,
  async handle(broker, request, ctx) {
    const includeSynonyms = request.includeSynonyms ?? false;
    const includeDocumentation = request.includeDocumentation ?? false;
    const results: DescribeConfigsResult[] = [];
    // A resource named again is answered once (its first occurrence).
    const resources = distinct(request.resources, resourceKey);
    for (const resource of resources) {
      const head = { resourceType: resource.resourceType, resourceName: resource.resourceName };
      try {
        const refused = configRefusal(ctx, "DESCRIBE_CONFIGS", resource.resourceType, resource.resourceName);
        if (refused) throw new KafkaError(refused, "Authorization failed.");
        const wanted =
          resource.configurationKeys && resource.configurationKeys.length > 0
            ? new Set(resource.configurationKeys)
            : null;
        const configs = entriesOf(broker, resource)
          .filter((e) => wanted === null || wanted.has(e.name))
          .map((e) => ({
            name: e.name,
            value: e.value,
            readOnly: e.readOnly,
            isDefault: e.isDefault,
            configSource: e.configSource,
            isSensitive: e.isSensitive,
            synonyms: includeSynonyms ? e.synonyms : [],
            configType: e.configType,
            documentation: includeDocumentation ? e.documentation : null,
          }));
        results.push({ errorCode: 0, errorMessage: null, ...head, configs });
      } catch (err) {
        const e = asKafkaError(broker, err, `describing configs of ${resource.resourceName}`);
        results.push({ ...errorFields(e), ...head, configs: [] });
      }
    }
    return { throttleTimeMs: 0, results };
  },
};
