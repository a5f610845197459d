/**
 * The judge of bench/rolling.ts (issue 14's rolling restart under load): what each producer
 * application saw (sends, acknowledgements, errors surfaced to it) against what the topic holds
 * afterwards. Pure: no I/O, so test/bench/rolling-judge.test.ts can feed it crafted tallies.
 */

/** What one producer application saw during one pass. Values are `<client>-<n>`, n from 0. */
export interface ClientTally {
  client: string;
  /** Sends made: values `<client>-0` .. `<client>-<sent-1>`. */
  sent: number;
  /** Acknowledged values: when (ms since the epoch) and the partition. */
  acks: Map<string, Ack>;
  /** Errors surfaced to the application for a send, in order. */
  errors: { value: string | null; message: string }[];
  /** Errors the client reported outside a send (librdkafka's error_cb): informational unless fatal. */
  events: { message: string; fatal: boolean }[];
  /** The first send and the moment sending stopped (ms since the epoch). */
  startMs: number;
  stopMs: number;
}

export interface Ack {
  ms: number;
  partition: number;
  /** The offset the client was told (-1 when it was not). */
  offset: number;
}

/** A record read back from the topic. */
export interface ReadRecord {
  value: string;
  partition: number;
  offset: number;
}

/** One kind of message and how often it came. */
export interface Grouped {
  message: string;
  count: number;
}

/** Examples kept per finding (lost, duplicate). */
export const EXAMPLES_KEPT = 5;

export interface ClientVerdict {
  client: string;
  sent: number;
  acked: number;
  /** Sends with neither an acknowledgement nor an error when the application stopped. */
  unsettled: number;
  errors: number;
  errors_grouped: Grouped[];
  /** Client events (librdkafka error_cb) grouped; `fatal_events` counts the fatal ones. */
  events_grouped: Grouped[];
  fatal_events: number;
  /** Acknowledged, never read back. */
  lost: number;
  lost_examples: string[];
  /** Values read at two or more positions (partition, offset). */
  duplicates: number;
  duplicate_examples: string[];
  /** Read back though never acknowledged (failed or unsettled sends: allowed). */
  read_unacked: number;
  /** Read back with this client's prefix but never sent by it. */
  phantoms: number;
  /** Acknowledged at a partition and offset that was read holding another value, or read only elsewhere. */
  misplaced: number;
  misplaced_examples: string[];
  /** Acknowledged without a partition or offset (a client that resolved a send with no result). */
  acked_without_position: number;
  /** The longest time within [startMs, stopMs] without an acknowledgement. */
  max_no_ack_ms: number;
  /** The same for each partition alone (a partition with no acknowledgement at all is not counted). */
  max_partition_no_ack: Gap & { partition: number };
}

/** Messages by count, most frequent first (ties in first-seen order). */
export function groupMessages(messages: string[]): Grouped[] {
  const counts = new Map<string, number>();
  for (const m of messages) counts.set(m, (counts.get(m) ?? 0) + 1);
  return [...counts].map(([message, count]) => ({ message, count })).sort((a, b) => b.count - a.count);
}

/** An interval without acknowledgements: from when (ms since the epoch), how long. */
export interface Gap {
  fromMs: number;
  ms: number;
}

/**
 * The longest interval in [startMs, stopMs] containing no acknowledgement: from the start to the
 * first, between two in a row, and from the last to the stop. Acknowledgements outside the
 * interval (during the flush) end a gap too but open none past stopMs.
 */
export function longestGap(startMs: number, stopMs: number, ackTimes: Iterable<number>): Gap {
  const times = [...ackTimes].sort((a, b) => a - b);
  let previous = startMs;
  let longest: Gap = { fromMs: startMs, ms: 0 };
  const consider = (until: number) => {
    if (until - previous > longest.ms) longest = { fromMs: previous, ms: until - previous };
  };
  for (const t of times) {
    if (t < previous) continue;
    consider(Math.min(t, stopMs));
    previous = t;
    if (previous >= stopMs) return longest;
  }
  consider(stopMs);
  return longest;
}

/** longestGap's length alone. */
export function maxNoAckMs(startMs: number, stopMs: number, ackTimes: Iterable<number>): number {
  return longestGap(startMs, stopMs, ackTimes).ms;
}

/** longestGap of each partition's acknowledgements alone: the longest, with its partition. */
function longestPartitionGap(t: ClientTally): Gap & { partition: number } {
  const byPartition = new Map<number, number[]>();
  for (const a of t.acks.values()) {
    const times = byPartition.get(a.partition);
    if (times) times.push(a.ms);
    else byPartition.set(a.partition, [a.ms]);
  }
  let longest = { partition: -1, fromMs: t.startMs, ms: 0 };
  for (const [partition, times] of byPartition) {
    const gap = longestGap(t.startMs, t.stopMs, times);
    if (gap.ms > longest.ms) longest = { partition, ...gap };
  }
  return longest;
}

