/**
 * Admin: topics, partitions, configs and offsets. Each call answers with plain objects and throws
 * a KafkaError (with `code` and `retriable`) for a broker error on the thing it names.
 */
import { Cluster, type ClusterOptions, type TopicInfo } from "./cluster.js";
import { withRetry } from "./retry.js";

export interface NewTopic {
  name: string;
  /** -1 (default) for the broker's num.partitions. */
  partitions?: number;
  /** -1 (default) for the broker's default.replication.factor. */
  replicationFactor?: number;
  configs?: Record<string, string>;
}

export interface ConfigEntry {
  name: string;
  value: string | null;
  isDefault: boolean;
  readOnly: boolean;
  source: number;
}

export interface PartitionOffsets {
  partition: number;
  earliest: number;
  latest: number;
}

export type OffsetSpec = "earliest" | "latest" | "max-timestamp" | { timestamp: number };

const SPEC_TIMESTAMP = { earliest: -2, latest: -1, "max-timestamp": -3 } as const;

export class Admin {
  readonly cluster: Cluster;
  private readonly owned: boolean;

  constructor(options: ClusterOptions | Cluster) {
    this.owned = !(options instanceof Cluster);
    this.cluster = options instanceof Cluster ? options : new Cluster(options);
  }

  private async controller() {
    if (this.cluster.controllerId < 0) await this.cluster.refresh([]);
    return this.cluster.brokerConnection(this.cluster.controllerId);
  }

