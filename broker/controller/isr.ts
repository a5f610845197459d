/**
 * ISR changes: those a leader asks for (Kafka's AlterPartition, a compare-and-set on the
 * partition epoch) and those the controller makes when brokers are fenced or shut down.
 */
import { KafkaError } from "../../protocol/errors.js";
import { type BrokerRegistration, NO_LEADER, type PartitionState } from "../metadata/cluster.js";
import { chooseLeader, eligible, type Liveness } from "./election.js";
import { changePartition } from "./partition-change.js";

/** A member of a requested ISR with the registration epoch its leader saw it fetch with (KIP-903). */
export interface IsrMember {
  brokerId: number;
  /** -1: unknown (requests before AlterPartition v3); only the member's liveness is checked. */
  brokerEpoch: number;
}

/** One partition of an AlterPartition request: what its leader read and the ISR it wants. */
export interface AlterPartitionRequest {
  brokerId: number;
  /** The leader's registration epoch; -1 skips the check (as Kafka's older requests). */
  brokerEpoch: number;
  leaderEpoch: number;
  partitionEpoch: number;
  /** The ISR wanted (AlterPartition v0-2); ignored when `newIsrWithEpochs` is given. */
  newIsr?: readonly number[];
  /** The ISR wanted with each member's broker epoch (AlterPartition v3+, KIP-903). */
  newIsrWithEpochs?: readonly IsrMember[];
}

/** The requested ISR's members, with epoch -1 where the request version carries none. */
export function requestedIsr(request: AlterPartitionRequest): IsrMember[] {
  if (request.newIsrWithEpochs) return request.newIsrWithEpochs.map((m) => ({ ...m }));
  return (request.newIsr ?? []).map((brokerId) => ({ brokerId, brokerEpoch: -1 }));
}

type Registrations = ReadonlyMap<number, Pick<BrokerRegistration, "epoch" | "shuttingDown">>;

/**
 * The state after a leader's ISR change, or the error refusing it. Checked in Kafka's order:
 * STALE_BROKER_EPOCH (the sender's registration is not the one it names); NOT_CONTROLLER (the
 * request carries epochs newer than this view: the view lags, ask again); FENCED_LEADER_EPOCH (an
 * older leader epoch); NOT_LEADER_OR_FOLLOWER (the sender does not lead); INVALID_UPDATE_VERSION
 * (an older partition epoch: the leader acted on a state that has changed since); INVALID_REQUEST
 * (an ISR with duplicates, non-replicas, or without the leader); INELIGIBLE_REPLICA (a member
 * whose broker epoch is given and is not its live registration's, as KIP-903: a replica that
 * restarted, lost its tail and was counted caught up on its old self's progress; or an added
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
  const members = requestedIsr(request);
  const newIsr = members.map((m) => m.brokerId);
  const invalid = invalidIsr(current, newIsr);
  if (invalid) return new KafkaError("INVALID_REQUEST", invalid);
  const stale = members.filter(
    (m) => m.brokerEpoch !== -1 && brokers.get(m.brokerId)?.epoch !== m.brokerEpoch,
  );
  if (stale.length > 0)
    return new KafkaError(
      "INELIGIBLE_REPLICA",
      `broker epochs not registered: ${stale.map((m) => `${m.brokerId}@${m.brokerEpoch}`)}`,
    );
  const added = newIsr.filter((id) => !current.isr.includes(id));
  const ineligible = added.filter((id) => !registeredAndRunning(id, brokers));
  if (ineligible.length > 0)
    return new KafkaError("INELIGIBLE_REPLICA", `not registered or shutting down: ${ineligible}`);
  return changePartition(current, { isr: newIsr });
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
