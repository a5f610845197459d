/**
 * Issue 13 "Speed": replication on this machine, in one run.
 *
 *   single    one broker process (embedded store, no etcd), acks=1
 *   cluster   etcd + 3 broker processes (`cli/local-cluster.ts`), an RF=3 topic, acks=all; its
 *             rate as a share of `single` (target >= 40%)
 *   failover  on a cluster, a paced acks=all producer; kill -9 the leader of partition 0 and time
 *             (a) a surviving broker's Metadata naming a new leader, (b) the first acknowledgement
 *             of a record sent after the kill (no dead leader can have acknowledged it); the
 *             killed broker is restarted and the ISR full again before the next repetition. Run
 *             with the default `broker.session.timeout.ms` (on the `cluster` scenario's cluster)
 *             and with `--session-ms` (a fresh cluster).
 *
 * Both produce scenarios use `runProduce` (bench/load/produce.ts) with the same producer tuning;
 * only acks differs (and with it idempotence, on for acks=all as in Kafka). Broker CPU% is CPU
 * seconds during the produce over its wall time (/proc), RSS is read after it. Every child
 * (etcd, brokers) is killed on exit, on errors and on SIGINT/SIGTERM.
 */
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { LocalCluster } from "../broker/local-cluster.js";
import { Admin } from "../client/admin.js";
import { Cluster } from "../client/cluster.js";
import { Producer } from "../client/producer.js";
import { cpuSeconds, killAllChildren, round, rssMb } from "./compare/common.js";
import { SAMSA_PRODUCER, startSamsa } from "./compare/samsa.js";
import { runProduce } from "./load/produce.js";
import type { BenchResult } from "./load/report.js";
import { optionsOrExit, runMain, scratchDir, table } from "./script.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const RECORD_BYTES = 100;
const BROKERS = 3;
/** The target: RF=3 acks=all at least this share of the single broker's acks=1 rate. */
const TARGET_RATIO = 0.4;
/** A produce scenario stops sending after this (it reports what was acknowledged). */
const PRODUCE_MAX_S = 120;
/** Any wait for the cluster (ready, ISR full, a new leader, an acknowledgement) fails after this. */
const WAIT_MAX_MS = 120_000;
/** The failover producer's rate: steady sends, so records keep being sent across the kill. */
const FAILOVER_RATE = 2000;
/** Sends per tick of the failover producer (a tick every 1000 * SENDS_PER_TICK / FAILOVER_RATE ms). */
const SENDS_PER_TICK = 10;
/** Records the failover producer leaves unacknowledged at most (it skips sends beyond). */
const FAILOVER_MAX_UNACKED = 100_000;
/** How often the failover scenario asks a surviving broker for Metadata: (a)'s resolution. */
const METADATA_POLL_MS = 10;
/** Polls of state that changes slowly (ISR full). */
const POLL_MS = 50;
/**
 * The failover producer's retry backoff (the client's default grows to 2 s, which would measure the
 * client's backoff more than the cluster): 50-100 ms, as Java's retry.backoff.ms of 100.
 */
const FAILOVER_RETRY = { retries: 10_000, initialBackoffMs: 50, maxBackoffMs: 100 };
/** broker.session.timeout.ms's default (broker/config.ts), for the report. */
const DEFAULT_SESSION_MS = 9000;

interface Options {
  json: boolean;
  records: number;
  partitions: number;
  reps: number;
  sessionMs: number;
  scenarios: string[];
  cpuProf: string | null;
  baseDir: string;
}

const SCENARIOS = ["single", "cluster", "failover"];

function usage(): string {
  return [
    "usage: node dist/bench/cluster.js [--json] [--records N] [--partitions P] [--reps R] [--session-ms MS]",
    "                                  [--scenarios single,cluster,failover] [--cpu-prof DIR] [--dir DIR]",
    "  --json           one JSON object on stdout (no progress, no table)",
    "  --records N      records of 100 B produced in single and in cluster (default 1000000)",
    "  --partitions P   partitions of the topics (default 1)",
    "  --reps R         kills of a leader per failover run (default 3)",
    "  --session-ms MS  broker.session.timeout.ms of the second failover run (default 2000)",
    `  --scenarios      comma-separated subset of ${SCENARIOS.join(",")} (default all)`,
    "  --cpu-prof DIR   run every broker under node --cpu-prof, profiles into DIR",
    `  --dir DIR        where the temporary directory is made (default ${os.tmpdir()})`,
  ].join("\n");
}

