/**
 * The ACL authorizer (issue 15): Kafka's StandardAuthorizer semantics over the cluster store's
 * bindings, pure (no I/O, no clock).
 *
 * A request (principal, host, operation, resource type, resource name) is decided so:
 * 1. a principal in `superUsers` (super.users) is allowed everything;
 * 2. the bindings that apply to the resource are those of its type whose pattern matches its name
 *    (LITERAL: the name itself or "*"; PREFIXED: a prefix of the name);
 * 3. of those, the ones that apply to the request: principal equal or "User:*", host equal or
 *    "*", and the operation: ALL matches every operation; an ALLOW of READ, WRITE, DELETE or ALTER
 *    also allows DESCRIBE, and an ALLOW of ALTER_CONFIGS also allows DESCRIBE_CONFIGS; a DENY
 *    implies nothing (a DENY of READ leaves DESCRIBE alone), only a DENY of ALL denies all;
 * 4. any DENY among them: denied (DENY wins); else any ALLOW: allowed;
 * 5. none: if no binding applies to the resource at all (step 2, whoever it names), the answer is
 *    `allowEveryoneIfNoAclFound` (allow.everyone.if.no.acl.found, default false); else denied.
 *
 * Hosts are compared as strings, as Kafka compares them; an IPv4-mapped IPv6 address
 * ("::ffff:10.0.0.1", how a dual-stack socket reports an IPv4 client) is compared as the IPv4
 * address, as Java's InetAddress reports it.
 *
 * The bindings come from a function called on every check (the store's `aclBindings()`, which
 * returns the same array until the bindings change): the index is rebuilt when the array is
 * another, so a check never sees bindings older than the store's view.
 */
import type { AclBinding, AclOperation, AclResourceType } from "../metadata/acl-bindings.js";
import { WILDCARD_HOST, WILDCARD_PRINCIPAL, WILDCARD_RESOURCE } from "../metadata/acl-bindings.js";

export interface AuthorizerOptions {
  /** The current bindings, asked on every check (ClusterStore.aclBindings). */
  bindings: () => readonly AclBinding[];
  /** Principals allowed everything ("User:admin"), Kafka's super.users. */
  superUsers?: readonly string[];
  /** Kafka's allow.everyone.if.no.acl.found: the answer for a resource no binding applies to. */
  allowEveryoneIfNoAclFound?: boolean;
}

/** The bindings of one resource type, by how their pattern matches a name. */
interface TypeIndex {
  /** LITERAL bindings by name, "*" included. */
  literal: Map<string, AclBinding[]>;
  /** PREFIXED bindings by prefix. */
  prefixed: Map<string, AclBinding[]>;
  /** The distinct prefix lengths, ascending: a check looks up only these slices of a name. */
  prefixLengths: number[];
}

/** Operations an ALLOW of which also allows DESCRIBE, or DESCRIBE_CONFIGS. */
const IMPLIES_DESCRIBE: ReadonlySet<AclOperation> = new Set(["DESCRIBE", "READ", "WRITE", "DELETE", "ALTER"]);
const IMPLIES_DESCRIBE_CONFIGS: ReadonlySet<AclOperation> = new Set(["DESCRIBE_CONFIGS", "ALTER_CONFIGS"]);

/** The resource name Kafka's authorizeByResourceType checks first (super users, no-ACL default). */
const PROBE_RESOURCE_NAME = "hardcode";

const IPV4_MAPPED = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i;

/** `host` as Kafka compares it: an IPv4-mapped IPv6 address as its IPv4 address. */
export function normalizeHost(host: string): string {
  const mapped = IPV4_MAPPED.exec(host);
  return mapped ? mapped[1] : host;
}

/** Whether `b`'s operation applies to a request for `operation` (step 3). */
function operationMatches(b: AclBinding, operation: AclOperation): boolean {
  if (b.operation === "ALL" || b.operation === operation) return true;
  if (b.permission === "DENY") return false;
  if (operation === "DESCRIBE") return IMPLIES_DESCRIBE.has(b.operation);
  if (operation === "DESCRIBE_CONFIGS") return IMPLIES_DESCRIBE_CONFIGS.has(b.operation);
  return false;
}

/** What the bindings looked at so far say, ordered so that the strongest is the largest. */
const NO_BINDING = 0;
const NO_MATCH = 1;
const ALLOWED = 2;
const DENIED = 3;
type Verdict = typeof NO_BINDING | typeof NO_MATCH | typeof ALLOWED | typeof DENIED;

interface Request {
  principal: string;
  host: string;
  operation: AclOperation;
}

/** `verdict` with the bindings of `list` (bindings whose pattern matches the resource) added. */
function fold(verdict: Verdict, list: AclBinding[] | undefined, r: Request): Verdict {
  if (!list || verdict === DENIED) return verdict;
  let next: Verdict = verdict === NO_BINDING ? NO_MATCH : verdict;
  for (const b of list) {
    if (!appliesTo(b, r.principal, r.host) || !operationMatches(b, r.operation)) continue;
    if (b.permission === "DENY") return DENIED;
    next = ALLOWED;
  }
  return next;
}

