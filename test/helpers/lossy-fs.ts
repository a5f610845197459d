/**
 * A FaultyFs that models what a power cut keeps: for every file, only the bytes up to its size
 * at its last fdatasync. `powerCut()` truncates every file it has seen to that durable size
 * (zero for a file never synced), closing the descriptors first, the way a machine that lost
 * power and rebooted would present the directory. Renames carry the durable size along (the
 * engine syncs before it renames); a shrinking ftruncate is taken as durable at once.
 *
 * Descriptors handed out are its own numbers, never reused, mapped to the real ones: the stores
 * abandoned at a power cut keep running in this process (a crashed one would not), and a late
 * close or read of theirs must fail (EBADF) rather than reach a real descriptor number the
 * system has since given to the store opened after the cut.
 */
import { closeSync, existsSync, fstatSync, statSync, truncateSync } from "node:fs";
import type { OpenMode } from "../../storage/fs.js";
import { FaultyFs } from "./faulty-fs.js";

export class LossyFs extends FaultyFs {
  /** Durable bytes by path. */
  private readonly durable = new Map<string, number>();
  /** Open real descriptors and their paths. */
  private readonly openFds = new Map<number, string>();
  /** This fs's descriptor numbers (never reused) -> real descriptors. */
  private readonly handles = new Map<number, number>();
  private nextHandle = 1_000_000;

  /** The real descriptor of `handle`; EBADF for one closed or cut off by a power cut. */
  private real(handle: number): number {
    const fd = this.handles.get(handle);
    if (fd === undefined)
      throw Object.assign(new Error(`EBADF: descriptor ${handle} is gone`), { code: "EBADF" });
    return fd;
  }

  override async open(file: string, mode: OpenMode): Promise<number> {
    const fd = await super.open(file, mode);
    this.openFds.set(fd, file);
    if (mode === "create") this.durable.set(file, 0);
    else if (!this.durable.has(file)) this.durable.set(file, fstatSync(fd).size);
    const handle = this.nextHandle++;
    this.handles.set(handle, fd);
    return handle;
  }

  override async close(handle: number): Promise<void> {
    const fd = this.real(handle);
    this.handles.delete(handle);
    this.openFds.delete(fd);
    await super.close(fd);
  }

  override read(
    handle: number,
    buf: Buffer,
    offset: number,
    length: number,
    position: number,
  ): Promise<number> {
    try {
      return super.read(this.real(handle), buf, offset, length, position);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  override async writev(handle: number, buffers: Buffer[], position: number): Promise<void> {
    await super.writev(this.real(handle), buffers, position);
  }

  override async fileSize(handle: number): Promise<number> {
    return super.fileSize(this.real(handle));
  }

  override async fdatasync(handle: number): Promise<void> {
    const fd = this.real(handle);
    const size = fstatSync(fd).size;
    await super.fdatasync(fd);
    const file = this.openFds.get(fd);
    if (file !== undefined) this.durable.set(file, size);
  }

  override async ftruncate(handle: number, length: number): Promise<void> {
    const fd = this.real(handle);
    await super.ftruncate(fd, length);
    const file = this.openFds.get(fd);
    if (file !== undefined) this.durable.set(file, Math.min(this.durable.get(file) ?? 0, length));
  }

  override async rename(from: string, to: string): Promise<void> {
    await super.rename(from, to);
    const size = this.durable.get(from);
    this.durable.delete(from);
    if (size !== undefined) this.durable.set(to, size);
  }

  override async unlink(file: string): Promise<void> {
    await super.unlink(file);
    this.durable.delete(file);
  }

  /** Bytes of `file` that would survive a power cut now (undefined: never seen). */
  durableSize(file: string): number | undefined {
    return this.durable.get(file);
  }

  /**
   * Drops every byte written since each file's last fdatasync. Every descriptor is closed: the
   * stores that used this fs must be abandoned, as a crashed process is.
   */
  powerCut(): { filesCut: number; bytesLost: number } {
    for (const fd of this.openFds.keys()) {
      try {
        closeSync(fd);
      } catch {
        // Already closed underneath.
      }
    }
    this.openFds.clear();
    this.handles.clear();
    let filesCut = 0;
    let bytesLost = 0;
    for (const [file, size] of this.durable) {
      if (!existsSync(file)) continue;
      const current = statSync(file).size;
      if (current > size) {
        truncateSync(file, size);
        filesCut++;
        bytesLost += current - size;
      }
    }
    return { filesCut, bytesLost };
  }
}
