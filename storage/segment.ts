/**
 * One segment of a partition log: `<base>.log` holding whole record batches back to back, with a
 * sparse offset index (`.index`) and time index (`.timeindex`) kept in memory and written to disk
 * when the segment is sealed (rolled) or the log is closed cleanly.
 *
 * A segment does no validation of appended bytes and no scheduling: the log validates batches,
 * serialises writes and decides when to roll. `size` counts only bytes the log has committed
 * (written, and flushed where the policy says so); readers never look past it.
 */
import * as path from "node:path";
import { KafkaError } from "../protocol/errors.js";
import {
  BATCH_HEADER_SIZE,
  CRC_OFFSET,
  computeBatchCrc,
  LAST_OFFSET_DELTA_OFFSET,
  LENGTH_OFFSET,
  LOG_OVERHEAD,
  MAGIC_OFFSET,
  MAX_TIMESTAMP_OFFSET,
} from "../protocol/record-batch.js";
import { readInt64 } from "../protocol/varint.js";
import type { LogConfig } from "./config.js";
import type { StorageFs } from "./fs.js";
import { writeFileAtomic } from "./fs.js";
import { OFFSET_INDEX_ENTRY_SIZE, OffsetIndex } from "./offset-index.js";
import { TimeIndex } from "./time-index.js";

export const LOG_SUFFIX = ".log";
export const INDEX_SUFFIX = ".index";
export const TIME_INDEX_SUFFIX = ".timeindex";
/** Output of a compaction pass that has not been swapped in yet; discarded by recovery. */
export const CLEANED_SUFFIX = ".cleaned";
/** A finished replacement segment; recovery completes the swap. */
export const SWAP_SUFFIX = ".swap";
/** A segment removed from the log, awaiting deletion once readers are done. */
export const DELETED_SUFFIX = ".deleted";

/** Relative offsets are stored in 32 bits; Kafka keeps them below 2^31 as well. */
export const MAX_RELATIVE_OFFSET = 0x7fff_ffff;
/** Index positions are u32; Kafka bounds segment.bytes by an int32 too. */
export const MAX_SEGMENT_POSITION = 0x7fff_ffff;
/** Bytes read per call while scanning a segment sequentially (recovery, searches). */
export const SCAN_CHUNK_BYTES = 8 * 1024 * 1024;
/** Smallest read when looking for a batch, so a tiny maxBytes still finds it in one call. */
const MIN_READ_BYTES = 64 * 1024;

export function segmentFileName(baseOffset: number, suffix: string): string {
  return `${String(baseOffset).padStart(20, "0")}${suffix}`;
}

/** Parses `<20 digits><suffix...>`; null for files that are not segment files. */
export function parseSegmentFileName(name: string): { baseOffset: number; suffix: string } | null {
  const m = /^(\d{20})(\.[a-z.]+)$/.exec(name);
  if (!m) return null;
  const baseOffset = Number(m[1]);
  return Number.isSafeInteger(baseOffset) ? { baseOffset, suffix: m[2] } : null;
}

/** What a batch scan hands to its visitor: the bytes and where the batch lies. */
export interface ScannedBatch {
  buf: Buffer;
  at: number;
  position: number;
  size: number;
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
  partitionLeaderEpoch: number;
}

export type ScanEnd = "end" | "torn" | "corrupt" | "stopped";

/**
 * Walks the batches of `fd` from `from` to `to`, reading SCAN_CHUNK_BYTES at a time. Stops at the
 * end, at a batch that extends past `to` ("torn"), at a malformed one ("corrupt": a length below a
 * header, or with `verify`, a wrong magic or CRC), or when `visit` returns false ("stopped").
 * Returns the position of the first batch not visited.
 */
