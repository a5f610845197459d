/**
 * Per-log configuration under Kafka's topic config names, with Kafka's defaults where Kafka has
 * one. `flush.policy` is samsa's own: see docs/decisions/0002-flush-policy.md.
 */
import { KafkaError } from "../protocol/errors.js";
import {
  configRecord,
  isTopicConfigName,
  MIN_SEGMENT_BYTES,
  type Parser,
  TOPIC_CONFIGS,
} from "./topic-configs.js";

export type FlushPolicy = "always" | "interval" | "os";
export type CleanupPolicy = "delete" | "compact" | "compact,delete";
export type CompressionType = "producer" | "uncompressed" | "gzip" | "snappy" | "lz4" | "zstd";
export type TimestampTypeName = "CreateTime" | "LogAppendTime";

export interface LogConfig {
  /** segment.bytes: roll the active segment before it would exceed this size. */
  segmentBytes: number;
  /** segment.ms: roll a segment this long after its first append. */
  segmentMs: number;
  /** segment.index.bytes: offset-index capacity per segment (8 bytes an entry); roll when full. */
  segmentIndexBytes: number;
  /** index.interval.bytes: log bytes between two sparse index entries. */
  indexIntervalBytes: number;
  /** retention.ms: delete closed segments whose newest record is older; -1 keeps forever. */
  retentionMs: number;
  /** retention.bytes: delete the oldest segments while the log is larger; -1 for no limit. */
  retentionBytes: number;
  /** max.message.bytes: largest batch accepted, in bytes including its log overhead. */
  maxMessageBytes: number;
  /** flush.policy: when appended bytes are fdatasync'ed before the append is acknowledged. */
  flushPolicy: FlushPolicy;
  /** flush.ms: the flush period under flush.policy=interval. */
  flushMs: number;
  /** file.delete.delay.ms: how long a deleted segment's files stay (as .deleted) for readers. */
  fileDeleteDelayMs: number;
  /** message.timestamp.before.max.ms: how far a record's timestamp may lie in the past. */
  timestampBeforeMaxMs: number;
  /** message.timestamp.after.max.ms: how far a record's timestamp may lie in the future. */
  timestampAfterMaxMs: number;
  /** message.timestamp.difference.max.ms (Kafka 3): a bound both ways, beside the two above. */
  timestampDifferenceMaxMs: number;
  /** message.timestamp.type: LogAppendTime stamps batches with the append time (storage/rewrite.ts). */
  timestampType: TimestampTypeName;
  /** compression.type: producer keeps the producer's codec; any other recompresses (storage/rewrite.ts). */
  compressionType: CompressionType;
  /** compression.gzip.level: -1 for zlib's default. */
  compressionGzipLevel: number;
  /** compression.zstd.level */
  compressionZstdLevel: number;
  /** cleanup.policy: delete (retention) and/or compact (the log cleaner, storage/cleaner.ts). */
  cleanupPolicy: CleanupPolicy;
  /** delete.retention.ms: how long a tombstone stays after the pass that first cleaned it. */
  deleteRetentionMs: number;
  /** min.cleanable.dirty.ratio: dirty bytes / cleanable bytes at which a compacted log is cleaned. */
  minCleanableDirtyRatio: number;
  /** min.compaction.lag.ms: records younger than this are never cleaned. */
  minCompactionLagMs: number;
  /** max.compaction.lag.ms: a log whose oldest dirty record is older is cleaned whatever its ratio. */
  maxCompactionLagMs: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

export const DEFAULT_LOG_CONFIG: Readonly<LogConfig> = Object.freeze({
  segmentBytes: 1024 * 1024 * 1024,
  segmentMs: 7 * DAY_MS,
  segmentIndexBytes: 10 * 1024 * 1024,
  indexIntervalBytes: 4096,
  retentionMs: 7 * DAY_MS,
  retentionBytes: -1,
  maxMessageBytes: 1024 * 1024 + 12,
  flushPolicy: "always",
  flushMs: 1000,
  fileDeleteDelayMs: 60_000,
  timestampBeforeMaxMs: Number.MAX_SAFE_INTEGER,
  timestampAfterMaxMs: Number.MAX_SAFE_INTEGER,
  timestampDifferenceMaxMs: Number.MAX_SAFE_INTEGER,
  timestampType: "CreateTime",
  compressionType: "producer",
  compressionGzipLevel: -1,
  compressionZstdLevel: 3,
  cleanupPolicy: "delete",
  deleteRetentionMs: DAY_MS,
  minCleanableDirtyRatio: 0.5,
  minCompactionLagMs: 0,
  // Kafka's Long.MAX_VALUE.
  maxCompactionLagMs: Number.MAX_SAFE_INTEGER,
});

export { MIN_SEGMENT_BYTES };

/** Kafka config name -> [LogConfig field, parser], for the keys storage acts on. */
export const LOG_CONFIG_KEYS: Readonly<Record<string, [keyof LogConfig, Parser]>> = Object.freeze(
  configRecord(
    Object.entries(TOPIC_CONFIGS).flatMap(([name, spec]) =>
      spec.field ? [[name, [spec.field, spec.parse] as [keyof LogConfig, Parser]]] : [],
    ),
  ),
);

/**
 * Builds a LogConfig from Kafka-named properties over `base`. Unknown names and bad values throw
 * INVALID_CONFIG, naming the property. Keys without an effect in storage (topic-configs.ts) are
 * checked and otherwise ignored, except `flush.messages=1`, which means `flush.policy=always`
 * unless the same properties set flush.policy.
 */
export function parseLogConfig(
  props: Record<string, string>,
  base: Readonly<LogConfig> = DEFAULT_LOG_CONFIG,
): LogConfig {
  const out: LogConfig = { ...base };
  const target = out as unknown as Record<string, unknown>;
  for (const [name, value] of Object.entries(props)) {
    const spec = isTopicConfigName(name) ? TOPIC_CONFIGS[name] : undefined;
    if (!spec) throw new KafkaError("INVALID_CONFIG", `Unknown topic config name: ${name}`);
    let parsed = spec.parse(value, name);
    if (!spec.field) continue;
    if (parsed === "delete,compact") parsed = "compact,delete";
    target[spec.field] = parsed;
  }
  if (Object.hasOwn(props, "flush.messages") && !Object.hasOwn(props, "flush.policy")) {
    if (Number(props["flush.messages"]) === 1) out.flushPolicy = "always";
  }
  if (out.minCompactionLagMs > out.maxCompactionLagMs) {
    throw new KafkaError(
      "INVALID_CONFIG",
      `conflict topic config setting min.compaction.lag.ms (${out.minCompactionLagMs}) > max.compaction.lag.ms (${out.maxCompactionLagMs})`,
    );
  }
  return out;
}
