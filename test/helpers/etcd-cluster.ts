/**
 * A 3-member (or n-member) etcd on free loopback ports, for the chaos suite (issue 14): members
 * `m1..mN` started together with one `--initial-cluster`, each in a data directory of its own, with
 * the fast raft timings of test/helpers/etcd.ts (heartbeat 10 ms, election 100 ms). A member is
 * killed (SIGKILL) and restarted on its ports and data while the others keep a quorum. Its
 * `endpoint` lists every member, as a broker's `cluster=etcd://a,b,c` takes it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { findEtcdBinary } from "../../broker/metadata/etcd-launcher.js";
import { stablePort } from "./ports.js";
import type { ClusterEtcd } from "./process-cluster.js";
import { waitFor } from "./wait.js";

const HOST = "127.0.0.1";
/** Lines of a member's output kept to explain a failure. */
const OUTPUT_KEPT = 20;
/** Each /health probe's own deadline. */
const HEALTH_TIMEOUT_MS = 1000;

interface Member {
  name: string;
  clientPort: number;
  peerPort: number;
  dataDir: string;
  child: ChildProcess | null;
  output: string[];
}

export class EtcdCluster implements ClusterEtcd {
  private constructor(
    private readonly root: string,
    private readonly binary: string,
    private readonly members: Member[],
  ) {}

  /** Starts `n` members and waits until every one answers /health healthy. */
  static async start(n = 3): Promise<EtcdCluster> {
    const root = mkdtempSync(path.join(tmpdir(), "samsa-etcd-cluster-"));
    const members: Member[] = [];
    const port = () => stablePort(HOST);
    for (let i = 1; i <= n; i++) {
      const name = `m${i}`;
      const [clientPort, peerPort] = [await port(), await port()];
      members.push({ name, clientPort, peerPort, dataDir: path.join(root, name), child: null, output: [] });
    }
    const cluster = new EtcdCluster(root, findEtcdBinary(), members);
    try {
      for (const m of members) cluster.spawn(m, "new");
      for (const m of members) await cluster.waitHealthy(m);
    } catch (err) {
      await cluster.destroy();
      throw err;
    }
    return cluster;
  }

  get endpoint(): string {
    return this.members.map((m) => `${HOST}:${m.clientPort}`).join(",");
  }

  /** Member names, m1..mN. */
  names(): string[] {
    return this.members.map((m) => m.name);
  }

  running(name: string): boolean {
    return this.member(name).child !== null;
  }

  /** SIGKILL of one member; resolves once it is gone. */
  async kill(name: string): Promise<void> {
    const m = this.member(name);
    const child = m.child;
    m.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }

  /** Starts a killed member again on its ports and data; resolves once it answers healthy. */
  async restart(name: string): Promise<void> {
    const m = this.member(name);
    if (m.child) throw new Error(`etcd member ${name} is running`);
    this.spawn(m, "existing");
    await this.waitHealthy(m);
  }

  /** Whether member `name` answers /health healthy (it has a leader and a quorum). */
  async healthy(name: string): Promise<boolean> {
    const m = this.member(name);
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), HEALTH_TIMEOUT_MS);
    try {
      const r = await fetch(`http://${HOST}:${m.clientPort}/health`, { signal: abort.signal });
      return ((await r.json()) as { health?: string }).health === "true";
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  async destroy(): Promise<void> {
    for (const m of this.members) await this.kill(m.name);
    rmSync(this.root, { recursive: true, force: true });
  }

  private member(name: string): Member {
    const m = this.members.find((x) => x.name === name);
    if (!m) throw new Error(`no etcd member ${name} (members: ${this.names()})`);
    return m;
  }

  private spawn(m: Member, state: "new" | "existing"): void {
    const peers = this.members.map((x) => `${x.name}=http://${HOST}:${x.peerPort}`).join(",");
    const client = `http://${HOST}:${m.clientPort}`;
    const peer = `http://${HOST}:${m.peerPort}`;
    const args = [
      ["--name", m.name, "--data-dir", m.dataDir],
      ["--listen-client-urls", client, "--advertise-client-urls", client],
      ["--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer],
      ["--initial-cluster", peers, "--initial-cluster-state", state],
      ["--initial-cluster-token", path.basename(this.root)],
      ["--heartbeat-interval", "10", "--election-timeout", "100"],
      ["--logger", "zap", "--log-level", "warn"],
    ].flat();
    const child = spawn(this.binary, args, { stdio: ["ignore", "pipe", "pipe"] });
    m.child = child;
    m.output = [];
    const keep = (d: Buffer) => {
      m.output.push(...d.toString().split("\n").filter(Boolean));
      m.output.splice(0, Math.max(0, m.output.length - OUTPUT_KEPT));
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    child.once("exit", () => {
      if (m.child === child) m.child = null;
    });
  }

  private async waitHealthy(m: Member): Promise<void> {
    await waitFor(
      async () => {
        if (!m.child) throw new Error(`etcd member ${m.name} exited:\n${m.output.join("\n")}`);
        return this.healthy(m.name);
      },
      `etcd member ${m.name} healthy`,
      30_000,
    );
  }
}