function appliesTo(b: AclBinding, principal: string, host: string): boolean {
  return (
    (b.principal === principal || b.principal === WILDCARD_PRINCIPAL) &&
    (b.host === host || b.host === WILDCARD_HOST)
  );
}

function push<K>(map: Map<K, AclBinding[]>, key: K, b: AclBinding): void {
  const list = map.get(key);
  if (list) list.push(b);
  else map.set(key, [b]);
}

/** The index of `bindings` by resource type. O(bindings). */
function buildIndex(bindings: readonly AclBinding[]): Map<AclResourceType, TypeIndex> {
  const index = new Map<AclResourceType, TypeIndex>();
  for (const b of bindings) {
    let t = index.get(b.resourceType);
    if (!t) {
      t = { literal: new Map(), prefixed: new Map(), prefixLengths: [] };
      index.set(b.resourceType, t);
    }
    push(b.patternType === "LITERAL" ? t.literal : t.prefixed, b.resourceName, b);
  }
  for (const t of index.values())
    t.prefixLengths = [...new Set([...t.prefixed.keys()].map((p) => p.length))].sort((a, b) => a - b);
  return index;
}

export class Authorizer {
  private readonly superUsers: ReadonlySet<string>;
  private readonly allowEveryoneIfNoAclFound: boolean;
  private source: readonly AclBinding[] | null = null;
  private index = new Map<AclResourceType, TypeIndex>();

  constructor(private readonly options: AuthorizerOptions) {
    this.superUsers = new Set(options.superUsers ?? []);
    this.allowEveryoneIfNoAclFound = options.allowEveryoneIfNoAclFound ?? false;
  }

  /**
   * Whether `principal` ("User:alice") connected from `host` may do `operation` on the resource
   * (steps in the file's comment). Cost: a set lookup, then at most 2 + (distinct prefix lengths
   * of the type) map lookups and a scan of the bindings found; O(bindings) once after they change.
   */
  authorize(
    principal: string,
    host: string,
    operation: AclOperation,
    resourceType: AclResourceType,
    resourceName: string,
  ): boolean {
    if (this.superUsers.has(principal)) return true;
    const t = this.current().get(resourceType);
    if (!t) return this.allowEveryoneIfNoAclFound;
    const request: Request = { principal, host: normalizeHost(host), operation };
    // No allocation beyond the request and the prefix slices: this runs for every produce.
    let verdict = fold(NO_BINDING, t.literal.get(resourceName), request);
    if (resourceName !== WILDCARD_RESOURCE)
      verdict = fold(verdict, t.literal.get(WILDCARD_RESOURCE), request);
    for (const len of t.prefixLengths) {
      if (len > resourceName.length || verdict === DENIED) break;
      verdict = fold(verdict, t.prefixed.get(resourceName.slice(0, len)), request);
    }
    if (verdict === NO_BINDING) return this.allowEveryoneIfNoAclFound;
    return verdict === ALLOWED;
  }

  /**
   * Whether `principal` may do `operation` on at least one resource of `resourceType` (Kafka's
   * Authorizer.authorizeByResourceType, e.g. InitProducerId's WRITE on any topic): allowed if it
   * may on a resource named "hardcode" (super users, the no-ACL default, a wildcard ALLOW), else
   * denied by a wildcard DENY, else allowed by an ALLOW (of the operation itself or ALL; nothing
   * implied) whose pattern no DENY covers: a LITERAL DENY of the same name or a PREFIXED DENY of a
   * prefix of it. O(bindings of the type).
   */
  authorizeByResourceType(
    principal: string,
    host: string,
    operation: AclOperation,
    resourceType: AclResourceType,
  ): boolean {
    if (this.authorize(principal, host, operation, resourceType, PROBE_RESOURCE_NAME)) return true;
    const t = this.current().get(resourceType);
    if (!t) return false;
    const from = normalizeHost(host);
    const allows: AclBinding[] = [];
    const denied = { literal: new Set<string>(), prefixed: new Set<string>() };
    for (const list of [...t.literal.values(), ...t.prefixed.values()]) {
      for (const b of list) {
        if (!appliesTo(b, principal, from) || (b.operation !== operation && b.operation !== "ALL")) continue;
        if (b.permission === "ALLOW") allows.push(b);
        else if (b.patternType === "PREFIXED") denied.prefixed.add(b.resourceName);
        else if (b.resourceName === WILDCARD_RESOURCE) return false;
        else denied.literal.add(b.resourceName);
      }
    }
    return allows.some((b) => {
      if (b.patternType === "LITERAL" && b.resourceName === WILDCARD_RESOURCE) return true;
      if (b.patternType === "LITERAL" && denied.literal.has(b.resourceName)) return false;
      for (let len = 1; len <= b.resourceName.length; len++)
        if (denied.prefixed.has(b.resourceName.slice(0, len))) return false;
      return true;
    });
  }

  /** The index of the bindings the source holds now, rebuilt if they are another array. */
  private current(): Map<AclResourceType, TypeIndex> {
    const bindings = this.options.bindings();
    if (bindings !== this.source) {
      this.index = buildIndex(bindings);
      this.source = bindings;
    }
    return this.index;
  }
}
