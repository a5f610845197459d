/**
 * The Confluent REST Proxy v2 consumer flow (broker/http/consumers/), against Confluent's
 * documented shapes: create an instance ({instance_id, base_uri}; a name in use 40902), 40903
 * before a subscription, subscribe, produce, poll records in the json and binary embedded
 * formats (Accept honoured, a mismatch 406 / 40601), commit everything fetched and given offsets
 * (Confluent commits offset + 1), read the committed offsets back, a second instance in the same
 * group splitting the partitions with the first, delete -> 40403, manual assignments and seeks.
 * One broker for the file.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HttpServer } from "../../../broker/http/server.js";
import { Consumer } from "../../../client/index.js";
import { startTestBroker, type TestBroker } from "../../helpers/broker.js";
import { failOnProcessErrors } from "../../helpers/process-errors.js";
import { waitFor } from "../../helpers/wait.js";

failOnProcessErrors();

const V2 = "application/vnd.kafka.v2+json";
const JSON_V2 = "application/vnd.kafka.json.v2+json";
const BINARY_V2 = "application/vnd.kafka.binary.v2+json";

let tb: TestBroker;
let http: HttpServer;

interface Res {
  statusCode: number;
  body: string;
  headers: Record<string, unknown>;
  json: () => unknown;
}

async function call(
  method: "GET" | "POST" | "DELETE" | "PUT",
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Res> {
  return http.app.inject({
    method,
    url,
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    headers: { ...(body === undefined ? {} : { "content-type": V2 }), ...headers },
  });
}

function expectRestError(res: Res, status: number, code: number): void {
  expect(res.statusCode, res.body).toBe(status);
  const body = res.json() as { error_code: unknown; message: unknown };
  expect(body.error_code).toBe(code);
  expect(typeof body.message).toBe("string");
}

interface RestRecord {
  topic: string;
  key: unknown;
  value: unknown;
  partition: number;
  offset: number;
}

const base = (group: string, instance: string) => `/consumers/${group}/instances/${instance}`;

/** Polls until `count` records came back in total (each poll waits up to 200 ms at the broker). */
async function pollRecords(
  group: string,
  instance: string,
  count: number,
  accept = JSON_V2,
): Promise<RestRecord[]> {
  const all: RestRecord[] = [];
  await waitFor(async () => {
    const res = await call("GET", `${base(group, instance)}/records?timeout=200`, undefined, { accept });
    expect(res.statusCode, res.body).toBe(200);
    all.push(...(res.json() as RestRecord[]));
    return all.length >= count;
  }, `${count} records for ${group}/${instance}`);
  return all;
}

async function assignments(group: string, instance: string): Promise<{ topic: string; partition: number }[]> {
  const res = await call("GET", `${base(group, instance)}/assignments`);
  expect(res.statusCode, res.body).toBe(200);
  return (res.json() as { partitions: { topic: string; partition: number }[] }).partitions;
}

beforeAll(async () => {
  tb = await startTestBroker({ "group.initial.rebalance.delay.ms": 0 });
  const server = tb.broker.http;
  if (!server) throw new Error("no HTTP server");
  http = server;
  const created = await call(
    "POST",
    "/topics",
    { name: "orders", partitions: 2 },
    { "content-type": "application/json" },
  );
  expect(created.statusCode, created.body).toBe(201);
  const produced = await http.app.inject({
    method: "POST",
    url: "/topics/orders",
    headers: { "content-type": JSON_V2 },
    payload: JSON.stringify({
      records: [
        { key: "k0", value: { n: 0 }, partition: 0 },
        { key: "k1", value: { n: 1 }, partition: 0 },
        { key: "k2", value: { n: 2 }, partition: 1 },
        { key: "k3", value: { n: 3 }, partition: 1 },
      ],
    }),
  });
  expect(produced.statusCode, produced.body).toBe(200);
});

afterAll(async () => {
  await tb?.stop();
});

