/**
 * DescribeAcls (key 29), v0-3; flexible from v2.
 *
 * Source: DescribeAclsRequest.json / DescribeAclsResponse.json in apache/kafka (KIP-140). v1 adds
 * the pattern type (KIP-290; v0 means LITERAL, the default 3), v2 is flexible (KIP-482), v3 allows
 * the USER resource type (KIP-554) without a layout change. The request is one filter; the
 * response groups the matching ACLs by resource pattern. Codes: protocol/acl.ts.
 */
import type { MessageSpec } from "../schema.js";

export const DescribeAclsRequest: MessageSpec = {
  apiKey: 29,
  type: "request",
  name: "DescribeAclsRequest",
  validVersions: "0-3",
  flexibleVersions: "2+",
  fields: [
    { name: "ResourceTypeFilter", type: "int8", versions: "0+" },
    { name: "ResourceNameFilter", type: "string", versions: "0+", nullableVersions: "0+" },
    { name: "PatternTypeFilter", type: "int8", versions: "1+", default: "3" },
    { name: "PrincipalFilter", type: "string", versions: "0+", nullableVersions: "0+" },
    { name: "HostFilter", type: "string", versions: "0+", nullableVersions: "0+" },
    { name: "Operation", type: "int8", versions: "0+" },
    { name: "PermissionType", type: "int8", versions: "0+" },
  ],
};

export const DescribeAclsResponse: MessageSpec = {
  apiKey: 29,
  type: "response",
  name: "DescribeAclsResponse",
  validVersions: "0-3",
  flexibleVersions: "2+",
  fields: [
    { name: "ThrottleTimeMs", type: "int32", versions: "0+" },
    { name: "ErrorCode", type: "int16", versions: "0+" },
    { name: "ErrorMessage", type: "string", versions: "0+", nullableVersions: "0+" },
    {
      name: "Resources",
      type: "[]DescribeAclsResource",
      versions: "0+",
      fields: [
        { name: "ResourceType", type: "int8", versions: "0+" },
        { name: "ResourceName", type: "string", versions: "0+" },
        { name: "PatternType", type: "int8", versions: "1+", default: "3" },
        {
          name: "Acls",
          type: "[]AclDescription",
          versions: "0+",
          fields: [
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
