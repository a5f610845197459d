/**
 * A real etcd for tests: one member on free loopback ports in a temporary data directory, with
 * fast raft timings (heartbeat 10 ms, election 100 ms) so leases of 1 s are allowed. Tests stop,
 * kill (SIGKILL), pause (SIGSTOP) and restart it on the same ports and data to prove that brokers
 * survive it. Fails, naming the install command, where etcd is missing.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "./wait.js";

const INSTALL_HINT = "etcd not found: apt-get install etcd-server (after apt-get update on a fresh machine)";
/** Lines of etcd's output kept to explain a start that failed. */
const OUTPUT_LINES_KEPT = 40;

function etcdBinary(): string {
  for (const candidate of ["etcd", "/usr/bin/etcd", "/usr/local/bin/etcd"]) {
    try {
      execFileSync(candidate, ["--version"], { stdio: "ignore" });
      return candidate;
    } catch {
      // try the next
    }
  }
  throw new Error(INSTALL_HINT);
}

/** A port free right now on 127.0.0.1 (etcd binds it a moment later; a clash fails the start). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export class TestEtcd {
  private child: ChildProcess | undefined;
  private output: string[] = [];

  private constructor(
    private readonly binary: string,
    readonly dataDir: string,
    readonly clientPort: number,
    readonly peerPort: number,
  ) {}

  /** Starts a fresh etcd and waits until /health answers. */
  static async start(): Promise<TestEtcd> {
    const binary = etcdBinary();
    const dir = mkdtempSync(join(tmpdir(), "samsa-etcd-"));
    const etcd = new TestEtcd(binary, join(dir, "data"), await freePort(), await freePort());
    await etcd.restart();
    return etcd;
  }

  /** `host:port` of the client listener. */
  get endpoint(): string {
    return `127.0.0.1:${this.clientPort}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts etcd (again) on the same ports and data directory; waits until /health answers. */
  async restart(): Promise<void> {
    if (this.running) throw new Error("etcd is already running");
    const client = `http://${this.endpoint}`;
    const peer = `http://127.0.0.1:${this.peerPort}`;
    this.output = [];
    const child = spawn(
      this.binary,
      [
        ["--name", "n0"],
        ["--data-dir", this.dataDir],
        ["--listen-client-urls", client],
        ["--advertise-client-urls", client],
        ["--listen-peer-urls", peer],
        ["--initial-advertise-peer-urls", peer],
        ["--initial-cluster", `n0=${peer}`],
        ["--heartbeat-interval", "10"],
        ["--election-timeout", "100"],
        ["--logger", "zap"],
        ["--log-level", "warn"],
      ].flat(),
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    this.child = child;
    const keep = (chunk: Buffer) => {
      this.output.push(...chunk.toString().split("\n"));
      this.output.splice(0, Math.max(0, this.output.length - OUTPUT_LINES_KEPT));
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    await waitFor(async () => {
      if (!this.running) throw new Error(`etcd exited at start:\n${this.output.join("\n")}`);
      return this.healthy();
    }, "etcd /health");
  }

  /** Whether /health answers healthy now. */
  async healthy(): Promise<boolean> {
    try {
      const response = await fetch(`http://${this.endpoint}/health`, { signal: AbortSignal.timeout(1000) });
      const body = (await response.json()) as { health?: string };
      return body.health === "true";
    } catch {
      return false;
    }
  }

  /** SIGKILL: no clean shutdown. Resolves when the process is gone. */
  kill(): Promise<void> {
    return this.signalAndWait("SIGKILL");
  }

  /** SIGTERM: clean shutdown. Resolves when the process is gone. */
  stop(): Promise<void> {
    return this.signalAndWait("SIGTERM");
  }

  /** SIGSTOP: etcd keeps its sockets open and answers nothing (a hung or partitioned etcd). */
  pause(): void {
    this.child?.kill("SIGSTOP");
  }

  resume(): void {
    this.child?.kill("SIGCONT");
  }

  /** A JSON-gateway request straight to etcd, for tests to set things up behind a store's back. */
  async request(path: string, body: unknown): Promise<Record<string, unknown>> {
    const response = await fetch(`http://${this.endpoint}${path}`, {
      method: "POST",
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
    return (await response.json()) as Record<string, unknown>;
  }

  private async signalAndWait(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGCONT");
    child.kill(signal);
    await exited;
  }

  /** Kills etcd and removes its directory. */
  async destroy(): Promise<void> {
    await this.kill();
    rmSync(join(this.dataDir, ".."), { recursive: true, force: true });
  }
}
