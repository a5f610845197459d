/**
 * The price of metrics (issue 16): two broker processes, one with metrics.enable=true and one with
 * metrics.enable=false, and `samsa bench produce` (a process of its own, 100-byte records in
 * batches, acks=all) against each in turn, `--rounds` times with the order swapped every round so
 * that the machine's drift falls on both alike, after an uncounted warm-up run each. The metrics broker is scraped (GET /metrics) once
 * per second during its runs, as Prometheus would (every 15 s) and more, so the scrape cost is in
 * the number too. Reported: the median records/s of each and how much slower metrics make
 * produce, and, less sensitive to other processes on the machine, the broker process's CPU time
 * per record (utime + stime from /proc, Linux) of each. On a busy machine both swing by more
 * than 3%, so the bench also measures what metrics add, alone: the instrumentation of one
 * Produce request timed in this process (ns), set against the broker CPU a request costs (its
 * records per request read from the metrics broker's own counters), and one scrape's duration.
 * Issue 16's target: under 3%.
 *
 *   node dist/bench/metrics.js [--records N] [--rounds R] [--json]
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import { HANDLERS } from "../broker/api/index.js";
import { BrokerMetrics } from "../broker/metrics/metrics.js";
import { type BrokerChild, killBrokers, startBroker } from "./attacks/broker-child.js";
import { intOption, optionsOrExit, runMain, scratchDir, table } from "./script.js";

const execFileAsync = promisify(execFile);
/** dist/bench/metrics.js -> the repository root. */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const BIN = path.join(ROOT, "bin", "samsa.js");
/** Linux's USER_HZ: the unit of /proc/<pid>/stat's CPU times. */
const CLOCK_TICKS_PER_SEC = 100;
/** Records of each broker's uncounted warm-up run. */
const WARMUP_RECORDS = 100_000;
/** How often the metrics broker is scraped during its runs, by default. */
const SCRAPE_INTERVAL_MS = 1000;
const MODES = ["on", "off"] as const;
type Mode = (typeof MODES)[number];

interface Options {
  records: number;
  rounds: number;
  /** How often the metrics broker is scraped during its runs (0: never). */
  scrapeMs: number;
  json: boolean;
}

function usage(): string {
  return "usage: node dist/bench/metrics.js [--records N (default 300000)] [--rounds R (default 3)] [--scrape-ms MS (default 1000; 0: none)] [--json]";
}

