/**
 * `ClusterControllerChannel`: a cluster broker's way to the controller (issue 13). Each call asks
 * the store who the controller is: this node -> its own `Controller`; another -> the same call
 * as a Kafka request to that broker's registered listener, over `client/connection.ts` (decision
 * 0024), on one cached connection with client id `samsa-broker-<nodeId>`.
 *
 * Guarantees:
 * - Each call ends within `timeoutMs` (default 30 s): NOT_CONTROLLER (from the controller or the
 *   broker asked), no controller elected or registered yet, and connection failures are retried
 *   with backoff, the controller resolved anew each attempt (a store change ends the wait at
 *   once); past the deadline the call fails with REQUEST_TIMED_OUT (retriable). Any other error
 *   is the answer. A retried change may have been made by the attempt that failed: a retried
 *   CreateTopics can answer TOPIC_ALREADY_EXISTS, as Kafka's forwarding can.
 * - An attempt is bound to the controller term it began under: once the store names another
 *   controller (or none), the attempt is given up, whether connecting or awaiting an answer, and
 *   the call goes to the new controller at once rather than at its deadline.
 * - A forwarded change that resolves is in this broker's view of the store too: topic creation,
 *   deletion, new partitions and configs wait (within the same deadline) until the local view
 *   shows them, so the replica manager's `sync` that follows applies them. Past the deadline:
 *   REQUEST_TIMED_OUT, though the change was made.
 * - Per-partition answers are the local controller's shapes: `PartitionResult` with a KafkaError
 *   (code and message from the wire) or the state: AlterPartition's rebuilt from the answer over
 *   the stored replicas, the others read from this broker's view.
 * A forwarded request reaches the other broker's handler, which asks its own channel: if that
 * broker has just lost the controllership it forwards again, bounded by its own timeout, while
 * this caller's deadline bounds what the client waits.
 */
import type { Logger } from "pino";
import { Connection } from "../../client/connection.js";
import { ClientError } from "../../client/errors.js";
import { errorName, KafkaError } from "../../protocol/errors.js";
import type {
  Controller,
  CreateTopicRequest,
  IsrChangeRequest,
  OngoingReassignment,
  PartitionResult,
  ReassignmentRequest,
} from "../controller/controller.js";
import type { PartitionRef } from "../controller/election.js";
import { requestedIsr } from "../controller/isr.js";
import {
  type BrokerRegistration,
  type ClusterStore,
  type ControllerInfo,
  type MetadataEvent,
  NO_LEADER,
  type PartitionState,
  type TopicState,
} from "../metadata/cluster.js";
import type { ControllerChannel } from "./controller-channel.js";
import { type ConnectFailed, hostPort } from "./peer-fencer.js";
import type { PeerSecurity } from "./peer-security.js";

/** How long a call may take, retries included, before REQUEST_TIMED_OUT. */
export const CONTROLLER_CALL_TIMEOUT_MS = 30_000;
/** The first pause before a retry; doubled each retry up to the maximum. */
export const CONTROLLER_RETRY_BACKOFF_MS = 50;
export const CONTROLLER_RETRY_BACKOFF_MAX_MS = 1_000;
/** The longest wait for a TCP connection to the controller's broker. */
export const CONTROLLER_CONNECT_TIMEOUT_MS = 10_000;

/** The versions sent: those the handlers of this code base serve. */
const VERSIONS = {
  createTopics: 7,
  deleteTopics: 6,
  createPartitions: 3,
  alterConfigs: 2,
  alterPartition: 3,
  electLeaders: 2,
  alterReassignments: 0,
  listReassignments: 0,
  controlledShutdown: 3,
} as const;

const RESOURCE_TOPIC = 2;
const ZERO_UUID = "00000000000000000000000000000000";
const RETRIED_CLIENT_ERRORS = new Set(["CONNECTION_FAILED", "CONNECTION_CLOSED", "REQUEST_TIMEOUT"]);

