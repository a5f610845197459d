/**
 * Hostile JSON bodies at the HTTP door (issue 12), in small forms with lowered limits, over real
 * HTTP: a body over http.request.max.bytes is 413; JSON nested 100,000 deep is 400, not a stack
 * overflow's 500; more records than http.produce.max.records is 413 before the body is parsed;
 * thousands of tiny records are split into batches within the topic's max.message.bytes (not
 * refused MESSAGE_TOO_LARGE) with consecutive offsets; and while a large body is encoded, another
 * client is answered (the encoder yields between batches). After each, the broker still answers.
 */
import { afterEach, expect, it } from "vitest";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { failOnProcessErrors } from "../helpers/process-errors.js";
import { within } from "../helpers/wait.js";

failOnProcessErrors();

let tb: TestBroker | null = null;
afterEach(async () => {
  await tb?.stop();
  tb = null;
});

async function start(flags: Record<string, unknown> = {}): Promise<string> {
  tb = await startTestBroker({ "log.flush.policy": "os", ...flags });
  return `http://127.0.0.1:${tb.broker.httpPort}`;
}

async function post(url: string, body: string, type = "application/json"): Promise<Response> {
  return fetch(url, { method: "POST", body, headers: { "content-type": type } });
}

/** Expects `{"error_code": code, "message"}` with `status`; returns the message. */
async function expectError(res: Response, status: number, code: string): Promise<string> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  const body = JSON.parse(text) as { error_code: string; message: string };
  expect(body.error_code).toBe(code);
  expect(body.message.length).toBeGreaterThan(0);
  return body.message;
}

async function expectHealthy(base: string): Promise<void> {
  expect((await fetch(`${base}/health`)).status).toBe(200);
}

function tinyRecords(n: number): string {
  return JSON.stringify({ records: Array.from({ length: n }, (_, i) => ({ value: i % 10 })) });
}

async function createTopic(base: string, name: string, configs: Record<string, string> = {}): Promise<void> {
  const res = await post(`${base}/topics`, JSON.stringify({ name, partitions: 1, configs }));
  expect(res.status, await res.text()).toBe(201);
}

it("refuses a body over http.request.max.bytes with 413 PAYLOAD_TOO_LARGE", async () => {
  const base = await start({ "http.request.max.bytes": 64 * 1024 });
  const message = await expectError(
    await post(`${base}/topics/big`, tinyRecords(10_000)),
    413,
    "PAYLOAD_TOO_LARGE",
  );
  expect(message).toContain("http.request.max.bytes");
  const fits = await post(`${base}/topics/big`, tinyRecords(100));
  expect(fits.status, await fits.text()).toBe(200);
});

it("refuses JSON nested 100,000 deep with 400 on every JSON route and content type, not a 500", async () => {
  const base = await start();
  const depth = 100_000;
  const deep = `${"[".repeat(depth)}${"]".repeat(depth)}`;
  const produce = `{"records":[{"value":${deep}}]}`;
  await expectError(await post(`${base}/topics/deep`, produce), 400, "BAD_REQUEST");
  await expectError(
    await post(`${base}/topics/deep`, produce, "application/vnd.kafka.json.v2+json"),
    400,
    "BAD_REQUEST",
  );
  const objects = `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
  await expectError(await post(`${base}/topics`, `{"name":"deep","configs":${objects}}`), 400, "BAD_REQUEST");
  await expectHealthy(base);
  // Nesting within http.json.max.depth is a record value like any other.
  const fine = await post(
    `${base}/topics/deep`,
    `{"records":[{"value":${"[".repeat(50)}${"]".repeat(50)}}]}`,
  );
  expect(fine.status, await fine.text()).toBe(200);
});

it("refuses more records than http.produce.max.records with 413, before parsing the body", async () => {
  const base = await start({ "http.produce.max.records": 1000 });
  await expectError(await post(`${base}/topics/many`, tinyRecords(1001)), 413, "PAYLOAD_TOO_LARGE");
  const atLimit = await post(`${base}/topics/many`, tinyRecords(1000));
  expect(atLimit.status, await atLimit.text()).toBe(200);
  // A record's own JSON array is data, not counted as records.
  const bigValue = JSON.stringify({ records: [{ value: Array.from({ length: 5000 }, () => 1) }] });
  const value = await post(`${base}/topics/many`, bigValue);
  expect(value.status, await value.text()).toBe(200);
});

it("splits tiny records into batches within the topic's max.message.bytes, with consecutive offsets", async () => {
  const base = await start();
  await createTopic(base, "tiny", { "max.message.bytes": "2048" });
  const n = 3000;
  const res = await post(`${base}/topics/tiny`, tinyRecords(n));
  const text = await res.text();
  expect(res.status, text).toBe(200);
  const { offsets } = JSON.parse(text) as { offsets: { partition: number; offset: number }[] };
  expect(offsets).toHaveLength(n);
  expect(offsets.every((o, i) => o.partition === 0 && o.offset === i)).toBe(true);
  const read = await fetch(`${base}/topics/tiny/partitions/0/records?offset=0&max_bytes=${64 * 1024 * 1024}`);
  const records = (await read.json()) as { offset: number; value: number }[];
  expect(records).toHaveLength(n);
  expect(records.every((r, i) => r.offset === i && r.value === i % 10)).toBe(true);
});

it("answers another client while a large body is encoded: it yields between batches", async () => {
  const base = await start();
  await createTopic(base, "large", { "max.message.bytes": "2048" });
  const broker = (tb as TestBroker).broker;
  // Marks, in the order the event loop runs them: topic lookups answered (Metadata,
  // DescribeConfigs), the Produce dispatched, and probes answered.
  const events: string[] = [];
  const dispatcher = broker.dispatcher;
  const handle = dispatcher.handle.bind(dispatcher);
  dispatcher.handle = async (apiKey, ...rest) => {
    if (apiKey === 0) events.push("produce");
    const response = await handle(apiKey, ...rest);
    if (apiKey === 3 || apiKey === 32) events.push("lookup");
    return response;
  };
  let done = false;
  const produce = post(`${base}/topics/large`, tinyRecords(50_000)).finally(() => {
    done = true;
  });
  const probes = (async () => {
    for (let i = 0; i < 100_000 && !done; i++) {
      const res = await fetch(`${base}/health`);
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      events.push("probe");
    }
  })();
  const res = await within(produce, "the large produce", 50_000);
  expect(res.status, await res.text()).toBe(200);
  await within(probes, "the probes");
  const dispatched = events.indexOf("produce");
  expect(dispatched).toBeGreaterThan(0);
  const lookedUp = events.lastIndexOf("lookup", dispatched);
  expect(lookedUp).toBeGreaterThanOrEqual(0);
  // Between the last lookup and the Produce lies the encoding: probes were answered during it.
  expect(events.slice(lookedUp, dispatched)).toContain("probe");
});
