/**
 * kafka-python 2.0.2 (Debian's python3-kafka) against an in-process broker: its admin client
 * (create with configs, list, describe topics and cluster, describe configs, add partitions,
 * delete), its producer (acks=all, keys) and its consumer in a group with committed offsets.
 * kafka-python 2.0.2 has no idempotent producer and no DeleteRecords; those are covered by
 * @platformatic/kafka (platformatic.test.ts). The scenarios live in kafka_python_client.py, run by
 * /usr/bin/python3 (Debian's, where python3-kafka is installed; the PATH python may be another),
 * each bounded by a timeout. Without the package the suite fails naming the install command.
 */
import { spawn, spawnSync } from "node:child_process";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { TestClient } from "../helpers/kafka-client.js";
import { fetchPartition } from "./helpers.js";

const PYTHON = "/usr/bin/python3";
const SCRIPT = path.join(import.meta.dirname, "kafka_python_client.py");
const INSTALL = "apt-get update && apt-get install -y python3-kafka";
/** Longest one scenario may run before it is killed. */
const SCENARIO_TIMEOUT_MS = 60_000;

let tb: TestBroker;
let client: TestClient;

/** Throws, naming the install command, unless Debian's python3 can import kafka. Never a skip. */
function requireKafkaPython(): void {
  const probe = spawnSync(PYTHON, ["-c", "import kafka; print(kafka.__version__)"], {
    encoding: "utf8",
    timeout: 10_000,
  });
  if (probe.error || probe.status !== 0) {
    const why = probe.error ? probe.error.message : `exit ${probe.status}: ${probe.stderr}`;
    throw new Error(
      `kafka-python is required by test/compat but ${PYTHON} cannot import it (${why}). ` +
        `Install it with: ${INSTALL} (as root; .ci/run does this)`,
    );
  }
}

/** Runs one scenario of kafka_python_client.py; resolves with the JSON it printed. */
function scenario(name: string, topic: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [SCRIPT, String(tb.port), name, topic], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, SCENARIO_TIMEOUT_MS);
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`${PYTHON} ${name}: ${e.message}; install with: ${INSTALL}`));
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString("utf8");
      if (timedOut) reject(new Error(`kafka-python ${name} timed out; stderr:\n${stderr}`));
      else if (code !== 0) reject(new Error(`kafka-python ${name} exited ${code}; stderr:\n${stderr}`));
      else resolve(JSON.parse(Buffer.concat(out).toString("utf8")));
    });
  });
}

beforeAll(async () => {
  tb = await startTestBroker({ "num.partitions": 1, "group.initial.rebalance.delay.ms": 0 });
  client = await TestClient.connect(tb.port);
});

afterAll(async () => {
  client?.close();
  await tb?.stop();
});

describe("kafka-python 2.0.2", () => {
  it("is installed", () => {
    requireKafkaPython();
  });

  it("admin: creates with configs, lists, describes topics, cluster and configs, adds partitions, deletes", async () => {
    const r = await scenario("admin", "py-admin");
    expect(r).toEqual({
      listed: true,
      partitions: 2,
      error: 0,
      cluster_id: tb.broker.store.clusterId(),
      controller_id: 1,
      brokers: [1],
      retention_ms: "3600000",
      grown: 3,
      deleted: true,
    });
  });

  it("produces with acks=all: the offsets it was told are the records in the log", async () => {
    const r = await scenario("produce", "py-data");
    expect(r.offsets).toEqual(Array.from({ length: 20 }, (_, i) => i));
    const read = await fetchPartition(client, "py-data", 0);
    expect(read.records.map((x) => `${x.key?.toString()}=${x.value?.toString()}`)).toEqual(
      Array.from({ length: 20 }, (_, i) => `k${i % 3}=v${i}`),
    );
  });

  it("consumes in a group, commits, and a new member resumes after the commit", async () => {
    const r = await scenario("group", "py-data");
    expect(r.values).toEqual(Array.from({ length: 20 }, (_, i) => `v${i}`));
    expect(r.committed).toBe(20);
    expect(r.resumed).toEqual([[20, "after"]]);
  });
});
