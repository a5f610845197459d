/**
 * The open-files limit as a user meets it, with the real limit lowered by `prlimit`:
 * - below what the broker needs, `samsa broker start` refuses in one line saying how to raise it;
 * - at 320 descriptors, a broker creates 2 x 200 partitions (more partitions than descriptors),
 *   serves them, stops and starts again on the same limit with every record there, because idle
 *   segment files are closed (storage/file-cache.ts) instead of the broker failing on EMFILE.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { decodeBatches } from "../../protocol/record-batch.js";
import { MIN_FD_LIMIT } from "../../storage/fd-limit.js";
import { TestClient } from "../helpers/kafka-client.js";
import { batchOf } from "../helpers/records.js";
import { fetchRequest, produceRequest } from "../helpers/requests.js";
import { within } from "../helpers/wait.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const CHILD_TIMEOUT_MS = 60_000;
const FD_LIMIT = 320;
const PARTITIONS = 200;

let dataDir: string;
const children: ChildProcess[] = [];
const clients: TestClient[] = [];

beforeAll(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), "storage-fdlimit-"));
});
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
});
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

interface Child {
  child: ChildProcess;
  exited: Promise<number | null>;
  stderr(): string;
}

function spawnBroker(fdLimit: number): Child {
  const child = spawn(
    "prlimit",
    [
      `--nofile=${fdLimit}:${fdLimit}`,
      process.execPath,
      "bin/samsa.js",
      "broker",
      "start",
      "--data-dir",
      dataDir,
      "--kafka-port",
      "0",
      "--http-port",
      "0",
    ],
    { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, SAMSA_LOG_LEVEL: "warn" } },
  );
  children.push(child);
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, exited, stderr: () => stderr };
}

function listening(b: Child): Promise<number> {
  return within(
    new Promise<number>((resolve, reject) => {
      const check = () => {
        const m = /listening: kafka [\d.]+:(\d+)/.exec(b.stderr());
        if (m) resolve(Number(m[1]));
      };
      b.child.stderr!.on("data", check);
      b.child.once("exit", (code) => reject(new Error(`broker exited with ${code}: ${b.stderr()}`)));
    }),
    "the broker to listen",
    CHILD_TIMEOUT_MS,
  );
}

async function connect(port: number): Promise<TestClient> {
  const c = await TestClient.connect(port);
  clients.push(c);
  return c;
}

async function createTopic(c: TestClient, name: string, partitions: number): Promise<void> {
  const res = await c.request(19, 7, {
    topics: [{ name, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 60_000,
    validateOnly: false,
  });
  expect(res.topics[0].errorCode, res.topics[0].errorMessage ?? "").toBe(0);
}

async function produce(c: TestClient, topic: string, partition: number): Promise<void> {
  const res = await c.request(
    0,
    9,
    produceRequest(topic, batchOf(1, `${topic}/${partition}`), -1, partition),
  );
  expect(res.responses[0].partitionResponses[0].errorCode).toBe(0);
}

async function valueAt(c: TestClient, topic: string, partition: number): Promise<string[]> {
  const res = await c.request(1, 12, fetchRequest(topic, 0, { partition }));
  const p = res.responses[0].partitions[0];
  expect(p.errorCode).toBe(0);
  return decodeBatches(p.records ?? Buffer.alloc(0)).map((r) => r.value?.toString() ?? "");
}

describe("the open-files limit", () => {
  it("refuses to start below the limit it needs, in one line saying how to raise it", async () => {
    const b = spawnBroker(MIN_FD_LIMIT - 40);
    const code = await within(b.exited, "the refused broker to exit", CHILD_TIMEOUT_MS);
    expect(code).not.toBe(0);
    const lines = b.stderr().trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`the open-files limit is ${MIN_FD_LIMIT - 40}`);
    expect(lines[0]).toContain("ulimit -n");
    expect(lines[0]).toContain("LimitNOFILE");
  });

  it("holds more partitions than descriptors, and starts again on the same limit", async () => {
    const first = spawnBroker(FD_LIMIT);
    const port = await listening(first);
    const c = await connect(port);
    await createTopic(c, "wide-a", PARTITIONS);
    await createTopic(c, "wide-b", PARTITIONS);
    for (const topic of ["wide-a", "wide-b"])
      for (let p = 0; p < PARTITIONS; p += 7) await produce(c, topic, p);
    // Another client is served meanwhile.
    const other = await connect(port);
    expect(await valueAt(other, "wide-a", 0)).toEqual(["wide-a/0-0"]);
    first.child.kill("SIGTERM");
    expect(await within(first.exited, "the broker to stop", CHILD_TIMEOUT_MS)).toBe(0);

    const second = spawnBroker(FD_LIMIT);
    const port2 = await listening(second);
    const c2 = await connect(port2);
    for (const topic of ["wide-a", "wide-b"])
      for (let p = 0; p < PARTITIONS; p += 7)
        expect(await valueAt(c2, topic, p)).toEqual([`${topic}/${p}-0`]);
    await produce(c2, "wide-b", PARTITIONS - 1);
    expect(await valueAt(c2, "wide-b", PARTITIONS - 1)).toEqual([`wide-b/${PARTITIONS - 1}-0`]);
    second.child.kill("SIGTERM");
    expect(await within(second.exited, "the broker to stop", CHILD_TIMEOUT_MS)).toBe(0);
  });
});