export interface ClusterControllerChannelOptions {
  store: ClusterStore;
  /** This broker's node id. */
  nodeId: number;
  /** This broker's controller, called when the store names this node. */
  controller: Controller;
  logger?: Logger;
  /** Default CONTROLLER_CALL_TIMEOUT_MS. */
  timeoutMs?: number;
  /** Default CONTROLLER_RETRY_BACKOFF_MS. */
  retryBackoffMs?: number;
  /** Default CONTROLLER_RETRY_BACKOFF_MAX_MS. */
  retryBackoffMaxMs?: number;
  /** Told of every failed connection to the controller's broker (a `PeerFencer`, decision 0033). */
  connectFailed?: ConnectFailed;
  /** TLS and SASL of each new connection to the controller's broker (peer-security.ts); absent: plaintext. */
  security?: () => PeerSecurity;
}

/** What one call does on this node's controller or on the controller's broker. */
interface Call<T> {
  what: string;
  local: (controller: Controller) => Promise<T>;
  /** `timeoutMs`: what is left of the call's time. */
  remote: (conn: Connection, timeoutMs: number, deadline: number) => Promise<T>;
}

export class ClusterControllerChannel implements ControllerChannel {
  private readonly store: ClusterStore;
  private readonly nodeId: number;
  private readonly controller: Controller;
  private readonly logger: Logger | undefined;
  private readonly timeoutMs: number;
  private readonly backoffMs: number;
  private readonly backoffMaxMs: number;
  private readonly connectFailed: ConnectFailed | undefined;
  private readonly security: (() => PeerSecurity) | undefined;
  private readonly unwatch: () => void;
  /** Woken by a change of the controller or of a registration (retries waiting). */
  private readonly controllerWaiters = new Set<() => void>();
  /** Told of every change of the controller or a registration (attempts in flight, `whileController`). */
  private readonly controllerWatchers = new Set<() => void>();
  /** Woken by any change of the view (forwarded changes waiting to be seen). */
  private readonly viewWaiters = new Set<() => void>();
  private conn: { key: string; connecting: Promise<Connection> } | null = null;
  private closed = false;

  constructor(options: ClusterControllerChannelOptions) {
    this.store = options.store;
    this.nodeId = options.nodeId;
    this.controller = options.controller;
    this.logger = options.logger;
    this.timeoutMs = options.timeoutMs ?? CONTROLLER_CALL_TIMEOUT_MS;
    this.backoffMs = options.retryBackoffMs ?? CONTROLLER_RETRY_BACKOFF_MS;
    this.backoffMaxMs = options.retryBackoffMaxMs ?? CONTROLLER_RETRY_BACKOFF_MAX_MS;
    this.connectFailed = options.connectFailed;
    this.security = options.security;
    this.unwatch = this.store.watch((event) => this.onEvent(event));
  }

  // ---- the calls ----

  createTopic(request: CreateTopicRequest): Promise<TopicState> {
    return this.call({
      what: `creating topic ${request.name}`,
      local: (c) => c.createTopic(request),
      remote: async (conn, timeoutMs, deadline) => {
        const manual = request.assignments ?? null;
        const r = await conn.send(
          19,
          VERSIONS.createTopics,
          {
            topics: [
              {
                name: request.name,
                numPartitions: manual ? -1 : request.partitions,
                replicationFactor: manual ? -1 : request.replicationFactor,
                assignments: (manual ?? []).map((ids, partitionIndex) => ({
                  partitionIndex,
                  brokerIds: [...ids],
                })),
                configs: Object.entries(request.configs ?? {}).map(([name, value]) => ({ name, value })),
              },
            ],
            timeoutMs,
            validateOnly: request.validateOnly ?? false,
          },
          timeoutMs,
        );
        const t = only(r.topics, "CreateTopics");
        throwIfError(t.errorCode, t.errorMessage);
        if (request.validateOnly) return sketchTopic(request, t.numPartitions, t.replicationFactor);
        return this.awaitView(deadline, `topic ${request.name}`, () => {
          const topic = this.store.topic(request.name);
          return topic?.id === t.topicId ? topic : undefined;
        });
      },
    });
  }

  deleteTopic(name: string): Promise<void> {
    return this.call({
      what: `deleting topic ${name}`,
      local: (c) => c.deleteTopic(name),
      remote: async (conn, timeoutMs, deadline) => {
        const id = this.store.topic(name)?.id;
        const r = await conn.send(
          20,
          VERSIONS.deleteTopics,
          { topics: [{ name, topicId: ZERO_UUID }], timeoutMs },
          timeoutMs,
        );
        const t = only(r.responses, "DeleteTopics");
        throwIfError(t.errorCode, t.errorMessage ?? null);
        await this.awaitView(deadline, `topic ${name} deleted`, () =>
          this.store.topic(name)?.id === id && id !== undefined ? undefined : true,
        );
      },
    });
  }

