/**
 * The broker's one way to decompress a batch's records: bounded in output, bounded in memory across
 * the whole process, and off the event loop for anything but small batches (docs/decisions/0020).
 *
 * - Small: a batch whose records provably decompress to at most SYNC_DECOMPRESS_BYTES_MAX (from
 *   the framing of snappy, lz4 and zstd; for gzip, a first try that stops there) is decompressed
 *   synchronously: a millisecond at worst, and cheaper than a hop to another thread.
 * - Larger: gzip runs through node:zlib's asynchronous gunzip (libuv's pool, one output chunk per
 *   job, stopped at the bound); snappy, lz4 and zstd through a small pool of worker threads running
 *   protocol/compression.ts's synchronous codecs after their framing bound was checked here.
 * - Memory: every larger decompression first reserves the most it may produce (the framing bound;
 *   for gzip, which declares nothing reliable, the whole bound) from one process-wide budget,
 *   `decompression.memory.max.bytes`, and returns it once its caller is done with the output. A
 *   decompression that can never fit the budget is MESSAGE_TOO_LARGE; others wait in a bounded
 *   queue (beyond it THROTTLING_QUOTA_EXCEEDED, retriable), so N attackers hold at most the budget.
 */

import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { gunzip, gzip } from "node:zlib";
import { Compression, compress, decompress, decompressedBound } from "../protocol/compression.js";
import { KafkaError } from "../protocol/errors.js";
import { DECOMPRESSION_MEMORY_BYTES_DEFAULT } from "./defaults.js";

/** Largest output decompressed on the event loop itself (about a millisecond of work). */
export const SYNC_DECOMPRESS_BYTES_MAX = 1024 * 1024;
/** Decompressions waiting for budget before more are refused. */
const WAITERS_MAX = 1024;
/** Output chunk of the asynchronous gunzip: one libuv job each. */
const GZIP_CHUNK_BYTES = 64 * 1024;

/** Decompressed records, and the budget to give back once they are no longer needed. */
export interface Decompressed {
  body: Buffer;
  /** Returns the bytes reserved for `body`; idempotent. */
  release(): void;
}

interface Waiter {
  bytes: number;
  resolve: () => void;
}

/** A byte budget with a FIFO queue of bounded length. */
export class MemoryBudget {
  private used = 0;
  private readonly waiters: Waiter[] = [];

  constructor(readonly bytesMax: number) {}

  get inUse(): number {
    return this.used;
  }

  /** Reservations queued for memory. */
  get waiting(): number {
    return this.waiters.length;
  }

  /** Resolves once `bytes` are reserved; refuses what can never fit, or a full queue. */
  acquire(bytes: number): Promise<void> {
    if (bytes > this.bytesMax) {
      throw new KafkaError(
        "MESSAGE_TOO_LARGE",
        `records may decompress to ${bytes} bytes, more than decompression.memory.max.bytes (${this.bytesMax})`,
      );
    }
    if (this.waiters.length === 0 && this.used + bytes <= this.bytesMax) {
      this.used += bytes;
      return Promise.resolve();
    }
    if (this.waiters.length >= WAITERS_MAX) {
      throw new KafkaError("THROTTLING_QUOTA_EXCEEDED", "too many decompressions waiting for memory");
    }
    return new Promise((resolve) => this.waiters.push({ bytes, resolve }));
  }

  release(bytes: number): void {
    this.used -= bytes;
    while (this.waiters.length > 0 && this.used + this.waiters[0].bytes <= this.bytesMax) {
      const w = this.waiters.shift() as Waiter;
      this.used += w.bytes;
      w.resolve();
    }
  }
}

// ---- worker pool ----------------------------------------------------------------------------

