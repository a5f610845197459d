/**
 * Compressed batches are validated on produce as Kafka's LogValidator validates them: their
 * records must decompress and parse, their count and offset deltas must match the header, and
 * they must fill the decompressed section; nothing of a refused append is stored. Both doors of
 * the log are covered: `validateRecords` (decompression off the event loop, the produce path) and
 * `append` alone (the bounded synchronous check).
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Compression, gzipCompress } from "../../protocol/compression.js";
import { decodeBatches, encodeRecordBatch, MAX_TIMESTAMP_OFFSET } from "../../protocol/record-batch.js";
import { readInt64 } from "../../protocol/varint.js";
import { DEFAULT_LOG_CONFIG } from "../../storage/config.js";
import { PartitionLog } from "../../storage/log.js";
import { batchWithSection, recordsSection } from "../helpers/compressed.js";

const NOW = 1_700_000_000_000;
const CODECS = [
  ["gzip", Compression.Gzip],
  ["snappy", Compression.Snappy],
  ["lz4", Compression.Lz4],
  ["zstd", Compression.Zstd],
] as const;

let dir: string;
let log: PartitionLog;
beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "codec-records-"));
  log = await PartitionLog.open({ dir, config: DEFAULT_LOG_CONFIG, now: () => NOW });
});
afterEach(async () => {
  await log.close();
  rmSync(dir, { recursive: true, force: true });
});

const three = () =>
  recordsSection(
    [
      { key: Buffer.from("a"), value: Buffer.from("1"), timestamp: NOW - 2 },
      { key: Buffer.from("b"), value: Buffer.from("2"), timestamp: NOW },
      { key: Buffer.from("c"), value: Buffer.from("3"), timestamp: NOW - 1 },
    ],
    NOW - 5,
  );

type Door = "validateRecords" | "append";
const doors: Door[] = ["validateRecords", "append"];

/** Appends through one door; resolves with the error (or null) and the log end after it. */
async function appendVia(door: Door, batch: Buffer): Promise<{ err: unknown; end: number }> {
  const run = async () => {
    if (door === "append") return log.append(batch);
    const validated = await log.validateRecords(batch);
    return log.append(batch, { validated });
  };
  const err = await run().then(
    () => null,
    (e: unknown) => e,
  );
  return { err, end: log.logEndOffset };
}

describe.each(doors)("through %s", (door) => {
  it.each(CODECS)(
    "accepts a well-formed %s batch and stores its records' max timestamp",
    async (_n, codec) => {
      const batch = batchWithSection(codec, three(), 3, { timestamp: NOW - 5 });
      const { err, end } = await appendVia(door, batch);
      expect(err).toBeNull();
      expect(end).toBe(3);
      const read = await log.read(0, { maxBytes: 1 << 20 });
      expect(decodeBatches(read.records).map((r) => r.value?.toString())).toEqual(["1", "2", "3"]);
      expect(readInt64(read.records, MAX_TIMESTAMP_OFFSET)).toBe(NOW);
    },
  );

  it("refuses a gzip batch holding plain text, storing nothing", async () => {
    const text = Buffer.from("this is plain text, not a record section at all\n");
    const batch = batchWithSection(Compression.Gzip, text, 1, { timestamp: NOW });
    const { err, end } = await appendVia(door, batch);
    expect(err).toMatchObject({ code: expect.stringMatching(/^(CORRUPT_MESSAGE|INVALID_RECORD)$/) });
    expect(end).toBe(0);
  });

  it.each(CODECS)("refuses %s data that does not decompress (CORRUPT_MESSAGE)", async (_n, codec) => {
    const junk = Buffer.from("definitely not compressed data, just bytes");
    const batch = batchWithSection(codec, Buffer.alloc(0), 1, { timestamp: NOW, compressed: junk });
    const { err, end } = await appendVia(door, batch);
    expect(err).toMatchObject({ code: "CORRUPT_MESSAGE" });
    expect(end).toBe(0);
  });

  it.each(CODECS)(
    "refuses a %s batch declaring 2^31-1 records (INVALID_RECORD), log end unmoved",
    async (_n, codec) => {
      for (let i = 0; i < 5; i++) {
        const batch = batchWithSection(codec, three(), 2 ** 31 - 1, { timestamp: NOW - 5 });
        const { err, end } = await appendVia(door, batch);
        expect(err).toMatchObject({ code: "INVALID_RECORD" });
        expect(end).toBe(0);
      }
      expect(readdirSync(dir).filter((f) => f.endsWith(".log"))).toHaveLength(1);
    },
  );

  it.each(CODECS)("refuses a %s batch declaring fewer records than it holds", async (_n, codec) => {
    const { err, end } = await appendVia(door, batchWithSection(codec, three(), 2, { timestamp: NOW - 5 }));
    expect(err).toMatchObject({ code: "INVALID_RECORD" });
    expect(end).toBe(0);
  });

  it("refuses compressed records whose offset deltas are not 0..n-1", async () => {
    // Two one-record sections back to back: both records carry offset delta 0.
    const one = recordsSection([{ key: Buffer.from("a"), value: Buffer.from("1"), timestamp: NOW }], NOW);
    const section = Buffer.concat([one, one]);
    const { err, end } = await appendVia(
      door,
      batchWithSection(Compression.Zstd, section, 2, { timestamp: NOW }),
    );
    expect(err).toMatchObject({ code: "INVALID_RECORD" });
    expect(end).toBe(0);
  });

  it("refuses a compressed record whose timestamp lies outside the accepted window", async () => {
    const log2 = log;
    await log2.close();
    log = await PartitionLog.open({
      dir,
      config: { ...DEFAULT_LOG_CONFIG, timestampAfterMaxMs: 1000 },
      now: () => NOW,
    });
    const section = recordsSection([{ value: Buffer.from("late"), timestamp: NOW + 60_000 }], NOW);
    const { err, end } = await appendVia(
      door,
      batchWithSection(Compression.Lz4, section, 1, { timestamp: NOW }),
    );
    expect(err).toMatchObject({ code: "INVALID_TIMESTAMP" });
    expect(end).toBe(0);
  });

  it("a refused batch refuses the whole append: an earlier valid batch is not stored", async () => {
    const good = encodeRecordBatch([{ value: Buffer.from("ok"), timestamp: NOW }], {
      compression: Compression.Gzip,
    });
    const bad = batchWithSection(Compression.Gzip, Buffer.alloc(0), 1, {
      timestamp: NOW,
      compressed: gzipCompress(Buffer.from("plain")),
    });
    const { err, end } = await appendVia(door, Buffer.concat([good, bad]));
    expect(err).not.toBeNull();
    expect(end).toBe(0);
  });
});
