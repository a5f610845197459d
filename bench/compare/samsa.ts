/**
 * samsa in its own process (`node bin/samsa.js broker start`, default config: flush.policy
 * `always`), driven by the samsa client: Producer (acks=1) with a bounded window of records not yet
 * acknowledged, latency of every LATENCY_SAMPLE-th record from send() to its promise settling; Consumer in assign mode
 * from the earliest offset.
 */
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { Admin } from "../../client/admin.js";
import { Consumer } from "../../client/consumer.js";
import { Producer, type ProducerRecord } from "../../client/producer.js";
import {
  type ConsumeResult,
  consumeResult,
  LATENCY_SAMPLE,
  Latency,
  makeValue,
  now,
  type ProduceResult,
  produceResult,
  type Server,
  sleep,
  startServer,
  Window,
  type Workload,
} from "./common.js";

/** dist/bench/compare/samsa.js -> the repository root (bin/samsa.js runs dist/cli). */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

export interface SamsaBroker {
  server: Server;
  brokers: string[];
}

export interface BrokerStartOptions {
  dataDir: string;
  /** `node --cpu-prof --cpu-prof-dir` for the broker process. */
  cpuProfDir?: string;
  /** Extra `-s key=value` settings. */
  settings?: Record<string, string | number>;
  /** Another built tree whose `bin/samsa.js` runs (an earlier commit: the "before" of an A/B). */
  root?: string;
}

