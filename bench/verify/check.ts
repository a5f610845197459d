/**
 * The history checker of `samsa verify` and the chaos suite: one definition of "nothing lost".
 * Pure: it judges the events of a history (history.ts) and returns a Report; it does no I/O.
 *
 * Anomalies, each counted against a topic-partition:
 * - lost: acknowledged, and never read by anyone (anywhere);
 * - duplicate: one value read at two or more different positions (partition, offset);
 * - inconsistent: one offset read or acknowledged with two different values; or a value
 *   acknowledged at an offset and read, but never at that offset;
 * - reordered: two acknowledged values of one producer on one partition whose offsets are in
 *   the opposite order of their sends (counted once per adjacent pair in send order);
 * - phantom: read, but never sent to that topic (or read before it was sent);
 * - skip: one consumer's consecutive reads o1 < o2 within one read session of a partition (from
 *   its `assign` to the next) with an offset in between known, from any ack or read, to hold a
 *   value (counted once per pair);
 * - aborted: read, though its send failed definitely (the client was told it was not written).
 * A send that failed indefinitely, or has no outcome in the history, may or may not be read.
 *
 * The history itself must be sound, or the checker fails with a HistoryError naming the line:
 * each value sent once, a producer's numbers increasing, at most one outcome per send, and that
 * outcome from the process and topic that sent it, after the send.
 */
import { type AckEvent, HistoryError, type HistoryEvent, valueParts } from "./history.js";

export const ANOMALY_KINDS = [
  "lost",
  "duplicate",
  "inconsistent",
  "reordered",
  "phantom",
  "skip",
  "aborted",
] as const;
export type AnomalyKind = (typeof ANOMALY_KINDS)[number];

/** Examples kept per kind; every anomaly is counted. */
export const EXAMPLES_PER_KIND = 5;

/** One anomaly: the values, offsets and processes involved, and a sentence saying what happened. */
export interface AnomalyExample {
  topic: string;
  partition: number;
  values: string[];
  offsets: number[];
  processes: string[];
  detail: string;
}

export interface PartitionReport {
  topic: string;
  partition: number;
  acked: number;
  /** Distinct values read at this partition. */
  values_read: number;
  anomalies: Record<AnomalyKind, number>;
}

export interface Report {
  ok: boolean;
  totals: {
    sent: number;
    acked: number;
    failed_definite: number;
    failed_indefinite: number;
    /** Sends with neither an ack nor a fail in the history. */
    unresolved: number;
    reads: number;
    unique_values_read: number;
  };
  anomalies: Record<AnomalyKind, number>;
  examples: Record<AnomalyKind, AnomalyExample[]>;
  /** Every partition that was acknowledged or read at, by topic then partition. */
  partitions: PartitionReport[];
}

interface SendState {
  /** The value, one copy shared by every structure that holds it. */
  value: string;
  process: string;
  topic: string;
  n: number;
  line: number;
  outcome: "none" | "ack" | "definite" | "indefinite";
  error?: string;
  /** Where it was acknowledged. */
  acked?: PartitionState;
  offset?: number;
  /** The distinct positions it was read at. */
  positions?: Position[];
}

/** Who vouched for a value at an offset: the producer's ack or a consumer's read. */
interface Witness {
  value: string;
  process: string;
}

interface PartitionState {
  topic: string;
  partition: number;
  acked: number;
  valuesRead: number;
  /** offset -> the first value acknowledged or read there, with its witness. */
  offsets: Map<number, Witness>;
  /** offset -> every distinct value seen there, for the offsets that held more than one. */
  conflicts: Map<number, Witness[]>;
  /** process -> the offset of its last read in its current session of this partition. */
  sessions: Map<string, number>;
  /** Consecutive reads of one session that jumped over offsets. */
  gaps: { process: string; from: number; to: number }[];
}

/** Where a value was read, and the first process that read it there. */
interface Position {
  p: PartitionState;
  offset: number;
  reader: string;
}

const tpKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;
const tpName = (p: { topic: string; partition: number }) => `${p.topic}-${p.partition}`;
const positionName = (q: Position) => `${tpName(q.p)}@${q.offset}`;

function byTopicPartition(a: PartitionState, b: PartitionState): number {
  if (a.topic !== b.topic) return a.topic < b.topic ? -1 : 1;
  return a.partition - b.partition;
}

function noAnomalies(): Record<AnomalyKind, number> {
  return { lost: 0, duplicate: 0, inconsistent: 0, reordered: 0, phantom: 0, skip: 0, aborted: 0 };
}

