/**
 * Idempotent retries of batches the broker rewrote (storage/rewrite.ts: compression.type
 * recompression, LogAppendTime): a retry gets the original offsets and the original
 * logAppendTimeMs and appends nothing, while the first append is in flight, after it, after a
 * clean restart (producer snapshot) and after an unclean one (journal replay, state rebuilt from
 * the stored batches).
 */
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Message } from "../../protocol/codec.js";
import { Compression } from "../../protocol/compression.js";
import {
  COMPRESSION_MASK,
  decodeBatches,
  encodeRecordBatch,
  readBatchHeader,
  TIMESTAMP_TYPE_MASK,
} from "../../protocol/record-batch.js";
import { LOCK_FILE } from "../../storage/dir-lock.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { TestClient } from "../helpers/kafka-client.js";
import { fetchRequest, produceRequest } from "../helpers/requests.js";

const TOPIC = "rewritten";
const CONFIGS = { "compression.type": "zstd", "message.timestamp.type": "LogAppendTime" };

const brokers: TestBroker[] = [];
const clients: TestClient[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const b of brokers.splice(0)) await b.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function start(dataDir?: string): Promise<TestClient> {
  const tb = await startTestBroker({}, dataDir);
  brokers.push(tb);
  const c = await TestClient.connect(tb.port);
  clients.push(c);
  return c;
}

async function createTopic(c: TestClient): Promise<void> {
  const r = await c.request(19, 7, {
    topics: [
      {
        name: TOPIC,
        numPartitions: 1,
        replicationFactor: 1,
        assignments: [],
        configs: Object.entries(CONFIGS).map(([name, value]) => ({ name, value })),
      },
    ],
    timeoutMs: 5000,
    validateOnly: false,
  });
  expect(r.topics[0].errorCode).toBe(0);
}

async function producerId(c: TestClient): Promise<number> {
  const init = await c.request(22, 4, {
    transactionalId: null,
    transactionTimeoutMs: 60_000,
    producerId: -1,
    producerEpoch: -1,
  });
  return init.producerId as number;
}

/** A gzip batch of `producerId` from sequence `seq`: the topic stores it as zstd, LogAppendTime. */
function batch(pid: number, seq: number, values: string[]): Buffer {
  return encodeRecordBatch(
    values.map((v) => ({ value: Buffer.from(v), timestamp: 1_000 })),
    { producerId: pid, producerEpoch: 0, baseSequence: seq, compression: Compression.Gzip },
  );
}

async function produce(c: TestClient, records: Buffer): Promise<Message> {
  const r = await c.request(0, 9, produceRequest(TOPIC, Buffer.from(records)));
  return r.responses[0].partitionResponses[0];
}

async function stored(c: TestClient): Promise<{ values: string[]; batches: Buffer; end: number }> {
  const f = await c.request(1, 12, fetchRequest(TOPIC, 0));
  const p = f.responses[0].partitions[0];
  return {
    values: decodeBatches(p.records).map((r) => r.value?.toString() ?? ""),
    batches: p.records,
    end: Number(p.highWatermark),
  };
}

/** The retry of `sent` is answered as `first` was, and the log is unchanged. */
async function expectDuplicate(c: TestClient, sent: Buffer, first: Message, values: string[]): Promise<void> {
  const retry = await produce(c, sent);
  expect(retry).toMatchObject({
    errorCode: 0,
    baseOffset: first.baseOffset,
    logAppendTimeMs: first.logAppendTimeMs,
  });
  expect((await stored(c)).values).toEqual(values);
}

describe("retries of rewritten batches", () => {
  it("get the original offsets and logAppendTimeMs, in flight and after the append", async () => {
    const c = await start();
    await createTopic(c);
    const pid = await producerId(c);
    const a = batch(pid, 0, ["a0", "a1"]);
    // Sent twice back to back: the second arrives while the first may still be written.
    const [first, inFlight] = await Promise.all([produce(c, a), produce(c, a)]);
    expect(first).toMatchObject({ errorCode: 0, baseOffset: 0 });
    expect(first.logAppendTimeMs).toBeGreaterThan(0);
    expect(inFlight).toMatchObject({ baseOffset: 0, logAppendTimeMs: first.logAppendTimeMs });
    await expectDuplicate(c, a, first, ["a0", "a1"]);

    const b = batch(pid, 2, ["b0"]);
    const second = await produce(c, b);
    expect(second).toMatchObject({ errorCode: 0, baseOffset: 2 });
    await expectDuplicate(c, b, second, ["a0", "a1", "b0"]);

    const { batches, end } = await stored(c);
    expect(end).toBe(3);
    const header = readBatchHeader(batches, 0);
    expect(header.attributes & COMPRESSION_MASK).toBe(Compression.Zstd);
    expect(header.attributes & TIMESTAMP_TYPE_MASK).toBe(TIMESTAMP_TYPE_MASK);
    expect(header.maxTimestamp).toBe(first.logAppendTimeMs);
    expect(header).toMatchObject({ producerId: pid, baseSequence: 0, recordCount: 2 });
  });

  it("get them after a clean restart and after an unclean one (journal replay)", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "samsa-retry-"));
    dirs.push(dataDir);
    const c = await start(dataDir);
    await createTopic(c);
    const pid = await producerId(c);
    const a = batch(pid, 0, ["a0", "a1"]);
    const first = await produce(c, a);
    expect(first).toMatchObject({ errorCode: 0, baseOffset: 0 });

    // A copy of the directory taken while the broker runs is what a kill -9 leaves behind (the
    // acknowledged batch is in the journal; the segment may not hold it yet), minus the lock.
    const crashed = mkdtempSync(path.join(tmpdir(), "samsa-retry-crash-"));
    dirs.push(crashed);
    cpSync(dataDir, crashed, { recursive: true });
    rmSync(path.join(crashed, LOCK_FILE), { force: true });

    clients.shift()?.close();
    await brokers.shift()?.stop(true);
    const clean = await start(dataDir);
    await expectDuplicate(clean, a, first, ["a0", "a1"]);

    const unclean = await start(crashed);
    await expectDuplicate(unclean, a, first, ["a0", "a1"]);
    const header = readBatchHeader((await stored(unclean)).batches, 0);
    expect(header.attributes & COMPRESSION_MASK).toBe(Compression.Zstd);
    expect(header.maxTimestamp).toBe(first.logAppendTimeMs);
    // The next sequence continues the log after the replayed batch.
    expect(await produce(unclean, batch(pid, 2, ["b0"]))).toMatchObject({ errorCode: 0, baseOffset: 2 });
  });
});
