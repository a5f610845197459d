/**
 * Hostile compressed produce, at the broker: every compressed batch's records are checked
 * (decompressed), within `decompression.memory.max.bytes` for the whole broker, and off the event
 * loop beyond a small batch. Small forms of the attacks: the budget is lowered to a few MiB, so a
 * bomb of a few MiB stands for the gigabyte one (bench/decompression.ts runs the full size).
 * Throughout, a second client's ApiVersions and Produce are answered.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Message } from "../../protocol/codec.js";
import { Compression } from "../../protocol/compression.js";
import { errorName } from "../../protocol/errors.js";
import { encodeRecordBatch } from "../../protocol/record-batch.js";
import { decompressor } from "../../storage/decompress.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { batchWithSection, recordsSection, zerosBatch } from "../helpers/compressed.js";
import { TestClient } from "../helpers/kafka-client.js";
import { produceRequest } from "../helpers/requests.js";
import { waitFor, within } from "../helpers/wait.js";

const MiB = 1024 * 1024;
const BUDGET = 4 * MiB;
const TOPIC = "attacked";
const OTHER = "bystander";

let tb: TestBroker | null = null;
const clients: TestClient[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  decompressor().hold = null;
  for (const c of clients.splice(0)) c.close();
  await tb?.stop();
  tb = null;
});

async function start(): Promise<{ attacker: TestClient; other: TestClient }> {
  tb = await startTestBroker({ "decompression.memory.max.bytes": BUDGET });
  const attacker = await TestClient.connect(tb.port);
  const other = await TestClient.connect(tb.port);
  clients.push(attacker, other);
  return { attacker, other };
}

async function produce(c: TestClient, topic: string, batch: Buffer): Promise<Message> {
  const r = await c.request(0, 9, produceRequest(topic, batch));
  return r.responses[0].partitionResponses[0];
}

/** The bystander's ApiVersions and a produce are answered. */
async function bystanderServed(other: TestClient): Promise<void> {
  const versions = await within(other.request(18, 3, {}), "ApiVersions of another client");
  expect(versions.errorCode).toBe(0);
  const batch = encodeRecordBatch([{ value: Buffer.from("still here") }]);
  const r = await within(produce(other, OTHER, batch), "produce of another client");
  expect(r.errorCode).toBe(0);
}

function logEnd(topic: string): number {
  return tb?.broker.topics.partition(topic, 0)?.logEndOffset ?? -1;
}

describe("compression bombs on produce", () => {
  it.each([
    ["gzip", Compression.Gzip],
    ["snappy", Compression.Snappy],
    ["lz4", Compression.Lz4],
    ["zstd", Compression.Zstd],
  ] as const)(
    "a %s batch inflating beyond the budget is MESSAGE_TOO_LARGE, nothing stored",
    async (_n, codec) => {
      const { attacker, other } = await start();
      await produce(attacker, TOPIC, encodeRecordBatch([{ value: Buffer.from("first") }]));
      const bomb = zerosBatch(codec, 4 * BUDGET);
      expect(bomb.length).toBeLessThan(MiB);
      const r = await within(produce(attacker, TOPIC, bomb), "the bomb's answer");
      expect(errorName(r.errorCode as number)).toBe("MESSAGE_TOO_LARGE");
      expect(logEnd(TOPIC)).toBe(1);
      await bystanderServed(other);
      expect(decompressor().budget.inUse).toBe(0);
    },
  );

  it("decompression in progress off the event loop does not keep others waiting", async () => {
    const { attacker, other } = await start();
    let open = () => {};
    decompressor().hold = new Promise<void>((r) => {
      open = r;
    });
    // 3 MiB of records: above the 1 MiB decompressed on the event loop, within the budget.
    const big = zerosBatch(Compression.Zstd, 3 * MiB);
    const pending = produce(attacker, TOPIC, big);
    await waitFor(() => decompressor().held === 1, "the batch's decompression to be held");
    await bystanderServed(other);
    // Held until now: the bystander was answered while the batch's decompression was in progress.
    expect(decompressor().held).toBe(1);
    expect(decompressor().budget.inUse).toBeGreaterThan(0);
    expect(logEnd(TOPIC)).toBe(0);
    open();
    const r = await within(pending, "the large batch's answer");
    expect(r.errorCode).toBe(0);
    expect(logEnd(TOPIC)).toBe(1);
    expect(decompressor().budget.inUse).toBe(0);
  });

  it("attackers on many connections share one budget: the rest wait, none exceeds it", async () => {
    const { other } = await start();
    let open = () => {};
    decompressor().hold = new Promise<void>((r) => {
      open = r;
    });
    const attackers = await Promise.all([1, 2, 3].map(() => TestClient.connect(tb?.port ?? 0)));
    clients.push(...attackers);
    // One topic each: appends to one partition check their records one at a time anyway.
    const topics = attackers.map((_c, i) => `${TOPIC}-${i}`);
    const answers = attackers.map((c, i) => produce(c, topics[i], zerosBatch(Compression.Lz4, 3 * MiB)));
    // One holds its reservation (held by the hook), the other two cannot fit and wait in the queue.
    await waitFor(() => decompressor().held === 1, "a decompression to be held");
    await waitFor(() => decompressor().budget.waiting === 2, "two decompressions to wait for memory");
    expect(decompressor().budget.inUse).toBeGreaterThan(0);
    expect(decompressor().budget.inUse).toBeLessThanOrEqual(BUDGET);
    await bystanderServed(other);
    expect(decompressor().budget.waiting).toBe(2);
    expect(decompressor().held).toBe(1);
    expect(topics.map(logEnd)).toEqual([0, 0, 0]);
    open();
    const results = await within(Promise.all(answers), "every attacker's answer");
    expect(results.map((r) => r.errorCode)).toEqual([0, 0, 0]);
    expect(topics.map(logEnd)).toEqual([1, 1, 1]);
    expect(decompressor().budget.inUse).toBe(0);
  });
});

