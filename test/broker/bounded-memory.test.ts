/**
 * Bounded memory on the network side (issue 12), small forms of the attacks with lowered limits,
 * over raw sockets; memory is read from the broker's own budgets (Dispatcher.requestBudget and
 * responseBudget), never from RSS. Each attack checks that another client is answered meanwhile
 * and that the budgets return to 0 once the attacker is gone.
 *
 * - Amplification: a topic, partition, group or resource named many times is answered once;
 *   a response larger than queued.max.response.bytes closes the connection instead of being sent.
 * - Responses nobody reads: fetch.max.bytes caps a Fetch; a connection that pipelines fetches and
 *   reads nothing holds at most its share of queued.max.response.bytes and stops being served;
 *   the same over the WebSocket door.
 * - Frames in progress: connections stalled inside large frames hold at most
 *   queued.max.request.bytes (plus one socket read each); a large frame is not held back by many
 *   long polls holding a little each; frames of socket.request.max.bytes begun together all
 *   complete (oldest first); a frame not whole within request.frame.timeout.ms closes its
 *   connection (per frame: test/broker/frame-deadline.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { loadBrokerConfig } from "../../broker/config.js";
import type { Message } from "../../protocol/codec.js";
import { encodeRecordBatch } from "../../protocol/record-batch.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { offsetFetchGroupsRequest } from "../helpers/group-requests.js";
import { TestClient } from "../helpers/kafka-client.js";
import { failOnProcessErrors } from "../helpers/process-errors.js";
import { decodeResponse, RawConn } from "../helpers/raw-conn.js";
import { fetchRequest, produceRequest } from "../helpers/requests.js";
import { waitFor, waitForStable, within } from "../helpers/wait.js";

const PRODUCE = 0;
const FETCH = 1;
const METADATA = 3;
const OFFSET_FETCH = 9;
const DESCRIBE_GROUPS = 15;
const API_VERSIONS = 18;
const DELETE_RECORDS = 21;
const OFFSET_FOR_LEADER_EPOCH = 23;
const DESCRIBE_CONFIGS = 32;
const DESCRIBE_LOG_DIRS = 35;
const DESCRIBE_PRODUCERS = 61;

/** Most bytes one socket read hands the broker (libuv reads at most 64 KiB at a time). */
const SOCKET_READ_BYTES = 64 * 1024;

failOnProcessErrors();

/** A new connection gets ApiVersions answered. */
async function expectServed(port: number): Promise<void> {
  const client = await TestClient.connect(port);
  try {
    const res = await within(client.request(API_VERSIONS, 3, {}), "ApiVersions from another client");
    expect(res.errorCode).toBe(0);
  } finally {
    client.close();
  }
}

function repeat<T>(n: number, make: (i: number) => T): T[] {
  return Array.from({ length: n }, (_, i) => make(i));
}

/** A length prefix declaring `size` bytes, then the start of a Metadata header. */
function partialFrame(size: number, bodyBytes: number): Buffer {
  const out = Buffer.alloc(4 + bodyBytes);
  out.writeInt32BE(size, 0);
  out.writeInt16BE(METADATA, 4);
  out.writeInt16BE(12, 6);
  return out;
}

// ------------------------------------------------------------------------------------------------

