/**
 * All partition logs of one data directory: one `<topic>-<partition>` directory each, loaded at
 * start-up (recovering several partitions at once, bounded), created and deleted on demand.
 *
 * The manager owns the data directory's files: the recovery-point, log-start-offset and
 * high-watermark checkpoints, and the clean-shutdown marker. The marker is removed as soon as the
 * logs are loaded, so a crash at any later moment is seen as unclean on the next start.
 */
import * as path from "node:path";
import { KafkaError } from "../protocol/errors.js";
import {
  HIGH_WATERMARK_CHECKPOINT,
  LOG_START_OFFSET_CHECKPOINT,
  partitionKey,
  RECOVERY_POINT_CHECKPOINT,
  readCheckpoint,
  writeCheckpoint,
} from "./checkpoint.js";
import { DEFAULT_CLEANER_BACKOFF_MS } from "./cleaner.js";
import { DEFAULT_LOG_CONFIG, type LogConfig } from "./config.js";
import { FileCache } from "./file-cache.js";
import { NodeFs, type StorageFs, writeFileAtomic } from "./fs.js";
import { Healer, type StorageEvents } from "./heal.js";
import {
  DEFAULT_JOURNAL_BYTES,
  decodeJournal,
  JOURNAL_DIR,
  Journal,
  type JournalEntry,
  type JournalStats,
  listJournalFiles,
  newReplayReport,
  type ReplayReport,
  replayJournal,
} from "./journal.js";
import { type LogJournal, PartitionLog } from "./log.js";

export const CLEAN_SHUTDOWN_MARKER = ".samsa_cleanshutdown";
/** Suffix of a partition directory being deleted: `<topic>-<partition>.<id>-delete`. */
export const DELETE_DIR_SUFFIX = "-delete";
/** Longest file name (bytes) that common Linux file systems accept. */
export const MAX_FILE_NAME_BYTES = 255;

/**
 * The name a partition directory takes while it is deleted: `<topic>-<partition>.<id>-delete`,
 * with the topic cut short (as Kafka does) so that a 249-character topic still fits in
 * MAX_FILE_NAME_BYTES. Topic names are ASCII, so characters are bytes.
 */
export function deleteDirName(topic: string, partition: number, nowMs: number): string {
  const id = `${nowMs.toString(36)}${Math.floor(Math.random() * 36 ** 4).toString(36)}`;
  const suffix = `-${partition}.${id}${DELETE_DIR_SUFFIX}`;
  return `${topic.slice(0, MAX_FILE_NAME_BYTES - suffix.length)}${suffix}`;
}
/** How many partitions recover at once at start-up. */
export const DEFAULT_RECOVERY_CONCURRENCY = 4;
/** log.flush.offset.checkpoint.interval.ms */
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 60_000;
/** Logs flushed at once when a journal file is retired. */
export const JOURNAL_FLUSH_CONCURRENCY = 8;
/**
 * Logs closed at once by `close`: their fdatasyncs and index writes overlap (the disk and the
 * file system's journal take several at a time) instead of 10,000 partitions waiting in series.
 */
export const CLOSE_CONCURRENCY = 16;
/** log.retention.check.interval.ms */
export const DEFAULT_RETENTION_CHECK_INTERVAL_MS = 5 * 60_000;

export interface LogManagerOptions {
  dataDir: string;
  fs?: StorageFs;
  /** The config of each partition's log; called at load and creation. */
  configFor?: (topic: string, partition: number) => LogConfig;
  recoveryConcurrency?: number;
  /** 0 disables the periodic checkpoint (tests call checkpoint() themselves). */
  checkpointIntervalMs?: number;
  /** 0 disables the periodic retention check. */
  retentionCheckIntervalMs?: number;
  /** log.cleaner.backoff.ms: period of the compaction check; 0 disables it. */
  cleanerBackoffMs?: number;
  now?: () => number;
  onAppend?: (topic: string, partition: number) => void;
  /**
   * The durability journal (storage/journal.ts) for flush.policy=always: one fdatasync per
   * round for every partition instead of one per partition. Default true.
   */
  journal?: boolean;
  /** Journal bytes after which its file is rotated (DEFAULT_JOURNAL_BYTES). */
  journalBytes?: number;
  /** Told of each durable journal round (the broker's metrics). */
  journalStats?: JournalStats;
  /**
   * log.max.open.files: segment and journal files open at once (storage/file-cache.ts); the
   * least recently used idle ones are closed and reopened on use. Unset: no cap.
   */
  maxOpenFiles?: number;
  /** log.heal.backoff.ms: first probe of a failed journal or log (storage/heal.ts). */
  healBackoffMs?: number;
  /** log.heal.backoff.max.ms: the longest interval between probes. */
  healBackoffMaxMs?: number;
  /** Where faults and heals are reported, once each. */
  events?: StorageEvents;
}

