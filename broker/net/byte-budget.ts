/**
 * A broker-wide budget of bytes held in memory on behalf of connections: request bytes being
 * received or waiting to be answered (`queued.max.request.bytes`), and response bytes built and
 * not yet taken by the kernel (`queued.max.response.bytes`). Every connection's holding is known
 * by name, so a closed connection gives back all of it at once, and the share of each holder is
 * the limit divided among the connections holding bytes.
 *
 * The budget refuses nothing by itself: transports ask `mayTake` before reading or starting more,
 * and wait (`onRelease`) while they may not. A holder of nothing may always take one more step,
 * so every connection makes progress and the overshoot is bounded by one step per connection.
 */

/** See ByteBudget.step. */
const MAX_STEP_BYTES = 64 * 1024;

export interface BudgetHolder {
  /** Called when bytes were released anywhere; the holder re-checks whether it may go on. */
  wake(): void;
}

export class ByteBudget {
  private readonly held = new Map<BudgetHolder, number>();
  private waiting = new Set<BudgetHolder>();
  /** Bytes held by every connection together. */
  used = 0;
  /** The most ever held at once (for benches and tests). */
  peak = 0;

  constructor(
    /** The config key, for logs. */
    readonly name: string,
    readonly limit: number,
  ) {}

  /** Bytes held by `holder`. */
  heldBy(holder: BudgetHolder): number {
    return this.held.get(holder) ?? 0;
  }

  /** Connections holding bytes now. */
  get holders(): number {
    return this.held.size;
  }

  add(holder: BudgetHolder, bytes: number): void {
    if (bytes <= 0) return;
    this.held.set(holder, this.heldBy(holder) + bytes);
    this.used += bytes;
    if (this.used > this.peak) this.peak = this.used;
  }

  release(holder: BudgetHolder, bytes: number): void {
    const had = this.heldBy(holder);
    const n = Math.min(bytes, had);
    if (n <= 0) return;
    if (had === n) this.held.delete(holder);
    else this.held.set(holder, had - n);
    this.used -= n;
    this.wakeWaiting();
  }

  /**
   * Replaces `released` bytes that `holder` holds with `added` ones in one step (a reservation
   * turned into the response built within it), so that nobody else is woken in between.
   */
  exchange(holder: BudgetHolder, released: number, added: number): void {
    const had = this.heldBy(holder);
    const out = Math.max(0, Math.min(released, had));
    const now = had - out + Math.max(0, added);
    if (now === 0) this.held.delete(holder);
    else this.held.set(holder, now);
    this.used += now - had;
    if (this.used > this.peak) this.peak = this.used;
    if (now < had) this.wakeWaiting();
  }

  /** Gives back everything `holder` holds (its connection closed) and forgets it. */
  releaseAll(holder: BudgetHolder): void {
    this.waiting.delete(holder);
    this.release(holder, this.heldBy(holder));
  }

  /** Bytes `holder` may still take: its fair share less what it holds, within what is left. */
  allowance(holder: BudgetHolder): number {
    const own = this.heldBy(holder);
    const holders = this.held.size + (own > 0 ? 0 : 1);
    const share = Math.floor(this.limit / holders);
    return Math.max(0, Math.min(share - own, this.limit - this.used));
  }

  /**
   * Whether `holder` may take more now: it holds nothing, or has at least a step of allowance
   * left (so that a holder at its share stops, rather than going on in slivers).
   */
  mayTake(holder: BudgetHolder): boolean {
    return this.heldBy(holder) === 0 || this.allowance(holder) >= this.step;
  }

  /** The least allowance worth going on for: 1/16 of the limit, at most 64 KiB. */
  get step(): number {
    return Math.max(1, Math.min(MAX_STEP_BYTES, Math.floor(this.limit / 16)));
  }

  /** Asks for `holder.wake()` at the next release. */
  onRelease(holder: BudgetHolder): void {
    this.waiting.add(holder);
  }

  private wakeWaiting(): void {
    if (this.waiting.size === 0) return;
    const waiting = this.waiting;
    this.waiting = new Set();
    for (const holder of waiting) holder.wake();
  }
}
