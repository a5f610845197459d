/**
 * Replication on this machine, in one run (issues 13 and 14), every cluster figure beside the
 * single broker's:
 *
 *   single    one broker process (embedded store, no etcd): produce N x 100 B, acks=1
 *   cluster   etcd + 3 broker processes (`broker/local-cluster.ts`), an RF=3 topic, the same N with
 *             acks=all; its rate as a share of `single` (target >= 40%)
 *   consume   the N records of both produce scenarios read from the beginning, on each (implies
 *             `single` and `cluster`)
 *   e2e       send-to-receipt latency at fixed rates (`--e2e-rates`, acks=all, linger 0) on the
 *             single broker (RF=1) and on the cluster (RF=3)
 *   rf1x2     one broker against a 2-broker cluster, RF=1 topics of `--rf1-partitions` spread
 *             over both, `--rf1-producers` producer threads: does the cluster use both cores?
 *   failover  on the 3-broker cluster (cluster/failover.ts), with the default session timeout and
 *             on a fresh cluster with `--session-ms`
 *
 * Produce scenarios use `runProduce` (bench/load/produce.ts) with the same producer tuning; only
 * acks differs (and with it idempotence, on for acks=all as in Kafka). Each scenario reports every
 * broker's CPU% and system calls per second over its measured phase, RSS after, this process's CPU%
 * (the load generator) and the load average (cluster/common.ts). The single broker and the cluster
 * are up together, and each scenario runs on one right after the other. Charts go to
 * `--charts DIR` (cluster/chart.ts). Every child (etcd, brokers) is killed on exit, on errors and
 * on SIGINT/SIGTERM.
 */
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { LocalCluster } from "../broker/local-cluster.js";
import { type AbSummary, runAb } from "./cluster/ab.js";
import { writeChart } from "./cluster/chart.js";
import {
  type BrokerUsage,
  createTopic,
  leadersOf,
  load1m,
  progress,
  RECORD_BYTES,
  setQuiet,
  sleep,
  UsageMeter,
  WAIT_MAX_MS,
  waitIsrFull,
} from "./cluster/common.js";
import { type FailoverRun, runFailover } from "./cluster/failover.js";
import { printReport } from "./cluster/print.js";
import {
  type ConsumeRow,
  consumeOn,
  type E2eRow,
  e2eOn,
  type Rf1Row,
  rf1On,
  type Target,
} from "./cluster/speed.js";
import { killAllChildren, mark, round } from "./compare/common.js";
import { SAMSA_PRODUCER, type SamsaBroker, startSamsa } from "./compare/samsa.js";
import { runProduce } from "./load/produce.js";
import type { BenchResult } from "./load/report.js";
import { optionsOrExit, runMain, scratchDir } from "./script.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "..", "..");
const BROKERS = 3;
const RF1_BROKERS = 2;
/** The target: RF=3 acks=all at least this share of the single broker's acks=1 rate. */
export const TARGET_RATIO = 0.4;
/** A produce scenario stops sending after this (it reports what was acknowledged). */
const PRODUCE_MAX_S = 120;
/** The samsa client's batch.size default (client/producer.ts), which Kafka's EndToEndLatency keeps too. */
const E2E_BATCH_SIZE = 16_384;
/** broker.session.timeout.ms's default (broker/config.ts), for the report. */
const DEFAULT_SESSION_MS = 9000;

export interface Options {
  json: boolean;
  records: number;
  partitions: number;
  reps: number;
  sessionMs: number;
  scenarios: string[];
  cpuProf: string | null;
  baseDir: string;
  e2eRates: number[];
  e2eSeconds: number;
  /** The e2e producer's batch.size (the client's default, 16 KiB, unless set). */
  e2eBatchSize: number;
  rf1Partitions: number;
  rf1Producers: number;
  charts: string | null;
  /** The built tree whose brokers run (default this one). */
  root: string;
  /** The `ab` scenario's other tree, and its repetitions. */
  abRoot: string | null;
  abReps: number;
}

export const SCENARIOS = ["single", "cluster", "consume", "e2e", "rf1x2", "failover", "ab"];
const DEFAULT_SCENARIOS = ["single", "cluster", "consume", "e2e", "rf1x2"];

