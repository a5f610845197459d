import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { defaultBrokerConfig, envName, loadBrokerConfig, topicDefaultsConfig } from "../../broker/config.js";

describe("broker configuration", () => {
  it("has the documented defaults", () => {
    const c = loadBrokerConfig();
    expect(c).toMatchObject({
      nodeId: 1,
      dataDir: "./data",
      host: "127.0.0.1",
      kafkaPort: 9092,
      httpPort: 8082,
      advertisedHost: "127.0.0.1",
      autoCreateTopics: true,
      numPartitions: 1,
    });
    expect(defaultBrokerConfig().maxRequestBytes).toBe(100 * 1024 * 1024);
  });

  it("layers defaults < file < SAMSA_* environment < flags", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "samsa-cfg-"));
    try {
      const file = path.join(dir, "samsa.json");
      writeFileSync(
        file,
        JSON.stringify({ "num.partitions": 2, "kafka.port": 1111, "log.retention.ms": 5000 }),
      );
      expect(envName("auto.create.topics.enable")).toBe("SAMSA_AUTO_CREATE_TOPICS_ENABLE");
      const c = loadBrokerConfig({
        file,
        env: {
          SAMSA_KAFKA_PORT: "2222",
          SAMSA_NUM_PARTITIONS: "3",
          SAMSA_AUTO_CREATE_TOPICS_ENABLE: "false",
        },
        flags: { "kafka.port": "3333", host: "0.0.0.0" },
      });
      expect(c.numPartitions).toBe(3);
      expect(c.kafkaPort).toBe(3333);
      expect(c.autoCreateTopics).toBe(false);
      expect(c.advertisedHost).toBe("127.0.0.1");
      expect(topicDefaultsConfig(c).retentionMs).toBe(5000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("takes Kafka's Long.MAX_VALUE for log.message.timestamp.{before,after}.max.ms, as Kafka prints it", () => {
    const max = "9223372036854775807";
    for (const key of ["log.message.timestamp.before.max.ms", "log.message.timestamp.after.max.ms"]) {
      const c = loadBrokerConfig({ flags: { [key]: max }, env: { [envName(key)]: max } });
      expect(topicDefaultsConfig(c)).toMatchObject({
        timestampBeforeMaxMs: Number.MAX_SAFE_INTEGER,
        timestampAfterMaxMs: Number.MAX_SAFE_INTEGER,
      });
      expect(() => loadBrokerConfig({ flags: { [key]: "-1" } }), key).toThrow(/INVALID_CONFIG/);
      expect(() => loadBrokerConfig({ flags: { [key]: "soon" } }), key).toThrow(/INVALID_CONFIG/);
    }
    const c = loadBrokerConfig({ flags: { "log.message.timestamp.after.max.ms": 60_000 } });
    expect(topicDefaultsConfig(c).timestampAfterMaxMs).toBe(60_000);
  });

  it("refuses unknown keys and bad values with INVALID_CONFIG", () => {
    expect(() => loadBrokerConfig({ flags: { "no.such.key": 1 } })).toThrow(/INVALID_CONFIG/);
    expect(() => loadBrokerConfig({ env: { SAMSA_KAFKA_PORT: "port" } })).toThrow(/INVALID_CONFIG/);
    expect(() => loadBrokerConfig({ flags: { "auto.create.topics.enable": "maybe" } })).toThrow(
      /INVALID_CONFIG/,
    );
    expect(() => loadBrokerConfig({ flags: { "log.flush.policy": "never" } })).toThrow(/INVALID_CONFIG/);
    expect(() => loadBrokerConfig({ flags: { "log.journal.bytes": "1000" } })).toThrow(/at least 65536/);
  });

  it("runs flush.policy=always through the journal unless log.journal.enable=false", () => {
    expect(loadBrokerConfig()).toMatchObject({ journalEnabled: true, journalBytes: 256 * 1024 * 1024 });
    const c = loadBrokerConfig({
      env: { SAMSA_LOG_JOURNAL_ENABLE: "false", SAMSA_LOG_JOURNAL_BYTES: "1048576" },
    });
    expect(c).toMatchObject({ journalEnabled: false, journalBytes: 1048576 });
  });
});
