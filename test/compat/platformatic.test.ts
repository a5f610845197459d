/**
 * @platformatic/kafka 1.35.0 against an in-process broker: a current client that takes the newest
 * version it knows of each API (Fetch v17, which names topics only by id; Metadata v12;
 * ListOffsets v9; Produce v11; DeleteRecords v2; JoinGroup v9 ...). Its admin (topics, configs,
 * offsets, DeleteRecords, groups), its producers (plain and idempotent, two at once), its consumer
 * (by topic id, in a group with committed offsets), and its low-level calls of the APIs its admin
 * does not wrap (DescribeCluster v1, DescribeTopicPartitions v0, DescribeProducers v0). Its
 * OffsetForLeaderEpoch v4 decoder reads a partition's fields out of Kafka's order (partition before
 * error code), so that API is tested at the protocol level only (test/broker/apis.test.ts).
 * 1.35.0's idempotent producer numbers a send's sequences only once the previous send was
 * answered, so each producer here awaits its sends in turn (concurrent sends of one producer
 * reuse sequence numbers, and Kafka, like samsa, answers the repeats as duplicates); the two
 * producers run at the same time. Every call is bounded by a timeout; what was written is read
 * back over the raw TestClient.
 */
import {
  Admin,
  ConfigResourceTypes,
  Connection,
  Consumer,
  describeClusterV1,
  describeProducersV0,
  describeTopicPartitionsV0,
  type Message,
  type MessagesStream,
  Producer,
  stringDeserializers,
  stringSerializers,
} from "@platformatic/kafka";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fetch as fetchHandler } from "../../broker/api/fetch.js";
import type { RequestContext } from "../../broker/api/types.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { TestClient } from "../helpers/kafka-client.js";
import { fetchPartition } from "./helpers.js";

/** Longest any one client call may take. */
const CALL_TIMEOUT_MS = 15_000;

let tb: TestBroker;
let client: TestClient;
let admin: Admin;
const closers: (() => Promise<unknown>)[] = [];
/** Fetch versions the broker served, recorded by a wrapper around the Fetch handler. */
const fetchVersions = new Set<number>();
const originalFetch = fetchHandler.handle;

