/**
 * `samsa produce <topic>`: records from stdin (one per line, or -D delimited) or one per file.
 * Stdin is read as a stream and sent in sendBatch() calls of BATCH_RECORDS, at most
 * MAX_PENDING_CALLS of them unacknowledged (reading waits beyond that), so a large input costs
 * bounded memory and no promise per record. The report counts only records the broker
 * acknowledged (with acks=0: whose request was written to the socket).
 */
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import type { ProducerRecord } from "../../client/producer.js";
import { collect, connectionOf, type Encoding, pairs, parseEncoding, unescapeArg } from "./common.js";

interface ProduceOpts {
  delimiter: string;
  keyDelimiter?: string;
  key?: string;
  header: string[];
  partition?: string;
  acks: string;
  compression: string;
  lingerMs: string;
  encoding: string;
  progress?: boolean;
}

/** Records per sendBatch() call. */
const BATCH_RECORDS = 2048;
/** sendBatch() calls not yet acknowledged before reading stdin waits. */
const MAX_PENDING_CALLS = 8;
/**
 * The producer's batchSize for the CLI: a line is small, and 16 KiB batches (the library's default,
 * for latency) made the CLI spend time per batch; 256 KiB batches still leave each partition's
 * request within maxRequestBytes (1 MiB) and cut that cost (bench/RESULTS.md, CLI against kcat).
 */
const CLI_BATCH_BYTES = 256 * 1024;
/** How often progress is printed on stderr (when it is a terminal, or with --progress). */
const PROGRESS_INTERVAL_MS = 1000;

/** Splits a stream into records at `delimiter`; a trailing empty record is dropped. */
export class RecordSplitter {
  private rest: Buffer | null = null;

  constructor(private readonly delimiter: Buffer) {}

  /** The complete records of `chunk` (and of what an earlier chunk left). */
  push(chunk: Buffer, out: Buffer[]): void {
    const input = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    const d = this.delimiter;
    let start = 0;
    if (d.length === 1) {
      // A byte scan in JS: for short lines, a native indexOf call per line costs more.
      const byte = d[0];
      for (let i = 0; i < input.length; i++) {
        if (input[i] !== byte) continue;
        out.push(input.subarray(start, i));
        start = i + 1;
      }
    } else {
      for (let i = input.indexOf(d, start); i >= 0; i = input.indexOf(d, start)) {
        out.push(input.subarray(start, i));
        start = i + d.length;
      }
    }
    this.rest = start < input.length ? input.subarray(start) : null;
  }

  /** What is left after the last delimiter (a record without one), if anything. */
  end(out: Buffer[]): void {
    if (this.rest && this.rest.length > 0) out.push(this.rest);
    this.rest = null;
  }
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;
const HEX = /^(?:[0-9a-fA-F]{2})*$/;

/** Decodes a key or value given in `encoding`; a malformed one is an error naming the record. */
export function decodeField(raw: Buffer, encoding: Encoding, what: string): Buffer {
  if (encoding === "utf8") return raw;
  const text = raw.toString("latin1").trim();
  if (!(encoding === "hex" ? HEX : BASE64).test(text))
    throw new Error(`${what} is not ${encoding}: ${JSON.stringify(text.slice(0, 40))}`);
  return Buffer.from(text, encoding === "hex" ? "hex" : "base64");
}

/** Makes record `n` (from 1) of the input from its line, stamped with `timestamp` (ms). */
type MakeRecord = (line: Buffer, n: number, timestamp: number) => ProducerRecord;

/**
 * Turns a line into a record: -K splits key from value, --encoding decodes both. The record is in
 * the encoder's form (Buffers, a headers array, the timestamp of its reading), so sendBatch()
 * encodes it as it is instead of copying it.
 */
function recordMaker(topic: string, opts: ProduceOpts): MakeRecord {
  const encoding = parseEncoding(opts.encoding);
  const fixedKey = opts.key !== undefined ? Buffer.from(opts.key) : null;
  const keyDelim = opts.keyDelimiter !== undefined ? Buffer.from(unescapeArg(opts.keyDelimiter)) : null;
  const headerPairs = pairs(opts.header, "--header");
  const headers: ProducerRecord["headers"] =
    opts.header.length > 0
      ? Object.entries(headerPairs).map(([key, value]) => ({ key, value: Buffer.from(value) }))
      : undefined;
  const partition = opts.partition !== undefined ? parsePartition(opts.partition) : undefined;
  return (line, n, timestamp) => {
    let key: Buffer | null = fixedKey;
    let value = line;
    if (keyDelim) {
      const at = line.indexOf(keyDelim);
      if (at >= 0) {
        key = decodeField(line.subarray(0, at), encoding, `record ${n} key`);
        value = line.subarray(at + keyDelim.length);
      }
    }
    return {
      topic,
      key,
      value: encoding === "utf8" ? value : decodeField(value, encoding, `record ${n} value`),
      headers,
      partition,
      timestamp,
    };
  };
}

function parsePartition(text: string): number {
  if (!/^\d+$/.test(text)) throw new Error(`-p ${text}: expected a partition number`);
  return Number(text);
}

/** sendBatch() calls in flight, the records they carry, and what has been acknowledged. */
class Sender {
  produced = 0;
  bytes = 0;
  failure: unknown = null;
  private readonly pending: Promise<void>[] = [];

  constructor(private readonly producer: import("../../client/producer.js").Producer) {}

