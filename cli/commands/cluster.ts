/**
 * `samsa cluster info | health | up | elect-leaders`: what a cluster is (info: cluster-info.ts) and
 * how it is (health: health.ts), a local one to try (one etcd and
 * N broker processes, as `rpk container start -n 3`), and leader elections.
 */
import type { Command } from "commander";
import type { ElectionType, PartitionOutcome } from "../../client/admin.js";
import { registerInfoCommand } from "./cluster-info.js";
import { collect, nonNegativeInt, positiveInt, withAdmin } from "./common.js";
import { table } from "./group.js";
import { registerHealthCommand } from "./health.js";

/** The most brokers `cluster up` starts: each is a Node process of its own. */
const MAX_LOCAL_BROKERS = 32;
const MAX_PORT = 65_535;

export function registerClusterCommands(program: Command): void {
  const cluster = program
    .command("cluster")
    .description("cluster information and health, a local cluster, leader elections");
  registerInfoCommand(cluster);
  registerHealthCommand(cluster);
  registerUp(cluster);
  registerElectLeaders(cluster);
}

interface UpOptions {
  nodes: string;
  dir: string;
  kafkaPort: string;
  httpPort: string;
  etcdPort: string;
  set: string[];
  timeoutMs: string;
  json?: boolean;
}

/** The first port of a range of `count`, checked to fit below 65536. */
function portBase(flag: string, value: string, count: number): number {
  const port = nonNegativeInt(flag, value);
  if (port !== 0 && port + count - 1 > MAX_PORT)
    throw new Error(`${flag} ${value}: ${count} ports from it go past ${MAX_PORT}`);
  return port;
}

/** The ports `cluster up` will bind, refused in one line where two ranges overlap. */
export function upPorts(opts: UpOptions): { n: number; kafka: number; http: number; etcd: number } {
  const n = positiveInt("-n", opts.nodes);
  if (n > MAX_LOCAL_BROKERS) throw new Error(`-n ${opts.nodes}: at most ${MAX_LOCAL_BROKERS} brokers`);
  const kafka = portBase("--kafka-port", opts.kafkaPort, n);
  const http = portBase("--http-port", opts.httpPort, n);
  const etcd = portBase("--etcd-port", opts.etcdPort, 2);
  const ranges: [string, number, number][] = [
    ["--kafka-port", kafka, n],
    ["--http-port", http, n],
    ["--etcd-port", etcd, 2],
  ];
  const fixed = ranges.filter(([, base]) => base !== 0);
  for (const [i, [a, baseA, countA]] of fixed.entries()) {
    for (const [b, baseB, countB] of fixed.slice(i + 1)) {
      if (baseA < baseB + countB && baseB < baseA + countA)
        throw new Error(`${a} ${baseA} and ${b} ${baseB}: the port ranges overlap`);
    }
  }
  return { n, kafka, http, etcd };
}

function registerUp(cluster: Command): void {
  cluster
    .command("up")
    .description("run a local cluster: one etcd and N brokers as child processes, until Ctrl-C")
    .option("-n, --nodes <n>", "how many brokers", "3")
    .option("--dir <dir>", "directory of the brokers' and etcd's data and logs", "./samsa-cluster")
    .option("--kafka-port <port>", "broker i's Kafka port is this + i - 1 (0: free ports)", "19092")
    .option("--http-port <port>", "broker i's HTTP port is this + i - 1 (0: free ports)", "18080")
    .option("--etcd-port <port>", "etcd's client port, its peer port the next (0: free ports)", "12379")
    .option("-s, --set <key=value>", "broker config for every broker (repeatable)", collect, [])
    .option("--timeout-ms <ms>", "how long the brokers may take to start and see each other", "60000")
    .option("-J, --json", "print the cluster as one JSON object")
    .addHelpText(
      "after",
      `
Data and logs: <dir>/etcd, <dir>/broker-<i>, <dir>/etcd.log, <dir>/broker-<i>.log; a second run
on the same directory starts the same cluster again. Ctrl-C stops the brokers one at a time
(controlled shutdown), then etcd; a second Ctrl-C kills them at once.
Examples:
  samsa cluster up -n 3
  samsa cluster up -n 5 --dir /tmp/c5 --kafka-port 29092 -s default.replication.factor=3`,
    )
    .action(async (opts: UpOptions) => {
      const ports = upPorts(opts);
      const readyTimeoutMs = positiveInt("--timeout-ms", opts.timeoutMs);
      for (const pair of opts.set) {
        if (pair.indexOf("=") <= 0) throw new Error(`--set ${pair}: expected key=value`);
      }
      await runUp(opts, ports, readyTimeoutMs);
    });
}

