/**
 * The browser as a hostile client (issue 12), over real sockets: a Host the broker does not serve
 * (DNS rebinding) is 421 on plain requests and on WebSocket upgrades; a WebSocket upgrade from a
 * foreign page's Origin is 403 before the upgrade, on /kafka and on the live tail, so no page
 * elsewhere deletes a topic or reads records; clients that send no Origin (curl, the samsa client)
 * and pages on loopback still work; CORS headers go only to configured origins, whose preflights
 * are answered.
 */
import { request as httpRequest } from "node:http";
import { afterEach, expect, it } from "vitest";
import WebSocket from "ws";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { TestClient } from "../helpers/kafka-client.js";
import { failOnProcessErrors } from "../helpers/process-errors.js";
import { within } from "../helpers/wait.js";

failOnProcessErrors();

const EVIL = "https://evil.example";
const DELETE_TOPICS = 20;

let tb: TestBroker | null = null;
afterEach(async () => {
  await tb?.stop();
  tb = null;
});

async function start(flags: Record<string, unknown> = {}): Promise<number> {
  tb = await startTestBroker({ "log.flush.policy": "os", ...flags });
  return tb.broker.httpPort;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request over a real socket with exactly these headers (fetch will not send a Host). */
function send(port: number, method: string, path: string, headers: Record<string, string>): Promise<Answer> {
  return within(
    new Promise<Answer>((resolve, reject) => {
      const req = httpRequest({ host: "127.0.0.1", port, method, path, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end();
    }),
    `${method} ${path}`,
  );
}

function expectError(answer: Answer, status: number, code: string): void {
  expect(answer.status, answer.body).toBe(status);
  expect(JSON.parse(answer.body)).toMatchObject({ error_code: code });
}

/** Opens a WebSocket; resolves "open", or the HTTP status that refused the upgrade. */
function upgrade(
  url: string,
  headers: Record<string, string>,
): Promise<{ ws: WebSocket | null; status: number }> {
  return within(
    new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers });
      ws.once("open", () => resolve({ ws, status: 101 }));
      ws.once("unexpected-response", (_req, res) => {
        resolve({ ws: null, status: res.statusCode ?? 0 });
        res.resume();
        ws.terminate();
      });
      ws.once("error", (err) => reject(err));
    }),
    `upgrade ${url}`,
  );
}

async function createTopic(port: number, name: string): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${port}/topics`, {
    method: "POST",
    body: JSON.stringify({ name, partitions: 1 }),
    headers: { "content-type": "application/json" },
  });
  expect(res.status, await res.text()).toBe(201);
}

async function topics(port: number): Promise<string[]> {
  return (await (await fetch(`http://127.0.0.1:${port}/topics`)).json()) as string[];
}

it("serves loopback names, IP literals and configured hosts; any other Host is 421", async () => {
  const port = await start({ "http.allowed.hosts": "kafka.internal" });
  for (const host of [
    `127.0.0.1:${port}`,
    `localhost:${port}`,
    "LOCALHOST.",
    "[::1]:1",
    "10.1.2.3",
    "kafka.internal",
  ]) {
    expect((await send(port, "GET", "/topics", { host })).status, host).toBe(200);
  }
  expectError(await send(port, "GET", "/topics", { host: "evil.example" }), 421, "MISDIRECTED_REQUEST");
  expectError(
    await send(port, "GET", "/health", { host: `evil.example:${port}` }),
    421,
    "MISDIRECTED_REQUEST",
  );
  expectError(
    await send(port, "DELETE", "/topics/x", { host: "localhost.evil.example" }),
    421,
    "MISDIRECTED_REQUEST",
  );
});

it("http.allowed.hosts=* serves any Host", async () => {
  const port = await start({ "http.allowed.hosts": "*" });
  expect((await send(port, "GET", "/topics", { host: "anything.example" })).status).toBe(200);
});

