/**
 * The life of REST Proxy v2 consumer instances (broker/http/consumers/instances.ts): an instance
 * idle for http.consumer.instance.timeout.ms is closed (it leaves its group; afterwards 40403),
 * one in use meanwhile is not; an instance is found only by its creator's principal; http.consumer.instances.max bounds them with a 429 naming the key; a broker
 * stop closes every instance. One broker for the file, with a short timeout.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HttpServer } from "../../../broker/http/server.js";
import { startTestBroker, type TestBroker } from "../../helpers/broker.js";
import { failOnProcessErrors } from "../../helpers/process-errors.js";
import { waitFor } from "../../helpers/wait.js";

failOnProcessErrors();

const V2 = "application/vnd.kafka.v2+json";
const TIMEOUT_MS = 1500;

let tb: TestBroker;
let http: HttpServer;
let stopped = false;

async function call(method: "GET" | "POST" | "DELETE", url: string, body?: unknown) {
  return http.app.inject({
    method,
    url,
    ...(body === undefined ? {} : { payload: JSON.stringify(body), headers: { "content-type": V2 } }),
  });
}

beforeAll(async () => {
  tb = await startTestBroker({
    "group.initial.rebalance.delay.ms": 0,
    "http.consumer.instance.timeout.ms": TIMEOUT_MS,
    "http.consumer.instances.max": 2,
  });
  const server = tb.broker.http;
  if (!server) throw new Error("no HTTP server");
  http = server;
  const created = await http.app.inject({
    method: "POST",
    url: "/topics",
    payload: { name: "ttl", partitions: 1 },
  });
  expect(created.statusCode, created.body).toBe(201);
});

afterAll(async () => {
  if (!stopped) await tb?.stop();
});

describe("REST consumer instances", () => {
  it("bounds the instances of a broker by http.consumer.instances.max", async () => {
    expect((await call("POST", "/consumers/cap", { name: "a" })).statusCode).toBe(200);
    expect((await call("POST", "/consumers/cap", { name: "b" })).statusCode).toBe(200);
    const refused = await call("POST", "/consumers/cap", { name: "c" });
    expect(refused.statusCode, refused.body).toBe(429);
    const body = refused.json() as { error_code: number; message: string };
    expect(body.error_code).toBe(42901);
    expect(body.message).toContain("http.consumer.instances.max=2");
    expect((await call("DELETE", "/consumers/cap/instances/a")).statusCode).toBe(204);
    expect((await call("DELETE", "/consumers/cap/instances/b")).statusCode).toBe(204);
    expect(http.consumers.size).toBe(0);
  });

  it("finds an instance only for the principal that created it", async () => {
    expect((await call("POST", "/consumers/own", { name: "o1" })).statusCode).toBe(200);
    expect(http.consumers.get("own", "o1", "User:ANONYMOUS").id).toBe("o1");
    let refused: unknown = null;
    try {
      http.consumers.get("own", "o1", "User:mallory");
    } catch (err) {
      refused = err;
    }
    expect((await call("DELETE", "/consumers/own/instances/o1")).statusCode).toBe(204);
    expect(refused).toMatchObject({ code: 40403, statusCode: 404 });
  });

  it("closes an instance idle for http.consumer.instance.timeout.ms, which leaves its group; keeps one in use", async () => {
    expect(
      (await call("POST", "/consumers/idle", { name: "i1", "auto.offset.reset": "earliest" })).statusCode,
    ).toBe(200);
    expect(
      (await call("POST", "/consumers/idle/instances/i1/subscription", { topics: ["ttl"] })).statusCode,
    ).toBe(204);
    expect((await call("POST", "/consumers/busy", { name: "u1" })).statusCode).toBe(200);
    await waitFor(async () => {
      const res = await call("GET", "/consumers/idle/instances/i1/assignments");
      return (res.json() as { partitions: unknown[] }).partitions.length === 1;
    }, "i1 is assigned its partition");
    const group = (await call("GET", "/groups/idle")).json() as { members: unknown[] };
    expect(group.members.length).toBe(1);

    // Nobody asks anything of i1 any more; u1 is asked all along, until i1 is gone.
    await waitFor(async () => {
      const used = await call("GET", "/consumers/busy/instances/u1/assignments");
      expect(used.statusCode, used.body).toBe(200);
      return http.consumers.size === 1;
    }, "the idle instance expired");
    const gone = await call("GET", "/consumers/idle/instances/i1/records");
    expect(gone.statusCode).toBe(404);
    expect((gone.json() as { error_code: number }).error_code).toBe(40403);
    expect((await call("GET", "/consumers/busy/instances/u1/assignments")).statusCode).toBe(200);
    // It left the group (LeaveGroup), so the group is empty at once, not after a session timeout.
    await waitFor(async () => {
      const g = (await call("GET", "/groups/idle")).json() as { members: unknown[] };
      return g.members.length === 0;
    }, "the group has no members");
  });

  it("closes every instance when the broker stops", async () => {
    expect(http.consumers.size).toBe(1);
    stopped = true;
    await tb.stop();
    expect(http.consumers.size).toBe(0);
  });
});
