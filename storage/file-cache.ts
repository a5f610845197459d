/**
 * A budget of open file descriptors for segment files (an LRU of open files, as Redpanda keeps a
 * file-handle cache): a `StorageFs` over another one whose `open` hands out handles, not
 * descriptors. A handle holds a real descriptor only while it is among the `maxOpen` most
 * recently used; the least recently used idle one is closed to make room and reopened on its
 * next use, so 20,000 idle partitions need no 20,000 descriptors.
 *
 * Guarantees:
 * - A descriptor is never closed under a call in progress on it (each call pins its handle).
 * - At most `maxOpen` descriptors are held (open, opening or closing); a call that needs one
 *   while all are pinned waits for one to be released.
 * - Writes are never weakened: a handle written since its last fdatasync is fdatasync'ed before
 *   its descriptor is closed, and an error of that flush is reported by the handle's next
 *   fdatasync (as the kernel reports a write-back error to the next fsync).
 * - A handle follows its file through `rename` (of the file, or of the directory holding it), so
 *   a reopen never finds another file that took the old name. A file removed or replaced while
 *   its handle is open keeps its descriptor until `close` (it cannot be reopened); one removed
 *   while closed fails its next call with ENOENT.
 * - `create` truncates on the first open only; later reopens keep the bytes.
 */
import * as path from "node:path";
import type { OpenMode, StorageFs } from "./fs.js";

/** Handles are numbered from here, far from real descriptors, so a mix-up fails loudly. */
const FIRST_HANDLE = 1 << 24;
/** Idle handles examined for a clean (not dirty) one before a dirty one is evicted. */
const EVICTION_SCAN = 32;

interface Handle {
  id: number;
  file: string;
  mode: OpenMode;
  fd: number | null;
  /** Calls in progress on this handle. */
  pins: number;
  /** A descriptor being opened or closed; the next call waits for it. */
  transition: Promise<void> | null;
  /**
   * Writes (and truncations) made through this handle, ever; only grows. With `synced`, two
   * counters that never go down, so fdatasyncs overlapping on one handle cannot undercount.
   */
  written: number;
  /** The highest `written` an fdatasync that succeeded had begun after: dirty while below it. */
  synced: number;
  /** An fdatasync that failed while evicting, reported by the next fdatasync. */
  error: Error | null;
  /** The file's name no longer leads to it (removed or replaced). */
  gone: boolean;
  /** `close` was called; the descriptor goes once the last call is done. */
  released: boolean;
}

export class FileCache implements StorageFs {
  private readonly handles = new Map<number, Handle>();
  /** Handles holding a descriptor, least recently used first. */
  private readonly lru = new Map<number, Handle>();
  private readonly byFile = new Map<string, Set<Handle>>();
  private readonly byDir = new Map<string, Set<Handle>>();
  private readonly waiters: (() => void)[] = [];
  private nextId = FIRST_HANDLE;
  /** Descriptors held, being opened or being closed. */
  private slots = 0;
  /** Descriptors closed to make room, since start (tests, metrics). */
  evictions = 0;

  constructor(
    private readonly inner: StorageFs,
    readonly maxOpen: number,
  ) {
    if (!Number.isSafeInteger(maxOpen) || maxOpen < 1) throw new RangeError(`maxOpen ${maxOpen} < 1`);
  }

  /** Descriptors held now (open, opening or closing). */
  get openCount(): number {
    return this.slots;
  }

  /** Handles given out and not closed. */
  get handleCount(): number {
    return this.handles.size;
  }

  async open(file: string, mode: OpenMode): Promise<number> {
    const h: Handle = {
      id: this.nextId++,
      file,
      mode,
      fd: null,
      pins: 1,
      transition: null,
      written: 0,
      synced: 0,
      error: null,
      gone: false,
      released: false,
    };
    await this.reserveSlot();
    try {
      h.fd = await this.inner.open(file, mode);
    } catch (err) {
      this.freeSlot();
      throw err;
    }
    if (mode === "create") h.mode = "readWrite";
    this.handles.set(h.id, h);
    this.index(h);
    this.lru.set(h.id, h);
    this.unpin(h);
    return h.id;
  }

  async close(id: number): Promise<void> {
    const h = this.handle(id);
    h.released = true;
    this.handles.delete(id);
    this.unindex(h);
    if (h.transition) await h.transition.catch(() => {});
    if (h.pins === 0 && h.fd !== null) await this.closeDescriptor(h, false);
  }

  read(id: number, buf: Buffer, offset: number, length: number, position: number): Promise<number> {
    return this.withFd(id, (fd) => this.inner.read(fd, buf, offset, length, position));
  }

  writev(id: number, buffers: Buffer[], position: number): Promise<void> {
    return this.withFd(id, (fd, h) => {
      h.written++;
      return this.inner.writev(fd, buffers, position);
    });
  }

  fdatasync(id: number): Promise<void> {
    return this.withFd(id, async (fd, h) => {
      const error = h.error;
      if (error) {
        h.error = null;
        throw error;
      }
      const written = h.written;
      await this.inner.fdatasync(fd);
      markSynced(h, written);
    });
  }

  ftruncate(id: number, length: number): Promise<void> {
    return this.withFd(id, (fd, h) => {
      h.written++;
      return this.inner.ftruncate(fd, length);
    });
  }

  fileSize(id: number): Promise<number> {
    return this.withFd(id, (fd) => this.inner.fileSize(fd));
  }

  exists(file: string): Promise<boolean> {
    return this.inner.exists(file);
  }

  readdir(dir: string): Promise<string[]> {
    return this.inner.readdir(dir);
  }

  mkdirp(dir: string): Promise<void> {
    return this.inner.mkdirp(dir);
  }

