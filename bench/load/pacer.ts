/**
 * A token bucket for `--throughput` and `--rate`: `rate` records per second on average since the
 * start. `take(n)` grants what is due now without waiting; when nothing is due, `wait()` sleeps
 * (setTimeout, never a spin) until the next token is. Timers fire at best every millisecond, so
 * at high rates records leave in small bursts of what came due meanwhile, as Kafka's
 * ThroughputThrottler lets them. A stall (GC, a slow broker) is caught up afterwards, so the
 * average holds.
 */
export class Pacer {
  private readonly startedAt = performance.now();
  private granted = 0;

  /** `rate` <= 0: unlimited. */
  constructor(readonly rate: number) {}

  get unlimited(): boolean {
    return this.rate <= 0;
  }

  /** How many of `wanted` records may go now (0 to `wanted`); they count as sent. */
  take(wanted: number): number {
    if (this.unlimited) return wanted;
    const due = Math.floor(((performance.now() - this.startedAt) / 1000) * this.rate) - this.granted;
    const n = Math.max(0, Math.min(wanted, due));
    this.granted += n;
    return n;
  }

  /** Sleeps until the next record is due (at least 1 ms). */
  wait(): Promise<void> {
    const dueAtMs = this.startedAt + ((this.granted + 1) / this.rate) * 1000;
    const ms = Math.max(1, Math.ceil(dueAtMs - performance.now()));
    return new Promise((resolve) => setTimeout(resolve, ms));
  }
}