describe("decompressed reads over HTTP", () => {
  it("a read whose copy of the records fails returns its reservation; the next read is served", async () => {
    const { attacker } = await start();
    // 3 MiB of records: decompressed off the event loop, its bound reserved from the budget.
    const r = await produce(attacker, TOPIC, zerosBatch(Compression.Zstd, 3 * MiB));
    expect(r.errorCode).toBe(0);
    const concat = Buffer.concat;
    let failed = 0;
    // The copy of the decompressed records (header + body) fails as a full heap would make it.
    vi.spyOn(Buffer, "concat").mockImplementation((list, length) => {
      if (list.length === 2 && list[1].length >= 3 * MiB) {
        failed++;
        throw new RangeError("Array buffer allocation failed");
      }
      return concat(list, length);
    });
    const url = `http://127.0.0.1:${tb?.broker.httpPort}/topics/${TOPIC}/partitions/0/records?offset=0`;
    const refused = await within(fetch(url), "the failed read's answer");
    expect(refused.status).toBe(500);
    expect(failed).toBe(1);
    expect(decompressor().budget.inUse).toBe(0);
    vi.restoreAllMocks();
    const read = await within(fetch(url), "the next read's answer");
    expect(read.status).toBe(200);
    expect(((await read.json()) as { offset: number }[]).map((x) => x.offset)).toEqual([0]);
    expect(decompressor().budget.inUse).toBe(0);
  });
});

describe("poisoned compressed batches on produce", () => {
  it("a gzip batch holding plain text is refused and every reader still reads the partition", async () => {
    const { attacker, other } = await start();
    const text = Buffer.from("GET / HTTP/1.1\r\nHost: example\r\n\r\n");
    const r = await produce(
      attacker,
      TOPIC,
      batchWithSection(Compression.Gzip, text, 1, { timestamp: Date.now() }),
    );
    expect(["CORRUPT_MESSAGE", "INVALID_RECORD"]).toContain(errorName(r.errorCode as number));
    expect(logEnd(TOPIC)).toBe(0);
    await bystanderServed(other);
  });

  it("lz4 batches declaring 2^31-1 records are INVALID_RECORD: the log end and segments do not move", async () => {
    const { attacker, other } = await start();
    const now = Date.now();
    const section = recordsSection([{ value: Buffer.from("x"), timestamp: now }], now);
    for (let i = 0; i < 20; i++) {
      const r = await produce(
        attacker,
        TOPIC,
        batchWithSection(Compression.Lz4, section, 2 ** 31 - 1, { timestamp: now }),
      );
      expect(errorName(r.errorCode as number)).toBe("INVALID_RECORD");
    }
    const partition = tb?.broker.topics.partition(TOPIC, 0);
    expect(partition?.logEndOffset).toBe(0);
    expect(partition?.segmentCount()).toBe(1);
    await bystanderServed(other);
  });
});
