/**
 * Where a REST consumer instance's Kafka requests go in a cluster (issue 16: the HTTP API is
 * cluster-aware). Group requests (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit,
 * OffsetFetch) go to the group's coordinator, found with FindCoordinator run here as the
 * instance's creator; Fetch and ListOffsets go to each partition's leader, read from the cluster
 * store at each request. This broker is asked through Dispatcher.handle (call-api.ts), another
 * over a connection of the instance's own (peers.ts `ownPeerConnection`): one to the coordinator
 * and one per leader, as a Kafka consumer keeps apart its coordinator connection, so a JoinGroup
 * that waits for a rebalance never holds up another instance's heartbeat or this one's fetch.
 *
 * The coordinator is found again after NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE or a failed
 * peer request (the connection is dropped), up to ATTEMPTS_MAX times RETRY_BACKOFF_MS apart;
 * ListOffsets likewise after NOT_LEADER_OR_FOLLOWER / LEADER_NOT_AVAILABLE; a Fetch partition
 * whose leader failed or moved answers NOT_LEADER_OR_FOLLOWER and is asked of its new leader at
 * the next poll. A Fetch asking several brokers waits at most FETCH_ROUND_MS per round (rounds
 * repeat until records come or the poll's wait ends), so records from one leader are not held
 * back by another's long poll.
 *
 * SECURITY: a peer runs a forwarded request as THIS BROKER's principal (a super user on a secured
 * inter-broker listener), so nothing is forwarded that the request's principal may not do here.
 * Before forwarding, `GroupChecks` asks the caller's own authorize functions (server.caller,
 * broker/security/authorize.ts) what the handler would: READ on the group (JoinGroup, SyncGroup,
 * Heartbeat, LeaveGroup, OffsetCommit), DESCRIBE on it (OffsetFetch, as FindCoordinator), READ on
 * each topic (Fetch, OffsetCommit), DESCRIBE on each topic (ListOffsets, OffsetFetch). A refused
 * group request is run by this broker's own handler, which checks the group first and answers its
 * GROUP_AUTHORIZATION_FAILED; refused Fetch and ListOffsets topics are likewise asked of this
 * broker's handler (topic checks come before leadership there), and refused OffsetCommit and
 * OffsetFetch topics are answered TOPIC_AUTHORIZATION_FAILED here, as the handler answers them.
 * The consumer routes turn those into Confluent's 40301, as for a single broker.
 *
 * The group routes (groups.ts, group-offsets.ts) use the same calls for DescribeGroups (DESCRIBE
 * on the group, checked the same way), OffsetFetch and OffsetCommit, made per HTTP request with
 * `peers: "shared"`: other brokers are then asked over the HTTP server's shared peer connections
 * (peers.ts `peerQueries`), as none of those requests waits long.
 */
import type { Logger } from "pino";
import type { Connection } from "../../../client/connection.js";
import { type ErrorName, errorCode, errorName, KafkaError } from "../../../protocol/errors.js";
import type { ApiKey, RequestOf, ResponseOf } from "../../../protocol/types/index.js";
import type { Broker } from "../../broker.js";
import { callApi, type HttpCaller } from "../call-api.js";
import { ownPeerConnection, peerQueries } from "../peers.js";

const FETCH = 1;
const LIST_OFFSETS = 2;
const OFFSET_COMMIT = 8;
const OFFSET_FETCH = 9;
const FIND_COORDINATOR = 10;
const JOIN_GROUP = 11;
const HEARTBEAT = 12;
const LEAVE_GROUP = 13;
const SYNC_GROUP = 14;
const DESCRIBE_GROUPS = 15;

export type GroupApiKey =
  | typeof OFFSET_COMMIT
  | typeof OFFSET_FETCH
  | typeof JOIN_GROUP
  | typeof HEARTBEAT
  | typeof LEAVE_GROUP
  | typeof SYNC_GROUP
  | typeof DESCRIBE_GROUPS;

/**
 * How another broker is asked: over connections of this object's own (a REST consumer instance,
 * whose JoinGroup and Fetch may wait long) or over the HTTP server's shared peer connections (one
 * short request each, a group route's).
 */
