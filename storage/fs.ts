/**
 * The file-system calls the storage engine makes, behind one interface so tests can inject fsync
 * failures, ENOSPC and torn writes. Files are addressed by numeric descriptors; every write names
 * its position, so no call depends on a shared file cursor.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";

export type OpenMode = "read" | "readWrite" | "create";

export interface StorageFs {
  /** Opens a file. `create` creates it, or truncates it to zero bytes if it exists. */
  open(file: string, mode: OpenMode): Promise<number>;
  close(fd: number): Promise<void>;
  /** Reads up to `length` bytes at `position`; returns how many were read (0 at end of file). */
  read(fd: number, buf: Buffer, offset: number, length: number, position: number): Promise<number>;
  /** Writes every byte of `buffers` at `position`, or throws. A throw may leave a torn prefix. */
  writev(fd: number, buffers: Buffer[], position: number): Promise<void>;
  fdatasync(fd: number): Promise<void>;
  ftruncate(fd: number, length: number): Promise<void>;
  fileSize(fd: number): Promise<number>;
  /** Whether a path exists. */
  exists(file: string): Promise<boolean>;
  readdir(dir: string): Promise<string[]>;
  mkdirp(dir: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(file: string): Promise<void>;
  removeTree(dir: string): Promise<void>;
  /** Flushes a directory's entries (new, renamed and removed names) to disk. */
  fsyncDir(dir: string): Promise<void>;
  /** The whole file, or null if it does not exist. */
  readFile(file: string): Promise<Buffer | null>;
}

const openAsync = promisify(fs.open);

function readAsync(
  fd: number,
  buf: Buffer,
  offset: number,
  length: number,
  position: number,
): Promise<number> {
  return new Promise((resolve, reject) =>
    fs.read(fd, buf, offset, length, position, (err, n) => (err ? reject(err) : resolve(n))),
  );
}

function writevAsync(fd: number, buffers: Buffer[], position: number): Promise<number> {
  return new Promise((resolve, reject) =>
    fs.writev(fd, buffers, position, (err, n) => (err ? reject(err) : resolve(n))),
  );
}
const closeAsync = promisify(fs.close);
const fdatasyncAsync = promisify(fs.fdatasync);
const ftruncateAsync = promisify(fs.ftruncate);
const fstatAsync = promisify(fs.fstat);
const fsyncAsync = promisify(fs.fsync);

const FLAGS: Record<OpenMode, string> = { read: "r", readWrite: "r+", create: "w+" };

/** The real file system, through Node's fd-level calls (no FileHandle objects on hot paths). */
export class NodeFs implements StorageFs {
  open(file: string, mode: OpenMode): Promise<number> {
    return openAsync(file, FLAGS[mode]);
  }

  close(fd: number): Promise<void> {
    return closeAsync(fd);
  }

  async read(fd: number, buf: Buffer, offset: number, length: number, position: number): Promise<number> {
    let total = 0;
    while (total < length) {
      const n = await readAsync(fd, buf, offset + total, length - total, position + total);
      if (n === 0) break;
      total += n;
    }
    return total;
  }

  async writev(fd: number, buffers: Buffer[], position: number): Promise<void> {
    let remaining = 0;
    for (const b of buffers) remaining += b.length;
    let pending = buffers;
    while (remaining > 0) {
      const written = await writevAsync(fd, pending, position);
      remaining -= written;
      position += written;
      if (remaining > 0) pending = dropPrefix(pending, written);
    }
  }

  fdatasync(fd: number): Promise<void> {
    return fdatasyncAsync(fd);
  }

  ftruncate(fd: number, length: number): Promise<void> {
    return ftruncateAsync(fd, length);
  }

  async fileSize(fd: number): Promise<number> {
    return (await fstatAsync(fd)).size;
  }

  async exists(file: string): Promise<boolean> {
    try {
      await fs.promises.access(file);
      return true;
    } catch {
      return false;
    }
  }

  readdir(dir: string): Promise<string[]> {
    return fs.promises.readdir(dir);
  }

  async mkdirp(dir: string): Promise<void> {
    await fs.promises.mkdir(dir, { recursive: true });
  }

  rename(from: string, to: string): Promise<void> {
    return fs.promises.rename(from, to);
  }

  unlink(file: string): Promise<void> {
    return fs.promises.unlink(file);
  }

  removeTree(dir: string): Promise<void> {
    return fs.promises.rm(dir, { recursive: true, force: true });
  }

  async fsyncDir(dir: string): Promise<void> {
    const fd = fs.openSync(dir, "r");
    try {
      await fsyncAsync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  async readFile(file: string): Promise<Buffer | null> {
    try {
      return await fs.promises.readFile(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw err;
    }
  }
}

function dropPrefix(buffers: Buffer[], n: number): Buffer[] {
  const out: Buffer[] = [];
  for (const b of buffers) {
    if (n >= b.length) {
      n -= b.length;
      continue;
    }
    out.push(n > 0 ? b.subarray(n) : b);
    n = 0;
  }
  return out;
}

/**
 * Replaces `file` with `data` so that a crash leaves either the old or the new contents:
 * write `file.tmp`, fdatasync it, rename over `file`, fsync the directory.
 */
export async function writeFileAtomic(sfs: StorageFs, file: string, data: Buffer): Promise<void> {
  const tmp = `${file}.tmp`;
  const fd = await sfs.open(tmp, "create");
  try {
    await sfs.writev(fd, [data], 0);
    await sfs.fdatasync(fd);
  } finally {
    await sfs.close(fd);
  }
  await sfs.rename(tmp, file);
  await sfs.fsyncDir(path.dirname(file));
}
