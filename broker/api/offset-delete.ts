/**
 * OffsetDelete (key 47), v0. Removes a group's committed offsets of some partitions.
 * Validation order: empty id -> INVALID_GROUP_ID; the group's offsets partition loading ->
 * COORDINATOR_LOAD_IN_PROGRESS, not led here -> NOT_COORDINATOR; unknown group -> GROUP_ID_NOT_FOUND; a
 * non-empty group of another protocol type than "consumer" -> NON_EMPTY_GROUP (top-level); then
 * per partition an unknown topic or partition -> UNKNOWN_TOPIC_OR_PARTITION and a topic that a
 * member subscribes to -> GROUP_SUBSCRIBED_TO_TOPIC.
 */
import { errorCode } from "../../protocol/errors.js";
import type {
  OffsetDeleteRequestData,
  OffsetDeleteResponseData,
} from "../../protocol/types/offset-delete.js";
import type { ApiHandler } from "./types.js";

export const offsetDelete: ApiHandler<OffsetDeleteRequestData, OffsetDeleteResponseData> = {
  apiKey: 47,
  name: "OffsetDelete",
  minVersion: 0,
  maxVersion: 0,
  async handle(broker, request) {
    const asked = request.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => p.partitionIndex),
    }));
    const result = await broker.offsets.deleteOffsets(request.groupId, asked);
    return {
      errorCode: result.error ? errorCode(result.error) : 0,
      throttleTimeMs: 0,
      topics: result.error
        ? []
        : asked.map((t, ti) => ({
            name: t.name,
            partitions: t.partitions.map((p, pi) => {
              const e = result.partitions[ti][pi];
              return { partitionIndex: p, errorCode: e ? errorCode(e) : 0 };
            }),
          })),
    };
  },
};
