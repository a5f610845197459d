/**
 * `samsa consume <topic>`: like kcat -C. Offsets: beginning, end, <offset>, -<n> (n before the
 * end), @<ms timestamp> or @<ISO date> (rpk style). Formats: kcat's tokens, or -J for JSON lines.
 * With `-g <group>` (kcat -G): a member of a consumer group that reads the partitions the group
 * assigns it from the group's committed offsets (`-o beginning|end` where it has none) and
 * commits what it printed every few seconds, before giving partitions up, and on exit.
 */
import type { Command } from "commander";
import type { ConsumerRecord, StartAt } from "../../client/consumer.js";
import { brokersOf, unescapeArg } from "./common.js";

interface ConsumeOpts {
  offset: string;
  partition?: string;
  exit?: boolean;
  count?: string;
  format?: string;
  json?: boolean;
  group?: string;
}

/** How often a group consumer commits what it printed. */
const GROUP_COMMIT_INTERVAL_MS = 5000;

/** Parses -o into where each partition starts. */
export function parseStart(offset: string): StartAt {
  if (offset === "beginning" || offset === "earliest") return "earliest";
  if (offset === "end" || offset === "latest") return "latest";
  if (offset.startsWith("@")) {
    const text = offset.slice(1);
    const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
    if (!Number.isFinite(ms)) throw new Error(`-o ${offset}: not a timestamp or ISO date`);
    return { timestamp: ms };
  }
  if (/^-?\d+$/.test(offset)) return Number(offset);
  throw new Error(`-o ${offset}: expected beginning, end, <offset>, -<n>, @<ms> or @<ISO date>`);
}

const TOKENS = /%[tpokKsSTh%]/g;

/**
 * Renders one record with kcat's format tokens: %t %p %o %k %K %s %S %T %h and %%. Keys and
 * values are written as their raw bytes, as kcat does.
 */
export function formatRecord(format: string, r: ConsumerRecord): Buffer {
  const parts: Buffer[] = [];
  let last = 0;
  for (const m of format.matchAll(TOKENS)) {
    parts.push(Buffer.from(format.slice(last, m.index)));
    last = m.index + m[0].length;
    switch (m[0]) {
      case "%k":
        if (r.key) parts.push(r.key);
        break;
      case "%s":
        if (r.value) parts.push(r.value);
        break;
      default:
        parts.push(Buffer.from(tokenText(m[0], r)));
    }
  }
  parts.push(Buffer.from(format.slice(last)));
  return Buffer.concat(parts);
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
    case "%h":
      return r.headers.map((h) => `${h.key}=${h.value?.toString() ?? ""}`).join(",");
    default:
      return "%";
  }
}

export function recordJson(r: ConsumerRecord): string {
  return JSON.stringify({
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
    timestamp: r.timestamp,
    key: r.key?.toString() ?? null,
    value: r.value?.toString() ?? null,
    headers: Object.fromEntries(r.headers.map((h) => [h.key, h.value?.toString() ?? null])),
  });
}

export function registerConsumeCommand(program: Command): void {
  program
    .command("consume <topic>")
    .description("consume records to stdout (kcat -C style)")
    .option("-o, --offset <where>", "beginning | end | <offset> | -<n> | @<ms> | @<ISO date>", "end")
    .option("-p, --partition <n>", "only this partition")
    .option("-e, --exit", "exit at the end of the partitions")
    .option("-c, --count <n>", "exit after n records")
    .option("-f, --format <fmt>", "kcat format: %t %p %o %k %K %s %S %T %h, \\n \\t", "%s\\n")
    .option("-J, --json", "one JSON object per record")
    .option(
      "-g, --group <group>",
      "join this consumer group (kcat -G): balanced partitions, committed offsets",
    )
    .addHelpText(
      "after",
      `
Examples:
  samsa consume orders -o beginning -e
  samsa consume orders -p 0 -o -10 -f '%o %k=%s\\n'
  samsa consume orders -o @2026-11-24T00:00:00Z -J -c 100
  samsa consume orders -g billing -o beginning`,
    )
    .action(async (topic: string, opts: ConsumeOpts, cmd: Command) => {
      if (opts.group !== undefined) {
        await consumeInGroup(topic, opts.group, opts, cmd);
        return;
      }
      const [{ Consumer }, { Admin }] = await Promise.all([
        import("../../client/consumer.js"),
        import("../../client/admin.js"),
      ]);
      const brokers = brokersOf(cmd);
      const consumer = new Consumer({ brokers, retry: { retries: 3 } }, { maxWaitMs: 200 });
      const admin = new Admin(consumer.cluster);
      const limit = opts.count !== undefined ? Number(opts.count) : Number.POSITIVE_INFINITY;
      const format = unescapeArg(opts.format ?? "%s\\n");
      const start = parseStart(opts.offset);
      let stopping = false;
      const stop = () => {
        stopping = true;
        void consumer.stop();
      };
      process.once("SIGINT", stop);
      try {
        const info = await consumer.cluster.topic(topic);
        const partitions =
          opts.partition !== undefined ? [Number(opts.partition)] : info.partitions.map((p) => p.partition);
        await consumer.assign(partitions.map((partition) => ({ topic, partition, start })));
        // With -e: the end is each partition's high watermark when we start.
        const ends = new Map<number, number>();
        if (opts.exit)
          for (const o of await admin.listOffsets(topic, "latest")) ends.set(o.partition, o.offset);
        const done = (p: number) => (consumer.position(topic, p) ?? 0) >= (ends.get(p) ?? 0);
        let printed = 0;
        if (opts.exit && partitions.every(done)) return;
        for (;;) {
          // With -e a batch may never come once every partition is at its end: look every 200 ms.
          const batch = await consumer.nextBatch(opts.exit ? 200 : Number.POSITIVE_INFINITY);
          if (stopping) break;
          if (!batch) {
            if (opts.exit && partitions.every(done)) break;
            if (!opts.exit) break;
            continue;
          }
          const out: Buffer[] = [];
          for (const r of batch.records) {
            if (opts.exit && r.offset >= (ends.get(r.partition) ?? 0)) continue;
            out.push(opts.json ? Buffer.from(`${recordJson(r)}\n`) : formatRecord(format, r));
            if (++printed >= limit) break;
          }
          if (out.length > 0) process.stdout.write(Buffer.concat(out));
          if (printed >= limit) break;
          if (opts.exit && partitions.every(done)) break;
        }
      } finally {
        process.removeListener("SIGINT", stop);
        await consumer.close();
      }
    });
}

