/**
 * The APIs current clients and admin tools call, at the protocol level with the raw TestClient and
 * at every version served: topic ids (persisted, new on re-creation, assigned to old data dirs),
 * Fetch v13-v17 by topic id, Metadata v10-v13, ListOffsets after DeleteRecords, DeleteRecords
 * (durable log start), OffsetForLeaderEpoch, DescribeCluster, DescribeTopicPartitions (paging),
 * DescribeProducers, the advertised version ranges (Kafka 4's floors, docs/decisions/0010), and
 * the warn-level log line for an API key or version this broker does not serve.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Broker } from "../../broker/broker.js";
import { loadBrokerConfig } from "../../broker/config.js";
import { METADATA_FILE } from "../../broker/metadata/file-store.js";
import type { Message } from "../../protocol/codec.js";
import { errorCode } from "../../protocol/errors.js";
import { encodeRecordBatch } from "../../protocol/record-batch.js";
import { LOG_START_OFFSET_CHECKPOINT } from "../../storage/checkpoint.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { TestClient } from "../helpers/kafka-client.js";
import { RawConn, rawFrame } from "../helpers/raw-conn.js";
import { batchOf } from "../helpers/records.js";
import { produceRequest } from "../helpers/requests.js";

const PRODUCE = 0;
const FETCH = 1;
const LIST_OFFSETS = 2;
const METADATA = 3;
const API_VERSIONS = 18;
const CREATE_TOPICS = 19;
const DELETE_TOPICS = 20;
const DELETE_RECORDS = 21;
const INIT_PRODUCER_ID = 22;
const OFFSET_FOR_LEADER_EPOCH = 23;
const DESCRIBE_CLUSTER = 60;
const DESCRIBE_PRODUCERS = 61;
const DESCRIBE_TOPIC_PARTITIONS = 75;

const ZERO_UUID = "0".repeat(32);
const code = errorCode;
const range = (lo: number, hi: number) => Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);

let tb: TestBroker;
let c: TestClient;

beforeAll(async () => {
  tb = await startTestBroker({ "num.partitions": 1 });
  c = await TestClient.connect(tb.port);
});

afterAll(async () => {
  c?.close();
  await tb?.stop();
});

async function createTopic(
  client: TestClient,
  name: string,
  partitions = 1,
  configs: Record<string, string> = {},
) {
  const r = await client.request(CREATE_TOPICS, 7, {
    topics: [
      {
        name,
        numPartitions: partitions,
        replicationFactor: 1,
        assignments: [],
        configs: Object.entries(configs).map(([k, v]) => ({ name: k, value: v })),
      },
    ],
    timeoutMs: 5000,
  });
  expect(r.topics[0].errorCode).toBe(0);
  return r.topics[0].topicId as string;
}

async function produce(client: TestClient, topic: string, records: Buffer, partition = 0) {
  const r = await client.request(PRODUCE, 9, produceRequest(topic, records, -1, partition));
  const p = r.responses[0].partitionResponses[0];
  expect(p.errorCode).toBe(0);
  return p.baseOffset as number;
}

function fetchById(topicId: string, offset: number): Message {
  return {
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1 << 20,
    sessionEpoch: -1,
    topics: [
      {
        topicId,
        partitions: [
          { partition: 0, currentLeaderEpoch: -1, fetchOffset: offset, partitionMaxBytes: 1 << 20 },
        ],
      },
    ],
    forgottenTopicsData: [],
  };
}

function listOffsets(topic: string, timestamp: number): Message {
  return {
    replicaId: -1,
    topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp }] }],
  };
}

async function metadataTopic(client: TestClient, version: number, name: string) {
  const r = await client.request(METADATA, version, { topics: [{ name }], allowAutoTopicCreation: false });
  return r.topics[0];
}

describe("ApiVersions", () => {
  it("advertises Kafka 4's ranges for the APIs of this change (docs/decisions/0010)", async () => {
    const r = await c.request(API_VERSIONS, 3, { clientSoftwareName: "t", clientSoftwareVersion: "1" });
    const ranges = new Map((r.apiKeys as Message[]).map((k) => [k.apiKey, [k.minVersion, k.maxVersion]]));
    expect(ranges.get(PRODUCE)).toEqual([0, 11]);
    expect(ranges.get(FETCH)).toEqual([4, 17]);
    expect(ranges.get(LIST_OFFSETS)).toEqual([1, 11]);
    expect(ranges.get(METADATA)).toEqual([0, 13]);
    expect(ranges.get(DELETE_RECORDS)).toEqual([0, 2]);
    expect(ranges.get(OFFSET_FOR_LEADER_EPOCH)).toEqual([2, 4]);
    expect(ranges.get(DESCRIBE_CLUSTER)).toEqual([0, 2]);
    expect(ranges.get(DESCRIBE_PRODUCERS)).toEqual([0, 0]);
    expect(ranges.get(DESCRIBE_TOPIC_PARTITIONS)).toEqual([0, 0]);
    // The floors KIP-896 raised elsewhere, and the versions Kafka 4 kept (JoinGroup v0-v1).
    expect(ranges.get(8)).toEqual([2, 10]); // OffsetCommit
    expect(ranges.get(9)).toEqual([1, 10]); // OffsetFetch
    expect(ranges.get(11)).toEqual([0, 9]); // JoinGroup
    expect(ranges.get(CREATE_TOPICS)).toEqual([2, 7]);
    expect(ranges.get(DELETE_TOPICS)).toEqual([1, 6]);
    expect(ranges.get(32)).toEqual([1, 4]); // DescribeConfigs
    expect(ranges.get(35)).toEqual([1, 3]); // DescribeLogDirs
  });
});

describe("topic ids", () => {
  it("Metadata v10-v13 return the stored id; a re-created topic gets a new one", async () => {
    const id = await createTopic(c, "ids");
    expect(id).not.toBe(ZERO_UUID);
    expect(tb.broker.store.topic("ids")?.id).toBe(id);
    for (const v of range(10, 13)) expect((await metadataTopic(c, v, "ids")).topicId, `v${v}`).toBe(id);
    const byId = await c.request(METADATA, 12, { topics: [{ topicId: id, name: null }] });
    expect(byId.topics[0]).toMatchObject({ errorCode: 0, name: "ids", topicId: id });
    expect(
      (await c.request(DELETE_TOPICS, 6, { topics: [{ name: "ids" }], timeoutMs: 5000 })).responses[0]
        .errorCode,
    ).toBe(0);
    const again = await createTopic(c, "ids");
    expect(again).not.toBe(id);
    const gone = await c.request(METADATA, 12, { topics: [{ topicId: id, name: null }] });
    expect(gone.topics[0].errorCode).toBe(code("UNKNOWN_TOPIC_ID"));
  });

  it("survive a restart; a data dir whose topics have no id gets ids assigned and kept", async () => {
    const own = await startTestBroker();
    let client = await TestClient.connect(own.port);
    const id = await createTopic(client, "kept");
    await createTopic(client, "legacy");
    client.close();
    await own.stop(true);
    // A data dir written before topics had ids: remove one from the metadata file.
    const file = path.join(own.dataDir, METADATA_FILE);
    const doc = JSON.parse(readFileSync(file, "utf8"));
    for (const t of doc.topics) if (t.name === "legacy") delete t.id;
    writeFileSync(file, JSON.stringify(doc));
    const second = await startTestBroker({}, own.dataDir);
    client = await TestClient.connect(second.port);
    expect((await metadataTopic(client, 12, "kept")).topicId).toBe(id);
    const assigned = (await metadataTopic(client, 12, "legacy")).topicId as string;
    expect(assigned).toMatch(/^[0-9a-f]{32}$/);
    expect(assigned).not.toBe(ZERO_UUID);
    // Persisted before any client saw it.
    const stored = JSON.parse(readFileSync(file, "utf8"));
    expect(stored.topics.find((t: { name: string }) => t.name === "legacy").id).toBe(assigned);
    client.close();
    await second.stop(true);
    const third = await startTestBroker({}, own.dataDir);
    client = await TestClient.connect(third.port);
    expect((await metadataTopic(client, 12, "legacy")).topicId).toBe(assigned);
    client.close();
    await third.stop();
  });
});

describe("Fetch v13-v17 (topic ids)", () => {
  let id: string;
  beforeAll(async () => {
    id = await createTopic(c, "by-id");
    await produce(c, "by-id", batchOf(3, "r"));
  });

  it.each(range(13, 17))("v%i reads by topic id and answers with the id", async (v) => {
    const r = await c.request(FETCH, v, fetchById(id, 0));
    expect(r.errorCode).toBe(0);
    expect(r.responses[0].topicId).toBe(id);
    const p = r.responses[0].partitions[0];
    expect(p).toMatchObject({ errorCode: 0, highWatermark: 3, logStartOffset: 0 });
    expect((p.records as Buffer).length).toBeGreaterThan(0);
  });

  it.each(range(13, 17))("v%i answers UNKNOWN_TOPIC_ID on each partition of an unknown id", async (v) => {
    const unknown = "f".repeat(32);
    const body = fetchById(unknown, 0);
    body.topics[0].partitions.push({
      partition: 1,
      currentLeaderEpoch: -1,
      fetchOffset: 0,
      partitionMaxBytes: 100,
    });
    const r = await c.request(FETCH, v, body);
    expect(r.errorCode).toBe(0);
    expect(r.responses[0].topicId).toBe(unknown);
    expect(r.responses[0].partitions.map((p: Message) => [p.partitionIndex, p.errorCode])).toEqual([
      [0, code("UNKNOWN_TOPIC_ID")],
      [1, code("UNKNOWN_TOPIC_ID")],
    ]);
  });

  it("v15-v17 refuse a replica id in ReplicaState from a client that is not inter-broker", async () => {
    for (const v of range(15, 17)) {
      const body = { ...fetchById(id, 0), replicaState: { replicaId: 2, replicaEpoch: 1 } };
      expect((await c.request(FETCH, v, body)).errorCode, `v${v}`).toBe(code("CLUSTER_AUTHORIZATION_FAILED"));
    }
  });

  it("v12 still reads by name, and answers without ids", async () => {
    const r = await c.request(FETCH, 12, {
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1 << 20,
      sessionEpoch: -1,
      topics: [
        { topic: "by-id", partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20 }] },
      ],
    });
    expect(r.responses[0]).toMatchObject({ topic: "by-id" });
    expect(r.responses[0].partitions[0].highWatermark).toBe(3);
  });
});

describe("DeleteRecords v0-v2", () => {
  it.each(range(0, 2))("v%i moves the log start; fetch below it and ListOffsets see it", async (v) => {
    const topic = `trim-${v}`;
    const id = await createTopic(c, topic);
    for (let i = 0; i < 5; i++) await produce(c, topic, batchOf(2, `b${i}`));
    const r = await c.request(DELETE_RECORDS, v, {
      topics: [{ name: topic, partitions: [{ partitionIndex: 0, offset: 4 }] }],
      timeoutMs: 5000,
    });
    expect(r.topics[0].partitions[0]).toEqual({ partitionIndex: 0, lowWatermark: 4, errorCode: 0 });
    expect((await c.request(LIST_OFFSETS, 7, listOffsets(topic, -2))).topics[0].partitions[0].offset).toBe(4);
    const below = await c.request(FETCH, 17, fetchById(id, 2));
    expect(below.responses[0].partitions[0]).toMatchObject({
      errorCode: code("OFFSET_OUT_OF_RANGE"),
      logStartOffset: 4,
    });
    const at = await c.request(FETCH, 17, fetchById(id, 4));
    expect(at.responses[0].partitions[0]).toMatchObject({ errorCode: 0, logStartOffset: 4 });
    // Never backwards: a lower offset changes nothing.
    const lower = await c.request(DELETE_RECORDS, v, {
      topics: [{ name: topic, partitions: [{ partitionIndex: 0, offset: 1 }] }],
      timeoutMs: 5000,
    });
    expect(lower.topics[0].partitions[0]).toMatchObject({ lowWatermark: 4, errorCode: 0 });
  });

  it("offset -1 means the high watermark; beyond it, other negatives, unknown partitions, internal and compacted topics are refused", async () => {
    await createTopic(c, "trim-errors");
    await createTopic(c, "trim-compacted", 1, { "cleanup.policy": "compact" });
    await produce(c, "trim-errors", batchOf(3, "e"));
    await produce(c, "trim-compacted", batchOf(3, "e"));
    const ask = async (name: string, partitionIndex: number, offset: number) =>
      (
        await c.request(DELETE_RECORDS, 2, {
          topics: [{ name, partitions: [{ partitionIndex, offset }] }],
          timeoutMs: 1000,
        })
      ).topics[0].partitions[0];
    expect(await ask("trim-errors", 0, 4)).toMatchObject({
      errorCode: code("OFFSET_OUT_OF_RANGE"),
      lowWatermark: -1,
    });
    expect(await ask("trim-errors", 0, -2)).toMatchObject({ errorCode: code("OFFSET_OUT_OF_RANGE") });
    expect(await ask("trim-errors", 5, 0)).toMatchObject({ errorCode: code("UNKNOWN_TOPIC_OR_PARTITION") });
    expect(await ask("no-such-topic", 0, 0)).toMatchObject({ errorCode: code("UNKNOWN_TOPIC_OR_PARTITION") });
    expect(await ask("__consumer_offsets", 0, 0)).toMatchObject({
      errorCode: code("INVALID_TOPIC_EXCEPTION"),
    });
    expect(await ask("trim-compacted", 0, 1)).toMatchObject({ errorCode: code("POLICY_VIOLATION") });
    expect(await ask("trim-errors", 0, -1)).toMatchObject({ errorCode: 0, lowWatermark: 3 });
  });

  it("is checkpointed before the answer, survives a restart, and deletes the segments below it", async () => {
    const own = await startTestBroker({ "log.segment.bytes": 1024 });
    let client = await TestClient.connect(own.port);
    const id = await createTopic(client, "durable");
    for (let i = 0; i < 20; i++) await produce(client, "durable", batchOf(4, `d${i}-${"x".repeat(100)}`));
    const segments = () => own.broker.topics.partition("durable", 0)?.segmentCount() ?? 0;
    const before = segments();
    expect(before).toBeGreaterThan(3);
    const r = await client.request(DELETE_RECORDS, 2, {
      topics: [{ name: "durable", partitions: [{ partitionIndex: 0, offset: 50 }] }],
      timeoutMs: 1000,
    });
    expect(r.topics[0].partitions[0]).toMatchObject({ errorCode: 0, lowWatermark: 50 });
    // On disk already: a kill -9 now would find it.
    const checkpoint = readFileSync(path.join(own.dataDir, LOG_START_OFFSET_CHECKPOINT), "utf8");
    expect(checkpoint.split("\n")).toContain("durable 0 50");
    expect(segments()).toBeLessThan(before);
    client.close();
    await own.stop(true);
    const again = await startTestBroker({ "log.segment.bytes": 1024 }, own.dataDir);
    client = await TestClient.connect(again.port);
    expect(
      (await client.request(LIST_OFFSETS, 11, { ...listOffsets("durable", -2), timeoutMs: 1000 })).topics[0]
        .partitions[0].offset,
    ).toBe(50);
    const below = await client.request(FETCH, 17, fetchById(id, 49));
    expect(below.responses[0].partitions[0].errorCode).toBe(code("OFFSET_OUT_OF_RANGE"));
    client.close();
    await again.stop();
  });
});

describe("OffsetForLeaderEpoch v2-v4", () => {
  beforeAll(async () => {
    await createTopic(c, "epochs");
    await createTopic(c, "epochs-empty");
    await produce(c, "epochs", batchOf(4, "e"));
  });

  const body = (partition: number, leaderEpoch: number, currentLeaderEpoch = -1, replicaId = -1) => ({
    replicaId,
    topics: [{ topic: "epochs", partitions: [{ partition, currentLeaderEpoch, leaderEpoch }] }],
  });

  it.each(range(2, 4))(
    "v%i: the end offset of an epoch from the leader-epoch cache; fencing; unknown partitions",
    async (v) => {
      const ask = async (b: Message) =>
        (await c.request(OFFSET_FOR_LEADER_EPOCH, v, b)).topics[0].partitions[0];
      expect(await ask(body(0, 0))).toEqual({ errorCode: 0, partition: 0, leaderEpoch: 0, endOffset: 4 });
      expect(await ask(body(0, 0, 0))).toMatchObject({ errorCode: 0, endOffset: 4 });
      // An epoch newer than any known: undefined (-1, -1), no error.
      expect(await ask(body(0, 5))).toEqual({ errorCode: 0, partition: 0, leaderEpoch: -1, endOffset: -1 });
      expect(await ask(body(0, 0, 3))).toMatchObject({
        errorCode: code("UNKNOWN_LEADER_EPOCH"),
        endOffset: -1,
      });
      expect(await ask(body(7, 0))).toMatchObject({ errorCode: code("UNKNOWN_TOPIC_OR_PARTITION") });
      // An empty partition: the leader's epoch ends at the log end (0), as on Kafka.
      const empty = await c.request(OFFSET_FOR_LEADER_EPOCH, v, {
        replicaId: -1,
        topics: [
          { topic: "epochs-empty", partitions: [{ partition: 0, currentLeaderEpoch: 0, leaderEpoch: 0 }] },
        ],
      });
      expect(empty.topics[0].partitions[0]).toEqual({
        errorCode: 0,
        partition: 0,
        leaderEpoch: 0,
        endOffset: 0,
      });
    },
  );

  it("v3-v4 refuse a follower's replica id from a client that is not inter-broker", async () => {
    for (const v of [3, 4]) {
      const p = (await c.request(OFFSET_FOR_LEADER_EPOCH, v, body(0, 0, -1, 2))).topics[0].partitions[0];
      expect(p.errorCode, `v${v}`).toBe(code("CLUSTER_AUTHORIZATION_FAILED"));
    }
  });
});

describe("DescribeCluster v0-v2", () => {
  it.each(range(0, 2))("v%i: cluster id, controller and brokers", async (v) => {
    const r = await c.request(DESCRIBE_CLUSTER, v, {
      includeClusterAuthorizedOperations: false,
      endpointType: 1,
    });
    expect(r).toMatchObject({ errorCode: 0, clusterId: tb.broker.store.clusterId(), controllerId: 1 });
    expect(r.brokers).toEqual([
      expect.objectContaining({ brokerId: 1, host: "127.0.0.1", port: tb.port, rack: null }),
    ]);
  });

  it("v1+ refuse controller (MISMATCHED_ENDPOINT_TYPE) and unknown (UNSUPPORTED_ENDPOINT_TYPE) endpoint types", async () => {
    expect((await c.request(DESCRIBE_CLUSTER, 1, { endpointType: 2 })).errorCode).toBe(
      code("MISMATCHED_ENDPOINT_TYPE"),
    );
    expect((await c.request(DESCRIBE_CLUSTER, 2, { endpointType: 9 })).errorCode).toBe(
      code("UNSUPPORTED_ENDPOINT_TYPE"),
    );
  });
});

describe("DescribeTopicPartitions v0", () => {
  beforeAll(async () => {
    await createTopic(c, "dtp-a", 3);
    await createTopic(c, "dtp-b", 2);
  });

  const describeTopics = (names: string[], limit: number, cursor: Message | null = null) =>
    c.request(DESCRIBE_TOPIC_PARTITIONS, 0, {
      topics: names.map((name) => ({ name })),
      responsePartitionLimit: limit,
      cursor,
    });
  const shape = (r: Message) =>
    (r.topics as Message[]).map((t) => [
      t.name,
      t.errorCode,
      t.partitions.map((p: Message) => p.partitionIndex),
    ]);

  it("pages partitions across topics with the cursor, in name order", async () => {
    const first = await describeTopics(["dtp-b", "dtp-a"], 2);
    expect(shape(first)).toEqual([["dtp-a", 0, [0, 1]]]);
    expect(first.nextCursor).toEqual({ topicName: "dtp-a", partitionIndex: 2 });
    const second = await describeTopics(["dtp-b", "dtp-a"], 2, first.nextCursor);
    expect(shape(second)).toEqual([
      ["dtp-a", 0, [2]],
      ["dtp-b", 0, [0]],
    ]);
    expect(second.nextCursor).toEqual({ topicName: "dtp-b", partitionIndex: 1 });
    const third = await describeTopics(["dtp-b", "dtp-a"], 2, second.nextCursor);
    expect(shape(third)).toEqual([["dtp-b", 0, [1]]]);
    expect(third.nextCursor).toBeNull();
    const a = (await describeTopics(["dtp-a"], 10)).topics[0];
    expect(a).toMatchObject({ topicId: tb.broker.store.topic("dtp-a")?.id, isInternal: false });
    expect(a.partitions[0]).toMatchObject({
      leaderId: 1,
      leaderEpoch: 0,
      replicaNodes: [1],
      isrNodes: [1],
      eligibleLeaderReplicas: null,
    });
  });

  it("no topics named means every topic; unknown topics and bad cursors are errors", async () => {
    const all = await describeTopics([], 2000);
    const names = (all.topics as Message[]).map((t) => t.name);
    expect(names).toEqual([...names].sort());
    expect(names).toEqual(expect.arrayContaining(["dtp-a", "dtp-b", "by-id"]));
    const unknown = await describeTopics(["dtp-none"], 10);
    expect(shape(unknown)).toEqual([["dtp-none", code("UNKNOWN_TOPIC_OR_PARTITION"), []]]);
    expect(unknown.topics[0].topicId).toBe(ZERO_UUID);
    const outside = await describeTopics(["dtp-a"], 10, { topicName: "dtp-b", partitionIndex: 0 });
    expect(shape(outside)).toEqual([["dtp-a", code("INVALID_REQUEST"), []]]);
    const negative = await describeTopics(["dtp-a"], 10, { topicName: "dtp-a", partitionIndex: -1 });
    expect(shape(negative)).toEqual([["dtp-a", code("INVALID_REQUEST"), []]]);
  });
});

describe("DescribeProducers v0", () => {
  it("lists each idempotent producer's id, epoch and last sequence per partition", async () => {
    await createTopic(c, "producers", 2);
    const init = await c.request(INIT_PRODUCER_ID, 4, {
      transactionalId: null,
      transactionTimeoutMs: 1000,
      producerId: -1,
      producerEpoch: -1,
    });
    const pid = init.producerId as number;
    const records = (seq: number, n: number) =>
      encodeRecordBatch(
        Array.from({ length: n }, (_, i) => ({ value: Buffer.from(`p${seq + i}`) })),
        { producerId: pid, producerEpoch: 0, baseSequence: seq },
      );
    await produce(c, "producers", records(0, 3));
    await produce(c, "producers", records(3, 2));
    const r = await c.request(DESCRIBE_PRODUCERS, 0, {
      topics: [{ name: "producers", partitionIndexes: [0, 1, 9] }],
    });
    const [p0, p1, p9] = r.topics[0].partitions as Message[];
    expect(p0).toMatchObject({ partitionIndex: 0, errorCode: 0, errorMessage: null });
    expect(p0.activeProducers).toEqual([
      {
        producerId: pid,
        producerEpoch: 0,
        lastSequence: 4,
        lastTimestamp: -1,
        coordinatorEpoch: -1,
        currentTxnStartOffset: -1,
      },
    ]);
    expect(p1).toMatchObject({ partitionIndex: 1, errorCode: 0, activeProducers: [] });
    expect(p9).toMatchObject({
      partitionIndex: 9,
      errorCode: code("UNKNOWN_TOPIC_OR_PARTITION"),
      activeProducers: [],
    });
  });
});

describe("OffsetCommit and OffsetFetch v10 (topic ids)", () => {
  it("commit and fetch by topic id; unknown ids get UNKNOWN_TOPIC_ID and commit nothing", async () => {
    const id = await createTopic(c, "committed", 2);
    const unknown = "e".repeat(32);
    const commit = await c.request(8, 10, {
      groupId: "by-id",
      generationIdOrMemberEpoch: -1,
      memberId: "",
      topics: [
        { topicId: id, partitions: [{ partitionIndex: 1, committedOffset: 7, committedMetadata: "m" }] },
        {
          topicId: unknown,
          partitions: [{ partitionIndex: 0, committedOffset: 3, committedMetadata: null }],
        },
      ],
    });
    expect(commit.topics).toMatchObject([
      { topicId: id, partitions: [{ partitionIndex: 1, errorCode: 0 }] },
      { topicId: unknown, partitions: [{ partitionIndex: 0, errorCode: code("UNKNOWN_TOPIC_ID") }] },
    ]);
    const fetched = await c.request(9, 10, {
      groups: [
        {
          groupId: "by-id",
          topics: [
            { topicId: id, partitionIndexes: [0, 1] },
            { topicId: unknown, partitionIndexes: [0] },
          ],
        },
      ],
    });
    const [g] = fetched.groups as Message[];
    expect(g.errorCode).toBe(0);
    expect(
      (g.topics as Message[]).map((t) => [
        t.topicId,
        (t.partitions as Message[]).map((p) => [
          p.partitionIndex,
          p.committedOffset,
          p.metadata,
          p.errorCode,
        ]),
      ]),
    ).toEqual([
      [
        id,
        [
          [0, -1, "", 0],
          [1, 7, "m", 0],
        ],
      ],
      [unknown, [[0, -1, "", code("UNKNOWN_TOPIC_ID")]]],
    ]);
    // Every committed partition of the group, under the topic's id.
    const all = await c.request(9, 10, { groups: [{ groupId: "by-id", topics: null }] });
    expect((all.groups as Message[])[0].topics).toMatchObject([
      {
        topicId: id,
        partitions: [expect.objectContaining({ partitionIndex: 1, committedOffset: 7, errorCode: 0 })],
      },
    ]);
    // The name-based versions see the same commit.
    const v9 = await c.request(9, 9, {
      groups: [{ groupId: "by-id", topics: [{ name: "committed", partitionIndexes: [1] }] }],
    });
    expect((v9.groups as Message[])[0].topics[0].partitions[0].committedOffset).toBe(7);
  });
});

describe("requests this broker does not serve", () => {
  it("an unknown API key or an unserved version closes the connection with a warn-level log line", async () => {
    const lines: string[] = [];
    const dataDir = path.join(tb.dataDir, "..", `${path.basename(tb.dataDir)}-unserved`);
    const broker = await Broker.start(
      loadBrokerConfig({ flags: { "data.dir": dataDir, "kafka.port": 0, "http.port": 0 } }),
      { logger: pino({ level: "warn" }, { write: (line: string) => void lines.push(line) }) },
    );
    try {
      for (const [apiKey, version, expected] of [
        [999, 0, "unknown API key 999"],
        [OFFSET_FOR_LEADER_EPOCH, 1, "OffsetForLeaderEpoch v1 is not supported (v2-v4 are)"],
        [LIST_OFFSETS, 0, "ListOffsets v0 is not supported (v1-v11 are)"],
        [FETCH, 18, "Fetch v18 is not supported (v4-v17 are)"],
        [8, 1, "OffsetCommit v1 is not supported (v2-v10 are)"],
      ] as const) {
        const conn = await RawConn.connect(broker.kafkaPort);
        await conn.write(rawFrame(apiKey, version, 7, Buffer.alloc(8)));
        expect(await conn.waitClosed(5000), `${apiKey} v${version}`).toBe(true);
        const logged = lines.map((l) => JSON.parse(l)).find((l) => String(l.msg).startsWith(expected));
        expect(logged, expected).toMatchObject({ level: 40, apiKey, apiVersion: version, clientId: "raw" });
        expect(logged.msg).toContain("ApiVersions lists the APIs and versions served");
      }
    } finally {
      await broker.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
