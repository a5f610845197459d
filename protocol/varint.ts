/**
 * Variable-length integers as Kafka encodes them (protobuf style, little-endian base-128 groups)
 * and 64-bit integers held in JavaScript numbers.
 *
 * Offsets, timestamps and producer ids are kept as numbers: every value samsa produces or accepts
 * fits in 2^53, and the int64 helpers refuse values that do not, instead of rounding silently.
 */
import { KafkaError } from "./errors.js";

const TWO_32 = 0x1_0000_0000;

/** A read position in a buffer. Readers advance `pos`; `end` bounds every read. */
export class Cursor {
  constructor(
    readonly buf: Buffer,
    public pos: number,
    public end: number = buf.length,
  ) {}

  remaining(): number {
    return this.end - this.pos;
  }

  /** Throws CORRUPT_MESSAGE unless `n` more bytes are present. */
  need(n: number): void {
    if (n < 0 || this.pos + n > this.end) {
      throw new KafkaError("CORRUPT_MESSAGE", `needs ${n} bytes, ${this.end - this.pos} remain`);
    }
  }
}

const TRUNCATED = "truncated varint";

/** Reads an unsigned varint of at most 5 bytes (a uint32). */
export function readUnsignedVarint(c: Cursor): number {
  const { buf, end } = c;
  let pos = c.pos;
  let value = 0;
  // The first four bytes carry 28 bits: shifts stay inside a positive int32.
  for (let shift = 0; shift < 28; shift += 7) {
    if (pos >= end) throw new KafkaError("CORRUPT_MESSAGE", TRUNCATED);
    const b = buf[pos++];
    value |= (b & 0x7f) << shift;
    if (b < 0x80) {
      c.pos = pos;
      return value;
    }
  }
  if (pos >= end) throw new KafkaError("CORRUPT_MESSAGE", TRUNCATED);
  const last = buf[pos++];
  if (last > 0x0f) throw new KafkaError("CORRUPT_MESSAGE", "varint longer than 32 bits");
  c.pos = pos;
  return value + last * 0x1000_0000;
}

/** Reads a zigzag-encoded signed varint (int32). */
export function readVarint(c: Cursor): number {
  const u = readUnsignedVarint(c);
  return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
}

/** Reads a zigzag-encoded signed varlong (up to 10 bytes); values beyond 2^53 are refused. */
export function readVarlong(c: Cursor): number {
  const { buf, end } = c;
  let pos = c.pos;
  let value = 0;
  let shift = 0;
  for (; shift < 28; shift += 7) {
    if (pos >= end) throw new KafkaError("CORRUPT_MESSAGE", TRUNCATED);
    const b = buf[pos++];
    value |= (b & 0x7f) << shift;
    if (b < 0x80) {
      c.pos = pos;
      return value & 1 ? -(value + 1) / 2 : value / 2;
    }
  }
  let scale = 0x1000_0000;
  for (let i = 4; i < 10; i++) {
    if (pos >= end) throw new KafkaError("CORRUPT_MESSAGE", TRUNCATED);
    const b = buf[pos++];
    value += (b & 0x7f) * scale;
    if (b < 0x80) {
      if (value > Number.MAX_SAFE_INTEGER) throw new KafkaError("CORRUPT_MESSAGE", "varlong beyond 2^53");
      c.pos = pos;
      return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
    }
    scale *= 128;
  }
  throw new KafkaError("CORRUPT_MESSAGE", "varlong longer than 10 bytes");
}

/** Bytes needed for an unsigned varint (value >= 0, at most 2^53). */
export function sizeOfUnsignedVarint(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

function zigzag(value: number): number {
  return value >= 0 ? value * 2 : -value * 2 - 1;
}

/** Bytes needed for a zigzag varint or varlong. */
export function sizeOfVarint(value: number): number {
  return sizeOfUnsignedVarint(zigzag(value));
}

/** Writes an unsigned varint at `pos`; returns the position after it. */
export function writeUnsignedVarint(buf: Buffer, pos: number, value: number): number {
  while (value >= 0x80) {
    buf[pos++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  buf[pos++] = value;
  return pos;
}

/** Writes a zigzag varint or varlong at `pos`; returns the position after it. */
export function writeVarint(buf: Buffer, pos: number, value: number): number {
  return writeUnsignedVarint(buf, pos, zigzag(value));
}

/** Reads a big-endian int64 as a number; throws if it lies outside +-2^53. */
export function readInt64(buf: Buffer, pos: number): number {
  const hi = buf.readInt32BE(pos);
  const lo = buf.readUInt32BE(pos + 4);
  const value = hi * TWO_32 + lo;
  if (!Number.isSafeInteger(value)) throw new KafkaError("CORRUPT_MESSAGE", "int64 beyond 2^53");
  return value;
}

/** Writes a number as a big-endian int64. */
export function writeInt64(buf: Buffer, pos: number, value: number): void {
  if (!Number.isSafeInteger(value)) throw new RangeError(`int64 value ${value} is not a safe integer`);
  const hi = Math.floor(value / TWO_32);
  buf.writeInt32BE(hi, pos);
  buf.writeUInt32BE(value - hi * TWO_32, pos + 4);
}
