/**
 * Produce (key 0), v0-v11. Clients that use v0-v2 send magic 0/1 message sets, which samsa does
 * not store: those partitions get UNSUPPORTED_FOR_MESSAGE_FORMAT. Advertising v0 matters all the
 * same: librdkafka before 2.8 sends gzip, snappy and lz4 batches uncompressed to a broker whose
 * Produce range does not start at v0 (Kafka 4 advertises v0 for the same reason, KAFKA-18659).
 * Validation order: a transactional id -> TRANSACTIONAL_ID_AUTHORIZATION_FAILED for every
 * partition; per topic, no WRITE on it (ACLs) -> TOPIC_AUTHORIZATION_FAILED, whether it exists or
 * not (as Kafka, so a principal learns nothing of topics it may not write); acks outside
 * {0, 1, -1} -> INVALID_REQUIRED_ACKS; an unknown topic is auto-created when the broker allows it
 * and the principal may create it (CREATE on the cluster or the topic, else
 * TOPIC_AUTHORIZATION_FAILED), else UNKNOWN_TOPIC_OR_PARTITION (INVALID_TOPIC_EXCEPTION
 * for an illegal name or an internal topic such as __consumer_offsets); per partition: unknown partition -> UNKNOWN_TOPIC_OR_PARTITION; no
 * records -> CORRUPT_MESSAGE; acks=-1 with fewer in-sync replicas than min.insync.replicas ->
 * NOT_ENOUGH_REPLICAS; then the partition validates the batches (storage/validate.ts); an
 * idempotent producer id that InitProducerId never handed out -> UNKNOWN_PRODUCER_ID (with the log
 * start offset); the producer's sequences; a producer new to the partition beyond the client's
 * producer-id quota or the broker's cap -> THROTTLING_QUOTA_EXCEEDED, and the response's
 * throttleTimeMs says how long to wait (broker/producer-ids.ts, KIP-936). acks=0 gets no response.
 *
 * Partitions of one request are appended concurrently through `Partition.appendAsLeader`; each
 * answers once its append is durable under the topic's flush policy (acks=1) or once the high
 * watermark passes it (acks=-1; REQUEST_TIMED_OUT after the request's timeoutMs, then
 * NOT_ENOUGH_REPLICAS_AFTER_APPEND if the ISR fell below min.insync.replicas meanwhile), with
 * logAppendTimeMs set on a LogAppendTime topic (else -1).
 */
import { type ErrorName, errorCode, KafkaError } from "../../protocol/errors.js";
import type {
  PartitionProduceData as PartitionData,
  PartitionProduceResponse,
  ProduceRequestData,
  ProduceResponseData,
} from "../../protocol/types/produce.js";
import type { Broker } from "../broker.js";
import { quotaClient } from "../producer-ids.js";
import { isInternalTopic } from "../topics.js";
import { authorizedNames, type Checks, creationRefused } from "./authorized.js";
import { currentLeader, type LeaderHint, leaderEndpoints, NOT_LEADER } from "./leader-hints.js";
import type { ApiHandler } from "./types.js";

/** KIP-951's CurrentLeader and NodeEndpoints fields. */
const LEADER_HINT_VERSION = 10;

function partitionResult(
  index: number,
  code: ErrorName | null,
  message: string | null,
  baseOffset = -1,
  logStartOffset = -1,
  logAppendTimeMs = -1,
): PartitionProduceResponse {
  return {
    index,
    errorCode: code ? errorCode(code) : 0,
    baseOffset,
    logAppendTimeMs,
    logStartOffset,
    recordErrors: [],
    errorMessage: message,
  };
}

async function appendPartition(
  broker: Broker,
  topic: string,
  data: PartitionData,
  acks: number,
  client: string,
  timeoutMs: number,
): Promise<PartitionProduceResponse> {
  const partition = broker.topics.partition(topic, data.index);
  if (!partition) {
    const code = broker.topics.missingPartitionError(topic, data.index);
    return partitionResult(data.index, code, `no replica of ${topic}-${data.index} here`);
  }
  if (!data.records || data.records.length === 0)
    return partitionResult(data.index, "CORRUPT_MESSAGE", "no records");
  if (acks !== -1 && !broker.mayLead(partition))
    return partitionResult(data.index, "NOT_LEADER_OR_FOLLOWER", "this broker's registration is lost");
  try {
    const { result } = await partition.appendAsLeader(data.records, { acks, client, timeoutMs });
    broker.metrics?.topics.produced(topic, data.records.length, result.recordCount);
    const { baseOffset, logStartOffset, logAppendTimeMs } = result;
    return partitionResult(data.index, null, null, baseOffset, logStartOffset, logAppendTimeMs);
  } catch (err) {
    if (!KafkaError.is(err)) throw err;
    // With the log start offset a Java producer handles UNKNOWN_PRODUCER_ID instead of retrying it.
    const logStart = err.code === "UNKNOWN_PRODUCER_ID" ? partition.logStartOffset : -1;
    return partitionResult(data.index, err.code, err.message, -1, logStart);
  }
}

