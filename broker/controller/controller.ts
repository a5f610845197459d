/**
 * The cluster's controller: one per cluster, elected through the store (`campaign`). While it
 * holds a ControllerSession it watches the store and reacts to brokers coming, going and shutting
 * down, and it serves the operations brokers forward to it (topics, partitions, configs, ISR
 * changes, elections, reassignments, controlled shutdown).
 *
 * Guarantees:
 * - One thing at a time: every reaction and operation runs in one queue (bounded by
 *   `queueMax`), so each decision reads the state the previous one wrote.
 * - Partition states are written only by `updatePartition`'s compare-and-set on the partition
 *   epoch: a lost compare-and-set re-reads and decides again, at most `casAttempts` times.
 * - A deposed controller writes nothing: once its session is lost (or it resigned) no queued or
 *   running task starts another write, and the store refuses any write under the old session
 *   (NOT_CONTROLLER). It then campaigns again.
 * - Reactions are idempotent passes over every partition (`reconcilePartition`), so an event
 *   missed or seen twice, or a store resync, changes nothing but the time of the next pass.
 */
import type { Logger } from "pino";
import { KafkaError } from "../../protocol/errors.js";
import type { BrokerConfig } from "../config.js";
import type {
  BrokerRegistration,
  ClusterStore,
  ControllerSession,
  MetadataEvent,
  PartitionState,
  TopicState,
} from "../metadata/cluster.js";
import {
  electPreferred,
  electUnclean,
  type Liveness,
  type PartitionRef,
  preferredElectionsDue,
} from "./election.js";
import { type AlterPartitionRequest, applyIsrChange } from "./isr.js";
import { newPartitionStates, newTopicId } from "./new-partitions.js";
import { squash } from "./partition-change.js";
import { assignReplicas, brokerLoad, validateAssignment } from "./placement.js";
import {
  cancelReassignment,
  completeReassignment,
  reassigning,
  startReassignment,
  targetReplicas,
} from "./reassignment.js";
import { reconcilePartition } from "./reconcile.js";

export interface ControllerOptions {
  /** unclean.leader.election.enable for topics that do not set it (Kafka's default: false). */
  uncleanLeaderElection?: boolean;
  /** auto.leader.rebalance.enable (default true). */
  autoLeaderRebalance?: boolean;
  /** leader.imbalance.check.interval.seconds, in ms (default 300 000). */
  rebalanceIntervalMs?: number;
  /** leader.imbalance.per.broker.percentage (default 10). */
  imbalancePercentage?: number;
  /** Compare-and-set attempts per partition write before REQUEST_TIMED_OUT (default 5). */
  casAttempts?: number;
  /** Pause before campaigning again after `campaign` failed (default 1000 ms). */
  campaignRetryMs?: number;
  /** Pause before another pass when a pass failed on the store (default 1000 ms). */
  retryMs?: number;
  /** Operations waiting in the queue before more are refused (default 10 000). */
  queueMax?: number;
  /** Where placement starts its rotation for a new topic (default: a random broker). */
  placementStart?: () => number;
  logger?: Logger;
}

/** The controller options a broker's configuration sets. */
export function controllerOptions(config: BrokerConfig): ControllerOptions {
  return {
    uncleanLeaderElection: config.topicDefaults["unclean.leader.election.enable"]?.toLowerCase() === "true",
    autoLeaderRebalance: config.autoLeaderRebalanceEnable,
    rebalanceIntervalMs: config.leaderImbalanceCheckIntervalSeconds * 1000,
    imbalancePercentage: config.leaderImbalancePerBrokerPercentage,
  };
}

export interface CreateTopicRequest {
  name: string;
  /** Ignored when `assignments` are given. */
  partitions: number;
  /** Ignored when `assignments` are given. */
  replicationFactor: number;
  /** Replica lists by partition, preferred leader first (CreateTopics' manual assignment). */
  assignments?: readonly (readonly number[])[] | null;
  configs?: Record<string, string>;
  /** Decide and check everything, write nothing. */
  validateOnly?: boolean;
}

