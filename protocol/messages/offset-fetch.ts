/**
 * OffsetFetch (key 9), v0-v10; flexible from v6.
 *
 * Source: OffsetFetchRequest.json / OffsetFetchResponse.json in apache/kafka (request 0-9 from the
 * 3.x form; response 1-9 from the 4.0 form, whose v9 is v8's layout); v10 (topic ids replace topic
 * names inside Groups, stable in Kafka 4.2) from Aiven-Open/kio's classes generated from the 4.x
 * specs. From v8 several groups travel in one request, in Groups.
 * Deviation: Kafka 4.x no longer serves v0 (KIP-896); v0 has v1's layout and is kept for KafkaJS.
 */
import type { MessageSpec } from "../schema.js";

export const OffsetFetchRequest: MessageSpec = {
  apiKey: 9,
  type: "request",
  name: "OffsetFetchRequest",
  validVersions: "0-10",
  flexibleVersions: "6+",
  fields: [
    { name: "GroupId", type: "string", versions: "0-7" },
    {
      name: "Topics",
      type: "[]OffsetFetchRequestTopic",
      versions: "0-7",
      nullableVersions: "2-7",
      fields: [
        { name: "Name", type: "string", versions: "0-7" },
        { name: "PartitionIndexes", type: "[]int32", versions: "0-7" },
      ],
    },
    {
      name: "Groups",
      type: "[]OffsetFetchRequestGroup",
      versions: "8+",
      fields: [
        { name: "GroupId", type: "string", versions: "8+" },
        { name: "MemberId", type: "string", versions: "9+", nullableVersions: "9+", default: "null" },
        { name: "MemberEpoch", type: "int32", versions: "9+", default: "-1" },
        {
          name: "Topics",
          type: "[]OffsetFetchRequestTopics",
          versions: "8+",
          nullableVersions: "8+",
          fields: [
            { name: "Name", type: "string", versions: "8-9" },
            { name: "TopicId", type: "uuid", versions: "10+" },
            { name: "PartitionIndexes", type: "[]int32", versions: "8+" },
          ],
        },
      ],
    },
    { name: "RequireStable", type: "bool", versions: "7+", default: "false" },
  ],
};

export const OffsetFetchResponse: MessageSpec = {
  apiKey: 9,
  type: "response",
  name: "OffsetFetchResponse",
  validVersions: "0-10",
  flexibleVersions: "6+",
  fields: [
    { name: "ThrottleTimeMs", type: "int32", versions: "3+" },
    {
      name: "Topics",
      type: "[]OffsetFetchResponseTopic",
      versions: "0-7",
      fields: [
        { name: "Name", type: "string", versions: "0-7" },
        {
          name: "Partitions",
          type: "[]OffsetFetchResponsePartition",
          versions: "0-7",
          fields: [
            { name: "PartitionIndex", type: "int32", versions: "0-7" },
            { name: "CommittedOffset", type: "int64", versions: "0-7" },
            { name: "CommittedLeaderEpoch", type: "int32", versions: "5-7", default: "-1" },
            { name: "Metadata", type: "string", versions: "0-7", nullableVersions: "0-7" },
            { name: "ErrorCode", type: "int16", versions: "0-7" },
          ],
        },
      ],
    },
    { name: "ErrorCode", type: "int16", versions: "2-7", default: "0" },
    {
      name: "Groups",
      type: "[]OffsetFetchResponseGroup",
      versions: "8+",
      fields: [
        { name: "GroupId", type: "string", versions: "8+" },
        {
          name: "Topics",
          type: "[]OffsetFetchResponseTopics",
          versions: "8+",
          fields: [
            { name: "Name", type: "string", versions: "8-9" },
            { name: "TopicId", type: "uuid", versions: "10+" },
            {
              name: "Partitions",
              type: "[]OffsetFetchResponsePartitions",
              versions: "8+",
              fields: [
                { name: "PartitionIndex", type: "int32", versions: "8+" },
                { name: "CommittedOffset", type: "int64", versions: "8+" },
                { name: "CommittedLeaderEpoch", type: "int32", versions: "8+", default: "-1" },
                { name: "Metadata", type: "string", versions: "8+", nullableVersions: "8+" },
                { name: "ErrorCode", type: "int16", versions: "8+" },
              ],
            },
          ],
        },
        { name: "ErrorCode", type: "int16", versions: "8+", default: "0" },
      ],
    },
  ],
};
