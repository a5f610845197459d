/**
 * The sparse offset index of one segment: entries (offset relative to the segment's base, file
 * position of the batch that starts at that offset), one per `index.interval.bytes` of log.
 * On disk (`.index`): 8 bytes an entry, u32 relative offset then u32 position, big-endian.
 * An index carries no checksum: it is checked for sanity when loaded and rebuilt from the log
 * whenever the check fails.
 */

export const OFFSET_INDEX_ENTRY_SIZE = 8;
const INITIAL_CAPACITY = 64;

export class OffsetIndex {
  private offsets: Uint32Array;
  private positions: Uint32Array;
  private count = 0;

  constructor(readonly maxEntries: number) {
    const capacity = Math.min(INITIAL_CAPACITY, Math.max(1, maxEntries));
    this.offsets = new Uint32Array(capacity);
    this.positions = new Uint32Array(capacity);
  }

  get entries(): number {
    return this.count;
  }

  isFull(): boolean {
    return this.count >= this.maxEntries;
  }

  lastOffset(): number {
    return this.count === 0 ? -1 : this.offsets[this.count - 1];
  }

  lastPosition(): number {
    return this.count === 0 ? -1 : this.positions[this.count - 1];
  }

  /** Adds an entry; offsets and positions must strictly increase. Returns false when full. */
  append(relativeOffset: number, position: number): boolean {
    if (this.isFull()) return false;
    if (this.count > 0 && (relativeOffset <= this.lastOffset() || position <= this.lastPosition())) {
      throw new Error(`index entry (${relativeOffset}, ${position}) does not follow the last one`);
    }
    if (this.count === this.offsets.length) this.grow();
    this.offsets[this.count] = relativeOffset;
    this.positions[this.count] = position;
    this.count++;
    return true;
  }

  private grow(): void {
    const capacity = Math.min(this.maxEntries, this.offsets.length * 2);
    const offsets = new Uint32Array(capacity);
    const positions = new Uint32Array(capacity);
    offsets.set(this.offsets);
    positions.set(this.positions);
    this.offsets = offsets;
    this.positions = positions;
  }

  /** Index of the last entry whose relative offset is <= `relativeOffset`, or -1. */
  private floor(relativeOffset: number): number {
    let lo = 0;
    let hi = this.count - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.offsets[mid] <= relativeOffset) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  /** The file position from which a scan finds `relativeOffset`: the floor entry's, else 0. */
  lookup(relativeOffset: number): number {
    const i = this.floor(relativeOffset);
    return i < 0 ? 0 : this.positions[i];
  }

  /** Drops every entry at or after `relativeOffset`. */
  truncateToOffset(relativeOffset: number): void {
    this.count = this.floor(relativeOffset - 1) + 1;
  }

  toBuffer(): Buffer {
    const buf = Buffer.allocUnsafe(this.count * OFFSET_INDEX_ENTRY_SIZE);
    for (let i = 0; i < this.count; i++) {
      buf.writeUInt32BE(this.offsets[i], i * 8);
      buf.writeUInt32BE(this.positions[i], i * 8 + 4);
    }
    return buf;
  }

  /**
   * Loads an index file's bytes, or returns null if they cannot be a valid index of a segment of
   * `logSize` bytes holding relative offsets below `offsetLimit`.
   */
  static fromBuffer(
    buf: Buffer,
    maxEntries: number,
    logSize: number,
    offsetLimit: number,
  ): OffsetIndex | null {
    if (buf.length % OFFSET_INDEX_ENTRY_SIZE !== 0) return null;
    const n = buf.length / OFFSET_INDEX_ENTRY_SIZE;
    const index = new OffsetIndex(Math.max(maxEntries, n));
    for (let i = 0; i < n; i++) {
      const offset = buf.readUInt32BE(i * 8);
      const position = buf.readUInt32BE(i * 8 + 4);
      if (position >= logSize || offset >= offsetLimit) return null;
      if (i > 0 && (offset <= index.lastOffset() || position <= index.lastPosition())) return null;
      index.append(offset, position);
    }
    return index;
  }
}
