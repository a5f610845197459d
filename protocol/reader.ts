/**
 * Bounded reads of Kafka protocol primitives. Every length or count the sender declares is checked
 * against the bytes that remain before anything is allocated or sliced; a violation throws
 * KafkaError("CORRUPT_MESSAGE"), never a RangeError.
 */
import { KafkaError } from "./errors.js";

const TWO_32 = 0x1_0000_0000;

/** An int64 as decoded: a number within +-(2^53 - 1), else an exact bigint. */
export type Int64 = number | bigint;

export class Reader {
  pos: number;
  /** int64 values read beyond +-(2^53 - 1), which int64() gave as bigints. */
  wideInt64s = 0;

  constructor(
    readonly buf: Buffer,
    pos = 0,
    readonly end = buf.length,
  ) {
    this.pos = pos;
  }

  remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number): void {
    if (n < 0 || this.pos + n > this.end) {
      throw new KafkaError(
        "CORRUPT_MESSAGE",
        `needs ${n} bytes at ${this.pos}, ${this.end - this.pos} remain`,
      );
    }
  }

  bool(): boolean {
    return this.int8() !== 0;
  }

  int8(): number {
    this.need(1);
    return this.buf.readInt8(this.pos++);
  }

  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  uint16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  uint32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /**
   * An int64, exactly: a number within +-(2^53 - 1), else a bigint (counted in `wideInt64s`, so a
   * caller learns that a message holds one without walking it). Never rounded or clamped.
   */
  int64(): number | bigint {
    this.need(8);
    const hi = this.buf.readInt32BE(this.pos);
    const lo = this.buf.readUInt32BE(this.pos + 4);
    const v = hi * TWO_32 + lo;
    if (Number.isSafeInteger(v)) {
      this.pos += 8;
      return v;
    }
    const wide = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    this.wideInt64s++;
    return wide;
  }

  float64(): number {
    this.need(8);
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }

  uuid(): string {
    this.need(16);
    const hex = this.buf.toString("hex", this.pos, this.pos + 16);
    this.pos += 16;
    return hex;
  }

  /** Unsigned varint, at most 5 bytes (uint32). */
  uvarint(): number {
    let value = 0;
    for (let i = 0; i < 5; i++) {
      this.need(1);
      const b = this.buf[this.pos++];
      value += (b & 0x7f) * 2 ** (7 * i);
      if ((b & 0x80) === 0) {
        if (value > 0xffff_ffff) throw new KafkaError("CORRUPT_MESSAGE", "unsigned varint beyond 32 bits");
        return value;
      }
    }
    throw new KafkaError("CORRUPT_MESSAGE", "unsigned varint longer than 5 bytes");
  }

  /** Zigzag varint (int32). */
  varint(): number {
    const u = this.uvarint();
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  }

  /** A count or length of at most `max`, each unit taking at least `unitBytes` bytes. */
  private checkedLength(length: number, unitBytes: number): number {
    if (length * unitBytes > this.remaining()) {
      throw new KafkaError(
        "CORRUPT_MESSAGE",
        `declared length ${length} exceeds the ${this.remaining()} bytes left`,
      );
    }
    return length;
  }

  private text(length: number): string {
    this.need(length);
    const s = this.buf.toString("utf8", this.pos, this.pos + length);
    this.pos += length;
    return s;
  }

  private slice(length: number): Buffer {
    this.need(length);
    const b = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return b;
  }

  /** int16-length string; null for length -1. */
  nullableString(): string | null {
    const length = this.int16();
    if (length === -1) return null;
    if (length < -1) throw new KafkaError("CORRUPT_MESSAGE", `string length ${length}`);
    return this.text(length);
  }

  /** uvarint(length + 1) string; null for 0. */
  compactNullableString(): string | null {
    const length = this.uvarint() - 1;
    return length < 0 ? null : this.text(length);
  }

  /** int32-length bytes; null for -1. */
  nullableBytes(): Buffer | null {
    const length = this.int32();
    if (length === -1) return null;
    if (length < -1) throw new KafkaError("CORRUPT_MESSAGE", `bytes length ${length}`);
    return this.slice(length);
  }

  compactNullableBytes(): Buffer | null {
    const length = this.uvarint() - 1;
    return length < 0 ? null : this.slice(length);
  }

  /** int32 array count; -1 for a null array. Checked against the bytes left. */
  arrayLength(minElementBytes: number): number {
    const n = this.int32();
    if (n < -1) throw new KafkaError("CORRUPT_MESSAGE", `array length ${n}`);
    return n === -1 ? -1 : this.checkedLength(n, minElementBytes);
  }

  /** uvarint(count + 1); -1 for a null array. */
  compactArrayLength(minElementBytes: number): number {
    const n = this.uvarint() - 1;
    return n === -1 ? -1 : this.checkedLength(n, minElementBytes);
  }

  /** Skips `n` bytes. */
  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  /** The bytes from the current position to the end, without copying. */
  rest(): Buffer {
    const b = this.buf.subarray(this.pos, this.end);
    this.pos = this.end;
    return b;
  }

  /** A view of `n` bytes, without copying. */
  bytes(n: number): Buffer {
    return this.slice(n);
  }
}