export interface PartitionId {
  topic: string;
  partition: number;
}

export interface LogSize extends PartitionId {
  bytes: number;
  segments: number;
  logStartOffset: number;
  logEndOffset: number;
}

/** Splits `<topic>-<partition>`; null for names that are not partition directories. */
export function parsePartitionDir(name: string): PartitionId | null {
  const dash = name.lastIndexOf("-");
  if (dash <= 0) return null;
  const partition = Number(name.slice(dash + 1));
  if (!/^\d+$/.test(name.slice(dash + 1)) || !Number.isSafeInteger(partition)) return null;
  return { topic: name.slice(0, dash), partition };
}

/** Runs `run` over `items`, at most `limit` at a time. */
async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  run: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await run(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
}

export class LogManager {
  private readonly logs = new Map<string, { id: PartitionId; log: PartitionLog }>();
  private readonly creating = new Map<string, Promise<PartitionLog>>();
  private timers: NodeJS.Timeout[] = [];
  private closed = false;
  /** Whether the data directory was shut down cleanly before this start. */
  cleanStart = false;
  private journal: Journal | null = null;
  /** What the start-up replay of the journal did (null without a journal). */
  journalReplay: ReplayReport | null = null;
  /** The open-files budget of the logs, when `maxOpenFiles` set one. */
  readonly files: FileCache | null;
  /** Probes the failed journal and logs until they heal. */
  readonly healer: Healer;

  private constructor(
    readonly dataDir: string,
    private readonly sfs: StorageFs,
    private readonly options: LogManagerOptions,
  ) {
    this.files = sfs instanceof FileCache ? sfs : null;
    this.healer = new Healer({
      backoffMs: options.healBackoffMs,
      backoffMaxMs: options.healBackoffMaxMs,
      events: {
        fault: (event) => options.events?.fault?.(event),
        healed: (event) => {
          options.events?.healed?.(event);
          // A journal file kept for a log that could not flush may go now.
          void this.journal?.retireKept();
        },
      },
      now: options.now,
    });
  }

  /** Loads every partition under `dataDir`, recovering as the clean-shutdown marker says. */
  static async open(options: LogManagerOptions): Promise<LogManager> {
    const base = options.fs ?? new NodeFs();
    const sfs = options.maxOpenFiles ? new FileCache(base, options.maxOpenFiles) : base;
    await sfs.mkdirp(options.dataDir);
    const manager = new LogManager(options.dataDir, sfs, options);
    await manager.loadAll();
    manager.startTimers();
    return manager;
  }

  private configFor(topic: string, partition: number): LogConfig {
    return this.options.configFor?.(topic, partition) ?? DEFAULT_LOG_CONFIG;
  }

  private file(name: string): string {
    return path.join(this.dataDir, name);
  }

