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
import { randomUUID } from "node:crypto";
import { readFileSync, unwatchFile, watchFile } from "node:fs";
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
import type { AnyApiHandler, RequestContext } from "./api/types.js";
import { type ControllerChannel, LocalControllerChannel } from "./cluster/controller-channel.js";
import { IsrUpdater } from "./cluster/isr-updater.js";
import { PeerFencer } from "./cluster/peer-fencer.js";
import { peerSecurity } from "./cluster/peer-security.js";
import { ClusterControllerChannel } from "./cluster/remote-controller-channel.js";
import { replicaFetcherSettings } from "./cluster/replica-fetcher.js";
import { ReplicaFetcherHook } from "./cluster/replica-fetcher-hook.js";
import { ReplicaFetcherManager } from "./cluster/replica-fetcher-manager.js";
import type { BrokerConfig } from "./config.js";
import { Controller, controllerOptions } from "./controller/controller.js";
import { Dispatcher } from "./dispatch.js";
import { GroupCoordinator } from "./group/coordinator.js";
import { GroupOffsets } from "./group/offsets.js";
import { OffsetsTopic } from "./group/offsets-topic.js";
import { HttpServer } from "./http/server.js";
import type { BrokerInfo, BrokerSession, ClusterStore } from "./metadata/cluster.js";
import { EmbeddedClusterStore } from "./metadata/embedded-store.js";
import { LEASE_TTL_MARGIN_MS } from "./metadata/etcd-lease.js";
import { EtcdClusterStore, etcdStoreOptions } from "./metadata/etcd-store.js";
import { BrokerMetrics } from "./metrics/metrics.js";
import { KafkaServer, type ListenerTls } from "./net/kafka-server.js";
import {
  brokerListeners,
  interBrokerListener,
  type ListenerSpec,
  type SaslMechanism,
  saslMechanisms,
  usesSasl,
  usesTls,
} from "./net/listeners.js";
import type { Partition } from "./partition.js";
import { ProducerIdBlocks } from "./producer-ids.js";
import { brokerAuthorizer } from "./security/authorize.js";
import type { Authorizer } from "./security/authorizer.js";
import type { CredentialLookup } from "./security/sasl-exchange.js";
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
/** How often TLS listeners' certificate files are checked for a change (reloaded without a restart). */
export const TLS_RELOAD_CHECK_MS = 1000;
/** How long stop waits for the controller's queued work before going on without it. */
export const CONTROLLER_STOP_TIMEOUT_MS = 10_000;

export interface BrokerOptions {
  logger?: Logger;
  fs?: StorageFs;
}

export class Broker {
  readonly dispatcher: Dispatcher;
  private kafkaServers: KafkaServer[] = [];
  /** The Kafka listeners (net/listeners.ts). */
  readonly listeners: ListenerSpec[];
  /** Each listener's bound port, by name. */
  readonly listenerPorts = new Map<string, number>();
  /** SASL listeners' mechanisms, and where users' credentials are found. */
  readonly sasl: { mechanisms: SaslMechanism[]; credential: CredentialLookup };
  /** The ACL checks (authorizer.class.name set), or null: every request allowed. */
  readonly authorizer: Authorizer | null;
  private tlsWatched: string[] = [];
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  /** The first listener's bound Kafka port (differs from the config when it asked for port 0). */
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
  /** Re-registers after a lost registration (cluster mode). */
  private reRegistering: Promise<void> | null = null;
  /**
   * Drawn once per broker process (this object's life) and named in each of its registrations,
   * so the controller tells a registration renewed after a lapse (same id, log intact) from a
   * restart (a new id), as Kafka's BrokerRegistration IncarnationId.
   */
  readonly incarnationId = randomUUID();

