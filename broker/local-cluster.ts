/**
 * A local cluster for `samsa cluster up`: one etcd member and N brokers, each a child process
 * running this CLI's `broker start --cluster`, with its data and log under one directory.
 *
 * Children run in process groups of their own, so a Ctrl-C at the terminal reaches only this
 * process, which then stops the brokers one by one (SIGTERM: a controlled shutdown, moving
 * leadership to the brokers still up) and etcd last, which the brokers need to shut down.
 * If this process ends any other way than by SIGKILL, the children it still has are killed.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import * as path from "node:path";
import { ETCD_PREFIX } from "./broker.js";
import { EtcdClient } from "./metadata/etcd-client.js";
import { EtcdProcess } from "./metadata/etcd-launcher.js";
import { KEYS } from "./metadata/etcd-view.js";

/** Lines of a broker's output kept to explain its death. */
const TAIL_LINES_KEPT = 20;
/** How long a broker may take for a controlled shutdown before it gets SIGKILL. */
export const BROKER_STOP_GRACE_MS = 30_000;
/** Each readiness probe's own deadline, and the pause between probes. */
const PROBE_TIMEOUT_MS = 1_000;
const PROBE_INTERVAL_MS = 100;
/** What GET /brokers answers a probe without credentials when HTTP authentication is on. */
const UNAUTHORIZED = 401;
const HOST = "127.0.0.1";

export interface LocalClusterOptions {
  /** How many brokers (node ids 1..n). */
  brokers: number;
  /** The cluster's directory: etcd/, broker-<i>/ and their logs. */
  dir: string;
  /** Broker i's Kafka port is kafkaPort + i - 1; 0: each broker takes a free one. */
  kafkaPort: number;
  /** Broker i's HTTP port is httpPort + i - 1; 0: each broker takes a free one. */
  httpPort: number;
  /** etcd's client port (its peer port the next one); 0: free ones. */
  etcdPort: number;
  /** `key=value` config pairs given to every broker. */
  sets: string[];
  /** The samsa bin the brokers run (`node <bin> broker start ...`). */
  bin: string;
  /** How long the brokers may take to start and see each other. */
  readyTimeoutMs: number;
  /** Progress lines (for stderr). */
  progress: (line: string) => void;
  /** Aborted (a Ctrl-C while starting): `start` stops what it started and rejects. */
  signal?: AbortSignal;
}

/** The error `start` rejects with when its signal was aborted. */
export class StartInterrupted extends Error {
  constructor() {
    super("interrupted before the cluster was up");
  }
}

/** One broker child: where it listens (learned from its start line) and how it ended. */
export class BrokerChild {
  kafka = "";
  http = "";
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  readonly exited: Promise<void>;
  private readonly tail: string[] = [];
  private partial = "";

  constructor(
    readonly nodeId: number,
    readonly dataDir: string,
    readonly logFile: string,
    private readonly child: ChildProcess,
    log: WriteStream,
  ) {
    this.exited = new Promise((resolve) =>
      child.once("exit", (code, signal) => {
        this.exitCode = code;
        this.exitSignal = signal;
        log.end();
        resolve();
      }),
    );
    child.once("error", (err) => this.keep(`spawn failed: ${err.message}\n`));
    const take = (chunk: Buffer) => {
      log.write(chunk);
      this.keep(chunk.toString());
    };
    child.stdout?.on("data", take);
    child.stderr?.on("data", take);
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined;
  }

  /** The broker's last output lines. */
  get lastOutput(): string {
    return this.tail.join("\n");
  }

  /** How it ended, for a report: "exited with code 1" or "was killed by SIGKILL". */
  get ending(): string {
    return this.exitSignal ? `was killed by ${this.exitSignal}` : `exited with code ${this.exitCode}`;
  }

