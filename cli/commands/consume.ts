/**
 * `samsa consume <topic...>`: like kcat -C, over one or more topics. Where to start and stop is
 * one `-o` (parseOffset: kcat's and rpk's forms), output is kcat's format tokens or, with -J,
 * kcat's JSON envelope with keys and values in `--encoding`. Output is gathered and written in
 * chunks, waiting while the reader is slow.
 * With `-g <group>` (kcat -G): a member of a consumer group that reads the partitions the group
 * assigns it from the group's committed offsets (`-o beginning|end` where it has none), says on
 * stderr when it waits for and gets an assignment, and commits what it printed every few seconds,
 * before giving partitions up, and on exit.
 */
import { isUtf8 } from "node:buffer";
import type { Command } from "commander";
import type { Admin } from "../../client/admin.js";
import type { Consumer, ConsumerRecord, StartAt } from "../../client/consumer.js";
import { connectionOf, type Encoding, Output, parseEncoding, unescapeArg } from "./common.js";

interface ConsumeOpts {
  offset: string;
  partition?: string;
  exit?: boolean;
  count?: string;
  format?: string;
  json?: boolean;
  encoding: string;
  group?: string;
  quiet?: boolean;
}

const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/** How often a group consumer commits what it printed. */
const GROUP_COMMIT_INTERVAL_MS = 5000;

/** Where each partition starts: the client's StartAt, `+N` after the log start, or the group's commit. */
export type StartSpec = StartAt | { afterStart: number } | "stored";
/** Where reading stops (exclusive): the end when reading starts, an offset, or a time. */
export type StopSpec = "end" | { offset: number } | { timestamp: number };
export interface OffsetRange {
  start: StartSpec;
  stop?: StopSpec;
}

const OFFSET_FORMS =
  "beginning|start, end, stored, N, -N (before the end), +N (after the start), @<ms>|@<ISO date>|@-<duration> (s@ too), e@<time>, or a range <start>:<stop> with stop end, N or @<time> (:end = from the beginning to the current end)";

const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A time: ms since the epoch, an ISO date, or `-<duration>` (`-1h`, `-30m`, `-2d`) before now. */
function parseTime(text: string, nowMs: number): number | null {
  if (/^\d+$/.test(text)) return Number(text);
  const ago = /^-(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text);
  if (ago) return Math.round(nowMs - Number(ago[1]) * DURATION_MS[ago[2]]);
  if (!/^\d{4}-/.test(text)) return null;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? ms : null;
}

function parseStartForm(text: string, nowMs: number): StartSpec | null {
  if (["", "beginning", "earliest", "start", "oldest"].includes(text)) return "earliest";
  if (["end", "latest", "newest"].includes(text)) return "latest";
  if (text === "stored") return "stored";
  if (/^-?\d+$/.test(text)) return Number(text);
  if (/^\+\d+$/.test(text)) return { afterStart: Number(text.slice(1)) };
  const at = /^s?@(.+)$/.exec(text);
  if (at) {
    const ms = parseTime(at[1], nowMs);
    return ms === null ? null : { timestamp: ms };
  }
  return null;
}

function parseStopForm(text: string, nowMs: number): StopSpec | null | undefined {
  if (text === "") return undefined;
  if (text === "end") return "end";
  if (/^\d+$/.test(text)) return { offset: Number(text) };
  const at = /^e?@(.+)$/.exec(text);
  if (at) {
    const ms = parseTime(at[1], nowMs);
    return ms === null ? null : { timestamp: ms };
  }
  return null;
}

/**
 * Parses `-o`: kcat's beginning, end, stored, N, -N, s@ms, e@ms, and rpk's start, +N, @time
 * (ms, ISO date, or -duration ago), and ranges `start:stop` (rpk; stop is exclusive). A whole
 * text that is a start form is one (an ISO date has colons of its own); otherwise the first colon
 * that splits it into a start and a stop form does.
 */
