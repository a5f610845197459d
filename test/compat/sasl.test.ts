/**
 * SASL and TLS listeners against kcat, KafkaJS and samsa's own client and CLI (issue 15): one broker with a
 * PLAINTEXT, a SASL_PLAINTEXT, an SSL and a SASL_SSL listener; users with SCRAM credentials in
 * its store. kcat (librdkafka) and KafkaJS authenticate with PLAIN, SCRAM-SHA-256 and
 * SCRAM-SHA-512, over plaintext and over TLS, and produce and consume; wrong passwords and
 * unknown users fail at the handshake; a plaintext client on a TLS port fails; and before
 * authentication the broker serves nothing but ApiVersions and the SASL APIs, in frames of at
 * most 512 KiB.
 */
import * as path from "node:path";
import { Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Admin, Consumer, Producer } from "../../client/index.js";
import { scramCredential } from "../../protocol/sasl/scram.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { type TestCerts, testCerts } from "../helpers/certs.js";
import { runSamsa } from "../helpers/cli.js";
import { TestClient } from "../helpers/kafka-client.js";
import { waitFor } from "../helpers/wait.js";
import { kcat, requireKcat } from "./helpers.js";

let tb: TestBroker;
let certs: TestCerts;
const ports: Record<string, number> = {};
const USERS = { alice: "alice-secret", bob: "bob-secret" } as const;

beforeAll(async () => {
  certs = await testCerts();
  tb = await startTestBroker({
    listeners:
      "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,SASL_SSL://127.0.0.1:0",
    "ssl.certificate.location": certs.server.certFile,
    "ssl.key.location": certs.server.keyFile,
    "connection.failed.authentication.delay.ms": 0,
  });
  for (const [name, port] of tb.broker.listenerPorts) ports[name] = port;
  // One credential per user per request (Kafka refuses a user named twice in one).
  for (const mechanism of ["SCRAM-SHA-256", "SCRAM-SHA-512"] as const) {
    const upsertions = Object.entries(USERS).map(([user, password]) => ({
      user,
      mechanism,
      ...scramCredential(mechanism, password, 4096),
    }));
    const results = await tb.broker.store.alterScramCredentials(upsertions, []);
    expect(results.map((r) => r.error)).toEqual([null, null]);
  }
  await tb.broker.topics.create("secure", 1, 1, {});
}, 60_000);

afterAll(async () => {
  await tb?.stop();
});

function saslArgs(protocol: string, mechanism: string, user: string, password: string): string[] {
  const args = ["-X", `security.protocol=${protocol}`, "-X", `sasl.mechanisms=${mechanism}`];
  args.push("-X", `sasl.username=${user}`, "-X", `sasl.password=${password}`);
  if (protocol.endsWith("SSL")) args.push("-X", `ssl.ca.location=${certs.caFile}`);
  return args;
}

it("kcat is installed", () => {
  requireKcat();
});

describe("kcat over SASL", () => {
  for (const [listener, mechanism] of [
    ["SASL_PLAINTEXT", "PLAIN"],
    ["SASL_PLAINTEXT", "SCRAM-SHA-256"],
    ["SASL_PLAINTEXT", "SCRAM-SHA-512"],
    ["SASL_SSL", "SCRAM-SHA-512"],
    ["SASL_SSL", "PLAIN"],
  ] as const) {
    it(`${listener} ${mechanism}: produces, consumes, and sees the broker on that listener`, async () => {
      const args = saslArgs(listener, mechanism, "alice", USERS.alice);
      const port = ports[listener];
      const value = `hello-${listener}-${mechanism}`;
      await kcat(port, [...args, "-P", "-t", "secure", "-p", "0"], { input: `${value}\n` });
      const meta = (await kcat(port, [...args, "-L"])).stdout.toString("utf8");
      expect(meta).toContain(`broker 1 at 127.0.0.1:${port}`);
      const out = await kcat(port, [...args, "-C", "-t", "secure", "-p", "0", "-o", "beginning", "-e"]);
      expect(out.stdout.toString("utf8").split("\n")).toContain(value);
    });
  }

  it("a wrong password and an unknown user fail the handshake", async () => {
    for (const [user, password] of [
      ["alice", "wrong"],
      ["mallory", "whatever"],
    ]) {
      const args = saslArgs("SASL_PLAINTEXT", "SCRAM-SHA-256", user, password);
      const r = await kcat(ports.SASL_PLAINTEXT, [...args, "-L", "-m", "2"], { allowFailure: true });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/Authentication failed|SASL authentication error/i);
    }
  });

  it("SSL without SASL, and plaintext kcat on a TLS port fails", async () => {
    const ssl = ["-X", "security.protocol=SSL", "-X", `ssl.ca.location=${certs.caFile}`];
    const meta = (await kcat(ports.SSL, [...ssl, "-L"])).stdout.toString("utf8");
    expect(meta).toContain(`broker 1 at 127.0.0.1:${ports.SSL}`);
    const r = await kcat(ports.SSL, ["-L", "-m", "2"], { allowFailure: true });
    expect(r.code).not.toBe(0);
  });
});

