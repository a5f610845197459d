/** bench/charts/cluster.svg from a bench/cluster.ts report (bench/compare/svg.ts draws it). */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Report } from "../cluster.js";
import { chart, type Panel } from "../compare/svg.js";

function throughputPanel(r: Report): Panel | null {
  const labels: string[] = [];
  const one: (number | null)[] = [];
  const many: (number | null)[] = [];
  if (r.single || r.cluster) {
    labels.push("produce (acks=1 | RF=3 acks=all)");
    one.push(r.single?.result.records_per_sec ?? null);
    many.push(r.cluster?.result.records_per_sec ?? null);
  }
  const consume = (label: string) => r.consume.find((c) => c.target === label)?.records_per_sec ?? null;
  if (r.consume.length > 0) {
    labels.push("consume (RF=1 | RF=3)");
    one.push(consume(r.consume[0].target));
    many.push(r.consume.length > 1 ? consume(r.consume[1].target) : null);
  }
  if (r.rf1.length > 0) {
    labels.push(`RF=1, ${r.rf1[0].producers} producer threads (2 brokers)`);
    one.push(r.rf1[0].records_per_sec);
    many.push(r.rf1[1]?.records_per_sec ?? null);
  }
  if (labels.length === 0) return null;
  return {
    title: `Throughput, ${r.records.toLocaleString("en-US")} x ${r.record_bytes} B`,
    unit: "records/s",
    labels,
    series: [
      { name: "1 broker", values: one },
      { name: "cluster", values: many },
    ],
  };
}

function e2ePanels(r: Report): Panel[] {
  const rates = [...new Set(r.e2e.map((e) => e.rate))];
  return rates.map((rate) => {
    const rows = r.e2e.filter((e) => e.rate === rate);
    return {
      title: `End to end at ${rate.toLocaleString("en-US")} records/s (acks=all, linger 0, batch ${rows[0].batch_size / 1024} KiB)`,
      unit: "ms",
      labels: ["p50", "p99", "p99.9"],
      series: rows.map((e) => ({
        name: e.target,
        values: [e.latency_ms.p50, e.latency_ms.p99, e.latency_ms.p999],
      })),
    };
  });
}

function cpuPanel(r: Report): Panel | null {
  if (r.rf1.length === 0) return null;
  const brokers = Math.max(...r.rf1.map((x) => x.brokers.length));
  const labels = [...Array.from({ length: brokers }, (_, i) => `broker ${i + 1}`), "load generator"];
  return {
    title: "RF=1 produce: CPU per process",
    unit: "% of a core",
    labels,
    series: r.rf1.map((x) => ({
      name: x.target,
      values: [...labels.slice(0, -1).map((_, i) => x.brokers[i]?.cpu_pct ?? null), x.client_cpu_pct],
    })),
  };
}

/** Writes `dir`/cluster.svg when the report has anything to draw; the files written. */
export function writeChart(r: Report, dir: string): string[] {
  const panels = [throughputPanel(r), ...e2ePanels(r), cpuPanel(r)].filter((p): p is Panel => p !== null);
  if (panels.length === 0) return [];
  const load = [r.single, r.cluster, ...r.consume, ...r.e2e, ...r.rf1]
    .map((x) => x?.load_1m)
    .filter((x): x is number => x !== undefined);
  const note = `${r.date.slice(0, 16)}Z, ${r.cpus} x ${r.cpu_model}, Node ${r.node}, load_1m ${Math.min(...load)}-${Math.max(...load)}; single broker and cluster on the same 2 cores`;
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, "cluster.svg");
  fs.writeFileSync(file, chart("samsa: one broker beside a cluster on one machine", note, panels));
  return [file];
}