export function parseOffset(text: string, nowMs = Date.now()): OffsetRange {
  const e = /^e@(.+)$/.exec(text);
  if (e) {
    const stop = parseStopForm(text, nowMs);
    if (stop) return { start: "earliest", stop };
  }
  if (text !== "") {
    const whole = parseStartForm(text, nowMs);
    if (whole !== null) return { start: whole };
  }
  for (let i = text.indexOf(":"); i >= 0; i = text.indexOf(":", i + 1)) {
    const start = parseStartForm(text.slice(0, i), nowMs);
    const stop = parseStopForm(text.slice(i + 1), nowMs);
    if (start !== null && stop !== null) return { start, stop };
  }
  throw new Error(`-o ${text}: expected ${OFFSET_FORMS}`);
}

const TOKENS = /%[tpokKsSTh%]/g;

/** A -f format compiled once: literal bytes and the tokens between them. */
export type CompiledFormat = (Buffer | string)[];

export function compileFormat(format: string): CompiledFormat {
  const parts: CompiledFormat = [];
  let last = 0;
  for (const m of format.matchAll(TOKENS)) {
    if (m.index > last) parts.push(Buffer.from(format.slice(last, m.index)));
    parts.push(m[0] === "%%" ? Buffer.from("%") : m[0]);
    last = m.index + m[0].length;
  }
  if (last < format.length) parts.push(Buffer.from(format.slice(last)));
  return parts;
}

/**
 * Renders one record with kcat's format tokens (%t %p %o %k %K %s %S %T %h %%) into `out`. Keys
 * and values are written as their raw bytes, as kcat does.
 */
export function formatRecord(format: CompiledFormat, r: ConsumerRecord, out: Output): void {
  for (const part of format) {
    if (typeof part !== "string") out.push(part);
    else if (part === "%s") {
      if (r.value) out.push(r.value);
    } else if (part === "%k") {
      if (r.key) out.push(r.key);
    } else out.push(Buffer.from(tokenText(part, r)));
  }
}

function tokenText(token: string, r: ConsumerRecord): string {
  switch (token) {
    case "%t":
      return r.topic;
    case "%p":
      return String(r.partition);
    case "%o":
      return String(r.offset);
    case "%K":
      return String(r.key?.length ?? -1);
    case "%S":
      return String(r.value?.length ?? -1);
    case "%T":
      return String(r.timestamp);
    default:
      return r.headers.map((h) => `${h.key}=${h.value?.toString() ?? ""}`).join(",");
  }
}

/**
 * Bytes as JSON text in `encoding`. With utf8 (the default, kcat's), bytes that are not valid
 * UTF-8 are given in base64 instead, and the caller says so in a `<field>_encoding` member, so
 * binary data is never mangled into replacement characters.
 */
function encodeBytes(b: Buffer, encoding: Encoding): { text: string; encoding: Encoding } {
  if (encoding === "utf8") {
    return isUtf8(b)
      ? { text: b.toString("utf8"), encoding }
      : { text: b.toString("base64"), encoding: "base64" };
  }
  return { text: b.toString(encoding), encoding };
}

/**
 * kcat's -J envelope: topic, partition, offset, tstype, ts, broker, headers (only when the record
 * has any: kcat's flat [name, value, ...] list), key, payload; keys, values and header values
 * in `encoding`, plus key_encoding / payload_encoding / headers_encoding where it is not the
 * default utf8 (always with --encoding base64|hex; with utf8 only for bytes that are not UTF-8).
 */
export function recordJson(r: ConsumerRecord, encoding: Encoding, broker: number): string {
  const o: Record<string, unknown> = {
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
    tstype: r.timestampType === "LogAppendTime" ? "logappend" : "create",
    ts: r.timestamp,
    broker,
  };
  if (r.headers.length > 0) {
    // One encoding for every header value of the record, so a reader decodes them all alike.
    const values: Encoding =
      encoding === "utf8" && !r.headers.every((h) => !h.value || isUtf8(h.value)) ? "base64" : encoding;
    o.headers = r.headers.flatMap((h) => [h.key, h.value ? h.value.toString(values) : null]);
    if (values !== "utf8") o.headers_encoding = values;
  }
  for (const [field, bytes] of [
    ["key", r.key],
    ["payload", r.value],
  ] as const) {
    if (!bytes) {
      o[field] = null;
      continue;
    }
    const e = encodeBytes(bytes, encoding);
    o[field] = e.text;
    if (e.encoding !== "utf8") o[`${field}_encoding`] = e.encoding;
  }
  return JSON.stringify(o);
}

