/**
 * Issue 14's "Speed under replication" scenarios beside the single broker (bench/cluster.ts):
 *
 *   consume  the records a produce scenario wrote, read from the beginning (`runConsume`, one
 *            assign-mode consumer): on a cluster it reads from the leader
 *   e2e      `runE2e` at a fixed rate (acks=all, linger 0, fetch long poll 10 ms): send to
 *            receipt, which on an RF=3 topic includes the followers' fetches that move the high
 *            watermark; p50 / p99 / p99.9
 *   rf1      one broker against a 2-broker cluster, RF=1 topics whose partitions the controller
 *            spreads over both; `--rf1-producers` worker threads (bench/compare/producer-worker.ts,
 *            acks=1, `sendBatch` of 1,000 records, record i to partition i % P), so the load
 *            generator is not one thread
 *
 * Each measures every broker's CPU% and system calls and this process's CPU% (the load
 * generator's share of the two cores) over the measured phase (common.ts UsageMeter).
 */
import type { Workload } from "../compare/common.js";
import { produceWithWorkers } from "../compare/scaling.js";
import { runConsume } from "../load/consume.js";
import { runE2e } from "../load/e2e.js";
import type { LatencySummary } from "../load/histogram.js";
import { type BrokerPid, type BrokerUsage, load1m, progress, RECORD_BYTES, UsageMeter } from "./common.js";

/** Where a scenario runs: the single broker or a cluster. */
export interface Target {
  label: string;
  bootstrap: string[];
  brokers: BrokerPid[];
}

export interface ConsumeRow {
  target: string;
  records: number;
  records_per_sec: number;
  mb_per_sec: number;
  /** From assign to the first batch. */
  first_record_ms: number;
  brokers: BrokerUsage[];
  client_cpu_pct: number;
  load_1m: number;
}

/** A consume of any one phase fails when no record came for this long. */
const CONSUME_TIMEOUT_MS = 30_000;

export async function consumeOn(t: Target, topic: string, records: number): Promise<ConsumeRow> {
  progress(`consume: ${t.label}, ${records} records of ${topic} ...`);
  const meter = new UsageMeter(t.brokers);
  const r = await runConsume({
    brokers: t.bootstrap,
    clientId: "bench-cluster-consume",
    topic,
    records,
    timeoutMs: CONSUME_TIMEOUT_MS,
  });
  const usage = meter.stop();
  if (r.error || r.records < records)
    throw new Error(`consume ${topic} on ${t.label}: ${r.error ?? r.records}`);
  const row: ConsumeRow = {
    target: t.label,
    records: r.records,
    records_per_sec: Math.round(r.fetch_records_per_sec),
    mb_per_sec: r.fetch_mb_per_sec,
    first_record_ms: r.first_record_ms,
    brokers: usage.brokers,
    client_cpu_pct: usage.client_cpu_pct,
    load_1m: load1m(),
  };
  progress(
    `  ${row.records_per_sec} records/s, CPU ${cpuList(row.brokers)} (client ${row.client_cpu_pct}), load ${row.load_1m}`,
  );
  return row;
}

export interface E2eRow {
  target: string;
  rate: number;
  /** The producer's batch.size. */
  batch_size: number;
  seconds: number;
  sent: number;
  received: number;
  latency_ms: LatencySummary;
  brokers: BrokerUsage[];
  client_cpu_pct: number;
  load_1m: number;
}

/** `rate` records/s for `seconds` into `topic` (made by the caller with its replication factor). */
export async function e2eOn(
  t: Target,
  topic: string,
  rate: number,
  seconds: number,
  batchSize: number,
): Promise<E2eRow> {
  progress(`e2e: ${t.label}, ${rate} records/s for ${seconds} s ...`);
  const meter = new UsageMeter(t.brokers);
  const r = await runE2e({
    brokers: t.bootstrap,
    clientId: "bench-cluster-e2e",
    topic,
    rate,
    durationSec: seconds,
    recordSize: RECORD_BYTES,
    acks: -1,
    batchSize,
  });
  const usage = meter.stop();
  if (r.error || r.errors > 0)
    throw new Error(`e2e ${topic} on ${t.label}: ${r.error ?? `${r.errors} errors`}`);
  const row: E2eRow = {
    target: t.label,
    rate,
    batch_size: batchSize,
    seconds: r.seconds,
    sent: r.sent,
    received: r.records,
    latency_ms: r.latency_ms,
    brokers: usage.brokers,
    client_cpu_pct: usage.client_cpu_pct,
    load_1m: load1m(),
  };
  const l = row.latency_ms;
  progress(`  p50 ${l.p50} ms, p99 ${l.p99} ms, p99.9 ${l.p999} ms, max ${l.max} ms, load ${row.load_1m}`);
  return row;
}

export interface Rf1Row {
  target: string;
  partitions: number;
  /** Partitions led by each broker, by node id. */
  leaders: Record<string, number>;
  producers: number;
  records: number;
  records_per_sec: number;
  mb_per_sec: number;
  p50_ms: number;
  p99_ms: number;
  brokers: BrokerUsage[];
  /** This process with its producer threads: % of one core. */
  client_cpu_pct: number;
  load_1m: number;
}

/** Window of unacknowledged records per producer thread (compare's default). */
const RF1_WINDOW = 32_768;
/**
 * Records per `sendBatch` call in each producer thread: a send() per record costs the load
 * generator more CPU than the broker spends on the record, and both share the two cores.
 */
const RF1_SEND_BATCH = 1000;
/** Any one produce of the rf1 scenario fails after this. */
const RF1_MAX_MS = 120_000;

export async function rf1On(
  t: Target,
  topic: string,
  partitions: number,
  leaders: number[],
  producers: number,
  records: number,
): Promise<Rf1Row> {
  progress(
    `rf1: ${t.label}, ${producers} producer threads, ${records} x ${RECORD_BYTES} B over ${partitions} partitions ...`,
  );
  const w: Workload = { records, recordBytes: RECORD_BYTES, window: RF1_WINDOW, maxMs: RF1_MAX_MS };
  let meter: UsageMeter | null = null;
  const r = await produceWithWorkers(
    t.bootstrap,
    topic,
    partitions,
    producers,
    w,
    () => {
      meter = new UsageMeter(t.brokers);
    },
    RF1_SEND_BATCH,
  );
  if (!meter) throw new Error("rf1: the producers never started");
  const usage = (meter as UsageMeter).stop();
  const led: Record<string, number> = {};
  for (const id of leaders) led[id] = (led[id] ?? 0) + 1;
  const row: Rf1Row = {
    target: t.label,
    partitions,
    leaders: led,
    producers,
    records: r.records,
    records_per_sec: r.records_per_sec,
    mb_per_sec: r.mb_per_sec,
    p50_ms: r.p50_ms,
    p99_ms: r.p99_ms,
    brokers: usage.brokers,
    client_cpu_pct: usage.client_cpu_pct,
    load_1m: load1m(),
  };
  progress(
    `  ${row.records_per_sec} records/s, CPU ${cpuList(row.brokers)} (client ${row.client_cpu_pct}), load ${row.load_1m}`,
  );
  return row;
}

export function cpuList(brokers: BrokerUsage[]): string {
  return brokers.map((b) => b.cpu_pct).join(" / ");
}
