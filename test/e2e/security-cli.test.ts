/**
 * `samsa security dev-certs` as a user runs it (files written, certificates that verify against
 * the CA with node:crypto, SANs and CNs as asked, keys that match and are private, one-line
 * refusals of bad flags), the certificate maker's validity (an expired certificate), and the
 * global TLS flags of the client commands against a TLS listener (test/helpers/tls-proxy.ts in
 * front of an in-process broker).
 */
import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeCa, makeServerCert } from "../../cli/certs.js";
import { Admin } from "../../client/admin.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { type TestCerts, testCerts } from "../helpers/certs.js";
import { type CliRun, runSamsa } from "../helpers/cli.js";
import { TlsProxy } from "../helpers/tls-proxy.js";

const DAY_MS = 86_400_000;
let scratch: string;

beforeAll(() => {
  scratch = mkdtempSync(path.join(tmpdir(), "samsa-security-cli-"));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function devCerts(args: string[]): Promise<CliRun> {
  return runSamsa(["security", "dev-certs", ...args], { brokers: null });
}

function cert(dir: string, name: string): X509Certificate {
  return new X509Certificate(readFileSync(path.join(dir, name)));
}

/** Exit 1 with one line on stderr matching `what`. */
function expectRefused(r: CliRun, what: RegExp): void {
  expect(r.status, r.stderr).toBe(1);
  expect(r.stderr.trim().split("\n")).toEqual([expect.stringMatching(what)]);
}

describe("samsa security dev-certs", () => {
  it("writes a CA, a server certificate and client certificates that verify against it", async () => {
    const out = path.join(scratch, "certs");
    const r = await devCerts(
      ["--out", out, "--hosts", "localhost,127.0.0.1,broker-1.internal,::1"].concat([
        "--client",
        "alice",
        "--client",
        "bob",
        "--days",
        "30",
      ]),
    );
    expect(r.status, r.stderr).toBe(0);
    const names = ["ca.pem", "ca-key.pem", "server.pem", "server-key.pem"].concat([
      "client-alice.pem",
      "client-alice-key.pem",
      "client-bob.pem",
      "client-bob-key.pem",
    ]);
    for (const name of names) expect(r.stdout).toContain(`wrote ${path.join(out, name)} (`);
    expect(r.stdout.trim().split("\n").at(-1)).toMatch(
      /^use: .*--tls-ca \S+ca\.pem --tls-cert \S+client-alice\.pem/,
    );

    const ca = cert(out, "ca.pem");
    expect(ca.ca).toBe(true);
    expect(ca.verify(ca.publicKey)).toBe(true);
    const server = cert(out, "server.pem");
    expect(server.checkIssued(ca) && server.verify(ca.publicKey)).toBe(true);
    expect(server.ca).toBe(false);
    expect(server.subjectAltName?.split(", ")).toEqual([
      "DNS:localhost",
      "IP Address:127.0.0.1",
      "DNS:broker-1.internal",
      "IP Address:0:0:0:0:0:0:0:1",
    ]);
    expect(server.checkHost("broker-1.internal")).toBe("broker-1.internal");
    expect(server.checkIP("127.0.0.1")).toBe("127.0.0.1");
    const days = (Date.parse(server.validTo) - Date.parse(server.validFrom)) / DAY_MS;
    expect(days).toBe(30);
    expect(Date.parse(server.validFrom)).toBeLessThanOrEqual(Date.now());
    for (const client of ["alice", "bob"]) {
      const c = cert(out, `client-${client}.pem`);
      expect(c.subject).toBe(`CN=${client}`);
      expect(c.checkIssued(ca) && c.verify(ca.publicKey)).toBe(true);
      expect(c.keyUsage).toEqual(["1.3.6.1.5.5.7.3.2"]);
      expect(c.checkPrivateKey(createKey(out, `client-${client}-key.pem`))).toBe(true);
    }
    // serverAuth and clientAuth: a broker presents it to its peers (inter-broker mTLS).
    expect(server.keyUsage).toEqual(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]);
    expect(server.checkPrivateKey(createKey(out, "server-key.pem"))).toBe(true);
    expect(ca.checkPrivateKey(createKey(out, "ca-key.pem"))).toBe(true);
    for (const key of names.filter((n) => n.endsWith("-key.pem")))
      expect(statSync(path.join(out, key)).mode & 0o777, key).toBe(0o600);
  });

  it("defaults to localhost and 127.0.0.1 for a year, and refuses to overwrite without --force", async () => {
    const out = path.join(scratch, "defaults");
    expect((await devCerts(["--out", out])).status).toBe(0);
    const server = cert(out, "server.pem");
    expect(server.subjectAltName).toBe("DNS:localhost, IP Address:127.0.0.1");
    expect((Date.parse(server.validTo) - Date.parse(server.validFrom)) / DAY_MS).toBe(365);
    expect(existsSync(path.join(out, "client-.pem"))).toBe(false);
    const before = readFileSync(path.join(out, "ca.pem"), "utf8");
    expectRefused(await devCerts(["--out", out]), /^samsa: \S+ca\.pem exists \(--force replaces it\)$/);
    expect(readFileSync(path.join(out, "ca.pem"), "utf8")).toBe(before);
    chmodSync(path.join(out, "ca-key.pem"), 0o644);
    expect((await devCerts(["--out", out, "--force"])).status).toBe(0);
    expect(readFileSync(path.join(out, "ca.pem"), "utf8")).not.toBe(before);
    expect(statSync(path.join(out, "ca-key.pem")).mode & 0o777).toBe(0o600);
  });

  it("refuses bad flags in one line with exit 1, writing nothing", async () => {
    const out = path.join(scratch, "refused");
    const cases: [string[], RegExp][] = [
      [
        ["--hosts", "localhost,bad host"],
        /^samsa: --hosts localhost,bad host: expected a DNS name or an IP address, got "bad host"$/,
      ],
      [["--hosts", ""], /^samsa: --hosts : expected a DNS name/],
      [["--hosts", "a..b"], /^samsa: --hosts a\.\.b: expected a DNS name/],
      [["--client", "../etc/x"], /^samsa: --client \.\.\/etc\/x: expected letters, digits/],
      [["--client", "a", "--client", "a"], /^samsa: --client: a name is given twice$/],
      [["--days", "0"], /^samsa: --days 0: expected a whole number from 1/],
      [["--days", "abc"], /^samsa: --days abc: expected a whole number from 1/],
      [["--days", "36501"], /^samsa: --days 36501: at most 36500$/],
    ];
    for (const [args, what] of cases) expectRefused(await devCerts(["--out", out, ...args]), what);
    expect(existsSync(out)).toBe(false);
    const noOut = await devCerts([]);
    expect(noOut.status).toBe(1);
    expect(noOut.stderr).toContain("required option '--out <dir>' not specified");
  });
});

describe("certificate validity", () => {
  it("makes a certificate that has already expired, and one valid from now", async () => {
    const ca = await makeCa();
    const caCert = new X509Certificate(ca.cert);
    const expired = new X509Certificate(
      (await makeServerCert(ca, ["localhost"], { notBefore: new Date(Date.now() - 3 * DAY_MS), days: 1 }))
        .cert,
    );
    expect(Date.parse(expired.validTo)).toBeLessThan(Date.now());
    expect(expired.verify(caCert.publicKey)).toBe(true);
    const fresh = new X509Certificate((await makeServerCert(ca, ["localhost"], { days: 2 })).cert);
    expect(Date.parse(fresh.validTo)).toBeGreaterThan(Date.now() + DAY_MS);
    await expect(makeServerCert(ca, ["localhost"], { days: 0 })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
    await expect(makeServerCert(ca, [])).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
  });
});

describe("TLS flags of the client commands", () => {
  let broker: TestBroker;
  let certs: TestCerts;
  let trusted: TlsProxy;
  let mutual: TlsProxy;
  let untrusted: TlsProxy;

  beforeAll(async () => {
    [broker, certs] = await Promise.all([startTestBroker(), testCerts()]);
    const admin = new Admin({ brokers: [`127.0.0.1:${broker.port}`] });
    await admin.createTopics([{ name: "over-tls", partitions: 1 }]);
    await admin.close();
    const target = { targetPort: broker.port };
    [trusted, mutual, untrusted] = await Promise.all([
      TlsProxy.start({ ...certs.server, ...target }),
      TlsProxy.start({ ...certs.server, ca: certs.ca.cert, requireClientCert: true, ...target }),
      TlsProxy.start({ ...certs.otherCaServer, ...target }),
    ]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([trusted, mutual, untrusted].map((p) => p?.stop()));
    await broker?.stop();
  });

  function topicList(proxy: TlsProxy, flags: string[]): Promise<CliRun> {
    return runSamsa([...flags, "topic", "list"], { brokers: proxy.address });
  }

  it("--tls-ca reaches a TLS listener; --tls-cert and --tls-key show the client's CN", async () => {
    const r = await topicList(trusted, ["--tls-ca", certs.caFile]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("over-tls\t1");
    const m = await topicList(
      mutual,
      ["--tls-ca", certs.caFile, "--tls-cert", certs.client.certFile].concat([
        "--tls-key",
        certs.client.keyFile,
      ]),
    );
    expect(m.status, m.stderr).toBe(0);
    expect(mutual.clientNames).toEqual(["test-client"]);
  });

  it("--tls-insecure skips verification; without it an unknown CA fails in one line", async () => {
    const r = await topicList(untrusted, ["--tls-insecure"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("over-tls");
    expectRefused(
      await topicList(untrusted, ["--tls-ca", certs.caFile]),
      /^samsa: SSL_HANDSHAKE_FAILED: SSL handshake with 127\.0\.0\.1:\d+ failed: .*not signed by a CA this client trusts/,
    );
    expectRefused(await topicList(trusted, []), /^samsa: (NO_BROKER_AVAILABLE|CONNECTION_CLOSED)/);
  });

  it("refuses a certificate without its key, and a file it cannot read", async () => {
    expectRefused(
      await topicList(trusted, ["--tls-cert", certs.client.certFile]),
      /^samsa: --tls-cert needs --tls-key$/,
    );
    const missing = path.join(scratch, "missing.pem");
    expectRefused(
      await topicList(trusted, ["--tls-ca", missing]),
      /^samsa: --tls-ca \S+missing\.pem: ENOENT/,
    );
  });
});

/** The private key in `dir/name`, which must be PKCS#8 PEM. */
function createKey(dir: string, name: string): KeyObject {
  const pem = readFileSync(path.join(dir, name), "utf8");
  expect(pem.startsWith("-----BEGIN PRIVATE KEY-----")).toBe(true);
  return createPrivateKey(pem);
}
