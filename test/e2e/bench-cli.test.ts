/**
 * `samsa bench produce|consume|e2e` as a shell user runs them (the compiled bin) against an
 * in-process broker, with small counts: the JSON result's shape and counts, the records really in
 * the topic, the pacer's lower bound on time (the only timing asserted), groups, the periodic
 * line's format, and one-line errors for bad flags. No assertion on speed.
 */
import { spawn } from "node:child_process";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Admin } from "../../client/admin.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { waitFor, within } from "../helpers/wait.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
let tb: TestBroker;
let brokers: string;

beforeAll(async () => {
  // No initial rebalance delay: the group run is not 3-6 s of waiting for more members.
  tb = await startTestBroker({ "group.initial.rebalance.delay.ms": 0 });
  brokers = `127.0.0.1:${tb.port}`;
});
afterAll(async () => tb.stop());

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the CLI asynchronously: the broker lives in this process and must keep serving. */
function samsa(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(process.execPath, ["bin/samsa.js", "-b", brokers, ...args], { cwd: ROOT });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({
        status,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
        ms: performance.now() - started,
      });
    });
    child.stdin.end();
  });
}

interface Result {
  records: number;
  bytes: number;
  seconds: number;
  records_per_sec: number;
  mb_per_sec: number;
  latency_ms: { p50: number; p95: number; p99: number; p999: number; max: number };
  errors: number;
  [extra: string]: unknown;
}

/** --json prints exactly one JSON object on stdout. */
function json(r: Run): Result {
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout.trim().split("\n")).toHaveLength(1);
  return JSON.parse(r.stdout) as Result;
}

function expectSane(r: Result, records: number, bytes: number): void {
  expect(r.records).toBe(records);
  expect(r.bytes).toBe(bytes);
  expect(r.errors).toBe(0);
  expect(r.seconds).toBeGreaterThan(0);
  expect(r.records_per_sec).toBeGreaterThan(0);
  expect(r.mb_per_sec).toBeGreaterThan(0);
  const l = r.latency_ms;
  expect(l.p50).toBeGreaterThanOrEqual(0);
  expect(l.p50).toBeLessThanOrEqual(l.p95);
  expect(l.p95).toBeLessThanOrEqual(l.p99);
  expect(l.p99).toBeLessThanOrEqual(l.p999);
  expect(l.p999).toBeLessThanOrEqual(l.max);
}

const WINDOW_LINE =
  /^\d+ records (sent|received), \d+\.\d records\/sec \(\d+\.\d\d MB\/sec\), \d+\.\d ms avg latency, \d+\.\d ms max latency\.$/;
const SUMMARY_LINE =
  /^\d+ records sent, \d+\.\d records\/sec \(\d+\.\d\d MB\/sec\), \d+\.\d{3} ms avg latency, \d+\.\d{3} ms max latency, \d+\.\d{3} ms 50th, \d+\.\d{3} ms 95th, \d+\.\d{3} ms 99th, \d+\.\d{3} ms 99\.9th\.$/;

