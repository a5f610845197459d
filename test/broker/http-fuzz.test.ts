/**
 * Every HTTP route fed bad input, seeded (SAMSA_SEED replays): odd methods, path parameters
 * (empty, too long, encoded slashes and NULs, prototype names, numbers out of range), query
 * strings (unknown keys, repeated keys, numbers beyond 2^53), bodies (random JSON, valid bodies
 * with one field replaced, truncated or deep JSON, bytes, prototype keys) under every content
 * type, the REST Proxy consumer routes among them. No answer is a 5xx; every error is
 * `{"error_code", "message"}`; the broker answers a
 * second client afterwards. Requests go through fastify's inject (the same router, parsers and
 * hooks as a socket) to keep a few thousand of them quick; bodies and limits are small.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import type { HttpServer } from "../../broker/http/server.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { failOnProcessErrors } from "../helpers/process-errors.js";
import { Random } from "../helpers/random.js";

failOnProcessErrors();

const SEED = Number(process.env.SAMSA_SEED ?? 1212);
const REQUESTS = 2500;
const TOPIC = "fz";

let tb: TestBroker;
let http: HttpServer;
beforeAll(async () => {
  tb = await startTestBroker({
    "log.flush.policy": "os",
    "http.request.max.bytes": 256 * 1024,
    "http.produce.max.records": 200,
    "http.json.max.depth": 16,
  });
  const server = tb.broker.http;
  if (!server) throw new Error("no HTTP server");
  http = server;
});
afterAll(async () => {
  await tb?.stop();
});

const METHODS = ["GET", "POST", "DELETE", "PUT", "PATCH", "OPTIONS", "HEAD"] as const;

const NAMES = [
  TOPIC,
  "",
  "a".repeat(249),
  "a".repeat(250),
  "a".repeat(2000),
  "..",
  ".",
  "%00",
  "a%2Fb",
  "%2e%2e",
  "%ff%fe",
  "%",
  "ü",
  "__proto__",
  "constructor",
  "hasOwnProperty",
  "__consumer_offsets",
  "a b",
  "a%20b",
];
const NUMBERS = [
  "-1",
  "0",
  "1",
  "2",
  "2147483647",
  "2147483648",
  "9007199254740991",
  "9007199254740993",
  "9223372036854775807",
  "99999999999999999999999",
  "1e309",
  "-0",
  "1.5",
  "0x10",
  "NaN",
  "Infinity",
  "",
  "abc",
];
const QUERY_KEYS = ["offset", "max_bytes", "timeout", "from", "partition", "x", "__proto__", "constructor"];
const CONTENT_TYPES = [
  "application/json",
  "application/json; charset=utf-8",
  "application/json; charset=utf-16",
  "application/vnd.kafka.json.v2+json",
  "application/vnd.kafka.binary.v2+json",
  "application/vnd.kafka.v2+json",
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "application/octet-stream",
  "",
];

function pick<T>(rnd: Random, items: readonly T[]): T {
  return items[rnd.int(0, items.length - 1)];
}

/** A random JSON value of at most `depth` levels, with the odd prototype key and edge number. */
function randomJson(rnd: Random, depth: number): unknown {
  const kind = rnd.int(0, depth > 0 ? 7 : 4);
  if (kind === 0) return null;
  if (kind === 1) return rnd.chance(0.5);
  if (kind === 2)
    return Number(pick(rnd, NUMBERS)) || pick(rnd, [0, -1, 1.5, 2 ** 31, 2 ** 53, 2 ** 63, -(2 ** 63)]);
  if (kind === 3) return pick(rnd, [...NAMES, "AAAA", "AA==", "!!!", "binary", "json", "earliest", "latest"]);
  if (kind === 4) return pick(rnd, NAMES).slice(0, 10);
  if (kind === 5 || kind === 6) {
    const o: Record<string, unknown> = {};
    const keys = [
      "records",
      "value",
      "key",
      "partition",
      "headers",
      "format",
      "name",
      "partitions",
      "configs",
      "topics",
      "offsets",
      "topic_pattern",
    ];
    for (let i = rnd.int(0, 4); i > 0; i--)
      o[pick(rnd, [...keys, "x", "__proto__"])] = randomJson(rnd, depth - 1);
    return o;
  }
  return Array.from({ length: rnd.int(0, 4) }, () => randomJson(rnd, depth - 1));
}

/** Bodies the routes accept, to mutate. */
function validBody(rnd: Random): Record<string, unknown> {
  if (rnd.chance(0.5)) {
    return {
      format: pick(rnd, ["json", "binary"]),
      records: [
        { key: "AAAA", value: "AA==", partition: rnd.int(0, 3), headers: [{ key: "h", value: "AA==" }] },
      ],
    };
  }
  if (rnd.chance(0.3)) {
    // A REST consumer instance (few names, so instances stay few), or its subscription or offsets.
    return pick(rnd, [
      {
        name: `fz-c${rnd.int(0, 3)}`,
        format: pick(rnd, ["json", "binary"]),
        "auto.offset.reset": "earliest",
      },
      { topics: [TOPIC] },
      { offsets: [{ topic: TOPIC, partition: 0, offset: 1 }] },
      { partitions: [{ topic: TOPIC, partition: rnd.int(0, 3) }] },
    ]);
  }
  // Few partitions: random creation must not become a descriptor-exhaustion test.
  return { name: `fz-${rnd.int(0, 5)}`, partitions: rnd.int(1, 2), replication_factor: 1, configs: {} };
}

