/**
 * AlterPartition (key 56), v0-v3: a partition leader asks the controller to change its ISR
 * (KIP-497; v1 LeaderRecoveryState, KIP-704; v2+ topics by id, KIP-841; v3 each ISR member with
 * its broker epoch, KIP-903). Inter-broker only, and answered only by the controller itself: as
 * Kafka, never forwarded (the leader's own channel finds the controller). Validation order:
 *   1. a caller that is not inter-broker (RequestContext.interBroker), or lacks CLUSTER_ACTION on
 *      the cluster (ACLs) -> CLUSTER_AUTHORIZATION_FAILED;
 *   2. the store does not name this broker controller -> NOT_CONTROLLER;
 *   3. BrokerEpoch given (not -1) and not the sender's live registration's -> STALE_BROKER_EPOCH
 *      (these three are the top-level error, with no topics, as Kafka);
 *   4. per partition: a topic id (v2+) the store does not know -> UNKNOWN_TOPIC_ID, a name (v0-1)
 *      or partition it does not hold -> UNKNOWN_TOPIC_OR_PARTITION; LeaderRecoveryState (v1+)
 *      other than 0 -> INVALID_REQUEST (samsa never elects a leader that must recover);
 *   5. the controller's compare-and-set (controller/isr.ts `applyIsrChange`: STALE_BROKER_EPOCH,
 *      NOT_CONTROLLER for a request newer than its view, FENCED_LEADER_EPOCH,
 *      NOT_LEADER_OR_FOLLOWER, INVALID_UPDATE_VERSION, INVALID_REQUEST, INELIGIBLE_REPLICA).
 * Each partition is answered with the state committed (leader, leader epoch, ISR, partition
 * epoch, LeaderRecoveryState 0: samsa never elects a leader that must recover) or its error, with
 * leader, epochs -1 and an empty ISR. A controller call that fails as a whole (its session lost:
 * NOT_CONTROLLER) is the top-level error.
 */
import { type ErrorName, errorCode, KafkaError } from "../../protocol/errors.js";
import type {
  AlterPartitionRequestData,
  AlterPartitionRequestTopicData,
  AlterPartitionResponseData,
  AlterPartitionResponsePartitionData,
} from "../../protocol/types/alter-partition.js";
import type { Broker } from "../broker.js";
import type { IsrChangeRequest, PartitionResult } from "../controller/controller.js";
import { onCluster } from "./authorized.js";
import { answerable, isController } from "./controller-calls.js";
import type { ApiHandler } from "./types.js";

function refused(code: ErrorName): AlterPartitionResponseData {
  return { throttleTimeMs: 0, errorCode: errorCode(code), topics: [] };
}

function answer(
  partitionIndex: number,
  result: PartitionResult | KafkaError,
): AlterPartitionResponsePartitionData {
  const error = result instanceof KafkaError ? result : result.error;
  const state = result instanceof KafkaError ? null : result.state;
  if (error || !state)
    return {
      partitionIndex,
      errorCode: error?.errorCode ?? 0,
      leaderId: -1,
      leaderEpoch: -1,
      isr: [],
      leaderRecoveryState: 0,
      partitionEpoch: -1,
    };
  return {
    partitionIndex,
    errorCode: 0,
    leaderId: state.leader,
    leaderEpoch: state.leaderEpoch,
    isr: [...state.isr],
    leaderRecoveryState: 0,
    partitionEpoch: state.partitionEpoch,
  };
}

/** The topic's name in the store, or the error its partitions get. */
function topicName(broker: Broker, t: AlterPartitionRequestTopicData, version: number): string | KafkaError {
  if (version >= 2) {
    const found = broker.store.topicById(t.topicId ?? "");
    return found ? found.name : new KafkaError("UNKNOWN_TOPIC_ID", `no topic has id ${t.topicId}`);
  }
  const name = t.topicName ?? "";
  return broker.store.topic(name) ? name : new KafkaError("UNKNOWN_TOPIC_OR_PARTITION", `no topic ${name}`);
}

/**
 * The topic's name (null when unknown) and, per partition, the error refusing it before the
 * controller is asked: the topic's, or a LeaderRecoveryState other than RECOVERED (0), which
 * samsa never sets (INVALID_REQUEST).
 */
function refusalsOf(
  broker: Broker,
  t: AlterPartitionRequestTopicData,
  version: number,
): { name: string | null; partitions: (KafkaError | null)[] } {
  const name = topicName(broker, t, version);
  if (name instanceof KafkaError) return { name: null, partitions: t.partitions.map(() => name) };
  const recovering = (state: number) =>
    new KafkaError("INVALID_REQUEST", `LeaderRecoveryState ${state}: only 0 (RECOVERED) is kept`);
  return {
    name,
    partitions: t.partitions.map((p) =>
      (p.leaderRecoveryState ?? 0) !== 0 ? recovering(p.leaderRecoveryState ?? 0) : null,
    ),
  };
}

export const alterPartition: ApiHandler<AlterPartitionRequestData, AlterPartitionResponseData> = {
  apiKey: 56,
  name: "AlterPartition",
  minVersion: 0,
  maxVersion: 3,
  async handle(broker, request, ctx) {
    if (!ctx.interBroker || !onCluster(ctx, "CLUSTER_ACTION")) return refused("CLUSTER_AUTHORIZATION_FAILED");
    if (!isController(broker)) return refused("NOT_CONTROLLER");
    if (request.brokerEpoch !== -1 && broker.store.broker(request.brokerId)?.epoch !== request.brokerEpoch)
      return refused("STALE_BROKER_EPOCH");
    const refusals = request.topics.map((t) => refusalsOf(broker, t, ctx.apiVersion));
    const asked: IsrChangeRequest[] = [];
    request.topics.forEach((t, i) => {
      t.partitions.forEach((p, j) => {
        const topic = refusals[i].name;
        if (topic === null || refusals[i].partitions[j]) return;
        asked.push({
          topic,
          partition: p.partitionIndex,
          brokerId: request.brokerId,
          brokerEpoch: request.brokerEpoch,
          leaderEpoch: p.leaderEpoch,
          partitionEpoch: p.partitionEpoch,
          // The codec gives fields outside a version their defaults: read the one the version has.
          ...(ctx.apiVersion >= 3
            ? { newIsrWithEpochs: p.newIsrWithEpochs ?? [] }
            : { newIsr: p.newIsr ?? [] }),
        });
      });
    });
    let results: PartitionResult[];
    try {
      results = asked.length > 0 ? await broker.controller.alterPartition(asked) : [];
    } catch (err) {
      return refused(answerable(broker, err, "AlterPartition").code);
    }
    let next = 0;
    return {
      throttleTimeMs: 0,
      errorCode: 0,
      topics: request.topics.map((t, i) => ({
        topicName: t.topicName,
        topicId: t.topicId,
        partitions: t.partitions.map((p, j) =>
          answer(p.partitionIndex, refusals[i].partitions[j] ?? results[next++]),
        ),
      })),
    };
  },
};
