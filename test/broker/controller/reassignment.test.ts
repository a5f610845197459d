import { describe, expect, it } from "vitest";
import { applyIsrChange } from "../../../broker/controller/isr.js";
import {
  cancelReassignment,
  completeReassignment,
  startReassignment,
} from "../../../broker/controller/reassignment.js";
import type { PartitionState } from "../../../broker/metadata/cluster.js";
import { alive, partition } from "./states.js";

const all = alive([1, 2, 3, 4]);

describe("reassignment (KIP-455)", () => {
  const p = partition({ replicas: [1, 2, 3] });

  it("starts with the union of replicas, adding and removing", () => {
    const moving = startReassignment(p, [2, 3, 4], all);
    expect(moving).toMatchObject({
      replicas: [2, 3, 4, 1],
      isr: [1, 2, 3],
      leader: 1,
      addingReplicas: [4],
      removingReplicas: [1],
      partitionEpoch: 10,
      leaderEpoch: 5,
    });
    expect(completeReassignment(moving, all)).toBe(moving);
  });

  it("completes once the adding replica joins the ISR, moving a leader being removed", () => {
    const moving = startReassignment(p, [2, 3, 4], all);
    const registrations = new Map([1, 2, 3, 4].map((id) => [id, { epoch: id, shuttingDown: false }]));
    const joined = applyIsrChange(
      moving,
      { brokerId: 1, brokerEpoch: 1, leaderEpoch: 5, partitionEpoch: 10, newIsr: [1, 2, 3, 4] },
      registrations,
    ) as PartitionState;
    expect(completeReassignment(joined, all)).toMatchObject({
      replicas: [2, 3, 4],
      isr: [2, 3, 4],
      leader: 2,
      addingReplicas: [],
      removingReplicas: [],
      leaderEpoch: 6,
    });
  });

  it("completes at once when the target is within the ISR", () => {
    expect(startReassignment(p, [3, 2], all)).toMatchObject({ replicas: [3, 2], isr: [2, 3], leader: 3 });
  });

  it("reorders replicas without a reassignment", () => {
    expect(startReassignment(p, [3, 1, 2], all)).toMatchObject({ replicas: [3, 1, 2], addingReplicas: [] });
  });

  it("cancels back to the original replicas (in the order of the union, as KRaft)", () => {
    const moving = startReassignment(p, [2, 3, 4], all);
    const back = cancelReassignment({ ...moving, isr: [1, 2, 3, 4], leader: 4 }, all);
    expect(back).toMatchObject({ replicas: [2, 3, 1], isr: [1, 2, 3], leader: 2, addingReplicas: [] });
    expect(back.removingReplicas).toEqual([]);
    expect(() => cancelReassignment(p, all)).toThrow(/NO_REASSIGNMENT_IN_PROGRESS/);
  });

  it("replaces a reassignment in progress from the original replicas", () => {
    const moving = startReassignment(p, [2, 3, 4], all);
    expect(startReassignment(moving, [1, 2, 4], all)).toMatchObject({
      replicas: [1, 2, 4, 3],
      addingReplicas: [4],
      removingReplicas: [3],
    });
  });

  it("refuses a target with unknown or duplicate brokers", () => {
    expect(() => startReassignment(p, [2, 3, 5], all)).toThrow(/INVALID_REPLICA_ASSIGNMENT/);
    expect(() => startReassignment(p, [2, 2], all)).toThrow(/INVALID_REPLICA_ASSIGNMENT/);
    expect(() => startReassignment(p, [], all)).toThrow(/INVALID_REPLICA_ASSIGNMENT/);
  });
});