describe("KafkaJS over SASL", () => {
  for (const mechanism of ["plain", "scram-sha-256", "scram-sha-512"] as const) {
    it(`SASL_SSL ${mechanism}: produces and reads back`, async () => {
      const kafka = new Kafka({
        brokers: [`127.0.0.1:${ports.SASL_SSL}`],
        clientId: "kafkajs-sasl",
        ssl: { ca: [certs.ca.cert], servername: "localhost" },
        sasl: { mechanism, username: "bob", password: USERS.bob } as never,
        logLevel: logLevel.NOTHING,
      });
      const producer = kafka.producer();
      await producer.connect();
      const value = `kafkajs-${mechanism}`;
      const [sent] = await producer.send({ topic: "secure", messages: [{ value }] });
      await producer.disconnect();
      const admin = kafka.admin();
      await admin.connect();
      const offsets = await admin.fetchTopicOffsets("secure");
      await admin.disconnect();
      expect(Number(offsets[0].high)).toBeGreaterThan(Number(sent.baseOffset));
    });
  }

  it("a wrong password is refused as SASL authentication failed", async () => {
    const kafka = new Kafka({
      brokers: [`127.0.0.1:${ports.SASL_PLAINTEXT}`],
      sasl: { mechanism: "scram-sha-512", username: "bob", password: "nope" },
      retry: { retries: 0 },
      logLevel: logLevel.NOTHING,
    });
    const admin = kafka.admin();
    await expect(admin.connect()).rejects.toThrow(/SASL|authentication/i);
  });
});

describe("before authentication", () => {
  it("answers ApiVersions, then closes the connection on any other request", async () => {
    const client = await TestClient.connect(ports.SASL_PLAINTEXT);
    try {
      const versions = await client.request(18, 3, { clientSoftwareName: "t", clientSoftwareVersion: "1" });
      expect(versions.errorCode).toBe(0);
      await expect(client.request(3, 12, { topics: null })).rejects.toThrow("connection closed");
    } finally {
      client.close();
    }
  });

  it("closes a connection whose first frame is larger than 512 KiB", async () => {
    const client = await TestClient.connect(ports.SASL_PLAINTEXT);
    try {
      const big = Buffer.alloc(600 * 1024);
      big.writeInt32BE(big.length - 4, 0);
      client.writeRaw(big.subarray(0, 64));
      await waitFor(() => client.closed, "the broker to close the connection");
    } finally {
      client.close();
    }
  });

  it("a SaslHandshake on a PLAINTEXT listener gets ILLEGAL_SASL_STATE; an unknown mechanism closes", async () => {
    const plain = await TestClient.connect(ports.PLAINTEXT);
    const sasl = await TestClient.connect(ports.SASL_PLAINTEXT);
    try {
      const r = await plain.request(17, 1, { mechanism: "PLAIN" });
      expect(r.errorCode).toBe(34);
      const u = await sasl.request(17, 1, { mechanism: "GSSAPI" });
      expect(u.errorCode).toBe(33);
      expect(u.mechanisms).toEqual(["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"]);
      await waitFor(() => sasl.closed, "the broker to close the connection");
    } finally {
      plain.close();
      sasl.close();
    }
  });
});

