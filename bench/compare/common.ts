/**
 * Shared pieces of the side-by-side benchmark (bench/compare.ts): child processes that are always
 * killed (on exit, on errors, on SIGINT/SIGTERM), free loopback ports, RSS from /proc, a latency
 * histogram, the result shape every driver returns, and small helpers.
 */
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import {
  build,
  decodeFromCompressedBase64,
  encodeIntoCompressedBase64,
  type Histogram,
} from "hdr-histogram-js";

export const now = () => performance.now();
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

let quiet = false;
export function setQuiet(q: boolean): void {
  quiet = q;
}
export function progress(line: string): void {
  if (!quiet) process.stderr.write(`${line}\n`);
}

/**
 * With COMPARE_MARKS=1 in the environment, prints `mark <name> <CLOCK_MONOTONIC us>` on stderr: the
 * clock of `node --cpu-prof` timestamps, so a profile (client's or broker's) can be cut per phase.
 */
export function mark(name: string): void {
  if (process.env.COMPARE_MARKS === "1")
    process.stderr.write(`mark ${name} ${process.hrtime.bigint() / 1000n}\n`);
}

/**
 * Drivers that get one promise per record (samsa, NATS) time every LATENCY_SAMPLE-th record: a
 * closure, two clock reads and a histogram update per record cost the samsa producer loop ~15% of
 * its thread in a profile, which would be the harness measuring itself. The others still get a
 * shared (closure-free) handler that frees their window slot.
 */
export const LATENCY_SAMPLE = 8;

/** What one produce run is asked to do; every driver gets the same. */
export interface Workload {
  records: number;
  recordBytes: number;
  /** Records handed to the client and not yet acknowledged, at most. */
  window: number;
  /** Any one phase fails after this. */
  maxMs: number;
}

export interface ProduceResult {
  records: number;
  seconds: number;
  records_per_sec: number;
  mb_per_sec: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
}

export interface ConsumeResult {
  records: number;
  seconds: number;
  records_per_sec: number;
  mb_per_sec: number;
  first_record_ms: number;
  /** With several read passes: records/s of each, in order (the fields above are the median pass). */
  passes?: number[];
}

/** The pass with the median records/s (the lower middle one for an even count), with every pass's rate. */
export function medianPass(passes: ConsumeResult[]): ConsumeResult {
  const sorted = [...passes].sort((a, b) => a.records_per_sec - b.records_per_sec);
  return { ...sorted[(sorted.length - 1) >> 1], passes: passes.map((p) => p.records_per_sec) };
}

/** Latency from send to acknowledgement: HdrHistogram of microseconds, 3 significant digits. */
export class Latency {
  readonly h: Histogram;
  constructor(h?: Histogram) {
    this.h =
      h ??
      build({
        bitBucketSize: 32,
        autoResize: false,
        lowestDiscernibleValue: 1,
        highestTrackableValue: 3_600_000_000,
        numberOfSignificantValueDigits: 3,
        useWebAssembly: false,
      });
  }
  recordMs(ms: number): void {
    this.h.recordValue(Math.min(3_600_000_000, Math.max(0, Math.round(ms * 1000))));
  }
  /** Adds `n` records of the same latency (a batch acknowledged at once). */
  recordManyMs(ms: number, n: number): void {
    this.h.recordValueWithCount(Math.min(3_600_000_000, Math.max(0, Math.round(ms * 1000))), n);
  }
  percentileMs(p: number): number {
    return this.h.getValueAtPercentile(p) / 1000;
  }
  get maxMs(): number {
    return this.h.maxValue / 1000;
  }
  get count(): number {
    return this.h.totalCount;
  }
  encode(): string {
    return encodeIntoCompressedBase64(this.h);
  }
  static decode(s: string): Latency {
    return new Latency(decodeFromCompressedBase64(s, 32, false));
  }
  add(other: Latency): void {
    this.h.add(other.h);
  }
}

export function produceResult(records: number, bytes: number, seconds: number, lat: Latency): ProduceResult {
  return {
    records,
    seconds: round(seconds, 3),
    records_per_sec: round(records / seconds, 0),
    mb_per_sec: round((records * bytes) / 1e6 / seconds, 1),
    p50_ms: round(lat.percentileMs(50), 3),
    p99_ms: round(lat.percentileMs(99), 3),
    max_ms: round(lat.maxMs, 3),
  };
}

export function consumeResult(
  records: number,
  bytes: number,
  seconds: number,
  firstMs: number,
): ConsumeResult {
  return {
    records,
    seconds: round(seconds, 3),
    records_per_sec: round(records / seconds, 0),
    mb_per_sec: round((records * bytes) / 1e6 / seconds, 1),
    first_record_ms: round(firstMs, 1),
  };
}

/**
 * A bounded window of outstanding operations: `acquire(n)` waits until `n` more fit, `release(n)`
 * frees them. A failure recorded with `fail` is thrown by the next acquire and by `drain`.
 */
