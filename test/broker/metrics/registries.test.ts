/**
 * Brokers in one process keep separate registries (a record produced to one shows in its
 * /metrics only), share the process's default collectors (the same metric objects, started once),
 * and metrics.enable=false leaves the broker without metrics: GET /metrics is 404 NOT_FOUND and
 * the broker still serves produce and fetch.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestBroker, type TestBroker } from "../../helpers/broker.js";
import { TestClient } from "../../helpers/kafka-client.js";
import { failOnProcessErrors } from "../../helpers/process-errors.js";
import { parseProm, type Sample, sampleValue } from "../../helpers/prom-text.js";
import { batchOf } from "../../helpers/records.js";
import { fetchRequest, produceRequest } from "../../helpers/requests.js";

failOnProcessErrors();

let a: TestBroker;
let b: TestBroker;
let off: TestBroker;

async function scrape(tb: TestBroker): Promise<Sample[]> {
  const res = await tb.broker.http?.app.inject({ method: "GET", url: "/metrics" });
  expect(res?.statusCode, res?.body).toBe(200);
  return parseProm(res?.body ?? "");
}

async function produce(tb: TestBroker, topic: string, count: number): Promise<void> {
  const client = await TestClient.connect(tb.port);
  try {
    const r = await client.request(0, 9, produceRequest(topic, batchOf(count, "r")));
    expect(r.responses[0].partitionResponses[0].errorCode).toBe(0);
  } finally {
    client.close();
  }
}

beforeAll(async () => {
  [a, b, off] = await Promise.all([
    startTestBroker(),
    startTestBroker(),
    startTestBroker({ "metrics.enable": false }),
  ]);
});

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop(), off?.stop()]);
});

describe("two brokers in one process", () => {
  it("count into their own registries", async () => {
    expect(a.broker.metrics?.registry).not.toBe(b.broker.metrics?.registry);
    await produce(a, "only-a", 7);
    await produce(b, "only-b", 3);
    const [sa, sb] = [await scrape(a), await scrape(b)];
    expect(sampleValue(sa, "samsa_topic_records_in_total", { topic: "only-a" })).toBe(7);
    expect(sampleValue(sa, "samsa_topic_records_in_total", { topic: "only-b" })).toBeUndefined();
    expect(sampleValue(sb, "samsa_topic_records_in_total", { topic: "only-b" })).toBe(3);
    expect(sampleValue(sb, "samsa_topic_records_in_total", { topic: "only-a" })).toBeUndefined();
    expect(sampleValue(sa, "samsa_kafka_requests_total", { api: "Produce", listener: "PLAINTEXT" })).toBe(1);
    expect(sampleValue(sb, "samsa_kafka_requests_total", { api: "Produce", listener: "PLAINTEXT" })).toBe(1);
  });

  it("share the process's default collectors, started once", async () => {
    const ra = a.broker.metrics?.registry;
    const rb = b.broker.metrics?.registry;
    for (const name of [
      "nodejs_gc_duration_seconds",
      "nodejs_eventloop_lag_p99_seconds",
      "process_resident_memory_bytes",
    ]) {
      const metric = ra?.getSingleMetric(name);
      expect(metric, name).toBeDefined();
      expect(rb?.getSingleMetric(name), name).toBe(metric);
    }
    // Both registries print them: no name clash, no second registration.
    expect(sampleValue(await scrape(a), "process_resident_memory_bytes")).toBeGreaterThan(0);
    expect(sampleValue(await scrape(b), "process_resident_memory_bytes")).toBeGreaterThan(0);
  });
});

describe("metrics.enable=false", () => {
  it("answers GET /metrics 404 NOT_FOUND", async () => {
    expect(off.broker.metrics).toBeNull();
    const res = await off.broker.http?.app.inject({ method: "GET", url: "/metrics" });
    expect(res?.statusCode).toBe(404);
    const body = res?.json() as { error_code: string; message: string };
    expect(body.error_code).toBe("NOT_FOUND");
    expect(body.message).toContain("metrics.enable=false");
  });

  it("still serves produce and fetch", async () => {
    await produce(off, "dark", 5);
    const client = await TestClient.connect(off.port);
    try {
      const r = await client.request(1, 12, fetchRequest("dark", 0));
      expect(r.responses[0].partitions[0].errorCode).toBe(0);
      expect(r.responses[0].partitions[0].highWatermark).toBe(5);
    } finally {
      client.close();
    }
  });
});
