/**
 * The verify history checker (bench/verify/check.ts) on crafted histories: a clean one, one per
 * anomaly kind, each found on the right partition with the right example and nothing else found;
 * counts and capped examples; and the reader (bench/verify/history.ts) naming the line of a
 * malformed or contradictory event.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  ANOMALY_KINDS,
  type AnomalyKind,
  checkHistory,
  EXAMPLES_PER_KIND,
  HistoryChecker,
  type Report,
} from "../../bench/verify/check.js";
import { type HistoryEvent, historyLine, type ReadEvent, readHistory } from "../../bench/verify/history.js";
import { baseSeed, Random } from "../helpers/random.js";

type Untimed<E> = E extends unknown ? Omit<E, "time"> : never;

/** Builds a history; every event one ms after the last. */
class History {
  readonly events: HistoryEvent[] = [];
  private readonly next = new Map<string, number>();
  private time = 1_700_000_000_000;

  constructor(readonly topic = "t") {}

  /** A send by `producer` (its next value), to `partition` if given; returns the value. */
  send(producer: string, partition?: number): string {
    const n = this.next.get(producer) ?? 0;
    this.next.set(producer, n + 1);
    const value = `${producer}-${n}`;
    this.push({
      type: "send",
      process: producer,
      topic: this.topic,
      value,
      ...(partition !== undefined && { partition }),
    });
    return value;
  }

  ack(value: string, partition: number, offset: number): void {
    this.push({ type: "ack", process: producerOf(value), topic: this.topic, value, partition, offset });
  }

  /** A send acknowledged at once. */
  write(producer: string, partition: number, offset: number): string {
    const value = this.send(producer, partition);
    this.ack(value, partition, offset);
    return value;
  }

  fail(value: string, definite: boolean): void {
    const error = definite ? "INVALID_RECORD: refused" : "REQUEST_TIMED_OUT: no answer";
    this.push({ type: "fail", process: producerOf(value), topic: this.topic, value, error, definite });
  }

  assign(consumer: string, partitions: number[], mode: "group" | "assign" = "assign"): void {
    this.push({ type: "assign", process: consumer, topic: this.topic, partitions, mode });
  }

  read(consumer: string, partition: number, offset: number, value: string): void {
    this.push({ type: "read", process: consumer, topic: this.topic, partition, offset, value });
  }

  /** `consumer` reads `values` at offsets from `from` on. */
  readAll(consumer: string, partition: number, values: string[], from = 0): void {
    for (const [i, v] of values.entries()) this.read(consumer, partition, from + i, v);
  }

  private push(event: Untimed<HistoryEvent>): void {
    this.events.push({ ...event, time: this.time++ } as HistoryEvent);
  }
}

function producerOf(value: string): string {
  return value.slice(0, value.lastIndexOf("-"));
}

/** Only `kind` was found, `count` times. */
function expectOnly(report: Report, kind: AnomalyKind, count = 1): void {
  const expected = Object.fromEntries(ANOMALY_KINDS.map((k) => [k, k === kind ? count : 0]));
  expect(report.anomalies).toEqual(expected);
  expect(report.ok).toBe(false);
}

function partitionCounts(report: Report, kind: AnomalyKind): Record<string, number> {
  return Object.fromEntries(report.partitions.map((p) => [`${p.topic}-${p.partition}`, p.anomalies[kind]]));
}

