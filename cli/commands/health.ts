/**
 * `samsa cluster health`, as `rpk cluster health`: one Metadata answer judged for down brokers,
 * a missing controller, leaderless and under-replicated partitions. Also the one Metadata read
 * that `cluster info` prints (`readClusterMetadata`).
 *
 * "All nodes" are the live brokers plus every broker id a replica assignment names; a node is
 * down when it is named but not live. A partition is leaderless when its leader is -1 or not a
 * live broker; under-replicated when it has a live leader and either its ISR is smaller than its
 * replica set or one of its replicas is on a down broker (the ISR shrinks only after
 * replica.lag.time.max.ms, a down replica is not replicating now). A leaderless partition is
 * reported as leaderless only, as Kafka's under-replicated count comes from leaders.
 */
import type { Command } from "commander";
import type { Admin } from "../../client/admin.js";
import type { MetadataResponseData } from "../../protocol/types/metadata.js";
import { connectionOf, positiveInt } from "./common.js";

/** How many partition names each list shows (the counts are always whole), as Redpanda caps its list. */
export const HEALTH_PARTITIONS_SHOWN = 128;

/** How long the exit waits for the client's connections to close. */
const CLOSE_WAIT_MS = 1_000;

/** Exit codes: 1 always means "unhealthy", so a usage error is 2 like an unreachable cluster. */
export const EXIT_HEALTHY = 0;
export const EXIT_UNHEALTHY = 1;
export const EXIT_UNREACHABLE = 2;

export type UnhealthyReason =
  | "nodes_down"
  | "no_elected_controller"
  | "leaderless_partitions"
  | "under_replicated_partitions";

/** The health overview, in the `-J` shape. */
export interface HealthReport {
  healthy: boolean;
  unhealthy_reasons: UnhealthyReason[];
  controller_id: number;
  all_nodes: number[];
  nodes_down: number[];
  leaderless_count: number;
  leaderless_partitions: string[];
  under_replicated_count: number;
  under_replicated_partitions: string[];
}

/** One Metadata answer for every topic, through any broker the client reaches. */
export async function readClusterMetadata(admin: Admin): Promise<MetadataResponseData> {
  const { withRetry } = await import("../../client/retry.js");
  return withRetry(
    async () =>
      (await admin.cluster.anyConnection()).request(3, {
        topics: null,
        allowAutoTopicCreation: false,
        includeTopicAuthorizedOperations: false,
        includeClusterAuthorizedOperations: false,
      }),
    admin.cluster.retry,
  );
}

const byNumber = (a: number, b: number) => a - b;

/** The health of the cluster one Metadata answer describes. */
export function healthOf(metadata: MetadataResponseData): HealthReport {
  const live = new Set(metadata.brokers.map((b) => b.nodeId));
  const named = new Set(live);
  const leaderless: [string, number][] = [];
  const underReplicated: [string, number][] = [];
  for (const topic of metadata.topics) {
    for (const p of topic.partitions) {
      for (const id of p.replicaNodes) named.add(id);
      const name: [string, number] = [topic.name ?? topic.topicId ?? "?", p.partitionIndex];
      if (p.leaderId < 0 || !live.has(p.leaderId)) leaderless.push(name);
      else if (p.isrNodes.length < p.replicaNodes.length || p.replicaNodes.some((id) => !live.has(id)))
        underReplicated.push(name);
    }
  }
  const controllerId = metadata.controllerId ?? -1;
  const nodesDown = [...named].filter((id) => !live.has(id)).sort(byNumber);
  const reasons: UnhealthyReason[] = [];
  if (nodesDown.length > 0) reasons.push("nodes_down");
  if (controllerId < 0) reasons.push("no_elected_controller");
  if (leaderless.length > 0) reasons.push("leaderless_partitions");
  if (underReplicated.length > 0) reasons.push("under_replicated_partitions");
  return {
    healthy: reasons.length === 0,
    unhealthy_reasons: reasons,
    controller_id: controllerId,
    all_nodes: [...named].sort(byNumber),
    nodes_down: nodesDown,
    leaderless_count: leaderless.length,
    leaderless_partitions: partitionNames(leaderless),
    under_replicated_count: underReplicated.length,
    under_replicated_partitions: partitionNames(underReplicated),
  };
}

