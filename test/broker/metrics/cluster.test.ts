/**
 * Replication in /metrics, on a two-broker cluster (etcd): the leader counts the follower's
 * fetches apart as replication bytes and records out (equal to what was produced), the follower
 * counts no produce; with the follower's fetches held, the leader shows its lag (records behind),
 * shrinks the ISR (samsa_isr_shrinks_total, under-replicated gauges), and expands it once the
 * follower fetches again. A Partition counts the controller's ISR changes of a term as it counts
 * its own proposals' (unit part, below).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Broker } from "../../../broker/broker.js";
import { Partition } from "../../../broker/partition.js";
import { ProducerIds } from "../../../broker/producer-ids.js";
import { Admin, Producer } from "../../../client/index.js";
import { DEFAULT_LOG_CONFIG } from "../../../storage/config.js";
import { NodeFs } from "../../../storage/fs.js";
import { PartitionLog } from "../../../storage/log.js";
import { clusterForFile, type TestCluster } from "../../helpers/cluster.js";
import { parseProm, type Sample, sampleValue } from "../../helpers/prom-text.js";
import { waitFor } from "../../helpers/wait.js";

const TOPIC = "replicated";
const FETCH = 1;

let cluster: TestCluster;
clusterForFile(2, {}, (c) => {
  cluster = c;
});

async function scrape(broker: Broker): Promise<Sample[]> {
  const res = await broker.http?.app.inject({ method: "GET", url: "/metrics" });
  expect(res?.statusCode, res?.body).toBe(200);
  return parseProm(res?.body ?? "");
}

async function metric(
  broker: Broker,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  return sampleValue(await scrape(broker), name, labels);
}

async function produce(count: number, acks: -1 | 1): Promise<void> {
  const producer = new Producer({ brokers: cluster.bootstrap() }, { acks, retries: 0, ackTimeoutMs: 10_000 });
  try {
    for (let i = 0; i < count; i++) await producer.send({ topic: TOPIC, partition: 0, value: `v${i}` });
  } finally {
    await producer.close();
  }
}

describe("replication metrics", () => {
  it("counts replica fetches, lag, and ISR shrinks and expands on the leader", async () => {
    const admin = new Admin({ brokers: cluster.bootstrap() });
    await admin.createTopics([{ name: TOPIC, partitions: 1, replicationFactor: 2 }]);
    await admin.close();
    await cluster.waitForIsr(TOPIC, 0, [1, 2]);
    const leader = await cluster.leaderOf(TOPIC, 0);
    const follower = cluster.broker(leader.config.nodeId === 1 ? 2 : 1);
    const topic = { topic: TOPIC };

    await produce(20, -1);
    const bytesIn = await metric(leader, "samsa_topic_bytes_in_total", topic);
    expect(await metric(leader, "samsa_topic_records_in_total", topic)).toBe(20);
    await waitFor(
      async () => (await metric(leader, "samsa_topic_replication_records_out_total", topic)) === 20,
      "the follower's fetches counted as replication",
    );
    expect(await metric(leader, "samsa_topic_replication_bytes_out_total", topic)).toBe(bytesIn);
    expect((await metric(follower, "samsa_topic_records_in_total", topic)) ?? 0).toBe(0);
    // The follower counts what it copied as replication in: the same bytes and records.
    await waitFor(
      async () => (await metric(follower, "samsa_topic_replication_records_in_total", topic)) === 20,
      "the follower's copies counted as replication in",
    );
    expect(await metric(follower, "samsa_topic_replication_bytes_in_total", topic)).toBe(bytesIn);
    expect((await metric(leader, "samsa_topic_replication_records_in_total", topic)) ?? 0).toBe(0);
    const p0 = { topic: TOPIC, partition: "0" };
    await waitFor(
      async () => (await metric(leader, "samsa_partition_replica_lag_records", p0)) === 0,
      "the follower caught up",
    );

    // The follower's fetches held: it falls behind, then out of the ISR.
    const release = leader.dispatcher.faults.add({
      apiKey: FETCH,
      action: "hold",
      match: (ctx) => ctx.interBroker,
    });
    try {
      await produce(5, 1);
      await waitFor(
        async () => (await metric(leader, "samsa_partition_replica_lag_records", p0)) === 5,
        "a lag of 5 records",
      );
      expect(await metric(leader, "samsa_replica_max_lag_records")).toBe(5);
      await cluster.waitForIsr(TOPIC, 0, [leader.config.nodeId]);
      await waitFor(
        async () => (await metric(leader, "samsa_isr_shrinks_total")) === 1,
        "one shrink counted",
      );
      const s = await scrape(leader);
      expect(sampleValue(s, "samsa_under_replicated_partitions")).toBe(1);
      expect(sampleValue(s, "kafka_topic_partition_under_replicated_partition", p0)).toBe(1);
      expect(sampleValue(s, "kafka_topic_partition_in_sync_replica", p0)).toBe(1);
      expect(sampleValue(s, "kafka_topic_partition_replicas", p0)).toBe(2);
      expect(sampleValue(s, "samsa_isr_expands_total")).toBe(0);
    } finally {
      release();
    }
    await cluster.waitForIsr(TOPIC, 0, [1, 2]);
    await waitFor(async () => (await metric(leader, "samsa_isr_expands_total")) === 1, "one expand counted");
    expect(await metric(leader, "samsa_under_replicated_partitions")).toBe(0);
    // The partition is reported by its leader alone: sums over brokers count it once.
    expect(await metric(follower, "kafka_topic_partition_current_offset", p0)).toBeUndefined();
    expect(await metric(leader, "kafka_topic_partition_current_offset", p0)).toBe(25);
  }, 60_000);
});

describe("Partition's ISR change counts", () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("counts the controller's changes within a term, not a new term's ISR", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "samsa-isr-counts-"));
    dirs.push(dir);
    const log = await PartitionLog.open({ dir, config: { ...DEFAULT_LOG_CONFIG, fileDeleteDelayMs: 0 } });
    const limits = { expirationMs: 86_400_000, maxEntries: 100, idsPerSecond: 1_000, quotaWindowMs: 1_000 };
    const ids = new ProducerIds(
      limits,
      () => 1000,
      () => [],
    );
    const p = new Partition("t", 0, log, new NodeFs(), ids, 1, 1);
    await p.load();
    try {
      p.makeLeader(0, 0, [1, 2, 3], [1, 2, 3]);
      expect([p.isrShrinks, p.isrExpands]).toEqual([0, 0]);
      p.makeLeader(0, 1, [1, 2], [1, 2, 3]); // the controller removed a fenced broker
      expect([p.isrShrinks, p.isrExpands]).toEqual([1, 0]);
      p.makeLeader(0, 1, [1, 2], [1, 2, 3]); // the same state again: nothing
      expect([p.isrShrinks, p.isrExpands]).toEqual([1, 0]);
      p.makeLeader(0, 2, [1, 2, 3], [1, 2, 3]);
      expect([p.isrShrinks, p.isrExpands]).toEqual([1, 1]);
      p.makeLeader(1, 3, [1], [1, 2, 3]); // a new term: its ISR is no change
      expect([p.isrShrinks, p.isrExpands]).toEqual([1, 1]);
    } finally {
      await log.close();
    }
  });
});