describe("checkHistory", () => {
  it("finds nothing in a clean history and counts it", () => {
    const h = new History();
    const p0 = [h.write("p1", 0, 0), h.write("p2", 0, 1), h.write("p1", 0, 2)];
    const p1 = [h.write("p2", 1, 0), h.write("p1", 1, 1)];
    const maybe = h.send("p2");
    h.fail(maybe, false);
    const refused = h.send("p1");
    h.fail(refused, true);
    h.send("p1"); // no outcome: the run ended first
    h.assign("c1", [0, 1], "group");
    h.readAll("c1", 0, p0);
    h.readAll("c1", 1, [...p1, maybe]); // an indefinite failure that was written is fine
    h.assign("c2", [0]);
    h.readAll("c2", 0, p0);
    const report = checkHistory(h.events);
    expect(report.ok).toBe(true);
    expect(Object.values(report.anomalies).every((n) => n === 0)).toBe(true);
    expect(report.totals).toEqual({
      sent: 8,
      acked: 5,
      failed_definite: 1,
      failed_indefinite: 1,
      unresolved: 1,
      reads: 9,
      unique_values_read: 6,
    });
    expect(report.partitions.map((p) => [p.partition, p.acked, p.values_read])).toEqual([
      [0, 3, 3],
      [1, 2, 3],
    ]);
  });

  it("lost: acknowledged and never read", () => {
    const h = new History();
    const read = [h.write("p1", 0, 0), h.write("p1", 1, 0)];
    const lost = h.write("p1", 1, 1);
    h.read("c1", 0, 0, read[0]);
    h.read("c1", 1, 0, read[1]);
    const report = checkHistory(h.events);
    expectOnly(report, "lost");
    expect(partitionCounts(report, "lost")).toEqual({ "t-0": 0, "t-1": 1 });
    expect(report.examples.lost).toEqual([
      {
        topic: "t",
        partition: 1,
        values: [lost],
        offsets: [1],
        processes: ["p1"],
        detail: "p1-2 acknowledged at t-1 offset 1 (p1), never read",
      },
    ]);
  });

  it("duplicate: one value read at two offsets", () => {
    const h = new History();
    const v = h.write("p1", 0, 0);
    h.read("c1", 0, 0, v);
    h.read("c2", 0, 1, v);
    const report = checkHistory(h.events);
    expectOnly(report, "duplicate");
    const [example] = report.examples.duplicate;
    expect(example).toMatchObject({ partition: 0, values: [v], offsets: [0, 1], processes: ["c1", "c2"] });
    expect(example.detail).toBe("p1-0 read at 2 positions: t-0@0, t-0@1 (c1, c2)");
  });

  it("inconsistent: one offset read with two values", () => {
    const h = new History();
    const v = h.write("p1", 2, 0);
    const other = h.send("p2");
    h.fail(other, false);
    h.read("c1", 2, 0, v);
    h.read("c2", 2, 0, other);
    const report = checkHistory(h.events);
    expectOnly(report, "inconsistent");
    const [example] = report.examples.inconsistent;
    expect(example).toMatchObject({
      partition: 2,
      values: [v, other],
      offsets: [0],
      processes: ["p1", "c2"],
    });
    expect(example.detail).toBe("t-2 offset 0 holds p1-0 (p1), p2-0 (c2)");
  });

  it("inconsistent: one offset acknowledged with two values", () => {
    const h = new History();
    const a = h.write("p1", 0, 0);
    const b = h.write("p2", 0, 0);
    h.read("c1", 0, 0, a);
    h.read("c1", 0, 1, b);
    const report = checkHistory(h.events);
    // b is also read where it was not acknowledged.
    expectOnly(report, "inconsistent", 2);
    expect(report.examples.inconsistent.map((e) => e.offsets)).toEqual([[0], [0, 1]]);
  });

  it("inconsistent: acknowledged at one offset, read at another", () => {
    const h = new History();
    const v = h.write("p1", 0, 3);
    h.read("c1", 0, 0, v);
    const report = checkHistory(h.events);
    expectOnly(report, "inconsistent");
    expect(report.examples.inconsistent[0]).toMatchObject({ partition: 0, values: [v], offsets: [3, 0] });
    expect(report.examples.inconsistent[0].detail).toBe(
      "p1-0 acknowledged at t-0 offset 3 (p1) but read only at t-0@0 (c1)",
    );
  });

  it("reordered: a producer's later send at an earlier offset", () => {
    const h = new History();
    const first = h.send("p1", 1);
    const second = h.send("p1", 1);
    h.ack(second, 1, 0);
    h.ack(first, 1, 1);
    h.readAll("c1", 1, [second, first]);
    // Another producer's values interleaved in any order are fine.
    h.write("p2", 0, 1);
    h.write("p3", 0, 0);
    h.readAll("c1", 0, ["p3-0", "p2-0"]);
    const report = checkHistory(h.events);
    expectOnly(report, "reordered");
    expect(report.examples.reordered[0]).toMatchObject({
      partition: 1,
      values: [first, second],
      offsets: [1, 0],
      processes: ["p1"],
      detail: "p1 sent p1-0 before p1-1, but t-1 holds them at offsets 1 and 0",
    });
  });

  it("phantom: read but never sent, or sent to another topic", () => {
    const h = new History();
    h.read("c1", 0, 0, "ghost");
    const elsewhere = new History("u");
    const v = elsewhere.write("p1", 0, 0);
    elsewhere.read("c1", 0, 0, v);
    const report = checkHistory([...h.events, ...elsewhere.events]);
    expectOnly(report, "phantom");
    expect(report.examples.phantom[0]).toMatchObject({
      topic: "t",
      partition: 0,
      values: ["ghost"],
      offsets: [0],
    });
    expect(report.examples.phantom[0].detail).toBe("ghost read at t-0 offset 0 (c1), never sent");
    // u's record read at t-3 offset 1 as well: a phantom there, and a value at two positions.
    const t = new History();
    t.read("c2", 3, 1, v);
    const moved = checkHistory([...h.events, ...elsewhere.events, ...t.events]);
    expect(moved.anomalies).toMatchObject({ phantom: 2, duplicate: 1, inconsistent: 0 });
    expect(moved.examples.phantom.map((e) => e.detail)).toEqual([
      "p1-0 read at t-3 offset 1 (c2), sent to u",
      "ghost read at t-0 offset 0 (c1), never sent",
    ]);
    expect(partitionCounts(moved, "phantom")).toEqual({ "t-0": 1, "u-0": 0, "t-3": 1 });
    // Read before it was sent: a phantom, and its send, acknowledged, is never read after it.
    const early = new History();
    early.read("c1", 0, 0, "p1-0");
    early.write("p1", 0, 0);
    const report2 = checkHistory(early.events);
    expect(report2.anomalies).toMatchObject({ phantom: 1, lost: 1, inconsistent: 0 });
    expect(report2.examples.phantom[0].detail).toBe(
      "p1-0 read at t-0 offset 0 (c1), read before it was sent",
    );
  });

  it("skip: a consumer jumps over an offset known to hold a value", () => {
    const h = new History();
    const values = [h.write("p1", 0, 0), h.write("p1", 0, 1), h.write("p1", 0, 2)];
    h.readAll("c2", 0, values);
    h.read("c1", 0, 0, values[0]);
    h.read("c1", 0, 2, values[2]);
    const report = checkHistory(h.events);
    expectOnly(report, "skip");
    expect(report.examples.skip[0]).toMatchObject({
      partition: 0,
      values: [values[1]],
      offsets: [0, 1, 2],
      processes: ["c1"],
      detail: "c1 read t-0 offset 0 then 2, skipping 1 (p1-1)",
    });
  });

  it("skip: a new session, or a gap with nothing known in it, is no skip", () => {
    const h = new History();
    const values = [h.write("p1", 0, 0), h.write("p1", 0, 1), h.write("p1", 0, 3)];
    h.readAll("c2", 0, values.slice(0, 2));
    h.read("c2", 0, 3, values[2]); // offset 2: a transaction marker, say
    h.assign("c1", [0]);
    h.read("c1", 0, 0, values[0]);
    h.assign("c1", [0], "group"); // a rebalance; the group resumes further on
    h.read("c1", 0, 3, values[2]);
    expect(checkHistory(h.events).ok).toBe(true);
  });

  it("aborted: read though its send failed definitely", () => {
    const h = new History();
    const v = h.send("p1", 0);
    h.fail(v, true);
    h.read("c1", 0, 5, v);
    const report = checkHistory(h.events);
    expectOnly(report, "aborted");
    expect(report.examples.aborted[0]).toMatchObject({ partition: 0, values: [v], offsets: [5] });
    expect(report.examples.aborted[0].detail).toBe(
      "p1-0 read at t-0 offset 5 (c1), though its send failed definitely (INVALID_RECORD: refused)",
    );
  });

  it("counts every anomaly per partition and keeps the first few examples", () => {
    const h = new History();
    for (let i = 0; i < 8; i++) h.write("p1", 0, i);
    for (let i = 0; i < 3; i++) h.write("p2", 1, i);
    const report = checkHistory(h.events);
    expectOnly(report, "lost", 11);
    expect(partitionCounts(report, "lost")).toEqual({ "t-0": 8, "t-1": 3 });
    expect(report.examples.lost).toHaveLength(EXAMPLES_PER_KIND);
    expect(report.examples.lost.map((e) => e.values[0])).toEqual(["p1-0", "p1-1", "p1-2", "p1-3", "p1-4"]);
  });

  it("refuses a history that contradicts itself, naming the event", () => {
    const twice = new History();
    twice.send("p1");
    const again = { ...twice.events[0], time: 2 };
    expect(() => checkHistory([...twice.events, again])).toThrow("event 2: p1-0 was already sent (line 1)");
    const h = new History();
    h.ack("p1-0", 0, 0);
    expect(() => checkHistory(h.events)).toThrow("event 1: ack of p1-0, which was not sent before");
    const checker = new HistoryChecker();
    checker.add({ type: "send", time: 1, process: "p1", topic: "t", value: "p1-5" });
    expect(() => checker.add({ type: "send", time: 2, process: "p1", topic: "t", value: "p1-3" }, 7)).toThrow(
      "line 7: p1-3 sent after p1-5: a producer's numbers must increase",
    );
    expect(() => checker.add({ type: "send", time: 2, process: "p1", topic: "t", value: "p2-9" }, 8)).toThrow(
      "line 8: value p2-9 does not name its producer as p1-<n>",
    );
  });
});

