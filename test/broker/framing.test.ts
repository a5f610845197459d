/**
 * The Kafka TCP listener's framing contract, observed from raw sockets: pipelined requests are
 * answered in request order, acks=0 produces keep their place and send nothing, frames over
 * socket.request.max.bytes and unknown API keys or versions close the connection (ApiVersions
 * gets its v0 error reply instead), a client that stops reading stops the broker reading, and idle
 * connections are closed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Message } from "../../protocol/codec.js";
import { errorCode } from "../../protocol/errors.js";
import { API_SPECS } from "../../protocol/messages/index.js";
import { encodeRecordBatch } from "../../protocol/record-batch.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { TestClient } from "../helpers/kafka-client.js";
import { failOnProcessErrors } from "../helpers/process-errors.js";
import { baseSeed, Random } from "../helpers/random.js";
import { ConnectionClosedError, decodeResponse, RawConn, rawFrame } from "../helpers/raw-conn.js";
import { batchOf } from "../helpers/records.js";
import { fetchRequest, produceRequest } from "../helpers/requests.js";
import { WAIT_DEADLINE_MS, waitFor } from "../helpers/wait.js";

const API_VERSIONS = 18;
const METADATA = 3;
const PRODUCE = 0;
const FETCH = 1;
const LIST_OFFSETS = 2;
const INIT_PRODUCER_ID = 22;

// ------------------------------------------------------------------------------------------------
// Process-level failures: any uncaught exception or unhandled rejection fails the suite.

failOnProcessErrors();

// ------------------------------------------------------------------------------------------------
// Request bodies

function metadataRequest(version: number, topics: string[] | null): Message {
  return {
    topics: topics === null ? (version >= 1 ? null : []) : topics.map((name) => ({ name })),
    allowAutoTopicCreation: true,
    includeTopicAuthorizedOperations: false,
  };
}

function listOffsetsRequest(topic: string): Message {
  return {
    replicaId: -1,
    isolationLevel: 0,
    topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1 }] }],
  };
}

/** Asks for the latest offset of `topic`-0 over a fresh TestClient. */
async function latestOffset(port: number, topic: string): Promise<number> {
  const client = await TestClient.connect(port);
  try {
    const res = await client.request(LIST_OFFSETS, 7, listOffsetsRequest(topic));
    const p = res.topics[0].partitions[0];
    expect(p.errorCode).toBe(0);
    return p.offset as number;
  } finally {
    client.close();
  }
}

/** The broker answers ApiVersions and Metadata correctly on `conn` (correlation ids from `corr`). */
async function expectServes(conn: RawConn, advertised: Message[], corr: number): Promise<void> {
  await conn.write(TestClient.frame(API_VERSIONS, 3, {}, corr));
  const av = decodeResponse(await conn.nextFrame(), API_VERSIONS, 3);
  expect(av.correlationId).toBe(corr);
  expect(av.body.errorCode).toBe(0);
  expect(av.body.apiKeys).toEqual(advertised);
  await conn.write(TestClient.frame(METADATA, 12, metadataRequest(12, null), corr + 1));
  const md = decodeResponse(await conn.nextFrame(), METADATA, 12);
  expect(md.correlationId).toBe(corr + 1);
  expect(md.body.brokers).toHaveLength(1);
}

function apiKeysOf(tb: TestBroker): Message[] {
  return tb.broker.dispatcher.advertised().map((a) => ({ ...a }));
}

// ------------------------------------------------------------------------------------------------

