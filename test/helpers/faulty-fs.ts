/**
 * A StorageFs over the real file system that fails on demand, the way a full or dying disk does:
 * fdatasync failing with EIO, writes refused with ENOSPC, torn writes (a prefix of the bytes
 * lands, then ENOSPC), opens refused with EMFILE (descriptors exhausted), and gates that hold writes, syncs or unlinks so a test can queue work
 * behind a call in flight.
 * Every call is counted. Faults apply only to files `target` accepts (all files by default).
 */
import { NodeFs, type OpenMode, type StorageFs } from "../../storage/fs.js";

const ERRNOS = {
  EIO: { errno: -5, text: "i/o error" },
  ENOSPC: { errno: -28, text: "no space left on device" },
  EMFILE: { errno: -24, text: "too many open files" },
};

/** A Node-style file-system error: `code`, `errno`, `syscall`, `path`. */
export function fsError(code: keyof typeof ERRNOS, syscall: string, file?: string): NodeJS.ErrnoException {
  const { errno, text } = ERRNOS[code];
  const err: NodeJS.ErrnoException = new Error(`${code}: ${text}, ${syscall}${file ? ` '${file}'` : ""}`);
  err.code = code;
  err.errno = errno;
  err.syscall = syscall;
  if (file) err.path = file;
  return err;
}

export type CallName = keyof StorageFs;

/** The calls a test can hold at a gate. */
export type HeldCall = "writev" | "fdatasync" | "unlink";

/** How many upcoming calls fail: a count, or every call until healed. */
export type FaultCount = number | "all";

export class FaultyFs implements StorageFs {
  readonly inner = new NodeFs();
  /** Calls made, by method (including the ones that failed). */
  readonly calls: Record<CallName, number> = {
    open: 0,
    close: 0,
    read: 0,
    writev: 0,
    fdatasync: 0,
    ftruncate: 0,
    fileSize: 0,
    exists: 0,
    readdir: 0,
    mkdirp: 0,
    rename: 0,
    unlink: 0,
    removeTree: 0,
    fsyncDir: 0,
    readFile: 0,
  };
  /** Faults thrown so far. */
  injected = 0;
  /** Bytes the real file system accepted through writev. */
  bytesWritten = 0;
  /** Which files faults apply to; the path is the one given to `open`. */
  target: (file: string) => boolean = () => true;

  private fdatasyncFaults = 0;
  private writeFaults = 0;
  private openFaults = 0;
  /** Bytes the next targeted writev lets through before it throws ENOSPC, or null. */
  private tornBytes: number | null = null;
  private readonly gates = new Map<HeldCall, Promise<void>>();
  private readonly paths = new Map<number, string>();

  /** Fails the next `count` targeted fdatasync calls (or all of them) with EIO. */
  failFdatasync(count: FaultCount = 1): this {
    this.fdatasyncFaults = count === "all" ? Number.POSITIVE_INFINITY : count;
    return this;
  }

  /** Refuses the next `count` targeted writev calls (or all of them) with ENOSPC, writing nothing. */
  failWrites(count: FaultCount = 1): this {
    this.writeFaults = count === "all" ? Number.POSITIVE_INFINITY : count;
    return this;
  }

  /** Refuses the next `count` opens of targeted files (or all of them) with EMFILE. */
  failOpens(count: FaultCount = 1): this {
    this.openFaults = count === "all" ? Number.POSITIVE_INFINITY : count;
    return this;
  }

  /** Makes the next targeted writev write only its first `bytes` bytes, then throw ENOSPC. */
  tearNextWrite(bytes: number): this {
    if (!Number.isInteger(bytes) || bytes < 0) throw new RangeError(`torn write of ${bytes} bytes`);
    this.tornBytes = bytes;
    return this;
  }

  /** Clears every pending fault (a gate stays closed until released). */
  heal(): this {
    this.fdatasyncFaults = 0;
    this.writeFaults = 0;
    this.openFaults = 0;
    this.tornBytes = null;
    return this;
  }

