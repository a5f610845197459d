/**
 * CreateTopics (key 19), v0-v7; flexible from v5.
 *
 * Source: CreateTopicsRequest.json / CreateTopicsResponse.json in apache/kafka (4.x form; v7 adds
 * the TopicId of the result, the v6 and v7 requests have v5's layout). The top-level timeoutMs and
 * validateOnly keep Kafka's lower-case spelling. Fields that vendor forks add (aiven) are left out.
 * Deviation: Kafka 4.x no longer serves v0-v1 (KIP-896); their layout is what the field ranges
 * describe (v1 adds validateOnly), kept here for KafkaJS.
 */
import type { MessageSpec } from "../schema.js";

export const CreateTopicsRequest: MessageSpec = {
  apiKey: 19,
  type: "request",
  name: "CreateTopicsRequest",
  validVersions: "0-7",
  flexibleVersions: "5+",
  fields: [
    {
      name: "Topics",
      type: "[]CreatableTopic",
      versions: "0+",
      fields: [
        { name: "Name", type: "string", versions: "0+" },
        { name: "NumPartitions", type: "int32", versions: "0+" },
        { name: "ReplicationFactor", type: "int16", versions: "0+" },
        {
          name: "Assignments",
          type: "[]CreatableReplicaAssignment",
          versions: "0+",
          fields: [
            { name: "PartitionIndex", type: "int32", versions: "0+" },
            { name: "BrokerIds", type: "[]int32", versions: "0+" },
          ],
        },
        {
          name: "Configs",
          type: "[]CreatableTopicConfig",
          versions: "0+",
          fields: [
            { name: "Name", type: "string", versions: "0+" },
            { name: "Value", type: "string", versions: "0+", nullableVersions: "0+" },
          ],
        },
      ],
    },
    { name: "timeoutMs", type: "int32", versions: "0+", default: "60000" },
    { name: "validateOnly", type: "bool", versions: "1+", default: "false" },
  ],
};

export const CreateTopicsResponse: MessageSpec = {
  apiKey: 19,
  type: "response",
  name: "CreateTopicsResponse",
  validVersions: "0-7",
  flexibleVersions: "5+",
  fields: [
    { name: "ThrottleTimeMs", type: "int32", versions: "2+" },
    {
      name: "Topics",
      type: "[]CreatableTopicResult",
      versions: "0+",
      fields: [
        { name: "Name", type: "string", versions: "0+" },
        { name: "TopicId", type: "uuid", versions: "7+" },
        { name: "ErrorCode", type: "int16", versions: "0+" },
        { name: "ErrorMessage", type: "string", versions: "1+", nullableVersions: "0+" },
        { name: "TopicConfigErrorCode", type: "int16", versions: "5+", taggedVersions: "5+", tag: 0 },
        { name: "NumPartitions", type: "int32", versions: "5+", default: "-1" },
        { name: "ReplicationFactor", type: "int16", versions: "5+", default: "-1" },
        {
          name: "Configs",
          type: "[]CreatableTopicConfigs",
          versions: "5+",
          nullableVersions: "5+",
          fields: [
            { name: "Name", type: "string", versions: "5+" },
            { name: "Value", type: "string", versions: "5+", nullableVersions: "5+" },
            { name: "ReadOnly", type: "bool", versions: "5+" },
            { name: "ConfigSource", type: "int8", versions: "5+", default: "-1" },
            { name: "IsSensitive", type: "bool", versions: "5+" },
          ],
        },
      ],
    },
  ],
};
