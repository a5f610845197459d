/**
 * KIP-951: a partition refused because this broker does not lead it (NOT_LEADER_OR_FOLLOWER, and
 * for Fetch also FENCED_LEADER_EPOCH) carries the leader and leader epoch the cluster store names
 * (-1, -1 when it names none), and the response carries the endpoints of those leaders, so the
 * client goes to the new leader without a Metadata round trip. Produce v10+ and Fetch v16+.
 */
import { errorCode } from "../../protocol/errors.js";
import type { ClusterStore } from "../metadata/cluster.js";

export interface LeaderHint {
  leaderId: number;
  leaderEpoch: number;
}

export interface LeaderEndpoint {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
}

export const NOT_LEADER = errorCode("NOT_LEADER_OR_FOLLOWER");
export const FENCED_LEADER_EPOCH = errorCode("FENCED_LEADER_EPOCH");

/** The leader and leader epoch the store names for a partition (-1, -1: none, or no such partition). */
export function currentLeader(store: ClusterStore, topic: string, partition: number): LeaderHint {
  const state = store.topic(topic)?.partitions[partition];
  return state
    ? { leaderId: state.leader, leaderEpoch: state.leaderEpoch }
    : { leaderId: -1, leaderEpoch: -1 };
}

/** The registered endpoints of `hints`' leaders, each once, by node id. */
export function leaderEndpoints(store: ClusterStore, hints: Iterable<LeaderHint>): LeaderEndpoint[] {
  const ids = new Set<number>();
  for (const h of hints) if (h.leaderId >= 0) ids.add(h.leaderId);
  const out: LeaderEndpoint[] = [];
  for (const id of [...ids].sort((a, b) => a - b)) {
    const b = store.broker(id);
    if (b) out.push({ nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack });
  }
  return out;
}
