/**
 * End-to-end latency (`samsa bench e2e`), as Kafka's EndToEndLatency but at a fixed rate: one
 * producer sends `rate` records/s (token bucket) for `records` records or `durationSec` seconds;
 * each value carries its send time (process.hrtime.bigint(), nanoseconds, in its first 8 bytes);
 * a consumer in the same process (assign mode, every partition from the end, a short long poll)
 * records receipt minus send time. Values whose time is before the run (older records, the
 * warm-up record) are skipped.
 *
 * The warm-up record, sent and awaited before the clock starts, takes the connections, the
 * topic's metadata and (with acks=-1) the producer id out of the measured records.
 */
import { randomBytes } from "node:crypto";
import { Admin } from "../../client/admin.js";
import { Consumer } from "../../client/consumer.js";
import { Producer } from "../../client/producer.js";
import {
  type ConnectOptions,
  ensureTopic,
  type ProducerSettings,
  producerOptions,
  type RunControls,
  yieldToIo,
} from "./common.js";
import { Pacer } from "./pacer.js";
import { type BenchResult, Meter, type ReportFn } from "./report.js";

export interface E2eOptions extends ConnectOptions, ProducerSettings, RunControls {
  topic: string;
  /** Records/s (default 10000). */
  rate?: number;
  /** Records to send; without it, `durationSec` (default 10) bounds the run. */
  records?: number;
  durationSec?: number;
  /** Bytes of each value, at least 8 (default 100). */
  recordSize?: number;
  /** Partitions of the topic if it has to be created (default 1). */
  partitions?: number;
  /** Replicas of the topic if it has to be created (default: the broker's default). */
  replicationFactor?: number;
  /** The consumer's fetch long poll (default 10). */
  maxWaitMs?: number;
  /** Fails when records are missing and none came for this long (default 10000). */
  timeoutMs?: number;
}

export interface E2eResult extends BenchResult {
  bench: "e2e";
  topic: string;
  partitions: number;
  rate: number;
  /** Records sent; `records` counts those received. */
  sent: number;
  record_size: number;
  acks: 0 | 1 | -1;
  linger_ms: number;
  /** What `latency_ms` measures. */
  latency: "send to receipt";
  error?: string;
}

export const E2E_DEFAULTS = {
  rate: 10_000,
  durationSec: 10,
  recordSize: 100,
  partitions: 1,
  maxWaitMs: 10,
  timeoutMs: 10_000,
  /** Kafka's EndToEndLatency sends with linger.ms 0: a linger would be measured as latency. */
  lingerMs: 0,
};
/** Bytes of the send time at the start of each value. */
export const TIME_BYTES = 8;
/** Records sent and not yet acknowledged before the sender waits (a stalled broker). */
const MAX_OUTSTANDING = 100_000;
const SEND_BURST = 1000;
const POLL_MS = 100;

const now = () => performance.now();