/** The topic's error, after creating it when auto-creation allows; null when it exists. */
async function resolveTopic(broker: Broker, ctx: Checks, name: string): Promise<ErrorName | null> {
  if (isInternalTopic(name)) return "INVALID_TOPIC_EXCEPTION";
  if (creationRefused(broker, ctx, name, true)) return "TOPIC_AUTHORIZATION_FAILED";
  try {
    return (await broker.topics.getOrCreate(name, true)) ? null : "UNKNOWN_TOPIC_OR_PARTITION";
  } catch (err) {
    if (!KafkaError.is(err)) throw err;
    return err.code;
  }
}

export const produce: ApiHandler<ProduceRequestData, ProduceResponseData> = {
  apiKey: 0,
  name: "Produce",
  minVersion: 0,
  maxVersion: 11,
  async handle(broker, request, ctx) {
    const acks = request.acks;
    const client = quotaClient(ctx);
    const timeoutMs = request.timeoutMs;
    // v0-v12 name topics (v13 would name them by id).
    const topicData = request.topicData.map((t) => ({ name: t.name ?? "", partitionData: t.partitionData }));
    const transactional = request.transactionalId ? "TRANSACTIONAL_ID_AUTHORIZATION_FAILED" : null;
    const writable = authorizedNames(
      ctx,
      "WRITE",
      "TOPIC",
      transactional ? [] : topicData.map((t) => t.name),
    );
    const badAcks = acks !== 0 && acks !== 1 && acks !== -1 ? "INVALID_REQUIRED_ACKS" : null;
    const refusal = (name: string): ErrorName | null =>
      transactional ?? (writable.has(name) ? badAcks : "TOPIC_AUTHORIZATION_FAILED");
    // First every topic (creating it if needed), then every append in one synchronous pass, so
    // the appends of this request take their places in the logs before the next request starts.
    const topicErrors: (ErrorName | null)[] = [];
    for (const t of topicData) topicErrors.push(refusal(t.name) ?? (await resolveTopic(broker, ctx, t.name)));
    const responses = topicData.map((t, i) => {
      const topicError = topicErrors[i];
      const partitions = topicError
        ? t.partitionData.map((p) => Promise.resolve(partitionResult(p.index, topicError, null)))
        : t.partitionData.map((p) => appendPartition(broker, t.name, p, acks, client, timeoutMs));
      return { name: t.name, partitionResponses: partitions };
    });
    // One turn of the event loop before the connection's next request starts: requests refused
    // at once (invented producer ids, throttled ones) never wait on the disk, and a connection
    // pipelining them would otherwise run them back to back while other connections' I/O waits.
    await new Promise<void>((resolve) => setImmediate(resolve));
    ctx.admit();
    const settled = await Promise.all(
      responses.map(async (r) => ({
        name: r.name,
        partitionResponses: await Promise.all(r.partitionResponses),
      })),
    );
    if (acks === 0) return null;
    const throttled = settled.some((t) =>
      t.partitionResponses.some((p) => p.errorCode === errorCode("THROTTLING_QUOTA_EXCEEDED")),
    );
    const throttleTimeMs = throttled ? broker.topics.producerIds.throttleMs(client) : 0;
    const hints: LeaderHint[] = [];
    if (ctx.apiVersion >= LEADER_HINT_VERSION) {
      for (const t of settled)
        for (const p of t.partitionResponses) {
          if (p.errorCode !== NOT_LEADER) continue;
          p.currentLeader = currentLeader(broker.store, t.name, p.index);
          hints.push(p.currentLeader);
        }
    }
    if (hints.length === 0) return { responses: settled, throttleTimeMs };
    return { responses: settled, throttleTimeMs, nodeEndpoints: leaderEndpoints(broker.store, hints) };
  },
};
