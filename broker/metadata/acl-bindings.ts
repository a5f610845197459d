/**
 * Kafka ACL bindings as the cluster stores keep them (issue 15): a resource pattern (type, name,
 * LITERAL or PREFIXED) and an entry (principal, host, operation, ALLOW or DENY), by name in
 * Kafka's vocabulary (its Java enum names; protocol/acl.ts maps the wire codes). And the rules
 * that every store applies alike:
 *
 * - CreateAcls (Kafka's AclControlManager): each binding is checked on its own (a concrete
 *   resource type, LITERAL or PREFIXED, a concrete operation, ALLOW or DENY, a non-empty resource
 *   name, "kafka-cluster" for CLUSTER, a "Type:name" principal, samsa's size bounds): a bad one
 *   answers INVALID_REQUEST, the others are created; creating an existing binding is a success
 *   that adds nothing. A binding beyond ACL_BINDINGS_MAX in the cluster, or beyond
 *   ACL_BINDINGS_PER_RESOURCE_MAX on its resource pattern, answers POLICY_VIOLATION.
 * - DeleteAcls: each filter (AclBindingFilter) is matched against the bindings as they were before
 *   the request, and answers every binding it matched; a binding matched by several filters is
 *   removed once and reported by each.
 */
import { KafkaError } from "../../protocol/errors.js";
import { compareStrings } from "./scram-credentials.js";

export type AclResourceType =
  | "TOPIC"
  | "GROUP"
  | "CLUSTER"
  | "TRANSACTIONAL_ID"
  | "DELEGATION_TOKEN"
  | "USER";
export type AclPatternType = "LITERAL" | "PREFIXED";
export type AclOperation =
  | "ALL"
  | "READ"
  | "WRITE"
  | "CREATE"
  | "DELETE"
  | "ALTER"
  | "DESCRIBE"
  | "CLUSTER_ACTION"
  | "DESCRIBE_CONFIGS"
  | "ALTER_CONFIGS"
  | "IDEMPOTENT_WRITE"
  | "CREATE_TOKENS"
  | "DESCRIBE_TOKENS"
  | "TWO_PHASE_COMMIT";
export type AclPermission = "ALLOW" | "DENY";

export const ACL_RESOURCE_TYPES: readonly AclResourceType[] = [
  "TOPIC",
  "GROUP",
  "CLUSTER",
  "TRANSACTIONAL_ID",
  "DELEGATION_TOKEN",
  "USER",
];
export const ACL_PATTERN_TYPES: readonly AclPatternType[] = ["LITERAL", "PREFIXED"];
export const ACL_OPERATIONS: readonly AclOperation[] = [
  "ALL",
  "READ",
  "WRITE",
  "CREATE",
  "DELETE",
  "ALTER",
  "DESCRIBE",
  "CLUSTER_ACTION",
  "DESCRIBE_CONFIGS",
  "ALTER_CONFIGS",
  "IDEMPOTENT_WRITE",
  "CREATE_TOKENS",
  "DESCRIBE_TOKENS",
  "TWO_PHASE_COMMIT",
];
export const ACL_PERMISSIONS: readonly AclPermission[] = ["ALLOW", "DENY"];

/** A LITERAL resource name matching every resource of its type. */
export const WILDCARD_RESOURCE = "*";
/** The principal matching every user. */
export const WILDCARD_PRINCIPAL = "User:*";
/** The host matching every host. */
export const WILDCARD_HOST = "*";
/** The only name of the CLUSTER resource. */
export const CLUSTER_RESOURCE_NAME = "kafka-cluster";

/** samsa's bound on a resource name (UTF-8 bytes); Kafka's topic names stop at 249 characters. */
export const ACL_RESOURCE_NAME_MAX_BYTES = 1024;
/** samsa's bound on a principal ("Type:name", UTF-8 bytes). */
export const ACL_PRINCIPAL_MAX_BYTES = 1024;
/** samsa's bound on a host (an address or "*", UTF-8 bytes). */
export const ACL_HOST_MAX_BYTES = 255;
/** The most bindings a cluster keeps. */
export const ACL_BINDINGS_MAX = 10_000;
/**
 * The most bindings one resource pattern keeps: the etcd store holds them in one value, and etcd
 * refuses a request over 1.5 MiB by default (--max-request-bytes); 2000 entries of a typical size
 * (~110 bytes of JSON) are about 220 KiB.
 */