/**
 * The worker's code, run with `eval` so that it needs no file of its own beside the compiled or
 * the TypeScript sources. It loads the three native codecs from the paths the main thread resolved.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const snappy = require(workerData.snappy);
const lz4 = require(workerData.lz4);
const XERIAL = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
// Both snappy framings, as protocol/compression.ts's snappyDecompress reads them.
const snappyAll = (data) => {
  if (data.length === 0) return Buffer.alloc(0);
  if (data.length < 8 || !data.subarray(0, 8).equals(XERIAL)) return snappy.uncompressSync(data, { asBuffer: true });
  if (data.length < 16) throw new Error("xerial header is truncated");
  const blocks = [];
  for (let pos = 16; pos < data.length; ) {
    if (data.length - pos < 4) throw new Error("truncated block length at byte " + pos);
    const length = data.readInt32BE(pos);
    pos += 4;
    if (length < 0 || length > data.length - pos) throw new Error("block of " + length + " bytes overruns the data");
    blocks.push(snappy.uncompressSync(data.subarray(pos, pos + length), { asBuffer: true }));
    pos += length;
  }
  return Buffer.concat(blocks);
};
// Xerial framing with 32 KiB blocks, as protocol/compression.ts's snappyCompress writes it.
const snappyFramed = (data) => {
  const header = Buffer.alloc(16);
  XERIAL.copy(header, 0);
  header.writeInt32BE(1, 8);
  header.writeInt32BE(1, 12);
  const parts = [header];
  for (let pos = 0; pos < data.length; pos += 32768) {
    const block = snappy.compressSync(data.subarray(pos, Math.min(pos + 32768, data.length)));
    const length = Buffer.allocUnsafe(4);
    length.writeInt32BE(block.length, 0);
    parts.push(length, block);
  }
  return Buffer.concat(parts);
};
import(workerData.zstd).then((zstd) => {
  const run = (codec, data) => {
    if (codec === 2) return snappyAll(data);
    if (codec === 3) return lz4.decompressFrameSync(data);
    return zstd.decompress(data);
  };
  const pack = (codec, data, level) => {
    if (codec === 2) return snappyFramed(data);
    if (codec === 3) return lz4.compressFrameSync(data, { contentChecksum: false, blockChecksums: false });
    return zstd.compress(data, level);
  };
  parentPort.on("message", ({ id, op, codec, data, level }) => {
    let out;
    try {
      const input = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      out = op === "compress" ? pack(codec, input, level) : run(codec, input);
    } catch (err) {
      parentPort.postMessage({ id, error: String(err && err.message ? err.message : err) });
      return;
    }
    const copy = new Uint8Array(out.byteLength);
    copy.set(out);
    parentPort.postMessage({ id, out: copy }, [copy.buffer]);
  });
  parentPort.postMessage({ ready: true });
});
`;

interface Job {
  op: string;
  resolve: (out: Buffer) => void;
  reject: (err: Error) => void;
}

/** Worker threads running the native codecs, jobs spread round robin. */
class WorkerPool {
  private workers: Worker[] = [];
  private readonly jobs = new Map<number, Job>();
  private nextId = 1;
  private turn = 0;

  constructor(private readonly size: number) {}

  /** Decompresses (`op` "decompress") or compresses `data` with `codec` on a worker. */
  run(codec: Compression, data: Uint8Array, op = "decompress", level?: number): Promise<Buffer> {
    const worker = this.pick();
    const id = this.nextId++;
    return new Promise<Buffer>((resolve, reject) => {
      this.jobs.set(id, { resolve, reject, op });
      worker.postMessage({ id, op, codec, data, level });
    });
  }

  /** Stops the workers; jobs in progress are refused. */
  close(): void {
    for (const w of this.workers) void w.terminate();
    this.workers = [];
    for (const job of this.jobs.values())
      job.reject(new KafkaError("UNKNOWN_SERVER_ERROR", "decompression stopped"));
    this.jobs.clear();
  }

  private pick(): Worker {
    if (this.workers.length < this.size) this.workers.push(this.spawn());
    this.turn = (this.turn + 1) % this.workers.length;
    return this.workers[this.turn];
  }

  private spawn(): Worker {
    const req = createRequire(import.meta.url);
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        snappy: req.resolve("snappy"),
        lz4: req.resolve("lz4-napi"),
        zstd: pathToFileURL(req.resolve("@cloudpss/zstd")).href,
      },
    });
    worker.unref();
    worker.on("message", (m: { id?: number; out?: Uint8Array; error?: string }) => {
      if (m.id === undefined) return;
      const job = this.jobs.get(m.id);
      if (!job) return;
      this.jobs.delete(m.id);
      if (m.error !== undefined)
        job.reject(
          job.op === "compress"
            ? new KafkaError("UNKNOWN_SERVER_ERROR", `records do not compress: ${m.error}`)
            : new KafkaError("CORRUPT_MESSAGE", `records do not decompress: ${m.error}`),
        );
      else {
        const out = m.out as Uint8Array;
        job.resolve(Buffer.from(out.buffer, out.byteOffset, out.byteLength));
      }
    });
    worker.on("error", () => this.drop(worker));
    worker.on("exit", () => this.drop(worker));
    return worker;
  }

  /** A worker that died: its jobs are refused, and a new one takes its place on next use. */
  private drop(worker: Worker): void {
    const i = this.workers.indexOf(worker);
    if (i < 0) return;
    this.workers.splice(i, 1);
    // Jobs are not tracked per worker: with one dead worker, refuse all in flight (rare; retriable).
    for (const job of this.jobs.values())
      job.reject(new KafkaError("UNKNOWN_SERVER_ERROR", "decompression worker exited"));
    this.jobs.clear();
  }
}

// ---- the decompressor -----------------------------------------------------------------------

export interface DecompressorOptions {
  /** decompression.memory.max.bytes */
  memoryBytesMax?: number;
  /** Worker threads for snappy, lz4 and zstd. */
  threads?: number;
}

/** Bounded, budgeted, mostly off-loop decompression (see the file's header). */
export class Decompressor {
  readonly budget: MemoryBudget;
  /**
   * Test hook: when set, a decompression off the event loop waits for it after reserving its
   * memory (a compression off the event loop, before it starts), so a test can hold one in
   * progress and show the broker still answers others.
   */
  hold: Promise<void> | null = null;
  /** Decompressions waiting for `hold` now: a test waits for them to be held. */
  held = 0;
  /** Every wait for `hold` so far: a test holding several steps in turn counts them. */
  heldTotal = 0;
  private readonly pool: WorkerPool;

