/**
 * `samsa cluster up` with HTTP authentication on: its readiness probe gets 401 from GET /brokers
 * and falls back to the open GET /ready and etcd's registrations, so the cluster comes up (one
 * broker, free ports) and stops on SIGINT with exit 0.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, expect, it } from "vitest";
import { ROOT } from "../helpers/cli.js";
import { waitFor, within } from "../helpers/wait.js";

const dir = mkdtempSync(path.join(tmpdir(), "samsa-up-auth-"));
const pids: number[] = [];

afterAll(() => {
  // Only what a failed run left behind: the children `cluster up` printed.
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

it("comes up with http.authentication=basic (GET /brokers is 401) and stops on SIGINT", async () => {
  const args = ["cluster", "up", "-n", "1", "--dir", dir, "--kafka-port", "0", "--http-port", "0"];
  const child = spawn(
    process.execPath,
    [
      "bin/samsa.js",
      ...args,
      "--etcd-port",
      "0",
      "-s",
      "http.authentication=basic",
      "--timeout-ms",
      "30000",
      "-J",
    ],
    { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  try {
    await waitFor(() => out.includes("\n") || child.exitCode !== null, "cluster up's JSON", 60_000);
    expect(child.exitCode, err).toBe(null);
    const up = JSON.parse(out) as { etcd: { pid: number }; brokers: { http: string; pid: number }[] };
    pids.push(up.etcd.pid, ...up.brokers.map((b) => b.pid));
    expect((await fetch(`http://${up.brokers[0].http}/brokers`)).status).toBe(401);
    expect((await fetch(`http://${up.brokers[0].http}/ready`)).status).toBe(200);
  } finally {
    child.kill("SIGINT");
  }
  expect(await within(exited, "cluster up to stop", 60_000), err).toBe(0);
});
