/**
 * Decompression benchmark (issue 12): what validating compressed batches costs on produce, and
 * the broker's memory and event-loop delay under the decompression attacks.
 *
 *   validate  one 16 KiB-class batch (150 records of ~90-byte JSON values, 8-byte keys) per codec,
 *             checked `--batches` times as a produce checks it: `PartitionLog.validateRecords`
 *             where the tree has it (header checks and the records decompressed and walked),
 *             else `PartitionLog.validate` (header checks only: the tree before this change);
 *             then appended (flush.policy=os) through the same path. Microseconds per batch.
 *   attacks   an in-process broker with its defaults: Partition.append (the produce path) of a
 *             1 MiB-class gzip batch and a 32 KiB-class zstd batch each inflating to 1 GiB, and an
 *             HTTP read (max_bytes 1 MiB and 64 MiB) of twelve zstd batches holding 300 MB of
 *             empty records; for each, the answer, wall time, peak RSS and the longest
 *             event-loop delay (perf_hooks, 10 ms resolution) while it ran.
 *
 *   node dist/bench/decompression.js [--batches N] [--scenarios validate,attacks] [--dir D]
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { Broker } from "../broker/broker.js";
import { loadBrokerConfig } from "../broker/config.js";
import { Compression, compress } from "../protocol/compression.js";
import {
  ATTRIBUTES_OFFSET,
  CRC_OFFSET,
  computeBatchCrc,
  encodeRecordBatch,
  LAST_OFFSET_DELTA_OFFSET,
  LENGTH_OFFSET,
  LOG_OVERHEAD,
  RECORD_COUNT_OFFSET,
  RECORDS_OFFSET,
  type RecordInput,
} from "../protocol/record-batch.js";
import { writeInt64 } from "../protocol/varint.js";
import { DEFAULT_LOG_CONFIG } from "../storage/config.js";
import { PartitionLog } from "../storage/log.js";
import type { ValidAppend } from "../storage/validate.js";
import { optionsOrExit, runMain, scratchDir, table } from "./script.js";

const MiB = 1024 * 1024;
const CODECS: [string, Compression][] = [
  ["none", Compression.None],
  ["gzip", Compression.Gzip],
  ["snappy", Compression.Snappy],
  ["lz4", Compression.Lz4],
  ["zstd", Compression.Zstd],
];

interface Options {
  batches: number;
  scenarios: string[];
  dir: string;
}

function parse(args: string[]): Options | null {
  const { values } = parseArgs({
    args,
    options: {
      batches: { type: "string", default: "2000" },
      scenarios: { type: "string", default: "validate,attacks" },
      dir: { type: "string", default: os.tmpdir() },
      help: { type: "boolean" },
    },
  });
  if (values.help) return null;
  return {
    batches: Number(values.batches),
    scenarios: String(values.scenarios).split(","),
    dir: String(values.dir),
  };
}

const usage = () =>
  "node dist/bench/decompression.js [--batches N] [--scenarios validate,attacks] [--dir D]\n";

function typicalBatch(codec: Compression, now: number): Buffer {
  const records: RecordInput[] = [];
  for (let i = 0; i < 150; i++) {
    records.push({
      key: Buffer.from(`key-${String(i % 1000).padStart(4, "0")}`),
      value: Buffer.from(
        JSON.stringify({ id: i, user: `user-${i * 7919}`, event: "click", page: `/p/${i % 37}` }),
      ),
      timestamp: now + i,
    });
  }
  return encodeRecordBatch(records, { compression: codec, baseTimestamp: now });
}

/** The tree before this change has no validateRecords: the bench runs on both. */
type Validating = PartitionLog & { validateRecords?: (records: Buffer) => Promise<ValidAppend> };