export class Window {
  private used = 0;
  private waiter: (() => void) | null = null;
  failure: unknown = null;
  constructor(
    readonly size: number,
    private readonly deadline: number,
    private readonly what: string,
  ) {}
  /** Takes room for `n` without waiting when there is some (no microtask turn per record). */
  tryAcquire(n: number): boolean {
    if (this.failure) throw this.failure;
    if (this.used + n <= this.size || this.used === 0) {
      this.used += n;
      return true;
    }
    return false;
  }
  async acquire(n: number): Promise<void> {
    for (;;) {
      if (this.failure) throw this.failure;
      if (this.used + n <= this.size || this.used === 0) break;
      if (now() > this.deadline) throw new Error(`${this.what}: over its time limit`);
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        // A lost wake-up must not hang the run: re-check at least every 100 ms.
        setTimeout(resolve, 100).unref();
      });
    }
    this.used += n;
  }
  release(n: number): void {
    this.used -= n;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w();
    }
  }
  /** release(1) and fail(err) as functions made once, for per-record promise handlers. */
  readonly releaseOne = (): void => this.release(1);
  readonly failOne = (err: unknown): void => {
    this.release(1);
    this.fail(err);
  };
  fail(err: unknown): void {
    this.failure ??= err;
    this.release(0);
  }
  /**
   * Settles the `n` records of one call made at `startedAt` when `call` does: its latency counted
   * once for each record, their room released; a rejection, or a failure `check` finds in the
   * answer (a pipeline's per-command errors), fails the window.
   */
  settleCall<T>(
    call: Promise<T>,
    n: number,
    lat: Latency,
    startedAt: number,
    check?: (v: T) => unknown,
  ): void {
    call.then(
      (value) => {
        lat.recordManyMs(now() - startedAt, n);
        const bad = check?.(value);
        if (bad) this.fail(bad);
        this.release(n);
      },
      (err: unknown) => {
        this.release(n);
        this.fail(err);
      },
    );
  }
  async drain(): Promise<void> {
    while (this.used > 0) {
      if (this.failure) throw this.failure;
      if (now() > this.deadline) throw new Error(`${this.what}: acknowledgements over the time limit`);
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        setTimeout(resolve, 100).unref();
      });
    }
    if (this.failure) throw this.failure;
  }
}

// -----------------------------------------------------------------------------------------------
// Processes

const children = new Set<ChildProcess>();

/** Kills every child still running (SIGKILL): used on exit paths where waiting is not possible. */
export function killAllChildren(): void {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      try {
        c.kill("SIGKILL");
      } catch {}
    }
  }
  children.clear();
}

export interface Server {
  name: string;
  pid: number;
  proc: ChildProcess;
  /** Everything the process wrote to stdout and stderr (the last 64 KiB). */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it exited. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Spawns `cmd args` and resolves once `ready(output)` returns a value (polled on every output
 * chunk), or fails after `timeoutMs` or if the process exits first.
 */
export async function startServer<T>(
  name: string,
  cmd: string,
  args: string[],
  ready: (output: string) => T | undefined,
  timeoutMs = 20_000,
  env?: NodeJS.ProcessEnv,
): Promise<{ server: Server; value: T }> {
  const proc = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env: env ?? process.env });
  children.add(proc);
  let out = "";
  const onData = (chunk: Buffer) => {
    out += chunk.toString();
    if (out.length > 65536) out = out.slice(-65536);
  };
  proc.stdout?.on("data", onData);
  proc.stderr?.on("data", onData);
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  const server: Server = {
    name,
    pid: proc.pid ?? -1,
    proc,
    output: () => out,
    async stop(graceMs = 10_000) {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGTERM");
        const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
        await exited;
        clearTimeout(timer);
      }
      children.delete(proc);
    },
  };
  const deadline = now() + timeoutMs;
  for (;;) {
    const v = ready(out);
    if (v !== undefined) return { server, value: v };
    if (proc.exitCode !== null || proc.signalCode !== null) {
      children.delete(proc);
      throw new Error(`${name} exited (${proc.exitCode ?? proc.signalCode}) before it was ready:\n${out}`);
    }
    if (now() > deadline) {
      await server.stop(1000);
      throw new Error(`${name} not ready after ${timeoutMs} ms:\n${out}`);
    }
    await sleep(20);
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Resolves when something accepts TCP connections on 127.0.0.1:port. */
export async function waitForPort(port: number, timeoutMs = 20_000): Promise<void> {
  const deadline = now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** Resident set size and its peak (VmRSS, VmHWM) of a process, in MB (10^6 bytes). */
export function rssMb(pid: number): { rss_mb: number; peak_rss_mb: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status);
    return m ? Number(m[1]) : Number.NaN;
  };
  return { rss_mb: round((kb("VmRSS") * 1024) / 1e6, 1), peak_rss_mb: round((kb("VmHWM") * 1024) / 1e6, 1) };
}

/** The CPU time (user + system, seconds) a process used so far, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields after the command: state is index 0, utime 11, stime 12 (clock ticks, 100 per second).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export function makeValue(bytes: number): Buffer {
  const b = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) b[i] = 97 + (i % 26);
  return b;
}