export async function startSamsa(o: BrokerStartOptions): Promise<SamsaBroker> {
  const nodeArgs = o.cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${o.cpuProfDir}`] : [];
  const sets = Object.entries(o.settings ?? {}).flatMap(([k, v]) => ["-s", `${k}=${v}`]);
  const args = [
    ...nodeArgs,
    path.join(o.root ?? ROOT, "bin", "samsa.js"),
    "broker",
    "start",
    "--data-dir",
    o.dataDir,
    "--kafka-port",
    "0",
    "--http-port",
    "0",
    "--host",
    "127.0.0.1",
    ...sets,
  ];
  const env = { ...process.env, SAMSA_LOG_LEVEL: process.env.SAMSA_LOG_LEVEL ?? "warn" };
  const { server, value: port } = await startServer(
    "samsa",
    process.execPath,
    args,
    (out) => {
      const m = /listening: kafka [^\s:]+:(\d+)/.exec(out);
      return m ? Number(m[1]) : undefined;
    },
    30_000,
    env,
  );
  return { server, brokers: [`127.0.0.1:${port}`] };
}

export async function createTopic(brokers: string[], name: string, partitions: number): Promise<void> {
  const admin = new Admin({ brokers });
  try {
    await admin.createTopics([{ name, partitions }]);
  } finally {
    await admin.close();
  }
}

export interface SamsaProducerTuning {
  lingerMs: number;
  batchSize: number;
}

export const SAMSA_PRODUCER: SamsaProducerTuning = { lingerMs: 5, batchSize: 512 * 1024 };

/**
 * Produces `w.records` records of `w.recordBytes` into partitions 0..partitions-1 of `topic`
 * (record i to partition (i + firstPartition) % partitions), after one untimed record sent alone
 * and awaited (metadata and connection set-up are not timed; see bench/RESULTS.md, issue 5).
 */
export async function samsaProduce(
  brokers: string[],
  topic: string,
  partitions: number,
  w: Workload,
  opts: {
    lat?: Latency;
    firstPartition?: number;
    /** Awaited after the untimed first record, before the clock starts (workers start together). */
    ready?: () => Promise<void>;
    /**
     * Records per `Producer.sendBatch` call (one promise each, timed once and counted for each of
     * its records, as the Redis and KafkaJS drivers do); 0 or absent: `send()` per record.
     */
    sendBatch?: number;
    /**
     * Null keys and no partition: the producer's sticky partitioner picks (a batch fills one
     * partition, then another), as kafka-producer-perf-test sends. Otherwise record i goes to
     * partition (i + firstPartition) % partitions.
     */
    sticky?: boolean;
  } = {},
): Promise<ProduceResult> {
  const lat = opts.lat ?? new Latency();
  const firstPartition = opts.firstPartition ?? 0;
  const producer = new Producer(
    { brokers },
    {
      acks: 1,
      lingerMs: SAMSA_PRODUCER.lingerMs,
      batchSize: SAMSA_PRODUCER.batchSize,
      bufferMemory: Math.max(64 * 1024 * 1024, 2 * w.window * (w.recordBytes + 64)),
    },
  );
  const value = makeValue(w.recordBytes);
  const record = opts.sticky
    ? (_i: number): ProducerRecord => ({ topic, value })
    : (i: number): ProducerRecord => ({ topic, partition: (i + firstPartition) % partitions, value });
  try {
    await producer.send({ topic, partition: firstPartition % partitions, value });
    if (opts.ready) await opts.ready();
    const start = now();
    const win = new Window(w.window, start + w.maxMs, "samsa produce");
    const per = Math.min(opts.sendBatch ?? 0, w.window);
    if (per > 1) {
      for (let i = 0; i < w.records; i += per) {
        const n = Math.min(per, w.records - i);
        if (!win.tryAcquire(n)) await win.acquire(n);
        const records: ProducerRecord[] = new Array(n);
        for (let j = 0; j < n; j++) records[j] = record(i + j);
        win.settleCall(producer.sendBatch(records), n, lat, now());
      }
      await win.drain();
      return produceResult(w.records, w.recordBytes, (now() - start) / 1000, lat);
    }
    for (let i = 0; i < w.records; i++) {
      if (!win.tryAcquire(1)) await win.acquire(1);
      if (i % LATENCY_SAMPLE !== 0) {
        producer.send(record(i)).then(win.releaseOne, win.failOne);
        continue;
      }
      const t = now();
      producer.send(record(i)).then(() => {
        lat.recordMs(now() - t);
        win.release(1);
      }, win.failOne);
    }
    await win.drain();
    const seconds = (now() - start) / 1000;
    return produceResult(w.records, w.recordBytes, seconds, lat);
  } finally {
    await producer.close();
  }
}

/** Reads partitions 0..partitions-1 of `topic` from the earliest offset until `total` records came. */
export async function samsaConsume(
  brokers: string[],
  topic: string,
  partitions: number,
  total: number,
  recordBytes: number,
  maxMs: number,
): Promise<ConsumeResult> {
  const consumer = new Consumer({ brokers, clientId: "bench-compare" });
  try {
    const start = now();
    await consumer.assign(
      Array.from({ length: partitions }, (_, p) => ({ topic, partition: p, start: "earliest" })),
    );
    let got = 0;
    let first = -1;
    while (got < total) {
      if (now() - start > maxMs) throw new Error(`samsa consume: ${got} of ${total} after ${maxMs} ms`);
      const batch = await consumer.nextBatch(200);
      if (!batch) continue;
      if (first < 0) first = now() - start;
      got += batch.records.length;
    }
    return consumeResult(total, recordBytes, (now() - start) / 1000, first);
  } finally {
    await consumer.close();
  }
}

/** RSS of a fresh broker with one topic of `partitions` partitions, after `settleMs` of idling. */
export async function idlePartitionsRss(
  brokers: string[],
  pid: number,
  partitions: number,
  settleMs: number,
  rss: (pid: number) => { rss_mb: number; peak_rss_mb: number },
): Promise<{ before_mb: number; after_mb: number; peak_mb: number; create_ms: number }> {
  await sleep(1000);
  const before = rss(pid);
  const t = now();
  await createTopic(brokers, "bench-idle", partitions);
  const createMs = now() - t;
  await sleep(settleMs);
  const after = rss(pid);
  return {
    before_mb: before.rss_mb,
    after_mb: after.rss_mb,
    peak_mb: after.peak_rss_mb,
    create_ms: Math.round(createMs),
  };
}
