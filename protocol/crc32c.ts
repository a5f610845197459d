/**
 * CRC-32C (Castagnoli), the checksum of RecordBatch v2.
 *
 * `crc-32` (pure JavaScript, `crc-32/crc32c`) is the reference and always available.
 * `@node-rs/crc32`, an optional dependency with prebuilt native binaries, uses the CPU's CRC32
 * instruction and runs about four times faster; it is used whenever it loads. Both give the same
 * values (tested). See docs/decisions/0004-crc32c.md.
 */
import { createRequire } from "node:module";

type Crc32cFn = (data: Uint8Array) => number;

const require = createRequire(import.meta.url);

function loadPortable(): Crc32cFn {
  // crc-32 ships CommonJS only; its crc32c entry point has no ESM export map.
  const mod = require("crc-32/crc32c") as { buf(data: Uint8Array, seed?: number): number };
  return (data) => mod.buf(data, 0) >>> 0;
}

function loadNative(): Crc32cFn | null {
  if (process.env.SAMSA_CRC32C === "portable") return null;
  try {
    const mod = require("@node-rs/crc32") as { crc32c(data: Buffer, initial?: number): number };
    return (data) => mod.crc32c(data as Buffer) >>> 0;
  } catch {
    return null;
  }
}

/** The pure-JavaScript implementation, exported so tests can compare against it. */
export const crc32cPortable: Crc32cFn = loadPortable();
const native = loadNative();
const impl: Crc32cFn = native ?? crc32cPortable;

/** Which implementation `crc32c` uses: "native" or "portable". */
export const crc32cImplementation: "native" | "portable" = native ? "native" : "portable";

/** CRC-32C of `data[start, end)` as an unsigned 32-bit integer. */
export function crc32c(data: Uint8Array, start = 0, end = data.length): number {
  const view = start === 0 && end === data.length ? data : data.subarray(start, end);
  return impl(view);
}
