/**
 * Fuzzing the Kafka TCP listener: an in-process broker gets tens of thousands of random and
 * mutated frames over several connections at once. The seeds are valid requests of every API and
 * version the broker advertises (random bodies drawn from the message specs, plus realistic ones
 * naming a real topic with real record batches); the mutations are bit flips, byte stomps,
 * truncations, trailing garbage, lengths that promise more than is sent, huge array and string
 * lengths, inserted and deleted bytes, random API keys and versions (including a valid version
 * other than the one the body was encoded at), spliced frames, random garbage, zero-, short- and
 * negative-length frames; some batches are written in small fragments.
 *
 * After each batch a valid ApiVersions request must be answered correctly (or the connection must
 * have been closed by the broker, which is then replaced); every response must come in request
 * order and decode at its request's version; a frame the dispatcher must refuse (too short,
 * unknown key, unsupported version, bad length) must close the connection. Meanwhile a control
 * connection keeps getting correct ApiVersions and Metadata answers, no uncaught exception or
 * unhandled rejection may occur, no request may fail inside the broker with an unexpected error,
 * and memory must stay bounded.
 *
 * Seeded: SAMSA_SEED replays or varies a run; failures name the seed, worker and batch.
 * Requests whose legitimate effect is costly (a fetch that long-polls, creating hundreds of
 * partitions, deleting the test's topic) are redrawn: they are valid, and not what is tested here.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HANDLERS } from "../../broker/api/index.js";
import { Broker } from "../../broker/broker.js";
import { loadBrokerConfig } from "../../broker/config.js";
import { codecsFor } from "../../broker/dispatch.js";
import { validateTopicName } from "../../broker/topics.js";
import { type Message, MessageCodec } from "../../protocol/codec.js";
import { RequestHeader } from "../../protocol/messages/header.js";
import { API_SPECS } from "../../protocol/messages/index.js";
import { Reader } from "../../protocol/reader.js";
import {
  type FieldSpec,
  inVersions,
  jsName,
  type MessageSpec,
  parseVersions,
} from "../../protocol/schema.js";
import { TestClient } from "../helpers/kafka-client.js";
import { baseSeed, Random } from "../helpers/random.js";
import { ConnectionClosedError, decodeResponse, RawConn } from "../helpers/raw-conn.js";
import { batchOf } from "../helpers/records.js";

const SEED = baseSeed(0xf0221);
/** SAMSA_FUZZ_FRAMES runs longer (or shorter); the time budget grows with it. */
const TOTAL_FRAMES = Number(process.env.SAMSA_FUZZ_FRAMES || 20_000);
const TIME_BUDGET_MS = Math.max(35_000, TOTAL_FRAMES * 2);
const WORKERS = 4;
const MAX_REQUEST_BYTES = 1024 * 1024;
/**
 * How long a batch's answers (or the close it owes) may take before the connection counts as
 * hung: generous, since a request before the close (an OffsetCommit's append, say) may wait on
 * fsync on a loaded machine; a hung connection still fails, only later.
 */
const SYNC_TIMEOUT_MS = 15_000;
const MEMORY_GROWTH_LIMIT = 150 * 1024 * 1024;

const FUZZ_TOPIC = "fuzz";
const FUZZ_PARTITIONS = 2;
/** Topic names the random bodies use; creating or deleting them is fine. */
const TOPIC_POOL = [
  FUZZ_TOPIC,
  "fuzz-a",
  "fuzz-b",
  "fuzz.c",
  "__consumer_offsets",
  "",
  "bad name!",
  "..",
  ".",
];
/** APIs whose requests may legitimately wait before answering (long polls, rebalances). */
const MAY_WAIT = new Set([1, 11, 14]);
const API_VERSIONS = 18;
const METADATA = 3;
const ZERO_UUID = "00000000000000000000000000000000";

const requestHeader = new MessageCodec(RequestHeader);

// ------------------------------------------------------------------------------------------------
// The broker under test, its log (errors only) and process-level failures.

interface Served {
  apiKey: number;
  minVersion: number;
  maxVersion: number;
}

let broker: Broker;
let port: number;
let dataDir: string;
let served: Served[];
let fuzzTopicId: string;
const brokerErrors: string[] = [];
const processErrors: unknown[] = [];
const onProcessError = (err: unknown) => processErrors.push(err);

