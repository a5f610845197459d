/**
 * Topics of this broker: creation (explicit and automatic), deletion, new partitions and config
 * changes, each recorded in the metadata store first and then applied to the partition logs.
 * Topic names are validated as Kafka does.
 */
import type { Logger } from "pino";
import { KafkaError } from "../protocol/errors.js";
import { type LogConfig, parseLogConfig } from "../storage/config.js";
import type { StorageFs } from "../storage/fs.js";
import type { LogManager } from "../storage/log-manager.js";
import type { BrokerConfig } from "./config.js";
import { topicDefaultsConfig } from "./config.js";
import { newTopicId } from "./metadata/file-store.js";
import type { MetadataStore, TopicRecord } from "./metadata/store.js";
import { Partition } from "./partition.js";
import { type ProducerIds, producerIdsFor } from "./producer-ids.js";

/** Kafka's limit on topic name length. */
export const MAX_TOPIC_NAME_LENGTH = 249;
/** Most partitions one topic may have on this broker. */
export const MAX_PARTITIONS_PER_TOPIC = 10_000;
/** Topic configs the broker knows besides the storage ones. */
const BROKER_TOPIC_CONFIGS: Record<string, (v: string) => boolean> = {
  "min.insync.replicas": (v) => /^\d+$/.test(v) && Number(v) >= 1,
};

/** Topics the broker writes itself; clients may read them but not create, write or delete them. */
export const INTERNAL_TOPICS: ReadonlySet<string> = new Set(["__consumer_offsets", "__transaction_state"]);

export function isInternalTopic(name: string): boolean {
  return INTERNAL_TOPICS.has(name);
}

/** Throws INVALID_TOPIC_EXCEPTION unless `name` is a legal Kafka topic name. */
export function validateTopicName(name: string): void {
  if (name.length === 0) throw new KafkaError("INVALID_TOPIC_EXCEPTION", "topic name is empty");
  if (name === "." || name === "..")
    throw new KafkaError("INVALID_TOPIC_EXCEPTION", `topic name "${name}" is illegal`);
  if (name.length > MAX_TOPIC_NAME_LENGTH) {
    throw new KafkaError(
      "INVALID_TOPIC_EXCEPTION",
      `topic name is longer than ${MAX_TOPIC_NAME_LENGTH} characters`,
    );
  }
  if (!/^[a-zA-Z0-9._-]+$/.test(name)) {
    throw new KafkaError(
      "INVALID_TOPIC_EXCEPTION",
      `topic name "${name}" has characters outside [a-zA-Z0-9._-]`,
    );
  }
}

/** The log config of a topic: its own configs over the broker's defaults. */
export function topicLogConfig(config: BrokerConfig, store: MetadataStore, topic: string): LogConfig {
  return logConfigOf(config, store.topic(topic)?.configs ?? {});
}

/** The log config of a topic with `configs`: those over the broker's defaults. */
export function logConfigOf(config: BrokerConfig, configs: Record<string, string>): LogConfig {
  const { "min.insync.replicas": _m, ...storage } = configs;
  return parseLogConfig(storage, topicDefaultsConfig(config));
}

function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

export class TopicManager {
  private readonly partitions = new Map<string, Partition>();
  private readonly creating = new Map<string, Promise<TopicRecord>>();
  /** The last queued change of each topic, while one is queued or running. */
  private readonly changing = new Map<string, Promise<void>>();
  /** Runs after a topic is deleted, before DeleteTopics answers (groups drop its offsets). */
  onDeleted: ((name: string) => Promise<void>) | null = null;
  /** Producer-id checks, expiry and bounds shared by every partition (producer-ids.ts). */
  readonly producerIds: ProducerIds;
  /** Partitions of creations under way, counted against max.broker.partitions. */
  private reservedPartitions = 0;

  constructor(
    private readonly config: BrokerConfig,
    private readonly store: MetadataStore,
    private readonly logs: LogManager,
    private readonly sfs: StorageFs,
    private readonly log?: Logger,
  ) {
    this.producerIds = producerIdsFor(config, store, () => this.allPartitions().map((p) => p.producers));
  }

  /** The log config of a topic: its own configs over the broker's defaults. */
  logConfigFor(topic: string): LogConfig {
    return topicLogConfig(this.config, this.store, topic);
  }

