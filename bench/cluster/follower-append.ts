/**
 * A follower's append path alone, for instruction counts under callgrind (deterministic on a
 * shared machine, where time is not): `N` batches of 1,000 x 100 B appended to a PartitionLog as
 * `Partition.appendAsFollower` appends them (keepOffsets, allowControl, replayed; validate, then
 * appendOrThrow), flush.policy os. `--root DIR` runs another built tree's storage (an earlier
 * commit: the "before"); the batches are made once by this tree and read from a file, so both
 * trees append the same bytes and neither pays for encoding. Run it with N and with 0 and
 * subtract: what is left is the appends.
 *
 *   valgrind --tool=callgrind --callgrind-out-file=/dev/null \
 *     node dist/bench/cluster/follower-append.js [--root DIR] [--batches N]
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { encodeRecordBatch } from "../../protocol/record-batch.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const RECORDS_PER_BATCH = 1000;
const VALUE_BYTES = 100;
const MAX_BATCHES = 1000;
/** The batches, made once per machine (about 110 KB each). */
const BATCH_FILE = path.join(os.tmpdir(), "samsa-follower-append-batches.bin");

function batches(n: number): Buffer[] {
  if (!fs.existsSync(BATCH_FILE) || fs.statSync(BATCH_FILE).size === 0) {
    const value = Buffer.alloc(VALUE_BYTES, 97);
    const records = Array.from({ length: RECORDS_PER_BATCH }, () => ({ value }));
    const all: Buffer[] = [];
    for (let i = 0; i < MAX_BATCHES; i++) {
      const b = encodeRecordBatch(records, { baseTimestamp: Date.now() });
      b.writeBigInt64BE(BigInt(i * RECORDS_PER_BATCH), 0);
      all.push(b);
    }
    fs.writeFileSync(BATCH_FILE, Buffer.concat(all));
  }
  const file = fs.readFileSync(BATCH_FILE);
  const out: Buffer[] = [];
  for (let at = 0; at < file.length && out.length < n; ) {
    const size = 12 + file.readInt32BE(at + 8);
    out.push(file.subarray(at, at + size));
    at += size;
  }
  return out;
}

interface FollowerLog {
  validate(records: Buffer, options: object): unknown;
  appendOrThrow(records: Buffer, options: object): Promise<unknown>;
  readonly logEndOffset: number;
  close(): Promise<void>;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { root: { type: "string", default: ROOT }, batches: { type: "string", default: "200" } },
  });
  const n = Number(values.batches);
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_BATCHES) throw new Error(`--batches 0..${MAX_BATCHES}`);
  const load = (rel: string) => import(pathToFileURL(path.join(path.resolve(values.root), "dist", rel)).href);
  const { PartitionLog } = await load("storage/log.js");
  const { DEFAULT_LOG_CONFIG } = await load("storage/config.js");
  const input = batches(n);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "samsa-follower-append-"));
  try {
    const config = { ...DEFAULT_LOG_CONFIG, flushPolicy: "os" };
    const log: FollowerLog = await PartitionLog.open({ dir, config });
    const options = { keepOffsets: true, allowControl: true, replayed: true };
    for (const b of input) await log.appendOrThrow(b, { ...options, validated: log.validate(b, options) });
    if (log.logEndOffset !== n * RECORDS_PER_BATCH) throw new Error(`log end ${log.logEndOffset}`);
    await log.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(`appended ${n} batches of ${RECORDS_PER_BATCH} records\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
