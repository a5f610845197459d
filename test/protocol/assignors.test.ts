import { describe, expect, it } from "vitest";
import {
  cooperativeStickyAssignor,
  type MemberSubscription,
  type PartitionAssignor,
  rangeAssignor,
  roundRobinAssignor,
  type TopicPartition,
} from "../../protocol/assignors.js";
import type { TopicPartitions } from "../../protocol/consumer-protocol.js";
import { baseSeed, type Random, withSeed } from "../helpers/random.js";

const SEED = baseSeed(0x5a5a);

function member(
  memberId: string,
  topics: string[],
  owned: TopicPartition[] = [],
  generationId = -1,
  groupInstanceId: string | null = null,
): MemberSubscription {
  return {
    memberId,
    groupInstanceId,
    subscription: { topics, userData: null, ownedPartitions: group(owned), generationId, rackId: null },
  };
}

function group(list: TopicPartition[]): TopicPartitions[] {
  const by = new Map<string, number[]>();
  for (const tp of list) by.set(tp.topic, [...(by.get(tp.topic) ?? []), tp.partition]);
  return [...by].map(([topic, partitions]) => ({ topic, partitions }));
}

function names(list: TopicPartition[] | undefined): string[] {
  return (list ?? []).map((tp) => `${tp.topic}-${tp.partition}`);
}

function asNames(result: Map<string, TopicPartition[]>): Record<string, string[]> {
  return Object.fromEntries([...result].map(([id, list]) => [id, names(list)]));
}

const ppt = (entries: Record<string, number>) => new Map(Object.entries(entries));

/** Checks what every assignment must satisfy; `complete`: every subscribed partition is placed. */
function checkValid(
  members: MemberSubscription[],
  partitionsPerTopic: Map<string, number>,
  result: Map<string, TopicPartition[]>,
  complete: boolean,
): void {
  expect([...result.keys()].sort()).toEqual(members.map((m) => m.memberId).sort());
  const seen = new Set<string>();
  for (const m of members) {
    for (const tp of result.get(m.memberId)!) {
      const k = `${tp.topic}-${tp.partition}`;
      expect(seen.has(k), `${k} assigned twice`).toBe(false);
      seen.add(k);
      expect(m.subscription.topics, `${m.memberId} got ${k}`).toContain(tp.topic);
      expect(tp.partition).toBeLessThan(partitionsPerTopic.get(tp.topic) ?? 0);
    }
  }
  if (!complete) return;
  for (const [topic, n] of partitionsPerTopic) {
    if (!members.some((m) => m.subscription.topics.includes(topic))) continue;
    for (let p = 0; p < n; p++) expect(seen.has(`${topic}-${p}`), `${topic}-${p} unassigned`).toBe(true);
  }
}

function loads(result: Map<string, TopicPartition[]>): number[] {
  return [...result.values()].map((l) => l.length);
}

