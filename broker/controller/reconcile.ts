/**
 * What the controller does to a partition when brokers come, go or start shutting down: the
 * state the partition should have given who is alive, as one change of epochs.
 */
import { NO_LEADER, type PartitionState } from "../metadata/cluster.js";
import { electLeader, type Liveness } from "./election.js";
import { removeIneligible } from "./isr.js";
import { squash } from "./partition-change.js";
import { completeReassignment } from "./reassignment.js";

/**
 * Fenced and shutting-down brokers leave the ISR (the last member stays) and their leaderships
 * move to eligible ISR members; a leaderless partition whose ISR member is back gets it as leader,
 * or with `unclean` any eligible replica; a reassignment whose replicas are all in sync completes.
 * Returns `state` itself when nothing needs to change.
 */
export function reconcilePartition(
  state: PartitionState,
  brokers: Liveness,
  unclean = false,
): PartitionState {
  let next = removeIneligible(state, brokers);
  if (next.leader === NO_LEADER && unclean) next = electLeader(next, brokers, true);
  next = completeReassignment(next, brokers);
  return squash(state, next);
}
