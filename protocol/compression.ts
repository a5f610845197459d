/**
 * Kafka's four compression codecs, synchronous and pure (no I/O), in the framings Kafka clients
 * write and read. See docs/decisions/0005-compression-codecs.md.
 *
 * | id | codec  | framing on the wire                                | library                    |
 * |----|--------|----------------------------------------------------|----------------------------|
 * | 1  | gzip   | a gzip stream (RFC 1952)                           | node:zlib                  |
 * | 2  | snappy | xerial-framed snappy blocks; raw snappy also read  | `snappy` (napi-rs)         |
 * | 3  | lz4    | the LZ4 frame format (magic 0x184D2204, KIP-57)    | `lz4-napi` (lz4_flex)      |
 * | 4  | zstd   | standard zstd frames                               | `@cloudpss/zstd` (libzstd) |
 *
 * Every function here is synchronous: decoding runs once per fetched batch, and every library
 * chosen has a one-shot synchronous call. snappy and lz4 (CommonJS native addons, ~50 ms to load)
 * are loaded on their first use, so a process that never meets them (the CLI producing plain
 * lines) does not pay for them; zstd is imported up front, as its package picks its native or wasm
 * build with a top-level await, which only an import can wait for. Malformed compressed data throws
 * `KafkaError("CORRUPT_MESSAGE")`; a codec id outside 0-4 throws `UNSUPPORTED_COMPRESSION_TYPE`.
 *
 * `decompress` takes an optional bound on the output (`maxBytes`): a few hundred bytes of gzip or
 * zstd can claim gigabytes. Data that would exceed it throws `KafkaError("MESSAGE_TOO_LARGE")`
 * before the output is allocated: gzip stops at the bound (zlib's maxOutputLength); for snappy,
 * lz4 and zstd the most the input can produce is read from its framing first (snappy's length
 * preamble, lz4 and zstd block headers), without decompressing; `decompressedBound` gives that
 * figure. The broker never calls these on its event loop for more than a small batch: it goes
 * through storage/decompress.ts, which also runs them in worker threads (decision 0020).
 */

import { constants as bufferConstants } from "node:buffer";
import { createRequire } from "node:module";
import { gunzipSync, gzipSync } from "node:zlib";
import {
  TYPE as ZSTD_TYPE,
  compress as zstdCompressRaw,
  decompress as zstdDecompressRaw,
} from "@cloudpss/zstd";
import { KafkaError } from "./errors.js";

const requireCodec = createRequire(import.meta.url);
let snappyLib: typeof import("snappy") | null = null;
let lz4Lib: typeof import("lz4-napi") | null = null;

/** The snappy addon, loaded on first use. */
function snappy(): typeof import("snappy") {
  snappyLib ??= requireCodec("snappy") as typeof import("snappy");
  return snappyLib;
}

/** The lz4 addon, loaded on first use. */
function lz4(): typeof import("lz4-napi") {
  lz4Lib ??= requireCodec("lz4-napi") as typeof import("lz4-napi");
  return lz4Lib;
}

/** The codec ids of RecordBatch attributes bits 0-2. */
export enum Compression {
  None = 0,
  Gzip = 1,
  Snappy = 2,
  Lz4 = 3,
  Zstd = 4,
}

export type CompressionName = "none" | "gzip" | "snappy" | "lz4" | "zstd";

const NAMES: readonly CompressionName[] = ["none", "gzip", "snappy", "lz4", "zstd"];

/** The name Kafka configs use (`compression.type`) for a codec id. */
export function compressionName(codec: Compression): CompressionName {
  const name = NAMES[codec];
  if (name === undefined) throw unsupported(codec);
  return name;
}

/** The codec id for a `compression.type` name; throws UNSUPPORTED_COMPRESSION_TYPE for others. */
export function compressionFromName(name: string): Compression {
  const i = NAMES.indexOf(name as CompressionName);
  if (i < 0) throw new KafkaError("UNSUPPORTED_COMPRESSION_TYPE", `unknown compression type "${name}"`);
  return i as Compression;
}

export interface CompressOptions {
  /**
   * Compression level for gzip (1-9, zlib's default 6, as Java's GZIPOutputStream) and zstd
   * (libzstd's range, default 3 as the Java client). snappy and lz4 have no level and ignore it.
   */
  level?: number;
}

function unsupported(codec: number): KafkaError {
  return new KafkaError("UNSUPPORTED_COMPRESSION_TYPE", `unknown compression codec ${codec}`);
}

