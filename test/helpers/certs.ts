/**
 * TLS material for tests, made once per test process by cli/certs.ts (the maker behind
 * `samsa security dev-certs`) and written to a temporary directory named by the process, removed
 * at exit (or, for a worker that was killed, by the next test process that makes its own): a CA, a
 * server certificate for 127.0.0.1 and localhost, a client certificate (CN=test-client), an
 * expired server certificate, and a server certificate signed by another CA.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { type CertificatePair, type DevCa, makeCa, makeClientCert, makeServerCert } from "../../cli/certs.js";
import { pidExists } from "../../storage/dir-lock.js";

/** The client certificate's name: the broker would see the principal CN=test-client. */
export const TEST_CLIENT_NAME = "test-client";

const DAY_MS = 86_400_000;

/** A certificate pair with the paths of its files. */
export interface TestPair extends CertificatePair {
  certFile: string;
  keyFile: string;
}

export interface TestCerts {
  dir: string;
  /** The CA that clients trust (`ca.cert` is also at `caFile`). */
  ca: DevCa;
  caFile: string;
  /** For 127.0.0.1, ::1 and localhost, signed by `ca`. */
  server: TestPair;
  /** CN=test-client, signed by `ca`. */
  client: TestPair;
  /** Signed by `ca`, valid for a day that ended yesterday. */
  expiredServer: TestPair;
  /** For the same hosts, signed by a CA that clients do not trust. */
  otherCaServer: TestPair;
}

const HOSTS = ["127.0.0.1", "localhost", "::1"];

let made: Promise<TestCerts> | undefined;

/** The test process's certificates, made on first use (a second or so: RSA keys). */
export function testCerts(): Promise<TestCerts> {
  made ??= make();
  return made;
}

const PREFIX = "samsa-certs-";

/** Removes the certificate directories of test processes that are gone. */
function sweepDead(): void {
  for (const name of readdirSync(tmpdir())) {
    const pid = Number(name.slice(PREFIX.length));
    if (name.startsWith(PREFIX) && Number.isInteger(pid) && pid > 0 && !pidExists(pid))
      rmSync(path.join(tmpdir(), name), { recursive: true, force: true });
  }
}

async function make(): Promise<TestCerts> {
  sweepDead();
  const dir = path.join(tmpdir(), `${PREFIX}${process.pid}`);
  mkdirSync(dir, { recursive: true });
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  const [ca, otherCa] = await Promise.all([makeCa(), makeCa()]);
  const [server, client, expiredServer, otherCaServer] = await Promise.all([
    makeServerCert(ca, HOSTS),
    makeClientCert(ca, TEST_CLIENT_NAME),
    makeServerCert(ca, HOSTS, { notBefore: new Date(Date.now() - 2 * DAY_MS), days: 1 }),
    makeServerCert(otherCa, HOSTS),
  ]);
  const caFile = path.join(dir, "ca.pem");
  writeFileSync(caFile, ca.cert);
  return {
    dir,
    ca,
    caFile,
    server: write(dir, "server", server),
    client: write(dir, "client", client),
    expiredServer: write(dir, "expired-server", expiredServer),
    otherCaServer: write(dir, "other-ca-server", otherCaServer),
  };
}

function write(dir: string, name: string, pair: CertificatePair): TestPair {
  const certFile = path.join(dir, `${name}.pem`);
  const keyFile = path.join(dir, `${name}-key.pem`);
  writeFileSync(certFile, pair.cert);
  writeFileSync(keyFile, pair.key, { mode: 0o600 });
  return { ...pair, certFile, keyFile };
}
