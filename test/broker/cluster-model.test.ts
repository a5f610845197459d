/**
 * The single broker on the cluster model (issue 13): a data directory of the version 1 metadata
 * file (written here with FileMetadataStore) starts, keeps its topics, ids, configs, leader epochs
 * and records, and is rewritten as version 2; restarts never move a leader epoch back and bump
 * the broker and controller epochs; producer ids stay unique across restarts; Metadata and
 * DescribeCluster read the controller and brokers from the store; a partition this broker holds
 * no replica of answers NOT_LEADER_OR_FOLLOWER.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FileMetadataStore, METADATA_FILE } from "../../broker/metadata/file-store.js";
import { errorCode } from "../../protocol/errors.js";
import { readBatchHeader } from "../../protocol/record-batch.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { freePort } from "../helpers/etcd.js";
import { TestClient } from "../helpers/kafka-client.js";
import { batchOf } from "../helpers/records.js";
import { fetchRequest, produceRequest } from "../helpers/requests.js";
import { waitFor } from "../helpers/wait.js";

const PRODUCE = 0;
const FETCH = 1;
const METADATA = 3;
const INIT_PRODUCER_ID = 22;
const DESCRIBE_CLUSTER = 60;
const TOPIC_ID = "0123456789abcdef0123456789abcdef";

let running: TestBroker | null = null;
const clients: TestClient[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await running?.stop(true);
  running = null;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "samsa-model-"));
  dirs.push(dir);
  return dir;
}

async function start(dataDir: string): Promise<TestClient> {
  await running?.stop(true);
  running = await startTestBroker({}, dataDir);
  const c = await TestClient.connect(running.port);
  clients.push(c);
  return c;
}

/** Writes a version 1 data directory: topic "old" (2 partitions at leader epoch 5) and 1 producer id. */
async function writeVersion1(dataDir: string): Promise<void> {
  const store = await FileMetadataStore.open(dataDir, 1, null);
  await store.registerBroker({ nodeId: 1, host: "127.0.0.1", port: 9092, rack: null });
  await store.createTopic({
    name: "old",
    id: TOPIC_ID,
    partitions: [0, 1].map((partition) => ({
      partition,
      leader: 1,
      leaderEpoch: 5,
      replicas: [1],
      isr: [1],
    })),
    configs: { "retention.ms": "86400000" },
  });
  await store.nextProducerId();
  await store.close();
}

async function partitionMetadata(c: TestClient, topic: string) {
  const r = await c.request(METADATA, 12, { topics: [{ name: topic }], allowAutoTopicCreation: false });
  return {
    answer: r,
    partitions: r.topics[0].partitions as {
      leaderId: number;
      leaderEpoch: number;
      offlineReplicas: number[];
    }[],
  };
}

async function produce(c: TestClient, topic: string, prefix: string, partition = 0) {
  const r = await c.request(PRODUCE, 9, produceRequest(topic, batchOf(1, prefix), -1, partition));
  return r.responses[0].partitionResponses[0] as { errorCode: number; baseOffset: number };
}

async function producerId(c: TestClient): Promise<number> {
  const r = await c.request(INIT_PRODUCER_ID, 4, {
    transactionalId: null,
    transactionTimeoutMs: 60_000,
    producerId: -1,
    producerEpoch: -1,
  });
  expect(r.errorCode).toBe(0);
  return r.producerId as number;
}

