/**
 * The durability journal of a data directory (docs/decisions/0008-durability-journal.md).
 *
 * Under flush.policy=always a partition log writes a group of batches to its segment and hands
 * the same bytes to the journal; the journal appends the groups of every partition to one file
 * and makes them durable with one fdatasync per round (group commit across partitions), so a
 * produce request that touches 1,000 partitions costs one flush, not 1,000. The segments are
 * flushed later, when the journal file fills and is rotated: each log that wrote to the old file
 * is flushed, then the old file is removed. After an unclean shutdown the journal is replayed:
 * every durable entry whose batches are missing from its log's recovered tail is appended again.
 *
 * File: `journal/<20-digit sequence>.journal` in the data directory, entries back to back:
 *
 *   u32 size        bytes after this field
 *   u32 crc         CRC-32C of the header after this field (type .. payloadLength)
 *   u8  type        1 data, 2 truncate, 3 reset, 4 forget, 5 synced
 *   u16 keyLength   then the key: the partition directory name `<topic>-<partition>`, UTF-8
 *   i64 offset      data: base offset of the first batch; truncate/reset: the offset; forget: -1
 *   i64 lastOffset  data: last offset of the last batch; otherwise -1
 *   u32 payloadLength
 *   u32 headsCrc    data: CRC-32C of the first 17 bytes of every batch (baseOffset, length,
 *                   partitionLeaderEpoch, magic: the fields outside the batch CRC); otherwise 0
 *   the payload     data: whole record batches as written to the segment
 *
 * The payload is not checksummed as a whole: each batch carries its CRC-32C over the rest, and
 * replay checks every batch (length, magic, both CRCs) and that their offsets run from `offset`
 * to `lastOffset`.
 * Replay stops at the first entry that fails: a torn tail, never acknowledged.
 *
 * Markers. Before a log is truncated, reset or deleted, it flushes its segment and writes a
 * marker, durable before the change is made; once a truncation or reset is durable in the
 * segment, a `synced` marker follows (the segment is durable to its offset). Replay uses, per
 * key, only the entries after the last marker: a truncate or reset whose change may not have
 * reached the disk is applied again, a synced marker needs nothing, a forget (the log was
 * deleted) drops what came before, so a topic deleted and created again never receives its old
 * records. A group that skipped the journal (flushed in its segment, see log.ts) is never undone
 * by replay: it comes after a synced marker, not after a bare truncate or reset.
 */
import * as path from "node:path";
import { crc32c } from "../protocol/crc32c.js";
import { KafkaError } from "../protocol/errors.js";
import {
  CRC_OFFSET,
  computeBatchCrc,
  LAST_OFFSET_DELTA_OFFSET,
  LENGTH_OFFSET,
  LOG_OVERHEAD,
  MAGIC_OFFSET,
  RECORDS_OFFSET,
} from "../protocol/record-batch.js";
import { readInt64, writeInt64 } from "../protocol/varint.js";
import type { StorageFs } from "./fs.js";
import { proveWritable } from "./heal.js";

export const JOURNAL_DIR = "journal";
export const JOURNAL_SUFFIX = ".journal";
/** Journal bytes after which the file is rotated and the logs that wrote to it are flushed. */
export const DEFAULT_JOURNAL_BYTES = 256 * 1024 * 1024;
/** Most buffers handed to one writev (IOV_MAX on Linux is 1024). */
const MAX_IOVECS = 1024;

export type MarkerType = "truncate" | "reset" | "forget" | "synced";
const TYPE_DATA = 1;
const TYPE_CODES: Record<MarkerType, number> = { truncate: 2, reset: 3, forget: 4, synced: 5 };
const CODE_TYPES: Record<number, "data" | MarkerType> = {
  1: "data",
  2: "truncate",
  3: "reset",
  4: "forget",
  5: "synced",
};

/** size + crc */
const ENTRY_PREFIX = 8;
/** type, keyLength, offset, lastOffset, payloadLength, headsCrc (without the key) */
const HEADER_FIXED = 1 + 2 + 8 + 8 + 4 + 4;
/** The bytes of a batch before its attributes that its own CRC does not cover (magic included). */
const BATCH_HEAD = MAGIC_OFFSET + 1;

