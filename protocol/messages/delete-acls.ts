/**
 * DeleteAcls (key 31), v0-3; flexible from v2.
 *
 * Source: DeleteAclsRequest.json / DeleteAclsResponse.json in apache/kafka (KIP-140). v1 adds the
 * pattern type (KIP-290; v0 means LITERAL, the default 3), v2 is flexible, v3 allows the USER
 * resource type without a layout change. One result per filter, in request order, listing the
 * ACLs it matched and removed.
 */
import type { MessageSpec } from "../schema.js";

export const DeleteAclsRequest: MessageSpec = {
  apiKey: 31,
  type: "request",
  name: "DeleteAclsRequest",
  validVersions: "0-3",
  flexibleVersions: "2+",
  fields: [
    {
      name: "Filters",
      type: "[]DeleteAclsFilter",
      versions: "0+",
      fields: [
        { name: "ResourceTypeFilter", type: "int8", versions: "0+" },
        { name: "ResourceNameFilter", type: "string", versions: "0+", nullableVersions: "0+" },
        { name: "PatternTypeFilter", type: "int8", versions: "1+", default: "3" },
        { name: "PrincipalFilter", type: "string", versions: "0+", nullableVersions: "0+" },
        { name: "HostFilter", type: "string", versions: "0+", nullableVersions: "0+" },
        { name: "Operation", type: "int8", versions: "0+" },
        { name: "PermissionType", type: "int8", versions: "0+" },
      ],
    },
  ],
};

export const DeleteAclsResponse: MessageSpec = {
  apiKey: 31,
  type: "response",
  name: "DeleteAclsResponse",
  validVersions: "0-3",
  flexibleVersions: "2+",
  fields: [
    { name: "ThrottleTimeMs", type: "int32", versions: "0+" },
    {
      name: "FilterResults",
      type: "[]DeleteAclsFilterResult",
      versions: "0+",
      fields: [
        { name: "ErrorCode", type: "int16", versions: "0+" },
        { name: "ErrorMessage", type: "string", versions: "0+", nullableVersions: "0+" },
        {
          name: "MatchingAcls",
          type: "[]DeleteAclsMatchingAcl",
          versions: "0+",
          fields: [
            { name: "ErrorCode", type: "int16", versions: "0+" },
            { name: "ErrorMessage", type: "string", versions: "0+", nullableVersions: "0+" },
            { name: "ResourceType", type: "int8", versions: "0+" },
            { name: "ResourceName", type: "string", versions: "0+" },
            { name: "PatternType", type: "int8", versions: "1+", default: "3" },
            { name: "Principal", type: "string", versions: "0+" },
            { name: "Host", type: "string", versions: "0+" },
            { name: "Operation", type: "int8", versions: "0+" },
            { name: "PermissionType", type: "int8", versions: "0+" },
          ],
        },
      ],
    },
  ],
};
