/**
 * A follower's replica fetcher for one source broker (the leader of every partition it holds),
 * as Kafka's `ReplicaFetcherThread`: one connection (client/connection.ts, docs/decisions/0024),
 * one request at a time, a loop that
 *
 * 1. truncates partitions that just became followers: one OffsetForLeaderEpoch round for their
 *    latest epoch (KIP-101/279), then the truncation rule below; a log with records and no epoch
 *    truncates to its high watermark instead (Kafka's fallback);
 * 2. fetches the others from their log end offset with their latest epoch as LastFetchedEpoch
 *    (Fetch v15 with ReplicaState, this broker's epoch, when every partition has a topic id; else
 *    v12, which cannot carry the epoch), and applies each answer: a diverging epoch -> the
 *    truncation rule, and fetching goes on (KIP-320: a second divergence is found by the next
 *    fetch; one that changes nothing waits replica.fetch.backoff.ms); records ->
 *    `appendAsFollower` (an empty log restarted inside the leader's first batch first restarts at
 *    that batch's base, as Kafka's follower does); the leader's high watermark and log start ->
 *    `updateFollowerHighWatermark`, `updateFollowerLogStartOffset`; OFFSET_OUT_OF_RANGE -> the
 *    next round asks the leader's log end (ListOffsets latest, as a replica) and, unless it is
 *    below the fetch offset, its log start (earliest), as Kafka's `handleOffsetOutOfRange`: a
 *    fetch offset past the leader's end (where epochs could not tell) truncates to that end, one
 *    below the leader's start -> `truncateFullyAndStartAt` there, one in range again is fetched
 *    after the backoff; FENCED_LEADER_EPOCH -> the partition waits for new metadata (its epoch is
 *    stale until the replica manager re-points it); NOT_LEADER_OR_FOLLOWER and
 *    UNKNOWN_LEADER_EPOCH -> it waits too, and retries after replica.fetch.backoff.ms in case the
 *    leader is the one behind (as Kafka delays such partitions); any other error -> that backoff;
 * 3. on a lost connection or a failed request: closes it, waits replica.fetch.backoff.ms, reconnects.
 *
 * The truncation rule (Kafka's): the leader says its epoch E ends at O. O undefined -> truncate to
 * the high watermark. The follower's own end of E: the same epoch -> truncate to the lesser of the
 * two ends (done); an older local epoch -> truncate to the lesser of its end and the log end, and
 * the next round (OffsetForLeaderEpoch or the next fetch's divergence) goes on from there; no
 * local epoch that old -> truncate to the lesser of O and the log end (done).
 *
 * An answer is applied only if the partition is still followed under the same `add` (a
 * generation), still follows this leader, and its log end is still the offset fetched; the
 * Partition's follower methods get the leader epoch the request was made under and refuse it once
 * the partition moved on (FENCED_LEADER_EPOCH: held back). `remove` waits for an answer being
 * applied, so nothing is appended after it resolves. `stop` closes the connection (also one still
 * being opened) and every timer, and resolves once the loop has ended.
 */
import type { Logger } from "pino";
import { Connection } from "../../client/connection.js";
import { type ErrorName, errorName, KafkaError } from "../../protocol/errors.js";
import type { FetchRequestData, FetchResponseData, PartitionData } from "../../protocol/types/fetch.js";
import type {
  ListOffsetsRequestData,
  ListOffsetsResponseData,
  ListOffsetsTopic,
} from "../../protocol/types/list-offsets.js";
import type {
  OffsetForLeaderEpochRequestData,
  OffsetForLeaderEpochResponseData,
  OffsetForLeaderTopic,
} from "../../protocol/types/offset-for-leader-epoch.js";
import { readInt64 } from "../../protocol/varint.js";
import type { BrokerConfig } from "../config.js";
import type { EpochEndOffset, Partition } from "../partition.js";
import { type ConnectFailed, hostPort } from "./peer-fencer.js";
import { type PeerSecurity, peerSecurity } from "./peer-security.js";

