/**
 * Every topic config Kafka 4 knows (plus samsa's own `flush.policy` and the Kafka 3 key
 * `message.timestamp.difference.max.ms`, still sent by clients), as data: Kafka's type, default
 * and validation, the LogConfig field a key sets when samsa acts on it, one line of
 * documentation, and for keys that change nothing here, why (`noEffect`). storage/config.ts
 * builds LogConfig from this table; the broker's DescribeConfigs lists every entry of it.
 *
 * Values are checked as Kafka's ConfigDef does: INT must fit 32 bits, LONG 64 (here: a safe
 * integer), BOOLEAN is true/false in any case, ranges and valid strings as Kafka's validators.
 * A value that fails gets INVALID_CONFIG naming the key; a key not in this table is unknown.
 */
import { KafkaError } from "../protocol/errors.js";
import type { LogConfig } from "./config.js";

/** Kafka's ConfigDef types of topic configs. */
export type TopicConfigType = "boolean" | "string" | "int" | "long" | "double" | "list";

export type Parser = (value: string, name: string) => unknown;

export interface TopicConfigSpec {
  type: TopicConfigType;
  /** Kafka's default, as text; keys with a LogConfig field take samsa's default from there. */
  kafkaDefault: string;
  /** Checks a value as Kafka does and returns it parsed; throws INVALID_CONFIG. */
  parse: Parser;
  /** The LogConfig field this key sets, when storage acts on it. */
  field?: keyof LogConfig;
  doc: string;
  /** Why the key is accepted but changes nothing in samsa. */
  noEffect?: string;
}

const INT_MAX = 2 ** 31 - 1;
const INT_MIN = -(2 ** 31);
/** Kafka's Long.MAX_VALUE, as Kafka prints it. */
export const LONG_MAX_TEXT = "9223372036854775807";
/** The smallest segment.bytes accepted (Kafka 4's lower bound is 1 MiB; this keeps a header). */
export const MIN_SEGMENT_BYTES = 1024;
/** zstd's level range (ZSTD_minCLevel() is -(1 << 17)). */
const ZSTD_MIN_LEVEL = -(1 << 17);
const ZSTD_MAX_LEVEL = 22;
const LZ4_MIN_LEVEL = 1;
const LZ4_MAX_LEVEL = 17;
/** gzip takes 1-9, or -1 for zlib's default. */
const GZIP_DEFAULT_LEVEL = -1;

function invalid(name: string, value: string, expected: string): KafkaError {
  return new KafkaError("INVALID_CONFIG", `Invalid value ${value} for configuration ${name}: ${expected}`);
}

function integer(min: number, max: number, what: string): Parser {
  return (value, name) => {
    const text = value.trim();
    const n = Number(text);
    if (!/^[+-]?\d+$/.test(text) || !Number.isSafeInteger(n)) throw invalid(name, value, `not a ${what}`);
    if (n < min || n > max) throw invalid(name, value, `expected a value in [${min}, ${max}]`);
    return n;
  };
}

/** An INT: 32 bits, at least `min`. */
export function int(min = INT_MIN, max = INT_MAX): Parser {
  return integer(min, max, "32-bit integer");
}

/** A LONG, at least `min` (as a JavaScript safe integer: Long.MAX_VALUE is read as 2^53 - 1). */
export function long(min = Number.MIN_SAFE_INTEGER): Parser {
  return (value, name) => {
    const text = value.trim();
    if (text === LONG_MAX_TEXT) return Number.MAX_SAFE_INTEGER;
    return integer(min, Number.MAX_SAFE_INTEGER, "64-bit integer")(value, name);
  };
}

export function ratio(): Parser {
  return (value, name) => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n)) throw invalid(name, value, "not a number");
    if (n < 0 || n > 1) throw invalid(name, value, "expected a value in [0, 1]");
    return n;
  };
}

export function bool(): Parser {
  return (value, name) => {
    const v = value.trim().toLowerCase();
    if (v !== "true" && v !== "false") throw invalid(name, value, "expected true or false");
    return v === "true";
  };
}

/** One of `values`, compared case-insensitively and without blanks (samsa's own keys). */
export function oneOf<T extends string>(...values: T[]): Parser {
  return (value, name) => {
    const v = value.trim().toLowerCase().replace(/\s+/g, "");
    if (!(values as string[]).includes(v)) throw invalid(name, value, `expected one of ${values.join(", ")}`);
    return v;
  };
}

