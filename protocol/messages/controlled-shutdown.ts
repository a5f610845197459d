/**
 * ControlledShutdown (key 7), v3 only; flexible. A stopping broker asks the controller to move
 * leadership off it; the answer lists the partitions it still leads.
 *
 * Source: ControlledShutdownRequest.json / ControlledShutdownResponse.json in apache/kafka (3.x:
 * v0-v3, v2 adds BrokerEpoch, v3 is the flexible form; removed with ZooKeeper in 4.0). Only v3 is
 * described: samsa's brokers speak it to each other, no client sends it. Served by
 * broker/api/controlled-shutdown.ts (inter-broker only).
 */
import type { MessageSpec } from "../schema.js";

export const ControlledShutdownRequest: MessageSpec = {
  apiKey: 7,
  type: "request",
  name: "ControlledShutdownRequest",
  validVersions: "3",
  flexibleVersions: "3+",
  fields: [
    { name: "BrokerId", type: "int32", versions: "0+" },
    { name: "BrokerEpoch", type: "int64", versions: "2+", default: "-1" },
  ],
};

export const ControlledShutdownResponse: MessageSpec = {
  apiKey: 7,
  type: "response",
  name: "ControlledShutdownResponse",
  validVersions: "3",
  flexibleVersions: "3+",
  fields: [
    { name: "ErrorCode", type: "int16", versions: "0+" },
    {
      name: "RemainingPartitions",
      type: "[]RemainingPartition",
      versions: "0+",
      fields: [
        { name: "TopicName", type: "string", versions: "0+" },
        { name: "PartitionIndex", type: "int32", versions: "0+" },
      ],
    },
  ],
};
