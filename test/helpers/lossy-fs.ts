/**
 * A FaultyFs that models what a power cut keeps: for every file, only the bytes up to its size
 * at its last fdatasync. `powerCut()` truncates every file it has seen to that durable size
 * (zero for a file never synced), closing the descriptors first, the way a machine that lost
 * power and rebooted would present the directory. Renames carry the durable size along (the
 * engine syncs before it renames); a shrinking ftruncate is taken as durable at once.
 */
import { closeSync, existsSync, fstatSync, statSync, truncateSync } from "node:fs";
import type { OpenMode } from "../../storage/fs.js";
import { FaultyFs } from "./faulty-fs.js";

export class LossyFs extends FaultyFs {
  /** Durable bytes by path. */
  private readonly durable = new Map<string, number>();
  private readonly openFds = new Map<number, string>();

  override async open(file: string, mode: OpenMode): Promise<number> {
    const fd = await super.open(file, mode);
    this.openFds.set(fd, file);
    if (mode === "create") this.durable.set(file, 0);
    else if (!this.durable.has(file)) this.durable.set(file, fstatSync(fd).size);
    return fd;
  }

  override async close(fd: number): Promise<void> {
    this.openFds.delete(fd);
    await super.close(fd);
  }

  override async fdatasync(fd: number): Promise<void> {
    const size = fstatSync(fd).size;
    await super.fdatasync(fd);
    const file = this.openFds.get(fd);
    if (file !== undefined) this.durable.set(file, size);
  }

  override async ftruncate(fd: number, length: number): Promise<void> {
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
