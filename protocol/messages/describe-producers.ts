/**
 * DescribeProducers (key 61), v0; flexible in every version.
 *
 * Source: DescribeProducersRequest.json / DescribeProducersResponse.json in apache/kafka (KIP-664,
 * Kafka 2.8+): per partition, the producers with state on it, their epoch, last sequence and
 * timestamp, and the transaction each has open.
 */
import type { MessageSpec } from "../schema.js";

export const DescribeProducersRequest: MessageSpec = {
  apiKey: 61,
  type: "request",
  name: "DescribeProducersRequest",
  validVersions: "0",
  flexibleVersions: "0+",
  fields: [
    {
      name: "Topics",
      type: "[]TopicRequest",
      versions: "0+",
      fields: [
        { name: "Name", type: "string", versions: "0+" },
        { name: "PartitionIndexes", type: "[]int32", versions: "0+" },
      ],
    },
  ],
};

export const DescribeProducersResponse: MessageSpec = {
  apiKey: 61,
  type: "response",
  name: "DescribeProducersResponse",
  validVersions: "0",
  flexibleVersions: "0+",
  fields: [
    { name: "ThrottleTimeMs", type: "int32", versions: "0+" },
    {
      name: "Topics",
      type: "[]TopicResponse",
      versions: "0+",
      fields: [
        { name: "Name", type: "string", versions: "0+" },
        {
          name: "Partitions",
          type: "[]PartitionResponse",
          versions: "0+",
          fields: [
            { name: "PartitionIndex", type: "int32", versions: "0+" },
            { name: "ErrorCode", type: "int16", versions: "0+" },
            { name: "ErrorMessage", type: "string", versions: "0+", nullableVersions: "0+", default: "null" },
            {
              name: "ActiveProducers",
              type: "[]ProducerState",
              versions: "0+",
              fields: [
                { name: "ProducerId", type: "int64", versions: "0+" },
                { name: "ProducerEpoch", type: "int32", versions: "0+" },
                { name: "LastSequence", type: "int32", versions: "0+", default: "-1" },
                { name: "LastTimestamp", type: "int64", versions: "0+", default: "-1" },
                { name: "CoordinatorEpoch", type: "int32", versions: "0+" },
                { name: "CurrentTxnStartOffset", type: "int64", versions: "0+", default: "-1" },
              ],
            },
          ],
        },
      ],
    },
  ],
};
