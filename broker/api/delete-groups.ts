/**
 * DeleteGroups (key 42), v0-v3. Removes empty groups and their committed offsets (tombstones in
 * __consumer_offsets). Validation order, per group: no DELETE on it (ACLs) ->
 * GROUP_AUTHORIZATION_FAILED; empty id -> INVALID_GROUP_ID; its offsets
 * partition loading -> COORDINATOR_LOAD_IN_PROGRESS, not led here -> NOT_COORDINATOR; unknown ->
 * GROUP_ID_NOT_FOUND; members present -> NON_EMPTY_GROUP.
 */
import { errorCode } from "../../protocol/errors.js";
import type {
  DeleteGroupsRequestData,
  DeleteGroupsResponseData,
} from "../../protocol/types/delete-groups.js";
import { authorizedNames } from "./authorized.js";
import type { ApiHandler } from "./types.js";

export const deleteGroups: ApiHandler<DeleteGroupsRequestData, DeleteGroupsResponseData> = {
  apiKey: 42,
  name: "DeleteGroups",
  minVersion: 0,
  maxVersion: 3,
  async handle(broker, request, ctx) {
    const ids = request.groupsNames;
    const deletable = authorizedNames(ctx, "DELETE", "GROUP", ids);
    const deleted = await broker.offsets.deleteGroups(ids.filter((id) => deletable.has(id)));
    let next = 0;
    const errors = ids.map((id) => (deletable.has(id) ? deleted[next++] : "GROUP_AUTHORIZATION_FAILED"));
    return {
      throttleTimeMs: 0,
      results: ids.map((groupId, i) => ({
        groupId,
        errorCode: errors[i] ? errorCode(errors[i]) : 0,
        errorMessage: null,
      })),
    };
  },
};
