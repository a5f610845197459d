/**
 * Hostile HTTP bodies against a broker child process (issue 12): a 46 MiB JSON produce of tiny
 * records, 300,000 tiny records, JSON nested 100,000 deep. For each: the answer's status and time,
 * the broker's peak RSS (VmHWM, which never falls, so each scenario gets a fresh broker) and RSS
 * after, and the latency of a second client meanwhile: GET /health one after another for as long
 * as the attack runs (max and p99).
 *
 *   npm run build && node dist/bench/http-body.js [--bin PATH] [--set key=value ...] [--json]
 *
 * `--bin` runs another tree's bin/samsa.js (an earlier commit, built) for before/after numbers;
 * `--set` passes broker settings (`-s`), e.g. `--set http.request.max.bytes=67108864`.
 */
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, killAllChildren, now, round, rssMb, type Server, startServer } from "./compare/common.js";
import { optionsOrExit, runMain, scratchDir } from "./script.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const MIB = 1024 * 1024;
/** Longest any scenario may take before it counts as failed. */
const SCENARIO_TIMEOUT_MS = 10 * 60_000;

const SCENARIOS = ["tiny-46mib", "tiny-300k", "deep-100k"] as const;

interface Options {
  bin: string;
  sets: string[];
  json: boolean;
  scenarios: string[];
}

interface Result {
  scenario: string;
  body_mib: number;
  status: number;
  answer: string;
  seconds: number;
  peak_rss_mb: number;
  rss_after_mb: number;
  broker_alive: boolean;
  probes: number;
  probes_failed: number;
  probe_max_ms: number;
  probe_p99_ms: number;
}

function usage(): string {
  return `usage: node dist/bench/http-body.js [--bin path/to/bin/samsa.js] [--set key=value ...] [--scenarios ${SCENARIOS.join(",")}] [--json]`;
}

function parse(args: string[]): Options | null {
  const o: Options = {
    bin: path.join(ROOT, "bin", "samsa.js"),
    sets: [],
    json: false,
    scenarios: [...SCENARIOS],
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--help" || a === "-h") return null;
    if (a === "--json") o.json = true;
    else if (a === "--bin") o.bin = path.resolve(args[++i] ?? "");
    else if (a === "--set" && args[i + 1]?.includes("=")) o.sets.push(args[++i]);
    else if (a === "--scenarios") o.scenarios = (args[++i] ?? "").split(",");
    else throw new Error(`unknown or incomplete option ${a}`);
  }
  return o;
}

/** `{"records":[{"value":0},...]}` of about `bytes` bytes. */
function tinyRecordsOfSize(bytes: number): string {
  const record = '{"value":1},';
  return `{"records":[${record.repeat(Math.floor(bytes / record.length) - 1)}{"value":1}]}`;
}

function tinyRecords(n: number): string {
  return `{"records":[${'{"value":1},'.repeat(n - 1)}{"value":1}]}`;
}

function deep(depth: number): string {
  return `{"records":[{"value":${"[".repeat(depth)}${"]".repeat(depth)}}]}`;
}

async function startBroker(o: Options, dataDir: string): Promise<{ server: Server; base: string }> {
  const httpPort = await freePort();
  const kafkaPort = await freePort();
  const sets = o.sets.flatMap((s) => ["-s", s]);
  const args = [o.bin, "broker", "start", "--data-dir", dataDir, "--kafka-port", String(kafkaPort)];
  args.push("--http-port", String(httpPort), "--host", "127.0.0.1", ...sets);
  const env = { ...process.env, SAMSA_LOG_LEVEL: "warn" };
  const { server } = await startServer(
    "samsa",
    process.execPath,
    args,
    (out) => (/listening/.test(out) ? true : undefined),
    30_000,
    env,
  );
  const base = `http://127.0.0.1:${httpPort}`;
  for (let i = 0; i < 200; i++) {
    if ((await fetch(`${base}/health`).catch(() => null))?.status === 200) return { server, base };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("the broker's HTTP port never answered");
}

/** GET /health one after another until `done()`: each latency in ms, and how many failed. */
async function probe(base: string, done: () => boolean): Promise<{ latencies: number[]; failed: number }> {
  const latencies: number[] = [];
  let failed = 0;
  while (!done()) {
    const t0 = now();
    try {
      const res = await fetch(`${base}/health`);
      await res.arrayBuffer();
      latencies.push(now() - t0);
    } catch {
      failed++;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return { latencies, failed };
}

/** A produce answer in short: records given an offset, and records refused with their codes. */
function summary(text: string): string {
  const { offsets } = JSON.parse(text) as { offsets: { offset?: number; error_code?: string }[] };
  const codes = new Set(offsets.flatMap((o) => (o.error_code ? [o.error_code] : [])));
  const ok = offsets.filter((o) => o.offset !== undefined).length;
  return `${ok} offsets, ${offsets.length - ok} refused${codes.size > 0 ? ` (${[...codes].join(", ")})` : ""}`;
}

async function scenario(o: Options, root: string, name: string, body: string): Promise<Result> {
  const { server, base } = await startBroker(o, path.join(root, name));
  try {
    let finished = false;
    const t0 = now();
    const request = fetch(`${base}/topics/bench`, {
      method: "POST",
      body,
      headers: { "content-type": "application/json" },
      signal: AbortSignal.timeout(SCENARIO_TIMEOUT_MS),
    })
      .then(async (res) => ({ status: res.status, text: await res.text() }))
      .catch((err: Error) => ({ status: 0, text: `${err.message}: ${String(err.cause ?? "")}` }));
    const probing = probe(base, () => finished);
    const answer = await request.finally(() => {
      finished = true;
    });
    const seconds = (now() - t0) / 1000;
    const { latencies, failed } = await probing;
    latencies.sort((a, b) => a - b);
    const alive = server.proc.exitCode === null && server.proc.signalCode === null;
    const rss = alive ? rssMb(server.pid) : { rss_mb: Number.NaN, peak_rss_mb: Number.NaN };
    return {
      scenario: name,
      body_mib: round(body.length / MIB, 1),
      status: answer.status,
      answer: answer.status === 200 ? summary(answer.text) : answer.text.slice(0, 100),
      seconds: round(seconds, 2),
      peak_rss_mb: rss.peak_rss_mb,
      rss_after_mb: rss.rss_mb,
      broker_alive: alive,
      probes: latencies.length,
      probes_failed: failed,
      probe_max_ms: round(latencies[latencies.length - 1] ?? 0, 1),
      probe_p99_ms: round(latencies[Math.floor(latencies.length * 0.99)] ?? 0, 1),
    };
  } finally {
    await server.stop();
  }
}

async function main(): Promise<number> {
  const o = optionsOrExit(parse, usage);
  if (typeof o === "number") return o;
  const scratch = scratchDir("/tmp", "samsa-bench-http-", killAllChildren);
  try {
    const results: Result[] = [];
    const cases: [string, () => string][] = [
      ["tiny-46mib", () => tinyRecordsOfSize(46 * MIB)],
      ["tiny-300k", () => tinyRecords(300_000)],
      ["deep-100k", () => deep(100_000)],
    ];
    for (const [name, body] of cases.filter(([n]) => o.scenarios.includes(n))) {
      const r = await scenario(o, scratch.root, name, body());
      results.push(r);
      if (o.json) process.stdout.write(`${JSON.stringify(r)}\n`);
      else process.stderr.write(`${JSON.stringify(r)}\n`);
    }
    return 0;
  } finally {
    scratch.dispose();
  }
}

runMain(main, killAllChildren);