export async function runE2e(o: E2eOptions, report?: ReportFn): Promise<E2eResult> {
  const rate = o.rate ?? E2E_DEFAULTS.rate;
  const recordSize = o.recordSize ?? E2E_DEFAULTS.recordSize;
  if (recordSize < TIME_BYTES) throw new Error(`record size ${recordSize}: at least ${TIME_BYTES} bytes`);
  if (!(rate > 0)) throw new Error(`rate ${rate}: must be positive`);
  const records =
    o.records ??
    (o.durationSec === undefined ? Math.ceil(rate * E2E_DEFAULTS.durationSec) : Number.POSITIVE_INFINITY);
  const durationMs = (o.durationSec ?? Number.POSITIVE_INFINITY) * 1000;
  const timeoutMs = o.timeoutMs ?? E2E_DEFAULTS.timeoutMs;
  const clientId = o.clientId ?? "samsa-bench";
  const settings = producerOptions({ ...o, lingerMs: o.lingerMs ?? E2E_DEFAULTS.lingerMs });
  const admin = new Admin({ brokers: o.brokers, ssl: o.ssl, sasl: o.sasl, clientId });
  const producer = new Producer(
    { brokers: o.brokers, ssl: o.ssl, sasl: o.sasl, clientId: `${clientId}-producer` },
    settings,
  );
  const consumer = new Consumer(
    { brokers: o.brokers, ssl: o.ssl, sasl: o.sasl, clientId: `${clientId}-consumer` },
    { maxWaitMs: o.maxWaitMs ?? E2E_DEFAULTS.maxWaitMs },
  );
  const meter = new Meter(o.reportIntervalMs, report);
  const stop = () => void consumer.stop();
  const state = { sent: 0, received: 0, inflight: 0, errors: 0, sending: true, failure: null as unknown };
  try {
    const partitions = await ensureTopic(
      admin,
      admin.cluster,
      o.topic,
      o.partitions ?? E2E_DEFAULTS.partitions,
      o.replicationFactor,
    );
    await consumer.assign(
      Array.from({ length: partitions }, (_, partition) => ({ topic: o.topic, partition, start: "latest" })),
    );
    const payload = randomBytes(recordSize);
    const warmUp = Buffer.from(payload);
    warmUp.writeBigUInt64BE(0n, 0);
    await producer.send({ topic: o.topic, value: warmUp });
    o.signal?.addEventListener("abort", stop, { once: true });

    const runStartNs = process.hrtime.bigint();
    const pacer = new Pacer(rate);
    const deadline = now() + durationMs;
    let wake: (() => void) | null = null;
    const settled = () => {
      state.inflight--;
      if (wake) {
        const w = wake;
        wake = null;
        w();
      }
    };
    const failed = (err: unknown) => {
      state.errors++;
      state.failure ??= err;
      settled();
    };
    const aborted = () => o.signal?.aborted === true || state.failure !== null;

    const send = async () => {
      while (!aborted() && state.sent < records && now() < deadline) {
        if (state.inflight >= MAX_OUTSTANDING) {
          await new Promise<void>((resolve) => (wake = resolve));
          continue;
        }
        const n = pacer.take(Math.min(SEND_BURST, records - state.sent));
        if (n === 0) {
          await pacer.wait();
          continue;
        }
        for (let i = 0; i < n; i++) {
          const value = Buffer.allocUnsafe(recordSize);
          payload.copy(value, TIME_BYTES, TIME_BYTES);
          value.writeBigUInt64BE(process.hrtime.bigint(), 0);
          state.sent++;
          state.inflight++;
          producer.send({ topic: o.topic, value }).then(settled, failed);
        }
        await yieldToIo();
      }
      state.sending = false;
    };

    const receive = async () => {
      let lastAt = now();
      while (!aborted() && (state.sending || state.received < state.sent)) {
        const batch = await consumer.nextBatch(POLL_MS);
        if (!batch) {
          if (o.signal?.aborted) break;
          if (!state.sending && now() - lastAt > timeoutMs)
            throw new Error(`received ${state.received} of ${state.sent} records; none for ${timeoutMs} ms`);
          continue;
        }
        const atNs = process.hrtime.bigint();
        lastAt = now();
        for (const r of batch.records) {
          const v = r.value;
          if (!v || v.length < TIME_BYTES) continue;
          const sentNs = v.readBigUInt64BE(0);
          if (sentNs < runStartNs || sentNs > atNs) continue;
          meter.latency(Number(atNs - sentNs) / 1e6);
          meter.count(1, v.length);
          state.received++;
        }
      }
      meter.stop();
    };

    meter.start();
    await Promise.all([
      send(),
      receive().catch((err: unknown) => {
        state.failure ??= err;
      }),
    ]);
    meter.stop();
    const failure = state.failure;
    return {
      bench: "e2e",
      ...meter.result(state.errors, o.signal?.aborted === true),
      topic: o.topic,
      partitions,
      rate,
      sent: state.sent,
      record_size: recordSize,
      acks: settings.acks ?? -1,
      linger_ms: settings.lingerMs ?? E2E_DEFAULTS.lingerMs,
      latency: "send to receipt",
      ...(failure !== null && { error: failure instanceof Error ? failure.message : String(failure) }),
    };
  } finally {
    meter.stop();
    o.signal?.removeEventListener("abort", stop);
    await producer.close().catch(() => {});
    await consumer.close().catch(() => {});
    await admin.close();
  }
}
