/**
 * Where the produce path decompresses a client's batch (recompression for compression.type, keys
 * on a compacted log, a header maxTimestamp to recompute), the records may decompress to at most
 * max(DECOMPRESSED_BYTES_MIN, max.message.bytes) bytes (docs/decisions/0014): a compression bomb
 * (a small batch of a huge record of zeros) is refused with MESSAGE_TOO_LARGE and nothing is
 * appended; a batch just under the bound is still stored.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Compression } from "../../protocol/compression.js";
import { KafkaError } from "../../protocol/errors.js";
import {
  CRC_OFFSET,
  computeBatchCrc,
  decodeBatches,
  encodeRecordBatch,
  MAX_TIMESTAMP_OFFSET,
} from "../../protocol/record-batch.js";
import { writeInt64 } from "../../protocol/varint.js";
import { type CleanContext, cleanBatch, emptyStats } from "../../storage/cleaner.js";
import { DEFAULT_LOG_CONFIG, type LogConfig } from "../../storage/config.js";
import { PartitionLog } from "../../storage/log.js";
import type { ScannedBatch } from "../../storage/segment.js";
import { DECOMPRESSED_BYTES_MIN } from "../../storage/validate.js";

const NOW = 1_700_000_000_000;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "samsa-bomb-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** One keyed record of `bytes` zeros in a batch compressed with `codec`: a few KiB on the wire. */
function zeros(codec: Compression, bytes: number, headerMax = true): Buffer {
  const batch = encodeRecordBatch([{ key: Buffer.from("k"), value: Buffer.alloc(bytes), timestamp: NOW }], {
    compression: codec,
    baseTimestamp: NOW,
  });
  if (!headerMax) {
    // As older Go clients write it: the broker must read the records for their max timestamp.
    writeInt64(batch, MAX_TIMESTAMP_OFFSET, -1);
    batch.writeUInt32BE(computeBatchCrc(batch, 0, batch.length), CRC_OFFSET);
  }
  return batch;
}

async function appendTo(
  overrides: Partial<LogConfig>,
  batch: Buffer,
): Promise<{ end: number; err: unknown }> {
  const log = await PartitionLog.open({
    dir,
    config: { ...DEFAULT_LOG_CONFIG, ...overrides },
    now: () => NOW,
  });
  try {
    const err = await log.append(batch).then(
      () => null,
      (e: unknown) => e,
    );
    return { end: log.logEndOffset, err };
  } finally {
    await log.close();
  }
}

const BOMB_BYTES = DECOMPRESSED_BYTES_MIN + 1024 * 1024;

describe.each([
  ["gzip", Compression.Gzip],
  ["zstd", Compression.Zstd],
] as const)("a %s bomb", (_name, codec) => {
  const bomb = zeros(codec, BOMB_BYTES);

  it.each([
    ["recompressed (compression.type=lz4)", { compressionType: "lz4" } as Partial<LogConfig>, bomb],
    ["on a compacted log", { cleanupPolicy: "compact" } as Partial<LogConfig>, bomb],
    ["whose header maxTimestamp is -1", {} as Partial<LogConfig>, zeros(codec, BOMB_BYTES, false)],
  ])("%s is refused with MESSAGE_TOO_LARGE, nothing appended", async (_what, overrides, batch) => {
    expect(batch.length).toBeLessThan(1024 * 1024);
    const { end, err } = await appendTo(overrides, Buffer.from(batch));
    expect(KafkaError.is(err, "MESSAGE_TOO_LARGE"), String(err)).toBe(true);
    expect(end).toBe(0);
  });
});

it("a batch under the bound is still recompressed and stored", async () => {
  const bytes = 8 * 1024 * 1024;
  const { end, err } = await appendTo({ compressionType: "lz4" }, zeros(Compression.Gzip, bytes));
  expect(err).toBeNull();
  expect(end).toBe(1);
  const log = await PartitionLog.open({ dir, config: DEFAULT_LOG_CONFIG, now: () => NOW });
  try {
    const [record] = decodeBatches((await log.read(0, { maxBytes: 1 << 20 })).records);
    expect(record.value?.length).toBe(bytes);
  } finally {
    await log.close();
  }
});

