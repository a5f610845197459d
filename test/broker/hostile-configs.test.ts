/**
 * Topic configs named after Object.prototype members (`constructor`, `toString`,
 * `hasOwnProperty`, `__proto__`, `valueOf`) are unknown keys like any other: INVALID_CONFIG naming
 * the key over CreateTopics, AlterConfigs and IncrementalAlterConfigs, 422 INVALID_CONFIG over
 * `POST /topics` (400 for `__proto__`, which fastify's JSON parser refuses);
 * nothing is stored, the good topics of the same request are created, and the broker starts again
 * on the same data directory. A metadata file that already holds such a key (written by an older
 * broker) still loads: the key is dropped with a warning.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { HttpServer } from "../../broker/http/server.js";
import { METADATA_FILE } from "../../broker/metadata/file-store.js";
import type { Message } from "../../protocol/codec.js";
import { errorCode } from "../../protocol/errors.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { TestClient } from "../helpers/kafka-client.js";
import { failOnProcessErrors } from "../helpers/process-errors.js";

const CREATE_TOPICS = 19;
const METADATA = 3;
const DESCRIBE_CONFIGS = 32;
const ALTER_CONFIGS = 33;
const INCREMENTAL_ALTER_CONFIGS = 44;
const TOPIC = 2;
const SET = 0;
const DELETE = 1;
const APPEND = 2;
const INVALID_CONFIG = errorCode("INVALID_CONFIG");

const PROTO_KEYS = ["constructor", "toString", "hasOwnProperty", "__proto__", "valueOf"];

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

function dataDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "config-hostile-"));
  dirs.push(dir);
  return dir;
}

async function start(dir: string): Promise<{ tb: TestBroker; c: TestClient }> {
  const tb = await startTestBroker({}, dir);
  brokers.push(tb);
  const c = await TestClient.connect(tb.port);
  clients.push(c);
  return { tb, c };
}

async function stop(tb: TestBroker): Promise<void> {
  brokers = brokers.filter((b) => b !== tb);
  await tb.stop(true);
}

function creatable(name: string, configs: [string, string][]): Message {
  return {
    name,
    numPartitions: 1,
    replicationFactor: 1,
    assignments: [],
    configs: configs.map(([n, value]) => ({ name: n, value })),
  };
}

async function createTopics(c: TestClient, topics: Message[], validateOnly = false): Promise<Message[]> {
  const r = await c.request(CREATE_TOPICS, 7, { topics, timeoutMs: 5000, validateOnly });
  return r.topics as Message[];
}

async function topicNames(c: TestClient): Promise<string[]> {
  const r = await c.request(METADATA, 12, { topics: null, allowAutoTopicCreation: false });
  return (r.topics as Message[]).map((t) => t.name as string).sort();
}

async function overrides(c: TestClient, name: string): Promise<Record<string, string>> {
  const r = await c.request(DESCRIBE_CONFIGS, 4, {
    resources: [{ resourceType: TOPIC, resourceName: name, configurationKeys: null }],
    includeSynonyms: false,
    includeDocumentation: false,
  });
  expect(r.results[0].errorCode, r.results[0].errorMessage).toBe(0);
  const out: Record<string, string> = {};
  for (const e of r.results[0].configs as Message[]) {
    if (e.configSource === 1) out[e.name as string] = e.value as string;
  }
  return out;
}

function storedConfigs(dir: string): Record<string, Record<string, string>> {
  const doc = JSON.parse(readFileSync(path.join(dir, METADATA_FILE), "utf8"));
  return Object.fromEntries(
    (doc.topics as { name: string; configs: Record<string, string> }[]).map((t) => [t.name, t.configs]),
  );
}

function httpOf(tb: TestBroker): HttpServer {
  const http = tb.broker.http;
  if (!http) throw new Error("the broker has no HTTP server");
  return http;
}

describe("topic configs named after Object.prototype members", () => {
  it("CreateTopics fails only the topic that names one; validateOnly too; a restart finds the good topics", async () => {
    const dir = dataDir();
    let { tb, c } = await start(dir);
    for (const validateOnly of [true, false]) {
      const results = await createTopics(
        c,
        [
          creatable("good-a", [["retention.ms", "1000"]]),
          ...PROTO_KEYS.map((k, i) =>
            creatable(`bad-${i}`, [
              ["retention.ms", "1000"],
              [k, "1"],
            ]),
          ),
          creatable("good-b", []),
        ],
        validateOnly,
      );
      expect(results.map((r) => r.errorCode)).toEqual([0, ...PROTO_KEYS.map(() => INVALID_CONFIG), 0]);
      for (const [i, k] of PROTO_KEYS.entries()) expect(results[i + 1].errorMessage).toContain(k);
    }
    expect(await topicNames(c)).toEqual(["good-a", "good-b"]);
    expect(Object.keys(storedConfigs(dir)).sort()).toEqual(["good-a", "good-b"]);
    await stop(tb);
    ({ tb, c } = await start(dir));
    expect(await topicNames(c)).toEqual(["good-a", "good-b"]);
    expect(await overrides(c, "good-a")).toEqual({ "retention.ms": "1000" });
  });

  it("AlterConfigs and IncrementalAlterConfigs refuse them and store nothing; a restart works", async () => {
    const dir = dataDir();
    let { tb, c } = await start(dir);
    expect((await createTopics(c, [creatable("t", [["retention.ms", "1000"]])]))[0].errorCode).toBe(0);
    for (const key of PROTO_KEYS) {
      const alter = await c.request(ALTER_CONFIGS, 2, {
        resources: [
          {
            resourceType: TOPIC,
            resourceName: "t",
            configs: [
              { name: "retention.ms", value: "2000" },
              { name: key, value: "x" },
            ],
          },
        ],
        validateOnly: false,
      });
      expect(alter.responses[0].errorCode, key).toBe(INVALID_CONFIG);
      expect(alter.responses[0].errorMessage).toContain(key);
      for (const op of [SET, DELETE, APPEND]) {
        const inc = await c.request(INCREMENTAL_ALTER_CONFIGS, 1, {
          resources: [
            {
              resourceType: TOPIC,
              resourceName: "t",
              configs: [
                { name: "retention.ms", configOperation: SET, value: "3000" },
                { name: key, configOperation: op, value: op === DELETE ? null : "x" },
              ],
            },
          ],
          validateOnly: false,
        });
        expect(inc.responses[0].errorCode, `${key} op ${op}`).toBe(INVALID_CONFIG);
        expect(inc.responses[0].errorMessage).toContain(key);
      }
    }
    expect(storedConfigs(dir).t).toEqual({ "retention.ms": "1000" });
    await stop(tb);
    ({ tb, c } = await start(dir));
    expect(await overrides(c, "t")).toEqual({ "retention.ms": "1000" });
  });

  it("POST /topics answers 4xx naming the key; a second client still works; a restart works", async () => {
    const dir = dataDir();
    let { tb, c } = await start(dir);
    const other = await TestClient.connect(tb.port);
    clients.push(other);
    for (const key of PROTO_KEYS) {
      // Raw JSON text, so `__proto__` is sent as a key rather than read as the literal's prototype.
      const payload = `{"name":"http-${key.replace(/_/g, "u")}","configs":{"retention.ms":"1000",${JSON.stringify(key)}:"1"}}`;
      const res = await httpOf(tb).app.inject({
        method: "POST",
        url: "/topics",
        payload,
        headers: { "content-type": "application/json" },
      });
      const body = res.json() as { error_code: string; message: string };
      expect(body.message, key).toBeTruthy();
      if (key === "__proto__") {
        // fastify's JSON parser refuses `__proto__` keys itself; the others reach the handlers.
        expect(res.statusCode, res.body).toBe(400);
      } else {
        expect(res.statusCode, res.body).toBe(422);
        expect(body.error_code).toBe("INVALID_CONFIG");
        expect(body.message).toContain(key);
      }
    }
    const ok = await httpOf(tb).app.inject({
      method: "POST",
      url: "/topics",
      payload: { name: "http-good", configs: { "retention.ms": "1000" } },
    });
    expect(ok.statusCode, ok.body).toBe(201);
    expect(await topicNames(other)).toEqual(["http-good"]);
    await stop(tb);
    ({ tb, c } = await start(dir));
    expect(await topicNames(c)).toEqual(["http-good"]);
  });

  it("a metadata file that already holds such keys loads: they are dropped with a warning", async () => {
    const dir = dataDir();
    let { tb, c } = await start(dir);
    expect((await createTopics(c, [creatable("old", [["retention.ms", "1000"]])]))[0].errorCode).toBe(0);
    await stop(tb);
    const file = path.join(dir, METADATA_FILE);
    const text = readFileSync(file, "utf8").replace(
      '"retention.ms": "1000"',
      '"retention.ms": "1000", "constructor": "1", "__proto__": "x", "toString": "y", "segment.bytes": "nonsense"',
    );
    expect(text).toContain('"constructor"');
    writeFileSync(file, text);
    ({ tb, c } = await start(dir));
    expect(await topicNames(c)).toEqual(["old"]);
    expect(await overrides(c, "old")).toEqual({ "retention.ms": "1000" });
    // The file was rewritten without them.
    expect(storedConfigs(dir).old).toEqual({ "retention.ms": "1000" });
  });
});
