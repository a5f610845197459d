/**
 * The listener keys (broker/net/listeners.ts): Kafka's `listeners`, `advertised.listeners`,
 * `listener.security.protocol.map` and `inter.broker.listener.name`, parsed once at load; every
 * mistake is one INVALID_CONFIG line naming the key. And a TLS listener's certificate reloaded
 * when its files change, without a restart.
 */
import { X509Certificate } from "node:crypto";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { Broker } from "../../broker/broker.js";
import { loadBrokerConfig } from "../../broker/config.js";
import { brokerListeners, interBrokerListener } from "../../broker/net/listeners.js";
import { makeServerCert } from "../../cli/certs.js";
import { startTestBroker } from "../helpers/broker.js";
import { testCerts } from "../helpers/certs.js";
import { waitFor } from "../helpers/wait.js";

const load = (flags: Record<string, unknown>) =>
  loadBrokerConfig({ flags: { "data.dir": "/tmp/x", ...flags } });

describe("listener keys", () => {
  it("without listeners: one PLAINTEXT listener on host:kafka.port, advertised as advertised.host", () => {
    const c = load({ host: "0.0.0.0", "kafka.port": 9999, "advertised.host": "kafka.example" });
    expect(brokerListeners(c)).toEqual([
      {
        name: "PLAINTEXT",
        securityProtocol: "PLAINTEXT",
        host: "0.0.0.0",
        port: 9999,
        advertisedHost: "kafka.example",
        advertisedPort: null,
      },
    ]);
  });

  it("named listeners with a protocol map, advertised endpoints and the inter-broker one", () => {
    const c = load({
      listeners: "internal://10.0.0.1:9092,CLIENT://:9094",
      "advertised.listeners": "CLIENT://kafka.example:19094",
      "listener.security.protocol.map": "INTERNAL:PLAINTEXT,CLIENT:SASL_PLAINTEXT",
      "inter.broker.listener.name": "internal",
    });
    const listeners = brokerListeners(c);
    expect(
      listeners.map((l) => [l.name, l.securityProtocol, l.host, l.port, l.advertisedHost, l.advertisedPort]),
    ).toEqual([
      ["INTERNAL", "PLAINTEXT", "10.0.0.1", 9092, "10.0.0.1", null],
      ["CLIENT", "SASL_PLAINTEXT", "127.0.0.1", 9094, "kafka.example", 19094],
    ]);
    expect(interBrokerListener(c, listeners).name).toBe("INTERNAL");
  });

  it.each([
    [{ listeners: "PLAINTEXT:9092" }, "listeners=PLAINTEXT:9092"],
    [{ listeners: "PLAINTEXT://:9092,PLAINTEXT://:9093" }, "named twice"],
    [{ listeners: "FOO://:9092" }, "FOO has no listener.security.protocol.map entry"],
    [{ listeners: "PLAINTEXT://:70000" }, "out of range"],
    [{ listeners: "A://:1", "listener.security.protocol.map": "A:KERBEROS" }, "is not NAME:PROTOCOL"],
    [{ listeners: "SSL://:9093" }, "needs ssl.certificate.location and ssl.key.location"],
    [{ listeners: "SASL_PLAINTEXT://:9093", "sasl.enabled.mechanisms": "GSSAPI" }, "GSSAPI is not one of"],
    [
      { listeners: "PLAINTEXT://:9092", "inter.broker.listener.name": "OTHER" },
      "is not one of the listeners",
    ],
    [{ "advertised.listeners": "PLAINTEXT://a:1" }, "needs listeners"],
    [{ listeners: "PLAINTEXT://:9092", "advertised.listeners": "SSL://a:1" }, "SSL is not a listener"],
  ])("refuses %j in one INVALID_CONFIG line", (flags, message) => {
    let error: unknown;
    try {
      load(flags);
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ code: "INVALID_CONFIG" });
    expect((error as Error).message).toContain(message);
    expect((error as Error).message).not.toContain("\n");
  });
});

/** The serial number of the certificate a TLS listener on `port` presents now. */
function presentedSerial(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ port, host: "127.0.0.1", ca, servername: "localhost" }, () => {
      resolve(socket.getPeerX509Certificate()?.serialNumber ?? "");
      socket.destroy();
    });
    socket.once("error", reject);
  });
}

describe("a TLS listener's certificate", () => {
  it("is reloaded when its files change, for new connections, without a restart", async () => {
    const certs = await testCerts();
    const dir = mkdtempSync(path.join(tmpdir(), "samsa-reload-"));
    const certFile = path.join(dir, "server.pem");
    const keyFile = path.join(dir, "server-key.pem");
    copyFileSync(certs.server.certFile, certFile);
    copyFileSync(certs.server.keyFile, keyFile);
    const tb = await startTestBroker({
      listeners: "SSL://127.0.0.1:0",
      "ssl.certificate.location": certFile,
      "ssl.key.location": keyFile,
    });
    try {
      const port = tb.broker.listenerPorts.get("SSL")!;
      const first = new X509Certificate(certs.server.cert).serialNumber;
      expect(await presentedSerial(port, certs.ca.cert)).toBe(first);
      // A renewed certificate for the same hosts from the same CA; the key first, as tools write.
      const renewed = await makeServerCert(certs.ca, ["127.0.0.1", "localhost"]);
      writeFileSync(keyFile, renewed.key);
      writeFileSync(certFile, renewed.cert);
      const second = new X509Certificate(renewed.cert).serialNumber;
      expect(second).not.toBe(first);
      await waitFor(
        async () => (await presentedSerial(port, certs.ca.cert)) === second,
        "the new certificate",
      );
    } finally {
      await tb.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("secure by default", () => {
  /** The warn lines of a broker started with `flags`. */
  async function warnings(flags: Record<string, unknown>): Promise<string[]> {
    const lines: string[] = [];
    const logger = pino(
      { level: "warn" },
      { write: (line: string) => void lines.push(JSON.parse(line).msg) },
    );
    const dataDir = mkdtempSync(path.join(tmpdir(), "samsa-open-"));
    const config = loadBrokerConfig({ flags: { "data.dir": dataDir, "http.port": 0, ...flags } });
    const broker = await Broker.start(config, { logger });
    await broker.stop();
    rmSync(dataDir, { recursive: true, force: true });
    return lines;
  }

  it("names a listener beyond loopback that takes clients without a login, and only that one", async () => {
    const open = await warnings({ host: "0.0.0.0", "kafka.port": 0 });
    expect(open.filter((l) => l.includes("without authentication"))).toHaveLength(1);
    const sasl = await warnings({ listeners: "SASL_PLAINTEXT://0.0.0.0:0,PLAINTEXT://127.0.0.1:0" });
    expect(sasl.filter((l) => l.includes("without authentication"))).toEqual([]);
    expect((await warnings({ "kafka.port": 0 })).filter((l) => l.includes("without authentication"))).toEqual(
      [],
    );
  });
});
