/**
 * Shared by the crash and fault tests: random batches, the batches as the log stored them, and a
 * check that a log holds exactly an expected list of batches, byte for byte.
 */
import { expect } from "vitest";
import { KafkaError } from "../../protocol/errors.js";
import {
  batchSpans,
  Compression,
  decodeRecords,
  encodeRecordBatch,
  LAST_OFFSET_DELTA_OFFSET,
  type RecordInput,
} from "../../protocol/record-batch.js";
import { readInt64 } from "../../protocol/varint.js";
import type { PartitionLog, TimestampOffset } from "../../storage/log.js";
import type { Random } from "./random.js";

/** A batch as the log holds it: the exact bytes (offset and epoch patched), and its records. */
export interface StoredBatch {
  bytes: Buffer;
  base: number;
  last: number;
  records: TimestampOffset[];
}

/** A clock for record timestamps: mostly rising, with jitter so timestamps are not monotonic. */
export interface TimestampClock {
  now: number;
}

export function newClock(): TimestampClock {
  return { now: 1_700_000_000_000 };
}

/** One batch of 1-8 records with random keys, values, headers and timestamps; 1 in 6 gzip'ed. */
export function randomBatch(rng: Random, clock: TimestampClock): Buffer {
  const count = rng.int(1, 8);
  const records: RecordInput[] = [];
  for (let i = 0; i < count; i++) {
    clock.now += rng.int(0, 25);
    records.push({
      key: rng.chance(0.3) ? null : Buffer.from(rng.text(rng.int(0, 12))),
      value: rng.chance(0.05) ? null : Buffer.from(rng.text(rng.int(0, 160))),
      headers: rng.chance(0.2) ? [{ key: rng.text(4), value: Buffer.from(rng.text(rng.int(0, 8))) }] : [],
      timestamp: clock.now + rng.int(-20, 20),
    });
  }
  return encodeRecordBatch(records, { compression: rng.chance(1 / 6) ? Compression.Gzip : Compression.None });
}

/** An append buffer: usually one batch, sometimes two or three back to back. */
export function randomAppend(rng: Random, clock: TimestampClock): Buffer {
  const n = rng.chance(0.2) ? rng.int(2, 3) : 1;
  if (n === 1) return randomBatch(rng, clock);
  return Buffer.concat(Array.from({ length: n }, () => randomBatch(rng, clock)));
}

/** Splits whole batches (as appended, after the log patched their offsets) into StoredBatches. */
export function storedBatches(buf: Buffer): StoredBatch[] {
  const out: StoredBatch[] = [];
  for (const [start, end] of batchSpans(buf)) {
    const bytes = Buffer.from(buf.subarray(start, end));
    const base = readInt64(bytes, 0);
    out.push({
      bytes,
      base,
      last: base + bytes.readInt32BE(LAST_OFFSET_DELTA_OFFSET),
      records: decodeRecords(bytes).map((r) => ({ offset: r.offset, timestamp: r.timestamp })),
    });
  }
  return out;
}

/** The offset after the last batch of `batches`, or `empty` when there is none. */
export function endOf(batches: readonly StoredBatch[], empty = 0): number {
  return batches.length === 0 ? empty : batches[batches.length - 1].last + 1;
}

/** Reads every batch from `from` to the log end with random maxBytes; the batches' bytes. */
export async function readAll(log: PartitionLog, from: number, rng: Random): Promise<Buffer[]> {
  const out: Buffer[] = [];
  let offset = from;
  const end = log.logEndOffset;
  while (offset < end) {
    const { records } = await log.read(offset, { maxBytes: rng.int(1, 24 * 1024) });
    if (records.length === 0) throw new Error(`read at ${offset} below the log end ${end} returned nothing`);
    for (const [start, stop] of batchSpans(records)) {
      const bytes = records.subarray(start, stop);
      const last = readInt64(bytes, 0) + bytes.readInt32BE(LAST_OFFSET_DELTA_OFFSET);
      if (last < offset) throw new Error(`read at ${offset} returned a batch ending at ${last}`);
      out.push(Buffer.from(bytes));
      offset = last + 1;
    }
  }
  return out;
}

/** The first record at or after `timestamp`, as ListOffsets must answer it. */
export function modelOffsetForTimestamp(
  batches: readonly StoredBatch[],
  timestamp: number,
  logStart = 0,
): TimestampOffset | null {
  for (const b of batches) {
    for (const r of b.records) if (r.offset >= logStart && r.timestamp >= timestamp) return r;
  }
  return null;
}

export interface HoldsOptions {
  /** The expected log start offset (default: the first expected batch's base, else 0). */
  logStart?: number;
  /** The expected log end offset (default: after the last expected batch). */
  logEnd?: number;
  /** Random single-offset reads to make (default 16). */
  pointReads?: number;
  /** Timestamp lookups to check (default 8). */
  timestampLookups?: number;
}

/**
 * Checks that `log` holds exactly `expected`: the log end offset, a sequential read of the whole
 * log returning each batch byte-identical and nothing else, reads at random offsets, reads at
 * and past the end, and timestamp lookups against the model.
 */
export async function expectLogHolds(
  log: PartitionLog,
  expected: readonly StoredBatch[],
  rng: Random,
  options: HoldsOptions = {},
): Promise<void> {
  const logStart = options.logStart ?? (expected.length > 0 ? expected[0].base : 0);
  const logEnd = options.logEnd ?? endOf(expected, logStart);
  expect(log.logEndOffset, "log end offset").toBe(logEnd);
  expect(log.logStartOffset, "log start offset").toBe(logStart);

  const got = await readAll(log, logStart, rng);
  const n = Math.min(got.length, expected.length);
  for (let i = 0; i < n; i++) {
    if (!got[i].equals(expected[i].bytes)) {
      expect.fail(`batch ${i} (offsets ${expected[i].base}..${expected[i].last}) is not the one appended`);
    }
  }
  expect(got.length, "batches read").toBe(expected.length);

  const pointReads = expected.length === 0 ? 0 : (options.pointReads ?? 16);
  for (let i = 0; i < pointReads; i++) {
    const offset = rng.int(logStart, logEnd - 1);
    const want = expected.find((b) => b.last >= offset);
    const { records } = await log.read(offset, { maxBytes: rng.int(1, 4096) });
    const first = [...batchSpans(records)][0];
    expect(first, `read at ${offset}`).toBeDefined();
    if (!want || !records.subarray(first[0], first[1]).equals(want.bytes)) {
      expect.fail(`read at ${offset} did not return batch ${want?.base}..${want?.last}`);
    }
  }
  expect((await log.read(logEnd, { maxBytes: 4096 })).records.length, "read at the log end").toBe(0);
  await expect(log.read(logEnd + 1, { maxBytes: 4096 })).rejects.toSatisfy((e) =>
    KafkaError.is(e, "OFFSET_OUT_OF_RANGE"),
  );

  const stamps = expected.flatMap((b) => b.records.map((r) => r.timestamp));
  const lookups = options.timestampLookups ?? 8;
  for (let i = 0; i < lookups; i++) {
    let t: number;
    if (stamps.length === 0 || i === 0) t = 0;
    else if (i === 1) t = Math.max(...stamps) + 1;
    else t = rng.pick(stamps) + rng.int(-1, 1);
    const got = await log.offsetForTimestamp(t);
    expect(got, `offsetForTimestamp(${t})`).toEqual(modelOffsetForTimestamp(expected, t, logStart));
  }
}
