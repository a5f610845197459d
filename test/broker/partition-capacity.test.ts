/**
 * Creation beyond what the broker holds is refused whole, and a creation that fails midway
 * leaves nothing behind:
 * - max.broker.partitions bounds CreateTopics, CreatePartitions and auto-creation by a produce
 *   (POLICY_VIOLATION with a message naming the limit); validateOnly answers the same; the
 *   refused topic has no metadata and no directory; other clients are served throughout.
 * - A CreateTopics whose 8th partition cannot be opened (EMFILE injected) answers an error, and
 *   neither the metadata nor the data directory holds any part of the topic, before or after a
 *   restart; the same name can be created once the fault is gone. A CreatePartitions whose log
 *   cannot be opened answers the error, but the controller's partitions stay (metadata flows one
 *   way): the replica manager opens the missing logs once the fault is gone.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Broker } from "../../broker/broker.js";
import { loadBrokerConfig } from "../../broker/config.js";
import type { Message } from "../../protocol/codec.js";
import { errorCode } from "../../protocol/errors.js";
import { NodeFs, type OpenMode } from "../../storage/fs.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { TestClient } from "../helpers/kafka-client.js";
import { batchOf } from "../helpers/records.js";
import { produceRequest } from "../helpers/requests.js";
import { waitFor } from "../helpers/wait.js";

const PRODUCE = 0;
const CREATE_TOPICS = 19;
const DELETE_TOPICS = 20;
const CREATE_PARTITIONS = 37;
const POLICY_VIOLATION = errorCode("POLICY_VIOLATION");

const brokers: { stop(): Promise<void> }[] = [];
const clients: TestClient[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const b of brokers.splice(0)) await b.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "storage-capacity-"));
  dirs.push(dir);
  return dir;
}

async function connect(port: number): Promise<TestClient> {
  const c = await TestClient.connect(port);
  clients.push(c);
  return c;
}

async function createTopic(c: TestClient, name: string, partitions: number, validateOnly = false) {
  const res = await c.request(CREATE_TOPICS, 7, {
    topics: [{ name, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 30_000,
    validateOnly,
  });
  return res.topics[0] as Message;
}

async function createPartitions(c: TestClient, name: string, count: number) {
  const res = await c.request(CREATE_PARTITIONS, 3, {
    topics: [{ name, count, assignments: null }],
    timeoutMs: 30_000,
    validateOnly: false,
  });
  return res.results[0] as Message;
}

function dirsOf(dataDir: string, topic: string): string[] {
  return readdirSync(dataDir).filter((n) => n.startsWith(`${topic}-`));
}

describe("max.broker.partitions", () => {
  it("refuses creation beyond the limit whole, by every door, and serves other clients", async () => {
    const tb: TestBroker = await startTestBroker({
      "max.broker.partitions": 20,
      "num.partitions": 6,
      "offsets.topic.num.partitions": 1,
    });
    brokers.push({ stop: () => tb.stop() });
    const c = await connect(tb.port);
    expect((await createTopic(c, "a", 15)).errorCode).toBe(0);
    for (const validateOnly of [true, false]) {
      const refused = await createTopic(c, "b", 10, validateOnly);
      expect(refused.errorCode).toBe(POLICY_VIOLATION);
      expect(refused.errorMessage).toContain("max.broker.partitions=20");
    }
    expect(tb.broker.store.topic("b")).toBeUndefined();
    expect(dirsOf(tb.dataDir, "b")).toEqual([]);
    const grow = await createPartitions(c, "a", 21);
    expect(grow.errorCode).toBe(POLICY_VIOLATION);
    expect(tb.broker.store.topic("a")?.partitions).toHaveLength(15);
    expect(dirsOf(tb.dataDir, "a")).toHaveLength(15);
    // Auto-creation (num.partitions=6 > 5 left) by a produce.
    const produced = await c.request(PRODUCE, 9, produceRequest("auto", batchOf(1, "x")));
    expect(produced.responses[0].partitionResponses[0].errorCode).toBe(POLICY_VIOLATION);
    expect(dirsOf(tb.dataDir, "auto")).toEqual([]);
    // What fits is still created, and another client is served.
    const other = await connect(tb.port);
    expect((await createTopic(other, "c", 5)).errorCode).toBe(0);
    const ok = await other.request(PRODUCE, 9, produceRequest("c", batchOf(1, "y")));
    expect(ok.responses[0].partitionResponses[0].errorCode).toBe(0);
    expect(tb.broker.topics.partitionCount()).toBe(20);
    // Deleting frees room.
    const del = await c.request(DELETE_TOPICS, 5, { topicNames: ["a"], timeoutMs: 5000 });
    expect(del.responses[0].errorCode).toBe(0);
    expect((await createTopic(c, "b", 10)).errorCode).toBe(0);
  });
});

/** NodeFs whose `open` fails with EMFILE for files under a partition directory `failing` names. */
class FailingOpenFs extends NodeFs {
  failing: string | null = null;

  override async open(file: string, mode: OpenMode): Promise<number> {
    if (this.failing && path.basename(path.dirname(file)) === this.failing) {
      const err: NodeJS.ErrnoException = new Error(`EMFILE: too many open files, open '${file}'`);
      err.code = "EMFILE";
      throw err;
    }
    return super.open(file, mode);
  }
}

async function startWith(fs: FailingOpenFs, dataDir: string): Promise<Broker> {
  const config = loadBrokerConfig({ flags: { "data.dir": dataDir, "kafka.port": 0, "http.port": 0 } });
  const broker = await Broker.start(config, { fs });
  brokers.push(broker);
  return broker;
}

describe("a creation that fails midway", () => {
  it("leaves no part of the topic in the metadata or on disk, before or after a restart", async () => {
    const dataDir = tempDir();
    const fs = new FailingOpenFs();
    let broker = await startWith(fs, dataDir);
    let c = await connect(broker.kafkaPort);
    fs.failing = "broken-7";
    const failed = await createTopic(c, "broken", 12);
    expect(failed.errorCode).not.toBe(0);
    expect(failed.errorMessage).toContain("EMFILE");
    expect(broker.store.topic("broken")).toBeUndefined();
    expect(dirsOf(dataDir, "broken")).toEqual([]);
    expect(broker.topics.partition("broken", 0)).toBeUndefined();
    // CreatePartitions failing midway answers the error; the replica manager retries the logs.
    fs.failing = "grown-5";
    expect((await createTopic(c, "grown", 2)).errorCode).toBe(0);
    const grow = await createPartitions(c, "grown", 8);
    expect(grow.errorCode).not.toBe(0);
    expect(grow.errorMessage).toContain("EMFILE");
    expect(broker.store.topic("grown")?.partitions).toHaveLength(8);
    expect(broker.topics.partition("grown", 5)).toBeUndefined();
    fs.failing = null;
    await waitFor(() => dirsOf(dataDir, "grown").length === 8, "the grown topic's 8 logs");
    await waitFor(() => broker.topics.partition("grown", 7) !== undefined, "partition grown-7 opened");
    c.close();
    await broker.stop();
    brokers.splice(0);
    broker = await startWith(fs, dataDir);
    c = await connect(broker.kafkaPort);
    expect(broker.store.topic("broken")).toBeUndefined();
    expect(dirsOf(dataDir, "broken")).toEqual([]);
    expect((await createTopic(c, "broken", 12)).errorCode).toBe(0);
    expect(dirsOf(dataDir, "grown")).toHaveLength(8);
    expect((await createPartitions(c, "grown", 9)).errorCode).toBe(0);
    expect(dirsOf(dataDir, "grown")).toHaveLength(9);
  });
});
