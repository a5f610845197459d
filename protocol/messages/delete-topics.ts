/**
 * DeleteTopics (key 20), v0-v6; flexible from v4.
 *
 * Source: DeleteTopicsRequest.json / DeleteTopicsResponse.json in apache/kafka (4.x request form,
 * 3.x response form; same layouts). v6 names topics by name or id in Topics instead of TopicNames.
 * Deviation: Kafka 4.x no longer serves v0 (KIP-896); v0 has v1's layout and is kept for KafkaJS.
 */
import type { MessageSpec } from "../schema.js";

export const DeleteTopicsRequest: MessageSpec = {
  apiKey: 20,
  type: "request",
  name: "DeleteTopicsRequest",
  validVersions: "0-6",
  flexibleVersions: "4+",
  fields: [
    {
      name: "Topics",
      type: "[]DeleteTopicState",
      versions: "6+",
      fields: [
        { name: "Name", type: "string", versions: "6+", nullableVersions: "6+", default: "null" },
        { name: "TopicId", type: "uuid", versions: "6+" },
      ],
    },
    { name: "TopicNames", type: "[]string", versions: "0-5" },
    { name: "TimeoutMs", type: "int32", versions: "0+" },
  ],
};

export const DeleteTopicsResponse: MessageSpec = {
  apiKey: 20,
  type: "response",
  name: "DeleteTopicsResponse",
  validVersions: "0-6",
  flexibleVersions: "4+",
  fields: [
    { name: "ThrottleTimeMs", type: "int32", versions: "1+" },
    {
      name: "Responses",
      type: "[]DeletableTopicResult",
      versions: "0+",
      fields: [
        { name: "Name", type: "string", versions: "0+", nullableVersions: "6+" },
        { name: "TopicId", type: "uuid", versions: "6+" },
        { name: "ErrorCode", type: "int16", versions: "0+" },
        { name: "ErrorMessage", type: "string", versions: "5+", nullableVersions: "5+", default: "null" },
      ],
    },
  ],
};
