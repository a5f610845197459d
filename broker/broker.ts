/**
 * A samsa broker: the cluster store, the partition logs, the controller, the topics and their
 * replica manager, the group coordinator (the groups and offsets of the __consumer_offsets
 * partitions led here, loaded as the replica manager makes this broker their leader),
 * and the listeners that lead into the API handlers. `Broker.start` locks the data directory
 * (storage/dir-lock.ts: one live process per directory), opens the embedded cluster store
 * (`<data dir>/samsa-metadata.json`, a version 1 file migrated), applies it to the local replicas,
 * listens, registers this broker and starts its controller (the single broker wins at once).
 * `stop` answers the requests in flight, stops the controller (bounded) and the replica manager,
 * closes the registration, snapshots producer state, flushes and closes every log (writing the
 * clean-shutdown marker), closes the store and releases the lock.
 */
import type { Logger } from "pino";
import { pino } from "pino";
import { KafkaError } from "../protocol/errors.js";
import { configureDecompressor } from "../storage/decompress.js";
import { DataDirLock } from "../storage/dir-lock.js";
import { openFilesBudget, readFdLimit } from "../storage/fd-limit.js";
import { NodeFs, type StorageFs } from "../storage/fs.js";
import type { StorageEvents } from "../storage/heal.js";
import { LogManager } from "../storage/log-manager.js";
import { HANDLERS } from "./api/index.js";
import type { AnyApiHandler } from "./api/types.js";
import { type ControllerChannel, LocalControllerChannel } from "./cluster/controller-channel.js";
import type { BrokerConfig } from "./config.js";
import { Controller, controllerOptions } from "./controller/controller.js";
import { Dispatcher } from "./dispatch.js";
import { GroupCoordinator } from "./group/coordinator.js";
import { GroupOffsets } from "./group/offsets.js";
import { OffsetsTopic } from "./group/offsets-topic.js";
import { HttpServer } from "./http/server.js";
import type { BrokerSession, ClusterStore } from "./metadata/cluster.js";
import { EmbeddedClusterStore } from "./metadata/embedded-store.js";
import { KafkaServer } from "./net/kafka-server.js";
import type { Partition } from "./partition.js";
import { ProducerIdBlocks } from "./producer-ids.js";
import { TopicManager, topicLogConfig } from "./topics.js";

/**
 * Storage faults and heals as log lines: one error line when the journal or a partition fails
 * (which, the errno code, the failed call) and one warn line when it heals.
 */
function storageEvents(log: Logger): StorageEvents {
  return {
    fault: ({ kind, key, code, message }) =>
      log.error(
        { [kind]: key, code, cause: message },
        `storage fault: ${kind} ${key} refuses writes (KAFKA_STORAGE_ERROR) until it heals: ${message}`,
      ),
    healed: ({ kind, key, code, attempts, downMs }) =>
      log.warn(
        { [kind]: key, code, attempts, downMs },
        `storage healed: ${kind} ${key} accepts writes again after ${code} (tail proved)`,
      ),
  };
}

/** How often producer-state snapshots and offset checkpoints are written. */
export const SNAPSHOT_INTERVAL_MS = 60_000;
/** Producer-state snapshots written at once (each is a file write, fdatasync and rename). */
export const SNAPSHOT_CONCURRENCY = 16;
/** How long start waits for this broker's controller to be elected (the single broker: at once). */
export const CONTROLLER_ELECTION_TIMEOUT_MS = 30_000;
/** How long stop waits for the controller's queued work before going on without it. */
export const CONTROLLER_STOP_TIMEOUT_MS = 10_000;

export interface BrokerOptions {
  logger?: Logger;
  fs?: StorageFs;
}

export class Broker {
  readonly dispatcher: Dispatcher;
  private kafkaServer: KafkaServer | null = null;
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  /** The bound Kafka port (differs from the config when it asked for port 0). */
  kafkaPort = 0;
  /** The HTTP and WebSocket server (broker/http), once listening. */
  http: HttpServer | null = null;
  /** The bound HTTP port (differs from the config when it asked for port 0). */
  httpPort = 0;
  readonly startedAtMs = Date.now();
  /** This broker's registration in the store, once listening. */
  private session: BrokerSession | null = null;
  /** Producer ids for InitProducerId, reserved from the store in blocks. */
  readonly producerIdBlocks: ProducerIdBlocks;

