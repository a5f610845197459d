/**
 * ListPartitionReassignments (key 46), v0 (KIP-455). Answered by any broker through
 * `broker.channel` (a broker that is not the controller forwards it). Validation order:
 *   0. no DESCRIBE on the cluster (ACLs) -> CLUSTER_AUTHORIZATION_FAILED as the top-level error;
 *   1. topics null: every reassignment in progress;
 *   2. otherwise each partition named once; one this broker's view of the store does not hold
 *      -> UNKNOWN_TOPIC_OR_PARTITION as the top-level error naming it, and nothing listed (the
 *      response has no per-partition errors);
 *   3. the controller lists those of the named partitions that are being reassigned (replicas,
 *      adding and removing replicas); a partition not being reassigned is left out;
 *   4. timeoutMs bounds the wait (REQUEST_TIMED_OUT); a failure of the call is the top-level error.
 */
import { KafkaError } from "../../protocol/errors.js";
import type {
  ListPartitionReassignmentsRequestData,
  ListPartitionReassignmentsResponseData,
} from "../../protocol/types/list-partition-reassignments.js";
import type { OngoingReassignment } from "../controller/controller.js";
import { onCluster } from "./authorized.js";
import {
  answerable,
  boundedWait,
  distinctRefs,
  errorOf,
  groupByTopic,
  partitionExists,
} from "./controller-calls.js";
import type { ApiHandler } from "./types.js";

function encode(
  listed: readonly OngoingReassignment[],
  error: KafkaError | null,
): ListPartitionReassignmentsResponseData {
  return {
    throttleTimeMs: 0,
    ...errorOf(error),
    topics: groupByTopic(listed).map((t) => ({
      name: t.topic,
      partitions: t.results.map((r) => ({
        partitionIndex: r.partition,
        replicas: r.replicas,
        addingReplicas: r.addingReplicas,
        removingReplicas: r.removingReplicas,
      })),
    })),
  };
}

export const listPartitionReassignments: ApiHandler<
  ListPartitionReassignmentsRequestData,
  ListPartitionReassignmentsResponseData
> = {
  apiKey: 46,
  name: "ListPartitionReassignments",
  minVersion: 0,
  maxVersion: 0,
  async handle(broker, request, ctx) {
    if (!onCluster(ctx, "DESCRIBE"))
      return encode([], new KafkaError("CLUSTER_AUTHORIZATION_FAILED", "Authorization failed."));
    const asked =
      request.topics === null
        ? null
        : distinctRefs(
            request.topics,
            (t) => t.name,
            (t) => t.partitionIndexes,
          );
    const unknown = asked?.filter((ref) => !partitionExists(broker, ref)) ?? [];
    if (unknown.length > 0) {
      const names = unknown.map((ref) => `${ref.topic}-${ref.partition}`).join(", ");
      return encode([], new KafkaError("UNKNOWN_TOPIC_OR_PARTITION", `no such partition: ${names}`));
    }
    try {
      const listed = await boundedWait(
        broker.channel.listReassignments(asked),
        request.timeoutMs,
        "listing reassignments",
      );
      return encode(listed, null);
    } catch (err) {
      return encode([], answerable(broker, err, "ListPartitionReassignments"));
    }
  },
};