/** One partition's answer: `error` null on success, `state` what the partition holds then. */
export interface PartitionResult extends PartitionRef {
  error: KafkaError | null;
  state: PartitionState | null;
}

export interface IsrChangeRequest extends AlterPartitionRequest, PartitionRef {}

export interface ReassignmentRequest extends PartitionRef {
  /** The target replicas; null cancels the reassignment in progress. */
  replicas: readonly number[] | null;
}

export interface OngoingReassignment extends PartitionRef {
  replicas: number[];
  addingReplicas: number[];
  removingReplicas: number[];
}

type Decision = (current: PartitionState) => PartitionState | KafkaError;

const DEFAULTS = {
  uncleanLeaderElection: false,
  autoLeaderRebalance: true,
  rebalanceIntervalMs: 300_000,
  imbalancePercentage: 10,
  casAttempts: 5,
  campaignRetryMs: 1000,
  retryMs: 1000,
  queueMax: 10_000,
};

export class Controller {
  private readonly options: typeof DEFAULTS & ControllerOptions;
  private session: ControllerSession | null = null;
  private running = false;
  private unwatch: (() => void) | null = null;
  private queue: Promise<void> = Promise.resolve();
  private queued = 0;
  private passQueued = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private rebalanceTimer: NodeJS.Timeout | null = null;
  /**
   * The registrations the last complete pass began with (at election, those live then). A broker
   * registered since by another process, or by one of unknown incarnation, is a restart that no
   * pass has handled; the same process registered again after a lapse is not.
   */
  private settled = new Map<number, BrokerRegistration>();
  /** Callers of `elected()` waiting for a term. */
  private electionWaiters: (() => void)[] = [];

  constructor(
    private readonly store: ClusterStore,
    readonly nodeId: number,
    options: ControllerOptions = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
  }

  /** Whether this node is the controller now (it holds a session it has not lost). */
  get active(): boolean {
    return this.session !== null;
  }

  /** The epoch of the term held, or null. */
  get epoch(): number | null {
    return this.session?.epoch ?? null;
  }

  /** Resolves once this node holds a term (at once if it holds one now). */
  elected(): Promise<void> {
    if (this.session) return Promise.resolve();
    return new Promise((resolve) => this.electionWaiters.push(resolve));
  }

  /** Starts campaigning; resolves at once (`active` turns true once elected). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.unwatch = this.store.watch((event) => this.onEvent(event));
    void this.campaign();
  }

  /** Stops acting and resigns a term it holds; resolves once queued work has ended. */
  async stop(): Promise<void> {
    this.running = false;
    this.unwatch?.();
    this.unwatch = null;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const session = this.session;
    this.depose();
    await this.queue;
    if (session) await session.resign().catch((err) => this.warn("resign failed", err));
  }

  // ---- the term ----

  private async campaign(): Promise<void> {
    let session: ControllerSession;
    try {
      session = await this.store.campaign(this.nodeId);
    } catch (err) {
      if (!this.running) return;
      this.warn("campaign failed", err);
      this.later(this.options.campaignRetryMs, () => void this.campaign());
      return;
    }
    if (!this.running) {
      await session.resign().catch((err) => this.warn("resign failed", err));
      return;
    }
    this.session = session;
    this.settled = this.registrations();
    session.onLost(() => this.onLost(session));
    this.options.logger?.info({ nodeId: this.nodeId, epoch: session.epoch }, "controller elected");
    this.rebalanceTimer = setInterval(() => this.rebalance(), timerMs(this.options.rebalanceIntervalMs));
    this.rebalanceTimer.unref();
    this.schedulePass();
    for (const resolve of this.electionWaiters.splice(0)) resolve();
  }

  private onLost(session: ControllerSession): void {
    if (this.session !== session) return;
    this.options.logger?.warn({ nodeId: this.nodeId, epoch: session.epoch }, "controller session lost");
    this.depose();
    if (this.running) void this.campaign();
  }

