/**
 * Development certificates: a CA, server certificates for given hosts and client certificates
 * for given names, signed by that CA, as PEM (docs/decisions/0034). For `samsa security
 * dev-certs` and the tests' TLS helpers; never for production, where a real CA signs.
 *
 * Keys are RSA 2048 made by node:crypto, private keys PKCS#8 PEM (`BEGIN PRIVATE KEY`: what
 * Java's PEM key stores, librdkafka and Node all read); node-forge builds and signs the X.509
 * certificates, which node:crypto cannot.
 */
import { generateKeyPair, randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { isIP } from "node:net";
import type * as Forge from "node-forge";
import { invalid } from "../client/errors.js";

// node-forge ships CommonJS only, with no default export for TypeScript's NodeNext resolution.
const forge = createRequire(import.meta.url)("node-forge") as typeof Forge;

/** A certificate and its private key, both PEM. */
export interface CertificatePair {
  cert: string;
  key: string;
}

/** A certificate authority that can sign: its PEM pair, and its name for the issuer field. */
export interface DevCa extends CertificatePair {
  /** The CA's subject common name. */
  name: string;
}

/**
 * When a certificate is valid: from `notBefore` (default now, less a minute of clock skew) for
 * `days`. A `notBefore` more than `days` ago makes a certificate that has already expired.
 */
export interface Validity {
  days?: number;
  notBefore?: Date;
}

/** Days a development certificate is valid by default. */
export const DEFAULT_DAYS = 365;
/** Hosts a server certificate names by default. */
export const DEFAULT_HOSTS: readonly string[] = ["localhost", "127.0.0.1"];

const RSA_BITS = 2048;
const CLOCK_SKEW_MS = 60_000;
const DAY_MS = 86_400_000;
/** Longest validity accepted: 100 years keeps notAfter inside X.509's GeneralizedTime. */
export const MAX_DAYS_VALID = 36_500;
const SAN_DNS = 2;
const SAN_IP = 7;

/** A DNS name: labels of letters, digits and hyphens, optionally a leading `*.` wildcard. */
const DNS_NAME =
  /^(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
/** A client name: it becomes a file name (client-<name>.pem), so no separators or leading dot. */
const CLIENT_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$/;

/** Makes a self-signed CA (basicConstraints CA, path length 0: it signs leaves only). */
export async function makeCa(validity: Validity = {}, name = defaultCaName()): Promise<DevCa> {
  const keys = await rsaKeys();
  const cert = newCertificate(keys.publicPem, validity);
  const subject = [{ name: "commonName", value: name }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, pathLenConstraint: 0, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keys.privatePem), forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: keys.privatePem, name };
}

/**
 * A server certificate for `hosts` (subjectAltName: IP entries for IP literals, DNS entries for
 * the others; the subject's CN is the first host), signed by `ca`; usable as a client
 * certificate as well, as a Kafka broker's keystore entry is (inter-broker TLS).
 */
export async function makeServerCert(
  ca: DevCa,
  hosts: readonly string[] = DEFAULT_HOSTS,
  validity: Validity = {},
): Promise<CertificatePair> {
  const altNames = hosts.map(altName);
  if (altNames.length === 0) throw invalid("a server certificate needs at least one host");
  return makeLeaf(ca, hosts[0], validity, [
    // clientAuth too: a broker presents it to its peers' listeners when they ask for certificates.
    { name: "extKeyUsage", serverAuth: true, clientAuth: true },
    { name: "subjectAltName", altNames },
  ]);
}

/** A client certificate with subject CN=<name> (the broker's mTLS principal), signed by `ca`. */
export async function makeClientCert(
  ca: DevCa,
  name: string,
  validity: Validity = {},
): Promise<CertificatePair> {
  checkClientName(name);
  return makeLeaf(ca, name, validity, [{ name: "extKeyUsage", clientAuth: true }]);
}

/** What is wrong with `name` as a client certificate's name (it is also a file name), or null. */
export function clientNameProblem(name: string): string | null {
  return CLIENT_NAME.test(name)
    ? null
    : `expected letters, digits, '.', '_' or '-' (up to 64), got "${name}"`;
}

/** What is wrong with `host` as a server certificate's subjectAltName, or null. */
export function hostProblem(host: string): string | null {
  if (isIP(host) !== 0 || (host.length <= 253 && DNS_NAME.test(host))) return null;
  return `expected a DNS name or an IP address, got "${host}"`;
}

function checkClientName(name: string): void {
  const problem = clientNameProblem(name);
  if (problem) throw invalid(`client name: ${problem}`);
}

function altName(host: string): { type: number; value?: string; ip?: string } {
  const problem = hostProblem(host);
  if (problem) throw invalid(`host: ${problem}`);
  return isIP(host) !== 0 ? { type: SAN_IP, ip: host } : { type: SAN_DNS, value: host };
}

async function makeLeaf(
  ca: DevCa,
  commonName: string,
  validity: Validity,
  extensions: object[],
): Promise<CertificatePair> {
  const keys = await rsaKeys();
  const caCert = forge.pki.certificateFromPem(ca.cert);
  const cert = newCertificate(keys.publicPem, validity);
  cert.setSubject([{ name: "commonName", value: commonName }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: "basicConstraints", cA: false, critical: true },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    ...extensions,
    { name: "subjectKeyIdentifier" },
    { name: "authorityKeyIdentifier", keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(ca.key), forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: keys.privatePem };
}

/** A certificate with a random positive 128-bit serial, the public key and the validity set. */
function newCertificate(publicPem: string, validity: Validity): Forge.pki.Certificate {
  const days = validity.days ?? DEFAULT_DAYS;
  if (!Number.isInteger(days) || days < 1 || days > MAX_DAYS_VALID)
    throw invalid(`days ${days}: expected a whole number from 1 to ${MAX_DAYS_VALID}`);
  const from = validity.notBefore ?? new Date(Date.now() - CLOCK_SKEW_MS);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicPem);
  const serial = randomBytes(16);
  serial[0] &= 0x7f;
  cert.serialNumber = serial.toString("hex");
  cert.validity.notBefore = from;
  cert.validity.notAfter = new Date(from.getTime() + days * DAY_MS);
  return cert;
}

async function rsaKeys(): Promise<{ publicPem: string; privatePem: string }> {
  return new Promise((resolve, reject) =>
    generateKeyPair(
      "rsa",
      {
        modulusLength: RSA_BITS,
        publicKeyEncoding: { type: "spki", format: "pem" },
        privateKeyEncoding: { type: "pkcs8", format: "pem" },
      },
      (err, publicPem, privatePem) => (err ? reject(err) : resolve({ publicPem, privatePem })),
    ),
  );
}

/** A CA name unique to this CA, so two development CAs are never taken for one another. */
function defaultCaName(): string {
  return `samsa development CA ${randomBytes(4).toString("hex")}`;
}