it("a bomb stored as sent is not decompressed by a lookup by timestamp: the batch answers", async () => {
  // Written before produce decompressed every compressed batch (or by a follower, which does not
  // check records): stored as it came, here through the replay path that keeps offsets.
  const batch = encodeRecordBatch(
    [
      { key: Buffer.from("a"), value: Buffer.from("a"), timestamp: NOW - 10 },
      { key: Buffer.from("b"), value: Buffer.alloc(BOMB_BYTES), timestamp: NOW },
    ],
    { compression: Compression.Gzip, baseTimestamp: NOW - 10 },
  );
  const log = await PartitionLog.open({ dir, config: DEFAULT_LOG_CONFIG, now: () => NOW });
  try {
    await log.appendReplayed(batch);
    // Reading the records would find offset 1; the bound leaves the batch's own answer.
    expect(await log.offsetForTimestamp(NOW)).toEqual({ offset: 0, timestamp: NOW });
  } finally {
    await log.close();
  }
});

it("the cleaner keeps a stored bomb as it is instead of decompressing it", async () => {
  // Stored as sent under cleanup.policy=delete, then compacted: the key "b" is superseded.
  const batch = encodeRecordBatch(
    [
      { key: Buffer.from("a"), value: Buffer.from("a"), timestamp: NOW },
      { key: Buffer.from("b"), value: Buffer.alloc(BOMB_BYTES), timestamp: NOW },
    ],
    { compression: Compression.Gzip, baseTimestamp: NOW },
  );
  const scanned: ScannedBatch = {
    buf: batch,
    at: 0,
    position: 0,
    size: batch.length,
    baseOffset: 0,
    lastOffset: 1,
    maxTimestamp: NOW,
    partitionLeaderEpoch: 0,
  };
  const ctx: CleanContext = {
    map: new Map([["b", 10]]),
    nowMs: NOW,
    config: { ...DEFAULT_LOG_CONFIG, cleanupPolicy: "compact" },
    stats: emptyStats(0),
    aborted: () => false,
  };
  const cleaned = await cleanBatch(scanned, ctx);
  expect(cleaned.changed).toBe(false);
  expect(cleaned.bytes?.equals(batch)).toBe(true);
});

it("the cleaner reads a large compressed batch (decompressed off the event loop) and drops its superseded key", async () => {
  const batch = encodeRecordBatch(
    [
      { key: Buffer.from("a"), value: Buffer.alloc(2 * 1024 * 1024, 1), timestamp: NOW },
      { key: Buffer.from("b"), value: Buffer.alloc(2 * 1024 * 1024, 2), timestamp: NOW },
    ],
    { compression: Compression.Zstd, baseTimestamp: NOW },
  );
  const scanned: ScannedBatch = {
    buf: batch,
    at: 0,
    position: 0,
    size: batch.length,
    baseOffset: 0,
    lastOffset: 1,
    maxTimestamp: NOW,
    partitionLeaderEpoch: 0,
  };
  const ctx: CleanContext = {
    map: new Map([["a", 10]]),
    nowMs: NOW,
    config: { ...DEFAULT_LOG_CONFIG, cleanupPolicy: "compact" },
    stats: emptyStats(0),
    aborted: () => false,
  };
  const cleaned = await cleanBatch(scanned, ctx);
  expect(cleaned.changed).toBe(true);
  const kept = decodeBatches(cleaned.bytes as Buffer);
  expect(kept.map((r) => r.key?.toString())).toEqual(["b"]);
  expect(kept[0].value?.equals(Buffer.alloc(2 * 1024 * 1024, 2))).toBe(true);
});