  private depose(): void {
    this.session = null;
    if (this.rebalanceTimer) clearInterval(this.rebalanceTimer);
    this.rebalanceTimer = null;
  }

  // ---- reactions ----

  private onEvent(event: MetadataEvent): void {
    if (event.type === "broker" || event.type === "resync") this.schedulePass();
  }

  /** Queues one pass over every partition, unless one is queued and not yet begun. */
  private schedulePass(): void {
    if (!this.session || this.passQueued) return;
    this.passQueued = true;
    this.enqueue(async (session) => {
      this.passQueued = false;
      await this.pass(session);
    }).catch((err) => {
      this.passQueued = false;
      this.retryLater("pass failed", err);
    });
  }

  /** Brings every partition to what `reconcilePartition` says, given who is alive now. */
  private async pass(session: ControllerSession): Promise<void> {
    const began = this.registrations();
    let failed: unknown = null;
    for (const topic of this.store.topics()) {
      const unclean = this.unclean(topic);
      for (const p of topic.partitions) {
        const result = await this.write(session, topic.name, p.partition, (current) =>
          this.reconcile(current, unclean),
        );
        if (result instanceof KafkaError && result.code !== "UNKNOWN_TOPIC_OR_PARTITION") failed = result;
      }
    }
    if (failed) throw failed;
    this.settled = began;
  }

  /**
   * `reconcilePartition` given who is alive now; restarted brokers (`restarted`: a restart whose
   * loss this controller never saw apart) are first treated as fenced, as their loss would have
   * had them: out of every ISR but a last one, their leaderships moved.
   */
  private reconcile(current: PartitionState, unclean: boolean): PartitionState {
    const brokers = this.liveness();
    const restarted = this.restarted();
    if (restarted.size === 0) return reconcilePartition(current, brokers, unclean);
    const live = new Set([...brokers.live].filter((id) => !restarted.has(id)));
    const fenced = reconcilePartition(current, { live, shuttingDown: brokers.shuttingDown }, false);
    return squash(current, reconcilePartition(fenced, brokers, unclean));
  }

  /**
   * Live brokers registered by another process than in `settled` (or where either incarnation is
   * unknown), read at each decision: a restart seen during a pass fences at once, and a broker
   * whose registration lapsed and came back as the same process, its log intact, rejoins as it
   * was (what its absence called for was done by a pass that saw it gone, if one did; Kafka's
   * BrokerRegistration IncarnationId, decision 0026).
   */
  private restarted(): Set<number> {
    const out = new Set<number>();
    for (const now of this.store.brokers()) {
      const before = this.settled.get(now.nodeId);
      if (before && !sameProcess(before, now)) out.add(now.nodeId);
    }
    return out;
  }

  private rebalance(): void {
    if (!this.options.autoLeaderRebalance || !this.session) return;
    this.enqueue(async (session) => {
      const due = preferredElectionsDue(
        this.store.topics(),
        this.liveness(),
        this.options.imbalancePercentage,
      );
      for (const { topic, partition } of due)
        await this.write(session, topic, partition, (current) => electPreferred(current, this.liveness()));
    }).catch((err) => this.warn("leader rebalance failed", err));
  }

  private retryLater(what: string, err: unknown): void {
    if (KafkaError.is(err, "NOT_CONTROLLER")) return;
    this.warn(what, err);
    this.later(this.options.retryMs, () => this.schedulePass());
  }

  // ---- operations ----

