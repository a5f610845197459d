/**
 * One broker per data directory: a second broker started on a directory in use (here in the same
 * process; test/e2e/data-dir-lock.test.ts does it with `samsa broker start` and kill -9) is
 * refused before it reads or writes anything, and the first goes on untouched.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { decodeBatches, encodeRecordBatch } from "../../protocol/record-batch.js";
import { LOCK_FILE } from "../../storage/dir-lock.js";
import { CLEAN_SHUTDOWN_MARKER } from "../../storage/log-manager.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { TestClient } from "../helpers/kafka-client.js";
import { fetchRequest, produceRequest } from "../helpers/requests.js";

const brokers: TestBroker[] = [];
const clients: TestClient[] = [];
let dataDir = "";
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const b of brokers.splice(0)) await b.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Every file under `dir` with its size and modification time. */
function tree(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const file = path.join(entry.parentPath, entry.name);
    const st = statSync(file);
    out.push(`${path.relative(dir, file)} ${entry.isDirectory() ? "dir" : st.size} ${st.mtimeMs}`);
  }
  return out.sort();
}

async function produce(c: TestClient, value: string): Promise<number> {
  const r = await c.request(
    0,
    9,
    produceRequest("locked", encodeRecordBatch([{ value: Buffer.from(value) }])),
  );
  const p = r.responses[0].partitionResponses[0];
  expect(p.errorCode).toBe(0);
  return p.baseOffset as number;
}

async function values(c: TestClient): Promise<string[]> {
  const f = await c.request(1, 12, fetchRequest("locked", 0));
  return decodeBatches(f.responses[0].partitions[0].records).map((r) => r.value!.toString());
}

describe("data directory lock", () => {
  it("refuses a second broker on a directory in use, changing nothing, until the first stops", async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), "samsa-lock-broker-"));
    const first = await startTestBroker({}, dataDir);
    brokers.push(first);
    const c = await TestClient.connect(first.port);
    clients.push(c);
    expect(await produce(c, "before")).toBe(0);
    const before = tree(dataDir);
    expect(before.some((f) => f.startsWith(`${LOCK_FILE} `))).toBe(true);

    const second = await startTestBroker({}, dataDir).then(
      (b) => {
        brokers.push(b);
        return null;
      },
      (err: unknown) => err,
    );
    expect(second).toMatchObject({ code: "DATA_DIR_LOCKED", ownerPid: process.pid });
    const message = (second as Error).message;
    expect(message).toContain(dataDir);
    expect(message).toContain(`process ${process.pid}`);
    expect(message).not.toContain("\n");
    // Not a byte of the directory changed: no clean-shutdown marker, the journal kept.
    expect(tree(dataDir)).toEqual(before);

    // The first broker goes on: its later writes are acknowledged and readable.
    expect(await produce(c, "after")).toBe(1);
    expect(await values(c)).toEqual(["before", "after"]);
    c.close();
    await first.stop(true);
    brokers.pop();
    expect(readdirSync(dataDir)).not.toContain(LOCK_FILE);
    expect(readdirSync(dataDir)).toContain(CLEAN_SHUTDOWN_MARKER);

    // Stopped cleanly, the directory is free for the next broker, which finds every record.
    const next = await startTestBroker({}, dataDir);
    brokers.push(next);
    const c2 = await TestClient.connect(next.port);
    clients.push(c2);
    expect(await values(c2)).toEqual(["before", "after"]);
  });

  it("releases the lock when a start fails after taking it", async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), "samsa-lock-broker-"));
    const other = await startTestBroker();
    brokers.push(other);
    await expect(startTestBroker({ "kafka.port": other.port }, dataDir)).rejects.toMatchObject({
      code: "EADDRINUSE",
    });
    expect(readdirSync(dataDir)).not.toContain(LOCK_FILE);
  });
});