export type PeerConnections = "own" | "shared";

export const ATTEMPTS_MAX = 5;
export const RETRY_BACKOFF_MS = 100;
export const FETCH_ROUND_MS = 500;
/** A peer request's time beyond what it may wait by itself (a JoinGroup's rebalance, a Fetch's wait). */
const PEER_MARGIN_MS = 5000;
/** JoinGroup and SyncGroup may wait for the whole rebalance (member.ts REBALANCE_TIMEOUT_MS). */
const GROUP_WAIT_MS = 30_000;

const COORDINATOR_MOVED = new Set<ErrorName>(["NOT_COORDINATOR", "COORDINATOR_NOT_AVAILABLE"]);
const LEADER_MOVED = new Set<ErrorName>(["NOT_LEADER_OR_FOLLOWER", "LEADER_NOT_AVAILABLE"]);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

type Authorize = HttpCaller["authorize"];

/** What the handlers check before anything else, asked as the request's principal. */
export const GroupChecks = {
  /** Whether the principal may send `apiKey` for `group` (the handler's group check). */
  group(authorize: Authorize, apiKey: GroupApiKey, group: string): boolean {
    const describes = apiKey === OFFSET_FETCH || apiKey === DESCRIBE_GROUPS;
    return authorize(describes ? "DESCRIBE" : "READ", "GROUP", group);
  },
  /** The topics of `names` the principal may not use in `apiKey` (READ to fetch or commit, else DESCRIBE). */
  refusedTopics(authorize: Authorize, apiKey: ApiKey, names: Iterable<string>): Set<string> {
    const operation = apiKey === FETCH || apiKey === OFFSET_COMMIT ? "READ" : "DESCRIBE";
    const refused = new Set<string>();
    for (const name of names) if (!authorize(operation, "TOPIC", name)) refused.add(name);
    return refused;
  },
};

/** The error a group response answers as a whole (its first partition's, for OffsetCommit). */
function groupError(apiKey: GroupApiKey, response: ResponseOf<GroupApiKey>): ErrorName | null {
  let code = 0;
  if (apiKey === OFFSET_COMMIT) code = (response as ResponseOf<8>).topics[0]?.partitions[0]?.errorCode ?? 0;
  else if (apiKey === OFFSET_FETCH) code = (response as ResponseOf<9>).groups?.[0]?.errorCode ?? 0;
  else if (apiKey === DESCRIBE_GROUPS) code = (response as ResponseOf<15>).groups[0]?.errorCode ?? 0;
  else code = (response as { errorCode: number }).errorCode;
  return code === 0 ? null : errorName(code);
}

export class ForwardingCalls {
  private readonly self: number;
  private coordinator: number | null = null;
  /** The instance's own peer connections, by purpose and node id ("group:2", "fetch:3"). */
  private readonly conns = new Map<string, { epoch: number; conn: Promise<Connection> }>();
  private closed = false;

  constructor(
    private readonly broker: Broker,
    private readonly caller: HttpCaller,
    private readonly group: string,
    private readonly log: Pick<Logger, "debug">,
    private readonly peers: PeerConnections = "own",
  ) {
    this.self = broker.config.nodeId;
  }

  private local<K extends ApiKey>(apiKey: K, version: number, request: RequestOf<K>): Promise<ResponseOf<K>> {
    return callApi(this.broker.dispatcher, this.caller, apiKey, version, request);
  }

  /** `request` to broker `nodeId`: here through the handlers, else over the instance's `purpose` connection. */
  private async ask<K extends ApiKey>(
    purpose: "group" | "fetch",
    nodeId: number,
    apiKey: K,
    version: number,
    request: RequestOf<K>,
    waitMs: number,
  ): Promise<ResponseOf<K>> {
    if (nodeId === this.self) return this.local(apiKey, version, request);
    if (this.peers === "shared") return peerQueries(this.broker).send(nodeId, apiKey, version, request);
    const conn = await this.connection(purpose, nodeId);
    try {
      return await conn.send(apiKey, version, request, waitMs + PEER_MARGIN_MS);
    } catch (err) {
      this.drop(`${purpose}:${nodeId}`);
      throw err;
    }
  }

