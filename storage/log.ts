/**
 * A partition log: an ordered list of segments in one directory, and every state change of it.
 *
 * Appends are validated and given offsets synchronously, in call order, then written by a single
 * writer loop that takes every append waiting at that moment as one group: one writev, and under
 * flush.policy=always one fdatasync shared by the whole group (group commit), before any of the
 * group's promises resolve. Rolls, truncations, flushes and close go through the same queue, so
 * they are ordered with appends. Reads and retention run beside the writer: reads see only bytes
 * the writer has committed; retention only removes sealed segments.
 *
 * A failed write, flush or open puts the log in a failed state: every pending and later append is
 * refused with KAFKA_STORAGE_ERROR, nothing unflushed is acknowledged, and reads keep working.
 * `heal` (probed by storage/heal.ts) proves the tail and resumes appends at the log end; a
 * failure in the middle of a truncation or a compaction swap needs a restart (recovery).
 */
import * as path from "node:path";
import { KafkaError } from "../protocol/errors.js";
import {
  ATTRIBUTES_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  COMPRESSION_MASK,
  LAST_OFFSET_DELTA_OFFSET,
  PARTITION_LEADER_EPOCH_OFFSET,
  RECORD_COUNT_OFFSET,
  RECORDS_OFFSET,
  TIMESTAMP_TYPE_MASK,
  walkRecords,
} from "../protocol/record-batch.js";
import { Cursor, readInt64, writeInt64 } from "../protocol/varint.js";
import {
  addToOffsetMap,
  CLEANER_CHECKPOINT_FILE,
  type CleanedSegment,
  type CleanerStep,
  type CompactOptions,
  type CompactStats,
  emptyStats,
  firstBatchTimestamp,
  type OffsetMap,
  parseCleanerCheckpoint,
  segmentNeedsCleaning,
  writeCleanedSegment,
} from "./cleaner.js";
import type { LogConfig } from "./config.js";
import { type Decompressed, decompressor } from "./decompress.js";
import type { StorageFs } from "./fs.js";
import { NodeFs, writeFileAtomic } from "./fs.js";
import { proveAndRewriteTail, proveWritable } from "./heal.js";
import { LeaderEpochCache } from "./leader-epoch-cache.js";
import { recompressAhead, rewriteBatches } from "./rewrite.js";
import {
  CLEANED_SUFFIX,
  DELETED_SUFFIX,
  INDEX_SUFFIX,
  LOG_SUFFIX,
  LogSegment,
  MAX_RELATIVE_OFFSET,
  MAX_SEGMENT_POSITION,
  parseSegmentFileName,
  type ScannedBatch,
  SWAP_SUFFIX,
  scanBatches,
  segmentFileName,
  TIME_INDEX_SUFFIX,
} from "./segment.js";
import {
  checkCompressedRecords,
  checkCompressedRecordsSync,
  decompressedBytesMax,
  type ValidAppend,
  type ValidBatch,
  validateBatches,
} from "./validate.js";

/** Most appends written by one writev (IOV_MAX on Linux is 1024). */
export const MAX_GROUP_APPENDS = 1024;
/** Unflushed bytes after which flush.policy os/interval starts a background fdatasync. */
export const FLUSH_BEHIND_BYTES = 16 * 1024 * 1024;
/**
 * A group at least this large skips the journal under flush.policy=always: written through with
 * whatever its segment held and fdatasync'ed there, which makes the segment durable up to its
 * end (replay skips journal entries below a log's end). Large records and one busy partition
 * then write each byte once; many partitions' small groups still share the journal's flush.
 */
export const JOURNAL_BYPASS_BYTES = 256 * 1024;
/** Most bytes written by one writev before the group is flushed and acknowledged. */
export const MAX_GROUP_BYTES = 16 * 1024 * 1024;

export interface AppendOptions {
  /** The leader epoch stamped into each batch and recorded in the epoch cache. */
  leaderEpoch?: number;
  /** Keep the offsets in the batches (a follower copying its leader) instead of assigning them. */
  keepOffsets?: boolean;
  /** Accept control batches (written by the broker's transaction markers). */
  allowControl?: boolean;
  /**
   * Batches that passed every check when first appended (replayed from the journal, or a
   * follower's copy of its leader's): only framing, magic, CRC and the batch header are checked
   * again, not the records (`ValidateOptions.recordsChecked`), under limits a config changed since
   * cannot refuse them by.
   */
  replayed?: boolean;
  /**
   * What `validate` returned for these same bytes, unchanged since: a caller that must check the
   * batches before anything else (the broker, before producer sequences) spares a second pass.
   */
  validated?: ValidAppend;
}

/**
 * A log's handle on the data directory's durability journal (storage/journal.ts): under
 * flush.policy=always a group is made durable by the journal instead of a segment fdatasync.
 */
export interface LogJournal {
  /** Resolves once the batches (offsets `offset`..`lastOffset`) are durable in the journal. */
  commit(offset: number, lastOffset: number, batches: Buffer[]): Promise<void>;
  /** Resolves once the marker is durable. */
  mark(type: "truncate" | "reset" | "synced", offset: number): Promise<void>;
}

export interface AppendResult {
  baseOffset: number;
  lastOffset: number;
  recordCount: number;
  logStartOffset: number;
  /** The append time stamped into the batches (message.timestamp.type=LogAppendTime), else -1. */
  logAppendTimeMs?: number;
}

export interface ReadOptions {
  maxBytes: number;
  /** Exclusive upper bound on the offsets returned (the high watermark for consumers). */
  maxOffset?: number;
  /** Return the first batch even if it is larger than maxBytes (Kafka's KIP-74). Default true. */
  minOneBatch?: boolean;
}

export interface ReadResult {
  /** Whole record batches, as they were appended. */
  records: Buffer;
  logStartOffset: number;
  logEndOffset: number;
  highWatermark: number;
}

export interface TimestampOffset {
  offset: number;
  timestamp: number;
}

export interface OpenLogOptions {
  dir: string;
  config: LogConfig;
  fs?: StorageFs;
  /** Offset below which the log is known to be flushed; recovery starts at its segment. */
  recoveryPoint?: number;
  /** The data directory was shut down cleanly: trust index files and do not re-read the log. */
  cleanShutdown?: boolean;
  logStartOffset?: number;
  highWatermark?: number;
  /** Wall clock in ms; tests replace it. */
  now?: () => number;
  /** Called after a truncation, so the owner can checkpoint the lowered recovery point. */
  onTruncated?: () => void;
  /** Called whenever the log end offset advances (fetch long-polls wait on it). */
  onAppend?: () => void;
  /** Called at each step of a compaction pass's file protocol (tests stop or snapshot there). */
  onCleanerStep?: (step: CleanerStep, baseOffset: number) => void | Promise<void>;
  /** The durability journal; without one, flush.policy=always fdatasyncs each group's segment. */
  journal?: LogJournal;
  /** Called once when the log fails (until it heals): the storage healer probes it. */
  onFailed?: (failure: KafkaError) => void;
}

export interface RecoveryReport {
  segmentsRecovered: number;
  bytesTruncated: number;
}

interface PendingAppend {
  kind: "append";
  buf: Buffer;
  batches: ValidBatch[];
  baseOffset: number;
  lastOffset: number;
  recordCount: number;
  logAppendTimeMs: number;
  resolve: (r: AppendResult) => void;
  reject: (e: unknown) => void;
}

