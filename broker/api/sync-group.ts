/**
 * SyncGroup (key 14), v0-v5. The leader's request carries every member's assignment; the answer
 * (to every member) comes once those are on every in-sync replica of __consumer_offsets (a
 * failure answers every waiting member as Kafka maps it: NOT_COORDINATOR when leadership moved,
 * else COORDINATOR_NOT_AVAILABLE).
 * Validation order: no READ on the group (ACLs) -> GROUP_AUTHORIZATION_FAILED; empty group id ->
 * INVALID_GROUP_ID; the group's offsets partition loading ->
 * COORDINATOR_LOAD_IN_PROGRESS, not led here -> NOT_COORDINATOR; unknown group or member ->
 * UNKNOWN_MEMBER_ID; a fenced static member -> FENCED_INSTANCE_ID; another generation ->
 * ILLEGAL_GENERATION; v5's protocol type or name not the group's -> INCONSISTENT_GROUP_PROTOCOL;
 * a group preparing a rebalance -> REBALANCE_IN_PROGRESS.
 */
import { errorCode } from "../../protocol/errors.js";
import type { SyncGroupRequestData, SyncGroupResponseData } from "../../protocol/types/sync-group.js";
import { EMPTY_ASSIGNMENT } from "../group/group.js";
import type { ApiHandler } from "./types.js";

export const syncGroup: ApiHandler<SyncGroupRequestData, SyncGroupResponseData> = {
  apiKey: 14,
  name: "SyncGroup",
  minVersion: 0,
  maxVersion: 5,
  async handle(broker, request, ctx) {
    if (!ctx.authorize("READ", "GROUP", request.groupId)) {
      return {
        throttleTimeMs: 0,
        errorCode: errorCode("GROUP_AUTHORIZATION_FAILED"),
        protocolType: null,
        protocolName: null,
        assignment: EMPTY_ASSIGNMENT,
      };
    }
    ctx.admit();
    const result = await broker.groups.sync({
      groupId: request.groupId,
      generationId: request.generationId,
      memberId: request.memberId,
      groupInstanceId: request.groupInstanceId ?? null,
      protocolType: request.protocolType ?? null,
      protocolName: request.protocolName ?? null,
      assignments: request.assignments.map((a) => ({
        memberId: a.memberId,
        assignment: a.assignment,
      })),
    });
    return {
      throttleTimeMs: 0,
      errorCode: result.errorCode,
      protocolType: result.protocolType,
      protocolName: result.protocolName,
      assignment: result.assignment,
    };
  },
};