describe("the single broker on the cluster model", () => {
  it("starts on a version 1 data directory and keeps its topics, epochs and records", async () => {
    const dataDir = tempDir();
    await writeVersion1(dataDir);
    let c = await start(dataDir);
    expect(JSON.parse(readFileSync(path.join(dataDir, METADATA_FILE), "utf8")).version).toBe(3);
    const before = await partitionMetadata(c, "old");
    expect(before.answer.topics[0].topicId).toBe(TOPIC_ID);
    expect(before.partitions.map((p) => [p.leaderId, p.leaderEpoch])).toEqual([
      [1, 5],
      [1, 5],
    ]);
    expect(running!.broker.store.topic("old")!.configs).toEqual({ "retention.ms": "86400000" });
    expect((await produce(c, "old", "kept")).errorCode).toBe(0);

    c = await start(dataDir);
    const after = await partitionMetadata(c, "old");
    expect(after.partitions.every((p) => p.leaderEpoch >= 5)).toBe(true);
    const fetched = await c.request(FETCH, 12, fetchRequest("old", 0));
    const records = fetched.responses[0].partitions[0].records as Buffer;
    expect(records.length).toBeGreaterThan(0);
    expect(readBatchHeader(records, 0).partitionLeaderEpoch).toBe(5);
  });

  it("never moves a leader epoch back, bumps broker and controller epochs, and keeps producer ids unique", async () => {
    const dataDir = tempDir();
    let c = await start(dataDir);
    expect((await produce(c, "epochs", "a")).errorCode).toBe(0);
    const epochs = (await partitionMetadata(c, "epochs")).partitions.map((p) => p.leaderEpoch);
    const brokerEpoch = running!.broker.store.broker(1)!.epoch;
    const controllerEpoch = running!.broker.store.controller()!.epoch;
    const ids = new Set([await producerId(c), await producerId(c)]);
    for (let round = 0; round < 2; round++) {
      c = await start(dataDir);
      const now = (await partitionMetadata(c, "epochs")).partitions.map((p) => p.leaderEpoch);
      for (const [i, epoch] of now.entries()) expect(epoch).toBeGreaterThanOrEqual(epochs[i]);
      expect(running!.broker.store.broker(1)!.epoch).toBeGreaterThan(brokerEpoch);
      expect(running!.broker.store.controller()!.epoch).toBeGreaterThan(controllerEpoch);
      for (let i = 0; i < 2; i++) {
        const id = await producerId(c);
        expect(ids.has(id)).toBe(false);
        ids.add(id);
      }
    }
    expect((await produce(c, "epochs", "b")).baseOffset).toBe(1);
  });

  it("reads the controller and brokers from the store", async () => {
    const c = await start(tempDir());
    const store = running!.broker.store;
    expect(store.controller()?.nodeId).toBe(1);
    const meta = await c.request(METADATA, 12, { topics: null, allowAutoTopicCreation: false });
    expect(meta.controllerId).toBe(1);
    expect(meta.brokers).toEqual([{ nodeId: 1, host: "127.0.0.1", port: running!.port, rack: null }]);
    const cluster = await c.request(DESCRIBE_CLUSTER, 1, {
      includeClusterAuthorizedOperations: false,
      endpointType: 1,
    });
    expect(cluster.controllerId).toBe(1);
    expect(cluster.clusterId).toBe(store.clusterId());
  });

  it("answers NOT_LEADER_OR_FOLLOWER for partitions another broker leads", async () => {
    const c = await start(tempDir());
    const { store, controller } = running!.broker;
    const other = await store.register({ nodeId: 2, host: "127.0.0.1", port: 1, rack: null, httpPort: null });
    // "elsewhere" has no replica here; "followed" is led by broker 2 with a follower here.
    await controller.createTopic({
      name: "elsewhere",
      partitions: 0,
      replicationFactor: 0,
      assignments: [[2]],
    });
    await controller.createTopic({
      name: "followed",
      partitions: 0,
      replicationFactor: 0,
      assignments: [[2, 1]],
    });
    await running!.broker.topics.replicas.sync("followed");
    expect(running!.broker.topics.partition("elsewhere", 0)).toBeUndefined();
    expect(running!.broker.topics.partition("followed", 0)?.role).toBe("follower");
    const notLeader = errorCode("NOT_LEADER_OR_FOLLOWER");
    for (const topic of ["elsewhere", "followed"]) {
      expect((await produce(c, topic, "x")).errorCode).toBe(notLeader);
      const fetched = await c.request(FETCH, 12, fetchRequest(topic, 0));
      expect(fetched.responses[0].partitions[0].errorCode).toBe(notLeader);
      const { partitions } = await partitionMetadata(c, topic);
      expect(partitions[0].leaderId).toBe(2);
    }
    expect((await produce(c, "elsewhere", "z", 7)).errorCode).toBe(errorCode("UNKNOWN_TOPIC_OR_PARTITION"));
    // KIP-951: Produce v10+ and Fetch v16+ name the current leader and its endpoint.
    const leader = { leaderId: 2, leaderEpoch: store.topic("followed")!.partitions[0].leaderEpoch };
    const endpoint = { nodeId: 2, host: "127.0.0.1", port: 1, rack: null };
    const produced = await c.request(PRODUCE, 10, produceRequest("followed", batchOf(1, "x")));
    expect(produced.responses[0].partitionResponses[0]).toMatchObject({
      errorCode: notLeader,
      currentLeader: leader,
    });
    expect(produced.nodeEndpoints).toEqual([endpoint]);
    const byId = fetchRequest("followed", 0);
    byId.topics[0].topicId = store.topic("followed")!.id;
    const fetched = await c.request(FETCH, 16, byId);
    expect(fetched.responses[0].partitions[0]).toMatchObject({ errorCode: notLeader, currentLeader: leader });
    expect(fetched.nodeEndpoints).toEqual([endpoint]);
    // Broker 2 gone: its replicas are offline, and "elsewhere" has no leader.
    await other.close();
    await waitFor(() => store.topic("elsewhere")?.partitions[0].leader === -1, "elsewhere leaderless");
    const { partitions } = await partitionMetadata(c, "elsewhere");
    expect(partitions[0]).toMatchObject({ leaderId: -1, offlineReplicas: [2] });
  });
});

describe("a cluster broker whose etcd cannot be reached", () => {
  it("fails to start with a clear error, touching no data", async () => {
    const dir = tempDir();
    const closed = await freePort();
    await expect(
      startTestBroker({ cluster: `etcd://127.0.0.1:${closed}`, "etcd.request.timeout.ms": 500 }, dir),
    ).rejects.toMatchObject({
      code: "REQUEST_TIMED_OUT",
      message: expect.stringContaining(`cannot reach the cluster's etcd at etcd://127.0.0.1:${closed}`),
    });
    expect(readdirSync(dir).filter((f) => !f.endsWith(".lock"))).toEqual([]);
  });
});