  constructor(options: DecompressorOptions = {}) {
    this.budget = new MemoryBudget(options.memoryBytesMax ?? DECOMPRESSION_MEMORY_BYTES_DEFAULT);
    this.pool = new WorkerPool(options.threads ?? Math.min(2, availableParallelism()));
  }

  /**
   * `data` decompressed with `codec`, at most `maxBytes` (else MESSAGE_TOO_LARGE); malformed data
   * is CORRUPT_MESSAGE. The caller calls `release()` once it no longer holds the body.
   */
  async decompress(codec: Compression, data: Uint8Array, maxBytes: number): Promise<Decompressed> {
    const small = this.trySync(codec, data, maxBytes);
    if (small) return { body: small, release: noop };
    // gzip declares nothing reliable of its size: it may use all of the bound (at most the budget).
    const need =
      codec === Compression.Gzip
        ? Math.min(maxBytes, this.budget.bytesMax)
        : Math.min(maxBytes, decompressedBound(codec, data));
    await this.budget.acquire(need);
    let released = false;
    const release = () => {
      if (!released) this.budget.release(need);
      released = true;
    };
    try {
      if (this.hold) await this.waitForHold(this.hold);
      const body =
        codec === Compression.Gzip ? await gunzipAsync(data, need) : await this.pool.run(codec, data);
      if (body.length > need)
        throw new KafkaError("MESSAGE_TOO_LARGE", `records decompress beyond ${need} bytes`);
      return { body, release };
    } catch (err) {
      release();
      throw err;
    }
  }

  /**
   * `data` (a record section) compressed with `codec` at `level` (gzip and zstd): on the event
   * loop up to SYNC_DECOMPRESS_BYTES_MAX of input, else gzip through node:zlib's asynchronous
   * gzip and the others on the worker threads. The output is the caller's; no budget is held.
   */
  async compress(codec: Compression, data: Buffer, level?: number): Promise<Buffer> {
    if (codec === Compression.None || data.length <= SYNC_DECOMPRESS_BYTES_MAX)
      return compress(codec, data, { level });
    if (this.hold) await this.waitForHold(this.hold);
    if (codec === Compression.Gzip) return gzipAsync(data, level);
    return this.pool.run(codec, data, "compress", level);
  }

  private async waitForHold(hold: Promise<void>): Promise<void> {
    this.held++;
    this.heldTotal++;
    try {
      await hold;
    } finally {
      this.held--;
    }
  }

  /** Stops the worker threads. */
  close(): void {
    this.pool.close();
  }

  /** The body when it is small enough to decompress on the event loop, else null. */
  private trySync(codec: Compression, data: Uint8Array, maxBytes: number): Buffer | null {
    const limit = Math.min(maxBytes, SYNC_DECOMPRESS_BYTES_MAX);
    if (codec === Compression.None) return decompress(codec, data);
    if (codec === Compression.Gzip) {
      try {
        return decompress(codec, data, limit);
      } catch (err) {
        if ((err as KafkaError).code === "MESSAGE_TOO_LARGE" && limit < maxBytes) return null;
        throw err;
      }
    }
    const bound = decompressedBound(codec, data);
    if (bound > maxBytes) {
      throw new KafkaError(
        "MESSAGE_TOO_LARGE",
        `records may decompress to ${bound} bytes, more than ${maxBytes}`,
      );
    }
    return bound <= limit ? decompress(codec, data, bound) : null;
  }
}

function noop(): void {}

function gunzipAsync(data: Uint8Array, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    gunzip(data, { maxOutputLength: Math.max(1, maxBytes), chunkSize: GZIP_CHUNK_BYTES }, (err, out) => {
      if (!err) return resolve(out);
      if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE")
        return reject(
          new KafkaError("MESSAGE_TOO_LARGE", `gzip data decompresses to more than ${maxBytes} bytes`),
        );
      reject(new KafkaError("CORRUPT_MESSAGE", `gzip data does not decompress: ${err.message}`));
    });
  });
}

function gzipAsync(data: Uint8Array, level?: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    gzip(data, level === undefined ? {} : { level }, (err, out) => {
      if (err) reject(new KafkaError("UNKNOWN_SERVER_ERROR", `records do not compress: ${err.message}`));
      else resolve(out);
    });
  });
}

let shared: Decompressor | null = null;

/** The process-wide decompressor (created on first use with the defaults). */
export function decompressor(): Decompressor {
  shared ??= new Decompressor();
  return shared;
}

/**
 * The process-wide decompressor with these options (broker start: `decompression.memory.max.bytes`):
 * the current one when its budget is the same, else a new one (the old one's work is refused).
 */
export function configureDecompressor(options: DecompressorOptions): Decompressor {
  const bytesMax = options.memoryBytesMax ?? DECOMPRESSION_MEMORY_BYTES_DEFAULT;
  if (shared && shared.budget.bytesMax === bytesMax && options.threads === undefined) return shared;
  shared?.close();
  shared = new Decompressor(options);
  return shared;
}