  /** CreateTopics for one topic: places (or checks) the replicas and writes the topic. */
  createTopic(request: CreateTopicRequest): Promise<TopicState> {
    return this.enqueue(async (session) => {
      if (this.store.topic(request.name))
        throw new KafkaError("TOPIC_ALREADY_EXISTS", `topic ${request.name} already exists`);
      const brokers = this.liveness();
      const assignment = this.assignment(request, brokers);
      const topic: TopicState = {
        name: request.name,
        id: newTopicId((id) => this.store.topicById(id) !== undefined),
        partitions: newPartitionStates(assignment, 0, brokers),
        configs: Object.assign(Object.create(null), request.configs ?? {}),
      };
      if (request.validateOnly) return topic;
      await this.store.createTopic(session, topic);
      this.options.logger?.info(
        { topic: topic.name, partitions: assignment.length },
        "controller: topic written to the store",
      );
      return this.store.topic(topic.name) ?? topic;
    });
  }

  private assignment(request: CreateTopicRequest, brokers: Liveness): readonly (readonly number[])[] {
    if (request.assignments) {
      validateAssignment(request.assignments, brokers.live);
      return request.assignments;
    }
    return assignReplicas(
      this.placementBrokers(brokers),
      request.partitions,
      request.replicationFactor,
      this.load(),
      this.placementOffset(),
    );
  }

  /** DeleteTopics for one topic. */
  deleteTopic(name: string): Promise<void> {
    return this.enqueue((session) => this.store.deleteTopic(session, name));
  }

  /** CreatePartitions: grows `name` to `totalCount` partitions, with the topic's replication factor. */
  createPartitions(
    name: string,
    totalCount: number,
    assignments?: readonly (readonly number[])[] | null,
    validateOnly = false,
  ): Promise<TopicState> {
    return this.enqueue(async (session) => {
      const topic = this.store.topic(name);
      if (!topic) throw new KafkaError("UNKNOWN_TOPIC_OR_PARTITION", `topic ${name} does not exist`);
      const current = topic.partitions.length;
      if (!Number.isInteger(totalCount) || totalCount <= current)
        throw new KafkaError(
          "INVALID_PARTITIONS",
          `topic ${name} has ${current} partitions, asked ${totalCount}`,
        );
      const rf = targetReplicas(topic.partitions[0]).length;
      const brokers = this.liveness();
      let assignment: readonly (readonly number[])[];
      if (assignments) {
        if (assignments.length !== totalCount - current)
          throw new KafkaError(
            "INVALID_REPLICA_ASSIGNMENT",
            `${assignments.length} assignments for ${totalCount - current} new partitions`,
          );
        validateAssignment(assignments, brokers.live, rf);
        assignment = assignments;
      } else {
        assignment = assignReplicas(
          this.placementBrokers(brokers),
          totalCount - current,
          rf,
          this.load(),
          this.placementOffset(),
        );
      }
      const added = newPartitionStates(assignment, current, brokers);
      if (validateOnly) return { ...topic, partitions: [...topic.partitions, ...added] };
      await this.store.addPartitions(session, name, added);
      return this.store.topic(name) ?? topic;
    });
  }

  /** AlterConfigs of a topic: replaces its explicit configs. */
  alterConfigs(name: string, configs: Record<string, string>): Promise<void> {
    return this.enqueue(async (session) => {
      await this.store.setTopicConfigs(session, name, configs);
      // unclean.leader.election.enable may have turned on: leaderless partitions may now elect.
      this.schedulePass();
    });
  }

  /** AlterPartition: ISR changes asked by leaders, each a compare-and-set on its partition. */
  alterPartition(requests: readonly IsrChangeRequest[]): Promise<PartitionResult[]> {
    return this.enqueue(async (session) => {
      const results: PartitionResult[] = [];
      for (const r of requests) {
        const outcome = await this.write(session, r.topic, r.partition, (current) => {
          const next = applyIsrChange(current, r, this.registrations());
          return next instanceof KafkaError
            ? next
            : squash(current, completeReassignment(next, this.liveness()));
        });
        results.push(this.result(r, outcome));
      }
      return results;
    });
  }

