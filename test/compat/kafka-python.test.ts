/**
 * kafka-python 2.0.2 (Debian's python3-kafka) against an in-process broker: its admin client
 * (create with configs, list, describe topics and cluster, describe configs, add partitions,
 * delete), its producer (acks=all, keys) and its consumer in a group with committed offsets.
 * kafka-python 2.0.2 has no idempotent producer and no DeleteRecords; those are covered by
 * @platformatic/kafka (platformatic.test.ts). The scenarios live in kafka_python_client.py, run by
 * /usr/bin/python3 (Debian's, where python3-kafka is installed; the PATH python may be another),
 * each bounded by a timeout. Without the package the suite fails naming the install command.
 */
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { TestClient } from "../helpers/kafka-client.js";
import { fetchPartition, requireTool, runBounded } from "./helpers.js";

const PYTHON = "/usr/bin/python3";
const SCRIPT = path.join(import.meta.dirname, "kafka_python_client.py");
const INSTALL = "apt-get update && apt-get install -y python3-kafka";
/** Longest one scenario may run before it is killed. */
const SCENARIO_TIMEOUT_MS = 60_000;

let tb: TestBroker;
let client: TestClient;

function requireKafkaPython(): void {
  requireTool("kafka-python", PYTHON, ["-c", "import kafka; print(kafka.__version__)"], INSTALL);
}

/** Runs one scenario of kafka_python_client.py; resolves with the JSON it printed. */
async function scenario(name: string, topic: string): Promise<Record<string, unknown>> {
  const { stdout } = await runBounded(PYTHON, [SCRIPT, String(tb.port), name, topic], {
    timeoutMs: SCENARIO_TIMEOUT_MS,
    install: INSTALL,
  });
  return JSON.parse(stdout.toString("utf8"));
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