  private async connection(purpose: string, nodeId: number): Promise<Connection> {
    if (this.closed) throw new KafkaError("BROKER_NOT_AVAILABLE", "the consumer instance is closed");
    const key = `${purpose}:${nodeId}`;
    const epoch = this.broker.store.broker(nodeId)?.epoch ?? -1;
    let entry = this.conns.get(key);
    if (entry !== undefined && entry.epoch !== epoch) this.drop(key);
    entry = this.conns.get(key);
    if (entry === undefined) {
      const clientId = `samsa-broker-${this.self}-rest-consumer`;
      entry = { epoch, conn: ownPeerConnection(this.broker, nodeId, clientId) };
      entry.conn.catch(() => {});
      this.conns.set(key, entry);
    }
    try {
      const conn = await entry.conn;
      if (!conn.closed) return conn;
    } catch (err) {
      if (this.conns.get(key) === entry) this.conns.delete(key);
      throw err;
    }
    this.drop(key);
    throw new KafkaError("BROKER_NOT_AVAILABLE", `connection to broker ${nodeId} closed`);
  }

  private drop(key: string): void {
    const entry = this.conns.get(key);
    if (entry === undefined) return;
    this.conns.delete(key);
    entry.conn.then(
      (conn) => void conn.close().catch(() => {}),
      () => {},
    );
  }

  /** The group's coordinator, asked of this broker's FindCoordinator as the caller. */
  private async findCoordinator(): Promise<number> {
    const response = await this.local(FIND_COORDINATOR, 4, { keyType: 0, coordinatorKeys: [this.group] });
    const found = response.coordinators?.[0];
    if (!found) throw new KafkaError("COORDINATOR_NOT_AVAILABLE", `no coordinator for group ${this.group}`);
    if (found.errorCode !== 0)
      throw new KafkaError(
        errorName(found.errorCode),
        found.errorMessage ?? `coordinator of group ${this.group}`,
      );
    return found.nodeId;
  }

  /** A group request, at the group's coordinator; refused ones answered by this broker's handler. */
  async groupCall<K extends GroupApiKey>(
    apiKey: K,
    version: number,
    request: RequestOf<K>,
  ): Promise<ResponseOf<K>> {
    if (!GroupChecks.group(this.caller.authorize, apiKey, this.group))
      return this.local(apiKey, version, request);
    if (apiKey === OFFSET_COMMIT)
      return this.commit(version, request as RequestOf<8>) as Promise<ResponseOf<K>>;
    if (apiKey === OFFSET_FETCH)
      return this.offsetFetch(version, request as RequestOf<9>) as Promise<ResponseOf<K>>;
    return this.atCoordinator(apiKey, version, request);
  }

  private async atCoordinator<K extends GroupApiKey>(
    apiKey: K,
    version: number,
    request: RequestOf<K>,
  ): Promise<ResponseOf<K>> {
    const waitMs = apiKey === JOIN_GROUP || apiKey === SYNC_GROUP ? GROUP_WAIT_MS : 0;
    for (let attempt = 1; ; attempt++) {
      const last = attempt >= ATTEMPTS_MAX;
      try {
        this.coordinator ??= await this.findCoordinator();
        const response = await this.ask("group", this.coordinator, apiKey, version, request, waitMs);
        const error = groupError(apiKey, response);
        if (error === null || !COORDINATOR_MOVED.has(error) || last) return response;
        this.coordinator = null;
      } catch (err) {
        this.coordinator = null;
        const retriable =
          !KafkaError.is(err) || COORDINATOR_MOVED.has(err.code) || err.code === "BROKER_NOT_AVAILABLE";
        if (last || !retriable) throw err;
        this.log.debug({ err, group: this.group }, "REST consumer: the group's coordinator did not answer");
      }
      await sleep(RETRY_BACKOFF_MS);
    }
  }