/** The distinct readers of a value, in the order of the positions they first read it at. */
function readersOf(positions: Position[]): string[] {
  return [...new Set(positions.map((q) => q.reader))];
}

/**
 * Judges a history fed one event at a time (`add`), so a long history is never held in memory
 * as events; `report()` may be called at any point. Memory grows with the values sent and the
 * offsets seen, not with the number of reads.
 */
export class HistoryChecker {
  private readonly sends = new Map<string, SendState>();
  private readonly lastN = new Map<string, { n: number; value: string }>();
  private readonly partitions = new Map<string, PartitionState>();
  /** A value never sent -> the distinct positions it was read at. */
  private readonly unsent = new Map<string, Position[]>();
  private uniqueValuesRead = 0;
  /** One copy of each process and topic name, however many events repeat it. */
  private readonly names = new Map<string, string>();
  private readCount = 0;
  private eventCount = 0;

  /**
   * Takes the next event; `line` (the file's line number) names it in a HistoryError when the
   * event contradicts the history so far.
   */
  add(event: HistoryEvent, line?: number): void {
    this.eventCount++;
    const where = line === undefined ? `event ${this.eventCount}` : `line ${line}`;
    try {
      this.apply(event, line ?? this.eventCount);
    } catch (err) {
      if (err instanceof HistoryError) throw new HistoryError(`${where}: ${err.message}`);
      throw err;
    }
  }

  private apply(event: HistoryEvent, line: number): void {
    switch (event.type) {
      case "send":
        this.onSend(this.name(event.process), this.name(event.topic), event.value, line);
        break;
      case "ack":
        this.onAck(event);
        break;
      case "fail": {
        const s = this.outcomeOf(event.process, event.topic, event.value, "fail");
        s.outcome = event.definite ? "definite" : "indefinite";
        s.error = event.error;
        break;
      }
      case "assign":
        for (const partition of event.partitions)
          this.partitions.get(tpKey(event.topic, partition))?.sessions.delete(event.process);
        break;
      case "read":
        this.onRead(this.name(event.process), event.topic, event.partition, event.offset, event.value);
        break;
    }
  }

  private name(s: string): string {
    const known = this.names.get(s);
    if (known !== undefined) return known;
    this.names.set(s, s);
    return s;
  }

  private onSend(process: string, topic: string, value: string, line: number): void {
    const earlier = this.sends.get(value);
    if (earlier !== undefined) throw new HistoryError(`${value} was already sent (line ${earlier.line})`);
    const parts = valueParts(value);
    if (parts === null || parts.producer !== process)
      throw new HistoryError(`value ${value} does not name its producer as ${process}-<n>`);
    const last = this.lastN.get(process);
    if (last !== undefined && parts.n <= last.n)
      throw new HistoryError(`${value} sent after ${last.value}: a producer's numbers must increase`);
    this.lastN.set(process, { n: parts.n, value });
    this.sends.set(value, { value, process, topic, n: parts.n, line, outcome: "none" });
  }

  private onAck(event: AckEvent): void {
    const s = this.outcomeOf(event.process, event.topic, event.value, "ack");
    const p = this.partition(event.topic, event.partition);
    s.outcome = "ack";
    s.acked = p;
    s.offset = event.offset;
    p.acked++;
    this.witness(p, event.offset, s.value, s.process);
  }

  private outcomeOf(process: string, topic: string, value: string, what: string): SendState {
    const s = this.sends.get(value);
    if (s === undefined) throw new HistoryError(`${what} of ${value}, which was not sent before`);
    if (s.process !== process || s.topic !== topic)
      throw new HistoryError(
        `${what} of ${value} by ${process} on ${topic}; ${s.process} sent it to ${s.topic}`,
      );
    if (s.outcome !== "none") throw new HistoryError(`${what} of ${value}, which already has an outcome`);
    return s;
  }

  private onRead(process: string, topic: string, partition: number, offset: number, value: string): void {
    this.readCount++;
    const p = this.partition(topic, partition);
    const s = this.sends.get(value);
    const canonical = s?.value ?? value;
    this.witness(p, offset, canonical, process);
    let positions = s === undefined ? this.unsent.get(value) : s.positions;
    if (positions === undefined) {
      positions = [];
      if (s === undefined) this.unsent.set(value, positions);
      else s.positions = positions;
      this.uniqueValuesRead++;
    }
    if (!positions.some((q) => q.p === p)) p.valuesRead++;
    if (!positions.some((q) => q.p === p && q.offset === offset))
      positions.push({ p, offset, reader: process });
    const previous = p.sessions.get(process);
    if (previous !== undefined && offset > previous + 1) p.gaps.push({ process, from: previous, to: offset });
    p.sessions.set(process, offset);
  }

