/**
 * DescribeLogDirs (key 35), v1-v3 (Kafka 4's floor: v0 was removed by KIP-896).
 * Validation order: no DESCRIBE on the cluster (ACLs) -> no log directories, and (v3+)
 * CLUSTER_AUTHORIZATION_FAILED as the top-level error, as Kafka; topics null means every partition; named topics that do not exist are left
 * out (as Kafka does). Answers one log directory, the broker's data dir, with each partition's size
 * in bytes and its offset lag (log end minus high watermark).
 * The topics asked for are looked up, not scanned: naming one many times costs what naming it once does.
 */
import * as path from "node:path";
import { errorCode } from "../../protocol/errors.js";
import type {
  DescribeLogDirsRequestData,
  DescribeLogDirsResponseData,
} from "../../protocol/types/describe-log-dirs.js";
import { onCluster } from "./authorized.js";
import type { ApiHandler } from "./types.js";

export const describeLogDirs: ApiHandler<DescribeLogDirsRequestData, DescribeLogDirsResponseData> = {
  apiKey: 35,
  name: "DescribeLogDirs",
  minVersion: 1,
  maxVersion: 3,
  async handle(broker, request, ctx) {
    if (!onCluster(ctx, "DESCRIBE"))
      return { throttleTimeMs: 0, errorCode: errorCode("CLUSTER_AUTHORIZATION_FAILED"), results: [] };
    const wanted = request.topics;
    const byTopic = new Map<
      string,
      { partitionIndex: number; partitionSize: number; offsetLag: number; isFutureKey: boolean }[]
    >();
    // Looked up, not scanned: a request naming a topic many times costs what it names once.
    const asked = wanted ? new Map<string, Set<number>>() : null;
    for (const t of wanted ?? []) {
      const set = asked!.get(t.topic) ?? new Set<number>();
      for (const p of t.partitions) set.add(p);
      asked!.set(t.topic, set);
    }
    for (const p of broker.topics.allPartitions()) {
      if (asked && !asked.get(p.topic)?.has(p.index)) continue;
      const list = byTopic.get(p.topic) ?? [];
      list.push({
        partitionIndex: p.index,
        partitionSize: p.sizeBytes(),
        offsetLag: p.logEndOffset - p.highWatermark,
        isFutureKey: false,
      });
      byTopic.set(p.topic, list);
    }
    return {
      throttleTimeMs: 0,
      errorCode: 0,
      results: [
        {
          errorCode: 0,
          logDir: path.resolve(broker.config.dataDir),
          topics: [...byTopic].map(([name, partitions]) => ({
            name,
            partitions: partitions.sort((a, b) => a.partitionIndex - b.partitionIndex),
          })),
          totalBytes: -1,
          usableBytes: -1,
        },
      ],
    };
  },
};