/** Writes records in the chosen form. */
function printer(opts: ConsumeOpts, consumer: Consumer): (r: ConsumerRecord, out: Output) => void {
  const encoding = parseEncoding(opts.encoding);
  if (opts.json) {
    const newline = Buffer.from("\n");
    // The leader each partition was read from, kept once known (cached metadata goes stale).
    const leaders = new Map<string, number>();
    return (r, out) => {
      const id = key(r.topic, r.partition);
      const known = consumer.cluster.cachedTopic(r.topic)?.partitions[r.partition]?.leader;
      if (known !== undefined) leaders.set(id, known);
      const broker = leaders.get(id) ?? -1;
      out.push(Buffer.from(recordJson(r, encoding, broker)));
      out.push(newline);
    };
  }
  const format = compileFormat(unescapeArg(opts.format ?? "%s\\n"));
  return (r, out) => formatRecord(format, r, out);
}

/** The parsed -p, if given. */
function partitionOption(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new Error(`-p ${text}: expected a partition number`);
  return Number(text);
}

function countOption(text: string | undefined): number {
  if (text === undefined) return Number.POSITIVE_INFINITY;
  if (!/^\d+$/.test(text)) throw new Error(`-c ${text}: expected a number of records`);
  return Number(text);
}

export function registerConsumeCommand(program: Command): void {
  program
    .command("consume <topics...>")
    .description("consume records of one or more topics to stdout (kcat -C style)")
    .option("-o, --offset <where>", `where to start (and stop): ${OFFSET_FORMS}`, "end")
    .option("-p, --partition <n>", "only this partition (of each topic)")
    .option("-e, --exit", "exit at the end of the partitions (their end when reading starts)")
    .option("-c, --count <n>", "exit after n records")
    .option("-f, --format <fmt>", "kcat format: %t %p %o %k %K %s %S %T %h, \\n \\t", "%s\\n")
    .option(
      "-J, --json",
      "one JSON object per record: kcat's envelope (topic partition offset tstype ts broker headers key payload)",
    )
    .option(
      "--encoding <enc>",
      "keys, values and header values in -J: utf8 (bytes that are not UTF-8 in base64, flagged by <field>_encoding), base64 or hex",
      "utf8",
    )
    .option(
      "-g, --group <group>",
      "join this consumer group (kcat -G): balanced partitions, committed offsets",
    )
    .option("-q, --quiet", "no group status lines on stderr")
    .addHelpText(
      "after",
      `
Examples:
  samsa consume orders -o beginning -e
  samsa consume orders payments -o -10 -e -f '%t %p %o %k=%s\\n'
  samsa consume orders -o @-1h -J -c 100
  samsa consume orders -o @2026-11-24T00:00:00Z:@2026-11-25T00:00:00Z -J --encoding base64
  samsa consume orders -o +100:200 -f '%o %s\\n'
  samsa consume orders -g billing -o beginning`,
    )
    .action(async (topics: string[], opts: ConsumeOpts, cmd: Command) => {
      parseEncoding(opts.encoding);
      const range = parseOffset(opts.offset);
      const limit = countOption(opts.count);
      const only = partitionOption(opts.partition);
      if (opts.group !== undefined) {
        await consumeInGroup(topics, opts.group, range, limit, opts, cmd);
        return;
      }
      if (range.start === "stored")
        throw new Error("-o stored needs a group (-g): it starts at the group's commits");
      const [{ Consumer }, { Admin }] = await Promise.all([
        import("../../client/consumer.js"),
        import("../../client/admin.js"),
      ]);
      const consumer = new Consumer({ ...connectionOf(cmd), retry: { retries: 3 } }, { maxWaitMs: 200 });
      const admin = new Admin(consumer.cluster);
      let stopping = false;
      const stop = () => {
        stopping = true;
        void consumer.stop();
      };
      process.once("SIGINT", stop);
      try {
        const stopSpec = range.stop ?? (opts.exit ? "end" : undefined);
        const assignment = await startPositions(
          admin,
          topics,
          only,
          range.start as Exclude<StartSpec, "stored">,
        );
        // Where each partition stops (exclusive), resolved before reading starts.
        const stops = stopSpec ? await stopOffsets(admin, topics, stopSpec, opts.exit === true) : null;
        await consumer.assign(assignment);
        const done = (topic: string, p: number) =>
          (consumer.position(topic, p) ?? 0) >= (stops?.get(key(topic, p)) ?? 0);
        const allDone = () => stops !== null && assignment.every((a) => done(a.topic, a.partition));
        const print = printer(opts, consumer);
        const out = new Output();
        let printed = 0;
        if (allDone()) return;
        for (;;) {
          // With a stop a batch may never come once every partition is at it: look every 200 ms.
          const batch = await consumer.nextBatch(stops ? 200 : Number.POSITIVE_INFINITY);
          if (stopping) break;
          if (!batch) {
            if (stops === null || allDone()) break;
            continue;
          }
          const end = stops?.get(key(batch.topic, batch.partition)) ?? Number.POSITIVE_INFINITY;
          for (const r of batch.records) {
            if (r.offset >= end) break;
            print(r, out);
            if (++printed >= limit) break;
          }
          await out.flush();
          if (printed >= limit || allDone()) break;
        }
      } finally {
        process.removeListener("SIGINT", stop);
        await consumer.close();
      }
    });
}