function positiveInt(name: string, v: string, min = 1): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}`);
  return n;
}

function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: "boolean", default: false },
      records: { type: "string", default: "1000000" },
      partitions: { type: "string", default: "1" },
      reps: { type: "string", default: "3" },
      "session-ms": { type: "string", default: "2000" },
      scenarios: { type: "string", default: SCENARIOS.join(",") },
      "cpu-prof": { type: "string" },
      dir: { type: "string", default: os.tmpdir() },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return null;
  const scenarios = values.scenarios.split(",").filter((s) => s !== "");
  for (const s of scenarios) if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario ${s}`);
  return {
    json: values.json,
    records: positiveInt("--records", values.records),
    partitions: positiveInt("--partitions", values.partitions),
    reps: positiveInt("--reps", values.reps),
    sessionMs: positiveInt("--session-ms", values["session-ms"], 500),
    scenarios,
    cpuProf: values["cpu-prof"] ? path.resolve(values["cpu-prof"]) : null,
    baseDir: values.dir,
  };
}

let quiet = false;
const progress = (line: string) => quiet || process.stderr.write(`${line}\n`);
const now = () => performance.now();
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const load1m = () => round(os.loadavg()[0], 2);

// -----------------------------------------------------------------------------------------------
// Produce scenarios

interface BrokerUsage {
  node_id: number;
  cpu_pct: number;
  rss_mb: number;
}

interface ProduceScenario {
  scenario: "single" | "cluster";
  brokers: number;
  replication_factor: number;
  acks: 1 | -1;
  partitions: number;
  result: BenchResult & { error?: string };
  broker_usage: BrokerUsage[];
  load_1m: number;
}