describe("samsa bench", () => {
  it("has help with examples on every subcommand", async () => {
    for (const sub of [[], ["produce"], ["consume"], ["e2e"]]) {
      const help = await samsa(["bench", ...sub, "--help"]);
      expect(help.status).toBe(0);
      expect(help.stdout).toContain("Example");
    }
  });

  it("produces records and reports them as one JSON object; the topic holds exactly those", async () => {
    const r = json(
      await samsa([
        "bench",
        "produce",
        "-t",
        "b-prod",
        "--records",
        "2000",
        "--record-size",
        "100",
        "--json",
      ]),
    );
    expectSane(r, 2000, 200_000);
    expect(r).toMatchObject({ bench: "produce", topic: "b-prod", producers: 1, partitions: 1 });
    const admin = new Admin({ brokers: [brokers] });
    try {
      const offsets = await admin.topicOffsets("b-prod");
      expect(offsets.reduce((sum, p) => sum + p.latest - p.earliest, 0)).toBe(2000);
    } finally {
      await admin.close();
    }
  });

  it("creates the topic with --partitions and spreads keyed records over several producers", async () => {
    const r = json(
      await samsa([
        "bench",
        "produce",
        "-t",
        "b-keys",
        "--records",
        "3000",
        "--record-size",
        "50",
        "--key-size",
        "8",
        "--partitions",
        "3",
        "--producers",
        "2",
        "--acks",
        "1",
        "-z",
        "lz4",
        "--json",
      ]),
    );
    expectSane(r, 3000, 150_000);
    expect(r).toMatchObject({ partitions: 3, producers: 2, acks: 1 });
    const admin = new Admin({ brokers: [brokers] });
    try {
      const offsets = await admin.topicOffsets("b-keys");
      expect(offsets).toHaveLength(3);
      for (const p of offsets) expect(p.latest).toBeGreaterThan(0);
      expect(offsets.reduce((sum, p) => sum + p.latest, 0)).toBe(3000);
    } finally {
      await admin.close();
    }
  });

  it("--send-batch sends through Producer.sendBatch(): every record counted once and in the topic", async () => {
    const r = json(
      await samsa([
        "bench",
        "produce",
        "-t",
        "b-batch",
        "--records",
        "2500",
        "--record-size",
        "40",
        "--key-size",
        "8",
        "--partitions",
        "2",
        "--send-batch",
        "300",
        "--max-unacked",
        "1000",
        "--acks",
        "1",
        "--json",
      ]),
    );
    expectSane(r, 2500, 100_000);
    expect(r).toMatchObject({ send_batch: 300, max_unacked: 1000, partitions: 2 });
    // Without the flag the run says it used send() per record.
    expect(
      json(await samsa(["bench", "produce", "-t", "b-batch", "--records", "10", "--json"])).send_batch,
    ).toBe(0);
    const admin = new Admin({ brokers: [brokers] });
    try {
      const offsets = await admin.topicOffsets("b-batch");
      expect(offsets).toHaveLength(2);
      for (const p of offsets) expect(p.latest).toBeGreaterThan(0);
      expect(offsets.reduce((sum, p) => sum + p.latest, 0)).toBe(2510);
    } finally {
      await admin.close();
    }
  });

  it("--throughput paces the producer (a lower bound on time only)", async () => {
    const run = await samsa([
      "bench",
      "produce",
      "-t",
      "b-paced",
      "--throughput",
      "1000",
      "--records",
      "500",
      "--json",
    ]);
    const r = json(run);
    expectSane(r, 500, 50_000);
    // 500 records at 1000/s: the last one is due 0.5 s after the first.
    expect(r.seconds).toBeGreaterThanOrEqual(0.4);
    expect(run.ms).toBeGreaterThanOrEqual(400);
  });

  it("consumes from the beginning, in assign mode and as group members", async () => {
    const assigned = json(await samsa(["bench", "consume", "-t", "b-prod", "--records", "2000", "--json"]));
    expectSane(assigned, 2000, 200_000);
    expect(assigned).toMatchObject({ bench: "consume", consumers: 1, group: null });
    // Without --records: all that the topic holds.
    expect(
      json(await samsa(["bench", "consume", "-t", "b-keys", "--consumers", "2", "--json"])).records,
    ).toBe(3000);
    const group = json(
      await samsa([
        "bench",
        "consume",
        "-t",
        "b-keys",
        "--records",
        "3000",
        "--group",
        "g",
        "--consumers",
        "2",
        "--json",
      ]),
    );
    expect(group.records).toBe(3000);
    expect(group.bytes).toBe(150_000);
    expect(group).toMatchObject({ group: "g", consumers: 2 });
  });

  it("consume fails cleanly when the records do not come", async () => {
    const r = await samsa(["bench", "consume", "-t", "b-prod", "--records", "2001", "--timeout", "500"]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^samsa: no records for 500 ms: read 2000 of 2001/);
  });

  it("measures end-to-end latency at a fixed rate", async () => {
    const r = json(
      await samsa(["bench", "e2e", "-t", "b-e2e", "--rate", "2000", "--records", "1000", "--json"]),
    );
    expectSane(r, 1000, 100_000);
    expect(r).toMatchObject({ bench: "e2e", sent: 1000, rate: 2000, latency: "send to receipt" });
    // 1000 records at 2000/s: the last is sent about 0.5 s after the first.
    expect(r.seconds).toBeGreaterThanOrEqual(0.4);
  });

  it("prints Kafka's progress line on stderr and its summary line on stdout", async () => {
    const r = await samsa([
      "bench",
      "produce",
      "-t",
      "b-lines",
      "--throughput",
      "2000",
      "--records",
      "1000",
      "--report-interval-ms",
      "100",
    ]);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stderr.trim().split("\n");
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines) expect(line).toMatch(WINDOW_LINE);
    expect(r.stdout.trim()).toMatch(SUMMARY_LINE);
    expect(r.stdout).toMatch(/^1000 records sent/);
  });

  it("kill -INT <pid> stops a run with its partial summary and exit 130, as Ctrl-C does", async () => {
    // The bin re-runs itself for bench (a child process): the signal goes to the bin's pid only.
    const args = ["bench", "produce", "-t", "sigint", "--records", "100000000", "--throughput", "2000"];
    const child = spawn(
      process.execPath,
      ["bin/samsa.js", "-b", brokers, ...args, "--report-interval-ms", "100"],
      {
        cwd: ROOT,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d));
    child.stderr.on("data", (d: Buffer) => (stderr += d));
    const closed = new Promise<number | null>((resolve) => child.on("close", resolve));
    try {
      await waitFor(() => WINDOW_LINE.test(stderr.split("\n")[0]), "the first progress line");
      child.kill("SIGINT");
      const status = await within(closed, "samsa bench to exit after SIGINT");
      expect(status, stderr).toBe(130);
      expect(stdout.trim()).toMatch(SUMMARY_LINE);
      expect(Number(stdout.split(" ")[0])).toBeGreaterThan(0);
    } finally {
      // SIGTERM first: the bin forwards it to its child, which SIGKILL would leave running.
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        await within(closed, "samsa bench to exit after SIGTERM").catch(() => child.kill("SIGKILL"));
      }
    }
  });

  it("fails on bad flags with one line and exit 1", async () => {
    for (const args of [
      ["bench", "produce", "--acks", "2"],
      ["bench", "produce", "--records", "0"],
      ["bench", "produce", "--throughput", "0"],
      ["bench", "produce", "-z", "brotli"],
      ["bench", "produce", "--send-batch", "-1"],
      ["bench", "produce", "--send-batch", "x"],
      ["bench", "produce", "--no-such-flag"],
      ["bench", "consume", "--consumers", "x"],
      ["bench", "e2e", "--record-size", "4"],
      ["bench", "e2e", "--rate", "-5"],
      ["bench", "nonsense"],
    ]) {
      const r = await samsa(args);
      expect(r.status, args.join(" ")).toBe(1);
      expect(r.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1);
      expect(r.stderr, args.join(" ")).toMatch(/^samsa: /);
    }
  });
});
