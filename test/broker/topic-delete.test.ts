/**
 * Topic deletion removes a topic's data for good: a 249-character name (Kafka's longest) deletes
 * like any other, and the topic re-created under the same name (by a produce, auto-creation)
 * holds only the new records. A directory left behind by a crash mid-delete, or a partition
 * directory the metadata no longer names, never reappears as a topic's data after a restart.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { decodeBatches } from "../../protocol/record-batch.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { TestClient } from "../helpers/kafka-client.js";
import { batchOf } from "../helpers/records.js";
import { fetchRequest, produceRequest } from "../helpers/requests.js";

const PRODUCE = 0;
const FETCH = 1;
const DELETE_TOPICS = 20;

const running: TestBroker[] = [];
const clients: TestClient[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const b of running.splice(0)) await b.stop(true);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "storage-delete-"));
  dirs.push(dir);
  return dir;
}

async function start(dataDir: string): Promise<{ tb: TestBroker; client: TestClient }> {
  const tb = await startTestBroker({ "num.partitions": 1 }, dataDir);
  running.push(tb);
  const client = await TestClient.connect(tb.port);
  clients.push(client);
  return { tb, client };
}

async function produce(client: TestClient, topic: string, prefix: string): Promise<void> {
  const res = await client.request(PRODUCE, 9, produceRequest(topic, batchOf(1, prefix)));
  expect(res.responses[0].partitionResponses[0].errorCode).toBe(0);
}

async function values(client: TestClient, topic: string): Promise<string[]> {
  const res = await client.request(FETCH, 12, fetchRequest(topic, 0));
  const p = res.responses[0].partitions[0];
  expect(p.errorCode).toBe(0);
  return decodeBatches(p.records ?? Buffer.alloc(0)).map((r) => r.value?.toString() ?? "");
}

async function deleteTopic(
  client: TestClient,
  topic: string,
): Promise<{ errorCode: number; errorMessage: string | null }> {
  const res = await client.request(DELETE_TOPICS, 5, { topicNames: [topic], timeoutMs: 5000 });
  return res.responses[0];
}

describe("topic deletion", () => {
  it("deletes a 249-character topic, and its re-creation holds only new records", async () => {
    const dataDir = tempDir();
    const { client } = await start(dataDir);
    const topic = "t".repeat(249);
    await produce(client, topic, "old");
    expect(await values(client, topic)).toEqual(["old-0"]);
    const deleted = await deleteTopic(client, topic);
    expect(deleted.errorCode, deleted.errorMessage ?? "").toBe(0);
    expect(readdirSync(dataDir).filter((n) => n.startsWith("ttt"))).toEqual([]);
    await produce(client, topic, "new");
    expect(await values(client, topic)).toEqual(["new-0"]);
    // Another client is served throughout.
    const other = await TestClient.connect(running[0].port);
    clients.push(other);
    await produce(other, "other", "x");
    expect(await values(other, "other")).toEqual(["x-0"]);
  });

  it("removes at start a directory left by a crash mid-delete and one the metadata does not name", async () => {
    const dataDir = tempDir();
    const first = await start(dataDir);
    const topic = "u".repeat(249);
    await produce(first.client, topic, "kept");
    first.client.close();
    await first.tb.stop(true);
    running.splice(0);
    // A crash mid-delete leaves a renamed directory; a crash before the rename leaves the plain
    // one after the metadata forgot the topic. Model both with a copy of real segment data.
    const partDir = path.join(dataDir, `${topic}-0`);
    const leftover = path.join(dataDir, `${"v".repeat(200)}-0.0123abcd-delete`);
    mkdirSync(leftover);
    writeFileSync(path.join(leftover, "00000000000000000000.log"), "junk");
    const orphan = path.join(dataDir, "orphan-0");
    mkdirSync(orphan);
    writeFileSync(path.join(orphan, "00000000000000000000.log"), batchOf(1, "orphan"));
    const second = await start(dataDir);
    expect(existsSync(leftover)).toBe(false);
    expect(existsSync(orphan)).toBe(false);
    expect(existsSync(partDir)).toBe(true);
    expect(await values(second.client, topic)).toEqual(["kept-0"]);
    await produce(second.client, "orphan", "fresh");
    expect(await values(second.client, "orphan")).toEqual(["fresh-0"]);
  });

  it("a created partition never opens a leftover directory's data", async () => {
    const dataDir = tempDir();
    const { tb, client } = await start(dataDir);
    // A directory that appeared after start (a failed deletion's remains) under a new topic's name.
    const stale = path.join(dataDir, "stale-0");
    mkdirSync(stale);
    writeFileSync(path.join(stale, "00000000000000000000.log"), batchOf(1, "stale"));
    await produce(client, "stale", "fresh");
    expect(await values(client, "stale")).toEqual(["fresh-0"]);
    expect(tb.broker.topics.record("stale")).toBeDefined();
  });
});
