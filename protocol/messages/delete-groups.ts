/**
 * DeleteGroups (key 42), v0-v3; flexible from v2.
 *
 * Source: DeleteGroupsRequest.json / DeleteGroupsResponse.json in apache/kafka trunk: v3 adds the
 * per-group ErrorMessage of the response (the v3 request has v2's layout). v3 is newer than the
 * 4.3 release; a broker that wants to match a released Kafka should advertise at most v2.
 */
import type { MessageSpec } from "../schema.js";

export const DeleteGroupsRequest: MessageSpec = {
  apiKey: 42,
  type: "request",
  name: "DeleteGroupsRequest",
  validVersions: "0-3",
  flexibleVersions: "2+",
  fields: [{ name: "GroupsNames", type: "[]string", versions: "0+" }],
};

export const DeleteGroupsResponse: MessageSpec = {
  apiKey: 42,
  type: "response",
  name: "DeleteGroupsResponse",
  validVersions: "0-3",
  flexibleVersions: "2+",
  fields: [
    { name: "ThrottleTimeMs", type: "int32", versions: "0+" },
    {
      name: "Results",
      type: "[]DeletableGroupResult",
      versions: "0+",
      fields: [
        { name: "GroupId", type: "string", versions: "0+" },
        { name: "ErrorCode", type: "int16", versions: "0+" },
        { name: "ErrorMessage", type: "string", versions: "3+", nullableVersions: "3+", default: "null" },
      ],
    },
  ],
};
