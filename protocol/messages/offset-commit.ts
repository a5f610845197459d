/**
 * OffsetCommit (key 8), v0-v10; flexible from v8.
 *
 * Source: OffsetCommitRequest.json / OffsetCommitResponse.json in apache/kafka (the 4.0 form,
 * validVersions 2-9, where v9 has v8's layout); v10 (topic ids replace topic names, stable in Kafka
 * 4.2) from Aiven-Open/kio's classes generated from the 4.x specs.
 * Deviation: Kafka 4.x no longer serves v0-v1 (KIP-896); their layout is what the field ranges
 * describe (v1 alone carries CommitTimestamp), kept here for KafkaJS.
 */
import type { MessageSpec } from "../schema.js";

export const OffsetCommitRequest: MessageSpec = {
  apiKey: 8,
  type: "request",
  name: "OffsetCommitRequest",
  validVersions: "0-10",
  flexibleVersions: "8+",
  fields: [
    { name: "GroupId", type: "string", versions: "0+" },
    { name: "GenerationIdOrMemberEpoch", type: "int32", versions: "1+", default: "-1" },
    { name: "MemberId", type: "string", versions: "1+" },
    { name: "GroupInstanceId", type: "string", versions: "7+", nullableVersions: "7+", default: "null" },
    { name: "RetentionTimeMs", type: "int64", versions: "2-4", default: "-1" },
    {
      name: "Topics",
      type: "[]OffsetCommitRequestTopic",
      versions: "0+",
      fields: [
        { name: "Name", type: "string", versions: "0-9" },
        { name: "TopicId", type: "uuid", versions: "10+" },
        {
          name: "Partitions",
          type: "[]OffsetCommitRequestPartition",
          versions: "0+",
          fields: [
            { name: "PartitionIndex", type: "int32", versions: "0+" },
            { name: "CommittedOffset", type: "int64", versions: "0+" },
            { name: "CommittedLeaderEpoch", type: "int32", versions: "6+", default: "-1" },
            { name: "CommitTimestamp", type: "int64", versions: "1", default: "-1" },
            { name: "CommittedMetadata", type: "string", versions: "0+", nullableVersions: "0+" },
          ],
        },
      ],
    },
  ],
};

export const OffsetCommitResponse: MessageSpec = {
  apiKey: 8,
  type: "response",
  name: "OffsetCommitResponse",
  validVersions: "0-10",
  flexibleVersions: "8+",
  fields: [
    { name: "ThrottleTimeMs", type: "int32", versions: "3+" },
    {
      name: "Topics",
      type: "[]OffsetCommitResponseTopic",
      versions: "0+",
      fields: [
        { name: "Name", type: "string", versions: "0-9" },
        { name: "TopicId", type: "uuid", versions: "10+" },
        {
          name: "Partitions",
          type: "[]OffsetCommitResponsePartition",
          versions: "0+",
          fields: [
            { name: "PartitionIndex", type: "int32", versions: "0+" },
            { name: "ErrorCode", type: "int16", versions: "0+" },
          ],
        },
      ],
    },
  ],
};