export interface JournalEntry {
  type: "data" | MarkerType;
  key: string;
  offset: number;
  lastOffset: number;
  /** Data entries: the whole batches. */
  payload: Buffer;
}

/** CRC-32C of the heads (BATCH_HEAD bytes) of every batch in `buffers`; -1 if they are not whole batches. */
export function batchHeadsCrc(buffers: readonly Buffer[]): number {
  let count = 0;
  for (const b of buffers) {
    for (let pos = 0; pos + BATCH_HEAD <= b.length; pos += LOG_OVERHEAD + b.readInt32BE(pos + LENGTH_OFFSET))
      count++;
  }
  const heads = Buffer.allocUnsafe(count * BATCH_HEAD);
  let at = 0;
  for (const b of buffers) {
    let pos = 0;
    while (pos + BATCH_HEAD <= b.length) {
      at += b.copy(heads, at, pos, pos + BATCH_HEAD);
      pos += LOG_OVERHEAD + b.readInt32BE(pos + LENGTH_OFFSET);
    }
    if (pos !== b.length) return -1;
  }
  return crc32c(heads) >>> 0;
}

/** Encodes an entry's header (everything but the payload). */
export function encodeEntryHeader(
  type: "data" | MarkerType,
  key: string,
  offset: number,
  lastOffset: number,
  payloadLength: number,
  headsCrc = 0,
): Buffer {
  const keyLength = Buffer.byteLength(key);
  const header = Buffer.allocUnsafe(ENTRY_PREFIX + HEADER_FIXED + keyLength);
  let at = ENTRY_PREFIX;
  header.writeUInt8(type === "data" ? TYPE_DATA : TYPE_CODES[type], at);
  header.writeUInt16BE(keyLength, at + 1);
  at += 3;
  header.write(key, at, "utf8");
  at += keyLength;
  writeInt64(header, at, offset);
  writeInt64(header, at + 8, lastOffset);
  header.writeUInt32BE(payloadLength, at + 16);
  header.writeUInt32BE(headsCrc >>> 0, at + 20);
  header.writeUInt32BE(header.length - 4 + payloadLength, 0);
  header.writeUInt32BE(crc32c(header, ENTRY_PREFIX, header.length) >>> 0, 4);
  return header;
}

/**
 * Whether a data payload holds whole, intact batches (length, magic, CRC) whose offsets rise
 * from `offset` to `lastOffset`. Batches copied by a follower may leave gaps (a compacted
 * leader's); they never go backwards.
 */
function checkPayload(payload: Buffer, offset: number, lastOffset: number, headsCrc: number): boolean {
  let pos = 0;
  let next = offset;
  while (pos < payload.length) {
    if (payload.length - pos < RECORDS_OFFSET) return false;
    const size = LOG_OVERHEAD + payload.readInt32BE(pos + LENGTH_OFFSET);
    if (size < RECORDS_OFFSET || pos + size > payload.length) return false;
    if (payload.readInt8(pos + MAGIC_OFFSET) !== 2) return false;
    if (computeBatchCrc(payload, pos, size) >>> 0 !== payload.readUInt32BE(pos + CRC_OFFSET)) return false;
    if (readInt64(payload, pos) < next) return false;
    next = readInt64(payload, pos) + payload.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET) + 1;
    pos += size;
  }
  return (
    pos > 0 &&
    next - 1 === lastOffset &&
    readInt64(payload, 0) === offset &&
    batchHeadsCrc([payload]) === headsCrc
  );
}

/**
 * Decodes the entries of one journal file, stopping at the first that is torn or invalid.
 * Returns them and where the valid prefix ends.
 */
export function decodeJournal(buf: Buffer): { entries: JournalEntry[]; validBytes: number } {
  const entries: JournalEntry[] = [];
  let pos = 0;
  for (;;) {
    let entry: JournalEntry | null;
    try {
      entry = decodeEntry(buf, pos);
    } catch {
      // A damaged field (an offset beyond 2^53) is a damaged entry.
      entry = null;
    }
    if (!entry) break;
    entries.push(entry);
    pos += 4 + buf.readUInt32BE(pos);
  }
  return { entries, validBytes: pos };
}

