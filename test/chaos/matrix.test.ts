/**
 * Kafka's replication test matrix (kafkatest replication_test.py), short form: the leader of a
 * partition and the controller, each under clean_shutdown (SIGTERM: controlled shutdown),
 * hard_shutdown (kill -9), both left down until the end, clean_bounce and hard_bounce (stopped,
 * then started again once a new leader or controller took over). Three broker processes, an
 * RF=3 topic of 3 partitions with min.insync.replicas=2, the verify workload throughout; each
 * cell passes only when writes were acknowledged after every fault and the checker finds
 * nothing. One bounce per cell here (CHAOS_MATRIX_BOUNCES raises it), each fault after and held
 * for 20-80 acks; `npm run chaos` runs 5 bounces, each after and held for 50-200.
 * CHAOS_SEED replays a printed schedule.
 */
import { afterAll, beforeAll, describe, it } from "vitest";
import { CHAOS_BROKER_FLAGS } from "../helpers/chaos-run.js";
import { runSchedule } from "../helpers/chaos-scenario.js";
import { BROKER_FAILURES, chaosSeed, matrixSchedule, SHORT_ACKS } from "../helpers/chaos-schedule.js";
import { ProcessCluster } from "../helpers/process-cluster.js";

const SEED = chaosSeed(1414);
const BOUNCES = Number(process.env.CHAOS_MATRIX_BOUNCES ?? 1);
const PARTITIONS = 3;

let cluster: ProcessCluster;

beforeAll(async () => {
  cluster = await ProcessCluster.start(3, CHAOS_BROKER_FLAGS);
}, 90_000);

afterAll(async () => {
  await cluster?.close();
}, 60_000);

describe("the replication matrix under the verify workload", () => {
  for (const [t, target] of (["leader", "controller"] as const).entries()) {
    for (const [f, failure] of BROKER_FAILURES.entries()) {
      it(`${failure} of the ${target}: nothing acknowledged lost, progress after each fault`, async () => {
        const seed = SEED + 10 * t + f;
        const schedule = matrixSchedule(seed, target, failure, BOUNCES, PARTITIONS, SHORT_ACKS);
        const env = { cluster, topic: `matrix-${target}-${failure}`, partitions: PARTITIONS };
        await runSchedule(
          `${failure} of the ${target}`,
          env,
          schedule,
          `CHAOS_SEED=${SEED} npx vitest run test/chaos/matrix.test.ts -t "${failure} of the ${target}"`,
        );
      }, 240_000);
    }
  }
});
