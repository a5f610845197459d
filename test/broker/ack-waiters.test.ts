/**
 * The acks=all waiters of a leader partition (broker/ack-waiters.ts, review finding 12): answered
 * in offset order, a timeout takes its waiter out without a search, and the work of answering k
 * waiters is O(k), however many wait behind them or timed out before them.
 */
import { describe, expect, it } from "vitest";
import { type AckWaiter, AckWaiters } from "../../broker/ack-waiters.js";

function waiter(offset: number, answered: string[]): AckWaiter {
  return {
    offset,
    resolve: () => void answered.push(`ok ${offset}`),
    reject: (err) => void answered.push(`${String(err)} ${offset}`),
    timer: null,
    done: false,
  };
}

describe("AckWaiters", () => {
  it("resolves the waiters the high watermark passes, in offset order, whatever order they came in", () => {
    const answered: string[] = [];
    const list = new AckWaiters();
    for (const offset of [5, 1, 3, 9, 3]) list.add(waiter(offset, answered));
    expect(list.size).toBe(5);
    list.settle(4);
    expect(answered).toEqual(["ok 1", "ok 3", "ok 3"]);
    expect(list.size).toBe(2);
    list.failAll("gone");
    expect(answered.slice(3)).toEqual(["gone 5", "gone 9"]);
    expect(list.size).toBe(0);
  });

  it("never answers a removed waiter, and counts only those still waiting", () => {
    const answered: string[] = [];
    const list = new AckWaiters();
    const waiters = [0, 1, 2, 3].map((o) => waiter(o, answered));
    for (const w of waiters) list.add(w);
    list.remove(waiters[1]);
    list.remove(waiters[1]);
    expect(list.size).toBe(3);
    list.settle(10);
    expect(answered).toEqual(["ok 0", "ok 2", "ok 3"]);
    expect(list.size).toBe(0);
  });

  it("does O(1) work per waiter: timeouts of n waiters and then settling the rest stay linear", () => {
    const n = 50_000;
    const answered: string[] = [];
    const list = new AckWaiters();
    const waiters = Array.from({ length: n }, (_, i) => waiter(i, answered));
    for (const w of waiters) list.add(w);
    for (const w of waiters.slice(0, n - 10)) list.remove(w);
    expect(list.size).toBe(10);
    let examined = 0;
    for (let hw = n - 9; hw <= n; hw++) examined += list.settle(hw);
    expect(answered.length).toBe(10);
    // Timed-out waiters were compacted away as they piled up: the scan passes few of them.
    expect(examined).toBeLessThan(n / 10);
    expect(list.settle(n)).toBe(0);
  });
});
