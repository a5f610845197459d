/**
 * Storage benchmark: the partition log alone (no network), against `dd` on the same disk in the
 * same run.
 *
 *   append-always  16 KiB RecordBatch v2 batches, 64 appends in flight, flush.policy=always
 *   append-os      the same under flush.policy=os; the timed span ends after a final flush(), so
 *                  it leaves the data as durable as dd's conv=fdatasync does
 *   read           sequential reads of maxBytes 1 MiB from the log start to its end (page cache)
 *   recovery       reopen after an unclean shutdown (cleanShutdown=false, recoveryPoint=0): every
 *                  segment is re-validated batch by batch
 *   dd             dd if=/dev/zero bs=1M conv=fdatasync of the same size, the baseline
 *
 * MB is 10^6 bytes throughout, as dd prints it. Every scenario runs under DEFAULT_LOG_CONFIG
 * (segment.bytes 1 GiB) except for flush.policy.
 *
 *   node dist/bench/storage.js [--json] [--size-mb N] [--dir D] [--scenarios a,b]
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import {
  encodeRecordBatch,
  LAST_OFFSET_DELTA_OFFSET,
  LENGTH_OFFSET,
  LOG_OVERHEAD,
  type RecordInput,
} from "../protocol/record-batch.js";
import { readInt64 } from "../protocol/varint.js";
import { DEFAULT_LOG_CONFIG, type FlushPolicy, type LogConfig } from "../storage/config.js";
import { PartitionLog } from "../storage/log.js";
import { INDEX_SUFFIX, TIME_INDEX_SUFFIX } from "../storage/segment.js";
import { optionsOrExit, runMain, scratchDir } from "./script.js";

const SCENARIOS = ["dd", "append-always", "append-os", "read", "recovery"] as const;
type Scenario = (typeof SCENARIOS)[number];

const MIB = 1024 * 1024;
/** Bytes of every appended batch, header included. */
const BATCH_BYTES = 16 * 1024;
const RECORDS_PER_BATCH = 150;
const KEY_BYTES = 8;
const IN_FLIGHT = 64;
const READ_MAX_BYTES = MIB;
/** No scenario may take longer than this; a stuck fdatasync fails the run instead of hanging it. */
const SCENARIO_TIMEOUT_MS = 15 * 60_000;
const PROGRESS_INTERVAL_MS = 1000;

interface Options {
  json: boolean;
  sizeMb: number;
  baseDir: string;
  scenarios: Scenario[];
}

interface Result {
  scenario: Scenario;
  mb_per_sec: number;
  seconds: number;
  bytes: number;
  /** For the append scenarios: mb_per_sec as a percentage of dd's in the same run. */
  pct_of_dd?: number | null;
  target: string;
  /** null when the target cannot be judged (no dd in this run). */
  target_met: boolean | null;
  flush_policy?: FlushPolicy;
  batch_bytes?: number;
  records_per_batch?: number;
  in_flight?: number;
  /** append-os: throughput up to the last acknowledgement, before the final flush. */
  acked_mb_per_sec?: number;
  reads?: number;
  max_bytes?: number;
  segments?: number;
  segments_recovered?: number;
  bytes_truncated?: number;
  segment_bytes?: number;
  /** The machine's 1-minute load average when the scenario ended: other work skews the numbers. */
  load_1m?: number;
}

function usage(): string {
  return [
    "usage: node dist/bench/storage.js [--json] [--size-mb N] [--dir DIR] [--scenarios a,b]",
    "  --json         one JSON object per scenario on stdout (progress and table omitted)",
    "  --size-mb N    MiB appended, read and recovered, and written by dd (default 1024)",
    `  --dir DIR      where a temporary data directory is made (default ${os.tmpdir()})`,
    `  --scenarios    comma-separated subset of ${SCENARIOS.join(",")} (default all)`,
  ].join("\n");
}

