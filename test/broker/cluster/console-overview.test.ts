/**
 * GET /cluster (broker/http/overview.ts) on three brokers: asked of one broker, it lists all
 * three with one controller, and counts the records and log sizes of partitions led by the other
 * brokers, asked over its peer connections (broker/http/peers.ts), as GET /topics/{topic} does;
 * after a broker crashes it shows that broker down and the cluster unhealthy.
 */
import { describe, expect, it } from "vitest";
import { Admin } from "../../../client/index.js";
import { clusterForFile, type TestCluster } from "../../helpers/cluster.js";
import { produceTo } from "../../helpers/console-data.js";
import { waitFor } from "../../helpers/wait.js";

let cluster: TestCluster;
clusterForFile(3, {}, (c) => {
  cluster = c;
});

interface ClusterView {
  controller_id: number;
  brokers: { node_id: number; up: boolean; controller: boolean; partitions_led: number }[];
  health: { healthy: boolean; down_brokers: number[]; unanswered: number[] };
  topics: {
    name: string;
    partitions: number;
    records: number;
    size_bytes: number | null;
    complete: boolean;
  }[];
}

async function view(nodeId: number): Promise<ClusterView> {
  const http = cluster.broker(nodeId).http;
  if (!http) throw new Error("no HTTP server");
  const res = await http.app.inject({ method: "GET", url: "/cluster" });
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as ClusterView;
}

describe("GET /cluster on three brokers", () => {
  it("counts the records and sizes of partitions led by every broker, from any broker", async () => {
    const admin = new Admin({ brokers: cluster.bootstrap() });
    await admin.createTopics([{ name: "spread", partitions: 3, replicationFactor: 2 }]);
    await admin.close();
    const leaders = new Set<number>();
    for (let p = 0; p < 3; p++) leaders.add((await cluster.leaderOf("spread", p)).config.nodeId);
    expect(leaders.size).toBe(3);
    await produceTo(cluster.bootstrap(), "spread", [0, 1, 2], 10);
    for (const nodeId of [1, 2, 3]) {
      const v = await view(nodeId);
      expect(v.brokers.map((b) => [b.node_id, b.up])).toEqual([
        [1, true],
        [2, true],
        [3, true],
      ]);
      expect(v.brokers.filter((b) => b.controller).map((b) => b.node_id)).toEqual([v.controller_id]);
      expect(v.health).toMatchObject({ healthy: true, down_brokers: [], unanswered: [] });
      const spread = v.topics.find((t) => t.name === "spread");
      expect(spread).toMatchObject({ partitions: 3, records: 30, complete: true });
      expect(spread?.size_bytes).toBeGreaterThan(0);
      const led = v.brokers.reduce((sum, b) => sum + b.partitions_led, 0);
      expect(led).toBe(v.topics.reduce((sum, t) => sum + t.partitions, 0));
    }
  });

  it("describes a topic's partitions led by other brokers through GET /topics/{topic} on any broker", async () => {
    for (const nodeId of [1, 2, 3]) {
      const res = await cluster.broker(nodeId).http!.app.inject({ method: "GET", url: "/topics/spread" });
      expect(res.statusCode, res.body).toBe(200);
      const { partitions } = res.json() as {
        partitions: {
          log_start_offset: number;
          log_end_offset: number;
          high_watermark: number;
          size_bytes: number;
        }[];
      };
      expect(partitions.map((p) => [p.log_start_offset, p.high_watermark, p.log_end_offset])).toEqual([
        [0, 10, 10],
        [0, 10, 10],
        [0, 10, 10],
      ]);
      for (const p of partitions) expect(p.size_bytes).toBeGreaterThan(0);
    }
  });

  it("shows a crashed broker down and the cluster unhealthy", async () => {
    await cluster.crashNode(3);
    await waitFor(async () => {
      const v = await view(1);
      return v.brokers.find((b) => b.node_id === 3)?.up === false && !v.health.healthy;
    }, "broker 1's /cluster to show broker 3 down");
    const v = await view(1);
    expect(v.health.down_brokers).toEqual([3]);
    expect(v.brokers.find((b) => b.node_id === 3)?.partitions_led).toBe(0);
  });
});