  /**
   * Holds every call of `method` (targeted or not) from now until the returned function is
   * called, so a test can queue work behind a call in flight. Gates: writev, fdatasync, unlink.
   */
  hold(method: HeldCall): () => void {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.gates.set(method, gate);
    return () => {
      if (this.gates.get(method) === gate) this.gates.delete(method);
      release();
    };
  }

  /** Holds every writev until released: `hold("writev")`. */
  holdWrites(): () => void {
    return this.hold("writev");
  }

  private async passGate(method: HeldCall): Promise<void> {
    const gate = this.gates.get(method);
    if (gate) await gate;
  }

  /** The path a descriptor was opened with (undefined once closed). */
  pathOf(fd: number): string | undefined {
    return this.paths.get(fd);
  }

  private targeted(fd: number): boolean {
    const file = this.paths.get(fd);
    return file !== undefined && this.target(file);
  }

  async open(file: string, mode: OpenMode): Promise<number> {
    this.calls.open++;
    if (this.openFaults > 0 && this.target(file)) {
      this.openFaults--;
      this.injected++;
      throw fsError("EMFILE", "open", file);
    }
    const fd = await this.inner.open(file, mode);
    this.paths.set(fd, file);
    return fd;
  }

  async close(fd: number): Promise<void> {
    this.calls.close++;
    this.paths.delete(fd);
    await this.inner.close(fd);
  }

  read(fd: number, buf: Buffer, offset: number, length: number, position: number): Promise<number> {
    this.calls.read++;
    return this.inner.read(fd, buf, offset, length, position);
  }

  async writev(fd: number, buffers: Buffer[], position: number): Promise<void> {
    this.calls.writev++;
    await this.passGate("writev");
    if (this.targeted(fd)) {
      if (this.writeFaults > 0) {
        this.writeFaults--;
        this.injected++;
        throw fsError("ENOSPC", "write", this.paths.get(fd));
      }
      if (this.tornBytes !== null) {
        const keep = this.tornBytes;
        this.tornBytes = null;
        const prefix = Buffer.concat(buffers).subarray(0, keep);
        if (prefix.length > 0) {
          await this.inner.writev(fd, [prefix], position);
          this.bytesWritten += prefix.length;
        }
        this.injected++;
        throw fsError("ENOSPC", "write", this.paths.get(fd));
      }
    }
    await this.inner.writev(fd, buffers, position);
    for (const b of buffers) this.bytesWritten += b.length;
  }

  async fdatasync(fd: number): Promise<void> {
    this.calls.fdatasync++;
    await this.passGate("fdatasync");
    if (this.targeted(fd) && this.fdatasyncFaults > 0) {
      this.fdatasyncFaults--;
      this.injected++;
      throw fsError("EIO", "fdatasync", this.paths.get(fd));
    }
    await this.inner.fdatasync(fd);
  }

  ftruncate(fd: number, length: number): Promise<void> {
    this.calls.ftruncate++;
    return this.inner.ftruncate(fd, length);
  }

  fileSize(fd: number): Promise<number> {
    this.calls.fileSize++;
    return this.inner.fileSize(fd);
  }

  exists(file: string): Promise<boolean> {
    this.calls.exists++;
    return this.inner.exists(file);
  }

  readdir(dir: string): Promise<string[]> {
    this.calls.readdir++;
    return this.inner.readdir(dir);
  }

  mkdirp(dir: string): Promise<void> {
    this.calls.mkdirp++;
    return this.inner.mkdirp(dir);
  }

  rename(from: string, to: string): Promise<void> {
    this.calls.rename++;
    return this.inner.rename(from, to);
  }

  async unlink(file: string): Promise<void> {
    this.calls.unlink++;
    await this.passGate("unlink");
    return this.inner.unlink(file);
  }

  removeTree(dir: string): Promise<void> {
    this.calls.removeTree++;
    return this.inner.removeTree(dir);
  }

  fsyncDir(dir: string): Promise<void> {
    this.calls.fsyncDir++;
    return this.inner.fsyncDir(dir);
  }

  readFile(file: string): Promise<Buffer | null> {
    this.calls.readFile++;
    return this.inner.readFile(file);
  }
}