describe("ordering", () => {
  let tb: TestBroker;
  beforeAll(async () => {
    tb = await startTestBroker();
  });
  afterAll(async () => {
    await tb?.stop();
  });

  it("answers 200 pipelined requests of mixed APIs in request order", async () => {
    const seed = baseSeed(0x5a5a);
    const rng = new Random(seed);
    const topic = "pipelined";
    const conn = await RawConn.connect(tb.port);
    // Create the topic first so that every produce below is an append to the same partition.
    await conn.write(TestClient.frame(METADATA, 4, metadataRequest(4, [topic]), 1_000_000));
    expect(decodeResponse(await conn.nextFrame(), METADATA, 4).body.topics[0].errorCode).toBe(0);

    const sent: { apiKey: number; version: number; corr: number }[] = [];
    const frames: Buffer[] = [];
    let produced = 0;
    for (let corr = 1; corr <= 200; corr++) {
      const apiKey = rng.pick([
        API_VERSIONS,
        METADATA,
        PRODUCE,
        PRODUCE,
        FETCH,
        LIST_OFFSETS,
        INIT_PRODUCER_ID,
      ]);
      let version: number;
      let body: Message;
      switch (apiKey) {
        case API_VERSIONS:
          version = rng.int(0, 4);
          body = { clientSoftwareName: "samsa-test", clientSoftwareVersion: "1.0" };
          break;
        case METADATA:
          version = rng.int(0, 12);
          body = metadataRequest(version, [topic]);
          break;
        case PRODUCE:
          version = rng.int(3, 11);
          body = produceRequest(topic, batchOf(rng.int(1, 5), `p${corr}`), rng.pick([1, -1]));
          produced++;
          break;
        case FETCH:
          version = rng.int(4, 12);
          body = fetchRequest(topic, 0);
          break;
        case LIST_OFFSETS:
          version = rng.int(1, 7);
          body = listOffsetsRequest(topic);
          break;
        default:
          version = rng.int(0, 4);
          body = { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 };
      }
      sent.push({ apiKey, version, corr });
      frames.push(TestClient.frame(apiKey, version, body, corr));
    }
    await conn.write(Buffer.concat(frames));

    const order: number[] = [];
    let lastBaseOffset = -1;
    for (const s of sent) {
      const frame = await conn.nextFrame(10_000);
      const { correlationId, body } = decodeResponse(frame, s.apiKey, s.version);
      order.push(correlationId);
      expect(correlationId, `[seed ${seed}] response ${order.length}`).toBe(s.corr);
      if (s.apiKey === PRODUCE) {
        const p = body.responses[0].partitionResponses[0];
        expect(p.errorCode, `[seed ${seed}] produce ${s.corr}`).toBe(0);
        // Appends of one connection land in the order the requests were sent.
        expect(p.baseOffset, `[seed ${seed}] produce ${s.corr}`).toBeGreaterThan(lastBaseOffset);
        lastBaseOffset = p.baseOffset;
      } else if (s.apiKey === API_VERSIONS || s.apiKey === INIT_PRODUCER_ID) {
        expect(body.errorCode).toBe(0);
      }
    }
    expect(order).toEqual(sent.map((s) => s.corr));
    expect(produced).toBeGreaterThan(0);
    conn.close();
  });

  it("sends nothing for acks=0 produces and keeps later responses in order", async () => {
    const topic = "acks0";
    const conn = await RawConn.connect(tb.port);
    const frames = [
      TestClient.frame(METADATA, 9, metadataRequest(9, [topic]), 1),
      TestClient.frame(PRODUCE, 9, produceRequest(topic, batchOf(3, "a"), 0), 2),
      TestClient.frame(API_VERSIONS, 3, {}, 3),
      TestClient.frame(PRODUCE, 3, produceRequest(topic, batchOf(2, "b"), 0), 4),
      TestClient.frame(PRODUCE, 11, produceRequest(topic, batchOf(1, "c"), 0), 5),
      TestClient.frame(LIST_OFFSETS, 5, listOffsetsRequest(topic), 6),
      TestClient.frame(PRODUCE, 7, produceRequest(topic, batchOf(4, "d"), 1), 7),
      TestClient.frame(API_VERSIONS, 0, {}, 8),
    ];
    await conn.write(Buffer.concat(frames));
    const got: number[] = [];
    for (let i = 0; i < 5; i++) got.push((await conn.nextFrame()).readInt32BE(0));
    expect(got).toEqual([1, 3, 6, 7, 8]);
    // Nothing else arrives: acks=0 produces have no response at all.
    await expect(conn.nextFrame(300)).rejects.toThrow(/no response/);
    // Every acks=0 batch was appended, before the acks=1 one that followed them.
    expect(await latestOffset(tb.port, topic)).toBe(3 + 2 + 1 + 4);
    conn.close();
  });

  it("closes on an unsupported version of an API other than ApiVersions, after answering what came before", async () => {
    const range = (apiKey: number) => tb.broker.dispatcher.advertised().find((a) => a.apiKey === apiKey)!;
    const cases: [number, number][] = [
      [METADATA, 32_000],
      [METADATA, range(METADATA).maxVersion + 1],
      [METADATA, -1],
      [FETCH, range(FETCH).maxVersion + 1],
    ];
    for (const apiKey of [PRODUCE, FETCH])
      if (range(apiKey).minVersion > 0) cases.push([apiKey, range(apiKey).minVersion - 1]);
    for (const [apiKey, version] of cases) {
      const conn = await RawConn.connect(tb.port);
      await conn.write(
        Buffer.concat([
          TestClient.frame(API_VERSIONS, 2, {}, 1),
          rawFrame(apiKey, version, 2, Buffer.alloc(16)),
        ]),
      );
      expect((await conn.nextFrame()).readInt32BE(0)).toBe(1);
      await expect(conn.nextFrame(), `${API_SPECS[apiKey].name} v${version}`).rejects.toThrow(
        ConnectionClosedError,
      );
    }
  });

  it("closes on an unknown API key", async () => {
    const served = new Set(tb.broker.dispatcher.advertised().map((a) => a.apiKey));
    const unknown = [999, 32_767, -1, 4, 17].filter((k) => !served.has(k));
    // A key the codec knows but no handler serves (if there is one left).
    const specOnly = Object.keys(API_SPECS)
      .map(Number)
      .find((k) => !served.has(k));
    if (specOnly !== undefined) unknown.push(specOnly);
    for (const apiKey of unknown) {
      const conn = await RawConn.connect(tb.port);
      await conn.write(rawFrame(apiKey, 0, 7, Buffer.alloc(8)));
      expect(await conn.waitClosed(5000), `API key ${apiKey}`).toBe(true);
      expect(conn.pending, `API key ${apiKey}`).toBe(0);
    }
  });

  it("answers an unsupported ApiVersions version with the v0 error reply and keeps the connection", async () => {
    const conn = await RawConn.connect(tb.port);
    for (const [corr, version] of [
      [41, 5],
      [42, 127],
      [43, 32_767],
    ]) {
      // A newer client's request: flexible header and a body this broker cannot know.
      await conn.write(
        rawFrame(API_VERSIONS, version, corr, Buffer.from([0x05, 0x61, 0x62, 0x63, 0x64, 0x00])),
      );
      const reply = decodeResponse(await conn.nextFrame(), API_VERSIONS, 0);
      expect(reply.correlationId).toBe(corr);
      expect(reply.body.errorCode).toBe(errorCode("UNSUPPORTED_VERSION"));
      expect(reply.body.errorCode).toBe(35);
      expect(reply.body.apiKeys).toEqual(apiKeysOf(tb));
    }
    await expectServes(conn, apiKeysOf(tb), 50);
    conn.close();
  });
});

