/**
 * The one way the controller changes a partition's state: `changePartition` applies a change and
 * bumps the epochs as Kafka does (a new leader bumps the leader epoch; any change bumps the
 * partition epoch), then asserts the state's invariants. Every decision function builds its
 * result through it, so no path can change a leader without a new epoch.
 */
import { NO_LEADER, type PartitionState } from "../metadata/cluster.js";

export interface PartitionChange {
  leader?: number;
  isr?: readonly number[];
  replicas?: readonly number[];
  addingReplicas?: readonly number[];
  removingReplicas?: readonly number[];
  /**
   * Bump the leader epoch even though the leader stays: the leader was fenced and came back (a
   * restart), so its old epoch must not cover records written after it (see `squash`).
   */
  newLeaderEpoch?: boolean;
}

/**
 * `current` with `change` applied: the partition epoch is one larger when anything changed, the
 * leader epoch one larger when the leader changed or `change.newLeaderEpoch` asks for it. Returns `current` itself when nothing changes
 * (an ISR with the same members in another order is no change). Throws on a broken invariant.
 */
export function changePartition(current: PartitionState, change: PartitionChange): PartitionState {
  const next: PartitionState = {
    partition: current.partition,
    replicas: [...(change.replicas ?? current.replicas)],
    isr: [...(change.isr ?? current.isr)],
    leader: change.leader ?? current.leader,
    leaderEpoch: current.leaderEpoch,
    partitionEpoch: current.partitionEpoch,
    addingReplicas: [...(change.addingReplicas ?? current.addingReplicas)],
    removingReplicas: [...(change.removingReplicas ?? current.removingReplicas)],
  };
  const leaderChanged = next.leader !== current.leader || change.newLeaderEpoch === true;
  const unchanged =
    !leaderChanged &&
    sameMembers(next.isr, current.isr) &&
    sameOrder(next.replicas, current.replicas) &&
    sameMembers(next.addingReplicas, current.addingReplicas) &&
    sameMembers(next.removingReplicas, current.removingReplicas);
  if (unchanged) return current;
  next.partitionEpoch = current.partitionEpoch + 1;
  if (leaderChanged) next.leaderEpoch = current.leaderEpoch + 1;
  assertValid(next);
  return next;
}

/** Throws if `state` breaks an invariant of the model (a bug in the controller, never input). */
export function assertValid(state: PartitionState): void {
  const fail = (why: string) => {
    throw new Error(`controller: invalid state of partition ${state.partition}: ${why}`);
  };
  if (state.replicas.length === 0) fail("no replicas");
  if (hasDuplicates(state.replicas)) fail(`duplicate replicas ${state.replicas}`);
  if (hasDuplicates(state.isr)) fail(`duplicate ISR members ${state.isr}`);
  if (state.isr.length === 0) fail("empty ISR");
  for (const id of state.isr) if (!state.replicas.includes(id)) fail(`ISR member ${id} is no replica`);
  for (const id of [...state.addingReplicas, ...state.removingReplicas])
    if (!state.replicas.includes(id)) fail(`reassigned ${id} is no replica`);
  if (state.leader !== NO_LEADER && !state.isr.includes(state.leader))
    fail(`leader ${state.leader} outside the ISR ${state.isr}`);
}

export function sameMembers(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((id) => b.includes(id));
}

function sameOrder(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((id, i) => b[i] === id);
}

function hasDuplicates(ids: readonly number[]): boolean {
  return new Set(ids).size !== ids.length;
}

/**
 * `final` (reached from `current` through several changes) as one change of `current`: the
 * epochs move once, as if it were decided in one step, which it is (one store write). The leader
 * epoch moves when any step changed the leader, even if the last step gave it back: a leader
 * fenced (-1) and elected again is a new term, as Kafka's passage through -1 makes it, so a
 * follower that copied the old term's tail truncates it against the new one.
 */
export function squash(current: PartitionState, final: PartitionState): PartitionState {
  return changePartition(current, {
    leader: final.leader,
    isr: final.isr,
    replicas: final.replicas,
    addingReplicas: final.addingReplicas,
    removingReplicas: final.removingReplicas,
    newLeaderEpoch: final.leaderEpoch !== current.leaderEpoch,
  });
}