async function runUp(
  opts: UpOptions,
  ports: ReturnType<typeof upPorts>,
  readyTimeoutMs: number,
): Promise<void> {
  const { LocalCluster, StartInterrupted } = await import("../../broker/local-cluster.js");
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const abort = new AbortController();
  let running: import("../../broker/local-cluster.js").LocalCluster | undefined;
  let signals = 0;
  let stopRequested: () => void = () => {};
  const stopped = new Promise<void>((resolve) => {
    stopRequested = resolve;
  });
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      say(`${signal}: stopping the cluster (again to kill it at once)`);
      abort.abort();
      stopRequested();
      return;
    }
    running?.killAll();
    process.exit(1);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    running = await LocalCluster.start({
      brokers: ports.n,
      dir: opts.dir,
      kafkaPort: ports.kafka,
      httpPort: ports.http,
      etcdPort: ports.etcd,
      sets: opts.set,
      bin: process.argv[1],
      readyTimeoutMs,
      progress: say,
      signal: abort.signal,
    });
  } catch (err) {
    if (err instanceof StartInterrupted) {
      say("stopped");
      process.exit(0);
    }
    throw err;
  }
  printCluster(running, opts.json === true);
  say(`cluster up: samsa -b ${running.bootstrap} cluster info; Ctrl-C stops it`);
  running.onChildExit((report) => say(`samsa: ${report}`));
  await stopped;
  await running.stop();
  say("stopped");
  process.exit(0);
}

function printCluster(c: import("../../broker/local-cluster.js").LocalCluster, json: boolean): void {
  if (json) {
    const out = {
      etcd: { endpoint: c.etcd.endpoint, data_dir: c.etcd.dataDir, pid: c.etcd.pid },
      brokers: c.brokers.map((b) => ({
        node_id: b.nodeId,
        kafka: b.kafka,
        http: b.http,
        data_dir: b.dataDir,
        log: b.logFile,
        pid: b.pid,
      })),
      bootstrap: c.bootstrap,
    };
    process.stdout.write(`${JSON.stringify(out)}\n`);
    return;
  }
  const rows = [["NODE-ID", "KAFKA", "HTTP", "DATA-DIR", "PID"]];
  for (const b of c.brokers) rows.push([String(b.nodeId), b.kafka, b.http, b.dataDir, String(b.pid)]);
  process.stdout.write(`${table(rows)}\n`);
  process.stdout.write(`etcd: ${c.etcd.endpoint} (data ${c.etcd.dataDir}, pid ${c.etcd.pid})\n`);
  process.stdout.write(`bootstrap: ${c.bootstrap}\n`);
}

function registerElectLeaders(cluster: Command): void {
  cluster
    .command("elect-leaders")
    .description("move leadership to each partition's preferred replica, or elect any live one (unclean)")
    .option(
      "--type <type>",
      "preferred, or unclean (may lose what only the lost in-sync replicas held)",
      "preferred",
    )
    .option("--topic <topic>", "only this topic's partitions")
    .option("--partition <p>", "only this partition of --topic")
    .option("-J, --json", "one JSON object")
    .addHelpText(
      "after",
      "\nExamples:\n  samsa cluster elect-leaders\n  samsa cluster elect-leaders --topic orders --partition 2 --type unclean",
    )
    .action(
      async (opts: { type: string; topic?: string; partition?: string; json?: boolean }, cmd: Command) => {
        if (opts.type !== "preferred" && opts.type !== "unclean")
          throw new Error(`--type ${opts.type}: expected preferred or unclean`);
        if (opts.partition !== undefined && opts.topic === undefined)
          throw new Error("--partition needs --topic");
        const partition =
          opts.partition === undefined ? undefined : nonNegativeInt("--partition", opts.partition);
        const type: ElectionType = opts.type;
        const outcomes = await withAdmin(cmd, async (admin) => {
          const topic = opts.topic;
          if (topic === undefined) return admin.electLeaders(type);
          const partitions =
            partition !== undefined
              ? [partition]
              : (await admin.describeTopics([topic]))[0].partitions.map((p) => p.partition);
          return admin.electLeaders(
            type,
            partitions.map((p) => ({ topic, partition: p })),
          );
        });
        reportElections(type, outcomes, opts.json === true);
      },
    );
}

/**
 * One line per partition: `elected t-0` or `unchanged t-1 (ELECTION_NOT_NEEDED)` on stdout, or
 * the partition's error on stderr; exit 1 if any partition failed (not needing an election is
 * no failure).
 */
function reportElections(type: ElectionType, outcomes: PartitionOutcome[], json: boolean): void {
  const failed = outcomes.filter((o) => o.error !== null && o.error.code !== "ELECTION_NOT_NEEDED");
  if (failed.length > 0) process.exitCode = 1;
  if (json) {
    const partitions = outcomes.map((o) => ({
      topic: o.topic,
      partition: o.partition,
      error: o.error?.code ?? null,
      message: o.error?.message ?? null,
    }));
    process.stdout.write(`${JSON.stringify({ election_type: type, partitions })}\n`);
    return;
  }
  if (outcomes.length === 0) process.stderr.write("no partition needed an election\n");
  for (const { topic, partition, error } of outcomes) {
    if (error === null) process.stdout.write(`elected ${topic}-${partition}\n`);
    else if (error.code === "ELECTION_NOT_NEEDED")
      process.stdout.write(`unchanged ${topic}-${partition} (${error.code})\n`);
    else process.stderr.write(`samsa: ${error.message}\n`);
  }
}