beforeAll(async () => {
  process.on("uncaughtException", onProcessError);
  process.on("unhandledRejection", onProcessError);
  dataDir = mkdtempSync(path.join(tmpdir(), "samsa-fuzz-"));
  const config = loadBrokerConfig({
    flags: {
      "data.dir": dataDir,
      "kafka.port": 0,
      "http.port": 0,
      "auto.create.topics.enable": false,
      "log.flush.policy": "os",
      "socket.request.max.bytes": MAX_REQUEST_BYTES,
    },
  });
  // Errors the broker logs (a handler or the dispatcher failing unexpectedly) fail the test.
  const logger = pino({ level: "error" }, { write: (line: string) => void brokerErrors.push(line) });
  broker = await Broker.start(config, { logger });
  port = broker.kafkaPort;
  served = broker.dispatcher.advertised();
  const topic = await broker.topics.create(FUZZ_TOPIC, FUZZ_PARTITIONS, 1, {});
  fuzzTopicId = topic.id;
  const client = await TestClient.connect(port);
  for (let i = 0; i < 10; i++) {
    await client.request(0, 7, {
      transactionalId: null,
      acks: 1,
      timeoutMs: 5000,
      topicData: [
        { name: FUZZ_TOPIC, partitionData: [{ index: i % FUZZ_PARTITIONS, records: batchOf(5, `s${i}`) }] },
      ],
    });
  }
  client.close();
});

