/**
 * GET /metrics (broker/metrics/) against known traffic on one broker: records and bytes in and out
 * per topic equal what was produced and fetched, requests counted by API and listener (the HTTP
 * door's as `http`), errors by their Kafka name, latency histograms' counts, partition and
 * leadership gauges and kafka_exporter's partition series, a group's lag (high watermark minus
 * committed), connections opened and closed, journal fsyncs, the process's default metrics, and
 * a deleted topic's series gone.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordsIn } from "../../../broker/metrics/topics.js";
import { errorCode } from "../../../protocol/errors.js";
import { startTestBroker, type TestBroker } from "../../helpers/broker.js";
import { API, offsetCommitRequest } from "../../helpers/group-requests.js";
import { TestClient } from "../../helpers/kafka-client.js";
import { failOnProcessErrors } from "../../helpers/process-errors.js";
import { parseProm, type Sample, sampleValue } from "../../helpers/prom-text.js";
import { batchOf } from "../../helpers/records.js";
import { fetchRequest, produceRequest } from "../../helpers/requests.js";
import { waitFor } from "../../helpers/wait.js";

failOnProcessErrors();

const CREATE_TOPICS = 19;
const DELETE_TOPICS = 20;
const TOPIC = "m-orders";
const LISTENER = "PLAINTEXT";

let tb: TestBroker;
let client: TestClient;
/** The batches produced to TOPIC partition 0 in beforeAll. */
const batches = [batchOf(10, "a"), batchOf(15, "b")];

async function scrape(): Promise<Sample[]> {
  const res = await tb.broker.http?.app.inject({ method: "GET", url: "/metrics" });
  if (!res) throw new Error("no HTTP server");
  expect(res.statusCode, res.body).toBe(200);
  return parseProm(res.body);
}

