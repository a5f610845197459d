/**
 * The produce load generator (`samsa bench produce`), with kafka-producer-perf-test's meaning:
 * N Producer instances in this process send `records` records of `recordSize` random bytes (one
 * payload made once; keys from a pool of random keys made once, or null) to `topic`, created with
 * `partitions` when missing. A record's latency is the time from its send() to its
 * acknowledgement; a record counts once acknowledged. `throughput` caps records/s across all
 * producers (token bucket, -1: unlimited); `durationSec` ends sending early.
 *
 * `sendBatch` > 0 sends through Producer.sendBatch() instead, that many records per call (each a
 * new record object, as an application would make them); every record of a call gets the call's
 * latency, from the call to its promise resolving.
 *
 * Each producer keeps at most `maxUnacked` records unacknowledged, and their bytes below the
 * client's bufferMemory, so send() never blocks inside the client; a record's latency is that of
 * the producer's queue, batching and request (as in Kafka's tool, whose sends queue up to
 * buffer.memory when unthrottled).
 */
import { randomBytes } from "node:crypto";
import { Admin } from "../../client/admin.js";
import { Producer, type ProducerRecord } from "../../client/producer.js";
import {
  CLIENT_BUFFER_MEMORY,
  type ConnectOptions,
  ensureTopic,
  KEY_POOL,
  keyPool,
  type ProducerSettings,
  producerOptions,
  RECORD_OVERHEAD,
  type RunControls,
  yieldToIo,
} from "./common.js";
import { Pacer } from "./pacer.js";
import { type BenchResult, Meter, type ReportFn } from "./report.js";

export interface ProduceOptions extends ConnectOptions, ProducerSettings, RunControls {
  topic: string;
  records: number;
  /** Bytes of each record's value. */
  recordSize: number;
  /** Bytes of each record's key; 0 (default): null keys (sticky partitioning). */
  keySize?: number;
  /** Partitions of the topic if it has to be created (default 1; -1: the broker's default). */
  partitions?: number;
  /** Replicas of the topic if it has to be created (default: the broker's default). */
  replicationFactor?: number;
  /** Producer instances (default 1), each with its own connections. */
  producers?: number;
  /** Records/s across all producers; -1 (default): unlimited. */
  throughput?: number;
  /** Stop sending after this many seconds even if `records` were not all sent. */
  durationSec?: number;
  /** Records one producer may have sent and not yet seen acknowledged (default 5000). */
  maxUnacked?: number;
  /** Records per Producer.sendBatch() call; 0 (default): one send() per record. */
  sendBatch?: number;
}

export interface ProduceResult extends BenchResult {
  bench: "produce";
  topic: string;
  partitions: number;
  producers: number;
  record_size: number;
  key_size: number;
  acks: 0 | 1 | -1;
  throughput: number;
  max_unacked: number;
  /** Records per sendBatch() call; 0: send() per record. */
  send_batch: number;
  /** The first failed send's error; the run stops sending at the first failure. */
  error?: string;
}

/** Sends issued before a producer loop lets I/O run. */
const SEND_BURST = 1000;
/**
 * Records one producer leaves unacknowledged by default (bufferMemory bounds it too). Every
 * record in flight holds a few promises and objects in the client: with 100,000 in flight a
 * 1-partition run spent over half its time in GC and ran at half the rate of 5,000 (see
 * bench/README.md).
 */
export const DEFAULT_MAX_UNACKED = 5000;
/** Share of the buffer memory the loop fills, leaving room for the client's own estimate. */
const BUFFER_SHARE = 0.9;

const now = () => performance.now();