  /** Validates topic configs (Kafka names); throws INVALID_CONFIG naming the bad one. */
  validateConfigs(configs: Record<string, string>): void {
    const storage: Record<string, string> = Object.create(null);
    for (const [key, value] of Object.entries(configs)) {
      const check = Object.hasOwn(BROKER_TOPIC_CONFIGS, key) ? BROKER_TOPIC_CONFIGS[key] : undefined;
      if (check) {
        if (!check(value)) throw new KafkaError("INVALID_CONFIG", `${key}=${value} is not valid`);
      } else {
        storage[key] = value;
      }
    }
    parseLogConfig(storage, topicDefaultsConfig(this.config));
  }

  minInsyncReplicas(topic: string): number {
    return this.minInsyncReplicasOf(this.store.topic(topic)?.configs ?? {});
  }

  /** min.insync.replicas of a topic with explicit `configs`: theirs, else the broker default, else 1. */
  private minInsyncReplicasOf(configs: Record<string, string>): number {
    const value = configs["min.insync.replicas"] ?? this.config.topicDefaults["min.insync.replicas"];
    return value ? Number(value) : 1;
  }

  /** Opens the partitions of every topic in the metadata store (at start-up). */
  async loadAll(): Promise<void> {
    for (const topic of this.store.topics()) {
      for (const p of topic.partitions) await this.openPartition(topic, p.partition);
    }
    // Logs on disk that the metadata no longer names belong to topics deleted mid-way.
    for (const { topic, partition } of this.logs.all()) {
      const record = this.store.topic(topic);
      if (!record || partition >= record.partitions.length) await this.logs.deleteLog(topic, partition);
    }
  }

  /** Opens a partition's log; `fresh` for one just created (see LogManager.createLog). */
  private async openPartition(topic: TopicRecord, index: number, fresh = false): Promise<Partition> {
    // A new topic's record is not in the store yet: its configs come from the record.
    const config = fresh ? logConfigOf(this.config, topic.configs) : undefined;
    const log = await this.logs.createLog(topic.name, index, fresh, config);
    const nodeId = this.config.nodeId;
    const minIsr = this.minInsyncReplicasOf(topic.configs);
    const partition = new Partition(topic.name, index, log, this.sfs, this.producerIds, nodeId, minIsr);
    await partition.load();
    // The single broker leads every partition, alone in its ISR.
    partition.makeLeader(topic.partitions[index]?.leaderEpoch ?? 0, 0, [nodeId]);
    this.partitions.set(partitionKey(topic.name, index), partition);
    return partition;
  }

  /** Partitions this broker holds or is creating, as max.broker.partitions counts them. */
  partitionCount(): number {
    let held = this.reservedPartitions;
    for (const t of this.store.topics()) held += t.partitions.length;
    return held;
  }

  /**
   * Throws POLICY_VIOLATION unless `count` more partitions fit in max.broker.partitions.
   * Internal topics are never refused (their size is the broker's own config), but count.
   */
  private checkCapacity(name: string, count: number, internal: boolean): void {
    const max = this.config.maxBrokerPartitions;
    const held = this.partitionCount();
    if (internal || held + count <= max) return;
    throw new KafkaError(
      "POLICY_VIOLATION",
      `${count} more partition(s) for topic ${name} would exceed max.broker.partitions=${max}: this broker holds ${held}; delete topics or raise max.broker.partitions`,
    );
  }

  /**
   * Opens the partitions [from, to) of a topic being created or grown. On any failure, closes and
   * removes what it opened (files and all) and rethrows: nothing half made stays behind.
   */
  private async openNew(topic: TopicRecord, from: number, to: number): Promise<void> {
    let opened = from;
    try {
      for (; opened < to; opened++) await this.openPartition(topic, opened, true);
    } catch (err) {
      await this.dropPartitions(topic.name, from, opened);
      throw err;
    }
  }

  /**
   * Drops a partition from the map, and its producer state from the broker-wide count
   * (max.concurrent.producer.ids), which would otherwise over-count it until the next sweep.
   */
  private forgetPartition(name: string, index: number): void {
    const key = partitionKey(name, index);
    this.partitions.get(key)?.producers.clear();
    this.partitions.delete(key);
  }

  /** Closes and removes the logs of partitions [from, to) of a creation that failed. */
  private async dropPartitions(name: string, from: number, to: number): Promise<void> {
    for (let i = from; i < to; i++) {
      this.forgetPartition(name, i);
      try {
        await this.logs.deleteLog(name, i);
      } catch (err) {
        // Left on disk, it is removed at the next start (no metadata names it) or re-creation.
        this.log?.error({ err, topic: name, partition: i }, "removing a partly created partition failed");
      }
    }
  }