describe("REST Proxy v2 consumers", () => {
  it("runs the flow: create, subscribe, poll json, commit, committed offsets, a second instance, delete", async () => {
    const created = await call("POST", "/consumers/g1", {
      name: "c1",
      format: "json",
      "auto.offset.reset": "earliest",
      "auto.commit.enable": "false",
    });
    expect(created.statusCode, created.body).toBe(200);
    expect(created.headers["content-type"]).toMatch(/^application\/vnd\.kafka\.v2\+json/);
    const instance = created.json() as { instance_id: string; base_uri: string };
    expect(instance.instance_id).toBe("c1");
    expect(instance.base_uri).toMatch(/^http:\/\/[^/]+\/consumers\/g1\/instances\/c1$/);

    expectRestError(await call("POST", "/consumers/g1", { name: "c1" }), 409, 40902);
    expectRestError(await call("GET", `${base("g1", "c1")}/records`), 409, 40903);

    expect((await call("POST", `${base("g1", "c1")}/subscription`, { topics: ["orders"] })).statusCode).toBe(
      204,
    );
    expect((await call("GET", `${base("g1", "c1")}/subscription`)).json()).toEqual({ topics: ["orders"] });

    const records = await pollRecords("g1", "c1", 4);
    expect(records.length).toBe(4);
    const sorted = [...records].sort((a, b) => a.partition - b.partition || a.offset - b.offset);
    expect(sorted).toEqual([
      { topic: "orders", key: "k0", value: { n: 0 }, partition: 0, offset: 0 },
      { topic: "orders", key: "k1", value: { n: 1 }, partition: 0, offset: 1 },
      { topic: "orders", key: "k2", value: { n: 2 }, partition: 1, offset: 0 },
      { topic: "orders", key: "k3", value: { n: 3 }, partition: 1, offset: 1 },
    ]);
    const polled = await call("GET", `${base("g1", "c1")}/records?timeout=0`, undefined, { accept: JSON_V2 });
    expect(polled.headers["content-type"]).toMatch(/^application\/vnd\.kafka\.json\.v2\+json/);
    expect(polled.json()).toEqual([]);

    // Commit everything fetched (no body, or an empty one under a JSON content type), then read
    // it back with Confluent's GET body.
    expect((await call("POST", `${base("g1", "c1")}/offsets`)).statusCode).toBe(204);
    const empty = await http.app.inject({
      method: "POST",
      url: `${base("g1", "c1")}/offsets`,
      headers: { "content-type": V2 },
      payload: "",
    });
    expect(empty.statusCode, empty.body).toBe(204);
    const both = {
      partitions: [
        { topic: "orders", partition: 0 },
        { topic: "orders", partition: 1 },
      ],
    };
    const committed = await call("GET", `${base("g1", "c1")}/offsets`, both);
    expect(committed.statusCode, committed.body).toBe(200);
    expect(committed.json()).toEqual({
      offsets: [
        { topic: "orders", partition: 0, offset: 2, metadata: "" },
        { topic: "orders", partition: 1, offset: 2, metadata: "" },
      ],
    });
    // Given offsets: the last record processed, committed + 1 as Confluent does.
    const given = { offsets: [{ topic: "orders", partition: 0, offset: 0 }] };
    expect((await call("POST", `${base("g1", "c1")}/offsets`, given)).statusCode).toBe(204);
    const after = (await call("GET", `${base("g1", "c1")}/offsets`, both)).json() as {
      offsets: { offset: number }[];
    };
    expect(after.offsets.map((o) => o.offset)).toEqual([1, 2]);

    // A second instance of the group: the two split the partitions.
    expect((await call("POST", "/consumers/g1", { name: "c2", format: "json" })).statusCode).toBe(200);
    expect((await call("POST", `${base("g1", "c2")}/subscription`, { topics: ["orders"] })).statusCode).toBe(
      204,
    );
    await waitFor(async () => {
      const [a, b] = [await assignments("g1", "c1"), await assignments("g1", "c2")];
      return a.length === 1 && b.length === 1;
    }, "c1 and c2 hold one partition each");
    const split = [...(await assignments("g1", "c1")), ...(await assignments("g1", "c2"))];
    expect(split.map((tp) => tp.partition).sort()).toEqual([0, 1]);
    const group = (await call("GET", "/groups/g1")).json() as { state: string; members: unknown[] };
    expect(group.members.length).toBe(2);

    // c2 starts where the group committed: partition 0 at 1 or partition 1 at 2 (nothing left).
    const c2Partition = (await assignments("g1", "c2"))[0].partition;
    if (c2Partition === 0) {
      const again = await pollRecords("g1", "c2", 1);
      expect(again.map((r) => r.offset)).toEqual([1]);
    }

    expect((await call("DELETE", base("g1", "c2"))).statusCode).toBe(204);
    expectRestError(await call("GET", `${base("g1", "c2")}/records`), 404, 40403);
    expectRestError(await call("DELETE", base("g1", "c2")), 404, 40403);
    await waitFor(async () => (await assignments("g1", "c1")).length === 2, "c1 holds both partitions again");

    expect((await call("DELETE", `${base("g1", "c1")}/subscription`)).statusCode).toBe(204);
    expect((await call("GET", `${base("g1", "c1")}/subscription`)).json()).toEqual({ topics: [] });
    expect((await call("DELETE", base("g1", "c1"))).statusCode).toBe(204);
  });

  it("polls in the binary format with manual assignments and seeks; Accept must match the format", async () => {
    // A binary produce through the REST content type: base64 in, the same base64 out.
    const produced = await http.app.inject({
      method: "POST",
      url: "/topics/orders",
      headers: { "content-type": BINARY_V2 },
      payload: JSON.stringify({ records: [{ key: "AAEC", value: "/w==", partition: 0 }] }),
    });
    expect(produced.statusCode, produced.body).toBe(200);
    expect(produced.json()).toEqual({ offsets: [{ partition: 0, offset: 2 }] });

    expect((await call("POST", "/consumers/g2", { name: "b1" })).statusCode).toBe(200);
    const assign = { partitions: [{ topic: "orders", partition: 0 }] };
    expect((await call("POST", `${base("g2", "b1")}/assignments`, assign)).statusCode).toBe(204);
    expect(await assignments("g2", "b1")).toEqual([{ topic: "orders", partition: 0 }]);
    expectRestError(
      await call("POST", `${base("g2", "b1")}/subscription`, { topics: ["orders"] }),
      409,
      40903,
    );

    expect((await call("POST", `${base("g2", "b1")}/positions/beginning`, assign)).statusCode).toBe(204);
    expectRestError(
      await call("GET", `${base("g2", "b1")}/records`, undefined, { accept: JSON_V2 }),
      406,
      40601,
    );
    const records = await pollRecords("g2", "b1", 3, BINARY_V2);
    expect(records).toEqual([
      {
        topic: "orders",
        key: Buffer.from('"k0"').toString("base64"),
        value: Buffer.from('{"n":0}').toString("base64"),
        partition: 0,
        offset: 0,
      },
      {
        topic: "orders",
        key: Buffer.from('"k1"').toString("base64"),
        value: Buffer.from('{"n":1}').toString("base64"),
        partition: 0,
        offset: 1,
      },
      { topic: "orders", key: "AAEC", value: "/w==", partition: 0, offset: 2 },
    ]);

    // max_bytes bounds the keys and values shown, but a poll shows at least one record.
    expect((await call("POST", `${base("g2", "b1")}/positions/beginning`, assign)).statusCode).toBe(204);
    const one = await call("GET", `${base("g2", "b1")}/records?max_bytes=1&timeout=0`, undefined, {
      accept: BINARY_V2,
    });
    expect((one.json() as RestRecord[]).map((r) => r.offset)).toEqual([0]);
    expect((await pollRecords("g2", "b1", 2, BINARY_V2)).map((r) => r.offset)).toEqual([1, 2]);

    // Seek to an offset, then to the end.
    const seek = { offsets: [{ topic: "orders", partition: 0, offset: 2 }] };
    expect((await call("POST", `${base("g2", "b1")}/positions`, seek)).statusCode).toBe(204);
    expect((await pollRecords("g2", "b1", 1, V2)).map((r) => r.offset)).toEqual([2]);
    expect((await call("POST", `${base("g2", "b1")}/positions/beginning`, assign)).statusCode).toBe(204);
    expect((await call("POST", `${base("g2", "b1")}/positions/end`, assign)).statusCode).toBe(204);
    const none = await call("GET", `${base("g2", "b1")}/records?timeout=0`, undefined, { accept: BINARY_V2 });
    expect(none.json()).toEqual([]);
    // A seek of a partition not assigned is an illegal state.
    const other = { offsets: [{ topic: "orders", partition: 1, offset: 0 }] };
    expectRestError(await call("POST", `${base("g2", "b1")}/positions`, other), 409, 40903);
    expect((await call("DELETE", base("g2", "b1"))).statusCode).toBe(204);
  });

  it("subscribes by topic_pattern (a whole-name match, as Kafka's)", async () => {
    expect((await call("POST", "/consumers/g3", { name: "p1", format: "json" })).statusCode).toBe(200);
    expect(
      (await call("POST", `${base("g3", "p1")}/subscription`, { topic_pattern: "ord.*" })).statusCode,
    ).toBe(204);
    expect((await call("GET", `${base("g3", "p1")}/subscription`)).json()).toEqual({ topics: ["orders"] });
    await waitFor(
      async () => (await assignments("g3", "p1")).length === 2,
      "p1 holds both partitions of orders",
    );
    expect(
      (await call("POST", `${base("g3", "p1")}/subscription`, { topic_pattern: "ord" })).statusCode,
    ).toBe(204);
    expect((await call("GET", `${base("g3", "p1")}/subscription`)).json()).toEqual({ topics: [] });
    await waitFor(async () => (await assignments("g3", "p1")).length === 0, "p1 holds nothing");
    // A subscription changed while the join of the one before is under way still counts.
    const p2 = `${base("g4", "p2")}/subscription`;
    expect((await call("POST", "/consumers/g4", { name: "p2" })).statusCode).toBe(200);
    expect((await call("POST", p2, { topics: ["no-such-topic-here"] })).statusCode).toBe(204);
    expect((await call("POST", p2, { topics: ["orders"] })).statusCode).toBe(204);
    await waitFor(
      async () => (await assignments("g4", "p2")).length === 2,
      "p2 holds both partitions of orders",
    );
    expect((await call("DELETE", base("g4", "p2"))).statusCode).toBe(204);
    const both = { topics: ["orders"], topic_pattern: "x" };
    expectRestError(await call("POST", `${base("g3", "p1")}/subscription`, both), 400, 400);
    expectRestError(await call("POST", `${base("g3", "p1")}/subscription`, { topic_pattern: "(" }), 400, 400);
    expect((await call("DELETE", base("g3", "p1"))).statusCode).toBe(204);
  });

  it("answers Confluent's numeric codes for bad requests and unknown instances", async () => {
    expectRestError(await call("GET", `${base("g9", "nobody")}/records`), 404, 40403);
    expectRestError(await call("GET", `${base("g9", "nobody")}/assignments`), 404, 40403);
    expectRestError(await call("POST", "/consumers/g9", { format: "avro" }), 400, 400);
    expectRestError(
      await call("POST", "/consumers/g9", { "consumer.request.timeout.ms": "999999" }),
      422,
      42204,
    );
    expectRestError(await call("PUT", "/consumers/g9"), 405, 405);
  });
});

