/**
 * What the load generators count and how it is printed: a `Meter` totals records, bytes and
 * latencies and hands a `Window` to a callback every `intervalMs`; the lines follow Kafka's
 * ProducerPerformance (`N records sent, X records/sec (Y MB/sec), A ms avg latency, M ms max
 * latency.`). MB is 10^6 bytes, as everywhere in bench/ (Kafka's tool divides by 2^20).
 */
import { LatencyHistogram, type LatencySummary } from "./histogram.js";

/** The fields every `samsa bench` result has; `--json` prints one of these (plus extras). */
export interface BenchResult {
  records: number;
  /** Bytes of record values. */
  bytes: number;
  seconds: number;
  records_per_sec: number;
  mb_per_sec: number;
  latency_ms: LatencySummary;
  /** Records whose send or receipt failed (a run stops at the first failure). */
  errors: number;
  /** The run was stopped early (Ctrl-C, an AbortSignal). */
  interrupted: boolean;
}

/** One reporting interval. */
export interface Window {
  /** Records counted in this interval. */
  records: number;
  bytes: number;
  seconds: number;
  /** Mean and maximum of the latencies recorded in this interval; 0 when none were. */
  latencyAvgMs: number;
  latencyMaxMs: number;
  /** Records counted since the start. */
  totalRecords: number;
}

export type ReportFn = (window: Window) => void;

/** Kafka's reporting interval (ProducerPerformance prints every 5 s). */
export const DEFAULT_REPORT_INTERVAL_MS = 5000;

const now = () => performance.now();
const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;

export class Meter {
  readonly histogram = new LatencyHistogram();
  records = 0;
  bytes = 0;
  private startedAt = 0;
  private endedAt: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private window = { records: 0, bytes: 0, latencySumMs: 0, latencyCount: 0, latencyMaxMs: 0, at: 0 };

  constructor(
    private readonly intervalMs = DEFAULT_REPORT_INTERVAL_MS,
    private readonly report?: ReportFn,
  ) {}

  /** Starts the clock (and the periodic report). */
  start(): void {
    this.startedAt = now();
    this.window.at = this.startedAt;
    if (this.report) {
      this.timer = setInterval(() => this.flushWindow(), this.intervalMs);
      this.timer.unref();
    }
  }

  /** Stops the clock; the result's seconds end here. */
  stop(): void {
    if (this.endedAt === null) this.endedAt = now();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  get seconds(): number {
    return ((this.endedAt ?? now()) - this.startedAt) / 1000;
  }

  /** Counts records and bytes without a latency (a consumer's batch). */
  count(records: number, bytes: number): void {
    this.records += records;
    this.bytes += bytes;
    this.window.records += records;
    this.window.bytes += bytes;
  }

  /** Records a latency in milliseconds, `count` times (the records of one sendBatch() call). */
  latency(ms: number, count = 1): void {
    this.histogram.recordMs(ms, count);
    const w = this.window;
    w.latencySumMs += ms * count;
    w.latencyCount += count;
    if (ms > w.latencyMaxMs) w.latencyMaxMs = ms;
  }

  private flushWindow(): void {
    const at = now();
    const w = this.window;
    this.report?.({
      records: w.records,
      bytes: w.bytes,
      seconds: (at - w.at) / 1000,
      latencyAvgMs: w.latencyCount > 0 ? w.latencySumMs / w.latencyCount : 0,
      latencyMaxMs: w.latencyMaxMs,
      totalRecords: this.records,
    });
    this.window = { records: 0, bytes: 0, latencySumMs: 0, latencyCount: 0, latencyMaxMs: 0, at };
  }

  /** The totals in the shape of `BenchResult`. */
  result(errors: number, interrupted: boolean): BenchResult {
    const seconds = this.seconds;
    const per = seconds > 0 ? 1 / seconds : 0;
    return {
      records: this.records,
      bytes: this.bytes,
      seconds: round(seconds, 3),
      records_per_sec: round(this.records * per, 1),
      mb_per_sec: round((this.bytes / 1e6) * per, 3),
      latency_ms: this.histogram.summary(),
      errors,
      interrupted,
    };
  }
}

/** The periodic line, Kafka's ProducerPerformance format; `verb` is "sent" or "received". */
export function windowLine(w: Window, verb: string): string {
  const per = w.seconds > 0 ? 1 / w.seconds : 0;
  return (
    `${w.records} records ${verb}, ${(w.records * per).toFixed(1)} records/sec ` +
    `(${((w.bytes / 1e6) * per).toFixed(2)} MB/sec), ${w.latencyAvgMs.toFixed(1)} ms avg latency, ` +
    `${w.latencyMaxMs.toFixed(1)} ms max latency.`
  );
}

/** The final summary: Kafka's closing line, with percentiles in ms to 3 decimals. */
export function summaryLine(r: BenchResult, verb: string): string {
  const l = r.latency_ms;
  return (
    `${r.records} records ${verb}, ${r.records_per_sec.toFixed(1)} records/sec ` +
    `(${r.mb_per_sec.toFixed(2)} MB/sec), ${l.avg.toFixed(3)} ms avg latency, ` +
    `${l.max.toFixed(3)} ms max latency, ${l.p50.toFixed(3)} ms 50th, ${l.p95.toFixed(3)} ms 95th, ` +
    `${l.p99.toFixed(3)} ms 99th, ${l.p999.toFixed(3)} ms 99.9th.`
  );
}

/** A report function that writes `windowLine` to stderr. */
export function stderrReport(verb: string): ReportFn {
  return (w) => process.stderr.write(`${windowLine(w, verb)}\n`);
}
