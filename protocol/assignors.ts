/**
 * Partition assignors for the classic consumer group protocol. The group leader runs the one the
 * coordinator chose (the first protocol every member offered) over every member's subscription.
 * Names and results match the Java client's, so samsa members can share a group with Java,
 * librdkafka and KafkaJS members:
 *
 * - `range`: per topic, the topic's subscribers in member order each take a consecutive range;
 *   the first (partitions % members) take one extra (Java's RangeAssignor).
 * - `roundrobin`: every subscribed partition, sorted by topic and partition, dealt in turn to the
 *   members in member order, skipping members not subscribed to its topic (RoundRobinAssignor).
 * - `cooperative-sticky`: keeps each member's owned partitions where the result stays balanced and
 *   moves as few as it can; a partition that changes owner is left out of this generation so that
 *   its old owner can revoke it first, and the follow-up rebalance hands it over (KIP-429).
 *
 * "Member order" is Java's: members with a group instance id first, by instance id, then the
 * others by member id.
 */
import type { Subscription } from "./consumer-protocol.js";

export interface TopicPartition {
  topic: string;
  partition: number;
}

/** One member of the group as the leader sees it in the JoinGroup response. */
export interface MemberSubscription {
  memberId: string;
  groupInstanceId: string | null;
  subscription: Subscription;
}

export interface PartitionAssignor {
  /** The protocol name members announce in JoinGroup. */
  readonly name: string;
  /** Whether it supports the cooperative rebalance protocol (KIP-429). */
  readonly cooperative: boolean;
  /** UserData this member puts in its subscription, given its current generation. */
  subscriptionUserData(generationId: number): Buffer | null;
  /**
   * Partitions for every member (each member is a key, possibly with none). `partitionsPerTopic`
   * holds the topics that exist; subscribed topics missing from it get no partitions.
   */
  assign(
    members: MemberSubscription[],
    partitionsPerTopic: ReadonlyMap<string, number>,
  ): Map<string, TopicPartition[]>;
}

export type AssignorName = "range" | "roundrobin" | "cooperative-sticky";

/** Java's MemberInfo order. */
export function compareMembers(a: MemberSubscription, b: MemberSubscription): number {
  const ai = a.groupInstanceId;
  const bi = b.groupInstanceId;
  if (ai !== null && bi !== null) return ai < bi ? -1 : ai > bi ? 1 : 0;
  if (ai !== null) return -1;
  if (bi !== null) return 1;
  return a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0;
}

function compareTopicPartitions(a: TopicPartition, b: TopicPartition): number {
  if (a.topic !== b.topic) return a.topic < b.topic ? -1 : 1;
  return a.partition - b.partition;
}

function emptyResult(members: MemberSubscription[]): Map<string, TopicPartition[]> {
  return new Map(members.map((m) => [m.memberId, []]));
}

/** Topics some member subscribes to that exist, sorted. */
function subscribedTopics(
  members: MemberSubscription[],
  partitionsPerTopic: ReadonlyMap<string, number>,
): string[] {
  const topics = new Set<string>();
  for (const m of members)
    for (const t of m.subscription.topics) if (partitionsPerTopic.has(t)) topics.add(t);
  return [...topics].sort();
}

function sortResult(out: Map<string, TopicPartition[]>): Map<string, TopicPartition[]> {
  for (const list of out.values()) list.sort(compareTopicPartitions);
  return out;
}

export const rangeAssignor: PartitionAssignor = {
  name: "range",
  cooperative: false,
  subscriptionUserData: () => null,
  assign(members, partitionsPerTopic) {
    const out = emptyResult(members);
    for (const topic of subscribedTopics(members, partitionsPerTopic)) {
      const subscribers = members.filter((m) => m.subscription.topics.includes(topic)).sort(compareMembers);
      const count = partitionsPerTopic.get(topic) ?? 0;
      const each = Math.floor(count / subscribers.length);
      const extra = count % subscribers.length;
      subscribers.forEach((m, i) => {
        const start = each * i + Math.min(i, extra);
        const length = each + (i < extra ? 1 : 0);
        const list = out.get(m.memberId)!;
        for (let p = start; p < start + length; p++) list.push({ topic, partition: p });
      });
    }
    return sortResult(out);
  },
};

export const roundRobinAssignor: PartitionAssignor = {
  name: "roundrobin",
  cooperative: false,
  subscriptionUserData: () => null,
  assign(members, partitionsPerTopic) {
    const out = emptyResult(members);
    const order = [...members].sort(compareMembers);
    const subscribed = order.map((m) => new Set(m.subscription.topics));
    let next = 0;
    for (const topic of subscribedTopics(members, partitionsPerTopic)) {
      const count = partitionsPerTopic.get(topic) ?? 0;
      for (let p = 0; p < count; p++) {
        // Some member subscribes to `topic`, so this ends within one turn of the circle.
        while (!subscribed[next].has(topic)) next = (next + 1) % order.length;
        out.get(order[next].memberId)!.push({ topic, partition: p });
        next = (next + 1) % order.length;
      }
    }
    return sortResult(out);
  },
};

/**
 * The generation a member's owned partitions belong to: the subscription's (v2+), else the int32
 * that Java's CooperativeStickyAssignor (and this one) writes as userData, else unknown (-1).
 */
export function memberGeneration(s: Subscription): number {
  if (s.generationId >= 0) return s.generationId;
  if (s.userData && s.userData.length === 4) return s.userData.readInt32BE(0);
  return -1;
}