function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: "boolean", default: false },
      "size-mb": { type: "string", default: "1024" },
      dir: { type: "string", default: os.tmpdir() },
      scenarios: { type: "string", default: SCENARIOS.join(",") },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) return null;
  const sizeMb = Number(values["size-mb"]);
  if (!Number.isSafeInteger(sizeMb) || sizeMb < 1) throw new Error("--size-mb must be a positive integer");
  const wanted = new Set<string>();
  for (const name of values.scenarios.split(",")) {
    const trimmed = name.trim();
    if (trimmed === "") continue;
    if (!(SCENARIOS as readonly string[]).includes(trimmed)) {
      throw new Error(`unknown scenario ${trimmed}; expected some of ${SCENARIOS.join(",")}`);
    }
    wanted.add(trimmed);
  }
  if (wanted.size === 0) throw new Error("--scenarios names no scenario");
  return {
    json: values.json,
    sizeMb,
    baseDir: path.resolve(values.dir),
    // Always the canonical order: dd first, so append scenarios can be compared with it.
    scenarios: SCENARIOS.filter((s) => wanted.has(s)),
  };
}

// -----------------------------------------------------------------------------------------------
// Output

let quiet = false;

function progress(line: string): void {
  if (!quiet) process.stderr.write(`${line}\n`);
}

