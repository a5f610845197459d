/**
 * Issue 14's availability target: a rolling restart of all three brokers under load loses no
 * acknowledged write and surfaces no error to a samsa, KafkaJS or librdkafka application that
 * uses default retries.
 *
 * etcd + 3 broker processes (broker/local-cluster.ts, defaults, fixed loopback ports so that a
 * restarted broker comes back where the clients knew it); per pass an RF=3 topic with
 * min.insync.replicas=2. Three producer applications write `<client>-<n>` (the value is its key
 * too) at a fixed rate each:
 * the samsa `Producer` (defaults: idempotent, acks=all), KafkaJS 2.2.4 (default retries, acks -1,
 * one `send()` per record) and librdkafka (bench/rolling-rdkafka.py, its defaults). Meanwhile each
 * broker in turn is stopped (SIGTERM: controlled shutdown; or SIGKILL in the `kill` pass), started
 * again on the same ports and data, and waited for until every partition's ISR is full. Then the
 * producers stop (flush), the topic is read back, and bench/rolling-judge.ts judges each client.
 * Exit 1 when a pass fails (an acknowledged record lost in any pass; any error surfaced in the
 * SIGTERM pass). Every child (etcd, brokers, python) is killed on exit, errors and SIGINT.
 */
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import kafkajs, { type Producer as KafkaJsProducer } from "kafkajs";
import { type BrokerChild, LocalCluster } from "../broker/local-cluster.js";
import { Admin } from "../client/admin.js";
import { Cluster } from "../client/cluster.js";
import { Consumer } from "../client/consumer.js";
import { Producer } from "../client/producer.js";
import {
  type ClientTally,
  type ClientVerdict,
  judgeClient,
  type PassKind,
  passFailures,
  type ReadRecord,
} from "./rolling-judge.js";
import { optionsOrExit, runMain, scratchDir, table } from "./script.js";

const { Kafka, logLevel, Partitioners } = kafkajs;

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const RDKAFKA_SCRIPT = path.join(ROOT, "bench", "rolling-rdkafka.py");
const PYTHON = "/usr/bin/python3";
const HOST = "127.0.0.1";
const BROKERS = 3;
const CLIENTS = ["samsa", "kafkajs", "rdkafka"] as const;
type ClientName = (typeof CLIENTS)[number];
const PASSES: PassKind[] = ["sigterm", "kill"];
/** Any wait for the cluster (ready, ISR full, a first acknowledgement, a read) fails after this. */
const WAIT_MAX_MS = 120_000;
/** How often slowly changing state (ISR, unsettled sends) is polled. */
const POLL_MS = 100;
/** The pacers' tick: each sends what is due by then. */
const TICK_MS = 10;
/** A pacer sends at most this many records unsettled; beyond, sends wait (and are made up later, 1 s at most). */
const MAX_UNSETTLED = 100_000;
/** Attempts to find 2 x BROKERS free consecutive ports. */
const PORT_ATTEMPTS = 50;
/** The lowest port tried for the brokers. */
const PORT_LOW = 10_000;

interface Options {
  json: boolean;
  rate: number;
  partitions: number;
  passes: PassKind[];
  clients: ClientName[];
  warmupS: number;
  settleS: number;
  flushS: number;
  baseDir: string;
  keep: boolean;
  portBase: number | null;
}

function usage(): string {
  return [
    "usage: node dist/bench/rolling.js [--json] [--rate N] [--partitions P] [--passes sigterm,kill]",
    "                                  [--clients samsa,kafkajs,rdkafka] [--warmup-s S] [--settle-s S]",
    "                                  [--flush-s S] [--dir DIR] [--keep] [--port-base N]",
    "  --json          one JSON object on stdout (no progress, no tables)",
    "  --rate N        records/s of each producer application (default 500)",
    "  --partitions P  partitions of each pass's topic (default 6)",
    "  --passes        which passes, in order: sigterm (controlled shutdown), kill (kill -9) (default both)",
    `  --clients       comma-separated subset of ${CLIENTS.join(",")} (default all)`,
    "  --warmup-s S    producing before the first restart (default 5)",
    "  --settle-s S    producing after the last restart, before the stop (default 5)",
    "  --flush-s S     how long each application may take to flush at the stop (default 150)",
    `  --dir DIR       where the temporary directory is made (default ${os.tmpdir()})`,
    "  --keep          keep that directory (broker and etcd logs, data, every ack and read) after a normal end",
    "  --port-base N   Kafka ports N..N+2, HTTP N+3..N+5 (default: free ones below the ephemeral range)",
  ].join("\n");
}