  createPartitions(
    name: string,
    totalCount: number,
    validateOnly = false,
    assignments: readonly (readonly number[])[] | null = null,
  ): Promise<TopicState> {
    const wireAssignments = assignments ? assignments.map((ids) => ({ brokerIds: [...ids] })) : null;
    return this.call({
      what: `adding partitions to ${name}`,
      local: (c) => c.createPartitions(name, totalCount, assignments, validateOnly),
      remote: async (conn, timeoutMs, deadline) => {
        const r = await conn.send(
          37,
          VERSIONS.createPartitions,
          { topics: [{ name, count: totalCount, assignments: wireAssignments }], timeoutMs, validateOnly },
          timeoutMs,
        );
        const t = only(r.results, "CreatePartitions");
        throwIfError(t.errorCode, t.errorMessage);
        if (validateOnly) return this.sketchPartitions(name, totalCount);
        return this.awaitView(deadline, `${totalCount} partitions of ${name}`, () => {
          const topic = this.store.topic(name);
          return topic && topic.partitions.length >= totalCount ? topic : undefined;
        });
      },
    });
  }

  alterConfigs(name: string, configs: Record<string, string>): Promise<void> {
    return this.call({
      what: `altering the configs of ${name}`,
      local: (c) => c.alterConfigs(name, configs),
      remote: async (conn, timeoutMs, deadline) => {
        const entries = Object.entries(configs).map(([key, value]) => ({ name: key, value }));
        const r = await conn.send(
          33,
          VERSIONS.alterConfigs,
          {
            resources: [{ resourceType: RESOURCE_TOPIC, resourceName: name, configs: entries }],
            validateOnly: false,
          },
          timeoutMs,
        );
        const t = only(r.responses, "AlterConfigs");
        throwIfError(t.errorCode, t.errorMessage);
        await this.awaitView(deadline, `the configs of ${name}`, () => {
          const topic = this.store.topic(name);
          return !topic || sameConfigs(topic.configs, configs) ? true : undefined;
        });
      },
    });
  }

  async alterPartition(requests: readonly IsrChangeRequest[]): Promise<PartitionResult[]> {
    const results: PartitionResult[] = [];
    for (const group of bySender(requests))
      results.push(
        ...(await this.call({
          what: "AlterPartition",
          local: (c) => c.alterPartition(group),
          remote: (conn, timeoutMs) => this.alterPartitionRemote(conn, timeoutMs, group),
        })),
      );
    return results;
  }

  electLeaders(
    type: "PREFERRED" | "UNCLEAN",
    partitions: readonly PartitionRef[] | null,
  ): Promise<PartitionResult[]> {
    return this.call({
      what: "ElectLeaders",
      local: (c) => c.electLeaders(type, partitions),
      remote: async (conn, timeoutMs) => {
        const topicPartitions =
          partitions === null
            ? null
            : groupRefs(partitions).map((g) => ({
                topic: g.topic,
                partitions: g.items.map((r) => r.partition),
              }));
        const r = await conn.send(
          43,
          VERSIONS.electLeaders,
          { electionType: type === "PREFERRED" ? 0 : 1, topicPartitions, timeoutMs },
          timeoutMs,
        );
        throwIfError(r.errorCode ?? 0, null);
        return r.replicaElectionResults.flatMap((t) =>
          t.partitionResult.map((p) => this.result(t.topic, p.partitionId, p.errorCode, p.errorMessage)),
        );
      },
    });
  }

