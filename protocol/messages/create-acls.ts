/**
 * CreateAcls (key 30), v0-3; flexible from v2.
 *
 * Source: CreateAclsRequest.json / CreateAclsResponse.json in apache/kafka (KIP-140). v1 adds the
 * resource pattern type (KIP-290; v0 means LITERAL, the default 3), v2 is flexible, v3 allows the
 * USER resource type without a layout change. One result per creation, in request order.
 */
import type { MessageSpec } from "../schema.js";

export const CreateAclsRequest: MessageSpec = {
  apiKey: 30,
  type: "request",
  name: "CreateAclsRequest",
  validVersions: "0-3",
  flexibleVersions: "2+",
  fields: [
    {
      name: "Creations",
      type: "[]AclCreation",
      versions: "0+",
      fields: [
        { name: "ResourceType", type: "int8", versions: "0+" },
        { name: "ResourceName", type: "string", versions: "0+" },
        { name: "ResourcePatternType", type: "int8", versions: "1+", default: "3" },
        { name: "Principal", type: "string", versions: "0+" },
        { name: "Host", type: "string", versions: "0+" },
        { name: "Operation", type: "int8", versions: "0+" },
        { name: "PermissionType", type: "int8", versions: "0+" },
      ],
    },
  ],
};

export const CreateAclsResponse: MessageSpec = {
  apiKey: 30,
  type: "response",
  name: "CreateAclsResponse",
  validVersions: "0-3",
  flexibleVersions: "2+",
  fields: [
    { name: "ThrottleTimeMs", type: "int32", versions: "0+" },
    {
      name: "Results",
      type: "[]AclCreationResult",
      versions: "0+",
      fields: [
        { name: "ErrorCode", type: "int16", versions: "0+" },
        { name: "ErrorMessage", type: "string", versions: "0+", nullableVersions: "0+" },
      ],
    },
  ],
};