  /** The topic's metadata record, if it exists. */
  record(name: string): TopicRecord | undefined {
    return this.store.topic(name);
  }

  partition(topic: string, index: number): Partition | undefined {
    return this.partitions.get(partitionKey(topic, index));
  }

  allPartitions(): Partition[] {
    return [...this.partitions.values()];
  }

  /**
   * Creates a topic. `numPartitions` and `replicationFactor` of -1 take the broker defaults.
   * With `validateOnly`, checks everything and changes nothing. Internal topics are created only
   * by the broker itself (`internal`); clients asking for one get INVALID_REQUEST.
   */
  async create(
    name: string,
    numPartitions: number,
    replicationFactor: number,
    configs: Record<string, string>,
    validateOnly = false,
    internal = false,
    auto = false,
  ): Promise<TopicRecord> {
    validateTopicName(name);
    if (isInternalTopic(name) && !internal) {
      throw new KafkaError("INVALID_REQUEST", `${name} is an internal topic; the broker creates it`);
    }
    const partitions = numPartitions === -1 ? this.config.numPartitions : numPartitions;
    const replicas = replicationFactor === -1 ? this.config.defaultReplicationFactor : replicationFactor;
    if (partitions < 1 || partitions > MAX_PARTITIONS_PER_TOPIC) {
      throw new KafkaError(
        "INVALID_PARTITIONS",
        `${partitions} partitions: expected 1..${MAX_PARTITIONS_PER_TOPIC}`,
      );
    }
    if (replicas < 1 || replicas > this.store.brokers().length) {
      throw new KafkaError(
        "INVALID_REPLICATION_FACTOR",
        `replication factor ${replicas} with ${this.store.brokers().length} broker(s)`,
      );
    }
    this.validateConfigs(configs);
    if (this.store.topic(name) || this.creating.has(name)) {
      throw new KafkaError("TOPIC_ALREADY_EXISTS", `topic ${name} already exists`);
    }
    this.checkCapacity(name, partitions, internal);
    const nodeId = this.config.nodeId;
    const record: TopicRecord = {
      name,
      id: newTopicId(),
      partitions: Array.from({ length: partitions }, (_, i) => ({
        partition: i,
        leader: nodeId,
        leaderEpoch: 0,
        replicas: [nodeId],
        isr: [nodeId],
      })),
      configs,
    };
    if (validateOnly) return record;
    // The logs first, then the metadata: the record in the store is the commit point, and a
    // crash before it leaves logs that no metadata names (removed at the next start).
    const creation = this.exclusive(name, async () => {
      if (this.store.topic(name))
        throw new KafkaError("TOPIC_ALREADY_EXISTS", `topic ${name} already exists`);
      await this.openNew(record, 0, partitions);
      try {
        await this.store.createTopic(record);
      } catch (err) {
        await this.dropPartitions(name, 0, partitions);
        throw err;
      }
      return record;
    });
    this.creating.set(name, creation);
    this.reservedPartitions += partitions;
    try {
      await creation;
    } finally {
      this.reservedPartitions -= partitions;
      this.creating.delete(name);
    }
    this.log?.info(
      { topic: name, partitions, replicationFactor: replicas, configs },
      auto ? "topic auto-created" : "topic created",
    );
    return record;
  }

  /**
   * Runs `change` after every earlier change of the same topic has finished: a create, delete,
   * new partitions or config change of one name never interleave (their files would collide).
   */
  private exclusive<T>(name: string, change: () => Promise<T>): Promise<T> {
    const previous = this.changing.get(name) ?? Promise.resolve();
    const run = previous.then(change);
    const settled = run.then(
      () => {},
      () => {},
    );
    this.changing.set(name, settled);
    void settled.then(() => {
      if (this.changing.get(name) === settled) this.changing.delete(name);
    });
    return run;
  }

  /** The topic, created with the broker defaults if auto-creation allows and it is missing. */
  async getOrCreate(name: string, allowAutoCreate: boolean): Promise<TopicRecord | undefined> {
    const existing = this.store.topic(name);
    if (existing) return existing;
    const pending = this.creating.get(name);
    if (pending) return pending;
    if (!allowAutoCreate || !this.config.autoCreateTopics || isInternalTopic(name)) return undefined;
    try {
      return await this.create(name, -1, -1, {}, false, false, true);
    } catch (err) {
      if (KafkaError.is(err, "TOPIC_ALREADY_EXISTS"))
        return this.store.topic(name) ?? this.creating.get(name);
      throw err;
    }
  }

  delete(name: string): Promise<void> {
    return this.exclusive(name, () => this.deleteNow(name));
  }

