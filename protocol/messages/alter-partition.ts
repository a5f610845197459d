/**
 * AlterPartition (key 56), v0-v3; flexible from v0. A partition leader asks the controller to
 * change its ISR (KIP-497; v1 adds LeaderRecoveryState, KIP-704; v2 names topics by id, KIP-841;
 * v3 gives each ISR member its broker epoch, KIP-903).
 *
 * Source: AlterPartitionRequest.json / AlterPartitionResponse.json in apache/kafka (3.x: v0-v3;
 * 4.0 keeps v2-v3). Served by broker/api/alter-partition.ts (inter-broker only).
 */
import type { MessageSpec } from "../schema.js";

export const AlterPartitionRequest: MessageSpec = {
  apiKey: 56,
  type: "request",
  name: "AlterPartitionRequest",
  validVersions: "0-3",
  flexibleVersions: "0+",
  fields: [
    { name: "BrokerId", type: "int32", versions: "0+" },
    { name: "BrokerEpoch", type: "int64", versions: "0+", default: "-1" },
    {
      name: "Topics",
      type: "[]TopicData",
      versions: "0+",
      fields: [
        { name: "TopicName", type: "string", versions: "0-1" },
        { name: "TopicId", type: "uuid", versions: "2+" },
        {
          name: "Partitions",
          type: "[]PartitionData",
          versions: "0+",
          fields: [
            { name: "PartitionIndex", type: "int32", versions: "0+" },
            { name: "LeaderEpoch", type: "int32", versions: "0+" },
            { name: "NewIsr", type: "[]int32", versions: "0-2" },
            {
              name: "NewIsrWithEpochs",
              type: "[]BrokerState",
              versions: "3+",
              fields: [
                { name: "BrokerId", type: "int32", versions: "3+" },
                { name: "BrokerEpoch", type: "int64", versions: "3+", default: "-1" },
              ],
            },
            { name: "LeaderRecoveryState", type: "int8", versions: "1+", default: "0" },
            { name: "PartitionEpoch", type: "int32", versions: "0+" },
          ],
        },
      ],
    },
  ],
};

export const AlterPartitionResponse: MessageSpec = {
  apiKey: 56,
  type: "response",
  name: "AlterPartitionResponse",
  validVersions: "0-3",
  flexibleVersions: "0+",
  fields: [
    { name: "ThrottleTimeMs", type: "int32", versions: "0+" },
    { name: "ErrorCode", type: "int16", versions: "0+" },
    {
      name: "Topics",
      type: "[]TopicData",
      versions: "0+",
      fields: [
        { name: "TopicName", type: "string", versions: "0-1" },
        { name: "TopicId", type: "uuid", versions: "2+" },
        {
          name: "Partitions",
          type: "[]PartitionData",
          versions: "0+",
          fields: [
            { name: "PartitionIndex", type: "int32", versions: "0+" },
            { name: "ErrorCode", type: "int16", versions: "0+" },
            { name: "LeaderId", type: "int32", versions: "0+" },
            { name: "LeaderEpoch", type: "int32", versions: "0+" },
            { name: "Isr", type: "[]int32", versions: "0+" },
            { name: "LeaderRecoveryState", type: "int8", versions: "1+", default: "0" },
            { name: "PartitionEpoch", type: "int32", versions: "0+" },
          ],
        },
      ],
    },
  ],
};
