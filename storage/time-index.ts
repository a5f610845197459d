/**
 * The sparse time index of one segment: entries (max timestamp so far, relative offset of the
 * batch that first reached it), added beside offset-index entries when the maximum grew.
 * Invariant: every record before the batch at an entry's offset, and in that batch, has a
 * timestamp <= the entry's timestamp. So a search for the first record at or after T may start at
 * the batch of the last entry whose timestamp is < T.
 * On disk (`.timeindex`): 12 bytes an entry, int64 timestamp then u32 relative offset, big-endian.
 */
import { readInt64, writeInt64 } from "../protocol/varint.js";

export const TIME_INDEX_ENTRY_SIZE = 12;
const INITIAL_CAPACITY = 64;

export class TimeIndex {
  private timestamps = new Float64Array(INITIAL_CAPACITY);
  private offsets = new Uint32Array(INITIAL_CAPACITY);
  private count = 0;

  get entries(): number {
    return this.count;
  }

  lastTimestamp(): number {
    return this.count === 0 ? -1 : this.timestamps[this.count - 1];
  }

  lastOffset(): number {
    return this.count === 0 ? -1 : this.offsets[this.count - 1];
  }

  /** Adds an entry if `timestamp` exceeds the last one; timestamps and offsets only grow. */
  maybeAppend(timestamp: number, relativeOffset: number): void {
    if (this.count > 0 && (timestamp <= this.lastTimestamp() || relativeOffset < this.lastOffset())) return;
    if (this.count === this.timestamps.length) {
      const timestamps = new Float64Array(this.count * 2);
      const offsets = new Uint32Array(this.count * 2);
      timestamps.set(this.timestamps);
      offsets.set(this.offsets);
      this.timestamps = timestamps;
      this.offsets = offsets;
    }
    this.timestamps[this.count] = timestamp;
    this.offsets[this.count] = relativeOffset;
    this.count++;
  }

  /** Relative offset of the last entry with timestamp < `timestamp`, or 0 if none. */
  searchStart(timestamp: number): number {
    let lo = 0;
    let hi = this.count - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.timestamps[mid] < timestamp) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found < 0 ? 0 : this.offsets[found];
  }

  /** Drops every entry whose offset is at or after `relativeOffset`. */
  truncateToOffset(relativeOffset: number): void {
    while (this.count > 0 && this.offsets[this.count - 1] >= relativeOffset) this.count--;
  }

  toBuffer(): Buffer {
    const buf = Buffer.allocUnsafe(this.count * TIME_INDEX_ENTRY_SIZE);
    for (let i = 0; i < this.count; i++) {
      writeInt64(buf, i * 12, this.timestamps[i]);
      buf.writeUInt32BE(this.offsets[i], i * 12 + 8);
    }
    return buf;
  }

  /** Loads a time index file's bytes, or null if they are not a valid index below `offsetLimit`. */
  static fromBuffer(buf: Buffer, offsetLimit: number): TimeIndex | null {
    if (buf.length % TIME_INDEX_ENTRY_SIZE !== 0) return null;
    const index = new TimeIndex();
    for (let i = 0; i < buf.length / TIME_INDEX_ENTRY_SIZE; i++) {
      let timestamp: number;
      try {
        timestamp = readInt64(buf, i * 12);
      } catch {
        return null;
      }
      const offset = buf.readUInt32BE(i * 12 + 8);
      if (offset >= offsetLimit) return null;
      if (i > 0 && (timestamp <= index.lastTimestamp() || offset < index.lastOffset())) return null;
      index.maybeAppend(timestamp, offset);
    }
    return index;
  }
}