describe("socket.request.max.bytes", () => {
  let tb: TestBroker;
  beforeAll(async () => {
    tb = await startTestBroker({ "socket.request.max.bytes": 1024 });
  });
  afterAll(async () => {
    await tb?.stop();
  });

  it("closes a connection announcing a larger frame before its body is sent, and keeps serving others", async () => {
    const other = await RawConn.connect(tb.port);
    await expectServes(other, apiKeysOf(tb), 1);
    for (const size of [1025, 2000, 100 * 1024 * 1024, 0x7fffffff]) {
      const conn = await RawConn.connect(tb.port);
      const prefix = Buffer.alloc(4);
      prefix.writeInt32BE(size, 0);
      // Only the length prefix and the start of a header: the body is never sent.
      await conn.write(Buffer.concat([prefix, rawFrame(METADATA, 1, 9).subarray(4, 12)]));
      expect(await conn.waitClosed(5000), `frame of ${size} bytes`).toBe(true);
      expect(conn.pending).toBe(0);
    }
    await expectServes(other, apiKeysOf(tb), 3);
    other.close();
  });

  it("accepts a frame of exactly the limit", async () => {
    const conn = await RawConn.connect(tb.port);
    const header = rawFrame(API_VERSIONS, 0, 5);
    // ApiVersions v0 has an empty body; pad the frame to exactly 1024 bytes after the prefix.
    const frame = Buffer.concat([header, Buffer.alloc(1024 - (header.length - 4))]);
    frame.writeInt32BE(1024, 0);
    await conn.write(frame);
    const reply = decodeResponse(await conn.nextFrame(), API_VERSIONS, 0);
    expect(reply.correlationId).toBe(5);
    expect(reply.body.errorCode).toBe(0);
    conn.close();
  });
});

