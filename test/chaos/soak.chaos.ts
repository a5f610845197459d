/**
 * The chaos soak of issue 14, run by `npm run chaos` (bench/chaos.ts) through vitest with
 * test/chaos/soak.config.ts, never by `npm test`. Phases, each judged by the verify checker:
 * 1. the replication matrix, 5 bounces per cell (leader and controller x the four failures);
 * 2. random faults (broker failures, pauses, isolated leaders, brokers cut from etcd, slow
 *    followers) from seeded schedules on test hosts, round after round until CHAOS_MINUTES pass;
 * 3. a 3-member etcd losing members under load, with broker bounces;
 * 4. every broker cut from etcd for CHAOS_ETCD_OUTAGE_S (60) seconds: the writes acknowledged
 *    meanwhile, at the leaders that stay alive.
 * Each scenario's result is appended as a JSON line to CHAOS_REPORT; the first failure ends the
 * soak with its seed and schedule. CHAOS_SEED replays a run (the rounds' seeds follow from it).
 */
import { appendFileSync } from "node:fs";
import { afterAll, describe, it } from "vitest";
import { CHAOS_BROKER_FLAGS } from "../helpers/chaos-run.js";
import { runSchedule, type ScenarioResult } from "../helpers/chaos-scenario.js";
import {
  BROKER_FAILURES,
  chaosSeed,
  type FaultKind,
  freshSeed,
  matrixSchedule,
  randomSchedule,
  type Schedule,
} from "../helpers/chaos-schedule.js";
import { EtcdCluster } from "../helpers/etcd-cluster.js";
import { ETCD_HOST, type NetCluster, startNetCluster } from "../helpers/net-cluster.js";
import { LOOPBACK_HOSTS, ProcessCluster } from "../helpers/process-cluster.js";
import { waitFor } from "../helpers/wait.js";

const SEED = chaosSeed(freshSeed());
const MINUTES = Number(process.env.CHAOS_MINUTES ?? 5);
const MATRIX_BOUNCES = Number(process.env.CHAOS_MATRIX_BOUNCES ?? 5);
const ETCD_OUTAGE_S = Number(process.env.CHAOS_ETCD_OUTAGE_S ?? 60);
const PHASES = (process.env.CHAOS_PHASES ?? "matrix,random,etcd3,outage").split(",");
/** Sends per second of every workload here. */
const RATE = 300;
const PARTITIONS = 3;
/** Faults per random round: each round is a fresh topic and workload. */
const FAULTS_PER_ROUND = 4;
/** Rounds of phase 2 at most, whatever CHAOS_MINUTES says. */
const ROUNDS_MAX = 200;
const RANDOM_KINDS: FaultKind[] = [...BROKER_FAILURES, "pause", "isolate", "etcd_cut", "slow_follower"];
const REPLAY = `npm run chaos -- --seed ${SEED}`;

function report(result: ScenarioResult, extra: Record<string, unknown> = {}): void {
  const line = `${JSON.stringify({ ...result, ...extra })}\n`;
  if (process.env.CHAOS_REPORT) appendFileSync(process.env.CHAOS_REPORT, line);
  process.stdout.write(`chaos result: ${line}`);
}

process.stdout.write(`chaos soak: seed ${SEED}, ${MINUTES} min of random faults, phases ${PHASES}\n`);

describe.runIf(PHASES.includes("matrix"))("the replication matrix, 5 bounces per cell", () => {
  let cluster: ProcessCluster;
  afterAll(async () => {
    await cluster?.close();
  });

  it("every cell", async () => {
    cluster = await ProcessCluster.start(3, CHAOS_BROKER_FLAGS);
    for (const [t, target] of (["leader", "controller"] as const).entries()) {
      for (const [f, failure] of BROKER_FAILURES.entries()) {
        const schedule = matrixSchedule(SEED + 10 * t + f, target, failure, MATRIX_BOUNCES, PARTITIONS);
        const env = { cluster, topic: `soak-matrix-${target}-${failure}`, partitions: PARTITIONS };
        report(
          await runSchedule(`matrix: ${failure} of the ${target}`, env, schedule, REPLAY, {
            workload: { rate: RATE },
          }),
        );
      }
    }
  });
});

