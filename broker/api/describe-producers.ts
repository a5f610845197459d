/**
 * DescribeProducers (key 61), v0 (Kafka 4's range).
 * Validation order, per topic and partition: no READ on the topic (ACLs) ->
 * TOPIC_AUTHORIZATION_FAILED, whether it exists or not (as Kafka); unknown ->
 * UNKNOWN_TOPIC_OR_PARTITION (with a message). Then every idempotent producer with state on the partition: its id, epoch and the last
 * sequence it wrote. samsa does not record batch timestamps in producer state, so LastTimestamp is
 * -1 (the field's default); transactions are not served, so CoordinatorEpoch and
 * CurrentTxnStartOffset are -1.
 * A partition named more than once is answered once (api/distinct.ts).
 */
import { errorCode } from "../../protocol/errors.js";
import type {
  DescribeProducersRequestData,
  DescribeProducersResponseData,
  ProducerState,
} from "../../protocol/types/describe-producers.js";
import type { Partition } from "../partition.js";
import { authorizedNames } from "./authorized.js";
import { distinctPartitions } from "./distinct.js";
import type { ApiHandler } from "./types.js";

function activeProducers(partition: Partition): ProducerState[] {
  return partition.producers.snapshot().map((p) => ({
    producerId: p.producerId,
    producerEpoch: p.epoch,
    lastSequence: p.batches.length > 0 ? p.batches[p.batches.length - 1].lastSeq : -1,
    lastTimestamp: -1,
    coordinatorEpoch: -1,
    currentTxnStartOffset: -1,
  }));
}

export const describeProducers: ApiHandler<DescribeProducersRequestData, DescribeProducersResponseData> = {
  apiKey: 61,
  name: "DescribeProducers",
  minVersion: 0,
  maxVersion: 0,
  async handle(broker, request, ctx) {
    // A partition named again is answered once.
    const topics = distinctPartitions(
      request.topics,
      (t) => t.name,
      (t) => t.partitionIndexes,
      (p) => p,
      (t, partitionIndexes) => ({ ...t, partitionIndexes }),
    );
    const readable = authorizedNames(
      ctx,
      "READ",
      "TOPIC",
      topics.map((t) => t.name),
    );
    return {
      throttleTimeMs: 0,
      topics: topics.map((t) => ({
        name: t.name,
        partitions: t.partitionIndexes.map((index) => {
          if (!readable.has(t.name)) {
            return {
              partitionIndex: index,
              errorCode: errorCode("TOPIC_AUTHORIZATION_FAILED"),
              errorMessage: null,
              activeProducers: [],
            };
          }
          const partition = broker.topics.partition(t.name, index);
          if (!partition) {
            return {
              partitionIndex: index,
              errorCode: errorCode("UNKNOWN_TOPIC_OR_PARTITION"),
              errorMessage: `no partition ${t.name}-${index}`,
              activeProducers: [],
            };
          }
          return {
            partitionIndex: index,
            errorCode: 0,
            errorMessage: null,
            activeProducers: activeProducers(partition),
          };
        }),
      })),
    };
  },
};
