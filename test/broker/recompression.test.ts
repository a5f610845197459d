/**
 * compression.type recompression of large batches (storage/rewrite.ts `recompressAhead`): the
 * decompression and the re-compression of a batch over 1 MiB of records run off the event loop
 * through the decompressor (storage/decompress.ts), so while one is held by its test hook another
 * client's ApiVersions is answered; the stored batch reads back equal, with the topic's codec, and
 * the decompression budget returns to 0.
 */
import { createHash } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import type { Message } from "../../protocol/codec.js";
import { Compression } from "../../protocol/compression.js";
import {
  COMPRESSION_MASK,
  decodeBatches,
  encodeRecordBatch,
  readBatchHeader,
} from "../../protocol/record-batch.js";
import { decompressor } from "../../storage/decompress.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { TestClient } from "../helpers/kafka-client.js";
import { fetchRequest, produceRequest } from "../helpers/requests.js";
import { waitFor, within } from "../helpers/wait.js";

const MiB = 1024 * 1024;

const digest = (b: Buffer | null) => (b === null ? "null" : createHash("sha256").update(b).digest("hex"));
const TOPIC = "recompressed";

let tb: TestBroker | null = null;
const clients: TestClient[] = [];
afterEach(async () => {
  decompressor().hold = null;
  for (const c of clients.splice(0)) c.close();
  await tb?.stop();
  tb = null;
});

async function start(compressionType: string): Promise<{ producer: TestClient; other: TestClient }> {
  tb = await startTestBroker({ "decompression.memory.max.bytes": 8 * MiB });
  const producer = await TestClient.connect(tb.port);
  const other = await TestClient.connect(tb.port);
  clients.push(producer, other);
  const configs = { "compression.type": compressionType, "max.message.bytes": String(4 * MiB) };
  const r = await producer.request(19, 7, {
    topics: [
      {
        name: TOPIC,
        numPartitions: 1,
        replicationFactor: 1,
        assignments: [],
        configs: Object.entries(configs).map(([name, value]) => ({ name, value })),
      },
    ],
    timeoutMs: 5000,
    validateOnly: false,
  });
  expect(r.topics[0].errorCode).toBe(0);
  return { producer, other };
}

/** 24 records of 64 KiB each (1.5 MiB of records), each filled with its own byte. */
function values(): Buffer[] {
  return Array.from({ length: 24 }, (_, i) => Buffer.alloc(64 * 1024, i + 1));
}

async function produce(c: TestClient, batch: Buffer): Promise<Message> {
  const r = await c.request(0, 9, produceRequest(TOPIC, batch));
  return r.responses[0].partitionResponses[0];
}

/** Holds every decompression or compression off the event loop until `release` is called. */
function holdAll(): { release: () => void } {
  const gate = { release: () => {} };
  decompressor().hold = new Promise<void>((r) => {
    gate.release = r;
  });
  return gate;
}

describe("recompression of a large batch for compression.type", () => {
  // Steps held in turn: the validation's decompression (compressed batches), the recompression's
  // decompression (compressed batches), its compression (a compressed topic codec).
  it.each([
    ["none", "zstd", Compression.None, Compression.Zstd, 1],
    ["lz4", "gzip", Compression.Lz4, Compression.Gzip, 3],
    ["gzip", "snappy", Compression.Gzip, Compression.Snappy, 3],
    ["zstd", "lz4", Compression.Zstd, Compression.Lz4, 3],
    ["snappy", "uncompressed", Compression.Snappy, Compression.None, 2],
  ] as const)("a %s batch stored as %s runs off the event loop", async (_f, type, from, to, steps) => {
    const { producer, other } = await start(type);
    const sent = values();
    const batch = encodeRecordBatch(
      sent.map((value, i) => ({ key: Buffer.from(`k${i}`), value })),
      { compression: from },
    );
    const before = decompressor().heldTotal;
    let gate = holdAll();
    const pending = produce(producer, batch);
    for (let step = 1; step <= steps; step++) {
      const d = decompressor();
      await waitFor(() => d.heldTotal === before + step && d.held === 1, `step ${step} to be held`);
      const versions = await within(other.request(18, 3, {}), "ApiVersions of another client");
      expect(versions.errorCode).toBe(0);
      // Held until now: the other client was answered while this step was in progress.
      expect(decompressor().held).toBe(1);
      const open = gate.release;
      if (step < steps) gate = holdAll();
      else decompressor().hold = null;
      open();
    }
    const r = await within(pending, "the large batch's answer");
    expect(r.errorCode).toBe(0);
    const f = await producer.request(1, 12, fetchRequest(TOPIC, 0, { maxBytes: 8 * MiB }));
    const records = f.responses[0].partitions[0].records as Buffer;
    expect(readBatchHeader(records).attributes & COMPRESSION_MASK).toBe(to);
    const got = decodeBatches(records);
    // Compared by digest: a deep equality of 1.5 MiB of Buffers walks every byte (seconds).
    expect(got.map((x) => digest(x.value))).toEqual(sent.map(digest));
    expect(got.map((x) => x.key?.toString())).toEqual(sent.map((_, i) => `k${i}`));
    await waitFor(() => decompressor().budget.inUse === 0, "the decompression budget to return");
  });
});
