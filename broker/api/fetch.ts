/**
 * Fetch (key 1), v4-v17, sessionless. v13+ name topics by id (KIP-516) instead of by name.
 * Validation order: a replica id >= 0 (a follower; v15+ in ReplicaState) ->
 * CLUSTER_AUTHORIZATION_FAILED (only the inter-broker principal may fetch as a replica, and
 * replication is not served yet); a session id other than 0, or an epoch other than 0 / -1 ->
 * FETCH_SESSION_ID_NOT_FOUND (every answer carries session id 0: no session is created, so clients
 * keep sending full fetches); per topic (v13+): an id that names no topic -> UNKNOWN_TOPIC_ID on
 * each of its partitions, as Kafka answers; per partition: unknown -> UNKNOWN_TOPIC_OR_PARTITION;
 * current leader epoch (v9+) older -> FENCED_LEADER_EPOCH, newer -> UNKNOWN_LEADER_EPOCH, then a
 * partition this broker does not lead (or holds no replica of, while the store has it) ->
 * NOT_LEADER_OR_FOLLOWER (Partition.leaderEpochError); fetch offset outside [log start, log end]
 * -> OFFSET_OUT_OF_RANGE. v16+: NOT_LEADER_OR_FOLLOWER and FENCED_LEADER_EPOCH carry the store's
 * current leader and epoch, and the response the leaders' endpoints (KIP-951, leader-hints.ts).
 *
 * Reads whole batches below the high watermark, each partition up to its partitionMaxBytes and
 * the response up to maxBytes, except that the first batch found is returned whole even when
 * larger (KIP-74). While fewer than minBytes are available it waits, up to maxWaitMs, for an
 * append to any requested partition.
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
  partitionMaxBytes: number;
}

interface FetchTopic {
  /** Null for a v13+ topic id that names no topic. */
  topic: string | null;
  topicId: string;
  partitions: FetchPartition[];
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
      entry.topic.partitions.push({ ...p, currentLeaderEpoch: p.currentLeaderEpoch ?? -1 });
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

async function collect(
  broker: Broker,
  topics: FetchTopic[],
  maxBytes: number,
  firstWhole: boolean,
  readCommitted: boolean,
): Promise<Collected> {
  let bytes = 0;
  const responses: FetchableTopicResponse[] = [];
  for (const t of topics) {
    const partitions: PartitionData[] = [];
    for (const p of t.partitions) {
      if (t.topic === null) {
        partitions.push(partitionResult(p.partition, "UNKNOWN_TOPIC_ID", readCommitted));
        continue;
      }
      const partition = broker.topics.partition(t.topic, p.partition);
      if (!partition) {
        const missing = broker.topics.missingPartitionError(t.topic, p.partition);
        partitions.push(partitionResult(p.partition, missing, readCommitted));
        continue;
      }
      const epochError = partition.leaderEpochError(p.currentLeaderEpoch);
      if (epochError) {
        partitions.push(partitionResult(p.partition, epochError, readCommitted));
        continue;
      }
      const base = partitionResult(p.partition, null, readCommitted);
      base.highWatermark = partition.highWatermark;
      base.lastStableOffset = partition.highWatermark;
      base.logStartOffset = partition.logStartOffset;
      const budget = Math.min(p.partitionMaxBytes, Math.max(0, maxBytes - bytes));
      if (budget === 0 && bytes > 0) {
        partitions.push(base);
        continue;
      }
      try {
        // KIP-74: the first batch of the response is returned even beyond the limits.
        const read = await partition.read(p.fetchOffset, Math.max(budget, 1), firstWhole && bytes === 0);
        base.records = read.records;
        bytes += read.records.length;
      } catch (err) {
        if (!KafkaError.is(err)) throw err;
        base.errorCode = errorCode(err.code);
      }
      partitions.push(base);
    }
    responses.push({ topic: t.topic ?? "", topicId: t.topicId, partitions });
  }
  return { responses, bytes };
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
      if (t.topic === null) continue;
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
    if (replicaId >= 0) return answer("CLUSTER_AUTHORIZATION_FAILED", []);
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
      const got = await collect(broker, topics, grant.granted, grant.firstWhole, readCommitted);
      reservation.unreserve(grant.granted - got.bytes);
      return got;
    };
    // Reserved before the next request starts, so that it sees what this one may hold.
    const first = reservation.reserve(maxBytes);
    // A fetch changes nothing: the next request on the connection need not wait for its long poll.
    ctx.admit();
    let collected = await read(first);
    // As Kafka: an error in any partition is answered at once, without waiting for minBytes.
    const anyError = () => collected.responses.some((t) => t.partitions.some((p) => p.errorCode !== 0));
    for (let waits = 0; collected.bytes < minBytes && !anyError() && waits < 1000; waits++) {
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
