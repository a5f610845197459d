/**
 * The message browser's routes (broker/http/messages.ts) on one broker: filters by key, header and
 * JSON path; the start positions (beginning, end, offset, timestamp); binary keys, values and
 * header values shown as hex, base64 and text; three partitions merged by timestamp; a filter
 * matching nothing stopped by the scan bound with a cursor that later pages continue from; and a
 * republished record whose key, value and header bytes are exactly the original's.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HttpCaller } from "../../../broker/http/call-api.js";
import { KafkaApi } from "../../../broker/http/kafka-api.js";
import type { HttpServer } from "../../../broker/http/server.js";
import { encodeRecordBatch, type RecordInput } from "../../../protocol/record-batch.js";
import { startTestBroker, type TestBroker } from "../../helpers/broker.js";
import { failOnProcessErrors } from "../../helpers/process-errors.js";

failOnProcessErrors();

let tb: TestBroker;

function http(): HttpServer {
  const server = tb.broker.http;
  if (!server) throw new Error("the broker has no HTTP server");
  return server;
}

async function inject(method: "GET" | "POST", url: string, payload?: unknown) {
  const res = await http().app.inject({
    method,
    url,
    payload: payload === undefined ? undefined : JSON.stringify(payload),
    headers: payload === undefined ? {} : { "content-type": "application/json" },
  });
  return { status: res.statusCode, body: res.body, json: () => res.json() as Record<string, unknown> };
}

interface Header {
  key: string;
  value: string | null;
  encoding: string;
}

interface Shown {
  partition: number;
  offset: number;
  timestamp: number;
  key: unknown;
  key_format: string;
  key_hex: string | null;
  key_text: string | null;
  value: unknown;
  value_format: string;
  value_hex: string | null;
  value_text: string | null;
  headers: Header[];
}

interface Page {
  records: Shown[];
  cursor: string;
  positions: { partition: number; next_offset: number; end_offset: number }[];
  scanned: number;
  stopped: string;
  done: boolean;
}

async function browse(topic: string, query: Record<string, string | number>): Promise<Page> {
  const qs = new URLSearchParams(
    Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]),
  ).toString();
  const res = await inject("GET", `/topics/${topic}/messages?${qs}`);
  expect(res.status, res.body).toBe(200);
  return res.json() as unknown as Page;
}

/** Appends `records` to one partition as one batch (explicit timestamps), through the Produce handler. */
async function append(topic: string, partition: number, records: RecordInput[]): Promise<void> {
  const caller: HttpCaller = {
    clientHost: "127.0.0.1",
    principal: "User:ANONYMOUS",
    authorize: () => true,
    authorizeAny: () => true,
  };
  const api = new KafkaApi(tb.broker.dispatcher, caller);
  const [result] = await api.produce(topic, [{ partition, records: encodeRecordBatch(records) }]);
  expect(result.errorCode).toBe(0);
}

const json = (v: unknown) => Buffer.from(JSON.stringify(v));
const T0 = 1_700_000_000_000;

/** 20 orders: key "order-<i>", headers source (web for even i) and trace, a JSON value. */
function orders(): RecordInput[] {
  return Array.from({ length: 20 }, (_, i) => ({
    key: json(`order-${i}`),
    value: json({
      id: i,
      customer: { tier: i % 5 === 0 ? "gold" : "basic" },
      items: [{ sku: `SKU-${i * 7}` }],
    }),
    headers: [
      { key: "source", value: Buffer.from(i % 2 === 0 ? "web" : "mobile") },
      { key: "trace", value: Buffer.from(`t-${i}`) },
    ],
    timestamp: T0 + i * 1000,
  }));
}

