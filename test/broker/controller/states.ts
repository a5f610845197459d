/** Partition states and broker sets for the controller's unit tests. */
import type { Liveness } from "../../../broker/controller/election.js";
import type { PartitionState } from "../../../broker/metadata/cluster.js";

export function partition(
  fields: Partial<PartitionState> & Pick<PartitionState, "replicas">,
): PartitionState {
  return {
    partition: 0,
    isr: [...fields.replicas],
    leader: fields.replicas[0],
    leaderEpoch: 5,
    partitionEpoch: 9,
    addingReplicas: [],
    removingReplicas: [],
    ...fields,
  };
}

export function alive(live: number[], shuttingDown: number[] = []): Liveness {
  return { live: new Set(live), shuttingDown: new Set(shuttingDown) };
}
