/**
 * DescribeConfigs (key 32), v0-v4; flexible from v4.
 *
 * Source: DescribeConfigsRequest.json / DescribeConfigsResponse.json in apache/kafka (4.0 form,
 * which still lists the v0-only IsDefault). v1 adds synonyms and ConfigSource, v3 documentation.
 * Deviation: Kafka 4.x no longer serves v0 (KIP-896); its layout is what the field ranges describe,
 * kept here for KafkaJS.
 */
import type { MessageSpec } from "../schema.js";

export const DescribeConfigsRequest: MessageSpec = {
  apiKey: 32,
  type: "request",
  name: "DescribeConfigsRequest",
  validVersions: "0-4",
  flexibleVersions: "4+",
  fields: [
    {
      name: "Resources",
      type: "[]DescribeConfigsResource",
      versions: "0+",
      fields: [
        { name: "ResourceType", type: "int8", versions: "0+" },
        { name: "ResourceName", type: "string", versions: "0+" },
        { name: "ConfigurationKeys", type: "[]string", versions: "0+", nullableVersions: "0+" },
      ],
    },
    { name: "IncludeSynonyms", type: "bool", versions: "1+", default: "false" },
    { name: "IncludeDocumentation", type: "bool", versions: "3+", default: "false" },
  ],
};

export const DescribeConfigsResponse: MessageSpec = {
  apiKey: 32,
  type: "response",
  name: "DescribeConfigsResponse",
  validVersions: "0-4",
  flexibleVersions: "4+",
  fields: [
    { name: "ThrottleTimeMs", type: "int32", versions: "0+" },
    {
      name: "Results",
      type: "[]DescribeConfigsResult",
      versions: "0+",
      fields: [
        { name: "ErrorCode", type: "int16", versions: "0+" },
        { name: "ErrorMessage", type: "string", versions: "0+", nullableVersions: "0+" },
        { name: "ResourceType", type: "int8", versions: "0+" },
        { name: "ResourceName", type: "string", versions: "0+" },
        {
          name: "Configs",
          type: "[]DescribeConfigsResourceResult",
          versions: "0+",
          fields: [
            { name: "Name", type: "string", versions: "0+" },
            { name: "Value", type: "string", versions: "0+", nullableVersions: "0+" },
            { name: "ReadOnly", type: "bool", versions: "0+" },
            { name: "IsDefault", type: "bool", versions: "0" },
            { name: "ConfigSource", type: "int8", versions: "1+", default: "-1" },
            { name: "IsSensitive", type: "bool", versions: "0+" },
            {
              name: "Synonyms",
              type: "[]DescribeConfigsSynonym",
              versions: "1+",
              fields: [
                { name: "Name", type: "string", versions: "1+" },
                { name: "Value", type: "string", versions: "1+", nullableVersions: "0+" },
                { name: "Source", type: "int8", versions: "1+" },
              ],
            },
            { name: "ConfigType", type: "int8", versions: "3+", default: "0" },
            { name: "Documentation", type: "string", versions: "3+", nullableVersions: "0+" },
          ],
        },
      ],
    },
  ],
};
