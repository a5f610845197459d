/**
 * What the ACL APIs (DescribeAcls 29, CreateAcls 30, DeleteAcls 31) share: their wire codes
 * (protocol/acl.ts) turned into the store's bindings and filters by name (metadata/acl-bindings.ts)
 * and back, the cluster check each starts with, and the size of the store calls a request is
 * split into.
 *
 * A code Kafka does not define, or one that makes no sense where it stands (ANY in a binding,
 * UNKNOWN anywhere), is passed on as "UNKNOWN": the store's checks then refuse that binding or
 * filter alone with INVALID_REQUEST, as Kafka's AclControlManager refuses it.
 */

import {
  CLUSTER_RESOURCE_NAME,
  AclOperation as OperationCodes,
  PatternType as PatternCodes,
  AclPermissionType as PermissionCodes,
  ResourceType as ResourceCodes,
} from "../../protocol/acl.js";
import { KafkaError } from "../../protocol/errors.js";
import type { AclCreation } from "../../protocol/types/create-acls.js";
import type { DeleteAclsFilter } from "../../protocol/types/delete-acls.js";
import type {
  AclBinding,
  AclBindingFilter,
  AclOperation,
  AclPatternType,
  AclPermission,
  AclResourceType,
} from "../metadata/acl-bindings.js";
import type { RequestContext } from "./types.js";

/** A binding as CreateAcls carries it and DeleteAcls answers it. */
export interface WireBinding {
  resourceType: number;
  resourceName: string;
  patternType: number;
  principal: string;
  host: string;
  operation: number;
  permissionType: number;
}

/** A filter as DescribeAcls and DeleteAcls carry it (DeleteAcls' filter has DescribeAcls' fields). */
export type WireFilter = DeleteAclsFilter;

/** The pattern type a request older than v1 means (the specs' default, LITERAL). */
const DEFAULT_PATTERN_TYPE = PatternCodes.LITERAL;

function inverse(table: Readonly<Record<string, number>>): ReadonlyMap<number, string> {
  return new Map(Object.entries(table).map(([name, code]) => [code, name]));
}

const RESOURCE_NAMES = inverse(ResourceCodes);
const PATTERN_NAMES = inverse(PatternCodes);
const OPERATION_NAMES = inverse(OperationCodes);
const PERMISSION_NAMES = inverse(PermissionCodes);

/** The constant name of `code` ("TOPIC"), "UNKNOWN" for an undefined code or one in `refused`. */
function nameOf(names: ReadonlyMap<number, string>, code: number, refused: readonly string[]): string {
  const name = names.get(code);
  return name === undefined || refused.includes(name) ? "UNKNOWN" : name;
}

/** A CreateAcls creation as a binding; bad codes become "UNKNOWN" for the store to refuse. */
export function bindingFromWire(c: AclCreation): AclBinding {
  const notConcrete = ["UNKNOWN", "ANY", "MATCH"];
  return {
    resourceType: nameOf(RESOURCE_NAMES, c.resourceType, notConcrete) as AclResourceType,
    resourceName: c.resourceName,
    patternType: nameOf(
      PATTERN_NAMES,
      c.resourcePatternType ?? DEFAULT_PATTERN_TYPE,
      notConcrete,
    ) as AclPatternType,
    principal: c.principal,
    host: c.host,
    operation: nameOf(OPERATION_NAMES, c.operation, notConcrete) as AclOperation,
    permission: nameOf(PERMISSION_NAMES, c.permissionType, notConcrete) as AclPermission,
  };
}

/** A DescribeAcls or DeleteAcls filter; bad codes become "UNKNOWN" for aclFilterProblem to refuse. */
export function filterFromWire(f: WireFilter): AclBindingFilter {
  const unknown = ["UNKNOWN"];
  return {
    resourceType: nameOf(RESOURCE_NAMES, f.resourceTypeFilter, unknown) as AclBindingFilter["resourceType"],
    resourceName: f.resourceNameFilter,
    patternType: nameOf(
      PATTERN_NAMES,
      f.patternTypeFilter ?? DEFAULT_PATTERN_TYPE,
      unknown,
    ) as AclBindingFilter["patternType"],
    principal: f.principalFilter,
    host: f.hostFilter,
    operation: nameOf(OPERATION_NAMES, f.operation, unknown) as AclBindingFilter["operation"],
    permission: nameOf(PERMISSION_NAMES, f.permissionType, unknown) as AclBindingFilter["permission"],
  };
}

/** A stored binding in wire codes. */
export function bindingToWire(b: AclBinding): WireBinding {
  return {
    resourceType: ResourceCodes[b.resourceType],
    resourceName: b.resourceName,
    patternType: PatternCodes[b.patternType],
    principal: b.principal,
    host: b.host,
    operation: OperationCodes[b.operation],
    permissionType: PermissionCodes[b.permission],
  };
}

/**
 * Whether the caller may `operation` on the cluster, Kafka's check before any ACL API (DESCRIBE
 * for DescribeAcls, ALTER for CreateAcls and DeleteAcls); the error to answer when not.
 */
export function clusterDenied(ctx: RequestContext, operation: "DESCRIBE" | "ALTER"): KafkaError | null {
  if (ctx.authorize(operation, "CLUSTER", CLUSTER_RESOURCE_NAME)) return null;
  return new KafkaError(
    "CLUSTER_AUTHORIZATION_FAILED",
    `${ctx.principal} is not allowed ${operation} on the cluster (${CLUSTER_RESOURCE_NAME})`,
  );
}

/** `err` as a KafkaError: itself, or UNKNOWN_SERVER_ERROR with its message. */
export function errorOf(err: unknown): KafkaError {
  if (KafkaError.is(err)) return err;
  return new KafkaError("UNKNOWN_SERVER_ERROR", err instanceof Error ? err.message : String(err));
}

/** The text to put in a response's ErrorMessage for `err` (its message without the code). */
export function messageOf(err: KafkaError): string {
  return err.message.startsWith(`${err.code}: `) ? err.message.slice(err.code.length + 2) : err.message;
}

/**
 * Runs `call` on `items` in slices of at most `max` (the store's bound on one call), in order;
 * a slice that throws gives its error to its items and to every item after it, untried.
 */
export async function inSlices<T, R>(
  items: readonly T[],
  max: number,
  call: (slice: readonly T[]) => Promise<R[]>,
  failed: (err: KafkaError) => R,
): Promise<R[]> {
  const out: R[] = [];
  for (let at = 0; at < items.length; at += max) {
    try {
      out.push(...(await call(items.slice(at, at + max))));
    } catch (err) {
      const error = errorOf(err);
      while (out.length < items.length) out.push(failed(error));
      return out;
    }
  }
  return out;
}
