/**
 * A consumer group on a three-broker cluster keeps consuming and committing while the broker
 * coordinating it stops and starts again: the new leader of its `__consumer_offsets` partition
 * loads the group, and no committed offset goes backwards.
 */
import { describe, expect, it } from "vitest";
import { Admin, Consumer, Producer } from "../../../client/index.js";
import { clusterForFile, coordinatorOf, type TestCluster } from "../../helpers/cluster.js";
import { waitFor } from "../../helpers/wait.js";

let cluster: TestCluster;
clusterForFile(3, {}, (c) => {
  cluster = c;
});

describe("a consumer group across a coordinator restart", () => {
  it("keeps consuming and committing, and no committed offset goes backwards", async () => {
    const admin = new Admin({ brokers: cluster.bootstrap() });
    await admin.createTopics([{ name: "grouped", partitions: 3, replicationFactor: 3 }]);
    const producer = new Producer({ brokers: cluster.bootstrap() }, { acks: -1, lingerMs: 1 });
    let produced = 0;
    const produce = async (n: number) => {
      const sends = [];
      for (let i = 0; i < n; i++) sends.push(producer.send({ topic: "grouped", value: `m${produced++}` }));
      await Promise.all(sends);
    };
    await produce(300);
    const consumer = new Consumer(
      { brokers: cluster.bootstrap() },
      {
        groupId: "g-restart",
        autoOffsetReset: "earliest",
        autoCommit: true,
        autoCommitIntervalMs: 100,
        sessionTimeoutMs: 6000,
        heartbeatIntervalMs: 200,
      },
    );
    consumer.subscribe(["grouped"]);
    const seen = new Set<string>();
    let consuming = true;
    const loop = (async () => {
      while (consuming) {
        const batch = await consumer.nextBatch(500);
        for (const r of batch?.records ?? []) seen.add(r.value?.toString() ?? "");
      }
    })();
    // Committed offsets sampled all along: none may ever be lower than one seen before.
    const highest = new Map<number, number>();
    const backwards: string[] = [];
    const sample = async () => {
      const committed = await admin.fetchOffsets("g-restart", ["grouped"]).catch(() => []);
      for (const c of committed) {
        const before = highest.get(c.partition) ?? -1;
        if (c.offset >= 0 && c.offset < before) backwards.push(`${c.partition}: ${before} -> ${c.offset}`);
        if (c.offset > before) highest.set(c.partition, c.offset);
      }
    };
    const total = () => [...highest.values()].reduce((a, b) => a + b, 0);
    await waitFor(async () => {
      await sample();
      return total() >= 300;
    }, "300 committed");
    const coordinator = coordinatorOf(cluster, "g-restart");
    expect(coordinator).toBeGreaterThan(0);
    await cluster.stopNode(coordinator);
    await produce(300);
    await waitFor(async () => {
      await sample();
      return total() >= 600;
    }, "600 committed with the coordinator stopped");
    expect(coordinatorOf(cluster, "g-restart")).not.toBe(coordinator);
    await cluster.startNode(coordinator);
    await cluster.waitForBrokers(3);
    await produce(300);
    await waitFor(async () => {
      await sample();
      return total() >= 900;
    }, "900 committed after the restart");
    consuming = false;
    await loop;
    await consumer.close();
    await producer.close();
    await admin.close();
    expect(backwards).toEqual([]);
    expect(seen.size).toBe(900);
  }, 120_000);
});
