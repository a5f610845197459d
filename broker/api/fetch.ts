/**
 * Fetch (key 1), v4-v12, sessionless.
 * Validation order: a replica id >= 0 (a follower) -> CLUSTER_AUTHORIZATION_FAILED (only the
 * inter-broker principal may fetch as a replica, and replication is not served yet); a session id
 * other than 0, or an epoch other than 0 / -1 -> FETCH_SESSION_ID_NOT_FOUND (every answer carries
 * session id 0: no session is created, so clients keep sending full fetches); per partition:
 * unknown -> UNKNOWN_TOPIC_OR_PARTITION; current leader epoch (v9+) older -> FENCED_LEADER_EPOCH,
 * newer -> UNKNOWN_LEADER_EPOCH; fetch offset outside [log start, log end] -> OFFSET_OUT_OF_RANGE.
 *
 * Reads whole batches below the high watermark, each partition up to its partitionMaxBytes and
 * the response up to maxBytes, except that the first batch found is returned whole even when
 * larger (KIP-74). While fewer than minBytes are available it waits, up to maxWaitMs, for an
 * append to any requested partition.
 */
import type { Message } from "../../protocol/codec.js";
import { type ErrorName, errorCode, KafkaError } from "../../protocol/errors.js";
import type { Broker } from "../broker.js";
import type { ApiHandler } from "./types.js";

/** Longest a fetch may wait, whatever maxWaitMs asks. */
export const MAX_FETCH_WAIT_MS = 30_000;

interface FetchPartition {
  partition: number;
  currentLeaderEpoch: number;
  fetchOffset: number;
  partitionMaxBytes: number;
}

interface FetchTopic {
  topic: string;
  partitions: FetchPartition[];
}

function partitionResult(index: number, code: ErrorName | null, readCommitted: boolean): Message {
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
  responses: Message[];
  bytes: number;
}

async function collect(
  broker: Broker,
  topics: FetchTopic[],
  maxBytes: number,
  readCommitted: boolean,
): Promise<Collected> {
  let bytes = 0;
  const responses: Message[] = [];
  for (const t of topics) {
    const partitions: Message[] = [];
    for (const p of t.partitions) {
      const partition = broker.topics.partition(t.topic, p.partition);
      if (!partition) {
        partitions.push(partitionResult(p.partition, "UNKNOWN_TOPIC_OR_PARTITION", readCommitted));
        continue;
      }
      if (p.currentLeaderEpoch >= 0 && p.currentLeaderEpoch !== partition.leaderEpoch) {
        const code =
          p.currentLeaderEpoch < partition.leaderEpoch ? "FENCED_LEADER_EPOCH" : "UNKNOWN_LEADER_EPOCH";
        partitions.push(partitionResult(p.partition, code, readCommitted));
        continue;
      }
      const log = partition.log;
      const base = partitionResult(p.partition, null, readCommitted);
      base.highWatermark = log.highWatermark;
      base.lastStableOffset = log.highWatermark;
      base.logStartOffset = log.logStartOffset;
      const budget = Math.min(p.partitionMaxBytes, Math.max(0, maxBytes - bytes));
      if (budget === 0 && bytes > 0) {
        partitions.push(base);
        continue;
      }
      try {
        // KIP-74: the first batch of the response is returned even beyond the limits.
        const read = await partition.read(p.fetchOffset, Math.max(budget, 1), bytes === 0);
        base.records = read.records;
        bytes += read.records.length;
      } catch (err) {
        if (!KafkaError.is(err)) throw err;
        base.errorCode = errorCode(err.code);
      }
      partitions.push(base);
    }
    responses.push({ topic: t.topic, partitions });
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
      for (const p of t.partitions) {
        const partition = broker.topics.partition(t.topic, p.partition);
        if (partition) stops.push(partition.onAppend(done));
      }
    }
  });
}

export const fetch: ApiHandler = {
  apiKey: 1,
  name: "Fetch",
  minVersion: 4,
  maxVersion: 12,
  async handle(broker, request, ctx) {
    // A fetch changes nothing: the next request on the connection need not wait for its long poll.
    ctx.admit();
    const topics = request.topics as FetchTopic[];
    const readCommitted = request.isolationLevel === 1;
    const answer = (code: ErrorName | null, responses: Message[]) => ({
      throttleTimeMs: 0,
      errorCode: code ? errorCode(code) : 0,
      sessionId: 0,
      responses,
    });
    if ((request.replicaId as number) >= 0) return answer("CLUSTER_AUTHORIZATION_FAILED", []);
    if (request.sessionId !== 0 || (request.sessionEpoch !== 0 && request.sessionEpoch !== -1)) {
      return answer("FETCH_SESSION_ID_NOT_FOUND", []);
    }
    const maxBytes = request.maxBytes as number;
    const minBytes = request.minBytes as number;
    const deadline = Date.now() + Math.min(Math.max(0, request.maxWaitMs as number), MAX_FETCH_WAIT_MS);
    let collected = await collect(broker, topics, maxBytes, readCommitted);
    // As Kafka: an error in any partition is answered at once, without waiting for minBytes.
    const anyError = () =>
      collected.responses.some((t) => t.partitions.some((p: Message) => p.errorCode !== 0));
    for (let waits = 0; collected.bytes < minBytes && !anyError() && waits < 1000; waits++) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      await waitForAppend(broker, topics, left);
      collected = await collect(broker, topics, maxBytes, readCommitted);
    }
    return answer(null, collected.responses);
  },
};
