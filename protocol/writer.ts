/**
 * A chunk-list writer: small fields go into a growing scratch buffer; large byte blocks (record
 * sets) are kept as their own chunks and never copied. `toChunks()` returns the pieces for a
 * single writev/cork; `size` is known up front, so a frame's length prefix costs nothing.
 */
import { sizeOfUnsignedVarint } from "./varint.js";

const SCRATCH_BYTES = 4096;
/** Byte blocks at least this large are referenced as chunks instead of copied. */
const ZERO_COPY_MIN_BYTES = 1024;
const TWO_32 = 0x1_0000_0000;

export class Writer {
  private chunks: Buffer[] = [];
  private scratch: Buffer;
  private used = 0;
  /** Bytes written so far. */
  size = 0;

  constructor(initialBytes = SCRATCH_BYTES) {
    this.scratch = Buffer.allocUnsafe(initialBytes);
  }

  private reserve(n: number): void {
    if (this.used + n <= this.scratch.length) return;
    this.flushScratch();
    this.scratch = Buffer.allocUnsafe(Math.max(SCRATCH_BYTES, n));
  }

  private flushScratch(): void {
    if (this.used > 0) this.chunks.push(this.scratch.subarray(0, this.used));
    this.scratch = this.scratch.subarray(this.used);
    this.used = 0;
  }

  bool(v: boolean): this {
    return this.int8(v ? 1 : 0);
  }

  int8(v: number): this {
    this.reserve(1);
    this.scratch.writeInt8(v, this.used);
    this.used += 1;
    this.size += 1;
    return this;
  }

  int16(v: number): this {
    this.reserve(2);
    this.scratch.writeInt16BE(v, this.used);
    this.used += 2;
    this.size += 2;
    return this;
  }

  uint16(v: number): this {
    this.reserve(2);
    this.scratch.writeUInt16BE(v, this.used);
    this.used += 2;
    this.size += 2;
    return this;
  }

  int32(v: number): this {
    this.reserve(4);
    this.scratch.writeInt32BE(v, this.used);
    this.used += 4;
    this.size += 4;
    return this;
  }

  uint32(v: number): this {
    this.reserve(4);
    this.scratch.writeUInt32BE(v, this.used);
    this.used += 4;
    this.size += 4;
    return this;
  }

  int64(v: number | bigint): this {
    this.reserve(8);
    if (typeof v === "bigint") {
      this.scratch.writeBigInt64BE(v, this.used);
    } else {
      const hi = Math.floor(v / TWO_32);
      this.scratch.writeInt32BE(hi, this.used);
      this.scratch.writeUInt32BE(v - hi * TWO_32, this.used + 4);
    }
    this.used += 8;
    this.size += 8;
    return this;
  }

  float64(v: number): this {
    this.reserve(8);
    this.scratch.writeDoubleBE(v, this.used);
    this.used += 8;
    this.size += 8;
    return this;
  }

  /** A UUID given as 32 hex digits (dashes allowed). */
  uuid(v: string): this {
    const hex = v.replace(/-/g, "");
    if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new RangeError(`not a UUID: ${v}`);
    return this.raw(Buffer.from(hex, "hex"));
  }

  uvarint(v: number): this {
    const n = sizeOfUnsignedVarint(v);
    this.reserve(n);
    while (v >= 0x80) {
      this.scratch[this.used++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.scratch[this.used++] = v;
    this.size += n;
    return this;
  }

  varint(v: number): this {
    return this.uvarint(v >= 0 ? v * 2 : -v * 2 - 1);
  }

  /** Appends bytes: large blocks by reference, small ones copied. */
  raw(b: Buffer): this {
    if (b.length >= ZERO_COPY_MIN_BYTES) {
      this.flushScratch();
      this.chunks.push(b);
    } else {
      this.reserve(b.length);
      b.copy(this.scratch, this.used);
      this.used += b.length;
    }
    this.size += b.length;
    return this;
  }

  nullableString(v: string | null | undefined): this {
    if (v == null) return this.int16(-1);
    const b = Buffer.from(v, "utf8");
    return this.int16(b.length).raw(b);
  }

  compactNullableString(v: string | null | undefined): this {
    if (v == null) return this.uvarint(0);
    const b = Buffer.from(v, "utf8");
    return this.uvarint(b.length + 1).raw(b);
  }

  nullableBytes(v: Buffer | null | undefined): this {
    if (v == null) return this.int32(-1);
    return this.int32(v.length).raw(v);
  }

  compactNullableBytes(v: Buffer | null | undefined): this {
    if (v == null) return this.uvarint(0);
    return this.uvarint(v.length + 1).raw(v);
  }

  /** The written pieces, in order. The writer must not be used afterwards. */
  toChunks(): Buffer[] {
    this.flushScratch();
    return this.chunks;
  }

  /** Everything written, as one buffer (copies when there are several chunks). */
  toBuffer(): Buffer {
    const chunks = this.toChunks();
    return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, this.size);
  }
}
