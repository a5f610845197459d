/**
 * Fetch (key 1), v4-v17, sessionless. v13+ name topics by id (KIP-516) instead of by name.
 * Validation order: a replica id >= 0 (a follower; v15+ in ReplicaState) from a caller that is
 * not inter-broker (RequestContext.interBroker) or lacks CLUSTER_ACTION on the cluster (ACLs) ->
 * CLUSTER_AUTHORIZATION_FAILED (at the top, v7+, and on every partition, where v4-v6 clients read
 * it; Kafka answers the ACL refusal TOPIC_AUTHORIZATION_FAILED per partition, samsa keeps one
 * answer for "not a broker"); a session id
 * other than 0, or an epoch other than 0 / -1 -> FETCH_SESSION_ID_NOT_FOUND (every answer carries
 * session id 0: no session is created, so clients keep sending full fetches); per topic (v13+): an
 * id that names no topic -> UNKNOWN_TOPIC_ID on each of its partitions, as Kafka answers; a
 * consumer without READ on the topic -> TOPIC_AUTHORIZATION_FAILED on each of its partitions
 * (whether it exists or not, as Kafka); per partition: unknown -> UNKNOWN_TOPIC_OR_PARTITION; current leader epoch (v9+) older ->
 * FENCED_LEADER_EPOCH, newer -> UNKNOWN_LEADER_EPOCH, then a partition this broker does not lead
 * (or holds no replica of, while the store has it) -> NOT_LEADER_OR_FOLLOWER
 * (Partition.leaderEpochError); a follower's replica id that is not
 * one of the partition's replicas -> NOT_LEADER_OR_FOLLOWER (as Kafka answers); fetch offset
 * outside [log start, log end] -> OFFSET_OUT_OF_RANGE (a follower's answer still carries the
 * leader's high watermark and log start, where it restarts). v16+: NOT_LEADER_OR_FOLLOWER and
 * FENCED_LEADER_EPOCH carry the store's current leader and epoch, and the response the leaders'
 * endpoints (KIP-951, leader-hints.ts).
 *
 * A consumer reads whole batches below the high watermark. A follower (Partition.fetchForFollower)
 * reads up to the log end; its fetch offset is recorded as its log end offset (which may move the
 * high watermark), and when its last fetched epoch (v12+) contradicts the leader's epoch cache
 * the partition answers the diverging epoch and its end offset instead of records (KIP-320).
 * Each partition is read up to its partitionMaxBytes and the response up to maxBytes, except
 * that the first batch found is returned whole even when larger (KIP-74). While fewer than
 * minBytes are available it waits, up to maxWaitMs, for an append (or a high watermark move) on
 * any requested partition; followers wait the same way.
 *
 * Bounds: maxBytes is capped by the broker's fetch.max.bytes (as Kafka does) and by what the
 * connection may still hold of the broker's response budget (queued.max.response.bytes), reserved
 * before reading; the KIP-74 first batch beyond that only while the connection holds nothing
 * else. A partition named more than once in a request is read and answered once (its first
 * occurrence), as Kafka collapses them into one map.
 */
import { type ErrorName, errorCode, KafkaError } from "../../protocol/errors.js";
import type {
  FetchableTopicResponse,
  FetchRequestData,
  FetchResponseData,
  PartitionData,
} from "../../protocol/types/fetch.js";
import type { Broker } from "../broker.js";
import { NULL_TOPIC_ID } from "../metadata/store.js";
import type { Partition } from "../partition.js";
import { authorizedNames, type Checks, onCluster } from "./authorized.js";
import {
  currentLeader,
  FENCED_LEADER_EPOCH,
  type LeaderHint,
  leaderEndpoints,
  NOT_LEADER,
} from "./leader-hints.js";
import type { ApiHandler, ResponseReservation } from "./types.js";

/** KIP-951's NodeEndpoints in Fetch responses. */
const LEADER_HINT_VERSION = 16;

