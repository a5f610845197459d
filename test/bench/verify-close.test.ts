/**
 * `samsa verify run` ends even when a client cannot close: a group consumer whose LeaveGroup the
 * broker never answers is dropped after `closeMs`, and the history is judged.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { VerifyRun } from "../../bench/verify/run.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";

const LEAVE_GROUP = 13;

let tb: TestBroker;
const dir = mkdtempSync(path.join(tmpdir(), "samsa-verify-close-"));

beforeEach(async () => {
  tb = await startTestBroker();
});

afterEach(async () => {
  await tb.stop();
  rmSync(dir, { recursive: true, force: true });
});

it("drops clients still closing after closeMs and reports the run", async () => {
  tb.broker.dispatcher.faults.add({ apiKey: LEAVE_GROUP, action: "hold" });
  const warnings: string[] = [];
  const run = new VerifyRun({
    brokers: [`127.0.0.1:${tb.port}`],
    topic: "verify-close",
    durationMs: 1_000,
    producers: 1,
    consumers: 2,
    partitions: 1,
    rate: 50,
    history: path.join(dir, "history.jsonl"),
    group: "verify-close",
    drainMs: 20_000,
    closeMs: 500,
    warn: (line) => warnings.push(line),
  });
  const report = await run.run();
  expect(
    warnings.some((w) => /client\(s\) still closing after 500 ms: dropped/.test(w)),
    warnings.join("\n"),
  ).toBe(true);
  expect(report.totals.acked).toBeGreaterThan(0);
}, 60_000);
