/**
 * Three brokers on one etcd: an RF=3 topic produced with acks=all through the samsa client is on
 * every replica before it is acknowledged, read back from each broker's leaderships, and survives
 * a controlled shutdown of a leader, and a rolling restart of every broker under a producer with
 * default options surfaces no error.
 */
import { describe, expect, it } from "vitest";
import { Admin, Producer } from "../../../client/index.js";
import { clusterForFile, readRecords, type TestCluster } from "../../helpers/cluster.js";
import { SlidingStream } from "../../helpers/sliding-stream.js";
import { waitFor } from "../../helpers/wait.js";

let cluster: TestCluster;
clusterForFile(3, {}, (c) => {
  cluster = c;
});

/** Every record of `topic` read from its partitions' leaders, as `partition:value`. */
function readAll(topic: string, partitions: number, expected: number): Promise<string[]> {
  const format = (r: { partition: number; value: Buffer | null }) => `${r.partition}:${r.value?.toString()}`;
  return readRecords(cluster.bootstrap(), topic, expected, { partitions, format });
}

describe("a three-broker cluster", () => {
  it("registers every broker and elects one controller that Metadata names on each broker", async () => {
    const admin = new Admin({ brokers: cluster.bootstrap() });
    try {
      const ids = cluster.running().map((b) => b.store.controller()?.nodeId);
      expect(new Set(ids).size).toBe(1);
      for (const b of cluster.running()) expect(b.store.brokers().map((r) => r.nodeId)).toEqual([1, 2, 3]);
      const topics = await admin.listTopics();
      expect(Array.isArray(topics)).toBe(true);
    } finally {
      await admin.close();
    }
  });

  it("replicates acks=all writes of an RF=3 topic to every replica and reads them from every leader", async () => {
    const admin = new Admin({ brokers: cluster.bootstrap() });
    await admin.createTopics([{ name: "rf3", partitions: 3, replicationFactor: 3 }]);
    await admin.close();
    const leaders = new Set<number>();
    for (let p = 0; p < 3; p++) leaders.add((await cluster.leaderOf("rf3", p)).config.nodeId);
    expect(leaders.size).toBe(3);
    const producer = new Producer({ brokers: cluster.bootstrap() }, { acks: -1, lingerMs: 1 });
    const sends = Array.from({ length: 300 }, (_, i) =>
      producer.send({ topic: "rf3", partition: i % 3, value: `v${i}` }),
    );
    await Promise.all(sends);
    await producer.close();
    // Acknowledged: every replica holds it below its high watermark once followers learn it.
    for (let p = 0; p < 3; p++) {
      await waitFor(
        () => cluster.running().every((b) => b.topics.partition("rf3", p)?.highWatermark === 100),
        `rf3-${p} at high watermark 100 on every replica`,
      );
    }
    const seen = await readAll("rf3", 3, 300);
    expect(seen).toHaveLength(300);
    expect(new Set(seen).size).toBe(300);
  });

  it("moves a leader's partitions to in-sync followers on its controlled shutdown, losing no write", async () => {
    const admin = new Admin({ brokers: cluster.bootstrap() });
    await admin.createTopics([{ name: "moving", partitions: 1, replicationFactor: 3 }]);
    await admin.close();
    const leader = await cluster.leaderOf("moving", 0);
    const producer = new Producer({ brokers: cluster.bootstrap() }, { acks: -1, lingerMs: 1 });
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => producer.send({ topic: "moving", value: `a${i}` })),
    );
    const oldId = leader.config.nodeId;
    await cluster.stopNode(oldId);
    const next = await cluster.leaderOf("moving", 0);
    expect(next.config.nodeId).not.toBe(oldId);
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => producer.send({ topic: "moving", value: `b${i}` })),
    );
    await producer.close();
    const seen = await readAll("moving", 1, 100);
    expect(new Set(seen).size).toBe(100);
    await cluster.startNode(oldId);
    await cluster.waitForBrokers(3);
    await cluster.waitForIsr("moving", 0, [1, 2, 3]);
  }, 60_000);

  it("a rolling restart (controlled shutdown of each broker in turn) surfaces no error to a default producer", async () => {
    const topic = "rolling";
    const admin = new Admin({ brokers: cluster.bootstrap() });
    await admin.createTopics([
      { name: topic, partitions: 1, replicationFactor: 3, configs: { "min.insync.replicas": "2" } },
    ]);
    await admin.close();
    await cluster.waitForIsr(topic, 0, [1, 2, 3]);
    const producer = new Producer({ brokers: cluster.bootstrap() });
    const stream = new SlidingStream(producer, topic, 500);
    await stream.progress(500, "records acknowledged before the restarts");
    for (const id of [1, 2, 3]) {
      await cluster.stopNode(id);
      await stream.progress(500, `records acknowledged while broker ${id} is down`);
      await cluster.startNode(id);
      await cluster.waitForBrokers(3);
      await cluster.waitForIsr(topic, 0, [1, 2, 3]);
      await stream.progress(500, `records acknowledged after broker ${id} is back`);
    }
    await stream.stop();
    await producer.close();
    expect(stream.failed.map(String)).toEqual([]);
    const numbered = Array.from({ length: stream.acked.length }, (_, i) => `s${i}`);
    expect(stream.inOffsetOrder()).toEqual(numbered);
    expect(await readAll(topic, 1, numbered.length)).toEqual(numbered.map((v) => `0:${v}`));
  }, 120_000);
});
