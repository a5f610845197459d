/**
 * Seeded random walks over one partition: brokers lost, back and shutting down, leaders' ISR
 * changes, reassignments and elections in any order; after every step the decisions keep the
 * model's invariants. SAMSA_SEED varies the walks.
 */
import { describe, expect, it } from "vitest";
import { electPreferred, eligible, type Liveness } from "../../../broker/controller/election.js";
import { applyIsrChange } from "../../../broker/controller/isr.js";
import { assertValid } from "../../../broker/controller/partition-change.js";
import { cancelReassignment, startReassignment } from "../../../broker/controller/reassignment.js";
import { reconcilePartition } from "../../../broker/controller/reconcile.js";
import { NO_LEADER, type PartitionState } from "../../../broker/metadata/cluster.js";
import { KafkaError } from "../../../protocol/errors.js";
import { baseSeed, type Random, withSeed } from "../../helpers/random.js";
import { partition } from "./states.js";

const BROKERS = [1, 2, 3, 4, 5];
const WALKS = 200;
const STEPS = 60;

interface World {
  state: PartitionState;
  live: Set<number>;
  shuttingDown: Set<number>;
  /** The last event drawn, for the failure message. */
  event: number;
  /** Brokers a leader's accepted ISR change added in this step. */
  joined: number[];
}

function liveness(w: World): Liveness {
  return { live: w.live, shuttingDown: w.shuttingDown };
}

/** One random event; returns the next state (or the same when refused). */
function step(w: World, rng: Random): PartitionState {
  const s = w.state;
  const id = rng.pick(BROKERS);
  const catching = (f: () => PartitionState) => {
    try {
      return f();
    } catch (err) {
      if (KafkaError.is(err)) return s;
      throw err;
    }
  };
  w.event = rng.int(0, 6);
  w.joined = [];
  switch (w.event) {
    case 0:
      w.live.delete(id);
      w.shuttingDown.delete(id);
      return reconcilePartition(s, liveness(w));
    case 1:
      w.live.add(id);
      w.shuttingDown.delete(id);
      return reconcilePartition(s, liveness(w));
    case 2:
      if (w.live.has(id)) w.shuttingDown.add(id);
      return reconcilePartition(s, liveness(w));
    case 3: {
      if (s.leader === NO_LEADER) return s;
      const newIsr = rng.chance(0.5)
        ? [...new Set([...s.isr, id])]
        : s.isr.filter((m) => m !== id || m === s.leader);
      const registrations = new Map(
        [...w.live].map((b) => [b, { epoch: 1, shuttingDown: w.shuttingDown.has(b) }]),
      );
      const request = {
        brokerId: s.leader,
        brokerEpoch: -1,
        leaderEpoch: s.leaderEpoch,
        partitionEpoch: s.partitionEpoch,
        newIsr,
      };
      const next = applyIsrChange(s, request, registrations);
      if (next instanceof KafkaError) return s;
      w.joined = next.isr.filter((m) => !s.isr.includes(m));
      return reconcilePartition(next, liveness(w));
    }
    case 4: {
      const target = BROKERS.filter(() => rng.chance(0.5)).slice(0, 3);
      return catching(() => startReassignment(s, target, liveness(w)));
    }
    case 5:
      return catching(() => cancelReassignment(s, liveness(w)));
    default: {
      const next = electPreferred(s, liveness(w));
      return next instanceof KafkaError ? s : next;
    }
  }
}

function check(before: PartitionState, after: PartitionState, w: World): void {
  assertValid(after);
  if (after === before) return;
  expect(after.partitionEpoch).toBeGreaterThan(before.partitionEpoch);
  if (after.leader !== before.leader) {
    expect(after.leaderEpoch).toBeGreaterThan(before.leaderEpoch);
    // Clean elections only: a new leader was in sync before (or just joined through its leader).
    if (after.leader !== NO_LEADER) expect([...before.isr, ...w.joined]).toContain(after.leader);
  } else {
    expect(after.leaderEpoch).toBe(before.leaderEpoch);
  }
  if (after.leader !== NO_LEADER) {
    expect(w.live.has(after.leader)).toBe(true);
    if (w.shuttingDown.has(after.leader))
      expect(after.isr.filter((m) => m !== after.leader && eligible(m, liveness(w)))).toEqual([]);
  }
}

describe("controller decisions, random walks", () => {
  it(`keep the invariants over ${WALKS} walks of ${STEPS} steps`, async () => {
    const seed0 = baseSeed(2613);
    for (let walk = 0; walk < WALKS; walk++) {
      let where = "";
      await withSeed(
        seed0 + walk,
        async (rng) => {
          const w: World = {
            state: partition({ replicas: [1, 2, 3] }),
            live: new Set(BROKERS),
            shuttingDown: new Set(),
            event: -1,
            joined: [],
          };
          for (let i = 0; i < STEPS; i++) {
            const before = w.state;
            const after = step(w, rng);
            where = `step ${i}, event ${w.event}: ${JSON.stringify(before)} -> ${JSON.stringify(after)} live ${[...w.live]} stopping ${[...w.shuttingDown]}`;
            check(before, after, w);
            w.state = after;
          }
        },
        () => where,
      );
    }
  });
});
