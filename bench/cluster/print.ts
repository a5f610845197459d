/** The plain-text report of bench/cluster.ts: one table per scenario. */
import type { ProduceScenario, Report } from "../cluster.js";
import { table } from "../script.js";
import type { BrokerUsage } from "./common.js";
import type { FailoverRun } from "./failover.js";

const each = (us: BrokerUsage[], f: (u: BrokerUsage) => number) => us.map(f).join(" / ");
const int = (n: number) => Math.round(n).toLocaleString("en-US");

function produceTable(r: Report): string[] {
  const produce = [r.single, r.cluster].filter((s): s is ProduceScenario => s !== undefined);
  if (produce.length === 0) return [];
  return [
    `Produce: ${r.records.toLocaleString("en-US")} x ${r.record_bytes} B, ${produce[0].partitions} partition(s); ${r.producer}`,
    table(
      [
        "scenario",
        "rec/s",
        "MB/s",
        "p50 ms",
        "p99 ms",
        "broker CPU %",
        "CPU s",
        "idle CPU %",
        "writes/s",
        "RSS MB",
        "client CPU %",
        "load_1m",
      ],
      produce.map((s) => [
        `${s.scenario}: ${s.brokers} broker(s), RF=${s.replication_factor}, acks=${s.acks === -1 ? "all" : "1"}`,
        int(s.result.records_per_sec),
        s.result.mb_per_sec.toFixed(1),
        s.result.latency_ms.p50.toFixed(2),
        s.result.latency_ms.p99.toFixed(2),
        each(s.broker_usage, (u) => u.cpu_pct),
        each(s.broker_usage, (u) => u.cpu_s),
        s.idle_cpu_pct.join(" / "),
        each(s.broker_usage, (u) => u.writes_per_sec),
        each(s.broker_usage, (u) => Math.round(u.rss_mb)),
        String(s.client_cpu_pct),
        s.load_1m.toFixed(2),
      ]),
    ),
    "",
  ];
}

function consumeTable(r: Report): string[] {
  if (r.consume.length === 0) return [];
  return [
    "Consume from the beginning (1 assign-mode consumer; records/s from the first batch on):",
    table(
      ["target", "records", "rec/s", "MB/s", "first ms", "broker CPU %", "client CPU %", "load_1m"],
      r.consume.map((c) => [
        c.target,
        int(c.records),
        int(c.records_per_sec),
        c.mb_per_sec.toFixed(1),
        c.first_record_ms.toFixed(0),
        each(c.brokers, (u) => u.cpu_pct),
        String(c.client_cpu_pct),
        c.load_1m.toFixed(2),
      ]),
    ),
    "",
  ];
}

function e2eTable(r: Report): string[] {
  if (r.e2e.length === 0) return [];
  return [
    `End to end at a fixed rate (acks=all, linger 0, batch.size ${r.e2e[0].batch_size}, fetch wait 10 ms; send to receipt):`,
    table(
      [
        "target",
        "rate/s",
        "sent",
        "received",
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms",
        "broker CPU %",
        "load_1m",
      ],
      r.e2e.map((e) => [
        e.target,
        int(e.rate),
        int(e.sent),
        int(e.received),
        e.latency_ms.p50.toFixed(2),
        e.latency_ms.p99.toFixed(2),
        e.latency_ms.p999.toFixed(2),
        e.latency_ms.max.toFixed(2),
        each(e.brokers, (u) => u.cpu_pct),
        e.load_1m.toFixed(2),
      ]),
    ),
    "",
  ];
}

function rf1Table(r: Report): string[] {
  if (r.rf1.length === 0) return [];
  const first = r.rf1[0];
  return [
    `RF=1, ${first.partitions} partitions, ${first.producers} producer threads (acks=1, sendBatch of 1,000, record i to partition i % P):`,
    table(
      ["target", "leaders", "rec/s", "MB/s", "p50 ms", "p99 ms", "broker CPU %", "client CPU %", "load_1m"],
      r.rf1.map((x) => [
        x.target,
        Object.entries(x.leaders)
          .map(([id, n]) => `${id}:${n}`)
          .join(" "),
        int(x.records_per_sec),
        x.mb_per_sec.toFixed(1),
        x.p50_ms.toFixed(2),
        x.p99_ms.toFixed(2),
        each(x.brokers, (u) => u.cpu_pct),
        String(x.client_cpu_pct),
        x.load_1m.toFixed(2),
      ]),
    ),
    "",
  ];
}

function failoverTable(f: FailoverRun): string[] {
  return [
    `Failover, broker.session.timeout.ms ${f.session_timeout_ms}${f.default_session ? " (default)" : ""}: ${f.acked} records acknowledged, ${f.errors} errors`,
    table(
      ["kill", "broker", "controller too", "new leader ms", "first ack ms", "load_1m"],
      f.reps.map((x, i) => [
        String(i + 1),
        String(x.killed_node),
        x.killed_controller ? "yes" : "no",
        String(x.new_leader_ms),
        String(x.first_ack_ms),
        x.load_1m.toFixed(2),
      ]),
    ),
    ...(f.error ? [`stopped early: ${f.error}`] : []),
    `min/median/max: new leader ${f.new_leader_ms.min}/${f.new_leader_ms.median}/${f.new_leader_ms.max} ms, first ack ${f.first_ack_ms.min}/${f.first_ack_ms.median}/${f.first_ack_ms.max} ms`,
    "",
  ];
}

function abTable(r: Report): string[] {
  const ab = r.ab;
  if (!ab) return [];
  const m = ab.median;
  return [
    `A/B, RF=3 acks=all produce, clusters up together, ABBA order: a = ${ab.a_root}, b = ${ab.b_root}`,
    table(
      [
        "rep",
        "side",
        "rec/s",
        "p50 ms",
        "p99 ms",
        "leader",
        "leader CPU us/rec",
        "follower CPU us/rec",
        "load_1m",
      ],
      ab.runs.map((x) => [
        String(x.rep),
        x.side,
        int(x.records_per_sec),
        x.p50_ms.toFixed(2),
        x.p99_ms.toFixed(2),
        String(x.leader),
        x.leader_cpu_us_per_record.toFixed(2),
        x.follower_cpu_us_per_record.toFixed(2),
        x.load_1m.toFixed(2),
      ]),
    ),
    `medians: a ${int(m.a.records_per_sec)} rec/s, leader ${m.a.leader_cpu_us} / follower ${m.a.follower_cpu_us} us/rec; b ${int(m.b.records_per_sec)} rec/s, leader ${m.b.leader_cpu_us} / follower ${m.b.follower_cpu_us} us/rec`,
    "",
  ];
}

export function printReport(r: Report, targetRatio: number): void {
  const out: string[] = [...produceTable(r)];
  if (r.ratio !== undefined)
    out.push(
      `cluster / single: ${(100 * r.ratio).toFixed(0)}% (target >= ${100 * targetRatio}%: ${r.target_met ? "met" : "NOT met"})`,
      "",
    );
  out.push(...consumeTable(r), ...e2eTable(r), ...rf1Table(r));
  out.push(...abTable(r));
  for (const f of r.failover) out.push(...failoverTable(f));
  if (r.charts.length > 0) out.push(`charts: ${r.charts.join(", ")}`);
  out.push(
    `brokers: ${r.brokers_root}; total ${r.seconds} s, ${r.cpus} x ${r.cpu_model}, Node ${r.node}, ${r.date}`,
  );
  process.stdout.write(`${out.join("\n")}\n`);
}
