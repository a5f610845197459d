/**
 * The data-directory lock as a user meets it: `samsa broker start` twice on one directory. The
 * second refuses with one line naming the directory and the first's pid, and changes nothing;
 * the first, kill -9'd after more acknowledged writes, leaves a stale lock that the next start
 * takes over, recovering every acknowledged record from an unclean shutdown. Producer ids handed
 * out before the kill are never handed out again.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { decodeBatches, encodeRecordBatch } from "../../protocol/record-batch.js";
import { LOCK_FILE } from "../../storage/dir-lock.js";
import { CLEAN_SHUTDOWN_MARKER } from "../../storage/log-manager.js";
import { TestClient } from "../helpers/kafka-client.js";
import { fetchRequest, produceRequest } from "../helpers/requests.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
/** How long a broker child may take to start or to exit. */
const CHILD_TIMEOUT_MS = 30_000;
const TOPIC = "locked";

let dataDir: string;
const children: ChildProcess[] = [];

// The bin runs dist/, which test/global-setup.ts compiles before any suite.
beforeAll(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), "samsa-e2e-lock-"));
});
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
});
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

interface Child {
  child: ChildProcess;
  exited: Promise<number | null>;
  stderr(): string;
}

/** `samsa broker start` on `dataDir` (the bin itself, so signals reach the broker). */
function spawnBroker(): Child {
  const child = spawn(
    process.execPath,
    ["bin/samsa.js", "broker", "start", "--data-dir", dataDir, "--kafka-port", "0", "--http-port", "0"],
    { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, SAMSA_LOG_LEVEL: "info" } },
  );
  children.push(child);
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, exited, stderr: () => stderr };
}

/** Resolves with the Kafka port once the broker listens and has logged its start; rejects if it exits or takes too long. */
function listening(b: Child): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`broker did not start: ${b.stderr()}`)),
      CHILD_TIMEOUT_MS,
    );
    const check = () => {
      // Both the CLI's line and the broker's own log (which says whether the start was clean).
      const m = /listening: kafka [\d.]+:(\d+)/.exec(b.stderr());
      if (!m || !b.stderr().includes('"broker started"')) return;
      clearTimeout(timer);
      resolve(Number(m[1]));
    };
    b.child.stderr!.on("data", check);
    b.child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`broker exited with ${code}: ${b.stderr()}`));
    });
  });
}

/** Resolves with the exit code; rejects if the broker starts listening instead, or takes too long. */
function refused(b: Child): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`broker did not exit: ${b.stderr()}`)), CHILD_TIMEOUT_MS);
    b.child.stderr!.on("data", () => {
      if (!b.stderr().includes("listening:")) return;
      clearTimeout(timer);
      reject(new Error(`a second broker started on a data directory in use: ${b.stderr()}`));
    });
    void b.exited.then((code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

async function newProducerId(c: TestClient, old = -1): Promise<number> {
  const r = await c.request(22, 4, {
    transactionalId: null,
    transactionTimeoutMs: 60_000,
    producerId: old,
    producerEpoch: old < 0 ? -1 : 0,
  });
  expect(r).toMatchObject({ errorCode: 0, producerEpoch: 0 });
  return r.producerId as number;
}

async function produceAcked(c: TestClient, pid: number, seq: number): Promise<void> {
  const batch = encodeRecordBatch([{ value: Buffer.from(`v${seq}`) }], {
    producerId: pid,
    producerEpoch: 0,
    baseSequence: seq,
  });
  const r = await c.request(0, 9, produceRequest(TOPIC, batch));
  expect(r.responses[0].partitionResponses[0]).toMatchObject({ errorCode: 0, baseOffset: seq });
}

async function readAll(c: TestClient, count: number): Promise<string[]> {
  const values: string[] = [];
  let offset = 0;
  for (let i = 0; i < 100 && offset < count; i++) {
    const f = await c.request(1, 12, fetchRequest(TOPIC, offset));
    const batches = decodeBatches(f.responses[0].partitions[0].records);
    if (batches.length === 0) break;
    for (const r of batches) {
      values.push(r.value!.toString());
      offset = r.offset + 1;
    }
  }
  return values;
}

/** The names under the data directory, recursively. */
function names(): string[] {
  return readdirSync(dataDir, { recursive: true, encoding: "utf8" }).sort();
}

describe("samsa broker start on a data directory in use", () => {
  it("refuses a second broker, and recovers every acknowledged record after kill -9 of the first", async () => {
    const a = spawnBroker();
    let c = await TestClient.connect(await listening(a));
    const pid = await newProducerId(c);
    const idsBefore = [pid, await newProducerId(c), await newProducerId(c)];
    for (let seq = 0; seq < 10; seq++) await produceAcked(c, pid, seq);
    const lockText = readFileSync(path.join(dataDir, LOCK_FILE), "utf8");
    expect(JSON.parse(lockText).pid).toBe(a.child.pid);
    const before = names();

    const b = spawnBroker();
    expect(await refused(b)).toBe(1);
    const lines = b.stderr().trim().split("\n");
    expect(lines, b.stderr()).toHaveLength(1);
    expect(lines[0]).toBe(
      `samsa: data directory ${dataDir} is in use by process ${a.child.pid} (lock file ${path.join(dataDir, LOCK_FILE)}); stop that broker or choose another data directory`,
    );
    // The refused broker changed nothing: no clean marker, no journal retired, the lock kept.
    expect(names()).toEqual(before);
    expect(existsSync(path.join(dataDir, CLEAN_SHUTDOWN_MARKER))).toBe(false);
    expect(readFileSync(path.join(dataDir, LOCK_FILE), "utf8")).toBe(lockText);

    // The first broker goes on acknowledging, then dies without a clean stop.
    for (let seq = 10; seq < 40; seq++) await produceAcked(c, pid, seq);
    c.close();
    a.child.kill("SIGKILL");
    await a.exited;
    expect(existsSync(path.join(dataDir, CLEAN_SHUTDOWN_MARKER))).toBe(false);
    expect(existsSync(path.join(dataDir, LOCK_FILE)), "kill -9 leaves the lock file behind").toBe(true);

    // Its lock died with it: the next broker starts, knows the shutdown was unclean, has it all.
    const next = spawnBroker();
    c = await TestClient.connect(await listening(next));
    const started = next
      .stderr()
      .split("\n")
      .filter((l) => l.includes('"broker started"'))
      .map((l) => JSON.parse(l) as { clean: boolean });
    expect(started).toMatchObject([{ clean: false }]);
    expect(await readAll(c, 40)).toEqual(Array.from({ length: 40 }, (_, i) => `v${i}`));
    // No id handed out before the kill comes back, not even to a client that sends one.
    const idsAfter = [await newProducerId(c), await newProducerId(c, pid), await newProducerId(c, 0)];
    expect(new Set([...idsBefore, ...idsAfter]).size).toBe(idsBefore.length + idsAfter.length);
    expect(Math.min(...idsAfter)).toBeGreaterThan(Math.max(...idsBefore));
    c.close();

    next.child.kill("SIGTERM");
    expect(await next.exited).toBe(0);
    expect(existsSync(path.join(dataDir, LOCK_FILE)), "a clean stop releases the lock").toBe(false);
    expect(existsSync(path.join(dataDir, CLEAN_SHUTDOWN_MARKER))).toBe(true);
  }, 120_000);
});