const FETCH = 1;
const OFFSET_FOR_LEADER_EPOCH = 23;
const LIST_OFFSETS = 2;
/** The first version with CurrentLeaderEpoch (KIP-320), so the leader fences a stale ask. */
const LIST_OFFSETS_VERSION = 4;
/** ListOffsets timestamps: the log end (for a replica) and the log start. */
const LATEST_OFFSET = -1;
const EARLIEST_OFFSET = -2;
/** Topics by name, ReplicaId and LastFetchedEpoch (KIP-320). */
const FETCH_VERSION_BY_NAME = 12;
/** Topics by id (KIP-516) and ReplicaState (KIP-903's replica epoch). */
const FETCH_VERSION_BY_ID = 15;
/** The first version with ReplicaId (so the leader knows a follower asks); flexible. */
const OFFSET_FOR_LEADER_EPOCH_VERSION = 4;
/** Sessionless: every fetch is a full one (the leader creates no session). */
const FINAL_SESSION_EPOCH = -1;
const NO_EPOCH = -1;
/** A batch starts with its int64 base offset. */
const BASE_OFFSET_BYTES = 8;
/** The longest idle wait between looks at delayed partitions. */
const IDLE_WAIT_MS_MAX = 60_000;

/** Where the leader listens. */
export interface LeaderEndpoint {
  nodeId: number;
  host: string;
  port: number;
}

/** The replica.fetch.* settings (broker/config.ts) and who this broker is. */
export interface ReplicaFetcherSettings {
  /** This broker's node id: the replica id it fetches as. */
  localId: number;
  /**
   * This broker's registration epoch, read at each fetch (its session's epoch): sent as
   * ReplicaState.ReplicaEpoch (Fetch v15+) so the leader can tell a restarted follower (KIP-903).
   */
  brokerEpoch: () => number;
  /** replica.fetch.wait.max.ms: how long the leader may hold a fetch that finds too little. */
  waitMaxMs: number;
  /** replica.fetch.min.bytes */
  minBytes: number;
  /** replica.fetch.max.bytes: per partition. */
  maxBytes: number;
  /** replica.fetch.response.max.bytes: per fetch. */
  responseMaxBytes: number;
  /** replica.fetch.backoff.ms: the pause after a failed request or a partition's error. */
  backoffMs: number;
  /** replica.socket.timeout.ms: connect and request timeout (above waitMaxMs). */
  socketTimeoutMs: number;
  /** Told of every failed connection to a leader (a `PeerFencer`, decision 0033). */
  connectFailed?: ConnectFailed;
  /** TLS and SASL of each new connection to a leader (peer-security.ts); absent: plaintext. */
  security?: () => PeerSecurity;
  /** Told of the batches of each answer once they are appended (the broker's replication-in metrics). */
  copied?: (topic: string, records: Buffer) => void;
  logger?: Logger;
}

/**
 * The settings of `config`'s replica.fetch.* keys and inter-broker security, with this broker's
 * epoch and logger.
 */
export function replicaFetcherSettings(
  config: BrokerConfig,
  extra: Pick<ReplicaFetcherSettings, "brokerEpoch" | "logger" | "connectFailed" | "copied">,
): ReplicaFetcherSettings {
  return {
    localId: config.nodeId,
    waitMaxMs: config.replicaFetchWaitMaxMs,
    minBytes: config.replicaFetchMinBytes,
    maxBytes: config.replicaFetchMaxBytes,
    responseMaxBytes: config.replicaFetchResponseMaxBytes,
    backoffMs: config.replicaFetchBackoffMs,
    socketTimeoutMs: config.replicaSocketTimeoutMs,
    security: peerSecurity(config),
    ...extra,
  };
}

/**
 * Where a followed partition is: truncating its log (also after OFFSET_OUT_OF_RANGE), fetching, or
 * held back (error or stale metadata).
 */