export const ACL_BINDINGS_PER_RESOURCE_MAX = 2000;
/** The most bindings one createAcls may carry (an etcd txn's default bound, see SCRAM_ALTERATIONS_MAX). */
export const ACL_CREATIONS_MAX = 64;
/** The most filters one deleteAcls may carry. */
export const ACL_FILTERS_MAX = 64;

/** Which resources a binding applies to. */
export interface AclResourcePattern {
  readonly resourceType: AclResourceType;
  readonly resourceName: string;
  readonly patternType: AclPatternType;
}

/** Who may (or may not) do what, from where. */
export interface AclEntry {
  /** "User:alice", or WILDCARD_PRINCIPAL. */
  readonly principal: string;
  /** An address as the broker sees the client's, or WILDCARD_HOST. */
  readonly host: string;
  readonly operation: AclOperation;
  readonly permission: AclPermission;
}

export interface AclBinding extends AclResourcePattern, AclEntry {}

/**
 * Kafka's AclBindingFilter: "ANY" and null match anything; patternType MATCH matches the bindings
 * that apply to the named resource (LITERAL equal, LITERAL "*", PREFIXED a prefix of it), ANY
 * those whose name equals the filter's, whatever their pattern type.
 */
export interface AclBindingFilter {
  resourceType: AclResourceType | "ANY";
  resourceName: string | null;
  patternType: AclPatternType | "ANY" | "MATCH";
  principal: string | null;
  host: string | null;
  operation: AclOperation | "ANY";
  permission: AclPermission | "ANY";
}

/** The answer for one binding of createAcls. */
export interface AclCreationResult {
  error: KafkaError | null;
}

/** The answer for one filter of deleteAcls: the bindings it matched and removed. */
export interface AclDeletionResult {
  error: KafkaError | null;
  deleted: AclBinding[];
}

/** The bindings of one resource pattern, as a store holds them together. */
export interface AclResourceBindings {
  readonly pattern: AclResourcePattern;
  /** Its bindings (frozen), sorted by entry, none twice: the store's flat list reuses them. */
  readonly entries: readonly AclBinding[];
}

function oneOf<T extends string>(list: readonly T[], v: unknown): v is T {
  return typeof v === "string" && (list as readonly string[]).includes(v);
}

function textProblem(v: unknown, what: string, maxBytes: number): string | null {
  if (typeof v !== "string" || v.length === 0) return `${what} must not be empty`;
  if (Buffer.byteLength(v, "utf8") > maxBytes) return `${what} is longer than ${maxBytes} bytes`;
  return null;
}

/** What is wrong with a binding's resource pattern, or null. */
export function aclPatternProblem(p: AclResourcePattern): string | null {
  if (p === null || typeof p !== "object") return "the binding is not an object";
  if (!oneOf(ACL_RESOURCE_TYPES, p.resourceType)) return `Invalid resourceType ${String(p.resourceType)}`;
  if (!oneOf(ACL_PATTERN_TYPES, p.patternType)) return `Invalid patternType ${String(p.patternType)}`;
  const name = textProblem(p.resourceName, "Resource name", ACL_RESOURCE_NAME_MAX_BYTES);
  if (name) return name;
  if (p.resourceType === "CLUSTER" && p.resourceName !== CLUSTER_RESOURCE_NAME)
    return `The only valid name for the CLUSTER resource is ${CLUSTER_RESOURCE_NAME}`;
  return null;
}

/** What is wrong with a binding's entry, or null. */
export function aclEntryProblem(e: AclEntry): string | null {
  if (e === null || typeof e !== "object") return "the entry is not an object";
  if (!oneOf(ACL_OPERATIONS, e.operation)) return `Invalid operation ${String(e.operation)}`;
  if (!oneOf(ACL_PERMISSIONS, e.permission)) return `Invalid permissionType ${String(e.permission)}`;
  const principal = textProblem(e.principal, "Principal", ACL_PRINCIPAL_MAX_BYTES);
  if (principal) return principal;
  if (e.principal.indexOf(":") < 1) return `Principal ${e.principal} is not of the form Type:name`;
  return textProblem(e.host, "Host", ACL_HOST_MAX_BYTES);
}

/** What is wrong with a binding (the checks CreateAcls answers INVALID_REQUEST for), or null. */
export function aclBindingProblem(b: AclBinding): string | null {
  return aclPatternProblem(b) ?? aclEntryProblem(b);
}

