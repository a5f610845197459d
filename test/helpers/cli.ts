/**
 * Runs the `samsa` bin (bin/samsa.js over dist/, built by test/global-setup.ts) as a user would,
 * asynchronously, so a broker in the test's own process keeps serving meanwhile. Every run is
 * bounded: past `timeoutMs` the child is killed and its status is null.
 */
import { spawn } from "node:child_process";
import * as path from "node:path";

export const ROOT = path.resolve(import.meta.dirname, "../..");

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
  /** stdout as bytes, for binary output. */
  raw: Buffer;
}

export interface CliOptions {
  /** `-b` for the run; null: no `-b` at all. */
  brokers: string | null;
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

export function runSamsa(args: string[], options: CliOptions): Promise<CliRun> {
  const bArgs = options.brokers === null ? [] : ["-b", options.brokers];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["bin/samsa.js", ...bArgs, ...args], {
      cwd: ROOT,
      env: options.env ?? process.env,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 30_000);
    child.on("close", (status) => {
      clearTimeout(timer);
      const raw = Buffer.concat(out);
      resolve({ status, stdout: raw.toString(), stderr: Buffer.concat(err).toString(), raw });
    });
    child.stdin.on("error", () => {});
    child.stdin.end(options.input ?? "");
  });
}
