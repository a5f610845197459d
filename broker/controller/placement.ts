/**
 * Replica placement for new topics and partitions, and the checks of manual assignments.
 *
 * `assignReplicas` is greedy and load-aware: partition by partition, the preferred leader is the
 * broker leading the fewest partitions (then holding the fewest replicas), and each follower the
 * broker holding the fewest replicas on a rack this partition does not use yet, while such a rack
 * remains (Kafka's rack-aware rule: replicas of a partition on distinct racks while racks allow).
 * Among followers as loaded, the one that followed this leader least wins, so a failed leader's
 * partitions spread over several brokers. Remaining ties go to the broker first in an order rotated by `start + partition`, so the preferred leaders
 * of consecutive partitions rotate over the brokers. Brokers without a rack share one rack, as in
 * Kafka's KRaft placer. With the existing load counted, partitions added later keep the balance.
 */
import { KafkaError } from "../../protocol/errors.js";

export interface PlacementBroker {
  nodeId: number;
  rack: string | null;
}

/** Replicas and preferred leaderships a broker already holds. */
export interface BrokerLoad {
  replicas: number;
  leaders: number;
}

/**
 * Replica lists, preferred leader first, for `partitionCount` partitions. Throws
 * INVALID_REPLICATION_FACTOR when `replicationFactor` is below 1 or above the broker count,
 * INVALID_PARTITIONS when `partitionCount` is below 1.
 */
export function assignReplicas(
  brokers: readonly PlacementBroker[],
  partitionCount: number,
  replicationFactor: number,
  load: ReadonlyMap<number, BrokerLoad> = new Map(),
  start = 0,
): number[][] {
  if (!Number.isInteger(replicationFactor) || replicationFactor < 1)
    throw new KafkaError("INVALID_REPLICATION_FACTOR", `replication factor ${replicationFactor} is below 1`);
  if (replicationFactor > brokers.length)
    throw new KafkaError(
      "INVALID_REPLICATION_FACTOR",
      `replication factor ${replicationFactor} is larger than the ${brokers.length} available brokers`,
    );
  if (!Number.isInteger(partitionCount) || partitionCount < 1)
    throw new KafkaError("INVALID_PARTITIONS", `partition count ${partitionCount} is below 1`);
  const sorted = [...brokers].sort((a, b) => a.nodeId - b.nodeId);
  const counts = new Map<number, BrokerLoad>();
  for (const b of sorted) counts.set(b.nodeId, { ...(load.get(b.nodeId) ?? { replicas: 0, leaders: 0 }) });
  // How often each broker followed each leader: spreads a failed leader's partitions.
  const pairs = new Map<string, number>();
  const out: number[][] = [];
  for (let p = 0; p < partitionCount; p++) {
    const order = rotate(sorted, start + p);
    const replicas = placePartition(order, replicationFactor, counts, pairs);
    counts.get(replicas[0])!.leaders++;
    for (const id of replicas) counts.get(id)!.replicas++;
    for (const id of replicas.slice(1))
      pairs.set(`${replicas[0]}:${id}`, (pairs.get(`${replicas[0]}:${id}`) ?? 0) + 1);
    out.push(replicas);
  }
  return out;
}

function placePartition(
  order: readonly PlacementBroker[],
  replicationFactor: number,
  counts: ReadonlyMap<number, BrokerLoad>,
  pairs: ReadonlyMap<string, number>,
): number[] {
  const leader = least(order, (b) => [counts.get(b.nodeId)!.leaders, counts.get(b.nodeId)!.replicas]);
  const chosen = [leader];
  while (chosen.length < replicationFactor) {
    const usedRacks = new Set(chosen.map((b) => b.rack));
    const free = order.filter((b) => !chosen.includes(b));
    const newRack = free.filter((b) => !usedRacks.has(b.rack));
    const key = (b: PlacementBroker) => [
      counts.get(b.nodeId)!.replicas,
      pairs.get(`${leader.nodeId}:${b.nodeId}`) ?? 0,
    ];
    chosen.push(least(newRack.length > 0 ? newRack : free, key));
  }
  return chosen.map((b) => b.nodeId);
}

/** The candidate with the smallest key (compared element by element); the first one on ties. */
function least<T>(candidates: readonly T[], key: (c: T) => number[]): T {
  let best = candidates[0];
  let bestKey = key(best);
  for (const c of candidates.slice(1)) {
    const k = key(c);
    const i = k.findIndex((v, j) => v !== bestKey[j]);
    if (i >= 0 && k[i] < bestKey[i]) {
      best = c;
      bestKey = k;
    }
  }
  return best;
}

function rotate<T>(items: readonly T[], by: number): T[] {
  const n = items.length;
  const shift = ((by % n) + n) % n;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

/**
 * Checks manual replica lists (CreateTopics / CreatePartitions assignments): each non-empty, no
 * broker twice, every broker registered, all of one length (`replicationFactor` when given).
 * Throws INVALID_REPLICA_ASSIGNMENT naming the first fault.
 */
export function validateAssignment(
  assignment: readonly (readonly number[])[],
  registered: ReadonlySet<number>,
  replicationFactor?: number,
): void {
  const fail = (why: string) => {
    throw new KafkaError("INVALID_REPLICA_ASSIGNMENT", why);
  };
  if (assignment.length === 0) fail("no partitions assigned");
  const size = replicationFactor ?? assignment[0].length;
  assignment.forEach((replicas, p) => {
    if (replicas.length === 0) fail(`partition ${p} has no replicas`);
    if (new Set(replicas).size !== replicas.length) fail(`partition ${p} names a broker twice: ${replicas}`);
    const unknown = replicas.filter((id) => !registered.has(id));
    if (unknown.length > 0) fail(`partition ${p} names brokers that are not registered: ${unknown}`);
    if (replicas.length !== size)
      fail(`partition ${p} has ${replicas.length} replicas where the others have ${size}`);
  });
}

/** The replicas and preferred leaderships each broker holds in `partitions`. */
export function brokerLoad(
  partitions: Iterable<{ replicas: readonly number[]; removingReplicas: readonly number[] }>,
): Map<number, BrokerLoad> {
  const load = new Map<number, BrokerLoad>();
  const of = (id: number) => {
    const l = load.get(id) ?? { replicas: 0, leaders: 0 };
    load.set(id, l);
    return l;
  };
  for (const p of partitions) {
    const target = p.replicas.filter((id) => !p.removingReplicas.includes(id));
    if (target.length > 0) of(target[0]).leaders++;
    for (const id of target) of(id).replicas++;
  }
  return load;
}