  private async loadAll(): Promise<void> {
    const marker = this.file(CLEAN_SHUTDOWN_MARKER);
    this.cleanStart = await this.sfs.exists(marker);
    const recoveryPoints = await readCheckpoint(this.sfs, this.file(RECOVERY_POINT_CHECKPOINT));
    const startOffsets = await readCheckpoint(this.sfs, this.file(LOG_START_OFFSET_CHECKPOINT));
    const highWatermarks = await readCheckpoint(this.sfs, this.file(HIGH_WATERMARK_CHECKPOINT));
    const ids: PartitionId[] = [];
    for (const name of await this.sfs.readdir(this.dataDir)) {
      if (name.endsWith(DELETE_DIR_SUFFIX)) {
        await this.sfs.removeTree(this.file(name));
        continue;
      }
      const id = parsePartitionDir(name);
      if (id) ids.push(id);
    }
    const limit = Math.max(1, this.options.recoveryConcurrency ?? DEFAULT_RECOVERY_CONCURRENCY);
    await forEachLimited(ids, limit, async (id) => {
      const key = partitionKey(id.topic, id.partition);
      const log = await this.openLog(id, {
        recoveryPoint: recoveryPoints.get(key) ?? 0,
        logStartOffset: startOffsets.get(key),
        highWatermark: highWatermarks.get(key),
        cleanShutdown: this.cleanStart,
      });
      this.logs.set(key, { id, log });
    });
    if (this.options.journal !== false) await this.openJournal();
    if (this.cleanStart) {
      await this.sfs.unlink(marker);
      await this.sfs.fsyncDir(this.dataDir);
    }
    await this.checkpoint();
  }

  /**
   * Replays the journal files left by the last run into the logs (their recovered tails may have
   * lost what the journal holds), flushes the logs it changed, starts a new journal file and
   * removes the old ones.
   */
  private async openJournal(): Promise<void> {
    const dir = this.file(JOURNAL_DIR);
    const files = await listJournalFiles(this.sfs, dir);
    const report = newReplayReport(files.length);
    const entries: JournalEntry[] = [];
    for (const { file } of files) {
      const buf = await this.sfs.readFile(file);
      if (buf) for (const e of decodeJournal(buf).entries) entries.push(e);
    }
    report.entries = entries.length;
    await replayJournal(entries, (key) => this.logs.get(key)?.log, report);
    for (const key of report.touched) await this.logs.get(key)?.log.flush();
    this.journalReplay = report;
    this.journal = await Journal.open(
      {
        dir,
        fs: this.sfs,
        maxBytes: this.options.journalBytes ?? DEFAULT_JOURNAL_BYTES,
        flushLogs: (keys) => this.flushLogs(keys),
        stats: this.options.journalStats,
        onFailed: (failure) => {
          if (this.journal) this.healer.failed("journal", JOURNAL_DIR, this.journal, failure);
        },
      },
      files.length > 0 ? files[files.length - 1].sequence : 0,
    );
    for (const { file } of files) await this.sfs.unlink(file);
    if (files.length > 0) await this.sfs.fsyncDir(dir);
    for (const [key, { log }] of this.logs) log.setJournal(this.journalHandle(key) ?? null);
  }

  private journalHandle(key: string): LogJournal | undefined {
    const journal = this.journal;
    if (!journal) return undefined;
    return {
      commit: (offset, lastOffset, batches) => journal.commit(key, offset, lastOffset, batches),
      mark: (type, offset) => journal.mark(type, key, offset),
    };
  }

  /**
   * Flushes the logs that wrote to a journal file being retired, JOURNAL_FLUSH_CONCURRENCY at a
   * time; true when all are durable.
   */
  private async flushLogs(keys: Set<string>): Promise<boolean> {
    let ok = true;
    await forEachLimited([...keys], JOURNAL_FLUSH_CONCURRENCY, async (key) => {
      const log = this.logs.get(key)?.log;
      // A deleted log's entries are dead (its forget marker follows them); a closing one flushes.
      if (!log || this.closed) return;
      try {
        await log.flush();
      } catch {
        if (log.failed) ok = false;
      }
    });
    return ok;
  }

  /** Waits for journal rounds in flight and for retired journal files' log flushes. */
  async drainJournal(): Promise<void> {
    await this.journal?.drain();
  }

  /** Journal rounds written since start (one writev and one fdatasync each). */
  get journalRounds(): number {
    return this.journal?.rounds ?? 0;
  }

