/**
 * Issue 12, requests that must get a typed answer and leave the broker able to restart, in small
 * forms against an in-process broker with the suite's lowered limits (limits.ts): prototype-named
 * topic configs, a 249-character topic deleted and re-made, Metadata naming one topic thousands of
 * times, invented producer ids, hostile JSON bodies, lz4 batches lying about their record count,
 * a committed offset of 2^62, a browser's WebSocket and Host header, and senseless broker config.
 * Each also checks that another client (a probe round on its own connection) is answered.
 */
import { gzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { lz4LyingBatch, rawBatch, smallRecords } from "../../bench/attacks/batches.js";
import {
  createTopic,
  deleteTopic,
  httpRequest,
  listOffset,
  produce,
  wsKafkaRequest,
} from "../../bench/attacks/kafka-ops.js";
import { fetchBody, probeRound } from "../../bench/attacks/probe.js";
import { KafkaConn } from "../../bench/attacks/wire.js";
import { loadBrokerConfig } from "../../broker/config.js";
import { Compression } from "../../protocol/compression.js";
import { errorCode } from "../../protocol/errors.js";
import { decodeBatches, encodeRecordBatch } from "../../protocol/record-batch.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { baseSeed, withSeed } from "../helpers/random.js";
import { within } from "../helpers/wait.js";
import { knownLimits } from "./limits.js";

const SEED = baseSeed(12_034);
let tb: TestBroker | null = null;
const conns: KafkaConn[] = [];

async function start(dataDir?: string): Promise<TestBroker> {
  tb = dataDir ? await startTestBroker(knownLimits(), dataDir) : await startTestBroker(knownLimits());
  return tb;
}

async function connect(): Promise<KafkaConn> {
  if (!tb) throw new Error("no broker");
  const c = await KafkaConn.connect(tb.port);
  conns.push(c);
  return c;
}

/** A probe round on a new connection: ApiVersions, produce, fetch. */
async function probe(): Promise<void> {
  const c = await connect();
  await probeRound(c, 10_000);
  c.close();
}

/** Stops the broker and starts another on the same data directory. */
async function restart(): Promise<TestBroker> {
  if (!tb) throw new Error("no broker");
  for (const c of conns.splice(0)) c.close();
  const dataDir = tb.dataDir;
  await tb.stop(true);
  tb = null;
  return start(dataDir);
}

afterEach(async () => {
  for (const c of conns.splice(0)) c.close();
  await tb?.stop();
  tb = null;
});

async function topicExists(c: KafkaConn, name: string): Promise<boolean> {
  const r = await c.request(3, 9, {
    topics: [{ name }],
    allowAutoTopicCreation: false,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  });
  return r.body.topics[0].errorCode === 0;
}

async function values(c: KafkaConn, topic: string): Promise<string[]> {
  const r = await c.request(1, 12, fetchBody(topic, 0));
  const p = r.body.responses[0].partitions[0];
  expect(p.errorCode).toBe(0);
  return p.records ? decodeBatches(p.records).map((rec) => rec.value?.toString() ?? "") : [];
}

/** An HTTP answer for client input: never a 5xx; a 4xx carries `{error_code, message}`. */
function expectClientError(answer: { status: number; body: string }): void {
  expect(answer.status, answer.body).toBeGreaterThanOrEqual(400);
  expect(answer.status, answer.body).toBeLessThan(500);
  expect(answer.body).toMatch(/"error_code"/);
}

const PROTOTYPE_KEYS = ["constructor", "toString", "hasOwnProperty", "__proto__", "valueOf"];

describe("issue 12 attacks: typed answers, and the broker starts again", () => {
  it("topic configs named after Object.prototype's members are INVALID_CONFIG and nothing is stored", async () => {
    const b = await start();
    const c = await connect();
    for (const [i, key] of PROTOTYPE_KEYS.entries()) {
      const r = await createTopic(c, `cfg-${i}`, 1, { [key]: "1" });
      expect(r.errorCode, `${key}: ${r.errorMessage}`).toBe(errorCode("INVALID_CONFIG"));
    }
    for (const key of ["constructor", "__proto__"]) {
      // By hand: an object literal's "__proto__" key would set the prototype instead.
      const body = `{"name":"cfg-http","configs":{"${key}":"1"}}`;
      expectClientError(await httpRequest(b.broker.httpPort, "POST", "/topics", body));
    }
    await probe();
    await restart();
    const after = await connect();
    for (const name of [...PROTOTYPE_KEYS.map((_, i) => `cfg-${i}`), "cfg-http"])
      expect(await topicExists(after, name), name).toBe(false);
    await probe();
  });

  it("a 249-character topic deletes, and its records never come back", async () => {
    await start();
    const c = await connect();
    const name = `long-${"x".repeat(244)}`;
    expect((await produce(c, name, encodeRecordBatch([{ value: Buffer.from("old") }]))).errorCode).toBe(0);
    const deleted = await deleteTopic(c, name);
    expect(deleted.errorCode, deleted.errorMessage ?? "").toBe(0);
    expect((await produce(c, name, encodeRecordBatch([{ value: Buffer.from("new") }]))).errorCode).toBe(0);
    expect(await values(c, name)).toEqual(["new"]);
    await restart();
    expect(await values(await connect(), name)).toEqual(["new"]);
    await probe();
  });

  it("Metadata naming one topic 20,000 times answers it once (small: 50 partitions, 2,000 times)", async () => {
    await start();
    const c = await connect();
    await createTopic(c, "amp", 50);
    const topics = Array.from({ length: 2000 }, () => ({ name: "amp" }));
    const asked = c.request(3, 9, {
      topics,
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
    await probe();
    const r = await within(asked, "the Metadata answer");
    expect(r.body.topics.length).toBe(1);
    expect(r.body.topics[0].partitions.length).toBe(50);
  });

  it("idempotent batches of producer ids the cluster never handed out are refused", async () => {
    await withSeed(SEED, async (rng) => {
      await start();
      const c = await connect();
      const partitions = 50;
      await createTopic(c, "pids", partitions);
      const records = smallRecords(1);
      const codes = new Map<number, number>();
      for (let i = 0; i < 100; i++) {
        const partitionData = Array.from({ length: partitions }, (_, p) => ({
          index: p,
          records: rawBatch(records, {
            producerId: rng.int(1_000_000, 2 ** 40),
            producerEpoch: 0,
            baseSequence: 0,
          }),
        }));
        const r = await c.request(0, 9, {
          transactionalId: null,
          acks: 1,
          timeoutMs: 30_000,
          topicData: [{ name: "pids", partitionData }],
        });
        for (const p of r.body.responses[0].partitionResponses)
          codes.set(p.errorCode, (codes.get(p.errorCode) ?? 0) + 1);
      }
      expect(codes.get(0) ?? 0, `answers by error code: ${JSON.stringify([...codes])}`).toBe(0);
      const init = await c.request(22, 4, {
        transactionalId: null,
        transactionTimeoutMs: 60_000,
        producerId: -1,
        producerEpoch: -1,
      });
      expect(init.body.errorCode).toBe(0);
      const own = rawBatch(records, {
        producerId: init.body.producerId,
        producerEpoch: init.body.producerEpoch,
        baseSequence: 0,
      });
      expect((await produce(c, "pids", own)).errorCode).toBe(0);
      await probe();
      await restart();
      await probe();
    });
  });

  it("JSON nested 100,000 deep is a 4xx, not a 500", async () => {
    const b = await start();
    await createTopic(await connect(), "json", 1);
    const depth = 100_000;
    const body = `{"records":[{"value":${"[".repeat(depth)}${"]".repeat(depth)}}]}`;
    expectClientError(await httpRequest(b.broker.httpPort, "POST", "/topics/json", body));
    await probe();
  });

  it("300,000 tiny records over HTTP are split into batches the topic accepts (small: 30,000 under 64 KiB)", async () => {
    const b = await start();
    await createTopic(await connect(), "json", 1, { "max.message.bytes": String(64 * 1024) });
    const count = 30_000;
    const body = `{"records":[${'{"value":"x"},'.repeat(count - 1)}{"value":"x"}]}`;
    const answer = await httpRequest(
      b.broker.httpPort,
      "POST",
      "/topics/json",
      body,
      {},
      60_000,
      10 * 1024 * 1024,
    );
    expect(answer.status, answer.body.slice(0, 300)).toBe(200);
    const results = (JSON.parse(answer.body) as { offsets: { offset?: number }[] }).offsets;
    const wrong = results.findIndex((r, i) => r.offset !== i);
    expect(results.length).toBe(count);
    expect(wrong, `record ${wrong} answered ${JSON.stringify(results[wrong])}`).toBe(-1);
    await probe();
  });

  it("a 46 MiB JSON body of tiny records is answered without a 5xx while others are served (small: 4 MiB)", async () => {
    const b = await start();
    await createTopic(await connect(), "json", 1);
    const count = Math.floor((4 * 1024 * 1024) / 14);
    const body = `{"records":[${'{"value":"x"},'.repeat(count - 1)}{"value":"x"}]}`;
    const posted = httpRequest(b.broker.httpPort, "POST", "/topics/json", body);
    await probe();
    const answer = await within(posted, "the 4 MiB POST");
    expect(answer.status, answer.body).toBeLessThan(500);
    if (answer.status >= 400) expect(answer.body).toMatch(/"error_code"/);
  });

  it("compressed batches that lie are refused: lz4 declaring 2^31-1 records, gzip of plain text", async () => {
    await start();
    const c = await connect();
    await createTopic(c, "lz4", 1);
    for (let i = 0; i < 20; i++)
      expect((await produce(c, "lz4", lz4LyingBatch())).errorCode, "lz4 count").not.toBe(0);
    const text = rawBatch(gzipSync(Buffer.from("plain text, not records")), {
      compression: Compression.Gzip,
    });
    expect((await produce(c, "lz4", text)).errorCode, "gzip of plain text").not.toBe(0);
    expect((await listOffset(c, "lz4", -1)).offset, "the log end").toBe(0);
    expect((await produce(c, "lz4", encodeRecordBatch([{ value: Buffer.from("fine") }]))).errorCode).toBe(0);
    expect(await values(c, "lz4")).toEqual(["fine"]);
    await probe();
  });

  it("a committed offset of 2^62 is refused or reads back exactly, also after a restart", async () => {
    await start();
    const c = await connect();
    await createTopic(c, "committed", 1);
    const commit = await c.request(8, 8, {
      groupId: "g62",
      generationIdOrMemberEpoch: -1,
      memberId: "",
      groupInstanceId: null,
      topics: [
        {
          name: "committed",
          partitions: [
            {
              partitionIndex: 0,
              committedOffset: 2n ** 62n,
              committedLeaderEpoch: -1,
              committedMetadata: null,
            },
          ],
        },
      ],
    });
    if (commit.body.topics[0].partitions[0].errorCode !== 0) return;
    const exact = async (k: KafkaConn) => {
      const r = await k.request(9, 8, {
        groups: [{ groupId: "g62", topics: [{ name: "committed", partitionIndexes: [0] }] }],
        requireStable: false,
      });
      // The int64 as the bytes carry it: the codec reads numbers past 2^53 clamped.
      return r.raw.includes(Buffer.from([0x40, 0, 0, 0, 0, 0, 0, 0]));
    };
    expect(await exact(c), "2^62 read back").toBe(true);
    await restart();
    expect(await exact(await connect()), "2^62 read back after a restart").toBe(true);
  });

  it("a browser page cannot use the doors: foreign Origin on /kafka, foreign Host on HTTP", async () => {
    const b = await start();
    const c = await connect();
    await createTopic(c, "victim", 1);
    const del = { topicNames: ["victim"], timeoutMs: 5000 };
    const evil = await wsKafkaRequest(b.broker.httpPort, { Origin: "https://evil.example" }, 20, 5, del);
    expect(evil.upgraded, "a WebSocket from https://evil.example").toBe(false);
    expect(await topicExists(c, "victim")).toBe(true);
    const host = await httpRequest(b.broker.httpPort, "GET", "/topics", null, { Host: "evil.example" });
    expectClientError(host);
    // Clients that are not browsers send no Origin, and loopback Hosts are served.
    const plain = await wsKafkaRequest(b.broker.httpPort, {}, 18, 3, {
      clientSoftwareName: "t",
      clientSoftwareVersion: "1",
    });
    expect(plain.upgraded).toBe(true);
    const local = await httpRequest(b.broker.httpPort, "GET", "/topics", null, {
      Host: `127.0.0.1:${b.broker.httpPort}`,
    });
    expect(local.status).toBe(200);
    await probe();
  });

  it("senseless broker config is refused at start with one line", () => {
    const bad = {
      "connection.max.inflight.requests": 0,
      "offsets.topic.num.partitions": 0,
      "num.partitions": 0,
      "kafka.port": 70_000,
    };
    for (const [key, value] of Object.entries(bad)) {
      let message = "";
      try {
        loadBrokerConfig({ flags: { [key]: value } });
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message, `${key}=${value}`).toContain(key);
      expect(message).not.toContain("\n");
    }
  });
});
