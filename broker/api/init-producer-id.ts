/**
 * InitProducerId (key 22), v0-v4.
 * Validation order: a transactional id gets TRANSACTIONAL_ID_AUTHORIZATION_FAILED (transactions
 * are not served yet); a known producer id and epoch (v3+, KIP-360) get the same id with the
 * epoch bumped (a new id once the epoch would overflow); otherwise a new producer id, epoch 0.
 */
import { errorCode } from "../../protocol/errors.js";
import type { ApiHandler } from "./types.js";

const MAX_EPOCH = 32767;

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
    const previousId = request.producerId as number;
    const previousEpoch = request.producerEpoch as number;
    if (previousId >= 0 && previousEpoch >= 0 && previousEpoch < MAX_EPOCH - 1) {
      return { throttleTimeMs: 0, errorCode: 0, producerId: previousId, producerEpoch: previousEpoch + 1 };
    }
    return {
      throttleTimeMs: 0,
      errorCode: 0,
      producerId: await broker.store.nextProducerId(),
      producerEpoch: 0,
    };
  },
};
