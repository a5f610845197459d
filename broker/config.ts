/**
 * Broker configuration: one typed schema with defaults, overridden in order by a JSON config file,
 * `SAMSA_*` environment variables and command-line flags. Keys use Kafka's broker config names
 * where Kafka has one (`num.partitions`, `auto.create.topics.enable`, `log.retention.ms`, ...).
 * Environment names are the key upper-cased with dots as underscores: `SAMSA_KAFKA_PORT`.
 */
import { readFileSync } from "node:fs";
import { KafkaError } from "../protocol/errors.js";
import { DEFAULT_LOG_CONFIG, type LogConfig, parseLogConfig } from "../storage/config.js";
import { DEFAULT_HEAL_BACKOFF_MAX_MS, DEFAULT_HEAL_BACKOFF_MS } from "../storage/heal.js";

/** log.format values: see broker/logger.ts. */
export const LOG_FORMATS = ["auto", "json", "pretty"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface BrokerConfig {
  nodeId: number;
  dataDir: string;
  host: string;
  kafkaPort: number;
  httpPort: number;
  /** Host named in Metadata responses; defaults to `host`. */
  advertisedHost: string;
  clusterId: string | null;
  autoCreateTopics: boolean;
  numPartitions: number;
  defaultReplicationFactor: number;
  /** socket.request.max.bytes: the largest request frame accepted. */
  maxRequestBytes: number;
  /** Requests read from one connection and not yet answered before it stops being read. */
  maxInFlightRequests: number;
  /** Request bytes read from one connection and not yet answered before it stops being read. */
  maxInFlightBytes: number;
  /** connections.max.idle.ms */
  idleTimeoutMs: number;
  /** log.retention.check.interval.ms */
  retentionCheckIntervalMs: number;
  /** log.journal.enable: flush.policy=always through the durability journal (storage/journal.ts). */
  journalEnabled: boolean;
  /** log.journal.bytes: journal bytes after which its file is rotated and the logs flushed. */
  journalBytes: number;
  /** log.heal.backoff.ms: first probe of a failed journal or log (storage/heal.ts). */
  healBackoffMs: number;
  /** log.heal.backoff.max.ms: probes of a log that stays failed slow down to this interval. */
  healBackoffMaxMs: number;
  logLevel: string;
  /** log.format: auto (readable lines on a terminal, JSON otherwise), json or pretty. */
  logFormat: LogFormat;
  /** offsets.topic.num.partitions: partitions of `__consumer_offsets` when it is created. */
  offsetsTopicPartitions: number;
  /** offsets.topic.segment.bytes */
  offsetsTopicSegmentBytes: number;
  /** offsets.retention.minutes: how long an empty group's committed offsets are kept. */
  offsetsRetentionMinutes: number;
  /** offsets.retention.check.interval.ms */
  offsetsRetentionCheckIntervalMs: number;
  /** offset.metadata.max.bytes: the largest metadata string of a commit. */
  offsetMetadataMaxBytes: number;
  /** group.min.session.timeout.ms / group.max.session.timeout.ms: the session timeouts allowed. */
  groupMinSessionTimeoutMs: number;
  groupMaxSessionTimeoutMs: number;
  /** group.initial.rebalance.delay.ms: how long the first rebalance of an empty group waits for more members. */
  groupInitialRebalanceDelayMs: number;
  /** group.max.size */
  groupMaxSize: number;
  /** Topic config defaults (Kafka's topic names), from the broker's `log.*` keys. */
  topicDefaults: Record<string, string>;
}

type Kind = "int" | "bool" | "string";

interface Key {
  field: keyof BrokerConfig | null;
  kind: Kind;
  /** For `log.*` keys: the topic config they set the default of. */
  topicKey?: string;
  /** For int keys: the smallest value accepted. */
  min?: number;
  doc: string;
}

/** Every config key, its field, type and meaning. */
export const BROKER_CONFIG_KEYS: Record<string, Key> = {
  "node.id": { field: "nodeId", kind: "int", doc: "this broker's id" },
  "data.dir": { field: "dataDir", kind: "string", doc: "where partition logs and metadata live" },
  host: { field: "host", kind: "string", doc: "address the listeners bind to" },
  "kafka.port": { field: "kafkaPort", kind: "int", doc: "Kafka protocol TCP port (0: any free port)" },
  "http.port": { field: "httpPort", kind: "int", doc: "HTTP and WebSocket port (0: any free port)" },
  "advertised.host": { field: "advertisedHost", kind: "string", doc: "host given to clients in Metadata" },
  "cluster.id": { field: "clusterId", kind: "string", doc: "cluster id (generated and stored if unset)" },
  "auto.create.topics.enable": { field: "autoCreateTopics", kind: "bool", doc: "create topics on first use" },
  "num.partitions": { field: "numPartitions", kind: "int", doc: "partitions of auto-created topics" },
  "default.replication.factor": {
    field: "defaultReplicationFactor",
    kind: "int",
    doc: "replicas of new topics",
  },
  "socket.request.max.bytes": { field: "maxRequestBytes", kind: "int", doc: "largest request frame" },
  "connection.max.inflight.requests": {
    field: "maxInFlightRequests",
    kind: "int",
    doc: "unanswered requests per connection before reading pauses",
  },
  "connection.max.inflight.bytes": {
    field: "maxInFlightBytes",
    kind: "int",
    doc: "unanswered request bytes per connection before reading pauses",
  },
  "connections.max.idle.ms": { field: "idleTimeoutMs", kind: "int", doc: "close idle connections after" },
  "log.retention.check.interval.ms": {
    field: "retentionCheckIntervalMs",
    kind: "int",
    doc: "how often retention runs",
  },
  "offsets.topic.num.partitions": {
    field: "offsetsTopicPartitions",
    kind: "int",
    doc: "partitions of __consumer_offsets (fixed once it exists)",
  },
  "offsets.topic.segment.bytes": {
    field: "offsetsTopicSegmentBytes",
    kind: "int",
    doc: "segment.bytes of __consumer_offsets",
  },
  "offsets.retention.minutes": {
    field: "offsetsRetentionMinutes",
    kind: "int",
    doc: "keep an empty group's offsets this long",
  },
  "offsets.retention.check.interval.ms": {
    field: "offsetsRetentionCheckIntervalMs",
    kind: "int",
    doc: "how often expired offsets are removed",
  },
  "offset.metadata.max.bytes": {
    field: "offsetMetadataMaxBytes",
    kind: "int",
    doc: "largest metadata string of an offset commit",
  },
  "group.min.session.timeout.ms": {
    field: "groupMinSessionTimeoutMs",
    kind: "int",
    doc: "smallest session timeout a member may ask for",
  },
  "group.max.session.timeout.ms": {
    field: "groupMaxSessionTimeoutMs",
    kind: "int",
    doc: "largest session timeout a member may ask for",
  },
  "group.initial.rebalance.delay.ms": {
    field: "groupInitialRebalanceDelayMs",
    kind: "int",
    doc: "wait for more members before an empty group's first rebalance",
  },
  "group.max.size": { field: "groupMaxSize", kind: "int", doc: "most members in one group" },
  "log.level": { field: "logLevel", kind: "string", doc: "pino level: trace, debug, info, warn, error" },
  "log.format": {
    field: "logFormat",
    kind: "string",
    doc: "auto (readable lines on a terminal, JSON lines otherwise), json or pretty",
  },
  "log.retention.ms": { field: null, kind: "int", topicKey: "retention.ms", doc: "default retention.ms" },
  "log.retention.bytes": {
    field: null,
    kind: "int",
    topicKey: "retention.bytes",
    doc: "default retention.bytes",
  },
  "log.segment.bytes": { field: null, kind: "int", topicKey: "segment.bytes", doc: "default segment.bytes" },
  "log.segment.ms": { field: null, kind: "int", topicKey: "segment.ms", doc: "default segment.ms" },
  "log.flush.policy": {
    field: null,
    kind: "string",
    topicKey: "flush.policy",
    doc: "always, interval or os",
  },
  "log.flush.ms": { field: null, kind: "int", topicKey: "flush.ms", doc: "default flush.ms" },
  "log.journal.enable": {
    field: "journalEnabled",
    kind: "bool",
    doc: "flush.policy=always through one journal: one fdatasync per round for all partitions",
  },
  "log.journal.bytes": {
    field: "journalBytes",
    kind: "int",
    min: 64 * 1024,
    doc: "journal file size at which it is rotated and the logs that wrote to it are flushed",
  },
  "log.heal.backoff.ms": {
    field: "healBackoffMs",
    kind: "int",
    min: 1,
    doc: "after a storage fault (ENOSPC, EIO, EMFILE), wait this long before the first probe of the journal or log",
  },
  "log.heal.backoff.max.ms": {
    field: "healBackoffMaxMs",
    kind: "int",
    min: 1,
    doc: "probes of a journal or log that stays failed double their interval up to this",
  },
  "message.max.bytes": {
    field: null,
    kind: "int",
    topicKey: "max.message.bytes",
    doc: "default max.message.bytes",
  },
  "min.insync.replicas": { field: null, kind: "int", topicKey: "min.insync.replicas", doc: "default" },
  "compression.type": {
    field: null,
    kind: "string",
    topicKey: "compression.type",
    doc: "default compression.type: producer, uncompressed, gzip, snappy, lz4 or zstd",
  },
  "log.message.timestamp.type": {
    field: null,
    kind: "string",
    topicKey: "message.timestamp.type",
    doc: "default message.timestamp.type: CreateTime or LogAppendTime",
  },
  "log.message.timestamp.before.max.ms": {
    field: null,
    // Checked as the topic config (Kafka's LONG): "9223372036854775807", Kafka's printed
    // Long.MAX_VALUE, is not a JavaScript safe integer.
    kind: "string",
    topicKey: "message.timestamp.before.max.ms",
    doc: "default message.timestamp.before.max.ms",
  },
  "log.message.timestamp.after.max.ms": {
    field: null,
    // Checked as the topic config (Kafka's LONG): "9223372036854775807", Kafka's printed
    // Long.MAX_VALUE, is not a JavaScript safe integer.
    kind: "string",
    topicKey: "message.timestamp.after.max.ms",
    doc: "default message.timestamp.after.max.ms",
  },
};

export function defaultBrokerConfig(): BrokerConfig {
  return {
    nodeId: 1,
    dataDir: "./data",
    host: "127.0.0.1",
    kafkaPort: 9092,
    httpPort: 8082,
    advertisedHost: "",
    clusterId: null,
    autoCreateTopics: true,
    numPartitions: 1,
    defaultReplicationFactor: 1,
    maxRequestBytes: 100 * 1024 * 1024,
    maxInFlightRequests: 500,
    maxInFlightBytes: 256 * 1024 * 1024,
    idleTimeoutMs: 10 * 60_000,
    retentionCheckIntervalMs: 5 * 60_000,
    journalEnabled: true,
    journalBytes: 256 * 1024 * 1024,
    healBackoffMs: DEFAULT_HEAL_BACKOFF_MS,
    healBackoffMaxMs: DEFAULT_HEAL_BACKOFF_MAX_MS,
    logLevel: "info",
    logFormat: "auto",
    offsetsTopicPartitions: 50,
    offsetsTopicSegmentBytes: 100 * 1024 * 1024,
    offsetsRetentionMinutes: 7 * 24 * 60,
    offsetsRetentionCheckIntervalMs: 10 * 60_000,
    offsetMetadataMaxBytes: 4096,
    groupMinSessionTimeoutMs: 6000,
    groupMaxSessionTimeoutMs: 30 * 60_000,
    groupInitialRebalanceDelayMs: 3000,
    groupMaxSize: 2_147_483_647,
    topicDefaults: {},
  };
}

function parseValue(key: string, kind: Kind, raw: unknown): number | boolean | string {
  const text = String(raw).trim();
  if (kind === "int") {
    const n = Number(text);
    if (text === "" || !Number.isSafeInteger(n))
      throw new KafkaError("INVALID_CONFIG", `${key}=${text}: not an integer`);
    return n;
  }
  if (kind === "bool") {
    if (text === "true" || text === "1") return true;
    if (text === "false" || text === "0") return false;
    throw new KafkaError("INVALID_CONFIG", `${key}=${text}: expected true or false`);
  }
  return text;
}

function apply(config: BrokerConfig, key: string, raw: unknown): void {
  const spec = BROKER_CONFIG_KEYS[key];
  if (!spec) throw new KafkaError("INVALID_CONFIG", `unknown broker config ${key}`);
  const value = parseValue(key, spec.kind, raw);
  if (spec.min !== undefined && (value as number) < spec.min)
    throw new KafkaError("INVALID_CONFIG", `${key}=${value}: expected at least ${spec.min}`);
  if (spec.topicKey) {
    config.topicDefaults[spec.topicKey] = String(value);
    return;
  }
  (config as unknown as Record<string, unknown>)[spec.field as string] = value;
}

export function envName(key: string): string {
  return `SAMSA_${key.toUpperCase().replace(/\./g, "_")}`;
}

export interface ConfigSources {
  /** Path of a JSON file: an object of config keys to values. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Values from command-line flags, by config key. */
  flags?: Record<string, unknown>;
}

/** Builds the effective configuration: defaults < file < SAMSA_* environment < flags. */
export function loadBrokerConfig(sources: ConfigSources = {}): BrokerConfig {
  const config = defaultBrokerConfig();
  if (sources.file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(sources.file, "utf8"));
    } catch (err) {
      throw new KafkaError("INVALID_CONFIG", `config file ${sources.file}: ${(err as Error).message}`);
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new KafkaError("INVALID_CONFIG", `config file ${sources.file}: expected a JSON object`);
    }
    for (const [key, value] of Object.entries(parsed)) apply(config, key, value);
  }
  const env = sources.env ?? {};
  for (const key of Object.keys(BROKER_CONFIG_KEYS)) {
    const value = env[envName(key)];
    if (value !== undefined && value !== "") apply(config, key, value);
  }
  for (const [key, value] of Object.entries(sources.flags ?? {}))
    if (value !== undefined) apply(config, key, value);
  if (!LOG_FORMATS.includes(config.logFormat)) {
    throw new KafkaError(
      "INVALID_CONFIG",
      `log.format=${config.logFormat}: expected ${LOG_FORMATS.join(", ")}`,
    );
  }
  if (!config.advertisedHost) config.advertisedHost = config.host === "0.0.0.0" ? "127.0.0.1" : config.host;
  // Topic defaults must themselves be valid topic configs.
  topicDefaultsConfig(config);
  return config;
}

/** The LogConfig that topics get when they set nothing themselves. */
export function topicDefaultsConfig(config: BrokerConfig): LogConfig {
  const { "min.insync.replicas": _ignored, ...logProps } = config.topicDefaults;
  return parseLogConfig(logProps, DEFAULT_LOG_CONFIG);
}