/**
 * A seeded run without faults: three producers write to three partitions (some sends failing,
 * some of those written anyway, some offsets holding markers nobody reads); a group member reads
 * in sessions cut by rebalances, resuming at or before where it stopped; an assign-mode consumer
 * then reads every partition to its end. Returns the history and each partition's log.
 */
function simulate(rng: Random): { h: History; logs: (string | null)[][] } {
  const h = new History();
  const logs: (string | null)[][] = [[], [], []];
  for (let i = 0; i < 60; i++) {
    const partition = rng.int(0, 2);
    const log = logs[partition];
    if (rng.chance(0.1)) log.push(null); // a transaction marker, say
    const value = h.send(rng.pick(["p1", "p2", "p3"]), partition);
    const outcome = rng.float();
    if (outcome < 0.8) h.ack(value, partition, log.push(value) - 1);
    else if (outcome < 0.9) h.fail(value, true);
    else {
      if (rng.chance(0.5)) log.push(value);
      h.fail(value, false);
    }
  }
  const next = [0, 0, 0];
  for (let round = 0; round < 4; round++) {
    const mine = [0, 1, 2].filter(() => rng.chance(0.6));
    h.assign("c1", mine, "group");
    for (const partition of mine) {
      next[partition] = Math.max(0, next[partition] - rng.int(0, 2)); // uncommitted reads again
      const stop = rng.int(next[partition], logs[partition].length);
      for (; next[partition] < stop; next[partition]++) {
        const value = logs[partition][next[partition]];
        if (value !== null) h.read("c1", partition, next[partition], value);
      }
    }
  }
  h.assign("c2", [0, 1, 2]);
  for (const [partition, log] of logs.entries())
    for (const [offset, value] of log.entries()) if (value !== null) h.read("c2", partition, offset, value);
  return { h, logs };
}

