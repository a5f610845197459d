/**
 * What the cluster benchmark's scenarios share (bench/cluster.ts): progress lines, topics made
 * and waited for, bounded polling, and each broker's use of the machine during a measured phase
 * (CPU% and system calls from /proc, RSS after).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import { Admin } from "../../client/admin.js";
import { Cluster } from "../../client/cluster.js";
import { cpuSeconds, round, rssMb } from "../compare/common.js";

/** Any wait for a cluster (ready, ISR full, a new leader, an acknowledgement) fails after this. */
export const WAIT_MAX_MS = 120_000;
/** Polls of state that changes slowly (ISR full). */
export const POLL_MS = 50;
export const RECORD_BYTES = 100;

let quiet = false;
export function setQuiet(q: boolean): void {
  quiet = q;
}
export const progress = (line: string) => quiet || process.stderr.write(`${line}\n`);
export const now = () => performance.now();
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
export const load1m = () => round(os.loadavg()[0], 2);

export async function createTopic(
  bootstrap: string[],
  name: string,
  partitions: number,
  rf: number,
): Promise<void> {
  const admin = new Admin({ brokers: bootstrap, clientId: "bench-cluster-admin" });
  try {
    await admin.createTopics([{ name, partitions, replicationFactor: rf }]);
  } finally {
    await admin.close();
  }
}

/** Resolves once every partition of `topic` has a leader and all its replicas in the ISR. */
export async function waitIsrFull(bootstrap: string[], topic: string): Promise<void> {
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

/** The leader of each partition of `topic`, by partition index. */
export async function leadersOf(bootstrap: string[], topic: string): Promise<number[]> {
  const c = new Cluster({ brokers: bootstrap, clientId: "bench-cluster-watch" });
  try {
    const info = await c.topic(topic);
    return [...info.partitions].sort((a, b) => a.partition - b.partition).map((p) => p.leader);
  } finally {
    await c.close();
  }
}

/** Polls `done` every `everyMs` until it is true; fails after WAIT_MAX_MS naming `what`. */
export async function until(
  what: string,
  done: () => Promise<boolean> | boolean,
  everyMs: number,
): Promise<void> {
  const deadline = now() + WAIT_MAX_MS;
  while (!(await done())) {
    if (now() > deadline) throw new Error(`${what}: not after ${WAIT_MAX_MS} ms`);
    await sleep(everyMs);
  }
}

export interface BrokerPid {
  nodeId: number;
  pid: number;
}

/** One broker's use of the machine over a measured phase. */
export interface BrokerUsage {
  node_id: number;
  /** CPU seconds over the phase's wall seconds, in % of one core. */
  cpu_pct: number;
  /** CPU seconds (user + system) during the phase. */
  cpu_s: number;
  /** write(v) and read system calls per second (/proc/<pid>/io syscw, syscr): round trips show here. */
  writes_per_sec: number;
  reads_per_sec: number;
  rss_mb: number;
}

/** syscw and syscr of a process (0 when /proc does not say). */
function syscalls(pid: number): { w: number; r: number } {
  try {
    const io = fs.readFileSync(`/proc/${pid}/io`, "utf8");
    const field = (k: string) => Number(new RegExp(`^${k}: (\\d+)`, "m").exec(io)?.[1] ?? 0);
    return { w: field("syscw"), r: field("syscr") };
  } catch {
    return { w: 0, r: 0 };
  }
}

/** Brokers' CPU and system calls from `start` to `stop`, and this process's own CPU (the load generator). */
export class UsageMeter {
  private readonly t0 = now();
  private readonly cpu0: number[];
  private readonly io0: { w: number; r: number }[];
  private readonly self0 = process.cpuUsage();

  constructor(private readonly pids: BrokerPid[]) {
    this.cpu0 = pids.map((b) => cpuSeconds(b.pid));
    this.io0 = pids.map((b) => syscalls(b.pid));
  }

  /** Per broker over `seconds` (default: since construction); `client_cpu_pct` is this process's. */
  stop(seconds = (now() - this.t0) / 1000): { brokers: BrokerUsage[]; client_cpu_pct: number } {
    const s = Math.max(seconds, 1e-3);
    const brokers = this.pids.map((b, i) => {
      const io = syscalls(b.pid);
      const cpu = cpuSeconds(b.pid) - this.cpu0[i];
      return {
        node_id: b.nodeId,
        cpu_pct: round((100 * cpu) / s, 0),
        cpu_s: round(cpu, 2),
        writes_per_sec: round((io.w - this.io0[i].w) / s, 0),
        reads_per_sec: round((io.r - this.io0[i].r) / s, 0),
        rss_mb: rssMb(b.pid).rss_mb,
      };
    });
    const self = process.cpuUsage(this.self0);
    return { brokers, client_cpu_pct: round((100 * (self.user + self.system)) / 1e6 / s, 0) };
  }
}
