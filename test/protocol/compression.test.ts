import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { compressSync as lz4BlockSync } from "lz4-napi";
import { describe, expect, it } from "vitest";
import {
  Compression,
  compress,
  compressionFromName,
  compressionName,
  decompress,
  isXerialFramed,
  LZ4_FRAME_MAGIC,
  lz4Compress,
  lz4Decompress,
  snappyCompress,
  snappyDecompress,
  XERIAL_BLOCK_SIZE,
  XERIAL_HEADER_SIZE,
  XERIAL_MAGIC,
  zstdBackend,
  zstdCompress,
  zstdDecompress,
} from "../../protocol/compression.js";
import { KafkaError } from "../../protocol/errors.js";
import {
  computeBatchCrc,
  decodeRecords,
  encodeRecordBatch,
  type RecordInput,
  readBatchHeader,
} from "../../protocol/record-batch.js";
import { mulberry32 } from "../helpers/random.js";

const FIXTURES = new URL("./fixtures/compression/", import.meta.url);
const fixture = (name: string): Buffer => readFileSync(new URL(name, FIXTURES));

const CODECS = [
  ["gzip", Compression.Gzip],
  ["snappy", Compression.Snappy],
  ["lz4", Compression.Lz4],
  ["zstd", Compression.Zstd],
] as const;

function randomBytes(seed: number, n: number): Buffer {
  const rand = mulberry32(seed);
  const buf = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) buf[i] = Math.floor(rand() * 256);
  return buf;
}

/** Compressible text with some variety: about 1 MiB. */
function text(bytes: number): Buffer {
  const rand = mulberry32(17);
  const words = ["kafka", "log", "segment", "offset", "batch", "record", "snappy", "zstd", "lz4", "gzip"];
  const parts: string[] = [];
  let size = 0;
  while (size < bytes) {
    const w = `${words[Math.floor(rand() * words.length)]}-${Math.floor(rand() * 1000)} `;
    parts.push(w);
    size += w.length;
  }
  return Buffer.from(parts.join("").slice(0, bytes));
}

/** The input the lz4 and zstd CLI fixtures were made from (fixtures/compression/README.md). */
const CLI_SAMPLE = Buffer.from(
  Array.from({ length: 3000 }, (_, i) => `record ${i % 50}: the quick brown fox\n`).join(""),
);

describe("round trips", () => {
  const MiB = 1 << 20;
  const inputs: [string, Buffer][] = [
    ["empty", Buffer.alloc(0)],
    ["one byte", Buffer.from([0x2a])],
    ["small", Buffer.from("hello, hello, hello kafka")],
    ["1 MiB of text", text(MiB)],
    ["1 MiB of random bytes (incompressible)", randomBytes(1, MiB)],
    ["1 MiB of zeros", Buffer.alloc(MiB)],
    ["a block size and one byte", randomBytes(2, XERIAL_BLOCK_SIZE + 1)],
  ];

  for (const [name, codec] of CODECS) {
    it.each(inputs)(`${name}: %s`, (_, input) => {
      const packed = compress(codec, input);
      expect(decompress(codec, packed).equals(input)).toBe(true);
    });
  }

  it("shrinks compressible text with every codec, and barely grows random bytes", () => {
    const t = text(MiB);
    const r = randomBytes(3, MiB);
    for (const [name, codec] of CODECS) {
      expect(compress(codec, t).length, name).toBeLessThan(t.length / 2);
      expect(compress(codec, r).length, name).toBeLessThan(r.length * 1.01 + 64);
    }
  });

  it("accepts Uint8Array views at an offset, not only Buffers", () => {
    const backing = new Uint8Array(1000).map((_, i) => i % 7);
    const view = backing.subarray(100, 900);
    for (const [, codec] of CODECS) {
      expect(decompress(codec, compress(codec, view)).equals(Buffer.from(view))).toBe(true);
    }
  });

  it("leaves None alone", () => {
    const data = Buffer.from("as is");
    expect(compress(Compression.None, data)).toBe(data);
    expect(decompress(Compression.None, data)).toBe(data);
  });

  it("takes a level for gzip and zstd", () => {
    const t = text(256 * 1024);
    for (const codec of [Compression.Gzip, Compression.Zstd]) {
      const fast = compress(codec, t, { level: 1 });
      const best = compress(codec, t, { level: 9 });
      expect(best.length).toBeLessThan(fast.length);
      expect(decompress(codec, fast).equals(t)).toBe(true);
      expect(decompress(codec, best).equals(t)).toBe(true);
    }
  });
});

