/**
 * What the client commands share: the broker list (-b or SAMSA_BROKERS), TLS (--tls...), SASL
 * (--user, --password, --sasl-mechanism),
 * config pairs from -c, encodings, and buffered stdout.
 */
import { readFileSync } from "node:fs";
import type { ConnectionOptions as TlsOptions } from "node:tls";
import type { Command } from "commander";
import type { SaslOptions } from "../../client/index.js";

export function brokersOf(cmd: Command): string[] {
  const opts = cmd.optsWithGlobals() as { brokers?: string };
  return parseBrokers(opts.brokers);
}

/** The global TLS flags, as commander gives them. */
export interface TlsFlags {
  tls?: boolean;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsInsecure?: boolean;
}

/** The global SASL flags (rpk's names), as commander gives them. */
export interface SaslFlags {
  user?: string;
  password?: string;
  saslMechanism?: string;
}

const SASL_MECHANISM_FLAGS = ["plain", "scram-sha-256", "scram-sha-512"] as const;

/**
 * The client's `sasl` option for --user, --password (or SAMSA_PASSWORD, kept out of the process
 * list) and --sasl-mechanism (default SCRAM-SHA-256), or undefined without --user.
 */
export function saslOf(flags: SaslFlags, env: NodeJS.ProcessEnv = process.env): SaslOptions | undefined {
  const password = flags.password ?? env.SAMSA_PASSWORD;
  if (flags.user === undefined) {
    if (flags.password !== undefined || flags.saslMechanism !== undefined)
      throw new Error("--password and --sasl-mechanism need --user");
    return undefined;
  }
  if (password === undefined) throw new Error("--user needs --password (or SAMSA_PASSWORD)");
  const mechanism = (flags.saslMechanism ?? "scram-sha-256").toLowerCase();
  if (!(SASL_MECHANISM_FLAGS as readonly string[]).includes(mechanism))
    throw new Error(
      `--sasl-mechanism ${flags.saslMechanism}: expected one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512`,
    );
  return { mechanism: mechanism as SaslOptions["mechanism"], username: flags.user, password };
}

/**
 * What every client command connects with: the brokers, `ssl` when a TLS flag is given (any of
 * them turns TLS on, as in rpk), and `sasl` with --user.
 */
export function connectionOf(cmd: Command): { brokers: string[]; ssl?: TlsOptions; sasl?: SaslOptions } {
  const brokers = brokersOf(cmd);
  const flags = cmd.optsWithGlobals() as TlsFlags & SaslFlags;
  const ssl = tlsOf(flags);
  const sasl = saslOf(flags);
  return { brokers, ...(ssl ? { ssl } : {}), ...(sasl ? { sasl } : {}) };
}

/**
 * The client's `ssl` option for the TLS flags, or undefined without any: --tls-ca replaces the
 * system's CAs, --tls-cert and --tls-key (both or neither) are the client's certificate,
 * --tls-insecure skips verifying the broker.
 */
export function tlsOf(
  flags: TlsFlags,
  read: (file: string) => Buffer = readFileSync,
): TlsOptions | undefined {
  const { tls, tlsCa, tlsCert, tlsKey, tlsInsecure } = flags;
  if (!tls && tlsCa === undefined && tlsCert === undefined && tlsKey === undefined && !tlsInsecure)
    return undefined;
  if ((tlsCert === undefined) !== (tlsKey === undefined))
    throw new Error(tlsCert === undefined ? "--tls-key needs --tls-cert" : "--tls-cert needs --tls-key");
  const ssl: TlsOptions = {};
  if (tlsCa !== undefined) ssl.ca = readFlagFile("--tls-ca", tlsCa, read);
  if (tlsCert !== undefined) ssl.cert = readFlagFile("--tls-cert", tlsCert, read);
  if (tlsKey !== undefined) ssl.key = readFlagFile("--tls-key", tlsKey, read);
  if (tlsInsecure) ssl.rejectUnauthorized = false;
  return ssl;
}

function readFlagFile(flag: string, file: string, read: (file: string) => Buffer): Buffer {
  try {
    return read(file);
  } catch (err) {
    throw new Error(`${flag} ${file}: ${(err as Error).message}`);
  }
}

/** Parses `key=value` pairs (repeatable options). */
export function pairs(values: string[] | undefined, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values ?? []) {
    const eq = v.indexOf("=");
    if (eq <= 0) throw new Error(`${what} ${v}: expected key=value`);
    out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return out;
}

/** `value` as a whole number of at least `min`, or an error naming the flag. */
export function wholeNumber(flag: string, value: string, min: number, expected: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min) {
    throw new Error(`${flag} ${value}: expected ${expected}`);
  }
  return n;
}

