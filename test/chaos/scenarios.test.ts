/**
 * Issue 14's fault scenarios on broker processes on loopback, each judged by the verify checker
 * with progress required after each fault: a leader paused (SIGSTOP) until its session runs out
 * and resumed; a follower paused while writes go on; the ISR shrunk to its leader and that leader
 * lost (no unclean election: the partition waits for it, and nothing acknowledged is lost); leader
 * changes while a consumer group rebalances; and a 3-member etcd losing a member under load.
 * CHAOS_SEED replays a printed schedule.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Cluster } from "../../client/cluster.js";
import { findCoordinator } from "../../client/coordinator.js";
import { Admin, Consumer } from "../../client/index.js";
import { FaultDriver } from "../helpers/chaos-faults.js";
import {
  CHAOS_BROKER_FLAGS,
  CHAOS_WAIT_MS,
  ChaosRun,
  createChaosTopic,
  SHORT_PRODUCER_TIMEOUTS,
} from "../helpers/chaos-run.js";
import { guarded, runSchedule } from "../helpers/chaos-scenario.js";
import { chaosSeed, type Fault, formatSchedule, type Schedule } from "../helpers/chaos-schedule.js";
import { EtcdCluster } from "../helpers/etcd-cluster.js";
import { LOOPBACK_HOSTS, ProcessCluster } from "../helpers/process-cluster.js";
import { waitFor, within } from "../helpers/wait.js";

const SEED = chaosSeed(1415);
const PARTITIONS = 3;
/** Session of the members that join and leave the workload's group (the broker's minimum). */
const CHURN_SESSION_MS = 6000;
const replay = (name: string) =>
  `CHAOS_SEED=${SEED} npx vitest run test/chaos/scenarios.test.ts -t "${name}"`;

let cluster: ProcessCluster;

beforeAll(async () => {
  cluster = await ProcessCluster.start(3, CHAOS_BROKER_FLAGS);
}, 90_000);

afterAll(async () => {
  await cluster?.close();
}, 60_000);

function oneFault(seed: number, fault: Omit<Fault, "afterAcks">): Schedule {
  return { seed, faults: [{ afterAcks: 50 + (seed % 100), ...fault }] };
}

describe("pauses", () => {
  it("a leader paused past its session and resumed acks nothing stale; a new leader took over", async () => {
    const name = "a leader paused past its session";
    const schedule = oneFault(SEED, {
      kind: "pause",
      target: { role: "leader", partition: 0 },
      holdAcks: 200,
    });
    const env = { cluster, topic: "paused-leader", partitions: PARTITIONS };
    await runSchedule(name, env, schedule, replay(name), {
      workload: { producerTimeouts: SHORT_PRODUCER_TIMEOUTS },
    });
  }, 180_000);

  it("a follower paused while writes go on leaves the ISR, and catches up when resumed", async () => {
    const name = "a follower paused while writes go on";
    // Broker 2 follows every partition and leads none: only followers are slowed.
    const assignments = [
      [1, 2, 3],
      [3, 2, 1],
      [1, 3, 2],
    ];
    const schedule = oneFault(SEED + 1, {
      kind: "slow_follower",
      target: { role: "broker", nodeId: 2 },
      holdAcks: 200,
    });
    const env = { cluster, topic: "slow-follower", partitions: PARTITIONS };
    await runSchedule(name, env, schedule, replay(name), { assignments });
  }, 180_000);
});

/** Partition 0 of `topic` as broker `askId` tells it. */
async function partitionAt(topic: string, askId: number) {
  return cluster.partition(topic, 0, [askId]);
}

/** Waits until the controller has acted on broker `id`'s registration: a topic only it holds leads there. */
async function controllerSaw(id: number, probe: string): Promise<void> {
  const admin = new Admin({ brokers: [cluster.endpoint(id)] });
  try {
    await admin.createTopics([{ name: probe, assignments: [[id]] }]);
  } finally {
    await admin.close();
  }
  await waitFor(async () => (await partitionAt(probe, id))?.leader === id, `${probe} led by broker ${id}`);
}

describe("no unclean election", () => {
  it("the ISR shrunk to its leader, then that leader lost: the partition waits, nothing acknowledged is lost", async () => {
    const topic = "lone-isr";
    await createChaosTopic(cluster, topic, 1, [[1, 2, 3]]);
    const run = await ChaosRun.start(cluster, { topic });
    const driver = new FaultDriver({ cluster, topic, partitions: 1 }, run);
    const isrIs = async (want: number[], askId: number) => {
      await waitFor(
        async () => (await partitionAt(topic, askId))?.isr.join(",") === want.join(","),
        `ISR [${want}]`,
        CHAOS_WAIT_MS,
      );
      run.note(`ISR [${want}]`);
    };
    await guarded(run, driver, async () => {
      await driver.leaderOf(0, (leader) => leader === 1);
      await cluster.kill(2);
      await isrIs([1, 3], 1);
      // Acknowledged only by brokers 1 and 3: an election of broker 2 would lose them.
      await run.progress(100, "acks with ISR [1,3]", 0);
      await cluster.kill(3);
      await isrIs([1], 1);
      await cluster.kill(1);
      run.note("brokers 1, 2, 3 killed in turn; 2 started again");
      await cluster.startNode(2);
      await controllerSaw(2, "lone-isr-probe-2");
      const waiting = await partitionAt(topic, 2);
      expect(waiting?.leader, "broker 2, out of sync, must not be elected").toBe(-1);
      await cluster.startNode(3);
      await controllerSaw(3, "lone-isr-probe-3");
      expect((await partitionAt(topic, 3))?.leader, "broker 3, out of the ISR, must not be elected").toBe(-1);
      await cluster.startNode(1);
      await driver.leaderOf(0, (leader) => leader === 1);
      await driver.inSync();
      await run.progress(100, "acks once broker 1 is back", 0);
    });
    const report = await run.finish();
    await driver.restoreAll();
    run.assertClean(report, "the ISR shrunk to its leader, then that leader lost");
  }, 300_000);
});

