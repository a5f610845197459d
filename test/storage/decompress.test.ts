/**
 * storage/decompress.ts alone: the worker-thread and async-gzip paths give the same bytes as the
 * synchronous codecs, the output bound and the memory budget hold (reserved while held, returned
 * on release, waiters served in order, more than the budget refused at once), and malformed data
 * in a worker is CORRUPT_MESSAGE.
 */
import { afterEach, expect, it } from "vitest";
import { Compression, compress } from "../../protocol/compression.js";
import { Decompressor, MemoryBudget, SYNC_DECOMPRESS_BYTES_MAX } from "../../storage/decompress.js";
import { within } from "../helpers/wait.js";

const MiB = 1024 * 1024;
let d: Decompressor | null = null;
afterEach(() => {
  d?.close();
  d = null;
});

/** 3 MiB of compressible, non-trivial bytes: above what is decompressed on the event loop. */
function payload(): Buffer {
  const b = Buffer.alloc(3 * MiB);
  for (let i = 0; i < b.length; i++) b[i] = (i * 31 + (i >> 12)) % 251 < 200 ? 97 + (i % 7) : i & 0xff;
  return b;
}

it.each([
  ["gzip", Compression.Gzip],
  ["snappy", Compression.Snappy],
  ["lz4", Compression.Lz4],
  ["zstd", Compression.Zstd],
] as const)(
  "%s above the synchronous limit decompresses off the loop to the same bytes",
  async (_n, codec) => {
    d = new Decompressor({ memoryBytesMax: 16 * MiB });
    const data = payload();
    expect(data.length).toBeGreaterThan(SYNC_DECOMPRESS_BYTES_MAX);
    const out = await within(d.decompress(codec, compress(codec, data), 8 * MiB), "the decompression");
    expect(out.body.equals(data)).toBe(true);
    expect(d.budget.inUse).toBeGreaterThan(0);
    out.release();
    out.release();
    expect(d.budget.inUse).toBe(0);
  },
);

it("refuses output beyond the bound or the budget with MESSAGE_TOO_LARGE", async () => {
  d = new Decompressor({ memoryBytesMax: 2 * MiB });
  const data = compress(Compression.Zstd, payload());
  await expect(d.decompress(Compression.Zstd, data, 64 * MiB)).rejects.toMatchObject({
    code: "MESSAGE_TOO_LARGE",
  });
  await expect(
    d.decompress(Compression.Gzip, compress(Compression.Gzip, payload()), 64 * MiB),
  ).rejects.toMatchObject({
    code: "MESSAGE_TOO_LARGE",
  });
  expect(d.budget.inUse).toBe(0);
});

it("malformed data in a worker is CORRUPT_MESSAGE, and the pool still works after", async () => {
  d = new Decompressor({ memoryBytesMax: 16 * MiB });
  const good = compress(Compression.Lz4, payload());
  const bad = Buffer.from(good);
  bad.fill(0x55, 64, 4096);
  await expect(d.decompress(Compression.Lz4, bad, 8 * MiB)).rejects.toMatchObject({
    code: "CORRUPT_MESSAGE",
  });
  expect(d.budget.inUse).toBe(0);
  const out = await d.decompress(Compression.Lz4, good, 8 * MiB);
  expect(out.body.length).toBe(3 * MiB);
  out.release();
});

it("the budget serves waiters in order once memory is returned, and refuses what can never fit", async () => {
  const budget = new MemoryBudget(10);
  await budget.acquire(6);
  const order: number[] = [];
  const a = budget.acquire(5).then(() => order.push(1));
  const b = budget.acquire(1).then(() => order.push(2));
  expect(() => budget.acquire(11)).toThrow(expect.objectContaining({ code: "MESSAGE_TOO_LARGE" }));
  await Promise.resolve();
  expect(order).toEqual([]);
  budget.release(6);
  await Promise.all([a, b]);
  expect(order).toEqual([1, 2]);
  expect(budget.inUse).toBe(6);
});