afterAll(async () => {
  process.off("uncaughtException", onProcessError);
  process.off("unhandledRejection", onProcessError);
  await broker?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

// ------------------------------------------------------------------------------------------------
// Valid requests drawn from the specs.

function structFields(spec: MessageSpec, f: FieldSpec): FieldSpec[] {
  const type = f.type.startsWith("[]") ? f.type.slice(2) : f.type;
  const fields = f.fields ?? spec.commonStructs?.find((s) => s.name === type)?.fields;
  if (!fields) throw new Error(`${spec.name}: no fields for ${type}`);
  return fields;
}

const PRIMITIVE = /^(bool|int8|int16|uint16|int32|int64|float64|string|bytes|records|uuid)$/;

function randomPrimitive(rng: Random, type: string): unknown {
  switch (type) {
    case "bool":
      return rng.chance(0.5);
    case "int8":
      return rng.pick([0, 1, -1, rng.int(-128, 127)]);
    case "int16":
      return rng.pick([0, 1, -1, rng.int(-32768, 32767)]);
    case "uint16":
      return rng.int(0, 65535);
    case "int32":
      return rng.pick([0, 1, -1, 2, 0x7fffffff, -0x80000000, rng.int(-1000, 100_000)]);
    case "int64":
      return rng.pick([0, 1, -1, -2, rng.int(0, 1e12), Number.MAX_SAFE_INTEGER]);
    case "float64":
      return rng.float();
    case "string":
      return rng.chance(0.6) ? rng.pick(TOPIC_POOL) : rng.text(rng.int(0, 16));
    case "bytes":
      return rng.bytes(rng.int(0, 32));
    case "records":
      return rng.chance(0.6) ? batchOf(rng.int(1, 4), "r") : rng.bytes(rng.int(0, 80));
    case "uuid":
      return rng.pick([ZERO_UUID, fuzzTopicId, rng.bytes(16).toString("hex")]);
    default:
      throw new Error(`unknown primitive ${type}`);
  }
}

function randomField(rng: Random, spec: MessageSpec, f: FieldSpec, version: number, depth: number): unknown {
  if (inVersions(parseVersions(f.nullableVersions), version) && rng.chance(0.15)) return null;
  const array = f.type.startsWith("[]");
  const element = array ? f.type.slice(2) : f.type;
  const one = () =>
    PRIMITIVE.test(element)
      ? randomPrimitive(rng, element)
      : randomStruct(rng, spec, structFields(spec, f), version, depth + 1);
  if (!array) return one();
  const n = depth > 3 ? 0 : rng.int(0, 3);
  return Array.from({ length: n }, one);
}

function randomStruct(
  rng: Random,
  spec: MessageSpec,
  fields: FieldSpec[],
  version: number,
  depth = 0,
): Message {
  const out: Message = {};
  for (const f of fields) {
    if (!inVersions(parseVersions(f.versions), version)) continue;
    // Tagged fields are left at their default half of the time (then they are not sent).
    if (f.taggedVersions !== undefined && rng.chance(0.5)) continue;
    out[jsName(f.name)] = randomField(rng, spec, f, version, depth);
  }
  return out;
}

/** Realistic bodies naming the fuzz topic, so that mutations reach the logs and the handlers' depths. */
function realisticBody(rng: Random, apiKey: number, version: number): Message | null {
  const partition = rng.int(0, FUZZ_PARTITIONS - 1);
  switch (apiKey) {
    case 0:
      return {
        transactionalId: null,
        acks: rng.pick([0, 1, -1]),
        timeoutMs: 5000,
        topicData: [
          { name: FUZZ_TOPIC, partitionData: [{ index: partition, records: batchOf(rng.int(1, 8), "f") }] },
        ],
      };
    case 1:
      return {
        replicaId: -1,
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 64 * 1024,
        isolationLevel: rng.int(0, 1),
        sessionId: 0,
        sessionEpoch: -1,
        topics: [
          {
            topic: FUZZ_TOPIC,
            topicId: fuzzTopicId,
            partitions: [
              {
                partition,
                currentLeaderEpoch: -1,
                fetchOffset: rng.int(0, 40),
                partitionMaxBytes: 64 * 1024,
              },
            ],
          },
        ],
        forgottenTopicsData: [],
        rackId: "",
      };
    case 2:
      return {
        replicaId: -1,
        isolationLevel: 0,
        topics: [
          {
            name: FUZZ_TOPIC,
            partitions: [
              { partitionIndex: partition, currentLeaderEpoch: -1, timestamp: rng.pick([-1, -2, -3, 0]) },
            ],
          },
        ],
      };
    case 3:
      return {
        topics: [{ name: FUZZ_TOPIC, topicId: version >= 10 && rng.chance(0.5) ? fuzzTopicId : ZERO_UUID }],
        allowAutoTopicCreation: true,
        includeTopicAuthorizedOperations: false,
      };
    case 18:
      return { clientSoftwareName: "samsa-fuzz", clientSoftwareVersion: "1.0.0" };
    case 19:
      return {
        topics: [
          {
            name: rng.pick(TOPIC_POOL),
            numPartitions: rng.int(-1, 3),
            replicationFactor: rng.pick([-1, 1]),
            assignments: [],
            configs: [{ name: "retention.ms", value: "60000" }],
          },
        ],
        timeoutMs: 1000,
        validateOnly: rng.chance(0.5),
      };
    case 20:
      return {
        topicNames: [rng.pick(TOPIC_POOL)],
        topics: [{ name: rng.pick(TOPIC_POOL) }],
        timeoutMs: 1000,
      };
    case 32:
      return {
        resources: [
          {
            resourceType: rng.pick([2, 4]),
            resourceName: rng.pick([FUZZ_TOPIC, "1"]),
            configurationKeys: null,
          },
        ],
        includeSynonyms: rng.chance(0.5),
        includeDocumentation: rng.chance(0.5),
      };
    default:
      return null;
  }
}

/** A valid request frame (with length prefix) of `apiKey` at `version`. */
function validFrame(rng: Random, apiKey: number, version: number, corr: number): Buffer {
  const body =
    (rng.chance(0.5) ? realisticBody(rng, apiKey, version) : null) ??
    randomStruct(rng, API_SPECS[apiKey].request, API_SPECS[apiKey].request.fields, version);
  return TestClient.frame(apiKey, version, body, corr, rng.pick(["fuzz", "", "a-client-id"]));
}

// ------------------------------------------------------------------------------------------------
// Looking at a frame as the dispatcher will.

interface Header {
  apiKey: number;
  version: number;
  corr: number;
}

function headerOf(body: Buffer): Header | null {
  if (body.length < 8) return null;
  return { apiKey: body.readInt16BE(0), version: body.readInt16BE(2), corr: body.readInt32BE(4) };
}

/** The versions advertised for an API (Produce is advertised from v0 but handled from v3). */
function servedRange(apiKey: number): Served | undefined {
  return served.find((s) => s.apiKey === apiKey);
}

/** The versions the broker's handler for an API takes. */
function handledRange(apiKey: number): Served | undefined {
  return HANDLERS.find((h) => h.apiKey === apiKey);
}

/** The request as the broker will decode it, or null when it will not get that far. */
function decodeAsBroker(body: Buffer): { header: Header; request: Message } | null {
  const header = headerOf(body);
  if (!header) return null;
  const range = handledRange(header.apiKey);
  const api = codecsFor(header.apiKey);
  if (!range || !api || header.version < range.minVersion || header.version > range.maxVersion) return null;
  try {
    const r = new Reader(body);
    requestHeader.decode(r, api.request.isFlexible(header.version) ? 2 : 1);
    return { header, request: api.request.decode(r, header.version) };
  } catch {
    return null;
  }
}

function mentions(value: unknown, needle: string): boolean {
  if (value === needle) return true;
  if (Array.isArray(value)) return value.some((v) => mentions(v, needle));
  if (value !== null && typeof value === "object" && !Buffer.isBuffer(value))
    return Object.values(value).some((v) => mentions(v, needle));
  return false;
}

function isLegalTopicName(name: unknown): boolean {
  if (typeof name !== "string") return false;
  try {
    validateTopicName(name);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether a frame's legitimate effect is too costly for this test: a fetch that long-polls, many
 * new partitions, topics beyond the pool, or changes to the topic the checks rely on.
 */
function tooCostly(body: Buffer): boolean {
  const decoded = decodeAsBroker(body);
  if (!decoded) return false;
  const { header, request } = decoded;
  const topics = (request.topics ?? []) as Message[];
  switch (header.apiKey) {
    case 1:
      return request.maxWaitMs > 0 && request.minBytes > 0;
    case 19:
      return topics.some(
        (t) =>
          t.numPartitions > 8 ||
          t.assignments.length > 8 ||
          (isLegalTopicName(t.name) && !TOPIC_POOL.includes(t.name)),
      );
    case 37:
      return topics.some((t) => t.count > 8 || t.name === FUZZ_TOPIC);
    case 20:
    case 21:
    case 33:
    case 44:
      return mentions(request, FUZZ_TOPIC) || mentions(request, fuzzTopicId);
    default:
      return false;
  }
}

/** Whether the dispatcher must close the connection at this frame (body without length prefix). */
function mustClose(body: Buffer): boolean {
  const header = headerOf(body);
  if (!header) return true;
  const range = handledRange(header.apiKey);
  if (!range || !codecsFor(header.apiKey)) return true;
  const supported = header.version >= range.minVersion && header.version <= range.maxVersion;
  return !supported && header.apiKey !== API_VERSIONS;
}

/**
 * What the broker owes a frame it does not have to close at: nothing (an acks=0 produce), an
 * answer (a request that decodes, or ApiVersions at a version it does not know), or an answer or
 * a close (a body that does not decode: INVALID_REQUEST where the response has a top-level error).
 */
type Owed = "nothing" | "answer" | "answerOrClose";

function owed(body: Buffer): Owed {
  const decoded = decodeAsBroker(body);
  if (decoded) return decoded.header.apiKey === 0 && decoded.request.acks === 0 ? "nothing" : "answer";
  const header = headerOf(body);
  const range = header && handledRange(header.apiKey);
  if (
    header?.apiKey === API_VERSIONS &&
    range &&
    (header.version < range.minVersion || header.version > range.maxVersion)
  )
    return "answer";
  return "answerOrClose";
}

// ------------------------------------------------------------------------------------------------
// Mutations

interface Fuzzed {
  /** The bytes to send, length prefix included. */
  bytes: Buffer;
  /** The stream is out of step afterwards (a length promising bytes never sent): ends the batch. */
  desync: boolean;
  /** The broker must close the connection at this frame. */
  closes: boolean;
  what: string;
}

function framed(body: Buffer, what: string): Fuzzed {
  const prefix = Buffer.alloc(4);
  prefix.writeInt32BE(body.length, 0);
  return { bytes: Buffer.concat([prefix, body]), desync: false, closes: mustClose(body), what };
}

/** Offsets of int32 values in [0, 16] (array counts, byte lengths) and of bytes in [1, 16] (compact ones). */
function lengthCandidates(body: Buffer): { int32: number[]; int16: number[]; varint: number[] } {
  const int32: number[] = [];
  const int16: number[] = [];
  const varint: number[] = [];
  for (let i = 8; i < body.length; i++) {
    if (i + 4 <= body.length) {
      const v = body.readInt32BE(i);
      if (v >= 0 && v <= 16) int32.push(i);
    }
    if (i + 2 <= body.length) {
      const v = body.readInt16BE(i);
      if (v >= 0 && v <= 64) int16.push(i);
    }
    if (body[i] >= 1 && body[i] <= 16) varint.push(i);
  }
  return { int32, int16, varint };
}

/** Mutations that keep the request header's key, version and correlation id: they reach the decoders and handlers. */
const BODY_MUTATIONS = [
  // Well-formed requests with random field values reach the handlers most often.
  "valid",
  "valid",
  "valid",
  "bitflip",
  "bitflip",
  "stomp",
  "truncate",
  "trailing",
  "hugeCount",
  "hugeCount",
  "hugeString",
  "insert",
  "delete",
  "otherVersion",
  "splice",
] as const;
/** Mutations of the framing and the header: most of them close the connection. */
const FRAMING_MUTATIONS = [
  "headerFlip",
  "apiKey",
  "apiVersion",
  "garbage",
  "zeroLength",
  "shortFrame",
  "negativeLength",
  "overLimit",
  "promiseMore",
  "cut",
] as const;
type Mutation = (typeof BODY_MUTATIONS)[number] | (typeof FRAMING_MUTATIONS)[number];
/** Bytes of the request header before the client id: api key, version, correlation id. */
const HEAD = 8;

function mutate(rng: Random, frame: Buffer, other: Buffer, kind: Mutation): Fuzzed {
  const body = Buffer.from(frame.subarray(4));
  switch (kind) {
    case "valid":
      return framed(body, kind);
    case "bitflip":
    case "headerFlip": {
      const flips = rng.int(1, kind === "bitflip" ? 8 : 2);
      for (let i = 0; i < flips; i++) {
        const at = kind === "bitflip" ? rng.int(HEAD, body.length - 1) : rng.int(0, HEAD - 1);
        body[at] ^= 1 << rng.int(0, 7);
      }
      return framed(body, `${kind} x${flips}`);
    }
    case "stomp": {
      const n = rng.int(1, 4);
      for (let i = 0; i < n; i++)
        body[rng.int(0, body.length - 1)] = rng.pick([0, 0xff, 0x7f, 0x80, rng.int(0, 255)]);
      return framed(body, `${kind} x${n}`);
    }
    case "truncate": {
      const keep = rng.int(HEAD, body.length - 1);
      return framed(body.subarray(0, keep), `${kind} to ${keep}`);
    }
    case "trailing":
      return framed(Buffer.concat([body, rng.bytes(rng.int(1, 64))]), kind);
    case "hugeCount": {
      const c = lengthCandidates(body);
      if (c.int32.length > 0 && rng.chance(0.5)) {
        const at = rng.pick(c.int32);
        const v = rng.pick([0x7fffffff, 0x10000000, 0x00ffffff, 0x7ffffffe, -2, -1, 0x40000000]);
        body.writeInt32BE(v, at);
        return framed(body, `${kind} int32 ${v} at ${at}`);
      }
      if (c.varint.length > 0) {
        const at = rng.pick(c.varint);
        const huge = rng.pick([
          [0xff, 0xff, 0xff, 0xff, 0x0f],
          [0xfe, 0xff, 0xff, 0xff, 0x07],
          [0x80, 0x80, 0x80, 0x80, 0x01],
          [0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
          [0x81, 0x80, 0x80, 0x80, 0x10],
        ]);
        return framed(
          Buffer.concat([body.subarray(0, at), Buffer.from(huge), body.subarray(at + 1)]),
          `${kind} varint at ${at}`,
        );
      }
      return framed(body, `${kind} (no candidate)`);
    }
    case "hugeString": {
      const c = lengthCandidates(body);
      if (c.int16.length === 0) return framed(body, `${kind} (no candidate)`);
      const at = rng.pick(c.int16);
      const v = rng.pick([0x7fff, -2, -1, -32768, 0x4000]);
      body.writeInt16BE(v, at);
      return framed(body, `${kind} ${v} at ${at}`);
    }
    case "insert": {
      const at = rng.int(HEAD, body.length);
      return framed(
        Buffer.concat([body.subarray(0, at), rng.bytes(rng.int(1, 16)), body.subarray(at)]),
        `${kind} at ${at}`,
      );
    }
    case "delete": {
      const at = rng.int(HEAD, body.length - 1);
      const n = rng.int(1, 16);
      return framed(Buffer.concat([body.subarray(0, at), body.subarray(at + n)]), `${kind} ${n} at ${at}`);
    }
    case "apiKey": {
      const key = rng.pick([rng.pick(served).apiKey, rng.int(0, 80), rng.int(-32768, 32767), -1, 4, 17, 36]);
      body.writeInt16BE(key, 0);
      return framed(body, `${kind} ${key}`);
    }
    case "otherVersion":
    case "apiVersion": {
      // otherVersion: a served version the body was not encoded at; apiVersion: any version.
      const range = servedRange(body.readInt16BE(0)) ?? rng.pick(served);
      const inRange = rng.int(range.minVersion, range.maxVersion);
      const version =
        kind === "otherVersion"
          ? inRange
          : rng.pick([range.minVersion - 1, range.maxVersion + 1, inRange, rng.int(-32768, 32767)]);
      body.writeInt16BE(version, 2);
      return framed(body, `${kind} ${version}`);
    }
    case "splice": {
      const a = rng.int(HEAD, body.length);
      const b = rng.int(4 + HEAD, other.length);
      return framed(Buffer.concat([body.subarray(0, a), other.subarray(b)]), `${kind} ${a}/${b}`);
    }
    case "garbage": {
      const junk = rng.bytes(rng.int(8, 96));
      if (rng.chance(0.5)) {
        const range = rng.pick(served);
        junk.writeInt16BE(range.apiKey, 0);
        junk.writeInt16BE(rng.int(range.minVersion, range.maxVersion), 2);
      }
      return framed(junk, kind);
    }
    case "zeroLength":
      return { bytes: Buffer.alloc(4), desync: false, closes: true, what: kind };
    case "shortFrame":
      return framed(body.subarray(0, rng.int(1, 7)), kind);
    case "negativeLength": {
      const bytes = Buffer.from(frame);
      const v = rng.pick([-1, -2, -0x80000000, rng.int(-0x80000000, -1)]);
      bytes.writeInt32BE(v, 0);
      return { bytes, desync: true, closes: true, what: `${kind} ${v}` };
    }
    case "overLimit": {
      const bytes = Buffer.from(frame);
      const v = rng.pick([MAX_REQUEST_BYTES + 1, 0x7fffffff, rng.int(MAX_REQUEST_BYTES + 1, 0x7fffffff)]);
      bytes.writeInt32BE(v, 0);
      return { bytes, desync: true, closes: true, what: `${kind} ${v}` };
    }
    case "promiseMore": {
      const bytes = Buffer.from(frame);
      const more = rng.pick([1, rng.int(2, 64), rng.int(65, MAX_REQUEST_BYTES - body.length)]);
      bytes.writeInt32BE(body.length + more, 0);
      return { bytes, desync: true, closes: false, what: `${kind} ${more}` };
    }
    case "cut": {
      const keep = rng.int(1, frame.length - 1);
      return { bytes: frame.subarray(0, keep), desync: true, closes: false, what: `${kind} at ${keep}` };
    }
  }
}

// ------------------------------------------------------------------------------------------------
// Checks of answers

function expectApiVersions(frame: Buffer, version: number, corr: number): void {
  const { correlationId, body } = decodeResponse(frame, API_VERSIONS, version);
  expect(correlationId).toBe(corr);
  expect(body.errorCode).toBe(0);
  expect(body.apiKeys).toEqual(served);
}

function expectMetadata(frame: Buffer, version: number, corr: number): void {
  const { correlationId, body } = decodeResponse(frame, METADATA, version);
  expect(correlationId).toBe(corr);
  expect(body.brokers).toEqual([expect.objectContaining({ nodeId: broker.config.nodeId, port })]);
  const topic = (body.topics as Message[]).find((t) => t.name === FUZZ_TOPIC);
  expect(topic?.errorCode).toBe(0);
  expect(topic?.partitions).toHaveLength(FUZZ_PARTITIONS);
}

/** A valid ApiVersions and Metadata request on `conn`, answered correctly and in order. */
async function expectServes(conn: RawConn, corr: number): Promise<void> {
  const avVersion = 3;
  const mdVersion = 12;
  await conn.write(
    Buffer.concat([
      TestClient.frame(
        API_VERSIONS,
        avVersion,
        { clientSoftwareName: "check", clientSoftwareVersion: "1" },
        corr,
      ),
      TestClient.frame(
        METADATA,
        mdVersion,
        {
          topics: [{ name: FUZZ_TOPIC }],
          allowAutoTopicCreation: false,
          includeTopicAuthorizedOperations: false,
        },
        corr + 1,
      ),
    ]),
  );
  expectApiVersions(await conn.nextFrame(SYNC_TIMEOUT_MS), avVersion, corr);
  expectMetadata(await conn.nextFrame(SYNC_TIMEOUT_MS), mdVersion, corr + 1);
}

// ------------------------------------------------------------------------------------------------
// Workers

interface Stats {
  frames: number;
  batches: number;
  closedByBroker: number;
  closedOnWellFormed: number;
  closedOnMalformed: number;
  abandoned: number;
  parked: number;
  responses: number;
  decodedResponses: number;
  kinds: Map<string, number>;
}

const SYNC_BASE = 0x70000000;

class Worker {
  conn!: RawConn;
  private nextCorr = 1;
  private syncCorr = SYNC_BASE;
  batch = 0;
  lastBatch = "";

  constructor(
    readonly id: number,
    readonly rng: Random,
    readonly stats: Stats,
  ) {}

  async connect(): Promise<void> {
    this.conn = await RawConn.connect(port);
  }

  private seedFrame(): Buffer {
    for (let attempt = 0; attempt < 20; attempt++) {
      const range = this.rng.pick(served);
      const version = this.rng.int(range.minVersion, range.maxVersion);
      const frame = validFrame(this.rng, range.apiKey, version, this.nextCorr++);
      if (!tooCostly(frame.subarray(4))) return frame;
    }
    return TestClient.frame(API_VERSIONS, 0, {}, this.nextCorr++);
  }

  private fuzzedFrame(framing: boolean): Fuzzed {
    for (let attempt = 0; attempt < 20; attempt++) {
      const kind = this.rng.pick<Mutation>(framing ? FRAMING_MUTATIONS : BODY_MUTATIONS);
      const seed = this.seedFrame();
      const fuzzed = mutate(this.rng, seed, this.seedFrame(), kind);
      // The seed's API key and version, to tell what a failing batch sent.
      fuzzed.what = `${fuzzed.what} (${seed.readInt16BE(4)}v${seed.readInt16BE(6)})`;
      const body = fuzzed.bytes.subarray(4);
      if (fuzzed.desync || fuzzed.bytes.length < 12 || !tooCostly(body)) return fuzzed;
    }
    return framed(TestClient.frame(API_VERSIONS, 0, {}, this.nextCorr++).subarray(4), "valid");
  }

  /** Sends one batch of fuzzed frames (and a sync request unless the stream is out of step). */
  async runBatch(): Promise<void> {
    // Body mutations first; the last frame has its framing or header mutated 40% of the time
    // (which mostly ends the connection, so only once per batch).
    const n = this.rng.int(1, 12);
    const frames: Fuzzed[] = [];
    for (let i = 0; i < n; i++) {
      const f = this.fuzzedFrame(i === n - 1 && this.rng.chance(0.4));
      frames.push(f);
      this.stats.kinds.set(f.what.split(" ")[0], (this.stats.kinds.get(f.what.split(" ")[0]) ?? 0) + 1);
      if (f.desync) break;
    }
    this.batch++;
    this.stats.batches++;
    this.stats.frames += frames.length;
    this.lastBatch = frames.map((f) => f.what).join(", ");
    const last = frames[frames.length - 1];
    const syncCorr = this.syncCorr++;
    const syncVersion = this.rng.int(0, 3);
    const parts = frames.map((f) => f.bytes);
    if (!last.desync) parts.push(TestClient.frame(API_VERSIONS, syncVersion, {}, syncCorr));
    await this.send(Buffer.concat(parts));

    // The frames the broker answers are those before the first it must close at.
    const firstClose = frames.findIndex((f) => f.closes);
    const answerable = firstClose === -1 ? frames : frames.slice(0, firstClose);
    // A desync frame is never answered: the broker is still waiting for the rest of it.
    const pending = answerable
      .filter((f) => !f.desync)
      .map((f) => ({ header: headerOf(f.bytes.subarray(4)), owed: owed(f.bytes.subarray(4)), what: f.what }));
    const expectSync = firstClose === -1 && !last.desync;
    // Out of step without a reason to close: answers to the frames before it may come, then the
    // broker waits for bytes that never come. Give it a moment, then hang up.
    const waitMs = expectSync || firstClose !== -1 ? SYNC_TIMEOUT_MS : 50;
    const deadline = Date.now() + waitMs;
    for (;;) {
      let frame: Buffer;
      try {
        frame = await this.conn.nextFrame(Math.max(1, deadline - Date.now()));
      } catch (err) {
        if (err instanceof ConnectionClosedError) {
          this.stats.closedByBroker++;
          // Closed although no frame called for it: a body that failed to decode for an API
          // without a top-level error code, or a handler's refusal (internal errors are logged).
          const closer = pending.find((p) => p.owed !== "nothing");
          if (closer?.owed === "answer") this.stats.closedOnWellFormed++;
          else if (closer) this.stats.closedOnMalformed++;
          return this.reconnect();
        }
        if (firstClose === -1 && last.desync) {
          this.stats.abandoned++;
          return this.reconnect();
        }
        if (answerable.some((f) => MAY_WAIT.has(headerOf(f.bytes.subarray(4))?.apiKey ?? -1))) {
          // A long poll (or a rebalance) holds the line; its answer would come later.
          this.stats.parked++;
          return this.reconnect();
        }
        if (firstClose !== -1)
          throw new Error(
            `connection still open ${waitMs} ms after frame ${firstClose + 1}, which it must close at`,
          );
        throw new Error(`no answer to the batch's ApiVersions within ${SYNC_TIMEOUT_MS} ms`);
      }
      this.stats.responses++;
      const corr = frame.readInt32BE(0);
      const isSync = corr === syncCorr && pending.every((p) => p.header?.corr !== corr);
      // Responses come in request order, and only acks=0 produces may go unanswered.
      const at = isSync ? pending.length : pending.findIndex((p) => p.header?.corr === corr);
      if (at < 0) throw new Error(`response with correlation id ${corr} matches no request in order`);
      const skipped = pending.slice(0, at).find((p) => p.owed !== "nothing");
      if (skipped) throw new Error(`no response to ${skipped.what} (correlation id ${skipped.header?.corr})`);
      if (isSync) {
        if (!expectSync) throw new Error(`answered past frame ${firstClose + 1}, which it must close at`);
        expectApiVersions(frame, syncVersion, syncCorr);
        return;
      }
      const { header } = pending[at];
      const unique = pending.filter((p) => p.header?.corr === corr).length === 1;
      pending.splice(0, at + 1);
      if (unique && header) this.checkResponse(frame, header);
    }
  }

  private checkResponse(frame: Buffer, header: Header): void {
    const range = handledRange(header.apiKey);
    if (!range) throw new Error(`a response to unknown API key ${header.apiKey}`);
    const supported = header.version >= range.minVersion && header.version <= range.maxVersion;
    const version = supported ? header.version : 0;
    if (!supported && header.apiKey !== API_VERSIONS)
      throw new Error(`a response to unsupported ${header.apiKey} v${header.version}`);
    decodeResponse(frame, header.apiKey, version);
    this.stats.decodedResponses++;
  }

  private async send(bytes: Buffer): Promise<void> {
    if (!this.rng.chance(0.15)) return this.conn.write(bytes);
    // In fragments, each its own write, so the broker sees frames (and length prefixes) split.
    let at = 0;
    while (at < bytes.length) {
      const n = this.rng.int(1, 48);
      await this.conn.write(bytes.subarray(at, at + n));
      at += n;
      await new Promise((r) => setImmediate(r));
    }
  }

  async reconnect(): Promise<void> {
    this.conn.close();
    await this.connect();
  }
}

function memory(): { rss: number; heapUsed: number } {
  const { rss, heapUsed } = process.memoryUsage();
  return { rss, heapUsed };
}

function collectGarbage(): void {
  const g = globalThis as { gc?: () => void };
  if (!g.gc) {
    setFlagsFromString("--expose-gc");
    g.gc = runInNewContext("gc") as () => void;
  }
  g.gc();
  g.gc();
}

describe("fuzzing the Kafka listener", () => {
  it(`survives ${TOTAL_FRAMES} random and mutated frames over ${WORKERS} connections [seed ${SEED}]`, {
    timeout: TIME_BUDGET_MS + 60_000,
  }, async () => {
    const stats: Stats = {
      frames: 0,
      batches: 0,
      closedByBroker: 0,
      closedOnWellFormed: 0,
      closedOnMalformed: 0,
      abandoned: 0,
      parked: 0,
      responses: 0,
      decodedResponses: 0,
      kinds: new Map(),
    };
    // Warm up (code paths, caches), then take the baseline.
    const warm = await RawConn.connect(port);
    for (let i = 0; i < 50; i++) await expectServes(warm, 10 * i + 1);
    warm.close();
    collectGarbage();
    const before = memory();

    // The control connection: answered correctly and promptly throughout.
    const control = await RawConn.connect(port);
    let controlRounds = 0;
    let controlSlowest = 0;
    let fuzzing = true;
    const controlLoop = (async () => {
      let corr = 1;
      while (fuzzing) {
        const t0 = Date.now();
        await expectServes(control, corr);
        controlSlowest = Math.max(controlSlowest, Date.now() - t0);
        corr += 2;
        controlRounds++;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    const started = Date.now();
    const workers = Array.from(
      { length: WORKERS },
      (_, i) => new Worker(i, new Random(SEED + i * 7919), stats),
    );
    const runs = workers.map(async (w) => {
      await w.connect();
      try {
        while (stats.frames < TOTAL_FRAMES && Date.now() - started < TIME_BUDGET_MS) await w.runBatch();
      } catch (err) {
        const e = err instanceof Error ? err : new Error(String(err));
        e.message = `[seed ${SEED}, worker ${w.id} (seed ${w.rng.seed}), batch ${w.batch}: ${w.lastBatch}] ${e.message}`;
        throw e;
      }
    });
    try {
      await Promise.all(runs);
    } finally {
      fuzzing = false;
      await controlLoop;
    }
    const elapsed = Date.now() - started;

    // Every fuzzed connection still gets correct answers; a fresh one too.
    for (const [i, w] of workers.entries()) await expectServes(w.conn, SYNC_BASE - 100 * (i + 1));
    const fresh = await RawConn.connect(port);
    await expectServes(fresh, 1);
    fresh.close();
    expect(control.closed).toBe(false);
    control.close();
    for (const w of workers) w.conn.close();

    await new Promise((r) => setTimeout(r, 200));
    collectGarbage();
    const after = memory();
    const summary = {
      seed: SEED,
      elapsedMs: elapsed,
      ...stats,
      kinds: Object.fromEntries([...stats.kinds.entries()].sort()),
      controlRounds,
      controlSlowestMs: controlSlowest,
      rssGrowthMB: Math.round((after.rss - before.rss) / 2 ** 20),
      heapGrowthMB: Math.round((after.heapUsed - before.heapUsed) / 2 ** 20),
    };
    console.log(`fuzz summary: ${JSON.stringify(summary)}`);

    expect(processErrors, "uncaught exceptions or unhandled rejections").toEqual([]);
    expect(brokerErrors, "errors logged by the broker").toEqual([]);
    expect(stats.frames).toBeGreaterThanOrEqual(Math.min(TOTAL_FRAMES, 5_000));
    expect(controlRounds).toBeGreaterThan(10);
    expect(after.heapUsed - before.heapUsed).toBeLessThan(MEMORY_GROWTH_LIMIT);
    expect(after.rss - before.rss).toBeLessThan(MEMORY_GROWTH_LIMIT);
  });
});