it("refuses WebSocket upgrades from a foreign Origin or Host before the upgrade; no topic is deleted", async () => {
  const port = await start();
  await createTopic(port, "precious");
  const kafka = `ws://127.0.0.1:${port}/kafka`;
  expect((await upgrade(kafka, { origin: EVIL })).status).toBe(403);
  expect((await upgrade(kafka, { origin: "null" })).status).toBe(403);
  expect((await upgrade(`ws://127.0.0.1:${port}/ws/topics/precious`, { origin: EVIL })).status).toBe(403);
  expect((await upgrade(kafka, { host: "evil.example" })).status).toBe(421);
  expect(await topics(port)).toContain("precious");

  // No Origin (the samsa client, curl) and a page on loopback are let in: the upgrade succeeds
  // and Kafka requests are answered, a DeleteTopics included.
  for (const headers of [
    {} as Record<string, string>,
    { origin: `http://localhost:${port}` },
    { origin: "http://127.0.0.1:3000" },
  ]) {
    const { ws, status } = await upgrade(kafka, headers);
    expect(status).toBe(101);
    ws?.close();
  }
  const { ws } = await upgrade(kafka, { origin: "http://localhost:3000" });
  const answer = new Promise<Buffer>((resolve) => ws?.once("message", (data: Buffer) => resolve(data)));
  ws?.send(TestClient.frame(DELETE_TOPICS, 4, { topicNames: ["precious"], timeoutMs: 10_000 }, 1));
  await within(answer, "the DeleteTopics answer");
  ws?.close();
  expect(await topics(port)).not.toContain("precious");
});

it("refuses plain requests from a foreign Origin with 403; no CORS headers unless configured", async () => {
  const port = await start();
  await createTopic(port, "kept");
  expectError(await send(port, "DELETE", "/topics/kept", { origin: EVIL }), 403, "FORBIDDEN");
  expectError(await send(port, "GET", "/topics", { origin: EVIL }), 403, "FORBIDDEN");
  expect(await topics(port)).toContain("kept");
  const local = await send(port, "GET", "/topics", { origin: "http://localhost:3000" });
  expect(local.status).toBe(200);
  expect(local.headers["access-control-allow-origin"]).toBeUndefined();
  const preflight = await send(port, "OPTIONS", "/topics/kept", {
    origin: "http://localhost:3000",
    "access-control-request-method": "DELETE",
  });
  expectError(preflight, 403, "FORBIDDEN");
});

it("gives CORS headers to the origins of http.cors.origins and answers their preflights", async () => {
  const app = "https://app.example";
  // Written as an operator might: a trailing slash, the default port.
  const port = await start({ "http.cors.origins": `${app}/, https://other.example:443` });
  await createTopic(port, "shared");
  const get = await send(port, "GET", "/topics", { origin: app });
  expect(get.status).toBe(200);
  expect(get.headers["access-control-allow-origin"]).toBe(app);
  expect(get.headers.vary).toContain("Origin");
  const preflight = await send(port, "OPTIONS", "/topics/shared", {
    origin: app,
    "access-control-request-method": "DELETE",
    "access-control-request-headers": "content-type",
  });
  expect(preflight.status, preflight.body).toBe(204);
  expect(preflight.headers["access-control-allow-origin"]).toBe(app);
  expect(preflight.headers["access-control-allow-methods"]).toContain("DELETE");
  // PATCH /topics/{t}/configs is the one PATCH route: a configured origin may call it too.
  expect(preflight.headers["access-control-allow-methods"]).toContain("PATCH");
  expect(preflight.headers["access-control-allow-headers"]).toMatch(/content-type/i);
  // A configured CORS origin is trusted for WebSockets too; others are still refused.
  const { ws, status } = await upgrade(`ws://127.0.0.1:${port}/kafka`, { origin: app });
  expect(status).toBe(101);
  ws?.close();
  expect((await send(port, "GET", "/topics", { origin: "https://other.example" })).status).toBe(200);
  expectError(await send(port, "GET", "/topics", { origin: EVIL }), 403, "FORBIDDEN");
});
