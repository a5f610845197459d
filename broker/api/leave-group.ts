/**
 * LeaveGroup (key 13), v0-v5. v0-v2 remove one member (its error is the top-level one); v3+
 * remove a batch, each with its own error, found by member id or by group.instance.id.
 * Validation order: no READ on the group (ACLs) -> GROUP_AUTHORIZATION_FAILED (top-level); the
 * group's offsets partition loading -> COORDINATOR_LOAD_IN_PROGRESS, not led
 * here -> NOT_COORDINATOR (top-level, as Kafka's error response); then per member: unknown group
 * or member -> UNKNOWN_MEMBER_ID; an instance id held by another member id -> FENCED_INSTANCE_ID.
 * A removed member triggers a rebalance.
 */
import { errorCode } from "../../protocol/errors.js";
import type { LeaveGroupRequestData, LeaveGroupResponseData } from "../../protocol/types/leave-group.js";
import type { ApiHandler } from "./types.js";

export const leaveGroup: ApiHandler<LeaveGroupRequestData, LeaveGroupResponseData> = {
  apiKey: 13,
  name: "LeaveGroup",
  minVersion: 0,
  maxVersion: 5,
  async handle(broker, request, ctx) {
    if (!ctx.authorize("READ", "GROUP", request.groupId))
      return { throttleTimeMs: 0, errorCode: errorCode("GROUP_AUTHORIZATION_FAILED"), members: [] };
    if (ctx.apiVersion < 3) {
      const [error] = broker.groups.leave(request.groupId, [
        { memberId: request.memberId ?? "", groupInstanceId: null },
      ]);
      return { throttleTimeMs: 0, errorCode: error ? errorCode(error) : 0 };
    }
    const refused = request.groupId ? broker.groups.coordinatorError(request.groupId) : null;
    if (refused) return { throttleTimeMs: 0, errorCode: errorCode(refused), members: [] };
    const members = request.members ?? [];
    const errors = request.groupId
      ? broker.groups.leave(
          request.groupId,
          members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId ?? null })),
        )
      : members.map(() => "INVALID_GROUP_ID" as const);
    return {
      throttleTimeMs: 0,
      errorCode: 0,
      members: members.map((m, i) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId ?? null,
        errorCode: errors[i] ? errorCode(errors[i]) : 0,
      })),
    };
  },
};
