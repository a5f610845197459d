/**
 * FindCoordinator (key 10), v0-v6; v4+ batch several keys.
 * Validation order, per key: key type 1 (transactions, not served) ->
 * TRANSACTIONAL_ID_AUTHORIZATION_FAILED; a group key without DESCRIBE on the group (ACLs) ->
 * GROUP_AUTHORIZATION_FAILED; any other type but 0 (groups) -> INVALID_REQUEST; an
 * empty key -> INVALID_REQUEST; `__consumer_offsets` cannot be created -> COORDINATOR_NOT_AVAILABLE.
 * The coordinator is the registered broker the cluster store names leader of the group's
 * partition of `__consumer_offsets` (COORDINATOR_NOT_AVAILABLE while it has none); the offsets
 * topic is created on the first request, as Kafka does.
 */
import { type ErrorName, errorCode } from "../../protocol/errors.js";
import type {
  FindCoordinatorRequestData,
  FindCoordinatorResponseData,
} from "../../protocol/types/find-coordinator.js";
import type { Broker } from "../broker.js";
import { OFFSETS_TOPIC } from "../group/offsets-topic.js";
import { type BrokerRegistration, endpointOn } from "../metadata/cluster.js";
import type { ApiHandler, RequestContext } from "./types.js";

const GROUP_KEY_TYPE = 0;
const TRANSACTION_KEY_TYPE = 1;

/** The registered broker the store names leader of the group's offsets partition. */
function groupCoordinator(broker: Broker, groupId: string): BrokerRegistration | undefined {
  const partition = broker.groups.offsetsTopic.partitionFor(groupId);
  const state = broker.store.topic(OFFSETS_TOPIC)?.partitions[partition];
  return state && state.leader >= 0 ? broker.store.broker(state.leader) : undefined;
}

async function coordinatorFor(broker: Broker, key: string, keyType: number, ctx: RequestContext) {
  let error: ErrorName | null = null;
  let message: string | null = null;
  if (keyType === TRANSACTION_KEY_TYPE) {
    error = "TRANSACTIONAL_ID_AUTHORIZATION_FAILED";
    message = "transactions are not served";
  } else if (keyType === GROUP_KEY_TYPE && !ctx.authorize("DESCRIBE", "GROUP", key)) {
    error = "GROUP_AUTHORIZATION_FAILED";
  } else if (keyType !== GROUP_KEY_TYPE) {
    error = "INVALID_REQUEST";
    message = `key type ${keyType} is not served`;
  } else if (!key) {
    error = "INVALID_REQUEST";
    message = "empty group id";
  } else {
    try {
      await broker.groups.offsetsTopic.ensure();
    } catch (err) {
      error = "COORDINATOR_NOT_AVAILABLE";
      message = err instanceof Error ? err.message : String(err);
    }
  }
  const coordinator = error ? undefined : groupCoordinator(broker, key);
  if (!error && !coordinator) {
    error = "COORDINATOR_NOT_AVAILABLE";
    message = "the group's offsets partition has no registered leader";
  }
  return {
    key,
    nodeId: coordinator?.nodeId ?? -1,
    host: coordinator ? endpointOn(coordinator, ctx.listener).host : "",
    port: coordinator ? endpointOn(coordinator, ctx.listener).port : -1,
    errorCode: error ? errorCode(error) : 0,
    errorMessage: message,
  };
}

export const findCoordinator: ApiHandler<FindCoordinatorRequestData, FindCoordinatorResponseData> = {
  apiKey: 10,
  name: "FindCoordinator",
  minVersion: 0,
  maxVersion: 6,
  async handle(broker, request, ctx) {
    if (ctx.apiVersion >= 4) {
      const coordinators = [];
      for (const key of request.coordinatorKeys ?? []) {
        coordinators.push(await coordinatorFor(broker, key, request.keyType ?? GROUP_KEY_TYPE, ctx));
      }
      return { throttleTimeMs: 0, coordinators };
    }
    const c = await coordinatorFor(broker, request.key ?? "", request.keyType ?? GROUP_KEY_TYPE, ctx);
    return {
      throttleTimeMs: 0,
      errorCode: c.errorCode,
      errorMessage: c.errorMessage,
      nodeId: c.nodeId,
      host: c.host,
      port: c.port,
    };
  },
};