  private keep(text: string): void {
    const lines = (this.partial + text).split("\n");
    this.partial = lines.pop() ?? "";
    for (const line of lines) {
      const m = /listening: kafka (\S+), http (\S+),/.exec(line);
      if (m) [this.kafka, this.http] = [m[1], m[2]];
      if (line.trim() !== "") this.tail.push(line);
    }
    this.tail.splice(0, Math.max(0, this.tail.length - TAIL_LINES_KEPT));
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** SIGTERM (controlled shutdown), SIGKILL past `graceMs`; resolves once it has exited. */
  async stop(graceMs = BROKER_STOP_GRACE_MS): Promise<void> {
    this.signal("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([this.exited, late]);
    clearTimeout(timer);
    this.signal("SIGKILL");
    await this.exited;
  }
}

/**
 * An etcd start failure in one line: the launcher's first line and etcd's last one, whose JSON
 * (etcd's zap logger) is cut down to its error ("bind: address already in use").
 */
function oneLine(err: unknown): string {
  const lines = (err instanceof Error ? err.message : String(err)).split("\n").filter((l) => l.trim() !== "");
  if (lines.length < 2) return lines[0] ?? "etcd failed to start";
  let last = lines[lines.length - 1];
  try {
    const entry = JSON.parse(last) as { msg?: string; error?: string };
    last = [entry.msg, entry.error].filter(Boolean).join(": ");
  } catch {
    // not JSON: keep the line
  }
  return `${lines[0].replace(/:$/, "")}: ${last}`;
}

export class LocalCluster {
  readonly brokers: BrokerChild[] = [];
  private stopping = false;

  private constructor(
    readonly etcd: EtcdProcess,
    private readonly options: LocalClusterOptions,
  ) {}

  /** `host:port` of every broker's Kafka listener, comma-separated. */
  get bootstrap(): string {
    return this.brokers.map((b) => b.kafka).join(",");
  }

  /**
   * Starts etcd, then the brokers, and resolves once every broker lists all N in its metadata.
   * On a failure (etcd or a broker exits, or the deadline passes) everything started is stopped
   * and the error names what failed.
   */
  static async start(options: LocalClusterOptions): Promise<LocalCluster> {
    mkdirSync(options.dir, { recursive: true });
    options.progress(`starting etcd (data ${path.join(options.dir, "etcd")})`);
    const etcdLog = createWriteStream(path.join(options.dir, "etcd.log"), { flags: "a" });
    const etcd = await EtcdProcess.start({
      dataDir: path.join(options.dir, "etcd"),
      clientPort: options.etcdPort,
      peerPort: options.etcdPort === 0 ? 0 : options.etcdPort + 1,
      detached: true,
      onOutput: (chunk) => etcdLog.write(chunk),
    }).catch((err: unknown) => {
      etcdLog.end();
      throw new Error(`${oneLine(err)} (log ${path.join(options.dir, "etcd.log")})`);
    });
    void etcd.exited.then(() => etcdLog.end());
    const cluster = new LocalCluster(etcd, options);
    process.once("exit", () => cluster.killAll());
    try {
      if (options.signal?.aborted) throw new StartInterrupted();
      for (let id = 1; id <= options.brokers; id++) cluster.brokers.push(cluster.spawnBroker(id));
      options.progress(`waiting for ${options.brokers} brokers to start and see each other`);
      await cluster.waitReady();
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  private spawnBroker(id: number): BrokerChild {
    const o = this.options;
    const dataDir = path.join(o.dir, `broker-${id}`);
    const logFile = path.join(o.dir, `broker-${id}.log`);
    const port = (base: number) => String(base === 0 ? 0 : base + id - 1);
    const args = [
      o.bin,
      ...["broker", "start", "--cluster", `etcd://${this.etcd.endpoint}`, "--node-id", String(id)],
      ...[
        "--data-dir",
        dataDir,
        "--host",
        HOST,
        "--kafka-port",
        port(o.kafkaPort),
        "--http-port",
        port(o.httpPort),
      ],
      // Fewer than 3 brokers cannot hold __consumer_offsets at its default 3 replicas (the
      // broker would refuse groups until enough register): as many as there are, unless set.
      ...(o.brokers < 3 && !o.sets.some((pair) => pair.startsWith("offsets.topic.replication.factor="))
        ? ["--set", `offsets.topic.replication.factor=${o.brokers}`]
        : []),
      ...o.sets.flatMap((pair) => ["--set", pair]),
    ];
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], detached: true });
    return new BrokerChild(id, dataDir, logFile, child, createWriteStream(logFile, { flags: "a" }));
  }

  /**
   * Starts broker `nodeId` again on its data directory after it ended (a kill in a benchmark or
   * test); resolves once every broker lists all N again. Its ports are new ones when the cluster's
   * were free ports. A registration its previous process left in etcd delays the start until that
   * lease expires.
   */
  async restartBroker(nodeId: number): Promise<BrokerChild> {
    const i = this.brokers.findIndex((b) => b.nodeId === nodeId);
    if (i < 0 || this.brokers[i].running)
      throw new Error(`broker ${nodeId} is not a stopped broker of this cluster`);
    this.brokers[i] = this.spawnBroker(nodeId);
    await this.waitReady();
    return this.brokers[i];
  }

  /**
   * Resolves once each broker's GET /brokers lists every node id (see `sees` for HTTP
   * authentication); rejects on a death or the deadline.
   */
  private async waitReady(): Promise<void> {
    const deadline = Date.now() + this.options.readyTimeoutMs;
    const pending = new Set(this.brokers);
    while (pending.size > 0) {
      if (this.options.signal?.aborted) throw new StartInterrupted();
      const dead = this.brokers.find((b) => !b.running) ?? (this.etcd.running ? undefined : "etcd");
      if (dead === "etcd") throw new Error(`etcd exited while the brokers started:\n${this.etcd.lastOutput}`);
      if (dead) throw new Error(this.deathReport(dead));
      for (const b of [...pending]) if (await this.sees(b)) pending.delete(b);
      if (pending.size === 0) return;
      if (Date.now() > deadline) {
        const ids = [...pending].map((b) => b.nodeId).join(", ");
        throw new Error(
          `brokers ${ids} did not see all ${this.brokers.length} brokers within ${this.options.readyTimeoutMs} ms (logs in ${this.options.dir})`,
        );
      }
      await new Promise((r) => setTimeout(r, PROBE_INTERVAL_MS));
    }
  }

  /**
   * Whether `b` answers GET /brokers listing all N brokers. With HTTP authentication on (a SASL
   * listener, `http.authentication=basic`) that route answers 401 to this credential-less probe;
   * then `b` counts once its open GET /ready answers 200 and etcd, which this process runs,
   * holds N broker registrations (each broker registers after its listeners are bound).
   */
  private async sees(b: BrokerChild): Promise<boolean> {
    if (b.http === "") return false;
    try {
      const response = await fetch(`http://${b.http}/brokers`, {
        signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
      });
      if (response.status === UNAUTHORIZED) return (await this.ready(b)) && (await this.registered());
      if (!response.ok) return false;
      const body = (await response.json()) as { brokers?: number[] };
      return (body.brokers ?? []).length >= this.brokers.length;
    } catch {
      return false;
    }
  }

  /** Whether `b`'s GET /ready (open to anyone) answers 200. */
  private async ready(b: BrokerChild): Promise<boolean> {
    const response = await fetch(`http://${b.http}/ready`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    return response.ok;
  }

  /** Whether etcd holds a registration for each of the N brokers. */
  private async registered(): Promise<boolean> {
    const client = new EtcdClient({ endpoints: [this.etcd.endpoint], requestTimeoutMs: PROBE_TIMEOUT_MS });
    try {
      const { kvs } = await client.range(`${ETCD_PREFIX}${KEYS.brokers}`, { prefix: true });
      return kvs.length >= this.brokers.length;
    } finally {
      client.close();
    }
  }

  /** One report of a broker that ended: id, pid, how, its log and its last line. */
  deathReport(b: BrokerChild): string {
    const last = b.lastOutput.split("\n").at(-1) ?? "";
    return `broker ${b.nodeId} (pid ${b.pid}) ${b.ending}; log ${b.logFile}${last ? `: ${last}` : ""}`;
  }

  /** Calls `listener` with a report of each child that ends while the cluster is up (not while it stops). */
  onChildExit(listener: (report: string) => void): void {
    for (const b of this.brokers) void b.exited.then(() => this.stopping || listener(this.deathReport(b)));
    void this.etcd.exited.then(
      () =>
        this.stopping ||
        listener(`etcd (pid ${this.etcd.pid}) exited; log ${path.join(this.options.dir, "etcd.log")}`),
    );
  }

  /** Stops the brokers one at a time (highest id first), then etcd. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const b of [...this.brokers].reverse()) {
      if (!b.running) continue;
      this.options.progress(`stopping broker ${b.nodeId} (pid ${b.pid})`);
      await b.stop();
    }
    this.options.progress("stopping etcd");
    await this.etcd.stop();
  }

  /** SIGKILL to every child still running, at once (a second Ctrl-C, or this process ending). */
  killAll(): void {
    this.stopping = true;
    for (const b of this.brokers) b.signal("SIGKILL");
    if (this.etcd.running && this.etcd.pid !== undefined) {
      try {
        process.kill(this.etcd.pid, "SIGKILL");
      } catch {
        // gone meanwhile
      }
    }
  }
}
