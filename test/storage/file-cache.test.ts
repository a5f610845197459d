/**
 * The open-files budget (storage/file-cache.ts) on its own and under a LogManager: never more
 * descriptors than the cap, none closed under a call in progress, dirty files flushed before
 * they are closed (and a failure reported by the next fdatasync), handles that follow renames,
 * and a few hundred partitions written, read, closed and reopened through a cap of 64.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FileCache } from "../../storage/file-cache.js";
import { NodeFs, type OpenMode, type StorageFs } from "../../storage/fs.js";
import { LogManager } from "../../storage/log-manager.js";
import { batchOf } from "../helpers/records.js";
import { waitFor } from "../helpers/wait.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "storage-fc-"));
  dirs.push(dir);
  return dir;
}

/** NodeFs that counts real descriptors and can hold reads or fail fdatasyncs on demand. */
class CountingFs extends NodeFs {
  fds = new Set<number>();
  maxOpen = 0;
  closedWhileBusy = 0;
  busy = new Map<number, number>();
  syncsBeforeClose = new Map<number, number>();
  holdReads: Promise<void> | null = null;
  holdSyncs: Promise<void> | null = null;
  syncsHeld = 0;
  failSyncs = false;

  override async open(file: string, mode: OpenMode): Promise<number> {
    const fd = await super.open(file, mode);
    this.fds.add(fd);
    this.maxOpen = Math.max(this.maxOpen, this.fds.size);
    return fd;
  }

  override async close(fd: number): Promise<void> {
    if ((this.busy.get(fd) ?? 0) > 0) this.closedWhileBusy++;
    this.fds.delete(fd);
    return super.close(fd);
  }

  override async read(fd: number, buf: Buffer, offset: number, length: number, position: number) {
    this.busy.set(fd, (this.busy.get(fd) ?? 0) + 1);
    try {
      if (this.holdReads) await this.holdReads;
      return await super.read(fd, buf, offset, length, position);
    } finally {
      this.busy.set(fd, (this.busy.get(fd) ?? 1) - 1);
    }
  }

  override async fdatasync(fd: number): Promise<void> {
    if (this.holdSyncs) {
      this.syncsHeld++;
      await this.holdSyncs;
    }
    if (this.failSyncs) throw Object.assign(new Error("injected EIO"), { code: "EIO" });
    this.syncsBeforeClose.set(fd, (this.syncsBeforeClose.get(fd) ?? 0) + 1);
    return super.fdatasync(fd);
  }
}

async function readAll(fs: StorageFs, h: number, length: number): Promise<string> {
  const buf = Buffer.alloc(length);
  const n = await fs.read(h, buf, 0, length, 0);
  return buf.subarray(0, n).toString();
}