/** The entry at `pos`, or null if it is torn or invalid. */
function decodeEntry(buf: Buffer, pos: number): JournalEntry | null {
  if (buf.length - pos < ENTRY_PREFIX + HEADER_FIXED) return null;
  const size = buf.readUInt32BE(pos);
  const end = pos + 4 + size;
  if (size < 4 + HEADER_FIXED || end > buf.length) return null;
  const keyLength = buf.readUInt16BE(pos + ENTRY_PREFIX + 1);
  const headerEnd = pos + ENTRY_PREFIX + HEADER_FIXED + keyLength;
  if (headerEnd > end) return null;
  if (crc32c(buf, pos + ENTRY_PREFIX, headerEnd) >>> 0 !== buf.readUInt32BE(pos + 4)) return null;
  const type = CODE_TYPES[buf.readUInt8(pos + ENTRY_PREFIX)];
  if (type === undefined) return null;
  const keyAt = pos + ENTRY_PREFIX + 3;
  const key = buf.toString("utf8", keyAt, keyAt + keyLength);
  const offset = readInt64(buf, keyAt + keyLength);
  const lastOffset = readInt64(buf, keyAt + keyLength + 8);
  const payloadLength = buf.readUInt32BE(keyAt + keyLength + 16);
  const headsCrc = buf.readUInt32BE(keyAt + keyLength + 20);
  if (headerEnd + payloadLength !== end) return null;
  const payload = buf.subarray(headerEnd, end);
  if (type === "data" && !checkPayload(payload, offset, lastOffset, headsCrc)) return null;
  return { type, key, offset, lastOffset, payload };
}

export function journalFileName(sequence: number): string {
  return `${String(sequence).padStart(20, "0")}${JOURNAL_SUFFIX}`;
}

function parseJournalFileName(name: string): number | null {
  if (!name.endsWith(JOURNAL_SUFFIX)) return null;
  const digits = name.slice(0, -JOURNAL_SUFFIX.length);
  return /^\d{20}$/.test(digits) ? Number(digits) : null;
}

/** The journal files of a directory, oldest first. */
export async function listJournalFiles(
  sfs: StorageFs,
  dir: string,
): Promise<{ sequence: number; file: string }[]> {
  if (!(await sfs.exists(dir))) return [];
  const files: { sequence: number; file: string }[] = [];
  for (const name of await sfs.readdir(dir)) {
    const sequence = parseJournalFileName(name);
    if (sequence !== null) files.push({ sequence, file: path.join(dir, name) });
  }
  return files.sort((a, b) => a.sequence - b.sequence);
}

/** What replay needs of a partition log. */
export interface ReplayTarget {
  readonly logStartOffset: number;
  readonly logEndOffset: number;
  truncateTo(offset: number): Promise<void>;
  truncateFullyAndStartAt(offset: number): Promise<void>;
  /** Appends batches that keep their offsets (they continue the log end). */
  appendReplayed(records: Buffer): Promise<unknown>;
}

export interface ReplayReport {
  /** Journal files read. */
  files: number;
  /** Valid entries read. */
  entries: number;
  /** Batches appended to logs whose tails had lost them. */
  batchesReplayed: number;
  /** Markers applied again (truncate, reset). */
  markersApplied: number;
  /** Keys whose entries could not continue their log, and where replay stopped for them. */
  gaps: { key: string; logEnd: number; entryOffset: number }[];
  /** Keys with entries but no log (deleted, or never created durably). */
  unknownKeys: string[];
  /** Logs that changed. */
  touched: string[];
}

/** An empty report for a replay of `files` journal files. */
export function newReplayReport(files = 0): ReplayReport {
  return { files, entries: 0, batchesReplayed: 0, markersApplied: 0, gaps: [], unknownKeys: [], touched: [] };
}

/**
 * Replays the entries of `entries` (every journal file's, oldest first) into the logs `logFor`
 * returns. Per key, only the entries after its last marker count (see the header).
 */