/** `value` as a whole number of at least 1, or an error naming the flag. */
export function positiveInt(flag: string, value: string): number {
  return wholeNumber(flag, value, 1, "a positive integer");
}

/** A partition index or broker id: a whole number of at least 0. */
export function nonNegativeInt(flag: string, value: string): number {
  return wholeNumber(flag, value, 0, "a non-negative integer");
}

/** A comma-separated list of distinct broker ids (`2,3,4`). */
export function brokerIds(flag: string, value: string): number[] {
  const ids = value.split(",").map((id) => {
    if (id.trim() === "") throw new Error(`${flag} ${value}: expected broker ids like 2,3,4`);
    return nonNegativeInt(flag, id);
  });
  if (new Set(ids).size !== ids.length) throw new Error(`${flag} ${value}: a broker id is given twice`);
  return ids;
}

export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Unescapes \n, \t, \r, \\ and \xHH in a delimiter or format given on the command line. */
export function unescapeArg(s: string): string {
  return s.replace(/\\(x[0-9a-fA-F]{2}|n|t|r|\\)/g, (_, e: string) => {
    if (e === "n") return "\n";
    if (e === "t") return "\t";
    if (e === "r") return "\r";
    if (e === "\\") return "\\";
    return String.fromCharCode(Number.parseInt(e.slice(1), 16));
  });
}

/** Kafka's port, taken for a broker given without one (`-b host`), as kcat and rpk do. */
export const DEFAULT_KAFKA_PORT = 9092;

/**
 * `host` -> `host:9092`; `[::1]` or a bare IPv6 address -> `[::1]:9092`; `host:port`,
 * `[v6]:port` and `ws://` URLs are kept.
 */
export function withDefaultPort(address: string): string {
  if (/^wss?:\/\//i.test(address)) return address;
  if (address.startsWith("[")) return /\]:\d+$/.test(address) ? address : `${address}:${DEFAULT_KAFKA_PORT}`;
  const colons = address.split(":").length - 1;
  if (colons === 0) return `${address}:${DEFAULT_KAFKA_PORT}`;
  if (colons > 1) return `[${address}]:${DEFAULT_KAFKA_PORT}`;
  return address;
}

/** The bootstrap list: `-b`, else `SAMSA_BROKERS`, else localhost:9092; hosts without a port get 9092. */
export function parseBrokers(value: string | undefined, env = process.env.SAMSA_BROKERS): string[] {
  const list = (value ?? env ?? `localhost:${DEFAULT_KAFKA_PORT}`)
    .split(",")
    .map((b) => b.trim())
    .filter((b) => b.length > 0)
    .map(withDefaultPort);
  if (list.length === 0) throw new Error("no broker given: -b host[:port][,...] or SAMSA_BROKERS");
  return list;
}

/** How keys and values are written in JSON and read from produce's input. */
export type Encoding = "utf8" | "base64" | "hex";
export const ENCODINGS: readonly Encoding[] = ["utf8", "base64", "hex"];

export function parseEncoding(value: string): Encoding {
  if (!(ENCODINGS as readonly string[]).includes(value))
    throw new Error(`--encoding ${value}: expected ${ENCODINGS.join(", ")}`);
  return value as Encoding;
}

/**
 * Buffered, drain-aware stdout: the records of one fetched batch are gathered and written in one
 * write by `flush()`, which waits while the pipe is full, so a slow reader (`| less`) holds the
 * consumer back instead of its memory growing.
 */
export class Output {
  private parts: Buffer[] = [];
  private bytes = 0;

  constructor(private readonly stream: NodeJS.WritableStream = process.stdout) {}

  push(b: Buffer): void {
    this.parts.push(b);
    this.bytes += b.length;
  }

  async flush(): Promise<void> {
    if (this.bytes === 0) return;
    const chunk = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.bytes);
    this.parts = [];
    this.bytes = 0;
    if (!this.stream.write(chunk)) await new Promise<void>((resolve) => this.stream.once("drain", resolve));
  }
}

/** Runs `fn` with an Admin on the command's brokers (the client loaded only now), closed after. */
export async function withAdmin<T>(
  cmd: Command,
  fn: (admin: import("../../client/admin.js").Admin) => Promise<T>,
): Promise<T> {
  const { Admin } = await import("../../client/admin.js");
  const admin = new Admin({ ...connectionOf(cmd), retry: { retries: 2 } });
  try {
    return await fn(admin);
  } finally {
    await admin.close();
  }
}