  private constructor(
    /** The broker's metrics (broker/metrics/), or null with metrics.enable=false. */
    readonly metrics: BrokerMetrics | null,
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
    private readonly replication: Replication | null,
  ) {
    this.dispatcher = new Dispatcher(this, new Map(handlers.map((h) => [h.apiKey, h])), log);
    this.producerIdBlocks = new ProducerIdBlocks(store);
    this.listeners = brokerListeners(config);
    this.sasl = {
      mechanisms: saslMechanisms(config),
      credential: (user, mechanism) => store.scramCredential(user, mechanism),
    };
    this.authorizer = brokerAuthorizer(config, store);
  }

  static async start(config: BrokerConfig, options: BrokerOptions = {}): Promise<Broker> {
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
    const metrics = config.metricsEnable ? new BrokerMetrics(HANDLERS) : null;
    const store = await openStore(config, sfs, log);
    const logs = await LogManager.open({
      dataDir: config.dataDir,
      fs: sfs,
      configFor: (topic) => topicLogConfig(config, store, topic),
      retentionCheckIntervalMs: config.retentionCheckIntervalMs,
      journal: config.journalEnabled,
      journalBytes: config.journalBytes,
      journalStats: metrics?.storage,
      maxOpenFiles,
      healBackoffMs: config.healBackoffMs,
      healBackoffMaxMs: config.healBackoffMaxMs,
      events: storageEvents(log),
    });
    const controller = new Controller(store, config.nodeId, { ...controllerOptions(config), logger: log });
    const fencer =
      clustered(config) && config.brokerPeerFencingEnable
        ? new PeerFencer(store, config.nodeId, log)
        : undefined;
    const connectFailed = fencer?.connectFailed;
    const channel = clustered(config)
      ? new ClusterControllerChannel({
          store,
          nodeId: config.nodeId,
          controller,
          logger: log,
          connectFailed,
          security: peerSecurity(config),
        })
      : new LocalControllerChannel(controller);
    const topics = new TopicManager(config, store, logs, sfs, channel, log);
    // The broker's own registration, once it exists, gives replication its epoch (-1 before).
    let self: Broker | null = null;
    const epochNow = () => self?.brokerEpoch() ?? -1;
    const registered = () => self?.mayLead() ?? false;
    const replication = clustered(config)
      ? startReplication(config, store, topics, channel, log, { epochNow, registered, fencer, metrics })
      : null;
    const groups = new GroupCoordinator(new OffsetsTopic(topics, config), config, log);
    // The coordinator serves the groups of the __consumer_offsets partitions led here.
    topics.replicas.onLeadership = (topic, partition, leading, epoch) =>
      groups.onLeadership(topic, partition, leading, epoch);
    await topics.loadAll();
    await groups.loading();
    if (groups.allGroups().length > 0) log.info({ groups: groups.allGroups().length }, "groups loaded");
    const offsets = new GroupOffsets(groups, topics, config, log);
    topics.onDeleted = (name) => {
      metrics?.topics.forget(name);
      return offsets
        .topicDeleted(name)
        .catch((err) => log.warn({ err, topic: name }, "removing offsets failed"));
    };
    const broker = new Broker(
      metrics,
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
      replication,
    );
    self = broker;
    metrics?.watch(broker);
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
    await this.listenKafka();
    this.http = await HttpServer.start(this);
    this.httpPort = this.http.port;
    this.warnOpenHttp();
    // Registered before its controller starts: the controller's first pass finds it live and
    // changes no leadership the store already gives it.
    await this.register(registrationWaitMs(this.config));
    this.controller.start();
    if (!clustered(this.config)) {
      await withTimeout(this.controller.elected(), CONTROLLER_ELECTION_TIMEOUT_MS, () => {
        throw new KafkaError(
          "NOT_CONTROLLER",
          `node ${this.config.nodeId} was not elected controller in time`,
        );
      });
    }
    this.replication?.isr.start();
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
   * Starts every Kafka listener; only the cluster's inter-broker listener lets its peers act as
   * brokers (decision 0030). TLS listeners load their certificate files again when they change.
   */
  private async listenKafka(): Promise<void> {
    const interBroker = interBrokerListener(this.config, this.listeners);
    for (const listener of this.listeners) {
      const server = new KafkaServer(this.dispatcher, this.config, this.log, {
        listener,
        interBroker: clustered(this.config) && listener === interBroker,
        tls: usesTls(listener.securityProtocol) ? this.listenerTls() : undefined,
      });
      this.kafkaServers.push(server);
      this.listenerPorts.set(listener.name, await server.listen(listener.host, listener.port));
    }
    this.kafkaPort = this.listenerPorts.get(this.listeners[0].name) ?? 0;
    this.watchTlsFiles();
    this.warnOpenListeners();
  }

  /** Secure by default (issue 15): a listener beyond loopback that asks for no login is named at start. */
  private warnOpenListeners(): void {
    const loopback = (host: string) => host === "localhost" || host === "::1" || host.startsWith("127.");
    for (const l of this.listeners) {
      if (usesSasl(l.securityProtocol) || loopback(l.host)) continue;
      this.log.warn(
        { listener: l.name, host: l.host, port: this.listenerPorts.get(l.name) },
        `listener ${l.name} (${l.securityProtocol}) on ${l.host} takes clients without authentication: anyone who reaches it may read, write and delete; use a SASL listener (listeners, listener.security.protocol.map)`,
      );
    }
  }

  /** The HTTP port beyond loopback without credentials, or with passwords in clear, is named at start. */
  private warnOpenHttp(): void {
    const host = this.config.host;
    if (host === "localhost" || host === "::1" || host.startsWith("127.")) return;
    const fields = { host, port: this.httpPort };
    if (!this.http?.authenticator)
      this.log.warn(
        fields,
        `the HTTP port on ${host} asks no credentials (http.authentication): anyone who reaches it may read, write and delete; set http.authentication=basic`,
      );
    else if (!this.config.httpTlsEnable)
      this.log.warn(
        fields,
        `the HTTP port on ${host} takes passwords over plain HTTP; set http.tls.enable=true`,
      );
  }

  private listenerTls(): ListenerTls {
    const c = this.config;
    return {
      clientAuth: c.sslClientAuth as ListenerTls["clientAuth"],
      options: () => ({
        cert: readFileSync(c.sslCertificateLocation),
        key: readFileSync(c.sslKeyLocation),
        ...(c.sslCaLocation ? { ca: readFileSync(c.sslCaLocation) } : {}),
      }),
    };
  }

  /** Reloads TLS listeners' (and HTTPS) certificates when their files change (checked every TLS_RELOAD_CHECK_MS). */
  private watchTlsFiles(): void {
    if (!this.listeners.some((l) => usesTls(l.securityProtocol)) && !this.config.httpTlsEnable) return;
    const c = this.config;
    this.tlsWatched = [c.sslCertificateLocation, c.sslKeyLocation, c.sslCaLocation].filter((f) => f !== "");
    for (const file of this.tlsWatched) {
      watchFile(file, { interval: TLS_RELOAD_CHECK_MS, persistent: false }, () => this.reloadTls());
    }
  }

  /** Loads the TLS certificate, key and CA files again; new connections get them. */
  reloadTls(): void {
    try {
      for (const server of this.kafkaServers) server.reloadTls();
      this.http?.reloadTls();
      this.log.info({ certificate: this.config.sslCertificateLocation }, "TLS certificates reloaded");
    } catch (err) {
      // A half-written file: the next change (the rest of it) loads again.
      this.log.warn({ err }, "TLS certificates not reloaded; the listeners keep the previous ones");
    }
  }

  /** Where the listener named `name` is advertised, with its bound port where none is given. */
  private advertised(listener: ListenerSpec): { host: string; port: number } {
    return {
      host: listener.advertisedHost,
      port: listener.advertisedPort ?? this.listenerPorts.get(listener.name) ?? 0,
    };
  }

  /** What this broker registers: its id, advertised Kafka endpoints, rack, HTTP port and incarnation. */
  private registration(): BrokerInfo {
    const inter = this.advertised(interBrokerListener(this.config, this.listeners));
    const endpoints = this.listeners.map((l) => ({ listener: l.name, ...this.advertised(l) }));
    return {
      nodeId: this.config.nodeId,
      host: inter.host,
      port: inter.port,
      rack: this.config.rack === "" ? null : this.config.rack,
      httpPort: this.httpPort,
      ...(this.listeners.length > 1 || this.config.listeners !== "" ? { endpoints } : {}),
      incarnationId: this.incarnationId,
    };
  }

  /**
   * Registers this broker, retrying for `waitMs` while its id is still held by a registration of
   * its previous run (a crash leaves it until the lease expires) or the store is unreachable.
   */
  private async register(waitMs: number): Promise<void> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      try {
        const session = await this.store.register(this.registration());
        if (this.stopped) {
          await session.close().catch(() => undefined);
          return;
        }
        this.noteTermsBeforeRegistration();
        this.session = session;
        session.onLost(() => this.registrationLost(session));
        this.log.info(
          { nodeId: session.nodeId, brokerEpoch: session.epoch, incarnationId: this.incarnationId },
          "broker registered",
        );
        return;
      } catch (err) {
        if (this.stopped || Date.now() >= deadline || !retriableRegistration(err)) throw err;
        this.log.info({ err }, "registration refused for now; retrying");
        await sleep(REGISTRATION_RETRY_MS);
      }
    }
  }

  /**
   * The registration was lost (its lease expired while etcd could not be reached in time): this
   * broker stops answering acks=0 and acks=1 produce as leader (`mayLead`; acks=all stays safe,
   * see decision 0030) and registers again, under a new broker epoch, once the store answers.
   */
  private registrationLost(session: BrokerSession): void {
    if (this.stopped || this.session !== session) return;
    this.log.warn({ brokerEpoch: session.epoch }, "broker registration lost; registering again");
    this.reRegistering ??= (async () => {
      while (!this.stopped) {
        await session.close().catch(() => undefined);
        try {
          await this.register(0);
          return;
        } catch (err) {
          this.log.info({ err }, "registering again failed; retrying");
          await sleep(REGISTRATION_RETRY_MS);
        }
      }
    })().finally(() => {
      this.reRegistering = null;
    });
  }

  /**
   * Leader terms this broker held when it last registered (cluster mode), by partition: the
   * controller moves or re-elects the leaderships of a broker that restarted (a new incarnation)
   * or whose lapsed registration a pass saw gone, bumping their leader epochs, so a term from
   * before the registration may be stale until the store's new one arrives. acks=0/1 are refused
   * on it meanwhile (they would be truncated when it follows); a term the controller keeps (the
   * same process back before a pass saw it go) is trusted past the registration wait.
   */
  private termsBeforeRegistration = new Map<Partition, number>();
  /** When (Date.now()) those terms were noted. */
  private registeredAtMs = 0;

  /**
   * Whether this broker may acknowledge acks=0/1 as leader (of `partition`): its registration is
   * live, it is not stopping, and it does not hold the partition under a term from before it
   * registered (decision 0030).
   */
  mayLead(partition?: Partition): boolean {
    if (this.stopped || !(this.session?.alive ?? false)) return false;
    if (!partition) return true;
    const before = this.termsBeforeRegistration.get(partition);
    if (before === undefined) return true;
    // A controller that never saw this broker leave (it failed over meanwhile) keeps the term:
    // past registration's own bound, the term is trusted.
    if (Date.now() - this.registeredAtMs > registrationWaitMs(this.config)) {
      this.termsBeforeRegistration.clear();
      return true;
    }
    if (partition.leaderEpoch === before) return false;
    this.termsBeforeRegistration.delete(partition);
    return true;
  }

  /** Notes the leader terms held now as from before this registration (cluster mode). */
  private noteTermsBeforeRegistration(): void {
    if (!clustered(this.config)) return;
    this.registeredAtMs = Date.now();
    this.termsBeforeRegistration = new Map(
      this.topics
        .allPartitions()
        .filter((p) => p.role === "leader")
        .map((p) => [p, p.leaderEpoch]),
    );
  }

  /**
   * The epoch of this broker's latest registration (-1 before the first): what its replica
   * fetches name (KIP-903), kept while a lost registration is being renewed, since a leader
   * refuses an older epoch than it knew.
   */
  brokerEpoch(): number {
    return this.session?.epoch ?? -1;
  }

  /** The ISR updater of a cluster broker (null for a single broker, which has no followers). */
  get isrUpdater(): IsrUpdater | null {
    return this.replication?.isr ?? null;
  }

  /**
   * Broker `replicaId` fetched as a follower on `ctx`'s connection: once that connection closes,
   * the follower's listener is probed, and a refusal fences it (decision 0033).
   */
  followerConnection(replicaId: number, ctx: RequestContext): void {
    const fencer = this.replication?.fencer;
    if (fencer) ctx.whenClosed?.(`follower-${replicaId}`, () => fencer.probe(replicaId));
  }

  /** The replica fetchers of a cluster broker (null for a single broker). */
  get fetchers(): ReplicaFetcherManager | null {
    return this.replication?.fetchers ?? null;
  }

  /**
   * Controlled shutdown (as Kafka's): marks the registration shutting
   * down and asks the controller to move this broker's leaderships to in-sync followers, until it
   * leads nothing that another replica could take or the retries run out.
   */
  private async controlledShutdown(): Promise<void> {
    const session = this.session;
    if (!session || !clustered(this.config) || !this.config.controlledShutdownEnable) return;
    await session.markShuttingDown().catch((err) => this.log.warn({ err }, "marking shutting down failed"));
    for (let attempt = 0; attempt <= this.config.controlledShutdownMaxRetries; attempt++) {
      try {
        const remaining = await this.channel.controlledShutdown(this.config.nodeId, session.epoch);
        if (remaining.length === 0) {
          this.log.info("controlled shutdown: every leadership moved");
          return;
        }
        this.log.info({ remaining: remaining.length }, "controlled shutdown: leaderships remain");
      } catch (err) {
        this.log.info({ err, attempt }, "controlled shutdown attempt failed");
      }
      await sleep(this.config.controlledShutdownRetryBackoffMs);
    }
    this.log.warn("controlled shutdown did not move every leadership; stopping anyway");
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

  /**
   * Graceful shutdown; safe to call twice. `controlledShutdown: false` skips handing leaderships
   * over first (tests use it to make the cluster see a broker vanish, as after a crash).
   */
  async stop(options: { controlledShutdown?: boolean } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    // A registration in flight finishes (and is closed below) before the store closes.
    if (this.reRegistering) await this.reRegistering.catch(() => undefined);
    // A single broker has nothing to hand over: its doors close in this same turn.
    if (clustered(this.config) && options.controlledShutdown !== false) await this.controlledShutdown();
    // Members waiting for a rebalance are answered now (NOT_COORDINATOR), not after it.
    this.groups.stop();
    this.offsets.stop();
    for (const file of this.tlsWatched) unwatchFile(file);
    await Promise.all([...this.kafkaServers.map((k) => k.close()), this.http?.close()]);
    // Calls to a remote controller still waiting end now (an ISR proposal retried, say).
    if (this.channel instanceof ClusterControllerChannel) await this.channel.close();
    await this.replication?.stop();
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

/** Wait between registration attempts (a previous run's registration still held, etcd away). */
const REGISTRATION_RETRY_MS = 250;

/** Whether `config` joins a cluster through etcd (else: a single broker on its embedded store). */
function clustered(config: BrokerConfig): boolean {
  return config.cluster !== "";
}

/**
 * How long start waits to register: a crashed run's registration holds the node id until its
 * lease expires (broker.session.timeout.ms plus etcd's margin), so a cluster broker waits that
 * long and more; a single broker's embedded store never holds one.
 */
function registrationWaitMs(config: BrokerConfig): number {
  return clustered(config) ? 2 * config.brokerSessionTimeoutMs + 2 * LEASE_TTL_MARGIN_MS + 5000 : 0;
}

/** Refusals a later registration attempt may not meet: the id held by a previous run, etcd away. */
function retriableRegistration(err: unknown): boolean {
  return (
    !KafkaError.is(err) || err.code === "DUPLICATE_BROKER_REGISTRATION" || err.code === "REQUEST_TIMED_OUT"
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The cluster's key prefix in etcd (one cluster per etcd for now). */
export const ETCD_PREFIX = "/samsa/";

/**
 * The cluster store `config` names: the data directory's embedded store (the caller holds its
 * lock), or the etcd cluster's, checked against `cluster.id` when one is given.
 */
export async function openStore(config: BrokerConfig, sfs: StorageFs, log: Logger): Promise<ClusterStore> {
  if (!clustered(config))
    return EmbeddedClusterStore.open(config.dataDir, { clusterId: config.clusterId, sfs, log });
  let store: EtcdClusterStore;
  try {
    store = await EtcdClusterStore.open({ ...etcdStoreOptions(config, ETCD_PREFIX), logger: log });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    // Nothing of the data directory was read or written: a later start finds it as it was.
    throw new KafkaError("REQUEST_TIMED_OUT", `cannot reach the cluster's etcd at ${config.cluster}: ${why}`);
  }
  if (config.clusterId !== null && config.clusterId !== store.clusterId()) {
    await store.close();
    throw new KafkaError(
      "INCONSISTENT_CLUSTER_ID",
      `cluster.id=${config.clusterId} but the cluster at ${config.cluster} is ${store.clusterId()}`,
    );
  }
  return store;
}

/** A cluster broker's replication: fetchers for the partitions it follows, ISR changes for those it leads. */
interface Replication {
  fetchers: ReplicaFetcherManager;
  /** Fences peers found dead (decision 0033); absent with broker.peer.fencing.enable=false. */
  fencer: PeerFencer | undefined;
  hook: ReplicaFetcherHook;
  isr: IsrUpdater;
  stop(): Promise<void>;
}

function startReplication(
  config: BrokerConfig,
  store: ClusterStore,
  topics: TopicManager,
  channel: ControllerChannel,
  log: Logger,
  self: {
    epochNow: () => number;
    registered: () => boolean;
    fencer: PeerFencer | undefined;
    metrics: BrokerMetrics | null;
  },
): Replication {
  const { registered, fencer, metrics } = self;
  const connectFailed = fencer?.connectFailed;
  const brokerEpoch = () => self.epochNow();
  const copied = metrics
    ? (topic: string, records: Buffer) => metrics.topics.copied(topic, records)
    : undefined;
  const fetchers = new ReplicaFetcherManager(
    replicaFetcherSettings(config, { brokerEpoch, logger: log, connectFailed, copied }),
  );
  const hook = new ReplicaFetcherHook(fetchers, store, log);
  topics.replicas.followers = hook;
  const isr = new IsrUpdater(() => topics.allPartitions(), channel, {
    nodeId: config.nodeId,
    lagTimeMaxMs: config.replicaLagTimeMaxMs,
    retryMs: config.replicaFetchBackoffMs,
    brokerEpoch,
    registered,
    isrEligible: (id, epoch) => {
      const r = store.broker(id);
      return r !== undefined && !r.shuttingDown && (epoch === -1 || r.epoch === epoch);
    },
    logger: log,
  });
  return {
    fetchers,
    fencer,
    hook,
    isr,
    async stop() {
      await isr.stop();
      hook.close();
      await fetchers.stop();
    },
  };
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