/** Every partition of `topics` (or only `only`) with where it starts. */
async function startPositions(
  admin: Admin,
  topics: string[],
  only: number | undefined,
  start: Exclude<StartSpec, "stored">,
): Promise<{ topic: string; partition: number; start: StartAt }[]> {
  const out: { topic: string; partition: number; start: StartAt }[] = [];
  for (const topic of topics) {
    const info = await admin.cluster.topic(topic);
    const partitions = only !== undefined ? [only] : info.partitions.map((p) => p.partition);
    if (only !== undefined && !info.partitions.some((p) => p.partition === only))
      throw new Error(`topic ${topic} has no partition ${only}`);
    const earliest =
      typeof start === "object" && "afterStart" in start
        ? new Map((await admin.listOffsets(topic, "earliest")).map((o) => [o.partition, o.offset]))
        : null;
    for (const partition of partitions) {
      const at: StartAt = earliest
        ? (earliest.get(partition) ?? 0) + (start as { afterStart: number }).afterStart
        : (start as StartAt);
      out.push({ topic, partition, start: at });
    }
  }
  return out;
}

/**
 * Each partition's stop offset: its end now, an offset, or the first offset at or after a time;
 * with -e never beyond the end now.
 */
async function stopOffsets(
  admin: Admin,
  topics: string[],
  stop: StopSpec,
  exit: boolean,
): Promise<Map<string, number>> {
  const stops = new Map<string, number>();
  for (const topic of topics) {
    const latest = await admin.listOffsets(topic, "latest");
    const byTime =
      typeof stop === "object" && "timestamp" in stop
        ? new Map(
            (await admin.listOffsets(topic, { timestamp: stop.timestamp })).map((o) => [
              o.partition,
              o.offset,
            ]),
          )
        : null;
    for (const o of latest) {
      let at = o.offset;
      if (typeof stop === "object" && "offset" in stop)
        at = exit ? Math.min(stop.offset, o.offset) : stop.offset;
      // No record at or after the time: everything up to the end is before it.
      else if (byTime) at = (byTime.get(o.partition) ?? -1) < 0 ? o.offset : byTime.get(o.partition)!;
      stops.set(key(topic, o.partition), at);
    }
  }
  return stops;
}

/** A tp list for a status line: `orders-0, orders-1`. */
function describePartitions(partitions: { topic: string; partition: number }[]): string {
  return partitions.length === 0
    ? "no partitions"
    : partitions.map((p) => `${p.topic}-${p.partition}`).join(", ");
}

