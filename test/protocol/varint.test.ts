import { describe, expect, it } from "vitest";
import {
  Cursor,
  readInt64,
  readUnsignedVarint,
  readVarint,
  readVarlong,
  sizeOfUnsignedVarint,
  sizeOfVarint,
  writeInt64,
  writeUnsignedVarint,
  writeVarint,
} from "../../protocol/varint.js";
import { mulberry32 } from "../helpers/random.js";

describe("varints", () => {
  it("round-trips zigzag varints at the edges", () => {
    const values = [0, 1, -1, 63, -64, 64, -65, 300, -300, 2 ** 31 - 1, -(2 ** 31), 2 ** 40, -(2 ** 52)];
    for (const v of values) {
      const buf = Buffer.alloc(10);
      const end = writeVarint(buf, 0, v);
      expect(end).toBe(sizeOfVarint(v));
      const c = new Cursor(buf, 0);
      expect(Math.abs(v) < 2 ** 31 ? readVarint(c) : readVarlong(c)).toBe(v);
      expect(c.pos).toBe(end);
    }
  });

  it("round-trips random values of every width", () => {
    const rand = mulberry32(7);
    const buf = Buffer.alloc(10);
    for (let i = 0; i < 20_000; i++) {
      const bits = 1 + Math.floor(rand() * 52);
      const magnitude = Math.floor(rand() * 2 ** bits);
      const v = rand() < 0.5 && magnitude > 0 ? -magnitude : magnitude;
      const end = writeVarint(buf, 0, v);
      const c = new Cursor(buf, 0);
      expect(readVarlong(c)).toBe(v);
      expect(c.pos).toBe(end);
      if (Math.abs(v) < 2 ** 31) expect(readVarint(new Cursor(buf, 0))).toBe(v);
      const u = magnitude % 2 ** 32;
      const uend = writeUnsignedVarint(buf, 0, u);
      const uc = new Cursor(buf, 0);
      expect(readUnsignedVarint(uc)).toBe(u);
      expect(uc.pos).toBe(uend);
    }
  });

  it("matches Kafka's encoding of known values", () => {
    // zigzag(-1) = 1, zigzag(1) = 2, zigzag(150) = 300 = 0xac 0x02
    const buf = Buffer.alloc(4);
    expect(buf.subarray(0, writeVarint(buf, 0, -1))).toEqual(Buffer.from([0x01]));
    expect(buf.subarray(0, writeVarint(buf, 0, 150))).toEqual(Buffer.from([0xac, 0x02]));
    expect(buf.subarray(0, writeUnsignedVarint(buf, 0, 300))).toEqual(Buffer.from([0xac, 0x02]));
    expect(sizeOfUnsignedVarint(2 ** 32 - 1)).toBe(5);
  });

  it("refuses truncated and overlong varints with CORRUPT_MESSAGE", () => {
    expect(() => readVarint(new Cursor(Buffer.from([0x80, 0x80]), 0))).toThrow(/CORRUPT_MESSAGE/);
    expect(() =>
      readUnsignedVarint(new Cursor(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), 0)),
    ).toThrow(/CORRUPT_MESSAGE/);
    expect(() => new Cursor(Buffer.alloc(3), 0).need(4)).toThrow(/CORRUPT_MESSAGE/);
  });

  it("round-trips int64 numbers and refuses unsafe ones", () => {
    const buf = Buffer.alloc(8);
    for (const v of [0, 1, -1, 2 ** 32, -(2 ** 32) - 5, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]) {
      writeInt64(buf, 0, v);
      expect(buf.readBigInt64BE(0)).toBe(BigInt(v));
      expect(readInt64(buf, 0)).toBe(v);
    }
    buf.writeBigInt64BE(2n ** 62n, 0);
    expect(() => readInt64(buf, 0)).toThrow(/CORRUPT_MESSAGE/);
    expect(() => writeInt64(buf, 0, 2 ** 60)).toThrow(RangeError);
  });
});
