import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import {
  BROKER_CONFIG_KEYS,
  defaultBrokerConfig,
  envName,
  INT32_MAX,
  loadBrokerConfig,
  topicDefaultsConfig,
} from "../../broker/config.js";

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

describe("values that make no sense at start are refused in one line naming key and value", () => {
  function refusal(flags: Record<string, unknown>): string {
    try {
      loadBrokerConfig({ flags });
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error(`accepted ${JSON.stringify(flags)}`);
  }

  it.each([
    ["connection.max.inflight.requests", "0"],
    ["connection.max.inflight.bytes", "0"],
    ["offsets.topic.num.partitions", "0"],
    ["num.partitions", "0"],
    ["num.partitions", "-3"],
    ["kafka.port", "70000"],
    ["http.port", "70000"],
    ["kafka.port", "-1"],
    ["node.id", "-1"],
    ["default.replication.factor", "0"],
    ["default.replication.factor", "40000"],
    ["socket.request.max.bytes", "0"],
    ["socket.request.max.bytes", "2147483648"],
    ["connections.max.idle.ms", "-1"],
    ["connections.max.idle.ms", "2147483648"],
    ["log.retention.check.interval.ms", "0"],
    ["offsets.retention.check.interval.ms", "0"],
    ["offsets.topic.segment.bytes", "10"],
    ["offsets.retention.minutes", "0"],
    ["offset.metadata.max.bytes", "-1"],
    ["group.min.session.timeout.ms", "0"],
    ["group.max.session.timeout.ms", "99999999999"],
    ["group.initial.rebalance.delay.ms", "-1"],
    ["group.max.size", "0"],
    ["log.journal.bytes", "99999999999"],
    ["log.level", "loud"],
    ["log.format", "xml"],
    ["data.dir", ""],
    ["host", ""],
    ["num.partitions", "1.5"],
    ["num.partitions", "0x10"],
    ["min.insync.replicas", "0"],
    ["log.retention.ms", "-5"],
    ["log.segment.bytes", "10"],
    ["log.flush.ms", "0"],
    ["message.max.bytes", "-1"],
    ["compression.type", "brotli"],
  ])("%s=%s", (key, value) => {
    const message = refusal({ [key]: value });
    expect(message).toMatch(/^INVALID_CONFIG: /);
    expect(message).toContain(`${key}=${value}`);
    expect(message).not.toContain("\n");
  });

  /**
   * Flags a cross-checked key needs beside it at one end of its range: ordered pairs stay
   * ordered, queued.max.response.bytes holds the largest batch (message.max.bytes + 1 KiB) and
   * queued.max.request.bytes stays at least socket.request.max.bytes (or -1).
   */
  function companions(key: string, end: "min" | "max", value: number): Record<string, number> {
    const table: Record<string, Record<string, number>> = {
      "min:group.max.session.timeout.ms": { "group.min.session.timeout.ms": value },
      "max:group.min.session.timeout.ms": { "group.max.session.timeout.ms": value },
      "min:log.heal.backoff.max.ms": { "log.heal.backoff.ms": value },
      "max:log.heal.backoff.ms": { "log.heal.backoff.max.ms": value },
      "min:queued.max.response.bytes": { "message.max.bytes": 0 },
      "max:socket.request.max.bytes": { "queued.max.request.bytes": -1 },
      "min:broker.session.timeout.ms": { "broker.heartbeat.interval.ms": 10 },
      "max:broker.heartbeat.interval.ms": { "broker.session.timeout.ms": INT32_MAX },
      "min:replica.socket.timeout.ms": { "replica.fetch.wait.max.ms": 0 },
      "max:replica.fetch.wait.max.ms": { "replica.socket.timeout.ms": INT32_MAX },
    };
    return table[`${end}:${key}`] ?? {};
  }

  it("every int key of the table refuses one past each end of its range and takes both ends", () => {
    for (const [key, spec] of Object.entries(BROKER_CONFIG_KEYS)) {
      if (spec.kind !== "int" || spec.topicKey) continue;
      const min = spec.min ?? 0;
      const max = spec.max ?? INT32_MAX;
      expect(min, key).toBeGreaterThanOrEqual(-1); // -1: unbounded (queued.max.request.bytes)
      expect(max, key).toBeLessThanOrEqual(INT32_MAX);
      expect(refusal({ [key]: min - 1 }), key).toContain(`${key}=${min - 1}: expected at least ${min}`);
      expect(refusal({ [key]: max + 1 }), key).toContain(`${key}=${max + 1}: expected at most ${max}`);
      const low = companions(key, "min", min);
      const high = companions(key, "max", max);
      expect(() => loadBrokerConfig({ flags: { ...low, [key]: min } }), key).not.toThrow();
      expect(() => loadBrokerConfig({ flags: { ...high, [key]: max } }), key).not.toThrow();
    }
  });

  it("refuses queued.max.response.bytes that cannot hold a Fetch of the largest batch (message.max.bytes)", () => {
    // Default message.max.bytes (1048588): a stored batch of that size would never be fetchable.
    expect(refusal({ "queued.max.response.bytes": 1024 * 1024 })).toBe(
      "INVALID_CONFIG: queued.max.response.bytes=1048576: expected at least message.max.bytes + 1024 (1049612), so that a Fetch of the largest batch fits",
    );
    expect(refusal({ "queued.max.response.bytes": 5000, "message.max.bytes": 4000 })).toContain(
      "queued.max.response.bytes=5000",
    );
    const fits = loadBrokerConfig({
      flags: { "queued.max.response.bytes": 5024, "message.max.bytes": 4000 },
    });
    expect(fits.queuedMaxResponseBytes).toBe(5024);
  });

  it("refuses a heartbeat not below the broker session timeout, a replica socket timeout not above the fetch wait, and a cluster that is not etcd://", () => {
    expect(refusal({ "broker.heartbeat.interval.ms": 9000 })).toBe(
      "INVALID_CONFIG: broker.heartbeat.interval.ms=9000 must be below broker.session.timeout.ms=9000",
    );
    expect(refusal({ "replica.fetch.wait.max.ms": 30000 })).toContain(
      "replica.socket.timeout.ms=30000 must be above",
    );
    expect(refusal({ cluster: "http://127.0.0.1:2379" })).toBe(
      "INVALID_CONFIG: cluster=http://127.0.0.1:2379: expected etcd://host:port[,host:port]",
    );
    const ok = loadBrokerConfig({
      flags: { cluster: "etcd://127.0.0.1:2379,10.0.0.2:2379", "broker.rack": "r1" },
    });
    expect(ok.cluster).toBe("etcd://127.0.0.1:2379,10.0.0.2:2379");
    expect(ok.rack).toBe("r1");
  });

  it("refuses a minimum session timeout above the maximum, and keys named after Object.prototype members", () => {
    expect(refusal({ "group.min.session.timeout.ms": 5000, "group.max.session.timeout.ms": 4000 })).toContain(
      "group.min.session.timeout.ms=5000 is above group.max.session.timeout.ms=4000",
    );
    for (const key of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
      expect(refusal({ [key]: "1" }), key).toBe(`INVALID_CONFIG: unknown broker config ${key}`);
    }
  });

  it("refuses a heal backoff maximum below its first interval, on one line naming both keys", () => {
    const message = refusal({ "log.heal.backoff.ms": 5000, "log.heal.backoff.max.ms": 4000 });
    expect(message).toBe("INVALID_CONFIG: log.heal.backoff.max.ms=4000 is below log.heal.backoff.ms=5000");
    expect(() =>
      loadBrokerConfig({ flags: { "log.heal.backoff.ms": 5000, "log.heal.backoff.max.ms": 5000 } }),
    ).not.toThrow();
  });

  it("shows a value holding a line break on one line", () => {
    const message = refusal({ "log.level": "info\nerror" });
    expect(message).toBe(
      'INVALID_CONFIG: log.level="info\\nerror": expected fatal, error, warn, info, debug, trace, silent',
    );
  });
});