/** KIP-951: the current leader of each partition refused for leadership, and the leaders' endpoints. */
function withLeaderHints(broker: Broker, response: FetchResponseData): FetchResponseData {
  const hints: LeaderHint[] = [];
  for (const t of response.responses) {
    for (const p of t.partitions) {
      if ((p.errorCode !== NOT_LEADER && p.errorCode !== FENCED_LEADER_EPOCH) || !t.topic) continue;
      p.currentLeader = currentLeader(broker.store, t.topic, p.partitionIndex);
      hints.push(p.currentLeader);
    }
  }
  return hints.length === 0 ? response : { ...response, nodeEndpoints: leaderEndpoints(broker.store, hints) };
}

/** Longest a fetch may wait, whatever maxWaitMs asks. */
export const MAX_FETCH_WAIT_MS = 30_000;

interface FetchPartition {
  partition: number;
  currentLeaderEpoch: number;
  fetchOffset: number;
  /** v12+: a follower's epoch of its last fetched batch (-1: none, or before v12). */
  lastFetchedEpoch: number;
  partitionMaxBytes: number;
}

interface FetchTopic {
  /** Null for a v13+ topic id that names no topic. */
  topic: string | null;
  topicId: string;
  partitions: FetchPartition[];
  /** A consumer's topic it may not READ: TOPIC_AUTHORIZATION_FAILED on each partition. */
  unreadable?: boolean;
}

/** Marks the named topics a consumer may not READ (ACLs). */
function markUnreadable(ctx: Checks, topics: FetchTopic[]): void {
  const named = topics.flatMap((t) => (t.topic === null ? [] : [t.topic]));
  const readable = authorizedNames(ctx, "READ", "TOPIC", named);
  for (const t of topics) if (t.topic !== null && !readable.has(t.topic)) t.unreadable = true;
}

/** The first version that names topics by id. */
const TOPIC_ID_VERSION = 13;
/** The first version that carries the replica id in ReplicaState. */
const REPLICA_STATE_VERSION = 15;

/**
 * The requested topics with their names (by name up to v12, by id from v13), each topic once and
 * each of its partitions once: a partition named again is dropped.
 */
function resolveTopics(broker: Broker, request: FetchRequestData, version: number): FetchTopic[] {
  const topics = request.topics;
  const byKey = new Map<string, { topic: FetchTopic; seen: Set<number> }>();
  for (const t of topics) {
    const key = version < TOPIC_ID_VERSION ? `n:${t.topic}` : `i:${t.topicId}`;
    let entry = byKey.get(key);
    if (!entry) {
      // Before v13 the answer carries no id: no lookup on the hot path.
      const topic: FetchTopic =
        version < TOPIC_ID_VERSION
          ? { topic: t.topic ?? "", topicId: NULL_TOPIC_ID, partitions: [] }
          : {
              topic: broker.store.topicById(t.topicId ?? NULL_TOPIC_ID)?.name ?? null,
              topicId: t.topicId ?? NULL_TOPIC_ID,
              partitions: [],
            };
      entry = { topic, seen: new Set() };
      byKey.set(key, entry);
    }
    for (const p of t.partitions) {
      if (entry.seen.has(p.partition)) continue;
      entry.seen.add(p.partition);
      entry.topic.partitions.push({
        ...p,
        currentLeaderEpoch: p.currentLeaderEpoch ?? -1,
        lastFetchedEpoch: p.lastFetchedEpoch ?? -1,
      });
    }
  }
  return [...byKey.values()].map((e) => e.topic);
}

function partitionResult(index: number, code: ErrorName | null, readCommitted: boolean): PartitionData {
  return {
    partitionIndex: index,
    errorCode: code ? errorCode(code) : 0,
    highWatermark: -1,
    lastStableOffset: -1,
    logStartOffset: -1,
    abortedTransactions: readCommitted ? [] : null,
    preferredReadReplica: -1,
    // Empty, never null, as Kafka sends: librdkafka reads a null record set (size -1) on an
    // errored partition as a protocol parse failure and retries forever.
    records: Buffer.alloc(0),
  };
}

interface Collected {
  responses: FetchableTopicResponse[];
  bytes: number;
}

/**
 * Reads one partition for a fetch: `maxBytes` 0 reads nothing (the response is full), and
 * `firstWhole` lets the first batch go beyond `maxBytes` (KIP-74).
 */
type PartitionRead = (
  partition: Partition,
  p: FetchPartition,
  maxBytes: number,
  firstWhole: boolean,
  readCommitted: boolean,
) => Promise<PartitionData>;

