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
  const { "min.insync.replicas": _m, ...storage } = store.topic(topic)?.configs ?? {};
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

  constructor(
    private readonly config: BrokerConfig,
    private readonly store: MetadataStore,
    private readonly logs: LogManager,
    private readonly sfs: StorageFs,
    private readonly log?: Logger,
  ) {}

  /** The log config of a topic: its own configs over the broker's defaults. */
  logConfigFor(topic: string): LogConfig {
    return topicLogConfig(this.config, this.store, topic);
  }

  /** Validates topic configs (Kafka names); throws INVALID_CONFIG naming the bad one. */
  validateConfigs(configs: Record<string, string>): void {
    const storage: Record<string, string> = {};
    for (const [key, value] of Object.entries(configs)) {
      const check = BROKER_TOPIC_CONFIGS[key];
      if (check) {
        if (!check(value)) throw new KafkaError("INVALID_CONFIG", `${key}=${value} is not valid`);
      } else {
        storage[key] = value;
      }
    }
    parseLogConfig(storage, topicDefaultsConfig(this.config));
  }

  minInsyncReplicas(topic: string): number {
    const value =
      this.store.topic(topic)?.configs["min.insync.replicas"] ??
      this.config.topicDefaults["min.insync.replicas"];
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
    const log = await this.logs.createLog(topic.name, index, fresh);
    const partition = new Partition(topic.name, index, log, this.sfs);
    partition.leaderEpoch = topic.partitions[index]?.leaderEpoch ?? 0;
    await partition.load();
    this.partitions.set(partitionKey(topic.name, index), partition);
    return partition;
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
    const creation = this.exclusive(name, async () => {
      if (this.store.topic(name))
        throw new KafkaError("TOPIC_ALREADY_EXISTS", `topic ${name} already exists`);
      await this.store.createTopic(record);
      for (let i = 0; i < partitions; i++) await this.openPartition(record, i, true);
      return record;
    });
    this.creating.set(name, creation);
    try {
      await creation;
    } finally {
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
      this.partitions.delete(partitionKey(name, p.partition));
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
    if (validateOnly) return;
    const nodeId = this.config.nodeId;
    // Count from the record the store hands the change, not the one read above: a concurrent
    // addPartitions may have grown the topic meanwhile (partition indexes would repeat).
    let before = current;
    const updated = await this.store.updateTopic(name, (t) => {
      before = t.partitions.length;
      if (total <= before) {
        throw new KafkaError(
          "INVALID_PARTITIONS",
          `topic ${name} has ${before} partitions; ${total} is not more`,
        );
      }
      return {
        ...t,
        partitions: [
          ...t.partitions,
          ...Array.from({ length: total - before }, (_, i) => ({
            partition: before + i,
            leader: nodeId,
            leaderEpoch: 0,
            replicas: [nodeId],
            isr: [nodeId],
          })),
        ],
      };
    });
    for (let i = before; i < total; i++) await this.openPartition(updated, i, true);
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
    for (const p of this.allPartitions()) if (p.topic === name) p.log.updateConfig(logConfig);
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
