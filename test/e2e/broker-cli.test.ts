/**
 * End to end, as a user runs it: `samsa broker start` in a child process, spoken to over TCP,
 * stopped with SIGTERM (clean) and with SIGKILL (crash) while an idempotent producer writes.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeBatches, encodeRecordBatch } from "../../protocol/record-batch.js";
import { TestClient } from "../helpers/kafka-client.js";
import { fetchRequest, produceRequest } from "../helpers/requests.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
let dataDir: string;

beforeAll(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), "samsa-e2e-"));
});
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

interface Running {
  child: ChildProcess;
  port: number;
  exited: Promise<number | null>;
}

function startBroker(): Promise<Running> {
  // The bin that `npx samsa` runs, started directly so signals reach the broker itself.
  const child = spawn(
    process.execPath,
    ["bin/samsa.js", "broker", "start", "--data-dir", dataDir, "--kafka-port", "0", "--http-port", "0"],
    {
      cwd: ROOT,
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, SAMSA_LOG_LEVEL: "warn" },
    },
  );
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    let stderr = "";
    const timer = setTimeout(() => reject(new Error(`broker did not start: ${stderr}`)), 20_000);
    child.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString();
      const m = /listening: kafka [\d.]+:(\d+)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]), exited });
      }
    });
    child.on("exit", (code) => reject(new Error(`broker exited with ${code}: ${stderr}`)));
  });
}

function produce(c: TestClient, records: Buffer) {
  return c.request(0, 9, produceRequest("crash", records));
}

const batch = (pid: number, seq: number) =>
  encodeRecordBatch([{ value: Buffer.from(`v${seq}`) }], {
    producerId: pid,
    producerEpoch: 0,
    baseSequence: seq,
  });

describe("samsa broker start", () => {
  it("runs from the clone as the README says (node bin/samsa.js)", () => {
    const samsa = (args: string[]) =>
      execFileSync(process.execPath, ["bin/samsa.js", ...args], {
        cwd: ROOT,
        encoding: "utf8",
        timeout: 30_000,
      });
    const out = samsa(["--version"]);
    expect(out.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const help = samsa(["broker", "start", "--help"]);
    expect(help).toContain("--data-dir");
  });

  it("stops cleanly on SIGTERM and keeps exactly-once across kill -9", async () => {
    let broker = await startBroker();
    let c = await TestClient.connect(broker.port);
    const pid = (
      await c.request(22, 4, {
        transactionalId: null,
        transactionTimeoutMs: 1000,
        producerId: -1,
        producerEpoch: -1,
      })
    ).producerId as number;
    for (let seq = 0; seq < 20; seq++) await produce(c, batch(pid, seq));
    c.close();
    broker.child.kill("SIGTERM");
    expect(await broker.exited).toBe(0);
    expect(existsSync(path.join(dataDir, ".samsa_cleanshutdown"))).toBe(true);

    broker = await startBroker();
    c = await TestClient.connect(broker.port);
    // Acknowledged writes, then a crash before the producer hears back about the last one.
    let acknowledged = 20;
    for (let seq = 20; seq < 60; seq++) {
      const r = await produce(c, batch(pid, seq));
      expect(r.responses[0].partitionResponses[0].errorCode).toBe(0);
      acknowledged = seq + 1;
    }
    const inFlight = produce(c, batch(pid, acknowledged)).catch(() => null);
    broker.child.kill("SIGKILL");
    await broker.exited;
    await inFlight;
    c.close();
    expect(existsSync(path.join(dataDir, ".samsa_cleanshutdown"))).toBe(false);

    broker = await startBroker();
    c = await TestClient.connect(broker.port);
    // The producer retries the batch it got no answer for, then goes on.
    const retry = await produce(c, batch(pid, acknowledged));
    expect(retry.responses[0].partitionResponses[0]).toMatchObject({
      errorCode: 0,
      baseOffset: acknowledged,
    });
    const next = await produce(c, batch(pid, acknowledged + 1));
    expect(next.responses[0].partitionResponses[0]).toMatchObject({
      errorCode: 0,
      baseOffset: acknowledged + 1,
    });
    const values: string[] = [];
    let offset = 0;
    for (let i = 0; i < 100 && offset < acknowledged + 2; i++) {
      const f = await c.request(1, 12, fetchRequest("crash", offset));
      for (const r of decodeBatches(f.responses[0].partitions[0].records)) {
        values.push(r.value!.toString());
        offset = r.offset + 1;
      }
    }
    expect(values).toEqual(Array.from({ length: acknowledged + 2 }, (_, i) => `v${i}`));
    c.close();
    broker.child.kill("SIGTERM");
    expect(await broker.exited).toBe(0);
  });
});