/** Replaces one field, at any depth, of a valid body with a random value. */
function mutate(rnd: Random, body: Record<string, unknown>): unknown {
  let target: Record<string, unknown> = body;
  for (let i = 0; i < 3; i++) {
    const keys = Object.keys(target);
    const key = pick(rnd, keys);
    const next = target[key];
    const inner = Array.isArray(next) ? next[0] : next;
    if (rnd.chance(0.5) || inner === null || typeof inner !== "object") {
      const value = randomJson(rnd, 2);
      // Partition counts stay small (see validBody).
      target[key] =
        key === "partitions" && typeof value === "number" && value > 2 && value < 2 ** 31 ? -value : value;
      return body;
    }
    target = inner as Record<string, unknown>;
  }
  return body;
}

function randomBody(rnd: Random): string | Buffer {
  switch (rnd.int(0, 6)) {
    case 0:
      return JSON.stringify(randomJson(rnd, 4));
    case 1:
    case 2:
      return JSON.stringify(mutate(rnd, validBody(rnd)));
    case 3: {
      const text = JSON.stringify(validBody(rnd));
      return text.slice(0, rnd.int(0, text.length - 1));
    }
    case 4: {
      const depth = rnd.int(10, 5000);
      return `{"records":[{"value":${"[".repeat(depth)}${"]".repeat(depth)}}]}`;
    }
    case 5:
      return Buffer.from(Array.from({ length: rnd.int(0, 64) }, () => rnd.int(0, 255)));
    default:
      return pick(rnd, [
        '{"__proto__":{"x":1}}',
        '{"constructor":{"prototype":{"x":1}}}',
        "null",
        "[]",
        "1e999",
        '"',
        "{",
      ]);
  }
}

const CONSUMER_PATHS = [
  "",
  "records",
  "subscription",
  "offsets",
  "assignments",
  "positions",
  "positions/beginning",
  "positions/end",
];

function randomPath(rnd: Random): string {
  const name = pick(rnd, NAMES);
  const templates = [
    "/health",
    "/ready",
    "/brokers",
    "/topics",
    "/groups",
    "/kafka",
    `/topics/${name}`,
    `/topics/${name}/partitions/${pick(rnd, NUMBERS)}/records`,
    `/groups/${name}`,
    `/ws/topics/${name}`,
    `/${name}`,
    `/topics/${name}/partitions`,
    `/consumers/${name}`,
    `/consumers/fz/instances/fz-c${rnd.int(0, 3)}/${pick(rnd, CONSUMER_PATHS)}`,
    `/consumers/${name}/instances/${name}/${pick(rnd, CONSUMER_PATHS)}`,
  ];
  const path = pick(rnd, templates);
  if (!rnd.chance(0.6)) return path;
  const query = Array.from(
    { length: rnd.int(1, 3) },
    () => `${pick(rnd, QUERY_KEYS)}=${encodeURIComponent(pick(rnd, [...NUMBERS, "earliest", "latest"]))}`,
  );
  return `${path}?${query.join("&")}`;
}

it(`answers bad input on every route with a 4xx and a coded JSON error, never a 5xx (seed ${SEED})`, async () => {
  const rnd = new Random(SEED);
  const produced = await http.app.inject({
    method: "POST",
    url: `/topics/${TOPIC}`,
    payload: JSON.stringify({ records: [{ value: 1 }, { value: 2 }] }),
    headers: { "content-type": "application/json" },
  });
  expect(produced.statusCode, produced.body).toBe(200);
  const failures: string[] = [];
  for (let i = 0; i < REQUESTS && failures.length < 10; i++) {
    const method = pick(rnd, METHODS);
    const url = randomPath(rnd);
    const withBody = method !== "GET" && method !== "HEAD" && rnd.chance(0.9);
    const headers: Record<string, string> = {};
    const contentType = pick(rnd, CONTENT_TYPES);
    if (withBody && contentType !== "") headers["content-type"] = contentType;
    const payload = withBody ? randomBody(rnd) : undefined;
    const res = await http.app.inject({ method, url, payload, headers });
    const what = `#${i} ${method} ${url.slice(0, 120)} ${contentType} ${String(payload ?? "").slice(0, 120)} -> ${res.statusCode} ${res.body.slice(0, 200)}`;
    if (res.statusCode >= 500) failures.push(what);
    else if (res.statusCode >= 400 && method !== "HEAD") {
      const body = res.json() as { error_code?: unknown; message?: unknown };
      // A name, or a number on the REST Proxy routes (/consumers) and for 405, as Confluent.
      const coded = typeof body.error_code === "string" || Number.isInteger(body.error_code);
      if (!coded || typeof body.message !== "string") failures.push(what);
    }
  }
  expect(failures, `seed ${SEED}`).toEqual([]);
  const health = await fetch(`http://127.0.0.1:${tb.broker.httpPort}/health`);
  expect(health.status).toBe(200);
});
