/**
 * What a client knows of the cluster: the brokers, each topic's partitions and their leaders,
 * refreshed from Metadata when a request meets a leader or topic error. Keeps one connection
 * per broker, made on first use and remade after it closes.
 *
 * With a `ws://` bootstrap address every request goes through that WebSocket: Metadata names the
 * brokers' Kafka TCP addresses, which a browser or an HTTP-only network cannot reach.
 *
 * A broker whose request timed out, whose connection broke or that could not be reached is
 * "suspect" (librdkafka marks such a broker down; Kafka's NetworkClient keeps it in reconnect
 * backoff and asks the least-loaded other node): until it answers a request again, or
 * SUSPECT_MS pass, Metadata and the other requests any broker may answer go to the others
 * first, so a refresh after a paused or cut-off leader timed out asks a broker that knows of the
 * new leader instead of waiting out another timeout at the old one.
 */
import { errorCode, KafkaError } from "../protocol/errors.js";
import { Connection, type ConnectionObserver, type ConnectionOptions } from "./connection.js";
import { brokerError, ClientError } from "./errors.js";
import { type RetryOptions, withRetry } from "./retry.js";
import { checkSaslOptions, isAuthenticationError } from "./sasl.js";

export interface ClusterOptions extends ConnectionOptions {
  /** Bootstrap brokers: `host:port` or `ws://host:port/kafka`. */
  brokers: string[];
  retry?: RetryOptions;
  /** Metadata older than this is refreshed before use. */
  metadataMaxAgeMs?: number;
}

export interface PartitionInfo {
  partition: number;
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
}

export interface TopicInfo {
  name: string;
  id: string;
  partitions: PartitionInfo[];
}

export interface BrokerInfo {
  nodeId: number;
  host: string;
  port: number;
}

const UNKNOWN_TOPIC_OR_PARTITION = errorCode("UNKNOWN_TOPIC_OR_PARTITION");
const TOPIC_AUTHORIZATION_FAILED = errorCode("TOPIC_AUTHORIZATION_FAILED");

/**
 * How long a broker stays suspect after a timeout or a failed connection, unless it answers
 * before: long enough to cover the refreshes of a failover (an election takes seconds), short
 * enough that a broker back from a pause soon takes its turn again. Suspicion only reorders the
 * brokers asked; a suspect broker is still asked when no other answers.
 */
export const SUSPECT_MS = 10_000;

export class Cluster {
  private readonly connections = new Map<string, Promise<Connection>>();
  private brokersById = new Map<number, BrokerInfo>();
  private topics = new Map<string, TopicInfo>();
  private refreshedAtMs = 0;
  /** Metadata requests in flight for one topic, shared by every caller that needs it. */
  private readonly topicLookups = new Map<string, Promise<void>>();
  /**
   * The newest state seen of each partition (by topic name and partition), kept across
   * `invalidate`: Metadata naming an older leader epoch than one already seen comes from a
   * broker that has not heard of the newer leader (one cut off from the cluster, say), and the
   * newer state is kept (KIP-320).
   */
  private readonly newest = new Map<string, { topicId: string; partitions: Map<number, PartitionInfo> }>();
  /** Topics the last Metadata answer refused to describe (TOPIC_AUTHORIZATION_FAILED): `topic()` says so. */
  private readonly unauthorized = new Set<string>();
  /** Where `anyConnection` starts in its candidates; moved on by every Metadata request. */
  private anyStart = 0;
  /** Suspect brokers by address: until when (Date.now() ms), unless they answer before. */
  private readonly suspects = new Map<string, number>();
  controllerId = -1;
  clusterId: string | null = null;
  private closed = false;
  private readonly viaWebSocket: boolean;

