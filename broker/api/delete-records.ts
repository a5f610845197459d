/**
 * DeleteRecords (key 21), v0-v2 (Kafka 4's range).
 * Validation order, per topic and partition: no DELETE on the topic (ACLs) ->
 * TOPIC_AUTHORIZATION_FAILED, whether it exists or not; an internal topic -> INVALID_TOPIC_EXCEPTION (as
 * Kafka: __consumer_offsets is the broker's); unknown -> UNKNOWN_TOPIC_OR_PARTITION; offset -1
 * means the high watermark, any other negative offset or one beyond the high watermark ->
 * OFFSET_OUT_OF_RANGE; a topic whose cleanup.policy lacks `delete` -> POLICY_VIOLATION. Then the
 * log start offset moves up (never down) and is checkpointed before the answer, which carries the
 * new log start offset as LowWatermark (-1 on error). Fetches below it get OFFSET_OUT_OF_RANGE and
 * ListOffsets earliest answers it. TimeoutMs only matters with followers (none yet). An offset
 * beyond +-2^53 (decoded as a bigint) is OFFSET_OUT_OF_RANGE: no log reaches it.
 * A partition named more than once is answered once, for its first offset (api/distinct.ts).
 */
import { errorCode, KafkaError } from "../../protocol/errors.js";
import type { Int64 } from "../../protocol/reader.js";
import type {
  DeleteRecordsPartitionResult,
  DeleteRecordsRequestData,
  DeleteRecordsResponseData,
  DeleteRecordsTopicResult,
} from "../../protocol/types/delete-records.js";
import type { Broker } from "../broker.js";
import { isInternalTopic } from "../topics.js";
import { authorizedNames } from "./authorized.js";
import { distinctPartitions } from "./distinct.js";
import type { ApiHandler } from "./types.js";

/** `offset` as a number; a bigint one (beyond 2^53) is out of range of any existing partition. */
function safeOffset(broker: Broker, topic: string, partition: number, offset: Int64): number {
  if (typeof offset === "number") return offset;
  const record = broker.store.topic(topic);
  if (!record || partition < 0 || partition >= record.partitions.length) {
    throw new KafkaError("UNKNOWN_TOPIC_OR_PARTITION", `${topic}-${partition} does not exist`);
  }
  throw new KafkaError("OFFSET_OUT_OF_RANGE", `offset ${offset} is beyond any log`);
}

export const deleteRecords: ApiHandler<DeleteRecordsRequestData<Int64>, DeleteRecordsResponseData> = {
  apiKey: 21,
  name: "DeleteRecords",
  minVersion: 0,
  maxVersion: 2,
  wideInt64: true,
  async handle(broker, request, ctx) {
    // A partition named again is answered once (its first occurrence).
    const topics = distinctPartitions(
      request.topics,
      (t) => t.name,
      (t) => t.partitions,
      (p) => p.partitionIndex,
      (t, partitions) => ({ ...t, partitions }),
    );
    const deletable = authorizedNames(
      ctx,
      "DELETE",
      "TOPIC",
      topics.map((t) => t.name),
    );
    const out: DeleteRecordsTopicResult[] = [];
    for (const t of topics) {
      const partitions: DeleteRecordsPartitionResult[] = [];
      for (const p of t.partitions) {
        const result = { partitionIndex: p.partitionIndex, lowWatermark: -1, errorCode: 0 };
        try {
          if (!deletable.has(t.name))
            throw new KafkaError("TOPIC_AUTHORIZATION_FAILED", "Authorization failed.");
          if (isInternalTopic(t.name)) {
            throw new KafkaError("INVALID_TOPIC_EXCEPTION", `${t.name} is an internal topic`);
          }
          result.lowWatermark = await broker.topics.deleteRecords(
            t.name,
            p.partitionIndex,
            safeOffset(broker, t.name, p.partitionIndex, p.offset),
          );
        } catch (err) {
          if (!KafkaError.is(err)) throw err;
          result.errorCode = errorCode(err.code);
        }
        partitions.push(result);
      }
      out.push({ name: t.name, partitions });
    }
    return { throttleTimeMs: 0, topics: out };
  },
};