describe("codec ids and names", () => {
  it("maps Kafka's compression.type names both ways", () => {
    for (const [name, codec] of CODECS) {
      expect(compressionName(codec)).toBe(name);
      expect(compressionFromName(name)).toBe(codec);
    }
    expect(compressionFromName("none")).toBe(Compression.None);
  });

  it("throws UNSUPPORTED_COMPRESSION_TYPE for unknown ids and names", () => {
    for (const id of [5, 6, 7]) {
      expect(() => compress(id, Buffer.from("x"))).toThrow(/UNSUPPORTED_COMPRESSION_TYPE/);
      expect(() => decompress(id, Buffer.from("x"))).toThrow(/UNSUPPORTED_COMPRESSION_TYPE/);
      expect(() => compressionName(id)).toThrow(/UNSUPPORTED_COMPRESSION_TYPE/);
    }
    expect(() => compressionFromName("brotli")).toThrow(/UNSUPPORTED_COMPRESSION_TYPE/);
  });
});

describe("snappy framing", () => {
  it("writes the xerial header of snappy-java, then [int32 BE length][block] per 32 KiB", () => {
    const input = text(3 * XERIAL_BLOCK_SIZE + 100);
    const out = snappyCompress(input);
    // 0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00, version 1, compatible version 1 (both int32 BE).
    expect(out.subarray(0, XERIAL_HEADER_SIZE).toString("hex")).toBe("82534e415050590000000001" + "00000001");
    expect(XERIAL_MAGIC.toString("latin1")).toBe("\x82SNAPPY\x00");
    expect(isXerialFramed(out)).toBe(true);
    // Walk the blocks: four of them (3 full, 1 of 100 bytes), each a raw snappy block.
    const blocks: Buffer[] = [];
    let pos = XERIAL_HEADER_SIZE;
    while (pos < out.length) {
      const length = out.readInt32BE(pos);
      blocks.push(snappyDecompress(out.subarray(pos + 4, pos + 4 + length)));
      pos += 4 + length;
    }
    expect(pos).toBe(out.length);
    expect(blocks.map((b) => b.length)).toEqual([
      XERIAL_BLOCK_SIZE,
      XERIAL_BLOCK_SIZE,
      XERIAL_BLOCK_SIZE,
      100,
    ]);
    expect(Buffer.concat(blocks).equals(input)).toBe(true);
  });

  it("matches a published xerial vector byte for byte, and decodes it", () => {
    // dpkp/kafka-python, test/test_codec.py, test_snappy_encode_xerial: ('SNAPPY' * 50) +
    // ('XERIAL' * 50) in xerial blocks of 300 bytes.
    const expected = Buffer.concat([
      Buffer.from("\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01", "latin1"),
      Buffer.from("\x00\x00\x00\x18", "latin1"),
      Buffer.from("\xac\x02\x14SNAPPY\xfe\x06\x00\xfe\x06\x00\xfe\x06\x00\xfe\x06\x00\x96\x06\x00", "latin1"),
      Buffer.from("\x00\x00\x00\x18", "latin1"),
      Buffer.from("\xac\x02\x14XERIAL\xfe\x06\x00\xfe\x06\x00\xfe\x06\x00\xfe\x06\x00\x96\x06\x00", "latin1"),
    ]);
    const input = Buffer.from("SNAPPY".repeat(50) + "XERIAL".repeat(50));
    expect(snappyDecompress(expected).equals(input)).toBe(true);
    // The block bytes come from the snappy library (pinned); the framing around them is ours.
    expect(snappyCompress(input, 300).equals(expected)).toBe(true);
  });

  it("reads raw (unframed) snappy, as librdkafka writes by default", () => {
    const input = text(100_000);
    const raw = rawSnappyOf(input);
    expect(isXerialFramed(raw)).toBe(false);
    expect(snappyDecompress(raw).equals(input)).toBe(true);
    expect(decompress(Compression.Snappy, raw).equals(input)).toBe(true);
  });

  it("reads an empty stream as empty (snappy-java writes nothing for no input)", () => {
    expect(snappyDecompress(Buffer.alloc(0)).length).toBe(0);
    expect(snappyDecompress(snappyCompress(Buffer.alloc(0))).length).toBe(0);
    expect(snappyCompress(Buffer.alloc(0)).length).toBe(XERIAL_HEADER_SIZE);
  });

  it("throws CORRUPT_MESSAGE on truncated or lying xerial blocks", () => {
    const good = snappyCompress(text(70_000));
    const cases = [
      good.subarray(0, 12), // header cut short
      good.subarray(0, XERIAL_HEADER_SIZE + 2), // block length cut short
      good.subarray(0, good.length - 1), // last block cut short
      Buffer.concat([good, Buffer.from([0, 0, 0, 9, 1, 2])]), // a block longer than the bytes left
      Buffer.concat([good.subarray(0, XERIAL_HEADER_SIZE), Buffer.from([0xff, 0xff, 0xff, 0xff])]),
    ];
    for (const bad of cases) {
      expect(() => snappyDecompress(bad)).toThrow(KafkaError);
      expect(() => snappyDecompress(bad)).toThrow(/CORRUPT_MESSAGE/);
    }
  });
});

