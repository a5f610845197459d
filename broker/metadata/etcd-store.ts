/**
 * `EtcdClusterStore`: the ClusterStore of a cluster of brokers, kept in etcd under one key prefix
 * per cluster (layout in etcd-view.ts, client choice in docs/decisions/0023).
 *
 * - Reads answer from a local view fed by one watch of the prefix; they never wait on etcd.
 * - Brokers register under a lease (TTL ceil(sessionTimeoutMs / 1000) s, renewed every
 *   heartbeatIntervalMs); the holder gives it up first (etcd-lease.ts).
 * - The controller is whoever created the controller key (bound to its lease); its epoch is that
 *   key's create revision. Every controller write is a txn whose outer compare is "the controller
 *   key still has my create revision": a deposed controller's write changes nothing and fails
 *   with NOT_CONTROLLER, whatever it believes.
 * - SCRAM credentials and ACL bindings: any broker writes them, by compare-and-set of the keys it
 *   read (one txn per alteration; an ACL change touching more resources than one txn may hold,
 *   ETCD_TXN_KEYS_MAX keys or ETCD_TXN_BYTES_MAX bytes, is written in several txns, each atomic,
 *   planned again after each).
 * - A write that cannot reach etcd within requestTimeoutMs fails with REQUEST_TIMED_OUT
 *   (retriable; it may or may not have happened). A write resolves once the view shows it.
 * - The watch resumes from the next revision after a reconnect, so no change is missed; when etcd
 *   has compacted that revision away, the view is read anew and a `resync` event is emitted.
 */
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { KafkaError } from "../../protocol/errors.js";
import type { BrokerConfig } from "../config.js";
import {
  ACL_BINDINGS_MAX,
  ACL_CREATIONS_MAX,
  ACL_FILTERS_MAX,
  type AclBinding,
  type AclBindingFilter,
  type AclChanges,
  type AclCreationResult,
  type AclDeletionResult,
  type AclResourceBindings,
  aclEntryOf,
  aclResourceKey,
  checkAclRequestSize,
  planAclCreation,
  planAclDeletion,
  resourceBindings,
} from "./acl-bindings.js";
import type {
  BrokerInfo,
  BrokerRegistration,
  BrokerSession,
  ClusterStore,
  ControllerInfo,
  ControllerSession,
  MetadataEvent,
  PartitionState,
  TopicState,
} from "./cluster.js";
import { frozenConfigs, partitionProblem, topicProblem } from "./cluster-checks.js";
import { b64, type Compare, EtcdClient, type RequestOp, rangeKvs, type WatchMessage } from "./etcd-client.js";
import { EtcdLease, type LeaseTiming } from "./etcd-lease.js";
import {
  brokerKey,
  EtcdView,
  KEYS,
  parseAclKey,
  readAclValue,
  type StoredTopic,
  scramCredentialKey,
  storedTopic,
  topicKey,
} from "./etcd-view.js";
import { callListener, callListenerSoon, type ListenerFault, logListenerFaults } from "./listeners.js";
import {
  checkScramAlterationSize,
  planScramAlteration,
  type ScramAlterationResult,
  type ScramCredential,
  type ScramDeletion,
  type ScramMechanism,
  type ScramUpsertion,
  type ScramUserInfo,
  scramKey,
  storedScramCredential,
} from "./scram-credentials.js";

export interface EtcdStoreOptions extends LeaseTiming {
  /** `host:port` of each etcd member. */
  endpoints: string[];
  /** The cluster's key prefix, e.g. `/samsa/prod/`; one cluster per prefix. */
  prefix: string;
  /** Deadline of each etcd request (etcd.request.timeout.ms). */
  requestTimeoutMs: number;
  /** First wait before reconnecting a broken watch or retrying a campaign; doubles up to the max. */
  retryBackoffMs?: number;
  retryBackoffMaxMs?: number;
  /**
   * How often the store asks etcd whether its watch has fallen behind (a watch on a member that
   * went silent never ends by itself); behind on two checks in a row, the watch is restarted.
   */
  watchCheckIntervalMs?: number;
  /** Where listeners' throws (contained, never rethrown) and skipped bad values are logged. */
  logger?: Logger;
}

const DEFAULT_RETRY_BACKOFF_MS = 50;
const DEFAULT_RETRY_BACKOFF_MAX_MS = 1000;
const DEFAULT_WATCH_CHECK_INTERVAL_MS = 2000;
/** Bad values remembered as logged before the memory is cleared (a bound, not a contract). */
const BAD_VALUES_REMEMBERED_MAX = 1000;
/** Read-modify-write attempts of one controller write before it gives up (REQUEST_TIMED_OUT). */
const WRITE_ATTEMPTS_MAX = 16;
/**
 * The most keys one security txn writes: each takes a compare and an operation, and etcd allows
 * 128 of each per txn by default (--max-txn-ops).
 */
const ETCD_TXN_KEYS_MAX = 64;
/** The most bytes of keys and values one security txn writes, well within etcd's 1.5 MiB request bound. */
const ETCD_TXN_BYTES_MAX = 512 * 1024;
/** Leases of failed attempts kept to revoke later (each also expires by itself after its TTL). */
const ABANDONED_LEASES_MAX = 64;

type Listener = (event: MetadataEvent) => void;

