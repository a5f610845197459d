/**
 * A compression bomb stored as a producer sent it (codec "producer", a correct header: the
 * produce path has no reason to decompress it) is not decompressed whole by the HTTP door: reading
 * it as JSON is 413 MESSAGE_TOO_LARGE, the batch before it still reads, and the broker stays up.
 */
import { afterEach, expect, it } from "vitest";
import { Compression } from "../../protocol/compression.js";
import { encodeRecordBatch } from "../../protocol/record-batch.js";
import { DECOMPRESSED_BYTES_MIN } from "../../storage/validate.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { TestClient } from "../helpers/kafka-client.js";
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
  for (const batch of [small, bomb]) {
    const r = await client.request(0, 9, produceRequest(TOPIC, batch));
    expect(r.responses[0].partitionResponses[0].errorCode).toBe(0);
  }
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
  for (const batch of [half, half]) {
    const r = await client.request(0, 9, produceRequest(TOPIC, batch));
    expect(r.responses[0].partitionResponses[0].errorCode).toBe(0);
  }
  const base = `http://127.0.0.1:${tb.broker.httpPort}`;
  const read = await fetch(`${base}/topics/${TOPIC}/partitions/0/records?offset=0`);
  expect(read.status).toBe(200);
  expect(((await read.json()) as { offset: number }[]).map((r) => r.offset)).toEqual([0]);
  const rest = await fetch(`${base}/topics/${TOPIC}/partitions/0/records?offset=1`);
  expect(((await rest.json()) as { offset: number }[]).map((r) => r.offset)).toEqual([1]);
});