/** A raw snappy block, without the xerial framing (what librdkafka writes). */
function rawSnappyOf(input: Buffer): Buffer {
  // One xerial block spanning the whole input is exactly one raw snappy block.
  const framed = snappyCompress(input, input.length);
  const length = framed.readInt32BE(XERIAL_HEADER_SIZE);
  expect(framed.length).toBe(XERIAL_HEADER_SIZE + 4 + length);
  return framed.subarray(XERIAL_HEADER_SIZE + 4);
}

describe("lz4 framing", () => {
  it("writes LZ4 frames (magic 0x184D2204), with the descriptor the Java client writes", () => {
    for (const input of [Buffer.alloc(0), Buffer.from("small"), text(200_000)]) {
      const out = lz4Compress(input);
      expect(out.readUInt32LE(0)).toBe(0x184d2204);
      expect(out.subarray(0, 4).equals(LZ4_FRAME_MAGIC)).toBe(true);
      const flg = out[4];
      expect(flg >> 6).toBe(1); // version 01
      expect((flg >> 5) & 1).toBe(1); // independent blocks (the Java reader refuses linked ones)
      expect((flg >> 4) & 1).toBe(0); // no block checksums
      expect((flg >> 3) & 1).toBe(0); // no content size
      expect((flg >> 2) & 1).toBe(0); // no content checksum
      expect(flg & 3).toBe(0); // reserved
      const bd = out[5];
      expect(bd & 0x8f).toBe(0); // reserved bits
      expect((bd >> 4) & 7).toBeGreaterThanOrEqual(4); // 64 KiB .. 4 MiB blocks
      // The frame ends with the EndMark (a zero block size), nothing after it.
      expect(out.readUInt32LE(out.length - 4)).toBe(0);
    }
    // Small inputs get exactly the Java client's descriptor: FLG 0x60, BD 0x40 (64 KiB).
    expect(lz4Compress(Buffer.from("small")).subarray(4, 6).toString("hex")).toBe("6040");
  });

  it("refuses a raw LZ4 block: Kafka's lz4 is the frame format (KIP-57)", () => {
    const input = text(1000);
    const block = lz4BlockSync(input);
    expect(block.subarray(0, 4).equals(LZ4_FRAME_MAGIC)).toBe(false);
    expect(() => lz4Decompress(block)).toThrow(/CORRUPT_MESSAGE/);
  });

  it.each([
    ["lz4-cli-default.lz4", "content checksum, 256 KiB blocks"],
    ["lz4-cli-64k-blocks.lz4", "64 KiB blocks, no checksums"],
    ["lz4-cli-linked-checksums.lz4", "linked blocks, block and content checksums, content size"],
  ])("reads frames written by the lz4 CLI: %s (%s)", (file) => {
    const frame = fixture(file);
    expect(frame.subarray(0, 4).equals(LZ4_FRAME_MAGIC)).toBe(true);
    expect(lz4Decompress(frame).equals(CLI_SAMPLE)).toBe(true);
  });

  it("throws CORRUPT_MESSAGE on a bad header checksum, a bad magic or a truncated frame", () => {
    const good = lz4Compress(text(100_000));
    const badHc = Buffer.from(good);
    badHc[6] ^= 0xff;
    const badMagic = Buffer.from(good);
    badMagic[0] = 0x05;
    const checked = fixture("lz4-cli-linked-checksums.lz4");
    const badContent = Buffer.from(checked);
    badContent[badContent.length - 1] ^= 0xff; // the content checksum
    for (const bad of [badHc, badMagic, good.subarray(0, good.length - 10), badContent]) {
      expect(() => lz4Decompress(bad)).toThrow(/CORRUPT_MESSAGE/);
    }
  });
});