export async function scanBatches(
  sfs: Pick<StorageFs, "read">,
  fd: number,
  from: number,
  to: number,
  verify: boolean,
  visit: (batch: ScannedBatch) => boolean | undefined,
): Promise<{ position: number; end: ScanEnd }> {
  let position = from;
  while (position < to) {
    const length = Math.min(SCAN_CHUNK_BYTES, to - position);
    const buf = Buffer.allocUnsafe(length);
    const n = await sfs.read(fd, buf, 0, length, position);
    let at = 0;
    let progressed = false;
    while (at + LOG_OVERHEAD <= n) {
      const size = LOG_OVERHEAD + buf.readInt32BE(at + LENGTH_OFFSET);
      if (size < BATCH_HEADER_SIZE) return { position: position + at, end: "corrupt" };
      if (position + at + size > to) return { position: position + at, end: "torn" };
      if (at + size > n) {
        if (at === 0) {
          // One batch larger than the chunk: read it whole.
          const big = Buffer.allocUnsafe(size);
          if ((await sfs.read(fd, big, 0, size, position)) < size) return { position, end: "torn" };
          const r = visitOne(big, 0, position, size, verify, visit);
          if (r) return { position, end: r };
          position += size;
          progressed = true;
        }
        break;
      }
      const r = visitOne(buf, at, position + at, size, verify, visit);
      if (r) return { position: position + at, end: r };
      at += size;
      progressed = true;
    }
    if (!progressed) return { position, end: n < length ? "torn" : "corrupt" };
    position += at;
  }
  return { position, end: "end" };
}

function visitOne(
  buf: Buffer,
  at: number,
  position: number,
  size: number,
  verify: boolean,
  visit: (batch: ScannedBatch) => boolean | undefined,
): ScanEnd | null {
  if (verify) {
    if (buf.readInt8(at + MAGIC_OFFSET) !== 2) return "corrupt";
    if (computeBatchCrc(buf, at, size) !== buf.readUInt32BE(at + CRC_OFFSET)) return "corrupt";
    if (buf.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET) < 0) return "corrupt";
  }
  let baseOffset: number;
  let maxTimestamp: number;
  try {
    baseOffset = readInt64(buf, at);
    maxTimestamp = readInt64(buf, at + MAX_TIMESTAMP_OFFSET);
  } catch {
    return "corrupt";
  }
  const batch: ScannedBatch = {
    buf,
    at,
    position,
    size,
    baseOffset,
    lastOffset: baseOffset + buf.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET),
    maxTimestamp,
    partitionLeaderEpoch: buf.readInt32BE(at + 12),
  };
  return visit(batch) === false ? "stopped" : null;
}

/**
 * Bytes of the active segment that may wait in memory (write-behind) while the durability
 * journal holds them: small appends to many partitions become one write per partition per
 * WRITE_BEHIND_BYTES instead of one per append.
 */
export const WRITE_BEHIND_BYTES = 64 * 1024;
/**
 * Write-behind memory of the whole process, at most: once this many chunks are held, other
 * partitions write through (a broker with 10,000 busy partitions does not hold 640 MiB).
 */
export const WRITE_BEHIND_MAX_CHUNKS = 512;
let chunksHeld = 0;

/** Write-behind chunks held in this process now (tests). */
export function writeBehindChunks(): number {
  return chunksHeld;
}

export class LogSegment {
  /** Committed bytes: readers see [0, size). */
  size = 0;
  /** Bytes handed to writes; equals `size` when no write is in flight. */
  writePosition = 0;
  /** Bytes in the file; [onDisk, onDisk + pendingBytes) wait in `chunk` (write-behind). */
  onDisk = 0;
  private chunk: Buffer | null = null;
  private pendingBytes = 0;
  /** Reads through memory and file alike, for scanBatches. */
  readonly reader: Pick<StorageFs, "read"> = {
    read: (_fd, buf, offset, length, position) => this.readAt(buf, offset, length, position),
  };
  /** Offset after the last batch, or the base offset when empty. */
  nextOffset: number;
  /** Largest batch max-timestamp in the segment, -1 when it has none. */
  maxTimestamp = -1;
  private offsetOfMaxTimestamp: number;
  index: OffsetIndex;
  timeIndex = new TimeIndex();
  private bytesSinceIndexEntry = 0;
  /** Wall-clock time of the first append, for segment.ms; null while empty. */
  firstAppendMs: number | null = null;
  /** Wall-clock time of the last append (or of loading), the age of records without timestamps. */
  lastModifiedMs: number;
  private readers = 0;
  private readersDone: (() => void) | null = null;
  private closed = false;
  /** The index files on disk match the indexes in memory (loaded or persisted, unchanged since). */
  private indexesSaved = false;

  private constructor(
    private readonly sfs: StorageFs,
    readonly dir: string,
    readonly baseOffset: number,
    readonly fd: number,
    private readonly config: LogConfig,
    nowMs: number,
  ) {
    this.nextOffset = baseOffset;
    this.offsetOfMaxTimestamp = baseOffset;
    this.index = new OffsetIndex(Math.floor(config.segmentIndexBytes / OFFSET_INDEX_ENTRY_SIZE));
    this.lastModifiedMs = nowMs;
  }

