/**
 * Seeded fault schedules for the chaos suite (issue 14): from a seed, a reproducible list of
 * faults, each with its kind, its target (the leader or a follower of a partition, the
 * controller, a named broker, an etcd member, every broker's link to etcd) and its timing in
 * acknowledged writes rather than wall-clock time: inject after `afterAcks` more acks, hold the
 * fault until `holdAcks` more arrived under it (progress), then heal. The same seed and options
 * give the same schedule; `CHAOS_SEED` replays a printed one.
 */
import { Random } from "./random.js";

/** Kafka's replication test matrix (kafkatest replication_test.py): the four broker failures. */
export const BROKER_FAILURES = ["clean_shutdown", "hard_shutdown", "clean_bounce", "hard_bounce"] as const;
export type BrokerFailure = (typeof BROKER_FAILURES)[number];

/** Faults needing more than broker processes: `pause` (SIGSTOP), and the netns or 3-member etcd ones. */
export const OTHER_FAULTS = ["pause", "isolate", "etcd_cut", "slow_follower", "etcd_member_bounce"] as const;
export type FaultKind = BrokerFailure | (typeof OTHER_FAULTS)[number];

export type FaultTarget =
  | { role: "leader"; partition: number }
  | { role: "follower"; partition: number }
  | { role: "controller" }
  | { role: "broker"; nodeId: number }
  | { role: "etcd"; member: string }
  | { role: "all_brokers" };

export interface Fault {
  kind: FaultKind;
  target: FaultTarget;
  /** Acknowledged writes (since the last step) before the fault is injected. */
  afterAcks: number;
  /**
   * Acknowledged writes that must arrive while it holds before it is healed (bounces: after the
   * failover, before the restart); shutdowns are healed only when the run ends.
   */
  holdAcks: number;
}

export interface Schedule {
  seed: number;
  faults: Fault[];
}

/** The kinds a schedule may draw from, and what they may target. */
export interface ScheduleOptions {
  kinds: readonly FaultKind[];
  faults: number;
  partitions: number;
  /** Broker ids (for `broker` targets). */
  brokers: number[];
  /** etcd member names, for `etcd_member_bounce`. */
  etcdMembers?: string[];
  /** Range of `afterAcks` and `holdAcks` draws. */
  acks?: { min: number; max: number };
}

const DEFAULT_ACKS = { min: 50, max: 200 };
/**
 * The short matrix of `npm test`: each fault after and held for 20-80 acks (a fraction of a
 * second of the workload), enough for writes before, during and after it to be judged.
 */
export const SHORT_ACKS = { min: 20, max: 80 };

/** The seed of a run: CHAOS_SEED if set, else `fallback`. */
export function chaosSeed(fallback: number): number {
  const env = process.env.CHAOS_SEED;
  if (env === undefined || env === "") return fallback;
  const n = Number(env);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`CHAOS_SEED=${env} is not a non-negative integer`);
  return n;
}

/** A random seed for a run that was given none (the soak script). */
export function freshSeed(): number {
  return Math.floor(Math.random() * 2 ** 31);
}

/** One matrix cell: `failure` of the leader of a partition or of the controller, `times` times. */
export function matrixSchedule(
  seed: number,
  target: "leader" | "controller",
  failure: BrokerFailure,
  times: number,
  partitions: number,
  acks = DEFAULT_ACKS,
): Schedule {
  const rng = new Random(seed);
  const bounces = failure === "clean_bounce" || failure === "hard_bounce";
  const faults: Fault[] = [];
  for (let i = 0; i < (bounces ? times : 1); i++) {
    faults.push({
      kind: failure,
      target:
        target === "leader" ? { role: "leader", partition: rng.int(0, partitions - 1) } : { role: target },
      afterAcks: rng.int(acks.min, acks.max),
      holdAcks: rng.int(acks.min, acks.max),
    });
  }
  return { seed, faults };
}

/**
 * `faults` faults drawn from `kinds`, each healed before the next (a shutdown is drawn as its
 * bounce: one broker down at a time keeps RF=3, min.insync.replicas=2 partitions writable).
 */
export function randomSchedule(seed: number, options: ScheduleOptions): Schedule {
  const rng = new Random(seed);
  const acks = options.acks ?? DEFAULT_ACKS;
  const faults: Fault[] = [];
  for (let i = 0; i < options.faults; i++) {
    const drawn = rng.pick(options.kinds);
    const kind =
      drawn === "clean_shutdown" ? "clean_bounce" : drawn === "hard_shutdown" ? "hard_bounce" : drawn;
    faults.push({
      kind,
      target: randomTarget(rng, kind, options),
      afterAcks: rng.int(acks.min, acks.max),
      holdAcks: rng.int(acks.min, acks.max),
    });
  }
  return { seed, faults };
}

function randomTarget(rng: Random, kind: FaultKind, options: ScheduleOptions): FaultTarget {
  const partition = rng.int(0, options.partitions - 1);
  switch (kind) {
    case "etcd_member_bounce":
      return { role: "etcd", member: rng.pick(options.etcdMembers ?? ["m1"]) };
    case "etcd_cut":
      return { role: "all_brokers" };
    case "slow_follower":
      return { role: "follower", partition };
    case "isolate":
    case "pause":
      return { role: "leader", partition };
    default: {
      const roll = rng.int(0, 2);
      if (roll === 0) return { role: "leader", partition };
      if (roll === 1) return { role: "controller" };
      return { role: "broker", nodeId: rng.pick(options.brokers) };
    }
  }
}

export function describeTarget(t: FaultTarget): string {
  switch (t.role) {
    case "leader":
    case "follower":
      return `${t.role} of partition ${t.partition}`;
    case "controller":
      return "controller";
    case "broker":
      return `broker ${t.nodeId}`;
    case "etcd":
      return `etcd member ${t.member}`;
    case "all_brokers":
      return "every broker";
  }
}

/** The schedule as lines a person reads, ending with `replay`: the command that replays it. */
export function formatSchedule(schedule: Schedule, replay?: string): string {
  const lines = [`seed ${schedule.seed}:`];
  for (const [i, f] of schedule.faults.entries()) {
    lines.push(
      `  ${i + 1}. after ${f.afterAcks} acks: ${f.kind} of ${describeTarget(f.target)}, held for ${f.holdAcks} acks`,
    );
  }
  if (replay) lines.push(`replay: ${replay}`);
  return lines.join("\n");
}