async function createTopic(name: string, partitions: number): Promise<void> {
  const r = await client.request(CREATE_TOPICS, 7, {
    topics: [{ name, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 10_000,
    validateOnly: false,
  });
  expect(r.topics[0].errorCode).toBe(0);
}

beforeAll(async () => {
  tb = await startTestBroker({ "auto.create.topics.enable": false });
  client = await TestClient.connect(tb.port);
  await createTopic(TOPIC, 3);
  for (const b of batches) {
    const r = await client.request(0, 9, produceRequest(TOPIC, b, -1, 0));
    expect(r.responses[0].partitionResponses[0].errorCode).toBe(0);
  }
});

afterAll(async () => {
  client?.close();
  await tb?.stop();
});

describe("GET /metrics", () => {
  it("answers Prometheus text 0.0.4 and refuses query parameters", async () => {
    const http = tb.broker.http;
    const res = await http?.app.inject({ method: "GET", url: "/metrics" });
    expect(res?.statusCode).toBe(200);
    expect(res?.headers["content-type"]).toContain("text/plain; version=0.0.4");
    const bad = await http?.app.inject({ method: "GET", url: "/metrics?name=x" });
    expect(bad?.statusCode).toBe(400);
    expect(bad?.json().error_code).toBe("BAD_REQUEST");
  });

  it("counts records and bytes in per topic as produced", async () => {
    const s = await scrape();
    expect(sampleValue(s, "samsa_topic_records_in_total", { topic: TOPIC })).toBe(25);
    expect(sampleValue(s, "samsa_topic_bytes_in_total", { topic: TOPIC })).toBe(
      batches[0].length + batches[1].length,
    );
  });

  it("counts records and bytes out per topic as fetched by a consumer, none as replication", async () => {
    const before = await scrape();
    const r = await client.request(1, 12, fetchRequest(TOPIC, 0));
    const records: Buffer = r.responses[0].partitions[0].records;
    expect(recordsIn(records)).toBe(25);
    const after = await scrape();
    const out = (s: Sample[], name: string) => sampleValue(s, name, { topic: TOPIC }) ?? 0;
    expect(out(after, "samsa_topic_records_out_total") - out(before, "samsa_topic_records_out_total")).toBe(
      25,
    );
    expect(out(after, "samsa_topic_bytes_out_total") - out(before, "samsa_topic_bytes_out_total")).toBe(
      records.length,
    );
    expect(out(after, "samsa_topic_replication_bytes_out_total")).toBe(0);
  });

  it("counts requests by API and listener, with a latency observation each", async () => {
    const labels = { api: "Produce", listener: LISTENER };
    const before = await scrape();
    for (let i = 0; i < 3; i++) await client.request(0, 9, produceRequest(TOPIC, batchOf(1, "c"), -1, 1));
    const after = await scrape();
    const count = (s: Sample[]) => sampleValue(s, "samsa_kafka_requests_total", labels) ?? 0;
    const observed = (s: Sample[]) =>
      sampleValue(s, "samsa_kafka_request_latency_seconds_count", { api: "Produce" }) ?? 0;
    expect(count(after) - count(before)).toBe(3);
    expect(observed(after) - observed(before)).toBe(3);
    const inf = sampleValue(after, "samsa_kafka_request_latency_seconds_bucket", {
      api: "Produce",
      le: "+Inf",
    });
    expect(inf).toBe(observed(after));
  });

  it("counts the HTTP door's requests under listener http", async () => {
    const labels = { api: "Metadata", listener: "http" };
    const before = sampleValue(await scrape(), "samsa_kafka_requests_total", labels) ?? 0;
    const res = await tb.broker.http?.app.inject({ method: "GET", url: `/topics/${TOPIC}` });
    expect(res?.statusCode, res?.body).toBe(200);
    const after = sampleValue(await scrape(), "samsa_kafka_requests_total", labels) ?? 0;
    expect(after).toBeGreaterThan(before);
  });

  it("counts each partition's error code under its Kafka name", async () => {
    const labels = { api: "Produce", error: "UNKNOWN_TOPIC_OR_PARTITION" };
    const before = sampleValue(await scrape(), "samsa_kafka_request_errors_total", labels) ?? 0;
    const request = produceRequest("m-missing", batchOf(1, "x"));
    request.topicData[0].partitionData.push({ index: 1, records: batchOf(1, "y") });
    const r = await client.request(0, 9, request);
    expect(r.responses[0].partitionResponses.map((p: { errorCode: number }) => p.errorCode)).toEqual([
      errorCode("UNKNOWN_TOPIC_OR_PARTITION"),
      errorCode("UNKNOWN_TOPIC_OR_PARTITION"),
    ]);
    const after = sampleValue(await scrape(), "samsa_kafka_request_errors_total", labels) ?? 0;
    expect(after - before).toBe(2);
  });

  it("counts a top-level error", async () => {
    const labels = { api: "Fetch", error: "FETCH_SESSION_ID_NOT_FOUND" };
    const request = { ...fetchRequest(TOPIC, 0), sessionId: 42, sessionEpoch: 1 };
    const r = await client.request(1, 12, request);
    expect(r.errorCode).toBe(errorCode("FETCH_SESSION_ID_NOT_FOUND"));
    expect(sampleValue(await scrape(), "samsa_kafka_request_errors_total", labels)).toBe(1);
  });

  it("reports partitions, leaderships and kafka_exporter's partition series", async () => {
    const s = await scrape();
    const hosted = tb.broker.topics.allPartitions().length;
    expect(sampleValue(s, "samsa_partitions")).toBe(hosted);
    expect(sampleValue(s, "samsa_partition_leaders")).toBe(hosted);
    expect(sampleValue(s, "samsa_under_replicated_partitions")).toBe(0);
    expect(sampleValue(s, "samsa_offline_partitions")).toBe(0);
    expect(sampleValue(s, "samsa_active_controller")).toBe(1);
    expect(sampleValue(s, "kafka_brokers")).toBe(1);
    expect(sampleValue(s, "kafka_topic_partitions", { topic: TOPIC })).toBe(3);
    const p0 = { topic: TOPIC, partition: "0" };
    expect(sampleValue(s, "kafka_topic_partition_current_offset", p0)).toBe(25);
    expect(sampleValue(s, "kafka_topic_partition_oldest_offset", p0)).toBe(0);
    expect(sampleValue(s, "kafka_topic_partition_leader", p0)).toBe(tb.broker.config.nodeId);
    expect(sampleValue(s, "kafka_topic_partition_replicas", p0)).toBe(1);
    expect(sampleValue(s, "kafka_topic_partition_in_sync_replica", p0)).toBe(1);
    expect(sampleValue(s, "kafka_topic_partition_under_replicated_partition", p0)).toBe(0);
  });

  it("reports a group's committed offsets, lag = high watermark - committed, and its sum", async () => {
    const r = await client.request(
      API.OFFSET_COMMIT,
      8,
      offsetCommitRequest("lagging", {
        [TOPIC]: [
          { partition: 0, offset: 10, metadata: "" },
          { partition: 2, offset: 0, metadata: "" },
        ],
      }),
    );
    for (const p of r.topics[0].partitions) expect(p.errorCode).toBe(0);
    const s = await scrape();
    const g = { consumergroup: "lagging", topic: TOPIC };
    expect(sampleValue(s, "kafka_consumergroup_current_offset", { ...g, partition: "0" })).toBe(10);
    expect(sampleValue(s, "kafka_consumergroup_lag", { ...g, partition: "0" })).toBe(25 - 10);
    expect(sampleValue(s, "kafka_consumergroup_lag", { ...g, partition: "2" })).toBe(0);
    expect(sampleValue(s, "kafka_consumergroup_lag_sum", g)).toBe(15);
    expect(sampleValue(s, "kafka_consumergroup_members", { consumergroup: "lagging" })).toBe(0);
  });

  it("counts connections opened and closed per listener", async () => {
    const labels = { listener: LISTENER };
    const before = await scrape();
    const opened = (s: Sample[]) => sampleValue(s, "samsa_connections_opened_total", labels) ?? 0;
    const closed = async () => sampleValue(await scrape(), "samsa_connections_closed_total", labels) ?? 0;
    const closedBefore = await closed();
    const second = await TestClient.connect(tb.port);
    await second.request(18, 3, { clientSoftwareName: "t", clientSoftwareVersion: "1" });
    const during = await scrape();
    expect(opened(during) - opened(before)).toBe(1);
    expect(sampleValue(during, "samsa_connections", labels)).toBe(
      (sampleValue(before, "samsa_connections", labels) ?? 0) + 1,
    );
    second.close();
    await waitFor(async () => (await closed()) === closedBefore + 1, "the closed connection counted");
  });

  it("times the journal's rounds and exports the process's default metrics", async () => {
    const s = await scrape();
    expect(sampleValue(s, "samsa_journal_fsync_seconds_count")).toBeGreaterThan(0);
    expect(sampleValue(s, "samsa_journal_bytes_total")).toBeGreaterThan(0);
    for (const name of [
      "process_resident_memory_bytes",
      "nodejs_heap_size_used_bytes",
      "nodejs_eventloop_lag_p99_seconds",
      "process_cpu_seconds_total",
    ])
      expect(sampleValue(s, name), name).toBeGreaterThanOrEqual(0);
  });

  it("drops a deleted topic's series", async () => {
    await createTopic("m-doomed", 1);
    await client.request(0, 9, produceRequest("m-doomed", batchOf(2, "d")));
    expect(sampleValue(await scrape(), "samsa_topic_records_in_total", { topic: "m-doomed" })).toBe(2);
    const r = await client.request(DELETE_TOPICS, 5, { topicNames: ["m-doomed"], timeoutMs: 5000 });
    expect(r.responses[0].errorCode).toBe(0);
    await waitFor(
      async () =>
        sampleValue(await scrape(), "samsa_topic_records_in_total", { topic: "m-doomed" }) === undefined,
      "the deleted topic's series gone",
    );
  });
});
