/**
 * OffsetDelete (key 47), v0 only; not flexible.
 *
 * Source: OffsetDeleteRequest.json / OffsetDeleteResponse.json in apache/kafka. Deviation: trunk
 * has begun a flexible v1 tied to a new request header (KIP-1313); only its response spec was
 * available and samsa has no such header, so v1 is left out.
 */
import type { MessageSpec } from "../schema.js";

export const OffsetDeleteRequest: MessageSpec = {
  apiKey: 47,
  type: "request",
  name: "OffsetDeleteRequest",
  validVersions: "0",
  flexibleVersions: "none",
  fields: [
    { name: "GroupId", type: "string", versions: "0+" },
    {
      name: "Topics",
      type: "[]OffsetDeleteRequestTopic",
      versions: "0+",
      fields: [
        { name: "Name", type: "string", versions: "0+" },
        {
          name: "Partitions",
          type: "[]OffsetDeleteRequestPartition",
          versions: "0+",
          fields: [{ name: "PartitionIndex", type: "int32", versions: "0+" }],
        },
      ],
    },
  ],
};

export const OffsetDeleteResponse: MessageSpec = {
  apiKey: 47,
  type: "response",
  name: "OffsetDeleteResponse",
  validVersions: "0",
  flexibleVersions: "none",
  fields: [
    { name: "ErrorCode", type: "int16", versions: "0+" },
    { name: "ThrottleTimeMs", type: "int32", versions: "0+" },
    {
      name: "Topics",
      type: "[]OffsetDeleteResponseTopic",
      versions: "0+",
      fields: [
        { name: "Name", type: "string", versions: "0+" },
        {
          name: "Partitions",
          type: "[]OffsetDeleteResponsePartition",
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
