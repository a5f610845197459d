/**
 * Starts and stops one etcd member as a child process: for `samsa cluster up`, the tests
 * (test/helpers/etcd.ts) and the benchmarks. The member listens on loopback (or a given host)
 * with a data directory of its own; `start` resolves once its /health answers healthy, and
 * rejects with etcd's last output lines if it exits first or stays unhealthy past the deadline.
 * Where no etcd binary is found it fails naming the Debian package to install.
 */
import { type ChildProcess, execFileSync, type SpawnOptions, spawn } from "node:child_process";
import { createServer } from "node:net";

export const ETCD_INSTALL_HINT =
  "etcd not found: apt-get install etcd-server (after apt-get update on a fresh machine), or put etcd on PATH";
/** Where etcd is looked for, in order (the Debian package installs /usr/bin/etcd). */
const ETCD_CANDIDATES = ["etcd", "/usr/bin/etcd", "/usr/local/bin/etcd"] as const;
/** Lines of etcd's output kept to explain a start that failed. */
const OUTPUT_LINES_KEPT = 40;
/** How long `start` waits for /health before giving up: far beyond a quiet machine's second. */
export const ETCD_READY_TIMEOUT_MS = 30_000;
/** How long `stop` waits after SIGTERM before it sends SIGKILL. */
export const ETCD_STOP_GRACE_MS = 10_000;
/** Each /health probe's own deadline. */
const HEALTH_REQUEST_TIMEOUT_MS = 1_000;
const HEALTH_POLL_MS = 20;

export interface EtcdOptions {
  /** The member's data directory (created by etcd). */
  dataDir: string;
  /** Client port; 0 or absent: a free one. */
  clientPort?: number;
  /** Peer port; 0 or absent: a free one. */
  peerPort?: number;
  /** Address to listen on and advertise (default 127.0.0.1). */
  host?: string;
  /** Member name (default "n0"). */
  name?: string;
  /** The etcd binary (default: found by `findEtcdBinary`). */
  binary?: string;
  /**
   * Raft heartbeat and election timeout in ms (etcd's defaults 100 and 1000). Tests pass 10 and
   * 100 so that leases of 1 s are allowed (etcd refuses a TTL below its election timeout).
   */
  heartbeatIntervalMs?: number;
  electionTimeoutMs?: number;
  /** etcd's own log level (default warn). */
  logLevel?: "debug" | "info" | "warn" | "error";
  /**
   * Run etcd in a process group of its own, so that a Ctrl-C at the terminal reaches only this
   * process, which stops etcd when it is done with it (`samsa cluster up`).
   */
  detached?: boolean;
  /** Called with each chunk etcd writes (stdout and stderr), e.g. to keep a log file. */
  onOutput?: (chunk: Buffer) => void;
  readyTimeoutMs?: number;
  /**
   * Starts the process (default: node's `spawn`). The tests' network hosts start etcd inside a
   * namespace with it; the returned child must be etcd itself, so that signals reach it.
   */
  spawn?: (command: string, args: string[], options: SpawnOptions) => ChildProcess;
}

/** The first etcd binary that runs (`--version`), or an error naming how to install one. */
export function findEtcdBinary(): string {
  for (const candidate of ETCD_CANDIDATES) {
    try {
      execFileSync(candidate, ["--version"], { stdio: "ignore", timeout: 10_000 });
      return candidate;
    } catch {
      // try the next
    }
  }
  throw new Error(ETCD_INSTALL_HINT);
}

/** A port free right now on `host` (the caller binds it a moment later; a clash fails that start). */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** One etcd member run as a child of this process. */
export class EtcdProcess {
  private child: ChildProcess | undefined;
  private exitedPromise: Promise<void> = Promise.resolve();
  private output: string[] = [];

  private constructor(
    private readonly options: EtcdOptions,
    private readonly binary: string,
    readonly host: string,
    readonly clientPort: number,
    readonly peerPort: number,
  ) {}

  /** Starts a member and resolves once /health answers healthy. */
  static async start(options: EtcdOptions): Promise<EtcdProcess> {
    const binary = options.binary ?? findEtcdBinary();
    const host = options.host ?? "127.0.0.1";
    const clientPort = options.clientPort || (await freePort(host));
    let peerPort = options.peerPort || (await freePort(host));
    while (peerPort === clientPort) peerPort = await freePort(host);
    const etcd = new EtcdProcess(options, binary, host, clientPort, peerPort);
    await etcd.restart();
    return etcd;
  }

  get dataDir(): string {
    return this.options.dataDir;
  }

