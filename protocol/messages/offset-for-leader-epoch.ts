/**
 * OffsetForLeaderEpoch (key 23), v0-v4; flexible from v4.
 *
 * Source: OffsetForLeaderEpochRequest.json (4.x form) / OffsetForLeaderEpochResponse.json (3.x
 * form) in apache/kafka. ReplicaId defaults to -2, Kafka's "debug consumer".
 * Deviation: Kafka 4.x no longer serves v0-v1 (KIP-896); their layout is what the field ranges
 * describe (v1 adds the response's LeaderEpoch), kept for older clients.
 */
import type { MessageSpec } from "../schema.js";

export const OffsetForLeaderEpochRequest: MessageSpec = {
  apiKey: 23,
  type: "request",
  name: "OffsetForLeaderEpochRequest",
  validVersions: "0-4",
  flexibleVersions: "4+",
  fields: [
    { name: "ReplicaId", type: "int32", versions: "3+", default: "-2" },
    {
      name: "Topics",
      type: "[]OffsetForLeaderTopic",
      versions: "0+",
      fields: [
        { name: "Topic", type: "string", versions: "0+" },
        {
          name: "Partitions",
          type: "[]OffsetForLeaderPartition",
          versions: "0+",
          fields: [
            { name: "Partition", type: "int32", versions: "0+" },
            { name: "CurrentLeaderEpoch", type: "int32", versions: "2+", default: "-1" },
            { name: "LeaderEpoch", type: "int32", versions: "0+" },
          ],
        },
      ],
    },
  ],
};

export const OffsetForLeaderEpochResponse: MessageSpec = {
  apiKey: 23,
  type: "response",
  name: "OffsetForLeaderEpochResponse",
  validVersions: "0-4",
  flexibleVersions: "4+",
  fields: [
    { name: "ThrottleTimeMs", type: "int32", versions: "2+" },
    {
      name: "Topics",
      type: "[]OffsetForLeaderTopicResult",
      versions: "0+",
      fields: [
        { name: "Topic", type: "string", versions: "0+" },
        {
          name: "Partitions",
          type: "[]OffsetForLeaderPartitionResult",
          versions: "0+",
          fields: [
            { name: "ErrorCode", type: "int16", versions: "0+" },
            { name: "Partition", type: "int32", versions: "0+" },
            { name: "LeaderEpoch", type: "int32", versions: "1+", default: "-1" },
            { name: "EndOffset", type: "int64", versions: "0+" },
          ],
        },
      ],
    },
  ],
};
