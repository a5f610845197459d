/**
 * The judge of bench/rolling.ts (bench/rolling-judge.ts) on crafted tallies: a clean client, each
 * finding (lost, duplicate, phantom, unsettled, read though unacknowledged) counted for the right
 * client only, the no-acknowledgement gaps, and which findings fail which pass.
 */
import { describe, expect, it } from "vitest";
import {
  type Ack,
  type ClientTally,
  groupMessages,
  judgeClient,
  maxNoAckMs,
  passFailures,
  type ReadRecord,
} from "../../bench/rolling-judge.js";

const T0 = 1_700_000_000_000;

/** A client that sent `sent` values, every one acknowledged at T0 + 10 n ms on partition n % 2. */
function tally(client: string, sent: number): ClientTally {
  const acks = new Map<string, Ack>();
  for (let n = 0; n < sent; n++)
    acks.set(`${client}-${n}`, { ms: T0 + 10 * n, partition: n % 2, offset: n >> 1 });
  return { client, sent, acks, errors: [], events: [], startMs: T0, stopMs: T0 + 10 * sent };
}

/** Every acknowledged value of `t` read once, where it was acknowledged. */
function readAll(t: ClientTally): ReadRecord[] {
  return [...t.acks].map(([value, a]) => ({ value, partition: a.partition, offset: a.offset }));
}

describe("judgeClient", () => {
  it("finds nothing when every acknowledged value was read once", () => {
    const t = tally("samsa", 100);
    const other = readAll(tally("kafkajs", 50)).map((r) => ({ ...r, offset: r.offset + 100 }));
    const v = judgeClient(t, [...readAll(t), ...other]);
    expect(v).toMatchObject({ sent: 100, acked: 100, errors: 0, unsettled: 0, lost: 0, duplicates: 0 });
    expect(v).toMatchObject({ read_unacked: 0, phantoms: 0, max_no_ack_ms: 10 });
    expect(v.max_partition_no_ack.ms).toBe(20);
    expect(passFailures("sigterm", [v])).toEqual([]);
  });

  it("counts an acknowledged value never read as lost, naming it", () => {
    const t = tally("rdkafka", 10);
    const reads = readAll(t).filter((r) => r.value !== "rdkafka-3");
    const v = judgeClient(t, reads);
    expect(v.lost).toBe(1);
    expect(v.lost_examples).toEqual(["rdkafka-3"]);
    expect(passFailures("kill", [v])).toEqual(["rdkafka: 1 acknowledged records lost (rdkafka-3)"]);
  });

  it("counts a value read at two positions as one duplicate, with both positions", () => {
    const t = tally("kafkajs", 10);
    const reads = [...readAll(t), { value: "kafkajs-4", partition: 0, offset: 7 }];
    const v = judgeClient(t, reads);
    expect(v.duplicates).toBe(1);
    expect(v.duplicate_examples).toEqual(["kafkajs-4 at 0/2, 0/7"]);
    expect(v.lost).toBe(0);
    // Duplicates of a producer without idempotence are reported, not judged.
    expect(passFailures("sigterm", [v])).toEqual([]);
  });

  it("tells failed, unsettled, read-though-unacknowledged and phantom values apart", () => {
    const t = tally("samsa", 10);
    t.acks.delete("samsa-2");
    t.acks.delete("samsa-5");
    t.errors.push({ value: "samsa-2", message: "REQUEST_TIMEOUT: x" });
    const reads = [
      ...readAll(t),
      { value: "samsa-2", partition: 1, offset: 9 },
      { value: "samsa-10", partition: 0, offset: 9 },
    ];
    const v = judgeClient(t, reads);
    expect(v).toMatchObject({ acked: 8, errors: 1, unsettled: 1, read_unacked: 1, phantoms: 1, lost: 0 });
    expect(passFailures("sigterm", [v])).toEqual([
      "samsa: 1 records read that were never sent",
      "samsa: 1 errors surfaced (REQUEST_TIMEOUT: x)",
      "samsa: 1 sends never settled",
    ]);
    // The kill pass reports errors and unsettled sends without failing on them; a phantom still fails.
    expect(passFailures("kill", [v])).toEqual(["samsa: 1 records read that were never sent"]);
  });

  it("finds an acknowledgement whose position holds another value, and one without a position", () => {
    const t = tally("kafkajs", 6);
    const reads = readAll(t).map((r) => (r.value === "kafkajs-4" ? { ...r, offset: 9 } : r));
    reads.push({ value: "samsa-0", partition: 0, offset: 2 });
    t.acks.set("kafkajs-5", { ms: T0, partition: -1, offset: -1 });
    const v = judgeClient(t, reads);
    expect(v).toMatchObject({ misplaced: 1, acked_without_position: 1, lost: 0 });
    expect(v.misplaced_examples).toEqual(["kafkajs-4 acknowledged at 0/2, read there: samsa-0"]);
    expect(passFailures("kill", [v])).toEqual([
      "kafkajs: 1 acknowledged at a position holding another value (kafkajs-4 acknowledged at 0/2, read there: samsa-0)",
      "kafkajs: 1 acknowledged without a partition and offset",
    ]);
  });

  it("fails any pass on a fatal client event, not on an informational one", () => {
    const t = tally("rdkafka", 3);
    t.events.push({ message: "_TRANSPORT: refused", fatal: false });
    expect(passFailures("sigterm", [judgeClient(t, readAll(t))])).toEqual([]);
    t.events.push({ message: "_FENCED: x", fatal: true });
    const v = judgeClient(t, readAll(t));
    expect(v.events_grouped).toEqual([
      { message: "_TRANSPORT: refused", count: 1 },
      { message: "FATAL _FENCED: x", count: 1 },
    ]);
    expect(passFailures("kill", [v])).toEqual(["rdkafka: 1 fatal client errors"]);
  });

  it("measures the longest stall of one partition apart from the client's", () => {
    const t = tally("samsa", 100);
    // Partition 1 gets nothing acknowledged from 300 ms to 800 ms: its values there are acknowledged late.
    for (let n = 31; n < 80; n += 2) t.acks.set(`samsa-${n}`, { ms: T0 + 800, partition: 1, offset: n >> 1 });
    const v = judgeClient(t, readAll(t));
    // Partition 0 still acknowledges every 20 ms.
    expect(v.max_no_ack_ms).toBe(20);
    expect(v.max_partition_no_ack).toEqual({ partition: 1, fromMs: T0 + 290, ms: 800 - 290 });
  });
});

describe("maxNoAckMs", () => {
  it("counts the gaps from the start, between acknowledgements and up to the stop", () => {
    expect(maxNoAckMs(0, 100, [])).toBe(100);
    expect(maxNoAckMs(0, 100, [40, 10, 50])).toBe(50);
    expect(maxNoAckMs(0, 100, [70, 90])).toBe(70);
  });

  it("opens no gap past the stop: acknowledgements during the flush close the last one", () => {
    expect(maxNoAckMs(0, 100, [10, 130, 900])).toBe(90);
    expect(maxNoAckMs(0, 100, [10, 95, 130])).toBe(85);
  });
});

describe("groupMessages", () => {
  it("counts each message, most frequent first", () => {
    expect(groupMessages(["a", "b", "b", "c", "b", "a"])).toEqual([
      { message: "b", count: 3 },
      { message: "a", count: 2 },
      { message: "c", count: 1 },
    ]);
  });
});