function key(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/**
 * Sticky assignment: start from the valid previous owners (a member subscribed to the topic; when
 * several claim a partition the highest generation wins, a tie leaves it unowned), give the
 * unowned partitions to the least loaded eligible members, then move partitions from the most
 * to the least loaded subscriber of their topic until, for every topic, no holder has two more
 * partitions than any subscriber. Each move lowers the sum of squared loads, so this ends; it moves
 * newly placed partitions before previously owned ones.
 */
function stickyAssign(
  members: MemberSubscription[],
  partitionsPerTopic: ReadonlyMap<string, number>,
  cooperative: boolean,
): Map<string, TopicPartition[]> {
  const ids = members.map((m) => m.memberId).sort();
  const byId = new Map(members.map((m) => [m.memberId, m]));
  const topics = subscribedTopics(members, partitionsPerTopic);
  const subscribers = new Map<string, string[]>(topics.map((t) => [t, []]));
  for (const id of ids) {
    for (const t of new Set(byId.get(id)!.subscription.topics)) subscribers.get(t)?.push(id);
  }

  // Previous owners.
  const claimers = new Map<string, Set<string>>();
  const best = new Map<string, { id: string; generation: number; contested: boolean }>();
  for (const id of ids) {
    const s = byId.get(id)!.subscription;
    const generation = memberGeneration(s);
    const mine = new Set(s.topics);
    for (const tp of s.ownedPartitions) {
      for (const p of tp.partitions) {
        const k = key(tp.topic, p);
        if (!claimers.has(k)) claimers.set(k, new Set());
        claimers.get(k)!.add(id);
        if (!mine.has(tp.topic) || p < 0 || p >= (partitionsPerTopic.get(tp.topic) ?? 0)) continue;
        const cur = best.get(k);
        if (!cur || generation > cur.generation) best.set(k, { id, generation, contested: false });
        else if (generation === cur.generation && cur.id !== id) cur.contested = true;
      }
    }
  }
  const previousOwner = new Map<string, string>();
  for (const [k, b] of best) if (!b.contested) previousOwner.set(k, b.id);

  // held: member -> topic -> partitions; load: member -> count.
  const held = new Map<string, Map<string, number[]>>(ids.map((id) => [id, new Map()]));
  const load = new Map<string, number>(ids.map((id) => [id, 0]));
  const give = (id: string, topic: string, p: number) => {
    const byTopic = held.get(id)!;
    if (!byTopic.has(topic)) byTopic.set(topic, []);
    byTopic.get(topic)!.push(p);
    load.set(id, load.get(id)! + 1);
  };

  const unowned: TopicPartition[] = [];
  for (const topic of topics) {
    for (let p = 0; p < (partitionsPerTopic.get(topic) ?? 0); p++) {
      const owner = previousOwner.get(key(topic, p));
      if (owner !== undefined) give(owner, topic, p);
      else unowned.push({ topic, partition: p });
    }
  }
  // Most constrained topics first, so that members with a narrow subscription fill up first.
  unowned.sort(
    (a, b) =>
      subscribers.get(a.topic)!.length - subscribers.get(b.topic)!.length || compareTopicPartitions(a, b),
  );
  const leastLoaded = (candidates: string[]) => {
    let min = candidates[0];
    for (const id of candidates) if (load.get(id)! < load.get(min)!) min = id;
    return min;
  };
  for (const tp of unowned) give(leastLoaded(subscribers.get(tp.topic)!), tp.topic, tp.partition);

  let total = 0;
  for (const topic of topics) total += partitionsPerTopic.get(topic) ?? 0;
  const maxMoves = total * Math.max(1, ids.length) + 1;
  let moves = 0;
  for (let changed = true; changed; ) {
    changed = false;
    for (const topic of topics) {
      const subs = subscribers.get(topic)!;
      const to = leastLoaded(subs);
      let from: string | null = null;
      for (const id of subs) {
        if ((held.get(id)!.get(topic)?.length ?? 0) === 0) continue;
        if (from === null || load.get(id)! > load.get(from)!) from = id;
      }
      if (from === null || load.get(from)! - load.get(to)! < 2) continue;
      const list = held.get(from)!.get(topic)!;
      // Prefer a partition `from` did not own before; else its highest.
      const fresh = (p: number) => (previousOwner.get(key(topic, p)) !== from ? 1 : 0);
      let pick = 0;
      for (let i = 1; i < list.length; i++) {
        const d = fresh(list[i]) - fresh(list[pick]);
        if (d > 0 || (d === 0 && list[i] > list[pick])) pick = i;
      }
      const [p] = list.splice(pick, 1);
      load.set(from, load.get(from)! - 1);
      give(to, topic, p);
      changed = true;
      if (++moves > maxMoves) throw new Error("sticky assignment did not converge");
    }
  }

  const out = emptyResult(members);
  for (const id of ids) {
    for (const [topic, partitions] of held.get(id)!) {
      for (const p of partitions) {
        const k = key(topic, p);
        // KIP-429: a partition another member still owns goes to its new owner only after that
        // member has revoked it (next generation).
        if (cooperative && previousOwner.get(k) !== id) {
          const others = [...(claimers.get(k) ?? [])].filter((c) => c !== id);
          if (others.length > 0) continue;
        }
        out.get(id)!.push({ topic, partition: p });
      }
    }
  }
  return sortResult(out);
}

function generationUserData(generationId: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(generationId, 0);
  return b;
}

export const cooperativeStickyAssignor: PartitionAssignor = {
  name: "cooperative-sticky",
  cooperative: true,
  subscriptionUserData: generationUserData,
  assign: (members, partitionsPerTopic) => stickyAssign(members, partitionsPerTopic, true),
};

export const ASSIGNORS: Readonly<Record<AssignorName, PartitionAssignor>> = {
  range: rangeAssignor,
  roundrobin: roundRobinAssignor,
  "cooperative-sticky": cooperativeStickyAssignor,
};