function mbPerSec(bytes: number, seconds: number): number {
  return seconds > 0 ? bytes / 1e6 / seconds : 0;
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** Prints "<label> n/total MiB, x MB/s" on stderr every second until the returned stop(). */
function startProgress(label: string, totalBytes: number, doneBytes: () => number): () => void {
  const start = performance.now();
  const timer = setInterval(() => {
    const seconds = (performance.now() - start) / 1000;
    const done = doneBytes();
    progress(
      `  ${label}: ${Math.floor(done / MIB)}/${Math.floor(totalBytes / MIB)} MiB, ${mbPerSec(done, seconds).toFixed(0)} MB/s`,
    );
  }, PROGRESS_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}

function printTable(results: Result[]): void {
  const header = ["scenario", "MB/s", "seconds", "% of dd", "load", "target", "met"];
  const rows = results.map((r) => [
    r.scenario,
    r.mb_per_sec.toFixed(1),
    r.seconds.toFixed(3),
    r.pct_of_dd === undefined ? "" : r.pct_of_dd === null ? "n/a" : `${r.pct_of_dd.toFixed(1)}%`,
    r.load_1m === undefined ? "" : r.load_1m.toFixed(2),
    r.target,
    r.target_met === null ? "n/a" : r.target_met ? "yes" : "NO",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 || i >= 5 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  process.stdout.write(`${line(header)}\n${line(widths.map((w) => "-".repeat(w)))}\n`);
  for (const row of rows) process.stdout.write(`${line(row).trimEnd()}\n`);
}

// -----------------------------------------------------------------------------------------------
// Batches

/** Deterministic filler, so every run appends the same bytes. */
function pseudoRandomBytes(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/**
 * A RecordBatch v2 of RECORDS_PER_BATCH records (8-byte keys, ~90-byte values) that is exactly
 * BATCH_BYTES long: the last record's value absorbs the difference.
 */
function buildBatch(): Buffer {
  const baseTimestamp = Date.now();
  const perRecord = Math.floor((BATCH_BYTES - 61) / RECORDS_PER_BATCH);
  const valueBytes = perRecord - 18; // a record's framing: lengths, deltas, key, header count
  let lastExtra = 0;
  for (let attempt = 0; attempt < 8; attempt++) {
    const records: RecordInput[] = [];
    for (let i = 0; i < RECORDS_PER_BATCH; i++) {
      const extra = i === RECORDS_PER_BATCH - 1 ? lastExtra : 0;
      records.push({
        key: pseudoRandomBytes(KEY_BYTES, 7 + i),
        value: pseudoRandomBytes(valueBytes + extra, 1000 + i),
        timestamp: baseTimestamp + i,
      });
    }
    const batch = encodeRecordBatch(records, { baseTimestamp });
    if (batch.length === BATCH_BYTES) return batch;
    lastExtra += BATCH_BYTES - batch.length;
    if (valueBytes + lastExtra < 0) break;
  }
  throw new Error(`could not build a batch of exactly ${BATCH_BYTES} bytes`);
}

/** The offset after the last whole batch of `records` (batches back to back). */
function nextOffsetAfter(records: Buffer): number {
  let last = -1;
  let pos = 0;
  // Each step advances by at least LOG_OVERHEAD bytes, so this ends within records.length steps.
  while (pos + LOG_OVERHEAD <= records.length) {
    const size = LOG_OVERHEAD + records.readInt32BE(pos + LENGTH_OFFSET);
    if (size <= LOG_OVERHEAD || pos + size > records.length) throw new Error(`malformed batch at ${pos}`);
    last = pos;
    pos += size;
  }
  if (last < 0) throw new Error("read returned no whole batch");
  return readInt64(records, last) + records.readInt32BE(last + LAST_OFFSET_DELTA_OFFSET) + 1;
}

function logConfig(flushPolicy: FlushPolicy): LogConfig {
  return { ...DEFAULT_LOG_CONFIG, flushPolicy };
}

// -----------------------------------------------------------------------------------------------
// Scenarios

interface Context {
  options: Options;
  root: string;
  totalBatches: number;
  /** One private copy of the batch per append in flight; an append patches its baseOffset. */
  pool: Buffer[];
  /** A closed log of totalBatches batches, once an append scenario (or the set-up) wrote one. */
  dataset: string | null;
  ddMbPerSec: number | null;
}

function targetFor(scenario: Scenario): string {
  switch (scenario) {
    case "dd":
      return "baseline";
    case "append-always":
      return ">= 60% of dd";
    case "append-os":
      return ">= 90% of dd";
    case "read":
      return ">= 1000 MB/s";
    case "recovery":
      return "< 2 s per GiB";
  }
}

async function runDd(ctx: Context): Promise<Result> {
  const file = path.join(ctx.root, "dd.tmp");
  const args = ["if=/dev/zero", `of=${file}`, "bs=1M", `count=${ctx.options.sizeMb}`, "conv=fdatasync"];
  progress(`  dd ${args.join(" ")}`);
  const stderr = await new Promise<string>((resolve, reject) => {
    const child = spawn("dd", args, {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, LC_ALL: "C" },
      timeout: SCENARIO_TIMEOUT_MS,
    });
    let text = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => {
      text += chunk;
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (code === 0) resolve(text);
      else reject(new Error(`dd exited with ${code ?? signal}: ${text.trim()}`));
    });
  });
  // "1073741824 bytes (1.1 GB, 1.0 GiB) copied, 0.593506 s, 1.8 GB/s"
  const m = /(\d+) bytes .*copied, ([\d.]+) s/.exec(stderr);
  if (!m) throw new Error(`cannot parse dd's output: ${stderr.trim()}`);
  const bytes = Number(m[1]);
  const seconds = Number(m[2]);
  const rate = mbPerSec(bytes, seconds);
  ctx.ddMbPerSec = rate;
  // The file stays until the end of the run: deleting a GiB (ext4 with discard) would disturb the
  // scenario that follows.
  return {
    scenario: "dd",
    mb_per_sec: round(rate, 1),
    seconds: round(seconds, 3),
    bytes,
    target: targetFor("dd"),
    target_met: null,
  };
}

/** Appends ctx.totalBatches batches with IN_FLIGHT appends outstanding; closes the log after. */
async function appendAll(
  ctx: Context,
  dir: string,
  policy: FlushPolicy,
  label: string | null,
): Promise<{ seconds: number; ackedSeconds: number; bytes: number }> {
  const log = await PartitionLog.open({ dir, config: logConfig(policy) });
  const total = ctx.totalBatches;
  const bytes = total * BATCH_BYTES;
  let issued = 0;
  let acked = 0;
  const stop = label ? startProgress(label, bytes, () => acked * BATCH_BYTES) : () => {};
  try {
    const start = performance.now();
    // Each worker owns one buffer: it reuses it only after the log acknowledged the previous
    // append of it, by which time the writer is done with its bytes.
    const worker = async (buf: Buffer): Promise<void> => {
      while (issued < total) {
        issued++;
        await log.append(buf);
        acked++;
      }
    };
    await Promise.all(ctx.pool.map(worker));
    const ackedAt = performance.now();
    if (policy !== "always") await log.flush();
    const end = performance.now();
    const expectedEnd = total * RECORDS_PER_BATCH;
    if (log.logEndOffset !== expectedEnd) {
      throw new Error(`log end offset ${log.logEndOffset}, expected ${expectedEnd}`);
    }
    return { seconds: (end - start) / 1000, ackedSeconds: (ackedAt - start) / 1000, bytes };
  } finally {
    stop();
    await log.close();
  }
}

async function runAppend(ctx: Context, scenario: "append-always" | "append-os"): Promise<Result> {
  const policy: FlushPolicy = scenario === "append-always" ? "always" : "os";
  const dir = path.join(ctx.root, `${scenario}-0`);
  const { seconds, ackedSeconds, bytes } = await appendAll(ctx, dir, policy, scenario);
  ctx.dataset = dir;
  const rate = mbPerSec(bytes, seconds);
  const pct = ctx.ddMbPerSec === null ? null : (100 * rate) / ctx.ddMbPerSec;
  const needed = policy === "always" ? 60 : 90;
  const result: Result = {
    scenario,
    mb_per_sec: round(rate, 1),
    seconds: round(seconds, 3),
    bytes,
    pct_of_dd: pct === null ? null : round(pct, 1),
    target: targetFor(scenario),
    target_met: pct === null ? null : pct >= needed,
    flush_policy: policy,
    batch_bytes: BATCH_BYTES,
    records_per_batch: RECORDS_PER_BATCH,
    in_flight: IN_FLIGHT,
    segment_bytes: DEFAULT_LOG_CONFIG.segmentBytes,
  };
  if (policy !== "always") result.acked_mb_per_sec = round(mbPerSec(bytes, ackedSeconds), 1);
  return result;
}

/** The closed log that read and recovery use: the last append scenario's, or a new one. */
async function dataset(ctx: Context): Promise<string> {
  if (ctx.dataset !== null) return ctx.dataset;
  const dir = path.join(ctx.root, "dataset-0");
  progress(`  writing a ${ctx.options.sizeMb} MiB log for read and recovery (not timed)`);
  await appendAll(ctx, dir, "os", "set-up");
  ctx.dataset = dir;
  return dir;
}

async function runRead(ctx: Context): Promise<Result> {
  const dir = await dataset(ctx);
  const log = await PartitionLog.open({ dir, config: logConfig("os"), cleanShutdown: true });
  const end = log.logEndOffset;
  const maxReads = ctx.totalBatches + 16; // every read returns at least one batch
  let offset = log.logStartOffset;
  let bytes = 0;
  let reads = 0;
  const stop = startProgress("read", log.sizeBytes(), () => bytes);
  try {
    const start = performance.now();
    while (offset < end && reads < maxReads) {
      const { records } = await log.read(offset, { maxBytes: READ_MAX_BYTES });
      reads++;
      if (records.length === 0) throw new Error(`empty read at offset ${offset} of ${end}`);
      bytes += records.length;
      offset = nextOffsetAfter(records);
    }
    const seconds = (performance.now() - start) / 1000;
    if (offset !== end) throw new Error(`read stopped at offset ${offset}, log end ${end}`);
    const rate = mbPerSec(bytes, seconds);
    return {
      scenario: "read",
      mb_per_sec: round(rate, 1),
      seconds: round(seconds, 3),
      bytes,
      target: targetFor("read"),
      target_met: rate >= 1000,
      reads,
      max_bytes: READ_MAX_BYTES,
      segments: log.segmentCount(),
      segment_bytes: DEFAULT_LOG_CONFIG.segmentBytes,
    };
  } finally {
    stop();
    await log.close();
  }
}

async function runRecovery(ctx: Context): Promise<Result> {
  const dir = await dataset(ctx);
  // A crash leaves no index files for the active segment; remove them all, as recovery from
  // recoveryPoint 0 rebuilds every segment's indexes anyway.
  for (const name of await fs.promises.readdir(dir)) {
    if (name.endsWith(INDEX_SUFFIX) || name.endsWith(TIME_INDEX_SUFFIX)) {
      await fs.promises.unlink(path.join(dir, name));
    }
  }
  progress(`  recovery: reopening ${dir} with cleanShutdown=false, recoveryPoint=0`);
  const start = performance.now();
  const log = await PartitionLog.open({
    dir,
    config: logConfig("os"),
    cleanShutdown: false,
    recoveryPoint: 0,
  });
  const seconds = (performance.now() - start) / 1000;
  try {
    const bytes = log.sizeBytes();
    const expectedEnd = ctx.totalBatches * RECORDS_PER_BATCH;
    if (log.logEndOffset !== expectedEnd || log.recovery.bytesTruncated !== 0) {
      throw new Error(
        `recovery ended at offset ${log.logEndOffset} (expected ${expectedEnd}), ` +
          `${log.recovery.bytesTruncated} bytes truncated`,
      );
    }
    const gib = bytes / (1024 * MIB);
    return {
      scenario: "recovery",
      mb_per_sec: round(mbPerSec(bytes, seconds), 1),
      seconds: round(seconds, 3),
      bytes,
      target: targetFor("recovery"),
      target_met: seconds < 2 * gib,
      segments: log.segmentCount(),
      segments_recovered: log.recovery.segmentsRecovered,
      bytes_truncated: log.recovery.bytesTruncated,
      segment_bytes: DEFAULT_LOG_CONFIG.segmentBytes,
    };
  } finally {
    await log.close();
  }
}

function runScenario(ctx: Context, scenario: Scenario): Promise<Result> {
  switch (scenario) {
    case "dd":
      return runDd(ctx);
    case "append-always":
    case "append-os":
      return runAppend(ctx, scenario);
    case "read":
      return runRead(ctx);
    case "recovery":
      return runRecovery(ctx);
  }
}

class TimeoutError extends Error {}

async function withTimeout<T>(what: string, ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what} took longer than ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// -----------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const options = optionsOrExit(parseOptions, usage);
  if (typeof options === "number") return options;
  quiet = options.json;
  const scratch = scratchDir(options.baseDir, "samsa-bench-");
  const root = scratch.root;

  const batch = buildBatch();
  const totalBatches = Math.ceil((options.sizeMb * MIB) / BATCH_BYTES);
  const ctx: Context = {
    options,
    root,
    totalBatches,
    pool: Array.from({ length: IN_FLIGHT }, () => Buffer.from(batch)),
    dataset: null,
    ddMbPerSec: null,
  };
  progress(
    `samsa storage benchmark: ${options.sizeMb} MiB per scenario, ${BATCH_BYTES}-byte batches of ` +
      `${RECORDS_PER_BATCH} records, ${IN_FLIGHT} appends in flight, segment.bytes ` +
      `${DEFAULT_LOG_CONFIG.segmentBytes}, data in ${root}`,
  );
  progress(`  ${os.cpus().length} CPUs, node ${process.version}, load average ${os.loadavg()[0].toFixed(2)}`);

  const results: Result[] = [];
  let failed = false;
  try {
    for (const scenario of options.scenarios) {
      progress(`${scenario} ...`);
      try {
        const result = await withTimeout(scenario, SCENARIO_TIMEOUT_MS, runScenario(ctx, scenario));
        result.load_1m = round(os.loadavg()[0], 2);
        results.push(result);
        if (options.json) process.stdout.write(`${JSON.stringify(result)}\n`);
        else progress(`${scenario}: ${result.mb_per_sec.toFixed(1)} MB/s in ${result.seconds.toFixed(3)} s`);
      } catch (err) {
        failed = true;
        process.stderr.write(`${scenario} failed: ${err instanceof Error ? err.stack : String(err)}\n`);
        if (options.json) {
          const message = err instanceof Error ? err.message : String(err);
          process.stdout.write(`${JSON.stringify({ scenario, error: message })}\n`);
        }
        // The timed-out work may still be running: nothing later would measure cleanly.
        if (err instanceof TimeoutError) break;
      }
    }
  } finally {
    scratch.dispose();
  }
  if (!options.json) {
    process.stdout.write("\n");
    printTable(results);
  }
  return failed ? 1 : 0;
}

runMain(main);
