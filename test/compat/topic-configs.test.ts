/**
 * Kafka's topic configs from clients nobody here wrote: librdkafka's admin client (Debian's
 * python3-confluent-kafka over librdkafka 2.0.2: kcat has no admin commands) and KafkaJS 2.2.4
 * create a topic with the twelve keys of issue 11 and alter them; bad values and unknown keys
 * come back as INVALID_CONFIG. Then kcat and KafkaJS produce to a topic whose
 * compression.type=zstd and message.timestamp.type=LogAppendTime, and see the broker's codec and
 * append time. Every librdkafka and kcat call is bounded by a timeout.
 */
import * as path from "node:path";
import { ConfigResourceTypes, Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Compression } from "../../protocol/compression.js";
import { COMPRESSION_MASK, TIMESTAMP_TYPE_MASK } from "../../protocol/record-batch.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { TestClient } from "../helpers/kafka-client.js";
import { ISSUE_CONFIGS } from "../helpers/topic-configs.js";
import { fetchPartition, kcat, kcatConsume, requireKcat, requireTool, runBounded } from "./helpers.js";

/** Debian's python3 (the one apt's python3-confluent-kafka installs into). */
const PYTHON = "/usr/bin/python3";
const RDKAFKA_INSTALL = "apt-get update && apt-get install -y python3-confluent-kafka";
const ADMIN_SCRIPT = path.join(import.meta.dirname, "rdkafka-admin.py");
const CALL_TIMEOUT_MS = 30_000;
const SOURCE_TOPIC = 1;

/** The same keys with other values, for the alter steps. */
const ALTERED: Record<string, string> = {
  "compression.type": "lz4",
  "message.timestamp.type": "CreateTime",
  "unclean.leader.election.enable": "true",
  "message.timestamp.difference.max.ms": "7200000",
  "message.timestamp.before.max.ms": "7200000",
  "message.timestamp.after.max.ms": "600000",
  "flush.messages": "1",
  preallocate: "false",
  "segment.jitter.ms": "0",
  "message.downconversion.enable": "true",
  "max.message.bytes": "1500000",
  "retention.ms": "7200000",
};

function requireRdkafkaAdmin(): void {
  requireTool(
    "python3-confluent-kafka (librdkafka's admin client)",
    PYTHON,
    ["-c", "import confluent_kafka"],
    RDKAFKA_INSTALL,
  );
}

interface AdminAnswer {
  ok: boolean;
  code?: string;
  message?: string;
  configs?: Record<string, { value: string | null; source: number }>;
}

/** Runs rdkafka-admin.py once, killed after CALL_TIMEOUT_MS (a timeout rejects). */
async function rdkafka(
  action: "create" | "alter" | "describe",
  topic: string,
  configs: Record<string, string> = {},
): Promise<AdminAnswer> {
  const { stdout } = await runBounded(PYTHON, [ADMIN_SCRIPT, String(tb.port), action, topic], {
    input: JSON.stringify(configs),
    timeoutMs: CALL_TIMEOUT_MS,
    install: RDKAFKA_INSTALL,
  });
  const text = stdout.toString("utf8").trim();
  if (text === "") throw new Error(`rdkafka-admin ${action} ${topic} printed nothing`);
  return JSON.parse(text) as AdminAnswer;
}

let tb: TestBroker;
let client: TestClient;
let kafka: Kafka;

beforeAll(async () => {
  requireKcat();
  requireRdkafkaAdmin();
  tb = await startTestBroker();
  client = await TestClient.connect(tb.port);
  kafka = new Kafka({
    clientId: "samsa-compat-configs",
    brokers: [`127.0.0.1:${tb.port}`],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    requestTimeout: 5000,
    retry: { retries: 0 },
  });
});

afterAll(async () => {
  client?.close();
  await tb?.stop();
});

function expectOverrides(configs: AdminAnswer["configs"], expected: Record<string, string>): void {
  for (const [key, value] of Object.entries(expected)) {
    expect(configs?.[key], key).toEqual({ value, source: SOURCE_TOPIC });
  }
}

describe("librdkafka's admin client", () => {
  it("creates a topic with the twelve keys, alters them, and gets INVALID_CONFIG for bad ones", async () => {
    const created = await rdkafka("create", "rdk-configs", ISSUE_CONFIGS);
    expect(created.ok, created.message).toBe(true);
    expectOverrides(created.configs, ISSUE_CONFIGS);
    const altered = await rdkafka("alter", "rdk-configs", ALTERED);
    expect(altered.ok, altered.message).toBe(true);
    expectOverrides(altered.configs, ALTERED);
    expect(tb.broker.topics.partition("rdk-configs", 0)!.logConfig).toMatchObject({
      compressionType: "lz4",
      timestampType: "CreateTime",
      flushPolicy: "always",
    });
    for (const [key, value] of [
      ["compression.type", "brotli"],
      ["preallocate", "sometimes"],
      ["no.such.config", "1"],
    ]) {
      const refused = await rdkafka("alter", "rdk-configs", { [key]: value });
      expect(refused, key).toMatchObject({ ok: false, code: "INVALID_CONFIG" });
      expect(refused.message).toContain(key);
      expect(await rdkafka("create", `rdk-bad-${key}`, { [key]: value })).toMatchObject({
        ok: false,
        code: "INVALID_CONFIG",
      });
    }
  });
});