/** Produces `records` x 100 B to `topic` while reading each broker's CPU time; RSS after. */
async function measuredProduce(
  bootstrap: string[],
  topic: string,
  o: Options,
  acks: 1 | -1,
  pids: { nodeId: number; pid: number }[],
): Promise<{ result: BenchResult & { error?: string }; usage: BrokerUsage[] }> {
  const cpu0 = pids.map((b) => cpuSeconds(b.pid));
  const t0 = now();
  const result = await runProduce({
    brokers: bootstrap,
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
  const seconds = (now() - t0) / 1000;
  const usage = pids.map((b, i) => ({
    node_id: b.nodeId,
    cpu_pct: round((100 * (cpuSeconds(b.pid) - cpu0[i])) / seconds, 0),
    rss_mb: rssMb(b.pid).rss_mb,
  }));
  if (result.records < o.records || result.errors > 0)
    throw new Error(
      `${topic}: ${result.records} of ${o.records} acknowledged: ${result.error ?? "time limit"}`,
    );
  return { result, usage };
}

async function runSingle(root: string, o: Options): Promise<ProduceScenario> {
  progress(`single: one broker, acks=1, ${o.records} x ${RECORD_BYTES} B ...`);
  const b = await startSamsa({ dataDir: path.join(root, "single"), cpuProfDir: o.cpuProf ?? undefined });
  try {
    await createTopic(b.brokers, "bench-single", o.partitions, 1);
    const { result, usage } = await measuredProduce(b.brokers, "bench-single", o, 1, [
      { nodeId: 1, pid: b.server.pid },
    ]);
    return scenario("single", 1, 1, 1, o, result, usage);
  } finally {
    await b.server.stop();
  }
}

async function runClusterProduce(cluster: LocalCluster, o: Options): Promise<ProduceScenario> {
  progress(`cluster: ${BROKERS} brokers, RF=${BROKERS}, acks=all, ${o.records} x ${RECORD_BYTES} B ...`);
  const bootstrap = cluster.brokers.map((b) => b.kafka);
  await createTopic(bootstrap, "bench-cluster", o.partitions, BROKERS);
  await waitIsrFull(bootstrap, "bench-cluster");
  const pids = cluster.brokers.map((b) => ({ nodeId: b.nodeId, pid: b.pid }));
  const { result, usage } = await measuredProduce(bootstrap, "bench-cluster", o, -1, pids);
  return scenario("cluster", BROKERS, BROKERS, -1, o, result, usage);
}

function scenario(
  name: "single" | "cluster",
  brokers: number,
  rf: number,
  acks: 1 | -1,
  o: Options,
  result: BenchResult,
  usage: BrokerUsage[],
): ProduceScenario {
  const s: ProduceScenario = {
    scenario: name,
    brokers,
    replication_factor: rf,
    acks,
    partitions: o.partitions,
    result,
    broker_usage: usage,
    load_1m: load1m(),
  };
  progress(
    `  ${round(result.records_per_sec, 0)} records/s, p50 ${result.latency_ms.p50} ms, p99 ${result.latency_ms.p99} ms, load ${s.load_1m}`,
  );
  return s;
}

async function createTopic(bootstrap: string[], name: string, partitions: number, rf: number): Promise<void> {
  const admin = new Admin({ brokers: bootstrap, clientId: "bench-cluster-admin" });
  try {
    await admin.createTopics([{ name, partitions, replicationFactor: rf }]);
  } finally {
    await admin.close();
  }
}

/** Resolves once every partition of `topic` has a leader and all its replicas in the ISR. */
async function waitIsrFull(bootstrap: string[], topic: string): Promise<void> {
  const c = new Cluster({ brokers: bootstrap, clientId: "bench-cluster-watch" });
  try {
    await until(
      `${topic}: ISR full`,
      async () => {
        c.invalidate(topic);
        const info = await c.topic(topic).catch(() => null);
        return info?.partitions.every((p) => p.leader >= 0 && p.isr.length === p.replicas.length) === true;
      },
      POLL_MS,
    );
  } finally {
    await c.close();
  }
}

/** Polls `done` every `everyMs` until it is true; fails after WAIT_MAX_MS naming `what`. */
async function until(what: string, done: () => Promise<boolean> | boolean, everyMs: number): Promise<void> {
  const deadline = now() + WAIT_MAX_MS;
  while (!(await done())) {
    if (now() > deadline) throw new Error(`${what}: not after ${WAIT_MAX_MS} ms`);
    await sleep(everyMs);
  }
}

// -----------------------------------------------------------------------------------------------
// Failover

interface FailoverRep {
  killed_node: number;
  /** Whether the killed broker was also the controller (a controller election too). */
  killed_controller: boolean;
  /** Kill to the first Metadata answer of a surviving broker naming another leader. */
  new_leader_ms: number;
  /** Kill to the first acknowledgement of a record sent after the kill. */
  first_ack_ms: number;
  load_1m: number;
}

interface FailoverRun {
  session_timeout_ms: number;
  /** Whether that is broker.session.timeout.ms's default. */
  default_session: boolean;
  reps: FailoverRep[];
  new_leader_ms: Spread;
  first_ack_ms: Spread;
  /** Records the paced producer sent and had acknowledged over all repetitions; errors must be 0. */
  acked: number;
  errors: number;
  /** Why the run stopped before `--reps` kills (a wait over WAIT_MAX_MS, a failed send). */
  error?: string;
}

interface Spread {
  min: number;
  median: number;
  max: number;
}

function spread(values: number[]): Spread {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return { min: Number.NaN, median: Number.NaN, max: Number.NaN };
  return { min: s[0], median: s[(s.length - 1) >> 1], max: s[s.length - 1] };
}

/** Closing a producer flushes it: bounded, as a stalled partition would hold it for good. */
const CLOSE_MAX_MS = 10_000;

/** A steady acks=all producer: FAILOVER_RATE records/s, noting when each record's ack comes. */
class PacedProducer {
  private readonly producer: Producer;
  private readonly timer: NodeJS.Timeout;
  private inflight = 0;
  acked = 0;
  errors = 0;
  firstError: unknown = null;
  /** Set by `armAfter`: the ack time of the first record sent after `since`. */
  private since = Number.POSITIVE_INFINITY;
  firstAckAfter: number | null = null;

  constructor(bootstrap: string[], topic: string) {
    this.producer = new Producer(
      { brokers: bootstrap, clientId: "bench-failover", retry: FAILOVER_RETRY },
      {
        acks: -1,
        idempotent: true,
        lingerMs: SAMSA_PRODUCER.lingerMs,
        retries: FAILOVER_RETRY.retries,
      },
    );
    const value = Buffer.alloc(RECORD_BYTES, 97);
    this.timer = setInterval(
      () => {
        for (let i = 0; i < SENDS_PER_TICK && this.inflight < FAILOVER_MAX_UNACKED; i++) {
          const sentAt = now();
          this.inflight++;
          this.producer.send({ topic, value }).then(
            () => this.ack(sentAt),
            (err: unknown) => {
              this.inflight--;
              this.errors++;
              this.firstError ??= err;
            },
          );
        }
      },
      (1000 * SENDS_PER_TICK) / FAILOVER_RATE,
    );
  }

  private ack(sentAt: number): void {
    this.inflight--;
    this.acked++;
    if (this.firstAckAfter === null && sentAt > this.since) this.firstAckAfter = now();
  }

  /** From now on, note the first acknowledgement of a record sent after `t`. */
  armAfter(t: number): void {
    this.since = t;
    this.firstAckAfter = null;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, CLOSE_MAX_MS);
    });
    await Promise.race([this.producer.close().catch(() => {}), late]);
    clearTimeout(timer);
  }
}

