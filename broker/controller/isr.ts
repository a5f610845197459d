/**
 * ISR changes: those a leader asks for (Kafka's AlterPartition, a compare-and-set on the
 * partition epoch) and those the controller makes when brokers are fenced or shut down.
 */
import { KafkaError } from "../../protocol/errors.js";
import { type BrokerRegistration, NO_LEADER, type PartitionState } from "../metadata/cluster.js";
import { chooseLeader, eligible, type Liveness } from "./election.js";
import { changePartition } from "./partition-change.js";

/** One partition of an AlterPartition request: what its leader read and the ISR it wants. */
export interface AlterPartitionRequest {
  brokerId: number;
  /** The leader's registration epoch; -1 skips the check (as Kafka's older requests). */
  brokerEpoch: number;
  leaderEpoch: number;
  partitionEpoch: number;
  newIsr: readonly number[];
}

type Registrations = ReadonlyMap<number, Pick<BrokerRegistration, "epoch" | "shuttingDown">>;

/**
 * The state after a leader's ISR change, or the error refusing it. Checked in Kafka's order:
 * STALE_BROKER_EPOCH (the sender's registration is not the one it names); NOT_CONTROLLER (the
 * request carries epochs newer than this view: the view lags, ask again); FENCED_LEADER_EPOCH (an
 * older leader epoch); NOT_LEADER_OR_FOLLOWER (the sender does not lead); INVALID_UPDATE_VERSION
 * (an older partition epoch: the leader acted on a state that has changed since); INVALID_REQUEST
 * (an ISR with duplicates, non-replicas, or without the leader); INELIGIBLE_REPLICA (an added
 * member that is not registered or is shutting down). An unchanged ISR returns `current`.
 */
export function applyIsrChange(
  current: PartitionState,
  request: AlterPartitionRequest,
  brokers: Registrations,
): PartitionState | KafkaError {
  const registration = brokers.get(request.brokerId);
  if (request.brokerEpoch !== -1 && registration?.epoch !== request.brokerEpoch)
    return new KafkaError("STALE_BROKER_EPOCH", `broker ${request.brokerId} epoch ${request.brokerEpoch}`);
  if (request.leaderEpoch > current.leaderEpoch || request.partitionEpoch > current.partitionEpoch)
    return new KafkaError("NOT_CONTROLLER", "the request is newer than the controller's view");
  if (request.leaderEpoch < current.leaderEpoch)
    return new KafkaError(
      "FENCED_LEADER_EPOCH",
      `leader epoch ${request.leaderEpoch} < ${current.leaderEpoch}`,
    );
  if (request.brokerId !== current.leader)
    return new KafkaError("NOT_LEADER_OR_FOLLOWER", `broker ${request.brokerId} does not lead`);
  if (request.partitionEpoch < current.partitionEpoch)
    return new KafkaError(
      "INVALID_UPDATE_VERSION",
      `partition epoch ${request.partitionEpoch} < ${current.partitionEpoch}`,
    );
  const invalid = invalidIsr(current, request.newIsr);
  if (invalid) return new KafkaError("INVALID_REQUEST", invalid);
  const added = request.newIsr.filter((id) => !current.isr.includes(id));
  const ineligible = added.filter((id) => !registeredAndRunning(id, brokers));
  if (ineligible.length > 0)
    return new KafkaError("INELIGIBLE_REPLICA", `not registered or shutting down: ${ineligible}`);
  return changePartition(current, { isr: request.newIsr });
}

function invalidIsr(current: PartitionState, isr: readonly number[]): string | null {
  if (new Set(isr).size !== isr.length) return `ISR ${isr} names a broker twice`;
  const strangers = isr.filter((id) => !current.replicas.includes(id));
  if (strangers.length > 0) return `ISR members ${strangers} are not replicas`;
  if (!isr.includes(current.leader)) return `ISR ${isr} leaves out the leader ${current.leader}`;
  return null;
}

function registeredAndRunning(id: number, brokers: Registrations): boolean {
  const r = brokers.get(id);
  return r !== undefined && !r.shuttingDown;
}

/**
 * `state` with every ISR member that is not eligible (fenced, or shutting down) removed, except
 * that the ISR never becomes empty: the last member stays (the leader if it is one), so that no
 * election has to pick a replica that may miss acknowledged records. A leader that left the ISR
 * is replaced by `chooseLeader`, or NO_LEADER. A leader that is shutting down but live keeps
 * leading when no other member may take over (the controlled shutdown reports it).
 */
export function removeIneligible(state: PartitionState, brokers: Liveness): PartitionState {
  let isr = state.isr.filter((id) => eligible(id, brokers));
  if (isr.length === 0) {
    const keep = state.isr.includes(state.leader) ? state.leader : state.isr[0];
    isr = [keep];
  }
  const leaderGone =
    state.leader === NO_LEADER || !isr.includes(state.leader) || !eligible(state.leader, brokers);
  if (!leaderGone) return changePartition(state, { isr });
  const candidate = chooseLeader({ ...state, isr }, brokers);
  let leader = candidate;
  if (candidate === NO_LEADER)
    leader = brokers.live.has(state.leader) && isr.includes(state.leader) ? state.leader : NO_LEADER;
  return changePartition(state, { leader, isr });
}