beforeAll(async () => {
  tb = await startTestBroker();
  await tb.broker.topics.create("orders", 1, 1, {});
  await tb.broker.topics.create("merged", 3, 1, {});
  await tb.broker.topics.create("binary", 1, 1, {});
  await tb.broker.topics.create("haystack", 2, 1, {});
  await tb.broker.topics.create("copies", 2, 1, {});
  await tb.broker.topics.create("sparse", 2, 1, {});
  await append("orders", 0, orders());
  // Partition p holds timestamps T0 + 3k + p, so a merge by timestamp interleaves them.
  for (let p = 0; p < 3; p++)
    await append(
      "merged",
      p,
      Array.from({ length: 10 }, (_, k) => ({ value: json({ p, k }), timestamp: T0 + 3 * k + p })),
    );
  await append("binary", 0, [
    {
      key: Buffer.from([0xff, 0x00, 0x10]),
      value: Buffer.from("plain text, not JSON"),
      headers: [
        { key: "raw", value: Buffer.from([0xc3, 0x28]) },
        { key: "text", value: Buffer.from("héllo") },
        { key: "none", value: null },
      ],
      timestamp: T0,
    },
  ]);
  // 40 records on each of two partitions, one needle at the very end of partition 1.
  for (let p = 0; p < 2; p++)
    await append(
      "haystack",
      p,
      Array.from({ length: 40 }, (_, i) => ({
        key: json(p === 1 && i === 39 ? "needle" : `hay-${i}`),
        value: json({ i }),
        timestamp: T0 + i,
      })),
    );
  // 40 records of 4 KiB a partition, one batch each (so a 64 KiB fetch holds about 15); only
  // partition 1's keys match "wanted".
  for (let i = 0; i < 40; i++)
    for (let p = 0; p < 2; p++)
      await append("sparse", p, [
        {
          key: json(p === 1 ? `wanted-${i}` : `other-${i}`),
          value: Buffer.alloc(4096, 0x61),
          timestamp: T0 + i,
        },
      ]);
}, 30_000);

afterAll(async () => {
  await tb?.stop();
});

const ids = (page: Page) => page.records.map((r) => (r.value as { id: number }).id);

