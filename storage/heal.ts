/**
 * Healing after a storage fault (docs/decisions/0018-storage-faults-heal.md).
 *
 * A failed write, flush or open (ENOSPC, EIO, EMFILE) fails the journal or a partition log: it
 * refuses what it cannot make durable (KAFKA_STORAGE_ERROR, which clients retry) and keeps serving
 * reads. The `Healer` then probes each failed target, first after `log.heal.backoff.ms`, then at
 * doubling intervals up to `log.heal.backoff.max.ms`. A probe is the target's own `heal()`: it cuts
 * the file back to what was acknowledged, proves the tail (CRCs, read back from the file), makes it
 * durable again and only then accepts writes. The journal is probed before any log, and logs wait
 * while it is down (a log's heal journals a marker).
 *
 * One `fault` event when a target fails and one `healed` event when it recovers, never one per
 * request: the broker turns them into one error line and one warn line (broker/broker.ts).
 */
import { DEFAULT_HEAL_BACKOFF_MAX_MS, DEFAULT_HEAL_BACKOFF_MS } from "./defaults.js";
import type { StorageFs } from "./fs.js";
import { scanBatches } from "./segment.js";

/** Bytes read and written again per step when a healed log rewrites its unflushed tail. */
export const HEAL_REWRITE_CHUNK_BYTES = 1024 * 1024;

/** Zeros written past a file's end and cut again, to prove the disk takes writes once more. */
export const HEAL_PROBE_BYTES = 4096;

/**
 * Proves that the file behind `fd` takes a write and an fdatasync again (a full disk refuses the
 * write, a failing one the sync): HEAL_PROBE_BYTES of zeros at `end`, synced, then cut back to
 * `end`, whatever happened. Zeros past a log's or journal's end read as its end, should a crash
 * leave them there. Without this proof a healed file would fail again at its next write.
 */
export async function proveWritable(
  sfs: Pick<StorageFs, "writev" | "fdatasync" | "ftruncate">,
  fd: number,
  end: number,
): Promise<void> {
  try {
    await sfs.writev(fd, [Buffer.alloc(HEAL_PROBE_BYTES)], end);
    await sfs.fdatasync(fd);
  } finally {
    await sfs.ftruncate(fd, end);
  }
}

/**
 * Proves and rewrites the tail [from, to) of a segment file whose last fdatasync may have failed:
 * every batch must read back whole with a good CRC, the last one ending at offset `endOffset`;
 * then the same bytes are written again at the same place, so that the caller's fdatasync writes
 * them whatever the page cache did after the failure (a page whose write-back failed may be marked
 * clean without reaching the disk: "fsyncgate"). Throws when the tail does not prove.
 */
export async function proveAndRewriteTail(
  sfs: Pick<StorageFs, "read" | "writev">,
  fd: number,
  from: number,
  to: number,
  endOffset: number,
): Promise<void> {
  if (to <= from) return;
  let last = -1;
  const scan = await scanBatches(sfs, fd, from, to, true, (b) => {
    last = b.lastOffset;
    return true;
  });
  if (scan.end !== "end" || scan.position !== to || last + 1 !== endOffset) {
    throw new Error(
      `segment tail bytes ${from}-${to} do not prove: ${scan.end} at ${scan.position}, last offset ${last}, log end ${endOffset}`,
    );
  }
  const buf = Buffer.allocUnsafe(Math.min(HEAL_REWRITE_CHUNK_BYTES, to - from));
  for (let at = from; at < to; ) {
    const length = Math.min(buf.length, to - at);
    if ((await sfs.read(fd, buf, 0, length, at)) !== length)
      throw new Error(`segment tail at ${at} is short`);
    await sfs.writev(fd, [buf.subarray(0, length)], at);
    at += length;
  }
}

/** Logs probed at once in one sweep. */
export const HEAL_CONCURRENCY = 8;

export type HealKind = "journal" | "partition";

/** Something that can fail and be probed back to health: the journal, or one partition log. */
export interface HealTarget {
  readonly failed: boolean;
  /** Proves the target's files and resumes writes; throws (and stays failed) when it cannot yet. */
  heal(): Promise<void>;
}

/** What a fault or a heal reports: the target, and the cause (an errno code where there is one). */
export interface StorageFaultEvent {
  kind: HealKind;
  /** `journal`, or the partition directory name `<topic>-<partition>`. */
  key: string;
  /** The file-system error code (`ENOSPC`, `EIO`, `EMFILE`...), or `unknown`. */
  code: string;
  message: string;
}

export interface StorageHealedEvent extends StorageFaultEvent {
  /** Probes made, the successful one included. */
  attempts: number;
  downMs: number;
}

/** Where a data directory's faults and heals are reported (the broker logs them). */
export interface StorageEvents {
  fault?(event: StorageFaultEvent): void;
  healed?(event: StorageHealedEvent): void;
}

export interface HealerOptions {
  backoffMs?: number;
  backoffMaxMs?: number;
  events?: StorageEvents;
  now?: () => number;
}