/** `topic/p` names in topic then partition order, the first HEALTH_PARTITIONS_SHOWN of them. */
function partitionNames(partitions: [string, number][]): string[] {
  return partitions
    .sort(([ta, pa], [tb, pb]) => (ta === tb ? pa - pb : ta < tb ? -1 : 1))
    .slice(0, HEALTH_PARTITIONS_SHOWN)
    .map(([t, p]) => `${t}/${p}`);
}

/** A list as rpk prints one (`[1 2 3]`), with `(+N more)` past the cap. */
function list(items: (string | number)[], total = items.length): string {
  const more = total > items.length ? ` (+${total - items.length} more)` : "";
  return `[${items.join(" ")}]${more}`;
}

/** The `CLUSTER HEALTH OVERVIEW` block. */
export function formatHealth(r: HealthReport): string {
  const rows: [string, string][] = [
    ["Healthy:", String(r.healthy)],
    ["Unhealthy reasons:", list(r.unhealthy_reasons)],
    ["Controller ID:", String(r.controller_id)],
    ["All nodes:", list(r.all_nodes)],
    ["Nodes down:", list(r.nodes_down)],
    [`Leaderless partitions (${r.leaderless_count}):`, list(r.leaderless_partitions, r.leaderless_count)],
    [
      `Under-replicated partitions (${r.under_replicated_count}):`,
      list(r.under_replicated_partitions, r.under_replicated_count),
    ],
  ];
  const width = Math.max(...rows.map(([label]) => label.length)) + 2;
  const title = "CLUSTER HEALTH OVERVIEW";
  const lines = rows.map(([label, value]) => `${label.padEnd(width)}${value}`);
  return `${title}\n${"=".repeat(title.length)}\n${lines.join("\n")}\n`;
}

interface HealthOptions {
  json?: boolean;
  watch?: boolean;
  exitWhenHealthy?: boolean;
  timeoutMs: string;
  intervalMs: string;
}

/** What one look at the cluster found: a report, or why there is none. */
type Look = { report: HealthReport } | { unreachable: string };

async function look(admin: Admin): Promise<Look> {
  try {
    return { report: healthOf(await readClusterMetadata(admin)) };
  } catch (err) {
    return { unreachable: err instanceof Error ? err.message : String(err) };
  }
}

/** What a look cut short by the deadline answers (a broker that never answers). */
const TOO_LATE: Look = { unreachable: "no answer before --timeout-ms passed" };

/** A look, or TOO_LATE once `deadlineMs` passes first. */
async function lookBefore(admin: Admin, deadlineMs: number): Promise<Look> {
  if (!Number.isFinite(deadlineMs)) return look(admin);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Look>((resolve) => {
    timer = setTimeout(() => resolve(TOO_LATE), Math.max(0, deadlineMs - Date.now()));
  });
  try {
    return await Promise.race([look(admin), late]);
  } finally {
    clearTimeout(timer);
  }
}

function exitCodeOf(l: Look): number {
  if ("unreachable" in l) return EXIT_UNREACHABLE;
  return l.report.healthy ? EXIT_HEALTHY : EXIT_UNHEALTHY;
}

function print(l: Look, json: boolean): void {
  if ("unreachable" in l) process.stderr.write(`samsa: cannot reach the cluster: ${l.unreachable}\n`);
  else if (json) process.stdout.write(`${JSON.stringify(l.report)}\n`);
  else process.stdout.write(formatHealth(l.report));
}

/**
 * Looks every `intervalMs` and prints each change, until stopped (Ctrl-C), past `deadlineMs`, or
 * (`untilHealthy`) once healthy; the last look decides the exit code.
 */