describe("FileCache", () => {
  it("keeps at most maxOpen descriptors and reopens closed ones with their bytes", async () => {
    const dir = tempDir();
    const inner = new CountingFs();
    const cache = new FileCache(inner, 4);
    const handles: number[] = [];
    for (let i = 0; i < 40; i++) {
      const h = await cache.open(path.join(dir, `f${i}`), "create");
      await cache.writev(h, [Buffer.from(`file-${i}`)], 0);
      handles.push(h);
    }
    for (let round = 0; round < 2; round++) {
      const texts = await Promise.all(handles.map((h) => readAll(cache, h, 64)));
      expect(texts).toEqual(handles.map((_, i) => `file-${i}`));
    }
    expect(inner.maxOpen).toBeLessThanOrEqual(4);
    expect(cache.evictions).toBeGreaterThan(40);
    for (const h of handles) await cache.close(h);
    expect(inner.fds.size).toBe(0);
    expect(cache.openCount).toBe(0);
  });

  it("never closes a descriptor under a read in progress", async () => {
    const dir = tempDir();
    const inner = new CountingFs();
    const cache = new FileCache(inner, 1);
    const a = await cache.open(path.join(dir, "a"), "create");
    await cache.writev(a, [Buffer.from("aaa")], 0);
    let release = () => {};
    inner.holdReads = new Promise<void>((r) => (release = r));
    const held = readAll(cache, a, 3);
    await waitFor(() => [...inner.busy.values()].some((n) => n > 0), "the read of a to start");
    // Another file needs the only descriptor while a's read waits: it must wait, not close a's.
    let othersDone = false;
    const others = (async () => {
      const out: string[] = [];
      for (let i = 0; i < 3; i++) {
        const h = await cache.open(path.join(dir, `o${i}`), "create");
        await cache.writev(h, [Buffer.from(`o${i}`)], 0);
        out.push(await readAll(cache, h, 2));
        await cache.close(h);
      }
      othersDone = true;
      return out;
    })();
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(othersDone).toBe(false);
    expect(inner.closedWhileBusy).toBe(0);
    inner.holdReads = null;
    release();
    expect(await held).toBe("aaa");
    expect(await others).toEqual(["o0", "o1", "o2"]);
    expect(inner.closedWhileBusy).toBe(0);
    expect(inner.maxOpen).toBe(1);
    expect(await readAll(cache, a, 3)).toBe("aaa");
    await cache.close(a);
  });

  it("fdatasyncs a written file before closing it, and reports a failed flush to the next fdatasync", async () => {
    const dir = tempDir();
    const inner = new CountingFs();
    const cache = new FileCache(inner, 1);
    const a = await cache.open(path.join(dir, "a"), "create");
    await cache.writev(a, [Buffer.from("dirty")], 0);
    const b = await cache.open(path.join(dir, "b"), "create"); // evicts a: flushed first
    expect([...inner.syncsBeforeClose.values()].reduce((x, y) => x + y, 0)).toBe(1);
    await cache.writev(b, [Buffer.from("dirty too")], 0);
    inner.failSyncs = true;
    expect(await readAll(cache, a, 5)).toBe("dirty"); // evicts b: its flush fails
    inner.failSyncs = false;
    await expect(cache.fdatasync(b)).rejects.toThrow("injected EIO");
    await cache.fdatasync(b);
    await cache.close(a);
    await cache.close(b);
  });

  it("still fdatasyncs a file written after two overlapping fdatasyncs before evicting it", async () => {
    const dir = tempDir();
    const inner = new CountingFs();
    const cache = new FileCache(inner, 1);
    const a = await cache.open(path.join(dir, "a"), "create");
    await cache.writev(a, [Buffer.from("one")], 0);
    let release = () => {};
    inner.holdSyncs = new Promise<void>((r) => (release = r));
    const syncs = [cache.fdatasync(a), cache.fdatasync(a)];
    await waitFor(() => inner.syncsHeld === 2, "both fdatasyncs of a to be in flight");
    inner.holdSyncs = null;
    release();
    await Promise.all(syncs);
    // Written after both flushes began: a is dirty, so evicting it must flush it once more.
    await cache.writev(a, [Buffer.from("two")], 3);
    const before = [...inner.syncsBeforeClose.values()].reduce((x, y) => x + y, 0);
    const b = await cache.open(path.join(dir, "b"), "create"); // evicts a
    expect([...inner.syncsBeforeClose.values()].reduce((x, y) => x + y, 0)).toBe(before + 1);
    expect(await readAll(cache, a, 6)).toBe("onetwo");
    await cache.close(a);
    await cache.close(b);
  });

  it("follows a renamed file and its renamed directory instead of reopening their old names", async () => {
    const dir = tempDir();
    const inner = new CountingFs();
    const cache = new FileCache(inner, 1);
    const sub = path.join(dir, "p-0");
    await cache.mkdirp(sub);
    const old = await cache.open(path.join(sub, "x.log"), "create");
    await cache.writev(old, [Buffer.from("old")], 0);
    await cache.rename(path.join(sub, "x.log"), path.join(sub, "x.log.deleted"));
    const fresh = await cache.open(path.join(sub, "x.log"), "create"); // evicts old
    await cache.writev(fresh, [Buffer.from("new")], 0);
    expect(await readAll(cache, old, 3)).toBe("old");
    await cache.rename(sub, path.join(dir, "p-0.gone-delete"));
    expect(await readAll(cache, fresh, 3)).toBe("new");
    expect(await readAll(cache, old, 3)).toBe("old");
    await cache.close(old);
    await cache.close(fresh);
  });
});

describe("LogManager under an open-files cap", () => {
  it("writes, reads, closes and reopens 300 partitions with at most 64 files open", async () => {
    const dataDir = tempDir();
    const inner = new CountingFs();
    const partitions = 300;
    const open = () =>
      LogManager.open({ dataDir, fs: inner, maxOpenFiles: 64, checkpointIntervalMs: 0, cleanerBackoffMs: 0 });
    const manager = await open();
    for (let p = 0; p < partitions; p++) {
      const log = await manager.createLog("many", p);
      await log.append(batchOf(2, `p${p}`));
    }
    for (let p = 0; p < partitions; p++) {
      const read = await manager.getLog("many", p)!.read(0, { maxBytes: 1 << 20 });
      expect(read.records.length).toBeGreaterThan(0);
    }
    await manager.close();
    expect(inner.fds.size).toBe(0);
    const again = await open();
    expect(again.cleanStart).toBe(true);
    for (let p = 0; p < partitions; p++) expect(again.getLog("many", p)!.logEndOffset).toBe(2);
    await again.close();
    expect(inner.maxOpen).toBeLessThanOrEqual(64);
    expect(inner.closedWhileBusy).toBe(0);
  });
});
