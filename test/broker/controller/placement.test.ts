import { describe, expect, it } from "vitest";
import {
  assignReplicas,
  brokerLoad,
  type PlacementBroker,
  validateAssignment,
} from "../../../broker/controller/placement.js";
import { KafkaError } from "../../../protocol/errors.js";

function brokers(racks: (string | null)[]): PlacementBroker[] {
  return racks.map((rack, i) => ({ nodeId: i + 1, rack }));
}

function counts(assignment: number[][]): { replicas: Map<number, number>; leaders: Map<number, number> } {
  const replicas = new Map<number, number>();
  const leaders = new Map<number, number>();
  for (const list of assignment) {
    leaders.set(list[0], (leaders.get(list[0]) ?? 0) + 1);
    for (const id of list) replicas.set(id, (replicas.get(id) ?? 0) + 1);
  }
  return { replicas, leaders };
}

function spread(m: Map<number, number>, ids: number[]): number {
  const values = ids.map((id) => m.get(id) ?? 0);
  return Math.max(...values) - Math.min(...values);
}

function errorOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (err) {
    if (KafkaError.is(err)) return err.code;
    throw err;
  }
  return undefined;
}

describe("assignReplicas", () => {
  const cases: [string, (string | null)[]][] = [
    ["3 brokers, no racks", [null, null, null]],
    ["3 brokers on 3 racks", ["a", "b", "c"]],
    ["4 brokers, no racks", [null, null, null, null]],
    ["4 brokers on 2 racks", ["a", "a", "b", "b"]],
    ["4 brokers on 4 racks", ["a", "b", "c", "d"]],
  ];
  for (const [name, racks] of cases) {
    it(`balances 100 partitions x RF 3 over ${name}`, () => {
      const bs = brokers(racks);
      const ids = bs.map((b) => b.nodeId);
      const assignment = assignReplicas(bs, 100, 3);
      expect(assignment).toHaveLength(100);
      const { replicas, leaders } = counts(assignment);
      expect(spread(replicas, ids)).toBeLessThanOrEqual(1);
      expect(spread(leaders, ids)).toBeLessThanOrEqual(1);
      const rackCount = new Set(racks).size;
      for (const list of assignment) {
        expect(new Set(list).size).toBe(3);
        const used = new Set(list.map((id) => racks[id - 1]));
        expect(used.size).toBe(Math.min(3, rackCount));
      }
    });
  }

  it("rotates preferred leaders over consecutive partitions", () => {
    const assignment = assignReplicas(brokers(["a", "b", "c", "d"]), 8, 2);
    expect(new Set(assignment.slice(0, 4).map((l) => l[0])).size).toBe(4);
    expect(new Set(assignment.slice(4, 8).map((l) => l[0])).size).toBe(4);
  });

  it("spreads the followers of one leader over the other brokers", () => {
    const assignment = assignReplicas(brokers([null, null, null, null]), 100, 2);
    const followersOf1 = new Set(assignment.filter((l) => l[0] === 1).map((l) => l[1]));
    expect(followersOf1).toEqual(new Set([2, 3, 4]));
  });

  it("keeps distinct racks when one rack holds most brokers", () => {
    const racks = ["a", "a", "a", "b"];
    for (const list of assignResult(racks, 40, 2))
      expect(new Set(list.map((id) => racks[id - 1])).size).toBe(2);
  });

  it("counts the existing load: new partitions go to the least loaded brokers", () => {
    const bs = brokers([null, null, null, null]);
    const first = assignReplicas(bs, 3, 2);
    const load = brokerLoad(first.map((replicas) => ({ replicas, removingReplicas: [] })));
    const added = assignReplicas(bs, 5, 2, load);
    const { replicas, leaders } = counts([...first, ...added]);
    expect(spread(replicas, [1, 2, 3, 4])).toBeLessThanOrEqual(1);
    expect(spread(leaders, [1, 2, 3, 4])).toBeLessThanOrEqual(1);
  });

  it("starts the rotation at `start`", () => {
    expect(assignReplicas(brokers([null, null, null]), 1, 1, new Map(), 2)).toEqual([[3]]);
    expect(assignReplicas(brokers([null, null, null]), 1, 1, new Map(), 0)).toEqual([[1]]);
  });

  it("refuses a replication factor above the live brokers or below 1, and no partitions", () => {
    expect(errorOf(() => assignReplicas(brokers([null, null]), 1, 3))).toBe("INVALID_REPLICATION_FACTOR");
    expect(errorOf(() => assignReplicas(brokers([null, null]), 1, 0))).toBe("INVALID_REPLICATION_FACTOR");
    expect(errorOf(() => assignReplicas(brokers([null, null]), 0, 1))).toBe("INVALID_PARTITIONS");
  });
});

function assignResult(racks: (string | null)[], count: number, rf: number): number[][] {
  return assignReplicas(brokers(racks), count, rf);
}

describe("validateAssignment", () => {
  const registered = new Set([1, 2, 3]);
  it("accepts lists of registered brokers of one length", () => {
    expect(
      errorOf(() =>
        validateAssignment(
          [
            [1, 2],
            [2, 3],
          ],
          registered,
        ),
      ),
    ).toBeUndefined();
    expect(errorOf(() => validateAssignment([[1, 2]], registered, 2))).toBeUndefined();
  });
  it("refuses duplicates, unknown brokers, empty lists and uneven lengths", () => {
    for (const bad of [[[1, 1]], [[1, 4]], [[]], [[1, 2], [3]], []])
      expect(errorOf(() => validateAssignment(bad, registered))).toBe("INVALID_REPLICA_ASSIGNMENT");
    expect(errorOf(() => validateAssignment([[1, 2]], registered, 3))).toBe("INVALID_REPLICA_ASSIGNMENT");
  });
});