export type FollowPhase = "truncating" | "fetching" | "waiting";

/** One followed partition. */
interface Follow {
  partition: Partition;
  /** 32 hex digits, or null when the caller gave none (then the fetcher speaks Fetch v12). */
  topicId: string | null;
  /** Bumped by every `add`: answers to an earlier one are dropped. */
  generation: number;
  truncating: boolean;
  /** The leader answered OFFSET_OUT_OF_RANGE: the next round asks its log end and start. */
  outOfRange: boolean;
  /** Held back until this time (Infinity: until `add` re-points it). */
  retryAtMs: number;
}

/** Where to truncate by Kafka's rule, given the leader's end of an epoch (see the file comment). */
export function truncationOffset(leader: EpochEndOffset, partition: Partition): number {
  const logEnd = partition.logEndOffset;
  if (leader.endOffset < 0 || leader.epoch < 0) return Math.min(partition.highWatermark, logEnd);
  const local = partition.localEpochEndOffset(leader.epoch);
  if (local.epoch < 0 || local.endOffset < 0) return Math.min(leader.endOffset, logEnd);
  if (local.epoch === leader.epoch) return Math.min(leader.endOffset, local.endOffset, logEnd);
  // The leader has no epoch between the local one and its own: what follows the local one goes,
  // and the next round compares the local epoch.
  return Math.min(local.endOffset, logEnd);
}

/** SASL failures: the leader refused this broker's login (client/sasl.ts raises these). */
const LOGIN_ERRORS: readonly ErrorName[] = [
  "SASL_AUTHENTICATION_FAILED",
  "UNSUPPORTED_SASL_MECHANISM",
  "ILLEGAL_SASL_STATE",
];
const loginRefused = (err: unknown): boolean => KafkaError.is(err) && LOGIN_ERRORS.includes(err.code);

const key = (p: Partition): string => `${p.topic}\u0000${p.index}`;

/** One fetched partition of a request: what it asked, to check the answer against. */
interface Asked {
  follow: Follow;
  generation: number;
  fetchOffset: number;
  /** The partition's leader epoch when asked: the answer is applied under it or not at all. */
  leaderEpoch: number;
}

function asked(follow: Follow, fetchOffset: number): Asked {
  return { follow, generation: follow.generation, fetchOffset, leaderEpoch: follow.partition.leaderEpoch };
}

export class ReplicaFetcher {
  private readonly follows = new Map<string, Follow>();
  private nextGeneration = 1;
  private conn: Connection | null = null;
  /** Whether the last connect failed, and whether the last failure was retried without a pause. */
  private connectFailedLast = false;
  private retriedAtOnce = false;
  private loop: Promise<void> | null = null;
  /** The answer being applied (`remove` waits for it). */
  private applying: Promise<void> = Promise.resolve();
  private stopping = false;
  private wakeUp: (() => void) | null = null;

  constructor(
    readonly leader: LeaderEndpoint,
    private readonly settings: ReplicaFetcherSettings,
  ) {}

  get address(): string {
    return hostPort(this.leader.host, this.leader.port);
  }

  /** The followed partitions. */
  partitions(): Partition[] {
    return [...this.follows.values()].map((f) => f.partition);
  }

  /** Where `partition` is, or undefined when this fetcher does not hold it. */
  phase(partition: Partition, nowMs = Date.now()): FollowPhase | undefined {
    const f = this.follows.get(key(partition));
    if (!f) return undefined;
    if (f.retryAtMs > nowMs) return "waiting";
    return f.truncating || f.outOfRange ? "truncating" : "fetching";
  }

  /**
   * Follows `partition` (a follower of this fetcher's leader) from its log end, truncating it
   * first. Adding it again (a new leader epoch, or after FENCED_LEADER_EPOCH) starts it over.
   */
  add(partition: Partition, topicId: string | null = null): void {
    this.follows.set(key(partition), {
      partition,
      topicId,
      generation: this.nextGeneration++,
      truncating: true,
      outOfRange: false,
      retryAtMs: 0,
    });
    this.wake();
  }