function usage(): string {
  return [
    "usage: node dist/bench/cluster.js [--json] [--records N] [--partitions P] [--scenarios a,b]",
    "         [--e2e-rates R,R] [--e2e-seconds S] [--e2e-batch-size B] [--rf1-partitions P] [--rf1-producers K]",
    "         [--reps R] [--session-ms MS] [--cpu-prof DIR] [--charts DIR | --no-charts] [--root DIR] [--dir DIR]",
    "  --json             one JSON object on stdout (no progress, no table)",
    "  --records N        records of 100 B produced and consumed per target, and in rf1x2 (default 1000000)",
    "  --partitions P     partitions of the produce and failover topics (default 1)",
    `  --scenarios        comma-separated subset of ${SCENARIOS.join(",")} (default ${DEFAULT_SCENARIOS.join(",")})`,
    "  --e2e-rates R,R    records/s of the e2e runs (default 5000,20000)",
    "  --e2e-seconds S    seconds of each e2e run (default 10)",
    `  --e2e-batch-size B the e2e producer's batch.size in bytes (default ${E2E_BATCH_SIZE}, the client's)`,
    "  --rf1-partitions P partitions of the rf1x2 topics (default 4)",
    "  --rf1-producers K  producer threads of rf1x2 (default 2)",
    "  --reps R           kills of a leader per failover run (default 3)",
    "  --session-ms MS    broker.session.timeout.ms of the second failover run (default 2000)",
    "  --cpu-prof DIR     profile every broker (V8 CPU profiles, CPU.<pid>.cpuprofile) into DIR",
    "  --charts DIR       where cluster.svg goes (default bench/charts); --no-charts: none",
    "  --root DIR         run the brokers of another built tree (DIR/bin/samsa.js: an earlier commit, for A/B)",
    "  --ab-root DIR      the ab scenario's second cluster runs DIR's brokers (needed by ab)",
    "  --ab-reps N        produce runs per cluster in ab, alternating (default 5)",
    `  --dir DIR          where the temporary directory is made (default ${os.tmpdir()})`,
  ].join("\n");
}

function positiveInt(name: string, v: string, min = 1): number {
  const n = Number(v);
  if (v.trim() === "" || !Number.isSafeInteger(n) || n < min)
    throw new Error(`${name} must be an integer >= ${min}`);
  return n;
}