  file(suffix: string): string {
    return path.join(this.dir, segmentFileName(this.baseOffset, suffix));
  }

  /** Creates an empty segment (truncating any file already at that name). */
  static async create(
    sfs: StorageFs,
    dir: string,
    baseOffset: number,
    config: LogConfig,
    nowMs: number,
  ): Promise<LogSegment> {
    const fd = await sfs.open(path.join(dir, segmentFileName(baseOffset, LOG_SUFFIX)), "create");
    return new LogSegment(sfs, dir, baseOffset, fd, config, nowMs);
  }

  /** Opens an existing segment file without reading it; call `loadIndexes` or `recover` next. */
  static async open(
    sfs: StorageFs,
    dir: string,
    baseOffset: number,
    config: LogConfig,
    nowMs: number,
  ): Promise<LogSegment> {
    const fd = await sfs.open(path.join(dir, segmentFileName(baseOffset, LOG_SUFFIX)), "readWrite");
    const segment = new LogSegment(sfs, dir, baseOffset, fd, config, nowMs);
    segment.size = segment.writePosition = segment.onDisk = await sfs.fileSize(fd);
    if (segment.size > 0) segment.firstAppendMs = nowMs;
    return segment;
  }

  /**
   * Loads the index files of a segment that was sealed or closed cleanly. Returns false (and
   * leaves the segment untouched) when a file is missing or fails its sanity check; the caller
   * then runs `recover`. When `findEnd`, also scans the tail after the last index entry to find
   * the next offset: a few KiB, never the whole segment.
   */
  async loadIndexes(findEnd: boolean): Promise<boolean> {
    const indexBytes = await this.sfs.readFile(this.file(INDEX_SUFFIX));
    const timeBytes = await this.sfs.readFile(this.file(TIME_INDEX_SUFFIX));
    if (!indexBytes || !timeBytes) return this.size === 0 && !indexBytes?.length && !timeBytes?.length;
    const maxEntries = Math.floor(this.config.segmentIndexBytes / OFFSET_INDEX_ENTRY_SIZE);
    const index = OffsetIndex.fromBuffer(indexBytes, maxEntries, this.size, MAX_RELATIVE_OFFSET + 1);
    const timeIndex = TimeIndex.fromBuffer(timeBytes, MAX_RELATIVE_OFFSET + 1);
    if (!index || !timeIndex) return false;
    if (this.size > 0 && timeIndex.entries === 0) return false;
    this.index = index;
    this.timeIndex = timeIndex;
    this.maxTimestamp = timeIndex.entries > 0 ? timeIndex.lastTimestamp() : -1;
    this.offsetOfMaxTimestamp = this.baseOffset + Math.max(0, timeIndex.lastOffset());
    if (!findEnd) {
      this.indexesSaved = true;
      return true;
    }
    const from = Math.max(0, index.lastPosition());
    let next = this.baseOffset;
    let lastPosition = from;
    const scan = await scanBatches(this.sfs, this.fd, from, this.size, false, (b) => {
      next = b.lastOffset + 1;
      lastPosition = b.position + b.size;
      return true;
    });
    if (scan.end !== "end" || lastPosition !== this.size) return false;
    if (this.size > 0 && next <= this.baseOffset) return false;
    this.nextOffset = next;
    this.bytesSinceIndexEntry = this.size - from;
    this.indexesSaved = true;
    return true;
  }

  /**
   * Re-reads the whole segment: verifies each batch (magic, CRC, offsets increasing from
   * `minOffset`, and below `endOffset`, the next segment's base), rebuilds both indexes, and
   * truncates the file at the first torn or invalid batch. `onBatch` sees every valid batch in
   * order. Returns the number of bytes cut off.
   */
  async recover(
    minOffset: number,
    onBatch?: (batch: ScannedBatch) => void,
    endOffset = Number.POSITIVE_INFINITY,
  ): Promise<number> {
    this.resetIndexes();
    let expected = Math.max(minOffset, this.baseOffset);
    const fileSize = await this.sfs.fileSize(this.fd);
    const scan = await scanBatches(this.sfs, this.fd, 0, fileSize, true, (b) => {
      if (b.baseOffset < expected || b.lastOffset - this.baseOffset > MAX_RELATIVE_OFFSET) return false;
      // Offsets outside the CRC (a flipped bit) must not run into the next segment's.
      if (b.lastOffset >= endOffset) return false;
      if (b.position + b.size > MAX_SEGMENT_POSITION) return false;
      this.indexBatch(b.baseOffset, b.lastOffset, b.maxTimestamp, b.position, b.size);
      onBatch?.(b);
      expected = b.lastOffset + 1;
      return true;
    });
    if (scan.position < fileSize) await this.sfs.ftruncate(this.fd, scan.position);
    this.size = this.writePosition = this.onDisk = scan.position;
    return fileSize - scan.position;
  }

