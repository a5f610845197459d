/**
 * InitProducerId (key 22), v0-v4.
 * Validation order: an empty transactional id gets INVALID_REQUEST (as Kafka's coordinator: the
 * client refuses one too); any other transactional id gets TRANSACTIONAL_ID_AUTHORIZATION_FAILED
 * (transactions are not served yet); a principal with neither IDEMPOTENT_WRITE on the cluster nor
 * WRITE on at least one topic (ACLs, Kafka's authorizeByResourceType) gets
 * CLUSTER_AUTHORIZATION_FAILED; a client over its producer-id quota (KIP-936,
 * `producer.ids.rate`: broker/producer-ids.ts) gets THROTTLING_QUOTA_EXCEEDED with the throttle
 * time; otherwise a fresh producer id at epoch 0, always.
 *
 * The producer id and epoch a request carries (v3+, KIP-360) are ignored without a transactional
 * id, as Kafka does: only a transaction coordinator knows which id a client was given, so taking
 * them at their word would hand one producer's id and epoch to another, and the second one's
 * batches would be "duplicates" of the first's. Ids come from blocks the cluster store reserves
 * (ClusterStore.allocateProducerIds), never handed out twice, across restarts and kill -9 included.
 */
import { type ErrorName, errorCode } from "../../protocol/errors.js";
import type {
  InitProducerIdRequestData,
  InitProducerIdResponseData,
} from "../../protocol/types/init-producer-id.js";
import { quotaClient } from "../producer-ids.js";
import { onCluster } from "./authorized.js";
import type { ApiHandler } from "./types.js";

function refusal(code: ErrorName, throttleTimeMs = 0) {
  return { throttleTimeMs, errorCode: errorCode(code), producerId: -1, producerEpoch: -1 };
}

export const initProducerId: ApiHandler<InitProducerIdRequestData, InitProducerIdResponseData> = {
  apiKey: 22,
  name: "InitProducerId",
  minVersion: 0,
  maxVersion: 4,
  async handle(broker, request, ctx) {
    const transactionalId = request.transactionalId;
    if (transactionalId === "") return refusal("INVALID_REQUEST");
    if (transactionalId !== null) return refusal("TRANSACTIONAL_ID_AUTHORIZATION_FAILED");
    if (!onCluster(ctx, "IDEMPOTENT_WRITE") && !ctx.authorizeAny("WRITE", "TOPIC"))
      return refusal("CLUSTER_AUTHORIZATION_FAILED");
    const client = quotaClient(ctx);
    const ids = broker.topics.producerIds;
    const throttleTimeMs = ids.initThrottleMs(client);
    if (throttleTimeMs > 0) return refusal("THROTTLING_QUOTA_EXCEEDED", throttleTimeMs);
    const producerId = await broker.producerIdBlocks.nextId();
    ids.countInit(client, producerId);
    return { throttleTimeMs: 0, errorCode: 0, producerId, producerEpoch: 0 };
  },
};
