/**
 * The `ab` scenario of bench/cluster.ts: two 3-broker clusters up together, one of this tree's
 * brokers (or `--root`'s) and one of `--ab-root`'s (an earlier commit, built), and RF=3 acks=all
 * produce on one, then the other, `--ab-reps` times, the order swapped every repetition (ABBA), so
 * both see the same machine within seconds of each other. On a machine shared with other work this
 * is the only throughput comparison worth making; CPU microseconds per record (each broker's CPU
 * seconds over the records) move less with the load than records/s do.
 */
import type { ProduceScenario } from "../cluster.js";
import { type BrokerUsage, leadersOf, progress } from "./common.js";
import type { Target } from "./speed.js";

export interface AbRun {
  rep: number;
  side: "a" | "b";
  records_per_sec: number;
  p50_ms: number;
  p99_ms: number;
  /** The partition's leader; the others are its followers. */
  leader: number;
  leader_cpu_us_per_record: number;
  /** Mean of the followers'. */
  follower_cpu_us_per_record: number;
  load_1m: number;
}

export interface AbSummary {
  a_root: string;
  b_root: string;
  runs: AbRun[];
  /** Medians per side. */
  median: Record<"a" | "b", { records_per_sec: number; leader_cpu_us: number; follower_cpu_us: number }>;
}

type Produce = (t: Target, topic: string) => Promise<ProduceScenario>;

const usPerRecord = (u: BrokerUsage, records: number) => Math.round((u.cpu_s * 1e8) / records) / 100;

async function abRun(t: Target, side: "a" | "b", rep: number, produce: Produce): Promise<AbRun> {
  const topic = `bench-ab-${side}-${rep}`;
  const s = await produce(t, topic);
  const leader = (await leadersOf(t.bootstrap, topic))[0];
  const records = s.result.records;
  const followers = s.broker_usage.filter((u) => u.node_id !== leader);
  const lead = s.broker_usage.find((u) => u.node_id === leader);
  const mean = followers.reduce((sum, u) => sum + usPerRecord(u, records), 0) / Math.max(1, followers.length);
  return {
    rep,
    side,
    records_per_sec: Math.round(s.result.records_per_sec),
    p50_ms: s.result.latency_ms.p50,
    p99_ms: s.result.latency_ms.p99,
    leader,
    leader_cpu_us_per_record: lead ? usPerRecord(lead, records) : Number.NaN,
    follower_cpu_us_per_record: Math.round(mean * 100) / 100,
    load_1m: s.load_1m,
  };
}

function median(values: number[]): number {
  const s = [...values].sort((x, y) => x - y);
  return s.length === 0 ? Number.NaN : s[(s.length - 1) >> 1];
}

export async function runAb(
  a: Target,
  b: Target,
  roots: { a: string; b: string },
  reps: number,
  produce: Produce,
): Promise<AbSummary> {
  const runs: AbRun[] = [];
  for (let rep = 1; rep <= reps; rep++) {
    const order: ["a" | "b", Target][] =
      rep % 2 === 1
        ? [
            ["a", a],
            ["b", b],
          ]
        : [
            ["b", b],
            ["a", a],
          ];
    for (const [side, t] of order) {
      progress(`ab: repetition ${rep}, side ${side} (${side === "a" ? roots.a : roots.b}) ...`);
      runs.push(await abRun(t, side, rep, produce));
    }
  }
  const of = (side: "a" | "b") => {
    const mine = runs.filter((r) => r.side === side);
    return {
      records_per_sec: median(mine.map((r) => r.records_per_sec)),
      leader_cpu_us: median(mine.map((r) => r.leader_cpu_us_per_record)),
      follower_cpu_us: median(mine.map((r) => r.follower_cpu_us_per_record)),
    };
  };
  return { a_root: roots.a, b_root: roots.b, runs, median: { a: of("a"), b: of("b") } };
}