/** `consume -g`: a group member that prints what it reads and commits what it printed. */
async function consumeInGroup(
  topics: string[],
  groupId: string,
  range: OffsetRange,
  limit: number,
  opts: ConsumeOpts,
  cmd: Command,
): Promise<void> {
  if (opts.partition !== undefined)
    throw new Error("-p cannot be used with -g: the group assigns partitions");
  if (!(range.start === "earliest" || range.start === "latest" || range.start === "stored") || range.stop) {
    throw new Error(
      `-o ${opts.offset}: with -g, -o is beginning or end (where partitions without a commit start), or stored`,
    );
  }
  const [{ Consumer }, { Admin }] = await Promise.all([
    import("../../client/consumer.js"),
    import("../../client/admin.js"),
  ]);
  const consumer = new Consumer(
    { ...connectionOf(cmd), retry: { retries: 3 } },
    {
      groupId,
      maxWaitMs: 200,
      autoCommit: false,
      autoOffsetReset: range.start === "earliest" ? "earliest" : "latest",
    },
  );
  const admin = new Admin(consumer.cluster);
  const status = (line: string) => {
    if (!opts.quiet) process.stderr.write(`samsa: ${line}\n`);
  };
  /** The next offset after the last printed record, per partition, not yet committed. */
  const printed = new Map<string, { topic: string; partition: number; offset: number }>();
  const commitPrinted = async (only?: { topic: string; partition: number }[]) => {
    const keys = only ? only.map((p) => key(p.topic, p.partition)) : [...printed.keys()];
    const offsets = keys.flatMap((k) => {
      const o = printed.get(k);
      return o ? [o] : [];
    });
    if (offsets.length === 0) return;
    await consumer.commit(offsets);
    for (const k of keys) printed.delete(k);
  };
  let stopping = false;
  const stop = () => {
    stopping = true;
    void consumer.stop();
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  const timer = setInterval(() => void commitPrinted().catch(() => {}), GROUP_COMMIT_INTERVAL_MS);
  timer.unref();
  const print = printer(opts, consumer);
  const out = new Output();
  try {
    // A join can take seconds (group.initial.rebalance.delay.ms, other members rejoining): say so.
    status(
      `joining group ${groupId} for ${topics.join(", ")}: waiting for the group to rebalance and assign partitions`,
    );
    consumer.subscribe(topics, {
      onPartitionsAssigned: (partitions) =>
        status(
          `group ${groupId} (generation ${consumer.generationId}) assigned ${describePartitions(partitions)}`,
        ),
      // What was printed from a partition is committed before another member gets it.
      onPartitionsRevoked: async (partitions) => {
        if (partitions.length > 0)
          status(`group ${groupId} is rebalancing: revoked ${describePartitions(partitions)}`);
        await commitPrinted(partitions).catch(() => {});
      },
    });
    let count = 0;
    for (;;) {
      const batch = await consumer.nextBatch(opts.exit ? 200 : 1000);
      if (stopping) break;
      if (!batch) {
        if (opts.exit && (await atEnd(consumer, admin))) break;
        continue;
      }
      let last = -1;
      for (const r of batch.records) {
        print(r, out);
        last = r.offset;
        if (++count >= limit) break;
      }
      await out.flush();
      if (last >= 0) {
        printed.set(key(batch.topic, batch.partition), {
          topic: batch.topic,
          partition: batch.partition,
          offset: last + 1,
        });
      }
      if (count >= limit) break;
    }
  } finally {
    clearInterval(timer);
    process.removeListener("SIGINT", stop);
    process.removeListener("SIGTERM", stop);
    await commitPrinted().catch((err) => {
      process.stderr.write(`samsa: committing offsets failed: ${err instanceof Error ? err.message : err}\n`);
    });
    await consumer.close();
  }
}

/** -e with -g: the member has partitions and has read each to the end it has now. */
async function atEnd(consumer: Consumer, admin: Admin): Promise<boolean> {
  const assigned = consumer.assignment();
  if (assigned.length === 0) return false;
  const ends = new Map<string, number>();
  for (const topic of new Set(assigned.map((tp) => tp.topic)))
    for (const o of await admin.listOffsets(topic, "latest")) ends.set(key(topic, o.partition), o.offset);
  return assigned.every(
    (tp) => (consumer.position(tp.topic, tp.partition) ?? 0) >= (ends.get(key(tp.topic, tp.partition)) ?? 0),
  );
}