  private openLog(
    id: PartitionId,
    state: {
      recoveryPoint?: number;
      logStartOffset?: number;
      highWatermark?: number;
      cleanShutdown?: boolean;
    },
    config = this.configFor(id.topic, id.partition),
  ): Promise<PartitionLog> {
    const key = partitionKey(id.topic, id.partition);
    let opened: PartitionLog | undefined;
    const reportFailure = (failure: unknown) => {
      // Only a log still in use is probed: a deleted or closing one has nothing to resume.
      if (opened && this.logs.get(key)?.log === opened && !this.closed)
        this.healer.failed("partition", key, opened, failure);
    };
    const open = PartitionLog.open({
      dir: this.file(partitionKey(id.topic, id.partition)),
      config,
      fs: this.sfs,
      now: this.options.now,
      ...state,
      onTruncated: () => void this.checkpoint().catch(() => {}),
      onAppend: this.options.onAppend ? () => this.options.onAppend?.(id.topic, id.partition) : undefined,
      journal: this.journalHandle(key),
      onFailed: reportFailure,
    });
    return open.then((log) => {
      opened = log;
      return log;
    });
  }

  private startTimers(): void {
    const checkpointMs = this.options.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS;
    const retentionMs = this.options.retentionCheckIntervalMs ?? DEFAULT_RETENTION_CHECK_INTERVAL_MS;
    if (checkpointMs > 0)
      this.timers.push(setInterval(() => void this.checkpoint().catch(() => {}), checkpointMs));
    if (retentionMs > 0)
      this.timers.push(setInterval(() => void this.applyRetention().catch(() => {}), retentionMs));
    const cleanerMs = this.options.cleanerBackoffMs ?? DEFAULT_CLEANER_BACKOFF_MS;
    if (cleanerMs > 0) this.timers.push(setInterval(() => void this.compactAll().catch(() => {}), cleanerMs));
    for (const t of this.timers) t.unref();
  }

  getLog(topic: string, partition: number): PartitionLog | undefined {
    return this.logs.get(partitionKey(topic, partition))?.log;
  }

  /** Every loaded partition and its log. */
  all(): { topic: string; partition: number; log: PartitionLog }[] {
    return [...this.logs.values()].map(({ id, log }) => ({ ...id, log }));
  }

  /**
   * Returns the partition's log, creating an empty one (with `config`, or the one `configFor`
   * gives) if it does not exist. With `fresh` (a partition being created), a directory already
   * on disk under its name is the remains of a deletion that did not finish: it is removed,
   * never opened, so a deleted topic's records cannot come back under a new topic of the same
   * name; and if the new log cannot be opened, its directory is removed too.
   */
  async createLog(
    topic: string,
    partition: number,
    fresh = false,
    config?: LogConfig,
  ): Promise<PartitionLog> {
    if (this.closed) throw new KafkaError("KAFKA_STORAGE_ERROR", "log manager is closed");
    const key = partitionKey(topic, partition);
    const existing = this.logs.get(key)?.log;
    if (existing) return existing;
    const pending = this.creating.get(key);
    if (pending) return pending;
    const creation = this.openFresh({ topic, partition }, fresh, config).then((log) => {
      this.logs.set(key, { id: { topic, partition }, log });
      this.creating.delete(key);
      return log;
    });
    creation.catch(() => this.creating.delete(key));
    this.creating.set(key, creation);
    return creation;
  }

  private async openFresh(id: PartitionId, fresh: boolean, config?: LogConfig): Promise<PartitionLog> {
    const dir = this.file(partitionKey(id.topic, id.partition));
    if (fresh && (await this.sfs.exists(dir))) {
      // Replay must not hand the leftover's journaled records to the new log either.
      await this.journal?.mark("forget", partitionKey(id.topic, id.partition), -1);
      await this.sfs.removeTree(dir);
      await this.sfs.fsyncDir(this.dataDir);
    }
    try {
      return await this.openLog(id, {}, config);
    } catch (err) {
      // A new partition that could not be opened leaves no directory behind.
      if (fresh) await this.sfs.removeTree(dir).catch(() => {});
      throw err;
    }
  }

