/**
 * DescribeCluster (key 60), v0-v2; flexible in every version.
 *
 * Source: DescribeClusterRequest.json / DescribeClusterResponse.json in apache/kafka (v1 adds
 * EndpointType); v2 (KIP-1073, fenced brokers) from a 4.x copy of the request spec and
 * Aiven-Open/kio's classes generated from the 4.x response spec.
 */
import type { MessageSpec } from "../schema.js";

export const DescribeClusterRequest: MessageSpec = {
  apiKey: 60,
  type: "request",
  name: "DescribeClusterRequest",
  validVersions: "0-2",
  flexibleVersions: "0+",
  fields: [
    { name: "IncludeClusterAuthorizedOperations", type: "bool", versions: "0+" },
    { name: "EndpointType", type: "int8", versions: "1+", default: "1" },
    { name: "IncludeFencedBrokers", type: "bool", versions: "2+" },
  ],
};

export const DescribeClusterResponse: MessageSpec = {
  apiKey: 60,
  type: "response",
  name: "DescribeClusterResponse",
  validVersions: "0-2",
  flexibleVersions: "0+",
  fields: [
    { name: "ThrottleTimeMs", type: "int32", versions: "0+" },
    { name: "ErrorCode", type: "int16", versions: "0+" },
    { name: "ErrorMessage", type: "string", versions: "0+", nullableVersions: "0+", default: "null" },
    { name: "EndpointType", type: "int8", versions: "1+", default: "1" },
    { name: "ClusterId", type: "string", versions: "0+" },
    { name: "ControllerId", type: "int32", versions: "0+", default: "-1" },
    {
      name: "Brokers",
      type: "[]DescribeClusterBroker",
      versions: "0+",
      fields: [
        { name: "BrokerId", type: "int32", versions: "0+" },
        { name: "Host", type: "string", versions: "0+" },
        { name: "Port", type: "int32", versions: "0+" },
        { name: "Rack", type: "string", versions: "0+", nullableVersions: "0+", default: "null" },
        { name: "IsFenced", type: "bool", versions: "2+" },
      ],
    },
    { name: "ClusterAuthorizedOperations", type: "int32", versions: "0+", default: "-2147483648" },
  ],
};
