/**
 * ACL shapes of the Admin client (CreateAcls, DescribeAcls, DeleteAcls), KafkaJS's: a binding is
 * `{ resourceType, resourceName, resourcePatternType, principal, host, operation, permissionType }`
 * with Kafka's codes (protocol/acl.ts: `ResourceType.TOPIC`, `AclOperation.READ`, ... equal to
 * KafkaJS's `AclResourceTypes`, `AclOperationTypes`, ...). Arguments may also name a code in any
 * case ("topic", "IDEMPOTENT_WRITE", "IdempotentWrite"); answers always carry codes. Here: the
 * argument checks and the conversions to and from the request and response fields.
 */
import {
  AclOperation,
  type AclOperationCode,
  AclPermissionType,
  type AclPermissionTypeCode,
  aclOperationName,
  PatternType,
  type PatternTypeCode,
  parseAclOperation,
  parsePatternType,
  parsePermissionType,
  parseResourceType,
  patternTypeName,
  permissionTypeName,
  ResourceType,
  type ResourceTypeCode,
  resourceTypeName,
} from "../protocol/acl.js";
import { checkName, describe, invalid } from "./errors.js";

/** One ACL binding: who (principal, host) may or may not (permissionType) do what (operation) to which resources. */
export interface AclBinding {
  resourceType: ResourceTypeCode | string;
  resourceName: string;
  /** LITERAL (default) or PREFIXED. */
  resourcePatternType?: PatternTypeCode | string;
  /** "User:alice", or "User:*" for everyone. */
  principal: string;
  /** An address, or "*" (default) for every host. */
  host?: string;
  operation: AclOperationCode | string;
  permissionType: AclPermissionTypeCode | string;
}

/**
 * Which bindings to describe or delete (Kafka's AclBindingFilter): an absent field matches
 * anything (codes: ANY; names, principal, host: null). resourcePatternType MATCH matches the
 * bindings that apply to the named resource (LITERAL equal or "*", PREFIXED a prefix of it).
 */
export interface AclFilter {
  resourceType?: ResourceTypeCode | string;
  resourceName?: string | null;
  resourcePatternType?: PatternTypeCode | string;
  principal?: string | null;
  host?: string | null;
  operation?: AclOperationCode | string;
  permissionType?: AclPermissionTypeCode | string;
}

/** One entry of a described resource. */
export interface AclDescription {
  principal: string;
  host: string;
  operation: number;
  permissionType: number;
}

/** A resource pattern and the entries bound to it that a filter matched (DescribeAcls). */
export interface AclResource {
  resourceType: number;
  resourceName: string;
  resourcePatternType: number;
  acls: AclDescription[];
}

/** A binding a DeleteAcls filter removed, with the codes it was stored with. */
export interface AclMatchingBinding {
  errorCode: number;
  errorMessage: string | null;
  resourceType: number;
  resourceName: string;
  resourcePatternType: number;
  principal: string;
  host: string;
  operation: number;
  permissionType: number;
}

/** What one DeleteAcls filter removed. */
export interface AclFilterResponse {
  errorCode: number;
  errorMessage: string | null;
  matchingAcls: AclMatchingBinding[];
}

interface CodeTable {
  what: string;
  codes: Readonly<Record<string, number>>;
  parse: (text: string) => number | undefined;
}

const RESOURCE_TYPES: CodeTable = { what: "resourceType", codes: ResourceType, parse: parseResourceType };
const PATTERN_TYPES: CodeTable = {
  what: "resourcePatternType",
  codes: PatternType,
  parse: parsePatternType,
};
const OPERATIONS: CodeTable = { what: "operation", codes: AclOperation, parse: parseAclOperation };
const PERMISSIONS: CodeTable = {
  what: "permissionType",
  codes: AclPermissionType,
  parse: parsePermissionType,
};