export async function replayJournal(
  entries: JournalEntry[],
  logFor: (key: string) => ReplayTarget | undefined,
  report: ReplayReport,
): Promise<void> {
  const byKey = new Map<string, JournalEntry[]>();
  for (const e of entries) {
    let list = byKey.get(e.key);
    if (!list) {
      list = [];
      byKey.set(e.key, list);
    }
    if (e.type !== "data") list.length = 0;
    list.push(e);
  }
  for (const [key, list] of byKey) {
    const log = logFor(key);
    if (!log) {
      if (list.some((e) => e.type === "data")) report.unknownKeys.push(key);
      continue;
    }
    let touched = false;
    for (const e of list) {
      if (e.type === "forget" || e.type === "synced") continue;
      if (e.type === "truncate") {
        if (log.logEndOffset > e.offset) {
          await log.truncateTo(e.offset);
          report.markersApplied++;
          touched = true;
        }
        continue;
      }
      if (e.type === "reset") {
        if (log.logStartOffset !== e.offset || log.logEndOffset !== e.offset) {
          await log.truncateFullyAndStartAt(e.offset);
          report.markersApplied++;
          touched = true;
        }
        continue;
      }
      // A data entry: append the batches past the log end, if they continue it.
      let pos = 0;
      let stop = false;
      while (pos < e.payload.length) {
        const size = LOG_OVERHEAD + e.payload.readInt32BE(pos + LENGTH_OFFSET);
        const base = readInt64(e.payload, pos);
        const last = base + e.payload.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET);
        const end = log.logEndOffset;
        if (last >= end) {
          if (base !== end) {
            // A batch across the log end (the log's history diverged) or past it (records the
            // journal never held are missing): appending would leave a wrong log. Stop here.
            report.gaps.push({ key, logEnd: end, entryOffset: base });
            stop = true;
            break;
          }
          await log.appendReplayed(e.payload.subarray(pos, pos + size));
          report.batchesReplayed++;
          touched = true;
        }
        pos += size;
      }
      if (stop) break;
    }
    if (touched) report.touched.push(key);
  }
}

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Told of every round the journal made durable (for the broker's metrics; storage imports nothing
 * of the broker): the seconds its writes and its fdatasync took and the bytes it wrote.
 */
export interface JournalStats {
  round(writeSeconds: number, fsyncSeconds: number, bytes: number): void;
}

export interface JournalOptions {
  dir: string;
  fs: StorageFs;
  /** Bytes after which the file is rotated (DEFAULT_JOURNAL_BYTES). */
  maxBytes?: number;
  /**
   * Flushes the segments of the given logs (the keys that wrote to a file being retired).
   * Resolves true when every one is durable; the file is removed only then.
   */
  flushLogs: (keys: Set<string>) => Promise<boolean>;
  /** Called once when the journal fails (until it heals): the storage healer probes it. */
  onFailed?: (failure: KafkaError) => void;
  /** Told of each durable round (timings and bytes); absent: nothing is timed. */
  stats?: JournalStats;
}

/**
 * The writer of the journal: entries wait in `pending` and go out together, one writev and one
 * fdatasync per round. A failed write, flush or open fails the journal: every waiting and later
 * commit is refused with KAFKA_STORAGE_ERROR until `heal` has cut the file back to its last
 * durable round and proved it (storage/heal.ts probes it).
 */
export class Journal {
  private fd = -1;
  private file = "";
  private sequence = 0;
  private position = 0;
  /** Bytes made durable by a successful fdatasync; a failed round's bytes lie past it. */
  private synced = 0;
  /** Where the last durable round starts: `heal` reads [syncedRoundStart, synced) back. */
  private syncedRoundStart = 0;
  /** Keys with entries in the current file. */
  private keys = new Set<string>();
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private waiters: Waiter[] = [];
  /** The keys of the pending entries; they join `keys` of the file the round goes to. */
  private pendingKeys: string[] = [];
  /** The writer's loop while it runs (rounds until nothing waits). */
  private running: Promise<void> | null = null;
  private failure: KafkaError | null = null;
  private closed = false;
  /** Files whose logs could not all flush when retired (a fault): `retireKept` tries again. */
  private kept: { file: string; keys: Set<string> }[] = [];
  /** The retirement of old files, one after another. */
  private retiring: Promise<void> = Promise.resolve();
  /** Rounds written (one writev and fdatasync each). */
  rounds = 0;

  private constructor(private readonly options: JournalOptions) {}