interface PendingTask {
  kind: "task";
  run: () => Promise<void>;
  resolve: () => void;
  reject: (e: unknown) => void;
}

type Pending = PendingAppend | PendingTask;

export class PartitionLog {
  private segments: LogSegment[] = [];
  private nextOffset = 0;
  private endOffset = 0;
  private startOffset = 0;
  private hw = 0;
  private flushedOffset = 0;
  private queue: Pending[] = [];
  /** The last `validateRecords` in progress: each waits for the one before (call order). */
  private recordChecks: Promise<void> = Promise.resolve();
  private writing = false;
  private failure: KafkaError | null = null;
  /** The failure left files mid-change (a truncation, a compaction swap): only a restart heals it. */
  private unhealable = false;
  /** The writer's loop while it runs; `heal` waits for it to stop. */
  private writer: Promise<void> | null = null;
  private closed = false;
  /** close() has started: a running compaction pass stops at its next step. */
  private closing = false;
  /** Truncations so far: a compaction pass that saw one does not move the cleaner checkpoint. */
  private truncations = 0;
  private flushTimer: NodeJS.Timeout | null = null;
  /** A background fdatasync under flush.policy os/interval, while one runs. */
  private flushBehind: Promise<void> | null = null;
  private unflushedBytes = 0;
  /** Segments removed from the log whose files wait out file.delete.delay.ms for readers. */
  private deleteTimers = new Map<LogSegment, NodeJS.Timeout>();
  /** Deletions whose timer has fired and that are still running; close() waits for them. */
  private deletions = new Set<Promise<void>>();
  readonly recovery: RecoveryReport = { segmentsRecovered: 0, bytesTruncated: 0 };
  /** Offset below which the log is compacted (Kafka's cleaner checkpoint); a segment boundary. */
  private cleanerCheckpoint = 0;
  /** The compaction pass running on this log, if any; passes never overlap. */
  private cleaning: Promise<CompactStats> | null = null;
  /**
   * Serialises whatever removes or replaces closed segments (retention, truncation, a
   * compaction swap), so a swap never races a deletion of the segment it replaces.
   */
  private segmentLock: Promise<void> = Promise.resolve();
  private journal: LogJournal | null = null;

  private constructor(
    readonly dir: string,
    private config: LogConfig,
    private readonly sfs: StorageFs,
    readonly epochs: LeaderEpochCache,
    private readonly now: () => number,
    private readonly hooks: Pick<OpenLogOptions, "onTruncated" | "onAppend" | "onCleanerStep" | "onFailed">,
  ) {}

  /** Opens (creating if needed) the log in `dir`, recovering it as `cleanShutdown` requires. */
  static async open(options: OpenLogOptions): Promise<PartitionLog> {
    const sfs = options.fs ?? new NodeFs();
    await sfs.mkdirp(options.dir);
    const epochs = await LeaderEpochCache.load(sfs, options.dir);
    const log = new PartitionLog(options.dir, options.config, sfs, epochs, options.now ?? Date.now, options);
    await log.load(options);
    log.journal = options.journal ?? null;
    return log;
  }

  get logStartOffset(): number {
    return this.startOffset;
  }

  /** Offset after the last committed batch: what readers can see. */
  get logEndOffset(): number {
    return this.endOffset;
  }

  /**
   * The offset the next append is given: the log end, past the appends that have their offsets
   * and are still being written. A leader epoch begins here, after every batch of the last one.
   */
  get nextAppendOffset(): number {
    return this.nextOffset;
  }

  get highWatermark(): number {
    return this.hw;
  }

  /** Offset below which every batch is flushed to disk. */
  get recoveryPoint(): number {
    return this.flushedOffset;
  }

  get failed(): boolean {
    return this.failure !== null;
  }

  get logConfig(): LogConfig {
    return this.config;
  }

  /**
   * Attaches (or detaches) the durability journal; takes effect for the next group. A log
   * replayed at start-up is attached once its replayed tail is flushed.
   */
  setJournal(journal: LogJournal | null): void {
    this.journal = journal;
  }

  /** Replaces the config; takes effect for the next append, roll and retention check. */
  updateConfig(config: LogConfig): void {
    this.config = config;
    this.startFlushTimer();
  }

  /** Sets the high watermark, clamped to [logStartOffset, logEndOffset]. */
  setHighWatermark(offset: number): void {
    this.hw = Math.min(Math.max(offset, this.startOffset), this.endOffset);
  }

  segmentCount(): number {
    return this.segments.length;
  }

  segmentBaseOffsets(): number[] {
    return this.segments.map((s) => s.baseOffset);
  }

  sizeBytes(): number {
    let total = 0;
    for (const s of this.segments) total += s.size;
    return total;
  }

  // ---------------------------------------------------------------------------------------------
  // Loading and recovery

  private async load(options: OpenLogOptions): Promise<void> {
    const bases = await this.cleanDirectory();
    const nowMs = this.now();
    for (const base of bases)
      this.segments.push(await LogSegment.open(this.sfs, this.dir, base, this.config, nowMs));
    if (this.segments.length === 0) {
      const base = options.logStartOffset ?? 0;
      this.segments.push(await LogSegment.create(this.sfs, this.dir, base, this.config, nowMs));
      await this.sfs.fsyncDir(this.dir);
    }
    const clean = options.cleanShutdown === true;
    const recoveryPoint = options.recoveryPoint ?? 0;
    // Recovery starts at the segment holding the recovery point, and always covers the last one.
    let firstToRecover = this.segments.length - 1;
    if (!clean) {
      while (firstToRecover > 0 && this.segments[firstToRecover].baseOffset > recoveryPoint) firstToRecover--;
    }
    for (let i = 0; i < this.segments.length; i++) {
      const segment = this.segments[i];
      const isLast = i === this.segments.length - 1;
      const trusted = (clean || i < firstToRecover) && (await segment.loadIndexes(isLast));
      if (trusted) continue;
      const previousEnd = i > 0 ? this.segments[i - 1].nextOffset : segment.baseOffset;
      const nextBase = isLast ? Number.POSITIVE_INFINITY : this.segments[i + 1].baseOffset;
      const truncated = await segment.recover(previousEnd, (b) => this.noteRecoveredEpoch(b), nextBase);
      this.recovery.segmentsRecovered++;
      this.recovery.bytesTruncated += truncated;
      // A sealed segment's rebuilt indexes go back to disk, so the next start need not rebuild.
      if (!isLast && truncated === 0 && segment.size > 0) await segment.persistIndexes();
      if (truncated > 0 || (segment.size === 0 && !isLast)) {
        // Everything after a torn or invalid batch is unreachable: drop the later segments.
        const dropped = this.segments.splice(i + 1);
        for (const s of dropped) {
          this.recovery.bytesTruncated += s.size;
          await s.markDeleted();
          await s.deleteFiles();
        }
        await segment.removeIndexFiles();
        if (truncated > 0) await this.sfs.fdatasync(segment.fd);
        break;
      }
    }
    if (this.recovery.segmentsRecovered > 0) {
      // What recovery read may have come from the page cache only: make it durable now.
      await this.sfs.fdatasync(this.active.fd);
      await this.sfs.fsyncDir(this.dir);
    }
    this.nextOffset = this.endOffset = this.active.nextOffset;
    this.flushedOffset = this.endOffset;
    this.startOffset = Math.min(
      Math.max(options.logStartOffset ?? 0, this.segments[0].baseOffset),
      this.endOffset,
    );
    this.hw = Math.min(Math.max(options.highWatermark ?? this.startOffset, this.startOffset), this.endOffset);
    this.epochs.truncateFromEnd(this.endOffset);
    this.epochs.truncateFromStart(this.startOffset);
    await this.epochs.flush();
    const checkpoint = parseCleanerCheckpoint(await this.sfs.readFile(this.cleanerCheckpointFile));
    this.cleanerCheckpoint = Math.min(checkpoint ?? 0, this.endOffset);
    this.startFlushTimer();
  }

