/**
 * LeaveGroup (key 13), v0-v5; flexible from v4.
 *
 * Source: LeaveGroupRequest.json / LeaveGroupResponse.json in apache/kafka (3.x form). v3 replaces
 * the single MemberId with a batch of Members.
 */
import type { MessageSpec } from "../schema.js";

export const LeaveGroupRequest: MessageSpec = {
  apiKey: 13,
  type: "request",
  name: "LeaveGroupRequest",
  validVersions: "0-5",
  flexibleVersions: "4+",
  fields: [
    { name: "GroupId", type: "string", versions: "0+" },
    { name: "MemberId", type: "string", versions: "0-2" },
    {
      name: "Members",
      type: "[]MemberIdentity",
      versions: "3+",
      fields: [
        { name: "MemberId", type: "string", versions: "3+" },
        { name: "GroupInstanceId", type: "string", versions: "3+", nullableVersions: "3+", default: "null" },
        { name: "Reason", type: "string", versions: "5+", nullableVersions: "5+", default: "null" },
      ],
    },
  ],
};

export const LeaveGroupResponse: MessageSpec = {
  apiKey: 13,
  type: "response",
  name: "LeaveGroupResponse",
  validVersions: "0-5",
  flexibleVersions: "4+",
  fields: [
    { name: "ThrottleTimeMs", type: "int32", versions: "1+" },
    { name: "ErrorCode", type: "int16", versions: "0+" },
    {
      name: "Members",
      type: "[]MemberResponse",
      versions: "3+",
      fields: [
        { name: "MemberId", type: "string", versions: "3+" },
        { name: "GroupInstanceId", type: "string", versions: "3+", nullableVersions: "3+" },
        { name: "ErrorCode", type: "int16", versions: "3+" },
      ],
    },
  ],
};