interface Tracked {
  kind: HealKind;
  key: string;
  target: HealTarget;
  fault: StorageFaultEvent;
  sinceMs: number;
  attempts: number;
  nextMs: number;
}

/** The file-system error code at the root of `err`, if any. */
export function faultCode(err: unknown): string {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === "string" && /^E[A-Z]+$/.test(code)) return code;
  }
  return "unknown";
}

/** The message of the innermost error of `err`: the file-system call that failed. */
function rootMessage(err: unknown): string {
  let e = err;
  for (let depth = 0; e instanceof Error && e.cause instanceof Error && depth < 8; depth++) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}

/** Probes failed targets with backoff until they heal; reports each fault and heal once. */
export class Healer {
  private readonly tracked = new Map<string, Tracked>();
  /** Probes in progress, by key: what `forget` waits for. */
  private readonly probing = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private sweeping: Promise<void> | null = null;
  private closed = false;
  private readonly backoffMs: number;
  private readonly backoffMaxMs: number;
  private readonly now: () => number;

  constructor(private readonly options: HealerOptions = {}) {
    this.backoffMs = Math.max(1, options.backoffMs ?? DEFAULT_HEAL_BACKOFF_MS);
    this.backoffMaxMs = Math.max(this.backoffMs, options.backoffMaxMs ?? DEFAULT_HEAL_BACKOFF_MAX_MS);
    this.now = options.now ?? Date.now;
  }

  /** Targets failed now, by key. */
  get failing(): string[] {
    return [...this.tracked.keys()];
  }

  /** Reports a target's fault (once while it stays failed) and schedules its probes. */
  failed(kind: HealKind, key: string, target: HealTarget, cause: unknown): void {
    if (this.closed || this.tracked.has(key)) return;
    const fault: StorageFaultEvent = { kind, key, code: faultCode(cause), message: rootMessage(cause) };
    const now = this.now();
    this.tracked.set(key, {
      kind,
      key,
      target,
      fault,
      sinceMs: now,
      attempts: 0,
      nextMs: now + this.backoffMs,
    });
    this.options.events?.fault?.(fault);
    this.arm();
  }

  /**
   * Stops probing `key` (its log is being deleted or closed); resolves once a probe of it in
   * progress is over, so the caller closes the target only after its heal stopped touching it.
   */
  async forget(key: string): Promise<void> {
    this.tracked.delete(key);
    await this.probing.get(key);
  }

  /** Probes every failed target now, whatever its backoff (tests, and an operator's retry). */
  async probeNow(): Promise<void> {
    for (const t of this.tracked.values()) t.nextMs = 0;
    await this.sweep();
  }

  private arm(): void {
    if (this.closed || this.timer || this.sweeping || this.tracked.size === 0) return;
    let next = Number.POSITIVE_INFINITY;
    for (const t of this.tracked.values()) next = Math.min(next, t.nextMs);
    this.timer = setTimeout(
      () => {
        this.timer = null;
        void this.sweep();
      },
      Math.max(0, next - this.now()),
    );
    this.timer.unref();
  }

  private sweep(): Promise<void> {
    if (this.sweeping) return this.sweeping;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.sweeping = this.sweepOnce().finally(() => {
      this.sweeping = null;
      this.arm();
    });
    return this.sweeping;
  }

  /** One pass: the journal first; logs only once no journal is failed. */
  private async sweepOnce(): Promise<void> {
    const due = (kind: HealKind) =>
      [...this.tracked.values()].filter((t) => t.kind === kind && t.nextMs <= this.now());
    for (const t of due("journal")) await this.probe(t);
    if ([...this.tracked.values()].some((t) => t.kind === "journal")) return;
    const logs = due("partition");
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < logs.length && !this.closed) await this.probe(logs[next++]);
    };
    await Promise.all(Array.from({ length: Math.min(HEAL_CONCURRENCY, logs.length) }, worker));
  }

  private async probe(t: Tracked): Promise<void> {
    if (this.closed || this.tracked.get(t.key) !== t) return;
    t.attempts++;
    const healing = t.target.failed ? t.target.heal() : Promise.resolve();
    const settled = healing.then(
      () => {},
      () => {},
    );
    this.probing.set(t.key, settled);
    let healed = true;
    try {
      await healing;
    } catch {
      healed = false;
    } finally {
      if (this.probing.get(t.key) === settled) this.probing.delete(t.key);
    }
    if (this.tracked.get(t.key) !== t) return;
    if (!healed || t.target.failed) {
      // Still failing (or failed again at once): probe again later, less often.
      t.nextMs = this.now() + Math.min(this.backoffMaxMs, this.backoffMs * 2 ** Math.min(t.attempts, 30));
      return;
    }
    this.tracked.delete(t.key);
    this.options.events?.healed?.({ ...t.fault, attempts: t.attempts, downMs: this.now() - t.sinceMs });
  }

  /** Stops probing; waits for a probe in progress. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.sweeping;
    this.tracked.clear();
  }
}
