/**
 * The client's `ssl` option against a TLS listener (a node:tls proxy in front of an in-process
 * broker, test/helpers/tls-proxy.ts): it connects with the CA, sends its certificate when given
 * one, and a handshake that fails (unknown CA, expired certificate, a plaintext listener, a
 * listener that wants a client certificate or refuses the one given) is a non-retriable
 * SSL_HANDSHAKE_FAILED naming the cause, also through Admin, whose bootstrap would otherwise say
 * NO_BROKER_AVAILABLE.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Admin } from "../../client/admin.js";
import { Connection } from "../../client/connection.js";
import { Consumer } from "../../client/consumer.js";
import { ClientError } from "../../client/errors.js";
import { Producer } from "../../client/producer.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { TEST_CLIENT_NAME, type TestCerts, testCerts } from "../helpers/certs.js";
import { TlsProxy } from "../helpers/tls-proxy.js";

let broker: TestBroker;
let certs: TestCerts;
const proxies: TlsProxy[] = [];

beforeAll(async () => {
  [broker, certs] = await Promise.all([startTestBroker(), testCerts()]);
  const admin = new Admin({ brokers: [`127.0.0.1:${broker.port}`] });
  await admin.createTopics([{ name: "tls-topic", partitions: 1 }]);
  await admin.close();
}, 60_000);

afterAll(async () => {
  await Promise.all(proxies.map((p) => p.stop()));
  await broker?.stop();
});

async function proxy(
  server: { cert: string; key: string },
  clientCa?: "required" | "optional",
  targetPort = broker.port,
): Promise<TlsProxy> {
  const p = await TlsProxy.start({
    ...server,
    ca: clientCa ? certs.ca.cert : undefined,
    requireClientCert: clientCa === "required",
    targetPort,
  });
  proxies.push(p);
  return p;
}

/** The error `promise` rejects with (it must reject). */
async function failure(promise: Promise<unknown>): Promise<ClientError> {
  const err = await promise.then(
    () => {
      throw new Error("expected a failure");
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ClientError);
  return err as ClientError;
}

function expectHandshakeFailed(err: ClientError, hint: RegExp): void {
  expect(err.code).toBe("SSL_HANDSHAKE_FAILED");
  expect(err.retriable).toBe(false);
  expect(err.message).toMatch(/SSL handshake with 127\.0\.0\.1:\d+ failed/);
  expect(err.message).toMatch(hint);
}

describe("client ssl", () => {
  it("connects with the CA and speaks Kafka through TLS", async () => {
    const p = await proxy(certs.server);
    const conn = await Connection.connect(p.address, { ssl: { ca: certs.ca.cert } });
    const metadata = await conn.request(3, {
      topics: null,
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
      includeClusterAuthorizedOperations: false,
    });
    expect(metadata.topics.map((t) => t.name)).toContain("tls-topic");
    await conn.close();
    const admin = new Admin({ brokers: [p.address], ssl: { ca: certs.ca.cert } });
    expect(await admin.listTopics()).toContain("tls-topic");
    await admin.close();
    expect(p.clientNames).toEqual([null, null]);
  });

  it("verifies the broker's name too: localhost by SNI", async () => {
    const p = await proxy(certs.server);
    const conn = await Connection.connect(`localhost:${p.port}`, { ssl: { ca: certs.ca.cert } });
    await conn.close();
    const err = await failure(
      Connection.connect(p.address, { ssl: { ca: certs.ca.cert, servername: "elsewhere.example" } }),
    );
    expectHandshakeFailed(err, /ERR_TLS_CERT_ALTNAME_INVALID/);
  });

  it("sends its client certificate when given one: the server sees its CN", async () => {
    const p = await proxy(certs.server, "required");
    const ssl = { ca: certs.ca.cert, cert: certs.client.cert, key: certs.client.key };
    const admin = new Admin({ brokers: [p.address], ssl });
    expect(await admin.listTopics()).toContain("tls-topic");
    await admin.close();
    expect(p.clientNames).toEqual([TEST_CLIENT_NAME]);
  });

  it("fails clearly when the broker's CA is not trusted", async () => {
    const p = await proxy(certs.otherCaServer);
    const err = await failure(Connection.connect(p.address, { ssl: { ca: certs.ca.cert } }));
    expectHandshakeFailed(err, /not signed by a CA this client trusts/);
    // Through a client's bootstrap: the same error, not a retriable NO_BROKER_AVAILABLE.
    const admin = new Admin({ brokers: [p.address], ssl: { ca: certs.ca.cert }, retry: { retries: 1 } });
    expectHandshakeFailed(await failure(admin.listTopics()), /not signed by a CA this client trusts/);
    await admin.close();
    expect(p.clientNames).toEqual([]);
  });

  it("fails clearly when the broker's certificate has expired", async () => {
    const p = await proxy(certs.expiredServer);
    const err = await failure(Connection.connect(p.address, { ssl: { ca: certs.ca.cert } }));
    expectHandshakeFailed(err, /\(CERT_HAS_EXPIRED\): the broker.s certificate has expired/);
  });

  it("fails clearly when the listener is plaintext", async () => {
    const err = await failure(Connection.connect(`127.0.0.1:${broker.port}`, { ssl: { ca: certs.ca.cert } }));
    expectHandshakeFailed(err, /is the listener plaintext\?/);
  });

  it("fails clearly when the listener wants a client certificate and none is given", async () => {
    const p = await proxy(certs.server, "required");
    const err = await failure(Connection.connect(p.address, { ssl: { ca: certs.ca.cert } }));
    expectHandshakeFailed(err, /requires a client certificate/);
  });

  it("fails clearly when the listener refuses the client certificate", async () => {
    const p = await proxy(certs.server, "required");
    const untrusted = { cert: certs.otherCaServer.cert, key: certs.otherCaServer.key };
    const err = await failure(Connection.connect(p.address, { ssl: { ca: certs.ca.cert, ...untrusted } }));
    expectHandshakeFailed(err, /it may have refused the client certificate/);
  });

  it("skips verification with rejectUnauthorized: false", async () => {
    const p = await proxy(certs.otherCaServer);
    const conn = await Connection.connect(p.address, { ssl: { rejectUnauthorized: false } });
    await conn.close();
  });

  it("takes the same options for wss:// (the WebSocket door behind TLS)", async () => {
    const p = await proxy(certs.server, "optional", broker.broker.httpPort);
    const ssl = { ca: certs.ca.cert, cert: certs.client.cert, key: certs.client.key };
    const admin = new Admin({ brokers: [`wss://127.0.0.1:${p.port}/kafka`], ssl });
    expect(await admin.listTopics()).toContain("tls-topic");
    await admin.close();
    expect(p.clientNames).toEqual([TEST_CLIENT_NAME]);
    const untrusted = await proxy(certs.otherCaServer, undefined, broker.broker.httpPort);
    const url = `wss://127.0.0.1:${untrusted.port}/kafka`;
    const err = await failure(Connection.connect(url, { ssl: { ca: certs.ca.cert } }));
    expect(err.code).toBe("SSL_HANDSHAKE_FAILED");
    expect(err.message).toMatch(/not signed by a CA this client trusts/);
  });

  it("Producer and Consumer take ssl with the other connection options", async () => {
    const ssl = { ca: certs.ca.cert };
    const producer = new Producer({ brokers: ["127.0.0.1:1"], ssl, acks: 1 });
    const consumer = new Consumer({ brokers: ["127.0.0.1:1"], ssl });
    expect(producer.cluster.options.ssl).toBe(ssl);
    expect(consumer.cluster.options.ssl).toBe(ssl);
    await Promise.all([producer.close(), consumer.close()]);
  });
});
