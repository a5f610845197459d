/**
 * Leader election: who may lead a partition, preferred and unclean elections (ElectLeaders), and
 * which preferred leaders the periodic rebalance restores.
 *
 * A clean leader is an ISR member that is alive (registered) and not shutting down, taken in the
 * order of the replica list, so the preferred replica (first) wins whenever it may lead. During a
 * reassignment the replicas being removed come last. An unclean leader (only with
 * `unclean.leader.election.enable`) is any such live replica, ISR or not: records acknowledged by
 * the old ISR may be lost, so its ISR becomes the new leader alone.
 */
import { KafkaError } from "../../protocol/errors.js";
import { NO_LEADER, type PartitionState, type TopicState } from "../metadata/cluster.js";
import { changePartition } from "./partition-change.js";

/** Which brokers are alive and which of them are shutting down. */
export interface Liveness {
  live: ReadonlySet<number>;
  shuttingDown: ReadonlySet<number>;
}

/** Whether `id` may lead or join an ISR: registered and not shutting down. */
export function eligible(id: number, brokers: Liveness): boolean {
  return brokers.live.has(id) && !brokers.shuttingDown.has(id);
}

/** The replicas in election order: the replica list, those being removed last. */
function electionOrder(state: PartitionState): number[] {
  const staying = state.replicas.filter((id) => !state.removingReplicas.includes(id));
  return [...staying, ...state.removingReplicas];
}

/**
 * The leader `state` should have: the first eligible ISR member in replica order; with `unclean`
 * and no such member, the first eligible replica; otherwise NO_LEADER.
 */
export function chooseLeader(state: PartitionState, brokers: Liveness, unclean = false): number {
  const order = electionOrder(state);
  const clean = order.find((id) => state.isr.includes(id) && eligible(id, brokers));
  if (clean !== undefined) return clean;
  if (!unclean) return NO_LEADER;
  return order.find((id) => eligible(id, brokers)) ?? NO_LEADER;
}

/**
 * `state` with the leader `chooseLeader` picks (epochs bumped if it differs). An unclean pick
 * becomes the whole ISR. NO_LEADER keeps the ISR as it is.
 */
export function electLeader(state: PartitionState, brokers: Liveness, unclean = false): PartitionState {
  const leader = chooseLeader(state, brokers, unclean);
  if (leader === NO_LEADER || state.isr.includes(leader)) return changePartition(state, { leader });
  return changePartition(state, { leader, isr: [leader] });
}

/**
 * ElectLeaders PREFERRED: the preferred replica leads. ELECTION_NOT_NEEDED if it already does,
 * PREFERRED_LEADER_NOT_AVAILABLE if it is not an eligible ISR member.
 */
export function electPreferred(state: PartitionState, brokers: Liveness): PartitionState | KafkaError {
  const preferred = state.replicas[0];
  if (state.leader === preferred) return new KafkaError("ELECTION_NOT_NEEDED");
  if (!state.isr.includes(preferred) || !eligible(preferred, brokers))
    return new KafkaError("PREFERRED_LEADER_NOT_AVAILABLE", `replica ${preferred} cannot lead now`);
  return changePartition(state, { leader: preferred });
}

/**
 * ElectLeaders UNCLEAN: a partition without a live leader gets one, from the ISR if it can, else
 * any eligible replica. ELECTION_NOT_NEEDED if it has a live leader, ELIGIBLE_LEADERS_NOT_AVAILABLE
 * if no replica is eligible.
 */
export function electUnclean(state: PartitionState, brokers: Liveness): PartitionState | KafkaError {
  if (state.leader !== NO_LEADER && brokers.live.has(state.leader))
    return new KafkaError("ELECTION_NOT_NEEDED");
  const next = electLeader(state, brokers, true);
  if (next.leader === NO_LEADER) return new KafkaError("ELIGIBLE_LEADERS_NOT_AVAILABLE");
  return next;
}

export interface PartitionRef {
  topic: string;
  partition: number;
}

/**
 * The partitions whose preferred leader the rebalance should restore: for every broker whose
 * share of preferred partitions it does not lead is above `imbalancePercentage`, those of its
 * partitions where it is an eligible ISR member (Kafka's leader.imbalance.per.broker.percentage).
 */
export function preferredElectionsDue(
  topics: readonly TopicState[],
  brokers: Liveness,
  imbalancePercentage: number,
): PartitionRef[] {
  const preferred = new Map<number, number>();
  const notLeading = new Map<number, number>();
  const electable = new Map<number, PartitionRef[]>();
  const add = (m: Map<number, number>, id: number) => m.set(id, (m.get(id) ?? 0) + 1);
  for (const topic of topics) {
    for (const state of topic.partitions) {
      const id = state.replicas[0];
      add(preferred, id);
      if (state.leader === id) continue;
      add(notLeading, id);
      if (!state.isr.includes(id) || !eligible(id, brokers)) continue;
      const list = electable.get(id) ?? [];
      list.push({ topic: topic.name, partition: state.partition });
      electable.set(id, list);
    }
  }
  const due: PartitionRef[] = [];
  for (const [id, list] of electable) {
    if ((notLeading.get(id)! * 100) / preferred.get(id)! > imbalancePercentage) due.push(...list);
  }
  return due;
}
