/**
 * A broker-wide budget of bytes held in memory on behalf of connections: request bytes being
 * received or waiting to be answered (`queued.max.request.bytes`), and response bytes built and
 * not yet taken by the kernel (`queued.max.response.bytes`). Every connection's holding is known
 * by name, so a closed connection gives back all of it at once.
 *
 * The budget refuses nothing by itself: transports ask `mayTake` before reading or starting more,
 * and wait (`onRelease`) while they may not. A holder may take what is left while that is at least
 * a step, but once half the limit is used (contended) no more than its fair share: the limit
 * divided among the connections holding bytes. Idle holders (a long-poll Fetch waiting) thus cost
 * a large frame nothing while the budget is mostly free. A holder of nothing may always take one
 * more step, so every connection makes progress and the overshoot is bounded by one step per
 * connection.
 *
 * Frames in progress (request budget only) are kept in the order they began: the rest of the
 * oldest one is reserved, so the others take only what is left beyond it, and it may always take
 * its rest, even past the limit. So frames begun together finish one after another instead of
 * all stalling half-read (docs/decisions/0019); the overshoot this adds is at most the rest of
 * one frame (socket.request.max.bytes).
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
  /** Bytes each begun frame still lacks, in the order the frames began (a Map keeps that order). */
  private readonly frames = new Map<BudgetHolder, number>();
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
    this.endFrame(holder);
    this.release(holder, this.heldBy(holder));
  }

  /**
   * `holder` has a frame begun and still lacks `rest` bytes of it; a frame already begun keeps its
   * place in the order.
   */
  frameRest(holder: BudgetHolder, rest: number): void {
    // No wake: bytes the oldest frame read move from its reservation to what it holds, so what
    // the others may take does not change.
    this.frames.set(holder, Math.max(0, rest));
  }

  /**
   * `holder` has no frame begun any more (it was whole, or the connection was refused or closed):
   * the reservation of what it still lacked, if it was the oldest, is free for the others.
   */
  endFrame(holder: BudgetHolder): void {
    const wasHead = this.isHead(holder);
    if (!this.frames.delete(holder)) return;
    if (wasHead) this.wakeWaiting();
  }

  /**
   * Bytes `holder` may still take: what is left, less the rest of the oldest frame in progress
   * (reserved for it), within its fair share once the budget is contended; that oldest frame may
   * always take its rest.
   */
  allowance(holder: BudgetHolder): number {
    const left = this.limit - this.used;
    const head = this.head();
    if (!head) return this.fair(holder, left);
    if (head[0] === holder) return Math.max(left, head[1], 0);
    return this.fair(holder, left - head[1]);
  }

  /**
   * `free` bytes are free to take; once half the budget is used (contended), a holder gets no
   * more than its fair share: the limit divided among the connections holding bytes.
   */
  private fair(holder: BudgetHolder, free: number): number {
    if (free <= 0) return 0;
    if (this.limit - free < this.limit / 2) return free;
    const own = this.heldBy(holder);
    const holders = this.held.size + (own > 0 ? 0 : 1);
    return Math.max(0, Math.min(free, Math.floor(this.limit / holders) - own));
  }

  private head(): [BudgetHolder, number] | undefined {
    return this.frames.entries().next().value;
  }

  private isHead(holder: BudgetHolder): boolean {
    return this.head()?.[0] === holder;
  }

  /**
   * Whether `holder` may take more now: it holds nothing, or has at least a step of allowance
   * left (so that a holder stops when the budget is nearly full, rather than going on in slivers),
   * or it is the oldest frame in progress and lacks bytes of it.
   */
  mayTake(holder: BudgetHolder): boolean {
    if (this.heldBy(holder) === 0) return true;
    const head = this.head();
    if (head?.[0] === holder && head[1] > 0) return true;
    return this.allowance(holder) >= this.step;
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
