/**
 * A compression bomb in a log (written before produce checked compressed records, or replicated:
 * followers do not decompress) is not decompressed whole by the HTTP door: reading it as JSON is
 * 413 MESSAGE_TOO_LARGE, the batch before it still reads, and the broker stays up. A read's
 * max_bytes bounds what it decompresses and shows, even inside one batch of many tiny records.
 */
import { afterEach, expect, it } from "vitest";
import { RECORDS_PER_READ_MAX } from "../../broker/http/records.js";
import { Compression } from "../../protocol/compression.js";
import { encodeRecordBatch } from "../../protocol/record-batch.js";
import { DECOMPRESSED_BYTES_MIN } from "../../storage/validate.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { TestClient } from "../helpers/kafka-client.js";
import { storeAsReplica } from "../helpers/replica.js";
import { produceRequest } from "../helpers/requests.js";

const TOPIC = "bombs";
let tb: TestBroker | null = null;
let client: TestClient | null = null;
afterEach(async () => {
  client?.close();
  await tb?.stop();
  tb = null;
  client = null;
});

/** Stores `batch` as it is, at the log end, as replication or an older broker would have. */
async function store(batch: Buffer): Promise<void> {
  const partition = tb?.broker.topics.partition(TOPIC, 0);
  if (!partition) throw new Error(`no partition ${TOPIC}-0`);
  await storeAsReplica(partition, batch);
}

it("reading a stored bomb over HTTP is 413 MESSAGE_TOO_LARGE, not a decompressed gigabyte", async () => {
  tb = await startTestBroker();
  client = await TestClient.connect(tb.port);
  const small = encodeRecordBatch([{ value: Buffer.from(JSON.stringify("before")) }], {
    compression: Compression.Gzip,
  });
  const bomb = encodeRecordBatch([{ value: Buffer.alloc(DECOMPRESSED_BYTES_MIN + 1024 * 1024) }], {
    compression: Compression.Gzip,
  });
  expect(bomb.length).toBeLessThan(1024 * 1024);
  const r = await client.request(0, 9, produceRequest(TOPIC, small));
  expect(r.responses[0].partitionResponses[0].errorCode).toBe(0);
  await store(bomb);
  const base = `http://127.0.0.1:${tb.broker.httpPort}`;
  const first = await fetch(`${base}/topics/${TOPIC}/partitions/0/records?offset=0&max_bytes=64`);
  expect(first.status).toBe(200);
  expect(((await first.json()) as { value: string }[]).map((r) => r.value)).toEqual(["before"]);

  const read = await fetch(`${base}/topics/${TOPIC}/partitions/0/records?offset=1`);
  expect(read.status).toBe(413);
  expect(await read.json()).toMatchObject({ error_code: "MESSAGE_TOO_LARGE" });
  expect((await fetch(`${base}/health`)).status).toBe(200);
});

it("bounds the decompressed bytes of one read, not only of one batch: small bombs add up", async () => {
  tb = await startTestBroker();
  client = await TestClient.connect(tb.port);
  // Each batch alone is under the bound; two of them are over it.
  const half = encodeRecordBatch([{ value: Buffer.alloc((DECOMPRESSED_BYTES_MIN * 2) / 3) }], {
    compression: Compression.Gzip,
  });
  const r = await client.request(0, 9, produceRequest(TOPIC, half));
  expect(r.responses[0].partitionResponses[0].errorCode).toBe(0);
  await store(Buffer.from(half));
  const base = `http://127.0.0.1:${tb.broker.httpPort}`;
  const read = await fetch(
    `${base}/topics/${TOPIC}/partitions/0/records?offset=0&max_bytes=${64 * 1024 * 1024}`,
  );
  expect(read.status).toBe(200);
  expect(((await read.json()) as { offset: number }[]).map((r) => r.offset)).toEqual([0]);
  const rest = await fetch(
    `${base}/topics/${TOPIC}/partitions/0/records?offset=1&max_bytes=${64 * 1024 * 1024}`,
  );
  expect(((await rest.json()) as { offset: number }[]).map((r) => r.offset)).toEqual([1]);
});

it("max_bytes bounds what a read decompresses and shows: batches of many tiny records stop early", async () => {
  tb = await startTestBroker();
  client = await TestClient.connect(tb.port);
  const first = await client.request(0, 9, produceRequest(TOPIC, encodeRecordBatch([{ value: null }])));
  expect(first.responses[0].partitionResponses[0].errorCode).toBe(0);
  // Twelve small zstd batches of 20,000 empty records each (the attack, scaled down).
  const empties = Array.from({ length: 20_000 }, () => ({ value: Buffer.alloc(0) }));
  for (let i = 0; i < 12; i++) {
    const batch = encodeRecordBatch(empties, { compression: Compression.Zstd });
    expect(batch.length).toBeLessThan(16 * 1024);
    await store(batch);
  }
  const base = `http://127.0.0.1:${tb.broker.httpPort}`;
  const maxBytes = 64 * 1024;
  const read = await fetch(`${base}/topics/${TOPIC}/partitions/0/records?offset=1&max_bytes=${maxBytes}`);
  expect(read.status).toBe(200);
  const records = (await read.json()) as { offset: number }[];
  expect(records.length).toBeGreaterThan(0);
  // At least 100 bytes are counted a record: at most max_bytes / 100 of them, plus the last.
  expect(records.length).toBeLessThanOrEqual(maxBytes / 100 + 1);
  expect(records.map((r) => r.offset)).toEqual(records.map((_, i) => 1 + i));
  // The next read continues where this one stopped, inside the batch.
  const after = records[records.length - 1].offset + 1;
  const more = await fetch(
    `${base}/topics/${TOPIC}/partitions/0/records?offset=${after}&max_bytes=${maxBytes}`,
  );
  expect(((await more.json()) as { offset: number }[])[0].offset).toBe(after);
  // However large max_bytes, one read shows at most RECORDS_PER_READ_MAX records.
  const large = await fetch(
    `${base}/topics/${TOPIC}/partitions/0/records?offset=1&max_bytes=${64 * 1024 * 1024}`,
  );
  expect(((await large.json()) as unknown[]).length).toBe(RECORDS_PER_READ_MAX);
  expect((await fetch(`${base}/health`)).status).toBe(200);
});
