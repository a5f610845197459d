/**
 * `samsa verify run` as a user runs it (the compiled bin) against an in-process broker: a short
 * run of 2 producers and 2 consumers exits 0 with a history whose every line parses and a summary
 * whose counts are the history's; a second run on the now non-empty topic judges only its own
 * records; the same history with one acknowledged value's reads removed is judged lost; SIGINT
 * mid-run still writes and judges the history (exit 0); and unreachable brokers, a bad flag and a
 * history file that cannot be made exit 2.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HistoryEvent, parseEvent } from "../../bench/verify/history.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { ROOT, runSamsa } from "../helpers/cli.js";
import { waitFor, within } from "../helpers/wait.js";

const dir = mkdtempSync(path.join(tmpdir(), "samsa-verify-run-"));
let broker: TestBroker;

beforeAll(async () => {
  // No initial rebalance delay: the group consumer joins at once, so a run of seconds reads.
  broker = await startTestBroker({ "group.initial.rebalance.delay.ms": 0 });
});

afterAll(async () => {
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A run of `seconds` with 2 producers and 2 consumers writing `history`. */
function verifyRun(topic: string, history: string, seconds: number) {
  return runSamsa(
    [
      "verify",
      "run",
      "--topic",
      topic,
      "--duration",
      `${seconds}s`,
      "--producers",
      "2",
      "--consumers",
      "2",
    ].concat(["--partitions", "2", "--rate", "500", "--history", history]),
    { brokers: `127.0.0.1:${broker.port}`, timeoutMs: 60_000 },
  );
}

function events(file: string): HistoryEvent[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map(parseEvent);
}

function countOf(es: HistoryEvent[], type: HistoryEvent["type"]): number {
  return es.filter((e) => e.type === type).length;
}

describe("samsa verify run", () => {
  it("runs 2 producers and 2 consumers, writes a history that parses and judges it clean", async () => {
    const file = path.join(dir, "first.jsonl");
    const r = await verifyRun("verify-first", file, 2);
    expect(r.status, r.stderr).toBe(0);
    const es = events(file);
    const sent = countOf(es, "send");
    const acked = countOf(es, "ack");
    expect(sent).toBeGreaterThan(0);
    expect(acked).toBe(sent);
    // One group and one assign consumer, each reading every acknowledged value once.
    const assigns = es.filter((e) => e.type === "assign").map((e) => e.mode);
    expect(new Set(assigns)).toEqual(new Set(["group", "assign"]));
    expect(countOf(es, "read")).toBe(2 * acked);
    expect(new Set(es.map((e) => e.process))).toEqual(new Set(["p1", "p2", "c1", "c2"]));
    expect(r.stdout).toBe(
      `history: ${sent} sent, ${acked} acknowledged, 0 failed (0 definite, 0 indefinite), 0 without outcome; ` +
        `${2 * acked} reads of ${acked} values\nOK: no anomalies in ${acked} acknowledged records\n`,
    );
  });

  it("on a topic that is not empty judges only this run's records; a value whose reads are removed is lost", async () => {
    const first = path.join(dir, "a.jsonl");
    expect((await verifyRun("verify-again", first, 1)).status).toBe(0);
    const file = path.join(dir, "b.jsonl");
    const r = await verifyRun("verify-again", file, 1);
    expect(r.status, r.stderr).toBe(0);
    const es = events(file);
    // The values repeat the first run's (p1-0, ...): none of its offsets may be read again.
    const firstEnd = new Map<number, number>();
    for (const e of events(first))
      if (e.type === "ack") firstEnd.set(e.partition, Math.max(firstEnd.get(e.partition) ?? 0, e.offset + 1));
    expect(es.filter((e) => e.type === "read" && e.offset < (firstEnd.get(e.partition) ?? 0))).toEqual([]);
    expect(r.stdout).toMatch(/^OK: no anomalies/m);

    const ack = es.find((e) => e.type === "ack");
    if (ack?.type !== "ack") throw new Error("no acknowledged value in the history");
    const lines = readFileSync(file, "utf8").split("\n");
    const corrupt = path.join(dir, "corrupt.jsonl");
    writeFileSync(
      corrupt,
      lines.filter((l) => !(l.includes('"read"') && l.includes(`"${ack.value}"`))).join("\n"),
    );
    const check = await runSamsa(["verify", "check", corrupt], { brokers: null });
    expect(check.status, check.stderr).toBe(1);
    expect(check.stdout).toContain(`lost (acknowledged, never read): 1 `);
    expect(check.stdout).toContain(
      `${ack.value} acknowledged at verify-again-${ack.partition} offset ${ack.offset}`,
    );
  });

  it("stops producing on SIGINT, drains, and still writes and judges the history", async () => {
    const file = path.join(dir, "interrupted.jsonl");
    const args = [
      "-b",
      `127.0.0.1:${broker.port}`,
      "verify",
      "run",
      "--topic",
      "verify-int",
      "--duration",
      "10m",
    ];
    const child = spawn(process.execPath, ["bin/samsa.js", ...args, "--history", file], { cwd: ROOT });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    try {
      await waitFor(() => existsSync(file) && readFileSync(file, "utf8").includes('"ack"'), "a first ack");
      child.kill("SIGINT");
      expect(await within(exited, "the run to end after SIGINT")).toBe(0);
    } finally {
      child.kill("SIGKILL");
    }
    const acked = countOf(events(file), "ack");
    expect(acked).toBeGreaterThan(0);
    expect(stdout).toContain(`OK: no anomalies in ${acked} acknowledged records`);
  });

  it("exits 2 naming the brokers when none can be reached, on a bad duration and a history it cannot write", async () => {
    const unreachable = await runSamsa(["verify", "run", "--topic", "t", "--duration", "1s"], {
      brokers: "127.0.0.1:1",
    });
    expect(unreachable.status).toBe(2);
    expect(unreachable.stderr).toMatch(/^samsa: brokers: /);
    const bad = await runSamsa(["verify", "run", "--topic", "t", "--duration", "soon"], {
      brokers: "127.0.0.1:1",
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe("samsa: --duration soon: expected a duration like 60s, 2m or 500ms\n");
    const nowhere = path.join(dir, "missing", "h.jsonl");
    const unwritable = await runSamsa(["verify", "run", "--topic", "t", "--history", nowhere], {
      brokers: `127.0.0.1:${broker.port}`,
    });
    expect(unwritable.status).toBe(2);
    expect(unwritable.stderr).toBe(`samsa: ${nowhere}: ENOENT: no such file or directory\n`);
  });
});