  /** Stops following `partition`; resolves once no answer for it is being applied. */
  async remove(partition: Partition): Promise<void> {
    this.follows.delete(key(partition));
    await this.applying;
  }

  /** Starts the loop (once). */
  start(): void {
    if (this.loop || this.stopping) return;
    this.loop = this.run();
  }

  /** Ends the loop: closes the connection (or the one being opened) and every timer. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake();
    const closing = this.conn?.close();
    await this.loop;
    await closing;
  }

  private wake(): void {
    const wake = this.wakeUp;
    this.wakeUp = null;
    wake?.();
  }

  /** Waits `ms`, or less if woken (add, stop). */
  private pause(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.wakeUp === done) this.wakeUp = null;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, Math.min(ms, IDLE_WAIT_MS_MAX)));
      this.wakeUp = done;
    });
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.step();
        this.retriedAtOnce = false;
      } catch (err) {
        if (this.stopping) break;
        // A connection that worked until now is tried again at once (once until a round
        // succeeds), so that a leader whose process died is found refusing (and fenced) without
        // waiting a backoff first.
        const atOnce = this.conn !== null && !this.connectFailedLast && !this.retriedAtOnce;
        this.retriedAtOnce = atOnce;
        this.settings.logger?.warn(
          { err, leader: this.leader.nodeId, address: this.address, atOnce },
          loginRefused(err)
            ? "replica fetcher cannot log in to the leader (sasl.jaas.config, sasl.mechanism.inter.broker.protocol, the user's credential); backing off"
            : "replica fetch failed; backing off",
        );
        await this.disconnect();
        await this.pause(atOnce ? 0 : this.settings.backoffMs);
      }
    }
    await this.disconnect();
  }

  /** One round: connect if needed, truncate the partitions that must, fetch the others. */
  private async step(): Promise<void> {
    const now = Date.now();
    const ready = [...this.follows.values()].filter((f) => f.retryAtMs <= now);
    if (ready.length === 0) {
      await this.pause(this.nextRetryMs(now));
      return;
    }
    const conn = await this.connect();
    if (!conn) return;
    const truncating = ready.filter((f) => f.truncating);
    if (truncating.length > 0) {
      await this.truncate(conn, truncating);
      return;
    }
    const outOfRange = ready.filter((f) => f.outOfRange);
    if (outOfRange.length > 0) {
      await this.resetOutOfRange(conn, outOfRange);
      return;
    }
    await this.fetch(conn, ready);
  }

  private nextRetryMs(now: number): number {
    let next = Number.POSITIVE_INFINITY;
    for (const f of this.follows.values()) next = Math.min(next, f.retryAtMs);
    return next === Number.POSITIVE_INFINITY ? IDLE_WAIT_MS_MAX : next - now;
  }

  /** The open connection, a new one, or null when stopped meanwhile (the new one is closed). */
  private async connect(): Promise<Connection | null> {
    if (this.conn && !this.conn.closed) return this.conn;
    const conn = await Connection.connect(this.address, {
      ...this.settings.security?.(),
      clientId: `samsa-replica-fetcher-${this.settings.localId}`,
      connectTimeoutMs: this.settings.socketTimeoutMs,
      requestTimeoutMs: this.settings.socketTimeoutMs,
    }).catch((err: unknown) => {
      this.connectFailedLast = true;
      this.settings.connectFailed?.(this.leader.nodeId, this.address, err);
      throw err;
    });
    this.connectFailedLast = false;
    if (this.stopping) {
      await conn.close();
      return null;
    }
    this.conn = conn;
    return conn;
  }

  private async disconnect(): Promise<void> {
    const conn = this.conn;
    this.conn = null;
    await conn?.close();
  }

  // ---------------------------------------------------------------------------------------------
  // Truncation on becoming a follower (KIP-101/279)

  private async truncate(conn: Connection, follows: Follow[]): Promise<void> {
    const asking: Asked[] = [];
    for (const f of follows) {
      const p = f.partition;
      if (p.logEndOffset === p.logStartOffset) f.truncating = false;
      else if (p.latestEpoch >= 0) asking.push(asked(f, -1));
      // Records without an epoch: only the high watermark is known to be the leader's too.
      else {
        const a = asked(f, -1);
        this.applying = this.applyGuarded(f, f.generation, () => this.truncateTo(a, p.highWatermark));
        await this.applying;
      }
    }
    if (asking.length === 0) return;
    const request = epochRequest(this.settings.localId, asking);
    const response = await conn.send(OFFSET_FOR_LEADER_EPOCH, OFFSET_FOR_LEADER_EPOCH_VERSION, request);
    this.applying = this.applyEpochs(response, asking);
    await this.applying;
    // A partition the leader left out of its answer is asked again after the backoff, not at once.
    for (const a of asking) {
      if (a.follow.truncating && this.current(a.follow, a.generation) && a.follow.retryAtMs <= Date.now())
        a.follow.retryAtMs = Date.now() + this.settings.backoffMs;
    }
  }

  private async applyEpochs(response: OffsetForLeaderEpochResponseData, asked: Asked[]): Promise<void> {
    const byName = askedBy(asked, (x) => x.follow.partition.topic);
    for (const t of response.topics) {
      for (const r of t.partitions) {
        const a = byName.get(askedKey(t.topic, r.partition));
        if (!a) continue;
        if (r.errorCode !== 0) {
          this.onPartitionError(a.follow, a.generation, errorName(r.errorCode));
          continue;
        }
        const leader = { epoch: r.leaderEpoch ?? NO_EPOCH, endOffset: r.endOffset };
        await this.applyGuarded(a.follow, a.generation, () =>
          this.truncateTo(a, truncationOffset(leader, a.follow.partition)),
        );
      }
    }
  }

  /** Truncates `f`'s log to `offset` (if below its end); its truncation phase is over. */
  private async truncateTo(a: Asked, offset: number): Promise<void> {
    const f = a.follow;
    f.truncating = false;
    if (offset >= f.partition.logEndOffset) {
      // Nothing to cut, but epochs past the log end still leave the cache (Partition.truncateTo).
      await f.partition.truncateTo(f.partition.logEndOffset, a.leaderEpoch);
      return;
    }
    this.settings.logger?.info(
      { topic: f.partition.topic, partition: f.partition.index, from: f.partition.logEndOffset, to: offset },
      "follower truncates where its log diverged from the leader's",
    );
    await f.partition.truncateTo(offset, a.leaderEpoch);
  }

  // ---------------------------------------------------------------------------------------------
  // Fetching (KIP-320)

  /**
   * One Fetch of `follows`: by topic id (v15, with this broker's epoch) when every one has an id,
   * else by name (v12, without the epoch; see `fetchRequest`), so one request serves them all.
   */
  private async fetch(conn: Connection, follows: Follow[]): Promise<void> {
    const byId = follows.every((f) => f.topicId !== null);
    const version = byId ? FETCH_VERSION_BY_ID : FETCH_VERSION_BY_NAME;
    const asking = follows.map((f) => asked(f, f.partition.logEndOffset));
    const response = await conn.send(FETCH, version, this.fetchRequest(asking, byId));
    if ((response.errorCode ?? 0) !== 0) {
      const code = errorName(response.errorCode ?? 0);
      throw new KafkaError(code, `replica fetch from broker ${this.leader.nodeId} refused`);
    }
    this.applying = this.applyFetch(response, asking, byId);
    await this.applying;
  }

  private fetchRequest(asked: Asked[], byId: boolean): FetchRequestData {
    const s = this.settings;
    const topics = new Map<string, FetchRequestData["topics"][number]>();
    for (const { follow, fetchOffset, leaderEpoch } of asked) {
      const p = follow.partition;
      const name = byId ? (follow.topicId as string) : p.topic;
      let topic = topics.get(name);
      if (!topic) {
        topic = byId ? { topicId: name, partitions: [] } : { topic: name, partitions: [] };
        topics.set(name, topic);
      }
      topic.partitions.push({
        partition: p.index,
        currentLeaderEpoch: leaderEpoch,
        fetchOffset,
        lastFetchedEpoch: p.latestEpoch,
        logStartOffset: p.logStartOffset,
        partitionMaxBytes: s.maxBytes,
      });
    }
    // Fetch v12 has no field for the broker epoch: ReplicaState exists from v15, and v13+ name
    // topics only by id, so a fetch by name cannot carry it. The leader then takes the epoch as
    // unknown (-1) and checks nothing (KIP-903's rule for older followers). Only a partition
    // whose topic id the store does not know yet makes the fetch by name (see `fetch`).
    const replica = byId
      ? { replicaState: { replicaId: s.localId, replicaEpoch: s.brokerEpoch() } }
      : { replicaId: s.localId };
    return {
      ...replica,
      maxWaitMs: s.waitMaxMs,
      minBytes: s.minBytes,
      maxBytes: s.responseMaxBytes,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: FINAL_SESSION_EPOCH,
      topics: [...topics.values()],
      forgottenTopicsData: [],
      rackId: "",
    };
  }

  private async applyFetch(response: FetchResponseData, asked: Asked[], byId: boolean): Promise<void> {
    const index = askedBy(asked, (x) => (byId ? (x.follow.topicId ?? "") : x.follow.partition.topic));
    for (const t of response.responses) {
      for (const data of t.partitions) {
        const a = index.get(askedKey((byId ? t.topicId : t.topic) ?? "", data.partitionIndex));
        if (!a) continue;
        if (data.errorCode !== 0) {
          await this.onFetchError(a, data);
          continue;
        }
        await this.applyGuarded(a.follow, a.generation, () => this.applyData(a, data), a.fetchOffset);
      }
    }
  }

  /** Applies one partition's answer: truncation where it diverged, or its records and high watermark. */
  private async applyData(a: Asked, data: PartitionData): Promise<void> {
    const p = a.follow.partition;
    const diverging = data.divergingEpoch;
    if (diverging && diverging.epoch >= 0) {
      const [end, epoch] = [p.logEndOffset, p.latestEpoch];
      await this.truncateTo(a, truncationOffset(diverging, p));
      // A divergence that changed nothing would come back at once (the leader does not hold a
      // diverged fetch): the partition waits the backoff, as after an error.
      if (p.logEndOffset === end && p.latestEpoch === epoch) {
        this.settings.logger?.debug(
          { topic: p.topic, partition: p.index, leader: this.leader.nodeId, diverging },
          "the leader's divergence changed nothing; backing off",
        );
        this.backOff(a.follow, a.generation);
      }
      return;
    }
    const records = data.records;
    if (records && records.length >= BASE_OFFSET_BYTES) {
      // An empty log restarted inside the leader's first batch (its log start is mid-batch) takes
      // the batch whole from its base offset, as Kafka's follower does.
      const base = readInt64(records, 0);
      const empty = p.logEndOffset === p.logStartOffset;
      if (base < p.logEndOffset && empty) await p.truncateFullyAndStartAt(base, a.leaderEpoch);
      await p.appendAsFollower(records, a.leaderEpoch);
      this.settings.copied?.(p.topic, records);
    }
    if (data.highWatermark >= 0) p.updateFollowerHighWatermark(data.highWatermark, a.leaderEpoch);
    const leaderStart = data.logStartOffset ?? -1;
    if (leaderStart >= 0) await p.updateFollowerLogStartOffset(leaderStart, a.leaderEpoch);
  }

  private async onFetchError(a: Asked, data: PartitionData): Promise<void> {
    const code = errorName(data.errorCode);
    const f = a.follow;
    if (code !== "OFFSET_OUT_OF_RANGE") {
      this.onPartitionError(f, a.generation, code);
      return;
    }
    // The answer's offsets are not the leader's log end: the next round asks for it.
    if (this.current(f, a.generation) && f.partition.logEndOffset === a.fetchOffset) f.outOfRange = true;
  }

  // ---------------------------------------------------------------------------------------------
  // OFFSET_OUT_OF_RANGE (Kafka's AbstractFetcherThread.handleOffsetOutOfRange)

  /**
   * Asks the leader's log end for `follows`: a fetch offset past it truncates there (under the
   * leader epoch asked with); the others ask the leader's log start next.
   */
  private async resetOutOfRange(conn: Connection, follows: Follow[]): Promise<void> {
    const asking = follows.map((f) => asked(f, f.partition.logEndOffset));
    const ends = await this.listOffsets(conn, asking, LATEST_OFFSET);
    const behind: Asked[] = [];
    for (const a of asking) {
      const end = ends.get(a);
      if (end === undefined) continue;
      if (end >= a.fetchOffset) {
        behind.push(a);
        continue;
      }
      this.applying = this.applyGuarded(
        a.follow,
        a.generation,
        async () => {
          a.follow.outOfRange = false;
          this.settings.logger?.warn(
            {
              topic: a.follow.partition.topic,
              partition: a.follow.partition.index,
              from: a.fetchOffset,
              to: end,
            },
            "follower past the leader's log end truncates to it",
          );
          await a.follow.partition.truncateTo(end, a.leaderEpoch);
        },
        a.fetchOffset,
      );
      await this.applying;
    }
    if (behind.length > 0) await this.restartAtLeaderStart(conn, behind);
  }

  /**
   * Asks the leader's log start for `asking`: a fetch offset below it restarts the log there; one
   * in range again (the leader moved meanwhile) is fetched after the backoff.
   */
  private async restartAtLeaderStart(conn: Connection, asking: Asked[]): Promise<void> {
    const starts = await this.listOffsets(conn, asking, EARLIEST_OFFSET);
    for (const a of asking) {
      const start = starts.get(a);
      if (start === undefined) continue;
      const f = a.follow;
      this.applying = this.applyGuarded(
        f,
        a.generation,
        async () => {
          f.outOfRange = false;
          if (start <= a.fetchOffset) {
            this.backOff(f, a.generation);
            return;
          }
          this.settings.logger?.info(
            { topic: f.partition.topic, partition: f.partition.index, from: a.fetchOffset, to: start },
            "follower behind the leader's log start restarts there",
          );
          await f.partition.truncateFullyAndStartAt(start, a.leaderEpoch);
        },
        a.fetchOffset,
      );
      await this.applying;
    }
  }

  /**
   * One ListOffsets of `asking` at `timestamp`, as replica `localId` (so latest is the log end):
   * each partition's offset; a partition refused or left out is held back for the backoff.
   */
  private async listOffsets(
    conn: Connection,
    asking: Asked[],
    timestamp: number,
  ): Promise<Map<Asked, number>> {
    const request = listOffsetsRequest(this.settings.localId, asking, timestamp);
    const response: ListOffsetsResponseData = await conn.send(LIST_OFFSETS, LIST_OFFSETS_VERSION, request);
    const byName = askedBy(asking, (x) => x.follow.partition.topic);
    const out = new Map<Asked, number>();
    for (const t of response.topics) {
      for (const r of t.partitions) {
        const a = byName.get(askedKey(t.name, r.partitionIndex));
        if (!a) continue;
        if (r.errorCode !== 0) this.onPartitionError(a.follow, a.generation, errorName(r.errorCode));
        else if ((r.offset ?? -1) >= 0) out.set(a, r.offset as number);
      }
    }
    for (const a of asking) {
      if (!out.has(a) && a.follow.retryAtMs <= Date.now()) this.backOff(a.follow, a.generation);
    }
    return out;
  }

  /** Holds a partition back after its error (see the file comment). */
  private onPartitionError(f: Follow, generation: number, code: ErrorName): void {
    if (!this.current(f, generation)) return;
    const now = Date.now();
    f.retryAtMs = code === "FENCED_LEADER_EPOCH" ? Number.POSITIVE_INFINITY : now + this.settings.backoffMs;
    this.settings.logger?.debug(
      { topic: f.partition.topic, partition: f.partition.index, leader: this.leader.nodeId, code },
      "replica fetch of a partition failed",
    );
  }

  /** Holds `f` back for replica.fetch.backoff.ms, if it is still followed under `generation`. */
  private backOff(f: Follow, generation: number): void {
    if (this.current(f, generation)) f.retryAtMs = Date.now() + this.settings.backoffMs;
  }

  /** Whether `f` is still followed under `generation` (no `add` or `remove` since). */
  private current(f: Follow, generation: number): boolean {
    return this.follows.get(key(f.partition)) === f && f.generation === generation;
  }

  /**
   * Runs `apply` for `f` if it is still followed under `generation` and (for a fetch) its log
   * still ends where it was fetched from. A partition that is not (or no longer) a follower of this
   * leader, or whose apply fails (a storage fault, a role change underneath), is held back for the
   * backoff: the replica manager re-points or removes it meanwhile.
   */
  private async applyGuarded(
    f: Follow,
    generation: number,
    apply: () => Promise<void>,
    fetchOffset?: number,
  ): Promise<void> {
    const p = f.partition;
    if (!this.current(f, generation)) return;
    if (fetchOffset !== undefined && p.logEndOffset !== fetchOffset) return;
    const backOff = () => this.backOff(f, generation);
    if (p.role !== "follower" || p.leader !== this.leader.nodeId) {
      backOff();
      return;
    }
    try {
      await apply();
    } catch (err) {
      this.settings.logger?.warn(
        { err, topic: p.topic, partition: p.index, leader: this.leader.nodeId },
        "follower could not apply the leader's answer",
      );
      backOff();
    }
  }
}

