/**
 * ElectLeaders (key 43), v0-v2 (KIP-460; v0 has no ElectionType: preferred). Answered by any
 * broker: the election is asked through `broker.channel`, so a broker that is not the controller
 * forwards it. Validation order:
 *   0. no ALTER on the cluster (ACLs) -> CLUSTER_AUTHORIZATION_FAILED as the top-level error (v1+)
 *      and on every partition named, as Kafka;
 *   1. ElectionType (v1+) 0 (PREFERRED) or 1 (UNCLEAN), else INVALID_REQUEST as the top-level
 *      error (v1+) and on every partition named;
 *   2. each partition named once (as api/distinct.ts); one this broker's view of the store does not
 *      hold -> UNKNOWN_TOPIC_OR_PARTITION, not asked of the controller;
 *   3. the controller elects: per partition ELECTION_NOT_NEEDED (the leader already is the one the
 *      election would pick), PREFERRED_LEADER_NOT_AVAILABLE, ELIGIBLE_LEADERS_NOT_AVAILABLE, or 0;
 *   4. timeoutMs bounds the wait: past it every partition asked gets REQUEST_TIMED_OUT (the
 *      election may still happen). A failure of the whole call (no controller in time) is answered
 *      on every partition asked, and for null topicPartitions as the top-level error.
 * topicPartitions null: every partition that needs an election (those answering
 * ELECTION_NOT_NEEDED are left out, as Kafka does).
 */
import { KafkaError } from "../../protocol/errors.js";
import type {
  ElectLeadersRequestData,
  ElectLeadersResponseData,
  ReplicaElectionResult,
} from "../../protocol/types/elect-leaders.js";
import type { PartitionRef } from "../controller/election.js";
import { onCluster } from "./authorized.js";
import {
  answerable,
  boundedWait,
  distinctRefs,
  errorOf,
  groupByTopic,
  inAskedOrder,
  partitionExists,
  unknownPartition,
} from "./controller-calls.js";
import type { ApiHandler } from "./types.js";

const ELECTION_TYPES = ["PREFERRED", "UNCLEAN"] as const;

interface Answer extends PartitionRef {
  error: KafkaError | null;
}

function encode(answers: readonly Answer[], top: KafkaError | null): ElectLeadersResponseData {
  const replicaElectionResults: ReplicaElectionResult[] = groupByTopic(answers).map((t) => ({
    topic: t.topic,
    partitionResult: t.results.map((r) => ({ partitionId: r.partition, ...errorOf(r.error) })),
  }));
  return { throttleTimeMs: 0, errorCode: top?.errorCode ?? 0, replicaElectionResults };
}

function named(request: ElectLeadersRequestData): PartitionRef[] | null {
  if (request.topicPartitions === null) return null;
  return distinctRefs(
    request.topicPartitions,
    (t) => t.topic,
    (t) => t.partitions,
  );
}

export const electLeaders: ApiHandler<ElectLeadersRequestData, ElectLeadersResponseData> = {
  apiKey: 43,
  name: "ElectLeaders",
  minVersion: 0,
  maxVersion: 2,
  async handle(broker, request, ctx) {
    const asked = named(request);
    if (!onCluster(ctx, "ALTER")) {
      const err = new KafkaError("CLUSTER_AUTHORIZATION_FAILED", "Authorization failed.");
      return encode(
        (asked ?? []).map((ref) => ({ ...ref, error: err })),
        err,
      );
    }
    const type = ELECTION_TYPES[request.electionType ?? 0];
    if (type === undefined) {
      const err = new KafkaError("INVALID_REQUEST", `election type ${request.electionType} is not 0 or 1`);
      return encode(
        (asked ?? []).map((ref) => ({ ...ref, error: err })),
        err,
      );
    }
    const unknown = (asked ?? []).filter((ref) => !partitionExists(broker, ref));
    const known = asked?.filter((ref) => partitionExists(broker, ref)) ?? null;
    const answers: Answer[] = unknown.map((ref) => ({ ...ref, error: unknownPartition(ref) }));
    if (known?.length === 0) return encode(answers, null);
    try {
      const results = await boundedWait(
        broker.channel.electLeaders(type, known),
        request.timeoutMs,
        "the election",
      );
      return encode(known === null ? results : inAskedOrder(asked ?? [], [...answers, ...results]), null);
    } catch (err) {
      const error = answerable(broker, err, "ElectLeaders");
      if (known === null) return encode([], error);
      return encode(
        inAskedOrder(asked ?? [], [...answers, ...known.map((ref) => ({ ...ref, error }))]),
        null,
      );
    }
  },
};
