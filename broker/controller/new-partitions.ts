/**
 * The first state of new partitions (CreateTopics, CreatePartitions) and new topic ids.
 */
import { randomBytes } from "node:crypto";
import { KafkaError } from "../../protocol/errors.js";
import type { PartitionState } from "../metadata/cluster.js";
import { eligible, type Liveness } from "./election.js";
import { assertValid } from "./partition-change.js";

/**
 * One state per replica list, numbered from `firstPartition`: the ISR is the replicas that are
 * registered and not shutting down, the leader the first of them; epochs start at 0. Throws
 * INVALID_REPLICA_ASSIGNMENT when no replica of a partition may lead.
 */
export function newPartitionStates(
  assignment: readonly (readonly number[])[],
  firstPartition: number,
  brokers: Liveness,
): PartitionState[] {
  return assignment.map((replicas, i) => {
    const partition = firstPartition + i;
    const isr = replicas.filter((id) => eligible(id, brokers));
    if (isr.length === 0)
      throw new KafkaError("INVALID_REPLICA_ASSIGNMENT", `no replica of partition ${partition} is running`);
    const state: PartitionState = {
      partition,
      replicas: [...replicas],
      isr,
      leader: isr[0],
      leaderEpoch: 0,
      partitionEpoch: 0,
      addingReplicas: [],
      removingReplicas: [],
    };
    assertValid(state);
    return state;
  });
}

/** Random draws before giving up on a fresh topic id (one collision in 2^128 is already news). */
const TOPIC_ID_DRAWS_MAX = 8;

/** A random topic id (32 hex digits), never the null id nor one `taken` says is in use. */
export function newTopicId(taken: (id: string) => boolean): string {
  for (let draw = 0; draw < TOPIC_ID_DRAWS_MAX; draw++) {
    const id = randomBytes(16).toString("hex");
    if (!/^0+$/.test(id) && !taken(id)) return id;
  }
  throw new KafkaError("UNKNOWN_SERVER_ERROR", "no fresh topic id drawn");
}