  /**
   * ElectLeaders. `partitions` null: every partition, leaving out those that need no election
   * (as Kafka does).
   */
  electLeaders(
    type: "PREFERRED" | "UNCLEAN",
    partitions: readonly PartitionRef[] | null,
  ): Promise<PartitionResult[]> {
    const elect = type === "PREFERRED" ? electPreferred : electUnclean;
    return this.enqueue(async (session) => {
      const refs = partitions ?? this.allPartitions();
      const results: PartitionResult[] = [];
      for (const ref of refs) {
        const outcome = await this.write(session, ref.topic, ref.partition, (c) => elect(c, this.liveness()));
        const result = this.result(ref, outcome);
        if (partitions !== null || !KafkaError.is(result.error, "ELECTION_NOT_NEEDED")) results.push(result);
      }
      return results;
    });
  }

  /** AlterPartitionReassignments: starts, replaces or (replicas null) cancels reassignments. */
  alterReassignments(requests: readonly ReassignmentRequest[]): Promise<PartitionResult[]> {
    return this.enqueue(async (session) => {
      const results: PartitionResult[] = [];
      for (const r of requests) {
        const outcome = await this.write(session, r.topic, r.partition, (current) =>
          catching(() =>
            r.replicas === null
              ? cancelReassignment(current, this.liveness())
              : startReassignment(current, r.replicas, this.liveness()),
          ),
        );
        results.push(this.result(r, outcome));
      }
      return results;
    });
  }

  /** ListPartitionReassignments: those in progress among `partitions` (null: all). */
  listReassignments(partitions: readonly PartitionRef[] | null = null): OngoingReassignment[] {
    const out: OngoingReassignment[] = [];
    for (const ref of partitions ?? this.allPartitions()) {
      const state = this.store.topic(ref.topic)?.partitions[ref.partition];
      if (!state || !reassigning(state)) continue;
      out.push({
        ...ref,
        replicas: [...state.replicas],
        addingReplicas: [...state.addingReplicas],
        removingReplicas: [...state.removingReplicas],
      });
    }
    return out;
  }

  /**
   * ControlledShutdown: moves the leaderships of `nodeId` to eligible ISR members and takes it out
   * of every ISR (the last member stays). Returns the partitions it still leads: those no other
   * replica can take over yet. STALE_BROKER_EPOCH unless `brokerEpoch` is its live registration's.
   */
  controlledShutdown(nodeId: number, brokerEpoch: number): Promise<PartitionRef[]> {
    return this.enqueue(async (session) => {
      const registration = this.store.broker(nodeId);
      if (registration?.epoch !== brokerEpoch)
        throw new KafkaError("STALE_BROKER_EPOCH", `broker ${nodeId} epoch ${brokerEpoch} is not registered`);
      const stopping = (): Liveness => {
        const brokers = this.liveness();
        return { live: brokers.live, shuttingDown: new Set([...brokers.shuttingDown, nodeId]) };
      };
      for (const topic of this.store.topics()) {
        const unclean = this.unclean(topic);
        for (const p of topic.partitions) {
          if (!p.replicas.includes(nodeId)) continue;
          await this.write(session, topic.name, p.partition, (c) =>
            reconcilePartition(c, stopping(), unclean),
          );
        }
      }
      return this.allPartitions().filter(
        (ref) => this.store.topic(ref.topic)?.partitions[ref.partition].leader === nodeId,
      );
    });
  }

  // ---- the machinery ----

  /**
   * Runs `task` after everything queued before it, under the session held now. NOT_CONTROLLER
   * when no session is held or it is lost before the task begins; REQUEST_TIMED_OUT when the
   * queue is full.
   */
  private enqueue<T>(task: (session: ControllerSession) => Promise<T>): Promise<T> {
    const session = this.session;
    if (!session) return Promise.reject(notController(this.nodeId));
    if (this.queued >= this.options.queueMax)
      return Promise.reject(new KafkaError("REQUEST_TIMED_OUT", "the controller's queue is full"));
    this.queued++;
    const run = this.queue.then(() => {
      if (this.session !== session) throw notController(this.nodeId);
      return task(session);
    });
    this.queue = run.then(
      () => {
        this.queued--;
      },
      () => {
        this.queued--;
      },
    );
    return run;
  }

