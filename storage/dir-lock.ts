/**
 * The lock of a data directory: at most one live process uses a data directory at a time, and
 * the lock dies with its owner, kill -9 included (docs/decisions/0009).
 *
 * The lock is the file `.lock` naming its owner: pid, the pid's start time (field 22 of
 * /proc/<pid>/stat, in clock ticks since boot) and the boot id. It is held while that process
 * lives; a lock whose process is gone, a zombie, or a later process that reuses the pid (another
 * start time, or another boot) is stale and taken over. So no daemon or OS lock is needed: the
 * kernel's own record of the owner says whether it still runs. The owner also names its host and
 * pid namespace: a lock written on another host (a shared volume) or from another pid namespace (a
 * container) cannot be checked from here, so it counts as held and the starter is refused.
 *
 * Guarantees:
 * - The lock file appears whole or not at all: it is written under a private name, fdatasync'ed,
 *   then hard-linked to `.lock` (link fails if the name exists, atomically).
 * - A refused `acquire` leaves the directory as it found it (its private file is removed).
 * - A stale lock is removed by one starter only: the one that links it to `.lock.stale.<hash of
 *   its text>` (link fails when the name exists) and finds, through that name, the text it read.
 *   Others retry and then see the new owner. So two starters never both take a stale lock over.
 *   (A starter killed between those steps leaves both names: the next ones refuse, naming the
 *   file to remove.)
 * - `release` removes `.lock` only while it still names this owner.
 */
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs/promises";
import { hostname } from "node:os";
import * as path from "node:path";

export const LOCK_FILE = ".lock";
/** Attempts to take a lock that keeps changing hands (stale owners being replaced) before giving up. */
export const LOCK_ATTEMPTS_MAX = 5;
/** The field of /proc/<pid>/stat holding the start time, counted from the field after `comm`. */
const STAT_START_TIME_FIELD = 19;
const STAT_STATE_FIELD = 0;

/** Who holds a lock. */
export interface LockOwner {
  pid: number;
  /** Start time of the pid in clock ticks since boot; null where /proc is not available. */
  startTime: string | null;
  bootId: string | null;
  /** os.hostname() of the owner; null in a lock written before it was recorded. */
  host: string | null;
  /** The owner's pid namespace (the /proc/self/ns/pid link, "pid:[inode]"); null without /proc. */
  pidNamespace: string | null;
}

/** A data directory used by a live process, or a lock that could not be taken. */
export class DataDirLockError extends Error {
  readonly code = "DATA_DIR_LOCKED";

  constructor(
    message: string,
    readonly dataDir: string,
    readonly ownerPid: number | null,
  ) {
    super(message);
    this.name = "DataDirLockError";
  }
}

