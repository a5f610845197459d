/**
 * `npm run bench:attacks [-- --only a,b --scale small|full --json]`: issue 12's attacks, one at a
 * time, each against a fresh broker child (broker-child.ts) on its own data directory. Per
 * attack: the broker's peak RSS (VmHWM, and the largest VmRSS sampled every 100 ms), its RSS
 * after the attack ended and its connections closed, its event-loop delay (eld-preload.ts), the
 * probe's latency and failures (probe.ts), whether it survived, how long a graceful stop took
 * and whether it starts again on the same data directory. An attack is stopped at
 * `--time-limit-s`; the broker is killed (SIGKILL) if its RSS passes `--rss-cap-mb`.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { optionsOrExit, runMain, scratchDir, table } from "../script.js";
import { killBrokers, lastLines, memoryMb, startBroker } from "./broker-child.js";
import { ATTACKS, type Attack, type AttackContext } from "./catalog.js";
import { createTopic } from "./kafka-ops.js";
import { PROBE_TOPIC, Probe, type ProbeStats, probeRound } from "./probe.js";
import { KafkaConn } from "./wire.js";

interface Options {
  only: string[] | null;
  full: boolean;
  json: boolean;
  timeLimitS: number;
  rssCapMb: number;
  dir: string;
  /** The tree whose built broker is attacked (`--root`); null: this one. */
  root: string | null;
}

const USAGE = `usage: npm run --silent bench:attacks -- [--only ${ATTACKS.map((a) => a.name).join(",")}]
  [--scale full|small] (default full) [--json] [--time-limit-s N] (default 90)
  [--rss-cap-mb N] (default 4000) [--dir DIR] (default the OS temp directory)
  [--root DIR] (a tree whose built bin/samsa.js is attacked, e.g. an earlier commit; default this one)`;