function epochRequest(localId: number, asked: Asked[]): OffsetForLeaderEpochRequestData {
  const topics = new Map<string, OffsetForLeaderTopic>();
  for (const { follow, leaderEpoch } of asked) {
    const p = follow.partition;
    let topic = topics.get(p.topic);
    if (!topic) {
      topic = { topic: p.topic, partitions: [] };
      topics.set(p.topic, topic);
    }
    topic.partitions.push({
      partition: p.index,
      currentLeaderEpoch: leaderEpoch,
      leaderEpoch: p.latestEpoch,
    });
  }
  return { replicaId: localId, topics: [...topics.values()] };
}

function listOffsetsRequest(localId: number, asked: Asked[], timestamp: number): ListOffsetsRequestData {
  const topics = new Map<string, ListOffsetsTopic>();
  for (const { follow, leaderEpoch } of asked) {
    const p = follow.partition;
    let topic = topics.get(p.topic);
    if (!topic) {
      topic = { name: p.topic, partitions: [] };
      topics.set(p.topic, topic);
    }
    topic.partitions.push({ partitionIndex: p.index, currentLeaderEpoch: leaderEpoch, timestamp });
  }
  return { replicaId: localId, isolationLevel: 0, topics: [...topics.values()] };
}

function askedKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/** The partitions asked, by topic (name or id, as `topicOf` gives) and index: answers are matched in O(1). */
function askedBy(asked: Asked[], topicOf: (a: Asked) => string): Map<string, Asked> {
  const out = new Map<string, Asked>();
  for (const a of asked) out.set(askedKey(topicOf(a), a.follow.partition.index), a);
  return out;
}