describe("zstd framing", () => {
  it("runs libzstd natively on this project's machines (the wasm fallback is for other platforms)", () => {
    expect(zstdBackend).toBe("napi");
  });

  it("writes standard zstd frames (magic 0xFD2FB528)", () => {
    const out = zstdCompress(text(10_000));
    expect(out.readUInt32LE(0)).toBe(0xfd2fb528);
  });

  it.each([
    ["zstd-cli-stream.zst", "streamed: no content size, with a checksum"],
    ["zstd-cli-sized.zst", "content size, no checksum"],
    ["zstd-cli-two-frames.zst", "two frames back to back"],
  ])("reads frames written by the zstd CLI: %s (%s)", (file) => {
    const data = fixture(file);
    expect(data.readUInt32LE(0)).toBe(0xfd2fb528);
    expect(zstdDecompress(data).equals(CLI_SAMPLE)).toBe(true);
  });

  it("throws CORRUPT_MESSAGE on garbage and on truncated frames", () => {
    const good = zstdCompress(text(100_000));
    for (const bad of [Buffer.from("not zstd at all"), good.subarray(0, good.length - 5)]) {
      expect(() => zstdDecompress(bad)).toThrow(/CORRUPT_MESSAGE/);
    }
  });
});

describe("gzip", () => {
  it("writes a gzip stream and throws CORRUPT_MESSAGE on garbage", () => {
    const out = compress(Compression.Gzip, text(1000));
    expect(out.subarray(0, 2).toString("hex")).toBe("1f8b");
    expect(() => decompress(Compression.Gzip, Buffer.from("not gzip"))).toThrow(/CORRUPT_MESSAGE/);
  });
});

describe("record batches with every codec", () => {
  const records: RecordInput[] = [
    { key: Buffer.from("k1"), value: Buffer.from("hello"), timestamp: 1000 },
    { key: null, value: null, timestamp: 1005, headers: [{ key: "h", value: Buffer.from("v") }] },
    { key: Buffer.alloc(0), value: text(300_000), timestamp: 999, headers: [{ key: "n", value: null }] },
    { key: Buffer.from("rand"), value: randomBytes(9, 50_000), timestamp: 1001 },
  ];

  it.each(CODECS)("%s: encodes with the codec in the attributes and decodes back", (_, codec) => {
    const buf = encodeRecordBatch(records, { compression: codec, baseOffset: 10 });
    const header = readBatchHeader(buf);
    expect(header.attributes & 0x07).toBe(codec);
    expect(header.crc).toBe(computeBatchCrc(buf, 0, buf.length));
    expect(buf.length).toBeLessThan(200_000); // the text compressed
    const back = decodeRecords(buf);
    expect(back.map((r) => r.offset)).toEqual([10, 11, 12, 13]);
    expect(back.map((r) => r.key)).toEqual(records.map((r) => r.key));
    // Buffer.equals, not toEqual: a deep compare of 350 KB byte by byte is slow.
    expect(
      back.map((r, i) => (r.value === null ? records[i].value === null : r.value.equals(records[i].value!))),
    ).toEqual([true, true, true, true]);
    expect(back.map((r) => r.headers)).toEqual(records.map((r) => r.headers ?? []));
    expect(back.map((r) => r.timestamp)).toEqual([1000, 1005, 999, 1001]);
  });

  it("throws CORRUPT_MESSAGE for a compressed body that does not decompress", () => {
    for (const [, codec] of CODECS) {
      const buf = encodeRecordBatch(records.slice(0, 1), { compression: codec });
      buf.fill(0x5a, 61 + 2); // keep a plausible start, scramble the rest
      expect(() => decodeRecords(buf)).toThrow(/CORRUPT_MESSAGE/);
    }
  });

  it("throws UNSUPPORTED_COMPRESSION_TYPE for codec ids 5-7, encoding and decoding", () => {
    const buf = encodeRecordBatch(records.slice(0, 1));
    for (const id of [5, 6, 7]) {
      expect(() => encodeRecordBatch(records, { compression: id })).toThrow(/UNSUPPORTED_COMPRESSION_TYPE/);
      const patched = Buffer.from(buf);
      patched.writeInt16BE(id, 21);
      expect(() => decodeRecords(patched)).toThrow(/UNSUPPORTED_COMPRESSION_TYPE/);
    }
  });
});