  alterReassignments(requests: readonly ReassignmentRequest[]): Promise<PartitionResult[]> {
    return this.call({
      what: "AlterPartitionReassignments",
      local: (c) => c.alterReassignments(requests),
      remote: async (conn, timeoutMs) => {
        const topics = groupRefs(requests).map((g) => ({
          name: g.topic,
          partitions: g.items.map((r) => ({
            partitionIndex: r.partition,
            replicas: r.replicas === null ? null : [...r.replicas],
          })),
        }));
        const r = await conn.send(45, VERSIONS.alterReassignments, { timeoutMs, topics }, timeoutMs);
        throwIfError(r.errorCode, r.errorMessage);
        return r.responses.flatMap((t) =>
          t.partitions.map((p) => this.result(t.name, p.partitionIndex, p.errorCode, p.errorMessage)),
        );
      },
    });
  }

  listReassignments(partitions: readonly PartitionRef[] | null): Promise<OngoingReassignment[]> {
    return this.call({
      what: "ListPartitionReassignments",
      local: async (c) => c.listReassignments(partitions),
      remote: async (conn, timeoutMs) => {
        const topics =
          partitions === null
            ? null
            : groupRefs(partitions).map((g) => ({
                name: g.topic,
                partitionIndexes: g.items.map((r) => r.partition),
              }));
        const r = await conn.send(46, VERSIONS.listReassignments, { timeoutMs, topics }, timeoutMs);
        throwIfError(r.errorCode, r.errorMessage);
        return r.topics.flatMap((t) =>
          t.partitions.map((p) => ({
            topic: t.name,
            partition: p.partitionIndex,
            replicas: p.replicas,
            addingReplicas: p.addingReplicas,
            removingReplicas: p.removingReplicas,
          })),
        );
      },
    });
  }

  controlledShutdown(nodeId: number, brokerEpoch: number): Promise<PartitionRef[]> {
    return this.call({
      what: "ControlledShutdown",
      local: (c) => c.controlledShutdown(nodeId, brokerEpoch),
      remote: async (conn, timeoutMs) => {
        const r = await conn.send(
          7,
          VERSIONS.controlledShutdown,
          { brokerId: nodeId, brokerEpoch },
          timeoutMs,
        );
        throwIfError(r.errorCode, null);
        return r.remainingPartitions.map((p) => ({ topic: p.topicName, partition: p.partitionIndex }));
      },
    });
  }

  /** Closes the connection; calls still running fail with REQUEST_TIMED_OUT at their next attempt. */
  async close(): Promise<void> {
    this.closed = true;
    this.unwatch();
    for (const wake of [...this.controllerWaiters, ...this.viewWaiters]) wake();
    const conn = this.conn;
    this.conn = null;
    if (conn) await conn.connecting.then((c) => c.close()).catch(() => {});
  }

  // ---- AlterPartition on the wire ----

  /** One AlterPartition request for requests of one sender (broker id and epoch). */
  private async alterPartitionRemote(
    conn: Connection,
    timeoutMs: number,
    group: readonly IsrChangeRequest[],
  ): Promise<PartitionResult[]> {
    const unknown: PartitionResult[] = [];
    const sent: { id: string; items: IsrChangeRequest[] }[] = [];
    for (const g of groupRefs(group)) {
      const id = this.store.topic(g.topic)?.id;
      if (id) sent.push({ id, items: g.items });
      else for (const r of g.items) unknown.push(failed(r, unknownHere(r)));
    }
    if (sent.length === 0) return unknown;
    const r = await conn.send(
      56,
      VERSIONS.alterPartition,
      {
        brokerId: group[0].brokerId,
        brokerEpoch: group[0].brokerEpoch,
        topics: sent.map((t) => ({
          topicId: t.id,
          partitions: t.items.map((p) => ({
            partitionIndex: p.partition,
            leaderEpoch: p.leaderEpoch,
            newIsrWithEpochs: requestedIsr(p),
            leaderRecoveryState: 0,
            partitionEpoch: p.partitionEpoch,
          })),
        })),
      },
      timeoutMs,
    );
    if (r.errorCode !== 0 && errorName(r.errorCode) === "STALE_BROKER_EPOCH") {
      const stale = wireError(r.errorCode, null);
      return [...unknown, ...group.map((req) => failed(req, stale))];
    }
    throwIfError(r.errorCode, null);
    const names = new Map(sent.map((t) => [t.id, t.items[0].topic]));
    const answered = r.topics.flatMap((t) => {
      const name = names.get(t.topicId ?? "");
      return name === undefined ? [] : t.partitions.map((p) => ({ topic: name, ...p }));
    });
    return [
      ...unknown,
      ...answered.map((p) => {
        const ref = { topic: p.topic, partition: p.partitionIndex };
        if (p.errorCode !== 0) return failed(ref, wireError(p.errorCode, null));
        return { ...ref, error: null, state: this.committedState(ref, p) };
      }),
    ];
  }