/** `<client>-<n>` split; null when the value has no such form. */
export function parseValue(value: string): { client: string; n: number } | null {
  const m = /^(.+)-(\d+)$/.exec(value);
  return m ? { client: m[1], n: Number(m[2]) } : null;
}

/**
 * Acknowledgements whose position was read holding another value, or whose value was read only
 * elsewhere (a value never read is lost, not misplaced); and those that came without a position.
 */
function checkPositions(
  t: ClientTally,
  reads: ReadRecord[],
  readValues: Map<string, string[]>,
): { misplaced: string[]; withoutPosition: number } {
  const at = new Map<string, string>();
  for (const r of reads) at.set(`${r.partition}/${r.offset}`, r.value);
  const misplaced: string[] = [];
  let withoutPosition = 0;
  for (const [value, ack] of t.acks) {
    if (ack.partition < 0 || ack.offset < 0) {
      withoutPosition++;
      continue;
    }
    const there = at.get(`${ack.partition}/${ack.offset}`);
    if (there === value || (there === undefined && !readValues.has(value))) continue;
    misplaced.push(
      `${value} acknowledged at ${ack.partition}/${ack.offset}, read there: ${there ?? "nothing"}`,
    );
  }
  return { misplaced, withoutPosition };
}

/** Judges one client: `reads` are all the records read back from the pass's topic. */
export function judgeClient(t: ClientTally, reads: ReadRecord[]): ClientVerdict {
  const positions = new Map<string, string[]>();
  let phantoms = 0;
  for (const r of reads) {
    const v = parseValue(r.value);
    if (v?.client !== t.client) continue;
    if (v.n >= t.sent) phantoms++;
    else {
      const at = positions.get(r.value);
      if (at) at.push(`${r.partition}/${r.offset}`);
      else positions.set(r.value, [`${r.partition}/${r.offset}`]);
    }
  }
  const lost = [...t.acks.keys()].filter((v) => !positions.has(v));
  const { misplaced, withoutPosition } = checkPositions(t, reads, positions);
  const duplicates = [...positions].filter(([, at]) => at.length > 1);
  const failed = new Set(t.errors.map((e) => e.value).filter((v): v is string => v !== null));
  let unsettled = 0;
  for (let n = 0; n < t.sent; n++) {
    const v = `${t.client}-${n}`;
    if (!t.acks.has(v) && !failed.has(v)) unsettled++;
  }
  return {
    client: t.client,
    sent: t.sent,
    acked: t.acks.size,
    unsettled,
    errors: t.errors.length,
    errors_grouped: groupMessages(t.errors.map((e) => e.message)),
    events_grouped: groupMessages(t.events.map((e) => `${e.fatal ? "FATAL " : ""}${e.message}`)),
    fatal_events: t.events.filter((e) => e.fatal).length,
    lost: lost.length,
    lost_examples: lost.slice(0, EXAMPLES_KEPT),
    duplicates: duplicates.length,
    duplicate_examples: duplicates.slice(0, EXAMPLES_KEPT).map(([v, at]) => `${v} at ${at.join(", ")}`),
    read_unacked: [...positions.keys()].filter((v) => !t.acks.has(v)).length,
    phantoms,
    misplaced: misplaced.length,
    misplaced_examples: misplaced.slice(0, EXAMPLES_KEPT),
    acked_without_position: withoutPosition,
    max_no_ack_ms: maxNoAckMs(
      t.startMs,
      t.stopMs,
      [...t.acks.values()].map((a) => a.ms),
    ),
    max_partition_no_ack: longestPartitionGap(t),
  };
}

/** How a pass restarts each broker: SIGTERM (controlled shutdown) or SIGKILL. */
export type PassKind = "sigterm" | "kill";

/**
 * What fails a pass: any acknowledged record lost, a phantom, an acknowledgement whose position
 * holds another value or that came without one, or a fatal client event; in the
 * SIGTERM pass also any error surfaced to an application or a send left unsettled (issue 14: zero
 * errors with default retries). In the kill pass errors are reported, not judged.
 */
export function passFailures(kind: PassKind, verdicts: ClientVerdict[]): string[] {
  const out: string[] = [];
  for (const v of verdicts) {
    if (v.lost > 0)
      out.push(`${v.client}: ${v.lost} acknowledged records lost (${v.lost_examples.join(", ")})`);
    if (v.phantoms > 0) out.push(`${v.client}: ${v.phantoms} records read that were never sent`);
    if (v.misplaced > 0)
      out.push(
        `${v.client}: ${v.misplaced} acknowledged at a position holding another value (${v.misplaced_examples[0]})`,
      );
    if (v.acked_without_position > 0)
      out.push(`${v.client}: ${v.acked_without_position} acknowledged without a partition and offset`);
    if (v.fatal_events > 0) out.push(`${v.client}: ${v.fatal_events} fatal client errors`);
    if (kind !== "sigterm") continue;
    if (v.errors > 0) out.push(`${v.client}: ${v.errors} errors surfaced (${v.errors_grouped[0].message})`);
    if (v.unsettled > 0) out.push(`${v.client}: ${v.unsettled} sends never settled`);
  }
  return out;
}