  private noteRecoveredEpoch(batch: ScannedBatch): void {
    if (batch.partitionLeaderEpoch >= 0 && batch.partitionLeaderEpoch >= this.epochs.latestEpoch()) {
      this.epochs.assign(batch.partitionLeaderEpoch, batch.baseOffset);
    }
  }

  /**
   * Finishes or rolls back what a crash interrupted, by suffix: `.deleted`, `.cleaned` and `.tmp`
   * files are removed; a `.swap` segment replaces the segments whose offsets it covers. Orphan
   * index files are removed. Returns the base offsets of the segments to load, ascending.
   */
  private async cleanDirectory(): Promise<number[]> {
    const names = await this.sfs.readdir(this.dir);
    for (const name of names) {
      if (name.endsWith(DELETED_SUFFIX) || name.endsWith(CLEANED_SUFFIX) || name.endsWith(".tmp")) {
        await this.sfs.unlink(path.join(this.dir, name));
      }
    }
    for (const name of names) {
      const parsed = parseSegmentFileName(name);
      if (parsed?.suffix === LOG_SUFFIX + SWAP_SUFFIX) await this.completeSwap(parsed.baseOffset, names);
    }
    const after = await this.sfs.readdir(this.dir);
    const bases = new Set<number>();
    for (const name of after) {
      const parsed = parseSegmentFileName(name);
      if (parsed?.suffix === LOG_SUFFIX) bases.add(parsed.baseOffset);
    }
    for (const name of after) {
      const parsed = parseSegmentFileName(name);
      if (!parsed) continue;
      const isIndex = parsed.suffix === INDEX_SUFFIX || parsed.suffix === TIME_INDEX_SUFFIX;
      if ((isIndex && !bases.has(parsed.baseOffset)) || parsed.suffix.endsWith(SWAP_SUFFIX)) {
        await this.sfs.unlink(path.join(this.dir, name));
      }
    }
    return [...bases].sort((a, b) => a - b);
  }

  private async completeSwap(base: number, names: string[]): Promise<void> {
    const swapFile = path.join(this.dir, segmentFileName(base, LOG_SUFFIX + SWAP_SUFFIX));
    const fd = await this.sfs.open(swapFile, "read");
    let last = base;
    try {
      const size = await this.sfs.fileSize(fd);
      await scanBatches(this.sfs, fd, 0, size, false, (b) => {
        last = b.lastOffset;
        return true;
      });
    } finally {
      await this.sfs.close(fd);
    }
    for (const name of names) {
      const parsed = parseSegmentFileName(name);
      if (!parsed || parsed.baseOffset < base || parsed.baseOffset > last) continue;
      if (
        parsed.suffix === LOG_SUFFIX ||
        parsed.suffix === INDEX_SUFFIX ||
        parsed.suffix === TIME_INDEX_SUFFIX
      ) {
        await this.sfs.unlink(path.join(this.dir, name));
      }
    }
    await this.sfs.rename(swapFile, path.join(this.dir, segmentFileName(base, LOG_SUFFIX)));
    await this.sfs.fsyncDir(this.dir);
  }

  private get active(): LogSegment {
    return this.segments[this.segments.length - 1];
  }

  // ---------------------------------------------------------------------------------------------
  // Appends and the writer

