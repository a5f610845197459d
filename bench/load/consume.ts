/**
 * The consume load generator (`samsa bench consume`), as kafka-consumer-perf-test: read `records`
 * records of `topic` from the beginning, by default with consumers in assign mode (the partitions
 * dealt out in turn), or as `consumers` members of the consumer group `group` (which start at the
 * group's committed offsets where it has some, else at the beginning). The clock runs from
 * assign/subscribe to the record that completes the count.
 *
 * Latency: the samsa client does not expose the time of its Fetch requests (it prefetches in the
 * background), so what is measured is how long each `nextBatch()` waited for a batch: near 0 while
 * the prefetch keeps up, the fetch's time when it does not.
 */
import { Admin } from "../../client/admin.js";
import { Consumer } from "../../client/consumer.js";
import type { ConnectOptions, RunControls } from "./common.js";
import { type BenchResult, Meter, type ReportFn } from "./report.js";

export interface ConsumeOptions extends ConnectOptions, RunControls {
  topic: string;
  /** Records to read; default: every record the topic holds when the run starts. */
  records?: number;
  /** Consumer group; without one, assign mode. */
  group?: string;
  /** Consumers (group members, or assign-mode consumers sharing the partitions); default 1. */
  consumers?: number;
  /** Fails when no record came for this long (default 10000, kafka-consumer-perf-test's). */
  timeoutMs?: number;
  /** The fetch long poll (client default 500). */
  maxWaitMs?: number;
}

export interface ConsumeResult extends BenchResult {
  bench: "consume";
  topic: string;
  partitions: number;
  consumers: number;
  group: string | null;
  /** From assign/subscribe to the first batch (a group's join is in it). */
  first_record_ms: number;
  /** From the first batch to the last record: kafka-consumer-perf-test's fetch.* (no join). */
  fetch_seconds: number;
  fetch_records_per_sec: number;
  fetch_mb_per_sec: number;
  /** What `latency_ms` measures. */
  latency: "nextBatch wait";
  error?: string;
}

export const DEFAULT_CONSUME_TIMEOUT_MS = 10_000;
/** How often a waiting reader looks at the timeout and the other readers' progress. */
const POLL_MS = 100;

const now = () => performance.now();

export async function runConsume(o: ConsumeOptions, report?: ReportFn): Promise<ConsumeResult> {
  const clientId = o.clientId ?? "samsa-bench";
  const timeoutMs = o.timeoutMs ?? DEFAULT_CONSUME_TIMEOUT_MS;
  const admin = new Admin({ brokers: o.brokers, ssl: o.ssl, sasl: o.sasl, clientId });
  const consumers: Consumer[] = [];
  const meter = new Meter(o.reportIntervalMs, report);
  let failure: unknown = null;
  const stopAll = () => {
    for (const c of consumers) void c.stop();
  };
  try {
    const offsets = (await admin.topicOffsets(o.topic)).sort((a, b) => a.partition - b.partition);
    const held = offsets.reduce((sum, p) => sum + (p.latest - p.earliest), 0);
    const target = o.records ?? held;
    if (target <= 0) throw new Error(`topic ${o.topic} holds no records to read`);
    const wanted = o.consumers ?? 1;
    const fetch = o.maxWaitMs !== undefined ? { maxWaitMs: o.maxWaitMs } : {};
    let start: () => Promise<void>;
    if (o.group !== undefined) {
      for (let i = 0; i < wanted; i++)
        consumers.push(
          new Consumer({
            brokers: o.brokers,
            ssl: o.ssl,
            sasl: o.sasl,
            clientId: `${clientId}-${i}`,
            groupId: o.group,
            autoOffsetReset: "earliest",
            ...fetch,
          }),
        );
      start = async () => {
        for (const c of consumers) c.subscribe([o.topic]);
      };
    } else {
      const n = Math.min(wanted, offsets.length);
      const shares = Array.from({ length: n }, (_, i) => offsets.filter((_, j) => j % n === i));
      for (let i = 0; i < n; i++)
        consumers.push(
          new Consumer({ brokers: o.brokers, ssl: o.ssl, sasl: o.sasl, clientId: `${clientId}-${i}` }, fetch),
        );
      start = async () => {
        await Promise.all(
          consumers.map((c, i) =>
            c.assign(shares[i].map((p) => ({ topic: o.topic, partition: p.partition, start: "earliest" }))),
          ),
        );
      };
    }
    o.signal?.addEventListener("abort", stopAll, { once: true });

    let read = 0;
    let firstAt: number | null = null;
    let lastRecordAt = 0;
    let lastAt = 0;
    const done = () => read >= target || failure !== null || o.signal?.aborted === true;
    const loop = async (c: Consumer) => {
      // The first wait (assignment, a group's join, the first fetch) is first_record_ms instead.
      let waitingSince: number | null = null;
      while (!done()) {
        const batch = await c.nextBatch(POLL_MS);
        if (done()) break;
        const t = now();
        if (!batch) {
          if (t - lastRecordAt > timeoutMs)
            throw new Error(`no records for ${timeoutMs} ms: read ${read} of ${target} from ${o.topic}`);
          continue;
        }
        firstAt ??= t;
        lastRecordAt = t;
        if (waitingSince !== null) meter.latency(t - waitingSince);
        const n = Math.min(batch.records.length, target - read);
        let bytes = 0;
        for (let i = 0; i < n; i++) bytes += batch.records[i].value?.length ?? 0;
        read += n;
        meter.count(n, bytes);
        if (read >= target) {
          meter.stop();
          lastAt = now();
        }
        waitingSince = now();
      }
    };

    meter.start();
    const startedAt = now();
    lastRecordAt = startedAt;
    await start();
    await Promise.all(
      consumers.map((c) =>
        loop(c).catch((err: unknown) => {
          failure ??= err;
          stopAll();
        }),
      ),
    );
    meter.stop();
    lastAt ||= now();
    const fetchSeconds = firstAt === null ? 0 : (lastAt - firstAt) / 1000;
    // A read done in one batch has no fetch period to speak of.
    const perFetchSecond = fetchSeconds >= 0.001 ? 1 / fetchSeconds : 0;
    const round3 = (n: number) => Math.round(n * 1000) / 1000;
    return {
      bench: "consume",
      ...meter.result(failure !== null ? 1 : 0, o.signal?.aborted === true),
      topic: o.topic,
      partitions: offsets.length,
      consumers: consumers.length,
      group: o.group ?? null,
      first_record_ms: firstAt === null ? 0 : round3(firstAt - startedAt),
      fetch_seconds: round3(fetchSeconds),
      fetch_records_per_sec: Math.round(meter.records * perFetchSecond * 10) / 10,
      fetch_mb_per_sec: round3((meter.bytes / 1e6) * perFetchSecond),
      latency: "nextBatch wait",
      ...(failure !== null && { error: failure instanceof Error ? failure.message : String(failure) }),
    };
  } finally {
    meter.stop();
    o.signal?.removeEventListener("abort", stopAll);
    await Promise.all(consumers.map((c) => c.close().catch(() => {})));
    await admin.close();
  }
}