export async function runProduce(o: ProduceOptions, report?: ReportFn): Promise<ProduceResult> {
  const count = o.producers ?? 1;
  const keySize = o.keySize ?? 0;
  const settings = producerOptions(o);
  const clientId = o.clientId ?? "samsa-bench";
  const admin = new Admin({ brokers: o.brokers, ssl: o.ssl, sasl: o.sasl, clientId });
  const producers = Array.from(
    { length: count },
    (_, i) =>
      new Producer({ brokers: o.brokers, ssl: o.ssl, sasl: o.sasl, clientId: `${clientId}-${i}` }, settings),
  );
  const meter = new Meter(o.reportIntervalMs, report);
  let errors = 0;
  let failure: unknown = null;
  try {
    const partitions = await ensureTopic(
      admin,
      admin.cluster,
      o.topic,
      o.partitions ?? 1,
      o.replicationFactor,
    );
    // Every producer knows the topic before the clock starts.
    await Promise.all(producers.map((p) => p.cluster.topic(o.topic)));
    const value = randomBytes(o.recordSize);
    const keys = keyPool(keySize);
    const perRecord = o.recordSize + keySize + RECORD_OVERHEAD;
    const limit = Math.max(
      1,
      Math.min(
        o.maxUnacked ?? DEFAULT_MAX_UNACKED,
        Math.floor(((settings.bufferMemory ?? CLIENT_BUFFER_MEMORY) * BUFFER_SHARE) / perRecord),
      ),
    );
    const pacer = new Pacer(o.throughput ?? -1);
    const deadline = o.durationSec !== undefined ? now() + o.durationSec * 1000 : Number.POSITIVE_INFINITY;
    let next = 0;
    const stopped = () => failure !== null || o.signal?.aborted === true || now() >= deadline;

    const perCall = Math.min(o.sendBatch ?? 0, limit);
    const loop = async (producer: Producer) => {
      let inflight = 0;
      let wake: (() => void) | null = null;
      const settled = (records: number) => {
        inflight -= records;
        if (wake) {
          const w = wake;
          wake = null;
          w();
        }
      };
      const acked = (sentAt: number, records = 1) => {
        meter.latency(now() - sentAt, records);
        meter.count(records, records * o.recordSize);
        settled(records);
      };
      const failed = (err: unknown, records = 1) => {
        errors += records;
        failure ??= err;
        settled(records);
      };
      const room = () => new Promise<void>((resolve) => (wake = resolve));
      while (!stopped()) {
        if (inflight >= limit) {
          await room();
          continue;
        }
        const left = o.records - next;
        if (left <= 0) break;
        // A sendBatch() call waits until all of it fits in the window.
        if (perCall > 0 && limit - inflight < Math.min(perCall, left)) {
          await room();
          continue;
        }
        let n = Math.min(Math.max(SEND_BURST, perCall), limit - inflight, left);
        n = pacer.take(n);
        if (n === 0) {
          await pacer.wait();
          continue;
        }
        if (perCall > 0) {
          for (let done = 0; done < n; ) {
            const m = Math.min(perCall, n - done);
            const batch = new Array<ProducerRecord>(m);
            for (let i = 0; i < m; i++) {
              const seq = next++;
              batch[i] = { topic: o.topic, key: keys ? keys[seq % KEY_POOL] : null, value };
            }
            const sentAt = now();
            inflight += m;
            producer.sendBatch(batch).then(
              () => acked(sentAt, m),
              (err) => failed(err, m),
            );
            done += m;
          }
        } else {
          for (let i = 0; i < n; i++) {
            const seq = next++;
            const sentAt = now();
            inflight++;
            producer
              .send({ topic: o.topic, key: keys ? keys[seq % KEY_POOL] : null, value })
              .then(() => acked(sentAt), failed);
          }
        }
        await yieldToIo();
      }
      await producer.flush().catch(() => {});
      while (inflight > 0) await room();
    };

    meter.start();
    await Promise.all(producers.map(loop));
    meter.stop();
    return {
      bench: "produce",
      ...meter.result(errors, o.signal?.aborted === true),
      topic: o.topic,
      partitions,
      producers: count,
      record_size: o.recordSize,
      key_size: keySize,
      acks: settings.acks ?? -1,
      throughput: o.throughput ?? -1,
      max_unacked: limit,
      send_batch: perCall,
      ...(failure !== null && { error: failure instanceof Error ? failure.message : String(failure) }),
    };
  } finally {
    meter.stop();
    await Promise.all(producers.map((p) => p.close().catch(() => {})));
    await admin.close();
  }
}