  /**
   * Removes a partition: its directory is renamed to `deleteDirName(...)` first, so a crash
   * midway leaves a name that the next start-up deletes.
   */
  async deleteLog(topic: string, partition: number): Promise<boolean> {
    const key = partitionKey(topic, partition);
    const entry = this.logs.get(key);
    if (!entry) return false;
    this.logs.delete(key);
    // A heal in progress finishes (its journal marker too) before the log closes and the forget
    // marker is journaled: a marker after it would drop a re-created log's entries at replay.
    await this.healer.forget(key);
    await entry.log.close();
    // Replay must not hand this log's records to a log created later under the same name.
    await this.journal?.mark("forget", key, -1);
    const doomed = this.file(deleteDirName(topic, partition, Date.now()));
    await this.sfs.rename(this.file(key), doomed);
    await this.sfs.fsyncDir(this.dataDir);
    await this.sfs.removeTree(doomed);
    await this.checkpoint();
    return true;
  }

  /** Sizes and offsets of every partition. */
  sizes(): LogSize[] {
    return this.all().map(({ topic, partition, log }) => ({
      topic,
      partition,
      bytes: log.sizeBytes(),
      segments: log.segmentCount(),
      logStartOffset: log.logStartOffset,
      logEndOffset: log.logEndOffset,
    }));
  }

  /** Applies retention to every log; returns the number of segments deleted. */
  async applyRetention(nowMs?: number): Promise<number> {
    let deleted = 0;
    for (const { log } of this.all()) {
      if (!log.failed) deleted += await log.applyRetention(nowMs);
    }
    if (deleted > 0) await this.checkpoint();
    return deleted;
  }

  /**
   * Runs a compaction pass on every compacted log that is due (one log at a time, as a single
   * cleaner thread would; a log never has two passes at once). Returns the segments cleaned.
   */
  compactAll(nowMs?: number): Promise<number> {
    if (this.compacting) return this.compacting;
    const sweep = (async () => {
      let cleaned = 0;
      for (const { log } of this.all()) {
        if (this.closed || log.failed || log.logConfig.cleanupPolicy === "delete") continue;
        try {
          cleaned += (await log.compact(nowMs)).segmentsCleaned;
        } catch {
          // A failed pass leaves the log as it was (or failed, for the broker to see); next time.
        }
      }
      return cleaned;
    })().finally(() => {
      this.compacting = null;
    });
    this.compacting = sweep;
    return sweep;
  }

  private compacting: Promise<number> | null = null;

  /** Writes the recovery-point, log-start-offset and high-watermark checkpoints. */
  checkpoint(): Promise<void> {
    // One at a time: concurrent writers would share the checkpoints' .tmp files.
    const next = this.checkpointChain.then(() => this.writeCheckpoints());
    this.checkpointChain = next.catch(() => {});
    return next;
  }

  private checkpointChain: Promise<void> = Promise.resolve();

  private async writeCheckpoints(): Promise<void> {
    const entries = this.all();
    const pick = (f: (log: PartitionLog) => number) =>
      entries.map(({ topic, partition, log }) => ({ topic, partition, offset: f(log) }));
    await writeCheckpoint(
      this.sfs,
      this.file(RECOVERY_POINT_CHECKPOINT),
      pick((l) => l.recoveryPoint),
    );
    await writeCheckpoint(
      this.sfs,
      this.file(LOG_START_OFFSET_CHECKPOINT),
      pick((l) => l.logStartOffset),
    );
    await writeCheckpoint(
      this.sfs,
      this.file(HIGH_WATERMARK_CHECKPOINT),
      pick((l) => l.highWatermark),
    );
  }

  /**
   * Closes every log (flushing it; CLOSE_CONCURRENCY at a time), writes the checkpoints and, if
   * no log had failed, the clean-shutdown marker.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    await this.healer.close();
    await Promise.allSettled([...this.creating.values()]);
    let allHealthy = true;
    await forEachLimited(this.all(), CLOSE_CONCURRENCY, async ({ log }) => {
      if (log.failed) allHealthy = false;
      await log.close();
      if (log.failed) allHealthy = false;
    });
    // Every log is flushed: with all healthy, nothing in the journal is needed any more.
    await this.journal?.close(allHealthy);
    await this.checkpoint();
    if (allHealthy) await writeFileAtomic(this.sfs, this.file(CLEAN_SHUTDOWN_MARKER), Buffer.alloc(0));
  }
}
