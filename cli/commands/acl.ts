/**
 * `samsa acl add | list | remove`: ACL bindings (issue 15) with kafka-acls' vocabulary, through
 * CreateAcls, DescribeAcls and DeleteAcls. Resources: --topic, --group, --transactional-id
 * (repeatable) and --cluster, under --resource-pattern-type; entries: --allow-principal /
 * --deny-principal with --allow-host / --deny-host (default "*") and --operation (repeatable,
 * default All); kafka-acls' conveniences --producer (WRITE, DESCRIBE, CREATE on the topics; WRITE,
 * DESCRIBE on transactional ids; --idempotent: IDEMPOTENT_WRITE on the cluster) and --consumer
 * (READ, DESCRIBE on the topics, READ on the groups). Output is kafka-acls' listing ("Current ACLs
 * for resource `ResourcePattern(...)`:" and one "(principal=..., ...)" line per entry), or -J.
 *
 * Where kafka-acls is silent or surprising: `remove` narrows only by what is given (no
 * --operation: every operation; no host: every host; no principal: every entry of the
 * resources), and asks no confirmation; `list` without a resource lists every binding.
 */
import type { Command } from "commander";
import {
  aclOperationName,
  CLUSTER_RESOURCE_NAME,
  OPERATIONS_BY_RESOURCE_TYPE,
  parseAclOperation,
  parsePatternType,
  patternTypeName,
} from "../../protocol/acl.js";
import { collect, withAdmin } from "./common.js";

/** A binding, each field by its constant name ("TOPIC", "READ", "ALLOW"). */
export interface CliBinding {
  resourceType: string;
  resourceName: string;
  patternType: string;
  principal: string;
  host: string;
  operation: string;
  permissionType: string;
}

/** A filter for list or remove: null (and ANY) match anything. */
export interface CliFilter {
  resourceType: string;
  resourceName: string | null;
  patternType: string;
  principal: string | null;
  host: string | null;
  operation: string;
  permissionType: string;
}

/** The flags of the three subcommands (each defines the ones it takes). */
export interface AclFlags {
  allowPrincipal?: string[];
  denyPrincipal?: string[];
  allowHost?: string[];
  denyHost?: string[];
  principal?: string[];
  operation?: string[];
  topic?: string[];
  group?: string[];
  transactionalId?: string[];
  cluster?: boolean;
  resourcePatternType?: string;
  producer?: boolean;
  consumer?: boolean;
  idempotent?: boolean;
  json?: boolean;
}

type Pattern = Pick<CliBinding, "resourceType" | "resourceName" | "patternType">;
type Entry = Pick<CliBinding, "principal" | "host" | "operation" | "permissionType">;

const OPERATION_FLAG_NAMES =
  "Read, Write, Create, Delete, Alter, Describe, ClusterAction, AlterConfigs, DescribeConfigs, IdempotentWrite, TwoPhaseCommit, All";