describe("the samsa client and CLI over SASL", () => {
  it("Producer, Consumer and Admin authenticate with SCRAM-SHA-512 over TLS", async () => {
    const options = {
      brokers: [`127.0.0.1:${ports.SASL_SSL}`],
      ssl: { ca: certs.ca.cert },
      sasl: { mechanism: "scram-sha-512" as const, username: "alice", password: USERS.alice },
    };
    const producer = new Producer(options, { acks: -1 });
    const sent = await producer.send({ topic: "secure", partition: 0, value: "samsa-client" });
    await producer.close();
    const consumer = new Consumer(options);
    await consumer.assign([{ topic: "secure", partition: 0, start: sent.offset }]);
    const batch = await consumer.nextBatch(10_000);
    await consumer.close();
    expect(batch?.records[0]?.value?.toString()).toBe("samsa-client");
    const admin = new Admin(options);
    expect(await admin.listTopics()).toContain("secure");
    await admin.close();
  });

  it("a wrong password is a non-retriable SASL_AUTHENTICATION_FAILED", async () => {
    const admin = new Admin({
      brokers: [`127.0.0.1:${ports.SASL_PLAINTEXT}`],
      sasl: { mechanism: "plain", username: "alice", password: "wrong" },
    });
    await expect(admin.listTopics()).rejects.toMatchObject({
      code: "SASL_AUTHENTICATION_FAILED",
      retriable: false,
    });
    await admin.close();
  });

  it("samsa --user with SAMSA_PASSWORD lists topics; a wrong password is one line and exit 1", async () => {
    const brokers = `127.0.0.1:${ports.SASL_PLAINTEXT}`;
    const flags = ["--user", "bob", "--sasl-mechanism", "SCRAM-SHA-256", "topic", "list"];
    const ok = await runSamsa(flags, { brokers, env: { ...process.env, SAMSA_PASSWORD: USERS.bob } });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain("secure");
    const bad = await runSamsa(flags, { brokers, env: { ...process.env, SAMSA_PASSWORD: "nope" } });
    expect(bad.status).toBe(1);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    expect(bad.stderr).toMatch(/SASL_AUTHENTICATION_FAILED/);
  });

  it("samsa bench produce and verify run authenticate over SASL_SSL with --user", async () => {
    const brokers = `127.0.0.1:${ports.SASL_SSL}`;
    const login = ["--tls-ca", certs.caFile, "--user", "alice", "--sasl-mechanism", "SCRAM-SHA-512"];
    const env = { ...process.env, SAMSA_PASSWORD: USERS.alice };
    const bench = await runSamsa(
      [...login, "bench", "produce", "-t", "bench-sasl", "--records", "500", "--json"],
      {
        brokers,
        env,
      },
    );
    expect(bench.status, bench.stderr).toBe(0);
    expect(JSON.parse(bench.stdout)).toMatchObject({ bench: "produce", records: 500 });
    const history = path.join(certs.dir, "verify-sasl.jsonl");
    const verify = await runSamsa(
      [...login, "verify", "run", "--topic", "verify-sasl", "--duration", "1s", "--history", history],
      { brokers, env, timeoutMs: 60_000 },
    );
    expect(verify.status, verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/^OK: no anomalies in [1-9]\d* acknowledged records$/m);
    const refused = await runSamsa(
      ["--tls-ca", certs.caFile, "bench", "produce", "-t", "bench-sasl", "--records", "1"],
      {
        brokers,
      },
    );
    expect(refused.status).not.toBe(0);
  });

  it("samsa user create, list and delete: the user logs in, then no longer does", async () => {
    const admin = `127.0.0.1:${ports.PLAINTEXT}`;
    const env = { ...process.env, SAMSA_NEW_PASSWORD: "carol-secret" };
    const created = await runSamsa(["user", "create", "carol", "--mechanism", "SCRAM-SHA-512"], {
      brokers: admin,
      env,
    });
    expect(created.status).toBe(0);
    const listed = await runSamsa(["user", "list", "-J"], { brokers: admin });
    expect(
      listed.stdout
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
    ).toContainEqual({
      user: "carol",
      mechanisms: [{ mechanism: "SCRAM-SHA-512", iterations: 4096 }],
    });
    const login = ["--user", "carol", "--sasl-mechanism", "SCRAM-SHA-512", "topic", "list"];
    const loginEnv = { ...process.env, SAMSA_PASSWORD: "carol-secret" };
    const sasl = `127.0.0.1:${ports.SASL_PLAINTEXT}`;
    expect((await runSamsa(login, { brokers: sasl, env: loginEnv })).status).toBe(0);
    expect((await runSamsa(["user", "delete", "carol"], { brokers: admin })).status).toBe(0);
    const refused = await runSamsa(login, { brokers: sasl, env: loginEnv });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/SASL_AUTHENTICATION_FAILED/);
    const missing = await runSamsa(["user", "delete", "carol"], { brokers: admin });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/RESOURCE_NOT_FOUND/);
  });

  it("AlterUserScramCredentials refuses what Kafka refuses, per user", async () => {
    const client = await TestClient.connect(ports.PLAINTEXT);
    try {
      const salt = Buffer.alloc(16, 1);
      const r = await client.request(51, 0, {
        deletions: [{ name: "nobody", mechanism: 1 }],
        upsertions: [
          { name: "few", mechanism: 1, iterations: 1000, salt, saltedPassword: Buffer.alloc(32, 2) },
          { name: "odd", mechanism: 7, iterations: 4096, salt, saltedPassword: Buffer.alloc(32, 2) },
        ],
      });
      const byUser = Object.fromEntries(
        r.results.map((x: { user: string; errorCode: number }) => [x.user, x.errorCode]),
      );
      // RESOURCE_NOT_FOUND 91, UNACCEPTABLE_CREDENTIAL 93, UNSUPPORTED_SASL_MECHANISM 33.
      expect(byUser).toEqual({ nobody: 91, few: 93, odd: 33 });
      const d = await client.request(50, 0, { users: [{ name: "alice" }, { name: "ghost" }] });
      expect(d.results.map((x: { user: string; errorCode: number }) => [x.user, x.errorCode])).toEqual([
        ["alice", 0],
        ["ghost", 91],
      ]);
    } finally {
      client.close();
    }
  });
});