async function validateScenario(o: Options, root: string): Promise<string[][]> {
  const rows: string[][] = [];
  for (const [name, codec] of CODECS) {
    const dir = fs.mkdtempSync(path.join(root, `v-${name}-`));
    const log: Validating = await PartitionLog.open({
      dir,
      config: { ...DEFAULT_LOG_CONFIG, flushPolicy: "os" },
    });
    const batch = typicalBatch(codec, Date.now());
    const check = async (b: Buffer) => (log.validateRecords ? log.validateRecords(b) : log.validate(b));
    for (let i = 0; i < 200; i++) await check(batch); // warm-up
    let t = process.hrtime.bigint();
    for (let i = 0; i < o.batches; i++) await check(batch);
    const validateUs = Number(process.hrtime.bigint() - t) / 1000 / o.batches;
    t = process.hrtime.bigint();
    for (let i = 0; i < o.batches; i++) {
      const copy = Buffer.from(batch);
      await log.append(copy, { validated: await check(copy) });
    }
    const appendUs = Number(process.hrtime.bigint() - t) / 1000 / o.batches;
    await log.close();
    rows.push([name, String(batch.length), validateUs.toFixed(1), appendUs.toFixed(1)]);
  }
  return rows;
}

/** Samples peak RSS and the event loop's longest delay while `run` runs. */
async function observe<T>(
  run: () => Promise<T>,
): Promise<{ value: T; ms: number; rssMb: number; delayMs: number }> {
  const h = monitorEventLoopDelay({ resolution: 10 });
  let rss = process.memoryUsage().rss;
  const timer = setInterval(() => {
    rss = Math.max(rss, process.memoryUsage().rss);
  }, 10);
  h.enable();
  const t = Date.now();
  try {
    const value = await run();
    return {
      value,
      ms: Date.now() - t,
      rssMb: Math.max(rss, process.memoryUsage().rss) / 1e6,
      delayMs: h.max / 1e6,
    };
  } finally {
    clearInterval(timer);
    h.disable();
  }
}

/** A batch whose records section is `section` as given (already compressed), declaring `count`. */
function rawBatch(codec: Compression, compressed: Buffer, count: number): Buffer {
  const header = encodeRecordBatch([{ value: Buffer.from("x") }]).subarray(0, RECORDS_OFFSET);
  const batch = Buffer.concat([header, compressed]);
  batch.writeInt32BE(batch.length - LOG_OVERHEAD, LENGTH_OFFSET);
  batch.writeInt16BE(codec, ATTRIBUTES_OFFSET);
  batch.writeInt32BE(count, RECORD_COUNT_OFFSET);
  batch.writeInt32BE(count - 1, LAST_OFFSET_DELTA_OFFSET);
  batch.writeUInt32BE(computeBatchCrc(batch, 0, batch.length), CRC_OFFSET);
  return batch;
}

/** `count` empty records (null key, empty value) with offset deltas 0..count-1, uncompressed. */
function emptyRecords(count: number): Buffer {
  const out = Buffer.allocUnsafe(count * 9);
  let at = 0;
  const varint = (v: number) => {
    let z = v * 2;
    while (z >= 0x80) {
      out[at++] = (z & 0x7f) | 0x80;
      z = Math.floor(z / 128);
    }
    out[at++] = z;
  };
  for (let i = 0; i < count; i++) {
    const deltaBytes = i * 2 < 0x80 ? 1 : i * 2 < 0x4000 ? 2 : i * 2 < 0x200000 ? 3 : 4;
    varint(5 + deltaBytes); // length: attributes, timestamp delta, offset delta, key, value, headers
    out[at++] = 0;
    out[at++] = 0;
    varint(i);
    out[at++] = 1; // key -1
    out[at++] = 0; // value of 0 bytes
    out[at++] = 0; // no headers
  }
  return out.subarray(0, at);
}