/** What is wrong with a filter (an unknown type in it), or null. */
export function aclFilterProblem(f: AclBindingFilter): string | null {
  if (f === null || typeof f !== "object") return "the filter is not an object";
  if (f.resourceType !== "ANY" && !oneOf(ACL_RESOURCE_TYPES, f.resourceType)) return "Unknown patternFilter.";
  if (f.patternType !== "ANY" && f.patternType !== "MATCH" && !oneOf(ACL_PATTERN_TYPES, f.patternType))
    return "Unknown patternFilter.";
  if (f.operation !== "ANY" && !oneOf(ACL_OPERATIONS, f.operation)) return "Unknown entryFilter.";
  if (f.permission !== "ANY" && !oneOf(ACL_PERMISSIONS, f.permission)) return "Unknown entryFilter.";
  for (const v of [f.resourceName, f.principal, f.host])
    if (v !== null && typeof v !== "string") return "a filter's names must be strings or null";
  return null;
}

/** Whether `f` matches `p` (Kafka's ResourcePatternFilter.matches). */
function patternMatches(f: AclBindingFilter, p: AclResourcePattern): boolean {
  if (f.resourceType !== "ANY" && f.resourceType !== p.resourceType) return false;
  if (f.patternType !== "ANY" && f.patternType !== "MATCH" && f.patternType !== p.patternType) return false;
  if (f.resourceName === null) return true;
  if (f.patternType === "ANY" || f.patternType === p.patternType) return f.resourceName === p.resourceName;
  // MATCH: the bindings that apply to the resource the filter names.
  if (p.patternType === "LITERAL")
    return f.resourceName === p.resourceName || p.resourceName === WILDCARD_RESOURCE;
  return f.resourceName.startsWith(p.resourceName);
}

/** Whether `f` matches `b` (Kafka's AclBindingFilter.matches). */
export function aclFilterMatches(f: AclBindingFilter, b: AclBinding): boolean {
  return (
    patternMatches(f, b) &&
    (f.principal === null || f.principal === b.principal) &&
    (f.host === null || f.host === b.host) &&
    (f.operation === "ANY" || f.operation === b.operation) &&
    (f.permission === "ANY" || f.permission === b.permission)
  );
}

/** The key of a resource pattern: `<resourceType>/<patternType>/<resourceName>` (the etcd key's tail). */
export function aclResourceKey(p: AclResourcePattern): string {
  return `${p.resourceType}/${p.patternType}/${p.resourceName}`;
}

/** A frozen copy of `p`'s pattern fields alone. */
export function aclPatternOf(p: AclResourcePattern): AclResourcePattern {
  return Object.freeze({
    resourceType: p.resourceType,
    resourceName: p.resourceName,
    patternType: p.patternType,
  });
}

/** A frozen copy of `e`'s entry fields alone. */
export function aclEntryOf(e: AclEntry): AclEntry {
  return Object.freeze({
    principal: e.principal,
    host: e.host,
    operation: e.operation,
    permission: e.permission,
  });
}

/** A frozen binding of pattern `p` and entry `e`, sharing nothing with either. */
export function aclBinding(p: AclResourcePattern, e: AclEntry): AclBinding {
  return Object.freeze({
    resourceType: p.resourceType,
    resourceName: p.resourceName,
    patternType: p.patternType,
    principal: e.principal,
    host: e.host,
    operation: e.operation,
    permission: e.permission,
  });
}

/** Orders entries by principal, host, operation, permission: every store lists them alike. */
export function compareAclEntries(a: AclEntry, b: AclEntry): number {
  return (
    compareStrings(a.principal, b.principal) ||
    compareStrings(a.host, b.host) ||
    compareStrings(a.operation, b.operation) ||
    compareStrings(a.permission, b.permission)
  );
}

export function sameAclEntry(a: AclEntry, b: AclEntry): boolean {
  return compareAclEntries(a, b) === 0;
}

/** The bindings of `pattern` with `entries`, frozen copies sorted by entry and without repeats. */
export function resourceBindings(
  pattern: AclResourcePattern,
  entries: readonly AclEntry[],
): AclResourceBindings {
  const sorted = entries.map((e) => aclBinding(pattern, e)).sort(compareAclEntries);
  const unique = sorted.filter((e, i) => i === 0 || !sameAclEntry(e, sorted[i - 1]));
  return Object.freeze({ pattern: aclPatternOf(pattern), entries: Object.freeze(unique) });
}

/** `r` with binding `b` (of the same pattern, not yet in it) added in order, sharing the others. */
function withBinding(r: AclResourceBindings, b: AclBinding): AclResourceBindings {
  const at = r.entries.findIndex((e) => compareAclEntries(e, b) > 0);
  const entries = [...r.entries];
  entries.splice(at < 0 ? entries.length : at, 0, aclBinding(r.pattern, b));
  return Object.freeze({ pattern: r.pattern, entries: Object.freeze(entries) });
}