/** A consumer's read: the leader's batches below the high watermark. */
const consumerRead: PartitionRead = async (partition, p, maxBytes, firstWhole, readCommitted) => {
  const epochError = partition.leaderEpochError(p.currentLeaderEpoch);
  if (epochError) return partitionResult(p.partition, epochError, readCommitted);
  const base = partitionResult(p.partition, null, readCommitted);
  base.highWatermark = partition.highWatermark;
  base.lastStableOffset = partition.highWatermark;
  base.logStartOffset = partition.logStartOffset;
  if (maxBytes === 0) return base;
  try {
    base.records = (await partition.read(p.fetchOffset, maxBytes, firstWhole)).records;
  } catch (err) {
    if (!KafkaError.is(err)) throw err;
    base.errorCode = errorCode(err.code);
  }
  return base;
};

/**
 * A follower's read (Partition.fetchForFollower): up to the log end, or where it diverged.
 * `brokerEpoch`: its registration epoch (v15+ ReplicaState.ReplicaEpoch; -1 before, KIP-903).
 */
function followerRead(replicaId: number, brokerEpoch: number, broker: Broker): PartitionRead {
  return async (partition, p, maxBytes, firstWhole, readCommitted) => {
    const base = partitionResult(p.partition, null, readCommitted);
    try {
      const got = await partition.fetchForFollower(replicaId, p.fetchOffset, p.lastFetchedEpoch, {
        maxBytes,
        minOneBatch: firstWhole,
        currentLeaderEpoch: p.currentLeaderEpoch,
        brokerEpoch,
      });
      base.records = got.records;
      if (got.divergingEpoch) base.divergingEpoch = got.divergingEpoch;
      // A follower outside the ISR may have caught up: the ISR may grow (Kafka's maybeExpandIsr).
      if (!partition.isr.includes(replicaId)) broker.isrUpdater?.poke();
    } catch (err) {
      if (!KafkaError.is(err)) throw err;
      base.errorCode = errorCode(err.code);
      // Only a follower outside the leader's log learns where it starts; others learn nothing.
      if (err.code !== "OFFSET_OUT_OF_RANGE") return base;
    }
    base.highWatermark = partition.highWatermark;
    base.lastStableOffset = partition.highWatermark;
    base.logStartOffset = partition.logStartOffset;
    return base;
  };
}

async function collect(
  broker: Broker,
  topics: FetchTopic[],
  maxBytes: number,
  firstWhole: boolean,
  readCommitted: boolean,
  readPartition: PartitionRead,
  replica: boolean,
): Promise<Collected> {
  const counted = broker.metrics?.topics;
  let bytes = 0;
  const responses: FetchableTopicResponse[] = [];
  for (const t of topics) {
    const partitions: PartitionData[] = [];
    for (const p of t.partitions) {
      if (t.topic === null || t.unreadable) {
        const refused = t.topic === null ? "UNKNOWN_TOPIC_ID" : "TOPIC_AUTHORIZATION_FAILED";
        partitions.push(partitionResult(p.partition, refused, readCommitted));
        continue;
      }
      const partition = broker.topics.partition(t.topic, p.partition);
      if (!partition) {
        const missing = broker.topics.missingPartitionError(t.topic, p.partition);
        partitions.push(partitionResult(p.partition, missing, readCommitted));
        continue;
      }
      const budget = Math.min(p.partitionMaxBytes, Math.max(0, maxBytes - bytes));
      const full = budget === 0 && bytes > 0;
      // KIP-74: the first batch of the response is returned even beyond the limits.
      const first = firstWhole && bytes === 0;
      const data = await readPartition(partition, p, full ? 0 : Math.max(budget, 1), first, readCommitted);
      bytes += data.records?.length ?? 0;
      if (counted && data.records) counted.fetched(t.topic, data.records, replica);
      partitions.push(data);
    }
    responses.push({ topic: t.topic ?? "", topicId: t.topicId, partitions });
  }
  return { responses, bytes };
}

/** One answer per requested partition. */
function everyPartition(
  topics: FetchTopic[],
  answer: (p: FetchPartition) => PartitionData,
): FetchableTopicResponse[] {
  return topics.map((t) => ({
    topic: t.topic ?? "",
    topicId: t.topicId,
    partitions: t.partitions.map(answer),
  }));
}

