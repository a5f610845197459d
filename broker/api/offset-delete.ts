/**
 * OffsetDelete (key 47), v0. Removes a group's committed offsets of some partitions.
 * Validation order: no DELETE on the group (ACLs) -> GROUP_AUTHORIZATION_FAILED (top-level); per
 * topic, no READ on it -> TOPIC_AUTHORIZATION_FAILED on each of its partitions (as Kafka, before
 * the group is looked at; those partitions are left alone); empty id -> INVALID_GROUP_ID; the group's offsets partition loading ->
 * COORDINATOR_LOAD_IN_PROGRESS, not led here -> NOT_COORDINATOR; unknown group -> GROUP_ID_NOT_FOUND; a
 * non-empty group of another protocol type than "consumer" -> NON_EMPTY_GROUP (top-level); then
 * per partition an unknown topic or partition -> UNKNOWN_TOPIC_OR_PARTITION and a topic that a
 * member subscribes to -> GROUP_SUBSCRIBED_TO_TOPIC.
 */
import { type ErrorName, errorCode } from "../../protocol/errors.js";
import type {
  OffsetDeleteRequestData,
  OffsetDeleteResponseData,
} from "../../protocol/types/offset-delete.js";
import { authorizedNames } from "./authorized.js";
import type { ApiHandler } from "./types.js";

export const offsetDelete: ApiHandler<OffsetDeleteRequestData, OffsetDeleteResponseData> = {
  apiKey: 47,
  name: "OffsetDelete",
  minVersion: 0,
  maxVersion: 0,
  async handle(broker, request, ctx) {
    if (!ctx.authorize("DELETE", "GROUP", request.groupId))
      return { errorCode: errorCode("GROUP_AUTHORIZATION_FAILED"), throttleTimeMs: 0, topics: [] };
    const asked = request.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => p.partitionIndex),
    }));
    const readable = authorizedNames(
      ctx,
      "READ",
      "TOPIC",
      asked.map((t) => t.name),
    );
    const allowed = asked.filter((t) => readable.has(t.name));
    const result = await broker.offsets.deleteOffsets(request.groupId, allowed);
    let next = 0;
    const errorsOf = (t: { name: string; partitions: number[] }): (ErrorName | null)[] =>
      readable.has(t.name) ? result.partitions[next++] : t.partitions.map(() => "TOPIC_AUTHORIZATION_FAILED");
    return {
      errorCode: result.error ? errorCode(result.error) : 0,
      throttleTimeMs: 0,
      topics: result.error
        ? []
        : asked.map((t) => {
            const errors = errorsOf(t);
            return {
              name: t.name,
              partitions: t.partitions.map((p, pi) => ({
                partitionIndex: p,
                errorCode: errors[pi] ? errorCode(errors[pi]) : 0,
              })),
            };
          }),
    };
  },
};
