/**
 * `samsa consume <topic>`: like kcat -C. Offsets: beginning, end, <offset>, -<n> (n before the
 * end), @<ms timestamp> or @<ISO date> (rpk style). Formats: kcat's tokens, or -J for JSON lines.
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
}

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
    .addHelpText(
      "after",
      `
Examples:
  samsa consume orders -o beginning -e
  samsa consume orders -p 0 -o -10 -f '%o %k=%s\\n'
  samsa consume orders -o @2026-11-24T00:00:00Z -J -c 100`,
    )
    .action(async (topic: string, opts: ConsumeOpts, cmd: Command) => {
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