/** The command line, or null for --help; throws on a bad option (the caller exits 2). */
export function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: "boolean", default: false },
      records: { type: "string", default: "1000000" },
      partitions: { type: "string", default: "1" },
      reps: { type: "string", default: "3" },
      "session-ms": { type: "string", default: "2000" },
      scenarios: { type: "string", default: DEFAULT_SCENARIOS.join(",") },
      "e2e-rates": { type: "string", default: "5000,20000" },
      "e2e-seconds": { type: "string", default: "10" },
      "e2e-batch-size": { type: "string", default: String(E2E_BATCH_SIZE) },
      "rf1-partitions": { type: "string", default: "4" },
      "rf1-producers": { type: "string", default: "2" },
      "cpu-prof": { type: "string" },
      charts: { type: "string", default: path.join(ROOT, "bench", "charts") },
      "no-charts": { type: "boolean", default: false },
      root: { type: "string", default: ROOT },
      "ab-root": { type: "string" },
      "ab-reps": { type: "string", default: "5" },
      dir: { type: "string", default: os.tmpdir() },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return null;
  const scenarios = values.scenarios.split(",").filter((s) => s !== "");
  for (const s of scenarios) if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario ${s}`);
  if (scenarios.includes("ab") && !values["ab-root"]) throw new Error("the ab scenario needs --ab-root DIR");
  // consume reads what both produce scenarios wrote.
  if (scenarios.includes("consume"))
    for (const s of ["single", "cluster"]) if (!scenarios.includes(s)) scenarios.push(s);
  return {
    json: values.json,
    records: positiveInt("--records", values.records),
    partitions: positiveInt("--partitions", values.partitions),
    reps: positiveInt("--reps", values.reps),
    sessionMs: positiveInt("--session-ms", values["session-ms"], 500),
    scenarios,
    cpuProf: values["cpu-prof"] ? path.resolve(values["cpu-prof"]) : null,
    baseDir: values.dir,
    e2eRates: values["e2e-rates"].split(",").map((r) => positiveInt("--e2e-rates", r)),
    e2eSeconds: positiveInt("--e2e-seconds", values["e2e-seconds"]),
    e2eBatchSize: positiveInt("--e2e-batch-size", values["e2e-batch-size"]),
    rf1Partitions: positiveInt("--rf1-partitions", values["rf1-partitions"]),
    rf1Producers: positiveInt("--rf1-producers", values["rf1-producers"]),
    charts: values["no-charts"] ? null : path.resolve(values.charts),
    root: path.resolve(values.root),
    abRoot: values["ab-root"] ? path.resolve(values["ab-root"]) : null,
    abReps: positiveInt("--ab-reps", values["ab-reps"]),
  };
}

// -----------------------------------------------------------------------------------------------
// Produce

export interface ProduceScenario {
  scenario: "single" | "cluster";
  brokers: number;
  replication_factor: number;
  acks: 1 | -1;
  partitions: number;
  result: BenchResult & { error?: string };
  broker_usage: BrokerUsage[];
  /** Each broker's CPU% over IDLE_MS just before the produce: what a cluster costs at rest. */
  idle_cpu_pct: number[];
  client_cpu_pct: number;
  load_1m: number;
}

/** How long each broker's CPU is read at rest before a produce. */
const IDLE_MS = 2000;

/** Produces `o.records` x 100 B to `topic` on `t`, measuring each broker over the produce. */
async function produceOn(
  t: Target,
  name: "single" | "cluster",
  topic: string,
  o: Options,
  acks: 1 | -1,
): Promise<ProduceScenario> {
  const rf = t.brokers.length;
  progress(
    `${name}: ${rf} broker(s), RF=${rf}, acks=${acks === -1 ? "all" : "1"}, ${o.records} x ${RECORD_BYTES} B ...`,
  );
  await createTopic(t.bootstrap, topic, o.partitions, rf);
  await waitIsrFull(t.bootstrap, topic);
  const rest = new UsageMeter(t.brokers);
  await sleep(IDLE_MS);
  const idle = rest.stop().brokers.map((b) => b.cpu_pct);
  const meter = new UsageMeter(t.brokers);
  mark(`${topic}-produce-start`);
  const result = await runProduce({
    brokers: t.bootstrap,
    clientId: "bench-cluster",
    topic,
    records: o.records,
    recordSize: RECORD_BYTES,
    partitions: o.partitions,
    acks,
    lingerMs: SAMSA_PRODUCER.lingerMs,
    batchSize: SAMSA_PRODUCER.batchSize,
    durationSec: PRODUCE_MAX_S,
  });
  mark(`${topic}-produce-end`);
  const usage = meter.stop();
  if (result.records < o.records || result.errors > 0)
    throw new Error(
      `${topic}: ${result.records} of ${o.records} acknowledged: ${result.error ?? "time limit"}`,
    );
  const s: ProduceScenario = {
    scenario: name,
    brokers: rf,
    replication_factor: rf,
    acks,
    partitions: o.partitions,
    result,
    broker_usage: usage.brokers,
    idle_cpu_pct: idle,
    client_cpu_pct: usage.client_cpu_pct,
    load_1m: load1m(),
  };
  progress(
    `  ${round(result.records_per_sec, 0)} records/s, p50 ${result.latency_ms.p50} ms, p99 ${result.latency_ms.p99} ms, load ${s.load_1m}`,
  );
  return s;
}

// -----------------------------------------------------------------------------------------------
// The run

/** etcd and `brokers` brokers under `dir`; `sessionMs` null: broker.session.timeout.ms's default. */
function startCluster(
  o: Options,
  dir: string,
  brokers: number,
  sessionMs: number | null,
  root = o.root,
): Promise<LocalCluster> {
  progress(`starting etcd and ${brokers} brokers in ${dir} ...`);
  const sets =
    sessionMs === null
      ? []
      : [
          `broker.session.timeout.ms=${sessionMs}`,
          `broker.heartbeat.interval.ms=${Math.max(10, Math.floor(sessionMs / 4))}`,
        ];
  return LocalCluster.start({
    brokers,
    dir,
    kafkaPort: 0,
    httpPort: 0,
    etcdPort: 0,
    sets,
    bin: path.join(root, "bin", "samsa.js"),
    readyTimeoutMs: WAIT_MAX_MS,
    progress: () => {},
  });
}

function clusterTarget(c: LocalCluster, label: string): Target {
  return {
    label,
    bootstrap: c.brokers.map((b) => b.kafka),
    brokers: c.brokers.map((b) => ({ nodeId: b.nodeId, pid: b.pid })),
  };
}

function singleTarget(b: SamsaBroker): Target {
  return { label: "1 broker", bootstrap: b.brokers, brokers: [{ nodeId: 1, pid: b.server.pid }] };
}

export interface Report {
  benchmark: "cluster";
  date: string;
  node: string;
  cpus: number;
  cpu_model: string;
  records: number;
  record_bytes: number;
  producer: string;
  /** The tree whose brokers ran (`--root`). */
  brokers_root: string;
  single?: ProduceScenario;
  cluster?: ProduceScenario;
  ratio?: number;
  target_met?: boolean;
  consume: ConsumeRow[];
  e2e: E2eRow[];
  rf1: Rf1Row[];
  failover: FailoverRun[];
  ab?: AbSummary;
  charts: string[];
  seconds: number;
}

/** What runs on the single broker and the 3-broker cluster while both are up. */
async function beside(single: Target | null, cluster: Target | null, o: Options, r: Report): Promise<void> {
  const has = (s: string) => o.scenarios.includes(s);
  if (single && has("single")) r.single = await produceOn(single, "single", "bench-single", o, 1);
  if (cluster && has("cluster")) r.cluster = await produceOn(cluster, "cluster", "bench-cluster", o, -1);
  if (single && cluster && has("consume")) {
    r.consume.push(await consumeOn(single, "bench-single", o.records));
    r.consume.push(await consumeOn(cluster, "bench-cluster", o.records));
  }
  if (!single || !cluster || !has("e2e")) return;
  for (const rate of o.e2eRates) {
    for (const t of [single, cluster]) {
      const topic = `bench-e2e-${rate}`;
      await createTopic(t.bootstrap, topic, 1, t.brokers.length);
      await waitIsrFull(t.bootstrap, topic);
      r.e2e.push(await e2eOn(t, topic, rate, o.e2eSeconds, o.e2eBatchSize));
    }
  }
}

/** The same RF=1 produce on `single` and on a fresh 2-broker cluster. */
async function rf1x2(single: Target, root: string, o: Options, clusters: LocalCluster[]): Promise<Rf1Row[]> {
  const rows: Rf1Row[] = [];
  const topic = "bench-rf1";
  await createTopic(single.bootstrap, topic, o.rf1Partitions, 1);
  const singleLeaders = await leadersOf(single.bootstrap, topic);
  rows.push(await rf1On(single, topic, o.rf1Partitions, singleLeaders, o.rf1Producers, o.records));
  const c = await startCluster(o, path.join(root, "cluster-rf1"), RF1_BROKERS, null);
  clusters.push(c);
  const t = clusterTarget(c, `${RF1_BROKERS} brokers`);
  await createTopic(t.bootstrap, topic, o.rf1Partitions, 1);
  await waitIsrFull(t.bootstrap, topic);
  const leaders = await leadersOf(t.bootstrap, topic);
  rows.push(await rf1On(t, topic, o.rf1Partitions, leaders, o.rf1Producers, o.records));
  await c.stop();
  return rows;
}

/** Two 3-broker clusters, `o.root`'s and `abRoot`'s, and produce on each in turn (cluster/ab.ts). */
async function ab(o: Options, abRoot: string, root: string, clusters: LocalCluster[]): Promise<AbSummary> {
  const a = await startCluster(o, path.join(root, "ab-a"), BROKERS, null);
  clusters.push(a);
  const b = await startCluster(o, path.join(root, "ab-b"), BROKERS, null, abRoot);
  clusters.push(b);
  const produce = (t: Target, topic: string) => produceOn(t, "cluster", topic, o, -1);
  const label = (side: string) => `${BROKERS} brokers RF=3 (${side})`;
  const summary = await runAb(
    clusterTarget(a, label("a")),
    clusterTarget(b, label("b")),
    { a: o.root, b: abRoot },
    o.abReps,
    produce,
  );
  await a.stop();
  await b.stop();
  return summary;
}

async function runAll(o: Options, root: string, r: Report, clusters: LocalCluster[]): Promise<void> {
  const has = (s: string) => o.scenarios.includes(s);
  let single: SamsaBroker | null = null;
  if (has("single") || has("e2e") || has("rf1x2")) {
    progress("starting the single broker ...");
    single = await startSamsa({
      dataDir: path.join(root, "single"),
      cpuProfDir: o.cpuProf ?? undefined,
      root: o.root,
    });
  }
  try {
    if (has("cluster") || has("e2e") || has("failover")) {
      const c = await startCluster(o, path.join(root, "cluster"), BROKERS, null);
      clusters.push(c);
      await beside(single && singleTarget(single), clusterTarget(c, `${BROKERS} brokers RF=3`), o, r);
      if (has("failover")) r.failover.push(await runFailover(c, o, DEFAULT_SESSION_MS, true));
      await c.stop();
    } else await beside(single && singleTarget(single), null, o, r);
    if (single && has("rf1x2")) r.rf1 = await rf1x2(singleTarget(single), root, o, clusters);
  } finally {
    await single?.server.stop();
  }
  if (has("ab") && o.abRoot) r.ab = await ab(o, o.abRoot, root, clusters);
  if (has("failover")) {
    const c = await startCluster(o, path.join(root, "cluster-short"), BROKERS, o.sessionMs);
    clusters.push(c);
    r.failover.push(await runFailover(c, o, o.sessionMs, false));
    await c.stop();
  }
}

/** Brokers spawned by LocalCluster inherit the environment; node refuses --cpu-prof there. */
function profileClusterBrokers(dir: string): void {
  const preload = pathToFileURL(path.join(HERE, "cluster", "cpu-prof-preload.js"));
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ""} --import=${preload.href}`.trim();
  process.env.SAMSA_BENCH_CPU_PROF_DIR = dir;
}