function shuffled<T>(rng: Random, items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

function randomGroup(rng: Random, equal: boolean) {
  const topicCount = rng.int(1, 5);
  const partitionsPerTopic = new Map<string, number>();
  for (let t = 0; t < topicCount; t++) partitionsPerTopic.set(`t${t}`, rng.int(0, 12));
  const topics = [...partitionsPerTopic.keys()];
  const memberCount = rng.int(1, 8);
  const members: MemberSubscription[] = [];
  for (let i = 0; i < memberCount; i++) {
    const mine = equal ? topics : topics.filter(() => rng.chance(0.6));
    members.push(member(`m-${rng.text(6)}`, mine.length > 0 ? mine : [rng.pick(topics)]));
  }
  return { members, partitionsPerTopic };
}

describe("range", () => {
  it("gives each subscriber a consecutive range per topic, the first ones one extra", () => {
    const members = [member("C1", ["t0", "t1"]), member("C0", ["t0", "t1"])];
    expect(asNames(rangeAssignor.assign(members, ppt({ t0: 3, t1: 3 })))).toEqual({
      C1: ["t0-2", "t1-2"],
      C0: ["t0-0", "t0-1", "t1-0", "t1-1"],
    });
  });

  it("orders static members first, by instance id", () => {
    const members = [member("a", ["t"]), member("z", ["t"], [], -1, "i2"), member("y", ["t"], [], -1, "i1")];
    expect(asNames(rangeAssignor.assign(members, ppt({ t: 3 })))).toEqual({
      y: ["t-0"],
      z: ["t-1"],
      a: ["t-2"],
    });
  });

  it("is valid, complete, deterministic and balanced per topic (random groups)", async () => {
    for (let i = 0; i < 200; i++) {
      await withSeed(SEED + i, async (rng) => {
        const { members, partitionsPerTopic } = randomGroup(rng, rng.chance(0.5));
        const result = rangeAssignor.assign(members, partitionsPerTopic);
        checkValid(members, partitionsPerTopic, result, true);
        expect(asNames(rangeAssignor.assign(shuffled(rng, members), partitionsPerTopic))).toEqual(
          asNames(result),
        );
        for (const [topic] of partitionsPerTopic) {
          const counts = members
            .filter((m) => m.subscription.topics.includes(topic))
            .map((m) => result.get(m.memberId)!.filter((tp) => tp.topic === topic).length);
          if (counts.length > 0) expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
        }
      });
    }
  });
});

describe("roundrobin", () => {
  it("deals sorted partitions to sorted members in turn", () => {
    const members = [member("C0", ["t0", "t1"]), member("C1", ["t0", "t1"])];
    expect(asNames(roundRobinAssignor.assign(members, ppt({ t0: 3, t1: 3 })))).toEqual({
      C0: ["t0-0", "t0-2", "t1-1"],
      C1: ["t0-1", "t1-0", "t1-2"],
    });
  });

  it("skips members not subscribed to a partition's topic (Java's example)", () => {
    const members = [member("C0", ["t0"]), member("C1", ["t0", "t1"]), member("C2", ["t0", "t1", "t2"])];
    expect(asNames(roundRobinAssignor.assign(members, ppt({ t0: 1, t1: 2, t2: 3 })))).toEqual({
      C0: ["t0-0"],
      C1: ["t1-0"],
      C2: ["t1-1", "t2-0", "t2-1", "t2-2"],
    });
  });

  it("is valid, complete, deterministic, and balanced when subscriptions are equal (random groups)", async () => {
    for (let i = 0; i < 200; i++) {
      await withSeed(SEED + 1000 + i, async (rng) => {
        const equal = rng.chance(0.5);
        const { members, partitionsPerTopic } = randomGroup(rng, equal);
        const result = roundRobinAssignor.assign(members, partitionsPerTopic);
        checkValid(members, partitionsPerTopic, result, true);
        expect(asNames(roundRobinAssignor.assign(shuffled(rng, members), partitionsPerTopic))).toEqual(
          asNames(result),
        );
        if (equal) expect(Math.max(...loads(result)) - Math.min(...loads(result))).toBeLessThanOrEqual(1);
      });
    }
  });
});

interface SimMember {
  id: string;
  topics: string[];
  owned: TopicPartition[];
  generation: number;
}

/**
 * Runs the cooperative protocol over `sim` until no member has anything left to revoke: each round
 * the leader assigns from the members' owned partitions, members revoke what they lost (and then
 * rejoin), and no partition is ever owned by two members at once. Returns the rounds it took.
 */
function cooperativeRounds(
  assignor: PartitionAssignor,
  sim: SimMember[],
  partitionsPerTopic: Map<string, number>,
  generation: { value: number },
): number {
  for (let round = 1; round <= 4; round++) {
    const members = sim.map((m) => member(m.id, m.topics, m.owned, m.generation));
    const result = assignor.assign(members, partitionsPerTopic);
    checkValid(members, partitionsPerTopic, result, false);
    generation.value++;
    let revoked = false;
    for (const m of sim) {
      const next = result.get(m.id)!;
      const nextNames = new Set(names(next));
      if (names(m.owned).some((n) => !nextNames.has(n))) revoked = true;
      m.owned = next;
      m.generation = generation.value;
    }
    // Safety: owned sets are disjoint after every generation.
    const all = sim.flatMap((m) => names(m.owned));
    expect(new Set(all).size).toBe(all.length);
    if (!revoked) return round;
  }
  throw new Error("cooperative rebalancing did not settle within 4 rounds");
}

/** Fewest moves that balance `prev` (partitions kept per member) over `total` partitions. */
function minimumMoves(prev: number[], total: number): number {
  const q = Math.floor(total / prev.length);
  const r = total % prev.length;
  const sorted = [...prev].sort((a, b) => b - a);
  let kept = 0;
  sorted.forEach((n, i) => {
    kept += Math.min(n, i < r ? q + 1 : q);
  });
  return prev.reduce((a, b) => a + b, 0) - kept;
}

describe("cooperative-sticky", () => {
  it("assigns everything, balanced, to a new group", () => {
    const members = ["a", "b", "c"].map((id) => member(id, ["t"]));
    const result = cooperativeStickyAssignor.assign(members, ppt({ t: 7 }));
    checkValid(members, ppt({ t: 7 }), result, true);
    expect(loads(result).sort()).toEqual([2, 2, 3]);
  });

  it("keeps owned partitions when nothing changed", () => {
    const members = [
      member(
        "a",
        ["t"],
        [0, 3, 4].map((partition) => ({ topic: "t", partition })),
        3,
      ),
      member(
        "b",
        ["t"],
        [1, 2, 5].map((partition) => ({ topic: "t", partition })),
        3,
      ),
    ];
    expect(asNames(cooperativeStickyAssignor.assign(members, ppt({ t: 6 })))).toEqual({
      a: ["t-0", "t-3", "t-4"],
      b: ["t-1", "t-2", "t-5"],
    });
  });

  it("leaves a moving partition unassigned until its owner revokes it (KIP-429)", () => {
    const all = [0, 1, 2, 3].map((partition) => ({ topic: "t", partition }));
    const first = cooperativeStickyAssignor.assign(
      [member("a", ["t"], all, 1), member("b", ["t"])],
      ppt({ t: 4 }),
    );
    // a keeps two, b gets nothing yet: the two a gives up are still a's.
    expect(asNames(first)).toEqual({ a: ["t-0", "t-1"], b: [] });
    const second = cooperativeStickyAssignor.assign(
      [member("a", ["t"], first.get("a"), 2), member("b", ["t"], [], 2)],
      ppt({ t: 4 }),
    );
    expect(asNames(second)).toEqual({ a: ["t-0", "t-1"], b: ["t-2", "t-3"] });
  });

  it("lets the newer generation's claim win, and leaves same-generation conflicts unassigned", () => {
    const p0 = [{ topic: "t", partition: 0 }];
    const newer = cooperativeStickyAssignor.assign(
      [member("a", ["t"], p0, 5), member("b", ["t"], p0, 4)],
      ppt({ t: 1 }),
    );
    expect(asNames(newer)).toEqual({ a: ["t-0"], b: [] });
    const tie = cooperativeStickyAssignor.assign(
      [member("a", ["t"], p0, 5), member("b", ["t"], p0, 5)],
      ppt({ t: 1 }),
    );
    expect(asNames(tie)).toEqual({ a: [], b: [] });
    // The generation may also come from Java's userData (an int32), for v0/v1 subscriptions.
    const viaUserData = member("a", ["t"], p0);
    viaUserData.subscription.userData = cooperativeStickyAssignor.subscriptionUserData(7);
    const older = member("b", ["t"], p0, 6);
    expect(asNames(cooperativeStickyAssignor.assign([viaUserData, older], ppt({ t: 1 })))).toEqual({
      a: ["t-0"],
      b: [],
    });
  });

  it("drops owned partitions of topics a member no longer subscribes to", () => {
    const owned = [
      { topic: "x", partition: 0 },
      { topic: "y", partition: 0 },
    ];
    const result = cooperativeStickyAssignor.assign([member("a", ["x"], owned, 2)], ppt({ x: 1, y: 1 }));
    expect(asNames(result)).toEqual({ a: ["x-0"] });
  });

  it("stays valid, deterministic and sticky; settles balanced; moves the minimum (random groups)", async () => {
    for (let i = 0; i < 150; i++) {
      await withSeed(SEED + 2000 + i, async (rng) => {
        const equal = rng.chance(0.6);
        const { members, partitionsPerTopic } = randomGroup(rng, equal);
        const sim: SimMember[] = members.map((m) => ({
          id: m.memberId,
          topics: m.subscription.topics,
          owned: [],
          generation: -1,
        }));
        const generation = { value: 0 };
        expect(cooperativeRounds(cooperativeStickyAssignor, sim, partitionsPerTopic, generation)).toBe(1);
        const settled = (): Map<string, TopicPartition[]> => new Map(sim.map((m) => [m.id, m.owned]));
        const asMembers = () => sim.map((m) => member(m.id, m.topics, m.owned, m.generation));
        checkValid(asMembers(), partitionsPerTopic, settled(), true);
        if (equal)
          expect(Math.max(...loads(settled())) - Math.min(...loads(settled()))).toBeLessThanOrEqual(1);

        // Same input in another order: same answer. Nothing changed: nothing moves.
        const again = cooperativeStickyAssignor.assign(shuffled(rng, asMembers()), partitionsPerTopic);
        expect(asNames(again)).toEqual(
          asNames(cooperativeStickyAssignor.assign(asMembers(), partitionsPerTopic)),
        );
        expect(asNames(again)).toEqual(asNames(settled()));

        // A change: members join or leave, or a topic grows.
        const before = new Map(sim.flatMap((m) => names(m.owned).map((n) => [n, m.id] as const)));
        const change = rng.int(0, 2);
        if (change === 0 || sim.length === 1) {
          for (let j = rng.int(1, 3); j > 0; j--) {
            sim.push({
              id: `n-${rng.text(6)}`,
              topics: equal ? [...partitionsPerTopic.keys()] : [rng.pick([...partitionsPerTopic.keys()])],
              owned: [],
              generation: -1,
            });
          }
        } else if (change === 1) {
          sim.splice(rng.int(0, sim.length - 1), 1);
        } else {
          const t = rng.pick([...partitionsPerTopic.keys()]);
          partitionsPerTopic.set(t, partitionsPerTopic.get(t)! + rng.int(1, 5));
        }
        const present = new Set(sim.map((m) => m.id));
        const keptBefore = sim.map((m) => names(m.owned).length);
        const rounds = cooperativeRounds(cooperativeStickyAssignor, sim, partitionsPerTopic, generation);
        expect(rounds).toBeLessThanOrEqual(2);
        checkValid(asMembers(), partitionsPerTopic, settled(), true);
        if (equal) {
          expect(Math.max(...loads(settled())) - Math.min(...loads(settled()))).toBeLessThanOrEqual(1);
          let moved = 0;
          for (const m of sim) {
            for (const n of names(m.owned)) {
              const was = before.get(n);
              if (was !== undefined && present.has(was) && was !== m.id) moved++;
            }
          }
          let total = 0;
          for (const n of partitionsPerTopic.values()) total += n;
          expect(moved).toBe(minimumMoves(keptBefore, total));
        }
      });
    }
  });
});