/** One of `values`, exactly, as Kafka's ValidString.in. */
export function exactly<T extends string>(...values: T[]): Parser {
  return (value, name) => {
    const v = value.trim();
    if (!(values as string[]).includes(v))
      throw invalid(name, value, `String must be one of: ${values.join(", ")}`);
    return v;
  };
}

/** An INT level: `special` (the codec's default) or within [min, max]. */
function level(min: number, max: number, special?: number): Parser {
  return (value, name) => {
    const n = int()(value, name) as number;
    if (n !== special && (n < min || n > max))
      throw invalid(name, value, `expected a value in [${min}, ${max}]`);
    return n;
  };
}

/** Kafka's ThrottledReplicaListValidator: empty, `*`, or `partition:broker` pairs. */
function throttledReplicas(): Parser {
  return (value, name) => {
    const items = value
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "");
    if (items.length === 1 && items[0] === "*") return value.trim();
    if (items.every((s) => /^\d+:\d+$/.test(s))) return items.join(",");
    throw invalid(
      name,
      value,
      "must be the literal '*' or a list of replicas in the form '[PartitionId]:[BrokerId]'",
    );
  };
}

/** remote.storage.enable: true needs tiered storage, which samsa does not have. */
function remoteStorageEnable(): Parser {
  return (value, name) => {
    const on = bool()(value, name);
    if (on) {
      throw new KafkaError(
        "INVALID_CONFIG",
        `${name}=true: tiered storage is not available on this broker (remote.log.storage.system.enable is false)`,
      );
    }
    return on;
  };
}

const NO_REPLICATION = "samsa has no replication yet: every topic has one replica";
const NO_TIERED_STORAGE = "samsa has no tiered storage (remote.storage.enable=true is refused)";

/**
 * Kafka 4's topic configs and samsa's flush.policy, by name, alphabetically. The table has no
 * prototype, so a client's key such as `constructor` or `toString` finds nothing in it.
 */
