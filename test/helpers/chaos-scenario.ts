/**
 * One scheduled chaos scenario from start to verdict: a fresh RF=3, min.insync.replicas=2 topic,
 * the verify workload on it, the schedule's faults applied (chaos-faults.ts), progress after the
 * last one, the drain and the checker. Passes only when the checker finds nothing and writes were
 * acknowledged after every fault; a failure names the seed, the schedule and how to replay it.
 * Whatever the outcome, every broker, link and etcd member is restored for the next scenario.
 */
import type { Report } from "../../bench/verify/check.js";
import { type ChaosEnv, FaultDriver } from "./chaos-faults.js";
import { ChaosRun, type ChaosWorkload, createChaosTopic } from "./chaos-run.js";
import { type Fault, formatSchedule, type Schedule } from "./chaos-schedule.js";
import { within } from "./wait.js";

/** Acks after the last fault before the drain: the cluster still makes progress at the end. */
const FINAL_ACKS = 100;

export interface ScenarioResult {
  name: string;
  seed: number;
  faults: number;
  acked: number;
  reads: number;
  ms: number;
}

/**
 * Runs `schedule` on `env` (its topic is created here) and returns the clean report's figures;
 * throws with the schedule and `replay` (the command that replays it) otherwise.
 */
export interface ScenarioOptions {
  workload?: Omit<ChaosWorkload, "topic">;
  /** The topic's replica lists (default: RF=3, placed by the controller). */
  assignments?: number[][];
  /** Awaited while each fault holds, before its progress is counted (a condition the fault must reach). */
  whileHeld?: (fault: Fault, run: ChaosRun) => Promise<void>;
}

export async function runSchedule(
  name: string,
  env: ChaosEnv,
  schedule: Schedule,
  replay: string,
  options: ScenarioOptions = {},
): Promise<ScenarioResult> {
  const started = Date.now();
  const context = `chaos scenario "${name}" failed; schedule ${formatSchedule(schedule, replay)}`;
  await createChaosTopic(env.cluster, env.topic, env.partitions, options.assignments);
  const run = await ChaosRun.start(env.cluster, { ...options.workload, topic: env.topic });
  const driver = new FaultDriver(env, run, options.whileHeld);
  let report: Report;
  try {
    await driver.apply(schedule);
    await run.progress(FINAL_ACKS, "after the last fault");
    report = await run.finish();
  } catch (err) {
    await run.abandon();
    await driver.restoreAll().catch(() => {});
    throw new Error(`${context}\n${(err as Error).message}\nwhat happened:\n  ${run.journal.join("\n  ")}`, {
      cause: err,
    });
  }
  await driver.restoreAll();
  run.assertClean(report, context);
  return {
    name,
    seed: schedule.seed,
    faults: schedule.faults.length,
    acked: report.totals.acked,
    reads: report.totals.reads,
    ms: Date.now() - started,
  };
}

/** How long the faults of one scenario may take before it fails, explaining itself. */
export const SCENARIO_BUDGET_MS = 180_000;

/**
 * Runs a hand-written scenario's faults (`body`) within SCENARIO_BUDGET_MS; on a failure or past
 * the budget, stops the workload, restores the cluster and throws with what the scenario did.
 */
export async function guarded(run: ChaosRun, driver: FaultDriver, body: () => Promise<void>): Promise<void> {
  try {
    await within(body(), "the scenario's faults", SCENARIO_BUDGET_MS);
  } catch (err) {
    await run.abandon();
    await driver.restoreAll().catch(() => {});
    throw new Error(`${(err as Error).message}\nwhat happened:\n  ${run.journal.join("\n  ")}`, {
      cause: err,
    });
  }
}