describe("amplification: each named item answered once", () => {
  let tb: TestBroker;
  let client: TestClient;
  const topic = "amplified";
  const partitions = 20;
  const times = 2000;
  beforeAll(async () => {
    tb = await startTestBroker({ "log.flush.policy": "os" });
    await tb.broker.topics.create(topic, partitions, 1, {});
    client = await TestClient.connect(tb.port);
  });
  afterAll(async () => {
    client?.close();
    await tb?.stop();
  });

  it("Metadata naming one topic 2,000 times answers it once", async () => {
    const res = await client.request(METADATA, 12, {
      topics: repeat(times, () => ({ name: topic })),
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    });
    expect(res.topics).toHaveLength(1);
    expect(res.topics[0].partitions).toHaveLength(partitions);
    // By id (v10+) too.
    const id = res.topics[0].topicId as string;
    const byId = await client.request(METADATA, 12, {
      topics: repeat(times, () => ({ name: null, topicId: id })),
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    });
    expect(byId.topics).toHaveLength(1);
    await expectServed(tb.port);
  });

  it("DescribeConfigs, DescribeGroups and OffsetFetch answer a repeated resource or group once", async () => {
    const configs = await client.request(DESCRIBE_CONFIGS, 4, {
      resources: repeat(times, () => ({ resourceType: 2, resourceName: topic, configurationKeys: null })),
      includeSynonyms: true,
      includeDocumentation: true,
    });
    expect(configs.results).toHaveLength(1);
    expect(configs.results[0].errorCode).toBe(0);

    const groups = await client.request(DESCRIBE_GROUPS, 5, {
      groups: repeat(times, () => "g"),
      includeAuthorizedOperations: false,
    });
    expect(groups.groups).toHaveLength(1);

    const offsets = await client.request(OFFSET_FETCH, 8, {
      ...offsetFetchGroupsRequest({ g: { [topic]: repeat(times, () => 0) } }),
      groups: repeat(100, () => ({
        groupId: "g",
        topics: repeat(20, () => ({ name: topic, partitionIndexes: repeat(100, () => 1) })),
      })),
    });
    expect(offsets.groups).toHaveLength(1);
    expect(offsets.groups[0].topics).toHaveLength(1);
    expect(offsets.groups[0].topics[0].partitions).toHaveLength(1);
  });

  it("per-partition APIs answer a repeated partition once", async () => {
    const named = (key: string, partitionsOf: () => Message[]) =>
      repeat(20, () => ({ [key]: topic, partitions: partitionsOf() }));
    const fetch = fetchRequest(topic, 0);
    fetch.topics = named("topic", () => repeat(100, () => ({ ...fetch.topics[0].partitions[0] })));
    const fetched = await client.request(FETCH, 12, fetch);
    expect(fetched.responses).toHaveLength(1);
    expect(fetched.responses[0].partitions).toHaveLength(1);

    const epochs = await client.request(OFFSET_FOR_LEADER_EPOCH, 4, {
      replicaId: -1,
      topics: named("topic", () =>
        repeat(100, () => ({ partition: 1, currentLeaderEpoch: -1, leaderEpoch: 0 })),
      ),
    });
    expect(epochs.topics).toHaveLength(1);
    expect(epochs.topics[0].partitions).toHaveLength(1);

    const deleted = await client.request(DELETE_RECORDS, 2, {
      topics: named("name", () => repeat(100, () => ({ partitionIndex: 2, offset: 0 }))),
      timeoutMs: 5000,
    });
    expect(deleted.topics).toHaveLength(1);
    expect(deleted.topics[0].partitions).toHaveLength(1);

    const producers = await client.request(DESCRIBE_PRODUCERS, 0, {
      topics: repeat(20, () => ({ name: topic, partitionIndexes: repeat(100, () => 3) })),
    });
    expect(producers.topics).toHaveLength(1);
    expect(producers.topics[0].partitions).toHaveLength(1);

    const dirs = await client.request(DESCRIBE_LOG_DIRS, 3, {
      topics: repeat(times, () => ({ topic, partitions: repeat(10, (i) => i) })),
    });
    expect(dirs.results[0].topics).toHaveLength(1);
    expect(dirs.results[0].topics[0].partitions).toHaveLength(10);
  });
});

describe("a response larger than queued.max.response.bytes", () => {
  let tb: TestBroker;
  beforeAll(async () => {
    tb = await startTestBroker({
      "queued.max.response.bytes": 4096,
      // The budget must hold the largest batch (message.max.bytes + 1 KiB).
      "message.max.bytes": 3072,
      "log.flush.policy": "os",
    });
    await tb.broker.topics.create("wide", 200, 1, {});
  });
  afterAll(async () => {
    await tb?.stop();
  });

  it("is not sent: the connection closes and others are served", async () => {
    const conn = await RawConn.connect(tb.port);
    await conn.write(
      TestClient.frame(
        METADATA,
        12,
        { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false },
        1,
      ),
    );
    expect(await conn.waitClosed(20_000)).toBe(true);
    expect(conn.pending).toBe(0);
    await expectServed(tb.port);
    await waitFor(() => tb.broker.dispatcher.responseBudget.used === 0, "the response budget back to 0");
  });
});

