/**
 * DeleteRecords (key 21), v0-v2; flexible from v2.
 *
 * Source: DeleteRecordsRequest.json / DeleteRecordsResponse.json in apache/kafka. A v3 (Acks)
 * seen in a contributor fork is not in a release and is left out.
 */
import type { MessageSpec } from "../schema.js";

export const DeleteRecordsRequest: MessageSpec = {
  apiKey: 21,
  type: "request",
  name: "DeleteRecordsRequest",
  validVersions: "0-2",
  flexibleVersions: "2+",
  fields: [
    {
      name: "Topics",
      type: "[]DeleteRecordsTopic",
      versions: "0+",
      fields: [
        { name: "Name", type: "string", versions: "0+" },
        {
          name: "Partitions",
          type: "[]DeleteRecordsPartition",
          versions: "0+",
          fields: [
            { name: "PartitionIndex", type: "int32", versions: "0+" },
            { name: "Offset", type: "int64", versions: "0+" },
          ],
        },
      ],
    },
    { name: "TimeoutMs", type: "int32", versions: "0+" },
  ],
};

export const DeleteRecordsResponse: MessageSpec = {
  apiKey: 21,
  type: "response",
  name: "DeleteRecordsResponse",
  validVersions: "0-2",
  flexibleVersions: "2+",
  fields: [
    { name: "ThrottleTimeMs", type: "int32", versions: "0+" },
    {
      name: "Topics",
      type: "[]DeleteRecordsTopicResult",
      versions: "0+",
      fields: [
        { name: "Name", type: "string", versions: "0+" },
        {
          name: "Partitions",
          type: "[]DeleteRecordsPartitionResult",
          versions: "0+",
          fields: [
            { name: "PartitionIndex", type: "int32", versions: "0+" },
            { name: "LowWatermark", type: "int64", versions: "0+" },
            { name: "ErrorCode", type: "int16", versions: "0+" },
          ],
        },
      ],
    },
  ],
};