function parse(args: string[]): Options | null {
  const { values } = parseArgs({
    args,
    options: {
      records: { type: "string", default: "300000" },
      rounds: { type: "string", default: "3" },
      "scrape-ms": { type: "string", default: String(SCRAPE_INTERVAL_MS) },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return null;
  const records = intOption("--records", values.records);
  const rounds = intOption("--rounds", values.rounds);
  const scrapeMs = intOption("--scrape-ms", values["scrape-ms"], "zero-allowed");
  return { records, rounds, scrapeMs, json: values.json };
}

/**
 * Runs `samsa bench produce` against `broker` and returns its records/s. Asynchronous: this
 * process scrapes the broker while the child produces.
 */
async function produce(broker: BrokerChild, topic: string, records: number): Promise<number> {
  const args = [BIN, "-b", `127.0.0.1:${broker.kafkaPort}`, "bench", "produce", "-t", topic];
  args.push("-n", String(records), "--record-size", "100", "--json");
  try {
    const { stdout } = await execFileAsync(process.execPath, args, {
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    });
    return (JSON.parse(stdout) as { records_per_sec: number }).records_per_sec;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? "";
    throw new Error(`samsa bench produce failed: ${stderr.trim() || String(err)}`);
  }
}

/** Scrapes `broker`'s /metrics every `intervalMs` until the returned function is called. */
function scraping(broker: BrokerChild, intervalMs: number): () => Promise<number> {
  let scrapes = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const res = await fetch(`http://127.0.0.1:${broker.httpPort}/metrics`);
      if (res.status !== 200) throw new Error(`GET /metrics: ${res.status}`);
      await res.text();
      scrapes++;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return async () => {
    stopped = true;
    await loop;
    return scrapes;
  };
}

/** The CPU seconds (user + system) process `pid` used so far (/proc/<pid>/stat), or NaN off Linux. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SEC;
  } catch {
    return Number.NaN;
  }
}

/** Requests timed by `hotPathNs`, after as many uncounted to warm the JIT. */
const HOT_PATH_ITERATIONS = 1_000_000;

/**
 * What metrics add to one Produce request on the broker, timed in this process: the dispatcher's
 * two clock reads and its request count and latency, the walk of the response for error codes,
 * and the topic's bytes and records in. Nanoseconds per request.
 */
function hotPathNs(): number {
  const metrics = new BrokerMetrics(HANDLERS);
  const partition = { index: 0, errorCode: 0, baseOffset: 1, logAppendTimeMs: -1, logStartOffset: 0 };
  const response = {
    throttleTimeMs: 0,
    responses: [{ name: "t", partitionResponses: [{ ...partition, recordErrors: [], errorMessage: null }] }],
  };
  const run = () => {
    const started = performance.now();
    for (let i = 0; i < HOT_PATH_ITERATIONS; i++) {
      const t = performance.now();
      metrics.topics.produced("t", 16_384, 150);
      metrics.requests.responded(0, response);
      metrics.requests.completed(0, "PLAINTEXT", (performance.now() - t) / 1000);
    }
    return ((performance.now() - started) * 1e6) / HOT_PATH_ITERATIONS;
  };
  run();
  return run();
}

/** Records per Produce request the metrics broker saw (its own counters), and one scrape's ms. */
async function producedShape(broker: BrokerChild): Promise<{ recordsPerRequest: number; scrapeMs: number }> {
  const started = performance.now();
  const text = await (await fetch(`http://127.0.0.1:${broker.httpPort}/metrics`)).text();
  const scrapeMs = performance.now() - started;
  const sum = (pattern: RegExp) =>
    text
      .split("\n")
      .filter((l) => pattern.test(l))
      .reduce((total, l) => total + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
  const records = sum(/^samsa_topic_records_in_total\{/);
  const requests = sum(/^samsa_kafka_requests_total\{api="Produce",/);
  return { recordsPerRequest: requests > 0 ? records / requests : Number.NaN, scrapeMs };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<number> {
  const parsed = optionsOrExit(parse, usage);
  if (typeof parsed === "number") return parsed;
  const o = parsed;
  const scratch = scratchDir(os.tmpdir(), "samsa-bench-metrics-", killBrokers);
  const start = (mode: Mode) =>
    startBroker({
      dataDir: path.join(scratch.root, `data-${mode}`),
      logFile: path.join(scratch.root, `broker-${mode}.log`),
      eldFile: path.join(scratch.root, `eld-${mode}.jsonl`),
      settings: { "metrics.enable": mode === "on" ? "true" : "false" },
      timeoutMs: 30_000,
    });
  const brokers = new Map<Mode, BrokerChild>([
    ["on", await start("on")],
    ["off", await start("off")],
  ]);
  try {
    const results = new Map<Mode, number[]>(MODES.map((m) => [m, []]));
    const cpu = new Map<Mode, number[]>(MODES.map((m) => [m, []]));
    // One uncounted run each first: both brokers' code warmed by the JIT before anything is measured.
    for (const [mode, broker] of brokers)
      await produce(broker, `metrics-${mode}-warmup`, Math.min(o.records, WARMUP_RECORDS));
    for (let round = 1; round <= o.rounds; round++) {
      const order: Mode[] = round % 2 === 1 ? ["on", "off"] : ["off", "on"];
      for (const mode of order) {
        const broker = brokers.get(mode) as BrokerChild;
        const stop = mode === "on" && o.scrapeMs > 0 ? scraping(broker, o.scrapeMs) : async () => 0;
        const cpuBefore = cpuSeconds(broker.pid);
        const rate = await produce(broker, `metrics-${mode}-${round}`, o.records);
        const cpuUsPerRecord = ((cpuSeconds(broker.pid) - cpuBefore) * 1e6) / o.records;
        const scrapes = await stop();
        results.get(mode)?.push(rate);
        cpu.get(mode)?.push(cpuUsPerRecord);
        process.stderr.write(
          `round ${round} metrics ${mode}: ${rate} records/s, broker CPU ${cpuUsPerRecord.toFixed(2)} µs/record (${scrapes} scrapes)\n`,
        );
      }
    }
    const shape = await producedShape(brokers.get("on") as BrokerChild);
    report(o, results, cpu, { ...shape, hotPathNs: hotPathNs() });
    return 0;
  } finally {
    await Promise.all([...brokers.values()].map((b) => b.stop(30_000)));
    scratch.dispose();
  }
}

interface Alone {
  hotPathNs: number;
  recordsPerRequest: number;
  scrapeMs: number;
}

function report(o: Options, results: Map<Mode, number[]>, cpu: Map<Mode, number[]>, alone: Alone): void {
  const rate = (m: Mode) => median(results.get(m) ?? []);
  const cpuOf = (m: Mode) => median(cpu.get(m) ?? []);
  const cost = 1 - rate("on") / rate("off");
  const cpuCost = cpuOf("on") / cpuOf("off") - 1;
  // The instrumentation's share of the broker CPU one Produce request costs without metrics.
  const hotPathShare = alone.hotPathNs / (cpuOf("off") * 1000 * alone.recordsPerRequest);
  if (o.json) {
    const all = { rate: Object.fromEntries(results), cpu_us_per_record: Object.fromEntries(cpu) };
    const summary = {
      ...{ on: rate("on"), off: rate("off"), cost, cpu_on: cpuOf("on"), cpu_off: cpuOf("off"), cpuCost },
      ...{ hot_path_ns: alone.hotPathNs, records_per_request: alone.recordsPerRequest, hotPathShare },
      scrape_ms: alone.scrapeMs,
    };
    process.stdout.write(`${JSON.stringify({ records: o.records, rounds: o.rounds, ...summary, all })}\n`);
    return;
  }
  const pct = (x: number, digits = 1) => `${(100 * x).toFixed(digits)}%`;
  const rows = MODES.map((m) => [
    m === "on" ? "true" : "false",
    rate(m).toFixed(0),
    cpuOf(m).toFixed(2),
    (results.get(m) ?? []).map((r) => r.toFixed(0)).join(", "),
  ]);
  const header = `${o.records} records of 100 bytes, acks=all, median of ${o.rounds} rounds`;
  const columns = ["metrics.enable", "produce rec/s", "broker CPU µs/record", "rounds (rec/s)"];
  process.stdout.write(
    `${header}\n${table(columns, rows)}\n` +
      `cost of metrics: ${pct(cost)} of throughput, ${pct(cpuCost)} of broker CPU per record (target under 3%)\n` +
      `alone: ${alone.hotPathNs.toFixed(0)} ns of instrumentation per Produce request of ` +
      `${alone.recordsPerRequest.toFixed(0)} records = ${pct(hotPathShare, 3)} of its broker CPU; ` +
      `one scrape ${alone.scrapeMs.toFixed(1)} ms\n`,
  );
}

runMain(main, killBrokers);
