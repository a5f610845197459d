/** What the load generators share: connection and producer settings, topic set-up, waiting. */
import { randomBytes } from "node:crypto";
import type { Admin } from "../../client/admin.js";
import type { Cluster, ClusterOptions } from "../../client/cluster.js";
import type { CompressionName, ProducerOptions } from "../../client/producer.js";

export interface ConnectOptions {
  /** Bootstrap `host:port` or `ws://host:port/kafka` addresses of any Kafka-protocol broker. */
  brokers: string[];
  /** TLS to the brokers: the client's `ssl` option. */
  ssl?: ClusterOptions["ssl"];
  /** SASL to the brokers: the client's `sasl` option. */
  sasl?: ClusterOptions["sasl"];
  clientId?: string;
}

/** The producer settings a benchmark may change; unset ones are the samsa client's defaults. */
export interface ProducerSettings {
  acks?: 0 | 1 | -1;
  lingerMs?: number;
  batchSize?: number;
  compression?: CompressionName;
  bufferMemory?: number;
}

/** Common run controls. */
export interface RunControls {
  /** Interval of the `report` callback. */
  reportIntervalMs?: number;
  /** Stops the run early; what was measured so far is returned. */
  signal?: AbortSignal;
}

/** The client's bufferMemory default: the producer loop keeps its unacknowledged bytes below it. */
export const CLIENT_BUFFER_MEMORY = 32 * 1024 * 1024;
/** Bytes the client counts per record besides key and value (client/producer.ts RECORD_OVERHEAD). */
export const RECORD_OVERHEAD = 24;
/** Distinct random keys cycled through when keys are on, so keyed records spread over partitions. */
export const KEY_POOL = 1024;
/** How long the set-up waits for a new topic's leaders. */
export const TOPIC_READY_MS = 30_000;

export function producerOptions(s: ProducerSettings): ProducerOptions {
  const acks = s.acks ?? -1;
  return {
    acks,
    idempotent: acks === -1,
    ...(s.lingerMs !== undefined && { lingerMs: s.lingerMs }),
    ...(s.batchSize !== undefined && { batchSize: s.batchSize }),
    ...(s.compression !== undefined && { compression: s.compression }),
    ...(s.bufferMemory !== undefined && { bufferMemory: s.bufferMemory }),
  };
}

/** Random keys of `size` bytes, made once; null when `size` is 0 (records without a key). */
export function keyPool(size: number): Buffer[] | null {
  if (size === 0) return null;
  return Array.from({ length: KEY_POOL }, () => randomBytes(size));
}

/**
 * Creates `topic` with `partitions` (-1: the broker's default) and `replicationFactor` replicas
 * (unset: the broker's default.replication.factor) if it does not exist; an existing topic is used
 * as it is. Returns its partition count once every partition has a leader.
 */
export async function ensureTopic(
  admin: Admin,
  cluster: Cluster,
  topic: string,
  partitions: number,
  replicationFactor?: number,
): Promise<number> {
  if (!(await admin.listTopics()).includes(topic)) {
    try {
      await admin.createTopics([{ name: topic, partitions, replicationFactor }]);
    } catch (err) {
      if ((err as { code?: string }).code !== "TOPIC_ALREADY_EXISTS") throw err;
    }
  }
  const deadline = Date.now() + TOPIC_READY_MS;
  for (;;) {
    cluster.invalidate(topic);
    try {
      const info = await cluster.topic(topic);
      if (info.partitions.length > 0 && info.partitions.every((p) => p.leader >= 0))
        return info.partitions.length;
    } catch (err) {
      if ((err as { code?: string }).code !== "UNKNOWN_TOPIC_OR_PARTITION") throw err;
    }
    if (Date.now() > deadline) throw new Error(`topic ${topic} has no leader after ${TOPIC_READY_MS} ms`);
    await sleep(50);
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Lets I/O callbacks (acknowledgements, fetch answers) run between bursts of sends. */
export const yieldToIo = () => new Promise<void>((resolve) => setImmediate(resolve));