function corrupt(codec: string, err: unknown): KafkaError {
  const why = err instanceof Error ? err.message : String(err);
  return new KafkaError("CORRUPT_MESSAGE", `${codec} data does not decompress: ${why}`, { cause: err });
}

function tooLarge(codec: string, maxBytes: number): KafkaError {
  return new KafkaError("MESSAGE_TOO_LARGE", `${codec} data decompresses to more than ${maxBytes} bytes`);
}

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

// ---- gzip -----------------------------------------------------------------------------------

export function gzipCompress(data: Uint8Array, options: CompressOptions = {}): Buffer {
  return options.level === undefined ? gzipSync(data) : gzipSync(data, { level: options.level });
}

export function gzipDecompress(data: Uint8Array, maxBytes = Number.POSITIVE_INFINITY): Buffer {
  try {
    if (maxBytes >= bufferConstants.MAX_LENGTH) return gunzipSync(data);
    return gunzipSync(data, { maxOutputLength: Math.max(1, maxBytes) });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") throw tooLarge("gzip", maxBytes);
    throw corrupt("gzip", err);
  }
}

// ---- snappy ---------------------------------------------------------------------------------

/** The 8 magic bytes of snappy-java's (xerial) stream header: 0x82 "SNAPPY" 0x00. */
export const XERIAL_MAGIC: Buffer = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
/** Magic, then version and minimum compatible version, both int32 big-endian. */
export const XERIAL_HEADER_SIZE = 16;
const XERIAL_VERSION = 1;
const XERIAL_COMPATIBLE_VERSION = 1;
/** Uncompressed bytes per block, as snappy-java's SnappyOutputStream default (32 KiB). */
export const XERIAL_BLOCK_SIZE = 32 * 1024;

function snappyBlock(data: Uint8Array): Buffer {
  return asBuffer(snappy().compressSync(data));
}

function snappyUnblock(data: Uint8Array): Buffer {
  const out = snappy().uncompressSync(data, { asBuffer: true });
  return typeof out === "string" ? Buffer.from(out) : out;
}

/**
 * Snappy as the Java client writes it (snappy-java's SnappyOutputStream): the 16-byte xerial
 * header, then for every `blockSize` bytes of input (32 KiB, snappy-java's default)
 * `[int32 BE compressed length][raw snappy block]`.
 */
export function snappyCompress(data: Uint8Array, blockSize = XERIAL_BLOCK_SIZE): Buffer {
  if (!Number.isInteger(blockSize) || blockSize <= 0) throw new RangeError(`bad block size ${blockSize}`);
  const parts: Buffer[] = [];
  const header = Buffer.alloc(XERIAL_HEADER_SIZE);
  XERIAL_MAGIC.copy(header, 0);
  header.writeInt32BE(XERIAL_VERSION, 8);
  header.writeInt32BE(XERIAL_COMPATIBLE_VERSION, 12);
  parts.push(header);
  for (let pos = 0; pos < data.length; pos += blockSize) {
    const block = snappyBlock(data.subarray(pos, Math.min(pos + blockSize, data.length)));
    const length = Buffer.allocUnsafe(4);
    length.writeInt32BE(block.length, 0);
    parts.push(length, block);
  }
  return Buffer.concat(parts);
}

/** Whether `data` starts with the xerial header's magic bytes. */
export function isXerialFramed(data: Uint8Array): boolean {
  if (data.length < XERIAL_MAGIC.length) return false;
  for (let i = 0; i < XERIAL_MAGIC.length; i++) if (data[i] !== XERIAL_MAGIC[i]) return false;
  return true;
}

/**
 * Reads both snappy framings Kafka clients write: xerial-framed (the Java client; librdkafka can)
 * and a single raw snappy block (librdkafka's default, older clients). Empty input is empty
 * output, as snappy-java writes nothing, not even a header, for an empty stream.
 */