function parse(args: string[]): Options | null {
  const o: Options = {
    only: null,
    full: true,
    json: false,
    timeLimitS: 90,
    rssCapMb: 4000,
    dir: os.tmpdir(),
    root: null,
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = () => {
      const v = args[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const positive = () => {
      const n = Number(value());
      if (!Number.isInteger(n) || n <= 0) throw new Error(`${a} needs a positive integer`);
      return n;
    };
    if (a === "--help" || a === "-h") return null;
    else if (a === "--json") o.json = true;
    else if (a === "--only") o.only = value().split(",");
    else if (a === "--scale") {
      const s = value();
      if (s !== "full" && s !== "small") throw new Error("--scale is full or small");
      o.full = s === "full";
    } else if (a === "--time-limit-s") o.timeLimitS = positive();
    else if (a === "--rss-cap-mb") o.rssCapMb = positive();
    else if (a === "--dir") o.dir = value();
    else if (a === "--root") o.root = path.resolve(value());
    else throw new Error(`unknown option ${a}`);
  }
  for (const name of o.only ?? [])
    if (!ATTACKS.some((x) => x.name === name)) throw new Error(`no attack ${name}`);
  return o;
}

export interface AttackResult {
  attack: string;
  scale: "full" | "small";
  survived: boolean;
  /** Set when the harness killed the broker at the RSS cap. */
  killed_at_rss_cap: boolean;
  exit: string | null;
  attack_s: number;
  timed_out: boolean;
  peak_rss_mb: number;
  rss_after_mb: number | null;
  eld_max_ms: number | null;
  eld_p99_max_ms: number | null;
  probe: ProbeStats;
  stop_s: number | null;
  restart_ok: boolean;
  restart_s: number | null;
  restart_rss_mb: number | null;
  restart_error: string | null;
  outcome: Record<string, unknown>;
  load_1m: number;
}

/** The largest `max_ms` and `p99_ms` the event-loop sampler wrote between `from` and `to`. */
function eventLoopDelay(file: string, from: number, to: number): { max: number | null; p99: number | null } {
  if (!fs.existsSync(file)) return { max: null, p99: null };
  let max: number | null = null;
  let p99: number | null = null;
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    if (!line) continue;
    const s = JSON.parse(line) as { t: number; max_ms: number; p99_ms: number };
    // A line written after a block reports it: count lines up to one interval after the end.
    if (s.t < from || s.t > to + 1000) continue;
    max = Math.max(max ?? 0, s.max_ms);
    p99 = Math.max(p99 ?? 0, s.p99_ms);
  }
  return { max, p99 };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function probeOnce(port: number): Promise<string | null> {
  let conn: KafkaConn | null = null;
  try {
    conn = await KafkaConn.connect(port, 10_000);
    await probeRound(conn, 10_000);
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    conn?.close();
  }
}

async function runOne(attack: Attack, o: Options, root: string): Promise<AttackResult> {
  const dir = fs.mkdtempSync(path.join(root, `${attack.name.replace(/\W/g, "_")}-`));
  const dataDir = path.join(dir, "data");
  const files = { dataDir, logFile: path.join(dir, "broker.log"), eldFile: path.join(dir, "eld.jsonl") };
  const prepared = await attack.prepare?.(o.full);
  const stored = attack.store ? await storeFirst(attack, o, files, prepared) : null;
  let broker = await startBroker({ ...files, settings: {}, timeoutMs: 60_000, root: o.root ?? undefined });
  const setup = await KafkaConn.connect(broker.kafkaPort);
  await createTopic(setup, PROBE_TOPIC, 1);
  setup.close();

  let peakRss = 0;
  let killedAtCap = false;
  const sampler = setInterval(() => {
    const m = memoryMb(broker.pid);
    // A process being killed (a zombie) has no memory lines: nothing to sample.
    if (!m || Number.isNaN(m.rss_mb)) return;
    peakRss = Math.max(peakRss, m.rss_mb, Number.isNaN(m.hwm_mb) ? 0 : m.hwm_mb);
    if (m.rss_mb > o.rssCapMb && !broker.exited()) {
      killedAtCap = true;
      broker.kill();
    }
  }, 100);

  const conns: KafkaConn[] = [];
  const outcome: Record<string, unknown> = stored ? { stored } : {};
  const started = Date.now();
  const deadline = started + o.timeLimitS * 1000;
  const ctx: AttackContext = {
    port: broker.kafkaPort,
    httpPort: broker.httpPort,
    pid: broker.pid,
    full: o.full,
    dataDir,
    outcome,
    left: () => Math.max(1, deadline - Date.now()),
    over: () => Date.now() > deadline || broker.exited(),
    async connect() {
      const c = await KafkaConn.connect(ctx.port);
      conns.push(c);
      return c;
    },
  };
  const probe = new Probe(broker.kafkaPort);
  probe.start();
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      timedOut = true;
      resolve();
    }, o.timeLimitS * 1000);
  });
  const brokerGone = new Promise<void>((resolve) => broker.proc.once("exit", () => resolve()));
  await Promise.race([
    attack.run(ctx, prepared).catch((err: unknown) => {
      outcome.attack_error = err instanceof Error ? err.message.slice(0, 200) : String(err);
    }),
    limit,
    brokerGone,
  ]);
  clearTimeout(timer);
  const ended = Date.now();
  for (const c of conns) c.close();
  const probeStats = await probe.stop();
  // Give the broker a moment to free what the attack's connections held.
  if (!broker.exited()) await sleep(3000);
  const sampled = memoryMb(broker.pid);
  const after = sampled && !Number.isNaN(sampled.rss_mb) ? sampled : null;
  const finalProbe = broker.exited() ? "broker exited" : await probeOnce(broker.kafkaPort);
  clearInterval(sampler);
  const eld = eventLoopDelay(files.eldFile, started, ended);
  const exit = broker.exitStatus();
  if (exit) outcome.broker_log_tail = lastLines(files.logFile, 0, 2);
  if (finalProbe && !exit) outcome.final_probe_error = finalProbe;

  let stopS: number | null = null;
  if (!broker.exited()) {
    const t = performance.now();
    await broker.stop(120_000);
    stopS = Math.round(performance.now() - t) / 1000;
  }
  const restart = await restartCheck(attack, ctx, files, conns);
  for (const c of conns) c.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return {
    attack: attack.name,
    scale: o.full ? "full" : "small",
    survived: exit === null && finalProbe === null,
    killed_at_rss_cap: killedAtCap,
    exit,
    attack_s: Math.round(ended - started) / 1000,
    timed_out: timedOut,
    peak_rss_mb: peakRss,
    rss_after_mb: after?.rss_mb ?? null,
    eld_max_ms: eld.max,
    eld_p99_max_ms: eld.p99,
    probe: probeStats,
    stop_s: stopS,
    ...restart,
    outcome,
    load_1m: Math.round(os.loadavg()[0] * 100) / 100,
  };

  async function restartCheck(
    a: Attack,
    c: AttackContext,
    f: typeof files,
    opened: KafkaConn[],
  ): Promise<Pick<AttackResult, "restart_ok" | "restart_s" | "restart_rss_mb" | "restart_error">> {
    const t = performance.now();
    try {
      broker = await startBroker({ ...f, settings: {}, timeoutMs: 120_000, root: o.root ?? undefined });
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      return { restart_ok: false, restart_s: null, restart_rss_mb: null, restart_error: msg.slice(0, 300) };
    }
    const restartS = Math.round(performance.now() - t) / 1000;
    const error = await probeOnce(broker.kafkaPort);
    c.port = broker.kafkaPort;
    c.httpPort = broker.httpPort;
    c.pid = broker.pid;
    const restartDeadline = Date.now() + 30_000;
    c.left = () => Math.max(1, restartDeadline - Date.now());
    await a.afterRestart?.(c).catch((err: unknown) => {
      c.outcome.after_restart_error = err instanceof Error ? err.message : String(err);
    });
    const rss = memoryMb(broker.pid)?.rss_mb ?? null;
    for (const conn of opened) conn.close();
    await broker.stop(120_000);
    return { restart_ok: error === null, restart_s: restartS, restart_rss_mb: rss, restart_error: error };
  }
}

