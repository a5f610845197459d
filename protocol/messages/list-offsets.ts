/**
 * ListOffsets (key 2), v0-v11; flexible from v6.
 *
 * Source: ListOffsetsRequest.json / ListOffsetsResponse.json in apache/kafka. v11 (KIP-1023) only
 * adds a timestamp sentinel, its layout is v10's (read from a 4.x fork's copy of the spec).
 * Deviation: Kafka 4.x removed v0 (KIP-896) and with it the v0-only fields MaxNumOffsets and
 * OldStyleOffsets; those two are restored from the 3.x spec so v0 can be served.
 */
import type { MessageSpec } from "../schema.js";

export const ListOffsetsRequest: MessageSpec = {
  apiKey: 2,
  type: "request",
  name: "ListOffsetsRequest",
  validVersions: "0-11",
  flexibleVersions: "6+",
  fields: [
    { name: "ReplicaId", type: "int32", versions: "0+" },
    { name: "IsolationLevel", type: "int8", versions: "2+" },
    {
      name: "Topics",
      type: "[]ListOffsetsTopic",
      versions: "0+",
      fields: [
        { name: "Name", type: "string", versions: "0+" },
        {
          name: "Partitions",
          type: "[]ListOffsetsPartition",
          versions: "0+",
          fields: [
            { name: "PartitionIndex", type: "int32", versions: "0+" },
            { name: "CurrentLeaderEpoch", type: "int32", versions: "4+", default: "-1" },
            { name: "Timestamp", type: "int64", versions: "0+" },
            { name: "MaxNumOffsets", type: "int32", versions: "0", default: "1" },
          ],
        },
      ],
    },
    { name: "TimeoutMs", type: "int32", versions: "10+" },
  ],
};

export const ListOffsetsResponse: MessageSpec = {
  apiKey: 2,
  type: "response",
  name: "ListOffsetsResponse",
  validVersions: "0-11",
  flexibleVersions: "6+",
  fields: [
    { name: "ThrottleTimeMs", type: "int32", versions: "2+" },
    {
      name: "Topics",
      type: "[]ListOffsetsTopicResponse",
      versions: "0+",
      fields: [
        { name: "Name", type: "string", versions: "0+" },
        {
          name: "Partitions",
          type: "[]ListOffsetsPartitionResponse",
          versions: "0+",
          fields: [
            { name: "PartitionIndex", type: "int32", versions: "0+" },
            { name: "ErrorCode", type: "int16", versions: "0+" },
            { name: "OldStyleOffsets", type: "[]int64", versions: "0" },
            { name: "Timestamp", type: "int64", versions: "1+", default: "-1" },
            { name: "Offset", type: "int64", versions: "1+", default: "-1" },
            { name: "LeaderEpoch", type: "int32", versions: "4+", default: "-1" },
          ],
        },
      ],
    },
  ],
};