  /** Sends a call of records with `bytes` of values; waits while MAX_PENDING_CALLS are unacknowledged. */
  async send(records: ProducerRecord[], bytes: number): Promise<void> {
    // The callback keeps the count, not the records: they are free once encoded.
    const n = records.length;
    const call = this.producer.sendBatch(records).then(
      () => {
        this.produced += n;
        this.bytes += bytes;
      },
      (err: unknown) => {
        this.failure ??= err;
      },
    );
    this.pending.push(call);
    if (this.pending.length >= MAX_PENDING_CALLS) await this.pending.shift();
    if (this.failure) throw this.failure;
  }

  async finish(): Promise<void> {
    await Promise.all(this.pending.splice(0));
    if (this.failure) throw this.failure;
  }
}

export function registerProduceCommand(program: Command): void {
  program
    .command("produce <topic> [files...]")
    .description("produce records from stdin (one per line) or one record per file")
    .option("-D, --delimiter <delim>", "record delimiter on stdin", "\\n")
    .option("-K, --key-delimiter <delim>", "split each record into key<delim>value")
    .option("-k, --key <key>", "key for every record")
    .option("-H, --header <name=value>", "header for every record (repeatable)", collect, [])
    .option("-p, --partition <n>", "partition (default: by key, sticky for null keys)")
    .option("--acks <acks>", "0, 1 or -1 (all)", "-1")
    .option("-z, --compression <codec>", "none, gzip, snappy, lz4 or zstd", "none")
    .option("--linger-ms <ms>", "batching delay", "5")
    .option("--encoding <enc>", "keys and values on stdin are utf8 (as is), base64 or hex", "utf8")
    .option(
      "--progress",
      "records produced so far on stderr every second (default when stderr is a terminal)",
    )
    .option("--no-progress", "no progress lines")
    .addHelpText(
      "after",
      `
Examples:
  echo hello | samsa produce greetings
  seq 1 1000000 | samsa produce numbers --acks 1
  printf 'k1:v1\\nk2:v2\\n' | samsa produce orders -K : -H source=cli -z zstd
  printf 'AAEC/w==\\n' | samsa produce blobs --encoding base64
  samsa produce images photo1.jpg photo2.jpg`,
    )
    .action(async (topic: string, files: string[], opts: ProduceOpts, cmd: Command) => {
      const acks = Number(opts.acks === "all" ? -1 : opts.acks);
      if (acks !== 0 && acks !== 1 && acks !== -1)
        throw new Error(`--acks ${opts.acks}: expected 0, 1 or -1`);
      const lingerMs = Number(opts.lingerMs);
      if (!Number.isInteger(lingerMs) || lingerMs < 0)
        throw new Error(`--linger-ms ${opts.lingerMs}: expected an integer >= 0`);
      const makeRecord = recordMaker(topic, opts);
      const { Producer } = await import("../../client/producer.js");
      const producer = new Producer(
        { ...connectionOf(cmd), retry: { retries: 3 } },
        {
          acks,
          compression: opts.compression as "none",
          lingerMs,
          idempotent: acks === -1,
          batchSize: CLI_BATCH_BYTES,
        },
      );
      const sender = new Sender(producer);
      const started = Date.now();
      const showProgress = opts.progress ?? process.stderr.isTTY === true;
      const timer = showProgress
        ? setInterval(() => {
            const seconds = (Date.now() - started) / 1000;
            process.stderr.write(
              `samsa: produced ${sender.produced} records in ${seconds.toFixed(0)} s (${Math.round(sender.produced / seconds)}/s)\n`,
            );
          }, PROGRESS_INTERVAL_MS)
        : null;
      try {
        if (files.length > 0) {
          const key = opts.key !== undefined ? Buffer.from(opts.key) : null;
          const now = Date.now();
          const records = files.map((f) => ({
            ...makeRecord(Buffer.alloc(0), 0, now),
            key,
            value: readFileSync(f),
          }));
          await sender.send(
            records,
            records.reduce((sum, r) => sum + r.value.length, 0),
          );
        } else {
          await produceStdin(sender, makeRecord, Buffer.from(unescapeArg(opts.delimiter)));
        }
        await producer.flush();
        await sender.finish();
      } catch (err) {
        await producer.close().catch(() => {});
        // One line: the error, and how many records were acknowledged before it.
        const message = err instanceof Error ? err.message : String(err);
        throw new Error(`${message} (${sender.produced} records produced to ${topic} before it)`, {
          cause: err,
        });
      } finally {
        if (timer) clearInterval(timer);
      }
      await producer.close();
      const seconds = (Date.now() - started) / 1000;
      process.stderr.write(
        `produced ${sender.produced} records (${sender.bytes} bytes) to ${topic} in ${seconds.toFixed(2)} s\n`,
      );
    });
}

/**
 * Reads stdin as it comes, in sendBatch() calls of at most BATCH_RECORDS records: each chunk read
 * is sent once split, so records never wait for more input.
 */
async function produceStdin(sender: Sender, makeRecord: MakeRecord, delimiter: Buffer): Promise<void> {
  const splitter = new RecordSplitter(delimiter);
  let lines: Buffer[] = [];
  let n = 0;
  let batch: ProducerRecord[] = [];
  let bytes = 0;
  const take = async () => {
    const now = Date.now();
    for (const line of lines) {
      const record = makeRecord(line, ++n, now);
      batch.push(record);
      bytes += (record.value as Buffer).length;
      if (batch.length >= BATCH_RECORDS) await sendPartial();
    }
    lines = [];
  };
  const sendPartial = async () => {
    if (batch.length === 0) return;
    const part = batch;
    const partBytes = bytes;
    batch = [];
    bytes = 0;
    await sender.send(part, partBytes);
  };
  for await (const chunk of process.stdin) {
    splitter.push(chunk as Buffer, lines);
    await take();
    // What a chunk completed goes out now: lines typed or trickling in are not held back.
    await sendPartial();
  }
  splitter.end(lines);
  await take();
  await sendPartial();
}
