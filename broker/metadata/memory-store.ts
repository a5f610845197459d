/**
 * A ClusterStore held in this process: for tests of the controller and replica managers, and,
 * given a `save` hook, the embedded single broker's store (embedded-store.ts).
 *
 * Guarantees:
 * - Changes are serialised; each applies to a copy of the view, is made durable by `save` (when
 *   it touches durable state: topics, the epoch counters, producer ids) and only then becomes the
 *   view. A failed save leaves the view as it was.
 * - Read-your-writes: a write resolves after the view reflects it; watchers have run by then.
 * - Everything handed out (topics, partitions, registrations) is a frozen copy: a caller can
 *   neither change the store through what it read nor through what it passed in.
 * - SCRAM credentials and ACL bindings are durable state too; their maps are replaced, not
 *   changed, by a write, so the lists read from them are rebuilt only when they change.
 * - Registrations and controller terms live in this process: a session lasts until it is closed,
 *   resigned, the store closes, or `expire(nodeId)` ends it as a lost lease would.
 */
import type { Logger } from "pino";
import { KafkaError } from "../../protocol/errors.js";
import {
  ACL_CREATIONS_MAX,
  ACL_FILTERS_MAX,
  type AclBinding,
  type AclBindingFilter,
  type AclChanges,
  type AclCreationResult,
  type AclDeletionResult,
  type AclResourceBindings,
  aclBindingProblem,
  aclResourceKey,
  checkAclRequestSize,
  flattenAclBindings,
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
import { endpointsProblem, incarnationProblem } from "./cluster.js";
import {
  frozenConfigs,
  frozenPartition,
  frozenTopic,
  partitionProblem,
  topicProblem,
} from "./cluster-checks.js";
import { newClusterId } from "./file-store.js";
import { callListener, callListenerSoon, type ListenerFault, logListenerFaults } from "./listeners.js";
import {
  checkScramAlterationSize,
  copyScramCredential,
  planScramAlteration,
  type ScramAlterationResult,
  type ScramCredential,
  type ScramCredentialEntry,
  type ScramDeletion,
  type ScramMechanism,
  type ScramUpsertion,
  type ScramUserInfo,
  scramEntryProblem,
  scramKey,
  scramUsers,
} from "./scram-credentials.js";

/** The most producer ids one allocation may reserve. */
export const PRODUCER_ID_ALLOCATION_MAX = 1_000_000;

/** What outlives the process in the embedded store; the rest (sessions) is in-process only. */
export interface DurableClusterState {
  clusterId: string;
  topics: readonly TopicState[];
  /** The last controller epoch given; the next election takes a larger one. */
  controllerEpoch: number;
  /** The last broker epoch given to any node; the next registration takes a larger one. */
  brokerEpoch: number;
  /** Producer ids below this were reserved; none at or above it. */
  producerIdsIssued: number;
  scramCredentials: readonly ScramCredentialEntry[];
  aclBindings: readonly AclBinding[];
}

/** The state of a cluster nobody has written to yet. */
export function emptyClusterState(clusterId: string): DurableClusterState {
  return {
    clusterId,
    topics: [],
    controllerEpoch: 0,
    brokerEpoch: 0,
    producerIdsIssued: 0,
    scramCredentials: [],
    aclBindings: [],
  };
}

export interface MemoryStoreOptions {
  /** The state to start from (default: a new cluster id, nothing else). */
  initial?: DurableClusterState;
  /** Makes a state durable before the view shows it; a throw refuses the change. */
  save?: (state: DurableClusterState) => Promise<void>;
  /** Where a listener's throw is logged (it is contained, never rethrown); stderr by default. */
  logger?: Logger;
}

/** One immutable view; each change makes a new one. */
interface View {
  topics: Map<string, TopicState>;
  byId: Map<string, TopicState>;
  brokers: Map<number, BrokerRegistration>;
  controller: ControllerInfo | null;
  controllerEpoch: number;
  brokerEpoch: number;
  producerIdsIssued: number;
  /** By scramKey(user, mechanism); replaced by a write, never changed. */
  scram: ReadonlyMap<string, ScramCredentialEntry>;
  /** By aclResourceKey; replaced by a write, never changed. */
  acls: ReadonlyMap<string, AclResourceBindings>;
}

/** A view being changed, the events it will emit and what to do once it is the view. */
interface Draft extends View {
  events: MetadataEvent[];
  commits: (() => void)[];
  /** Whether durable state changed (then `save` runs before the swap). */
  durable: boolean;
}

/** The once-only end of a session: closed quietly, or lost (its listeners told once). */
class SessionEnd {
  ended = false;
  private lost = false;
  private listeners: (() => void)[] = [];

  constructor(private readonly fault: ListenerFault) {}

  onLost(listener: () => void): void {
    if (this.lost) callListenerSoon(listener, this.fault);
    else if (!this.ended) this.listeners.push(listener);
  }

  end(lost: boolean): void {
    if (this.ended) return;
    this.ended = true;
    this.lost = lost;
    const listeners = lost ? this.listeners : [];
    this.listeners = [];
    for (const l of listeners) callListener(l, this.fault);
  }
}

class MemoryBrokerSession implements BrokerSession {
  readonly end: SessionEnd;

  constructor(
    readonly nodeId: number,
    readonly epoch: number,
    private readonly ops: { markShuttingDown(): Promise<void>; close(): Promise<void> },
    fault: ListenerFault,
  ) {
    this.end = new SessionEnd(fault);
  }

  get alive(): boolean {
    return !this.end.ended;
  }

  onLost(listener: () => void): void {
    this.end.onLost(listener);
  }

  markShuttingDown(): Promise<void> {
    return this.ops.markShuttingDown();
  }

  close(): Promise<void> {
    return this.ops.close();
  }
}

class MemoryControllerSession implements ControllerSession {
  readonly end: SessionEnd;

  constructor(
    readonly nodeId: number,
    readonly epoch: number,
    private readonly doResign: () => Promise<void>,
    fault: ListenerFault,
  ) {
    this.end = new SessionEnd(fault);
  }

  onLost(listener: () => void): void {
    this.end.onLost(listener);
  }

  resign(): Promise<void> {
    return this.doResign();
  }
}

interface Campaign {
  nodeId: number;
  resolve: (session: ControllerSession) => void;
  reject: (err: unknown) => void;
}

function invalid(message: string): KafkaError {
  return new KafkaError("INVALID_REQUEST", message);
}

function unknownTopic(name: string): KafkaError {
  return new KafkaError("UNKNOWN_TOPIC_OR_PARTITION", `topic ${name} does not exist`);
}

function closedError(): KafkaError {
  return new KafkaError("UNKNOWN_SERVER_ERROR", "the cluster store is closed");
}

function isNodeId(n: unknown): n is number {
  return Number.isSafeInteger(n) && (n as number) >= 0;
}

function brokerInfoProblem(b: BrokerInfo): string | null {
  if (!isNodeId(b.nodeId)) return "node id is not a non-negative integer";
  if (typeof b.host !== "string" || b.host.length === 0) return "host is empty";
  if (!Number.isInteger(b.port) || b.port < 0 || b.port > 65535) return "port is out of range";
  if (b.httpPort !== null && (!Number.isInteger(b.httpPort) || b.httpPort < 0 || b.httpPort > 65535))
    return "httpPort is out of range";
  if (b.rack !== null && typeof b.rack !== "string") return "rack is not a string";
  return endpointsProblem(b.endpoints) ?? incarnationProblem(b.incarnationId);
}

export class MemoryClusterStore implements ClusterStore {
  private view!: View;
  private topicList: TopicState[] = [];
  private brokerList: BrokerRegistration[] = [];
  private scramUserList: readonly ScramUserInfo[] = [];
  private aclList: readonly AclBinding[] = [];
  private readonly id: string;
  private readonly save: MemoryStoreOptions["save"];
  private chain: Promise<void> = Promise.resolve();
  private readonly listeners = new Set<(event: MetadataEvent) => void>();
  private readonly sessions = new Map<number, MemoryBrokerSession>();
  private ctl: MemoryControllerSession | null = null;
  private readonly campaigns: Campaign[] = [];
  private electing = false;
  private closed = false;
  private readonly watchFault: ListenerFault;
  private readonly sessionFault: ListenerFault;

  constructor(options: MemoryStoreOptions = {}) {
    this.watchFault = logListenerFaults(options.logger, "watch");
    this.sessionFault = logListenerFaults(options.logger, "session-lost");
    const initial = options.initial ?? emptyClusterState(newClusterId());
    for (const t of initial.topics) {
      const problem = topicProblem(t);
      if (problem) throw invalid(`topic ${t.name}: ${problem}`);
    }
    const { scram, acls } = initialSecurity(initial);
    const topics = initial.topics.map(frozenTopic);
    this.id = initial.clusterId;
    this.save = options.save;
    this.setView({
      topics: new Map(topics.map((t) => [t.name, t])),
      byId: new Map(topics.map((t) => [t.id, t])),
      brokers: new Map(),
      controller: null,
      controllerEpoch: initial.controllerEpoch,
      brokerEpoch: initial.brokerEpoch,
      producerIdsIssued: initial.producerIdsIssued,
      scram,
      acls,
    });
  }

  // ---- reads: from the current view, never throwing ----

  clusterId(): string {
    return this.id;
  }

  controller(): ControllerInfo | null {
    return this.view.controller;
  }

  brokers(): BrokerRegistration[] {
    return this.brokerList;
  }

  broker(nodeId: number): BrokerRegistration | undefined {
    return this.view.brokers.get(nodeId);
  }

  topics(): TopicState[] {
    return this.topicList;
  }

  topic(name: string): TopicState | undefined {
    return this.view.topics.get(name);
  }

  topicById(id: string): TopicState | undefined {
    return this.view.byId.get(id);
  }

  producerIdsIssued(): number {
    return this.view.producerIdsIssued;
  }

  readProducerIdsIssued(): Promise<number> {
    // One store in one process: its view is the store.
    return Promise.resolve(this.view.producerIdsIssued);
  }

  scramCredential(user: string, mechanism: ScramMechanism): ScramCredential | undefined {
    const entry = this.view.scram.get(scramKey(user, mechanism));
    return entry && copyScramCredential(entry.credential);
  }

  scramUsers(): readonly ScramUserInfo[] {
    return this.scramUserList;
  }

  aclBindings(): readonly AclBinding[] {
    return this.aclList;
  }

  watch(listener: (event: MetadataEvent) => void): () => void {
    // A wrapper per call, so the same function watched twice is two subscriptions.
    const entry = (event: MetadataEvent) => listener(event);
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  // ---- brokers ----

  async register(info: BrokerInfo): Promise<BrokerSession> {
    const problem = brokerInfoProblem(info);
    if (problem) throw invalid(`broker registration: ${problem}`);
    return this.mutate((d) => {
      if (d.brokers.has(info.nodeId)) {
        throw new KafkaError("DUPLICATE_BROKER_REGISTRATION", `node ${info.nodeId} is registered and live`);
      }
      d.brokerEpoch += 1;
      d.durable = true;
      const registration: BrokerRegistration = Object.freeze({
        nodeId: info.nodeId,
        host: info.host,
        port: info.port,
        rack: info.rack,
        httpPort: info.httpPort,
        ...(info.endpoints
          ? { endpoints: Object.freeze(info.endpoints.map((e) => Object.freeze({ ...e }))) }
          : {}),
        ...(info.incarnationId !== undefined ? { incarnationId: info.incarnationId } : {}),
        epoch: d.brokerEpoch,
        shuttingDown: false,
      });
      d.brokers.set(info.nodeId, registration);
      d.events.push({ type: "broker", nodeId: info.nodeId, registration });
      const session: MemoryBrokerSession = new MemoryBrokerSession(
        info.nodeId,
        registration.epoch,
        {
          markShuttingDown: () => this.markShuttingDown(session),
          close: () => this.closeSession(session),
        },
        this.sessionFault,
      );
      d.commits.push(() => this.sessions.set(info.nodeId, session));
      return session;
    });
  }

  private markShuttingDown(session: MemoryBrokerSession): Promise<void> {
    return this.mutate((d) => {
      if (this.sessions.get(session.nodeId) !== session) {
        throw new KafkaError(
          "STALE_BROKER_EPOCH",
          `node ${session.nodeId}'s session ${session.epoch} has ended`,
        );
      }
      const registration = Object.freeze({
        ...(d.brokers.get(session.nodeId) as BrokerRegistration),
        shuttingDown: true,
      });
      d.brokers.set(session.nodeId, registration);
      d.events.push({ type: "broker", nodeId: session.nodeId, registration });
    });
  }

  private async closeSession(session: MemoryBrokerSession): Promise<void> {
    if (this.closed) return;
    await this.mutate((d) => {
      if (this.sessions.get(session.nodeId) !== session) return;
      d.brokers.delete(session.nodeId);
      d.events.push({ type: "broker", nodeId: session.nodeId, registration: null });
      d.commits.push(() => {
        this.sessions.delete(session.nodeId);
        session.end.end(false);
      });
    });
  }

  async fenceBroker(nodeId: number, epoch: number): Promise<boolean> {
    if (this.broker(nodeId)?.epoch !== epoch) return false;
    return this.expire(nodeId, epoch);
  }

  /**
   * Ends every session `nodeId` holds (only if its registration is `epoch`, when given), as the
   * expiry of its lease would: its registration goes, it stops being controller (a waiting
   * campaign is elected), and their onLost listeners run. Answers whether anything ended.
   */
  async expire(nodeId: number, epoch?: number): Promise<boolean> {
    let ended = false;
    await this.mutate((d) => {
      if (epoch !== undefined && d.brokers.get(nodeId)?.epoch !== epoch) return;
      ended = true;
      const session = this.sessions.get(nodeId);
      if (session) {
        d.brokers.delete(nodeId);
        d.events.push({ type: "broker", nodeId, registration: null });
        d.commits.push(() => {
          this.sessions.delete(nodeId);
          session.end.end(true);
        });
      }
      const ctl = this.ctl;
      if (ctl?.nodeId === nodeId) {
        d.controller = null;
        d.events.push({ type: "controller", controller: null });
        d.commits.push(() => {
          this.ctl = null;
          ctl.end.end(true);
        });
      }
    });
    this.electNext();
    return ended;
  }

  // ---- the controller ----

  campaign(nodeId: number): Promise<ControllerSession> {
    if (!isNodeId(nodeId)) return Promise.reject(invalid(`campaign: node id ${nodeId} is not valid`));
    if (this.closed) return Promise.reject(closedError());
    return new Promise((resolve, reject) => {
      this.campaigns.push({ nodeId, resolve, reject });
      this.electNext();
    });
  }

  /** Elects the first waiting campaign while nobody holds the controller. */
  private electNext(): void {
    if (this.closed || this.electing || this.ctl !== null) return;
    const waiter = this.campaigns.shift();
    if (!waiter) return;
    this.electing = true;
    this.mutate((d) => {
      d.controllerEpoch += 1;
      d.durable = true;
      const controller = Object.freeze({ nodeId: waiter.nodeId, epoch: d.controllerEpoch });
      d.controller = controller;
      d.events.push({ type: "controller", controller });
      const session: MemoryControllerSession = new MemoryControllerSession(
        controller.nodeId,
        controller.epoch,
        () => this.resign(session),
        this.sessionFault,
      );
      d.commits.push(() => {
        this.ctl = session;
      });
      return session;
    })
      .then(waiter.resolve, waiter.reject)
      .finally(() => {
        this.electing = false;
        this.electNext();
      });
  }

  private async resign(session: MemoryControllerSession): Promise<void> {
    if (this.closed) return;
    // Refused from now on, even before the view says so.
    session.end.end(false);
    await this.mutate((d) => {
      if (this.ctl !== session) return;
      d.controller = null;
      d.events.push({ type: "controller", controller: null });
      d.commits.push(() => {
        this.ctl = null;
      });
    });
    this.electNext();
  }

  /** Runs `change` only if `ctl` is the current controller's live session. */
  private controlled<T>(ctl: ControllerSession, change: (d: Draft) => T): Promise<T> {
    return this.mutate((d) => {
      if (!this.ctl || ctl !== this.ctl || this.ctl.end.ended) {
        throw new KafkaError(
          "NOT_CONTROLLER",
          `node ${ctl.nodeId}'s controller epoch ${ctl.epoch} is not current`,
        );
      }
      return change(d);
    });
  }

  async createTopic(ctl: ControllerSession, topic: TopicState): Promise<void> {
    const problem = topicProblem(topic);
    if (problem) throw invalid(`topic ${topic?.name}: ${problem}`);
    const t = frozenTopic(topic);
    await this.controlled(ctl, (d) => {
      if (d.topics.has(t.name))
        throw new KafkaError("TOPIC_ALREADY_EXISTS", `topic ${t.name} already exists`);
      if (d.byId.has(t.id)) throw invalid(`topic id ${t.id} is already used by another topic`);
      putTopic(d, t);
    });
  }

  async deleteTopic(ctl: ControllerSession, name: string): Promise<void> {
    await this.controlled(ctl, (d) => {
      const t = d.topics.get(name);
      if (!t) throw unknownTopic(name);
      d.topics.delete(name);
      d.byId.delete(t.id);
      d.durable = true;
      d.events.push({ type: "topic", name, topic: null });
    });
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
    ) {
      throw invalid(`topic ${name}: configs must map names to strings`);
    }
    const copy = frozenConfigs(configs);
    await this.controlled(ctl, (d) => {
      const t = d.topics.get(name);
      if (!t) throw unknownTopic(name);
      putTopic(d, Object.freeze({ ...t, configs: copy }));
    });
  }

  async addPartitions(ctl: ControllerSession, name: string, added: PartitionState[]): Promise<void> {
    if (!Array.isArray(added) || added.length === 0) {
      throw new KafkaError("INVALID_PARTITIONS", `topic ${name}: no partitions to add`);
    }
    for (const p of added) {
      const problem = partitionProblem(p);
      if (problem) throw invalid(`topic ${name}: ${problem}`);
    }
    const copies = added.map(frozenPartition);
    await this.controlled(ctl, (d) => {
      const t = d.topics.get(name);
      if (!t) throw unknownTopic(name);
      const wrong = copies.findIndex((p, i) => p.partition !== t.partitions.length + i);
      if (wrong >= 0) {
        throw new KafkaError(
          "INVALID_PARTITIONS",
          `topic ${name} has ${t.partitions.length} partitions; partition ${copies[wrong].partition} does not continue them`,
        );
      }
      putTopic(
        d,
        Object.freeze({ ...t, partitions: Object.freeze([...t.partitions, ...copies]) as PartitionState[] }),
      );
    });
  }

  async updatePartition(
    ctl: ControllerSession,
    topic: string,
    expectedPartitionEpoch: number,
    next: PartitionState,
  ): Promise<boolean> {
    const problem = partitionProblem(next);
    if (problem) throw invalid(`topic ${topic}: ${problem}`);
    const state = frozenPartition(next);
    return this.controlled(ctl, (d) => {
      const t = d.topics.get(topic);
      const current = t?.partitions[state.partition];
      if (!t || !current) {
        throw new KafkaError("UNKNOWN_TOPIC_OR_PARTITION", `${topic}-${state.partition} does not exist`);
      }
      if (current.partitionEpoch !== expectedPartitionEpoch) return false;
      if (state.partitionEpoch <= current.partitionEpoch || state.leaderEpoch < current.leaderEpoch) {
        throw invalid(
          `${topic}-${state.partition}: partition epoch must grow (${current.partitionEpoch} -> ${state.partitionEpoch}) and leader epoch never fall (${current.leaderEpoch} -> ${state.leaderEpoch})`,
        );
      }
      const partitions = [...t.partitions];
      partitions[state.partition] = state;
      putTopic(d, Object.freeze({ ...t, partitions: Object.freeze(partitions) as PartitionState[] }), false);
      d.events.push({ type: "partition", topic, partition: state.partition, state });
      return true;
    });
  }

  // ---- producer ids ----

  allocateProducerIds(count: number): Promise<number> {
    if (!Number.isSafeInteger(count) || count < 1 || count > PRODUCER_ID_ALLOCATION_MAX) {
      return Promise.reject(
        invalid(`producer id count ${count} is not within 1..${PRODUCER_ID_ALLOCATION_MAX}`),
      );
    }
    return this.mutate((d) => {
      const first = d.producerIdsIssued;
      if (first + count > Number.MAX_SAFE_INTEGER) throw invalid("producer ids are exhausted");
      d.producerIdsIssued = first + count;
      d.durable = true;
      return first;
    });
  }

  // ---- security metadata ----

  async alterScramCredentials(
    upsertions: readonly ScramUpsertion[],
    deletions: readonly ScramDeletion[],
  ): Promise<ScramAlterationResult[]> {
    checkScramAlterationSize(upsertions, deletions);
    return this.mutate((d) => {
      const state = {
        has: (u: string, m: ScramMechanism) => d.scram.has(scramKey(u, m)),
        count: d.scram.size,
      };
      const plan = planScramAlteration(state, upsertions, deletions);
      if (plan.writes.length === 0) return plan.results;
      const scram = new Map(d.scram);
      for (const { user, mechanism, credential } of plan.writes) {
        if (credential) scram.set(scramKey(user, mechanism), Object.freeze({ user, mechanism, credential }));
        else scram.delete(scramKey(user, mechanism));
        d.events.push({
          type: "scram",
          user,
          mechanism,
          credential: credential && copyScramCredential(credential),
        });
      }
      d.scram = scram;
      d.durable = true;
      return plan.results;
    });
  }

  async createAcls(bindings: readonly AclBinding[]): Promise<AclCreationResult[]> {
    checkAclRequestSize(bindings, ACL_CREATIONS_MAX, "ACL creations");
    return this.mutate((d) => {
      // A draft starts as the view: the view's list counts its bindings.
      const { results, changes } = planAclCreation(d.acls, this.aclList.length, bindings);
      applyAclChanges(d, changes);
      return results;
    });
  }

  async deleteAcls(filters: readonly AclBindingFilter[]): Promise<AclDeletionResult[]> {
    checkAclRequestSize(filters, ACL_FILTERS_MAX, "ACL filters");
    return this.mutate((d) => {
      const { results, changes } = planAclDeletion(d.acls, filters);
      applyAclChanges(d, changes);
      return results;
    });
  }

  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      for (const waiter of this.campaigns.splice(0)) waiter.reject(closedError());
      for (const session of this.sessions.values()) session.end.end(false);
      this.ctl?.end.end(false);
      this.listeners.clear();
    }
    await this.chain;
  }

  // ---- the change machinery ----

  /** Applies `change` to a copy of the view, saves it if durable state changed, then swaps. */
  private mutate<T>(change: (d: Draft) => T): Promise<T> {
    const run = this.chain.then(async () => {
      if (this.closed) throw closedError();
      const d: Draft = {
        ...this.view,
        topics: new Map(this.view.topics),
        byId: new Map(this.view.byId),
        brokers: new Map(this.view.brokers),
        events: [],
        commits: [],
        durable: false,
      };
      const result = change(d);
      if (d.durable && this.save) await this.saveDraft(d);
      const { events, commits, durable: _, ...view } = d;
      this.setView(view);
      for (const commit of commits) commit();
      for (const event of events) this.emit(event);
      return result;
    });
    this.chain = run.then(
      () => {},
      () => {},
    );
    return run;
  }

  private async saveDraft(d: Draft): Promise<void> {
    const state: DurableClusterState = {
      clusterId: this.id,
      topics: [...d.topics.values()],
      controllerEpoch: d.controllerEpoch,
      brokerEpoch: d.brokerEpoch,
      producerIdsIssued: d.producerIdsIssued,
      scramCredentials: [...d.scram.values()],
      aclBindings: d.acls === this.view.acls ? this.aclList : flattenAclBindings(d.acls),
    };
    await (this.save as NonNullable<MemoryStoreOptions["save"]>)(state);
  }

  private setView(view: View): void {
    if (view.scram !== this.view?.scram) this.scramUserList = Object.freeze(scramUsers(view.scram.values()));
    if (view.acls !== this.view?.acls) this.aclList = flattenAclBindings(view.acls);
    this.topicList = Object.freeze([...view.topics.values()]) as TopicState[];
    this.brokerList = Object.freeze(
      [...view.brokers.values()].sort((a, b) => a.nodeId - b.nodeId),
    ) as BrokerRegistration[];
    this.view = view;
  }

  private emit(event: MetadataEvent): void {
    for (const listener of [...this.listeners]) callListener(() => listener(event), this.watchFault);
  }
}

