/**
 * End to end: `samsa storage format --add-scram` (Kafka's `kafka-storage format --add-scram`)
 * puts SCRAM users in the store before brokers start: a single broker's data directory, then
 * started with only a SASL listener, lets that user in and no other password; a cluster's etcd
 * holds the user for every broker. A data directory in use and a malformed `--add-scram` are
 * refused in one line that never shows the password.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { ETCD_PREFIX } from "../../broker/broker.js";
import { loadBrokerConfig } from "../../broker/config.js";
import { EtcdClusterStore, etcdStoreOptions } from "../../broker/metadata/etcd-store.js";
import { Admin } from "../../client/index.js";
import { startTestBroker } from "../helpers/broker.js";
import { runSamsa } from "../helpers/cli.js";
import { TestEtcd } from "../helpers/etcd.js";

const base = mkdtempSync(path.join(tmpdir(), "storage-format-"));
afterAll(() => rmSync(base, { recursive: true, force: true }));

const format = (args: string[]) => runSamsa(["storage", "format", ...args], { brokers: null });

describe("samsa storage format --add-scram", () => {
  it("seeds a data directory whose broker then takes only that login", async () => {
    const dataDir = path.join(base, "single");
    const run = await format([
      "--data-dir",
      dataDir,
      "--add-scram",
      "SCRAM-SHA-512=[name=admin,password=admin-secret]",
    ]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toBe(`user admin: SCRAM-SHA-512 credential set (4096 iterations) in ${dataDir}\n`);
    const tb = await startTestBroker(
      { listeners: "SASL_PLAINTEXT://127.0.0.1:0", "connection.failed.authentication.delay.ms": 0 },
      dataDir,
    );
    try {
      const brokers = [`127.0.0.1:${tb.port}`];
      const admin = new Admin({
        brokers,
        sasl: { mechanism: "scram-sha-512", username: "admin", password: "admin-secret" },
      });
      expect(await admin.listTopics()).toEqual([]);
      await admin.close();
      const wrong = new Admin({
        brokers,
        sasl: { mechanism: "scram-sha-512", username: "admin", password: "nope" },
      });
      await expect(wrong.listTopics()).rejects.toMatchObject({ code: "SASL_AUTHENTICATION_FAILED" });
      await wrong.close();
      // Not beside the broker that holds the directory.
      const locked = await format([
        "--data-dir",
        dataDir,
        "--add-scram",
        "SCRAM-SHA-256=[name=b,password=b-secret]",
      ]);
      expect(locked.status).toBe(1);
      expect(locked.stderr.trimEnd().split("\n")).toHaveLength(1);
      expect(locked.stderr).toContain(`data directory ${dataDir}`);
      expect(locked.stderr).toContain(`in use by process ${process.pid}`);
    } finally {
      await tb.stop(true);
    }
  }, 60_000);

  it("seeds a cluster's etcd", async () => {
    const etcd = await TestEtcd.start();
    try {
      const cluster = `etcd://${etcd.endpoint}`;
      const run = await format([
        "--cluster",
        cluster,
        "--add-scram",
        "SCRAM-SHA-256=[name=broker,password=broker-secret,iterations=8192]",
      ]);
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout).toBe(`user broker: SCRAM-SHA-256 credential set (8192 iterations) in ${cluster}\n`);
      const config = loadBrokerConfig({ flags: { cluster, "data.dir": base } });
      const store = await EtcdClusterStore.open({
        ...etcdStoreOptions(config, ETCD_PREFIX),
        logger: pino({ level: "silent" }),
      });
      try {
        expect(store.scramCredential("broker", "SCRAM-SHA-256")?.iterations).toBe(8192);
      } finally {
        await store.close();
      }
    } finally {
      await etcd.destroy();
    }
  }, 60_000);

  it("refuses a malformed user, or none, in one line without the password", async () => {
    for (const args of [
      ["--add-scram", "SCRAM-SHA-256=[name=alice,password=s3cret,iterations=1]"],
      ["--add-scram", "alice:s3cret"],
      [],
    ]) {
      const run = await format(["--data-dir", path.join(base, "refused"), ...args]);
      expect(run.status, run.stderr).toBe(1);
      expect(run.stderr.trimEnd().split("\n")).toHaveLength(1);
      expect(run.stderr).toMatch(/^samsa: /);
      expect(run.stderr).not.toContain("s3cret");
    }
  });
});