async function attackScenario(root: string): Promise<string[][]> {
  const dataDir = fs.mkdtempSync(path.join(root, "broker-"));
  const broker = await Broker.start(
    loadBrokerConfig({ flags: { "data.dir": dataDir, "kafka.port": 0, "http.port": 0 } }),
  );
  const rows: string[][] = [];
  try {
    await broker.topics.create("bombs", 1, 1, {});
    const partition = broker.topics.partition("bombs", 0);
    if (!partition) throw new Error("no partition bombs-0");
    const GiB = 1024 * MiB;
    const zeros = Buffer.alloc(GiB);
    const bombs: [string, Buffer][] = [
      ["produce gzip 1 GiB", rawBatch(Compression.Gzip, compress(Compression.Gzip, zeros, { level: 9 }), 1)],
      ["produce zstd 1 GiB", rawBatch(Compression.Zstd, compress(Compression.Zstd, zeros, { level: 19 }), 1)],
    ];
    for (const [what, bomb] of bombs) {
      const r = await observe(() =>
        partition.append(bomb).then(
          () => "stored",
          (e: { code?: string }) => e.code ?? String(e),
        ),
      );
      rows.push([
        what,
        `${(bomb.length / 1024).toFixed(0)} KiB`,
        r.value,
        String(r.ms),
        r.rssMb.toFixed(0),
        r.delayMs.toFixed(0),
      ]);
    }
    // Twelve zstd batches of 25 MB of empty records each, stored as a follower would (unchecked).
    const section = emptyRecords(3_000_000);
    const stored = rawBatch(Compression.Zstd, compress(Compression.Zstd, section, { level: 19 }), 3_000_000);
    await broker.topics.create("tiny", 1, 1, {});
    const tiny = broker.topics.partition("tiny", 0);
    if (!tiny) throw new Error("no partition tiny-0");
    const { leaderEpoch, partitionEpoch, isr } = tiny;
    // A follower of an imagined leader for a moment: its appends keep the batches as they are.
    tiny.makeFollower(leaderEpoch, tiny.localId + 1);
    for (let i = 0; i < 12; i++) {
      const b = Buffer.from(stored);
      writeInt64(b, 0, tiny.logEndOffset);
      await tiny.appendAsFollower(b);
    }
    tiny.makeLeader(leaderEpoch, partitionEpoch, isr);
    for (const maxBytes of [MiB, 64 * MiB]) {
      const url = `http://127.0.0.1:${broker.httpPort}/topics/tiny/partitions/0/records?offset=0&max_bytes=${maxBytes}`;
      const r = await observe(async () => {
        const res = await fetch(url);
        const body = await res.text();
        return `${res.status}, ${(body.length / 1e6).toFixed(1)} MB JSON`;
      });
      rows.push([
        `HTTP read max_bytes ${maxBytes / MiB} MiB`,
        `12 x ${(stored.length / 1024).toFixed(0)} KiB (${((12 * section.length) / 1e6).toFixed(0)} MB)`,
        r.value,
        String(r.ms),
        r.rssMb.toFixed(0),
        r.delayMs.toFixed(0),
      ]);
    }
  } finally {
    await broker.stop();
  }
  return rows;
}

async function main(): Promise<number> {
  const o = optionsOrExit(parse, usage);
  if (typeof o === "number") return o;
  const scratch = scratchDir(o.dir, "samsa-bench-decompression-");
  try {
    if (o.scenarios.includes("validate")) {
      const rows = await validateScenario(o, scratch.root);
      process.stdout.write(`validate (${o.batches} batches each)\n`);
      process.stdout.write(
        `${table(["codec", "batch bytes", "check us/batch", "check+append us/batch"], rows)}\n`,
      );
    }
    if (o.scenarios.includes("attacks")) {
      const rows = await attackScenario(scratch.root);
      process.stdout.write("attacks (in-process broker, defaults)\n");
      process.stdout.write(
        `${table(["attack", "sent", "answer", "ms", "peak RSS MB", "max loop delay ms"], rows)}\n`,
      );
    }
    return 0;
  } finally {
    scratch.dispose();
  }
}

runMain(main);
