/**
 * DescribeCluster (key 60), v0-v2 (Kafka 4's range; the admin client's way to learn the cluster
 * id, the controller and the brokers).
 * Validation order: an endpoint type (v1+) other than 1 (brokers) -> MISMATCHED_ENDPOINT_TYPE for
 * 2 (controllers: this listener is a broker's) and UNSUPPORTED_ENDPOINT_TYPE for any other value.
 * The answer lists every registered broker, none fenced (v2 IncludeFencedBrokers changes nothing).
 * No ACL is needed, as on Kafka; IncludeClusterAuthorizedOperations asks for the cluster's bit
 * set (0 without DESCRIBE on the cluster; api/authorized.ts).
 */
import { type ErrorName, errorCode } from "../../protocol/errors.js";
import type {
  DescribeClusterRequestData,
  DescribeClusterResponseData,
} from "../../protocol/types/describe-cluster.js";
import { endpointOn } from "../metadata/cluster.js";
import { clusterOperations, OPERATIONS_OMITTED } from "./authorized.js";
import type { ApiHandler } from "./types.js";

const BROKER_ENDPOINT = 1;
const CONTROLLER_ENDPOINT = 2;

export const describeCluster: ApiHandler<DescribeClusterRequestData, DescribeClusterResponseData> = {
  apiKey: 60,
  name: "DescribeCluster",
  minVersion: 0,
  maxVersion: 2,
  async handle(broker, request, ctx) {
    const endpointType = ctx.apiVersion >= 1 ? (request.endpointType ?? BROKER_ENDPOINT) : BROKER_ENDPOINT;
    const refuse = (code: ErrorName, message: string) => ({
      throttleTimeMs: 0,
      errorCode: errorCode(code),
      errorMessage: message,
      endpointType,
      clusterId: broker.store.clusterId(),
      controllerId: -1,
      brokers: [],
      clusterAuthorizedOperations: OPERATIONS_OMITTED,
    });
    if (endpointType === CONTROLLER_ENDPOINT) {
      return refuse("MISMATCHED_ENDPOINT_TYPE", "this is a broker endpoint, not a controller's");
    }
    if (endpointType !== BROKER_ENDPOINT) {
      return refuse("UNSUPPORTED_ENDPOINT_TYPE", `endpoint type ${endpointType} is unknown`);
    }
    return {
      throttleTimeMs: 0,
      errorCode: 0,
      errorMessage: null,
      endpointType,
      clusterId: broker.store.clusterId(),
      controllerId: broker.store.controller()?.nodeId ?? -1,
      brokers: broker.store.brokers().map((b) => ({
        brokerId: b.nodeId,
        ...endpointOn(b, ctx.listener),
        rack: b.rack,
        isFenced: false,
      })),
      clusterAuthorizedOperations: clusterOperations(ctx, request.includeClusterAuthorizedOperations),
    };
  },
};
