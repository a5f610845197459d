/**
 * ControlledShutdown (key 7), v3 (the only version with a broker epoch kept in the specs): a
 * broker about to stop asks the controller to move its leaderships to in-sync followers and take
 * it out of every ISR. Inter-broker only, and answered only by the controller itself (never
 * forwarded, as Kafka). Validation order:
 *   1. a caller that is not inter-broker, or lacks CLUSTER_ACTION on the cluster (ACLs) ->
 *      CLUSTER_AUTHORIZATION_FAILED;
 *   2. the store does not name this broker controller -> NOT_CONTROLLER;
 *   3. the controller: STALE_BROKER_EPOCH unless BrokerEpoch is the broker's live registration's;
 *      NOT_CONTROLLER if its term ends meanwhile.
 * RemainingPartitions: those the broker still leads (no other replica can take over yet); the
 * broker asks again until none remain or its shutdown timeout passes.
 */
import { type ErrorName, errorCode } from "../../protocol/errors.js";
import type {
  ControlledShutdownRequestData,
  ControlledShutdownResponseData,
} from "../../protocol/types/controlled-shutdown.js";
import { onCluster } from "./authorized.js";
import { answerable, isController } from "./controller-calls.js";
import type { ApiHandler } from "./types.js";

function refused(code: ErrorName): ControlledShutdownResponseData {
  return { errorCode: errorCode(code), remainingPartitions: [] };
}

export const controlledShutdown: ApiHandler<ControlledShutdownRequestData, ControlledShutdownResponseData> = {
  apiKey: 7,
  name: "ControlledShutdown",
  minVersion: 3,
  maxVersion: 3,
  async handle(broker, request, ctx) {
    if (!ctx.interBroker || !onCluster(ctx, "CLUSTER_ACTION")) return refused("CLUSTER_AUTHORIZATION_FAILED");
    if (!isController(broker)) return refused("NOT_CONTROLLER");
    try {
      const remaining = await broker.controller.controlledShutdown(request.brokerId, request.brokerEpoch);
      return {
        errorCode: 0,
        remainingPartitions: remaining.map((r) => ({ topicName: r.topic, partitionIndex: r.partition })),
      };
    } catch (err) {
      return refused(answerable(broker, err, "ControlledShutdown").code);
    }
  },
};
