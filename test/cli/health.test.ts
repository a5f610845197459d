/**
 * `cluster health`'s judgement of a Metadata answer, without a broker: the cases a live cluster
 * hardly shows (no controller, a leader on a down broker, hundreds of leaderless partitions
 * capped in the list but counted whole).
 */
import { describe, expect, it } from "vitest";
import { formatHealth, HEALTH_PARTITIONS_SHOWN, healthOf } from "../../cli/commands/health.js";
import type { MetadataResponseData } from "../../protocol/types/metadata.js";

function metadata(
  live: number[],
  controllerId: number,
  partitions: { topic: string; leader: number; replicas: number[]; isr: number[] }[],
): MetadataResponseData {
  const names = [...new Set(partitions.map((p) => p.topic))];
  return {
    brokers: live.map((nodeId) => ({ nodeId, host: "h", port: 9092, rack: null })),
    controllerId,
    clusterId: "c",
    topics: names.map((name) => ({
      errorCode: 0,
      name,
      isInternal: false,
      partitions: partitions
        .filter((p) => p.topic === name)
        .map((p, partitionIndex) => ({
          errorCode: 0,
          partitionIndex,
          leaderId: p.leader,
          leaderEpoch: 0,
          replicaNodes: p.replicas,
          isrNodes: p.isr,
          offlineReplicas: [],
        })),
    })),
  };
}

describe("healthOf", () => {
  it("no controller: no_elected_controller, and nothing else wrong", () => {
    const r = healthOf(metadata([1], -1, [{ topic: "t", leader: 1, replicas: [1], isr: [1] }]));
    expect(r).toMatchObject({
      healthy: false,
      unhealthy_reasons: ["no_elected_controller"],
      controller_id: -1,
    });
  });

  it("a leader on a broker that is not live is leaderless, not under-replicated", () => {
    const r = healthOf(
      metadata([1, 2], 1, [
        { topic: "t", leader: 3, replicas: [3, 1], isr: [3, 1] },
        { topic: "t", leader: 1, replicas: [1, 3], isr: [1, 3] },
        { topic: "t", leader: 2, replicas: [2, 1], isr: [2] },
      ]),
    );
    expect(r).toMatchObject({
      all_nodes: [1, 2, 3],
      nodes_down: [3],
      leaderless_partitions: ["t/0"],
      under_replicated_partitions: ["t/1", "t/2"],
    });
  });

  it("counts every leaderless partition and lists the first 128, in topic and partition order", () => {
    const many = Array.from({ length: 200 }, () => ({ topic: "z", leader: -1, replicas: [2], isr: [] }));
    const r = healthOf(metadata([1], 1, [...many, { topic: "a", leader: -1, replicas: [2], isr: [] }]));
    expect(r.leaderless_count).toBe(201);
    expect(r.leaderless_partitions).toHaveLength(HEALTH_PARTITIONS_SHOWN);
    expect(r.leaderless_partitions.slice(0, 3)).toEqual(["a/0", "z/0", "z/1"]);
    expect(formatHealth(r)).toMatch(
      /^Leaderless partitions \(201\): +\[a\/0 z\/0 .* z\/126\] \(\+73 more\)$/m,
    );
  });
});
