/**
 * The HTTP and WebSocket doors with authentication on (issue 15; docs/decisions/0036): one broker
 * with a SASL listener (so http.authentication=auto asks for credentials), ACLs checked
 * (StandardAuthorizer, admin a super user, bob nobody), and its HTTP port over HTTPS with a
 * dev certificate. /health and /ready answer anyone; everything else is 401 with a Basic
 * challenge until a user's password is shown; a verified password stops working when the
 * credential changes; bob is refused a write with TOPIC_AUTHORIZATION_FAILED; Kafka frames over
 * WSS authenticate with SASL frames; the live tail takes Basic on its upgrade or, as a browser
 * must, a credentials message after it; a new certificate file is served without a restart.
 */
import { X509Certificate } from "node:crypto";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as https from "node:https";
import { tmpdir } from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import WebSocket from "ws";
import { loadBrokerConfig } from "../../broker/config.js";
import {
  AUTH_CACHE_TTL_MS,
  httpAuthenticationOn,
  parseBasic,
  VerifiedPasswords,
} from "../../broker/http/authentication.js";
import { brokerListeners } from "../../broker/net/listeners.js";
import { makeServerCert } from "../../cli/certs.js";
import { Admin } from "../../client/index.js";
import { type ScramCredential, scramCredential } from "../../protocol/sasl/scram.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { type TestCerts, testCerts } from "../helpers/certs.js";
import { failOnProcessErrors } from "../helpers/process-errors.js";
import { waitFor, within } from "../helpers/wait.js";

failOnProcessErrors();

const USERS = { admin: "admin-secret", bob: "bob-secret", carol: "carol-secret" } as const;

let tb: TestBroker;
let certs: TestCerts;
let tlsDir: string;
let port: number;

async function setPassword(user: string, password: string): Promise<void> {
  const results = await tb.broker.store.alterScramCredentials(
    [{ user, mechanism: "SCRAM-SHA-256", ...scramCredential("SCRAM-SHA-256", password, 4096) }],
    [],
  );
  expect(results.map((r) => r.error)).toEqual([null]);
}

beforeAll(async () => {
  certs = await testCerts();
  // Copies: the reload test overwrites them.
  tlsDir = mkdtempSync(path.join(tmpdir(), "samsa-http-tls-"));
  const certFile = path.join(tlsDir, "server.pem");
  const keyFile = path.join(tlsDir, "server-key.pem");
  copyFileSync(certs.server.certFile, certFile);
  copyFileSync(certs.server.keyFile, keyFile);
  tb = await startTestBroker({
    listeners: "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
    "ssl.certificate.location": certFile,
    "ssl.key.location": keyFile,
    "http.tls.enable": true,
    "authorizer.class.name": "StandardAuthorizer",
    "super.users": "User:admin",
    "connection.failed.authentication.delay.ms": 0,
  });
  port = tb.broker.httpPort;
  for (const [user, password] of Object.entries(USERS)) await setPassword(user, password);
  await tb.broker.topics.create("orders", 1, 1, {});
}, 60_000);

afterAll(async () => {
  await tb?.stop();
  if (tlsDir) rmSync(tlsDir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
}

/** One HTTPS request to the broker, trusting the test CA. */
function request(
  method: string,
  url: string,
  options: { authorization?: string; body?: unknown } = {},
): Promise<Answer> {
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  const headers: Record<string, string> = {};
  if (options.authorization) headers.authorization = options.authorization;
  if (payload !== undefined) headers["content-type"] = "application/json";
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: "127.0.0.1", port, method, path: url, headers, ca: certs.ca.cert },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: text === "" ? null : JSON.parse(text),
          });
        });
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

function expectChallenge(answer: Answer): void {
  expect(answer.status).toBe(401);
  expect(answer.headers["www-authenticate"]).toMatch(/^Basic realm="samsa"/);
  expect(answer.body).toMatchObject({ error_code: "UNAUTHORIZED" });
}