  async createTopics(
    topics: NewTopic[],
    options: { validateOnly?: boolean; timeoutMs?: number } = {},
  ): Promise<void> {
    const conn = await this.controller();
    const r = await conn.request(19, {
      topics: topics.map((t) => ({
        name: t.name,
        numPartitions: t.partitions ?? -1,
        replicationFactor: t.replicationFactor ?? -1,
        assignments: [],
        configs: Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value })),
      })),
      timeoutMs: options.timeoutMs ?? 30_000,
      validateOnly: options.validateOnly ?? false,
    });
    for (const t of r.topics) Cluster.check(t.errorCode, `create topic ${t.name}`, t.errorMessage);
    this.cluster.invalidate();
  }

  async deleteTopics(names: string[], timeoutMs = 30_000): Promise<void> {
    const conn = await this.controller();
    const r = await conn.request(20, {
      topicNames: names,
      topics: names.map((name) => ({ name, topicId: "00000000000000000000000000000000" })),
      timeoutMs,
    });
    for (const t of r.responses) Cluster.check(t.errorCode, `delete topic ${t.name}`, t.errorMessage);
    for (const n of names) this.cluster.invalidate(n);
  }

  /** Names of every topic. */
  async listTopics(): Promise<string[]> {
    await this.cluster.refresh();
    return this.cluster
      .knownTopics()
      .map((t) => t.name)
      .sort();
  }

  /** Partitions, leaders, replicas and ISR of each topic. */
  async describeTopics(names: string[]): Promise<TopicInfo[]> {
    await this.cluster.refresh(names);
    return Promise.all(names.map((n) => this.cluster.topic(n)));
  }

  /** Grows `topic` to `total` partitions. */
  async createPartitions(topic: string, total: number, validateOnly = false): Promise<void> {
    const conn = await this.controller();
    const r = await conn.request(37, {
      topics: [{ name: topic, count: total, assignments: null }],
      timeoutMs: 30_000,
      validateOnly,
    });
    for (const t of r.results) Cluster.check(t.errorCode, `create partitions of ${t.name}`, t.errorMessage);
    this.cluster.invalidate(topic);
  }

  /** Every config of a topic with its effective value. */
  async describeTopicConfigs(topic: string): Promise<ConfigEntry[]> {
    const conn = await this.controller();
    const r = await conn.request(32, {
      resources: [{ resourceType: 2, resourceName: topic, configurationKeys: null }],
      includeSynonyms: false,
      includeDocumentation: false,
    });
    const res = r.results[0];
    Cluster.check(res.errorCode, `describe configs of ${topic}`, res.errorMessage);
    return (
      res.configs as {
        name: string;
        value: string | null;
        readOnly: boolean;
        configSource: number;
        isDefault: boolean;
      }[]
    ).map((c) => ({
      name: c.name,
      value: c.value,
      readOnly: c.readOnly,
      source: c.configSource,
      isDefault: c.configSource === 5 || (c.configSource === -1 && c.isDefault),
    }));
  }

  /** Sets (value) or removes (null) topic configs, leaving the others as they are. */
  async alterTopicConfigs(
    topic: string,
    changes: Record<string, string | null>,
    validateOnly = false,
  ): Promise<void> {
    const conn = await this.controller();
    const r = await conn.request(44, {
      resources: [
        {
          resourceType: 2,
          resourceName: topic,
          configs: Object.entries(changes).map(([name, value]) => ({
            name,
            configOperation: value === null ? 1 : 0,
            value,
          })),
        },
      ],
      validateOnly,
    });
    for (const res of r.responses)
      Cluster.check(res.errorCode, `alter configs of ${topic}`, res.errorMessage);
  }

  /** For each partition of `topic`: the offset `spec` names (-1 when there is none). */
  async listOffsets(
    topic: string,
    spec: OffsetSpec,
  ): Promise<{ partition: number; offset: number; timestamp: number }[]> {
    const info = await this.cluster.topic(topic);
    const timestamp = typeof spec === "string" ? SPEC_TIMESTAMP[spec] : spec.timestamp;
    const byLeader = new Map<number, number[]>();
    for (const p of info.partitions) byLeader.set(p.leader, [...(byLeader.get(p.leader) ?? []), p.partition]);
    const out: { partition: number; offset: number; timestamp: number }[] = [];
    for (const [leader, partitions] of byLeader) {
      const r = await withRetry(async () => {
        const conn = await this.cluster.brokerConnection(leader);
        return conn.request(2, {
          replicaId: -1,
          isolationLevel: 0,
          topics: [
            {
              name: topic,
              partitions: partitions.map((p) => ({
                partitionIndex: p,
                currentLeaderEpoch: -1,
                timestamp,
                maxNumOffsets: 1,
              })),
            },
          ],
        });
      }, this.cluster.retry);
      for (const p of r.topics[0].partitions) {
        Cluster.check(p.errorCode, `list offsets of ${topic}-${p.partitionIndex}`);
        out.push({ partition: p.partitionIndex, offset: p.offset, timestamp: p.timestamp });
      }
    }
    return out.sort((a, b) => a.partition - b.partition);
  }

  /** Bytes on disk of each partition of `topic`, summed over the brokers that hold it. */
  async partitionSizes(topic: string): Promise<Map<number, number>> {
    const info = await this.cluster.topic(topic);
    const sizes = new Map<number, number>();
    const leaders = new Set(info.partitions.map((p) => p.leader));
    for (const leader of leaders) {
      const conn = await this.cluster.brokerConnection(leader);
      const r = await conn.request(35, {
        topics: [{ topic, partitions: info.partitions.map((p) => p.partition) }],
      });
      for (const dir of r.results) {
        for (const t of dir.topics) {
          for (const p of t.partitions)
            sizes.set(p.partitionIndex, (sizes.get(p.partitionIndex) ?? 0) + p.partitionSize);
        }
      }
    }
    return sizes;
  }

  /** Earliest and latest offsets of every partition of `topic`. */
  async topicOffsets(topic: string): Promise<PartitionOffsets[]> {
    const [earliest, latest] = await Promise.all([
      this.listOffsets(topic, "earliest"),
      this.listOffsets(topic, "latest"),
    ]);
    return earliest.map((e, i) => ({ partition: e.partition, earliest: e.offset, latest: latest[i].offset }));
  }

  async close(): Promise<void> {
    if (this.owned) await this.cluster.close();
  }
}
