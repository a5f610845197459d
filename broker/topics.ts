/**
 * Topics of this broker: the registry of its local replicas (kept by the replica manager,
 * broker/cluster/replica-manager.ts) and the door of topic changes. Creation (explicit and
 * automatic), deletion, new partitions and config changes are validated here (names as Kafka
 * does, configs, internal topics, partition limits), decided by the controller through a
 * `ControllerChannel`, and answered once the replica manager has applied the result to the local
 * logs: a CreateTopics followed at once by a Produce finds its partitions, and a DeleteTopics
 * answers after the logs are gone. Changes of one topic run one at a time.
 */
import type { Logger } from "pino";
import { KafkaError } from "../protocol/errors.js";
import { type LogConfig, parseLogConfig } from "../storage/config.js";
import type { StorageFs } from "../storage/fs.js";
import type { LogManager } from "../storage/log-manager.js";
import type { ControllerChannel } from "./cluster/controller-channel.js";
import { ReplicaManager } from "./cluster/replica-manager.js";
import type { BrokerConfig } from "./config.js";
import { topicDefaultsConfig } from "./config.js";
import type { ClusterStore, TopicState } from "./metadata/cluster.js";
import type { Partition } from "./partition.js";
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
export function topicLogConfig(
  config: BrokerConfig,
  store: Pick<ClusterStore, "topic">,
  topic: string,
): LogConfig {
  return logConfigOf(config, store.topic(topic)?.configs ?? {});
}

/** The log config of a topic with `configs`: those over the broker's defaults. */
export function logConfigOf(config: BrokerConfig, configs: Record<string, string>): LogConfig {
  const { "min.insync.replicas": _m, ...storage } = configs;
  return parseLogConfig(storage, topicDefaultsConfig(config));
}

/** min.insync.replicas of a topic with explicit `configs`: theirs, else the broker default, else 1. */
export function minInsyncReplicasOf(config: BrokerConfig, configs: Record<string, string>): number {
  const value = configs["min.insync.replicas"] ?? config.topicDefaults["min.insync.replicas"];
  return value ? Number(value) : 1;
}

export class TopicManager {
  private readonly creating = new Map<string, Promise<TopicState>>();
  /** The last queued change of each topic, while one is queued or running. */
  private readonly changing = new Map<string, Promise<void>>();
  /** Runs after a topic is deleted, before DeleteTopics answers (groups drop its offsets). */
  onDeleted: ((name: string) => Promise<void>) | null = null;
  /** Producer-id checks, expiry and bounds shared by every partition (producer-ids.ts). */
  readonly producerIds: ProducerIds;
  /** Applies the store to the local replicas, and holds them. */
  readonly replicas: ReplicaManager;
  /** Partitions of creations under way, counted against max.broker.partitions. */
  private reservedPartitions = 0;

  constructor(
    private readonly config: BrokerConfig,
    private readonly store: ClusterStore,
    private readonly logs: LogManager,
    sfs: StorageFs,
    private readonly controller: ControllerChannel,
    private readonly log?: Logger,
  ) {
    this.producerIds = producerIdsFor(config, store, () => this.allPartitions().map((p) => p.producers));
    this.replicas = new ReplicaManager(store, config.nodeId, {
      logs,
      sfs,
      producerIds: this.producerIds,
      logConfig: (configs) => logConfigOf(config, configs),
      minInsyncReplicas: (configs) => minInsyncReplicasOf(config, configs),
      logger: log,
    });
    this.replicas.onTopicRemoved = (name) => this.onDeleted?.(name) ?? Promise.resolve();
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
    return minInsyncReplicasOf(this.config, this.store.topic(topic)?.configs ?? {});
  }

  /** Opens the local replicas of every topic in the store and follows its changes (at start-up). */
  loadAll(): Promise<void> {
    return this.replicas.start();
  }

  /** Brokers registered now. */
  liveBrokerCount(): number {
    return this.store.brokers().length;
  }