export const TOPIC_CONFIGS: Readonly<Record<string, TopicConfigSpec>> = prototypeFree({
  "cleanup.policy": {
    type: "list",
    kafkaDefault: "delete",
    parse: oneOf("delete", "compact", "compact,delete", "delete,compact"),
    field: "cleanupPolicy",
    doc: "delete (retention), compact, or both.",
  },
  "compression.gzip.level": {
    type: "int",
    kafkaDefault: String(GZIP_DEFAULT_LEVEL),
    parse: level(1, 9, GZIP_DEFAULT_LEVEL),
    field: "compressionGzipLevel",
    doc: "gzip level when compression.type=gzip recompresses (-1: zlib's default, 6).",
  },
  "compression.lz4.level": {
    type: "int",
    kafkaDefault: "9",
    parse: level(LZ4_MIN_LEVEL, LZ4_MAX_LEVEL),
    doc: "lz4 level when compression.type=lz4 recompresses.",
    noEffect: "samsa's lz4 library (lz4-napi) has one level; batches recompressed to lz4 use it",
  },
  "compression.type": {
    type: "string",
    kafkaDefault: "producer",
    parse: exactly("producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"),
    field: "compressionType",
    doc: "The codec batches are stored with: producer keeps the producer's; any other recompresses a batch whose codec differs.",
  },
  "compression.zstd.level": {
    type: "int",
    kafkaDefault: "3",
    parse: level(ZSTD_MIN_LEVEL, ZSTD_MAX_LEVEL),
    field: "compressionZstdLevel",
    doc: "zstd level when compression.type=zstd recompresses.",
  },
  "delete.retention.ms": {
    type: "long",
    kafkaDefault: "86400000",
    parse: long(0),
    field: "deleteRetentionMs",
    doc: "How long tombstones survive after compaction.",
  },
  "file.delete.delay.ms": {
    type: "long",
    kafkaDefault: "60000",
    parse: long(0),
    field: "fileDeleteDelayMs",
    doc: "How long a deleted segment's files stay on disk for readers still using them.",
  },
  "flush.messages": {
    type: "long",
    kafkaDefault: LONG_MAX_TEXT,
    parse: long(1),
    doc: "Kafka: fsync after this many messages. flush.messages=1 on a topic that does not set flush.policy means flush.policy=always.",
    noEffect:
      "samsa's durability is flush.policy (default always: fsync before every ack); only flush.messages=1 maps to it, other values change nothing",
  },
  "flush.ms": {
    type: "long",
    kafkaDefault: LONG_MAX_TEXT,
    parse: long(1),
    field: "flushMs",
    doc: "The flush period under flush.policy=interval.",
  },
  "flush.policy": {
    type: "string",
    kafkaDefault: "always",
    parse: oneOf("always", "interval", "os"),
    field: "flushPolicy",
    doc: "samsa's own: when appends are fsync'ed: always (before the ack), interval (every flush.ms) or os (page cache).",
  },
  "follower.replication.throttled.replicas": {
    type: "list",
    kafkaDefault: "",
    parse: throttledReplicas(),
    doc: "Replicas whose replication the follower side throttles.",
    noEffect: NO_REPLICATION,
  },
  "index.interval.bytes": {
    type: "int",
    kafkaDefault: "4096",
    parse: int(0),
    field: "indexIntervalBytes",
    doc: "Log bytes between two sparse offset-index entries.",
  },
  "leader.replication.throttled.replicas": {
    type: "list",
    kafkaDefault: "",
    parse: throttledReplicas(),
    doc: "Replicas whose replication the leader side throttles.",
    noEffect: NO_REPLICATION,
  },
  "local.retention.bytes": {
    type: "long",
    kafkaDefault: "-2",
    parse: long(-2),
    doc: "With tiered storage: bytes kept locally (-2: retention.bytes).",
    noEffect: NO_TIERED_STORAGE,
  },
  "local.retention.ms": {
    type: "long",
    kafkaDefault: "-2",
    parse: long(-2),
    doc: "With tiered storage: time kept locally (-2: retention.ms).",
    noEffect: NO_TIERED_STORAGE,
  },
  "max.compaction.lag.ms": {
    type: "long",
    kafkaDefault: LONG_MAX_TEXT,
    parse: long(1),
    field: "maxCompactionLagMs",
    doc: "Records older than this are compacted soon.",
  },
  "max.message.bytes": {
    type: "int",
    kafkaDefault: "1048588",
    parse: int(0),
    field: "maxMessageBytes",
    doc: "Largest record batch accepted (after recompression), including its overhead; larger ones get MESSAGE_TOO_LARGE.",
  },
  "message.downconversion.enable": {
    type: "boolean",
    kafkaDefault: "true",
    parse: bool(),
    doc: "Kafka 3: down-convert batches for consumers of old fetch versions.",
    noEffect: "Kafka 4 removed down-conversion; samsa serves Fetch v4+ (magic 2) only",
  },
  "message.timestamp.after.max.ms": {
    type: "long",
    kafkaDefault: LONG_MAX_TEXT,
    parse: long(0),
    field: "timestampAfterMaxMs",
    doc: "How far in the future a CreateTime record's timestamp may lie (else INVALID_TIMESTAMP).",
  },
  "message.timestamp.before.max.ms": {
    type: "long",
    kafkaDefault: LONG_MAX_TEXT,
    parse: long(0),
    field: "timestampBeforeMaxMs",
    doc: "How far in the past a CreateTime record's timestamp may lie (else INVALID_TIMESTAMP).",
  },
  "message.timestamp.difference.max.ms": {
    type: "long",
    kafkaDefault: LONG_MAX_TEXT,
    parse: long(0),
    field: "timestampDifferenceMaxMs",
    doc: "Kafka 3's bound both ways (replaced by before/after.max.ms): a CreateTime record must also lie within it.",
  },
  "message.timestamp.type": {
    type: "string",
    kafkaDefault: "CreateTime",
    parse: exactly("CreateTime", "LogAppendTime"),
    field: "timestampType",
    doc: "CreateTime keeps the producer's timestamps; LogAppendTime stamps each batch with the broker's append time.",
  },
  "min.cleanable.dirty.ratio": {
    type: "double",
    kafkaDefault: "0.5",
    parse: ratio(),
    field: "minCleanableDirtyRatio",
    doc: "Share of a compacted log not yet cleaned that triggers a cleaning pass.",
  },
  "min.compaction.lag.ms": {
    type: "long",
    kafkaDefault: "0",
    parse: long(0),
    field: "minCompactionLagMs",
    doc: "Records younger than this are not compacted.",
  },
  "min.insync.replicas": {
    type: "int",
    kafkaDefault: "1",
    parse: int(1),
    doc: "In-sync replicas that must have a batch before an acks=all produce succeeds (read by the broker).",
  },
  preallocate: {
    type: "boolean",
    kafkaDefault: "false",
    parse: bool(),
    doc: "Kafka: allocate a segment's whole file when it is created.",
    noEffect: "samsa's segments grow as they are written; appends are sequential and flushed by flush.policy",
  },
  "remote.log.copy.disable": {
    type: "boolean",
    kafkaDefault: "false",
    parse: bool(),
    doc: "With tiered storage: stop copying segments to remote storage.",
    noEffect: NO_TIERED_STORAGE,
  },
  "remote.log.delete.on.disable": {
    type: "boolean",
    kafkaDefault: "false",
    parse: bool(),
    doc: "With tiered storage: delete remote data when tiering is turned off.",
    noEffect: NO_TIERED_STORAGE,
  },
  "remote.storage.enable": {
    type: "boolean",
    kafkaDefault: "false",
    parse: remoteStorageEnable(),
    doc: "Tiered storage for this topic.",
    noEffect: NO_TIERED_STORAGE,
  },
  "retention.bytes": {
    type: "long",
    kafkaDefault: "-1",
    parse: long(),
    field: "retentionBytes",
    doc: "Delete the oldest segments while a partition is larger than this; -1 for no limit.",
  },
  "retention.ms": {
    type: "long",
    kafkaDefault: "604800000",
    parse: long(-1),
    field: "retentionMs",
    doc: "Delete closed segments whose newest record is older than this; -1 keeps them forever.",
  },
  "segment.bytes": {
    type: "int",
    kafkaDefault: "1073741824",
    parse: int(MIN_SEGMENT_BYTES),
    field: "segmentBytes",
    doc: `Roll a new segment before the active one exceeds this size (at least ${MIN_SEGMENT_BYTES}).`,
  },
  "segment.index.bytes": {
    type: "int",
    kafkaDefault: "10485760",
    parse: int(8 * 4),
    field: "segmentIndexBytes",
    doc: "Offset index capacity per segment (8 bytes an entry); the segment rolls when it is full.",
  },
  "segment.jitter.ms": {
    type: "long",
    kafkaDefault: "0",
    parse: long(0),
    doc: "Kafka: a random amount up to this is taken off segment.ms per segment, so partitions do not roll together.",
    noEffect: "samsa rolls at segment.ms exactly; a roll costs one fdatasync of the old segment",
  },
  "segment.ms": {
    type: "long",
    kafkaDefault: "604800000",
    parse: long(1),
    field: "segmentMs",
    doc: "Roll a new segment this long after its first append.",
  },
  "unclean.leader.election.enable": {
    type: "boolean",
    kafkaDefault: "false",
    parse: bool(),
    doc: "Let a replica outside the ISR become leader (losing records).",
    noEffect: `no effect until replication: ${NO_REPLICATION}`,
  },
} satisfies Record<string, TopicConfigSpec>);

