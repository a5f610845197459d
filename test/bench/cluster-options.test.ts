/**
 * bench/cluster.ts's command line (scenarios, what `consume` implies, refused values) and its chart
 * (bench/cluster/chart.ts) drawn from a made-up report: no broker is started.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writeChart } from "../../bench/cluster/chart.js";
import type { BrokerUsage } from "../../bench/cluster/common.js";
import { parseOptions, type Report } from "../../bench/cluster.js";

const dir = mkdtempSync(path.join(tmpdir(), "samsa-cluster-chart-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("bench/cluster.ts options", () => {
  it("runs the speed scenarios by default, failover only when asked", () => {
    const o = parseOptions([]);
    expect(o?.scenarios).toEqual(["single", "cluster", "consume", "e2e", "rf1x2"]);
    expect(o?.e2eRates).toEqual([5000, 20000]);
    expect(o?.rf1Producers).toBe(2);
    expect(o?.e2eBatchSize).toBe(16_384);
    expect(o?.charts).toMatch(/bench[/\\]charts$/);
    expect(parseOptions(["--scenarios", "failover"])?.scenarios).toEqual(["failover"]);
  });

  it("adds the produce scenarios that consume reads", () => {
    expect(parseOptions(["--scenarios", "consume"])?.scenarios).toEqual(["consume", "single", "cluster"]);
  });

  it("takes rates, --no-charts and another tree's brokers", () => {
    const o = parseOptions(["--e2e-rates", "1000,2000,3000", "--no-charts", "--root", "/tmp/x"]);
    expect(o?.e2eRates).toEqual([1000, 2000, 3000]);
    expect(o?.charts).toBeNull();
    expect(o?.root).toBe(path.resolve("/tmp/x"));
  });

  it("refuses unknown scenarios and values that are not positive integers", () => {
    expect(() => parseOptions(["--scenarios", "single,bogus"])).toThrow(/unknown scenario bogus/);
    expect(() => parseOptions(["--e2e-rates", "5000,"])).toThrow(/--e2e-rates/);
    expect(() => parseOptions(["--rf1-producers", "0"])).toThrow(/--rf1-producers/);
    expect(() => parseOptions(["--records", "1.5"])).toThrow(/--records/);
    expect(() => parseOptions(["--scenarios", "ab"])).toThrow(/--ab-root/);
    expect(parseOptions(["--scenarios", "ab", "--ab-root", "/tmp/base"])?.abRoot).toBe(
      path.resolve("/tmp/base"),
    );
  });

  it("returns null for --help", () => {
    expect(parseOptions(["--help"])).toBeNull();
  });
});

const usage = (cpu: number): BrokerUsage => ({
  node_id: 1,
  cpu_pct: cpu,
  cpu_s: cpu / 100,
  writes_per_sec: 0,
  reads_per_sec: 0,
  rss_mb: 100,
});

function report(): Report {
  const latency = { p50: 2, p95: 5, p99: 9, p999: 17, max: 30, avg: 3 };
  const e2e = (target: string, p50: number) => ({
    target,
    rate: 5000,
    batch_size: 16_384,
    seconds: 10,
    sent: 50_000,
    received: 50_000,
    latency_ms: { ...latency, p50 },
    brokers: [usage(10)],
    client_cpu_pct: 20,
    load_1m: 1.5,
  });
  const rf1 = (target: string, cpus: number[]) => ({
    target,
    partitions: 4,
    leaders: {},
    producers: 2,
    records: 1000,
    records_per_sec: 123_456,
    mb_per_sec: 12.3,
    p50_ms: 1,
    p99_ms: 2,
    brokers: cpus.map(usage),
    client_cpu_pct: 77,
    load_1m: 2.5,
  });
  return {
    benchmark: "cluster",
    date: "2026-12-03T00:00:00.000Z",
    node: "v20",
    cpus: 2,
    cpu_model: "test",
    records: 1000,
    record_bytes: 100,
    producer: "p",
    brokers_root: "/x",
    consume: [],
    e2e: [e2e("1 broker", 3.25), e2e("3 brokers RF=3", 11.5)],
    rf1: [rf1("1 broker", [61]), rf1("2 brokers", [43, 44])],
    failover: [],
    charts: [],
    seconds: 1,
  };
}

describe("bench/cluster/chart.ts", () => {
  it("draws the e2e percentiles of both targets and each broker's CPU", () => {
    const [file] = writeChart(report(), dir);
    expect(path.basename(file)).toBe("cluster.svg");
    const svg = readFileSync(file, "utf8");
    expect(svg).toContain("End to end at 5,000 records/s (acks=all, linger 0, batch 16 KiB)");
    expect(svg).toContain("3 brokers RF=3 p50: 11.5");
    expect(svg).toContain("1 broker p50: 3.25");
    expect(svg).toContain("2 brokers broker 2: 44");
    expect(svg).toContain("load_1m 1.5-2.5");
    // The single broker has no second broker: that bar is n/a, not 0.
    expect(svg).not.toContain("1 broker broker 2:");
  });

  it("writes nothing for a report with nothing to draw", () => {
    expect(writeChart({ ...report(), e2e: [], rf1: [] }, path.join(dir, "none"))).toEqual([]);
  });
});