/** `TRANSACTIONAL_ID` from `TransactionalId`: the form every field is kept in here. */
function constantOf(pascal: string): string {
  return pascal.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

/** --resource-pattern-type: literal or prefixed to add; match and any too to list or remove. */
export function patternTypeOf(value: string | undefined, forAdd: boolean): string {
  const code = parsePatternType(value ?? "literal");
  const name = code === undefined ? undefined : constantOf(patternTypeName(code) as string);
  const allowed = forAdd ? ["LITERAL", "PREFIXED"] : ["LITERAL", "PREFIXED", "MATCH", "ANY"];
  if (name === undefined || !allowed.includes(name)) {
    const expected = allowed.map((a) => a.toLowerCase()).join(", ");
    const why = forAdd ? " (match and any are for list and remove)" : "";
    throw new Error(`--resource-pattern-type ${value}: expected ${expected}${why}`);
  }
  return name;
}

function checkPrincipal(flag: string, p: string): string {
  const colon = p.indexOf(":");
  if (colon < 1 || colon === p.length - 1)
    throw new Error(`${flag} ${p}: expected Type:name, e.g. User:alice (User:* for everyone)`);
  return p;
}

function nonEmpty(flag: string, values: string[] | undefined): string[] {
  for (const v of values ?? []) if (v === "") throw new Error(`${flag} must not be empty`);
  return values ?? [];
}

/** The resource patterns the flags name (--cluster is always LITERAL kafka-cluster, as in kafka-acls). */
export function resourcesOf(flags: AclFlags, patternType: string): Pattern[] {
  const of = (resourceType: string, names: string[]) =>
    names.map((resourceName) => ({ resourceType, resourceName, patternType }));
  const cluster = { resourceType: "CLUSTER", resourceName: CLUSTER_RESOURCE_NAME, patternType: "LITERAL" };
  return [
    ...of("TOPIC", nonEmpty("--topic", flags.topic)),
    ...of("GROUP", nonEmpty("--group", flags.group)),
    ...of("TRANSACTIONAL_ID", nonEmpty("--transactional-id", flags.transactionalId)),
    ...(flags.cluster ? [cluster] : []),
  ];
}

/** --operation values as constant names; ANY and UNKNOWN are no operation to grant. */
function operationsOf(values: string[]): string[] {
  return values.map((v) => {
    const code = parseAclOperation(v);
    if (code === undefined || code < 2)
      throw new Error(`--operation ${v}: expected one of ${OPERATION_FLAG_NAMES}`);
    return constantOf(aclOperationName(code) as string);
  });
}

/** The entries of the principal flags: each principal with each of its hosts ("*" if none given). */
function entriesOf(flags: AclFlags, operations: string[]): Entry[] {
  const out: Entry[] = [];
  const sides = [
    ["allow", "ALLOW", flags.allowPrincipal, flags.allowHost],
    ["deny", "DENY", flags.denyPrincipal, flags.denyHost],
  ] as const;
  for (const [side, permissionType, principals = [], hosts = []] of sides) {
    if (hosts.length > 0 && principals.length === 0)
      throw new Error(`--${side}-host needs --${side}-principal`);
    nonEmpty(`--${side}-host`, [...hosts]);
    for (const p of principals) {
      const principal = checkPrincipal(`--${side}-principal`, p);
      for (const host of hosts.length > 0 ? hosts : ["*"])
        for (const operation of operations) out.push({ principal, host, operation, permissionType });
    }
  }
  return out;
}

/** kafka-acls' checks of --producer, --consumer and --idempotent. */
function checkConveniences(flags: AclFlags): void {
  const topics = (flags.topic ?? []).length > 0;
  if (flags.idempotent && !flags.producer) throw new Error("--idempotent needs --producer");
  if (flags.producer && !topics) throw new Error("--producer needs --topic");
  const groups = (flags.group ?? []).length > 0;
  const others = flags.cluster || (flags.transactionalId ?? []).length > 0;
  if (flags.consumer && (!topics || !groups || (!flags.producer && others)))
    throw new Error("--consumer needs --topic and --group, and no --cluster or --transactional-id");
  if ((flags.producer || flags.consumer) && (flags.operation ?? []).length > 0)
    throw new Error(
      "--operation cannot be combined with --producer or --consumer, which choose the operations",
    );
}

/** The (resource, operations) pairs --producer and --consumer stand for. */
function conveniencePairs(flags: AclFlags, patternType: string): [Pattern, string[]][] {
  const pairs: [Pattern, string[]][] = [];
  const each = (patterns: Pattern[], operations: string[]) => {
    for (const p of patterns) pairs.push([p, operations]);
  };
  const topics = resourcesOf({ topic: flags.topic }, patternType);
  const groups = resourcesOf({ group: flags.group }, patternType);
  if (flags.producer) {
    each(topics, ["WRITE", "DESCRIBE", "CREATE"]);
    each(resourcesOf({ transactionalId: flags.transactionalId }, patternType), ["WRITE", "DESCRIBE"]);
    if (flags.idempotent) each(resourcesOf({ cluster: true }, patternType), ["IDEMPOTENT_WRITE"]);
  }
  if (flags.consumer) {
    each(topics, ["READ", "DESCRIBE"]);
    each(groups, ["READ"]);
  }
  return pairs;
}

/** The (resource, operations) pairs the flags name: kafka-acls' conveniences, or resources × --operation. */
function resourceOperations(flags: AclFlags, patternType: string): [Pattern, string[]][] {
  checkConveniences(flags);
  if (flags.producer || flags.consumer) return conveniencePairs(flags, patternType);
  const resources = resourcesOf(flags, patternType);
  if (resources.length === 0)
    throw new Error("name a resource: --topic, --group, --transactional-id or --cluster");
  const given = flags.operation ?? [];
  const operations = given.length > 0 ? operationsOf(given) : null;
  return resources.map((r) => [r, operations ?? ["ALL"]]);
}

/** The bindings `acl add` creates, in kafka-acls' order: by resource, then entry. */
export function bindingsToAdd(flags: AclFlags): CliBinding[] {
  const patternType = patternTypeOf(flags.resourcePatternType, true);
  if ((flags.allowPrincipal ?? []).length + (flags.denyPrincipal ?? []).length === 0)
    throw new Error("acl add needs --allow-principal or --deny-principal");
  const out: CliBinding[] = [];
  for (const [resource, operations] of resourceOperations(flags, patternType)) {
    for (const operation of operations) {
      const valid: readonly string[] | undefined =
        OPERATIONS_BY_RESOURCE_TYPE[resource.resourceType as keyof typeof OPERATIONS_BY_RESOURCE_TYPE];
      if (operation !== "ALL" && !valid.includes(operation))
        throw new Error(
          `--operation ${operation} does not apply to ${resource.resourceType}: ${valid.join(", ")} or ALL`,
        );
    }
    for (const entry of entriesOf(flags, operations)) out.push({ ...resource, ...entry });
  }
  return dedupe(out);
}

/**
 * The filters `acl remove` deletes by: with principals, one per entry (no --operation: any
 * operation; no host: any host); without, every entry of each resource.
 */
export function filtersToRemove(flags: AclFlags): CliFilter[] {
  const patternType = patternTypeOf(flags.resourcePatternType, false);
  const pairs = resourceOperations(flags, patternType);
  const principals = (flags.allowPrincipal ?? []).length + (flags.denyPrincipal ?? []).length > 0;
  const anyOperation = !flags.producer && !flags.consumer && (flags.operation ?? []).length === 0;
  const out: CliFilter[] = [];
  for (const [resource, operations] of pairs) {
    if (!principals) {
      out.push({ ...resource, principal: null, host: null, operation: "ANY", permissionType: "ANY" });
      continue;
    }
    for (const e of entriesOf(flags, anyOperation ? ["ANY"] : operations)) {
      const host = hostGiven(flags, e.permissionType) ? e.host : null;
      out.push({ ...resource, ...e, host });
    }
  }
  return dedupe(out);
}

function hostGiven(flags: AclFlags, permissionType: string): boolean {
  return ((permissionType === "ALLOW" ? flags.allowHost : flags.denyHost) ?? []).length > 0;
}

/** The filters `acl list` describes by: each resource named (or every resource), each --principal (or any). */
export function filtersToList(flags: AclFlags): CliFilter[] {
  const patternType = patternTypeOf(flags.resourcePatternType, false);
  const named = resourcesOf(flags, patternType);
  const resources: Pick<CliFilter, "resourceType" | "resourceName" | "patternType">[] =
    named.length > 0 ? named : [{ resourceType: "ANY", resourceName: null, patternType: "ANY" }];
  const given = (flags.principal ?? []).map((p) => checkPrincipal("--principal", p));
  const principals = given.length > 0 ? given : [null];
  return resources.flatMap((r) =>
    principals.map((principal) => ({ ...r, principal, host: null, operation: "ANY", permissionType: "ANY" })),
  );
}

function dedupe<T extends object>(items: T[]): T[] {
  const seen = new Set<string>();
  return items.filter((i) => {
    const key = JSON.stringify(i);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** kafka-acls' rendering of a resource pattern. */
function patternText(p: Pattern): string {
  return `ResourcePattern(resourceType=${p.resourceType}, name=${p.resourceName}, patternType=${p.patternType})`;
}

/** kafka-acls' listing: `<heading> for resource `ResourcePattern(...)`:` and a tab-indented line per entry. */
export function aclListing(heading: string, bindings: readonly CliBinding[]): string {
  const groups = new Map<string, CliBinding[]>();
  for (const b of bindings) {
    const key = patternText(b);
    const group = groups.get(key);
    if (group) group.push(b);
    else groups.set(key, [b]);
  }
  let out = "";
  for (const [pattern, entries] of groups) {
    out += `${heading} for resource \`${pattern}\`:\n`;
    for (const e of entries)
      out += ` \t(principal=${e.principal}, host=${e.host}, operation=${e.operation}, permissionType=${e.permissionType})\n`;
    out += "\n";
  }
  return out;
}

/** A binding as -J prints it. */
function bindingJson(b: CliBinding): Record<string, string> {
  return {
    resource_type: b.resourceType,
    resource_name: b.resourceName,
    pattern_type: b.patternType,
    principal: b.principal,
    host: b.host,
    operation: b.operation,
    permission_type: b.permissionType,
  };
}

function print(json: boolean | undefined, key: string, heading: string, bindings: CliBinding[]): void {
  if (json) process.stdout.write(`${JSON.stringify({ [key]: bindings.map(bindingJson) })}\n`);
  else process.stdout.write(aclListing(heading, bindings));
}

type Admin = import("../../client/admin.js").Admin;
type AclNames = typeof import("../../client/acls.js").aclNames;

/** A binding from an answer's codes (a described resource and entry, or a deleted binding). */
function answered(
  names: AclNames,
  r: { resourceType: number; resourceName: string; resourcePatternType: number },
  e: { principal: string; host: string; operation: number; permissionType: number },
): CliBinding {
  return {
    resourceType: names.resourceType(r.resourceType),
    resourceName: r.resourceName,
    patternType: names.patternType(r.resourcePatternType),
    principal: e.principal,
    host: e.host,
    operation: names.operation(e.operation),
    permissionType: names.permissionType(e.permissionType),
  };
}

/** The bindings the filters match (several filters may match one binding: listed once). */
async function describeAll(admin: Admin, filters: CliFilter[]): Promise<CliBinding[]> {
  const { aclNames } = await import("../../client/acls.js");
  const out: CliBinding[] = [];
  for (const f of filters) {
    const { resources } = await admin.describeAcls({ ...f, resourcePatternType: f.patternType });
    for (const r of resources) for (const a of r.acls) out.push(answered(aclNames, r, a));
  }
  return dedupe(out);
}

/** The bindings on the given resource patterns, as kafka-acls lists them after a change. */
function currentFilters(bindings: readonly Pattern[]): CliFilter[] {
  return dedupe(
    bindings.map((b) => ({
      resourceType: b.resourceType,
      resourceName: b.resourceName,
      patternType: b.patternType,
    })),
  ).map((r) => ({ ...r, principal: null, host: null, operation: "ANY", permissionType: "ANY" }));
}

function resourceOptions(cmd: Command, patternHelp: string): Command {
  return cmd
    .option("--topic <name>", "a topic (repeatable; * for every topic)", collect, [])
    .option("--group <name>", "a consumer group (repeatable; * for every group)", collect, [])
    .option("--transactional-id <id>", "a transactional id (repeatable)", collect, [])
    .option("--cluster", "the cluster (kafka-cluster)")
    .option("--resource-pattern-type <type>", patternHelp);
}

function entryOptions(cmd: Command): Command {
  return cmd
    .option("--allow-principal <principal>", "Type:name allowed, e.g. User:alice (repeatable)", collect, [])
    .option("--deny-principal <principal>", "Type:name denied (repeatable)", collect, [])
    .option(
      "--allow-host <host>",
      "a host the allowed principals connect from (repeatable; default *)",
      collect,
      [],
    )
    .option(
      "--deny-host <host>",
      "a host the denied principals connect from (repeatable; default *)",
      collect,
      [],
    )
    .option("--operation <op>", `${OPERATION_FLAG_NAMES} (repeatable)`, collect, [])
    .option("--producer", "the ACLs a producer needs: WRITE, DESCRIBE, CREATE on --topic")
    .option("--consumer", "the ACLs a consumer needs: READ, DESCRIBE on --topic, READ on --group")
    .option("--idempotent", "with --producer: IDEMPOTENT_WRITE on the cluster")
    .option("-J, --json", "one JSON object instead of kafka-acls' listing");
}

export function registerAclCommands(program: Command): void {
  const acl = program.command("acl").description("ACLs: add, list, remove (kafka-acls' flags)");

  entryOptions(resourceOptions(acl.command("add"), "literal (default) or prefixed"))
    .description("add ACLs: each principal x host x operation on each resource")
    .addHelpText(
      "after",
      "\nExamples:\n  samsa acl add --allow-principal User:alice --operation Read --topic orders\n  samsa acl add --allow-principal User:app --producer --topic orders- --resource-pattern-type prefixed",
    )
    .action(async (flags: AclFlags, cmd: Command) => {
      const bindings = bindingsToAdd(flags);
      const current = await withAdmin(cmd, async (admin) => {
        await admin.createAcls({
          acl: bindings.map((b) => ({ ...b, resourcePatternType: b.patternType })),
        });
        return flags.json ? [] : describeAll(admin, currentFilters(bindings));
      });
      if (flags.json) return print(true, "added", "", bindings);
      process.stdout.write(aclListing("Adding ACLs", bindings));
      process.stdout.write(aclListing("Current ACLs", current));
    });

  resourceOptions(acl.command("list"), "literal (default with a resource), prefixed, match or any")
    .description("list ACLs: every binding, or those on the resources named")
    .option("--principal <principal>", "only this principal's bindings (repeatable)", collect, [])
    .option("-J, --json", "one JSON object instead of kafka-acls' listing")
    .action(async (flags: AclFlags, cmd: Command) => {
      const filters = filtersToList(flags);
      const bindings = await withAdmin(cmd, (admin) => describeAll(admin, filters));
      print(flags.json, "acls", "Current ACLs", bindings);
    });

  entryOptions(
    resourceOptions(
      acl.command("remove"),
      "literal (default), prefixed, match (every pattern that applies) or any",
    ),
  )
    .description("remove ACLs: those of the principals given, or every ACL of the resources")
    .action(async (flags: AclFlags, cmd: Command) => {
      const filters = filtersToRemove(flags);
      const removed = await withAdmin(cmd, async (admin) => {
        const { filterResponses } = await admin.deleteAcls({
          filters: filters.map((f) => ({ ...f, resourcePatternType: f.patternType })),
        });
        const { aclNames } = await import("../../client/acls.js");
        return dedupe(filterResponses.flatMap((r) => r.matchingAcls.map((m) => answered(aclNames, m, m))));
      });
      if (!flags.json && removed.length === 0) process.stdout.write("No ACLs matched.\n");
      else print(flags.json, "removed", "Removed ACLs", removed);
    });
}
