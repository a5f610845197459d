/**
 * ListOffsets against a hostile request or log: a partition named many times is answered
 * INVALID_REQUEST at each mention without a lookup (as Kafka); a lookup by timestamp that has to
 * decompress a large batch does so off the event loop, within the broker's decompression budget,
 * and finds the record inside it; other clients are answered meanwhile.
 */
import { afterEach, expect, it } from "vitest";
import type { Message } from "../../protocol/codec.js";
import { Compression } from "../../protocol/compression.js";
import { errorName } from "../../protocol/errors.js";
import { encodeRecordBatch } from "../../protocol/record-batch.js";
import { decompressor } from "../../storage/decompress.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { TestClient } from "../helpers/kafka-client.js";
import { produceRequest } from "../helpers/requests.js";
import { waitFor, within } from "../helpers/wait.js";

const TOPIC = "timed";
let tb: TestBroker | null = null;
const clients: TestClient[] = [];
afterEach(async () => {
  decompressor().hold = null;
  for (const c of clients.splice(0)) c.close();
  await tb?.stop();
  tb = null;
});

function listOffsets(partitions: { index: number; timestamp: number }[]): Message {
  return {
    replicaId: -1,
    isolationLevel: 0,
    topics: [
      {
        name: TOPIC,
        partitions: partitions.map((p) => ({
          partitionIndex: p.index,
          currentLeaderEpoch: -1,
          timestamp: p.timestamp,
          maxNumOffsets: 1,
        })),
      },
    ],
    timeoutMs: 1000,
  };
}

async function start(): Promise<TestClient[]> {
  tb = await startTestBroker({ "num.partitions": 2 });
  const cs = await Promise.all([TestClient.connect(tb.port), TestClient.connect(tb.port)]);
  clients.push(...cs);
  return cs;
}

it("a partition named many times is INVALID_REQUEST at each mention; the others are answered", async () => {
  const [c] = await start();
  const t0 = Date.now();
  await c.request(
    0,
    9,
    produceRequest(TOPIC, encodeRecordBatch([{ value: Buffer.from("a"), timestamp: t0 }])),
  );
  const repeated = Array.from({ length: 2000 }, () => ({ index: 0, timestamp: t0 }));
  const r = await c.request(2, 7, listOffsets([...repeated, { index: 1, timestamp: -1 }]));
  const parts = r.topics[0].partitions as Message[];
  expect(parts).toHaveLength(2001);
  expect(new Set(parts.slice(0, 2000).map((p) => errorName(p.errorCode as number)))).toEqual(
    new Set(["INVALID_REQUEST"]),
  );
  expect(parts[2000]).toMatchObject({ partitionIndex: 1, errorCode: 0, offset: 0 });
});

it("a lookup by timestamp inside a large compressed batch runs off the event loop and finds the record", async () => {
  const [c, other] = await start();
  const t0 = Date.now() - 10_000;
  // 3 MiB of records: more than is decompressed on the event loop.
  const records = Array.from({ length: 48 }, (_, i) => ({
    value: Buffer.alloc(64 * 1024, i),
    timestamp: t0 + i,
  }));
  const batch = encodeRecordBatch(records, { compression: Compression.Zstd, baseTimestamp: t0 });
  const produced = await c.request(0, 9, produceRequest(TOPIC, batch));
  expect(produced.responses[0].partitionResponses[0].errorCode).toBe(0);

  let open = () => {};
  decompressor().hold = new Promise<void>((r) => {
    open = r;
  });
  const pending = c.request(2, 7, listOffsets([{ index: 0, timestamp: t0 + 30 }]));
  await waitFor(() => decompressor().held === 1, "the lookup's decompression to be held");
  const versions = await within(other.request(18, 3, {}), "ApiVersions of another client");
  expect(versions.errorCode).toBe(0);
  // Held until now: the other client was answered while the lookup's decompression was in progress.
  expect(decompressor().held).toBe(1);
  expect(decompressor().budget.inUse).toBeGreaterThan(0);
  open();
  const r = await within(pending, "the lookup's answer");
  expect(r.topics[0].partitions[0]).toMatchObject({ errorCode: 0, offset: 30, timestamp: t0 + 30 });
  expect(decompressor().budget.inUse).toBe(0);
});
