/**
 * AlterPartitionReassignments (key 45), v0 (KIP-455). Answered by any broker: the change is asked
 * through `broker.channel`, so a broker that is not the controller forwards it. Validation order:
 *   0. no ALTER on the cluster (ACLs) -> CLUSTER_AUTHORIZATION_FAILED as the top-level error and
 *      on every partition named, as Kafka's error response;
 *   1. each partition named once (its first entry counts, as api/distinct.ts);
 *   2. a partition this broker's view of the store does not hold -> UNKNOWN_TOPIC_OR_PARTITION,
 *      not asked of the controller;
 *   3. the controller starts, replaces or (replicas null) cancels each reassignment:
 *      INVALID_REPLICA_ASSIGNMENT (an empty target, a duplicate, a broker not registered, no
 *      in-sync replica staying), NO_REASSIGNMENT_IN_PROGRESS (a cancel with none), or 0. A target
 *      equal to the current replicas changes nothing and answers 0;
 *   4. timeoutMs bounds the wait: past it every partition asked gets REQUEST_TIMED_OUT (the change
 *      may still be made). A failure of the whole call is answered on every partition asked.
 * Past the ACL check the top-level error is 0: there is nothing but per-partition errors to report.
 */

import { KafkaError } from "../../protocol/errors.js";
import type {
  AlterPartitionReassignmentsRequestData,
  AlterPartitionReassignmentsResponseData,
} from "../../protocol/types/alter-partition-reassignments.js";
import type { ReassignmentRequest } from "../controller/controller.js";
import { onCluster } from "./authorized.js";
import {
  answerable,
  boundedWait,
  errorOf,
  groupByTopic,
  inAskedOrder,
  partitionExists,
  unknownPartition,
} from "./controller-calls.js";
import type { ApiHandler } from "./types.js";

interface Answer {
  topic: string;
  partition: number;
  error: KafkaError | null;
}

function encode(
  answers: readonly Answer[],
  top: KafkaError | null = null,
): AlterPartitionReassignmentsResponseData {
  return {
    throttleTimeMs: 0,
    ...errorOf(top),
    responses: groupByTopic(answers).map((t) => ({
      name: t.topic,
      partitions: t.results.map((r) => ({ partitionIndex: r.partition, ...errorOf(r.error) })),
    })),
  };
}

/** Each partition's first entry. */
function requested(request: AlterPartitionReassignmentsRequestData): ReassignmentRequest[] {
  const seen = new Set<string>();
  const out: ReassignmentRequest[] = [];
  for (const t of request.topics) {
    for (const p of t.partitions) {
      const key = `${p.partitionIndex}:${t.name}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ topic: t.name, partition: p.partitionIndex, replicas: p.replicas });
    }
  }
  return out;
}

export const alterPartitionReassignments: ApiHandler<
  AlterPartitionReassignmentsRequestData,
  AlterPartitionReassignmentsResponseData
> = {
  apiKey: 45,
  name: "AlterPartitionReassignments",
  minVersion: 0,
  maxVersion: 0,
  async handle(broker, request, ctx) {
    const asked = requested(request);
    if (!onCluster(ctx, "ALTER")) {
      const err = new KafkaError("CLUSTER_AUTHORIZATION_FAILED", "Authorization failed.");
      return encode(
        asked.map((r) => ({ topic: r.topic, partition: r.partition, error: err })),
        err,
      );
    }
    const known = asked.filter((r) => partitionExists(broker, r));
    const answers: Answer[] = asked
      .filter((r) => !partitionExists(broker, r))
      .map((r) => ({ topic: r.topic, partition: r.partition, error: unknownPartition(r) }));
    if (known.length > 0) {
      try {
        const results = await boundedWait(
          broker.channel.alterReassignments(known),
          request.timeoutMs,
          "the reassignment",
        );
        answers.push(...results);
      } catch (err) {
        const error = answerable(broker, err, "AlterPartitionReassignments");
        answers.push(...known.map((r) => ({ topic: r.topic, partition: r.partition, error })));
      }
    }
    return encode(inAskedOrder(asked, answers));
  },
};