  /** Starts a new journal file after any in `dir` (which replay has read). */
  static async open(options: JournalOptions, after = 0): Promise<Journal> {
    const journal = new Journal(options);
    await options.fs.mkdirp(options.dir);
    await journal.startFile(after + 1);
    return journal;
  }

  get failed(): boolean {
    return this.failure !== null;
  }

  private async startFile(sequence: number): Promise<void> {
    const file = path.join(this.options.dir, journalFileName(sequence));
    const fd = await this.options.fs.open(file, "create");
    try {
      await this.options.fs.fsyncDir(this.options.dir);
    } catch (err) {
      await this.options.fs.close(fd).catch(() => {});
      throw err;
    }
    this.fd = fd;
    this.file = file;
    this.sequence = sequence;
    this.position = this.synced = this.syncedRoundStart = 0;
    this.keys = new Set();
  }

  /**
   * Journals `batches` of log `key` (offsets `offset`..`lastOffset`); resolves once they are
   * durable. The buffers must not change until then.
   */
  commit(key: string, offset: number, lastOffset: number, batches: Buffer[]): Promise<void> {
    let length = 0;
    for (const b of batches) length += b.length;
    const header = encodeEntryHeader("data", key, offset, lastOffset, length, batchHeadsCrc(batches));
    return this.enqueue(key, header, batches, length);
  }

  /** Journals a marker for `key`; resolves once it is durable. */
  mark(type: MarkerType, key: string, offset: number): Promise<void> {
    return this.enqueue(key, encodeEntryHeader(type, key, offset, -1, 0), [], 0);
  }