async function readOrNull(file: string): Promise<string | null> {
  try {
    return (await fs.readFile(file, "utf8")).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

/** Fields of /proc/<pid>/stat after `(comm)` (comm may hold spaces and parentheses). */
async function statFields(pid: number): Promise<string[] | null> {
  const stat = await readOrNull(`/proc/${pid}/stat`);
  if (stat === null) return null;
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** This process as a lock owner. */
export async function currentOwner(): Promise<LockOwner> {
  const fields = await statFields(process.pid);
  return {
    pid: process.pid,
    startTime: fields?.[STAT_START_TIME_FIELD] ?? null,
    bootId: await readOrNull("/proc/sys/kernel/random/boot_id"),
    host: hostname(),
    pidNamespace: await fs.readlink("/proc/self/ns/pid").catch(() => null),
  };
}

/** Whether a process `pid` exists here: signal 0 succeeds, or fails with EPERM (another user's). */
export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Whether `owner` still runs: the same boot, the pid alive, not a zombie, the same start time. */
export async function ownerAlive(owner: LockOwner): Promise<boolean> {
  const self = await currentOwner();
  // Another host or pid namespace: its pid means nothing here, so the owner may well run.
  if (differs(owner.host, self.host) || differs(owner.pidNamespace, self.pidNamespace)) return true;
  if (owner.bootId !== null && self.bootId !== null && owner.bootId !== self.bootId) return false;
  if (self.startTime === null) {
    // No /proc: signal 0 tells whether the pid exists.
    return pidExists(owner.pid);
  }
  const fields = await statFields(owner.pid);
  if (fields === null || fields[STAT_STATE_FIELD] === "Z") return false;
  return owner.startTime === null || fields[STAT_START_TIME_FIELD] === owner.startTime;
}

/** Both known and not equal. */
function differs(a: string | null, b: string | null): boolean {
  return a !== null && b !== null && a !== b;
}

function parseOwner(text: string): LockOwner | null {
  try {
    const o = JSON.parse(text) as Partial<LockOwner>;
    if (!Number.isSafeInteger(o.pid) || (o.pid as number) <= 0) return null;
    return {
      pid: o.pid as number,
      startTime: o.startTime ?? null,
      bootId: o.bootId ?? null,
      host: o.host ?? null,
      pidNamespace: o.pidNamespace ?? null,
    };
  } catch {
    return null;
  }
}

function privateName(dir: string, kind: string): string {
  return path.join(dir, `${LOCK_FILE}.${process.pid}.${randomBytes(6).toString("hex")}.${kind}`);
}

/** The name under which the stale lock with text `held` is taken over. */
function staleName(lockFile: string, held: string): string {
  return `${lockFile}.stale.${createHash("sha256").update(held).digest("hex").slice(0, 16)}`;
}

async function writeDurably(file: string, text: string): Promise<void> {
  const handle = await fs.open(file, "wx");
  try {
    await handle.writeFile(text);
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

async function unlinkQuietly(file: string): Promise<void> {
  await fs.unlink(file).catch(() => {});
}

export class DataDirLock {
  private released = false;

  private constructor(
    readonly dataDir: string,
    private readonly text: string,
  ) {}

  get file(): string {
    return path.join(this.dataDir, LOCK_FILE);
  }

  /**
   * Takes the lock of `dataDir` (which must exist), or throws DataDirLockError naming the
   * directory and the owner's pid while another live process (this one included) holds it.
   */
  static async acquire(dataDir: string): Promise<DataDirLock> {
    const text = JSON.stringify(await currentOwner());
    const lockFile = path.join(dataDir, LOCK_FILE);
    const mine = privateName(dataDir, "new");
    await writeDurably(mine, text);
    try {
      for (let attempt = 0; attempt < LOCK_ATTEMPTS_MAX; attempt++) {
        try {
          await fs.link(mine, lockFile);
          return new DataDirLock(dataDir, text);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        }
        const held = await readOrNull(lockFile);
        if (held === null) continue; // released meanwhile
        const owner = parseOwner(held);
        if (owner === null) {
          throw new DataDirLockError(
            `data directory ${dataDir} has an unreadable lock file ${lockFile}; remove it if no broker uses the directory`,
            dataDir,
            null,
          );
        }
        if (await ownerAlive(owner)) {
          throw new DataDirLockError(
            `data directory ${dataDir} is in use by process ${owner.pid} (lock file ${lockFile}); stop that broker or choose another data directory`,
            dataDir,
            owner.pid,
          );
        }
        await DataDirLock.removeStale(lockFile, held);
      }
      throw new DataDirLockError(
        `data directory ${dataDir}: the stale lock ${lockFile} is being taken over by another process; if none is starting, remove ${lockFile}.stale.*`,
        dataDir,
        null,
      );
    } finally {
      await unlinkQuietly(mine);
    }
  }

  /** Removes the stale lock `held` if this starter is the one to take it over (see the header). */
  private static async removeStale(lockFile: string, held: string): Promise<void> {
    const aside = staleName(lockFile, held);
    try {
      await fs.link(lockFile, aside);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "EEXIST") return; // gone, or another starter's to remove
      throw err;
    }
    // `aside` pins whatever `.lock` was at the link: the stale lock, or a newer owner's.
    if ((await readOrNull(aside)) === held) await unlinkQuietly(lockFile);
    await unlinkQuietly(aside);
  }

  /** Removes the lock if it still names this owner. Safe to call twice. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if ((await readOrNull(this.file)) === this.text) await unlinkQuietly(this.file);
  }
}
