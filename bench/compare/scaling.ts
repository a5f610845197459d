/**
 * Scaling runs, samsa only (broker process + samsa client, acks=1, flush.policy `always`). Every
 * point gets a fresh broker process and data directory, so no point pays for the topics of another.
 *
 *   partitions  1, 10, 100, 1000: one producer, record i to partition i % P (every partition gets
 *               the same share), `records` x `recordBytes`.
 *   sticky      the same partition counts with null keys and no partition: the producer's sticky
 *               partitioner fills one partition's batch, then moves on (kafka-producer-perf-test's
 *               workload).
 *   size        10 B, 100 B, 1 KiB, 10 KiB, 100 KiB, one partition; records = min(records,
 *               maxBytes / size), so every point moves at most maxBytes.
 *   producers   1, 2, 4, 8 producers, each a worker thread with its own Producer and connection,
 *               into an 8-partition topic (each producer round-robins over all 8 partitions,
 *               starting at its own index); `records` in total, split evenly. Throughput is the
 *               total over the wall time from "go" to the last producer done.
 *
 * The window of unacknowledged records is min(window, windowBytes / size) records per producer.
 */
import { Worker } from "node:worker_threads";
import {
  cpuSeconds,
  Latency,
  now,
  type ProduceResult,
  produceResult,
  progress,
  round,
  rssMb,
  type Workload,
} from "./common.js";
import type { ProducerWorkerData } from "./producer-worker.js";
import { createTopic, type SamsaBroker, samsaProduce } from "./samsa.js";

export const PARTITION_POINTS = [1, 10, 100, 1000];
export const SIZE_POINTS = [10, 100, 1024, 10 * 1024, 100 * 1024];
export const PRODUCER_POINTS = [1, 2, 4, 8];
export const PRODUCERS_TOPIC_PARTITIONS = 8;

export interface ScalingPoint extends ProduceResult {
  x: number;
  record_bytes: number;
  window: number;
  broker_rss_mb: number;
  broker_peak_rss_mb: number;
  /** Broker CPU seconds (user + system) during the timed produce, per second of wall time. */
  broker_cpu_pct: number;
  /** Broker CPU microseconds per record. */
  broker_cpu_us_per_record: number;
}

export interface ScalingResults {
  records: number;
  max_bytes: number;
  partitions?: ScalingPoint[];
  /** The same partition counts, null keys through the sticky partitioner. */
  sticky?: ScalingPoint[];
  size?: ScalingPoint[];
  producers?: ScalingPoint[];
}

export interface ScalingOptions {
  records: number;
  recordBytes: number;
  maxBytes: number;
  window: number;
  windowBytes: number;
  maxMs: number;
  /** Starts a fresh broker (its own data directory) for one point, named by `label`. */
  startBroker: (label: string) => Promise<SamsaBroker>;
  dimensions: ("partitions" | "sticky" | "size" | "producers")[];
}

function windowFor(o: ScalingOptions, size: number): number {
  return Math.max(8, Math.min(o.window, Math.floor(o.windowBytes / size)));
}

async function point(
  o: ScalingOptions,
  label: string,
  x: number,
  partitions: number,
  w: Workload,
  run: (b: SamsaBroker, topic: string) => Promise<ProduceResult>,
): Promise<ScalingPoint> {
  const b = await o.startBroker(label);
  try {
    const topic = `bench-scale-${label}`;
    await createTopic(b.brokers, topic, partitions);
    const cpu0 = cpuSeconds(b.server.pid);
    const t0 = now();
    const r = await run(b, topic);
    const cpu = cpuSeconds(b.server.pid) - cpu0;
    const wall = (now() - t0) / 1000;
    const mem = rssMb(b.server.pid);
    const p: ScalingPoint = {
      x,
      record_bytes: w.recordBytes,
      window: w.window,
      ...r,
      broker_rss_mb: mem.rss_mb,
      broker_peak_rss_mb: mem.peak_rss_mb,
      broker_cpu_pct: round((100 * cpu) / wall, 0),
      broker_cpu_us_per_record: round((cpu * 1e6) / r.records, 2),
    };
    progress(
      `  ${label}: ${p.records_per_sec} records/s, ${p.mb_per_sec} MB/s, p50 ${p.p50_ms} ms, p99 ${p.p99_ms} ms, ` +
        `broker CPU ${p.broker_cpu_pct}%, RSS ${p.broker_rss_mb} MB`,
    );
    return p;
  } finally {
    await b.server.stop();
  }
}