// ------------------------------------------------------------------------------------------------

describe("responses nobody reads", () => {
  let tb: TestBroker;
  const topic = "unread";
  const batchBytes = 50_000;
  const batches = 8;
  const fetchMaxBytes = 256 * 1024;
  const budget = 512 * 1024;
  beforeAll(async () => {
    tb = await startTestBroker({
      "fetch.max.bytes": fetchMaxBytes,
      "queued.max.response.bytes": budget,
      "message.max.bytes": batchBytes + 1024,
      "log.flush.policy": "os",
    });
    const client = await TestClient.connect(tb.port);
    for (let i = 0; i < batches; i++) {
      const batch = encodeRecordBatch([{ value: Buffer.alloc(batchBytes, 0x61 + i), timestamp: Date.now() }]);
      const res = await client.request(PRODUCE, 7, produceRequest(topic, batch, 1));
      expect(res.responses[0].partitionResponses[0].errorCode).toBe(0);
    }
    client.close();
  });
  afterAll(async () => {
    await tb?.stop();
  });

  it("fetch.max.bytes caps what one Fetch answers, whatever its max_bytes", async () => {
    const client = await TestClient.connect(tb.port);
    try {
      const res = await client.request(FETCH, 12, fetchRequest(topic, 0, { maxBytes: 0x7fffffff }));
      const records = res.responses[0].partitions[0].records as Buffer;
      expect(records.length).toBeGreaterThan(0);
      expect(records.length).toBeLessThanOrEqual(fetchMaxBytes);
    } finally {
      client.close();
    }
  });

  it("a connection that pipelines fetches and reads nothing holds at most its share, then is served when it reads", async () => {
    const responses = tb.broker.dispatcher.responseBudget;
    const dispatcher = tb.broker.dispatcher;
    const dispatch = dispatcher.dispatch.bind(dispatcher);
    let dispatched = 0;
    dispatcher.dispatch = (frame, conn) => {
      dispatched++;
      return dispatch(frame, conn);
    };
    try {
      responses.peak = 0;
      // ~100 MB asked for: far beyond what the kernel's socket buffers take (tens of MB).
      const requests = 400;
      const attacker = await RawConn.connect(tb.port);
      attacker.pauseReading();
      const frames = repeat(requests, (i) =>
        TestClient.frame(FETCH, 12, fetchRequest(topic, 0, { maxBytes: 0x7fffffff }), i + 1),
      );
      void attacker.write(Buffer.concat(frames));
      // The broker stops serving it once the kernel's buffers and its share are full.
      await waitFor(() => responses.used >= budget / 2, "the attacker's responses to fill the budget");
      await waitForStable(() => dispatched, "the requests dispatched");
      expect(dispatched).toBeLessThan(requests);
      // The budget, plus at most one batch beyond a grant (KIP-74).
      expect(responses.peak).toBeLessThanOrEqual(budget + batchBytes + 1024);

      // Another consumer still gets records meanwhile (its first batch).
      const consumer = await TestClient.connect(tb.port);
      const res = await within(
        consumer.request(FETCH, 12, fetchRequest(topic, 0, { maxBytes: 0x7fffffff })),
        "a fetch from another client during the attack",
      );
      expect((res.responses[0].partitions[0].records as Buffer).length).toBeGreaterThan(0);
      consumer.close();
      await expectServed(tb.port);
      expect(responses.peak).toBeLessThanOrEqual(budget + 2 * (batchBytes + 1024));

      // Reading again, it is answered in full and in order.
      attacker.resumeReading();
      for (let corr = 1; corr <= requests; corr++) {
        const { correlationId, body } = decodeResponse(await attacker.nextFrame(20_000), FETCH, 12);
        expect(correlationId).toBe(corr);
        expect((body.responses[0].partitions[0].records as Buffer).length).toBeGreaterThan(0);
      }
      await waitFor(() => responses.used === 0, "the response budget back to 0 after reading");

      // Stalled again and then closed: everything it held is given back.
      attacker.pauseReading();
      void attacker.write(Buffer.concat(frames));
      await waitFor(() => responses.used >= budget / 2, "the attacker's responses to fill the budget again");
      attacker.close();
      await waitFor(() => responses.used === 0, "the response budget back to 0 after the attacker closed");
      await waitFor(
        () => tb.broker.dispatcher.requestBudget.used === 0,
        "the request budget back to 0 after the attacker closed",
      );
      await expectServed(tb.port);
    } finally {
      dispatcher.dispatch = dispatch;
    }
  });

  it("the WebSocket door shares the response budget", async () => {
    const responses = tb.broker.dispatcher.responseBudget;
    responses.peak = 0;
    const ws = new WebSocket(`ws://127.0.0.1:${tb.broker.httpPort}/kafka`);
    ws.on("error", () => {});
    await within(new Promise((resolve) => ws.once("open", resolve)), "the WebSocket to open");
    // Reads nothing: the answers pile up in the kernel, then in the broker.
    ws.pause();
    for (let i = 1; i <= 400; i++)
      ws.send(TestClient.frame(FETCH, 12, fetchRequest(topic, 0, { maxBytes: 0x7fffffff }), i));
    await waitFor(() => responses.used >= budget / 2, "the WebSocket's responses to fill the budget");
    await waitForStable(() => responses.used, "the response budget");
    expect(responses.peak).toBeLessThanOrEqual(budget + batchBytes + 1024);
    await expectServed(tb.port);
    ws.terminate();
    await waitFor(() => responses.used === 0, "the response budget back to 0 after the WebSocket closed");
    await waitFor(() => tb.broker.dispatcher.requestBudget.used === 0, "the request budget back to 0");
  });
});