describe("groups", () => {
  it("leader and coordinator changes while a consumer group rebalances lose and duplicate nothing", async () => {
    const topic = "rebalancing";
    const partitions = PARTITIONS;
    await createChaosTopic(cluster, topic, partitions);
    // The churn members' topic, made before any fault: a CreateTopics answered by a controller
    // killed mid-request is retried by the client and then finds the topic made (TOPIC_ALREADY_EXISTS).
    const admin = new Admin({ brokers: cluster.bootstrap() });
    await admin
      .createTopics([{ name: `${topic}-churn`, partitions: 1, replicationFactor: 3 }])
      .finally(() => admin.close());
    // Four consumers: two group members (and two by assign), so each rebalance moves partitions.
    const run = await ChaosRun.start(cluster, { topic, consumers: 4 });
    const driver = new FaultDriver({ cluster, topic, partitions }, run);
    const churn = churnGroup(run, 4);
    // Judged by `within` below; a failure before then must not be an unhandled rejection.
    churn.catch(() => {});
    await guarded(run, driver, async () => {
      const coordinator = await coordinatorOf(run.group);
      const faults: Fault[] = [
        { kind: "hard_bounce", target: { role: "leader", partition: 0 }, afterAcks: 50, holdAcks: 100 },
        {
          kind: "hard_bounce",
          target: { role: "broker", nodeId: coordinator },
          afterAcks: 50,
          holdAcks: 100,
        },
        { kind: "clean_bounce", target: { role: "leader", partition: 2 }, afterAcks: 50, holdAcks: 100 },
      ];
      run.note(`coordinator of ${run.group}: broker ${coordinator}`);
      const schedule = { seed: SEED, faults };
      run.note(formatSchedule(schedule));
      await driver.apply(schedule);
      await within(churn, "the group's churn to end", CHAOS_WAIT_MS);
      await run.progress(100, "after the faults");
    });
    const report = await run.finish();
    await driver.restoreAll();
    run.assertClean(report, "leader changes while a consumer group rebalances");
  }, 300_000);
});

async function coordinatorOf(group: string): Promise<number> {
  const metadata = new Cluster({ brokers: cluster.bootstrap() });
  try {
    return (await findCoordinator(metadata, group)).nodeId;
  } finally {
    await metadata.close();
  }
}

/**
 * Rebalances of the workload's group, `times` over: a member subscribed to another topic (made by
 * the caller, `<topic>-churn`) joins
 * (every member rejoins, partitions move between the workload's two) and leaves again.
 */
async function churnGroup(run: ChaosRun, times: number): Promise<void> {
  const other = `${run.workload.topic}-churn`;
  for (let i = 0; i < times; i++) {
    // A short session: a member whose LeaveGroup met a bouncing coordinator is dropped in seconds,
    // not after the client's default 45 s, before the next one can join.
    const joiner = new Consumer({
      brokers: cluster.bootstrap(),
      groupId: run.group,
      clientId: "chaos-churn",
      sessionTimeoutMs: CHURN_SESSION_MS,
      heartbeatIntervalMs: CHURN_SESSION_MS / 5,
    });
    try {
      const assigned = new Promise<void>((resolve) => {
        joiner.subscribe([other], { onPartitionsAssigned: () => resolve() });
      });
      await within(assigned, `churn member ${i + 1} assigned`, CHAOS_WAIT_MS);
      run.note(`churn member ${i + 1} joined`);
    } finally {
      await joiner.close();
    }
  }
}

describe("a 3-member etcd", () => {
  it("one member killed and restarted under load, twice: data flows, nothing lost", async () => {
    const name = "a 3-member etcd";
    const etcd = await EtcdCluster.start(3);
    const local = await ProcessCluster.start(3, CHAOS_BROKER_FLAGS, {
      ...LOOPBACK_HOSTS,
      startEtcd: async () => etcd,
    });
    try {
      const schedule: Schedule = {
        seed: SEED,
        faults: ["m1", "m2"].map((member) => ({
          kind: "etcd_member_bounce" as const,
          target: { role: "etcd" as const, member },
          afterAcks: 100,
          holdAcks: 300,
        })),
      };
      await runSchedule(
        name,
        { cluster: local, topic: "etcd3", partitions: PARTITIONS, etcd },
        schedule,
        replay(name),
      );
    } finally {
      await local.close();
    }
  }, 300_000);
});
