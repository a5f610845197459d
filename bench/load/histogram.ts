/**
 * Latency histogram of the load generators: HdrHistogram (hdr-histogram-js, pure JS build) of
 * whole microseconds with 3 significant digits, reported in milliseconds with 3 decimals.
 */
import { build, type Histogram } from "hdr-histogram-js";

/** Percentiles and maximum in milliseconds, as every `samsa bench` result carries them. */
export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
  /** Mean of the recorded values. */
  avg: number;
}

/** One hour in microseconds: larger values are clamped (the histogram would resize otherwise). */
const HIGHEST_TRACKABLE_US = 3_600_000_000;

const ms3 = (us: number) => Math.round(us) / 1000;

export class LatencyHistogram {
  private readonly h: Histogram = build({
    bitBucketSize: 32,
    autoResize: false,
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_TRACKABLE_US,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });

  /** Records a latency given in milliseconds (fractional, e.g. from performance.now()), `count` times. */
  recordMs(ms: number, count = 1): void {
    this.recordUs(ms * 1000, count);
  }

  /** Records a latency in microseconds `count` times; negative values count as 0, huge ones as one hour. */
  recordUs(us: number, count = 1): void {
    const value = Math.min(HIGHEST_TRACKABLE_US, Math.max(0, Math.round(us)));
    if (count === 1) this.h.recordValue(value);
    else this.h.recordValueWithCount(value, count);
  }

  get count(): number {
    return this.h.totalCount;
  }

  /**
   * p50 <= p95 <= p99 <= p999 <= max always holds: every value is the histogram's (the highest
   * value equivalent to the recorded one at 3 significant digits), never mixed with exact ones.
   */
  summary(): LatencySummary {
    if (this.h.totalCount === 0) return { p50: 0, p95: 0, p99: 0, p999: 0, max: 0, avg: 0 };
    const max = this.h.maxValue;
    const at = (p: number) => ms3(Math.min(max, this.h.getValueAtPercentile(p)));
    return {
      p50: at(50),
      p95: at(95),
      p99: at(99),
      p999: at(99.9),
      max: ms3(max),
      avg: ms3(this.h.mean),
    };
  }
}