describe("KafkaJS's admin client", () => {
  const describeTopic = async (topic: string) => {
    const admin = kafka.admin({ retry: { retries: 0 } });
    await admin.connect();
    try {
      const r = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }],
      });
      return new Map(r.resources[0].configEntries.map((e) => [e.configName, e.configValue]));
    } finally {
      await admin.disconnect();
    }
  };

  it("creates a topic with the twelve keys, alters them, and gets INVALID_CONFIG for bad ones", async () => {
    const admin = kafka.admin({ retry: { retries: 0 } });
    await admin.connect();
    try {
      const entries = (c: Record<string, string>) =>
        Object.entries(c).map(([name, value]) => ({ name, value }));
      await admin.createTopics({
        waitForLeaders: true,
        topics: [{ topic: "kjs-configs", configEntries: entries(ISSUE_CONFIGS) }],
      });
      let described = await describeTopic("kjs-configs");
      for (const [key, value] of Object.entries(ISSUE_CONFIGS)) expect(described.get(key), key).toBe(value);
      await admin.alterConfigs({
        validateOnly: false,
        resources: [
          { type: ConfigResourceTypes.TOPIC, name: "kjs-configs", configEntries: entries(ALTERED) },
        ],
      });
      described = await describeTopic("kjs-configs");
      for (const [key, value] of Object.entries(ALTERED)) expect(described.get(key), key).toBe(value);
      await expect(
        admin.createTopics({
          topics: [{ topic: "kjs-bad", configEntries: [{ name: "message.timestamp.type", value: "Never" }] }],
        }),
      ).rejects.toMatchObject({ errors: [expect.objectContaining({ type: "INVALID_CONFIG" })] });
      await expect(
        admin.alterConfigs({
          validateOnly: false,
          resources: [
            {
              type: ConfigResourceTypes.TOPIC,
              name: "kjs-configs",
              configEntries: [{ name: "unknown.topic.config", value: "1" }],
            },
          ],
        }),
      ).rejects.toMatchObject({ type: "INVALID_CONFIG" });
    } finally {
      await admin.disconnect();
    }
  });
});

describe("effects seen by kcat and KafkaJS", () => {
  const TOPIC = "zstd-append-time";

  beforeAll(async () => {
    const created = await rdkafka("create", TOPIC, {
      "compression.type": "zstd",
      "message.timestamp.type": "LogAppendTime",
    });
    expect(created.ok, created.message).toBe(true);
  });

  it("kcat's gzip batches are stored as zstd, stamped with the append time", async () => {
    const before = Date.now();
    await kcat(tb.port, ["-P", "-t", TOPIC, "-p", "0", "-z", "gzip"], { input: "one\ntwo\n" });
    const after = Date.now();
    const consumed = await kcatConsume(tb.port, TOPIC, ["-p", "0"]);
    expect(consumed.map((r) => r.value?.toString())).toEqual(["one", "two"]);
    for (const r of consumed) {
      expect(r.timestamp).toBeGreaterThanOrEqual(before);
      expect(r.timestamp).toBeLessThanOrEqual(after);
    }
    const { batches } = await fetchPartition(client, TOPIC, 0, false);
    for (const b of batches) {
      expect(b.attributes & COMPRESSION_MASK).toBe(Compression.Zstd);
      expect(b.attributes & TIMESTAMP_TYPE_MASK).toBe(TIMESTAMP_TYPE_MASK);
    }
  });

  it("KafkaJS gets logAppendTime back from a produce", async () => {
    const producer = kafka.producer({ retry: { retries: 0 }, allowAutoTopicCreation: false });
    await producer.connect();
    try {
      const before = Date.now();
      const [meta] = await producer.send({ topic: TOPIC, messages: [{ value: "three", partition: 0 }] });
      const appended = Number(meta.logAppendTime);
      expect(appended).toBeGreaterThanOrEqual(before);
      expect(appended).toBeLessThanOrEqual(Date.now());
      const records = await kcatConsume(tb.port, TOPIC, ["-p", "0"]);
      expect(records.at(-1)).toMatchObject({ timestamp: appended });
    } finally {
      await producer.disconnect();
    }
  });
});