  /** The state an AlterPartition answer committed, over the replicas this view holds. */
  private committedState(
    ref: PartitionRef,
    answer: { leaderId: number; leaderEpoch: number; isr: number[]; partitionEpoch: number },
  ): PartitionState {
    const known = this.store.topic(ref.topic)?.partitions[ref.partition];
    if (known && known.partitionEpoch >= answer.partitionEpoch) return known;
    return {
      partition: ref.partition,
      replicas: known ? [...known.replicas] : [...answer.isr],
      addingReplicas: known ? [...known.addingReplicas] : [],
      removingReplicas: known ? [...known.removingReplicas] : [],
      leader: answer.leaderId,
      leaderEpoch: answer.leaderEpoch,
      isr: [...answer.isr],
      partitionEpoch: answer.partitionEpoch,
    };
  }

  /** A partition's answer from the wire; the state as this view holds it. */
  private result(topic: string, partition: number, code: number, message: string | null): PartitionResult {
    if (code !== 0) return failed({ topic, partition }, wireError(code, message));
    return { topic, partition, error: null, state: this.store.topic(topic)?.partitions[partition] ?? null };
  }

  /** A validateOnly CreatePartitions: the topic as this view holds it, grown by placeholders. */
  private sketchPartitions(name: string, totalCount: number): TopicState {
    const topic = this.store.topic(name);
    if (!topic) throw new KafkaError("UNKNOWN_TOPIC_OR_PARTITION", `topic ${name} does not exist`);
    const rf = topic.partitions[0]?.replicas.length ?? 1;
    const added = Array.from({ length: totalCount - topic.partitions.length }, (_, i) =>
      placeholderPartition(topic.partitions.length + i, rf),
    );
    return { ...topic, partitions: [...topic.partitions, ...added] };
  }

  // ---- the machinery ----

