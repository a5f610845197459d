/**
 * The chaos suite's fault schedules (test/helpers/chaos-schedule.ts), without a cluster: a seed
 * gives the same schedule every time and another seed another one; the matrix bounces a target
 * `times` times but shuts it down once; random schedules keep one broker down at most (a
 * shutdown drawn becomes its bounce) and pick targets their kinds can take; CHAOS_SEED is read
 * and refused when it is not a seed; the printed schedule names every fault and the replay.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  BROKER_FAILURES,
  chaosSeed,
  formatSchedule,
  matrixSchedule,
  OTHER_FAULTS,
  randomSchedule,
  type ScheduleOptions,
} from "../helpers/chaos-schedule.js";

const OPTIONS: ScheduleOptions = {
  kinds: [...BROKER_FAILURES, ...OTHER_FAULTS],
  faults: 50,
  partitions: 3,
  brokers: [1, 2, 3],
  etcdMembers: ["m1", "m2", "m3"],
};

describe("fault schedules", () => {
  const seed = process.env.CHAOS_SEED;
  afterEach(() => {
    process.env.CHAOS_SEED = seed;
    if (seed === undefined) delete process.env.CHAOS_SEED;
  });

  it("are the same for the same seed and differ for another", () => {
    expect(randomSchedule(7, OPTIONS)).toEqual(randomSchedule(7, OPTIONS));
    expect(randomSchedule(8, OPTIONS).faults).not.toEqual(randomSchedule(7, OPTIONS).faults);
    expect(matrixSchedule(7, "leader", "hard_bounce", 5, 3)).toEqual(
      matrixSchedule(7, "leader", "hard_bounce", 5, 3),
    );
  });

  it("bounce a matrix target `times` times and shut it down once", () => {
    const bounces = matrixSchedule(1, "controller", "clean_bounce", 5, 3);
    expect(bounces.faults.map((f) => [f.kind, f.target.role])).toEqual(
      Array.from({ length: 5 }, () => ["clean_bounce", "controller"]),
    );
    expect(matrixSchedule(1, "leader", "hard_shutdown", 5, 3).faults).toHaveLength(1);
    for (const f of matrixSchedule(2, "leader", "clean_bounce", 20, 3).faults) {
      expect(f.target).toMatchObject({ role: "leader" });
      expect(f.target.role === "leader" && f.target.partition).toBeGreaterThanOrEqual(0);
      expect(f.target.role === "leader" && f.target.partition).toBeLessThan(3);
      expect(f.afterAcks).toBeGreaterThan(0);
      expect(f.holdAcks).toBeGreaterThan(0);
    }
  });

  it("draw no shutdown at random, and targets each kind can take", () => {
    const faults = randomSchedule(3, { ...OPTIONS, faults: 500 }).faults;
    expect(faults.some((f) => f.kind === "clean_shutdown" || f.kind === "hard_shutdown")).toBe(false);
    expect(new Set(faults.map((f) => f.kind))).toEqual(
      new Set(["clean_bounce", "hard_bounce", ...OTHER_FAULTS]),
    );
    for (const f of faults) {
      if (f.kind === "etcd_member_bounce")
        expect(["m1", "m2", "m3"]).toContain((f.target as { member: string }).member);
      if (f.kind === "etcd_cut") expect(f.target).toEqual({ role: "all_brokers" });
      if (f.kind === "slow_follower") expect(f.target.role).toBe("follower");
      if (f.kind === "pause" || f.kind === "isolate") expect(f.target.role).toBe("leader");
    }
  });

  it("take CHAOS_SEED, refusing what is not a seed", () => {
    delete process.env.CHAOS_SEED;
    expect(chaosSeed(5)).toBe(5);
    process.env.CHAOS_SEED = "123";
    expect(chaosSeed(5)).toBe(123);
    process.env.CHAOS_SEED = "soon";
    expect(() => chaosSeed(5)).toThrow(/CHAOS_SEED=soon/);
  });

  it("print every fault and the command that replays them", () => {
    const schedule = matrixSchedule(9, "leader", "hard_bounce", 2, 3);
    const text = formatSchedule(schedule, "CHAOS_SEED=9 npx vitest run x");
    const [first, second] = schedule.faults;
    expect(text.split("\n")).toEqual([
      "seed 9:",
      `  1. after ${first.afterAcks} acks: hard_bounce of leader of partition ${(first.target as { partition: number }).partition}, held for ${first.holdAcks} acks`,
      `  2. after ${second.afterAcks} acks: hard_bounce of leader of partition ${(second.target as { partition: number }).partition}, held for ${second.holdAcks} acks`,
      "replay: CHAOS_SEED=9 npx vitest run x",
    ]);
  });
});
