/**
 * `samsa verify check` as a user runs it (the compiled bin) on history files: the summary and
 * exit 0 for a clean history, the anomalies and exit 1, `--json`, stdin, and exit 2 with one
 * line for a malformed line, a missing file, a directory and a bad flag. No broker is needed.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Report } from "../../bench/verify/check.js";
import { type HistoryEvent, historyLine } from "../../bench/verify/history.js";
import { runSamsa } from "../helpers/cli.js";

const dir = mkdtempSync(path.join(tmpdir(), "samsa-verify-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function verify(args: string[], input?: string) {
  return runSamsa(["verify", ...args], { brokers: null, input });
}

/** Writes `events` as a history file; returns its path. */
function historyFile(name: string, events: HistoryEvent[]): string {
  const file = path.join(dir, name);
  writeFileSync(file, events.map(historyLine).join(""));
  return file;
}

/** p1 writes two records to t-0, c1 reads `read` of them (by offset). */
function history(read: number[]): HistoryEvent[] {
  const events: HistoryEvent[] = [];
  let time = 1_700_000_000_000;
  for (const offset of [0, 1]) {
    const value = `p1-${offset}`;
    events.push({ type: "send", time: time++, process: "p1", topic: "t", value });
    events.push({ type: "ack", time: time++, process: "p1", topic: "t", value, partition: 0, offset });
  }
  events.push({ type: "assign", time: time++, process: "c1", topic: "t", partitions: [0], mode: "group" });
  for (const offset of read)
    events.push({
      type: "read",
      time: time++,
      process: "c1",
      topic: "t",
      partition: 0,
      offset,
      value: `p1-${offset}`,
    });
  return events;
}

describe("samsa verify check", () => {
  it("exits 0 with OK for a clean history, from a file or stdin", async () => {
    const file = historyFile("clean.jsonl", history([0, 1]));
    const r = await verify(["check", file]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      "history: 2 sent, 2 acknowledged, 0 failed (0 definite, 0 indefinite), 0 without outcome; 2 reads of 2 values\n" +
        "OK: no anomalies in 2 acknowledged records\n",
    );
    const piped = await verify(["check", "-"], history([0, 1]).map(historyLine).join(""));
    expect(piped.status, piped.stderr).toBe(0);
    expect(piped.stdout).toContain("OK: no anomalies in 2 acknowledged records");
  });

  it("exits 1 and names each anomaly with its partition and an example", async () => {
    const file = historyFile("lost.jsonl", history([0]));
    const r = await verify(["check", file]);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toContain(
      "lost (acknowledged, never read): 1 (t-0: 1)\n  p1-1 acknowledged at t-0 offset 1 (p1), never read\n",
    );
    expect(r.stdout).toMatch(/FAILED: 1 anomaly in 2 acknowledged records\n$/);
    const json = await verify(["check", file, "--json"]);
    expect(json.status).toBe(1);
    const report = JSON.parse(json.stdout) as Report;
    expect(report.ok).toBe(false);
    expect(report.anomalies.lost).toBe(1);
    expect(report.examples.lost[0]).toMatchObject({
      topic: "t",
      partition: 0,
      values: ["p1-1"],
      offsets: [1],
    });
  });

  it("exits 2 with one line for a malformed line, a missing file, a directory and a bad flag", async () => {
    const file = path.join(dir, "bad.jsonl");
    writeFileSync(file, `${history([0, 1]).map(historyLine).join("")}{"type":"read","time":1}\n`);
    const cases: [string[], string][] = [
      [["check", file], `samsa: ${file}: line 8: missing "process"\n`],
      [
        ["check", path.join(dir, "none.jsonl")],
        `samsa: ${path.join(dir, "none.jsonl")}: ENOENT: no such file or directory\n`,
      ],
      [["check", dir], `samsa: ${dir}: EISDIR: illegal operation on a directory\n`],
      [["check", file, "--bogus"], "samsa: unknown option '--bogus'\n"],
    ];
    for (const [args, stderr] of cases) {
      const r = await verify(args);
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stderr).toBe(stderr);
      expect(r.stdout).toBe("");
    }
  });
});
