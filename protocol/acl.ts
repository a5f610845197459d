/**
 * The byte enums Kafka puts on the wire for ACLs (DescribeAcls, CreateAcls, DeleteAcls and the
 * authorized-operations bit sets of Metadata and DescribeGroups), as `org.apache.kafka.common.acl`
 * and `org.apache.kafka.common.resource` define them, with the names kafka-acls uses.
 *
 * Each enum is a frozen object from Kafka's constant name to its code (`AclOperation.READ === 3`),
 * plus `xxxName(code)`, the PascalCase name kafka-acls prints and takes ("IdempotentWrite",
 * "TransactionalId"), and `parseXxx(text)`, which reads a name in any case, with or without
 * underscores or dashes ("idempotent_write", "IDEMPOTENTWRITE", "IdempotentWrite"). A code or a
 * name Kafka does not define gives `undefined`: the caller decides between UNKNOWN and an error.
 */

/** ResourceType: what an ACL protects. ANY is for filters only. */
export const ResourceType = Object.freeze({
  UNKNOWN: 0,
  ANY: 1,
  TOPIC: 2,
  GROUP: 3,
  CLUSTER: 4,
  TRANSACTIONAL_ID: 5,
  DELEGATION_TOKEN: 6,
  USER: 7,
} as const);

/** PatternType: how an ACL's resource name matches. ANY and MATCH are for filters only. */
export const PatternType = Object.freeze({
  UNKNOWN: 0,
  ANY: 1,
  MATCH: 2,
  LITERAL: 3,
  PREFIXED: 4,
} as const);

/** AclOperation: what an ACL allows or denies. ANY is for filters only. */
export const AclOperation = Object.freeze({
  UNKNOWN: 0,
  ANY: 1,
  ALL: 2,
  READ: 3,
  WRITE: 4,
  CREATE: 5,
  DELETE: 6,
  ALTER: 7,
  DESCRIBE: 8,
  CLUSTER_ACTION: 9,
  DESCRIBE_CONFIGS: 10,
  ALTER_CONFIGS: 11,
  IDEMPOTENT_WRITE: 12,
  CREATE_TOKENS: 13,
  DESCRIBE_TOKENS: 14,
  TWO_PHASE_COMMIT: 15,
} as const);

/** AclPermissionType: whether an ACL allows or denies. ANY is for filters only. */
export const AclPermissionType = Object.freeze({
  UNKNOWN: 0,
  ANY: 1,
  DENY: 2,
  ALLOW: 3,
} as const);

export type ResourceTypeCode = (typeof ResourceType)[keyof typeof ResourceType];
export type PatternTypeCode = (typeof PatternType)[keyof typeof PatternType];
export type AclOperationCode = (typeof AclOperation)[keyof typeof AclOperation];
/** An operation's constant name ("IDEMPOTENT_WRITE"). */
export type AclOperationName = keyof typeof AclOperation;
export type AclPermissionTypeCode = (typeof AclPermissionType)[keyof typeof AclPermissionType];

/** The resource name of the cluster in ACLs (Kafka's `Resource.CLUSTER_NAME`). */
export const CLUSTER_RESOURCE_NAME = "kafka-cluster";

/** The resource name and host that match every name or host in a LITERAL ACL. */
export const WILDCARD = "*";

/** `TRANSACTIONAL_ID` -> `TransactionalId`. */
function pascalCase(constantName: string): string {
  return constantName
    .toLowerCase()
    .split("_")
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join("");
}

/** The form every accepted spelling of a name reduces to: lower case, no `_` or `-`. */
function folded(text: string): string {
  return text.toLowerCase().replace(/[_-]/g, "");
}

interface Lookup<C extends number> {
  name(code: number): string | undefined;
  parse(text: string): C | undefined;
}

function lookup<C extends number>(table: Readonly<Record<string, C>>): Lookup<C> {
  const names = new Map<number, string>();
  const codes = new Map<string, C>();
  for (const [constant, code] of Object.entries(table)) {
    names.set(code, pascalCase(constant));
    codes.set(folded(constant), code);
  }
  return { name: (code) => names.get(code), parse: (text) => codes.get(folded(text)) };
}

const resourceTypes = lookup<ResourceTypeCode>(ResourceType);
const patternTypes = lookup<PatternTypeCode>(PatternType);
const operations = lookup<AclOperationCode>(AclOperation);
const permissionTypes = lookup<AclPermissionTypeCode>(AclPermissionType);

/** kafka-acls' name of a resource type code ("Topic", "TransactionalId"), or undefined. */
export function resourceTypeName(code: number): string | undefined {
  return resourceTypes.name(code);
}

/** The code of a resource type name in any case ("topic", "TRANSACTIONAL_ID"), or undefined. */
export function parseResourceType(text: string): ResourceTypeCode | undefined {
  return resourceTypes.parse(text);
}

/** kafka-acls' name of a pattern type code ("Literal", "Prefixed"), or undefined. */
export function patternTypeName(code: number): string | undefined {
  return patternTypes.name(code);
}

/** The code of a pattern type name in any case ("literal", "PREFIXED"), or undefined. */
export function parsePatternType(text: string): PatternTypeCode | undefined {
  return patternTypes.parse(text);
}

/** kafka-acls' name of an operation code ("Read", "IdempotentWrite"), or undefined. */
export function aclOperationName(code: number): string | undefined {
  return operations.name(code);
}

/** The code of an operation name in any case ("read", "IDEMPOTENT_WRITE"), or undefined. */
export function parseAclOperation(text: string): AclOperationCode | undefined {
  return operations.parse(text);
}

/** kafka-acls' name of a permission type code ("Allow", "Deny"), or undefined. */
export function permissionTypeName(code: number): string | undefined {
  return permissionTypes.name(code);
}

/** The code of a permission type name in any case ("allow", "DENY"), or undefined. */
export function parsePermissionType(text: string): AclPermissionTypeCode | undefined {
  return permissionTypes.parse(text);
}

/**
 * The operations each resource type supports besides ALL (Kafka's AclEntry.supportedOperations),
 * by constant name: what kafka-acls accepts on the type, and what an authorized-operations bit set
 * reports for it.
 */
export const OPERATIONS_BY_RESOURCE_TYPE: Readonly<
  Record<
    "TOPIC" | "GROUP" | "CLUSTER" | "TRANSACTIONAL_ID" | "DELEGATION_TOKEN" | "USER",
    readonly Exclude<AclOperationName, "UNKNOWN" | "ANY" | "ALL">[]
  >
> = Object.freeze({
  TOPIC: ["READ", "WRITE", "CREATE", "DESCRIBE", "DELETE", "ALTER", "DESCRIBE_CONFIGS", "ALTER_CONFIGS"],
  GROUP: ["READ", "DESCRIBE", "DELETE"],
  CLUSTER: [
    "CREATE",
    "CLUSTER_ACTION",
    "DESCRIBE_CONFIGS",
    "ALTER_CONFIGS",
    "IDEMPOTENT_WRITE",
    "ALTER",
    "DESCRIBE",
  ],
  TRANSACTIONAL_ID: ["DESCRIBE", "WRITE", "TWO_PHASE_COMMIT"],
  DELEGATION_TOKEN: ["DESCRIBE"],
  USER: ["CREATE_TOKENS", "DESCRIBE_TOKENS"],
});