/**
 * An attack's `store` step: a broker with its settings on the attack's data directory, stopped
 * before the measured one starts there. Returns what the broker answered.
 */
async function storeFirst(
  attack: Attack,
  o: Options,
  files: { dataDir: string; logFile: string; eldFile: string },
  prepared: unknown,
): Promise<Record<string, unknown>> {
  const step = attack.store as NonNullable<Attack["store"]>;
  const broker = await startBroker({
    ...files,
    settings: step.settings,
    timeoutMs: 60_000,
    root: o.root ?? undefined,
  });
  const conns: KafkaConn[] = [];
  const outcome: Record<string, unknown> = {};
  const deadline = Date.now() + o.timeLimitS * 1000;
  const ctx: AttackContext = {
    port: broker.kafkaPort,
    httpPort: broker.httpPort,
    pid: broker.pid,
    full: o.full,
    dataDir: files.dataDir,
    outcome,
    left: () => Math.max(1, deadline - Date.now()),
    over: () => Date.now() > deadline || broker.exited(),
    async connect() {
      const c = await KafkaConn.connect(ctx.port);
      conns.push(c);
      return c;
    },
  };
  // The machine stays safe here too: killed past the cap like the measured broker.
  const cap = setInterval(() => {
    const m = memoryMb(broker.pid);
    if (m && m.rss_mb > o.rssCapMb && !broker.exited()) {
      outcome.killed_at_rss_cap = true;
      broker.kill();
    }
  }, 100);
  try {
    await step.run(ctx, prepared);
    outcome.peak_rss_mb = memoryMb(broker.pid)?.hwm_mb ?? null;
  } finally {
    clearInterval(cap);
    for (const c of conns) c.close();
    await broker.stop(120_000);
  }
  return outcome;
}

/** JSON of a result; int64s the broker answered (bigint) as decimal strings. */
function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, (_key, v) => (typeof v === "bigint" ? v.toString() : v), indent);
}

function show(v: number | null | undefined): string {
  return v === null || v === undefined ? "-" : String(v);
}

function printTable(results: AttackResult[]): void {
  const header = [
    "attack",
    "survived",
    "peak MB",
    "after MB",
    "eld max ms",
    "probe p50",
    "p99",
    "max",
    "failed",
    "restart",
  ];
  const rows = results.map((r) => [
    r.attack,
    r.survived ? "yes" : r.killed_at_rss_cap ? "killed@cap" : `no (${r.exit ?? "no answer"})`,
    show(r.peak_rss_mb),
    show(r.rss_after_mb),
    show(r.eld_max_ms),
    show(r.probe.p50_ms),
    show(r.probe.p99_ms),
    show(r.probe.max_ms),
    `${r.probe.failed}/${r.probe.rounds}`,
    r.restart_ok ? `ok ${r.restart_s}s` : "FAILED",
  ]);
  process.stdout.write(`${table(header, rows)}\n\n`);
  for (const r of results) process.stdout.write(`${r.attack}: ${toJson(r.outcome)}\n`);
}

async function main(): Promise<number> {
  const parsed = optionsOrExit(parse, () => USAGE);
  if (typeof parsed === "number") return parsed;
  const o = parsed;
  const scratch = scratchDir(o.dir, "samsa-attacks-", killBrokers);
  const results: AttackResult[] = [];
  try {
    for (const attack of ATTACKS) {
      if (o.only && !o.only.includes(attack.name)) continue;
      process.stderr.write(`${attack.name}: ${attack.what}\n`);
      const r = await runOne(attack, o, scratch.root);
      results.push(r);
      process.stderr.write(`  ${toJson(r)}\n`);
    }
  } finally {
    killBrokers();
    scratch.dispose();
  }
  if (o.json) process.stdout.write(`${toJson(results, 2)}\n`);
  else printTable(results);
  return 0;
}

runMain(main, killBrokers);