  private async deleteNow(name: string): Promise<void> {
    const record = this.store.topic(name);
    if (!record) throw new KafkaError("UNKNOWN_TOPIC_OR_PARTITION", `topic ${name} does not exist`);
    if (isInternalTopic(name)) throw new KafkaError("INVALID_REQUEST", `${name} is an internal topic`);
    await this.store.deleteTopic(name);
    for (const p of record.partitions) {
      this.forgetPartition(name, p.partition);
      await this.logs.deleteLog(name, p.partition);
    }
    await this.onDeleted?.(name);
    this.log?.info({ topic: name, partitions: record.partitions.length }, "topic deleted");
  }

  /** Grows a topic to `total` partitions. */
  addPartitions(name: string, total: number, validateOnly = false): Promise<void> {
    return this.exclusive(name, () => this.addPartitionsNow(name, total, validateOnly));
  }

  private async addPartitionsNow(name: string, total: number, validateOnly: boolean): Promise<void> {
    const record = this.store.topic(name);
    if (!record) throw new KafkaError("UNKNOWN_TOPIC_OR_PARTITION", `topic ${name} does not exist`);
    const current = record.partitions.length;
    if (total <= current) {
      throw new KafkaError(
        "INVALID_PARTITIONS",
        `topic ${name} has ${current} partitions; ${total} is not more`,
      );
    }
    if (total > MAX_PARTITIONS_PER_TOPIC) {
      throw new KafkaError("INVALID_PARTITIONS", `at most ${MAX_PARTITIONS_PER_TOPIC} partitions per topic`);
    }
    this.checkCapacity(name, total - current, isInternalTopic(name));
    if (validateOnly) return;
    this.reservedPartitions += total - current;
    try {
      await this.growNow(record, total);
    } finally {
      this.reservedPartitions -= total - current;
    }
  }

  /**
   * Opens the new partitions, then records them in the store (the commit point); a failure of
   * either removes the new partitions' logs.
   */
  private async growNow(record: TopicRecord, total: number): Promise<void> {
    const name = record.name;
    const nodeId = this.config.nodeId;
    // Changes of one topic run one at a time (exclusive), so the record read above is current.
    const before = record.partitions.length;
    const grown: TopicRecord = {
      ...record,
      partitions: [
        ...record.partitions,
        ...Array.from({ length: total - before }, (_, i) => ({
          partition: before + i,
          leader: nodeId,
          leaderEpoch: 0,
          replicas: [nodeId],
          isr: [nodeId],
        })),
      ],
    };
    await this.openNew(grown, before, total);
    try {
      await this.store.updateTopic(name, (t) => {
        if (t.partitions.length !== before) {
          throw new KafkaError("INVALID_PARTITIONS", `topic ${name} changed while it was grown`);
        }
        return { ...t, partitions: [...t.partitions, ...grown.partitions.slice(before)] };
      });
    } catch (err) {
      await this.dropPartitions(name, before, total);
      throw err;
    }
  }

  /** Replaces a topic's explicit configs and applies them to its logs. */
  setConfigs(name: string, configs: Record<string, string>, validateOnly = false): Promise<void> {
    return this.exclusive(name, () => this.setConfigsNow(name, configs, validateOnly));
  }

  private async setConfigsNow(
    name: string,
    configs: Record<string, string>,
    validateOnly: boolean,
  ): Promise<void> {
    if (!this.store.topic(name))
      throw new KafkaError("UNKNOWN_TOPIC_OR_PARTITION", `topic ${name} does not exist`);
    this.validateConfigs(configs);
    if (validateOnly) return;
    await this.store.updateTopic(name, (t) => ({ ...t, configs }));
    const logConfig = this.logConfigFor(name);
    const minIsr = this.minInsyncReplicas(name);
    for (const p of this.allPartitions()) if (p.topic === name) p.updateConfig(logConfig, minIsr);
  }

  /**
   * DeleteRecords: moves the partition's log start offset up to `offset` (at most the high
   * watermark) and writes the log-start checkpoint before resolving, so a restart or a kill -9
   * never brings the deleted records back. Resolves with the new log start offset.
   */
  async deleteRecords(topic: string, index: number, offset: number): Promise<number> {
    const partition = this.partition(topic, index);
    if (!partition) throw new KafkaError("UNKNOWN_TOPIC_OR_PARTITION", `no partition ${topic}-${index}`);
    const start = await partition.deleteRecordsBefore(offset);
    await this.logs.checkpoint();
    return start;
  }
}
