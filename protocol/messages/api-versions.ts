/**
 * ApiVersions (key 18), v0-v4; flexible from v3.
 *
 * Source: ApiVersionsRequest.json / ApiVersionsResponse.json in apache/kafka (3.9/4.x form; v4 has
 * v3's layout). Whatever the version, the response goes out with response header v0 (no tagged
 * section), so an old client can read the error of an unsupported version; that is the framing
 * layer's business, not this spec's.
 */
import type { MessageSpec } from "../schema.js";

export const ApiVersionsRequest: MessageSpec = {
  apiKey: 18,
  type: "request",
  name: "ApiVersionsRequest",
  validVersions: "0-4",
  flexibleVersions: "3+",
  fields: [
    { name: "ClientSoftwareName", type: "string", versions: "3+" },
    { name: "ClientSoftwareVersion", type: "string", versions: "3+" },
  ],
};

export const ApiVersionsResponse: MessageSpec = {
  apiKey: 18,
  type: "response",
  name: "ApiVersionsResponse",
  validVersions: "0-4",
  flexibleVersions: "3+",
  fields: [
    { name: "ErrorCode", type: "int16", versions: "0+" },
    {
      name: "ApiKeys",
      type: "[]ApiVersion",
      versions: "0+",
      fields: [
        { name: "ApiKey", type: "int16", versions: "0+" },
        { name: "MinVersion", type: "int16", versions: "0+" },
        { name: "MaxVersion", type: "int16", versions: "0+" },
      ],
    },
    { name: "ThrottleTimeMs", type: "int32", versions: "1+" },
    {
      name: "SupportedFeatures",
      type: "[]SupportedFeatureKey",
      versions: "3+",
      taggedVersions: "3+",
      tag: 0,
      fields: [
        { name: "Name", type: "string", versions: "3+" },
        { name: "MinVersion", type: "int16", versions: "3+" },
        { name: "MaxVersion", type: "int16", versions: "3+" },
      ],
    },
    {
      name: "FinalizedFeaturesEpoch",
      type: "int64",
      versions: "3+",
      taggedVersions: "3+",
      tag: 1,
      default: "-1",
    },
    {
      name: "FinalizedFeatures",
      type: "[]FinalizedFeatureKey",
      versions: "3+",
      taggedVersions: "3+",
      tag: 2,
      fields: [
        { name: "Name", type: "string", versions: "3+" },
        { name: "MaxVersionLevel", type: "int16", versions: "3+" },
        { name: "MinVersionLevel", type: "int16", versions: "3+" },
      ],
    },
    {
      name: "ZkMigrationReady",
      type: "bool",
      versions: "3+",
      taggedVersions: "3+",
      tag: 3,
      default: "false",
    },
  ],
};