  /** `host:port` of the client listener. */
  get endpoint(): string {
    return `${this.host}:${this.clientPort}`;
  }

  /** The process id, while a process was started. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The signal that ended the last process (null while it runs or when it exited by itself). */
  get exitSignal(): NodeJS.Signals | null {
    return this.child?.signalCode ?? null;
  }

  /** Resolves when the current process has exited (at once if none runs). */
  get exited(): Promise<void> {
    return this.exitedPromise;
  }

  /** etcd's last output lines, to explain a failure. */
  get lastOutput(): string {
    return this.output.join("\n");
  }

  /** Starts etcd (again) on the same ports and data directory; resolves once /health answers. */
  async restart(): Promise<void> {
    if (this.running) throw new Error("etcd is already running");
    this.output = [];
    const start = this.options.spawn ?? spawn;
    const child = start(this.binary, this.args(), {
      stdio: ["ignore", "pipe", "pipe"],
      detached: this.options.detached ?? false,
    });
    this.child = child;
    this.exitedPromise = new Promise((resolve) => child.once("exit", () => resolve()));
    const keep = (chunk: Buffer) => {
      this.options.onOutput?.(chunk);
      this.output.push(
        ...chunk
          .toString()
          .split("\n")
          .filter((line) => line !== ""),
      );
      this.output.splice(0, Math.max(0, this.output.length - OUTPUT_LINES_KEPT));
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    const spawnFailed = new Promise<never>((_, reject) => child.once("error", reject));
    spawnFailed.catch(() => {});
    await Promise.race([this.waitHealthy(), spawnFailed]);
  }

  private args(): string[] {
    const client = `http://${this.endpoint}`;
    const peer = `http://${this.host}:${this.peerPort}`;
    const name = this.options.name ?? "n0";
    return [
      ["--name", name],
      ["--data-dir", this.options.dataDir],
      ["--listen-client-urls", client],
      ["--advertise-client-urls", client],
      ["--listen-peer-urls", peer],
      ["--initial-advertise-peer-urls", peer],
      ["--initial-cluster", `${name}=${peer}`],
      ["--heartbeat-interval", String(this.options.heartbeatIntervalMs ?? 100)],
      ["--election-timeout", String(this.options.electionTimeoutMs ?? 1000)],
      ["--logger", "zap"],
      ["--log-level", this.options.logLevel ?? "warn"],
    ].flat();
  }

  private async waitHealthy(): Promise<void> {
    const timeoutMs = this.options.readyTimeoutMs ?? ETCD_READY_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    while (!(await this.healthy())) {
      if (!this.running) throw new Error(`etcd exited at start:\n${this.lastOutput}`);
      if (Date.now() > deadline) {
        await this.kill();
        throw new Error(`etcd did not answer /health within ${timeoutMs} ms:\n${this.lastOutput}`);
      }
      await new Promise((r) => setTimeout(r, HEALTH_POLL_MS));
    }
  }

  /**
   * Whether /health answers healthy now. The probe's deadline is a timer of its own (not
   * `AbortSignal.timeout`, whose timer is unref'd): while a start waits on a probe to a port some
   * other process holds, that timer keeps the process alive until the probe is given up.
   */
  async healthy(): Promise<boolean> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), HEALTH_REQUEST_TIMEOUT_MS);
    try {
      const response = await fetch(`http://${this.endpoint}/health`, { signal: abort.signal });
      const body = (await response.json()) as { health?: string };
      return body.health === "true";
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGTERM (a clean shutdown), then SIGKILL if it has not exited after `graceMs`. */
  async stop(graceMs = ETCD_STOP_GRACE_MS): Promise<void> {
    if (!this.running) return;
    this.signal("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), graceMs);
    });
    const timedOut = await Promise.race([this.exited.then(() => false), late]);
    clearTimeout(timer);
    if (timedOut) await this.kill();
  }

  /** SIGKILL: no clean shutdown. Resolves when the process is gone. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.signal("SIGKILL");
    await this.exited;
  }

  /** SIGSTOP: etcd keeps its sockets open and answers nothing (a hung or partitioned etcd). */
  pause(): void {
    if (this.running) this.child?.kill("SIGSTOP");
  }

  /** SIGCONT after `pause`. */
  resume(): void {
    if (this.running) this.child?.kill("SIGCONT");
  }

  /** Sends `signal`, resuming a paused process first so that it can act on it. */
  private signal(signal: NodeJS.Signals): void {
    this.child?.kill("SIGCONT");
    this.child?.kill(signal);
  }
}
