/**
 * ListGroups (key 16), v0-v5; flexible from v3.
 *
 * Source: ListGroupsRequest.json / ListGroupsResponse.json in apache/kafka. The v0-v3 request body
 * is empty (v3 only carries the tagged-field section).
 */
import type { MessageSpec } from "../schema.js";

export const ListGroupsRequest: MessageSpec = {
  apiKey: 16,
  type: "request",
  name: "ListGroupsRequest",
  validVersions: "0-5",
  flexibleVersions: "3+",
  fields: [
    { name: "StatesFilter", type: "[]string", versions: "4+" },
    { name: "TypesFilter", type: "[]string", versions: "5+" },
  ],
};

export const ListGroupsResponse: MessageSpec = {
  apiKey: 16,
  type: "response",
  name: "ListGroupsResponse",
  validVersions: "0-5",
  flexibleVersions: "3+",
  fields: [
    { name: "ThrottleTimeMs", type: "int32", versions: "1+" },
    { name: "ErrorCode", type: "int16", versions: "0+" },
    {
      name: "Groups",
      type: "[]ListedGroup",
      versions: "0+",
      fields: [
        { name: "GroupId", type: "string", versions: "0+" },
        { name: "ProtocolType", type: "string", versions: "0+" },
        { name: "GroupState", type: "string", versions: "4+" },
        { name: "GroupType", type: "string", versions: "5+" },
      ],
    },
  ],
};
