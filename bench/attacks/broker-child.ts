/**
 * The broker under attack, in its own process: `node bin/samsa.js broker start` on free ports
 * with a given data directory, JSON logs (stderr) appended to a file, the event-loop sampler
 * (eld-preload.ts) loaded with `--import`, and its memory read from /proc/<pid>/status.
 */
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** The repository root (bin/samsa.js runs dist/cli): from dist/bench/attacks or bench/attacks. */
function repositoryRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5 && !fs.existsSync(path.join(dir, "package.json")); i++) dir = path.dirname(dir);
  return dir;
}
const ROOT = repositoryRoot();
/** The sampler is always loaded from the build, so tests running these sources can use it too. */
const ELD_PRELOAD = path.join(ROOT, "dist", "bench", "attacks", "eld-preload.js");
const READY = /listening: kafka [^\s:]+:(\d+), http [^\s:]+:(\d+).*?(?:, listeners (.*))?$/m;

export interface BrokerChild {
  pid: number;
  kafkaPort: number;
  httpPort: number;
  /** Each Kafka listener's bound port, by name (`listeners` in the start line). */
  listenerPorts: Map<string, number>;
  proc: ChildProcess;
  /** Whether the process has exited (on its own or killed). */
  exited(): boolean;
  /** How it exited: `code N`, `signal S`, or null while it runs. */
  exitStatus(): string | null;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it exited. */
  stop(graceMs?: number): Promise<void>;
  kill(): void;
}

export interface StartOptions {
  dataDir: string;
  logFile: string;
  eldFile: string;
  settings: Record<string, string | number>;
  timeoutMs: number;
  /** A command the broker runs under, e.g. `["prlimit", "--nofile=256", "--"]`. */
  wrapper?: string[];
  /** The tree whose built `bin/samsa.js` runs (another commit, to compare); default this one. */
  root?: string;
}

const children = new Set<ChildProcess>();

/** SIGKILL for every broker still running (exit paths that cannot wait). */
export function killBrokers(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  children.clear();
}

/** Starts a broker; resolves once it printed its ports, rejects if it exits or is late. */
export async function startBroker(o: StartOptions): Promise<BrokerChild> {
  const sets = Object.entries(o.settings).flatMap(([k, v]) => ["-s", `${k}=${v}`]);
  const args = [
    "--import",
    pathToFileURL(ELD_PRELOAD).href,
    path.join(o.root ?? ROOT, "bin", "samsa.js"),
    ...["broker", "start", "--data-dir", o.dataDir, "--kafka-port", "0", "--http-port", "0"],
    ...["--host", "127.0.0.1", "--log-format", "json", ...sets],
  ];
  const start = fs.statSync(o.logFile, { throwIfNoEntry: false })?.size ?? 0;
  const fd = fs.openSync(o.logFile, "a");
  const [cmd, ...prefix] = [...(o.wrapper ?? []), process.execPath];
  const proc = spawn(cmd, [...prefix, ...args], {
    stdio: ["ignore", fd, fd],
    env: { ...process.env, SAMSA_ATTACK_ELD_FILE: o.eldFile },
  });
  fs.closeSync(fd);
  children.add(proc);
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  const done = () => proc.exitCode !== null || proc.signalCode !== null;
  const child: BrokerChild = {
    pid: proc.pid ?? -1,
    kafkaPort: 0,
    listenerPorts: new Map(),
    httpPort: 0,
    proc,
    exited: done,
    exitStatus: () =>
      proc.exitCode !== null ? `code ${proc.exitCode}` : proc.signalCode ? `signal ${proc.signalCode}` : null,
    async stop(graceMs = 30_000) {
      if (!done()) {
        proc.kill("SIGTERM");
        const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
        await exited;
        clearTimeout(timer);
      }
      children.delete(proc);
    },
    kill() {
      if (!done()) proc.kill("SIGKILL");
    },
  };
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    const m = READY.exec(readFrom(o.logFile, start));
    if (m) {
      child.kafkaPort = Number(m[1]);
      child.httpPort = Number(m[2]);
      for (const [, name, port] of (m[3] ?? "").matchAll(/(\S+)=\S+:(\d+)/g))
        child.listenerPorts.set(name, Number(port));
      return child;
    }
    if (done()) throw new Error(`broker exited (${child.exitStatus()}): ${lastLines(o.logFile, start)}`);
    if (Date.now() > deadline) {
      child.kill();
      await exited;
      throw new Error(`broker not listening after ${o.timeoutMs} ms: ${lastLines(o.logFile, start)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

function readFrom(file: string, start: number): string {
  const size = fs.statSync(file).size;
  if (size <= start) return "";
  const fd = fs.openSync(file, "r");
  try {
    const len = Math.min(size - start, 1 << 20);
    const buf = Buffer.alloc(len);
    fs.readSync(fd, buf, 0, len, size - len);
    return buf.toString("utf8");
  } finally {
    fs.closeSync(fd);
  }
}

/** The log's last lines since `start`, on one line, for an error message. */
export function lastLines(file: string, start = 0, n = 3): string {
  const text = readFrom(file, start).trimEnd();
  return text.split("\n").slice(-n).join(" | ").slice(-600);
}

/** VmRSS and VmHWM of a process in MB (10^6 bytes); null once it is gone. */
export function memoryMb(pid: number): { rss_mb: number; hwm_mb: number } | null {
  let status: string;
  try {
    status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return null;
  }
  const kb = (key: string) =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
  const mb = (v: number) => Math.round((v * 1024) / 1e5) / 10;
  return { rss_mb: mb(kb("VmRSS")), hwm_mb: mb(kb("VmHWM")) };
}

/** Descriptors the process holds open; null once it is gone. */
export function openFiles(pid: number): number | null {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}
