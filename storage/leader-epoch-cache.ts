/**
 * Leader epochs of a partition: for each epoch, the first offset written in it. A follower asks
 * the leader for the end offset of its own latest epoch (OffsetForLeaderEpoch) and truncates to
 * it. Checkpointed as Kafka's `leader-epoch-checkpoint` text file: a version line (0), a count
 * line, then one "epoch startOffset" line per entry.
 */
import * as path from "node:path";
import { type StorageFs, writeFileAtomic } from "./fs.js";

export const LEADER_EPOCH_CHECKPOINT = "leader-epoch-checkpoint";
export const UNDEFINED_EPOCH = -1;
export const UNDEFINED_EPOCH_OFFSET = -1;

export interface EpochEntry {
  epoch: number;
  startOffset: number;
}

export class LeaderEpochCache {
  private entries: EpochEntry[] = [];
  private dirty = false;

  private constructor(
    private readonly sfs: StorageFs,
    private readonly file: string,
  ) {}

  /** Loads the checkpoint of `dir`; a missing or unreadable file yields an empty cache. */
  static async load(sfs: StorageFs, dir: string): Promise<LeaderEpochCache> {
    const cache = new LeaderEpochCache(sfs, path.join(dir, LEADER_EPOCH_CHECKPOINT));
    const data = await sfs.readFile(cache.file);
    if (data) {
      const parsed = parseEpochCheckpoint(data.toString("utf8"));
      if (parsed) cache.entries = parsed;
      else cache.dirty = true;
    }
    return cache;
  }

  list(): EpochEntry[] {
    return this.entries.map((e) => ({ ...e }));
  }

  latestEpoch(): number {
    return this.entries.length === 0 ? UNDEFINED_EPOCH : this.entries[this.entries.length - 1].epoch;
  }

  /** Whether the in-memory entries differ from the checkpoint on disk. */
  isDirty(): boolean {
    return this.dirty;
  }

  /**
   * Records that `epoch` starts at `startOffset`. A repeat of the latest epoch is ignored; entries
   * that the new one contradicts (an epoch as high, or a start offset as late) are dropped.
   */
  assign(epoch: number, startOffset: number): void {
    if (epoch < 0) return;
    const latest = this.entries[this.entries.length - 1];
    if (latest && latest.epoch === epoch && latest.startOffset <= startOffset) return;
    this.entries = this.entries.filter((e) => e.epoch < epoch && e.startOffset < startOffset);
    this.entries.push({ epoch, startOffset });
    this.dirty = true;
  }

  /**
   * The end offset of `requestedEpoch` as OffsetForLeaderEpoch answers it: the start offset of the
   * next higher epoch (the log end offset for the latest epoch), with the largest known epoch that
   * is <= the requested one. (-1, -1) when the requested epoch is undefined or newer than any known.
   */
  endOffsetFor(requestedEpoch: number, logEndOffset: number): EpochEntry {
    const undefinedResult = { epoch: UNDEFINED_EPOCH, startOffset: UNDEFINED_EPOCH_OFFSET };
    if (requestedEpoch === UNDEFINED_EPOCH || this.entries.length === 0) return undefinedResult;
    if (requestedEpoch === this.latestEpoch()) return { epoch: requestedEpoch, startOffset: logEndOffset };
    const higher = this.entries.find((e) => e.epoch > requestedEpoch);
    if (!higher) return undefinedResult;
    const floor = this.entries.filter((e) => e.epoch <= requestedEpoch).pop();
    return { epoch: floor ? floor.epoch : requestedEpoch, startOffset: higher.startOffset };
  }

  /** Drops entries that start at or after `endOffset` (the log was truncated to it). */
  truncateFromEnd(endOffset: number): void {
    const kept = this.entries.filter((e) => e.startOffset < endOffset);
    if (kept.length !== this.entries.length) {
      this.entries = kept;
      this.dirty = true;
    }
  }

  /** Drops entries wholly before `startOffset`; the entry covering it now starts there. */
  truncateFromStart(startOffset: number): void {
    let i = 0;
    while (i + 1 < this.entries.length && this.entries[i + 1].startOffset <= startOffset) i++;
    const kept = this.entries.slice(i);
    if (kept.length > 0 && kept[0].startOffset < startOffset) kept[0] = { ...kept[0], startOffset };
    if (kept.length !== this.entries.length || kept[0]?.startOffset !== this.entries[0]?.startOffset) {
      this.entries = kept;
      this.dirty = true;
    }
  }

  clear(): void {
    this.entries = [];
    this.dirty = true;
  }

  /** Writes the checkpoint if the entries changed since the last write. */
  async flush(): Promise<void> {
    if (!this.dirty) return;
    const lines = [
      "0",
      String(this.entries.length),
      ...this.entries.map((e) => `${e.epoch} ${e.startOffset}`),
    ];
    this.dirty = false;
    try {
      await writeFileAtomic(this.sfs, this.file, Buffer.from(`${lines.join("\n")}\n`));
    } catch (err) {
      this.dirty = true;
      throw err;
    }
  }
}

function parseEpochCheckpoint(text: string): EpochEntry[] | null {
  const lines = text.split("\n").filter((l) => l.length > 0);
  if (lines[0] !== "0") return null;
  const count = Number(lines[1]);
  if (!Number.isInteger(count) || lines.length !== count + 2) return null;
  const out: EpochEntry[] = [];
  for (const line of lines.slice(2)) {
    const [epoch, startOffset] = line.split(" ").map(Number);
    if (!Number.isSafeInteger(epoch) || !Number.isSafeInteger(startOffset)) return null;
    out.push({ epoch, startOffset });
  }
  return out;
}
