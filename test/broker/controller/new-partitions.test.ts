import { describe, expect, it } from "vitest";
import { newPartitionStates, newTopicId } from "../../../broker/controller/new-partitions.js";
import { alive } from "./states.js";

describe("new partitions", () => {
  it("start with the running replicas in the ISR, the first of them leading, epochs 0", () => {
    expect(newPartitionStates([[1, 2, 3]], 4, alive([1, 2, 3], [1]))).toEqual([
      {
        partition: 4,
        replicas: [1, 2, 3],
        isr: [2, 3],
        leader: 2,
        leaderEpoch: 0,
        partitionEpoch: 0,
        addingReplicas: [],
        removingReplicas: [],
      },
    ]);
  });

  it("refuse a partition none of whose replicas runs", () => {
    expect(() => newPartitionStates([[1, 2]], 0, alive([1, 2], [1, 2]))).toThrow(
      /INVALID_REPLICA_ASSIGNMENT/,
    );
  });

  it("get fresh 32-hex-digit topic ids, never one in use", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const id = newTopicId((candidate) => seen.has(candidate));
      expect(id).toMatch(/^[0-9a-f]{32}$/);
      expect(seen.has(id)).toBe(false);
      seen.add(id);
    }
    expect(() => newTopicId(() => true)).toThrow(/no fresh topic id/);
  });
});