/** Every binding of `resources` (by aclResourceKey), ordered by that key and then entry: one frozen list. */
export function flattenAclBindings(
  resources: ReadonlyMap<string, AclResourceBindings>,
): readonly AclBinding[] {
  const keys = [...resources.keys()].sort(compareStrings);
  return Object.freeze(keys.flatMap((k) => (resources.get(k) as AclResourceBindings).entries));
}

/** What createAcls and deleteAcls change: the new entries of each resource touched (empty: none left). */
export type AclChanges = Map<string, AclResourceBindings>;

/**
 * Decides a createAcls against `current` (resource key -> its bindings) holding `count` bindings
 * in all: per binding its answer, and the resources whose entries change.
 */
export function planAclCreation(
  current: ReadonlyMap<string, AclResourceBindings>,
  count: number,
  bindings: readonly AclBinding[],
): { results: AclCreationResult[]; changes: AclChanges } {
  const changes: AclChanges = new Map();
  let total = count;
  const results = bindings.map((b): AclCreationResult => {
    const problem = aclBindingProblem(b);
    if (problem) return { error: new KafkaError("INVALID_REQUEST", problem) };
    const key = aclResourceKey(b);
    const now = changes.get(key) ?? current.get(key);
    if (now?.entries.some((e) => sameAclEntry(e, b))) return { error: null };
    const full = capReached(total, now?.entries.length ?? 0);
    if (full) return { error: new KafkaError("POLICY_VIOLATION", full) };
    total += 1;
    changes.set(key, withBinding(now ?? resourceBindings(b, []), b));
    return { error: null };
  });
  return { results, changes };
}

/** Why one more binding cannot be kept (the cluster's or the resource's cap), or null. */
function capReached(total: number, onResource: number): string | null {
  if (total >= ACL_BINDINGS_MAX)
    return `the cluster holds ${ACL_BINDINGS_MAX} ACL bindings, the most it keeps`;
  if (onResource >= ACL_BINDINGS_PER_RESOURCE_MAX)
    return `the resource pattern holds ${ACL_BINDINGS_PER_RESOURCE_MAX} ACL bindings, the most it keeps`;
  return null;
}

/** Decides a deleteAcls against `current`: per filter its answer, and the resources whose entries change. */
export function planAclDeletion(
  current: ReadonlyMap<string, AclResourceBindings>,
  filters: readonly AclBindingFilter[],
): { results: AclDeletionResult[]; changes: AclChanges } {
  const removed = new Map<string, Set<AclBinding>>();
  const results = filters.map((f): AclDeletionResult => {
    const problem = aclFilterProblem(f);
    if (problem) return { error: new KafkaError("INVALID_REQUEST", problem), deleted: [] };
    const deleted: AclBinding[] = [];
    for (const [key, r] of current) {
      for (const b of r.entries) {
        if (!aclFilterMatches(f, b)) continue;
        deleted.push(b);
        const set = removed.get(key) ?? new Set();
        set.add(b);
        removed.set(key, set);
      }
    }
    return { error: null, deleted };
  });
  const changes: AclChanges = new Map();
  for (const [key, set] of removed) {
    const r = current.get(key) as AclResourceBindings;
    changes.set(
      key,
      Object.freeze({ pattern: r.pattern, entries: Object.freeze(r.entries.filter((e) => !set.has(e))) }),
    );
  }
  return { results, changes };
}

/** Throws INVALID_REQUEST when `list` is not a list or longer than `max`. */
export function checkAclRequestSize(list: readonly unknown[], max: number, what: string): void {
  if (!Array.isArray(list)) throw new KafkaError("INVALID_REQUEST", `${what} must be a list`);
  if (list.length > max)
    throw new KafkaError("INVALID_REQUEST", `${list.length} ${what} in one request; at most ${max}`);
}

/** The stored entries of one resource (an etcd value read back): throws naming the fault. */
export function readAclEntries(pattern: AclResourcePattern, stored: unknown): AclResourceBindings {
  const problem = aclPatternProblem(pattern);
  if (problem) throw new Error(problem);
  if (!Array.isArray(stored)) throw new Error("entries is not a list");
  const entries = stored.map((e: unknown) => {
    const entry = aclEntryOf((e ?? {}) as AclEntry);
    const entryProblem = aclEntryProblem(entry);
    if (entryProblem) throw new Error(entryProblem);
    return entry;
  });
  return resourceBindings(pattern, entries);
}