  /**
   * Validates `records` (whole batches), assigns offsets by patching each baseOffset (and the
   * partition leader epoch), and resolves once the bytes are written and, under
   * flush.policy=always, fdatasync'ed. Throws synchronously-rejected KafkaErrors for invalid input
   * (nothing written) and KAFKA_STORAGE_ERROR once the log has failed.
   */
  append(records: Buffer, options: AppendOptions = {}): Promise<AppendResult> {
    try {
      return this.enqueueAppend(records, options);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * As `append`, but a batch that fails validation (or a failed log) throws synchronously, before
   * any offset is assigned: a caller can keep per-append state (producer sequences) in step with
   * the offsets the log hands out.
   */
  appendOrThrow(records: Buffer, options: AppendOptions = {}): Promise<AppendResult> {
    return this.enqueueAppend(records, options);
  }

  /** Appends batches replayed from the journal: they keep their offsets (see `replayed`). */
  appendReplayed(records: Buffer): Promise<AppendResult> {
    return this.append(records, { keepOffsets: true, allowControl: true, replayed: true });
  }

  /** Runs the checks of `append` on `records` (storage/validate.ts); throws the first fault. */
  validate(records: Buffer, options: AppendOptions = {}, nowMs = this.now()): ValidAppend {
    return validateBatches(records, {
      config: options.replayed ? relaxed(this.config) : this.config,
      nowMs,
      allowControl: options.allowControl,
      recordsChecked: options.replayed,
    });
  }

  /**
   * Every check of `append`, compressed batches' records included (decompressed off the event
   * loop where large, storage/decompress.ts), and a leader append's recompression for
   * compression.type (storage/rewrite.ts `recompressAhead`, as off the loop); pass the result to
   * `append` as `validated`. Results resolve in call order, so callers that continue
   * synchronously into `append` keep their order.
   */
  validateRecords(records: Buffer, options: AppendOptions = {}): Promise<ValidAppend> {
    const nowMs = this.now();
    const previous = this.recordChecks;
    const check = async (): Promise<ValidAppend> => {
      const valid = this.validate(records, options, nowMs);
      await previous;
      const checked = valid.recordsChecked
        ? valid
        : await checkCompressedRecords(records, valid, { config: this.config, nowMs });
      // Recompression for compression.type, off the event loop where large (storage/rewrite.ts).
      if (options.keepOffsets) return checked;
      return recompressAhead(records, checked, this.config, nowMs);
    };
    const result = check();
    this.recordChecks = result.then(noop, noop);
    return result;
  }

  private enqueueAppend(records: Buffer, options: AppendOptions): Promise<AppendResult> {
    this.ensureWritable();
    const nowMs = this.now();
    let valid = options.validated ?? this.validate(records, options, nowMs);
    if (!valid.recordsChecked && !options.keepOffsets) {
      // Appends that did not come through validateRecords (the broker's own): bounded, on the loop.
      valid = checkCompressedRecordsSync(records, valid, { config: this.config, nowMs });
    }
    let stored = records;
    let logAppendTimeMs = -1;
    if (!options.keepOffsets) {
      // Recompression, LogAppendTime and the true max timestamp (storage/rewrite.ts).
      ({ buf: stored, valid, logAppendTimeMs } = rewriteBatches(records, valid, this.config, nowMs));
    }
    const baseOffset = options.keepOffsets ? readInt64(records, 0) : this.nextOffset;
    const next = options.keepOffsets
      ? this.keepFollowerOffsets(records, valid.batches)
      : this.assignOffsets(stored, valid.batches, baseOffset, options.leaderEpoch);
    // Callers read the first assigned offset from the buffer they gave (appendOrThrow).
    if (stored !== records) writeInt64(records, 0, baseOffset);
    this.nextOffset = next;
    return new Promise<AppendResult>((resolve, reject) => {
      this.queue.push({
        kind: "append",
        buf: stored,
        batches: valid.batches,
        baseOffset,
        lastOffset: next - 1,
        recordCount: valid.recordCount,
        logAppendTimeMs,
        resolve,
        reject,
      });
      this.kick();
    });
  }

  /** Patches offsets (and the leader epoch) into leader batches; returns the next offset. */
  private assignOffsets(
    records: Buffer,
    batches: ValidBatch[],
    baseOffset: number,
    leaderEpoch?: number,
  ): number {
    let next = baseOffset;
    for (const b of batches) {
      writeInt64(records, b.position, next);
      if (leaderEpoch !== undefined)
        records.writeInt32BE(leaderEpoch, b.position + PARTITION_LEADER_EPOCH_OFFSET);
      next += b.recordCount;
    }
    if (leaderEpoch !== undefined && leaderEpoch > this.epochs.latestEpoch())
      this.epochs.assign(leaderEpoch, baseOffset);
    return next;
  }

  /**
   * Checks that a follower's copied batches continue the log with increasing offsets, then records
   * their epochs; nothing changes unless every batch passes. Returns the next offset.
   */
  private keepFollowerOffsets(records: Buffer, batches: ValidBatch[]): number {
    let next = this.nextOffset;
    for (const b of batches) {
      const batchBase = readInt64(records, b.position);
      if (batchBase < next) {
        throw new KafkaError("INVALID_RECORD", `batch offset ${batchBase} is below the log end ${next}`);
      }
      next = batchBase + records.readInt32BE(b.position + LAST_OFFSET_DELTA_OFFSET) + 1;
    }
    for (const b of batches) {
      const epoch = records.readInt32BE(b.position + PARTITION_LEADER_EPOCH_OFFSET);
      if (epoch >= 0 && epoch > this.epochs.latestEpoch())
        this.epochs.assign(epoch, readInt64(records, b.position));
    }
    return next;
  }

  private ensureWritable(): void {
    if (this.failure) throw this.failure;
    if (this.closed) throw new KafkaError("KAFKA_STORAGE_ERROR", `log ${this.dir} is closed`);
  }

  /** Runs `run` in order with appends, on the writer. */
  private enqueueTask(run: () => Promise<void>): Promise<void> {
    try {
      this.ensureWritable();
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ kind: "task", run, resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    if (this.writing) return;
    this.writing = true;
    // Start on the next microtask so appends made in the same turn join one group.
    this.writer = Promise.resolve().then(() => this.drain());
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0 && !this.failure) {
        const head = this.queue[0];
        if (head.kind === "task") {
          this.queue.shift();
          try {
            // Tasks see a quiet log: no flush-behind still running on a file they may change.
            if (this.flushBehind) await this.flushBehind;
            await head.run();
            head.resolve();
          } catch (err) {
            head.reject(err);
            if (this.failure) break;
          }
          continue;
        }
        await this.writeGroup();
      }
    } finally {
      this.writing = false;
      this.writer = null;
      if (this.queue.length > 0 && !this.failure) this.kick();
    }
  }

  private needsRoll(segment: LogSegment, position: number, append: PendingAppend): boolean {
    if (position === 0) return false;
    const bytes = append.buf.length;
    return (
      position + bytes > this.config.segmentBytes ||
      position + bytes > MAX_SEGMENT_POSITION ||
      append.lastOffset - segment.baseOffset > MAX_RELATIVE_OFFSET ||
      segment.indexIsFull() ||
      (segment.firstAppendMs !== null && this.now() - segment.firstAppendMs >= this.config.segmentMs)
    );
  }

  private async writeGroup(): Promise<void> {
    const first = this.queue[0] as PendingAppend;
    try {
      if (this.needsRoll(this.active, this.active.writePosition, first)) await this.rollNow(first.baseOffset);
    } catch (err) {
      this.fail(err);
      return;
    }
    const segment = this.active;
    const start = segment.writePosition;
    const group: PendingAppend[] = [];
    let bytes = 0;
    while (this.queue.length > 0 && group.length < MAX_GROUP_APPENDS && bytes < MAX_GROUP_BYTES) {
      const next = this.queue[0];
      if (next.kind !== "append") break;
      if (group.length > 0 && this.needsRoll(segment, start + bytes, next)) break;
      group.push(next);
      this.queue.shift();
      bytes += next.buf.length;
    }
    // A group this large is flushed in its own segment: the journal would only write it twice.
    const journaled =
      this.journal !== null && this.config.flushPolicy === "always" && bytes < JOURNAL_BYPASS_BYTES;
    try {
      segment.writePosition = start + bytes;
      const buffers = group.map((a) => a.buf);
      if (journaled) {
        // The journal makes the group durable; the segment may take it later (write-behind),
        // so many partitions' small appends cost one write each per WRITE_BEHIND_BYTES.
        const journal = this.journal as LogJournal;
        const commit = journal.commit(first.baseOffset, group[group.length - 1].lastOffset, buffers);
        if (segment.fitsBehind(bytes)) {
          segment.hold(buffers, bytes);
          await commit;
        } else {
          // Both settle before a failure is handled: heal must not race a write still in flight.
          const [written, committed] = await Promise.allSettled([segment.writeThrough(buffers), commit]);
          if (written.status === "rejected") throw written.reason;
          if (committed.status === "rejected") throw committed.reason;
        }
      } else {
        await segment.writeThrough(buffers);
        if (this.config.flushPolicy === "always") await this.sfs.fdatasync(segment.fd);
      }
      if (this.epochs.isDirty()) await this.epochs.flush();
    } catch (err) {
      this.fail(err, group);
      return;
    }
    const nowMs = this.now();
    let position = start;
    for (const a of group) {
      for (const b of a.batches) {
        const base = readInt64(a.buf, b.position);
        const last = base + a.buf.readInt32BE(b.position + LAST_OFFSET_DELTA_OFFSET);
        segment.indexBatch(base, last, b.maxTimestamp, position, b.size);
        position += b.size;
      }
    }
    segment.size = position;
    segment.lastModifiedMs = nowMs;
    if (segment.firstAppendMs === null) segment.firstAppendMs = nowMs;
    this.endOffset = group[group.length - 1].lastOffset + 1;
    // Journaled bytes are durable, but the recovery point counts segment flushes only (a
    // segment flush covers everything written before it, held bytes included).
    if (this.config.flushPolicy === "always" && !journaled) this.flushedOffset = this.endOffset;
    for (const a of group) {
      a.resolve({
        baseOffset: a.baseOffset,
        lastOffset: a.lastOffset,
        recordCount: a.recordCount,
        logStartOffset: this.startOffset,
        logAppendTimeMs: a.logAppendTimeMs,
      });
    }
    this.hooks.onAppend?.();
    if (this.config.flushPolicy !== "always") {
      this.unflushedBytes += bytes;
      if (this.unflushedBytes >= FLUSH_BEHIND_BYTES && !this.flushBehind) this.startFlushBehind(segment);
    }
  }

  /**
   * Under flush.policy os and interval, fdatasyncs the active segment in the background once
   * FLUSH_BEHIND_BYTES are unflushed, while appends go on: the disk writes while the writer
   * validates and appends, the recovery point advances, and a later roll or close has little left
   * to flush. Acknowledgements never wait for it.
   */
  private startFlushBehind(segment: LogSegment): void {
    const target = this.endOffset;
    this.unflushedBytes = 0;
    this.flushBehind = this.sfs
      .fdatasync(segment.fd)
      .then(
        () => {
          if (!this.failure)
            this.flushedOffset = Math.max(this.flushedOffset, Math.min(target, this.endOffset));
        },
        (err) => this.fail(err),
      )
      .finally(() => {
        this.flushBehind = null;
      });
  }

  private fail(err: unknown, group: PendingAppend[] = [], healable = true): void {
    const reason = err instanceof Error ? err.message : String(err);
    const first = this.failure === null;
    this.failure = new KafkaError("KAFKA_STORAGE_ERROR", `log ${this.dir} failed: ${reason}`, { cause: err });
    if (!healable) this.unhealable = true;
    for (const a of group) a.reject(this.failure);
    for (const p of this.queue.splice(0)) p.reject(this.failure);
    if (first && !this.closing) this.hooks.onFailed?.(this.failure);
  }

  /**
   * Recovers from a failed write, flush or open: once the writer and any flush-behind have
   * stopped, opens the active segment's file again (proving a descriptor can be had after
   * EMFILE), drops every byte past the committed end (in memory or in the file), proves the file
   * takes a write and a sync again (`proveWritable`), proves the unflushed tail (every batch's
   * CRC, ending at the log end) and writes it again (`proveAndRewriteTail`: after a failed
   * fdatasync the page cache cannot be trusted to hold it dirty), fdatasyncs it, and journals a
   * `synced` marker. Only then are appends accepted, from the log end: what was refused never
   * becomes visible, and the offsets it was given are reused. Throws, still failed, when a step
   * fails or the failure needs a restart (a truncation or compaction swap cut short).
   */
  async heal(): Promise<void> {
    if (!this.failure) return;
    if (this.closed || this.closing) throw new KafkaError("KAFKA_STORAGE_ERROR", `log ${this.dir} is closed`);
    if (this.unhealable) throw this.failure;
    while (this.writer || this.flushBehind) await (this.writer ?? this.flushBehind);
    const segment = this.active;
    try {
      await this.sfs.close(await this.sfs.open(segment.file(LOG_SUFFIX), "read"));
      segment.dropUncommitted();
      await segment.writeOut();
      await this.sfs.ftruncate(segment.fd, segment.size);
      segment.onDisk = segment.size;
      await proveWritable(this.sfs, segment.fd, segment.size);
      const from =
        this.flushedOffset > segment.baseOffset ? (await segment.positionOf(this.flushedOffset)).position : 0;
      await proveAndRewriteTail(this.sfs, segment.fd, from, segment.size, this.endOffset);
      await this.sfs.fdatasync(segment.fd);
      await this.sfs.fsyncDir(this.dir);
      this.epochs.truncateFromEnd(this.endOffset);
      if (this.epochs.isDirty()) await this.epochs.flush();
      if (this.journal) await this.journal.mark("synced", this.endOffset);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new KafkaError("KAFKA_STORAGE_ERROR", `log ${this.dir} still failing: ${reason}`, { cause: err });
    }
    this.nextOffset = this.flushedOffset = this.endOffset;
    this.unflushedBytes = 0;
    this.failure = null;
  }

  /** Seals the active segment (flush, final index entries, index files) and starts a new one. */
  private async rollNow(baseOffset: number): Promise<void> {
    const old = this.active;
    await old.writeOut();
    await this.sfs.fdatasync(old.fd);
    await old.persistIndexes();
    const segment = await LogSegment.create(this.sfs, this.dir, baseOffset, this.config, this.now());
    // Listed before the directory sync, so that close() closes it even if the sync fails.
    this.segments.push(segment);
    await this.sfs.fsyncDir(this.dir);
    this.flushedOffset = Math.max(this.flushedOffset, baseOffset);
  }

  /** Rolls the active segment now if it holds any data (a test and retention hook). */
  roll(): Promise<void> {
    return this.enqueueTask(async () => {
      if (this.active.size === 0) return;
      try {
        await this.rollNow(this.endOffset);
      } catch (err) {
        this.fail(err);
        throw this.failure;
      }
    });
  }

  /** Flushes everything written so far and moves the recovery point to the log end. */
  flush(): Promise<void> {
    return this.enqueueTask(async () => {
      const target = this.endOffset;
      if (target <= this.flushedOffset) return;
      try {
        await this.active.writeOut();
        await this.sfs.fdatasync(this.active.fd);
      } catch (err) {
        this.fail(err);
        throw this.failure;
      }
      this.flushedOffset = target;
    });
  }

  private startFlushTimer(): void {
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.flushTimer = null;
    if (this.config.flushPolicy !== "interval" || this.closed) return;
    this.flushTimer = setInterval(() => {
      if (this.endOffset > this.flushedOffset && !this.failure && !this.closed) this.flush().catch(() => {});
    }, this.config.flushMs);
    this.flushTimer.unref();
  }

  // ---------------------------------------------------------------------------------------------
  // Reads

  /**
   * Reads whole batches starting with the one holding `offset`, from one segment, up to
   * `maxBytes` (at least one batch if `minOneBatch`). Throws OFFSET_OUT_OF_RANGE for an offset
   * below the log start or above the log end; at the log end the result is empty.
   */
  async read(offset: number, options: ReadOptions): Promise<ReadResult> {
    const result = (records: Buffer): ReadResult => ({
      records,
      logStartOffset: this.startOffset,
      logEndOffset: this.endOffset,
      highWatermark: this.hw,
    });
    if (offset < this.startOffset || offset > this.endOffset) {
      throw new KafkaError(
        "OFFSET_OUT_OF_RANGE",
        `offset ${offset} is outside [${this.startOffset}, ${this.endOffset}] of ${this.dir}`,
      );
    }
    const limit = Math.min(options.maxOffset ?? this.endOffset, this.endOffset);
    if (offset >= limit) return result(EMPTY);
    const minOne = options.minOneBatch ?? true;
    for (let i = this.segmentIndexFor(offset); i < this.segments.length; i++) {
      const segment = this.segments[i];
      let data: Buffer;
      try {
        data = await segment.read(offset, options.maxBytes, limit, minOne);
      } catch (err) {
        // A segment closed under the read by retention: the offset moved out of range.
        if (KafkaError.is(err, "KAFKA_STORAGE_ERROR") && offset < this.startOffset) {
          throw new KafkaError("OFFSET_OUT_OF_RANGE", `offset ${offset} was deleted by retention`);
        }
        throw err;
      }
      if (data.length > 0) return result(data);
    }
    return result(EMPTY);
  }

  /** Index in `segments` of the last segment whose base offset is <= `offset` (0 if none). */
  private segmentIndexFor(offset: number): number {
    let lo = 0;
    let hi = this.segments.length - 1;
    let found = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.segments[mid].baseOffset <= offset) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  /**
   * The first record whose timestamp is >= `timestamp` (ListOffsets by time): its offset and
   * timestamp, or null when every record is older.
   */
  async offsetForTimestamp(timestamp: number): Promise<TimestampOffset | null> {
    for (const segment of [...this.segments]) {
      if (segment.maxTimestamp < timestamp) continue;
      const found = await this.searchSegment(segment, timestamp);
      if (found) return found;
    }
    return null;
  }

  /** The record with the largest timestamp (ListOffsets MAX_TIMESTAMP), or null if none. */
  async maxTimestampOffset(): Promise<TimestampOffset | null> {
    let max = -1;
    for (const s of this.segments) if (s.maxTimestamp > max) max = s.maxTimestamp;
    return max < 0 ? null : this.offsetForTimestamp(max);
  }

  /**
   * The first record at or after `timestamp` in `segment`. A compressed batch that may hold it is
   * copied out of the scan and decompressed through storage/decompress.ts (bounded, off the event
   * loop when large); the scan resumes after it when it does not.
   */
  private async searchSegment(segment: LogSegment, timestamp: number): Promise<TimestampOffset | null> {
    let from = segment.index.lookup(segment.timeIndex.searchStart(timestamp));
    segment.acquire();
    try {
      // Each round moves `from` past one batch of the segment: bounded by its batch count.
      for (;;) {
        let found: TimestampOffset | null = null;
        let compressed: ScannedBatch | null = null;
        await scanBatches(segment.reader, segment.fd, from, segment.size, false, (b) => {
          if (b.maxTimestamp < timestamp || b.lastOffset < this.startOffset) return true;
          if (needsDecompression(b)) {
            compressed = { ...b, buf: Buffer.from(b.buf.subarray(b.at, b.at + b.size)), at: 0 };
            return false;
          }
          found = firstRecordAtOrAfter(b, timestamp, this.startOffset);
          return found === null;
        });
        const batch = compressed as ScannedBatch | null;
        if (batch === null) return found;
        found = await firstCompressedRecordAtOrAfter(batch, timestamp, this.startOffset, this.config);
        if (found) return found;
        from = batch.position + batch.size;
      }
    } finally {
      segment.release();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Retention, truncation, deletion

  /**
   * Deletes sealed segments past retention.ms (by their newest timestamp) or beyond
   * retention.bytes (oldest first), and moves the log start offset. Only segments whose records
   * all lie below the high watermark are deleted (as Kafka's `deletableSegments`): a record a
   * follower has not fetched yet is never expired, and the log start never passes the high
   * watermark. Never touches the active segment, except that an active segment wholly past
   * retention.ms and below the high watermark is rolled so the next check can delete it.
   * Returns the number of segments deleted.
   */
  async applyRetention(nowMs = this.now()): Promise<number> {
    if (this.closed || !this.config.cleanupPolicy.includes("delete")) return 0;
    const { retentionMs, retentionBytes } = this.config;
    let size = this.sizeBytes();
    let count = 0;
    while (count < this.segments.length - 1) {
      const segment = this.segments[count];
      if (this.segments[count + 1].baseOffset > this.hw) break;
      const expired = retentionMs >= 0 && nowMs - segment.largestTimestamp() > retentionMs;
      const oversized = retentionBytes >= 0 && size - segment.size >= retentionBytes;
      if (!expired && !oversized) break;
      size -= segment.size;
      count++;
    }
    const active = this.active;
    const activeExpired =
      count === this.segments.length - 1 &&
      active.size > 0 &&
      this.endOffset <= this.hw &&
      retentionMs >= 0 &&
      nowMs - active.largestTimestamp() > retentionMs;
    if (count > 0) await this.deleteOldestSegments(count);
    if (activeExpired && !this.failure) await this.roll();
    return count;
  }

  /** Advances the log start offset to `offset` (DeleteRecords), deleting segments wholly below it. */
  async advanceLogStartOffset(offset: number): Promise<void> {
    if (offset > this.hw && offset > this.endOffset) {
      throw new KafkaError(
        "OFFSET_OUT_OF_RANGE",
        `cannot delete records beyond the log end ${this.endOffset}`,
      );
    }
    if (offset <= this.startOffset) return;
    this.startOffset = offset;
    let count = 0;
    while (count < this.segments.length - 1 && this.segments[count + 1].baseOffset <= offset) count++;
    if (count > 0) await this.deleteOldestSegments(count);
    this.epochs.truncateFromStart(offset);
    await this.epochs.flush();
  }

  private deleteOldestSegments(count: number): Promise<void> {
    return this.withSegmentLock(() => this.deleteOldestSegmentsLocked(count));
  }

  private async deleteOldestSegmentsLocked(count: number): Promise<void> {
    count = Math.min(count, this.segments.length - 1);
    if (count <= 0) return;
    const removed = this.segments.splice(0, count);
    this.startOffset = Math.max(this.startOffset, this.segments[0].baseOffset);
    if (this.hw < this.startOffset) this.hw = this.startOffset;
    this.epochs.truncateFromStart(this.startOffset);
    for (const segment of removed) await segment.markDeleted();
    await this.sfs.fsyncDir(this.dir);
    await this.epochs.flush();
    for (const segment of removed) this.scheduleDelete(segment);
  }

  private scheduleDelete(segment: LogSegment): void {
    const timer = setTimeout(() => {
      this.deleteTimers.delete(segment);
      const deletion = segment.deleteFiles().catch(() => {});
      this.deletions.add(deletion);
      void deletion.then(() => this.deletions.delete(deletion));
    }, this.config.fileDeleteDelayMs);
    timer.unref();
    this.deleteTimers.set(segment, timer);
  }

  private withSegmentLock<T>(run: () => Promise<T>): Promise<T> {
    const next = this.segmentLock.then(run);
    this.segmentLock = next.then(
      () => {},
      () => {},
    );
    return next;
  }

  // ---------------------------------------------------------------------------------------------
  // Compaction (see cleaner.ts)

  /** Offset below which the log has been compacted; the dirty part starts here. */
  get cleanerCheckpointOffset(): number {
    return this.cleanerCheckpoint;
  }

  private get cleanerCheckpointFile(): string {
    return path.join(this.dir, CLEANER_CHECKPOINT_FILE);
  }

  /**
   * Runs one compaction pass over the closed segments, if the log is compacted and due
   * (min.cleanable.dirty.ratio, max.compaction.lag.ms) or `force`. Appends and reads go on beside
   * it. A call while a pass runs returns that pass. Returns what the pass did.
   */
  compact(nowMs = this.now(), options: CompactOptions = {}): Promise<CompactStats> {
    if (this.cleaning) return this.cleaning;
    const pass = this.compactPass(nowMs, options).finally(() => {
      this.cleaning = null;
    });
    this.cleaning = pass;
    return pass;
  }

  private async cleanerStep(step: CleanerStep, baseOffset: number): Promise<void> {
    await this.hooks.onCleanerStep?.(step, baseOffset);
  }

  private async compactPass(nowMs: number, options: CompactOptions): Promise<CompactStats> {
    const config = this.config;
    const all = this.segments.slice();
    const closedSegments = all.slice(0, -1);
    let end = closedSegments.length;
    if (config.minCompactionLagMs > 0) {
      end = closedSegments.findIndex((s) => nowMs - s.largestTimestamp() < config.minCompactionLagMs);
      if (end < 0) end = closedSegments.length;
    }
    // Only committed records are cleaned (Kafka's first uncleanable offset is at most the high
    // watermark): a record above it may yet be truncated away, and the older record of its key
    // that cleaning would drop is the one the partition keeps then.
    const aboveHw = closedSegments.findIndex((_, i) => all[i + 1].baseOffset > this.hw);
    if (aboveHw >= 0) end = Math.min(end, aboveHw);
    const cleanable = closedSegments.slice(0, end);
    const cleanEnd = all[end].baseOffset;
    const stats = emptyStats(cleanEnd);
    if (this.closed || this.closing) return { ...stats, skipped: "closed" };
    if (this.failure) return { ...stats, skipped: "failed" };
    if (config.cleanupPolicy === "delete") return { ...stats, skipped: "not-compacted" };
    if (cleanable.length === 0) return { ...stats, skipped: "nothing-cleanable" };
    const checkpoint = this.cleanerCheckpoint;
    const truncationsBefore = this.truncations;
    // Dirty: the segments holding any offset at or above the checkpoint.
    const firstDirty = cleanable.findIndex((_, i) => all[i + 1].baseOffset > checkpoint);
    let total = 0;
    let dirty = 0;
    cleanable.forEach((s, i) => {
      total += s.size;
      if (firstDirty >= 0 && i >= firstDirty) dirty += s.size;
    });
    stats.dirtyRatio = total > 0 ? dirty / total : 0;
    const gone = () => cleanable.some((s) => !this.segments.includes(s));
    const map: OffsetMap = new Map();
    try {
      let due = dirty > 0 && stats.dirtyRatio >= config.minCleanableDirtyRatio;
      if (!due && dirty > 0 && config.maxCompactionLagMs < Number.MAX_SAFE_INTEGER) {
        const ts = await firstBatchTimestamp(cleanable[firstDirty]);
        due = ts !== null && ts >= 0 && nowMs - ts > config.maxCompactionLagMs;
      }
      if (!due && !options.force) return { ...stats, skipped: "below-dirty-ratio" };
      if (firstDirty >= 0)
        for (const s of cleanable.slice(firstDirty)) {
          if (this.closing) return { ...stats, skipped: "closed" };
          await addToOffsetMap(s, map);
        }
    } catch (err) {
      // A segment deleted under the pass by retention or truncation: try again next time.
      if (gone()) return { ...stats, skipped: "nothing-cleanable" };
      throw err;
    }
    const ctx = {
      map,
      nowMs,
      config,
      stats,
      aborted: () => this.closing || this.failure !== null,
      beforeSync: (base: number) => this.cleanerStep("cleaned-written", base),
    };
    for (const old of cleanable) {
      if (ctx.aborted()) return { ...stats, skipped: this.failure ? "failed" : "closed" };
      if (!this.segments.includes(old)) {
        stats.segmentsSkipped++;
        continue;
      }
      const cleanedFile = old.file(LOG_SUFFIX + CLEANED_SUFFIX);
      let cleaned: CleanedSegment;
      try {
        if (!(await segmentNeedsCleaning(old, ctx))) continue;
        cleaned = await writeCleanedSegment(this.sfs, old, cleanedFile, ctx);
        await this.cleanerStep("cleaned-synced", old.baseOffset);
      } catch (err) {
        await this.sfs.unlink(cleanedFile).catch(() => {});
        if (!this.segments.includes(old)) {
          stats.segmentsSkipped++;
          continue;
        }
        throw err;
      }
      const before = old.size;
      if (await this.withSegmentLock(() => this.swapIn(old, cleaned, nowMs))) {
        stats.segmentsCleaned++;
        stats.bytesBefore += before;
        stats.bytesAfter += cleaned.size;
      } else {
        stats.segmentsSkipped++;
      }
    }
    if (this.truncations === truncationsBefore && !ctx.aborted()) {
      this.cleanerCheckpoint = Math.max(Math.min(cleanEnd, this.endOffset), this.cleanerCheckpoint);
      try {
        await writeFileAtomic(
          this.sfs,
          this.cleanerCheckpointFile,
          Buffer.from(`${this.cleanerCheckpoint}\n`),
        );
      } catch (err) {
        // Only costs a pass: a stale checkpoint makes more of the log look dirty.
        await this.sfs.unlink(`${this.cleanerCheckpointFile}.tmp`).catch(() => {});
        throw err;
      }
      await this.cleanerStep("checkpointed", cleanEnd);
    }
    return stats;
  }

  /**
   * Replaces `old` with its cleaned copy: `.cleaned` -> `.swap`, old files -> `.deleted`, `.swap`
   * -> `.log`, the segment object swapped in the list, index files written, old files deleted
   * after file.delete.delay.ms. Runs under the segment lock. A failure once `.swap` may exist
   * fails the log: the files are mid-replacement, and the next open finishes the swap.
   */
  private async swapIn(old: LogSegment, cleaned: CleanedSegment, nowMs: number): Promise<boolean> {
    if (!this.segments.includes(old) || this.closing || this.failure) {
      await this.sfs.unlink(cleaned.file).catch(() => {});
      return false;
    }
    const base = old.baseOffset;
    const swapFile = old.file(LOG_SUFFIX + SWAP_SUFFIX);
    try {
      await this.sfs.rename(cleaned.file, swapFile);
      await this.sfs.fsyncDir(this.dir);
      await this.cleanerStep("swap-renamed", base);
      await old.markDeleted();
      await this.cleanerStep("old-marked-deleted", base);
      await this.sfs.rename(swapFile, old.file(LOG_SUFFIX));
      await this.sfs.fsyncDir(this.dir);
      await this.cleanerStep("swap-installed", base);
      const segment = await LogSegment.open(this.sfs, this.dir, base, this.config, nowMs);
      if (segment.size !== cleaned.size) {
        await segment.close();
        throw new Error(`cleaned segment ${base} has ${segment.size} bytes, ${cleaned.size} written`);
      }
      for (const b of cleaned.batches)
        segment.indexBatch(b.baseOffset, b.lastOffset, b.maxTimestamp, b.position, b.size);
      segment.lastModifiedMs = old.lastModifiedMs;
      // The swap readers see: synchronous, and only of a closed segment.
      this.segments[this.segments.indexOf(old)] = segment;
      this.scheduleDelete(old);
      await segment.persistIndexes();
      await this.cleanerStep("swapped", base);
    } catch (err) {
      this.fail(err, [], false);
      throw this.failure;
    }
    return true;
  }

  /**
   * Removes every batch at or after `offset` (a whole batch when `offset` falls inside it), as a
   * follower does before it copies a new leader. Lowers the high watermark and recovery point.
   */
  truncateTo(offset: number): Promise<void> {
    return this.enqueueTask(() => this.withSegmentLock(() => this.truncateToLocked(offset)));
  }

  private async truncateToLocked(offset: number): Promise<void> {
    {
      if (offset >= this.endOffset) return;
      if (offset <= this.startOffset) {
        await this.resetTo(offset);
        return;
      }
      const keep = this.segmentIndexFor(offset);
      if ((await this.segments[keep].positionOf(offset)).baseOffset < this.startOffset) {
        // The batch holding `offset` straddles the log start: cutting it would leave the log end
        // below the start. Nothing readable remains, so the log restarts empty at its start.
        await this.resetTo(this.startOffset);
        return;
      }
      try {
        if (this.journal) {
          // The journal's older entries for this log will not be replayed past the marker: what
          // they hold must be in the segment first.
          await this.active.writeOut();
          await this.sfs.fdatasync(this.active.fd);
          this.flushedOffset = this.endOffset;
          await this.journal.mark("truncate", offset);
        }
        const dropped = this.segments.splice(keep + 1);
        for (const s of dropped) await s.markDeleted();
        for (const s of dropped) this.scheduleDelete(s);
        const segment = this.active;
        const end = await segment.truncateTo(offset);
        await segment.removeIndexFiles();
        await this.sfs.fdatasync(segment.fd);
        await this.sfs.fsyncDir(this.dir);
        // The truncation is on disk: replay must not apply it again over later appends.
        if (this.journal) await this.journal.mark("synced", end);
        this.nextOffset = this.endOffset = end;
      } catch (err) {
        this.fail(err, [], false);
        throw this.failure;
      }
      this.afterTruncation();
    }
  }

  /** Deletes every segment and restarts the log empty at `offset`. */
  truncateFullyAndStartAt(offset: number): Promise<void> {
    return this.enqueueTask(() => this.withSegmentLock(() => this.resetTo(offset)));
  }

  private async resetTo(offset: number): Promise<void> {
    try {
      if (this.journal) await this.journal.mark("reset", offset);
      const dropped = this.segments.splice(0);
      for (const s of dropped) await s.markDeleted();
      for (const s of dropped) this.scheduleDelete(s);
      this.segments.push(await LogSegment.create(this.sfs, this.dir, offset, this.config, this.now()));
      await this.sfs.fsyncDir(this.dir);
      if (this.journal) await this.journal.mark("synced", offset);
    } catch (err) {
      this.fail(err, [], false);
      throw this.failure;
    }
    this.nextOffset = this.endOffset = this.startOffset = offset;
    this.epochs.clear();
    await this.epochs.flush();
    this.afterTruncation();
  }

  private afterTruncation(): void {
    this.hw = Math.min(Math.max(this.hw, this.startOffset), this.endOffset);
    this.flushedOffset = Math.min(this.flushedOffset, this.endOffset);
    this.epochs.truncateFromEnd(this.endOffset);
    // Offsets at and above the new end will be new records: they are dirty.
    this.truncations++;
    this.cleanerCheckpoint = Math.min(this.cleanerCheckpoint, this.endOffset);
    this.hooks.onTruncated?.();
  }

  /**
   * Closes the log: waits for queued appends, flushes, writes the active segment's indexes (so a
   * clean reopen reads no log data) and the epoch checkpoint, and closes every file.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closing = true;
    if (this.cleaning) await this.cleaning.catch(() => {});
    if (!this.failure) {
      await this.enqueueTask(async () => {
        try {
          await this.active.writeOut();
          // A log flushed to its end (idle since) has nothing for an fdatasync to make durable.
          if (this.flushedOffset < this.endOffset) await this.sfs.fdatasync(this.active.fd);
          this.flushedOffset = this.endOffset;
          await this.active.persistIndexes();
          await this.epochs.flush();
        } catch (err) {
          // Not a clean close: the owner must not write the clean-shutdown marker.
          this.fail(err);
          throw this.failure;
        }
      }).catch(() => {});
    }
    this.closed = true;
    if (this.flushTimer) clearInterval(this.flushTimer);
    for (const [segment, timer] of this.deleteTimers) {
      clearTimeout(timer);
      await segment.deleteFiles().catch(() => {});
    }
    this.deleteTimers.clear();
    // A deletion still unlinking files would race with the next open of this directory.
    await Promise.all(this.deletions);
    if (this.flushBehind) await this.flushBehind;
    for (const s of this.segments) await s.close().catch(() => {});
  }

  /** Closes the log and removes its directory. */
  async delete(): Promise<void> {
    await this.close();
    await this.sfs.removeTree(this.dir);
  }
}

const EMPTY = Buffer.alloc(0);

function noop(): void {}

/** A config under which replayed batches pass whatever limits changed since they were appended. */
function relaxed(config: LogConfig): LogConfig {
  return {
    ...config,
    maxMessageBytes: Number.MAX_SAFE_INTEGER,
    timestampBeforeMaxMs: Number.MAX_SAFE_INTEGER,
    timestampAfterMaxMs: Number.MAX_SAFE_INTEGER,
    timestampDifferenceMaxMs: Number.MAX_SAFE_INTEGER,
    cleanupPolicy: "delete",
  };
}

/** A CreateTime batch with compressed records: finding a record in it needs decompression. */
function needsDecompression(b: ScannedBatch): boolean {
  const attributes = b.buf.readInt16BE(b.at + ATTRIBUTES_OFFSET);
  return (attributes & TIMESTAMP_TYPE_MASK) === 0 && (attributes & COMPRESSION_MASK) !== 0;
}

/**
 * Within one uncompressed (or LogAppendTime) batch known to reach `timestamp`, the first record at
 * or after it whose offset is at least `minOffset` (the log start, which may fall inside the
 * batch), with that record's timestamp.
 */
function firstRecordAtOrAfter(b: ScannedBatch, timestamp: number, minOffset: number): TimestampOffset | null {
  const attributes = b.buf.readInt16BE(b.at + ATTRIBUTES_OFFSET);
  const first = Math.max(b.baseOffset, minOffset);
  if ((attributes & TIMESTAMP_TYPE_MASK) !== 0) return { offset: first, timestamp: b.maxTimestamp };
  return firstInSection(b, b.buf, b.at + RECORDS_OFFSET, b.at + b.size, timestamp, minOffset);
}

/**
 * As firstRecordAtOrAfter for a compressed CreateTime batch (a copy, `at` 0), decompressed through
 * the broker's bounded decompressor. Records it cannot read (a codec this build lacks, a bomb
 * stored as sent, no memory left in the budget) leave the batch as the finest answer available.
 */
async function firstCompressedRecordAtOrAfter(
  b: ScannedBatch,
  timestamp: number,
  minOffset: number,
  config: LogConfig,
): Promise<TimestampOffset | null> {
  const codec = b.buf.readInt16BE(ATTRIBUTES_OFFSET) & COMPRESSION_MASK;
  const batchAnswer = { offset: Math.max(b.baseOffset, minOffset), timestamp: b.maxTimestamp };
  let d: Decompressed;
  try {
    d = await decompressor().decompress(codec, b.buf.subarray(RECORDS_OFFSET), decompressedBytesMax(config));
  } catch {
    return batchAnswer;
  }
  try {
    return firstInSection(b, d.body, 0, d.body.length, timestamp, minOffset);
  } finally {
    d.release();
  }
}

/** The first record at or after `timestamp` and `minOffset` in the records `section[start, end)` of `b`. */
function firstInSection(
  b: ScannedBatch,
  section: Buffer,
  start: number,
  end: number,
  timestamp: number,
  minOffset: number,
): TimestampOffset | null {
  const baseTimestamp = readInt64(b.buf, b.at + BASE_TIMESTAMP_OFFSET);
  let found: TimestampOffset | null = null;
  const c = new Cursor(section, start, end);
  const count = b.buf.readInt32BE(b.at + RECORD_COUNT_OFFSET);
  try {
    walkRecords(c, count, (offsetDelta, timestampDelta) => {
      if (
        found === null &&
        baseTimestamp + timestampDelta >= timestamp &&
        b.baseOffset + offsetDelta >= minOffset
      ) {
        found = { offset: b.baseOffset + offsetDelta, timestamp: baseTimestamp + timestampDelta };
      }
    });
  } catch {
    return null;
  }
  return found;
}
