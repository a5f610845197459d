/**
 * Consumer groups of KafkaJS 2.2.4 and kcat -G (librdkafka) on a three-broker cluster keep
 * consuming and committing while the broker coordinating the group is stopped and started again
 * (the new leader of the group's `__consumer_offsets` partition loads it), and no committed
 * offset goes backwards. Committed offsets are sampled through the samsa admin client all along.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { Kafka, logLevel } from "kafkajs";
import { describe, expect, it } from "vitest";
import { Admin, Producer } from "../../../client/index.js";
import { clusterForFile, coordinatorOf, type TestCluster } from "../../helpers/cluster.js";
import { waitFor } from "../../helpers/wait.js";
import { createReplicatedTopic } from "./helpers.js";

const ROUND = 200;
let cluster: TestCluster;
clusterForFile(3, { "group.initial.rebalance.delay.ms": 0 }, (c) => {
  cluster = c;
});

/** Committed offsets of a group sampled over time; any that goes backwards is recorded. */
class CommitWatch {
  readonly highest = new Map<number, number>();
  readonly backwards: string[] = [];
  constructor(
    private readonly admin: Admin,
    private readonly groupId: string,
    private readonly topic: string,
  ) {}

  async sample(): Promise<number> {
    const committed = await this.admin.fetchOffsets(this.groupId, [this.topic]).catch(() => []);
    for (const c of committed) {
      const before = this.highest.get(c.partition) ?? -1;
      if (c.offset >= 0 && c.offset < before) this.backwards.push(`${c.partition}: ${before} -> ${c.offset}`);
      if (c.offset > before) this.highest.set(c.partition, c.offset);
    }
    return [...this.highest.values()].reduce((a, b) => a + b, 0);
  }

  async until(total: number, what: string): Promise<void> {
    await waitFor(async () => (await this.sample()) >= total, what, 60_000);
  }
}

/**
 * Three rounds of ROUND records, the coordinator stopped after the first and started again after
 * the second; `consumed()` counts the distinct records the group's consumer has read.
 */
async function acrossCoordinatorRestart(
  topic: string,
  groupId: string,
  consumed: () => number,
): Promise<string[]> {
  const admin = new Admin({ brokers: cluster.bootstrap() });
  const producer = new Producer({ brokers: cluster.bootstrap() }, { acks: -1, lingerMs: 1 });
  const watch = new CommitWatch(admin, groupId, topic);
  let sent = 0;
  const round = () =>
    Promise.all(Array.from({ length: ROUND }, () => producer.send({ topic, value: `v${sent++}` })));
  try {
    await round();
    await waitFor(() => consumed() >= ROUND, "the first round consumed", 60_000);
    await watch.until(ROUND, "the first round committed");
    const coordinator = coordinatorOf(cluster, groupId);
    await cluster.stopNode(coordinator);
    await round();
    await waitFor(() => consumed() >= 2 * ROUND, "the second round consumed, coordinator stopped", 60_000);
    await watch.until(2 * ROUND, "the second round committed, coordinator stopped");
    expect(coordinatorOf(cluster, groupId)).not.toBe(coordinator);
    await cluster.startNode(coordinator);
    await cluster.waitForBrokers(3);
    await round();
    await waitFor(() => consumed() >= 3 * ROUND, "the third round consumed", 60_000);
    await watch.until(3 * ROUND, "the third round committed");
    return watch.backwards;
  } finally {
    await producer.close();
    await admin.close();
  }
}

describe("consumer groups across a coordinator restart", () => {
  it("KafkaJS keeps consuming and committing", async () => {
    await createReplicatedTopic(cluster, "kjs-groups", 3);
    const kafka = new Kafka({
      clientId: "samsa-groups",
      brokers: cluster.bootstrap(),
      logLevel: logLevel.NOTHING,
      retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 2000 },
    });
    const consumer = kafka.consumer({ groupId: "kjs-g", sessionTimeout: 10_000, heartbeatInterval: 300 });
    await consumer.connect();
    await consumer.subscribe({ topic: "kjs-groups", fromBeginning: true });
    const seen = new Set<string>();
    await consumer.run({
      autoCommitInterval: 100,
      eachMessage: async ({ partition, message }) => {
        seen.add(`${partition}:${message.offset}`);
      },
    });
    try {
      expect(await acrossCoordinatorRestart("kjs-groups", "kjs-g", () => seen.size)).toEqual([]);
    } finally {
      await consumer.disconnect().catch(() => undefined);
    }
  }, 240_000);

  it("kcat -G keeps consuming and committing", async () => {
    await createReplicatedTopic(cluster, "kcat-groups", 3);
    const seen = new Set<string>();
    let stderr = "";
    const child: ChildProcess = spawn(
      "kcat",
      [
        ...["-b", cluster.bootstrap().join(","), "-G", "kcat-g", "-u", "-f", "%p %o\\n"],
        ...["-X", "auto.offset.reset=earliest", "-X", "session.timeout.ms=10000"],
        ...["-X", "heartbeat.interval.ms=300", "-X", "enable.auto.commit=true"],
        "kcat-groups",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let partial = "";
    child.stdout?.on("data", (d: Buffer) => {
      const lines = (partial + d.toString()).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) if (line.trim() !== "") seen.add(line.trim());
    });
    child.stderr?.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    try {
      const backwards = await acrossCoordinatorRestart("kcat-groups", "kcat-g", () => seen.size);
      expect(backwards, stderr).toEqual([]);
    } finally {
      child.kill("SIGTERM");
    }
  }, 240_000);
});
