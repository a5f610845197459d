/**
 * Admin APIs against an in-process broker: CreateTopics, DeleteTopics, CreatePartitions,
 * DescribeConfigs, AlterConfigs and IncrementalAlterConfigs, each at its oldest and newest
 * version and a flexible one, spoken with the raw TestClient. The broker runs with
 * num.partitions=3 and log.segment.ms set, so broker defaults and static broker configs show.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Message } from "../../protocol/codec.js";
import { errorCode } from "../../protocol/errors.js";
import { DEFAULT_LOG_CONFIG } from "../../storage/config.js";
import { TOPIC_CONFIGS } from "../../storage/topic-configs.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { TestClient } from "../helpers/kafka-client.js";

const CREATE_TOPICS = 19;
const DELETE_TOPICS = 20;
const DESCRIBE_CONFIGS = 32;
const ALTER_CONFIGS = 33;
const CREATE_PARTITIONS = 37;
const INCREMENTAL_ALTER_CONFIGS = 44;

const TOPIC = 2;
const BROKER = 4;
const SET = 0;
const DELETE = 1;
const APPEND = 2;
const SUBTRACT = 3;
const SOURCE_TOPIC = 1;
const SOURCE_STATIC_BROKER = 4;
const SOURCE_DEFAULT = 5;

const ZERO_UUID = "00000000000000000000000000000000";
const JAAS_PASSWORD = "jaas-secret";
const FLAGS = {
  "num.partitions": 3,
  "log.segment.ms": 3_600_000,
  "sasl.jaas.config": `org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="${JAAS_PASSWORD}";`,
};
const NODE_ID = 1;
const DEFAULT_RETENTION_MS = String(DEFAULT_LOG_CONFIG.retentionMs);

const code = errorCode;

let tb: TestBroker;
let client: TestClient;

beforeAll(async () => {
  tb = await startTestBroker(FLAGS);
  client = await TestClient.connect(tb.port);
});

afterAll(async () => {
  client?.close();
  await tb?.stop();
});

interface TopicSpec {
  numPartitions?: number;
  replicationFactor?: number;
  configs?: Record<string, string | null>;
  assignments?: { partitionIndex: number; brokerIds: number[] }[];
}

function creatable(name: string, spec: TopicSpec = {}): Message {
  return {
    name,
    numPartitions: spec.numPartitions ?? -1,
    replicationFactor: spec.replicationFactor ?? -1,
    assignments: spec.assignments ?? [],
    configs: Object.entries(spec.configs ?? {}).map(([n, value]) => ({ name: n, value })),
  };
}

async function createTopics(version: number, topics: Message[], validateOnly = false, c = client) {
  const response = await c.request(CREATE_TOPICS, version, { topics, timeoutMs: 5000, validateOnly });
  return response.topics as Message[];
}

async function createTopic(name: string, spec: TopicSpec = {}, c = client): Promise<void> {
  const [result] = await createTopics(7, [creatable(name, spec)], false, c);
  expect(result.errorCode, result.errorMessage).toBe(0);
}

async function describeTopic(
  name: string,
  version = 4,
  extra: Message = { includeSynonyms: true, includeDocumentation: true },
  c = client,
): Promise<Message> {
  const response = await c.request(DESCRIBE_CONFIGS, version, {
    resources: [{ resourceType: TOPIC, resourceName: name, configurationKeys: null }],
    ...extra,
  });
  return response.results[0];
}

async function configsOf(name: string, c = client): Promise<Map<string, Message>> {
  const result = await describeTopic(name, 4, { includeSynonyms: true }, c);
  expect(result.errorCode).toBe(0);
  return new Map((result.configs as Message[]).map((e) => [e.name as string, e]));
}

function alterBody(name: string, configs: Record<string, string | null>, validateOnly = false): Message {
  return {
    resources: [
      {
        resourceType: TOPIC,
        resourceName: name,
        configs: Object.entries(configs).map(([n, value]) => ({ name: n, value })),
      },
    ],
    validateOnly,
  };
}

function incrementalBody(
  name: string,
  ops: [string, number, string | null][],
  validateOnly = false,
  resourceType = TOPIC,
): Message {
  return {
    resources: [
      {
        resourceType,
        resourceName: name,
        configs: ops.map(([n, configOperation, value]) => ({ name: n, configOperation, value })),
      },
    ],
    validateOnly,
  };
}

function logConfig(name: string, partition = 0) {
  return tb.broker.topics.partition(name, partition)!.logConfig;
}

const ALL_TOPIC_KEYS = Object.keys(TOPIC_CONFIGS);

describe.each([2, 4, 5, 7])("CreateTopics v%i", (v) => {
  it("creates topics with the broker defaults (-1) and with explicit counts", async () => {
    const [byDefault, explicit] = await createTopics(v, [
      creatable(`ct-default-v${v}`),
      creatable(`ct-explicit-v${v}`, { numPartitions: 2, replicationFactor: 1 }),
    ]);
    expect(byDefault).toMatchObject({ name: `ct-default-v${v}`, errorCode: 0 });
    expect(explicit).toMatchObject({ name: `ct-explicit-v${v}`, errorCode: 0 });
    const stored = tb.broker.store.topic(`ct-default-v${v}`)!;
    expect(stored.partitions).toHaveLength(3);
    expect(stored.partitions.every((p) => p.leader === NODE_ID && p.replicas.length === 1)).toBe(true);
    expect(tb.broker.store.topic(`ct-explicit-v${v}`)!.partitions).toHaveLength(2);
    expect(tb.broker.topics.partition(`ct-default-v${v}`, 2)).toBeDefined();
    expect(tb.broker.topics.partition(`ct-explicit-v${v}`, 1)).toBeDefined();
    expect(tb.broker.topics.partition(`ct-explicit-v${v}`, 2)).toBeUndefined();
    if (v >= 1) expect(byDefault.errorMessage).toBeNull();
    if (v >= 5) {
      expect(byDefault.numPartitions).toBe(3);
      expect(byDefault.replicationFactor).toBe(1);
      expect(explicit.numPartitions).toBe(2);
      const names = (byDefault.configs as Message[]).map((c) => c.name);
      expect(names.sort()).toEqual([...ALL_TOPIC_KEYS].sort());
    }
    if (v >= 7) expect(byDefault.topicId).toBe(stored.id);
  });

  it("applies the topic's configs to its partition logs and reports them (v5+)", async () => {
    const name = `ct-configs-v${v}`;
    const [result] = await createTopics(v, [
      creatable(name, { numPartitions: 2, configs: { "retention.ms": "1234", "cleanup.policy": "compact" } }),
    ]);
    expect(result.errorCode).toBe(0);
    expect(tb.broker.store.topic(name)!.configs).toEqual({
      "retention.ms": "1234",
      "cleanup.policy": "compact",
    });
    expect(logConfig(name, 0).retentionMs).toBe(1234);
    expect(logConfig(name, 1).cleanupPolicy).toBe("compact");
    if (v >= 5) {
      const configs = new Map((result.configs as Message[]).map((c) => [c.name, c]));
      expect(configs.get("retention.ms")).toMatchObject({
        value: "1234",
        configSource: SOURCE_TOPIC,
        readOnly: false,
        isSensitive: false,
      });
      expect(configs.get("segment.ms")).toMatchObject({
        value: "3600000",
        configSource: SOURCE_STATIC_BROKER,
      });
      expect(configs.get("segment.bytes")).toMatchObject({
        value: String(DEFAULT_LOG_CONFIG.segmentBytes),
        configSource: SOURCE_DEFAULT,
      });
    }
  });

  it("refuses bad names, bad configs, duplicates, existing topics and impossible counts", async () => {
    await createTopic(`ct-exists-v${v}`);
    const results = await createTopics(v, [
      creatable("bad name!"),
      creatable(`ct-badvalue-v${v}`, { configs: { "retention.ms": "soon" } }),
      creatable(`ct-unknownkey-v${v}`, { configs: { "no.such.config": "1" } }),
      creatable(`ct-nullvalue-v${v}`, { configs: { "retention.ms": null } }),
      creatable(`ct-dup-v${v}`),
      creatable(`ct-dup-v${v}`, { numPartitions: 2 }),
      creatable(`ct-exists-v${v}`),
      creatable(`ct-rf-v${v}`, { replicationFactor: 2 }),
      creatable(`ct-zero-v${v}`, { numPartitions: 0 }),
      creatable(`ct.dotted-v${v}`),
    ]);
    await createTopic(`ct_collider-v${v}`);
    const [collision] = await createTopics(v, [creatable(`ct.collider-v${v}`)]);
    expect(results.map((r) => r.errorCode)).toEqual([
      code("INVALID_TOPIC_EXCEPTION"),
      code("INVALID_CONFIG"),
      code("INVALID_CONFIG"),
      code("INVALID_CONFIG"),
      code("INVALID_REQUEST"),
      code("INVALID_REQUEST"),
      code("TOPIC_ALREADY_EXISTS"),
      code("INVALID_REPLICATION_FACTOR"),
      code("INVALID_PARTITIONS"),
      0,
    ]);
    expect(collision.errorCode).toBe(code("INVALID_TOPIC_EXCEPTION"));
    expect(results[4].name).toBe(`ct-dup-v${v}`);
    expect(results[5].name).toBe(`ct-dup-v${v}`);
    if (v >= 1) {
      expect(results[1].errorMessage).toContain("retention.ms");
      expect(results[2].errorMessage).toContain("no.such.config");
      expect(results[4].errorMessage).toContain("multiple entries");
      expect(collision.errorMessage).toContain(`ct_collider-v${v}`);
    }
    if (v >= 5) {
      expect(results[1]).toMatchObject({ numPartitions: -1, replicationFactor: -1, configs: [] });
    }
    for (const n of ["badvalue", "unknownkey", "nullvalue", "dup", "rf", "zero"]) {
      expect(tb.broker.store.topic(`ct-${n}-v${v}`)).toBeUndefined();
    }
    expect(tb.broker.store.topic("bad name!")).toBeUndefined();
  });

  if (v >= 1)
    it("validateOnly checks everything and creates nothing", async () => {
      const name = `ct-validate-v${v}`;
      const [ok, bad] = await createTopics(
        v,
        [
          creatable(name, { numPartitions: 4, configs: { "retention.ms": "99" } }),
          creatable(`ct-validate-bad-v${v}`, { configs: { "segment.bytes": "1" } }),
        ],
        true,
      );
      expect(ok.errorCode).toBe(0);
      expect(bad.errorCode).toBe(code("INVALID_CONFIG"));
      expect(tb.broker.store.topic(name)).toBeUndefined();
      expect(tb.broker.topics.partition(name, 0)).toBeUndefined();
      if (v >= 5) {
        expect(ok.numPartitions).toBe(4);
        const retention = (ok.configs as Message[]).find((c) => c.name === "retention.ms");
        expect(retention).toMatchObject({ value: "99", configSource: SOURCE_TOPIC });
      }
      if (v >= 7) expect(ok.topicId).toBe(ZERO_UUID);
      // Validation did not reserve the name.
      await createTopic(name);
    });

  it("takes manual assignments of registered brokers only, consecutive partitions, counts left at -1", async () => {
    const assignments = [
      { partitionIndex: 1, brokerIds: [NODE_ID] },
      { partitionIndex: 0, brokerIds: [NODE_ID] },
    ];
    const results = await createTopics(v, [
      creatable(`ct-assigned-v${v}`, { assignments }),
      creatable(`ct-elsewhere-v${v}`, { assignments: [{ partitionIndex: 0, brokerIds: [NODE_ID, 2] }] }),
      creatable(`ct-gap-v${v}`, { assignments: [{ partitionIndex: 1, brokerIds: [NODE_ID] }] }),
      creatable(`ct-counted-v${v}`, { numPartitions: 2, assignments }),
    ]);
    expect(results.map((r) => r.errorCode)).toEqual([
      0,
      code("INVALID_REPLICA_ASSIGNMENT"),
      code("INVALID_REPLICA_ASSIGNMENT"),
      code("INVALID_REQUEST"),
    ]);
    expect(tb.broker.store.topic(`ct-assigned-v${v}`)!.partitions).toHaveLength(2);
    expect(tb.broker.store.topic(`ct-elsewhere-v${v}`)).toBeUndefined();
  });
});

describe.each([0, 2, 3])("CreatePartitions v%i", (v) => {
  const request = (topics: Message[], validateOnly = false) =>
    client
      .request(CREATE_PARTITIONS, v, { topics, timeoutMs: 5000, validateOnly })
      .then((r) => r.results as Message[]);

  it("grows a topic, checks the count, and honours validateOnly", async () => {
    const name = `cp-v${v}`;
    await createTopic(name, { numPartitions: 1 });
    let [r] = await request([{ name, count: 3, assignments: null }]);
    expect(r).toMatchObject({ name, errorCode: 0, errorMessage: null });
    expect(tb.broker.store.topic(name)!.partitions.map((p) => p.partition)).toEqual([0, 1, 2]);
    expect(tb.broker.topics.partition(name, 2)).toBeDefined();

    [r] = await request([{ name, count: 3, assignments: null }]);
    expect(r.errorCode).toBe(code("INVALID_PARTITIONS"));
    expect(r.errorMessage).toContain("3");
    [r] = await request([{ name, count: 2, assignments: null }]);
    expect(r.errorCode).toBe(code("INVALID_PARTITIONS"));

    [r] = await request([{ name, count: 5, assignments: null }], true);
    expect(r.errorCode).toBe(0);
    expect(tb.broker.store.topic(name)!.partitions).toHaveLength(3);

    [r] = await request([
      { name, count: 5, assignments: [{ brokerIds: [NODE_ID] }, { brokerIds: [NODE_ID] }] },
    ]);
    expect(r.errorCode).toBe(0);
    expect(tb.broker.store.topic(name)!.partitions).toHaveLength(5);
    expect(tb.broker.topics.partition(name, 4)).toBeDefined();

    // An empty assignment list counts as none (KafkaJS sends one).
    [r] = await request([{ name, count: 6, assignments: [] }]);
    expect(r.errorCode).toBe(0);
    expect(tb.broker.store.topic(name)!.partitions).toHaveLength(6);
  });

  it("refuses unknown topics, foreign assignments and duplicates", async () => {
    const name = `cp-bad-v${v}`;
    await createTopic(name, { numPartitions: 1 });
    const results = await request([
      { name: `cp-missing-v${v}`, count: 2, assignments: null },
      { name, count: 2, assignments: [{ brokerIds: [7] }] },
      { name, count: 3, assignments: [{ brokerIds: [NODE_ID] }] },
    ]);
    // The second and third name the same topic: one INVALID_REQUEST result for it.
    expect(results.map((r) => [r.name, r.errorCode])).toEqual([
      [`cp-missing-v${v}`, code("UNKNOWN_TOPIC_OR_PARTITION")],
      [name, code("INVALID_REQUEST")],
    ]);
    const [foreign] = await request([{ name, count: 2, assignments: [{ brokerIds: [7] }] }]);
    expect(foreign.errorCode).toBe(code("INVALID_REPLICA_ASSIGNMENT"));
    const [short] = await request([{ name, count: 3, assignments: [{ brokerIds: [NODE_ID] }] }]);
    expect(short.errorCode).toBe(code("INVALID_REPLICA_ASSIGNMENT"));
    expect(tb.broker.store.topic(name)!.partitions).toHaveLength(1);
  });

  it("numbers partitions once when two connections grow a topic at the same time", async () => {
    const name = `cp-race-v${v}`;
    await createTopic(name, { numPartitions: 1 });
    const other = await TestClient.connect(tb.port);
    try {
      const grow = (c: TestClient, count: number) =>
        c.request(CREATE_PARTITIONS, v, {
          topics: [{ name, count, assignments: null }],
          timeoutMs: 5000,
          validateOnly: false,
        });
      await Promise.all([grow(client, 3), grow(other, 5)]);
      expect(tb.broker.store.topic(name)!.partitions.map((p) => p.partition)).toEqual([0, 1, 2, 3, 4]);
      for (let p = 0; p < 5; p++) expect(tb.broker.topics.partition(name, p)).toBeDefined();
    } finally {
      other.close();
    }
  });
});

describe.each([1, 4, 6])("DeleteTopics v%i", (v) => {
  it("deletes by name and reports unknown topics", async () => {
    const name = `dt-v${v}`;
    await createTopic(name, { numPartitions: 2 });
    const body =
      v >= 6
        ? {
            topics: [
              { name, topicId: ZERO_UUID },
              { name: `dt-missing-v${v}`, topicId: ZERO_UUID },
            ],
            timeoutMs: 5000,
          }
        : { topicNames: [name, `dt-missing-v${v}`], timeoutMs: 5000 };
    const { responses } = await client.request(DELETE_TOPICS, v, body);
    expect(responses.map((r: Message) => [r.name, r.errorCode])).toEqual([
      [name, 0],
      [`dt-missing-v${v}`, code("UNKNOWN_TOPIC_OR_PARTITION")],
    ]);
    expect(tb.broker.store.topic(name)).toBeUndefined();
    expect(tb.broker.topics.partition(name, 0)).toBeUndefined();
    expect(existsSync(path.join(tb.dataDir, `${name}-0`))).toBe(false);
    // The name is free again.
    await createTopic(name);
  });

  if (v >= 6)
    it("deletes by topic id and reports unknown ids", async () => {
      const name = `dt-id-v${v}`;
      await createTopic(name);
      const id = tb.broker.store.topic(name)!.id;
      const unknown = "0123456789abcdef0123456789abcdef";
      const { responses } = await client.request(DELETE_TOPICS, v, {
        topics: [
          { name: null, topicId: id },
          { name: null, topicId: unknown },
          { name: null, topicId: ZERO_UUID },
        ],
        timeoutMs: 5000,
      });
      expect(responses.map((r: Message) => [r.name, r.topicId, r.errorCode])).toEqual([
        [name, id, 0],
        [null, unknown, code("UNKNOWN_TOPIC_ID")],
        [null, ZERO_UUID, code("INVALID_REQUEST")],
      ]);
      expect(tb.broker.store.topicById(id)).toBeUndefined();
    });
});

describe.each([1, 3, 4])("DescribeConfigs v%i", (v) => {
  it("describes every topic config with its value and source", async () => {
    const name = `dc-v${v}`;
    await createTopic(name, { configs: { "retention.ms": "1234" } });
    const result = await describeTopic(name, v);
    expect(result).toMatchObject({
      errorCode: 0,
      errorMessage: null,
      resourceType: TOPIC,
      resourceName: name,
    });
    const configs = new Map((result.configs as Message[]).map((e) => [e.name, e]));
    expect([...configs.keys()].sort()).toEqual([...ALL_TOPIC_KEYS].sort());
    for (const entry of configs.values())
      expect(entry).toMatchObject({ readOnly: false, isSensitive: false });

    const retention = configs.get("retention.ms")!;
    const segmentMs = configs.get("segment.ms")!;
    const segmentBytes = configs.get("segment.bytes")!;
    expect(retention.value).toBe("1234");
    expect(segmentMs.value).toBe("3600000");
    expect(segmentBytes.value).toBe(String(DEFAULT_LOG_CONFIG.segmentBytes));
    expect(configs.get("min.insync.replicas")!.value).toBe("1");
    expect(configs.get("cleanup.policy")!.value).toBe("delete");
    if (v === 0) {
      expect([retention.isDefault, segmentMs.isDefault, segmentBytes.isDefault]).toEqual([
        false,
        false,
        true,
      ]);
    } else {
      expect([retention.configSource, segmentMs.configSource, segmentBytes.configSource]).toEqual([
        SOURCE_TOPIC,
        SOURCE_STATIC_BROKER,
        SOURCE_DEFAULT,
      ]);
      expect(retention.synonyms).toEqual([
        { name: "retention.ms", value: "1234", source: SOURCE_TOPIC },
        { name: "log.retention.ms", value: DEFAULT_RETENTION_MS, source: SOURCE_DEFAULT },
      ]);
      expect(segmentMs.synonyms).toEqual([
        { name: "log.segment.ms", value: "3600000", source: SOURCE_STATIC_BROKER },
        { name: "log.segment.ms", value: String(DEFAULT_LOG_CONFIG.segmentMs), source: SOURCE_DEFAULT },
      ]);
      const plain = await describeTopic(name, v, { includeSynonyms: false });
      expect((plain.configs as Message[]).every((e) => e.synonyms.length === 0)).toBe(true);
    }
    if (v >= 3) {
      expect(retention.configType).toBe(5); // LONG
      expect(configs.get("cleanup.policy")!.configType).toBe(7); // LIST
      expect(configs.get("flush.policy")!.configType).toBe(2); // STRING
      expect(configs.get("min.insync.replicas")!.configType).toBe(3); // INT
      expect(retention.documentation).toMatch(/\w+/);
      const undocumented = await describeTopic(name, v, { includeDocumentation: false });
      expect((undocumented.configs as Message[]).every((e) => e.documentation === null)).toBe(true);
    }
  });

  it("filters by configurationKeys and reports bad resources", async () => {
    const name = `dc-filter-v${v}`;
    await createTopic(name);
    const { results } = await client.request(DESCRIBE_CONFIGS, v, {
      resources: [
        { resourceType: TOPIC, resourceName: name, configurationKeys: ["retention.ms", "no.such.key"] },
        { resourceType: TOPIC, resourceName: `dc-missing-v${v}`, configurationKeys: null },
        { resourceType: TOPIC, resourceName: "bad name!", configurationKeys: null },
        { resourceType: 3, resourceName: "some-group", configurationKeys: null },
        { resourceType: BROKER, resourceName: "2", configurationKeys: null },
        { resourceType: TOPIC, resourceName: name, configurationKeys: [] },
      ],
    });
    expect(results.map((r: Message) => r.errorCode)).toEqual([
      0,
      code("UNKNOWN_TOPIC_OR_PARTITION"),
      code("INVALID_TOPIC_EXCEPTION"),
      code("INVALID_REQUEST"),
      code("INVALID_REQUEST"),
      0,
    ]);
    expect(results[0].configs.map((e: Message) => e.name)).toEqual(["retention.ms"]);
    expect(results[1]).toMatchObject({ resourceName: `dc-missing-v${v}`, configs: [] });
    expect(results[5].configs).toHaveLength(ALL_TOPIC_KEYS.length);
  });

  it("describes this broker's configs, read-only", async () => {
    for (const resourceName of [String(NODE_ID), ""]) {
      const { results } = await client.request(DESCRIBE_CONFIGS, v, {
        resources: [{ resourceType: BROKER, resourceName, configurationKeys: null }],
        includeSynonyms: true,
      });
      const [result] = results;
      expect(result).toMatchObject({ errorCode: 0, resourceType: BROKER, resourceName });
      const configs = new Map((result.configs as Message[]).map((e) => [e.name, e]));
      expect(configs.has("num.partitions")).toBe(true);
      expect(configs.get("num.partitions")!.value).toBe("3");
      expect(configs.get("log.segment.ms")!.value).toBe("3600000");
      expect(configs.get("log.retention.ms")!.value).toBe(DEFAULT_RETENTION_MS);
      expect(configs.get("kafka.port")!.value).toBe(String(tb.port));
      expect(configs.get("node.id")!.value).toBe(String(NODE_ID));
      expect(configs.get("cluster.id")!.value).toBe(tb.broker.store.clusterId());
      for (const entry of configs.values()) expect(entry.readOnly).toBe(true);
      // A secret, as Kafka answers its password configs: set, but never shown.
      expect(configs.get("sasl.jaas.config")).toMatchObject({ value: null, isSensitive: true });
      expect(JSON.stringify(results)).not.toContain(JAAS_PASSWORD);
      for (const [name, entry] of configs) expect(entry.isSensitive, name).toBe(name === "sasl.jaas.config");
      if (v === 0) {
        expect(configs.get("num.partitions")!.isDefault).toBe(false);
        expect(configs.get("log.retention.ms")!.isDefault).toBe(true);
      } else {
        expect(configs.get("num.partitions")!.configSource).toBe(SOURCE_STATIC_BROKER);
        expect(configs.get("log.retention.ms")!.configSource).toBe(SOURCE_DEFAULT);
        expect(configs.get("num.partitions")!.synonyms).toEqual([
          { name: "num.partitions", value: "3", source: SOURCE_STATIC_BROKER },
          { name: "num.partitions", value: "1", source: SOURCE_DEFAULT },
        ]);
        // Kafka's Long.MAX_VALUE default, printed as Kafka prints it, in value and synonym alike.
        expect(configs.get("log.message.timestamp.before.max.ms")).toMatchObject({
          value: "9223372036854775807",
          synonyms: [
            {
              name: "log.message.timestamp.before.max.ms",
              value: "9223372036854775807",
              source: SOURCE_DEFAULT,
            },
          ],
        });
      }
      if (v >= 3) {
        expect(configs.get("auto.create.topics.enable")!.configType).toBe(1); // BOOLEAN
        expect(configs.get("num.partitions")!.configType).toBe(3); // INT
        expect(configs.get("log.retention.ms")!.configType).toBe(5); // LONG
        expect(configs.get("sasl.jaas.config")!.configType).toBe(9); // PASSWORD
      }
      if (v >= 1) {
        expect(configs.get("sasl.jaas.config")!.configSource).toBe(SOURCE_STATIC_BROKER);
        expect(configs.get("sasl.jaas.config")!.synonyms.map((s: Message) => s.value)).toEqual([null, null]);
      }
    }
  });
});

describe.each([0, 1, 2])("AlterConfigs v%i", (v) => {
  const alter = (body: Message) =>
    client.request(ALTER_CONFIGS, v, body).then((r) => r.responses as Message[]);

  it("replaces the whole set of overrides; what is not listed reverts to its default", async () => {
    const name = `ac-v${v}`;
    await createTopic(name, { configs: { "cleanup.policy": "compact" } });
    let [r] = await alter(alterBody(name, { "retention.ms": "5000", "max.message.bytes": "2000" }));
    expect(r).toMatchObject({ errorCode: 0, errorMessage: null, resourceType: TOPIC, resourceName: name });
    let configs = await configsOf(name);
    expect(configs.get("retention.ms")).toMatchObject({ value: "5000", configSource: SOURCE_TOPIC });
    expect(configs.get("cleanup.policy")).toMatchObject({ value: "delete", configSource: SOURCE_DEFAULT });
    expect(logConfig(name)).toMatchObject({
      retentionMs: 5000,
      maxMessageBytes: 2000,
      cleanupPolicy: "delete",
    });

    [r] = await alter(alterBody(name, { "max.message.bytes": "3000" }));
    expect(r.errorCode).toBe(0);
    configs = await configsOf(name);
    expect(configs.get("retention.ms")).toMatchObject({
      value: DEFAULT_RETENTION_MS,
      configSource: SOURCE_DEFAULT,
    });
    expect(configs.get("max.message.bytes")).toMatchObject({ value: "3000", configSource: SOURCE_TOPIC });
    expect(logConfig(name).retentionMs).toBe(DEFAULT_LOG_CONFIG.retentionMs);
    expect(tb.broker.store.topic(name)!.configs).toEqual({ "max.message.bytes": "3000" });
  });

  it("validateOnly changes nothing; bad values, unknown topics and brokers are refused", async () => {
    const name = `ac-bad-v${v}`;
    await createTopic(name, { configs: { "retention.ms": "7000" } });
    const [validated] = await alter(alterBody(name, { "retention.ms": "1" }, true));
    expect(validated.errorCode).toBe(0);
    const [bad] = await alter(alterBody(name, { "retention.ms": "-5" }));
    expect(bad.errorCode).toBe(code("INVALID_CONFIG"));
    expect(bad.errorMessage).toContain("retention.ms");
    const [unknownKey] = await alter(alterBody(name, { "no.such.key": "1" }));
    expect(unknownKey.errorCode).toBe(code("INVALID_CONFIG"));
    const [nullValue] = await alter(alterBody(name, { "retention.ms": null }));
    expect(nullValue.errorCode).toBe(code("INVALID_REQUEST"));
    const [missing] = await alter(alterBody(`ac-missing-v${v}`, { "retention.ms": "1" }));
    expect(missing.errorCode).toBe(code("UNKNOWN_TOPIC_OR_PARTITION"));
    expect(tb.broker.store.topic(name)!.configs).toEqual({ "retention.ms": "7000" });
    expect(logConfig(name).retentionMs).toBe(7000);

    const brokerAndDuplicates = await alter({
      resources: [
        {
          resourceType: BROKER,
          resourceName: String(NODE_ID),
          configs: [{ name: "num.partitions", value: "5" }],
        },
        { resourceType: TOPIC, resourceName: name, configs: [{ name: "retention.ms", value: "1" }] },
        { resourceType: TOPIC, resourceName: name, configs: [{ name: "retention.ms", value: "2" }] },
      ],
      validateOnly: false,
    });
    expect(brokerAndDuplicates.map((x) => x.errorCode)).toEqual([
      code("INVALID_REQUEST"),
      code("INVALID_REQUEST"),
      code("INVALID_REQUEST"),
    ]);
    expect(brokerAndDuplicates[0].errorMessage).toContain("dynamic broker configs");
    expect(tb.broker.store.topic(name)!.configs).toEqual({ "retention.ms": "7000" });
  });
});

describe.each([0, 1])("IncrementalAlterConfigs v%i", (v) => {
  const alter = (body: Message) =>
    client.request(INCREMENTAL_ALTER_CONFIGS, v, body).then((r) => r.responses as Message[]);

  it("sets, deletes, appends to and subtracts from configs", async () => {
    const name = `iac-v${v}`;
    await createTopic(name, { configs: { "max.message.bytes": "4000" } });
    let [r] = await alter(
      incrementalBody(name, [
        ["retention.ms", SET, "9000"],
        ["min.insync.replicas", SET, "2"],
      ]),
    );
    expect(r).toMatchObject({ errorCode: 0, errorMessage: null, resourceName: name });
    expect(tb.broker.store.topic(name)!.configs).toEqual({
      "max.message.bytes": "4000",
      "retention.ms": "9000",
      "min.insync.replicas": "2",
    });
    expect(logConfig(name).retentionMs).toBe(9000);
    expect(tb.broker.topics.minInsyncReplicas(name)).toBe(2);

    [r] = await alter(incrementalBody(name, [["cleanup.policy", APPEND, "compact"]]));
    expect(r.errorCode).toBe(0);
    expect((await configsOf(name)).get("cleanup.policy")).toMatchObject({
      value: "compact,delete",
      configSource: SOURCE_TOPIC,
    });
    expect(logConfig(name).cleanupPolicy).toBe("compact,delete");

    [r] = await alter(incrementalBody(name, [["cleanup.policy", SUBTRACT, "delete"]]));
    expect(r.errorCode).toBe(0);
    expect(logConfig(name).cleanupPolicy).toBe("compact");

    [r] = await alter(
      incrementalBody(name, [
        ["retention.ms", DELETE, null],
        ["segment.bytes", DELETE, null],
      ]),
    );
    expect(r.errorCode).toBe(0);
    const configs = await configsOf(name);
    expect(configs.get("retention.ms")).toMatchObject({
      value: DEFAULT_RETENTION_MS,
      configSource: SOURCE_DEFAULT,
    });
    expect(configs.get("max.message.bytes")).toMatchObject({ value: "4000", configSource: SOURCE_TOPIC });
    expect(configs.get("min.insync.replicas")).toMatchObject({ value: "2", configSource: SOURCE_TOPIC });
    expect(logConfig(name).retentionMs).toBe(DEFAULT_LOG_CONFIG.retentionMs);
  });

  it("refuses bad operations and values, and validateOnly changes nothing", async () => {
    const name = `iac-bad-v${v}`;
    await createTopic(name, { configs: { "retention.ms": "8000" } });
    const cases: [Message, string][] = [
      [incrementalBody(name, [["retention.ms", APPEND, "1"]]), "INVALID_CONFIG"],
      [incrementalBody(name, [["retention.ms", SET, "abc"]]), "INVALID_CONFIG"],
      [incrementalBody(name, [["min.insync.replicas", SET, "0"]]), "INVALID_CONFIG"],
      [incrementalBody(name, [["cleanup.policy", SUBTRACT, "delete"]]), "INVALID_CONFIG"],
      [incrementalBody(name, [["no.such.key", SET, "1"]]), "INVALID_CONFIG"],
      [incrementalBody(name, [["retention.ms", 9, "1"]]), "INVALID_REQUEST"],
      [incrementalBody(name, [["retention.ms", SET, null]]), "INVALID_REQUEST"],
      [
        incrementalBody(name, [
          ["retention.ms", SET, "1"],
          ["retention.ms", DELETE, null],
        ]),
        "INVALID_REQUEST",
      ],
      [incrementalBody(`iac-missing-v${v}`, [["retention.ms", SET, "1"]]), "UNKNOWN_TOPIC_OR_PARTITION"],
      [incrementalBody(String(NODE_ID), [["num.partitions", SET, "5"]], false, BROKER), "INVALID_REQUEST"],
      [incrementalBody("x", [["retention.ms", SET, "1"]], false, 8), "INVALID_REQUEST"],
    ];
    for (const [body, expected] of cases) {
      const [r] = await alter(body);
      expect(r.errorCode, JSON.stringify(body)).toBe(code(expected as Parameters<typeof code>[0]));
      expect(r.errorMessage).toMatch(/\w+/);
    }
    const [validated] = await alter(incrementalBody(name, [["retention.ms", SET, "1"]], true));
    expect(validated.errorCode).toBe(0);
    expect(tb.broker.store.topic(name)!.configs).toEqual({ "retention.ms": "8000" });
    expect(logConfig(name).retentionMs).toBe(8000);
  });

  it("applies concurrent changes from two connections without losing either", async () => {
    const name = `iac-race-v${v}`;
    await createTopic(name);
    const other = await TestClient.connect(tb.port);
    try {
      const sets = Array.from({ length: 6 }, (_, i) => {
        const c = i % 2 === 0 ? client : other;
        const key = [
          "retention.ms",
          "segment.bytes",
          "max.message.bytes",
          "flush.ms",
          "retention.bytes",
          "segment.ms",
        ][i];
        return c.request(
          INCREMENTAL_ALTER_CONFIGS,
          v,
          incrementalBody(name, [[key, SET, String(10_000 + i)]]),
        );
      });
      const responses = await Promise.all(sets);
      expect(responses.map((r) => r.responses[0].errorCode)).toEqual([0, 0, 0, 0, 0, 0]);
      expect(Object.keys(tb.broker.store.topic(name)!.configs)).toHaveLength(6);
    } finally {
      other.close();
    }
  });
});

describe("admin changes across a restart", () => {
  it("keeps created topics, new partitions, config overrides and deletions", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "samsa-admin-"));
    let first: TestBroker | null = await startTestBroker(FLAGS, dataDir);
    let second: TestBroker | null = null;
    let c = await TestClient.connect(first.port);
    try {
      await createTopic("kept", { numPartitions: 2, configs: { "retention.ms": "1111" } }, c);
      await createTopic("altered", { configs: { "cleanup.policy": "compact" } }, c);
      await createTopic("gone", {}, c);
      const grown = await c.request(CREATE_PARTITIONS, 3, {
        topics: [{ name: "kept", count: 4, assignments: null }],
        timeoutMs: 5000,
        validateOnly: false,
      });
      expect(grown.results[0].errorCode).toBe(0);
      const incremental = await c.request(
        INCREMENTAL_ALTER_CONFIGS,
        1,
        incrementalBody("kept", [["segment.bytes", SET, "2048"]]),
      );
      expect(incremental.responses[0].errorCode).toBe(0);
      const altered = await c.request(ALTER_CONFIGS, 2, alterBody("altered", { "retention.ms": "2222" }));
      expect(altered.responses[0].errorCode).toBe(0);
      const deleted = await c.request(DELETE_TOPICS, 6, { topics: [{ name: "gone", topicId: ZERO_UUID }] });
      expect(deleted.responses[0].errorCode).toBe(0);
      const keptId = first.broker.store.topic("kept")!.id;
      c.close();
      await first.stop(true);
      first = null;

      second = await startTestBroker(FLAGS, dataDir);
      c = await TestClient.connect(second.port);
      const kept = second.broker.store.topic("kept")!;
      expect(kept.id).toBe(keptId);
      expect(kept.partitions).toHaveLength(4);
      expect(second.broker.store.topic("gone")).toBeUndefined();
      for (let p = 0; p < 4; p++) {
        expect(second.broker.topics.partition("kept", p)!.logConfig).toMatchObject({
          retentionMs: 1111,
          segmentBytes: 2048,
        });
      }
      expect(second.broker.topics.partition("altered", 0)!.logConfig).toMatchObject({
        retentionMs: 2222,
        cleanupPolicy: "delete",
      });
      const configs = await configsOf("kept", c);
      expect(configs.get("retention.ms")).toMatchObject({ value: "1111", configSource: SOURCE_TOPIC });
      expect(configs.get("segment.bytes")).toMatchObject({ value: "2048", configSource: SOURCE_TOPIC });
      const alteredConfigs = await configsOf("altered", c);
      expect(alteredConfigs.get("cleanup.policy")).toMatchObject({
        value: "delete",
        configSource: SOURCE_DEFAULT,
      });
      const [again] = await createTopics(7, [creatable("gone")], false, c);
      expect(again.errorCode).toBe(0);
    } finally {
      c.close();
      await first?.stop();
      await second?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
