/**
 * InitProducerId hands out producer ids as Kafka does: without a transactional id, always a fresh
 * id at epoch 0, whatever id and epoch the request carries (current clients send their old ones);
 * an empty transactional id is INVALID_REQUEST. Ids are never handed out twice, across restarts
 * too (kill -9 is covered by test/e2e/data-dir-lock.test.ts).
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Message } from "../../protocol/codec.js";
import { errorCode } from "../../protocol/errors.js";
import { decodeBatches, encodeRecordBatch } from "../../protocol/record-batch.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { TestClient } from "../helpers/kafka-client.js";
import { fetchRequest, produceRequest } from "../helpers/requests.js";

const INIT_PRODUCER_ID = 22;
const VERSIONS = [0, 1, 2, 3, 4];

let tb: TestBroker | null = null;
const clients: TestClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await tb?.stop();
  tb = null;
});

async function connect(port: number): Promise<TestClient> {
  const c = await TestClient.connect(port);
  clients.push(c);
  return c;
}

function init(
  c: TestClient,
  version: number,
  transactionalId: string | null,
  producerId = -1,
  producerEpoch = -1,
): Promise<Message> {
  return c.request(INIT_PRODUCER_ID, version, {
    transactionalId,
    transactionTimeoutMs: 60_000,
    producerId,
    producerEpoch,
  });
}

const idempotent = (producerId: number, epoch: number, seq: number, value: string) =>
  encodeRecordBatch([{ value: Buffer.from(value) }], { producerId, producerEpoch: epoch, baseSequence: seq });

describe("InitProducerId", () => {
  it("gives two producers that send the same old id and epoch two fresh ids, and keeps both's records", async () => {
    tb = await startTestBroker();
    const first = await connect(tb.port);
    // The first id a fresh broker hands out is 0: exactly what a client sends as its "old" id.
    const original = await init(first, 4, null);
    expect(original).toMatchObject({ errorCode: 0, producerEpoch: 0 });
    const a = await connect(tb.port);
    const b = await connect(tb.port);
    const ra = await init(a, 4, null, original.producerId as number, 0);
    const rb = await init(b, 4, null, original.producerId as number, 0);
    expect(ra).toMatchObject({ errorCode: 0, producerEpoch: 0 });
    expect(rb).toMatchObject({ errorCode: 0, producerEpoch: 0 });
    const ids = [original.producerId, ra.producerId, rb.producerId];
    expect(new Set(ids).size).toBe(3);

    // Each producer's first batch (sequence 0) is its own, not a duplicate of the other's.
    const pa = await a.request(
      0,
      9,
      produceRequest("two", idempotent(ra.producerId as number, 0, 0, "from a")),
    );
    const pb = await b.request(
      0,
      9,
      produceRequest("two", idempotent(rb.producerId as number, 0, 0, "from b")),
    );
    expect(pa.responses[0].partitionResponses[0]).toMatchObject({ errorCode: 0, baseOffset: 0 });
    expect(pb.responses[0].partitionResponses[0]).toMatchObject({ errorCode: 0, baseOffset: 1 });
    const f = await a.request(1, 12, fetchRequest("two", 0));
    expect(decodeBatches(f.responses[0].partitions[0].records).map((r) => r.value?.toString())).toEqual([
      "from a",
      "from b",
    ]);
  });

  it("hands out a fresh id at epoch 0 at every version, whatever id and epoch are sent", async () => {
    tb = await startTestBroker();
    const c = await connect(tb.port);
    const seen = new Set<number>();
    for (const version of VERSIONS) {
      for (const [id, epoch] of [
        [-1, -1],
        [0, 0],
        [7, 3],
        [0, 32766],
      ]) {
        const r = await init(c, version, null, id, epoch);
        expect(r).toMatchObject({ errorCode: 0, producerEpoch: 0 });
        expect(seen.has(r.producerId as number)).toBe(false);
        seen.add(r.producerId as number);
      }
    }
  });

  it("refuses an empty transactional id with INVALID_REQUEST and a real one as not served", async () => {
    tb = await startTestBroker();
    const c = await connect(tb.port);
    for (const version of VERSIONS) {
      expect(await init(c, version, "", 0, 0)).toMatchObject({
        errorCode: errorCode("INVALID_REQUEST"),
        producerId: -1,
        producerEpoch: -1,
      });
      expect(await init(c, version, "tx", 0, 0)).toMatchObject({
        errorCode: errorCode("TRANSACTIONAL_ID_AUTHORIZATION_FAILED"),
        producerId: -1,
        producerEpoch: -1,
      });
    }
  });

  it("never hands out an id twice across a restart, even to a client that sends its old one", async () => {
    tb = await startTestBroker();
    const dataDir = tb.dataDir;
    let c = await connect(tb.port);
    const before: number[] = [];
    for (let i = 0; i < 5; i++) before.push((await init(c, 4, null)).producerId as number);
    c.close();
    await tb.stop(true);
    tb = await startTestBroker({}, dataDir);
    c = await connect(tb.port);
    const after: number[] = [];
    for (const old of before) after.push((await init(c, 4, null, old, 0)).producerId as number);
    expect(new Set([...before, ...after]).size).toBe(before.length + after.length);
    expect(Math.min(...after)).toBeGreaterThan(Math.max(...before));
  });
});