  private partition(topic: string, partition: number): PartitionState {
    const key = tpKey(topic, partition);
    let p = this.partitions.get(key);
    if (p === undefined) {
      p = {
        topic: this.name(topic),
        partition,
        acked: 0,
        valuesRead: 0,
        offsets: new Map(),
        conflicts: new Map(),
        sessions: new Map(),
        gaps: [],
      };
      this.partitions.set(key, p);
    }
    return p;
  }

  private witness(p: PartitionState, offset: number, value: string, process: string): void {
    const first = p.offsets.get(offset);
    if (first === undefined) {
      p.offsets.set(offset, { value, process });
      return;
    }
    if (first.value === value) return;
    const seen = p.conflicts.get(offset) ?? [first];
    if (!seen.some((w) => w.value === value)) seen.push({ value, process });
    p.conflicts.set(offset, seen);
  }

  /** The anomalies found in the events so far. */
  report(): Report {
    const found = new Findings(this.partitions);
    for (const p of this.sortedPartitions()) {
      findInconsistentOffsets(p, found);
      findSkips(p, found);
    }
    this.findReadAnomalies(found);
    this.findLostAndReordered(found);
    return found.report(this.totals());
  }

  private sortedPartitions(): PartitionState[] {
    return [...this.partitions.values()].sort(byTopicPartition);
  }

  /** Phantom, aborted, duplicate and acked-elsewhere reads: sent values in send order, then the rest. */
  private findReadAnomalies(found: Findings): void {
    const read: [string, Position[], SendState | undefined][] = [];
    for (const s of this.sends.values()) if (s.positions !== undefined) read.push([s.value, s.positions, s]);
    for (const [value, positions] of this.unsent) read.push([value, positions, undefined]);
    for (const [value, positions, s] of read) {
      const unsent = this.sends.has(value) ? "read before it was sent" : "never sent";
      for (const q of positions) checkReadSent(value, s, q, unsent, found);
      if (positions.length > 1) {
        const readers = readersOf(positions);
        const where = positions.map(positionName).join(", ");
        const detail = `${value} read at ${positions.length} positions: ${where} (${readers.join(", ")})`;
        const offsets = positions.map((q) => q.offset);
        found.note("duplicate", positions[0].p, () => [[value], offsets, readers, detail]);
      }
      if (s?.outcome === "ack") checkReadWhereAcked(value, s, positions, found);
    }
  }

  /** Lost values in order of their sends, then reorderings per producer and partition. */
  private findLostAndReordered(found: Findings): void {
    const byProducer = new Map<string, { value: string; s: SendState }[]>();
    for (const [value, s] of this.sends) {
      if (s.outcome !== "ack") continue;
      const p = s.acked!;
      if (s.positions === undefined) {
        const detail = `${value} acknowledged at ${tpName(p)} offset ${s.offset} (${s.process}), never read`;
        found.note("lost", p, () => [[value], [s.offset!], [s.process], detail]);
      }
      const group = `${s.process}\u0000${tpKey(p.topic, p.partition)}`;
      const list = byProducer.get(group) ?? [];
      list.push({ value, s });
      byProducer.set(group, list);
    }
    for (const list of byProducer.values()) findReorders(list, found);
  }

  private totals(): Report["totals"] {
    const t = { sent: this.sends.size, acked: 0, failed_definite: 0, failed_indefinite: 0, unresolved: 0 };
    for (const s of this.sends.values()) {
      if (s.outcome === "ack") t.acked++;
      else if (s.outcome === "definite") t.failed_definite++;
      else if (s.outcome === "indefinite") t.failed_indefinite++;
      else t.unresolved++;
    }
    return { ...t, reads: this.readCount, unique_values_read: this.uniqueValuesRead };
  }
}

/** What an example is made of: values, offsets, processes, detail (made only when kept). */
type ExampleParts = () => [string[], number[], string[], string];

/** Counts anomalies per kind and partition and keeps the first few examples of each kind. */
class Findings {
  private readonly counts = noAnomalies();
  private readonly perPartition = new Map<PartitionState, Record<AnomalyKind, number>>();
  private readonly examples = Object.fromEntries(ANOMALY_KINDS.map((k) => [k, []])) as unknown as Record<
    AnomalyKind,
    AnomalyExample[]
  >;

  constructor(private readonly partitions: Map<string, PartitionState>) {}