/** Rejects when `promise` has not settled within `ms`. */
function bounded<T>(what: string, promise: Promise<T>, ms = CALL_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function base(clientId: string) {
  return { clientId, bootstrapBrokers: [`127.0.0.1:${tb.port}`], timeout: 5000, retries: 3, retryDelay: 100 };
}

function producer(clientId: string, idempotent = false): Producer<string, string, string, string> {
  const p = new Producer({ ...base(clientId), serializers: stringSerializers, idempotent, acks: -1 });
  closers.push(() => p.close());
  return p;
}

/** Leaves the group and closes, even with a stream still open. */
function closeConsumer(c: Consumer<string, string, string, string>): Promise<void> {
  return new Promise((resolve, reject) => c.close(true, (err) => (err ? reject(err) : resolve())));
}

function consumer(clientId: string, groupId: string): Consumer<string, string, string, string> {
  const c = new Consumer({ ...base(clientId), groupId, deserializers: stringDeserializers });
  closers.push(() => closeConsumer(c));
  return c;
}

/** Reads `count` messages from `stream`, bounded. */
async function take<T>(
  stream: MessagesStream<string, string, string, string>,
  count: number,
  map: (m: Message<string, string, string, string>) => T,
) {
  const got: T[] = [];
  await bounded(
    `read ${count} records`,
    (async () => {
      for await (const m of stream) {
        got.push(map(m));
        if (got.length === count) break;
      }
    })(),
  );
  return got;
}

async function connection(): Promise<Connection> {
  const conn = new Connection("samsa-compat-raw");
  await bounded("connect", conn.connect("127.0.0.1", tb.port) as Promise<void>);
  closers.push(() => conn.close() as Promise<void>);
  return conn;
}

beforeAll(async () => {
  fetchHandler.handle = (broker, request, ctx: RequestContext) => {
    fetchVersions.add(ctx.apiVersion);
    return originalFetch.call(fetchHandler, broker, request, ctx);
  };
  tb = await startTestBroker({ "num.partitions": 3, "group.initial.rebalance.delay.ms": 0 });
  client = await TestClient.connect(tb.port);
  admin = new Admin(base("samsa-compat-admin"));
});

afterAll(async () => {
  fetchHandler.handle = originalFetch;
  for (const close of closers.reverse()) await bounded("close", close()).catch(() => {});
  await admin?.close().catch(() => {});
  client?.close();
  await tb?.stop();
});

const hex = (uuid: string | undefined) => uuid?.replace(/-/g, "");

describe("@platformatic/kafka admin", () => {
  it("creates, lists, describes (ids, configs) and deletes topics", async () => {
    const created = await bounded(
      "createTopics",
      admin.createTopics({
        topics: ["pa-admin"],
        partitions: 4,
        replicas: 1,
        configs: [{ name: "retention.ms", value: "3600000" }],
      }),
    );
    expect(created[0]).toMatchObject({ name: "pa-admin", partitions: 4 });
    expect(await bounded("listTopics", admin.listTopics())).toContain("pa-admin");
    const meta = await bounded("metadata", admin.metadata({ topics: ["pa-admin"] }));
    const topic = meta.topics.get("pa-admin");
    expect(topic?.partitionsCount).toBe(4);
    expect(hex(topic?.id)).toBe(tb.broker.store.topic("pa-admin")?.id);
    const configs = await bounded(
      "describeConfigs",
      admin.describeConfigs({
        resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: "pa-admin" }],
      }),
    );
    const retention = configs[0].configs.find((c) => c.name === "retention.ms");
    expect(retention?.value).toBe("3600000");
    await bounded("deleteTopics", admin.deleteTopics({ topics: ["pa-admin"] }));
    expect(await bounded("listTopics", admin.listTopics())).not.toContain("pa-admin");
  });

  it("DescribeCluster and DescribeTopicPartitions (paged) through its own encoders", async () => {
    await bounded(
      "createTopics",
      admin.createTopics({ topics: ["pa-describe"], partitions: 3, replicas: 1 }),
    );
    const conn = await connection();
    const cluster = await bounded("DescribeCluster v1", describeClusterV1.api.async(conn, false, 1));
    expect(cluster.clusterId).toBe(tb.broker.store.clusterId());
    expect(cluster.brokers).toEqual([expect.objectContaining({ brokerId: 1, port: tb.port })]);
    const first = await bounded(
      "DescribeTopicPartitions v0",
      describeTopicPartitionsV0.api.async(conn, [{ name: "pa-describe" }], 2),
    );
    expect(first.topics[0].partitions.map((p) => p.partitionIndex)).toEqual([0, 1]);
    expect(hex(first.topics[0].topicId)).toBe(tb.broker.store.topic("pa-describe")?.id);
    expect(first.nextCursor).toEqual({ topicName: "pa-describe", partitionIndex: 2 });
    const rest = await bounded(
      "DescribeTopicPartitions v0 (cursor)",
      describeTopicPartitionsV0.api.async(conn, [{ name: "pa-describe" }], 2, first.nextCursor),
    );
    expect(rest.topics[0].partitions.map((p) => p.partitionIndex)).toEqual([2]);
    expect(rest.nextCursor).toBeUndefined();
  });
});

