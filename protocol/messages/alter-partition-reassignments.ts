/**
 * AlterPartitionReassignments (key 45), v0; flexible in every version. Starts (Replicas) or
 * cancels (null Replicas) moving partitions to other brokers (KIP-455).
 *
 * Source: AlterPartitionReassignmentsRequest.json / AlterPartitionReassignmentsResponse.json in
 * apache/kafka, as released in 2.4 (v1 adds AllowReplicationFactorChange, KIP-860: left out).
 * Served by broker/api/alter-partition-reassignments.ts.
 */
import type { MessageSpec } from "../schema.js";

export const AlterPartitionReassignmentsRequest: MessageSpec = {
  apiKey: 45,
  type: "request",
  name: "AlterPartitionReassignmentsRequest",
  validVersions: "0",
  flexibleVersions: "0+",
  fields: [
    { name: "TimeoutMs", type: "int32", versions: "0+", default: "60000" },
    {
      name: "Topics",
      type: "[]ReassignableTopic",
      versions: "0+",
      fields: [
        { name: "Name", type: "string", versions: "0+" },
        {
          name: "Partitions",
          type: "[]ReassignablePartition",
          versions: "0+",
          fields: [
            { name: "PartitionIndex", type: "int32", versions: "0+" },
            { name: "Replicas", type: "[]int32", versions: "0+", nullableVersions: "0+", default: "null" },
          ],
        },
      ],
    },
  ],
};

export const AlterPartitionReassignmentsResponse: MessageSpec = {
  apiKey: 45,
  type: "response",
  name: "AlterPartitionReassignmentsResponse",
  validVersions: "0",
  flexibleVersions: "0+",
  fields: [
    { name: "ThrottleTimeMs", type: "int32", versions: "0+" },
    { name: "ErrorCode", type: "int16", versions: "0+" },
    { name: "ErrorMessage", type: "string", versions: "0+", nullableVersions: "0+" },
    {
      name: "Responses",
      type: "[]ReassignableTopicResponse",
      versions: "0+",
      fields: [
        { name: "Name", type: "string", versions: "0+" },
        {
          name: "Partitions",
          type: "[]ReassignablePartitionResponse",
          versions: "0+",
          fields: [
            { name: "PartitionIndex", type: "int32", versions: "0+" },
            { name: "ErrorCode", type: "int16", versions: "0+" },
            { name: "ErrorMessage", type: "string", versions: "0+", nullableVersions: "0+" },
          ],
        },
      ],
    },
  ],
};