  private constructor(
    readonly config: BrokerConfig,
    readonly store: ClusterStore,
    readonly controller: Controller,
    /** How this broker asks the controller for changes (its own, or the elected one's broker). */
    readonly channel: ControllerChannel,
    readonly logs: LogManager,
    readonly topics: TopicManager,
    readonly groups: GroupCoordinator,
    readonly offsets: GroupOffsets,
    readonly log: Logger,
    handlers: AnyApiHandler[],
    private readonly lock: DataDirLock,
  ) {
    this.dispatcher = new Dispatcher(this, new Map(handlers.map((h) => [h.apiKey, h])), log);
    this.producerIdBlocks = new ProducerIdBlocks(store);
  }

  static async start(config: BrokerConfig, options: BrokerOptions = {}): Promise<Broker> {
    if (config.cluster !== "") {
      // Issue 13 builds joining a cluster step by step; until a broker can, it must not pretend to.
      throw new KafkaError(
        "INVALID_CONFIG",
        `cluster=${config.cluster}: joining a cluster through etcd is not available yet; leave cluster empty to run a single broker`,
      );
    }
    const log = options.logger ?? pino({ level: "silent" });
    const sfs = options.fs ?? new NodeFs();
    // Before anything else: a limit the broker cannot run with is refused, saying how to raise it.
    const fdLimit = readFdLimit();
    const maxOpenFiles = openFilesBudget(fdLimit, config.maxOpenFiles);
    // Before anything reads or writes the directory: a second broker on it must change nothing.
    await sfs.mkdirp(config.dataDir);
    const lock = await DataDirLock.acquire(config.dataDir);
    log.info({ fdLimit, maxOpenFiles }, "open-files budget");
    try {
      return await Broker.startLocked(config, log, sfs, lock, maxOpenFiles);
    } catch (err) {
      await lock.release();
      throw err;
    }
  }

  private static async startLocked(
    config: BrokerConfig,
    log: Logger,
    sfs: StorageFs,
    lock: DataDirLock,
    maxOpenFiles: number,
  ): Promise<Broker> {
    configureDecompressor({ memoryBytesMax: config.decompressionMemoryMaxBytes });
    const store = await EmbeddedClusterStore.open(config.dataDir, { clusterId: config.clusterId, sfs, log });
    const logs = await LogManager.open({
      dataDir: config.dataDir,
      fs: sfs,
      configFor: (topic) => topicLogConfig(config, store, topic),
      retentionCheckIntervalMs: config.retentionCheckIntervalMs,
      journal: config.journalEnabled,
      journalBytes: config.journalBytes,
      maxOpenFiles,
      healBackoffMs: config.healBackoffMs,
      healBackoffMaxMs: config.healBackoffMaxMs,
      events: storageEvents(log),
    });
    const controller = new Controller(store, config.nodeId, { ...controllerOptions(config), logger: log });
    const channel = new LocalControllerChannel(controller);
    const topics = new TopicManager(config, store, logs, sfs, channel, log);
    const groups = new GroupCoordinator(new OffsetsTopic(topics, config), config, log);
    // The coordinator serves the groups of the __consumer_offsets partitions led here.
    topics.replicas.onLeadership = (topic, partition, leading, epoch) =>
      groups.onLeadership(topic, partition, leading, epoch);
    await topics.loadAll();
    await groups.loading();
    if (groups.allGroups().length > 0) log.info({ groups: groups.allGroups().length }, "groups loaded");
    const offsets = new GroupOffsets(groups, topics, config, log);
    topics.onDeleted = (name) =>
      offsets.topicDeleted(name).catch((err) => log.warn({ err, topic: name }, "removing offsets failed"));
    const broker = new Broker(
      config,
      store,
      controller,
      channel,
      logs,
      topics,
      groups,
      offsets,
      log,
      HANDLERS,
      lock,
    );
    broker.noteLoaded();
    try {
      await broker.listen();
    } catch (err) {
      // A port already taken: release what started (listeners, logs, store, lock) before failing.
      await broker.stop().catch(() => {});
      throw err;
    }
    log.info(
      {
        nodeId: config.nodeId,
        kafka: `${config.host}:${broker.kafkaPort}`,
        http: `${config.host}:${broker.httpPort}`,
        dataDir: config.dataDir,
        clean: logs.cleanStart,
      },
      "broker started",
    );
    return broker;
  }