/** Resolves after an append to any of the partitions, or after `ms`. */
function waitForAppend(broker: Broker, topics: FetchTopic[], ms: number): Promise<void> {
  return new Promise((resolve) => {
    const stops: (() => void)[] = [];
    const done = () => {
      clearTimeout(timer);
      for (const stop of stops) stop();
      resolve();
    };
    const timer = setTimeout(done, ms);
    for (const t of topics) {
      if (t.topic === null || t.unreadable) continue;
      for (const p of t.partitions) {
        const partition = broker.topics.partition(t.topic, p.partition);
        if (partition) stops.push(partition.onAppend(done));
      }
    }
  });
}

/** The reservation of a door without a response budget (HTTP): everything asked is granted. */
const UNBOUNDED: ResponseReservation = {
  reserve: (wanted) => ({ granted: wanted, firstWhole: true }),
  unreserve: () => {},
};

export const fetch: ApiHandler<FetchRequestData, FetchResponseData> = {
  apiKey: 1,
  name: "Fetch",
  minVersion: 4,
  maxVersion: 17,
  async handle(broker, request, ctx) {
    const topics = resolveTopics(broker, request, ctx.apiVersion);
    const readCommitted = request.isolationLevel === 1;
    const answer = (code: ErrorName | null, responses: FetchableTopicResponse[]) => ({
      throttleTimeMs: 0,
      errorCode: code ? errorCode(code) : 0,
      sessionId: 0,
      responses,
    });
    const replicaId =
      ctx.apiVersion >= REPLICA_STATE_VERSION
        ? (request.replicaState?.replicaId ?? -1)
        : (request.replicaId ?? -1);
    if (replicaId >= 0 && (!ctx.interBroker || !onCluster(ctx, "CLUSTER_ACTION"))) {
      const refused = "CLUSTER_AUTHORIZATION_FAILED";
      return answer(
        refused,
        everyPartition(topics, (p) => partitionResult(p.partition, refused, readCommitted)),
      );
    }
    const brokerEpoch = request.replicaState?.replicaEpoch ?? -1;
    if (replicaId >= 0) broker.followerConnection(replicaId, ctx);
    const readPartition = replicaId >= 0 ? followerRead(replicaId, brokerEpoch, broker) : consumerRead;
    if (replicaId < 0) markUnreadable(ctx, topics);
    if (request.sessionId !== 0 || (request.sessionEpoch !== 0 && request.sessionEpoch !== -1)) {
      return answer("FETCH_SESSION_ID_NOT_FOUND", []);
    }
    const maxBytes = Math.max(
      0,
      Math.min(request.maxBytes ?? broker.config.fetchMaxBytes, broker.config.fetchMaxBytes),
    );
    const minBytes = request.minBytes;
    const deadline = Date.now() + Math.min(Math.max(0, request.maxWaitMs), MAX_FETCH_WAIT_MS);
    const reservation = ctx.responseBytes ?? UNBOUNDED;
    /** One read within what the connection may hold; the unused part is given back. */
    const read = async (grant = reservation.reserve(maxBytes)): Promise<Collected> => {
      const got = await collect(
        broker,
        topics,
        grant.granted,
        grant.firstWhole,
        readCommitted,
        readPartition,
        replicaId >= 0,
      );
      reservation.unreserve(grant.granted - got.bytes);
      return got;
    };
    // Reserved before the next request starts, so that it sees what this one may hold.
    const first = reservation.reserve(maxBytes);
    // A fetch changes nothing: the next request on the connection need not wait for its long poll.
    ctx.admit();
    let collected = await read(first);
    // As Kafka: an error or a diverging epoch in any partition is answered at once, without
    // waiting for minBytes.
    const answerNow = () =>
      collected.responses.some((t) => t.partitions.some((p) => p.errorCode !== 0 || p.divergingEpoch));
    for (let waits = 0; collected.bytes < minBytes && !answerNow() && waits < 1000; waits++) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      reservation.unreserve(collected.bytes);
      await waitForAppend(broker, topics, left);
      collected = await read();
    }
    const response = answer(null, collected.responses);
    return ctx.apiVersion >= LEADER_HINT_VERSION ? withLeaderHints(broker, response) : response;
  },
};