describe("authentication rule and Basic header", () => {
  const rule = (flags: Record<string, unknown>) => {
    const c = loadBrokerConfig({ flags: { "data.dir": "/tmp/x", ...flags } });
    return httpAuthenticationOn(c, brokerListeners(c));
  };

  it("auto asks for credentials exactly when a Kafka listener is SASL; basic and none force it", () => {
    expect(rule({})).toBe(false);
    expect(rule({ listeners: "PLAINTEXT://:0,SASL_PLAINTEXT://:0" })).toBe(true);
    expect(rule({ "http.authentication": "basic" })).toBe(true);
    expect(rule({ listeners: "SASL_PLAINTEXT://:0", "http.authentication": "none" })).toBe(false);
  });

  it("http.tls.enable needs the certificate files", () => {
    expect(() => rule({ "http.tls.enable": true })).toThrow(
      /http.tls.enable=true: needs ssl.certificate.location/,
    );
  });

  it("parses Basic credentials; other schemes are no credentials; malformed Basic is refused", () => {
    expect(parseBasic(basic("alice", "pa:ss wörd"))).toEqual({ username: "alice", password: "pa:ss wörd" });
    expect(parseBasic(undefined)).toBeNull();
    expect(parseBasic("Bearer abc")).toBeNull();
    for (const bad of ["Basic !!!", `Basic ${Buffer.from("nocolon").toString("base64")}`, "Basic "]) {
      expect(() => parseBasic(bad)).toThrow(/malformed Basic credentials/);
    }
  });

  it("a remembered password expires, and is forgotten when the credential changes", () => {
    let nowMs = 0;
    let stored: ScramCredential = scramCredential("SCRAM-SHA-256", "one", 4096);
    const cache = new VerifiedPasswords(
      () => stored,
      () => nowMs,
    );
    cache.remember("u", "one", "SCRAM-SHA-256", stored);
    expect(cache.has("u", "one")).toBe(true);
    expect(cache.has("u", "two")).toBe(false);
    expect(cache.has("v", "one")).toBe(false);
    nowMs = AUTH_CACHE_TTL_MS;
    expect(cache.has("u", "one")).toBe(false);
    cache.remember("u", "one", "SCRAM-SHA-256", stored);
    stored = scramCredential("SCRAM-SHA-256", "two", 4096);
    expect(cache.has("u", "one")).toBe(false);
    expect(cache.size).toBe(0);
  });
});

describe("HTTPS with Basic authentication", () => {
  it("/health and /ready answer without credentials", async () => {
    expect((await request("GET", "/health")).status).toBe(200);
    expect((await request("GET", "/ready")).status).toBe(200);
  });

  it("every other route is 401 with a Basic challenge without credentials, and changes nothing", async () => {
    for (const [method, url, body] of [
      ["GET", "/topics"],
      ["GET", "/brokers"],
      ["GET", "/groups"],
      ["GET", "/topics/orders"],
      ["GET", "/topics/orders/partitions/0/records?offset=0"],
      ["POST", "/topics", { name: "made-anonymously" }],
      ["POST", "/topics/orders", { records: [{ value: 1 }] }],
      ["DELETE", "/topics/orders"],
      ["GET", "/no-such-route"],
    ] as const) {
      expectChallenge(await request(method, url, { body }));
    }
    expect(tb.broker.topics.partition("orders", 0)?.logEndOffset).toBe(0);
    expect(tb.broker.store.topic("made-anonymously")).toBeUndefined();
  });

  it("a wrong password, an unknown user and a malformed header are 401", async () => {
    for (const authorization of [basic("admin", "wrong"), basic("mallory", "x"), "Basic %%%"]) {
      expectChallenge(await request("GET", "/topics", { authorization }));
    }
  });

  it("the right password works, and the user's principal reaches the handlers", async () => {
    const authorization = basic("admin", USERS.admin);
    const handle = vi.spyOn(tb.broker.dispatcher, "handle");
    let listed: Answer;
    let principals: (string | undefined)[];
    try {
      listed = await request("GET", "/topics", { authorization });
      principals = handle.mock.calls.map((call) => call[3].principal);
    } finally {
      handle.mockRestore();
    }
    expect(listed.status).toBe(200);
    expect(listed.body).toContain("orders");
    expect(principals).toEqual(["User:admin"]);
    const produced = await request("POST", "/topics/orders", {
      authorization,
      body: { records: [{ value: 1 }] },
    });
    expect(produced).toMatchObject({ status: 200, body: { offsets: [{ partition: 0, offset: 0 }] } });
  });

  it("a principal without ACLs is refused a write with TOPIC_AUTHORIZATION_FAILED", async () => {
    const before = tb.broker.topics.partition("orders", 0)?.logEndOffset;
    const refused = await request("POST", "/topics/orders", {
      authorization: basic("bob", USERS.bob),
      body: { records: [{ value: "bob was here" }] },
    });
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ error_code: "TOPIC_AUTHORIZATION_FAILED" });
    expect(tb.broker.topics.partition("orders", 0)?.logEndOffset).toBe(before);
  });

  it("a remembered password stops working once the user's credential changes", async () => {
    const old = basic("carol", USERS.carol);
    expect((await request("GET", "/brokers", { authorization: old })).status).toBe(200);
    expect((await request("GET", "/brokers", { authorization: old })).status).toBe(200);
    await setPassword("carol", "carol-new");
    expectChallenge(await request("GET", "/brokers", { authorization: old }));
    expect((await request("GET", "/brokers", { authorization: basic("carol", "carol-new") })).status).toBe(
      200,
    );
  });

  it("plain HTTP is not served on the HTTPS port", async () => {
    const answered = await fetch(`http://127.0.0.1:${port}/health`).then(
      () => true,
      () => false,
    );
    expect(answered).toBe(false);
  });
});