/** The leader of partition 0 of `topic` and the controller, as `c` sees them now. */
async function leaderOf(c: Cluster, topic: string): Promise<{ leader: number; controller: number } | null> {
  c.invalidate(topic);
  const info = await c.topic(topic).catch(() => null);
  if (!info) return null;
  return { leader: info.partitions[0]?.leader ?? -1, controller: c.controllerId };
}

/** One acks=all record from a new producer, bounded: tells a stalled client from a stalled partition. */
async function freshSend(bootstrap: string[], topic: string): Promise<string> {
  const producer = new Producer({ brokers: bootstrap, clientId: "bench-failover-fresh" }, { acks: -1 });
  const t0 = now();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no acknowledgement in ${CLOSE_MAX_MS} ms`), CLOSE_MAX_MS);
  });
  const sent = producer.send({ topic, partition: 0, value: Buffer.alloc(RECORD_BYTES) }).then(
    () => `acknowledged in ${round(now() - t0, 0)} ms`,
    (err: unknown) => `failed: ${err instanceof Error ? err.message : String(err)}`,
  );
  const outcome = await Promise.race([sent, late]);
  clearTimeout(timer);
  void producer.close().catch(() => {});
  return outcome;
}

/** Partition 0 of `topic` as `c` sees it, for an error message. */
async function stateOf(c: Cluster, topic: string): Promise<string> {
  c.invalidate(topic);
  const p = (await c.topic(topic).catch(() => null))?.partitions[0];
  return p
    ? `leader ${p.leader}, epoch ${p.leaderEpoch}, isr ${p.isr.join(",")}, replicas ${p.replicas.join(",")}`
    : "no metadata";
}

async function failoverRep(
  cluster: LocalCluster,
  topic: string,
  producer: PacedProducer,
): Promise<FailoverRep> {
  const bootstrap = cluster.brokers.map((b) => b.kafka);
  await waitIsrFull(bootstrap, topic);
  const view = new Cluster({ brokers: bootstrap, clientId: "bench-failover-view" });
  const before = await leaderOf(view, topic);
  await view.close();
  const victim = cluster.brokers.find((b) => b.nodeId === before?.leader);
  if (!before || !victim) throw new Error(`${topic}: no leader among the brokers`);
  // The survivors' view, connected before the kill.
  const survivors = new Cluster({
    brokers: cluster.brokers.filter((b) => b !== victim).map((b) => b.kafka),
    clientId: "bench-failover-survivors",
  });
  try {
    await leaderOf(survivors, topic);
    const killedAt = now();
    producer.armAfter(killedAt);
    victim.signal("SIGKILL");
    let newLeaderAt = 0;
    await until(
      `${topic}: a new leader after killing broker ${victim.nodeId}`,
      async () => {
        const v = await leaderOf(survivors, topic);
        newLeaderAt = now();
        return v !== null && v.leader >= 0 && v.leader !== victim.nodeId;
      },
      METADATA_POLL_MS,
    );
    await until(
      `${topic}: an acknowledgement after the kill`,
      () => producer.firstAckAfter !== null,
      1,
    ).catch(async (err: unknown) => {
      const v = await stateOf(survivors, topic);
      const fresh = await freshSend(survivors.options.brokers, topic);
      throw new Error(
        `${err instanceof Error ? err.message : String(err)} (killed ${victim.nodeId}; ${v}; a new producer: ${fresh})`,
      );
    });
    const rep: FailoverRep = {
      killed_node: victim.nodeId,
      killed_controller: before.controller === victim.nodeId,
      new_leader_ms: round(newLeaderAt - killedAt, 0),
      first_ack_ms: round((producer.firstAckAfter ?? 0) - killedAt, 0),
      load_1m: load1m(),
    };
    progress(
      `  killed broker ${rep.killed_node}${rep.killed_controller ? " (controller)" : ""}: new leader after ${rep.new_leader_ms} ms, first ack after ${rep.first_ack_ms} ms, load ${rep.load_1m}`,
    );
    await victim.exited;
    progress(`  restarting broker ${victim.nodeId} ...`);
    await cluster.restartBroker(victim.nodeId);
    return rep;
  } finally {
    await survivors.close();
  }
}

async function runFailover(
  cluster: LocalCluster,
  o: Options,
  sessionMs: number,
  isDefault: boolean,
): Promise<FailoverRun> {
  progress(
    `failover: broker.session.timeout.ms ${sessionMs}${isDefault ? " (default)" : ""}, ${o.reps} kills ...`,
  );
  const topic = `bench-failover-${sessionMs}`;
  const bootstrap = cluster.brokers.map((b) => b.kafka);
  await createTopic(bootstrap, topic, o.partitions, BROKERS);
  await waitIsrFull(bootstrap, topic);
  const producer = new PacedProducer(bootstrap, topic);
  const reps: FailoverRep[] = [];
  let error: string | undefined;
  try {
    for (let i = 0; i < o.reps; i++) {
      reps.push(await failoverRep(cluster, topic, producer));
      if (producer.errors > 0) throw producer.firstError;
    }
  } catch (err) {
    // Reported with the repetitions done so far: a stall is a finding, not a harness failure.
    error = err instanceof Error ? err.message : String(err);
    progress(`  failed: ${error}`);
    for (const b of cluster.brokers) progress(`  broker ${b.nodeId}'s last lines:\n${b.lastOutput}`);
  }
  // Counted before the close, which fails whatever a stalled partition still holds.
  const { acked, errors } = producer;
  await producer.close();
  return {
    session_timeout_ms: sessionMs,
    default_session: isDefault,
    reps,
    ...(error !== undefined && { error }),
    new_leader_ms: spread(reps.map((r) => r.new_leader_ms)),
    first_ack_ms: spread(reps.map((r) => r.first_ack_ms)),
    acked,
    errors,
  };
}