/** `etcd://host:port[,host:port]` (the `cluster` config key) as endpoints. */
export function parseEtcdUrl(url: string): string[] {
  return url
    .replace(/^etcd:\/\//, "")
    .replace(/\/$/, "")
    .split(",")
    .filter((e) => e !== "");
}

/** The store's options from a broker's config: `cluster`, the broker session keys, `etcd.request.timeout.ms`. */
export function etcdStoreOptions(config: BrokerConfig, prefix: string): EtcdStoreOptions {
  return {
    endpoints: parseEtcdUrl(config.cluster),
    prefix,
    sessionTimeoutMs: config.brokerSessionTimeoutMs,
    heartbeatIntervalMs: config.brokerHeartbeatIntervalMs,
    requestTimeoutMs: config.etcdRequestTimeoutMs,
  };
}

export class EtcdClusterStore implements ClusterStore {
  private readonly view = new EtcdView((key, modRevision, problem) =>
    this.onBadValue(key, modRevision, problem),
  );
  /** `key@revision` of the bad values logged, so a watch replaying them logs each once. */
  private readonly badValuesLogged = new Set<string>();
  private readonly listeners = new Set<Listener>();
  private readonly revisionWaiters = new Set<{ revision: number; resolve: () => void }>();
  private readonly controllerSessions = new Set<EtcdControllerSession>();
  private watchHandle: { cancel(): void } | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private watchCheckTimer: NodeJS.Timeout | undefined;
  /** Whether the last watch check found etcd ahead of the view. */
  private watchBehind = false;
  private backoffMs: number;
  private closed = false;
  /** Campaigns waiting for a vacancy or a retry, woken by close() to fail. */
  private readonly closeListeners = new Set<() => void>();
  /** The issued end known beyond the view: this store's own reservations and fresh reads. */
  private producerIdsHandedOut = 0;
  /**
   * Leases of a register or campaign whose txn failed and whose revoke could not reach etcd
   * either (the txn may have been applied, binding the key to the lease): revoked before the next
   * register or campaign, so the retry does not wait a whole TTL for the key. At most
   * ABANDONED_LEASES_MAX; an older one is left to expire by itself.
   */
  private readonly abandoned = new Set<EtcdLease>();
  private readonly watchFault: ListenerFault;
  /** A lost lease's or controller session's listener threw. */
  readonly sessionFault: ListenerFault;
  /** The tails of this store's read-modify-write queues (see `serially`). */
  private readonly chains = {
    topics: Promise.resolve<unknown>(undefined),
    producerIds: Promise.resolve<unknown>(undefined),
    security: Promise.resolve<unknown>(undefined),
  };

  private constructor(
    readonly client: EtcdClient,
    private readonly options: EtcdStoreOptions,
  ) {
    this.backoffMs = this.retryBackoffMs;
    this.watchFault = logListenerFaults(options.logger, "watch");
    this.sessionFault = logListenerFaults(options.logger, "session-lost");
  }

  /** Connects, creates the cluster id if the prefix holds none, reads the view and starts the watch. */
  static async open(options: EtcdStoreOptions): Promise<EtcdClusterStore> {
    if (!options.prefix.endsWith("/")) throw new Error(`etcd prefix must end with "/": ${options.prefix}`);
    const client = new EtcdClient({
      endpoints: options.endpoints,
      requestTimeoutMs: options.requestTimeoutMs,
    });
    const store = new EtcdClusterStore(client, options);
    try {
      const idKey = b64(options.prefix + KEYS.clusterId);
      await client.txn(
        [{ key: idKey, target: "CREATE", result: "EQUAL", create_revision: "0" }],
        [{ request_put: { key: idKey, value: b64(randomBytes(16).toString("base64url")) } }],
      );
      await store.reload(false);
      store.scheduleWatchCheck();
    } catch (err) {
      client.close();
      throw err;
    }
    return store;
  }

  private get retryBackoffMs(): number {
    return this.options.retryBackoffMs ?? DEFAULT_RETRY_BACKOFF_MS;
  }

  private key(relative: string): string {
    return b64(this.options.prefix + relative);
  }

  // ---- reads -------------------------------------------------------------------------------

  clusterId(): string {
    return this.view.clusterId;
  }

  controller(): ControllerInfo | null {
    return this.view.controller;
  }

  brokers(): BrokerRegistration[] {
    return [...this.view.brokers.values()].sort((a, b) => a.nodeId - b.nodeId);
  }

  broker(nodeId: number): BrokerRegistration | undefined {
    return this.view.brokers.get(nodeId);
  }

  topics(): TopicState[] {
    return this.view.topicList();
  }

  topic(name: string): TopicState | undefined {
    return this.view.topic(name);
  }

  topicById(id: string): TopicState | undefined {
    return this.view.topicById(id);
  }

  scramCredential(user: string, mechanism: ScramMechanism): ScramCredential | undefined {
    return this.view.scramCredential(user, mechanism);
  }

  scramUsers(): readonly ScramUserInfo[] {
    return this.view.scramUsers();
  }

  aclBindings(): readonly AclBinding[] {
    return this.view.aclBindings();
  }

  watch(listener: Listener): () => void {
    const wrapped: Listener = (event) => listener(event);
    this.listeners.add(wrapped);
    return () => this.listeners.delete(wrapped);
  }

  producerIdsIssued(): number {
    return Math.max(this.view.producerIdsNext, this.producerIdsHandedOut);
  }

  async readProducerIdsIssued(): Promise<number> {
    this.assertOpen();
    const [kv] = (await this.client.range(this.options.prefix + KEYS.producerIds)).kvs;
    if (kv) this.producerIdsHandedOut = Math.max(this.producerIdsHandedOut, Number(kv.value));
    return this.producerIdsIssued();
  }

  // ---- the watch ---------------------------------------------------------------------------

  /** Reads every key of the cluster, replaces the view and (re)starts the watch after it. */
  private async reload(emitResync: boolean): Promise<void> {
    const { kvs, revision } = await this.client.range(this.options.prefix, { prefix: true });
    this.view.load(kvs, revision, this.options.prefix);
    this.startWatch();
    this.revisionReached();
    if (emitResync) this.emit([{ type: "resync" }]);
  }

  private startWatch(): void {
    this.watchHandle?.cancel();
    this.watchHandle = this.client.watch(
      this.options.prefix,
      this.view.revision + 1,
      (message) => this.onWatchMessage(message),
      () => this.scheduleReconnect(false),
    );
  }

  private onWatchMessage(message: WatchMessage): void {
    if (this.closed) return;
    if (message.compactRevision > 0 || message.canceled) {
      this.watchHandle?.cancel();
      this.scheduleReconnect(true);
      return;
    }
    this.backoffMs = this.retryBackoffMs;
    // One key at a time: a listener sees the view as of its event, not of a later one in the message.
    for (const change of message.events) {
      const events = this.view.apply([change], this.options.prefix);
      this.view.revision = Math.max(this.view.revision, change.kv.modRevision);
      this.emit(events);
    }
    this.revisionReached();
  }

  /** Resumes the watch after a backoff: from the next revision, or (compacted) by a full reload. */
  private scheduleReconnect(compacted: boolean): void {
    if (this.closed) return;
    clearTimeout(this.reconnectTimer);
    const delayMs = this.backoffMs;
    this.backoffMs = Math.min(
      this.backoffMs * 2,
      this.options.retryBackoffMaxMs ?? DEFAULT_RETRY_BACKOFF_MAX_MS,
    );
    this.reconnectTimer = setTimeout(() => {
      if (this.closed) return;
      if (!compacted) return this.startWatch();
      this.reload(true).catch(() => this.scheduleReconnect(true));
    }, delayMs);
  }

  private scheduleWatchCheck(): void {
    if (this.closed) return;
    const intervalMs = this.options.watchCheckIntervalMs ?? DEFAULT_WATCH_CHECK_INTERVAL_MS;
    this.watchCheckTimer = setTimeout(
      () => void this.checkWatch().finally(() => this.scheduleWatchCheck()),
      intervalMs,
    );
    this.watchCheckTimer.unref();
  }

  /**
   * Restarts the watch (from the view's revision) once etcd was ahead of it on two checks in a
   * row: a key changed after the view's revision, or a count of keys that differs (a delete, such
   * as a dead broker's lease expiring, leaves no mod revision behind).
   */
  private async checkWatch(): Promise<void> {
    let probe: { latestModRevision: number; count: number };
    try {
      probe = await this.client.probe(this.options.prefix);
    } catch {
      return; // etcd unreachable: nothing learnt about the watch
    }
    const behind = probe.latestModRevision > this.view.revision || probe.count !== this.view.keyCount;
    if (behind && this.watchBehind && !this.closed) this.startWatch();
    this.watchBehind = behind && !this.watchBehind;
  }

  /** A value under the prefix that the view skipped: logged once per key and revision. */
  private onBadValue(key: string, modRevision: number, problem: string): void {
    const id = `${key}@${modRevision}`;
    if (this.badValuesLogged.has(id)) return;
    if (this.badValuesLogged.size >= BAD_VALUES_REMEMBERED_MAX) this.badValuesLogged.clear();
    this.badValuesLogged.add(id);
    const message = "etcd store: a bad value under the prefix is skipped (the key keeps its last good value)";
    if (this.options.logger) this.options.logger.error({ key, modRevision, problem }, message);
    else console.error(message, { key, modRevision, problem });
  }

  private emit(events: MetadataEvent[]): void {
    for (const event of events) {
      if (event.type === "controller" || event.type === "resync") this.checkControllerSessions();
      for (const listener of [...this.listeners]) callListener(() => listener(event), this.watchFault);
    }
  }

  /** Resolves once the view reflects `revision`, or after requestTimeoutMs (it will, later). */
  waitForRevision(revision: number): Promise<void> {
    if (this.view.revision >= revision) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter = { revision, resolve: () => resolve() };
      const timer = setTimeout(() => {
        this.revisionWaiters.delete(waiter);
        resolve();
      }, this.options.requestTimeoutMs);
      waiter.resolve = () => {
        clearTimeout(timer);
        resolve();
      };
      this.revisionWaiters.add(waiter);
    });
  }

  private revisionReached(): void {
    for (const waiter of this.revisionWaiters) {
      if (this.view.revision < waiter.revision) continue;
      this.revisionWaiters.delete(waiter);
      waiter.resolve();
    }
  }

  // ---- brokers -----------------------------------------------------------------------------

  async register(info: BrokerInfo): Promise<BrokerSession> {
    this.assertOpen();
    await this.revokeAbandoned();
    const lease = await EtcdLease.grant(this.client, this.options, this.sessionFault);
    const key = this.key(brokerKey(info.nodeId));
    const value = {
      host: info.host,
      port: info.port,
      rack: info.rack,
      httpPort: info.httpPort,
      ...(info.endpoints ? { endpoints: info.endpoints } : {}),
      ...(info.incarnationId !== undefined ? { incarnationId: info.incarnationId } : {}),
      shuttingDown: false,
    };
    let result: Awaited<ReturnType<EtcdClient["txn"]>>;
    try {
      result = await this.client.txn(
        [{ key, target: "CREATE", result: "EQUAL", create_revision: "0" }],
        [{ request_put: { key, value: b64(JSON.stringify(value)), lease: lease.id } }],
      );
    } catch (err) {
      await this.giveUp(lease);
      throw err;
    }
    if (!result.succeeded) {
      await lease.revoke().catch(() => lease.stop());
      throw new KafkaError(
        "DUPLICATE_BROKER_REGISTRATION",
        `node ${info.nodeId} is registered by a live broker`,
      );
    }
    await this.waitForRevision(result.revision);
    return new EtcdBrokerSession(this, lease, info.nodeId, result.revision, value);
  }

  /** markShuttingDown of a session: rewrites its registration if it is still this session's. */
  async markBrokerShuttingDown(session: EtcdBrokerSession, value: object): Promise<void> {
    const key = this.key(brokerKey(session.nodeId));
    const result = await this.client.txn(
      [{ key, target: "CREATE", result: "EQUAL", create_revision: String(session.epoch) }],
      [{ request_put: { key, value: b64(JSON.stringify(value)), lease: session.lease.id } }],
    );
    if (!result.succeeded)
      throw new KafkaError(
        "STALE_BROKER_EPOCH",
        `node ${session.nodeId}'s registration ${session.epoch} is gone`,
      );
    await this.waitForRevision(result.revision);
  }

  /**
   * Revokes the lease of registration `epoch` of `nodeId` (a registration's epoch is its key's
   * create revision) and, when that node's controller key was created after the registration,
   * the seat's lease too: etcd deletes both keys as if the leases had expired. A lease id is
   * never reused, so a later registration of the node is out of reach.
   */
  async fenceBroker(nodeId: number, epoch: number): Promise<boolean> {
    this.assertOpen();
    const [registration] = (await this.client.range(this.options.prefix + brokerKey(nodeId))).kvs;
    if (registration?.createRevision !== epoch) return false;
    const [seat] = (await this.client.range(this.options.prefix + KEYS.controller)).kvs;
    let revision = await this.client.revoke(registration.lease);
    if (seat && seat.createRevision > epoch && seatHolder(seat.value) === nodeId)
      revision = Math.max(revision, await this.client.revoke(seat.lease));
    await this.waitForRevision(revision);
    return revision > 0;
  }

  // ---- the controller ----------------------------------------------------------------------

  async campaign(nodeId: number): Promise<ControllerSession> {
    let backoffMs = this.retryBackoffMs;
    for (;;) {
      this.assertOpen();
      try {
        const session = await this.tryCampaign(nodeId);
        if (session) return session;
        await this.controllerVacant();
        backoffMs = this.retryBackoffMs;
      } catch (err) {
        if (!KafkaError.is(err, "REQUEST_TIMED_OUT")) throw err;
        await this.sleepUnlessClosed(backoffMs);
        backoffMs = Math.min(backoffMs * 2, this.options.retryBackoffMaxMs ?? DEFAULT_RETRY_BACKOFF_MAX_MS);
      }
    }
  }

  private async tryCampaign(nodeId: number): Promise<EtcdControllerSession | null> {
    await this.revokeAbandoned();
    if (this.view.controller !== null) return null;
    const lease = await EtcdLease.grant(this.client, this.options, this.sessionFault);
    const key = this.key(KEYS.controller);
    let result: Awaited<ReturnType<EtcdClient["txn"]>>;
    try {
      result = await this.client.txn(
        [{ key, target: "CREATE", result: "EQUAL", create_revision: "0" }],
        [{ request_put: { key, value: b64(JSON.stringify({ nodeId })), lease: lease.id } }],
      );
    } catch (err) {
      await this.giveUp(lease);
      throw err;
    }
    if (!result.succeeded) {
      await lease.revoke().catch(() => lease.stop());
      return null;
    }
    const session = new EtcdControllerSession(this, lease, nodeId, result.revision);
    this.controllerSessions.add(session);
    await this.waitForRevision(result.revision);
    return session;
  }

  /**
   * Ends a lease whose txn failed: the txn may have been applied with its answer lost (a timeout),
   * so the lease is revoked rather than left to hold the key for a whole TTL
   * (DUPLICATE_BROKER_REGISTRATION on the retry, no controller meanwhile). If etcd cannot be
   * reached for that either, the lease is kept to be revoked before the next attempt.
   */
  private async giveUp(lease: EtcdLease): Promise<void> {
    try {
      await lease.revoke();
    } catch {
      if (this.abandoned.size >= ABANDONED_LEASES_MAX) {
        const oldest = this.abandoned.values().next().value as EtcdLease;
        this.abandoned.delete(oldest);
      }
      this.abandoned.add(lease);
    }
  }

  /**
   * Revokes the leases failed attempts left behind (see `abandoned`) and waits for the view to
   * see their keys go. Throws REQUEST_TIMED_OUT while etcd is still unreachable: the attempt that
   * asked would fail too.
   */
  private async revokeAbandoned(): Promise<void> {
    for (const lease of [...this.abandoned]) {
      // 0 when etcd no longer knows the lease (it expired): nothing to wait for.
      const revision = await lease.revoke();
      this.abandoned.delete(lease);
      if (revision > 0) await this.waitForRevision(revision);
    }
  }

  /** Resolves when the view shows no controller (or the store closes). */
  private controllerVacant(): Promise<void> {
    if (this.view.controller === null || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        stop();
        this.closeListeners.delete(done);
        resolve();
      };
      const stop = this.watch((event) => {
        if ((event.type === "controller" && event.controller === null) || event.type === "resync") done();
      });
      this.closeListeners.add(done);
    });
  }

  private sleepUnlessClosed(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.closeListeners.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.closeListeners.add(done);
    });
  }

  /**
   * A session is lost once the view, having reached the session's own creation, shows another
   * controller or none (the view's state, not the event: one watch message may carry several).
   */
  private checkControllerSessions(): void {
    for (const session of this.controllerSessions) {
      if (this.view.revision >= session.epoch && this.view.controller?.epoch !== session.epoch)
        session.fence();
    }
  }

  forgetControllerSession(session: EtcdControllerSession): void {
    this.controllerSessions.delete(session);
  }

  /**
   * Runs `ops` if `ctl` is still the controller (NOT_CONTROLLER otherwise) and `compares` hold;
   * answers whether they held.
   */
  private assertController(ctl: ControllerSession): asserts ctl is EtcdControllerSession {
    this.assertOpen();
    if (!(ctl instanceof EtcdControllerSession) || !ctl.valid)
      throw new KafkaError("NOT_CONTROLLER", `node ${ctl.nodeId}'s controller epoch ${ctl.epoch} is over`);
  }

  private async controllerTxn(
    ctl: ControllerSession,
    compares: Compare[],
    ops: RequestOp[],
  ): Promise<boolean> {
    this.assertController(ctl);
    const guard = {
      key: this.key(KEYS.controller),
      target: "CREATE",
      result: "EQUAL",
      create_revision: String(ctl.epoch),
    };
    const result = await this.client.txn(
      [guard],
      [{ request_txn: { compare: compares, success: ops, failure: [] } }],
    );
    if (!result.succeeded) {
      ctl.fence();
      throw new KafkaError("NOT_CONTROLLER", `node ${ctl.nodeId}'s controller epoch ${ctl.epoch} is over`);
    }
    const inner = (result.responses[0]?.response_txn ?? {}) as { succeeded?: boolean };
    if (inner.succeeded === true) await this.waitForRevision(result.revision);
    return inner.succeeded === true;
  }

  /** The topic as stored now (not the view), with the revision to compare against. */
  private async readTopic(name: string): Promise<{ topic: StoredTopic; modRevision: number } | null> {
    const { kvs } = await this.client.range(this.options.prefix + topicKey(name));
    if (kvs.length === 0) return null;
    let topic: StoredTopic;
    try {
      topic = JSON.parse(kvs[0].value) as StoredTopic;
    } catch {
      throw new KafkaError("UNKNOWN_SERVER_ERROR", `topic ${name}'s value in etcd is not JSON`);
    }
    return { topic, modRevision: kvs[0].modRevision };
  }

  /**
   * Read-modify-write of a topic under the controller guard: `change` answers the new topic, or
   * a value to return without writing. Retried while another write slips in between.
   */
  private changeTopic<T>(
    ctl: ControllerSession,
    name: string,
    change: (topic: StoredTopic, modRevision: number) => { write: StoredTopic; result: T } | { result: T },
  ): Promise<T> {
    return this.serially("topics", () => this.changeTopicNow(ctl, name, change));
  }

  private async changeTopicNow<T>(
    ctl: ControllerSession,
    name: string,
    change: (topic: StoredTopic, modRevision: number) => { write: StoredTopic; result: T } | { result: T },
  ): Promise<T> {
    for (let attempt = 0; attempt < WRITE_ATTEMPTS_MAX; attempt++) {
      this.assertController(ctl);
      const read = await this.readTopic(name);
      if (!read) throw new KafkaError("UNKNOWN_TOPIC_OR_PARTITION", `topic ${name} does not exist`);
      const decided = change(read.topic, read.modRevision);
      if (!("write" in decided)) return decided.result;
      const key = this.key(topicKey(name));
      const compare = { key, target: "MOD", result: "EQUAL", mod_revision: String(read.modRevision) };
      const put = { request_put: { key, value: b64(JSON.stringify(decided.write)) } };
      if (await this.controllerTxn(ctl, [compare], [put])) return decided.result;
    }
    throw new KafkaError(
      "REQUEST_TIMED_OUT",
      `topic ${name} kept changing under ${WRITE_ATTEMPTS_MAX} attempts`,
    );
  }

  async createTopic(ctl: ControllerSession, topic: TopicState): Promise<void> {
    const problem = topicProblem(topic);
    if (problem) throw new KafkaError("INVALID_REQUEST", `topic ${topic?.name}: ${problem}`);
    const key = this.key(topicKey(topic.name));
    const absent = { key, target: "CREATE", result: "EQUAL", create_revision: "0" };
    const put = { request_put: { key, value: b64(JSON.stringify(storedTopic(topic))) } };
    if (!(await this.controllerTxn(ctl, [absent], [put])))
      throw new KafkaError("TOPIC_ALREADY_EXISTS", `topic ${topic.name} already exists`);
  }

  async deleteTopic(ctl: ControllerSession, name: string): Promise<void> {
    const key = this.key(topicKey(name));
    const present = { key, target: "CREATE", result: "GREATER", create_revision: "0" };
    if (!(await this.controllerTxn(ctl, [present], [{ request_delete_range: { key } }])))
      throw new KafkaError("UNKNOWN_TOPIC_OR_PARTITION", `topic ${name} does not exist`);
  }

  async setTopicConfigs(
    ctl: ControllerSession,
    name: string,
    configs: Record<string, string>,
  ): Promise<void> {
    if (
      configs === null ||
      typeof configs !== "object" ||
      !Object.values(configs).every((v) => typeof v === "string")
    )
      throw new KafkaError("INVALID_REQUEST", `topic ${name}: configs must map names to strings`);
    const copy = frozenConfigs(configs);
    await this.changeTopic(ctl, name, (topic) => ({ write: { ...topic, configs: copy }, result: undefined }));
  }

  async addPartitions(ctl: ControllerSession, name: string, added: PartitionState[]): Promise<void> {
    if (!Array.isArray(added) || added.length === 0)
      throw new KafkaError("INVALID_PARTITIONS", `topic ${name}: no partitions to add`);
    for (const p of added) {
      const problem = partitionProblem(p);
      if (problem) throw new KafkaError("INVALID_REQUEST", `topic ${name}: ${problem}`);
    }
    await this.changeTopic(ctl, name, (topic) => {
      added.forEach((p, i) => {
        if (p.partition !== topic.partitions.length + i)
          throw new KafkaError(
            "INVALID_PARTITIONS",
            `partition ${p.partition} does not continue topic ${name}'s`,
          );
      });
      return { write: { ...topic, partitions: [...topic.partitions, ...added] }, result: undefined };
    });
  }

  async updatePartition(
    ctl: ControllerSession,
    topic: string,
    expectedPartitionEpoch: number,
    next: PartitionState,
  ): Promise<boolean> {
    const problem = partitionProblem(next);
    if (problem) throw new KafkaError("INVALID_REQUEST", `topic ${topic}: ${problem}`);
    let refusedAt = 0;
    const written = await this.changeTopic(ctl, topic, (stored, modRevision) => {
      const current = stored.partitions[next.partition];
      if (!current)
        throw new KafkaError("UNKNOWN_TOPIC_OR_PARTITION", `${topic}-${next.partition} does not exist`);
      if (current.partitionEpoch !== expectedPartitionEpoch) {
        refusedAt = modRevision;
        return { result: false };
      }
      if (next.partitionEpoch <= current.partitionEpoch || next.leaderEpoch < current.leaderEpoch)
        throw new KafkaError(
          "INVALID_REQUEST",
          `${topic}-${next.partition}: partition epoch must grow (${current.partitionEpoch} -> ${next.partitionEpoch}) and leader epoch never fall (${current.leaderEpoch} -> ${next.leaderEpoch})`,
        );
      const partitions = stored.partitions.map((p, i) => (i === next.partition ? next : p));
      return { write: { ...stored, partitions }, result: true };
    });
    // A lost compare-and-set answers once the view shows what refused it, so the caller's next
    // decision (read from the view) is not the same stale one again.
    if (!written) await this.waitForRevision(refusedAt);
    return written;
  }

  // ---- producer ids ------------------------------------------------------------------------

  async allocateProducerIds(count: number): Promise<number> {
    this.assertOpen();
    if (!Number.isSafeInteger(count) || count <= 0) throw new KafkaError("INVALID_REQUEST", `count ${count}`);
    return this.serially("producerIds", () => this.allocateProducerIdsNow(count));
  }

  private async allocateProducerIdsNow(count: number): Promise<number> {
    const key = this.key(KEYS.producerIds);
    for (let attempt = 0; attempt < WRITE_ATTEMPTS_MAX; attempt++) {
      const read = await this.client.txn([], [{ request_range: { key } }]);
      const kv = rangeKvs((read.responses[0]?.response_range ?? {}) as Record<string, unknown>)[0];
      const first = kv ? Number(kv.value) : 0;
      const compare = kv
        ? { key, target: "MOD", result: "EQUAL", mod_revision: String(kv.modRevision) }
        : { key, target: "CREATE", result: "EQUAL", create_revision: "0" };
      const result = await this.client.txn(
        [compare],
        [{ request_put: { key, value: b64(String(first + count)) } }],
      );
      if (result.succeeded) {
        this.producerIdsHandedOut = Math.max(this.producerIdsHandedOut, first + count);
        return first;
      }
    }
    throw new KafkaError("REQUEST_TIMED_OUT", `producer ids contended past ${WRITE_ATTEMPTS_MAX} attempts`);
  }

  /**
   * Runs read-modify-writes of one kind one after another in this store, so that only other
   * stores' writes (another broker's producer ids, a deposed controller) make a compare fail.
   */
  private serially<T>(chain: "topics" | "producerIds" | "security", run: () => Promise<T>): Promise<T> {
    const result = this.chains[chain].then(run);
    this.chains[chain] = result.catch(() => undefined);
    return result;
  }

  // ---- security metadata -------------------------------------------------------------------

  async alterScramCredentials(
    upsertions: readonly ScramUpsertion[],
    deletions: readonly ScramDeletion[],
  ): Promise<ScramAlterationResult[]> {
    this.assertOpen();
    checkScramAlterationSize(upsertions, deletions);
    return this.serially("security", () => this.alterScramNow(upsertions, deletions));
  }

  /** Plans against the credentials stored now and writes the touched keys if none moved meanwhile. */
  private async alterScramNow(
    upsertions: readonly ScramUpsertion[],
    deletions: readonly ScramDeletion[],
  ): Promise<ScramAlterationResult[]> {
    for (let attempt = 0; attempt < WRITE_ATTEMPTS_MAX; attempt++) {
      const stored = await this.readRevisions(KEYS.scram);
      const has = (user: string, mechanism: ScramMechanism) => stored.has(scramKey(user, mechanism));
      const plan = planScramAlteration({ has, count: stored.size }, upsertions, deletions);
      if (plan.writes.length === 0) return plan.results;
      const writes = plan.writes.map((w) => {
        const tail = scramKey(w.user, w.mechanism);
        const value = w.credential && JSON.stringify(storedScramCredential(w.credential));
        return { key: scramCredentialKey(w.user, w.mechanism), modRevision: stored.get(tail) ?? 0, value };
      });
      if (await this.casWrite(writes)) return plan.results;
    }
    throw new KafkaError(
      "REQUEST_TIMED_OUT",
      `SCRAM credentials kept changing under ${WRITE_ATTEMPTS_MAX} attempts`,
    );
  }

  async createAcls(bindings: readonly AclBinding[]): Promise<AclCreationResult[]> {
    this.assertOpen();
    checkAclRequestSize(bindings, ACL_CREATIONS_MAX, "ACL creations");
    return this.serially("security", () =>
      this.changeAcls(
        (current, count) => planAclCreation(current, count, bindings),
        (_, results) => results,
      ),
    );
  }

  async deleteAcls(filters: readonly AclBindingFilter[]): Promise<AclDeletionResult[]> {
    this.assertOpen();
    checkAclRequestSize(filters, ACL_FILTERS_MAX, "ACL filters");
    return this.serially("security", () =>
      this.changeAcls(
        (current) => planAclDeletion(current, filters),
        (done, results, written) =>
          results.map((r, i) => ({
            error: r.error,
            deleted: [
              ...(done?.[i].deleted ?? []),
              ...r.deleted.filter((b) => written.has(aclResourceKey(b))),
            ],
          })),
      ),
    );
  }

  /**
   * Plans against the bindings stored now and writes the resources it changes, at most
   * ETCD_TXN_KEYS_MAX per txn, each txn a compare-and-set of its keys; after a partial write (or
   * a lost compare) it reads and plans again. `merge` folds a plan's results into those so far,
   * given the resource keys just written (none once nothing is left to write).
   */
  private async changeAcls<R>(
    plan: (
      current: ReadonlyMap<string, AclResourceBindings>,
      count: number,
    ) => { results: R[]; changes: AclChanges },
    merge: (done: R[] | null, results: R[], written: ReadonlySet<string>) => R[],
  ): Promise<R[]> {
    let done: R[] | null = null;
    const attemptsMax = WRITE_ATTEMPTS_MAX + Math.ceil(ACL_BINDINGS_MAX / ETCD_TXN_KEYS_MAX);
    for (let attempt = 0; attempt < attemptsMax; attempt++) {
      const stored = await this.readAcls();
      const { results, changes } = plan(stored.current, stored.count);
      const writes = [...changes].map(([tail, r]) => ({
        tail,
        key: `${KEYS.acls}${tail}`,
        modRevision: stored.revisions.get(tail) ?? 0,
        value: r.entries.length === 0 ? null : JSON.stringify({ entries: r.entries.map(aclEntryOf) }),
      }));
      const chunk = txnChunk(writes);
      if (chunk.length === 0) return merge(done, results, new Set());
      if (!(await this.casWrite(chunk))) continue;
      done = merge(done, results, new Set(chunk.map((w) => w.tail)));
      if (chunk.length === writes.length) return done;
    }
    throw new KafkaError("REQUEST_TIMED_OUT", `ACL bindings kept changing under ${attemptsMax} attempts`);
  }

  /** The mod revision of every key under `relative` now, by its tail after `relative`. */
  private async readRevisions(relative: string): Promise<Map<string, number>> {
    const { kvs } = await this.client.range(this.options.prefix + relative, { prefix: true });
    const start = this.options.prefix.length + relative.length;
    return new Map(kvs.map((kv) => [kv.key.slice(start), kv.modRevision]));
  }

  /**
   * The stored bindings by resource key, their count and every key's mod revision. A key whose
   * value does not decode counts as a resource without bindings (a creation overwrites it).
   */
  private async readAcls(): Promise<{
    current: Map<string, AclResourceBindings>;
    count: number;
    revisions: Map<string, number>;
  }> {
    const { kvs } = await this.client.range(this.options.prefix + KEYS.acls, { prefix: true });
    const start = this.options.prefix.length + KEYS.acls.length;
    const current = new Map<string, AclResourceBindings>();
    const revisions = new Map<string, number>();
    let count = 0;
    for (const kv of kvs) {
      const tail = kv.key.slice(start);
      revisions.set(tail, kv.modRevision);
      let pattern: ReturnType<typeof parseAclKey>;
      try {
        pattern = parseAclKey(tail);
      } catch {
        continue;
      }
      try {
        const r = readAclValue(pattern, kv.value);
        current.set(tail, r);
        count += r.entries.length;
      } catch {
        current.set(tail, resourceBindings(pattern, []));
      }
    }
    return { current, count, revisions };
  }

  /**
   * One txn writing `writes` (value null: delete) if each key's mod revision is still the one
   * read (0: absent). Answers whether it was applied; resolves once the view shows it.
   */
  private async casWrite(
    writes: { key: string; modRevision: number; value: string | null }[],
  ): Promise<boolean> {
    this.assertOpen();
    const compares: Compare[] = [];
    const ops: RequestOp[] = [];
    for (const w of writes) {
      const key = this.key(w.key);
      compares.push(
        w.modRevision > 0
          ? { key, target: "MOD", result: "EQUAL", mod_revision: String(w.modRevision) }
          : { key, target: "CREATE", result: "EQUAL", create_revision: "0" },
      );
      ops.push(
        w.value === null ? { request_delete_range: { key } } : { request_put: { key, value: b64(w.value) } },
      );
    }
    const result = await this.client.txn(compares, ops);
    if (result.succeeded) await this.waitForRevision(result.revision);
    return result.succeeded;
  }

  // ---- life --------------------------------------------------------------------------------

  private assertOpen(): void {
    if (this.closed) throw new KafkaError("UNKNOWN_SERVER_ERROR", "the etcd store is closed");
  }

  /** Stops the watch and every timer; sessions still open are left to expire with their leases. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.watchCheckTimer);
    this.watchHandle?.cancel();
    for (const session of this.controllerSessions) session.fence();
    for (const wake of [...this.closeListeners]) wake();
    for (const waiter of this.revisionWaiters) waiter.resolve();
    this.revisionWaiters.clear();
    this.client.close();
  }
}

class EtcdBrokerSession implements BrokerSession {
  constructor(
    private readonly store: EtcdClusterStore,
    readonly lease: EtcdLease,
    readonly nodeId: number,
    readonly epoch: number,
    private readonly value: object,
  ) {}

  get alive(): boolean {
    return this.lease.alive;
  }

  onLost(listener: () => void): void {
    this.lease.onLost(listener);
  }

  async markShuttingDown(): Promise<void> {
    await this.store.markBrokerShuttingDown(this, { ...this.value, shuttingDown: true });
  }

  async close(): Promise<void> {
    await this.store.waitForRevision(await this.lease.revoke());
  }
}

class EtcdControllerSession implements ControllerSession {
  private lostListeners: (() => void)[] = [];
  private over = false;

  constructor(
    private readonly store: EtcdClusterStore,
    private readonly lease: EtcdLease,
    readonly nodeId: number,
    readonly epoch: number,
  ) {
    lease.onLost(() => this.fence());
  }

  /** Whether this node may still act as controller (its lease held, its key not replaced). */
  get valid(): boolean {
    return !this.over && this.lease.alive;
  }

  onLost(listener: () => void): void {
    if (this.over) callListenerSoon(listener, this.store.sessionFault);
    else this.lostListeners.push(listener);
  }

  /** Ends the term (lease lost, key replaced or gone, a write refused): listeners run once. */
  fence(): void {
    if (this.over) return;
    this.over = true;
    this.store.forgetControllerSession(this);
    this.lease.stop();
    for (const listener of this.lostListeners.splice(0)) callListener(listener, this.store.sessionFault);
  }

  async resign(): Promise<void> {
    this.over = true;
    this.lostListeners = [];
    this.store.forgetControllerSession(this);
    await this.store.waitForRevision(await this.lease.revoke());
  }
}

/** The node id a controller key's value names, or -1 when it names none. */
function seatHolder(value: string): number {
  try {
    const nodeId = (JSON.parse(value) as { nodeId?: unknown }).nodeId;
    return typeof nodeId === "number" ? nodeId : -1;
  } catch {
    return -1;
  }
}

/** The first writes that fit one txn: at most ETCD_TXN_KEYS_MAX, and ETCD_TXN_BYTES_MAX unless only one. */
function txnChunk<W extends { key: string; value: string | null }>(writes: W[]): W[] {
  let bytes = 0;
  let n = 0;
  for (; n < writes.length && n < ETCD_TXN_KEYS_MAX; n++) {
    bytes += Buffer.byteLength(writes[n].key) + Buffer.byteLength(writes[n].value ?? "");
    if (n > 0 && bytes > ETCD_TXN_BYTES_MAX) break;
  }
  return writes.slice(0, n);
}