/** `value` (a code or a name) as a code Kafka defines, or INVALID_ARGUMENT naming `where`. */
function codeOf(table: CodeTable, value: unknown, where: string): number {
  const code =
    typeof value === "string"
      ? table.parse(value)
      : Object.values(table.codes).includes(value as number)
        ? (value as number)
        : undefined;
  if (code === undefined) {
    const names = Object.keys(table.codes).join(", ");
    throw invalid(`${where}.${table.what} must be a code or one of ${names}, got ${describe(value)}`);
  }
  return code;
}

function nullableName(value: unknown, what: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "string") throw invalid(`${what} must be a string or null, got ${describe(value)}`);
  return value;
}

function checkObject(value: unknown, where: string): asserts value is Record<string, unknown> {
  if (typeof value !== "object" || value === null)
    throw invalid(`${where} must be an object, got ${describe(value)}`);
}

/** A CreateAcls creation for `b`, checked (INVALID_ARGUMENT naming `where`). */
export function creationOf(b: AclBinding, where: string) {
  checkObject(b, where);
  checkName(b.resourceName, `${where}.resourceName`);
  checkName(b.principal, `${where}.principal`);
  if (b.host !== undefined) checkName(b.host, `${where}.host`);
  return {
    resourceType: codeOf(RESOURCE_TYPES, b.resourceType, where),
    resourceName: b.resourceName,
    resourcePatternType: codeOf(PATTERN_TYPES, b.resourcePatternType ?? PatternType.LITERAL, where),
    principal: b.principal,
    host: b.host ?? "*",
    operation: codeOf(OPERATIONS, b.operation, where),
    permissionType: codeOf(PERMISSIONS, b.permissionType, where),
  };
}

/** The DescribeAcls / DeleteAcls filter fields for `f`, checked (INVALID_ARGUMENT naming `where`). */
export function filterOf(f: AclFilter, where: string) {
  checkObject(f, where);
  return {
    resourceTypeFilter: codeOf(RESOURCE_TYPES, f.resourceType ?? ResourceType.ANY, where),
    resourceNameFilter: nullableName(f.resourceName, `${where}.resourceName`),
    patternTypeFilter: codeOf(PATTERN_TYPES, f.resourcePatternType ?? PatternType.ANY, where),
    principalFilter: nullableName(f.principal, `${where}.principal`),
    hostFilter: nullableName(f.host, `${where}.host`),
    operation: codeOf(OPERATIONS, f.operation ?? AclOperation.ANY, where),
    permissionType: codeOf(PERMISSIONS, f.permissionType ?? AclPermissionType.ANY, where),
  };
}

/** A DescribeAcls response resource in the client's shape. */
export function resourceOf(r: {
  resourceType: number;
  resourceName: string;
  patternType?: number;
  acls: AclDescription[];
}): AclResource {
  return {
    resourceType: r.resourceType,
    resourceName: r.resourceName,
    resourcePatternType: r.patternType ?? PatternType.LITERAL,
    acls: r.acls.map(({ principal, host, operation, permissionType }) => ({
      principal,
      host,
      operation,
      permissionType,
    })),
  };
}

/** A DeleteAcls matching ACL in the client's shape. */
export function matchingOf(m: Omit<AclMatchingBinding, "resourcePatternType"> & { patternType?: number }) {
  const { patternType, ...rest } = m;
  return { ...rest, resourcePatternType: patternType ?? PatternType.LITERAL };
}

/** A code's constant name ("TOPIC", "IDEMPOTENT_WRITE"), `UNKNOWN(<code>)` for one Kafka does not define. */
export const aclNames = {
  resourceType: (code: number) => constantName(resourceTypeName(code), code),
  patternType: (code: number) => constantName(patternTypeName(code), code),
  operation: (code: number) => constantName(aclOperationName(code), code),
  permissionType: (code: number) => constantName(permissionTypeName(code), code),
};

function constantName(pascal: string | undefined, code: number): string {
  if (pascal === undefined) return `UNKNOWN(${code})`;
  return pascal.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}