  private resetIndexes(): void {
    this.indexesSaved = false;
    this.index = new OffsetIndex(this.index.maxEntries);
    this.timeIndex = new TimeIndex();
    this.maxTimestamp = -1;
    this.offsetOfMaxTimestamp = this.baseOffset;
    this.bytesSinceIndexEntry = 0;
    this.nextOffset = this.baseOffset;
  }

  /**
   * Accounts for a batch committed at `position`: index entries every index.interval.bytes,
   * the max timestamp, the next offset. Positions and offsets must only grow.
   */
  indexBatch(
    baseOffset: number,
    lastOffset: number,
    maxTimestamp: number,
    position: number,
    size: number,
  ): void {
    this.indexesSaved = false;
    if (maxTimestamp > this.maxTimestamp) {
      this.maxTimestamp = maxTimestamp;
      this.offsetOfMaxTimestamp = baseOffset;
    }
    if (this.bytesSinceIndexEntry >= this.config.indexIntervalBytes && position > 0) {
      if (this.index.append(baseOffset - this.baseOffset, position)) {
        this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp - this.baseOffset);
      }
      this.bytesSinceIndexEntry = 0;
    }
    this.bytesSinceIndexEntry += size;
    this.nextOffset = lastOffset + 1;
  }

  /** Whether the index has room for the entry an append of this size may need. */
  indexIsFull(): boolean {
    return this.index.isFull();
  }

  /**
   * Writes both indexes (with a final time-index entry for the max timestamp) atomically; does
   * nothing when the files on disk already hold them (a segment unchanged since it was loaded
   * or last persisted), so closing 10,000 idle partitions writes no index file.
   */
  async persistIndexes(): Promise<void> {
    if (this.indexesSaved) return;
    // A non-empty segment always has a final time entry (-1 when no record had a timestamp), so
    // an empty time index beside a non-empty log reads as damage.
    if (this.size > 0)
      this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp - this.baseOffset);
    await writeFileAtomic(this.sfs, this.file(INDEX_SUFFIX), this.index.toBuffer());
    await writeFileAtomic(this.sfs, this.file(TIME_INDEX_SUFFIX), this.timeIndex.toBuffer());
    this.indexesSaved = true;
  }

  /** Removes index files that a truncation or a reopened active segment made stale. */
  async removeIndexFiles(): Promise<void> {
    this.indexesSaved = false;
    for (const suffix of [INDEX_SUFFIX, TIME_INDEX_SUFFIX]) {
      if (await this.sfs.exists(this.file(suffix))) await this.sfs.unlink(this.file(suffix));
    }
  }

  /**
   * Reads whole batches starting with the one that holds `offset`, up to `maxBytes`, stopping
   * before the first batch that reaches `limitOffset`. When the first batch alone exceeds
   * `maxBytes`, it is returned whole if `minOneBatch`. An empty buffer means nothing at or after
   * `offset` below `limitOffset` lies in this segment.
   */
  async read(offset: number, maxBytes: number, limitOffset: number, minOneBatch: boolean): Promise<Buffer> {
    this.acquire();
    try {
      return await this.readLocked(offset, maxBytes, limitOffset, minOneBatch);
    } finally {
      this.release();
    }
  }

  private async readLocked(
    offset: number,
    maxBytes: number,
    limitOffset: number,
    minOneBatch: boolean,
  ): Promise<Buffer> {
    const end = this.size;
    let position = this.index.lookup(Math.max(0, offset - this.baseOffset));
    const chunk = Math.max(maxBytes, MIN_READ_BYTES) + this.config.indexIntervalBytes;
    while (position < end) {
      const length = Math.min(chunk, end - position);
      const buf = Buffer.allocUnsafe(length);
      const n = await this.readAt(buf, 0, length, position);
      let at = 0;
      while (at + LAST_OFFSET_DELTA_OFFSET + 4 <= n) {
        const size = LOG_OVERHEAD + buf.readInt32BE(at + LENGTH_OFFSET);
        const baseOffset = readInt64(buf, at);
        const lastOffset = baseOffset + buf.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET);
        if (lastOffset < offset) {
          at += size;
          continue;
        }
        if (lastOffset >= limitOffset) return EMPTY;
        return this.collect(buf, at, n, position, maxBytes, limitOffset, minOneBatch);
      }
      if (at === 0) {
        // A single batch larger than the chunk that ends before `offset`: skip it by its header.
        const header = Buffer.allocUnsafe(LOG_OVERHEAD);
        await this.readAt(header, 0, LOG_OVERHEAD, position);
        at = LOG_OVERHEAD + header.readInt32BE(LENGTH_OFFSET);
        if (at < BATCH_HEADER_SIZE) throw new KafkaError("KAFKA_STORAGE_ERROR", "malformed committed batch");
      }
      position += at;
    }
    return EMPTY;
  }

  /** From the batch at `buf[start]` (known to qualify), takes whole batches within the limits. */
  private async collect(
    buf: Buffer,
    start: number,
    n: number,
    position: number,
    maxBytes: number,
    limitOffset: number,
    minOneBatch: boolean,
  ): Promise<Buffer> {
    let at = start;
    while (at + LAST_OFFSET_DELTA_OFFSET + 4 <= n) {
      const size = LOG_OVERHEAD + buf.readInt32BE(at + LENGTH_OFFSET);
      if (at + size > n || at - start + size > maxBytes) break;
      if (readInt64(buf, at) + buf.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET) >= limitOffset) break;
      at += size;
    }
    if (at > start) return buf.subarray(start, at);
    if (!minOneBatch) return EMPTY;
    const size = LOG_OVERHEAD + buf.readInt32BE(start + LENGTH_OFFSET);
    if (start + size <= n) return buf.subarray(start, start + size);
    const whole = Buffer.allocUnsafe(size);
    const got = await this.readAt(whole, 0, size, position + start);
    return got === size ? whole : EMPTY;
  }

  /**
   * Reads `length` bytes at `position` from the file or, past `onDisk`, from the write-behind
   * memory; returns how many were read. The memory part is copied before any await: a write-out
   * that completes meanwhile reuses the chunk.
   */
  async readAt(buf: Buffer, offset: number, length: number, position: number): Promise<number> {
    const onDisk = this.onDisk;
    let fromMemory = 0;
    if (this.chunk && this.pendingBytes > 0 && position + length > onDisk) {
      const start = Math.max(position, onDisk);
      const end = Math.min(position + length, onDisk + this.pendingBytes);
      if (end > start) {
        this.chunk.copy(buf, offset + (start - position), start - onDisk, end - onDisk);
        fromMemory = end - start;
      }
    }
    if (position >= onDisk) return fromMemory;
    const fileLength = Math.min(length, onDisk - position);
    const n = await this.sfs.read(this.fd, buf, offset, fileLength, position);
    return n < fileLength ? n : n + fromMemory;
  }

  /**
   * Keeps `bytes` (the buffers' total) in memory after what is pending, copied (the buffers may
   * be views of large request frames). The caller checks `fitsBehind` first.
   */
  hold(buffers: readonly Buffer[], bytes: number): void {
    if (!this.chunk) {
      this.chunk = Buffer.allocUnsafe(WRITE_BEHIND_BYTES);
      chunksHeld++;
    }
    let at = this.pendingBytes;
    for (const b of buffers) at += b.copy(this.chunk, at);
    this.pendingBytes += bytes;
  }

  /** Whether `bytes` more fit in the write-behind memory (this segment's chunk, the process's budget). */
  fitsBehind(bytes: number): boolean {
    if (this.pendingBytes + bytes > WRITE_BEHIND_BYTES) return false;
    return this.chunk !== null || chunksHeld < WRITE_BEHIND_MAX_CHUNKS;
  }

  /** Writes what waits in memory, then `buffers`, to the file in one writev. */
  async writeThrough(buffers: Buffer[] = []): Promise<void> {
    const pending = this.pendingBytes;
    const all = pending > 0 && this.chunk ? [this.chunk.subarray(0, pending), ...buffers] : buffers;
    if (all.length === 0) return;
    let bytes = 0;
    for (const b of all) bytes += b.length;
    await this.sfs.writev(this.fd, all, this.onDisk);
    this.onDisk += bytes;
    this.pendingBytes = 0;
    // The chunk goes once empty: an idle partition holds no memory.
    if (this.chunk) chunksHeld--;
    this.chunk = null;
  }

  /**
   * After a failed write: forgets every byte past `size` (the committed bytes) that waits in
   * memory, and where the next write goes. Bytes past `size` already in the file stay until the
   * caller cuts the file (PartitionLog.heal).
   */
  dropUncommitted(): void {
    const keep = Math.max(0, this.size - this.onDisk);
    if (keep < this.pendingBytes) this.pendingBytes = keep;
    if (this.pendingBytes === 0 && this.chunk) {
      chunksHeld--;
      this.chunk = null;
    }
    this.writePosition = this.size;
  }

  /** Writes what waits in memory to the file. */
  writeOut(): Promise<void> {
    return this.writeThrough();
  }

  /** Position of the first batch whose last offset is >= `offset`, or `size` if none. */
  async positionOf(offset: number): Promise<{ position: number; baseOffset: number }> {
    let found = { position: this.size, baseOffset: this.nextOffset };
    const from = this.index.lookup(Math.max(0, offset - this.baseOffset));
    await scanBatches(this.reader, this.fd, from, this.size, false, (b) => {
      if (b.lastOffset < offset) return true;
      found = { position: b.position, baseOffset: b.baseOffset };
      return false;
    });
    return found;
  }

  /**
   * Cuts the segment before the batch that holds `offset`. Returns the new next offset: the base
   * of the removed batch, so a truncation inside a batch removes that whole batch.
   */
  async truncateTo(offset: number): Promise<number> {
    this.indexesSaved = false;
    await this.writeOut();
    const { position, baseOffset } = await this.positionOf(offset);
    if (position >= this.size) return this.nextOffset;
    await this.sfs.ftruncate(this.fd, position);
    this.size = this.writePosition = this.onDisk = position;
    const relative = baseOffset - this.baseOffset;
    this.index.truncateToOffset(relative);
    this.timeIndex.truncateToOffset(relative);
    // Recompute the max timestamp: the last time entry covers everything before its batch.
    this.maxTimestamp = this.timeIndex.entries > 0 ? this.timeIndex.lastTimestamp() : -1;
    this.offsetOfMaxTimestamp = this.baseOffset + Math.max(0, this.timeIndex.lastOffset());
    const from = this.index.lookup(Math.max(0, this.timeIndex.lastOffset()));
    this.nextOffset = this.baseOffset;
    await scanBatches(this.reader, this.fd, from, this.size, false, (b) => {
      if (b.maxTimestamp > this.maxTimestamp) {
        this.maxTimestamp = b.maxTimestamp;
        this.offsetOfMaxTimestamp = b.baseOffset;
      }
      return true;
    });
    this.nextOffset = baseOffset;
    this.bytesSinceIndexEntry = this.size - Math.max(0, this.index.lastPosition());
    if (this.size === 0) this.firstAppendMs = null;
    return baseOffset;
  }

  /** The age reference for retention: newest record timestamp, or last append time without one. */
  largestTimestamp(): number {
    return this.maxTimestamp >= 0 ? this.maxTimestamp : this.lastModifiedMs;
  }

  acquire(): void {
    if (this.closed) throw new KafkaError("KAFKA_STORAGE_ERROR", "segment is closed");
    this.readers++;
  }

  release(): void {
    this.readers--;
    if (this.readers === 0 && this.readersDone) this.readersDone();
  }

  /**
   * Closes the file once every in-flight read has finished. Bytes still waiting in memory are
   * dropped (an owner that needs them writes them out first; a segment being deleted does not).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.readers > 0) await new Promise<void>((resolve) => (this.readersDone = resolve));
    if (this.chunk) {
      chunksHeld--;
      this.chunk = null;
      this.pendingBytes = 0;
    }
    await this.sfs.close(this.fd);
  }

  /** Renames the segment's files to `.deleted`, so that a crash leaves them marked for removal. */
  async markDeleted(): Promise<void> {
    for (const suffix of [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX]) {
      const file = this.file(suffix);
      if (await this.sfs.exists(file)) await this.sfs.rename(file, file + DELETED_SUFFIX);
    }
  }

  /** Closes the segment (after its readers) and unlinks its `.deleted` files. */
  async deleteFiles(): Promise<void> {
    await this.close();
    for (const suffix of [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX]) {
      const file = this.file(suffix) + DELETED_SUFFIX;
      if (await this.sfs.exists(file)) await this.sfs.unlink(file);
    }
  }
}

const EMPTY = Buffer.alloc(0);