/** Puts `t` in the draft's maps; a topic event unless `announce` is false (a partition event follows). */
function putTopic(d: Draft, t: TopicState, announce = true): void {
  d.topics.set(t.name, t);
  d.byId.set(t.id, t);
  d.durable = true;
  if (announce) d.events.push({ type: "topic", name: t.name, topic: t });
}

/** Replaces the draft's ACL map with `changes` applied, one acl event per resource changed. */
function applyAclChanges(d: Draft, changes: AclChanges): void {
  if (changes.size === 0) return;
  const acls = new Map(d.acls);
  for (const [key, r] of changes) {
    if (r.entries.length === 0) acls.delete(key);
    else acls.set(key, r);
    d.events.push({
      type: "acl",
      pattern: r.pattern,
      bindings: r.entries,
    });
  }
  d.acls = acls;
  d.durable = true;
}

/** The security maps of an initial state, each entry checked (INVALID_REQUEST when one is bad). */
function initialSecurity(initial: DurableClusterState): Pick<View, "scram" | "acls"> {
  const scram = new Map<string, ScramCredentialEntry>();
  for (const e of initial.scramCredentials) {
    const problem = scramEntryProblem(e);
    if (problem) throw invalid(`SCRAM credential of ${e.user}: ${problem}`);
    scram.set(
      scramKey(e.user, e.mechanism),
      Object.freeze({ user: e.user, mechanism: e.mechanism, credential: copyScramCredential(e.credential) }),
    );
  }
  const grouped = new Map<string, AclBinding[]>();
  for (const b of initial.aclBindings) {
    const problem = aclBindingProblem(b);
    if (problem) throw invalid(`ACL binding: ${problem}`);
    const key = aclResourceKey(b);
    const list = grouped.get(key);
    if (list) list.push(b);
    else grouped.set(key, [b]);
  }
  const acls = new Map<string, AclResourceBindings>();
  for (const [key, list] of grouped) {
    acls.set(key, resourceBindings(list[0], list));
  }
  return { scram, acls };
}
