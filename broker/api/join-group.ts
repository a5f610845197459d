/**
 * JoinGroup (key 11), v0-v9. v4+ make a new member ask twice (MEMBER_ID_REQUIRED hands out its
 * id); v5+ carry group.instance.id (static membership); v9's SkipAssignment tells a static leader
 * that rejoined a Stable group to keep the current assignment.
 * Validation order: no READ on the group (ACLs) -> GROUP_AUTHORIZATION_FAILED; then
 * broker/group/coordinator.ts: empty group id -> INVALID_GROUP_ID; the group's
 * offsets partition loading -> COORDINATOR_LOAD_IN_PROGRESS, not led here -> NOT_COORDINATOR
 * (`__consumer_offsets` is created first if it does not exist yet); session
 * timeout outside group.min/max.session.timeout.ms -> INVALID_SESSION_TIMEOUT; no protocol type
 * or protocols -> INCONSISTENT_GROUP_PROTOCOL; an unknown member id -> UNKNOWN_MEMBER_ID; a static
 * member id that lost its instance id -> FENCED_INSTANCE_ID; protocols that share none with the
 * group -> INCONSISTENT_GROUP_PROTOCOL; a full group -> GROUP_MAX_SIZE_REACHED. The answer comes
 * when the rebalance's join phase ends.
 */
import { errorCode } from "../../protocol/errors.js";
import type { JoinGroupRequestData, JoinGroupResponseData } from "../../protocol/types/join-group.js";
import type { ApiHandler } from "./types.js";

export const joinGroup: ApiHandler<JoinGroupRequestData, JoinGroupResponseData> = {
  apiKey: 11,
  name: "JoinGroup",
  minVersion: 0,
  maxVersion: 9,
  async handle(broker, request, ctx) {
    if (!ctx.authorize("READ", "GROUP", request.groupId)) {
      return {
        throttleTimeMs: 0,
        errorCode: errorCode("GROUP_AUTHORIZATION_FAILED"),
        generationId: -1,
        protocolType: null,
        protocolName: ctx.apiVersion >= 7 ? null : "",
        leader: "",
        skipAssignment: false,
        memberId: "",
        members: [],
      };
    }
    ctx.admit();
    const result = await broker.groups.join({
      groupId: request.groupId,
      sessionTimeoutMs: request.sessionTimeoutMs,
      rebalanceTimeoutMs: ctx.apiVersion >= 1 ? (request.rebalanceTimeoutMs ?? -1) : -1,
      memberId: request.memberId,
      groupInstanceId: request.groupInstanceId ?? null,
      protocolType: request.protocolType,
      protocols: request.protocols.map((p) => ({ name: p.name, metadata: p.metadata })),
      requireKnownMemberId: ctx.apiVersion >= 4,
      clientId: ctx.clientId ?? "",
      clientHost: ctx.clientHost,
    });
    return {
      throttleTimeMs: 0,
      errorCode: result.errorCode,
      generationId: result.generationId,
      protocolType: result.protocolType,
      // Before v7 the name is not nullable: an error carries "".
      protocolName: result.protocolName ?? (ctx.apiVersion >= 7 ? null : ""),
      leader: result.leader,
      skipAssignment: result.skipAssignment,
      memberId: result.memberId,
      members: result.members,
    };
  },
};
