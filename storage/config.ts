/**
 * Per-log configuration under Kafka's topic config names, with Kafka's defaults where Kafka has
 * one. `flush.policy` is samsa's own: see docs/decisions/0002-flush-policy.md.
 */
import { KafkaError } from "../protocol/errors.js";

export type FlushPolicy = "always" | "interval" | "os";
export type CleanupPolicy = "delete" | "compact" | "compact,delete";

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
  cleanupPolicy: "delete",
  deleteRetentionMs: DAY_MS,
  minCleanableDirtyRatio: 0.5,
  minCompactionLagMs: 0,
  // Kafka's Long.MAX_VALUE.
  maxCompactionLagMs: Number.MAX_SAFE_INTEGER,
});

/** The smallest segment.bytes accepted (Kafka's lower bound is 14 bytes; this keeps a header). */
export const MIN_SEGMENT_BYTES = 1024;

type Parser = (value: string, name: string) => unknown;

function long(min: number): Parser {
  return (value, name) => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isSafeInteger(n) || n < min) {
      throw new KafkaError("INVALID_CONFIG", `${name}=${value}: expected an integer >= ${min}`);
    }
    return n;
  };
}

function ratio(): Parser {
  return (value, name) => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n) || n < 0 || n > 1) {
      throw new KafkaError("INVALID_CONFIG", `${name}=${value}: expected a number in [0, 1]`);
    }
    return n;
  };
}

function oneOf<T extends string>(...values: T[]): Parser {
  return (value, name) => {
    const v = value.trim().toLowerCase().replace(/\s+/g, "");
    if (!(values as string[]).includes(v)) {
      throw new KafkaError("INVALID_CONFIG", `${name}=${value}: expected one of ${values.join(", ")}`);
    }
    return v;
  };
}

/** Kafka config name -> [LogConfig field, parser]. */
export const LOG_CONFIG_KEYS: Record<string, [keyof LogConfig, Parser]> = {
  "segment.bytes": ["segmentBytes", long(MIN_SEGMENT_BYTES)],
  "segment.ms": ["segmentMs", long(1)],
  "segment.index.bytes": ["segmentIndexBytes", long(8 * 4)],
  "index.interval.bytes": ["indexIntervalBytes", long(0)],
  "retention.ms": ["retentionMs", long(-1)],
  "retention.bytes": ["retentionBytes", long(-1)],
  "max.message.bytes": ["maxMessageBytes", long(0)],
  "flush.policy": ["flushPolicy", oneOf("always", "interval", "os")],
  "flush.ms": ["flushMs", long(1)],
  "file.delete.delay.ms": ["fileDeleteDelayMs", long(0)],
  "message.timestamp.before.max.ms": ["timestampBeforeMaxMs", long(0)],
  "message.timestamp.after.max.ms": ["timestampAfterMaxMs", long(0)],
  "cleanup.policy": ["cleanupPolicy", oneOf("delete", "compact", "compact,delete", "delete,compact")],
  "delete.retention.ms": ["deleteRetentionMs", long(0)],
  "min.cleanable.dirty.ratio": ["minCleanableDirtyRatio", ratio()],
  "min.compaction.lag.ms": ["minCompactionLagMs", long(0)],
  "max.compaction.lag.ms": ["maxCompactionLagMs", long(1)],
};

/**
 * Builds a LogConfig from Kafka-named properties over `base`. Unknown names and bad values throw
 * INVALID_CONFIG, naming the property.
 */
export function parseLogConfig(
  props: Record<string, string>,
  base: Readonly<LogConfig> = DEFAULT_LOG_CONFIG,
): LogConfig {
  const out: LogConfig = { ...base };
  const target = out as unknown as Record<string, unknown>;
  for (const [name, value] of Object.entries(props)) {
    const entry = LOG_CONFIG_KEYS[name];
    if (!entry) throw new KafkaError("INVALID_CONFIG", `unknown topic config ${name}`);
    let parsed = entry[1](value, name);
    if (parsed === "delete,compact") parsed = "compact,delete";
    target[entry[0]] = parsed;
  }
  return out;
}