/** `producers` worker threads, `w.records` split between them; wall time from "go" to the last done. */
export async function produceWithWorkers(
  brokers: string[],
  topic: string,
  partitions: number,
  producers: number,
  w: Workload,
  /** Called just before "go": the caller starts its own meters there. */
  onGo?: () => void,
  /** Records per `Producer.sendBatch` call in each thread; absent: `send()` per record. */
  sendBatch?: number,
): Promise<ProduceResult> {
  const workers: Worker[] = [];
  const url = new URL("./producer-worker.js", import.meta.url);
  try {
    const readies: Promise<void>[] = [];
    const dones: Promise<{ result: ProduceResult; histogram: string }>[] = [];
    for (let k = 0; k < producers; k++) {
      const share = Math.floor(w.records / producers) + (k < w.records % producers ? 1 : 0);
      const data: ProducerWorkerData = {
        brokers,
        topic,
        partitions,
        firstPartition: k,
        workload: { ...w, records: share },
        ...(sendBatch !== undefined && { sendBatch }),
      };
      const worker = new Worker(url, { workerData: data });
      workers.push(worker);
      let onReady!: () => void;
      readies.push(new Promise<void>((resolve) => (onReady = resolve)));
      dones.push(
        new Promise((resolve, reject) => {
          worker.on(
            "message",
            (m: { type: string; message?: string; result?: ProduceResult; histogram?: string }) => {
              if (m.type === "ready") onReady();
              else if (m.type === "done")
                resolve({ result: m.result as ProduceResult, histogram: m.histogram as string });
              else reject(new Error(`producer worker ${k}: ${m.message}`));
            },
          );
          worker.once("error", reject);
          worker.once("exit", (code) => reject(new Error(`producer worker ${k} exited (${code})`)));
        }),
      );
    }
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`producers not done after ${w.maxMs} ms`)), w.maxMs + 30_000);
    });
    try {
      await Promise.race([Promise.all(readies), limit]);
      onGo?.();
      const start = now();
      for (const worker of workers) worker.postMessage("go");
      const results = await Promise.race([Promise.all(dones), limit]);
      const seconds = (now() - start) / 1000;
      const lat = new Latency();
      for (const r of results) lat.add(Latency.decode(r.histogram));
      const records = results.reduce((a, r) => a + r.result.records, 0);
      return produceResult(records, w.recordBytes, seconds, lat);
    } finally {
      clearTimeout(timer);
    }
  } finally {
    await Promise.all(workers.map((wk) => wk.terminate()));
  }
}

export async function runScaling(o: ScalingOptions): Promise<ScalingResults> {
  const out: ScalingResults = { records: o.records, max_bytes: o.maxBytes };
  const base = (size: number, records: number): Workload => ({
    records,
    recordBytes: size,
    window: windowFor(o, size),
    maxMs: o.maxMs,
  });
  if (o.dimensions.includes("partitions")) {
    progress(`scaling: partitions ${PARTITION_POINTS.join(", ")} (${o.records} x ${o.recordBytes} B) ...`);
    out.partitions = [];
    for (const p of PARTITION_POINTS) {
      const w = base(o.recordBytes, o.records);
      out.partitions.push(
        await point(o, `partitions-${p}`, p, p, w, (b, topic) => samsaProduce(b.brokers, topic, p, w)),
      );
    }
  }
  if (o.dimensions.includes("sticky")) {
    progress(`scaling: partitions ${PARTITION_POINTS.join(", ")}, null keys (sticky partitioner) ...`);
    out.sticky = [];
    for (const p of PARTITION_POINTS) {
      const w = base(o.recordBytes, o.records);
      out.sticky.push(
        await point(o, `sticky-${p}`, p, p, w, (b, topic) =>
          samsaProduce(b.brokers, topic, p, w, { sticky: true }),
        ),
      );
    }
  }
  if (o.dimensions.includes("size")) {
    progress(`scaling: record size ${SIZE_POINTS.join(", ")} B (at most ${o.maxBytes / 1e6} MB each) ...`);
    out.size = [];
    for (const s of SIZE_POINTS) {
      const w = base(s, Math.max(100, Math.min(o.records, Math.floor(o.maxBytes / s))));
      out.size.push(await point(o, `size-${s}`, s, 1, w, (b, topic) => samsaProduce(b.brokers, topic, 1, w)));
    }
  }
  if (o.dimensions.includes("producers")) {
    progress(
      `scaling: producers ${PRODUCER_POINTS.join(", ")} (${o.records} x ${o.recordBytes} B in all, ` +
        `${PRODUCERS_TOPIC_PARTITIONS} partitions) ...`,
    );
    out.producers = [];
    for (const n of PRODUCER_POINTS) {
      const w = base(o.recordBytes, o.records);
      out.producers.push(
        await point(o, `producers-${n}`, n, PRODUCERS_TOPIC_PARTITIONS, w, (b, topic) =>
          produceWithWorkers(b.brokers, topic, PRODUCERS_TOPIC_PARTITIONS, n, w),
        ),
      );
    }
  }
  return out;
}