export function snappyDecompress(data: Uint8Array, maxBytes = Number.POSITIVE_INFINITY): Buffer {
  if (data.length === 0) return Buffer.alloc(0);
  if (maxBytes < Number.POSITIVE_INFINITY && snappyOutputBound(data) > maxBytes)
    throw tooLarge("snappy", maxBytes);
  try {
    if (!isXerialFramed(data)) return snappyUnblock(data);
    const buf = asBuffer(data);
    if (buf.length < XERIAL_HEADER_SIZE) throw new Error("xerial header is truncated");
    // The version and compatible-version fields are not checked, as librdkafka does not: only
    // version 1 exists.
    const blocks: Buffer[] = [];
    let pos = XERIAL_HEADER_SIZE;
    while (pos < buf.length) {
      if (buf.length - pos < 4) throw new Error(`truncated block length at byte ${pos}`);
      const length = buf.readInt32BE(pos);
      pos += 4;
      if (length < 0 || length > buf.length - pos) {
        throw new Error(`block of ${length} bytes at byte ${pos - 4} overruns the ${buf.length} bytes`);
      }
      blocks.push(snappyUnblock(buf.subarray(pos, pos + length)));
      pos += length;
    }
    return blocks.length === 1 ? blocks[0] : Buffer.concat(blocks);
  } catch (err) {
    throw corrupt("snappy", err);
  }
}

/** A raw snappy block opens with its uncompressed length, a varint of at most 32 bits. */
const SNAPPY_PREAMBLE_BYTES_MAX = 5;

/** The uncompressed length a raw snappy block declares (its preamble); 0 if unreadable. */
function snappyBlockLength(buf: Uint8Array, pos: number, end: number): number {
  let length = 0;
  for (let i = 0; i < SNAPPY_PREAMBLE_BYTES_MAX && pos + i < end; i++) {
    const b = buf[pos + i];
    length += (b & 0x7f) * 2 ** (7 * i);
    if (b < 0x80) return length;
  }
  return 0;
}

/**
 * The bytes `data` decompresses to, from the preambles of its blocks (the library allocates
 * what a preamble says). Framing that cannot be read counts 0: the decompressor refuses it.
 */
function snappyOutputBound(data: Uint8Array): number {
  if (!isXerialFramed(data)) return snappyBlockLength(data, 0, data.length);
  const buf = asBuffer(data);
  let total = 0;
  for (let pos = XERIAL_HEADER_SIZE; pos + 4 <= buf.length; ) {
    const length = buf.readInt32BE(pos);
    pos += 4;
    if (length < 0 || length > buf.length - pos) return total;
    total += snappyBlockLength(buf, pos, pos + length);
    pos += length;
  }
  return total;
}

// ---- lz4 ------------------------------------------------------------------------------------

/** The LZ4 frame magic number, 0x184D2204, as it appears on the wire (little-endian). */
export const LZ4_FRAME_MAGIC: Buffer = Buffer.from([0x04, 0x22, 0x4d, 0x18]);

/**
 * One LZ4 frame (KIP-57): independent blocks, no block or content checksums, no content size and
 * a correct header checksum, the frame options the Java client writes and every reader accepts.
 * lz4_flex picks the block size (64 KiB up to 4 MiB) from the input size; readers accept all four.
 */
export function lz4Compress(data: Uint8Array): Buffer {
  return lz4().compressFrameSync(asBuffer(data), { contentChecksum: false, blockChecksums: false });
}

/** Skippable frames (lz4 and zstd): magic 0x184D2A50-0x184D2A5F, a u32 LE size, then data. */
const SKIPPABLE_MAGIC_MIN = 0x184d2a50;
const SKIPPABLE_MAGIC_MAX = 0x184d2a5f;
const LZ4_MAGIC = 0x184d2204;
const LZ4_FLG_BLOCK_CHECKSUM = 0x10;
const LZ4_FLG_CONTENT_SIZE = 0x08;
const LZ4_FLG_CONTENT_CHECKSUM = 0x04;
const LZ4_FLG_DICT_ID = 0x01;
/** LZ4 block maximum sizes by the BD byte's bits 4-6 (4: 64 KiB ... 7: 4 MiB). */
const LZ4_BLOCK_MAX_BYTES: Record<number, number> = { 4: 1 << 16, 5: 1 << 18, 6: 1 << 20, 7: 1 << 22 };
const LZ4_UNCOMPRESSED_BLOCK = 0x8000_0000;

function framingError(codec: string, why: string): KafkaError {
  return new KafkaError("CORRUPT_MESSAGE", `${codec} data does not decompress: ${why}`);
}

/**
 * The most bytes LZ4 frames can decompress to: each block at most its frame's block maximum.
 * Reads only frame and block headers; framing it cannot follow is CORRUPT_MESSAGE.
 */
