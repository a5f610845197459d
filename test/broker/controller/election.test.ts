import { describe, expect, it } from "vitest";
import {
  chooseLeader,
  electLeader,
  electPreferred,
  electUnclean,
  preferredElectionsDue,
} from "../../../broker/controller/election.js";
import { changePartition } from "../../../broker/controller/partition-change.js";
import { NO_LEADER, type PartitionState, type TopicState } from "../../../broker/metadata/cluster.js";
import { KafkaError } from "../../../protocol/errors.js";
import { alive, partition } from "./states.js";

function code(result: PartitionState | KafkaError): string {
  return result instanceof KafkaError ? result.code : "NONE";
}

describe("chooseLeader", () => {
  it("takes the preferred replica first, only from the ISR among live brokers", () => {
    const p = partition({ replicas: [1, 2, 3], isr: [2, 3, 1], leader: NO_LEADER });
    expect(chooseLeader(p, alive([1, 2, 3]))).toBe(1);
    expect(chooseLeader(p, alive([2, 3]))).toBe(2);
    expect(chooseLeader({ ...p, isr: [3] }, alive([1, 2, 3]))).toBe(3);
  });

  it("skips brokers shutting down", () => {
    const p = partition({ replicas: [1, 2, 3] });
    expect(chooseLeader(p, alive([1, 2, 3], [1]))).toBe(2);
    expect(chooseLeader(p, alive([1, 2, 3], [1, 2, 3]))).toBe(NO_LEADER);
  });

  it("gives NO_LEADER when no ISR member is live, unless unclean election is on", () => {
    const p = partition({ replicas: [1, 2, 3], isr: [1], leader: NO_LEADER });
    expect(chooseLeader(p, alive([2, 3]))).toBe(NO_LEADER);
    expect(chooseLeader(p, alive([2, 3]), true)).toBe(2);
    expect(chooseLeader(p, alive([]), true)).toBe(NO_LEADER);
  });

  it("puts replicas being removed by a reassignment last", () => {
    const p = partition({ replicas: [4, 2, 1], removingReplicas: [1], addingReplicas: [4], isr: [1, 2] });
    expect(chooseLeader(p, alive([1, 2, 4]))).toBe(2);
  });
});

describe("epochs", () => {
  const p = partition({ replicas: [1, 2, 3] });
  it("a leader change bumps the leader and partition epochs", () => {
    const next = changePartition(p, { leader: 2 });
    expect([next.leaderEpoch, next.partitionEpoch]).toEqual([p.leaderEpoch + 1, p.partitionEpoch + 1]);
  });
  it("an ISR change bumps the partition epoch only", () => {
    const next = changePartition(p, { isr: [1, 2] });
    expect([next.leaderEpoch, next.partitionEpoch]).toEqual([p.leaderEpoch, p.partitionEpoch + 1]);
  });
  it("no change keeps both, also for the same ISR in another order", () => {
    expect(changePartition(p, { leader: 1, isr: [3, 2, 1] })).toBe(p);
  });
  it("refuses a leader outside the ISR", () => {
    expect(() => changePartition(p, { leader: 2, isr: [1, 3] })).toThrow(/outside the ISR/);
  });
});

describe("electLeader", () => {
  it("an unclean leader becomes the whole ISR", () => {
    const p = partition({ replicas: [1, 2, 3], isr: [1], leader: NO_LEADER });
    expect(electLeader(p, alive([3]), true)).toMatchObject({ leader: 3, isr: [3], leaderEpoch: 6 });
  });
});

describe("ElectLeaders", () => {
  it("PREFERRED moves leadership back to the preferred replica when it is in sync", () => {
    const p = partition({ replicas: [1, 2, 3], leader: 2 });
    expect(electPreferred(p, alive([1, 2, 3]))).toMatchObject({
      leader: 1,
      leaderEpoch: 6,
      partitionEpoch: 10,
    });
    expect(code(electPreferred({ ...p, leader: 1 }, alive([1, 2, 3])))).toBe("ELECTION_NOT_NEEDED");
    expect(code(electPreferred({ ...p, isr: [2, 3] }, alive([1, 2, 3])))).toBe(
      "PREFERRED_LEADER_NOT_AVAILABLE",
    );
    expect(code(electPreferred(p, alive([2, 3])))).toBe("PREFERRED_LEADER_NOT_AVAILABLE");
  });

  it("UNCLEAN elects only for a partition without a live leader", () => {
    const p = partition({ replicas: [1, 2, 3], isr: [1], leader: NO_LEADER });
    expect(electUnclean(p, alive([2, 3]))).toMatchObject({ leader: 2, isr: [2] });
    expect(code(electUnclean({ ...p, leader: 1 }, alive([1, 2])))).toBe("ELECTION_NOT_NEEDED");
    expect(code(electUnclean(p, alive([])))).toBe("ELIGIBLE_LEADERS_NOT_AVAILABLE");
  });
});

describe("preferredElectionsDue", () => {
  function topic(partitions: PartitionState[]): TopicState {
    return { name: "t", id: `${"0".repeat(31)}1`, partitions, configs: {} };
  }
  const led = (i: number, replicas: number[], leader: number) =>
    partition({ partition: i, replicas, leader });

  it("lists a broker's partitions once its share not led passes the percentage", () => {
    const t = topic([led(0, [1, 2], 2), led(1, [1, 2], 1), led(2, [2, 1], 2), led(3, [2, 1], 2)]);
    expect(preferredElectionsDue([t], alive([1, 2]), 10)).toEqual([{ topic: "t", partition: 0 }]);
    expect(preferredElectionsDue([t], alive([1, 2]), 50)).toEqual([]);
  });

  it("leaves out preferred replicas that cannot lead", () => {
    const t = topic([led(0, [1, 2], 2), partition({ partition: 1, replicas: [1, 2], isr: [2], leader: 2 })]);
    expect(preferredElectionsDue([t], alive([1, 2]), 10)).toEqual([{ topic: "t", partition: 0 }]);
    expect(preferredElectionsDue([t], alive([2]), 10)).toEqual([]);
  });
});