function intAtLeast(name: string, v: string, min: number): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}`);
  return n;
}

function subset<T extends string>(name: string, v: string, all: readonly T[]): T[] {
  const picked = v.split(",").filter((s) => s !== "");
  for (const s of picked) if (!all.includes(s as T)) throw new Error(`${name}: unknown ${s}`);
  if (picked.length === 0) throw new Error(`${name}: none given`);
  return picked as T[];
}

function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: "boolean", default: false },
      rate: { type: "string", default: "500" },
      partitions: { type: "string", default: "6" },
      passes: { type: "string", default: PASSES.join(",") },
      clients: { type: "string", default: CLIENTS.join(",") },
      "warmup-s": { type: "string", default: "5" },
      "settle-s": { type: "string", default: "5" },
      "flush-s": { type: "string", default: "150" },
      dir: { type: "string", default: os.tmpdir() },
      keep: { type: "boolean", default: false },
      "port-base": { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return null;
  return {
    json: values.json,
    rate: intAtLeast("--rate", values.rate, 1),
    partitions: intAtLeast("--partitions", values.partitions, 1),
    passes: subset("--passes", values.passes, PASSES),
    clients: subset("--clients", values.clients, CLIENTS),
    warmupS: intAtLeast("--warmup-s", values["warmup-s"], 0),
    settleS: intAtLeast("--settle-s", values["settle-s"], 0),
    flushS: intAtLeast("--flush-s", values["flush-s"], 1),
    baseDir: values.dir,
    keep: values.keep,
    portBase: values["port-base"] === undefined ? null : intAtLeast("--port-base", values["port-base"], 1024),
  };
}

let quiet = false;
const progress = (line: string) => quiet || process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const loadavg = () => fs.readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
const seconds = (ms: number) => (ms / 1000).toFixed(1);
const message = (err: unknown) => (err instanceof Error ? `${err.name}: ${err.message}` : String(err));

/** Polls `done` every POLL_MS until it is true; fails after `maxMs` naming `what`. */
async function until(
  what: string,
  done: () => Promise<boolean> | boolean,
  maxMs = WAIT_MAX_MS,
): Promise<void> {
  const deadline = Date.now() + maxMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`${what}: not after ${maxMs} ms`);
    await sleep(POLL_MS);
  }
}

/** `promise`, or nothing after `ms` (a stalled flush must not hold the script). */
async function bounded(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  await Promise.race([
    promise.then(
      () => {},
      () => {},
    ),
    late,
  ]);
  clearTimeout(timer);
}

// -----------------------------------------------------------------------------------------------
// Ports and cluster

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, HOST, () => server.close(() => resolve(true)));
  });
}

/**
 * The lowest port the kernel hands out to outgoing connections and port-0 listeners. The brokers'
 * fixed ports lie below it: while a broker is down, its port must not be taken by such a socket
 * (another program's, or a client's own connection to that very port).
 */
function ephemeralLow(): number {
  try {
    return Number(fs.readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
  } catch {
    return 32_768;
  }
}

/** The first of `count` consecutive ports free on the loopback now: `base` if given, else random below the ephemeral range. */
async function freePortRun(count: number, base: number | null): Promise<number> {
  if (base !== null) {
    for (let i = 0; i < count; i++)
      if (!(await canListen(base + i))) throw new Error(`port ${base + i} is taken`);
    return base;
  }
  const high = ephemeralLow() - count;
  for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
    const base = PORT_LOW + Math.floor(Math.random() * (high - PORT_LOW));
    let free = true;
    for (let i = 0; i < count && free; i++) free = await canListen(base + i);
    if (free) return base;
  }
  throw new Error(`no ${count} consecutive free ports in ${PORT_ATTEMPTS} attempts`);
}

/** etcd and three brokers with fixed ports (Kafka base..base+2, HTTP base+3..base+5). */
async function startCluster(dir: string, portBase: number | null): Promise<LocalCluster> {
  const base = await freePortRun(2 * BROKERS, portBase);
  progress(`starting etcd and ${BROKERS} brokers in ${dir} (Kafka ports ${base}-${base + BROKERS - 1}) ...`);
  return LocalCluster.start({
    brokers: BROKERS,
    dir,
    kafkaPort: base,
    httpPort: base + BROKERS,
    etcdPort: 0,
    sets: [],
    bin: path.join(ROOT, "bin", "samsa.js"),
    readyTimeoutMs: WAIT_MAX_MS,
    progress: () => {},
  });
}

async function createTopic(bootstrap: string[], topic: string, partitions: number): Promise<void> {
  const admin = new Admin({ brokers: bootstrap, clientId: "rolling-admin" });
  try {
    await admin.createTopics([
      { name: topic, partitions, replicationFactor: BROKERS, configs: { "min.insync.replicas": "2" } },
    ]);
  } finally {
    await admin.close();
  }
}

/** Partitions each broker leads and the controller, as the cluster sees them now (for the report). */
async function roles(
  view: Cluster,
  topic: string,
): Promise<{ leads: Map<number, number>; controller: number }> {
  view.invalidate(topic);
  const info = await view.topic(topic);
  const leads = new Map<number, number>();
  for (const p of info.partitions) leads.set(p.leader, (leads.get(p.leader) ?? 0) + 1);
  return { leads, controller: view.controllerId };
}

/** Resolves once every partition of `topic` has a leader and all its replicas in the ISR. */
async function waitIsrFull(view: Cluster, topic: string): Promise<void> {
  await until(`${topic}: every ISR full`, async () => {
    view.invalidate(topic);
    const info = await view.topic(topic).catch(() => null);
    return info?.partitions.every((p) => p.leader >= 0 && p.isr.length === p.replicas.length) === true;
  });
}

// -----------------------------------------------------------------------------------------------
// Producer applications

interface ProducerApp {
  readonly tally: ClientTally;
  start(): Promise<void>;
  /** Stops sending, then flushes (bounded by --flush-s) and closes. */
  stop(): Promise<void>;
}

function newTally(client: string): ClientTally {
  return { client, sent: 0, acks: new Map(), errors: [], events: [], startMs: 0, stopMs: 0 };
}

/**
 * Calls `send(n)` for n = 0, 1, ... at `rate` per second on a TICK_MS timer while fewer than
 * MAX_UNSETTLED are unsettled; after a stall at most one second of missed sends is made up.
 */
class Pacer {
  private timer: NodeJS.Timeout | undefined;
  private began = 0;
  sent = 0;

  constructor(
    private readonly rate: number,
    private readonly send: (n: number) => void,
    private readonly unsettled: () => number,
  ) {}

  start(): void {
    this.began = Date.now();
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  private tick(): void {
    let due = Math.floor(((Date.now() - this.began) * this.rate) / 1000);
    if (due - this.sent > this.rate) {
      this.began += ((due - this.sent - this.rate) * 1000) / this.rate;
      due = this.sent + this.rate;
    }
    while (this.sent < due && this.unsettled() < MAX_UNSETTLED) this.send(this.sent++);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** Records the acknowledgement of `value` in `partition`. */
function acked(tally: ClientTally, value: string, partition: number, offset: number): void {
  tally.acks.set(value, { ms: Date.now(), partition, offset });
}

/** Records an error surfaced for `value`. */
function failed(tally: ClientTally, value: string, err: unknown): void {
  tally.errors.push({ value, message: message(err) });
}

class SamsaApp implements ProducerApp {
  readonly tally = newTally("samsa");
  private readonly producer: Producer;
  private readonly pacer: Pacer;
  private unsettled = 0;

  constructor(
    bootstrap: string[],
    private readonly topic: string,
    rate: number,
    private readonly flushMs: number,
  ) {
    this.producer = new Producer({ brokers: bootstrap, clientId: "rolling-samsa" }, {});
    this.pacer = new Pacer(
      rate,
      (n) => this.send(n),
      () => this.unsettled,
    );
  }

  async start(): Promise<void> {
    this.tally.startMs = Date.now();
    this.pacer.start();
  }

  private send(n: number): void {
    const value = `samsa-${n}`;
    this.unsettled++;
    this.tally.sent = n + 1;
    this.producer
      .send({ topic: this.topic, key: value, value })
      .then(
        (m) => acked(this.tally, value, m.partition, m.offset),
        (err: unknown) => failed(this.tally, value, err),
      )
      .finally(() => this.unsettled--);
  }

  async stop(): Promise<void> {
    this.pacer.stop();
    this.tally.stopMs = Date.now();
    await bounded(this.producer.flush(), this.flushMs);
    await bounded(this.producer.close(), this.flushMs);
  }
}

/** KafkaJS with its defaults (retries 5 from 300 ms, no idempotence), one `send()` per record, acks -1. */
class KafkaJsApp implements ProducerApp {
  readonly tally = newTally("kafkajs");
  private readonly producer: KafkaJsProducer;
  private readonly pacer: Pacer;
  private unsettled = 0;

  constructor(
    bootstrap: string[],
    private readonly topic: string,
    rate: number,
    private readonly flushMs: number,
  ) {
    const kafka = new Kafka({
      clientId: "rolling-kafkajs",
      brokers: bootstrap,
      // KafkaJS's error-level log lines, kept as client events (informational): retries log there.
      logCreator:
        () =>
        ({ level, log: line }) => {
          if (level <= logLevel.ERROR)
            this.tally.events.push({
              message: `${line.message} (${line.error ?? ""})`,
              fatal: false,
            });
        },
    });
    // DefaultPartitioner is KafkaJS 2's default; naming it only silences its warning.
    this.producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    this.pacer = new Pacer(
      rate,
      (n) => this.send(n),
      () => this.unsettled,
    );
  }

  async start(): Promise<void> {
    await this.producer.connect();
    this.tally.startMs = Date.now();
    this.pacer.start();
  }

  private send(n: number): void {
    const value = `kafkajs-${n}`;
    this.unsettled++;
    this.tally.sent = n + 1;
    this.producer
      .send({ topic: this.topic, acks: -1, messages: [{ key: value, value }] })
      .then(
        (m) => acked(this.tally, value, m[0]?.partition ?? -1, Number(m[0]?.baseOffset ?? -1)),
        (err: unknown) => failed(this.tally, value, err),
      )
      .finally(() => this.unsettled--);
  }

  async stop(): Promise<void> {
    this.pacer.stop();
    this.tally.stopMs = Date.now();
    await until("kafkajs: every send settled", () => this.unsettled === 0, this.flushMs).catch(() => {});
    await bounded(this.producer.disconnect(), this.flushMs);
  }
}

/** One line of bench/rolling-rdkafka.py. */
interface RdkafkaLine {
  t: "start" | "ok" | "err" | "event" | "done";
  v?: string;
  p?: number;
  o?: number;
  e?: string;
  m?: string;
  fatal?: boolean;
  ms?: number;
  sent?: number;
  unflushed?: number;
}

/** librdkafka through python3-confluent-kafka in a child process (bench/rolling-rdkafka.py). */
class RdkafkaApp implements ProducerApp {
  readonly tally = newTally("rdkafka");
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private stderrTail: string[] = [];
  private maxN = -1;

  constructor(
    private readonly bootstrap: string[],
    private readonly topic: string,
    private readonly rate: number,
    private readonly flushS: number,
    private readonly children: Set<ChildProcess>,
  ) {}

  async start(): Promise<void> {
    const args = [
      RDKAFKA_SCRIPT,
      this.bootstrap.join(","),
      this.topic,
      String(this.rate),
      String(this.flushS),
    ];
    const child = spawn(PYTHON, args, { stdio: ["pipe", "pipe", "pipe"] });
    this.child = child;
    this.children.add(child);
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    void this.exited.then(() => this.children.delete(child));
    createInterface({ input: child.stdout }).on("line", (line) => this.take(JSON.parse(line) as RdkafkaLine));
    createInterface({ input: child.stderr }).on("line", (line) => {
      this.stderrTail = [...this.stderrTail, line].slice(-10);
    });
    await until("rdkafka: started", () => this.tally.startMs > 0 || child.exitCode !== null);
    if (child.exitCode !== null) throw new Error(`rdkafka producer exited: ${this.stderrTail.join("\n")}`);
  }

  private take(line: RdkafkaLine): void {
    const n = line.v === undefined ? -1 : Number(line.v.slice("rdkafka-".length));
    this.maxN = Math.max(this.maxN, n);
    if (line.t === "start") this.tally.startMs = line.ms ?? Date.now();
    else if (line.t === "ok" && line.v)
      this.tally.acks.set(line.v, {
        ms: line.ms ?? Date.now(),
        partition: line.p ?? -1,
        offset: line.o ?? -1,
      });
    else if (line.t === "err")
      this.tally.errors.push({ value: line.v ?? null, message: `${line.e}: ${line.m}` });
    else if (line.t === "event")
      this.tally.events.push({ message: `${line.e}: ${line.m}`, fatal: line.fatal === true });
    else if (line.t === "done") this.tally.sent = line.sent ?? 0;
  }

  async stop(): Promise<void> {
    this.tally.stopMs = Date.now();
    this.child?.stdin?.end("stop\n");
    await bounded(this.exited, (this.flushS + 30) * 1000);
    if (this.child?.exitCode === null) this.child.kill("SIGKILL");
    // Without its "done" line (a crash), the sends it reported on are all that is known.
    this.tally.sent = Math.max(this.tally.sent, this.maxN + 1);
    if (this.child?.exitCode !== 0)
      progress(`  rdkafka exited ${this.child?.exitCode}: ${this.stderrTail.join("\n")}`);
  }
}

function makeApp(
  name: ClientName,
  bootstrap: string[],
  topic: string,
  o: Options,
  children: Set<ChildProcess>,
): ProducerApp {
  if (name === "samsa") return new SamsaApp(bootstrap, topic, o.rate, o.flushS * 1000);
  if (name === "kafkajs") return new KafkaJsApp(bootstrap, topic, o.rate, o.flushS * 1000);
  return new RdkafkaApp(bootstrap, topic, o.rate, o.flushS, children);
}

// -----------------------------------------------------------------------------------------------
// Rolling restart and read-back

interface RestartStep {
  node: number;
  /** When the signal was sent (ms since the epoch). */
  at_ms: number;
  /** Partitions of the pass's topic it led, and whether it was the controller, before the stop. */
  led: number;
  controller: boolean;
  /** Signal sent to its end; `forced` when a SIGTERM needed a SIGKILL after the grace time. */
  stop_ms: number;
  forced: boolean;
  /** From its exit until every broker lists all three again. */
  start_ms: number;
  /** From then until every partition's ISR is full. */
  isr_ms: number;
}

async function endBroker(b: BrokerChild, kind: PassKind): Promise<boolean> {
  if (kind === "sigterm") {
    await b.stop();
    return b.exitSignal === "SIGKILL";
  }
  b.signal("SIGKILL");
  await b.exited;
  return false;
}

async function restartEach(
  cluster: LocalCluster,
  kind: PassKind,
  topic: string,
  view: Cluster,
): Promise<RestartStep[]> {
  const steps: RestartStep[] = [];
  for (let node = 1; node <= BROKERS; node++) {
    const before = await roles(view, topic);
    const b = cluster.brokers.find((x) => x.nodeId === node);
    if (!b) throw new Error(`no broker ${node}`);
    const t0 = Date.now();
    const forced = await endBroker(b, kind);
    const t1 = Date.now();
    await cluster.restartBroker(node);
    const t2 = Date.now();
    await waitIsrFull(view, topic);
    const step: RestartStep = {
      node,
      at_ms: t0,
      led: before.leads.get(node) ?? 0,
      controller: before.controller === node,
      stop_ms: t1 - t0,
      forced,
      start_ms: t2 - t1,
      isr_ms: Date.now() - t2,
    };
    progress(
      `  broker ${node} (led ${step.led}${step.controller ? ", controller" : ""}): ${kind} ${step.stop_ms} ms${forced ? " (SIGKILL after the grace time)" : ""}, up again ${step.start_ms} ms, ISR full ${step.isr_ms} ms`,
    );
    steps.push(step);
  }
  return steps;
}

/** Every record of `topic` up to the high watermark each partition has now. */
async function readBack(bootstrap: string[], topic: string): Promise<ReadRecord[]> {
  const admin = new Admin({ brokers: bootstrap, clientId: "rolling-read" });
  const ends = await admin.listOffsets(topic, "latest").finally(() => admin.close());
  const remaining = new Map(ends.filter((e) => e.offset > 0).map((e) => [e.partition, e.offset]));
  const consumer = new Consumer({ brokers: bootstrap, clientId: "rolling-read" });
  const reads: ReadRecord[] = [];
  try {
    await consumer.assignTopic(topic, "earliest");
    const deadline = Date.now() + WAIT_MAX_MS;
    while (remaining.size > 0) {
      if (Date.now() > deadline) throw new Error(`${topic}: read back not finished after ${WAIT_MAX_MS} ms`);
      const batch = await consumer.nextBatch(1000);
      for (const r of batch?.records ?? []) {
        reads.push({ value: r.value?.toString() ?? "", partition: r.partition, offset: r.offset });
        if (r.offset + 1 >= (remaining.get(r.partition) ?? 0)) remaining.delete(r.partition);
      }
    }
  } finally {
    await consumer.close();
  }
  return reads;
}

// -----------------------------------------------------------------------------------------------
// A pass

/** With --keep: every acknowledgement and every record read, as JSON lines beside the logs. */
function dumpPass(dir: string, topic: string, apps: ProducerApp[], reads: ReadRecord[]): void {
  const acks = apps.flatMap((a) =>
    [...a.tally.acks].map(([v, ack]) => JSON.stringify({ client: a.tally.client, v, ...ack })),
  );
  fs.writeFileSync(path.join(dir, `${topic}-acks.jsonl`), `${acks.join("\n")}\n`);
  fs.writeFileSync(
    path.join(dir, `${topic}-reads.jsonl`),
    `${reads.map((r) => JSON.stringify(r)).join("\n")}\n`,
  );
}

interface PassResult {
  kind: PassKind;
  /** When the pass began (ms since the epoch); the report's "+s" times count from here. */
  started_ms: number;
  topic: string;
  partitions: number;
  rate_per_client: number;
  steps: RestartStep[];
  clients: ClientVerdict[];
  records_read: number;
  failures: string[];
  loadavg_before: string;
  loadavg_after: string;
  seconds: number;
}

async function runPass(
  cluster: LocalCluster,
  kind: PassKind,
  o: Options,
  children: Set<ChildProcess>,
  dumpDir: string | null,
): Promise<PassResult> {
  const began = Date.now();
  const loadBefore = loadavg();
  const topic = `rolling-${kind}`;
  const bootstrap = cluster.brokers.map((b) => b.kafka);
  progress(
    `pass ${kind}: ${o.clients.join(", ")} at ${o.rate} records/s each into ${topic} (${o.partitions} partitions, RF=3, min.insync.replicas=2); load ${loadBefore}`,
  );
  await createTopic(bootstrap, topic, o.partitions);
  const view = new Cluster({ brokers: bootstrap, clientId: "rolling-view" });
  const apps = o.clients.map((c) => makeApp(c, bootstrap, topic, o, children));
  const failures: string[] = [];
  let steps: RestartStep[] = [];
  try {
    await waitIsrFull(view, topic);
    await Promise.all(apps.map((a) => a.start()));
    await until("every client acknowledged a record", () => apps.every((a) => a.tally.acks.size > 0));
    await sleep(o.warmupS * 1000);
    steps = await restartEach(cluster, kind, topic, view);
    await sleep(o.settleS * 1000);
  } catch (err) {
    failures.push(`the pass stopped early: ${message(err)}`);
    progress(`  ${failures[0]}`);
  } finally {
    progress("  stopping the producers (flush) ...");
    await Promise.all(apps.map((a) => a.stop()));
    await view.close();
  }
  progress("  reading the topic back ...");
  const reads = await readBack(bootstrap, topic);
  if (dumpDir) dumpPass(dumpDir, topic, apps, reads);
  const clients = apps.map((a) => judgeClient(a.tally, reads));
  failures.push(...passFailures(kind, clients));
  return {
    kind,
    started_ms: began,
    topic,
    partitions: o.partitions,
    rate_per_client: o.rate,
    steps,
    clients,
    records_read: reads.length,
    failures,
    loadavg_before: loadBefore,
    loadavg_after: loadavg(),
    seconds: Math.round((Date.now() - began) / 100) / 10,
  };
}

// -----------------------------------------------------------------------------------------------

interface Report {
  benchmark: "rolling";
  date: string;
  node: string;
  cpus: number;
  passes: PassResult[];
  ok: boolean;
  seconds: number;
}

async function main(): Promise<number> {
  const parsed = optionsOrExit(parseOptions, usage);
  if (typeof parsed === "number") return parsed;
  const o = parsed;
  quiet = o.json;
  const children = new Set<ChildProcess>();
  let cluster: LocalCluster | null = null;
  const killAll = () => {
    for (const c of children) c.kill("SIGKILL");
    cluster?.killAll();
  };
  process.once("exit", killAll);
  const scratch = scratchDir(o.baseDir, "samsa-bench-rolling-", killAll);
  const began = Date.now();
  const report: Report = {
    benchmark: "rolling",
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    passes: [],
    ok: false,
    seconds: 0,
  };
  try {
    cluster = await startCluster(path.join(scratch.root, "cluster"), o.portBase);
    for (const kind of o.passes)
      report.passes.push(await runPass(cluster, kind, o, children, o.keep ? scratch.root : null));
    await cluster.stop();
  } finally {
    killAll();
    if (o.keep) progress(`kept ${scratch.root}`);
    else scratch.dispose();
  }
  report.ok = report.passes.every((p) => p.failures.length === 0);
  report.seconds = Math.round((Date.now() - began) / 100) / 10;
  if (o.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else printReport(report);
  return report.ok ? 0 : 1;
}

function printPass(p: PassResult): string[] {
  const out = [
    `Pass ${p.kind}: ${p.clients.length} applications at ${p.rate_per_client} records/s each, ${p.partitions} partitions, ${p.records_read} records read back, ${p.seconds} s, load ${p.loadavg_before} -> ${p.loadavg_after}`,
    table(
      ["broker", "at", "led", "controller", `${p.kind} ms`, "forced", "up again ms", "ISR full ms"],
      p.steps.map((s) => [
        String(s.node),
        `+${seconds(s.at_ms - p.started_ms)} s`,
        String(s.led),
        s.controller ? "yes" : "no",
        String(s.stop_ms),
        s.forced ? "yes" : "no",
        String(s.start_ms),
        String(s.isr_ms),
      ]),
    ),
    "",
    table(
      [
        "client",
        "sent",
        "acked",
        "errors",
        "unsettled",
        "lost",
        "duplicates",
        "misplaced",
        "read unacked",
        "max no-ack ms",
        "max no-ack ms (1 partition)",
        "client events",
      ],
      p.clients.map((c) => [
        c.client,
        String(c.sent),
        String(c.acked),
        String(c.errors),
        String(c.unsettled),
        String(c.lost),
        String(c.duplicates),
        String(c.misplaced + c.acked_without_position),
        String(c.read_unacked),
        String(c.max_no_ack_ms),
        `${c.max_partition_no_ack.ms} (p${c.max_partition_no_ack.partition} at +${seconds(c.max_partition_no_ack.fromMs - p.started_ms)} s)`,
        String(c.events_grouped.reduce((n, g) => n + g.count, 0)),
      ]),
    ),
  ];
  for (const c of p.clients) {
    for (const g of c.errors_grouped) out.push(`  ${c.client} error x${g.count}: ${g.message}`);
    for (const d of c.duplicate_examples) out.push(`  ${c.client} duplicate: ${d}`);
    for (const g of c.events_grouped.slice(0, 5)) out.push(`  ${c.client} event x${g.count}: ${g.message}`);
  }
  out.push(p.failures.length === 0 ? "  ok" : `  FAILED: ${p.failures.join("; ")}`, "");
  return out;
}

function printReport(r: Report): void {
  const out = r.passes.flatMap(printPass);
  out.push(`${r.ok ? "ok" : "FAILED"}; total ${r.seconds} s, ${r.cpus} cpus, Node ${r.node}, ${r.date}`);
  process.stdout.write(`${out.join("\n")}\n`);
}

runMain(main);