function lz4OutputBound(buf: Buffer): number {
  let total = 0;
  let pos = 0;
  while (pos < buf.length) {
    if (buf.length - pos < 8) throw framingError("lz4", "truncated frame header");
    const magic = buf.readUInt32LE(pos);
    if (magic >= SKIPPABLE_MAGIC_MIN && magic <= SKIPPABLE_MAGIC_MAX) {
      pos += 8 + buf.readUInt32LE(pos + 4);
      continue;
    }
    if (magic !== LZ4_MAGIC) throw framingError("lz4", "not an LZ4 frame");
    const flg = buf[pos + 4];
    const blockMax = LZ4_BLOCK_MAX_BYTES[(buf[pos + 5] >> 4) & 0x7];
    if (blockMax === undefined) throw framingError("lz4", "unknown block maximum size");
    pos += 7 + (flg & LZ4_FLG_CONTENT_SIZE ? 8 : 0) + (flg & LZ4_FLG_DICT_ID ? 4 : 0);
    const blockTrailer = flg & LZ4_FLG_BLOCK_CHECKSUM ? 4 : 0;
    for (;;) {
      if (buf.length - pos < 4) return total; // no end mark: the decompressor decides
      const size = buf.readUInt32LE(pos) & ~LZ4_UNCOMPRESSED_BLOCK;
      pos += 4;
      if (size === 0) break;
      total += blockMax;
      pos += size + blockTrailer;
    }
    pos += flg & LZ4_FLG_CONTENT_CHECKSUM ? 4 : 0;
  }
  return total;
}

/** Reads one LZ4 frame, checking the header checksum and any block or content checksums. */
export function lz4Decompress(data: Uint8Array, maxBytes = Number.POSITIVE_INFINITY): Buffer {
  if (maxBytes < Number.POSITIVE_INFINITY && lz4OutputBound(asBuffer(data)) > maxBytes)
    throw tooLarge("lz4", maxBytes);
  try {
    return lz4().decompressFrameSync(asBuffer(data));
  } catch (err) {
    throw corrupt("lz4", err);
  }
}

// ---- zstd -----------------------------------------------------------------------------------

/**
 * Which build of libzstd `@cloudpss/zstd` loaded: "napi" (its prebuilt native addon, shipped in
 * the npm package for Linux, macOS and Windows on x64 and arm64) or "wasm" (its fallback elsewhere,
 * slower, announced by a process warning).
 */
export const zstdBackend: "napi" | "wasm" = ZSTD_TYPE;

/** zstd's default level, also the Java client's default `compression.zstd.level`. */
export const ZSTD_DEFAULT_LEVEL = 3;

/** One zstd frame with its content size (libzstd's one-shot ZSTD_compress). */
export function zstdCompress(data: Uint8Array, options: CompressOptions = {}): Buffer {
  return asBuffer(zstdCompressRaw(data, options.level ?? ZSTD_DEFAULT_LEVEL));
}

/**
 * Reads zstd frames, with or without a content size in the header (the Java client streams, so its
 * frames carry none), and several frames back to back. Output is bounded by the library at 1 GiB.
 */
export function zstdDecompress(data: Uint8Array, maxBytes = Number.POSITIVE_INFINITY): Buffer {
  if (maxBytes < Number.POSITIVE_INFINITY && zstdOutputBound(asBuffer(data)) > maxBytes)
    throw tooLarge("zstd", maxBytes);
  try {
    return asBuffer(zstdDecompressRaw(data));
  } catch (err) {
    throw corrupt("zstd", err);
  }
}

const ZSTD_MAGIC = 0xfd2fb528;
/** A compressed zstd block regenerates at most 128 KiB (Block_Maximum_Size, RFC 8878). */
const ZSTD_BLOCK_MAX_BYTES = 128 * 1024;
const ZSTD_BLOCK_RAW = 0;
const ZSTD_BLOCK_RLE = 1;
const ZSTD_BLOCK_COMPRESSED = 2;
/** Frame_Content_Size field bytes by FCS flag, for frames that are not single-segment. */
const ZSTD_FCS_BYTES = [0, 2, 4, 8];
const ZSTD_DICT_ID_BYTES = [0, 1, 2, 4];

/**
 * The most bytes the zstd library may allocate for these frames, from their headers (RFC 8878): it
 * sizes its output as ZSTD_decompressBound does, by a frame's declared content size where there is
 * one, else by its block count times the 128 KiB a block can hold. So each frame counts the larger
 * of the two, whatever its blocks claim to hold. Framing it cannot follow is CORRUPT_MESSAGE.
 */
