/**
 * Who is asking, on the HTTP port (issue 15; docs/decisions/0036). With authentication on
 * (http.authentication=basic, or auto and a Kafka listener is SASL_PLAINTEXT or SASL_SSL) every
 * request but those of OPEN_ROUTES carries HTTP Basic credentials (RFC 7617) of a user with a
 * SCRAM credential in the store, checked as SASL PLAIN checks them (security/sasl-exchange.ts):
 * the request's principal is then `User:<name>`, and its Kafka handlers check that principal's
 * ACLs. Else 401 UNAUTHORIZED with `WWW-Authenticate: Basic realm="samsa"`; wrong credentials are
 * answered after connection.failed.authentication.delay.ms and logged at warn level, as a failed
 * Kafka login is. With authentication off every request is User:ANONYMOUS.
 *
 * A browser cannot put an Authorization header on a WebSocket upgrade, so the WebSocket routes
 * also take credentials inside: `/kafka` is open at the HTTP level and its connections
 * authenticate with SASL frames, as a SASL listener's do (kafka-ws.ts); the live tail's upgrade
 * without an Authorization header is let through, and the tail waits for a first text message
 * `{"username", "password"}` (`principalOf`), closing 4401 when it is wrong or does not come
 * within CREDENTIALS_MESSAGE_TIMEOUT_MS. An upgrade that carries Basic credentials is checked
 * before the upgrade, as any request is.
 *
 * A verified password is remembered for AUTH_CACHE_TTL_MS (PBKDF2 takes milliseconds per
 * request): by user, as an HMAC under a key made at start (the password itself is never kept),
 * together with the credential it matched; a hit requires the user's stored credential to be
 * unchanged, so a changed or deleted credential takes effect at the next request.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Logger } from "pino";
import type { ScramCredential, ScramMechanismName } from "../../protocol/sasl/scram.js";
import type { BrokerConfig } from "../config.js";
import { type ListenerSpec, usesSasl } from "../net/listeners.js";
import { type CredentialLookup, verifyPassword } from "../security/sasl-exchange.js";
import { HttpError } from "./errors.js";

/** The routes served without credentials: liveness, readiness, and the Kafka door (SASL inside). */
export const OPEN_ROUTES: ReadonlySet<string> = new Set(["/health", "/ready", "/kafka"]);

/** The live tail's route, whose upgrade may leave its credentials to its first message. */
export const TAIL_ROUTE = "/ws/topics/:topic";
/** How long an upgraded live tail waits for its credentials message. */
export const CREDENTIALS_MESSAGE_TIMEOUT_MS = 10_000;
/** The longest credentials message read. */
const CREDENTIALS_MESSAGE_MAX_BYTES = 4096;

/** The challenge a 401 carries. */
export const BASIC_CHALLENGE = 'Basic realm="samsa", charset="UTF-8"';

/** How long a verified password is remembered. */
export const AUTH_CACHE_TTL_MS = 60_000;
/** Users remembered at once; the oldest verification is forgotten first. */
export const AUTH_CACHE_MAX_USERS = 1024;
/** The longest Authorization header read (a user name and password of a few hundred bytes each). */
const AUTHORIZATION_MAX_CHARS = 4096;

/** Whether the HTTP port asks for credentials under `config` (http.authentication). */
export function httpAuthenticationOn(
  config: Pick<BrokerConfig, "httpAuthentication">,
  listeners: readonly Pick<ListenerSpec, "securityProtocol">[],
): boolean {
  if (config.httpAuthentication === "auto") return listeners.some((l) => usesSasl(l.securityProtocol));
  return config.httpAuthentication === "basic";
}

/** Whether `request` is a live-tail upgrade without credentials, which it may send as its first message. */
export function credentialsInside(request: FastifyRequest): boolean {
  return (
    request.routeOptions.url === TAIL_ROUTE &&
    request.headers.upgrade !== undefined &&
    request.headers.authorization === undefined
  );
}

export interface BasicCredentials {
  username: string;
  password: string;
}

/**
 * The credentials of an Authorization header: null when there is none or it is not Basic; throws
 * UNAUTHORIZED for a Basic header that does not decode to `user:password`.
 */
export function parseBasic(header: string | undefined): BasicCredentials | null {
  if (header === undefined || !/^Basic /i.test(header)) return null;
  const match =
    header.length > AUTHORIZATION_MAX_CHARS ? null : /^Basic +([A-Za-z0-9+/]+=*) *$/i.exec(header);
  if (!match) throw HttpError.http("UNAUTHORIZED", "malformed Basic credentials");
  const text = Buffer.from(match[1], "base64").toString("utf8");
  const colon = text.indexOf(":");
  if (colon <= 0) throw HttpError.http("UNAUTHORIZED", "malformed Basic credentials");
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** `{"username": "...", "password": "..."}` as credentials, or null. */
function credentialsOf(message: Buffer): BasicCredentials | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(message.toString("utf8"));
  } catch {
    return null;
  }
  const { username, password } = (parsed ?? {}) as Record<string, unknown>;
  if (typeof username !== "string" || typeof password !== "string" || username === "") return null;
  return { username, password };
}