  /** Runs `call` on the controller, retrying what may succeed later, until the deadline. */
  private async call<T>(call: Call<T>): Promise<T> {
    const deadline = Date.now() + this.timeoutMs;
    let last: unknown = null;
    for (let attempt = 0; ; attempt++) {
      if (this.closed)
        throw new KafkaError("REQUEST_TIMED_OUT", `${call.what}: the controller channel is closed`);
      try {
        return await this.attempt(call, deadline);
      } catch (err) {
        if (!retried(err)) throw err;
        last = err;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw timedOut(call.what, this.timeoutMs, last);
      this.logger?.debug({ err: last, attempt }, `controller channel: ${call.what} retried`);
      await this.pause(this.controllerWaiters, Math.min(left, this.backoff(attempt)));
    }
  }

  private async attempt<T>(call: Call<T>, deadline: number): Promise<T> {
    const info = this.store.controller();
    if (!info) throw new KafkaError("NOT_CONTROLLER", "no controller is elected");
    if (info.nodeId === this.nodeId)
      return this.whileController(info, beforeDeadline(call.local(this.controller), deadline, call.what));
    const registration = this.store.broker(info.nodeId);
    if (!registration) throw new KafkaError("NOT_CONTROLLER", `controller ${info.nodeId} is not registered`);
    const key = connectionKey(registration);
    return this.whileController(info, this.forward(call, registration, deadline), () => {
      if (this.conn?.key === key) this.dropConnection();
    });
  }

  /** One attempt over the wire at the controller's broker `registration`. */
  private async forward<T>(call: Call<T>, registration: BrokerRegistration, deadline: number): Promise<T> {
    const conn = await this.connection(registration, deadline);
    try {
      return await call.remote(conn, Math.max(1, deadline - Date.now()), deadline);
    } catch (err) {
      if (err instanceof ClientError) this.dropConnection(conn);
      throw err;
    }
  }

  /**
   * `work`, unless the store names another controller than `info` (or none) first: then the
   * attempt is given up at once with NOT_CONTROLLER (retried, at the new controller), and
   * `abandon` runs. A request in flight at a deposed controller, a paused process whose kernel
   * still accepts and acknowledges, would otherwise hold the call until its deadline, and an ISR
   * shrink in flight holds acks=all at the maximal ISR all that time. Kafka's leader likewise
   * sends AlterPartition again to the new controller as soon as it learns of it. Whatever the
   * deposed controller does with the request later, its store refuses the writes of a lost term.
   */
  private whileController<T>(info: ControllerInfo, work: Promise<T>, abandon?: () => void): Promise<T> {
    let check = () => {};
    const deposed = new Promise<never>((_, reject) => {
      check = () => {
        const now = this.store.controller();
        if (now?.nodeId === info.nodeId && now.epoch === info.epoch) return;
        this.controllerWatchers.delete(check);
        abandon?.();
        reject(
          new KafkaError("NOT_CONTROLLER", `controller ${info.nodeId} (epoch ${info.epoch}) was replaced`),
        );
      };
    });
    this.controllerWatchers.add(check);
    check();
    return Promise.race([work, deposed]).finally(() => this.controllerWatchers.delete(check));
  }

  /** The cached connection to `broker`, opened (or replaced) when it is another one. */
  private async connection(broker: BrokerRegistration, deadline: number): Promise<Connection> {
    const address = hostPort(broker.host, broker.port);
    const key = connectionKey(broker);
    if (this.conn?.key !== key) {
      this.dropConnection();
      const connecting = Connection.connect(address, {
        ...this.security?.(),
        clientId: `samsa-broker-${this.nodeId}`,
        connectTimeoutMs: Math.max(1, Math.min(CONTROLLER_CONNECT_TIMEOUT_MS, deadline - Date.now())),
        requestTimeoutMs: this.timeoutMs,
      });
      const entry = { key, connecting };
      this.conn = entry;
      connecting.catch((err: unknown) => {
        if (this.conn === entry) this.conn = null;
        this.connectFailed?.(broker.nodeId, address, err);
      });
    }
    const conn = await this.conn.connecting;
    if (conn.closed) {
      this.dropConnection(conn);
      throw new ClientError("CONNECTION_CLOSED", `connection to the controller at ${address} is closed`);
    }
    if (this.closed) {
      void conn.close();
      throw new KafkaError("REQUEST_TIMED_OUT", "the controller channel is closed");
    }
    return conn;
  }

  /** Forgets the cached connection (only if it is `which`, when given) and closes it. */
  private dropConnection(which?: Connection): void {
    const entry = this.conn;
    if (!entry) return;
    void entry.connecting.then(
      (c) => {
        if (which !== undefined && c !== which) return;
        if (this.conn === entry) this.conn = null;
        void c.close();
      },
      () => {},
    );
    if (which === undefined) this.conn = null;
  }

  /**
   * Waits until `seen()` gives a value (checked at every change of the view), within the
   * deadline; REQUEST_TIMED_OUT after it.
   */
  private async awaitView<T>(deadline: number, what: string, seen: () => T | undefined): Promise<T> {
    for (;;) {
      const value = seen();
      if (value !== undefined) return value;
      const left = deadline - Date.now();
      if (left <= 0 || this.closed)
        throw new KafkaError(
          "REQUEST_TIMED_OUT",
          `the controller made the change, but this broker's view of the store has not shown ${what} yet`,
        );
      await this.pause(this.viewWaiters, Math.min(left, this.backoffMaxMs));
    }
  }

  /** Resolves after `ms`, or sooner when one of `waiters` is woken. */
  private pause(waiters: Set<() => void>, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      waiters.add(wake);
    });
  }

  private onEvent(event: MetadataEvent): void {
    for (const wake of [...this.viewWaiters]) wake();
    if (event.type === "topic" || event.type === "partition") return;
    for (const check of [...this.controllerWatchers]) check();
    for (const wake of [...this.controllerWaiters]) wake();
  }

  private backoff(attempt: number): number {
    return Math.min(this.backoffMaxMs, this.backoffMs * 2 ** Math.min(attempt, 20));
  }
}

/** The cached connection's key: the broker and the address it registered. */
function connectionKey(broker: BrokerRegistration): string {
  return `${broker.nodeId}@${hostPort(broker.host, broker.port)}`;
}