  /** Partitions assigned to this broker or being created, as max.broker.partitions counts them. */
  partitionCount(): number {
    const nodeId = this.config.nodeId;
    let held = this.reservedPartitions;
    for (const t of this.store.topics())
      for (const p of t.partitions) if (p.replicas.includes(nodeId)) held++;
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

  /** The topic's metadata, if it exists. */
  record(name: string): TopicState | undefined {
    return this.store.topic(name);
  }

  /** The local replica of a partition (leader or follower), if this broker holds one. */
  partition(topic: string, index: number): Partition | undefined {
    return this.replicas.partition(topic, index);
  }

  /**
   * The error for a partition this broker holds no replica of: NOT_LEADER_OR_FOLLOWER when the
   * partition exists (another broker leads it), else UNKNOWN_TOPIC_OR_PARTITION.
   */
  missingPartitionError(
    topic: string,
    index: number,
  ): "NOT_LEADER_OR_FOLLOWER" | "UNKNOWN_TOPIC_OR_PARTITION" {
    const exists = (this.store.topic(topic)?.partitions.length ?? 0) > index && index >= 0;
    return exists ? "NOT_LEADER_OR_FOLLOWER" : "UNKNOWN_TOPIC_OR_PARTITION";
  }

  allPartitions(): Partition[] {
    return this.replicas.allPartitions();
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
    /** A manual assignment: replica lists by partition, preferred leader first (the controller checks it). */
    assignments: number[][] | null = null,
  ): Promise<TopicState> {
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
    // A manual assignment names its brokers: the controller checks them (INVALID_REPLICA_ASSIGNMENT).
    if (!assignments && (replicas < 1 || replicas > this.store.brokers().length)) {
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
    const request = { name, partitions, replicationFactor: replicas, configs, assignments };
    if (validateOnly) return this.controller.createTopic({ ...request, validateOnly: true });
    const creation = this.exclusive(name, () => this.createNow(request));
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
    return creation;
  }

  /**
   * The controller creates the topic, then the replica manager opens its logs. If they cannot be
   * opened, the topic is deleted again: nothing of a creation that failed stays behind.
   */
  private async createNow(request: {
    name: string;
    partitions: number;
    replicationFactor: number;
    configs: Record<string, string>;
    assignments: number[][] | null;
  }): Promise<TopicState> {
    const { name } = request;
    if (this.store.topic(name)) throw new KafkaError("TOPIC_ALREADY_EXISTS", `topic ${name} already exists`);
    const topic = await this.controller.createTopic(request);
    try {
      await this.replicas.sync(name);
    } catch (err) {
      await this.undoCreation(name);
      throw err;
    }
    return this.store.topic(name) ?? topic;
  }

  private async undoCreation(name: string): Promise<void> {
    try {
      await this.controller.deleteTopic(name);
      await this.replicas.sync(name);
    } catch (err) {
      // Left in the store, the replica manager keeps trying to open its logs.
      this.log?.error({ err, topic: name }, "removing a partly created topic failed");
    }
  }

  /**
   * Runs `change` after every earlier change of the same topic has finished: a create, delete,
   * new partitions or config change of one name never interleave.
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
  async getOrCreate(name: string, allowAutoCreate: boolean): Promise<TopicState | undefined> {
    // A creation under way first: its topic is in the store before its logs are open here.
    const pending = this.creating.get(name);
    if (pending) return pending;
    const existing = this.store.topic(name);
    if (existing) return existing;
    if (!allowAutoCreate || !this.config.autoCreateTopics || isInternalTopic(name)) return undefined;
    try {
      return await this.create(name, -1, -1, {}, false, false, true);
    } catch (err) {
      if (KafkaError.is(err, "TOPIC_ALREADY_EXISTS"))
        return this.store.topic(name) ?? this.creating.get(name);
      throw err;
    }
  }

  /** Deletes a topic; resolves once its local logs are gone and onDeleted has run. */
  delete(name: string): Promise<void> {
    return this.exclusive(name, () => this.deleteNow(name));
  }

  private async deleteNow(name: string): Promise<void> {
    const record = this.store.topic(name);
    if (!record) throw new KafkaError("UNKNOWN_TOPIC_OR_PARTITION", `topic ${name} does not exist`);
    if (isInternalTopic(name)) throw new KafkaError("INVALID_REQUEST", `${name} is an internal topic`);
    await this.controller.deleteTopic(name);
    await this.replicas.sync(name);
    this.log?.info({ topic: name, partitions: record.partitions.length }, "topic deleted");
  }

  /** Grows a topic to `total` partitions. */
  addPartitions(
    name: string,
    total: number,
    validateOnly = false,
    assignments: number[][] | null = null,
  ): Promise<void> {
    return this.exclusive(name, () => this.addPartitionsNow(name, total, validateOnly, assignments));
  }

  private async addPartitionsNow(
    name: string,
    total: number,
    validateOnly: boolean,
    assignments: number[][] | null,
  ): Promise<void> {
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
    if (validateOnly) {
      if (assignments) await this.controller.createPartitions(name, total, true, assignments);
      return;
    }
    this.reservedPartitions += total - current;
    try {
      await this.controller.createPartitions(name, total, false, assignments);
    } finally {
      this.reservedPartitions -= total - current;
    }
    // Partitions are never taken back: a log that cannot be opened now is retried by the replica manager.
    await this.replicas.sync(name);
  }

  /** Replaces a topic's explicit configs; resolves once its logs apply them. */
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
    await this.controller.alterConfigs(name, configs);
    await this.replicas.sync(name);
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