// -----------------------------------------------------------------------------------------------

/** etcd and three brokers under `dir`; `sessionMs` null: broker.session.timeout.ms's default. */
function startCluster(dir: string, sessionMs: number | null): Promise<LocalCluster> {
  progress(`starting etcd and ${BROKERS} brokers in ${dir} ...`);
  const sets =
    sessionMs === null
      ? []
      : [
          `broker.session.timeout.ms=${sessionMs}`,
          `broker.heartbeat.interval.ms=${Math.max(10, Math.floor(sessionMs / 4))}`,
        ];
  return LocalCluster.start({
    brokers: BROKERS,
    dir,
    kafkaPort: 0,
    httpPort: 0,
    etcdPort: 0,
    sets,
    bin: path.join(ROOT, "bin", "samsa.js"),
    readyTimeoutMs: WAIT_MAX_MS,
    progress: () => {},
  });
}

interface Report {
  benchmark: "cluster";
  date: string;
  node: string;
  cpus: number;
  cpu_model: string;
  records: number;
  record_bytes: number;
  producer: string;
  single?: ProduceScenario;
  cluster?: ProduceScenario;
  ratio?: number;
  target_met?: boolean;
  failover: FailoverRun[];
  seconds: number;
}

async function main(): Promise<number> {
  const parsed = optionsOrExit(parseOptions, usage);
  if (typeof parsed === "number") return parsed;
  const o = parsed;
  quiet = o.json;
  const clusters: LocalCluster[] = [];
  const killAll = () => {
    killAllChildren();
    for (const c of clusters) c.killAll();
  };
  const scratch = scratchDir(o.baseDir, "samsa-bench-cluster-", killAll);
  // Brokers spawned by LocalCluster inherit the environment: their profiles too.
  if (o.cpuProf) process.env.NODE_OPTIONS = `--cpu-prof --cpu-prof-dir=${o.cpuProf}`;
  const began = now();
  const report: Report = {
    benchmark: "cluster",
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    cpu_model: os.cpus()[0]?.model ?? "unknown",
    records: o.records,
    record_bytes: RECORD_BYTES,
    producer: `runProduce, 1 producer, lingerMs ${SAMSA_PRODUCER.lingerMs}, batchSize ${SAMSA_PRODUCER.batchSize}, null keys`,
    failover: [],
    seconds: 0,
  };
  try {
    if (o.scenarios.includes("single")) report.single = await runSingle(scratch.root, o);
    if (o.scenarios.includes("cluster") || o.scenarios.includes("failover")) {
      const c = await startCluster(path.join(scratch.root, "cluster"), null);
      clusters.push(c);
      if (o.scenarios.includes("cluster")) report.cluster = await runClusterProduce(c, o);
      if (o.scenarios.includes("failover"))
        report.failover.push(await runFailover(c, o, DEFAULT_SESSION_MS, true));
      await c.stop();
    }
    if (o.scenarios.includes("failover")) {
      const c = await startCluster(path.join(scratch.root, "cluster-short"), o.sessionMs);
      clusters.push(c);
      report.failover.push(await runFailover(c, o, o.sessionMs, false));
      await c.stop();
    }
  } finally {
    killAll();
    scratch.dispose();
  }
  if (report.single && report.cluster) {
    report.ratio = round(report.cluster.result.records_per_sec / report.single.result.records_per_sec, 3);
    report.target_met = report.ratio >= TARGET_RATIO;
  }
  report.seconds = round((now() - began) / 1000, 1);
  if (o.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else printReport(report);
  return 0;
}

function printReport(r: Report): void {
  const out: string[] = [];
  const produce = [r.single, r.cluster].filter((s): s is ProduceScenario => s !== undefined);
  if (produce.length > 0) {
    out.push(
      `Produce: ${r.records.toLocaleString("en-US")} x ${r.record_bytes} B, ${produce[0].partitions} partition(s); ${r.producer}`,
      table(
        [
          "scenario",
          "rec/s",
          "MB/s",
          "p50 ms",
          "p99 ms",
          "broker CPU % (each)",
          "broker RSS MB (each)",
          "load_1m",
        ],
        produce.map((s) => [
          `${s.scenario}: ${s.brokers} broker(s), RF=${s.replication_factor}, acks=${s.acks === -1 ? "all" : "1"}`,
          Math.round(s.result.records_per_sec).toLocaleString("en-US"),
          s.result.mb_per_sec.toFixed(1),
          s.result.latency_ms.p50.toFixed(2),
          s.result.latency_ms.p99.toFixed(2),
          s.broker_usage.map((u) => u.cpu_pct).join(" / "),
          s.broker_usage.map((u) => u.rss_mb.toFixed(0)).join(" / "),
          s.load_1m.toFixed(2),
        ]),
      ),
      "",
    );
  }
  if (r.ratio !== undefined)
    out.push(
      `cluster / single: ${(100 * r.ratio).toFixed(0)}% (target >= ${100 * TARGET_RATIO}%: ${r.target_met ? "met" : "NOT met"})`,
      "",
    );
  for (const f of r.failover) {
    out.push(
      `Failover, broker.session.timeout.ms ${f.session_timeout_ms}${f.default_session ? " (default)" : ""}: ${f.acked} records acknowledged, ${f.errors} errors`,
      table(
        ["kill", "broker", "controller too", "new leader ms", "first ack ms", "load_1m"],
        f.reps.map((x, i) => [
          String(i + 1),
          String(x.killed_node),
          x.killed_controller ? "yes" : "no",
          String(x.new_leader_ms),
          String(x.first_ack_ms),
          x.load_1m.toFixed(2),
        ]),
      ),
      ...(f.error ? [`stopped early: ${f.error}`] : []),
      `min/median/max: new leader ${f.new_leader_ms.min}/${f.new_leader_ms.median}/${f.new_leader_ms.max} ms, first ack ${f.first_ack_ms.min}/${f.first_ack_ms.median}/${f.first_ack_ms.max} ms`,
      "",
    );
  }
  out.push(`total ${r.seconds} s, ${r.cpus} x ${r.cpu_model}, Node ${r.node}, ${r.date}`);
  process.stdout.write(`${out.join("\n")}\n`);
}

runMain(main, killAllChildren);