/** Whether a failed attempt may succeed later: no controller (yet) or it could not be reached. */
function retried(err: unknown): boolean {
  if (KafkaError.is(err, "NOT_CONTROLLER")) return true;
  return err instanceof ClientError && RETRIED_CLIENT_ERRORS.has(err.code);
}

function timedOut(what: string, timeoutMs: number, last: unknown): KafkaError {
  const why = last instanceof Error ? `: ${last.message}` : "";
  return new KafkaError("REQUEST_TIMED_OUT", `${what}: no controller answered within ${timeoutMs} ms${why}`, {
    cause: last,
  });
}

/** `work`, or REQUEST_TIMED_OUT at `deadline`. */
async function beforeDeadline<T>(work: Promise<T>, deadline: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new KafkaError("REQUEST_TIMED_OUT", `${what}: the controller did not answer in time`)),
      Math.max(0, deadline - Date.now()),
    );
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** The KafkaError a wire answer carries, its message without the code the sender prefixed. */
export function wireError(code: number, message: string | null | undefined): KafkaError {
  const name = errorName(code);
  if (!message || message === name) return new KafkaError(name);
  return new KafkaError(name, message.startsWith(`${name}: `) ? message.slice(name.length + 2) : message);
}

function throwIfError(code: number, message: string | null | undefined): void {
  if (code !== 0) throw wireError(code, message);
}

function failed(ref: PartitionRef, error: KafkaError): PartitionResult {
  return { topic: ref.topic, partition: ref.partition, error, state: null };
}

/** The single result a one-item request must get. */
function only<T>(items: readonly T[], api: string): T {
  if (items.length !== 1)
    throw new KafkaError("UNKNOWN_SERVER_ERROR", `${api} answered ${items.length} results for 1`);
  return items[0];
}

/** `items` grouped by topic, topics in the order first named. */
function groupRefs<R extends PartitionRef>(items: readonly R[]): { topic: string; items: R[] }[] {
  const groups = new Map<string, R[]>();
  for (const item of items) {
    const list = groups.get(item.topic);
    if (list) list.push(item);
    else groups.set(item.topic, [item]);
  }
  return [...groups].map(([topic, list]) => ({ topic, items: list }));
}

/** ISR change requests by sender: one AlterPartition names one broker id and epoch. */
function bySender(requests: readonly IsrChangeRequest[]): IsrChangeRequest[][] {
  const groups = new Map<string, IsrChangeRequest[]>();
  for (const r of requests) {
    const key = `${r.brokerId}:${r.brokerEpoch}`;
    const list = groups.get(key);
    if (list) list.push(r);
    else groups.set(key, [r]);
  }
  return [...groups.values()];
}

function sameConfigs(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

/**
 * A partition whose placement a validateOnly answer does not carry (CreateTopics and
 * CreatePartitions answer counts, not replica lists): `rf` replicas of unknown id (-1).
 */
function placeholderPartition(partition: number, rf: number): PartitionState {
  const replicas = Array.from({ length: rf }, () => NO_LEADER);
  return {
    partition,
    replicas,
    isr: [],
    leader: NO_LEADER,
    leaderEpoch: 0,
    partitionEpoch: 0,
    addingReplicas: [],
    removingReplicas: [],
  };
}

/** A validateOnly CreateTopics: the topic as it would be, without an id or placement. */
function sketchTopic(
  request: CreateTopicRequest,
  numPartitions: number | undefined,
  replicationFactor: number | undefined,
): TopicState {
  const manual = request.assignments ?? null;
  const count = numPartitions ?? manual?.length ?? request.partitions;
  const rf = replicationFactor ?? manual?.[0]?.length ?? request.replicationFactor;
  return {
    name: request.name,
    id: ZERO_UUID,
    partitions: Array.from({ length: count }, (_, i) =>
      manual?.[i] ? { ...placeholderPartition(i, 0), replicas: [...manual[i]] } : placeholderPartition(i, rf),
    ),
    configs: Object.assign(Object.create(null), request.configs ?? {}),
  };
}

function unknownHere(ref: PartitionRef): KafkaError {
  return new KafkaError("UNKNOWN_TOPIC_OR_PARTITION", `this broker's view holds no topic ${ref.topic}`);
}