describe("filters", () => {
  it("matches the key by substring or exactly, against the key's text", async () => {
    const contains = await browse("orders", { start: "beginning", key: "order-1" });
    expect(ids(contains)).toEqual([1, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    const exact = await browse("orders", { start: "beginning", key: "order-1", match: "exact" });
    expect(ids(exact)).toEqual([1]);
    expect(exact.records[0].key).toBe("order-1");
  });

  it("matches a header by name, and by name and value", async () => {
    const named = await browse("orders", { start: "beginning", header: "trace" });
    expect(named.records).toHaveLength(20);
    const web = await browse("orders", {
      start: "beginning",
      header: "source",
      header_value: "web",
      match: "exact",
    });
    expect(ids(web)).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
    const none = await browse("orders", { start: "beginning", header: "missing" });
    expect(none.records).toEqual([]);
    expect(none.done).toBe(true);
  });

  it("matches a JSON path in the value, a member and an array element", async () => {
    const gold = await browse("orders", {
      start: "beginning",
      json_path: "$.customer.tier",
      json_value: "gold",
      match: "exact",
    });
    expect(ids(gold)).toEqual([0, 5, 10, 15]);
    const sku = await browse("orders", {
      start: "beginning",
      json_path: "$.items[0].sku",
      json_value: "SKU-7",
    });
    expect(ids(sku)).toEqual([1, 10, 11]);
    const number = await browse("orders", {
      start: "beginning",
      json_path: "$['id']",
      json_value: "3",
      match: "exact",
    });
    expect(ids(number)).toEqual([3]);
    const both = await browse("orders", {
      start: "beginning",
      key: "order-1",
      json_path: "$.customer.tier",
      json_value: "gold",
    });
    expect(ids(both)).toEqual([10, 15]);
  });

  it("refuses a malformed JSON path and filter values without their names", async () => {
    for (const query of ["json_path=%24.a%5Bx%5D", "json_path=a.b", "header_value=x", "json_value=1"]) {
      const res = await inject("GET", `/topics/orders/messages?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.json().error_code).toBe("BAD_REQUEST");
    }
  });
});

describe("start positions", () => {
  it("reads from the beginning in pages, following the cursor to the end", async () => {
    const first = await browse("orders", { start: "beginning", limit: 8 });
    expect(ids(first)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(first).toMatchObject({ cursor: "0:8", stopped: "limit", done: false });
    const second = await browse("orders", { cursor: first.cursor, limit: 8 });
    expect(ids(second)).toEqual([8, 9, 10, 11, 12, 13, 14, 15]);
    const third = await browse("orders", { cursor: second.cursor, limit: 8 });
    expect(ids(third)).toEqual([16, 17, 18, 19]);
    expect(third).toMatchObject({ cursor: "0:20", stopped: "end", done: true });
  });

  it("shows the last records from the end, then continues with what comes after", async () => {
    const last = await browse("orders", { start: "end", limit: 3 });
    expect(ids(last)).toEqual([17, 18, 19]);
    expect(last.cursor).toBe("0:20");
    const filtered = await browse("orders", { limit: 5, header: "source", header_value: "web" });
    expect(ids(filtered)).toEqual([16, 18]);
  });

  it("starts at an offset or at the first record at or after a timestamp", async () => {
    expect(ids(await browse("orders", { start: "offset", offset: 17 }))).toEqual([17, 18, 19]);
    expect(ids(await browse("orders", { start: "timestamp", timestamp: T0 + 15_500 }))).toEqual([
      16, 17, 18, 19,
    ]);
    const after = await browse("orders", { start: "timestamp", timestamp: T0 + 99_000 });
    expect(after.records).toEqual([]);
    expect(after.cursor).toBe("0:20");
    const missing = await inject("GET", "/topics/orders/messages?start=offset");
    expect(missing.status).toBe(400);
  });

  it("refuses an unknown topic or partition with 404", async () => {
    const partition = await inject("GET", "/topics/orders/messages?partition=7");
    expect(partition.status).toBe(404);
    expect(partition.json().error_code).toBe("UNKNOWN_TOPIC_OR_PARTITION");
    const topic = await inject("GET", "/topics/nope/messages");
    expect(topic.status).toBe(404);
  });
});

describe("rendering", () => {
  it("shows binary bytes as base64 and hex, UTF-8 text as text, header values as UTF-8 or base64", async () => {
    const [r] = (await browse("binary", { start: "beginning" })).records;
    expect(r).toMatchObject({
      key: Buffer.from([0xff, 0x00, 0x10]).toString("base64"),
      key_format: "binary",
      key_hex: "ff0010",
      key_text: null,
      value: Buffer.from("plain text, not JSON").toString("base64"),
      value_format: "binary",
      value_hex: Buffer.from("plain text, not JSON").toString("hex"),
      value_text: "plain text, not JSON",
    });
    expect(r.headers).toEqual([
      { key: "raw", value: Buffer.from([0xc3, 0x28]).toString("base64"), encoding: "base64" },
      { key: "text", value: "héllo", encoding: "utf8" },
      { key: "none", value: null, encoding: "utf8" },
    ]);
    const [order] = (await browse("orders", { start: "beginning", limit: 1 })).records;
    expect(order).toMatchObject({ key: "order-0", key_format: "json", key_hex: null, value_format: "json" });
    expect(order.value).toEqual({ id: 0, customer: { tier: "gold" }, items: [{ sku: "SKU-0" }] });
  });
});

describe("all partitions", () => {
  it("merges the partitions by timestamp, across pages", async () => {
    const first = await browse("merged", { start: "beginning", limit: 7 });
    const second = await browse("merged", { cursor: first.cursor, limit: 100 });
    const all = [...first.records, ...second.records];
    expect(all.map((r) => r.timestamp)).toEqual(Array.from({ length: 30 }, (_, i) => T0 + i));
    expect(all.map((r) => r.partition).slice(0, 6)).toEqual([0, 1, 2, 0, 1, 2]);
    expect(first.cursor).toBe("0:3,1:2,2:2");
    expect(second.done).toBe(true);
  });

  it("shows matches without reading a partition that has none to its end", async () => {
    const page = await browse("sparse", { start: "beginning", key: "wanted", limit: 5 });
    expect(page.records.map((r) => [r.partition, r.offset])).toEqual([0, 1, 2, 3, 4].map((o) => [1, o]));
    // Partition 0 was read only as far as partition 1's fifth match's time, not to its end.
    expect(page.positions[0].next_offset).toBeLessThan(40);
    expect(page.scanned).toBeLessThan(60);
  });

  it("reads one partition when asked", async () => {
    const page = await browse("merged", { start: "beginning", partition: 2 });
    expect(page.records.map((r) => r.partition)).toEqual(Array(10).fill(2));
    expect(page.cursor).toBe("2:10");
  });
});

describe("the scan bound", () => {
  it("returns with a cursor when a filter finds nothing within max_scan, and later pages go on", async () => {
    const query = { start: "beginning", key: "needle", match: "exact", max_scan: 30 } as const;
    let page = await browse("haystack", query);
    expect(page.records).toEqual([]);
    expect(page.stopped).toBe("scan_limit");
    expect(page.scanned).toBe(30);
    expect(page.done).toBe(false);
    let requests = 1;
    while (page.records.length === 0 && !page.done) {
      page = await browse("haystack", { ...query, cursor: page.cursor });
      requests++;
    }
    expect(requests).toBe(3);
    expect(page.records.map((r) => [r.partition, r.offset, r.key])).toEqual([[1, 39, "needle"]]);
    expect(page.done).toBe(true);
  });
});

describe("hostile input", () => {
  it("answers every combination of odd parameters with 200 or a coded 4xx, never a 5xx", async () => {
    const odd: Record<string, string[]> = {
      partition: ["all", "0", "1", "-1", "x", "99999999999"],
      start: ["beginning", "end", "offset", "timestamp", "middle"],
      offset: ["0", "19", "20", "1000000", "-3", "1e30"],
      timestamp: ["0", "99999999999999999999", "-1"],
      limit: ["1", "500", "0", "501"],
      json_path: ["$", "$.a[0]['b c']", "$..x", "$[99999999999]", `$.${"a.".repeat(40)}`, "x"],
      cursor: ["0:5", "0:", "9:9", "0:9999999999999999", "0:1,0:2", "a:b", ""],
      key: ["", "order", "\u0000\"'"],
      max_scan: ["1", "0", "200001"],
    };
    const names = Object.keys(odd);
    let seed = 20261203;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed;
    };
    for (let i = 0; i < 300; i++) {
      const q = new URLSearchParams();
      for (const name of names) if (next() % 3 === 0) q.set(name, odd[name][next() % odd[name].length]);
      for (const topic of ["orders", "nope"]) {
        const res = await inject("GET", `/topics/${topic}/messages?${q}`);
        expect(res.status, `${topic} ${q}: ${res.body}`).toBeLessThan(500);
        if (res.status >= 400) expect(typeof res.json().error_code).toBe("string");
      }
    }
    for (const body of [
      {},
      { topic: "" },
      { topic: "copies", partition: -1 },
      { topic: "copies", partition: 9 },
      { topic: "copies", extra: 1 },
    ]) {
      for (const url of [
        "/topics/binary/partitions/0/records/0/republish",
        "/topics/binary/partitions/5/records/0/republish",
        "/topics/binary/partitions/0/records/-1/republish",
      ]) {
        const res = await inject("POST", url, body);
        expect(res.status, `${url} ${JSON.stringify(body)}: ${res.body}`).toBeLessThan(500);
        expect(res.status).toBeGreaterThanOrEqual(400);
      }
    }
  });
});

describe("republish", () => {
  it("copies a record's key, value and header bytes exactly to another topic", async () => {
    const res = await inject("POST", "/topics/binary/partitions/0/records/0/republish", {
      topic: "copies",
      partition: 1,
    });
    expect(res.status, res.body).toBe(200);
    expect(res.json()).toEqual({ topic: "copies", partition: 1, offset: 0 });
    const [original] = (await browse("binary", { start: "beginning" })).records;
    const [copy] = (await browse("copies", { start: "beginning", partition: 1 })).records;
    for (const field of ["key", "key_hex", "value", "value_hex", "headers"] as const)
      expect(copy[field]).toEqual(original[field]);
  });

  it("refuses a record that is not there and a topic that does not exist", async () => {
    const missing = await inject("POST", "/topics/binary/partitions/0/records/5/republish", {
      topic: "copies",
    });
    expect(missing.status).toBe(404);
    expect(missing.json().error_code).toBe("NOT_FOUND");
    const target = await inject("POST", "/topics/binary/partitions/0/records/0/republish", { topic: "nope" });
    expect(target.status).toBe(404);
    expect(target.json().error_code).toBe("UNKNOWN_TOPIC_OR_PARTITION");
  });
});