describe("checkHistory on simulated runs", () => {
  const seed = baseSeed(1400);

  it.each(Array.from({ length: 20 }, (_, i) => seed + i))(
    "seed %i: clean, then one read dropped or one value unread",
    (s) => {
      const rng = new Random(s);
      const { h, logs } = simulate(rng);
      expect(checkHistory(h.events).anomalies, `seed ${s}`).toEqual(checkHistory([]).anomalies);

      // c2 misses one acknowledged record that is neither the first nor the last it reads of a
      // partition, so the offset is known and c2's reads around it are consecutive.
      const acked = new Set(h.events.flatMap((e) => (e.type === "ack" ? [e.value] : [])));
      const c2 = h.events.filter((e): e is ReadEvent => e.type === "read" && e.process === "c2");
      const samePartition = (i: number, j: number) => c2[j]?.partition === c2[i].partition;
      const inner = c2.filter(
        (e, i) => acked.has(e.value) && samePartition(i, i - 1) && samePartition(i, i + 1),
      );
      const dropped = rng.pick(inner);
      const skipped = checkHistory(h.events.filter((e) => e !== dropped));
      expect(skipped.anomalies.skip, `seed ${s}`).toBe(1);
      expect(skipped.examples.skip[0].offsets[1], `seed ${s}`).toBe(dropped.offset);

      // Every read of one acknowledged value removed: lost.
      const gone = rng.pick([...acked]);
      const lost = checkHistory(h.events.filter((e) => !(e.type === "read" && e.value === gone)));
      expect(lost.anomalies.lost, `seed ${s}`).toBe(1);
      expect(lost.examples.lost[0].values, `seed ${s}`).toEqual([gone]);
      expect(logs.flat()).toContain(gone);
    },
  );
});

