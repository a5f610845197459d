/**
 * A produced batch's framing, magic and CRC are checked before its producer's sequences: a
 * corrupt batch, or an old-format (magic 0/1) message set, whose bytes look like a retry of a
 * stored batch is refused, never answered as that batch's duplicate; nothing changes.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Message } from "../../protocol/codec.js";
import { errorCode } from "../../protocol/errors.js";
import {
  CRC_OFFSET,
  computeBatchCrc,
  decodeBatches,
  encodeRecordBatch,
  MAGIC_OFFSET,
  RECORD_COUNT_OFFSET,
} from "../../protocol/record-batch.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { TestClient } from "../helpers/kafka-client.js";
import { fetchRequest, produceRequest } from "../helpers/requests.js";

/** Every Produce version the broker serves (v0-v2 carry magic 0/1 message sets in the wild). */
const PRODUCE_VERSIONS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
const TOPIC = "lookalike";

let tb: TestBroker | null = null;
let client: TestClient | null = null;
afterEach(async () => {
  client?.close();
  await tb?.stop();
  tb = null;
  client = null;
});

const idempotent = (producerId: number, seq: number, values: string[]) =>
  encodeRecordBatch(
    values.map((v) => ({ value: Buffer.from(v) })),
    { producerId, producerEpoch: 0, baseSequence: seq },
  );

async function produce(c: TestClient, version: number, records: Buffer): Promise<Message> {
  const r = await c.request(0, version, produceRequest(TOPIC, records));
  return r.responses[0].partitionResponses[0];
}

async function values(c: TestClient): Promise<string[]> {
  const f = await c.request(1, 12, fetchRequest(TOPIC, 0));
  return decodeBatches(f.responses[0].partitions[0].records).map((r) => r.value!.toString());
}

/** A copy of `stored` (the bytes of a stored batch) with `change` applied. */
function lookalike(stored: Buffer, change: (b: Buffer) => void): Buffer {
  const copy = Buffer.from(stored);
  change(copy);
  return copy;
}

/** A broker holding one idempotent batch (sequences 0-1) and a copy of its bytes as sent. */
async function withStoredBatch(): Promise<{ c: TestClient; stored: Buffer; pid: number }> {
  tb = await startTestBroker();
  client = await TestClient.connect(tb.port);
  const init = await client.request(22, 4, {
    transactionalId: null,
    transactionTimeoutMs: 60_000,
    producerId: -1,
    producerEpoch: -1,
  });
  const pid = init.producerId as number;
  const stored = idempotent(pid, 0, ["a", "b"]);
  expect(await produce(client, 9, Buffer.from(stored))).toMatchObject({ errorCode: 0, baseOffset: 0 });
  // A genuine retry is still answered with the original offsets.
  expect(await produce(client, 9, Buffer.from(stored))).toMatchObject({ errorCode: 0, baseOffset: 0 });
  return { c: client, stored, pid };
}

describe("Produce validates batches before producer sequences", () => {
  it("refuses a corrupt batch that looks like a retry with CORRUPT_MESSAGE, changing nothing", async () => {
    const { c, stored, pid } = await withStoredBatch();
    const corrupt = [
      // A flipped bit in the last record: the CRC no longer matches.
      lookalike(stored, (b) => {
        b[b.length - 1] ^= 0x01;
      }),
      // A wrong CRC over intact bytes.
      lookalike(stored, (b) => b.writeUInt32BE((b.readUInt32BE(CRC_OFFSET) + 1) >>> 0, CRC_OFFSET)),
      // An unknown magic (outside the CRC, so the CRC still matches).
      lookalike(stored, (b) => b.writeInt8(3, MAGIC_OFFSET)),
    ];
    for (const bytes of corrupt) {
      for (const version of PRODUCE_VERSIONS) {
        expect(await produce(c, version, bytes)).toMatchObject({
          errorCode: errorCode("CORRUPT_MESSAGE"),
          baseOffset: -1,
        });
      }
    }
    expect(await values(c)).toEqual(["a", "b"]);
    // The producer's state did not move: its next batch continues at sequence 2, offset 2.
    expect(await produce(c, 9, idempotent(pid, 2, ["c"]))).toMatchObject({ errorCode: 0, baseOffset: 2 });
    expect(await values(c)).toEqual(["a", "b", "c"]);
  });

  it("refuses a record-count mismatch under a valid CRC that looks like a retry with INVALID_RECORD", async () => {
    const { c, stored } = await withStoredBatch();
    // recordCount lies inside the CRC: recompute it, so only the count is wrong.
    const bytes = lookalike(stored, (b) => {
      b.writeInt32BE(3, RECORD_COUNT_OFFSET);
      b.writeUInt32BE(computeBatchCrc(b, 0, b.length), CRC_OFFSET);
    });
    expect(await produce(c, 9, bytes)).toMatchObject({
      errorCode: errorCode("INVALID_RECORD"),
      baseOffset: -1,
    });
    expect(await values(c)).toEqual(["a", "b"]);
  });

  it("refuses magic 0 and 1 message sets that look like a retry with UNSUPPORTED_FOR_MESSAGE_FORMAT at every version", async () => {
    const { c, stored, pid } = await withStoredBatch();
    for (const magic of [0, 1]) {
      // The stored batch's bytes under an old magic: offset, length, producer id and sequences all
      // sit where a v2 header has them.
      const old = lookalike(stored, (b) => b.writeInt8(magic, MAGIC_OFFSET));
      for (const version of PRODUCE_VERSIONS) {
        expect(await produce(c, version, old)).toMatchObject({
          errorCode: errorCode("UNSUPPORTED_FOR_MESSAGE_FORMAT"),
          baseOffset: -1,
        });
      }
    }
    expect(await values(c)).toEqual(["a", "b"]);
    expect(await produce(c, 9, idempotent(pid, 2, ["c"]))).toMatchObject({ errorCode: 0, baseOffset: 2 });
  });

  it("refuses a batch list whose later batch is corrupt, even when the first is a retry", async () => {
    const { c, stored } = await withStoredBatch();
    const broken = lookalike(stored, (b) => {
      b[b.length - 1] ^= 0x01;
    });
    expect(await produce(c, 9, Buffer.concat([stored, broken]))).toMatchObject({
      errorCode: errorCode("CORRUPT_MESSAGE"),
    });
    expect(await values(c)).toEqual(["a", "b"]);
  });
});