// ------------------------------------------------------------------------------------------------

describe("frames in progress", () => {
  let tb: TestBroker;
  const frameLimit = 1024 * 1024;
  const budget = 2 * 1024 * 1024;
  beforeAll(async () => {
    tb = await startTestBroker({
      "socket.request.max.bytes": frameLimit,
      "queued.max.request.bytes": budget,
      // The stalled attackers are cut by it (a paused connection's close is noticed no later).
      "request.frame.timeout.ms": 3000,
    });
  });
  afterAll(async () => {
    await tb?.stop();
  });

  it("connections stalled inside large frames hold at most the budget (plus a socket read each)", async () => {
    const requests = tb.broker.dispatcher.requestBudget;
    requests.peak = 0;
    const attackers = 10;
    const conns: RawConn[] = [];
    for (let i = 0; i < attackers; i++) {
      const conn = await RawConn.connect(tb.port);
      conns.push(conn);
      // Most of a frame of the largest size, never finished; not awaited (the broker stops reading).
      void conn.write(partialFrame(frameLimit, frameLimit - 1000));
    }
    await waitFor(() => requests.used >= budget / 2, "the stalled frames to fill the request budget");
    await waitForStable(() => requests.used, "the request budget");
    // Without the budget they would hold attackers x ~1 MiB.
    expect(requests.peak).toBeLessThanOrEqual(budget + attackers * SOCKET_READ_BYTES);
    await expectServed(tb.port);
    for (const conn of conns) conn.close();
    await waitFor(() => requests.used === 0, "the request budget back to 0 after the attackers closed");
    await expectServed(tb.port);
  });

  it("a large frame completes while many long-poll fetches hold a little of the budget each", async () => {
    const requests = tb.broker.dispatcher.requestBudget;
    const topic = "long-polled";
    await tb.broker.topics.create(topic, 1, 1, {});
    await tb.broker.topics.create("produced", 1, 1, {});
    // Each waits for a record that never comes, holding its request bytes until then.
    const consumers = await Promise.all(repeat(30, () => TestClient.connect(tb.port)));
    const polls = consumers.map((c) =>
      c.request(FETCH, 12, fetchRequest(topic, 0, { maxWaitMs: 60_000, minBytes: 1 })).catch(() => null),
    );
    await waitFor(() => requests.holders >= consumers.length, "the long polls to hold request bytes");
    // A frame of nearly socket.request.max.bytes, far below what the budget has left.
    const producer = await TestClient.connect(tb.port);
    try {
      const batch = encodeRecordBatch([
        { value: Buffer.alloc(frameLimit - 4096, 0x62), timestamp: Date.now() },
      ]);
      const res = await within(
        producer.request(PRODUCE, 7, produceRequest("produced", batch, 1)),
        "the large produce",
      );
      expect(res.responses[0].partitionResponses[0].errorCode).toBe(0);
      expect(requests.holders).toBeGreaterThanOrEqual(consumers.length);
    } finally {
      producer.close();
      for (const c of consumers) c.close();
    }
    await Promise.all(polls);
    await waitFor(() => requests.used === 0, "the request budget back to 0");
  });

  it("frames of socket.request.max.bytes begun together on several connections all complete", async () => {
    const requests = tb.broker.dispatcher.requestBudget;
    const topic = "large-frames";
    await tb.broker.topics.create(topic, 1, 1, {});
    // Three such frames need 1.5 times the budget: all begun before any is whole, they finish one
    // after another.
    const conns = await Promise.all(repeat(3, () => RawConn.connect(tb.port)));
    try {
      const frames = conns.map((_, i) => {
        const value = Buffer.alloc(frameLimit - 4096, 0x61 + i);
        const batch = encodeRecordBatch([{ value, timestamp: Date.now() }]);
        return TestClient.frame(PRODUCE, 7, produceRequest(topic, batch, 1), i + 1);
      });
      const head = 50_000;
      await Promise.all(conns.map((c, i) => c.write(frames[i].subarray(0, head))));
      await waitFor(() => requests.holders === conns.length, "every frame begun");
      for (const [i, c] of conns.entries()) void c.write(frames[i].subarray(head));
      for (const [i, c] of conns.entries()) {
        const { correlationId, body } = decodeResponse(await c.nextFrame(20_000), PRODUCE, 7);
        expect(correlationId).toBe(i + 1);
        expect(body.responses[0].partitionResponses[0].errorCode).toBe(0);
      }
      await expectServed(tb.port);
    } finally {
      for (const c of conns) c.close();
    }
    await waitFor(() => requests.used === 0, "the request budget back to 0");
  });

  it("a frame whose sender stalls is cut after request.frame.timeout.ms; a connection between frames is not", async () => {
    const short = await startTestBroker({ "request.frame.timeout.ms": 300 });
    try {
      const idle = await TestClient.connect(short.port);
      expect((await idle.request(API_VERSIONS, 3, {})).errorCode).toBe(0);
      const conn = await RawConn.connect(short.port);
      await conn.write(partialFrame(10_000, 100));
      expect(await conn.waitClosed(20_000)).toBe(true);
      // The idle connection has been idle longer than the frame timeout, between frames: kept.
      expect(idle.closed).toBe(false);
      expect(
        (await within(idle.request(API_VERSIONS, 3, {}), "ApiVersions on the idle connection")).errorCode,
      ).toBe(0);
      idle.close();
      await waitFor(() => short.broker.dispatcher.requestBudget.used === 0, "the request budget back to 0");
    } finally {
      await short.stop();
    }
  });
});

describe("the new config keys", () => {
  it("refuse queued.max.request.bytes below socket.request.max.bytes (as Kafka), 0, and nonsense", () => {
    const load = (flags: Record<string, unknown>) => () => loadBrokerConfig({ flags });
    expect(load({ "queued.max.request.bytes": 1000, "socket.request.max.bytes": 2000 })).toThrow(
      /queued.max.request.bytes=1000/,
    );
    expect(load({ "queued.max.request.bytes": 0 })).toThrow(/queued.max.request.bytes=0/);
    expect(load({ "request.frame.timeout.ms": 0 })).toThrow(/request.frame.timeout.ms/);
    expect(load({ "fetch.max.bytes": 10 })).toThrow(/fetch.max.bytes/);
    const config = loadBrokerConfig({ flags: { "queued.max.request.bytes": -1 } });
    expect(config.queuedMaxRequestBytes).toBe(-1);
    expect(loadBrokerConfig().fetchMaxBytes).toBe(57_671_680);
  });
});