describe.runIf(PHASES.includes("random"))("random faults on test hosts", () => {
  let net: NetCluster | undefined;
  afterAll(async () => {
    await net?.cluster.close();
  });

  it(`rounds of ${FAULTS_PER_ROUND} faults for CHAOS_MINUTES`, async () => {
    net = await startNetCluster(3, CHAOS_BROKER_FLAGS);
    const deadline = Date.now() + MINUTES * 60_000;
    for (let round = 1; round <= ROUNDS_MAX && Date.now() < deadline; round++) {
      const schedule = randomSchedule(SEED + 1000 + round, {
        kinds: RANDOM_KINDS,
        faults: FAULTS_PER_ROUND,
        partitions: PARTITIONS,
        brokers: [1, 2, 3],
      });
      const env = { ...net, topic: `soak-random-${round}`, partitions: PARTITIONS };
      const kinds = schedule.faults.map((f) => f.kind).join(",");
      const result = await runSchedule(`random round ${round}`, env, schedule, REPLAY, {
        workload: { rate: RATE },
      });
      report(result, { kinds });
    }
  });
});

describe.runIf(PHASES.includes("etcd3"))("a 3-member etcd", () => {
  it("members and brokers bounced under load", async () => {
    const etcd = await EtcdCluster.start(3);
    const cluster = await ProcessCluster.start(3, CHAOS_BROKER_FLAGS, {
      ...LOOPBACK_HOSTS,
      startEtcd: async () => etcd,
    });
    try {
      const schedule = randomSchedule(SEED + 2000, {
        kinds: ["etcd_member_bounce", "etcd_member_bounce", "hard_bounce", "clean_bounce"],
        faults: 6,
        partitions: PARTITIONS,
        brokers: [1, 2, 3],
        etcdMembers: etcd.names(),
      });
      const env = { cluster, etcd, topic: "soak-etcd3", partitions: PARTITIONS };
      report(await runSchedule("3-member etcd", env, schedule, REPLAY, { workload: { rate: RATE } }));
    } finally {
      await cluster.close();
    }
  });
});

describe.runIf(PHASES.includes("outage"))("etcd unreachable for a minute", () => {
  it("data keeps flowing at the leaders", async () => {
    const net = await startNetCluster(3, CHAOS_BROKER_FLAGS);
    try {
      const etcdUrl = `http://${net.network.address(ETCD_HOST)}:2379`;
      const outage = { sessions_expired_after_ms: 0, acked_after_expiry: 0, acked_for_ms: 0 };
      const schedule: Schedule = {
        seed: SEED,
        faults: [{ kind: "etcd_cut", target: { role: "all_brokers" }, afterAcks: 100, holdAcks: 1 }],
      };
      const env = { ...net, topic: "soak-etcd-outage", partitions: PARTITIONS };
      const result = await runSchedule("etcd cut for a minute", env, schedule, REPLAY, {
        workload: { rate: RATE },
        // Held until every session ran out, then ETCD_OUTAGE_S of writes at RATE are acknowledged.
        whileHeld: async (_fault, run) => {
          const cut = Date.now();
          await waitFor(async () => (await leases(etcdUrl)) === 0, "every lease expired", 60_000);
          const expired = Date.now();
          outage.sessions_expired_after_ms = expired - cut;
          outage.acked_after_expiry = RATE * ETCD_OUTAGE_S;
          await run.progress(
            outage.acked_after_expiry,
            "writes while etcd is cut off",
            undefined,
            3 * ETCD_OUTAGE_S * 1000,
          );
          outage.acked_for_ms = Date.now() - expired;
        },
      });
      report(result, outage);
    } finally {
      await net.cluster.close();
    }
  });
});

/** How many leases etcd holds. */
async function leases(etcdUrl: string): Promise<number> {
  const r = await fetch(`${etcdUrl}/v3/lease/leases`, { method: "POST", body: "{}" });
  return ((await r.json()) as { leases?: unknown[] }).leases?.length ?? 0;
}
