/**
 * InitProducerId (key 22), v0-v4.
 * Validation order: a transactional id gets TRANSACTIONAL_ID_AUTHORIZATION_FAILED (transactions
 * are not served yet); otherwise a new producer id, epoch 0, whatever producer id and epoch the
 * request carries: as Kafka's coordinator, which bumps epochs (KIP-360) only for transactional
 * ids. Handing an idempotent producer's id back with a bumped epoch let two producers that both
 * sent id 0 / epoch 0 (@platformatic/kafka's defaults) share one id, and the second one's
 * batches were answered as duplicates of the first's and never written.
 */
import { errorCode } from "../../protocol/errors.js";
import type { ApiHandler } from "./types.js";

export const initProducerId: ApiHandler = {
  apiKey: 22,
  name: "InitProducerId",
  minVersion: 0,
  maxVersion: 4,
  async handle(broker, request) {
    if (request.transactionalId !== null && request.transactionalId !== "") {
      return {
        throttleTimeMs: 0,
        errorCode: errorCode("TRANSACTIONAL_ID_AUTHORIZATION_FAILED"),
        producerId: -1,
        producerEpoch: -1,
      };
    }
    return {
      throttleTimeMs: 0,
      errorCode: 0,
      producerId: await broker.store.nextProducerId(),
      producerEpoch: 0,
    };
  },
};
