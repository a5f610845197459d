/**
 * Admin: topics, partitions, configs, offsets and consumer groups (each group request goes to
 * the group's coordinator); leader elections and partition reassignments (to the controller
 * Metadata names, which may be any broker that forwards them); SCRAM users and ACLs (any broker).
 * Each call answers with plain objects and throws
 * a KafkaError (with `code` and `retriable`) for a broker error on the thing it names.
 */
import { randomBytes } from "node:crypto";
import type { TopicPartition } from "../protocol/assignors.js";
import type { Message } from "../protocol/codec.js";
import { decodeAssignment, decodeSubscription } from "../protocol/consumer-protocol.js";
import { errorCode, errorName, KafkaError, isRetriable as retriableCode } from "../protocol/errors.js";
import {
  isScramMechanism,
  SCRAM_MIN_ITERATIONS,
  SCRAM_SALT_BYTES,
  type ScramMechanismName,
  scramMechanismCode,
  scramMechanismName,
  scramSaltedPasswordAsync,
} from "../protocol/sasl/scram.js";
import type { AlterUserScramCredentialsRequestData } from "../protocol/types/alter-user-scram-credentials.js";
import {
  type AclBinding,
  type AclFilter,
  type AclFilterResponse,
  type AclResource,
  creationOf,
  filterOf,
  matchingOf,
  resourceOf,
} from "./acls.js";
import { Cluster, type ClusterOptions, type TopicInfo } from "./cluster.js";
import type { Connection } from "./connection.js";
import {
  type CommittedOffset,
  commitOffsets,
  fetchOffsets,
  findCoordinator,
  type OffsetAndMetadata,
} from "./coordinator.js";
import {
  brokerError,
  checkArray,
  checkInteger,
  checkName,
  describe,
  invalid,
  isRetriable,
} from "./errors.js";
import { backoffMs, DEFAULT_RETRY, withRetry } from "./retry.js";

export interface NewTopic {
  name: string;
  /** -1 (default) for the broker's num.partitions. */
  partitions?: number;
  /** -1 (default) for the broker's default.replication.factor. */
  replicationFactor?: number;
  configs?: Record<string, string>;
  /**
   * Replica lists by partition, preferred leader first (a manual assignment): the partition count
   * and replication factor follow from it, so `partitions` and `replicationFactor` stay unset.
   */
  assignments?: number[][];
}

export interface ConfigEntry {
  name: string;
  value: string | null;
  isDefault: boolean;
  readOnly: boolean;
  source: number;
}

export interface PartitionOffsets {
  partition: number;
  earliest: number;
  latest: number;
}

export interface GroupListing {
  groupId: string;
  protocolType: string;
  /** "" when the broker's ListGroups is older than v4. */
  state: string;
}

export interface GroupMemberDescription {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  /** Decoded for consumer groups (protocol type "consumer"); empty otherwise. */
  topics: string[];
  assignment: TopicPartition[];
}

export interface GroupDescription {
  groupId: string;
  /** Empty, PreparingRebalance, CompletingRebalance, Stable, Dead. */
  state: string;
  protocolType: string;
  /** The assignor the group uses. */
  protocol: string;
  members: GroupMemberDescription[];
}

export type OffsetSpec = "earliest" | "latest" | "max-timestamp" | { timestamp: number };

const SPEC_TIMESTAMP = { earliest: -2, latest: -1, "max-timestamp": -3 } as const;

/** What happened to one topic of a create or delete request: `error` is null on success. */
export interface TopicOutcome {
  name: string;
  error: KafkaError | null;
}

/** Kafka's election types: the first live in-sync replica of the assignment, or any live replica. */
export type ElectionType = "preferred" | "unclean";
const ELECTION_TYPES: Record<ElectionType, number> = { preferred: 0, unclean: 1 };

/** What happened to one partition of a request: `error` is null on success. */
export interface PartitionOutcome {
  topic: string;
  partition: number;
  error: KafkaError | null;
}

/** A partition's new replica list, or null to cancel the reassignment in progress. */
export interface PartitionReassignment {
  topic: string;
  partition: number;
  replicas: number[] | null;
}

/** A reassignment in progress (KIP-455): the full replica list and the replicas on their way. */
export interface OngoingReassignment {
  topic: string;
  partition: number;
  replicas: number[];
  addingReplicas: number[];
  removingReplicas: number[];
}

const NOT_CONTROLLER = errorCode("NOT_CONTROLLER");

/** How long listOffsets retries partitions whose leader moved or has not yet heard of the topic. */
const LIST_OFFSETS_TIMEOUT_MS = 30_000;