/** `consume -g`: a group member that prints what it reads and commits what it printed. */
async function consumeInGroup(
  topic: string,
  groupId: string,
  opts: ConsumeOpts,
  cmd: Command,
): Promise<void> {
  if (opts.partition !== undefined)
    throw new Error("-p cannot be used with -g: the group assigns partitions");
  const offset = opts.offset;
  if (!["beginning", "earliest", "end", "latest"].includes(offset)) {
    throw new Error(
      `-o ${offset}: with -g, -o is beginning or end (where partitions without a commit start)`,
    );
  }
  const [{ Consumer }, { Admin }] = await Promise.all([
    import("../../client/consumer.js"),
    import("../../client/admin.js"),
  ]);
  const consumer = new Consumer(
    { brokers: brokersOf(cmd), retry: { retries: 3 } },
    {
      groupId,
      maxWaitMs: 200,
      autoCommit: false,
      autoOffsetReset: offset === "beginning" || offset === "earliest" ? "earliest" : "latest",
    },
  );
  const admin = new Admin(consumer.cluster);
  const limit = opts.count !== undefined ? Number(opts.count) : Number.POSITIVE_INFINITY;
  const format = unescapeArg(opts.format ?? "%s\\n");
  /** The next offset after the last printed record, per partition, not yet committed. */
  const printed = new Map<string, { topic: string; partition: number; offset: number }>();
  const commitPrinted = async (only?: { topic: string; partition: number }[]) => {
    const keys = only ? only.map((p) => `${p.topic}\u0000${p.partition}`) : [...printed.keys()];
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
  try {
    consumer.subscribe([topic], {
      // What was printed from a partition is committed before another member gets it.
      onPartitionsRevoked: (partitions) => commitPrinted(partitions).catch(() => {}),
    });
    let count = 0;
    for (;;) {
      const batch = await consumer.nextBatch(opts.exit ? 200 : 1000);
      if (stopping) break;
      if (!batch) {
        if (opts.exit && (await atEnd(consumer, admin, topic))) break;
        continue;
      }
      const out: Buffer[] = [];
      let last = -1;
      for (const r of batch.records) {
        out.push(opts.json ? Buffer.from(`${recordJson(r)}\n`) : formatRecord(format, r));
        last = r.offset;
        if (++count >= limit) break;
      }
      if (out.length > 0) process.stdout.write(Buffer.concat(out));
      if (last >= 0) {
        printed.set(`${batch.topic}\u0000${batch.partition}`, {
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
async function atEnd(
  consumer: import("../../client/consumer.js").Consumer,
  admin: import("../../client/admin.js").Admin,
  topic: string,
): Promise<boolean> {
  const assigned = consumer.assignment();
  if (assigned.length === 0) return false;
  const latest = await admin.listOffsets(topic, "latest");
  return assigned.every((tp) => {
    const end = latest.find((o) => o.partition === tp.partition)?.offset ?? 0;
    return (consumer.position(tp.topic, tp.partition) ?? 0) >= end;
  });
}
