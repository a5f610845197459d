/**
 * FindCoordinator (key 10), v0-v6; flexible from v3.
 *
 * Source: FindCoordinatorRequest.json / FindCoordinatorResponse.json in apache/kafka (4.x form).
 * v4 batches keys (CoordinatorKeys / Coordinators) and drops the single-key fields; v5 and v6 have
 * v4's layout. A v7 seen in a vendor fork (aiven/inkless) is not Kafka's and is left out.
 */
import type { MessageSpec } from "../schema.js";

export const FindCoordinatorRequest: MessageSpec = {
  apiKey: 10,
  type: "request",
  name: "FindCoordinatorRequest",
  validVersions: "0-6",
  flexibleVersions: "3+",
  fields: [
    { name: "Key", type: "string", versions: "0-3" },
    { name: "KeyType", type: "int8", versions: "1+", default: "0" },
    { name: "CoordinatorKeys", type: "[]string", versions: "4+" },
  ],
};

export const FindCoordinatorResponse: MessageSpec = {
  apiKey: 10,
  type: "response",
  name: "FindCoordinatorResponse",
  validVersions: "0-6",
  flexibleVersions: "3+",
  fields: [
    { name: "ThrottleTimeMs", type: "int32", versions: "1+" },
    { name: "ErrorCode", type: "int16", versions: "0-3" },
    { name: "ErrorMessage", type: "string", versions: "1-3", nullableVersions: "1-3" },
    { name: "NodeId", type: "int32", versions: "0-3" },
    { name: "Host", type: "string", versions: "0-3" },
    { name: "Port", type: "int32", versions: "0-3" },
    {
      name: "Coordinators",
      type: "[]Coordinator",
      versions: "4+",
      fields: [
        { name: "Key", type: "string", versions: "4+" },
        { name: "NodeId", type: "int32", versions: "4+" },
        { name: "Host", type: "string", versions: "4+" },
        { name: "Port", type: "int32", versions: "4+" },
        { name: "ErrorCode", type: "int16", versions: "4+" },
        { name: "ErrorMessage", type: "string", versions: "4+", nullableVersions: "4+" },
      ],
    },
  ],
};
