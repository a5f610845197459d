import { describe, expect, it } from "vitest";
import {
  type AlterPartitionRequest,
  applyIsrChange,
  removeIneligible,
} from "../../../broker/controller/isr.js";
import { squash } from "../../../broker/controller/partition-change.js";
import { reconcilePartition } from "../../../broker/controller/reconcile.js";
import { NO_LEADER, type PartitionState } from "../../../broker/metadata/cluster.js";
import { KafkaError } from "../../../protocol/errors.js";
import { alive, partition } from "./states.js";

const registrations = new Map([
  [1, { epoch: 100, shuttingDown: false }],
  [2, { epoch: 200, shuttingDown: false }],
  [3, { epoch: 300, shuttingDown: false }],
]);

function request(fields: Partial<AlterPartitionRequest>): AlterPartitionRequest {
  return { brokerId: 1, brokerEpoch: 100, leaderEpoch: 5, partitionEpoch: 9, newIsr: [1, 2], ...fields };
}

function code(result: PartitionState | KafkaError): string {
  return result instanceof KafkaError ? result.code : "NONE";
}

describe("applyIsrChange (AlterPartition)", () => {
  const p = partition({ replicas: [1, 2, 3] });

  it("shrinks and expands the ISR, bumping the partition epoch only", () => {
    const shrunk = applyIsrChange(p, request({ newIsr: [1, 2] }), registrations) as PartitionState;
    expect(shrunk).toMatchObject({ isr: [1, 2], leader: 1, leaderEpoch: 5, partitionEpoch: 10 });
    const grown = applyIsrChange(shrunk, request({ partitionEpoch: 10, newIsr: [1, 2, 3] }), registrations);
    expect(grown).toMatchObject({ isr: [1, 2, 3], partitionEpoch: 11 });
  });

  it("returns the state itself for an unchanged ISR", () => {
    expect(applyIsrChange(p, request({ newIsr: [3, 2, 1] }), registrations)).toBe(p);
  });

  it("refuses a stale broker epoch, or an unregistered sender", () => {
    expect(code(applyIsrChange(p, request({ brokerEpoch: 99 }), registrations))).toBe("STALE_BROKER_EPOCH");
    expect(code(applyIsrChange(p, request({ brokerId: 4, brokerEpoch: 1 }), registrations))).toBe(
      "STALE_BROKER_EPOCH",
    );
  });

  it("fences an older leader epoch and a sender that does not lead", () => {
    expect(code(applyIsrChange(p, request({ leaderEpoch: 4 }), registrations))).toBe("FENCED_LEADER_EPOCH");
    expect(code(applyIsrChange(p, request({ brokerId: 2, brokerEpoch: 200 }), registrations))).toBe(
      "NOT_LEADER_OR_FOLLOWER",
    );
  });

  it("refuses a stale partition epoch (INVALID_UPDATE_VERSION)", () => {
    expect(code(applyIsrChange(p, request({ partitionEpoch: 8 }), registrations))).toBe(
      "INVALID_UPDATE_VERSION",
    );
  });

  it("answers NOT_CONTROLLER to epochs newer than its view", () => {
    expect(code(applyIsrChange(p, request({ leaderEpoch: 6 }), registrations))).toBe("NOT_CONTROLLER");
    expect(code(applyIsrChange(p, request({ partitionEpoch: 10 }), registrations))).toBe("NOT_CONTROLLER");
  });

  it("keeps the leader in the ISR and only replicas in it", () => {
    for (const newIsr of [
      [2, 3],
      [1, 4],
      [1, 1, 2],
    ])
      expect(code(applyIsrChange(p, request({ newIsr }), registrations))).toBe("INVALID_REQUEST");
  });

  it("refuses to add a broker that is not registered or is shutting down", () => {
    const small = partition({ replicas: [1, 2, 3], isr: [1] });
    const without3 = new Map([...registrations].filter(([id]) => id !== 3));
    expect(code(applyIsrChange(small, request({ newIsr: [1, 3] }), without3))).toBe("INELIGIBLE_REPLICA");
    const stopping = new Map([...registrations, [3, { epoch: 300, shuttingDown: true }]]);
    expect(code(applyIsrChange(small, request({ newIsr: [1, 3] }), stopping))).toBe("INELIGIBLE_REPLICA");
    // A member already in the ISR may stay even while it shuts down.
    expect(code(applyIsrChange(p, request({ newIsr: [1, 3] }), stopping))).toBe("NONE");
  });

  it("refuses a member whose broker epoch is not its live registration's (KIP-903)", () => {
    const small = partition({ replicas: [1, 2, 3], isr: [1] });
    const withEpochs = (epochOf3: number) =>
      request({
        newIsr: [1],
        newIsrWithEpochs: [
          { brokerId: 1, brokerEpoch: 100 },
          { brokerId: 3, brokerEpoch: epochOf3 },
        ],
      });
    // Broker 3 restarted (epoch 300 now): its leader counted the old registration's progress.
    expect(code(applyIsrChange(small, withEpochs(299), registrations))).toBe("INELIGIBLE_REPLICA");
    expect(applyIsrChange(small, withEpochs(300), registrations)).toMatchObject({ isr: [1, 3] });
    // Epoch unknown (-1, older request versions): liveness alone is checked.
    expect(applyIsrChange(small, withEpochs(-1), registrations)).toMatchObject({ isr: [1, 3] });
    // A member staying in the ISR is checked too.
    const stay = request({
      newIsrWithEpochs: [
        { brokerId: 1, brokerEpoch: 100 },
        { brokerId: 2, brokerEpoch: 7 },
      ],
    });
    expect(code(applyIsrChange(p, stay, registrations))).toBe("INELIGIBLE_REPLICA");
  });
});

