/**
 * The ACL checks the handlers share (issue 15), in the shapes Kafka's KafkaApis uses them: a
 * request's names split into those the principal may act on and the rest (each name asked once,
 * Kafka's filterByAuthorized), the cluster resource, the authorized-operations bit sets of
 * Metadata, DescribeGroups, DescribeCluster and DescribeTopicPartitions, and the rule for
 * creating a topic on first use. Every check goes through the request context's `authorize` /
 * `authorizeAny` (security/authorize.ts), so all of this allows everything on a broker without
 * an authorizer.
 */
import { OPERATIONS_BY_RESOURCE_TYPE, AclOperation as OperationCodes } from "../../protocol/acl.js";
import type { ErrorName } from "../../protocol/errors.js";
import type { Broker } from "../broker.js";
import { type AclOperation, type AclResourceType, CLUSTER_RESOURCE_NAME } from "../metadata/acl-bindings.js";
import { isInternalTopic } from "../topics.js";
import type { RequestContext } from "./types.js";

/** The checks of a request context. */
export type Checks = Pick<RequestContext, "authorize" | "authorizeAny">;

/** Kafka's "authorized operations not requested" marker (Int.MinValue). */
export const OPERATIONS_OMITTED = -2147483648;

/** Whether the principal may do `operation` on the cluster ("kafka-cluster"). */
export function onCluster(ctx: Checks, operation: AclOperation): boolean {
  return ctx.authorize(operation, "CLUSTER", CLUSTER_RESOURCE_NAME);
}

/**
 * The names of `names` the principal may do `operation` on, each asked once (Kafka's
 * filterByAuthorized): a handler answers the others with the type's authorization error.
 */
export function authorizedNames(
  ctx: Checks,
  operation: AclOperation,
  resourceType: AclResourceType,
  names: Iterable<string>,
): Set<string> {
  const allowed = new Set<string>();
  const refused = new Set<string>();
  for (const name of names) {
    if (allowed.has(name) || refused.has(name)) continue;
    if (ctx.authorize(operation, resourceType, name)) allowed.add(name);
    else refused.add(name);
  }
  return allowed;
}

/**
 * The operations the principal may do on the resource as Kafka's bit set (bit `code` for each
 * allowed operation of protocol/acl.ts), over the operations Kafka reports for its type.
 */
export function authorizedOperations(ctx: Checks, resourceType: AclResourceType, name: string): number {
  let bits = 0;
  for (const operation of OPERATIONS_BY_RESOURCE_TYPE[resourceType]) {
    if (ctx.authorize(operation, resourceType, name)) bits |= 1 << OperationCodes[operation];
  }
  return bits;
}

/**
 * The cluster's bit set when `asked`, as Metadata (v8-v10) and DescribeCluster answer it: 0 to a
 * principal that may not DESCRIBE the cluster, OPERATIONS_OMITTED when not asked.
 */
export function clusterOperations(ctx: Checks, asked: boolean): number {
  if (!asked) return OPERATIONS_OMITTED;
  return onCluster(ctx, "DESCRIBE") ? authorizedOperations(ctx, "CLUSTER", CLUSTER_RESOURCE_NAME) : 0;
}

/** ConfigResource types (DescribeConfigs, AlterConfigs, IncrementalAlterConfigs). */
const CONFIG_TOPIC = 2;
const CONFIG_BROKER = 4;
const CONFIG_BROKER_LOGGER = 8;
const CONFIG_CLIENT_METRICS = 16;
const CONFIG_GROUP = 32;

/**
 * The error refusing `operation` (DESCRIBE_CONFIGS or ALTER_CONFIGS) on a config resource, or
 * null when allowed, as Kafka maps them: a topic's on the TOPIC (TOPIC_AUTHORIZATION_FAILED), a
 * broker's, broker logger's or client-metrics' on the CLUSTER (CLUSTER_AUTHORIZATION_FAILED), a
 * group's on the GROUP (GROUP_AUTHORIZATION_FAILED). Other types are the handler's to refuse.
 */
export function configRefusal(
  ctx: Checks,
  operation: "DESCRIBE_CONFIGS" | "ALTER_CONFIGS",
  resourceType: number,
  name: string,
): ErrorName | null {
  switch (resourceType) {
    case CONFIG_TOPIC:
      return ctx.authorize(operation, "TOPIC", name) ? null : "TOPIC_AUTHORIZATION_FAILED";
    case CONFIG_BROKER:
    case CONFIG_BROKER_LOGGER:
    case CONFIG_CLIENT_METRICS:
      return onCluster(ctx, operation) ? null : "CLUSTER_AUTHORIZATION_FAILED";
    case CONFIG_GROUP:
      return ctx.authorize(operation, "GROUP", name) ? null : "GROUP_AUTHORIZATION_FAILED";
    default:
      return null;
  }
}

/** Whether the principal may create topic `name`: CREATE on the cluster or on the topic. */
export function mayCreateTopic(ctx: Checks, name: string): boolean {
  return onCluster(ctx, "CREATE") || ctx.authorize("CREATE", "TOPIC", name);
}

/**
 * Whether looking up `name` with auto-creation `asked` would create it for a principal that may
 * not (Kafka's Metadata answers such a topic TOPIC_AUTHORIZATION_FAILED): the topic is absent,
 * the broker and the request allow auto-creation, and the principal lacks CREATE.
 */
export function creationRefused(broker: Broker, ctx: Checks, name: string, asked: boolean): boolean {
  if (!asked || !broker.config.autoCreateTopics || isInternalTopic(name)) return false;
  return !broker.store.topic(name) && !mayCreateTopic(ctx, name);
}