describe("backpressure", () => {
  let tb: TestBroker;
  const topic = "backpressure";
  const recordBytes = 100_000;
  beforeAll(async () => {
    tb = await startTestBroker({ "connection.max.inflight.requests": 4, "log.flush.policy": "os" });
    const client = await TestClient.connect(tb.port);
    const batch = encodeRecordBatch([{ value: Buffer.alloc(recordBytes, 0x61), timestamp: Date.now() }]);
    const res = await client.request(PRODUCE, 7, produceRequest(topic, batch, 1));
    expect(res.responses[0].partitionResponses[0].errorCode).toBe(0);
    client.close();
  });
  afterAll(async () => {
    await tb?.stop();
  });

  it("stops reading from a client that does not read its responses, and answers once it does", async () => {
    const dispatcher = tb.broker.dispatcher;
    const dispatch = dispatcher.dispatch.bind(dispatcher);
    let dispatched = 0;
    dispatcher.dispatch = (frame, conn) => {
      dispatched++;
      return dispatch(frame, conn);
    };
    try {
      const requests = 1000;
      const conn = await RawConn.connect(tb.port);
      conn.pauseReading();
      const frames: Buffer[] = [];
      for (let corr = 1; corr <= requests; corr++)
        frames.push(TestClient.frame(FETCH, 4, fetchRequest(topic, 0), corr));
      // Not awaited: the broker stops reading, so part of this stays in the client's buffer.
      void conn.write(Buffer.concat(frames));

      // Wait until the broker stops taking requests.
      let last = -1;
      for (let stable = 0; stable < 5; ) {
        await new Promise((r) => setTimeout(r, 100));
        stable = dispatched === last ? stable + 1 : 0;
        last = dispatched;
      }
      // Each response is ~100 KB: what the broker took is what fits in the kernel's socket buffers
      // plus the in-flight limit, not the 100 MB the client asked for.
      expect(dispatched, "requests read while the client reads nothing").toBeLessThan(requests / 4);
      expect(conn.closed).toBe(false);

      // Another connection is served meanwhile.
      const other = await RawConn.connect(tb.port);
      await expectServes(other, apiKeysOf(tb), 1);
      other.close();

      conn.resumeReading();
      for (let corr = 1; corr <= requests; corr++) {
        const { correlationId, body } = decodeResponse(await conn.nextFrame(10_000), FETCH, 4);
        expect(correlationId).toBe(corr);
        const p = body.responses[0].partitions[0];
        expect(p.errorCode).toBe(0);
        expect((p.records as Buffer).length).toBeGreaterThan(recordBytes);
      }
      // Every request, plus the other connection's two.
      expect(dispatched).toBe(requests + 2);
      conn.close();
    } finally {
      dispatcher.dispatch = dispatch;
    }
  });
});

describe("connections.max.idle.ms", () => {
  const IDLE_MS = 1000;
  let tb: TestBroker;
  beforeAll(async () => {
    // Long beside the busy connection's round trips, so a loaded machine does not look idle.
    tb = await startTestBroker({ "connections.max.idle.ms": IDLE_MS });
  });
  afterAll(async () => {
    await tb?.stop();
  });

  it("closes idle connections and keeps busy ones", async () => {
    const idle = await RawConn.connect(tb.port);
    const busy = await RawConn.connect(tb.port);
    let corr = 1;
    // The busy connection keeps sending requests, one at a time, until the idle one is closed.
    await waitFor(async () => {
      await busy.write(TestClient.frame(API_VERSIONS, 0, {}, corr));
      expect(decodeResponse(await busy.nextFrame(), API_VERSIONS, 0).correlationId).toBe(corr);
      corr++;
      return idle.closed;
    }, "the idle connection to be closed while the busy one sends");
    expect(busy.closed, "busy connection").toBe(false);
    // Once it falls silent, the busy one goes the same way.
    expect(await busy.waitClosed(WAIT_DEADLINE_MS), "the silent connection to be closed").toBe(true);
  });
});