async function main(): Promise<number> {
  const parsed = optionsOrExit(parseOptions, usage);
  if (typeof parsed === "number") return parsed;
  const o = parsed;
  setQuiet(o.json);
  const clusters: LocalCluster[] = [];
  const killAll = () => {
    killAllChildren();
    for (const c of clusters) c.killAll();
  };
  const scratch = scratchDir(o.baseDir, "samsa-bench-cluster-", killAll);
  if (o.cpuProf) profileClusterBrokers(o.cpuProf);
  const began = performance.now();
  const report: Report = {
    benchmark: "cluster",
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    cpu_model: os.cpus()[0]?.model ?? "unknown",
    records: o.records,
    record_bytes: RECORD_BYTES,
    producer: `runProduce, 1 producer, lingerMs ${SAMSA_PRODUCER.lingerMs}, batchSize ${SAMSA_PRODUCER.batchSize}, null keys`,
    brokers_root: o.root,
    consume: [],
    e2e: [],
    rf1: [],
    failover: [],
    charts: [],
    seconds: 0,
  };
  try {
    await runAll(o, scratch.root, report, clusters);
  } finally {
    killAll();
    scratch.dispose();
  }
  if (report.single && report.cluster) {
    report.ratio = round(report.cluster.result.records_per_sec / report.single.result.records_per_sec, 3);
    report.target_met = report.ratio >= TARGET_RATIO;
  }
  if (o.charts) report.charts = writeChart(report, o.charts);
  report.seconds = round((performance.now() - began) / 1000, 1);
  if (o.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else printReport(report, TARGET_RATIO);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1]))
  runMain(main, killAllChildren);