interface Remembered {
  digest: Buffer;
  mechanism: ScramMechanismName;
  credential: ScramCredential;
  expiresAtMs: number;
}

function sameCredential(a: ScramCredential, b: ScramCredential | undefined): boolean {
  return (
    b !== undefined &&
    a.iterations === b.iterations &&
    a.salt.equals(b.salt) &&
    a.storedKey.equals(b.storedKey) &&
    a.serverKey.equals(b.serverKey)
  );
}

/** Passwords verified recently, by user: see the file's comment. */
export class VerifiedPasswords {
  private readonly key = randomBytes(32);
  private readonly users = new Map<string, Remembered>();

  constructor(
    private readonly lookup: CredentialLookup,
    private readonly now: () => number = Date.now,
  ) {}

  private digest(username: string, password: string): Buffer {
    return createHmac("sha256", this.key).update(username).update("\0").update(password).digest();
  }

  /** Whether `password` was verified for `username` lately and the user's credential is unchanged. */
  has(username: string, password: string): boolean {
    const entry = this.users.get(username);
    if (!entry) return false;
    if (
      this.now() >= entry.expiresAtMs ||
      !sameCredential(entry.credential, this.lookup(username, entry.mechanism))
    ) {
      this.users.delete(username);
      return false;
    }
    return timingSafeEqual(entry.digest, this.digest(username, password));
  }

  remember(
    username: string,
    password: string,
    mechanism: ScramMechanismName,
    credential: ScramCredential,
  ): void {
    this.users.delete(username);
    if (this.users.size >= AUTH_CACHE_MAX_USERS) this.users.delete(this.users.keys().next().value as string);
    this.users.set(username, {
      digest: this.digest(username, password),
      mechanism,
      credential,
      expiresAtMs: this.now() + AUTH_CACHE_TTL_MS,
    });
  }

  get size(): number {
    return this.users.size;
  }
}

/** The HTTP port's Basic authentication over the store's SCRAM credentials. */
export class HttpAuthenticator {
  private readonly verified: VerifiedPasswords;

  constructor(
    private readonly lookup: CredentialLookup,
    private readonly failedDelayMs: number,
    private readonly log: Logger,
  ) {
    this.verified = new VerifiedPasswords(lookup);
  }

  /**
   * The principal of `request` (an onRequest hook), or null when it answered 401 itself: no
   * credentials at once, wrong ones after the failed-login delay.
   */
  async principal(request: FastifyRequest, reply: FastifyReply): Promise<string | null> {
    let credentials: BasicCredentials | null;
    try {
      credentials = parseBasic(request.headers.authorization);
    } catch (err) {
      return this.refuse(request, reply, err as HttpError);
    }
    if (credentials === null) {
      const err = HttpError.http("UNAUTHORIZED", "this broker asks for HTTP Basic credentials");
      return this.challenge(reply, err);
    }
    if (await this.check(credentials)) return `User:${credentials.username}`;
    return this.refuse(
      request,
      reply,
      HttpError.http("UNAUTHORIZED", "Authentication failed: Invalid username or password"),
    );
  }

  /**
   * The principal of a credentials message (`{"username": ..., "password": ...}`, the live tail's
   * first message), or null after the failed-login delay when it is malformed or wrong.
   */
  async principalOf(message: Buffer, peer: string): Promise<string | null> {
    const credentials = message.length <= CREDENTIALS_MESSAGE_MAX_BYTES ? credentialsOf(message) : null;
    if (credentials && (await this.check(credentials))) return `User:${credentials.username}`;
    this.log.warn({ peer, route: TAIL_ROUTE }, "WebSocket authentication failed");
    await this.delay();
    return null;
  }

  /** Whether the credentials are a user's (remembered, or verified now and remembered). */
  async check({ username, password }: BasicCredentials): Promise<boolean> {
    if (this.verified.has(username, password)) return true;
    const match = await verifyPassword(this.lookup, username, password);
    if (!match) return false;
    this.verified.remember(username, password, match.mechanism, match.credential);
    return true;
  }

  private async refuse(request: FastifyRequest, reply: FastifyReply, err: HttpError): Promise<null> {
    this.log.warn(
      { peer: request.ip, method: request.method, url: request.url.split("?")[0] },
      "HTTP authentication failed",
    );
    await this.delay();
    return this.challenge(reply, err);
  }

  private async delay(): Promise<void> {
    if (this.failedDelayMs > 0) await new Promise((r) => setTimeout(r, this.failedDelayMs));
  }

  private challenge(reply: FastifyReply, err: HttpError): null {
    reply.code(err.statusCode).header("WWW-Authenticate", BASIC_CHALLENGE).send(err.body);
    return null;
  }
}