describe("readHistory", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "samsa-verify-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function readAll(text: string): Promise<number[]> {
    const file = path.join(dir, "h.jsonl");
    writeFileSync(file, text);
    const lines: number[] = [];
    for await (const entry of readHistory(file)) lines.push(entry.line);
    return lines;
  }

  it("streams the events with their line numbers, skipping blank lines", async () => {
    const h = new History();
    const v = h.write("p1", 0, 0);
    h.read("c1", 0, 0, v);
    const text = h.events.map(historyLine).join("\n");
    expect(await readAll(text)).toEqual([1, 3, 5]);
  });

  it.each([
    ["{not json", "line 2: not JSON"],
    ["[1,2]", "line 2: not a JSON object"],
    [
      '{"type":"poll","time":1,"process":"c1"}',
      'line 2: "type" is "poll": expected send, ack, fail, assign or read',
    ],
    [
      '{"type":"read","time":1,"process":"c1","topic":"t","partition":0,"value":"x"}',
      'line 2: missing "offset"',
    ],
    [
      '{"type":"read","time":1,"process":"c1","topic":"t","partition":0,"offset":-1,"value":"x"}',
      'line 2: "offset" is -1: expected an offset',
    ],
    ['{"type":"ack","time":"now","process":"p1"}', 'line 2: "time" is "now": expected ms since the epoch'],
    [
      '{"type":"fail","time":1,"process":"p1","topic":"t","value":"p1-0","error":"E: e","definite":"no"}',
      'line 2: "definite" is "no": expected true or false',
    ],
    [
      '{"type":"assign","time":1,"process":"c1","topic":"t","partitions":[0],"mode":"x"}',
      'line 2: "mode" is "x": expected "group" or "assign"',
    ],
  ])("names the line of a malformed event: %s", async (bad, message) => {
    const good = '{"type":"send","time":1,"process":"p1","topic":"t","value":"p1-0"}';
    await expect(readAll(`${good}\n${bad}\n${good}\n`)).rejects.toThrow(message);
  });

  it("passes on the file system's error for a missing file", async () => {
    const lines = readHistory(path.join(dir, "missing.jsonl"));
    await expect(lines.next()).rejects.toThrow("ENOENT");
  });
});