describe("WebSocket doors", () => {
  const wssUrl = () => `wss://127.0.0.1:${port}/kafka`;

  it("Kafka frames over WSS authenticate with SASL; without it, or with a wrong password, nothing is served", async () => {
    const admin = new Admin({
      brokers: [wssUrl()],
      ssl: { ca: certs.ca.cert },
      sasl: { mechanism: "scram-sha-256", username: "admin", password: USERS.admin },
    });
    try {
      expect(await admin.listTopics()).toContain("orders");
    } finally {
      await admin.close();
    }
    const wrong = new Admin({
      brokers: [wssUrl()],
      ssl: { ca: certs.ca.cert },
      sasl: { mechanism: "plain", username: "admin", password: "wrong" },
    });
    try {
      await expect(wrong.listTopics()).rejects.toMatchObject({ code: "SASL_AUTHENTICATION_FAILED" });
    } finally {
      await wrong.close();
    }
    const anonymous = new Admin({ brokers: [wssUrl()], ssl: { ca: certs.ca.cert }, retry: { retries: 0 } });
    try {
      await expect(anonymous.listTopics()).rejects.toThrow();
    } finally {
      await anonymous.close();
    }
  });

  it("a message larger than 512 KiB before authentication closes the socket with 1009", async () => {
    const ws = new WebSocket(wssUrl(), { ca: certs.ca.cert });
    const closed = new Promise<number>((resolve) => ws.on("close", (code) => resolve(code)));
    ws.on("error", () => {});
    await within(new Promise((resolve) => ws.once("open", resolve)), "the WebSocket to open");
    const big = Buffer.alloc(600 * 1024);
    big.writeInt32BE(big.length - 4, 0);
    ws.send(big);
    expect(await within(closed, "the broker to close the WebSocket")).toBe(1009);
  });

  it("the live tail is 401 before the upgrade with wrong Basic credentials, and tails with right ones", async () => {
    const url = `wss://127.0.0.1:${port}/ws/topics/orders?from=earliest`;
    const refused = new WebSocket(url, {
      ca: certs.ca.cert,
      headers: { authorization: basic("admin", "wrong") },
    });
    refused.on("error", () => {});
    const status = await within(
      new Promise<number>((resolve) =>
        refused.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0)),
      ),
      "the refusal",
    );
    refused.terminate();
    expect(status).toBe(401);
    const tail = new WebSocket(url, {
      ca: certs.ca.cert,
      headers: { authorization: basic("admin", USERS.admin) },
    });
    tail.on("error", () => {});
    const first = new Promise<unknown>((resolve) =>
      tail.once("message", (data) => resolve(JSON.parse(String(data)))),
    );
    try {
      expect(await within(first, "the first tailed record")).toMatchObject({ topic: "orders", offset: 0 });
    } finally {
      tail.terminate();
    }
  });
});

describe("the live tail's credentials message (browsers)", () => {
  const url = () => `wss://127.0.0.1:${port}/ws/topics/orders?from=earliest`;

  function open(): { ws: WebSocket; closed: Promise<number> } {
    const ws = new WebSocket(url(), { ca: certs.ca.cert });
    ws.on("error", () => {});
    const closed = new Promise<number>((resolve) => ws.on("close", (code) => resolve(code)));
    return { ws, closed };
  }

  it("an upgrade without an Authorization header tails once its first message names a user", async () => {
    const { ws } = open();
    const first = new Promise<unknown>((resolve) =>
      ws.once("message", (d) => resolve(JSON.parse(String(d)))),
    );
    try {
      await within(new Promise((resolve) => ws.once("open", resolve)), "the upgrade");
      ws.send(JSON.stringify({ username: "admin", password: USERS.admin }));
      expect(await within(first, "the first tailed record")).toMatchObject({ topic: "orders", offset: 0 });
    } finally {
      ws.terminate();
    }
  });

  it("a wrong or malformed credentials message closes the tail with 4401 before it sends anything", async () => {
    for (const message of [JSON.stringify({ username: "admin", password: "wrong" }), "not json"]) {
      const { ws, closed } = open();
      let received = 0;
      ws.on("message", () => received++);
      await within(new Promise((resolve) => ws.once("open", resolve)), "the upgrade");
      ws.send(message);
      expect(await within(closed, "the broker to close the tail")).toBe(4401);
      expect(received).toBe(0);
    }
  });
});

describe("certificate reload", () => {
  it("a new certificate file is served to new HTTPS connections without a restart", async () => {
    const served = () =>
      new Promise<string>((resolve, reject) => {
        const socket = tls.connect({ host: "127.0.0.1", port, ca: certs.ca.cert }, () => {
          resolve(new X509Certificate(socket.getPeerX509Certificate()?.raw ?? Buffer.alloc(0)).serialNumber);
          socket.end();
        });
        socket.on("error", reject);
      });
    const before = await served();
    const next = await makeServerCert(certs.ca, ["127.0.0.1", "localhost"]);
    writeFileSync(path.join(tlsDir, "server-key.pem"), next.key);
    writeFileSync(path.join(tlsDir, "server.pem"), next.cert);
    const expected = new X509Certificate(next.cert).serialNumber;
    expect(expected).not.toBe(before);
    let now = before;
    await waitFor(async () => {
      now = await served().catch(() => now);
      return now === expected;
    }, "the new certificate to be served");
  });
});
