/**
 * DescribeGroups (key 15), v0-v6. A Stable group reports its protocol and each member's
 * subscription metadata and assignment; in other states members come without them (as Kafka).
 * An unknown group is reported as state "Dead" before v6 and GROUP_ID_NOT_FOUND from v6 (KIP-1043);
 * an empty group id -> INVALID_GROUP_ID; a group whose offsets partition is loading ->
 * COORDINATOR_LOAD_IN_PROGRESS, not led here -> NOT_COORDINATOR (state "Dead", as Kafka).
 * ACLs, as Kafka: before all of these, no DESCRIBE on the group -> GROUP_AUTHORIZATION_FAILED;
 * IncludeAuthorizedOperations (v3+) asks for the group's bit set (api/authorized.ts).
 * A group named more than once is answered once (api/distinct.ts).
 */
import { errorCode } from "../../protocol/errors.js";
import type {
  DescribedGroup,
  DescribeGroupsRequestData,
  DescribeGroupsResponseData,
} from "../../protocol/types/describe-groups.js";
import { EMPTY_ASSIGNMENT } from "../group/group.js";
import { authorizedOperations, OPERATIONS_OMITTED } from "./authorized.js";
import { distinct } from "./distinct.js";
import type { ApiHandler } from "./types.js";

export const describeGroups: ApiHandler<DescribeGroupsRequestData, DescribeGroupsResponseData> = {
  apiKey: 15,
  name: "DescribeGroups",
  minVersion: 0,
  maxVersion: 6,
  async handle(broker, request, ctx) {
    // A group named again is answered once.
    const groups = distinct(request.groups, (id) => id).map((id): DescribedGroup => {
      const base = {
        errorCode: 0,
        errorMessage: null,
        groupId: id,
        groupState: "Dead",
        protocolType: "",
        protocolData: "",
        members: [],
        authorizedOperations: OPERATIONS_OMITTED,
      };
      if (!ctx.authorize("DESCRIBE", "GROUP", id))
        return { ...base, errorCode: errorCode("GROUP_AUTHORIZATION_FAILED") };
      if (request.includeAuthorizedOperations)
        base.authorizedOperations = authorizedOperations(ctx, "GROUP", id);
      if (!id) return { ...base, errorCode: errorCode("INVALID_GROUP_ID") };
      const refused = broker.groups.coordinatorError(id);
      if (refused) return { ...base, errorCode: errorCode(refused) };
      const group = broker.groups.group(id);
      if (!group || group.state === "Dead") {
        return ctx.apiVersion >= 6
          ? { ...base, errorCode: errorCode("GROUP_ID_NOT_FOUND"), errorMessage: `group ${id} not found` }
          : base;
      }
      const stable = group.state === "Stable";
      return {
        ...base,
        groupState: group.state,
        protocolType: group.protocolType ?? "",
        protocolData: stable ? (group.protocolName ?? "") : "",
        members: [...group.members.values()].map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          memberMetadata: stable ? group.metadataFor(m, group.protocolName) : EMPTY_ASSIGNMENT,
          memberAssignment: stable ? m.assignment : EMPTY_ASSIGNMENT,
        })),
      };
    });
    return { throttleTimeMs: 0, groups };
  },
};
