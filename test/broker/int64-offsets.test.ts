/**
 * Offsets are 64-bit wherever a client can send one. A committed offset beyond 2^53 (2^62,
 * 2^53 + 1, -2^62) commits and fetches back exactly, also after a restart and over HTTP; an
 * int64 beyond 2^53 that samsa cannot represent is refused with a typed error, never rounded:
 * DeleteRecords answers OFFSET_OUT_OF_RANGE for the partition, Fetch and InitProducerId
 * INVALID_REQUEST. Another
 * client keeps being served throughout.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { HttpServer } from "../../broker/http/server.js";
import type { Message } from "../../protocol/codec.js";
import { errorCode } from "../../protocol/errors.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { runSamsa } from "../helpers/cli.js";
import { offsetCommitRequest, offsetFetchRequest } from "../helpers/group-requests.js";
import { TestClient } from "../helpers/kafka-client.js";
import { failOnProcessErrors } from "../helpers/process-errors.js";
import { batchOf } from "../helpers/records.js";
import { fetchRequest, produceRequest } from "../helpers/requests.js";

const PRODUCE = 0;
const FETCH = 1;
const OFFSET_COMMIT = 8;
const OFFSET_FETCH = 9;
const CREATE_TOPICS = 19;
const DELETE_RECORDS = 21;
const INIT_PRODUCER_ID = 22;

const WIDE = [2n ** 62n, 2n ** 53n + 1n, 2n ** 63n - 1n, -(2n ** 62n)];

failOnProcessErrors();

const dirs: string[] = [];
let brokers: TestBroker[] = [];
let clients: TestClient[] = [];
afterEach(async () => {
  for (const c of clients) c.close();
  for (const b of brokers) await b.stop(true);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  clients = [];
  brokers = [];
  dirs.length = 0;
});

async function start(dir: string): Promise<{ tb: TestBroker; c: TestClient }> {
  const tb = await startTestBroker({ "group.initial.rebalance.delay.ms": 0 }, dir);
  brokers.push(tb);
  const c = await TestClient.connect(tb.port);
  clients.push(c);
  return { tb, c };
}

async function createTopic(c: TestClient, name: string, partitions: number): Promise<void> {
  const r = await c.request(CREATE_TOPICS, 7, {
    topics: [{ name, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 5000,
    validateOnly: false,
  });
  expect(r.topics[0].errorCode, r.topics[0].errorMessage).toBe(0);
}

async function commit(c: TestClient, group: string, offsets: bigint[]): Promise<number[]> {
  const request = offsetCommitRequest(group, {
    t: offsets.map((offset, partition) => ({ partition, offset: offset as unknown as number })),
  });
  const r = await c.request(OFFSET_COMMIT, 8, request);
  return (r.topics[0].partitions as Message[]).map((p) => p.errorCode as number);
}

async function committed(c: TestClient, group: string, partitions: number): Promise<unknown[]> {
  const indexes = Array.from({ length: partitions }, (_, i) => i);
  const r = await c.request(OFFSET_FETCH, 7, offsetFetchRequest(group, { t: indexes }));
  expect(r.errorCode).toBe(0);
  return (r.topics[0].partitions as Message[]).map((p) => p.committedOffset);
}

function httpOf(tb: TestBroker): HttpServer {
  const http = tb.broker.http;
  if (!http) throw new Error("the broker has no HTTP server");
  return http;
}

describe("64-bit offsets", () => {
  it("a committed offset beyond 2^53 round-trips exactly, after a restart and over HTTP", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "config-int64-"));
    dirs.push(dir);
    let { tb, c } = await start(dir);
    await createTopic(c, "t", WIDE.length);
    expect(await commit(c, "g", WIDE)).toEqual(WIDE.map(() => 0));
    expect(await committed(c, "g", WIDE.length)).toEqual(WIDE);
    brokers = brokers.filter((b) => b !== tb);
    await tb.stop(true);
    ({ tb, c } = await start(dir));
    expect(await committed(c, "g", WIDE.length)).toEqual(WIDE);
    const res = await httpOf(tb).app.inject({ method: "GET", url: "/groups/g" });
    expect(res.statusCode, res.body).toBe(200);
    // The digits as committed (JSON.parse would round them, so read the text).
    for (const offset of WIDE) expect(res.body).toContain(`"committed_offset":${offset}`);
    const body = res.json() as { offsets: { partition: number; lag: number | null }[] };
    expect(body.offsets.map((o) => o.lag)).toEqual([0, 0, 0, null]);
    // samsa's own client counts offsets in numbers: it says so in one line instead of rounding.
    const run = await runSamsa(["group", "describe", "g"], { brokers: `127.0.0.1:${tb.port}` });
    expect(run.status, run.stderr).toBe(1);
    expect(run.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(run.stderr).toContain("beyond 2^53");
  });

  it("DeleteRecords beyond 2^53 is OFFSET_OUT_OF_RANGE; Fetch and InitProducerId INVALID_REQUEST; others are served", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "config-int64-"));
    dirs.push(dir);
    const { tb, c } = await start(dir);
    await createTopic(c, "t", 1);
    const other = await TestClient.connect(tb.port);
    clients.push(other);
    const produced = await other.request(PRODUCE, 9, produceRequest("t", batchOf(2, "r")));
    expect(produced.responses[0].partitionResponses[0].errorCode).toBe(0);
    for (const offset of [2n ** 62n, -(2n ** 62n)]) {
      const r = await c.request(DELETE_RECORDS, 2, {
        topics: [
          { name: "t", partitions: [{ partitionIndex: 0, offset }] },
          { name: "nope", partitions: [{ partitionIndex: 0, offset }] },
        ],
        timeoutMs: 1000,
      });
      expect(r.topics[0].partitions[0].errorCode).toBe(errorCode("OFFSET_OUT_OF_RANGE"));
      expect(r.topics[1].partitions[0].errorCode).toBe(errorCode("UNKNOWN_TOPIC_OR_PARTITION"));
    }
    const fetch = fetchRequest("t", 0);
    fetch.topics[0].partitions[0].fetchOffset = 2n ** 62n;
    const r = await c.request(FETCH, 12, fetch);
    expect(r.errorCode).toBe(errorCode("INVALID_REQUEST"));
    // A producer id beyond 2^53 (InitProducerId v3+, KIP-360) is refused, not rounded.
    const init = await c.request(INIT_PRODUCER_ID, 4, {
      transactionalId: null,
      transactionTimeoutMs: 60_000,
      producerId: 2n ** 62n,
      producerEpoch: 0,
    });
    expect(init.errorCode).toBe(errorCode("INVALID_REQUEST"));
    // The log is untouched and the other client still reads it from 0.
    const read = await other.request(FETCH, 12, fetchRequest("t", 0));
    expect(read.responses[0].partitions[0]).toMatchObject({
      errorCode: 0,
      highWatermark: 2,
      logStartOffset: 0,
    });
  });
});