/** The time the controller is given to answer an election or a reassignment. */
const CONTROLLER_TIMEOUT_MS = 30_000;

/** The same error as `Cluster.check` throws, kept as a value. */
function outcome(name: string, code: number, what: string, message?: string | null): TopicOutcome {
  if (code === 0) return { name, error: null };
  return { name, error: brokerError(code, `${what} ${name}`, message) };
}

/**
 * Throws a retriable NOT_CONTROLLER when every result says NOT_CONTROLLER: the request reached a
 * broker that is not (or no longer) the controller and did nothing, so it can be sent again.
 */
function throwIfAllNotController(results: readonly { errorCode: number }[], what: string): void {
  if (results.length > 0 && results.every((x) => x.errorCode === NOT_CONTROLLER))
    throw new KafkaError("NOT_CONTROLLER", what);
}

function throwFirst(outcomes: TopicOutcome[]): void {
  const failed = outcomes.find((o) => o.error !== null);
  if (failed?.error) throw failed.error;
}

/** Throws INVALID_ARGUMENT unless `names` is an array of non-empty strings. */
function checkNames(names: unknown, what: string): void {
  checkArray(names, what);
  for (const [i, n] of names.entries()) checkName(n, `${what}[${i}]`);
}

/** Throws INVALID_ARGUMENT unless `partitions` is an array of { topic, partition >= 0 }. */
function checkPartitions(partitions: unknown, what: string): asserts partitions is TopicPartition[] {
  checkArray(partitions, what);
  for (const [i, p] of partitions.entries()) {
    if (typeof p !== "object" || p === null)
      throw invalid(`${what}[${i}] must be { topic, partition }, got ${describe(p)}`);
    const tp = p as Record<string, unknown>;
    checkName(tp.topic, `${what}[${i}].topic`);
    checkInteger(tp.partition, `${what}[${i}].partition`);
  }
}

/** Partitions grouped by topic, in the shape of the requests' topic lists. */
function byTopic(partitions: TopicPartition[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const { topic, partition } of partitions) out.set(topic, [...(out.get(topic) ?? []), partition]);
  return out;
}

/** A reassignment: a partition and a non-empty list of distinct broker ids, or null (cancel). */
function checkReassignment(r: unknown, where: string): void {
  checkPartitions([r], where);
  const replicas = (r as Record<string, unknown>).replicas;
  if (replicas === null) return;
  checkArray(replicas, `${where}.replicas`);
  if (replicas.length === 0) throw invalid(`${where}.replicas must not be empty (null cancels)`);
  for (const [i, id] of replicas.entries()) checkInteger(id, `${where}.replicas[${i}]`);
  if (new Set(replicas).size !== replicas.length)
    throw invalid(`${where}.replicas must be distinct, got [${replicas.join(",")}]`);
}

/** A NewTopic: a name; partitions and replication factor -1 (the broker's default) or >= 1. */
function checkNewTopic(t: unknown, where: string): void {
  if (typeof t !== "object" || t === null)
    throw invalid(`${where} must be { name, partitions? }, got ${describe(t)}`);
  const topic = t as Record<string, unknown>;
  checkName(topic.name, `${where}.name`);
  for (const field of ["partitions", "replicationFactor"]) {
    const v = topic[field];
    if (v !== undefined && v !== -1) checkInteger(v, `${where}.${field}`, 1);
  }
  if (topic.assignments === undefined) return;
  checkArray(topic.assignments, `${where}.assignments`);
  for (const [i, ids] of (topic.assignments as unknown[]).entries()) {
    checkArray(ids, `${where}.assignments[${i}]`);
    for (const id of ids as unknown[]) checkInteger(id, `${where}.assignments[${i}][]`, 0);
  }
  if (topic.partitions !== undefined || topic.replicationFactor !== undefined)
    throw invalid(`${where}: give assignments or partitions/replicationFactor, not both`);
}

/** A user's SCRAM mechanisms (DescribeUserScramCredentials). */
export interface ScramUserDescription {
  user: string;
  mechanisms: { mechanism: string; iterations: number }[];
}

export class Admin {
  readonly cluster: Cluster;
  private readonly owned: boolean;

  constructor(options: ClusterOptions | Cluster) {
    this.owned = !(options instanceof Cluster);
    this.cluster = options instanceof Cluster ? options : new Cluster(options);
  }

  private async controller() {
    if (this.cluster.controllerId < 0) await this.cluster.refresh([]);
    return this.cluster.brokerConnection(this.cluster.controllerId);
  }