  private async listen(): Promise<void> {
    const server = new KafkaServer(this.dispatcher, this.config, this.log);
    this.kafkaPort = await server.listen(this.config.host, this.config.kafkaPort);
    this.kafkaServer = server;
    this.http = await HttpServer.start(this);
    this.httpPort = this.http.port;
    // Registered before its controller starts: the controller's first pass finds it live and
    // changes no leadership the store already gives it.
    this.session = await this.store.register({
      nodeId: this.config.nodeId,
      host: this.config.advertisedHost,
      port: this.kafkaPort,
      rack: null,
      httpPort: this.httpPort,
    });
    this.controller.start();
    await withTimeout(this.controller.elected(), CONTROLLER_ELECTION_TIMEOUT_MS, () => {
      throw new KafkaError("NOT_CONTROLLER", `node ${this.config.nodeId} was not elected controller in time`);
    });
    this.offsets.start();
    const timer = setInterval(
      () => void this.snapshot().catch((err) => this.log.warn({ err }, "snapshot failed")),
      SNAPSHOT_INTERVAL_MS,
    );
    timer.unref();
    this.timers.push(timer);
    const expiry = setInterval(
      () => this.topics.producerIds.expireAll(),
      this.config.producerIdExpirationCheckIntervalMs,
    );
    expiry.unref();
    this.timers.push(expiry);
  }

  /**
   * Log start and end of each partition when its producer state was last snapshotted, or loaded
   * at start: a partition whose log has not moved since needs no new snapshot (its state is
   * what the next start restores or rebuilds from the log anyway).
   */
  private readonly snapshotted = new WeakMap<Partition, string>();

  /** Notes every partition's log position as snapshotted (after the logs are loaded). */
  private noteLoaded(): void {
    for (const p of this.topics.allPartitions()) this.snapshotted.set(p, logPosition(p));
  }

  /**
   * Writes producer-state snapshots of every partition whose log moved since its last one,
   * SNAPSHOT_CONCURRENCY at a time.
   */
  async snapshot(): Promise<void> {
    const due = this.topics
      .allPartitions()
      .filter((p) => !p.failed && this.snapshotted.get(p) !== logPosition(p));
    let next = 0;
    const worker = async () => {
      while (next < due.length) {
        const p = due[next++];
        const position = logPosition(p);
        await p.snapshot();
        this.snapshotted.set(p, position);
      }
    };
    await Promise.all(Array.from({ length: Math.min(SNAPSHOT_CONCURRENCY, due.length) }, worker));
  }

  /** Graceful shutdown; safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    // Members waiting for a rebalance are answered now (NOT_COORDINATOR), not after it.
    this.groups.stop();
    this.offsets.stop();
    await Promise.all([this.kafkaServer?.close(), this.http?.close()]);
    await withTimeout(this.controller.stop(), CONTROLLER_STOP_TIMEOUT_MS, () =>
      this.log.warn("the controller's queued work did not end in time; stopping without it"),
    );
    await this.topics.replicas.stop();
    await this.session?.close().catch((err) => this.log.warn({ err }, "closing the registration failed"));
    await this.snapshot().catch((err) => this.log.warn({ err }, "final snapshot failed"));
    try {
      await this.logs.close();
      await this.store.close();
    } finally {
      await this.lock.release();
    }
    this.log.info("broker stopped");
  }
}

/** Waits for `work`, or `ms` and then `onTimeout` (whose throw rejects). */
async function withTimeout(work: Promise<unknown>, ms: number, onTimeout: () => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<"expired">((resolve) => {
    timer = setTimeout(() => resolve("expired"), ms);
    timer.unref();
  });
  try {
    if ((await Promise.race([work, expired])) === "expired") onTimeout();
  } finally {
    clearTimeout(timer);
  }
}

/** Where a partition's log starts and ends: what its producer-state snapshot depends on. */
function logPosition(p: Partition): string {
  return `${p.logStartOffset}:${p.logEndOffset}`;
}