  note(kind: AnomalyKind, p: PartitionState, parts: ExampleParts): void {
    this.counts[kind]++;
    let counts = this.perPartition.get(p);
    if (counts === undefined) {
      counts = noAnomalies();
      this.perPartition.set(p, counts);
    }
    counts[kind]++;
    if (this.examples[kind].length >= EXAMPLES_PER_KIND) return;
    const [values, offsets, processes, detail] = parts();
    this.examples[kind].push({ topic: p.topic, partition: p.partition, values, offsets, processes, detail });
  }

  report(totals: Report["totals"]): Report {
    const partitions = [...this.partitions.values()].sort(byTopicPartition).map((p) => ({
      topic: p.topic,
      partition: p.partition,
      acked: p.acked,
      values_read: p.valuesRead,
      anomalies: this.perPartition.get(p) ?? noAnomalies(),
    }));
    const ok = ANOMALY_KINDS.every((k) => this.counts[k] === 0);
    return { ok, totals, anomalies: this.counts, examples: this.examples, partitions };
  }
}

/** A phantom or aborted read at `q`; `s` is undefined for a value not sent before it was read. */
function checkReadSent(
  value: string,
  s: SendState | undefined,
  q: Position,
  unsent: string,
  found: Findings,
): void {
  const at = `at ${tpName(q.p)} offset ${q.offset} (${q.reader})`;
  if (s === undefined || s.topic !== q.p.topic) {
    const why = s === undefined ? unsent : `sent to ${s.topic}`;
    found.note("phantom", q.p, () => [[value], [q.offset], [q.reader], `${value} read ${at}, ${why}`]);
  } else if (s.outcome === "definite") {
    const detail = `${value} read ${at}, though its send failed definitely (${s.error})`;
    found.note("aborted", q.p, () => [[value], [q.offset], [s.process, q.reader], detail]);
  }
}

/** An acknowledged value read, but never where it was acknowledged. */
function checkReadWhereAcked(value: string, s: SendState, positions: Position[], found: Findings): void {
  const acked = s.acked!;
  if (positions.some((q) => q.p === acked && q.offset === s.offset)) return;
  const readers = readersOf(positions);
  const where = positions.map(positionName).join(", ");
  const detail = `${value} acknowledged at ${tpName(acked)} offset ${s.offset} (${s.process}) but read only at ${where} (${readers.join(", ")})`;
  const offsets = [s.offset!, ...positions.map((q) => q.offset)];
  found.note("inconsistent", acked, () => [[value], offsets, [s.process, ...readers], detail]);
}

function findInconsistentOffsets(p: PartitionState, found: Findings): void {
  const offsets = [...p.conflicts.keys()].sort((a, b) => a - b);
  for (const offset of offsets) {
    const seen = p.conflicts.get(offset)!;
    const detail = `${tpName(p)} offset ${offset} holds ${seen.map((w) => `${w.value} (${w.process})`).join(", ")}`;
    const values = seen.map((w) => w.value);
    const processes = seen.map((w) => w.process);
    found.note("inconsistent", p, () => [values, [offset], processes, detail]);
  }
}

function findSkips(p: PartitionState, found: Findings): void {
  if (p.gaps.length === 0) return;
  const known = [...p.offsets.keys()].sort((a, b) => a - b);
  for (const gap of p.gaps) {
    const i = firstAbove(known, gap.from);
    if (i >= known.length || known[i] >= gap.to) continue;
    const skipped = known[i];
    const value = p.offsets.get(skipped)!.value;
    const detail = `${gap.process} read ${tpName(p)} offset ${gap.from} then ${gap.to}, skipping ${skipped} (${value})`;
    found.note("skip", p, () => [[value], [gap.from, skipped, gap.to], [gap.process], detail]);
  }
}

/** The index of the first element of ascending `sorted` greater than `x` (its length if none). */
function firstAbove(sorted: number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** One producer's acknowledged values on one partition: each adjacent pair in send order whose offsets go back. */
function findReorders(list: { value: string; s: SendState }[], found: Findings): void {
  list.sort((a, b) => a.s.n - b.s.n);
  for (let i = 1; i < list.length; i++) {
    const a = list[i - 1];
    const b = list[i];
    if (b.s.offset! >= a.s.offset!) continue;
    const p = a.s.acked!;
    const detail = `${a.s.process} sent ${a.value} before ${b.value}, but ${tpName(p)} holds them at offsets ${a.s.offset} and ${b.s.offset}`;
    found.note("reordered", p, () => [[a.value, b.value], [a.s.offset!, b.s.offset!], [a.s.process], detail]);
  }
}

/** Judges a whole history at once; throws a HistoryError ("event N: ...") if it is unsound. */
export function checkHistory(events: Iterable<HistoryEvent>): Report {
  const checker = new HistoryChecker();
  for (const event of events) checker.add(event);
  return checker.report();
}