  async createTopics(
    topics: NewTopic[],
    options: { validateOnly?: boolean; timeoutMs?: number } = {},
  ): Promise<void> {
    throwFirst(await this.createTopicsSettled(topics, options));
  }

  /** Creates the topics in one request; one outcome per topic, none thrown for a topic's error. */
  async createTopicsSettled(
    topics: NewTopic[],
    options: { validateOnly?: boolean; timeoutMs?: number } = {},
  ): Promise<TopicOutcome[]> {
    checkArray(topics, "createTopics(topics)");
    for (const [i, t] of topics.entries()) checkNewTopic(t, `topics[${i}]`);
    const r = await this.viaController(async (conn) => {
      const r = await conn.request(19, {
        topics: topics.map((t) => ({
          name: t.name,
          numPartitions: t.partitions ?? -1,
          replicationFactor: t.replicationFactor ?? -1,
          assignments: (t.assignments ?? []).map((brokerIds, partitionIndex) => ({
            partitionIndex,
            brokerIds,
          })),
          configs: Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value })),
        })),
        timeoutMs: options.timeoutMs ?? 30_000,
        validateOnly: options.validateOnly ?? false,
      });
      throwIfAllNotController(r.topics, "create topics");
      return r;
    });
    this.cluster.invalidate();
    return r.topics.map((t: Message) => outcome(t.name, t.errorCode, "create topic", t.errorMessage));
  }

  async deleteTopics(names: string[], timeoutMs = 30_000): Promise<void> {
    throwFirst(await this.deleteTopicsSettled(names, timeoutMs));
  }

  /** Deletes the topics in one request; one outcome per topic, none thrown for a topic's error. */
  async deleteTopicsSettled(names: string[], timeoutMs = 30_000): Promise<TopicOutcome[]> {
    checkNames(names, "deleteTopics(names)");
    const r = await this.viaController(async (conn) => {
      const r = await conn.request(20, {
        topicNames: names,
        topics: names.map((name) => ({ name, topicId: "00000000000000000000000000000000" })),
        timeoutMs,
      });
      throwIfAllNotController(r.responses, "delete topics");
      return r;
    });
    for (const n of names) this.cluster.invalidate(n);
    return r.responses.map((t: Message) => outcome(t.name, t.errorCode, "delete topic", t.errorMessage));
  }

  /** Names of every topic. */
  async listTopics(): Promise<string[]> {
    await this.cluster.refresh();
    return this.cluster
      .knownTopics()
      .map((t) => t.name)
      .sort();
  }

  /** Partitions, leaders, replicas and ISR of each topic. */
  async describeTopics(names: string[]): Promise<TopicInfo[]> {
    checkNames(names, "describeTopics(names)");
    await this.cluster.refresh(names);
    return Promise.all(names.map((n) => this.cluster.topic(n)));
  }

  /** Grows `topic` to `total` partitions. */
  async createPartitions(topic: string, total: number, validateOnly = false): Promise<void> {
    checkName(topic, "topic");
    checkInteger(total, "total partitions", 1);
    const r = await this.viaController(async (conn) => {
      const r = await conn.request(37, {
        topics: [{ name: topic, count: total, assignments: null }],
        timeoutMs: 30_000,
        validateOnly,
      });
      throwIfAllNotController(r.results, `create partitions of ${topic}`);
      return r;
    });
    for (const t of r.results) Cluster.check(t.errorCode, `create partitions of ${t.name}`, t.errorMessage);
    this.cluster.invalidate(topic);
  }

  /** Every config of a topic with its effective value. */
  async describeTopicConfigs(topic: string): Promise<ConfigEntry[]> {
    const conn = await this.controller();
    const r = await conn.request(32, {
      resources: [{ resourceType: 2, resourceName: topic, configurationKeys: null }],
      includeSynonyms: false,
      includeDocumentation: false,
    });
    const res = r.results[0];
    Cluster.check(res.errorCode, `describe configs of ${topic}`, res.errorMessage);
    return (
      res.configs as {
        name: string;
        value: string | null;
        readOnly: boolean;
        configSource: number;
        isDefault: boolean;
      }[]
    ).map((c) => ({
      name: c.name,
      value: c.value,
      readOnly: c.readOnly,
      source: c.configSource,
      isDefault: c.configSource === 5 || (c.configSource === -1 && c.isDefault),
    }));
  }

  /** Sets (value) or removes (null) topic configs, leaving the others as they are. */
  async alterTopicConfigs(
    topic: string,
    changes: Record<string, string | null>,
    validateOnly = false,
  ): Promise<void> {
    const conn = await this.controller();
    const r = await conn.request(44, {
      resources: [
        {
          resourceType: 2,
          resourceName: topic,
          configs: Object.entries(changes).map(([name, value]) => ({
            name,
            configOperation: value === null ? 1 : 0,
            value,
          })),
        },
      ],
      validateOnly,
    });
    for (const res of r.responses)
      Cluster.check(res.errorCode, `alter configs of ${topic}`, res.errorMessage);
  }

  /**
   * For each partition of `topic`: the offset `spec` names (-1 when there is none). Each
   * partition's ListOffsets goes to its leader; a retriable failure (a leader moved:
   * NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE; a leader that has not yet heard of a new topic:
   * UNKNOWN_TOPIC_OR_PARTITION; a broker that timed out or went away) is retried after a metadata
   * refresh and a backoff, for the partitions not yet answered, until `timeoutMs` (default 30 s)
   * has passed. A topic that Metadata does not know is retried `retry.retries` times only
   * (Metadata may lag a creation by moments), so a misspelt name fails in seconds.
   */
  async listOffsets(
    topic: string,
    spec: OffsetSpec,
    options: { timeoutMs?: number } = {},
  ): Promise<{ partition: number; offset: number; timestamp: number }[]> {
    checkName(topic, "topic");
    if (typeof spec === "string" ? !(spec in SPEC_TIMESTAMP) : typeof spec?.timestamp !== "number")
      throw invalid(
        `offset spec must be earliest, latest, max-timestamp or { timestamp }, got ${describe(spec)}`,
      );
    const timeoutMs = options.timeoutMs ?? LIST_OFFSETS_TIMEOUT_MS;
    checkInteger(timeoutMs, "timeoutMs");
    const timestamp = typeof spec === "string" ? SPEC_TIMESTAMP[spec] : spec.timestamp;
    const deadline = Date.now() + timeoutMs;
    const { retries } = { ...DEFAULT_RETRY, ...this.cluster.retry };
    const answered = new Map<number, { partition: number; offset: number; timestamp: number }>();
    let unknownTopic = 0;
    for (let attempt = 0; ; attempt++) {
      try {
        if (attempt > 0) this.cluster.invalidate(topic);
        let info: TopicInfo;
        try {
          info = await this.cluster.topic(topic);
        } catch (err) {
          if (err instanceof KafkaError && err.code === "UNKNOWN_TOPIC_OR_PARTITION") unknownTopic++;
          throw err;
        }
        await this.listOffsetsOnce(info, timestamp, answered);
        return [...answered.values()].sort((a, b) => a.partition - b.partition);
      } catch (err) {
        const wait = backoffMs(attempt, this.cluster.retry);
        if (!isRetriable(err) || unknownTopic > retries || Date.now() + wait > deadline) throw err;
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  }

  /**
   * One round of listOffsets: a request to each leader for its partitions not in `answered`,
   * adding what they answer. Throws a non-retriable error at once; otherwise, when a partition is
   * left unanswered, the first retriable error met (after every leader was asked).
   */
  private async listOffsetsOnce(
    info: TopicInfo,
    timestamp: number,
    answered: Map<number, { partition: number; offset: number; timestamp: number }>,
  ): Promise<void> {
    const topic = info.name;
    const byLeader = new Map<number, number[]>();
    let retry: unknown = null;
    for (const p of info.partitions) {
      if (answered.has(p.partition)) continue;
      if (p.leader < 0) {
        retry ??= new KafkaError("LEADER_NOT_AVAILABLE", `${topic}-${p.partition} has no leader`);
        continue;
      }
      byLeader.set(p.leader, [...(byLeader.get(p.leader) ?? []), p.partition]);
    }
    const rounds = [...byLeader].map(async ([leader, partitions]) => {
      const conn = await this.cluster.brokerConnection(leader);
      const r = await conn.request(2, {
        replicaId: -1,
        isolationLevel: 0,
        topics: [
          {
            name: topic,
            partitions: partitions.map((p) => ({
              partitionIndex: p,
              currentLeaderEpoch: -1,
              timestamp,
              maxNumOffsets: 1,
            })),
          },
        ],
      });
      for (const p of r.topics[0]?.partitions ?? []) {
        const what = `list offsets of ${topic}-${p.partitionIndex}`;
        if (p.errorCode !== 0) throw brokerError(p.errorCode, what);
        answered.set(p.partitionIndex, {
          partition: p.partitionIndex,
          offset: p.offset ?? -1,
          timestamp: p.timestamp ?? -1,
        });
      }
    });
    for (const outcome of await Promise.allSettled(rounds)) {
      if (outcome.status === "fulfilled") continue;
      if (!isRetriable(outcome.reason)) throw outcome.reason;
      retry ??= outcome.reason;
    }
    if (answered.size < info.partitions.length)
      throw (
        retry ?? new KafkaError("UNKNOWN_SERVER_ERROR", `list offsets of ${topic}: partitions unanswered`)
      );
  }

  /** Bytes on disk of each partition of `topic`, summed over the brokers that hold it. */
  async partitionSizes(topic: string): Promise<Map<number, number>> {
    const info = await this.cluster.topic(topic);
    const sizes = new Map<number, number>();
    const leaders = new Set(info.partitions.map((p) => p.leader));
    for (const leader of leaders) {
      const conn = await this.cluster.brokerConnection(leader);
      const r = await conn.request(35, {
        topics: [{ topic, partitions: info.partitions.map((p) => p.partition) }],
      });
      for (const dir of r.results) {
        for (const t of dir.topics) {
          for (const p of t.partitions)
            sizes.set(p.partitionIndex, (sizes.get(p.partitionIndex) ?? 0) + p.partitionSize);
        }
      }
    }
    return sizes;
  }

  /** Earliest and latest offsets of every partition of `topic`. */
  async topicOffsets(topic: string): Promise<PartitionOffsets[]> {
    const [earliest, latest] = await Promise.all([
      this.listOffsets(topic, "earliest"),
      this.listOffsets(topic, "latest"),
    ]);
    return earliest.map((e, i) => ({ partition: e.partition, earliest: e.offset, latest: latest[i].offset }));
  }

  /** Runs `what` against the coordinator of `groupId`, finding it again if it moves. */
  private withCoordinator<T>(groupId: string, what: (conn: Connection) => Promise<T>): Promise<T> {
    return withRetry(
      async () => what(await this.cluster.brokerAt(await findCoordinator(this.cluster, groupId))),
      this.cluster.retry,
    );
  }

  /** Every group on every broker, sorted by id. */
  async listGroups(): Promise<GroupListing[]> {
    await this.cluster.refresh([]);
    const out = new Map<string, GroupListing>();
    const brokers = this.cluster.brokers();
    const targets =
      brokers.length > 0
        ? brokers.map((b) => () => this.cluster.brokerAt(b))
        : [() => this.cluster.anyConnection()];
    for (const connect of targets) {
      const r = await withRetry(
        async () => (await connect()).request(16, { statesFilter: [], typesFilter: [] }),
        this.cluster.retry,
      );
      Cluster.check(r.errorCode, "list groups");
      for (const g of r.groups) {
        out.set(g.groupId, { groupId: g.groupId, protocolType: g.protocolType, state: g.groupState ?? "" });
      }
    }
    return [...out.values()].sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0));
  }

  /** State, assignor and members of each group; consumer members' subscriptions and assignments decoded. */
  async describeGroups(groupIds: string[]): Promise<GroupDescription[]> {
    const out: GroupDescription[] = [];
    for (const groupId of groupIds) {
      const r = await this.withCoordinator(groupId, async (conn) => {
        const r = await conn.request(15, { groups: [groupId], includeAuthorizedOperations: false });
        const g = r.groups[0];
        // Retriable coordinator errors go round withRetry; others reach the caller.
        if (g.errorCode !== 0) {
          throw brokerError(g.errorCode, `describe group ${groupId}`, g.errorMessage);
        }
        return g;
      });
      const consumer = r.protocolType === "consumer";
      out.push({
        groupId: r.groupId,
        state: r.groupState,
        protocolType: r.protocolType,
        protocol: r.protocolData,
        members: (
          r.members as {
            memberId: string;
            groupInstanceId: string | null;
            clientId: string;
            clientHost: string;
            memberMetadata: Buffer;
            memberAssignment: Buffer;
          }[]
        ).map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          topics:
            consumer && m.memberMetadata.length > 0
              ? decodeOr(() => decodeSubscription(m.memberMetadata).topics, [])
              : [],
          assignment: consumer
            ? decodeOr(
                () =>
                  decodeAssignment(m.memberAssignment).assignedPartitions.flatMap((t) =>
                    t.partitions.map((partition) => ({ topic: t.topic, partition })),
                  ),
                [],
              )
            : [],
        })),
      });
    }
    return out;
  }

  /** Offsets `groupId` committed: for the partitions of `topics`, or every one it has. */
  async fetchOffsets(groupId: string, topics?: string[]): Promise<CommittedOffset[]> {
    let partitions: TopicPartition[] | null = null;
    if (topics) {
      partitions = [];
      for (const topic of topics) {
        for (const p of (await this.cluster.topic(topic)).partitions)
          partitions.push({ topic, partition: p.partition });
      }
    }
    return this.withCoordinator(groupId, (conn) => fetchOffsets(conn, groupId, partitions));
  }

  /**
   * Stores offsets for `groupId` from outside the group (generation -1, member ""), as Kafka's
   * reset tool does; a coordinator accepts it only while the group has no members.
   */
  async commitOffsets(groupId: string, offsets: OffsetAndMetadata[]): Promise<void> {
    const failed = await this.withCoordinator(groupId, async (conn) => {
      const failed = await commitOffsets(conn, {
        groupId,
        generationId: -1,
        memberId: "",
        groupInstanceId: null,
        offsets,
      });
      const retriable = failed.find((f) => retriableCode(f.error));
      if (retriable) throw new KafkaError(retriable.error, `commit offsets of ${groupId}`);
      return failed;
    });
    if (failed.length > 0) {
      const f = failed[0];
      throw new KafkaError(f.error, `commit offset of ${f.topic}-${f.partition} for group ${groupId}`);
    }
  }

  /** Deletes groups (they must have no members) and their offsets. */
  async deleteGroups(groupIds: string[]): Promise<void> {
    for (const groupId of groupIds) {
      const r = await this.withCoordinator(groupId, async (conn) => {
        const r = await conn.request(42, { groupsNames: [groupId] });
        const res = r.results[0];
        if (res.errorCode !== 0 && retriableCode(errorName(res.errorCode))) {
          throw new KafkaError(errorName(res.errorCode), `delete group ${groupId}`);
        }
        return res;
      });
      Cluster.check(r.errorCode, `delete group ${groupId}`, r.errorMessage);
    }
  }

  /** Deletes the committed offsets of `partitions` of `topic` (refused for topics the group reads). */
  async deleteOffsets(groupId: string, topic: string, partitions: number[]): Promise<void> {
    const r = await this.withCoordinator(groupId, async (conn) => {
      const r = await conn.request(47, {
        groupId,
        topics: [{ name: topic, partitions: partitions.map((partitionIndex) => ({ partitionIndex })) }],
      });
      if (r.errorCode !== 0 && retriableCode(errorName(r.errorCode))) {
        throw new KafkaError(errorName(r.errorCode), `delete offsets of ${groupId}`);
      }
      return r;
    });
    Cluster.check(r.errorCode, `delete offsets of group ${groupId}`);
    for (const t of r.topics) {
      for (const p of t.partitions)
        Cluster.check(p.errorCode, `delete offset of ${t.name}-${p.partitionIndex} for group ${groupId}`);
    }
  }

  /**
   * Runs `what` on the broker Metadata names as the controller, as Kafka's admin client does for
   * the controller's APIs: a broker that forwards to the controller (the one Metadata names may be any) and
   * one that does not both answer. Retriable errors are retried after a metadata refresh, so
   * NOT_CONTROLLER while the controller moves finds the new one.
   */
  private viaController<T>(what: (conn: Connection) => Promise<T>): Promise<T> {
    return withRetry(async (attempt) => {
      if (attempt > 0) await this.cluster.refresh([]);
      return what(await this.controller());
    }, this.cluster.retry);
  }

  /**
   * Elects leaders (ElectLeaders, KIP-460): `preferred` moves leadership back to the first
   * replica of each assignment where it is in sync; `unclean` elects any live replica where no
   * in-sync one is left, accepting the loss of what only the ISR held. Without `partitions`:
   * every partition the controller finds needing it. One outcome per partition the controller
   * answered for; ELECTION_NOT_NEEDED (the leader already is the one asked for) is an outcome
   * like the others, so that one partition's error hides no other's. A request-level error throws.
   */
  async electLeaders(
    type: ElectionType,
    partitions: TopicPartition[] | null = null,
    timeoutMs = CONTROLLER_TIMEOUT_MS,
  ): Promise<PartitionOutcome[]> {
    if (!Object.hasOwn(ELECTION_TYPES, type))
      throw invalid(`election type must be preferred or unclean, got ${describe(type)}`);
    if (partitions !== null) checkPartitions(partitions, "electLeaders(partitions)");
    const topicPartitions =
      partitions === null
        ? null
        : [...byTopic(partitions)].map(([topic, ids]) => ({ topic, partitions: ids }));
    const r = await this.viaController(async (conn) => {
      if (type === "unclean" && conn.versionFor(43) < 1)
        throw new KafkaError(
          "UNSUPPORTED_VERSION",
          "unclean election needs ElectLeaders v1, the broker serves v0",
        );
      const r = await conn.request(43, { electionType: ELECTION_TYPES[type], topicPartitions, timeoutMs });
      Cluster.check(r.errorCode ?? 0, `elect ${type} leaders`);
      throwIfAllNotController(
        r.replicaElectionResults.flatMap((t) => t.partitionResult),
        `elect ${type} leaders`,
      );
      return r;
    });
    this.cluster.invalidate();
    return r.replicaElectionResults.flatMap((t) =>
      t.partitionResult.map((p) => ({
        topic: t.topic,
        partition: p.partitionId,
        error:
          p.errorCode === 0
            ? null
            : brokerError(p.errorCode, `elect leader of ${t.topic}-${p.partitionId}`, p.errorMessage),
      })),
    );
  }

  /**
   * Starts (a replica list) or cancels (null) the reassignment of each partition (KIP-455): the
   * controller adds the new replicas, waits until they are in sync, then drops the old ones.
   * Resolves once the controller accepted every partition's change; throws the first
   * partition's error as a KafkaError (NO_REASSIGNMENT_IN_PROGRESS for a cancel of nothing).
   */
  async alterPartitionReassignments(
    requests: PartitionReassignment[],
    timeoutMs = CONTROLLER_TIMEOUT_MS,
  ): Promise<void> {
    checkArray(requests, "alterPartitionReassignments(requests)");
    for (const [i, r] of requests.entries()) checkReassignment(r, `requests[${i}]`);
    const topics = new Map<string, { partitionIndex: number; replicas: number[] | null }[]>();
    for (const r of requests)
      topics.set(r.topic, [
        ...(topics.get(r.topic) ?? []),
        { partitionIndex: r.partition, replicas: r.replicas },
      ]);
    const r = await this.viaController(async (conn) => {
      const r = await conn.request(45, {
        timeoutMs,
        topics: [...topics].map(([name, partitions]) => ({ name, partitions })),
      });
      Cluster.check(r.errorCode, "alter partition reassignments", r.errorMessage);
      throwIfAllNotController(
        r.responses.flatMap((t) => t.partitions),
        "alter partition reassignments",
      );
      return r;
    });
    for (const t of r.responses) {
      for (const p of t.partitions)
        Cluster.check(p.errorCode, `reassign ${t.name}-${p.partitionIndex}`, p.errorMessage);
    }
    for (const name of topics.keys()) this.cluster.invalidate(name);
  }

  /** Reassignments in progress: of `partitions`, or every one in the cluster. */
  async listPartitionReassignments(
    partitions: TopicPartition[] | null = null,
    timeoutMs = CONTROLLER_TIMEOUT_MS,
  ): Promise<OngoingReassignment[]> {
    if (partitions !== null) checkPartitions(partitions, "listPartitionReassignments(partitions)");
    const topics =
      partitions === null
        ? null
        : [...byTopic(partitions)].map(([name, partitionIndexes]) => ({ name, partitionIndexes }));
    const r = await this.viaController(async (conn) => {
      const r = await conn.request(46, { timeoutMs, topics });
      Cluster.check(r.errorCode, "list partition reassignments", r.errorMessage);
      return r;
    });
    return r.topics
      .flatMap((t) =>
        t.partitions.map((p) => ({
          topic: t.name,
          partition: p.partitionIndex,
          replicas: p.replicas,
          addingReplicas: p.addingReplicas,
          removingReplicas: p.removingReplicas,
        })),
      )
      .sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
  }

  /**
   * Creates or replaces `user`'s SCRAM credential for `mechanism` (default SCRAM-SHA-256) with
   * `iterations` (4096-16384): the salt and salted password are made here, the password never
   * leaves this process (KIP-554). Throws the broker's error as a KafkaError.
   */
  async upsertScramCredential(
    user: string,
    password: string,
    mechanism: ScramMechanismName = "SCRAM-SHA-256",
    iterations = SCRAM_MIN_ITERATIONS,
  ): Promise<void> {
    checkName(user, "user");
    if (!isScramMechanism(mechanism))
      throw invalid(`mechanism must be SCRAM-SHA-256 or SCRAM-SHA-512, got ${describe(mechanism)}`);
    checkInteger(iterations, "iterations", SCRAM_MIN_ITERATIONS);
    const salt = randomBytes(SCRAM_SALT_BYTES);
    const saltedPassword = await scramSaltedPasswordAsync(mechanism, password, salt, iterations);
    const upsertions = [
      { name: user, mechanism: scramMechanismCode(mechanism), iterations, salt, saltedPassword },
    ];
    await this.alterScram(user, { deletions: [], upsertions });
  }

  /** Deletes `user`'s SCRAM credential for `mechanism`; RESOURCE_NOT_FOUND when it has none. */
  async deleteScramCredential(user: string, mechanism: ScramMechanismName = "SCRAM-SHA-256"): Promise<void> {
    checkName(user, "user");
    if (!isScramMechanism(mechanism))
      throw invalid(`mechanism must be SCRAM-SHA-256 or SCRAM-SHA-512, got ${describe(mechanism)}`);
    await this.alterScram(user, {
      deletions: [{ name: user, mechanism: scramMechanismCode(mechanism) }],
      upsertions: [],
    });
  }

  private async alterScram(user: string, body: AlterUserScramCredentialsRequestData): Promise<void> {
    const r = await withRetry(async () => (await this.cluster.anyConnection()).request(51, body));
    for (const result of r.results)
      Cluster.check(result.errorCode, `alter SCRAM credentials of ${user}`, result.errorMessage);
  }

  /** Users with SCRAM credentials, each with its mechanisms and iteration counts (all users without `users`). */
  async describeScramUsers(users?: string[]): Promise<ScramUserDescription[]> {
    if (users) checkNames(users, "describeScramUsers(users)");
    const r = await withRetry(async () =>
      (await this.cluster.anyConnection()).request(50, {
        users: users ? users.map((name) => ({ name })) : null,
      }),
    );
    Cluster.check(r.errorCode, "describe SCRAM users", r.errorMessage);
    return r.results.map((u: Message) => {
      Cluster.check(u.errorCode, `describe SCRAM credentials of ${u.user}`, u.errorMessage);
      return {
        user: u.user,
        mechanisms: u.credentialInfos.map((c: Message) => ({
          mechanism: scramMechanismName(c.mechanism) ?? `UNKNOWN(${c.mechanism})`,
          iterations: c.iterations,
        })),
      };
    });
  }

  /**
   * Creates ACL bindings (CreateAcls, KafkaJS's `createAcls({ acl })`); a binding that exists
   * already is a success. Throws the first binding's error as a KafkaError (INVALID_REQUEST,
   * POLICY_VIOLATION, CLUSTER_AUTHORIZATION_FAILED without ALTER on the cluster).
   */
  async createAcls(options: { acl: AclBinding[] }): Promise<true> {
    checkArray(options?.acl, "createAcls({ acl })");
    const creations = options.acl.map((b, i) => creationOf(b, `acl[${i}]`));
    const r = await withRetry(async () => (await this.cluster.anyConnection()).request(30, { creations }));
    for (const [i, result] of r.results.entries())
      Cluster.check(result.errorCode, `create ACL acl[${i}]`, result.errorMessage);
    return true;
  }

  /** The ACL bindings `filter` matches, grouped by resource pattern (DescribeAcls; KafkaJS's answer). */
  async describeAcls(filter: AclFilter = {}): Promise<{ resources: AclResource[] }> {
    const request = filterOf(filter, "filter");
    const r = await withRetry(async () => (await this.cluster.anyConnection()).request(29, request));
    Cluster.check(r.errorCode, "describe ACLs", r.errorMessage);
    return { resources: r.resources.map(resourceOf) };
  }

  /**
   * Deletes the ACL bindings each filter matches (DeleteAcls, KafkaJS's `deleteAcls({ filters })`)
   * and answers, per filter, the bindings it removed. Throws the first filter's error.
   */
  async deleteAcls(options: { filters: AclFilter[] }): Promise<{ filterResponses: AclFilterResponse[] }> {
    checkArray(options?.filters, "deleteAcls({ filters })");
    const filters = options.filters.map((f, i) => filterOf(f, `filters[${i}]`));
    const r = await withRetry(async () => (await this.cluster.anyConnection()).request(31, { filters }));
    for (const [i, result] of r.filterResults.entries())
      Cluster.check(result.errorCode, `delete ACLs by filters[${i}]`, result.errorMessage);
    return {
      filterResponses: r.filterResults.map((f) => ({
        errorCode: f.errorCode,
        errorMessage: f.errorMessage,
        matchingAcls: f.matchingAcls.map(matchingOf),
      })),
    };
  }

  async close(): Promise<void> {
    if (this.owned) await this.cluster.close();
  }
}

function decodeOr<T>(decode: () => T, fallback: T): T {
  try {
    return decode();
  } catch {
    return fallback;
  }
}
