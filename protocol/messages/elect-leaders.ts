/**
 * ElectLeaders (key 43), v0-v2; flexible from v2. Asks the controller to elect the preferred
 * (ElectionType 0) or, without an in-sync replica, any live replica (1, unclean; v1+, KIP-460)
 * as leader of each partition named, or of every partition when TopicPartitions is null.
 *
 * Source: ElectLeadersRequest.json / ElectLeadersResponse.json in apache/kafka (older copies name
 * the request's partition list PartitionId; same layout). Served by broker/api/elect-leaders.ts.
 */
import type { MessageSpec } from "../schema.js";

export const ElectLeadersRequest: MessageSpec = {
  apiKey: 43,
  type: "request",
  name: "ElectLeadersRequest",
  validVersions: "0-2",
  flexibleVersions: "2+",
  fields: [
    { name: "ElectionType", type: "int8", versions: "1+" },
    {
      name: "TopicPartitions",
      type: "[]TopicPartitions",
      versions: "0+",
      nullableVersions: "0+",
      fields: [
        { name: "Topic", type: "string", versions: "0+" },
        { name: "Partitions", type: "[]int32", versions: "0+" },
      ],
    },
    { name: "TimeoutMs", type: "int32", versions: "0+", default: "60000" },
  ],
};

export const ElectLeadersResponse: MessageSpec = {
  apiKey: 43,
  type: "response",
  name: "ElectLeadersResponse",
  validVersions: "0-2",
  flexibleVersions: "2+",
  fields: [
    { name: "ThrottleTimeMs", type: "int32", versions: "0+" },
    { name: "ErrorCode", type: "int16", versions: "1+" },
    {
      name: "ReplicaElectionResults",
      type: "[]ReplicaElectionResult",
      versions: "0+",
      fields: [
        { name: "Topic", type: "string", versions: "0+" },
        {
          name: "PartitionResult",
          type: "[]PartitionResult",
          versions: "0+",
          fields: [
            { name: "PartitionId", type: "int32", versions: "0+" },
            { name: "ErrorCode", type: "int16", versions: "0+" },
            { name: "ErrorMessage", type: "string", versions: "0+", nullableVersions: "0+" },
          ],
        },
      ],
    },
  ],
};