function zstdOutputBound(buf: Buffer): number {
  let total = 0;
  let pos = 0;
  while (pos < buf.length) {
    if (buf.length - pos < 5) throw framingError("zstd", "truncated frame header");
    const magic = buf.readUInt32LE(pos);
    if (magic >= SKIPPABLE_MAGIC_MIN && magic <= SKIPPABLE_MAGIC_MAX) {
      if (buf.length - pos < 8) throw framingError("zstd", "truncated skippable frame");
      pos += 8 + buf.readUInt32LE(pos + 4);
      continue;
    }
    if (magic !== ZSTD_MAGIC) throw framingError("zstd", "not a zstd frame");
    const fhd = buf[pos + 4];
    const singleSegment = (fhd & 0x20) !== 0;
    const fcsFlag = fhd >> 6;
    const fcsBytes = fcsFlag === 0 && singleSegment ? 1 : ZSTD_FCS_BYTES[fcsFlag];
    const fcsAt = pos + 5 + (singleSegment ? 0 : 1) + ZSTD_DICT_ID_BYTES[fhd & 0x3];
    if (buf.length < fcsAt + fcsBytes) throw framingError("zstd", "truncated frame header");
    const contentSize = zstdContentSize(buf, fcsAt, fcsBytes);
    pos = fcsAt + fcsBytes;
    let blocks = 0;
    for (let last = false; !last; blocks++) {
      if (buf.length - pos < 3) throw framingError("zstd", "truncated block header");
      const header = buf.readUIntLE(pos, 3);
      pos += 3;
      last = (header & 1) !== 0;
      const type = (header >> 1) & 0x3;
      if (type === ZSTD_BLOCK_RLE) pos += 1;
      else if (type === ZSTD_BLOCK_RAW || type === ZSTD_BLOCK_COMPRESSED) pos += header >>> 3;
      else throw framingError("zstd", "reserved block type");
    }
    total += Math.max(contentSize, blocks * ZSTD_BLOCK_MAX_BYTES);
    pos += fhd & 0x4 ? 4 : 0;
  }
  return total;
}

/** A frame's Frame_Content_Size field (RFC 8878 3.1.1.1.4); 0 when the frame has none. */
function zstdContentSize(buf: Buffer, at: number, bytes: number): number {
  if (bytes === 1) return buf[at];
  if (bytes === 2) return buf.readUInt16LE(at) + 256;
  if (bytes === 4) return buf.readUInt32LE(at);
  if (bytes === 8) return Number(buf.readBigUInt64LE(at));
  return 0;
}

// ---- by codec id ----------------------------------------------------------------------------

/** Compresses a record section with `codec`; `None` returns `data` itself. */
export function compress(codec: Compression, data: Uint8Array, options: CompressOptions = {}): Buffer {
  switch (codec) {
    case Compression.None:
      return asBuffer(data);
    case Compression.Gzip:
      return gzipCompress(data, options);
    case Compression.Snappy:
      return snappyCompress(data);
    case Compression.Lz4:
      return lz4Compress(data);
    case Compression.Zstd:
      return zstdCompress(data, options);
    default:
      throw unsupported(codec);
  }
}

/**
 * The most bytes `data` may decompress to as far as its framing tells without decompressing:
 * snappy's preambles, lz4's block maximums, zstd's content sizes and block counts; gzip declares
 * nothing that bounds it (Infinity). Framing that cannot be followed throws CORRUPT_MESSAGE.
 */
export function decompressedBound(codec: Compression, data: Uint8Array): number {
  switch (codec) {
    case Compression.None:
      return data.length;
    case Compression.Gzip:
      return Number.POSITIVE_INFINITY;
    case Compression.Snappy:
      return data.length === 0 ? 0 : snappyOutputBound(data);
    case Compression.Lz4:
      return lz4OutputBound(asBuffer(data));
    case Compression.Zstd:
      return zstdOutputBound(asBuffer(data));
    default:
      throw unsupported(codec);
  }
}

/**
 * Decompresses a record section written with `codec`; `None` returns `data` itself. Output that
 * would exceed `maxBytes` is refused (MESSAGE_TOO_LARGE) before it is allocated (see the header).
 */
export function decompress(
  codec: Compression,
  data: Uint8Array,
  maxBytes = Number.POSITIVE_INFINITY,
): Buffer {
  switch (codec) {
    case Compression.None:
      return asBuffer(data);
    case Compression.Gzip:
      return gzipDecompress(data, maxBytes);
    case Compression.Snappy:
      return snappyDecompress(data, maxBytes);
    case Compression.Lz4:
      return lz4Decompress(data, maxBytes);
    case Compression.Zstd:
      return zstdDecompress(data, maxBytes);
    default:
      throw unsupported(codec);
  }
}