describe("fencing a broker", () => {
  it("removes it from the ISR and moves its leadership to another ISR member", () => {
    const p = partition({ replicas: [1, 2, 3] });
    expect(removeIneligible(p, alive([2, 3]))).toMatchObject({ leader: 2, isr: [2, 3], leaderEpoch: 6 });
  });

  it("keeps the last ISR member and leaves the partition leaderless", () => {
    const p = partition({ replicas: [1, 2, 3], isr: [1] });
    expect(removeIneligible(p, alive([2, 3]))).toMatchObject({ leader: NO_LEADER, isr: [1], leaderEpoch: 6 });
  });

  it("keeps the leader when every ISR member goes at once", () => {
    const p = partition({ replicas: [1, 2, 3], isr: [2, 1], leader: 1 });
    expect(removeIneligible(p, alive([3]))).toMatchObject({ leader: NO_LEADER, isr: [1] });
  });

  it("elects the last ISR member when it comes back", () => {
    const p = partition({ replicas: [1, 2, 3], isr: [1], leader: NO_LEADER });
    expect(reconcilePartition(p, alive([1, 2, 3]))).toMatchObject({ leader: 1, isr: [1], leaderEpoch: 6 });
  });

  it("with unclean election on, elects a live replica out of sync", () => {
    const p = partition({ replicas: [1, 2, 3], isr: [1], leader: NO_LEADER });
    expect(reconcilePartition(p, alive([2, 3]), false)).toBe(p);
    expect(reconcilePartition(p, alive([2, 3]), true)).toMatchObject({ leader: 2, isr: [2] });
  });

  it("a broker shutting down hands over its leadership and leaves the ISR", () => {
    const p = partition({ replicas: [1, 2, 3] });
    expect(reconcilePartition(p, alive([1, 2, 3], [1]))).toMatchObject({ leader: 2, isr: [2, 3] });
  });

  it("a broker shutting down keeps leading when no ISR member can take over", () => {
    const p = partition({ replicas: [1, 2, 3], isr: [1] });
    expect(reconcilePartition(p, alive([1, 2, 3], [1]))).toBe(p);
  });

  it("changes the epochs once for several changes", () => {
    const p = partition({
      replicas: [2, 3, 4, 1],
      isr: [1, 2, 4],
      leader: 1,
      addingReplicas: [4],
      removingReplicas: [1],
    });
    // Broker 1 is lost: it leaves the ISR and its leadership, which completes the reassignment.
    expect(reconcilePartition(p, alive([2, 3, 4]))).toMatchObject({
      replicas: [2, 3, 4],
      leader: 2,
      isr: [2, 4],
      addingReplicas: [],
      removingReplicas: [],
      leaderEpoch: 6,
      partitionEpoch: 10,
    });
  });

  it("a leader fenced and elected again in one write gets a new leader epoch", () => {
    // A sole-ISR leader that restarted: fenced (leaderless), then back; also with its peer dead.
    for (const isr of [[1], [1, 2]]) {
      const p = partition({ replicas: [1, 2], isr, leader: 1 });
      const fenced = reconcilePartition(p, alive([]));
      const back = squash(p, reconcilePartition(fenced, alive([1])));
      expect(back).toMatchObject({ leader: 1, isr: [1], leaderEpoch: 6, partitionEpoch: 10 });
    }
  });
});