  /** Renames, then points the handles of `from` (or of files directly inside it) at `to`. */
  async rename(from: string, to: string): Promise<void> {
    await this.inner.rename(from, to);
    for (const h of [...(this.byFile.get(to) ?? [])]) this.markGone(h);
    for (const h of [...(this.byFile.get(from) ?? [])]) this.move(h, to);
    for (const h of [...(this.byDir.get(from) ?? [])]) this.move(h, path.join(to, path.basename(h.file)));
  }

  async unlink(file: string): Promise<void> {
    await this.inner.unlink(file);
    for (const h of [...(this.byFile.get(file) ?? [])]) this.markGone(h);
  }

  async removeTree(dir: string): Promise<void> {
    await this.inner.removeTree(dir);
    for (const h of [...(this.byDir.get(dir) ?? [])]) this.markGone(h);
  }

  fsyncDir(dir: string): Promise<void> {
    return this.inner.fsyncDir(dir);
  }

  readFile(file: string): Promise<Buffer | null> {
    return this.inner.readFile(file);
  }

  // ---------------------------------------------------------------------------------------------

  private handle(id: number): Handle {
    const h = this.handles.get(id);
    if (!h) throw Object.assign(new Error(`file handle ${id} is not open`), { code: "EBADF" });
    return h;
  }

  /** Runs `call` with the handle's descriptor, pinned so that it cannot be closed meanwhile. */
  private async withFd<T>(id: number, call: (fd: number, h: Handle) => Promise<T>): Promise<T> {
    const h = this.handle(id);
    h.pins++;
    try {
      const fd = await this.descriptor(h);
      return await call(fd, h);
    } finally {
      this.unpin(h);
    }
  }

  /** The handle's descriptor, reopening it if it was closed to make room. */
  private async descriptor(h: Handle): Promise<number> {
    while (h.transition) await h.transition.catch(() => {});
    if (h.fd !== null) {
      this.lru.delete(h.id);
      this.lru.set(h.id, h);
      return h.fd;
    }
    if (h.gone) throw Object.assign(new Error(`${h.file} was removed`), { code: "ENOENT" });
    const reopen = (async () => {
      await this.reserveSlot();
      try {
        h.fd = await this.inner.open(h.file, h.mode);
      } catch (err) {
        this.freeSlot();
        throw err;
      }
      this.lru.set(h.id, h);
    })();
    h.transition = reopen;
    try {
      await reopen;
    } finally {
      h.transition = null;
    }
    return h.fd as unknown as number;
  }

  private unpin(h: Handle): void {
    h.pins--;
    if (h.pins > 0) return;
    if (h.released && h.fd !== null && !h.transition) {
      void this.closeDescriptor(h, false).catch(() => {});
      return;
    }
    // Someone waits for a descriptor: this handle may now make room.
    this.wakeOne();
  }

  /** Takes a descriptor slot, evicting the least recently used idle handle when all are taken. */
  private async reserveSlot(): Promise<void> {
    while (this.slots >= this.maxOpen) {
      const victim = this.victim();
      if (victim) void this.closeDescriptor(victim, true).catch(() => {});
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    this.slots++;
  }

  private freeSlot(): void {
    this.slots--;
    this.wakeOne();
  }

  private wakeOne(): void {
    this.waiters.shift()?.();
  }

  /** The idle handle to close: the least recently used clean one among the first few, else any. */
  private victim(): Handle | null {
    let firstIdle: Handle | null = null;
    let seen = 0;
    for (const h of this.lru.values()) {
      if (h.pins > 0 || h.transition || h.gone) continue;
      if (!isDirty(h)) return h;
      firstIdle ??= h;
      if (++seen >= EVICTION_SCAN) break;
    }
    return firstIdle;
  }

  /**
   * Closes the handle's descriptor and frees its slot. When `evicting`, a dirty handle is
   * fdatasync'ed first and a failure kept for its next fdatasync.
   */
  private async closeDescriptor(h: Handle, evicting: boolean): Promise<void> {
    const fd = h.fd;
    if (fd === null) return;
    this.lru.delete(h.id);
    const done = (async () => {
      try {
        if (evicting && isDirty(h)) {
          const written = h.written;
          try {
            await this.inner.fdatasync(fd);
            markSynced(h, written);
          } catch (err) {
            h.error = err as Error;
          }
        }
        await this.inner.close(fd);
      } finally {
        h.fd = null;
        if (evicting) this.evictions++;
        this.freeSlot();
      }
    })();
    h.transition = done;
    try {
      await done;
    } finally {
      h.transition = null;
    }
  }

  private markGone(h: Handle): void {
    h.gone = true;
    this.unindex(h);
  }

  private move(h: Handle, file: string): void {
    this.unindex(h);
    h.file = file;
    this.index(h);
  }

  private index(h: Handle): void {
    addTo(this.byFile, h.file, h);
    addTo(this.byDir, path.dirname(h.file), h);
  }

  private unindex(h: Handle): void {
    removeFrom(this.byFile, h.file, h);
    removeFrom(this.byDir, path.dirname(h.file), h);
  }
}

function addTo(map: Map<string, Set<Handle>>, key: string, h: Handle): void {
  let set = map.get(key);
  if (!set) {
    set = new Set();
    map.set(key, set);
  }
  set.add(h);
}

function removeFrom(map: Map<string, Set<Handle>>, key: string, h: Handle): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(h);
  if (set.size === 0) map.delete(key);
}

/** Whether writes were made through `h` since the start of the last fdatasync that succeeded. */
function isDirty(h: Handle): boolean {
  return h.written > h.synced;
}

/** Records that an fdatasync begun when `h` had `written` writes succeeded. */
function markSynced(h: Handle, written: number): void {
  h.synced = Math.max(h.synced, written);
}