describe("batches written by librdkafka (kcat 1.7.1, librdkafka 2.0.2)", () => {
  // See fixtures/compression/README.md: `kcat -P -z <codec> -K: -H h1=v1 -H h2=` with these lines.
  const big = Array.from({ length: 3000 }, (_, i) => `line ${i} of a compressible value`).join(" ");
  const lines: [string, string][] = [
    ["k1", "plain"],
    ["", "empty key"],
    ["key3", big],
    ["k4", "naïve café ☃"],
  ];

  it.each(CODECS)("%s", (name, codec) => {
    const buf = fixture(`kcat-${name}.bin`);
    const header = readBatchHeader(buf);
    expect(header.attributes & 0x07).toBe(codec);
    expect(buf.length).toBe(12 + header.batchLength);
    expect(header.crc).toBe(computeBatchCrc(buf, 0, buf.length));
    const body = buf.subarray(61);
    if (codec === Compression.Snappy) expect(isXerialFramed(body)).toBe(false); // raw snappy
    if (codec === Compression.Lz4) {
      expect(body.subarray(0, 4).equals(LZ4_FRAME_MAGIC)).toBe(true);
      expect(body.subarray(4, 6).toString("hex")).toBe("6040"); // as the Java client writes
    }
    if (codec === Compression.Zstd) expect(body.readUInt32LE(0)).toBe(0xfd2fb528);

    const records = decodeRecords(buf);
    expect(records.map((r) => [r.offset, r.key?.toString("utf8"), r.value?.toString("utf8")])).toEqual(
      lines.map(([k, v], i) => [i, k, v]),
    );
    for (const r of records) {
      expect(r.headers.map((h) => [h.key, h.value?.toString("utf8")])).toEqual([
        ["h1", "v1"],
        ["h2", ""],
      ]);
    }
  });
});