  constructor(readonly options: ClusterOptions) {
    if (options.brokers.length === 0) throw new ClientError("INVALID_ARGUMENT", "no bootstrap brokers given");
    if (options.sasl !== undefined) checkSaslOptions(options.sasl);
    this.viaWebSocket = options.brokers.some((b) => /^wss?:\/\//.test(b));
  }

  get retry(): RetryOptions {
    return this.options.retry ?? {};
  }

  /** A live connection to `address`, made (or remade) when needed. */
  connection(address: string): Promise<Connection> {
    if (this.closed) return Promise.reject(new ClientError("CLOSED", "client is closed"));
    const existing = this.connections.get(address);
    if (existing) {
      return existing.then((c) => {
        if (!c.closed) return c;
        this.connections.delete(address);
        return this.connection(address);
      });
    }
    const made = this.open(address, this.observer(address));
    this.connections.set(address, made);
    made.catch(() => {
      this.connections.delete(address);
      this.suspect(address);
    });
    return made;
  }

  /** Connects to `address` (a test's stand-in brokers take over here). */
  protected open(address: string, observer: ConnectionObserver): Promise<Connection> {
    return Connection.connect(address, this.options, observer);
  }

  /** What a connection to `address` tells of the broker: answers clear suspicion, failures set it. */
  private observer(address: string): ConnectionObserver {
    return {
      answered: () => this.suspects.delete(address),
      failed: () => this.suspect(address),
    };
  }

  /** Marks `address` suspect for SUSPECT_MS (see the file's header). */
  suspect(address: string): void {
    this.suspects.set(address, Date.now() + SUSPECT_MS);
  }

  /** Whether `address` is suspect now (a mark past its time is dropped). */
  isSuspect(address: string, nowMs = Date.now()): boolean {
    const until = this.suspects.get(address);
    if (until === undefined) return false;
    if (until > nowMs) return true;
    this.suspects.delete(address);
    return false;
  }

  /**
   * A connection to any reachable broker: the bootstrap brokers and those Metadata named, tried
   * in turn from a starting point that each Metadata request moves on (`refresh`), so repeated
   * refreshes ask different brokers rather than the same stale one; suspect brokers are tried
   * after all the others (in the same turn). When none connects and a
   * TLS handshake failed (SSL_HANDSHAKE_FAILED: trust or certificates, which no retry mends),
   * that failure is thrown as it is rather than hidden in a retriable NO_BROKER_AVAILABLE. A refused
   * authentication is thrown at once too: the other brokers hold the same credentials.
   */
  async anyConnection(): Promise<Connection> {
    const known = [...this.options.brokers];
    if (!this.viaWebSocket) for (const b of this.brokersById.values()) known.push(`${b.host}:${b.port}`);
    const unique = [...new Set(known)];
    const start = this.anyStart % unique.length;
    const turn = [...unique.slice(start), ...unique.slice(0, start)];
    const now = Date.now();
    const candidates = [
      ...turn.filter((a) => !this.isSuspect(a, now)),
      ...turn.filter((a) => this.isSuspect(a, now)),
    ];
    let last: unknown;
    let tlsFailure: unknown;
    for (const address of candidates) {
      try {
        return await this.connection(address);
      } catch (err) {
        if (isAuthenticationError(err)) throw err;
        last = err;
        if (err instanceof ClientError && err.code === "SSL_HANDSHAKE_FAILED") tlsFailure ??= err;
      }
    }
    if (tlsFailure) throw tlsFailure;
    throw new ClientError("NO_BROKER_AVAILABLE", `no broker reachable among ${candidates.join(", ")}`, {
      cause: last,
    });
  }

  /** The connection to broker `nodeId`. */
  async brokerConnection(nodeId: number): Promise<Connection> {
    if (this.viaWebSocket) return this.anyConnection();
    let broker = this.brokersById.get(nodeId);
    if (!broker) {
      await this.refresh();
      broker = this.brokersById.get(nodeId);
    }
    if (!broker)
      throw new ClientError("NO_BROKER_AVAILABLE", `broker ${nodeId} is not in the cluster metadata`);
    return this.connection(`${broker.host}:${broker.port}`);
  }

  /** A pooled connection to `broker` (a coordinator named by FindCoordinator, say). */
  brokerAt(broker: BrokerInfo): Promise<Connection> {
    if (this.viaWebSocket) return this.anyConnection();
    return this.connection(`${broker.host}:${broker.port}`);
  }

  /**
   * A new connection to `broker` that no one else uses; the caller closes it. A group member
   * talks to its coordinator on one, so that a JoinGroup the broker holds, or a long-polling fetch,
   * never delays a heartbeat.
   */
  dedicatedConnection(broker: BrokerInfo): Promise<Connection> {
    if (this.closed) return Promise.reject(new ClientError("CLOSED", "client is closed"));
    const address = this.options.brokers.find((b) => /^wss?:\/\//.test(b)) ?? `${broker.host}:${broker.port}`;
    return this.open(address, this.observer(address));
  }

  /**
   * Refreshes metadata for `topics` (all topics when omitted), creating missing ones when
   * `autoCreate` and the broker allows it.
   */
  async refresh(topics?: string[], autoCreate = false, via?: Connection): Promise<void> {
    let preferred = via;
    const response = await withRetry(async () => {
      const conn = preferred ?? (await this.anyConnection());
      // A failed preferred connection is not tried again: the retry goes to any broker.
      if (!preferred) this.anyStart += 1;
      preferred = undefined;
      return conn.request(3, {
        topics: topics ? topics.map((name) => ({ name, topicId: "00000000000000000000000000000000" })) : null,
        allowAutoTopicCreation: autoCreate,
        includeTopicAuthorizedOperations: false,
        includeClusterAuthorizedOperations: false,
      });
    }, this.retry);
    this.brokersById = new Map(
      response.brokers.map((b) => [b.nodeId, { nodeId: b.nodeId, host: b.host, port: b.port }]),
    );
    this.controllerId = response.controllerId ?? -1;
    this.clusterId = response.clusterId ?? null;
    for (const t of response.topics as {
      errorCode: number;
      name: string;
      topicId: string;
      partitions: {
        partitionIndex: number;
        leaderId: number;
        leaderEpoch: number;
        replicaNodes: number[];
        isrNodes: number[];
      }[];
    }[]) {
      if (t.errorCode === TOPIC_AUTHORIZATION_FAILED) this.unauthorized.add(t.name);
      else this.unauthorized.delete(t.name);
      if (t.errorCode !== 0) {
        this.topics.delete(t.name);
        if (t.errorCode === UNKNOWN_TOPIC_OR_PARTITION) this.newest.delete(t.name);
        continue;
      }
      this.topics.set(t.name, {
        name: t.name,
        id: t.topicId,
        partitions: t.partitions
          .map((p) =>
            this.newer(t.name, t.topicId, {
              partition: p.partitionIndex,
              leader: p.leaderId,
              leaderEpoch: p.leaderEpoch,
              replicas: p.replicaNodes,
              isr: p.isrNodes,
            }),
          )
          .sort((a, b) => a.partition - b.partition),
      });
    }
    if (!topics) {
      const names = new Set(response.topics.map((t) => t.name));
      for (const name of this.topics.keys()) if (!names.has(name)) this.topics.delete(name);
      for (const name of this.newest.keys()) if (!names.has(name)) this.newest.delete(name);
    }
    this.refreshedAtMs = Date.now();
  }

  /**
   * `info` as a Metadata answer gives it, or the state seen before when that names a newer leader
   * epoch of the same topic (same id); remembers whichever is kept.
   */
  private newer(topic: string, topicId: string, info: PartitionInfo): PartitionInfo {
    let seen = this.newest.get(topic);
    if (seen?.topicId !== topicId) {
      seen = { topicId, partitions: new Map() };
      this.newest.set(topic, seen);
    }
    const before = seen.partitions.get(info.partition);
    if (before && info.leaderEpoch >= 0 && before.leaderEpoch > info.leaderEpoch) return before;
    seen.partitions.set(info.partition, info);
    return info;
  }

  /**
   * A topic's partitions, fetching metadata when unknown or stale; throws UNKNOWN_TOPIC_OR_PARTITION
   * if it does not exist, TOPIC_AUTHORIZATION_FAILED if the broker would not describe it.
   */
  async topic(name: string, autoCreate = false): Promise<TopicInfo> {
    let info = this.cachedTopic(name);
    if (!info) {
      // Callers asking at once (a producer's first sends) share one Metadata request.
      let pending = this.topicLookups.get(name);
      if (!pending) {
        pending = this.refresh([name], autoCreate).finally(() => this.topicLookups.delete(name));
        this.topicLookups.set(name, pending);
      }
      await pending;
      info = this.topics.get(name);
    }
    if (!info && this.unauthorized.has(name))
      throw new KafkaError("TOPIC_AUTHORIZATION_FAILED", `topic ${name}: not authorized to describe it`);
    if (!info) throw new KafkaError("UNKNOWN_TOPIC_OR_PARTITION", `topic ${name} does not exist`);
    return info;
  }

  /** The topic's metadata if cached and fresh, without waiting: the producer's fast path. */
  cachedTopic(name: string, nowMs = Date.now()): TopicInfo | undefined {
    const maxAge = this.options.metadataMaxAgeMs ?? 300_000;
    if (nowMs - this.refreshedAtMs > maxAge) return undefined;
    return this.topics.get(name);
  }

  knownTopics(): TopicInfo[] {
    return [...this.topics.values()];
  }

  brokers(): BrokerInfo[] {
    return [...this.brokersById.values()];
  }

  /** Forgets a topic so the next use refreshes it (after a leader or topic error). */
  invalidate(topic?: string): void {
    if (topic) this.topics.delete(topic);
    else this.refreshedAtMs = 0;
  }

  /** Throws the KafkaError for a non-zero error code. */
  static check(code: number, what: string, message?: string | null): void {
    if (code !== 0) throw brokerError(code, what, message);
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.connections.values()];
    this.connections.clear();
    const closing: Promise<void>[] = [];
    for (const c of await Promise.allSettled(all))
      if (c.status === "fulfilled") closing.push(c.value.close());
    // Bytes already written (an acks=0 producer's last requests) are sent before the sockets go.
    await Promise.all(closing);
  }
}