  private enqueue(key: string, header: Buffer, payload: Buffer[], length: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new KafkaError("KAFKA_STORAGE_ERROR", "journal is closed"));
    return new Promise<void>((resolve, reject) => {
      this.pending.push(header);
      for (const b of payload) this.pending.push(b);
      this.pendingBytes += header.length + length;
      this.waiters.push({ resolve, reject });
      this.pendingKeys.push(key);
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.running) return;
    // Every commit made in this turn of the event loop joins the first round.
    this.running = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.run())
      .catch((err: unknown) => this.fail(err, []))
      .finally(() => {
        this.running = null;
        if (this.waiters.length > 0 && !this.failure) this.schedule();
      });
  }

  private async run(): Promise<void> {
    const sfs = this.options.fs;
    while (this.waiters.length > 0 && !this.failure) {
      const buffers = this.pending;
      const bytes = this.pendingBytes;
      const waiters = this.waiters;
      for (const key of this.pendingKeys) this.keys.add(key);
      this.pending = [];
      this.pendingBytes = 0;
      this.waiters = [];
      this.pendingKeys = [];
      const stats = this.options.stats;
      try {
        const started = stats ? performance.now() : 0;
        let at = this.position;
        for (let i = 0; i < buffers.length; i += MAX_IOVECS) {
          const chunk = buffers.length <= MAX_IOVECS ? buffers : buffers.slice(i, i + MAX_IOVECS);
          await sfs.writev(this.fd, chunk, at);
          for (const b of chunk) at += b.length;
        }
        this.position += bytes;
        const written = stats ? performance.now() : 0;
        await sfs.fdatasync(this.fd);
        if (stats) stats.round((written - started) / 1000, (performance.now() - written) / 1000, bytes);
        this.syncedRoundStart = this.synced;
        this.synced = this.position;
        this.rounds++;
      } catch (err) {
        this.fail(err, waiters);
        return;
      }
      for (const w of waiters) w.resolve();
      if (this.position >= (this.options.maxBytes ?? DEFAULT_JOURNAL_BYTES)) await this.rotate();
    }
  }

  /** Moves on to a new file; the old one is removed once its logs are flushed (in the background). */
  private async rotate(): Promise<void> {
    const oldFd = this.fd;
    const oldFile = this.file;
    const keys = this.keys;
    try {
      await this.startFile(this.sequence + 1);
    } catch (err) {
      this.fail(err, []);
      return;
    }
    this.retiring = this.retiring.then(() => this.retire(oldFd, oldFile, keys));
  }

  private async retire(fd: number | null, file: string, keys: Set<string>): Promise<void> {
    const sfs = this.options.fs;
    if (fd !== null) await sfs.close(fd).catch(() => {});
    let flushed = false;
    try {
      flushed = await this.options.flushLogs(keys);
    } catch {
      flushed = false;
    }
    // A log that could not flush keeps the file (the next start replays it) until a heal.
    if (!flushed) {
      this.kept.push({ file, keys });
      return;
    }
    try {
      await sfs.unlink(file);
      await sfs.fsyncDir(this.options.dir);
    } catch {
      // Left for the next start, which replays it harmlessly.
    }
  }

  private fail(err: unknown, waiters: Waiter[]): void {
    const reason = err instanceof Error ? err.message : String(err);
    const first = this.failure === null;
    this.failure = new KafkaError("KAFKA_STORAGE_ERROR", `journal ${this.file} failed: ${reason}`, {
      cause: err,
    });
    for (const w of waiters) w.reject(this.failure);
    for (const w of this.waiters.splice(0)) w.reject(this.failure);
    this.pending = [];
    this.pendingBytes = 0;
    this.pendingKeys = [];
    if (first && !this.closed) this.options.onFailed?.(this.failure);
  }

  /**
   * Recovers from a failure: on a fresh descriptor (which also proves one can be had after
   * EMFILE), cuts the file back to the end of its last durable round (a torn or unsynced round
   * was never acknowledged), proves the disk takes a write and a sync again (storage/heal.ts
   * `proveWritable`), fdatasyncs the cut, and reads the last durable round back, checking
   * every entry's CRC and its batches'. Only then are commits accepted again, written after it.
   * A failed fdatasync leaves the page cache's state unknown ("fsyncgate"), so nothing written
   * after the last successful one is trusted: it is cut, and its commits were refused. Throws,
   * still failed, when a step fails.
   */
  async heal(): Promise<void> {
    if (!this.failure) return;
    if (this.closed) throw new KafkaError("KAFKA_STORAGE_ERROR", "journal is closed");
    while (this.running) await this.running;
    const sfs = this.options.fs;
    const fd = await sfs.open(this.file, "readWrite");
    try {
      await sfs.ftruncate(fd, this.synced);
      await proveWritable(sfs, fd, this.synced);
      await sfs.fdatasync(fd);
      await this.verifyTail(fd);
    } catch (err) {
      await sfs.close(fd).catch(() => {});
      throw err;
    }
    await sfs.close(this.fd).catch(() => {});
    this.fd = fd;
    this.position = this.synced;
    this.failure = null;
  }

  /** Checks that the file ends at `synced` and that its last durable round decodes whole. */
  private async verifyTail(fd: number): Promise<void> {
    const sfs = this.options.fs;
    const size = await sfs.fileSize(fd);
    const length = this.synced - this.syncedRoundStart;
    const tail = Buffer.alloc(length);
    const read = length > 0 ? await sfs.read(fd, tail, 0, length, this.syncedRoundStart) : 0;
    if (size !== this.synced || read !== length || decodeJournal(tail).validBytes !== length) {
      throw new KafkaError(
        "KAFKA_STORAGE_ERROR",
        `journal ${this.file}: its durable tail (bytes ${this.syncedRoundStart}-${this.synced}) does not read back intact`,
      );
    }
  }

  /**
   * Retires again the files kept because a log could not flush (called once a fault heals), so
   * a disk that filled up gets the journal's space back without a restart.
   */
  retireKept(): Promise<void> {
    for (const { file, keys } of this.kept.splice(0)) {
      this.retiring = this.retiring.then(() => this.retire(null, file, keys));
    }
    return this.retiring;
  }

  /** Waits for rounds in flight and for files being retired. */
  async drain(): Promise<void> {
    while (this.running) await this.running;
    await this.retiring;
  }

  /**
   * Closes the journal. With `remove` (every log was closed and flushed cleanly), every journal
   * file is removed: nothing in them is needed any more.
   */
  async close(remove: boolean): Promise<void> {
    if (this.closed) return;
    await this.drain();
    this.closed = true;
    await this.options.fs.close(this.fd).catch(() => {});
    if (!remove || this.failure) return;
    for (const { file } of await listJournalFiles(this.options.fs, this.options.dir)) {
      await this.options.fs.unlink(file);
    }
    await this.options.fs.fsyncDir(this.options.dir);
  }
}