describe("decompress with a bound on its output", () => {
  const MiB = 1024 * 1024;
  const zeros = Buffer.alloc(4 * MiB);

  it.each(CODECS)("%s: output within the bound is returned, beyond it MESSAGE_TOO_LARGE", (_name, codec) => {
    const packed = compress(codec, zeros);
    expect(decompress(codec, packed, 8 * MiB).equals(zeros)).toBe(true);
    let refused: unknown;
    try {
      decompress(codec, packed, MiB);
    } catch (err) {
      refused = err;
    }
    expect(KafkaError.is(refused, "MESSAGE_TOO_LARGE"), String(refused)).toBe(true);
  });

  it("reads the framing of real clients' and the CLIs' output without refusing it", () => {
    for (const [name, codec] of CODECS) {
      const buf = fixture(`kcat-${name}.bin`);
      const body = buf.subarray(61);
      expect(decompress(codec, body, 64 * MiB).equals(decompress(codec, body))).toBe(true);
    }
    for (const file of ["lz4-cli-64k-blocks.lz4", "lz4-cli-default.lz4", "lz4-cli-linked-checksums.lz4"]) {
      expect(lz4Decompress(fixture(file), 64 * MiB).equals(CLI_SAMPLE), file).toBe(true);
    }
    for (const file of ["zstd-cli-sized.zst", "zstd-cli-stream.zst", "zstd-cli-two-frames.zst"]) {
      expect(zstdDecompress(fixture(file), 64 * MiB).equals(CLI_SAMPLE), file).toBe(true);
    }
  });

  it("refuses a snappy, lz4 or zstd bomb from its framing, before decompressing", () => {
    // Framing that claims far more than its bytes could hold: refused without being decompressed
    // (the library would allocate what the preamble says for snappy).
    const snappyClaim = Buffer.from([0x80, 0x80, 0x80, 0x80, 0x0f, 0x00]); // declares 4 GiB - 1
    expect(() => snappyDecompress(snappyClaim, 64 * MiB)).toThrow(/MESSAGE_TOO_LARGE/);
    const zstdBig = zstdCompress(Buffer.alloc(70 * MiB));
    expect(() => zstdDecompress(zstdBig, 64 * MiB)).toThrow(/MESSAGE_TOO_LARGE/);
    const lz4Big = lz4Compress(Buffer.alloc(70 * MiB));
    expect(() => lz4Decompress(lz4Big, 64 * MiB)).toThrow(/MESSAGE_TOO_LARGE/);
  });

  it("bounds a zstd frame as the library sizes its output, not by what its blocks hold", () => {
    // The library allocates a frame's declared content size, or 128 KiB per block without one:
    // a 17-byte frame declaring 900 MiB (one 1-byte raw block), and 7,000 one-byte RLE blocks.
    const declared = Buffer.alloc(17);
    declared.writeUInt32LE(0xfd2fb528, 0);
    declared[4] = 0xa0; // FCS 4 bytes, single segment
    declared.writeUInt32LE(900 * MiB, 5);
    declared.writeUIntLE((1 << 3) | 1, 9, 3); // last raw block, 1 byte
    expect(() => zstdDecompress(declared.subarray(0, 13), 64 * MiB)).toThrow(/MESSAGE_TOO_LARGE/);
    const rle = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58])]; // no FCS, a 1 MiB window
    for (let i = 0; i < 7000; i++) {
      const block = Buffer.alloc(4);
      block.writeUIntLE((1 << 3) | (1 << 1) | (i === 6999 ? 1 : 0), 0, 3);
      rle.push(block);
    }
    expect(() => zstdDecompress(Buffer.concat(rle), 64 * MiB)).toThrow(/MESSAGE_TOO_LARGE/);
  });

  it("still calls unreadable framing CORRUPT_MESSAGE", () => {
    expect(() => zstdDecompress(Buffer.from("not zstd at all"), MiB)).toThrow(/CORRUPT_MESSAGE/);
    expect(() => lz4Decompress(Buffer.from("not lz4 at all"), MiB)).toThrow(/CORRUPT_MESSAGE/);
    expect(() => decompress(Compression.Gzip, Buffer.from("not gzip"), MiB)).toThrow(/CORRUPT_MESSAGE/);
  });
});

describe("loading the codecs", () => {
  // A child process over the compiled module (test/global-setup.ts builds dist/): this process
  // has loaded every codec already.
  const script = `
    import { createRequire } from "node:module";
    const c = await import(process.argv[1]);
    const cache = createRequire(process.argv[1]).cache;
    const loaded = () => ["snappy", "lz4-napi"].filter((m) => Object.keys(cache).some((k) => k.includes("/node_modules/" + m + "/")));
    const before = loaded();
    c.decompress(c.Compression.Snappy, c.compress(c.Compression.Snappy, Buffer.from("x")));
    const afterSnappy = loaded();
    c.decompress(c.Compression.Lz4, c.compress(c.Compression.Lz4, Buffer.from("x")));
    console.log(JSON.stringify({ before, afterSnappy, after: loaded() }));`;

  it("loads snappy and lz4 on their first use, not on import", () => {
    const module = fileURLToPath(new URL("../../dist/protocol/compression.js", import.meta.url));
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", script, module], {
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(JSON.parse(out)).toEqual({
      before: [],
      afterSnappy: ["snappy"],
      after: ["snappy", "lz4-napi"],
    });
  });
});