  /**
   * Writes `decide(current)` by compare-and-set, re-reading and deciding again after a lost one.
   * Returns the state written, the current one when the decision changes nothing, or the
   * decision's error. Throws NOT_CONTROLLER once the session is lost, and store errors.
   */
  private async write(
    session: ControllerSession,
    topic: string,
    partition: number,
    decide: Decision,
  ): Promise<PartitionState | KafkaError> {
    for (let attempt = 0; attempt < this.options.casAttempts; attempt++) {
      if (this.session !== session) throw notController(this.nodeId);
      const current = this.store.topic(topic)?.partitions[partition];
      if (!current)
        return new KafkaError("UNKNOWN_TOPIC_OR_PARTITION", `${topic}-${partition} does not exist`);
      const next = decide(current);
      if (next instanceof KafkaError || next === current) return next;
      if (await this.store.updatePartition(session, topic, current.partitionEpoch, next)) {
        this.options.logger?.debug({ topic, partition, state: next }, "partition changed");
        return next;
      }
    }
    return new KafkaError(
      "REQUEST_TIMED_OUT",
      `${topic}-${partition} changed under ${this.options.casAttempts} writes`,
    );
  }

  private result(ref: PartitionRef, outcome: PartitionState | KafkaError): PartitionResult {
    const base = { topic: ref.topic, partition: ref.partition };
    if (outcome instanceof KafkaError) return { ...base, error: outcome, state: null };
    return { ...base, error: null, state: outcome };
  }

  private liveness(): Liveness {
    const brokers = this.store.brokers();
    return {
      live: new Set(brokers.map((b) => b.nodeId)),
      shuttingDown: new Set(brokers.filter((b) => b.shuttingDown).map((b) => b.nodeId)),
    };
  }

  private registrations(): Map<number, BrokerRegistration> {
    return new Map(this.store.brokers().map((b) => [b.nodeId, b]));
  }

  private placementBrokers(brokers: Liveness): { nodeId: number; rack: string | null }[] {
    return this.store.brokers().filter((b) => !brokers.shuttingDown.has(b.nodeId));
  }

  private load() {
    return brokerLoad(this.store.topics().flatMap((t) => t.partitions));
  }

  private placementOffset(): number {
    return this.options.placementStart?.() ?? Math.floor(Math.random() * 1_000_000);
  }

  private unclean(topic: TopicState): boolean {
    const value = topic.configs["unclean.leader.election.enable"];
    return value === undefined ? this.options.uncleanLeaderElection : value.toLowerCase() === "true";
  }

  private allPartitions(): PartitionRef[] {
    return this.store
      .topics()
      .flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partition })));
  }

  private later(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.running) run();
    }, timerMs(ms));
    timer.unref();
    this.timers.add(timer);
  }

  private warn(what: string, err: unknown): void {
    this.options.logger?.warn({ nodeId: this.nodeId, err }, `controller: ${what}`);
  }
}

/** The longest period Node's timers take (a longer one fires after 1 ms). */
const TIMER_MS_MAX = 2 ** 31 - 1;

/** `ms` within what Node's timers honour. */
function timerMs(ms: number): number {
  return Math.min(Math.max(ms, 1), TIMER_MS_MAX);
}

/** Whether registration `now` is `before` or another of the same process (both incarnations known). */
function sameProcess(before: BrokerRegistration, now: BrokerRegistration): boolean {
  if (before.epoch === now.epoch) return true;
  return before.incarnationId !== undefined && before.incarnationId === now.incarnationId;
}

function notController(nodeId: number): KafkaError {
  return new KafkaError("NOT_CONTROLLER", `node ${nodeId} is not the controller`);
}

/** `decide`'s result, or the KafkaError it threw. */
function catching(decide: () => PartitionState): PartitionState | KafkaError {
  try {
    return decide();
  } catch (err) {
    if (KafkaError.is(err)) return err;
    throw err;
  }
}
