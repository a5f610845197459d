/**
 * Partition reassignment as KIP-455 has it. Starting one makes the replica list the union of the
 * target and the original replicas (target first, so the target's preferred leader is first),
 * with `addingReplicas` = target - original and `removingReplicas` = original - target. The new
 * replicas fetch and join the ISR through their leader's AlterPartition; once every adding
 * replica is in the ISR, the reassignment completes: replicas = target, the removed ones leave the
 * ISR, and a leader being removed hands over. Cancelling restores the original replicas.
 */
import { KafkaError } from "../../protocol/errors.js";
import type { PartitionState } from "../metadata/cluster.js";
import { chooseLeader, type Liveness } from "./election.js";
import { changePartition } from "./partition-change.js";
import { validateAssignment } from "./placement.js";

export function reassigning(state: PartitionState): boolean {
  return state.addingReplicas.length > 0 || state.removingReplicas.length > 0;
}

/** The replicas before the reassignment in progress (all of them when none is). */
export function originalReplicas(state: PartitionState): number[] {
  return state.replicas.filter((id) => !state.addingReplicas.includes(id));
}

/** The replicas the reassignment in progress moves to (all of them when none is). */
export function targetReplicas(state: PartitionState): number[] {
  return state.replicas.filter((id) => !state.removingReplicas.includes(id));
}

/**
 * Starts (or replaces) a reassignment of `state` to `target`, then completes it at once if it
 * may (a target within the ISR). A target equal to the original replicas cancels any reassignment
 * in progress. Throws INVALID_REPLICA_ASSIGNMENT for an empty target, a duplicate, or a broker
 * that is not registered.
 */
export function startReassignment(
  state: PartitionState,
  target: readonly number[],
  brokers: Liveness,
): PartitionState {
  validateAssignment([target], brokers.live);
  const original = originalReplicas(state);
  const adding = target.filter((id) => !original.includes(id));
  const removing = original.filter((id) => !target.includes(id));
  if (adding.length === 0 && removing.length === 0 && sameOrder(original, target))
    return cancelReassignment(state, brokers, true);
  const replicas = [...target, ...removing];
  // Replicas a replaced reassignment was adding, and the target drops, leave at once.
  const isr = state.isr.filter((id) => replicas.includes(id));
  if (isr.length === 0)
    throw new KafkaError("INVALID_REPLICA_ASSIGNMENT", `no in-sync replica of ${state.isr} stays`);
  const moved = { ...state, replicas, isr, addingReplicas: adding, removingReplicas: removing };
  const leader = isr.includes(state.leader) ? state.leader : chooseLeader(moved, brokers);
  const next = changePartition(state, {
    replicas,
    isr,
    leader,
    addingReplicas: adding,
    removingReplicas: removing,
  });
  return completeReassignment(next, brokers);
}

/**
 * Completes the reassignment in progress once every adding replica is in the ISR and the ISR
 * keeps a member of the target; otherwise returns `state`.
 */
export function completeReassignment(state: PartitionState, brokers: Liveness): PartitionState {
  if (!reassigning(state)) return state;
  if (!state.addingReplicas.every((id) => state.isr.includes(id))) return state;
  const target = targetReplicas(state);
  const isr = state.isr.filter((id) => target.includes(id));
  if (isr.length === 0) return state;
  const done = { ...state, replicas: target, isr, addingReplicas: [], removingReplicas: [] };
  let leader = state.leader;
  if (!isr.includes(leader)) leader = chooseLeader(done, brokers);
  return changePartition(state, { replicas: target, isr, leader, addingReplicas: [], removingReplicas: [] });
}

/**
 * Cancels the reassignment in progress: back to the original replicas; adding replicas leave the
 * ISR (unless that would empty it) and a leader among them hands over. Throws
 * NO_REASSIGNMENT_IN_PROGRESS when there is none, unless `quiet`.
 */
export function cancelReassignment(state: PartitionState, brokers: Liveness, quiet = false): PartitionState {
  if (!reassigning(state)) {
    if (quiet) return state;
    throw new KafkaError("NO_REASSIGNMENT_IN_PROGRESS");
  }
  const replicas = originalReplicas(state);
  const kept = state.isr.filter((id) => replicas.includes(id));
  if (kept.length === 0) return state;
  const back = { ...state, replicas, isr: kept, addingReplicas: [], removingReplicas: [] };
  const leader = kept.includes(state.leader) ? state.leader : chooseLeader(back, brokers);
  return changePartition(state, { replicas, isr: kept, leader, addingReplicas: [], removingReplicas: [] });
}

function sameOrder(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((id, i) => b[i] === id);
}