/** A frozen copy of `table` without a prototype: only its own keys are found in it. */
function prototypeFree<T>(table: Record<string, T>): Readonly<Record<string, T>> {
  return Object.freeze(configRecord(Object.entries(table)));
}

/**
 * A config map without a prototype, from `entries` (a later entry of a name wins). Every map of
 * config names a client chose (from the wire, HTTP, or the metadata file) is one of these, so a
 * name such as `__proto__`, `constructor` or `toString` is only ever an own key: it can neither
 * change the map's prototype nor find a function where a value is expected.
 */
export function configRecord<T = string>(entries: Iterable<readonly [string, T]> = []): Record<string, T> {
  const out = Object.create(null) as Record<string, T>;
  for (const [name, value] of entries) out[name] = value;
  return out;
}

/** Whether `name` is a topic config this broker knows (an own key of TOPIC_CONFIGS). */
export function isTopicConfigName(name: string): boolean {
  return Object.hasOwn(TOPIC_CONFIGS, name);
}

/**
 * Splits stored topic configs into the ones still valid one by one and the ones to drop (unknown
 * key or bad value), with why, for a metadata file written by an older or a hand-edited broker.
 */
export function keepValidTopicConfigs(configs: Record<string, unknown>): {
  kept: Record<string, string>;
  dropped: { name: string; reason: string }[];
} {
  const kept = configRecord();
  const dropped: { name: string; reason: string }[] = [];
  for (const [name, value] of Object.entries(configs)) {
    if (!isTopicConfigName(name)) {
      dropped.push({ name, reason: "unknown topic config" });
    } else if (typeof value !== "string") {
      dropped.push({ name, reason: "not a string" });
    } else {
      try {
        TOPIC_CONFIGS[name].parse(value, name);
        kept[name] = value;
      } catch (err) {
        dropped.push({ name, reason: (err as Error).message });
      }
    }
  }
  return { kept, dropped };
}

/** The documentation DescribeConfigs gives a key: its line, and why it has no effect if so. */
export function topicConfigDoc(name: string): string | null {
  if (!isTopicConfigName(name)) return null;
  const spec = TOPIC_CONFIGS[name];
  return spec.noEffect ? `${spec.doc} samsa: no effect: ${spec.noEffect}.` : spec.doc;
}