describe("@platformatic/kafka produce and consume", () => {
  it("produces, then consumes by topic id with Fetch v17", async () => {
    await bounded("createTopics", admin.createTopics({ topics: ["pa-data"], partitions: 1, replicas: 1 }));
    const p = producer("pa-producer");
    const messages = Array.from({ length: 10 }, (_, i) => ({
      topic: "pa-data",
      key: `k${i}`,
      value: `v${i}`,
      partition: 0,
    }));
    const sent = await bounded("send", p.send({ messages }));
    expect(sent.offsets?.[0]).toMatchObject({ topic: "pa-data", partition: 0 });
    const c = consumer("pa-consumer", "pa-data-group");
    const stream = await bounded(
      "consume",
      c.consume({
        topics: ["pa-data"],
        mode: "earliest",
        autocommit: false,
        sessionTimeout: 10_000,
        heartbeatInterval: 500,
      }),
    );
    const got = await take(stream, 10, (m) => `${m.key}=${m.value}@${m.offset}`);
    expect(got).toEqual(Array.from({ length: 10 }, (_, i) => `k${i}=v${i}@${i}`));
    expect([...fetchVersions]).toEqual([17]);
    const read = await fetchPartition(client, "pa-data", 0);
    expect(read.records.map((r) => r.value?.toString())).toEqual(messages.map((m) => m.value));
  });

  it("a consumer group commits offsets, and a new member resumes after them", async () => {
    await bounded("createTopics", admin.createTopics({ topics: ["pa-group"], partitions: 2, replicas: 1 }));
    const p = producer("pa-group-producer");
    const values = Array.from({ length: 8 }, (_, i) => `g${i}`);
    await bounded(
      "send",
      p.send({ messages: values.map((v, i) => ({ topic: "pa-group", value: v, partition: i % 2 })) }),
    );
    const first = consumer("pa-group-1", "pa-group-g");
    const stream = await bounded(
      "consume",
      first.consume({
        topics: ["pa-group"],
        mode: "earliest",
        autocommit: false,
        sessionTimeout: 10_000,
        heartbeatInterval: 500,
      }),
    );
    const seen = await take(stream, 8, (m) => m);
    for (const m of seen) await bounded("commit", m.commit() as Promise<void>);
    await bounded("close", closeConsumer(first));
    const offsets = await bounded(
      "listConsumerGroupOffsets",
      admin.listConsumerGroupOffsets({ groups: ["pa-group-g"] }),
    );
    const committed = offsets[0].topics.find((t) => t.name === "pa-group")?.partitions;
    expect(committed?.map((x) => [x.partitionIndex, x.committedOffset]).sort()).toEqual([
      [0, 4n],
      [1, 4n],
    ]);
    const groups = await bounded("listGroups", admin.listGroups());
    expect([...groups.keys()]).toContain("pa-group-g");
    await bounded("send", p.send({ messages: [{ topic: "pa-group", value: "after", partition: 1 }] }));
    const second = consumer("pa-group-2", "pa-group-g");
    const resumed = await bounded(
      "consume",
      second.consume({
        topics: ["pa-group"],
        mode: "committed",
        autocommit: false,
        sessionTimeout: 10_000,
        heartbeatInterval: 500,
      }),
    );
    expect(await take(resumed, 1, (m) => `${m.value}@${m.partition}/${m.offset}`)).toEqual(["after@1/4"]);
  });

  it("two idempotent producers at once: every acknowledged record is in the log once", async () => {
    await bounded("createTopics", admin.createTopics({ topics: ["pa-idem"], partitions: 1, replicas: 1 }));
    const a = producer("pa-idem-a", true);
    const b = producer("pa-idem-b", true);
    const run = async (name: string, p: Producer<string, string, string, string>) => {
      for (let i = 0; i < 20; i++) {
        await p.send({ messages: [{ topic: "pa-idem", key: name, value: `${name}${i}`, partition: 0 }] });
      }
    };
    await bounded("40 idempotent sends", Promise.all([run("a", a), run("b", b)]));
    const read = await fetchPartition(client, "pa-idem", 0);
    const values = read.records.map((r) => r.value?.toString() ?? "");
    expect(values).toHaveLength(40);
    for (const name of ["a", "b"]) {
      expect(values.filter((v) => v.startsWith(name))).toEqual(
        Array.from({ length: 20 }, (_, i) => `${name}${i}`),
      );
    }
    const producerIds = new Set(read.batches.map((h) => h.producerId));
    expect(producerIds.size).toBe(2);
    expect([...producerIds].every((id) => id >= 0)).toBe(true);
    const conn = await connection();
    const described = await bounded(
      "DescribeProducers v0",
      describeProducersV0.api.async(conn, [{ name: "pa-idem", partitionIndexes: [0] }]),
    );
    const active = described.topics[0].partitions[0].activeProducers;
    expect(new Set(active.map((x) => Number(x.producerId)))).toEqual(producerIds);
    expect(active.map((x) => x.lastSequence)).toEqual([19, 19]);
  });

  it("DeleteRecords moves the log start: ListOffsets earliest and a new consumer start there", async () => {
    await bounded("createTopics", admin.createTopics({ topics: ["pa-trim"], partitions: 1, replicas: 1 }));
    const p = producer("pa-trim-producer");
    for (let i = 0; i < 6; i++) {
      await bounded("send", p.send({ messages: [{ topic: "pa-trim", value: `t${i}`, partition: 0 }] }));
    }
    const deleted = await bounded(
      "deleteRecords",
      admin.deleteRecords({ topics: [{ name: "pa-trim", partitions: [{ partition: 0, offset: 4n }] }] }),
    );
    expect(deleted[0].partitions[0]).toMatchObject({ partition: 0, lowWatermark: 4n });
    const earliest = await bounded(
      "listOffsets",
      admin.listOffsets({
        topics: [{ name: "pa-trim", partitions: [{ partitionIndex: 0, timestamp: -2n }] }],
      }),
    );
    expect(earliest[0].partitions[0].offset).toBe(4n);
    const c = consumer("pa-trim-consumer", "pa-trim-group");
    const stream = await bounded(
      "consume",
      c.consume({
        topics: ["pa-trim"],
        mode: "earliest",
        autocommit: false,
        sessionTimeout: 10_000,
        heartbeatInterval: 500,
      }),
    );
    expect(await take(stream, 2, (m) => `${m.value}@${m.offset}`)).toEqual(["t4@4", "t5@5"]);
  });
});
