/**
 * A leader partition's acks=all appends waiting for the high watermark to pass their last offset,
 * kept in offset order so that a high-watermark move answers the k it passes in O(k), and a
 * timeout removes its waiter in O(1) (marked, then dropped when the head scan reaches it or the
 * array is compacted). Bounded by its caller (MAX_ACK_WAITERS in broker/partition.ts).
 */

/** One acks=all append waiting for the high watermark to pass `offset`. */
export interface AckWaiter {
  readonly offset: number;
  resolve: () => void;
  reject: (err: unknown) => void;
  timer: NodeJS.Timeout | null;
  /** Answered (timed out or failed) and left in the array until the scan or compaction drops it. */
  done: boolean;
}

/** Compact once this many answered waiters sit in the array and they are half of it. */
const COMPACT_MIN = 1_024;

export class AckWaiters {
  /** Sorted by offset from `head`; entries before `head` are answered and unused. */
  private waiters: AckWaiter[] = [];
  private head = 0;
  /** Waiters marked done (timed out) still in the array after `head`. */
  private marked = 0;

  /** Waiters not yet answered. */
  get size(): number {
    return this.waiters.length - this.head - this.marked;
  }

  /** Adds `waiter` in offset order (appends usually come in order: O(1), else a binary search). */
  add(waiter: AckWaiter): void {
    const w = this.waiters;
    if (w.length === this.head || w[w.length - 1].offset <= waiter.offset) {
      w.push(waiter);
      return;
    }
    let lo = this.head;
    let hi = w.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (w[mid].offset <= waiter.offset) lo = mid + 1;
      else hi = mid;
    }
    w.splice(lo, 0, waiter);
  }

  /** Takes `waiter` out (its timeout fired): it is marked, and dropped later without a search. */
  remove(waiter: AckWaiter): void {
    if (waiter.done) return;
    waiter.done = true;
    if (waiter.timer) clearTimeout(waiter.timer);
    this.marked++;
    if (this.marked >= COMPACT_MIN && this.marked * 2 >= this.waiters.length - this.head) this.compact();
  }

  /**
   * Resolves every waiter whose offset is below `highWatermark`, in offset order. Returns how many
   * entries it examined (the resolved ones and the answered ones it dropped on the way).
   */
  settle(highWatermark: number): number {
    const start = this.head;
    const w = this.waiters;
    while (this.head < w.length && w[this.head].offset < highWatermark) {
      const waiter = w[this.head++];
      if (waiter.done) {
        this.marked--;
        continue;
      }
      waiter.done = true;
      if (waiter.timer) clearTimeout(waiter.timer);
      waiter.resolve();
    }
    const examined = this.head - start;
    if (this.head === w.length) this.reset();
    else if (this.head * 2 >= w.length) this.compact();
    return examined;
  }

  /** Rejects every waiter with `err` (a role change) and empties the list. */
  failAll(err: unknown): void {
    const waiting = this.waiters.slice(this.head);
    this.reset();
    for (const w of waiting) {
      if (w.done) continue;
      w.done = true;
      if (w.timer) clearTimeout(w.timer);
      w.reject(err);
    }
  }

  private compact(): void {
    this.waiters = this.waiters.slice(this.head).filter((w) => !w.done);
    this.head = 0;
    this.marked = 0;
  }

  private reset(): void {
    this.waiters = [];
    this.head = 0;
    this.marked = 0;
  }
}