describe("a REST instance in a group whose other member offers only roundrobin", () => {
  it("agrees on roundrobin (librdkafka's and Java's name) and the two split the partitions", async () => {
    const other = new Consumer(
      { brokers: [`127.0.0.1:${tb.port}`] },
      { groupId: "mixed", partitionAssignors: ["roundrobin"], heartbeatIntervalMs: 200 },
    );
    let polling = true;
    try {
      other.subscribe(["orders"]);
      const polls = (async () => {
        while (polling) await other.nextBatch(100);
      })();
      const created = await call("POST", "/consumers/mixed", { name: "rest", format: "json" });
      expect(created.statusCode, created.body).toBe(200);
      const subscribed = await call("POST", `${base("mixed", "rest")}/subscription`, { topics: ["orders"] });
      expect(subscribed.statusCode, subscribed.body).toBe(204);
      await waitFor(async () => {
        // A poll lets the instance join; the group settles once each member holds one partition.
        await call("GET", `${base("mixed", "rest")}/records?timeout=100`, undefined, { accept: JSON_V2 });
        return (await assignments("mixed", "rest")).length === 1 && other.assignment().length === 1;
      }, "the REST instance and the other member holding one partition each");
      const rest = (await assignments("mixed", "rest")).map((tp) => tp.partition);
      expect([...rest, ...other.assignment().map((tp) => tp.partition)].sort()).toEqual([0, 1]);
      const group = await call("GET", "/groups/mixed");
      expect(group.statusCode, group.body).toBe(200);
      expect(group.json()).toMatchObject({ state: "Stable", protocol: "roundrobin" });
      polling = false;
      await polls;
    } finally {
      polling = false;
      await other.close();
      await call("DELETE", base("mixed", "rest"));
    }
  });
});
