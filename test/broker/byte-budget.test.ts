/**
 * ByteBudget's rules at full scale, without sockets: idle holders do not hold back a large frame
 * while the budget is mostly free; frames begun together finish oldest first; once half used, a
 * holder gets at most its share.
 */
import { describe, expect, it } from "vitest";
import { type BudgetHolder, ByteBudget } from "../../broker/net/byte-budget.js";

const MiB = 1024 * 1024;

function holder(): BudgetHolder {
  return { wake: () => {} };
}

/** Takes what `h` may take, a step at a time, up to `want` bytes in all; returns what it holds. */
function read(budget: ByteBudget, h: BudgetHolder, want: number): number {
  for (let i = 0; i < 100_000 && budget.heldBy(h) < want && budget.mayTake(h); i++) {
    const next = Math.min(budget.step, want - budget.heldBy(h));
    budget.add(h, next);
    budget.frameRest(h, want - budget.heldBy(h));
  }
  return budget.heldBy(h);
}

describe("ByteBudget", () => {
  it("300 long polls holding a little each do not hold back a 1 MiB frame (256 MiB budget)", () => {
    const budget = new ByteBudget("queued.max.request.bytes", 256 * MiB);
    for (let i = 0; i < 300; i++) budget.add(holder(), 100);
    const producer = holder();
    // No frame registered: the plain rule alone lets it go on (the budget is nearly empty).
    for (let i = 0; i < 100 && budget.heldBy(producer) < MiB; i++) {
      expect(budget.mayTake(producer)).toBe(true);
      budget.add(producer, 64 * 1024);
    }
    expect(budget.heldBy(producer)).toBe(MiB);
  });

  it("frames of the whole budget begun together finish one after another", () => {
    const budget = new ByteBudget("queued.max.request.bytes", 100 * MiB);
    const frames = [holder(), holder(), holder()];
    // Each begins: its first read (a holder of nothing may always take a step).
    for (const h of frames) {
      budget.add(h, 64 * 1024);
      budget.frameRest(h, 100 * MiB - 64 * 1024);
    }
    for (const h of frames) {
      expect(read(budget, h, 100 * MiB)).toBe(100 * MiB);
      // Whole and answered: it gives its bytes back, and the next oldest goes on.
      budget.endFrame(h);
      budget.release(h, 100 * MiB);
    }
    expect(budget.used).toBe(0);
    // The oldest read its rest past the limit: by the others' first steps only.
    expect(budget.peak).toBeLessThanOrEqual(100 * MiB + 2 * 64 * 1024);
  });

  it("the oldest frame's rest is reserved from the others; once half used, shares apply", () => {
    const budget = new ByteBudget("queued.max.request.bytes", 16 * MiB);
    const oldest = holder();
    budget.add(oldest, 64 * 1024);
    budget.frameRest(oldest, 8 * MiB);
    const other = holder();
    budget.add(other, 1);
    // What is left less the oldest frame's rest: the other may not eat into it.
    expect(budget.allowance(other)).toBe(16 * MiB - 64 * 1024 - 1 - 8 * MiB);
    const greedy = holder();
    budget.add(greedy, 7 * MiB);
    // Half used with the reservation: greedy is over its share (16 MiB / 3) and stops.
    expect(budget.mayTake(greedy)).toBe(false);
    expect(budget.mayTake(oldest)).toBe(true);
  });
});