  /** OffsetCommit: topics the caller may not READ answered TOPIC_AUTHORIZATION_FAILED, the rest forwarded. */
  private async commit(version: number, request: RequestOf<8>): Promise<ResponseOf<8>> {
    const refused = GroupChecks.refusedTopics(
      this.caller.authorize,
      OFFSET_COMMIT,
      request.topics.map((t) => t.name ?? ""),
    );
    const allowed = request.topics.filter((t) => !refused.has(t.name ?? ""));
    const response: ResponseOf<8> =
      allowed.length > 0
        ? await this.atCoordinator(OFFSET_COMMIT, version, { ...request, topics: allowed })
        : { throttleTimeMs: 0, topics: [] };
    const denied = errorCode("TOPIC_AUTHORIZATION_FAILED");
    for (const t of request.topics)
      if (refused.has(t.name ?? ""))
        response.topics.push({
          name: t.name,
          partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: denied })),
        });
    return response;
  }

  /** OffsetFetch (v8, one group): topics the caller may not DESCRIBE answered TOPIC_AUTHORIZATION_FAILED, offset -1. */
  private async offsetFetch(version: number, request: RequestOf<9>): Promise<ResponseOf<9>> {
    const asked = request.groups?.[0]?.topics ?? null;
    const refused = GroupChecks.refusedTopics(
      this.caller.authorize,
      OFFSET_FETCH,
      (asked ?? []).map((t) => t.name ?? ""),
    );
    if (asked === null) {
      // Every topic of the group, as the coordinator (this broker's principal) sees them: only those the caller may DESCRIBE.
      const response = await this.atCoordinator(OFFSET_FETCH, version, request);
      for (const g of response.groups ?? [])
        g.topics = g.topics.filter((t) => this.caller.authorize("DESCRIBE", "TOPIC", t.name ?? ""));
      return response;
    }
    if (refused.size === 0) return this.atCoordinator(OFFSET_FETCH, version, request);
    const allowed = asked.filter((t) => !refused.has(t.name ?? ""));
    const response: ResponseOf<9> =
      allowed.length > 0
        ? await this.atCoordinator(OFFSET_FETCH, version, {
            ...request,
            groups: [{ groupId: this.group, topics: allowed }],
          })
        : { throttleTimeMs: 0, groups: [{ groupId: this.group, topics: [], errorCode: 0 }] };
    const group = response.groups?.[0];
    const denied = errorCode("TOPIC_AUTHORIZATION_FAILED");
    for (const t of asked)
      if (refused.has(t.name ?? ""))
        group?.topics.push({
          name: t.name,
          partitions: (t.partitionIndexes ?? []).map((partitionIndex) => ({
            partitionIndex,
            committedOffset: -1,
            committedLeaderEpoch: -1,
            metadata: "",
            errorCode: denied,
          })),
        });
    return response;
  }

  /** The leader of `topic`'s `partition` in the store; this broker (whose handler answers) when unknown. */
  private leaderOf(topic: string, partition: number): number {
    const leader = this.broker.store.topic(topic)?.partitions[partition]?.leader ?? -1;
    return leader >= 0 && this.broker.store.broker(leader) !== undefined ? leader : this.self;
  }

  /**
   * Groups `topics`' partitions by the broker to ask: its leader, or this broker for a topic the
   * caller may not use (its handler refuses it as it always does).
   */
  private byBroker<P extends { partition?: number; partitionIndex?: number }>(
    apiKey: ApiKey,
    topics: { name: string; partitions: P[] }[],
  ): Map<number, { name: string; partitions: P[] }[]> {
    const refused = GroupChecks.refusedTopics(
      this.caller.authorize,
      apiKey,
      topics.map((t) => t.name),
    );
    const out = new Map<number, { name: string; partitions: P[] }[]>();
    for (const t of topics)
      for (const p of t.partitions) {
        const index = p.partition ?? p.partitionIndex ?? -1;
        const node = refused.has(t.name) ? this.self : this.leaderOf(t.name, index);
        const list = out.get(node) ?? [];
        const entry = list.find((e) => e.name === t.name);
        if (entry) entry.partitions.push(p);
        else list.push({ name: t.name, partitions: [p] });
        out.set(node, list);
      }
    return out;
  }

  /** ListOffsets at each partition's leader, asked again (leader found again) when it moved. */
  async listOffsets(version: number, request: RequestOf<2>): Promise<ResponseOf<2>> {
    for (let attempt = 1; ; attempt++) {
      const response = await this.listOffsetsOnce(version, request);
      const moved = response.topics.some((t) =>
        t.partitions.some((p) => p.errorCode !== 0 && LEADER_MOVED.has(errorName(p.errorCode))),
      );
      if (!moved || attempt >= ATTEMPTS_MAX) return response;
      await sleep(RETRY_BACKOFF_MS);
    }
  }

  private async listOffsetsOnce(version: number, request: RequestOf<2>): Promise<ResponseOf<2>> {
    const plan = this.byBroker(LIST_OFFSETS, request.topics);
    const parts = await Promise.all(
      [...plan].map(async ([node, topics]) => {
        try {
          return await this.ask("fetch", node, LIST_OFFSETS, version, { ...request, topics }, 0);
        } catch (err) {
          this.log.debug({ err, node }, "REST consumer: a leader did not answer ListOffsets");
          const code = errorCode("NOT_LEADER_OR_FOLLOWER");
          return {
            topics: topics.map((t) => ({
              name: t.name,
              partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: code })),
            })),
          };
        }
      }),
    );
    return { throttleTimeMs: 0, topics: mergeTopics(parts.flatMap((r) => r.topics)) };
  }

  /**
   * Fetch at each partition's leader. One broker asked: one fetch waiting `request.maxWaitMs`.
   * Several: rounds of at most FETCH_ROUND_MS each, until one answers records or the wait ends.
   */
  async fetch(version: number, request: RequestOf<1>): Promise<ResponseOf<1>> {
    const topics = request.topics.map((t) => ({ name: t.topic ?? "", partitions: t.partitions }));
    const plan = this.byBroker(FETCH, topics);
    if (plan.size === 1 && plan.has(this.self)) return this.local(FETCH, version, request);
    const deadline = Date.now() + request.maxWaitMs;
    for (;;) {
      const wait = plan.size === 1 ? request.maxWaitMs : Math.min(FETCH_ROUND_MS, deadline - Date.now());
      const answers = await Promise.all(
        [...plan].map(([node, list]) => this.fetchFrom(node, version, request, list, Math.max(wait, 0))),
      );
      const responses = answers.flatMap((r) => r.responses);
      const anyRecords = responses.some((t) => t.partitions.some((p) => (p.records?.length ?? 0) > 0));
      if (anyRecords || Date.now() >= deadline || plan.size === 1)
        return { throttleTimeMs: 0, errorCode: 0, sessionId: 0, responses };
    }
  }

  private async fetchFrom(
    node: number,
    version: number,
    request: RequestOf<1>,
    topics: { name: string; partitions: RequestOf<1>["topics"][number]["partitions"] }[],
    waitMs: number,
  ): Promise<ResponseOf<1>> {
    const asked = {
      ...request,
      maxWaitMs: waitMs,
      topics: topics.map((t) => ({ topic: t.name, partitions: t.partitions })),
    };
    try {
      const response = await this.ask("fetch", node, FETCH, version, asked, waitMs);
      if (!response.errorCode) return response;
      throw new KafkaError(errorName(response.errorCode), `fetching from broker ${node}`);
    } catch (err) {
      // Its partitions are read at the next poll, from their leader then.
      this.log.debug({ err, node }, "REST consumer: a leader did not answer Fetch");
      const code = errorCode("NOT_LEADER_OR_FOLLOWER");
      return {
        responses: topics.map((t) => ({
          topic: t.name,
          partitions: t.partitions.map((p) => ({
            partitionIndex: p.partition,
            errorCode: code,
            highWatermark: -1,
            records: null,
          })),
        })),
      };
    }
  }

  /** Closes the instance's peer connections. */
  close(): void {
    this.closed = true;
    for (const key of [...this.conns.keys()]) this.drop(key);
  }
}

function mergeTopics<T extends { name: string; partitions: unknown[] }>(topics: T[]): T[] {
  const out = new Map<string, T>();
  for (const t of topics) {
    const seen = out.get(t.name);
    if (seen) seen.partitions.push(...t.partitions);
    else out.set(t.name, { ...t, partitions: [...t.partitions] });
  }
  return [...out.values()];
}