async function poll(
  admin: Admin,
  opts: { json: boolean; untilHealthy: boolean; intervalMs: number; deadlineMs: number },
): Promise<Look> {
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  let stopping = false;
  const onSignal = () => {
    stopping = true;
    stop();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    let shown = "";
    let previous: Look = { unreachable: "stopped before any answer" };
    for (;;) {
      // Ctrl-C while a broker holds the request ends the watch with the look before.
      const current = await Promise.race([lookBefore(admin, opts.deadlineMs), stopped.then(() => previous)]);
      if (stopping) return previous;
      // The deadline cut a later look short: the last look that ended decides, printed once.
      if (current === TOO_LATE && shown !== "") return previous;
      previous = current;
      const key = JSON.stringify(current);
      if (key !== shown) print(current, opts.json);
      shown = key;
      const done = opts.untilHealthy && exitCodeOf(current) === EXIT_HEALTHY;
      if (done || Date.now() >= opts.deadlineMs) return current;
      const waitMs = Math.min(opts.intervalMs, opts.deadlineMs - Date.now());
      let pause: NodeJS.Timeout | undefined;
      await Promise.race([stopped, new Promise((r) => (pause = setTimeout(r, waitMs)))]);
      clearTimeout(pause);
      if (stopping) return current;
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/** Flags as numbers and the Admin, or a one-line error (exit 2) for a bad flag. */
async function setUp(opts: HealthOptions, cmd: Command) {
  const intervalMs = positiveInt("--interval-ms", opts.intervalMs);
  const timeoutMs = positiveInt("--timeout-ms", opts.timeoutMs);
  const { Admin } = await import("../../client/admin.js");
  // The connection's own flags are checked here too (a TLS file that cannot be read, say).
  const admin = new Admin({ ...connectionOf(cmd), retry: { retries: 2 } });
  return { intervalMs, timeoutMs, admin };
}

async function runHealth(opts: HealthOptions, cmd: Command): Promise<void> {
  let setup: Awaited<ReturnType<typeof setUp>>;
  try {
    setup = await setUp(opts, cmd);
  } catch (err) {
    process.stderr.write(`samsa: ${(err as Error).message}\n`);
    process.exitCode = EXIT_UNREACHABLE;
    return;
  }
  const { intervalMs, timeoutMs, admin } = setup;
  const json = opts.json === true;
  let last: Look;
  if (opts.watch || opts.exitWhenHealthy) {
    // --watch alone runs until Ctrl-C; --exit-when-healthy gives up after --timeout-ms.
    const deadlineMs = opts.exitWhenHealthy ? Date.now() + timeoutMs : Number.POSITIVE_INFINITY;
    last = await poll(admin, { json, untilHealthy: opts.exitWhenHealthy === true, intervalMs, deadlineMs });
  } else {
    last = await lookBefore(admin, Date.now() + timeoutMs);
    print(last, json);
  }
  process.exitCode = exitCodeOf(last);
  // The verdict is out: a connection still waiting on a silent broker must not hold the exit.
  await Promise.race([admin.close(), new Promise((r) => setTimeout(r, CLOSE_WAIT_MS).unref())]);
  process.exit();
}

export function registerHealthCommand(cluster: Command): void {
  cluster
    .command("health")
    .description("is the cluster healthy: down brokers, leaderless and under-replicated partitions")
    .option("-J, --json", "one JSON object (with --watch: one per change)")
    .option("-w, --watch", "keep looking and print every change, until Ctrl-C")
    .option("-e, --exit-when-healthy", "keep looking until the cluster is healthy (up to --timeout-ms)")
    .option("--timeout-ms <ms>", "how long --exit-when-healthy (or one look) waits", "60000")
    .option("--interval-ms <ms>", "how often --watch and --exit-when-healthy look", "1000")
    .showHelpAfterError(false)
    .configureOutput({ outputError: (text, write) => write(`samsa: ${text.replace(/^error: /, "")}`) })
    .exitOverride((err) => process.exit(err.exitCode === 0 ? EXIT_HEALTHY : EXIT_UNREACHABLE))
    .addHelpText(
      "after",
      `
Exit code: 0 healthy, 1 unhealthy (the reasons are printed), 2 the cluster cannot be reached
(or a bad flag). Nodes are the live brokers and every broker a replica assignment names.
Examples:
  samsa cluster health
  samsa -b localhost:19092 cluster health --exit-when-healthy --timeout-ms 120000`,
    )
    .action(runHealth);
}
