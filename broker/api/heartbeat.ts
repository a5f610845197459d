/**
 * Heartbeat (key 12), v0-v4. Keeps a member's session alive and tells it when to rejoin.
 * Validation order: no READ on the group (ACLs) -> GROUP_AUTHORIZATION_FAILED; empty group id ->
 * INVALID_GROUP_ID; the group's offsets partition loading ->
 * COORDINATOR_LOAD_IN_PROGRESS, not led here -> NOT_COORDINATOR; unknown group or member ->
 * UNKNOWN_MEMBER_ID; a fenced static member -> FENCED_INSTANCE_ID; another generation ->
 * ILLEGAL_GENERATION; a group preparing a rebalance -> REBALANCE_IN_PROGRESS (the session is
 * still renewed).
 */
import { errorCode } from "../../protocol/errors.js";
import type { HeartbeatRequestData, HeartbeatResponseData } from "../../protocol/types/heartbeat.js";
import type { ApiHandler } from "./types.js";

export const heartbeat: ApiHandler<HeartbeatRequestData, HeartbeatResponseData> = {
  apiKey: 12,
  name: "Heartbeat",
  minVersion: 0,
  maxVersion: 4,
  async handle(broker, request, ctx) {
    if (!ctx.authorize("READ", "GROUP", request.groupId))
      return { throttleTimeMs: 0, errorCode: errorCode("GROUP_AUTHORIZATION_FAILED") };
    const error = broker.groups.heartbeat(
      request.groupId,
      request.generationId,
      request.memberId,
      request.groupInstanceId ?? null,
    );
    return { throttleTimeMs: 0, errorCode: error ? errorCode(error) : 0 };
  },
};
