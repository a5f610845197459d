import { createRequire } from "node:module";

interface Crc32cModule {
  buf(data: Uint8Array, seed?: number): number;
}

// crc-32 ships CommonJS only; its crc32c entry point has no ESM export map.
const crc32cModule = createRequire(import.meta.url)("crc-32/crc32c") as Crc32cModule;

/** CRC-32C (Castagnoli) of `data[start, end)` as an unsigned 32-bit integer. */
export function crc32c(data: Uint8Array, start = 0, end = data.length): number {
  const view = start === 0 && end === data.length ? data : data.subarray(start, end);
  return crc32cModule.buf(view, 0) >>> 0;
}
