/**
 * SASL SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677) as Kafka speaks them: credentials,
 * the server's state machine and the client's.
 *
 * The exchange: client-first (`n,,n=user,r=cnonce`), server-first (`r=cnonce+snonce,s=salt,i=n`),
 * client-final (`c=biws,r=cnonce+snonce,p=proof`), server-final (`v=signature`). Like Kafka, no
 * channel binding (only the gs2 flag "n"), no SASLprep (names and passwords are taken as UTF-8
 * as they are), and an authzid only when it equals the user name.
 *
 * The server never learns or stores a password: a credential is a salt, an iteration count,
 * StoredKey = H(HMAC(SaltedPassword, "Client Key")) and ServerKey = HMAC(SaltedPassword,
 * "Server Key"). An unknown user is answered like a known one (a salt derived from the name) and
 * fails at the proof, with the same error as a wrong password.
 */
import { createHash, createHmac, pbkdf2, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";
import { KafkaError } from "../errors.js";

/** The SCRAM mechanisms, by their SASL names. */
export type ScramMechanismName = "SCRAM-SHA-256" | "SCRAM-SHA-512";

/** Both mechanisms, in Kafka's order of codes. */
export const SCRAM_MECHANISMS: readonly ScramMechanismName[] = Object.freeze([
  "SCRAM-SHA-256",
  "SCRAM-SHA-512",
]);

/** Kafka's ScramMechanism codes, the int8 `Mechanism` of DescribeUserScramCredentials and AlterUserScramCredentials. */
export const ScramMechanism = Object.freeze({ UNKNOWN: 0, SCRAM_SHA_256: 1, SCRAM_SHA_512: 2 } as const);

/** Kafka's minimum iteration count of a stored credential (ScramMechanism.minIterations). */
export const SCRAM_MIN_ITERATIONS = 4096;

/** Kafka's maximum iteration count of a stored credential (AlterUserScramCredentials refuses more). */
export const SCRAM_MAX_ITERATIONS = 16384;

/** Bytes of a salt that `scramCredential` draws, and of the salt shown for an unknown user. */
export const SCRAM_SALT_BYTES = 32;

/** The longest SCRAM message either side accepts; real ones are a few hundred bytes. */
export const SCRAM_MESSAGE_MAX_BYTES = 4096;

/** Random bytes in a nonce (base64: 32 printable characters). */
const NONCE_BYTES = 24;

const HASHES: Readonly<Record<ScramMechanismName, { algorithm: "sha256" | "sha512"; bytes: number }>> = {
  "SCRAM-SHA-256": { algorithm: "sha256", bytes: 32 },
  "SCRAM-SHA-512": { algorithm: "sha512", bytes: 64 },
};

/** Whether `name` is one of the SCRAM mechanisms. */
export function isScramMechanism(name: string): name is ScramMechanismName {
  return name === "SCRAM-SHA-256" || name === "SCRAM-SHA-512";
}

/** The wire code of a mechanism (1 or 2). */
export function scramMechanismCode(name: ScramMechanismName): number {
  return name === "SCRAM-SHA-256" ? ScramMechanism.SCRAM_SHA_256 : ScramMechanism.SCRAM_SHA_512;
}

/** The mechanism of a wire code, or undefined for UNKNOWN (0) and codes Kafka does not define. */
export function scramMechanismName(code: number): ScramMechanismName | undefined {
  if (code === ScramMechanism.SCRAM_SHA_256) return "SCRAM-SHA-256";
  if (code === ScramMechanism.SCRAM_SHA_512) return "SCRAM-SHA-512";
  return undefined;
}

// ------------------------------------------------------------------------------------------------
// Credentials

/** What the server keeps for one user and mechanism. */
export interface ScramCredential {
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
  iterations: number;
}

function hmac(mechanism: ScramMechanismName, key: Buffer, text: string | Buffer): Buffer {
  return createHmac(HASHES[mechanism].algorithm, key).update(text).digest();
}

function hash(mechanism: ScramMechanismName, data: Buffer): Buffer {
  return createHash(HASHES[mechanism].algorithm).update(data).digest();
}

function checkIterations(iterations: number): void {
  if (!Number.isInteger(iterations) || iterations < SCRAM_MIN_ITERATIONS) {
    throw new KafkaError("UNACCEPTABLE_CREDENTIAL", "Too few iterations");
  }
  if (iterations > SCRAM_MAX_ITERATIONS)
    throw new KafkaError("UNACCEPTABLE_CREDENTIAL", "Too many iterations");
}

/** RFC 5802's SaltedPassword = Hi(password, salt, i): PBKDF2 with the mechanism's HMAC. */
export function scramSaltedPassword(
  mechanism: ScramMechanismName,
  password: string,
  salt: Buffer,
  iterations: number,
): Buffer {
  const { algorithm, bytes } = HASHES[mechanism];
  return pbkdf2Sync(Buffer.from(password, "utf8"), salt, iterations, bytes, algorithm);
}

/**
 * The stored credential of a SaltedPassword, as AlterUserScramCredentials delivers it. Throws
 * UNACCEPTABLE_CREDENTIAL for iterations outside 4096..16384 (Kafka's words: "Too few
 * iterations", "Too many iterations") or an empty salt or salted password.
 */
export function scramCredentialFromSaltedPassword(
  mechanism: ScramMechanismName,
  salt: Buffer,
  saltedPassword: Buffer,
  iterations: number,
): ScramCredential {
  checkIterations(iterations);
  if (salt.length === 0) throw new KafkaError("UNACCEPTABLE_CREDENTIAL", "Salt must not be empty");
  if (saltedPassword.length === 0) {
    throw new KafkaError("UNACCEPTABLE_CREDENTIAL", "Salted password must not be empty");
  }
  const clientKey = hmac(mechanism, saltedPassword, "Client Key");
  return {
    salt: Buffer.from(salt),
    storedKey: hash(mechanism, clientKey),
    serverKey: hmac(mechanism, saltedPassword, "Server Key"),
    iterations,
  };
}

/**
 * The stored credential of a password: PBKDF2 over `iterations` rounds (synchronous: a few
 * milliseconds at 4096), with `salt` or SCRAM_SALT_BYTES fresh random bytes. Throws
 * UNACCEPTABLE_CREDENTIAL as `scramCredentialFromSaltedPassword`.
 */
export function scramCredential(
  mechanism: ScramMechanismName,
  password: string,
  iterations: number,
  salt: Buffer = randomBytes(SCRAM_SALT_BYTES),
): ScramCredential {
  checkIterations(iterations);
  const saltedPassword = scramSaltedPassword(mechanism, password, salt, iterations);
  return scramCredentialFromSaltedPassword(mechanism, salt, saltedPassword, iterations);
}

// ------------------------------------------------------------------------------------------------
// Message syntax shared by both sides

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** RFC 5802 `printable`: %x21-7E except ",". */
const PRINTABLE = /^[\x21-\x2b\x2d-\x7e]+$/;
/** Strict base64 with padding. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** An attribute: a one-letter name (RFC 5802) or a longer alphabetic extension name (Kafka's). */
const ATTRIBUTE = /^([A-Za-z]+)=(.+)$/s;

/** Why a message was refused; kept as the `cause` of the error, for logs only. */
class Refusal extends Error {}

function text(message: Buffer): string {
  if (message.length > SCRAM_MESSAGE_MAX_BYTES) throw new Refusal("message too long");
  try {
    return utf8.decode(message);
  } catch {
    throw new Refusal("message is not UTF-8");
  }
}

/** `a=1,b=2` -> [["a", "1"], ["b", "2"]]; values are never empty. */
function attributes(part: string): [string, string][] {
  return part.split(",").map((item) => {
    const m = ATTRIBUTE.exec(item);
    if (!m) throw new Refusal(`malformed attribute "${item.slice(0, 40)}"`);
    return [m[1], m[2]];
  });
}

function required(attribute: [string, string] | undefined, name: string): string {
  if (attribute?.[0] !== name) throw new Refusal(`expected attribute ${name}`);
  return attribute[1];
}

function base64(value: string, what: string): Buffer {
  if (!BASE64.test(value)) throw new Refusal(`${what} is not base64`);
  return Buffer.from(value, "base64");
}

function nonce(value: string): string {
  if (!PRINTABLE.test(value)) throw new Refusal("nonce holds characters outside %x21-7E or ','");
  return value;
}

/** RFC 5802 saslname: "," and "=" travel as "=2C" and "=3D"; any other "=" is an error. */
function unescapeSaslName(value: string): string {
  if (/=(?!2C|3D)/.test(value) || value.includes("\0")) throw new Refusal("malformed saslname");
  return value.replace(/=2C/g, ",").replace(/=3D/g, "=");
}

function escapeSaslName(name: string): string {
  return name.replace(/=/g, "=3D").replace(/,/g, "=2C");
}

// ------------------------------------------------------------------------------------------------
// Server

/** Looks up a user's credential for a mechanism; undefined or null when there is none. */
export type ScramCredentialLookup = (
  username: string,
  mechanism: ScramMechanismName,
) => ScramCredential | null | undefined | Promise<ScramCredential | null | undefined>;

export interface ScramServerOptions {
  /**
   * Key of the salts shown to unknown users: HMAC(key, mechanism and name). Pass a persisted
   * secret so that the fake salt of a name stays the same across restarts, as a real one does;
   * by default a random key per process.
   */
  fakeSaltKey?: Buffer;
  /** Iteration count shown to unknown users: the count most real credentials have (4096). */
  fakeIterations?: number;
  /** The source of server nonces (printable, no ","): random by default; tests pass a fixed one. */
  nonce?: () => string;
}

type ServerState = "client-first" | "looking-up" | "client-final" | "complete" | "failed";

let processFakeSaltKey: Buffer | undefined;

/** The message Kafka's broker sends for any SCRAM failure: says nothing of which part was wrong. */
export function scramFailureMessage(mechanism: ScramMechanismName): string {
  return `Authentication failed during authentication due to invalid credentials with SASL mechanism ${mechanism}`;
}

/** The state kept between client-first and client-final. */
interface Exchange {
  username: string;
  /** False for an unknown user or an unusable credential: the proof then fails whatever it is. */
  known: boolean;
  credential: ScramCredential;
  gs2Header: string;
  clientFirstBare: string;
  serverFirst: string;
  nonce: string;
}

/**
 * The server side of one SCRAM exchange: feed it the client's two messages with `evaluate`; it
 * answers server-first, then server-final. A failure throws KafkaError SASL_AUTHENTICATION_FAILED
 * whose message is safe to send to the client (the reason for logs is its `cause`); an authzid
 * other than the user name is named as such, as Kafka does. A message out of turn throws
 * ILLEGAL_SASL_STATE. After any failure the exchange is over.
 */
export class ScramServer {
  private state: ServerState = "client-first";
  private exchange: Exchange | undefined;
  private readonly fakeSaltKey: Buffer;
  private readonly fakeIterations: number;
  private readonly nextNonce: () => string;

  constructor(
    readonly mechanism: ScramMechanismName,
    private readonly lookup: ScramCredentialLookup,
    options: ScramServerOptions = {},
  ) {
    processFakeSaltKey ??= randomBytes(32);
    this.fakeSaltKey = options.fakeSaltKey ?? processFakeSaltKey;
    this.fakeIterations = options.fakeIterations ?? SCRAM_MIN_ITERATIONS;
    this.nextNonce = options.nonce ?? (() => randomBytes(NONCE_BYTES).toString("base64"));
  }

  /** Whether the client has proven its password (server-final was returned). */
  get complete(): boolean {
    return this.state === "complete";
  }

  /** The authenticated user name. Throws ILLEGAL_SASL_STATE before the exchange completes. */
  get username(): string {
    if (this.state !== "complete" || !this.exchange) {
      throw new KafkaError("ILLEGAL_SASL_STATE", "SCRAM authentication has not completed");
    }
    return this.exchange.username;
  }

  /** Takes the client's next message and resolves to the server's answer. */
  async evaluate(message: Buffer): Promise<Buffer> {
    const state = this.state;
    if (state !== "client-first" && state !== "client-final") {
      // A completed exchange stays complete: the extra message is refused, not the user.
      if (state !== "complete") this.state = "failed";
      throw new KafkaError(
        "ILLEGAL_SASL_STATE",
        `Unexpected SASL/${this.mechanism} message in state ${state}`,
      );
    }
    try {
      if (state === "client-first") {
        this.state = "looking-up";
        const answer = await this.clientFirst(message);
        // A message that arrived during the lookup failed the exchange; it stays failed.
        if (this.state !== "looking-up") throw new Refusal("message during credential lookup");
        this.state = "client-final";
        return answer;
      }
      const answer = this.clientFinal(message);
      this.state = "complete";
      return answer;
    } catch (err) {
      this.state = "failed";
      this.exchange = undefined;
      if (KafkaError.is(err)) throw err;
      throw new KafkaError("SASL_AUTHENTICATION_FAILED", scramFailureMessage(this.mechanism), { cause: err });
    }
  }

  private async clientFirst(message: Buffer): Promise<Buffer> {
    const first = parseClientFirst(text(message));
    const { username } = first;
    const credential = await this.lookup(username, this.mechanism);
    const known = credential != null && this.usable(credential);
    const used = known ? credential : this.fakeCredential(username);
    const combined = first.nonce + this.serverNonce();
    const serverFirst = `r=${combined},s=${used.salt.toString("base64")},i=${used.iterations}`;
    this.exchange = { ...first, known, credential: used, serverFirst, nonce: combined };
    return Buffer.from(serverFirst, "utf8");
  }

  private clientFinal(message: Buffer): Buffer {
    const exchange = this.exchange!;
    const final = parseClientFinal(text(message), this.mechanism);
    if (final.channelBinding !== Buffer.from(exchange.gs2Header, "utf8").toString("base64")) {
      throw new Refusal("channel binding does not match the gs2 header");
    }
    // Kafka's broker takes a nonce that ends with server-first's: librdkafka sends its own nonce
    // again in front of the combined one. The proof covers the message as sent either way.
    if (!final.nonce.endsWith(exchange.nonce)) throw new Refusal("nonce does not end with server-first's");
    const authMessage = `${exchange.clientFirstBare},${exchange.serverFirst},${final.withoutProof}`;
    const { storedKey, serverKey } = exchange.credential;
    const clientSignature = hmac(this.mechanism, storedKey, authMessage);
    const clientKey = xor(final.proof, clientSignature);
    const proven = timingSafeEqual(hash(this.mechanism, clientKey), storedKey);
    if (!proven || !exchange.known) throw new Refusal(exchange.known ? "wrong proof" : "unknown user");
    const signature = hmac(this.mechanism, serverKey, authMessage);
    return Buffer.from(`v=${signature.toString("base64")}`, "utf8");
  }

  /** A stored credential the exchange can use; others are treated as an unknown user's. */
  private usable(credential: ScramCredential): boolean {
    const bytes = HASHES[this.mechanism].bytes;
    return (
      credential.salt.length > 0 &&
      credential.storedKey.length === bytes &&
      credential.serverKey.length === bytes &&
      Number.isInteger(credential.iterations) &&
      credential.iterations >= SCRAM_MIN_ITERATIONS
    );
  }

  /** The same salt for the same name every time; keys no proof can match. */
  private fakeCredential(username: string): ScramCredential {
    const bytes = HASHES[this.mechanism].bytes;
    const salt = createHmac("sha256", this.fakeSaltKey).update(`${this.mechanism}\0${username}`).digest();
    return {
      salt: salt.subarray(0, SCRAM_SALT_BYTES),
      storedKey: randomBytes(bytes),
      serverKey: randomBytes(bytes),
      iterations: this.fakeIterations,
    };
  }

  private serverNonce(): string {
    return nonce(this.nextNonce());
  }
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] ^ b[i];
  return out;
}

interface ClientFirst {
  username: string;
  gs2Header: string;
  clientFirstBare: string;
  nonce: string;
}

/** `n,[a=authzid],[m=...,]n=saslname,r=nonce[,ext=value]*`. */
function parseClientFirst(message: string): ClientFirst {
  const comma1 = message.indexOf(",");
  const comma2 = comma1 < 0 ? -1 : message.indexOf(",", comma1 + 1);
  if (comma2 < 0) throw new Refusal("no gs2 header");
  const flag = message.slice(0, comma1);
  if (flag === "y" || flag.startsWith("p=")) throw new Refusal("channel binding is not supported");
  if (flag !== "n") throw new Refusal("malformed gs2 channel binding flag");
  const authzidPart = message.slice(comma1 + 1, comma2);
  if (authzidPart !== "" && !authzidPart.startsWith("a=")) throw new Refusal("malformed authzid");
  const gs2Header = message.slice(0, comma2 + 1);
  const clientFirstBare = message.slice(comma2 + 1);
  const attrs = attributes(clientFirstBare);
  if (attrs[0]?.[0] === "m") throw new Refusal("mandatory extension is not supported");
  const username = unescapeSaslName(required(attrs[0], "n"));
  const clientNonce = nonce(required(attrs[1], "r"));
  const extensions = new Map(attrs.slice(2));
  // Kafka's "tokenauth=true" asks for delegation-token authentication, which samsa does not have.
  if (extensions.get("tokenauth")?.toLowerCase() === "true") {
    throw new Refusal("delegation tokens are not supported");
  }
  const authzid = authzidPart === "" ? "" : unescapeSaslName(authzidPart.slice(2));
  if (authzid !== "" && authzid !== username) {
    throw new KafkaError(
      "SASL_AUTHENTICATION_FAILED",
      "Authentication failed: Client requested an authorization id that is different from username",
    );
  }
  return { username, gs2Header, clientFirstBare, nonce: clientNonce };
}

interface ClientFinal {
  channelBinding: string;
  nonce: string;
  withoutProof: string;
  proof: Buffer;
}

/** `c=channel-binding,r=nonce[,ext=value]*,p=proof`. */
function parseClientFinal(message: string, mechanism: ScramMechanismName): ClientFinal {
  const at = message.lastIndexOf(",p=");
  if (at < 0) throw new Refusal("no proof");
  const withoutProof = message.slice(0, at);
  const attrs = attributes(withoutProof);
  const channelBinding = required(attrs[0], "c");
  base64(channelBinding, "channel binding");
  const finalNonce = nonce(required(attrs[1], "r"));
  const proof = base64(message.slice(at + 3), "proof");
  if (proof.length !== HASHES[mechanism].bytes) throw new Refusal("proof has the wrong length");
  return { channelBinding, nonce: finalNonce, withoutProof, proof };
}

// ------------------------------------------------------------------------------------------------
// Client

export interface ScramClientOptions {
  /** The client nonce (printable, no ","): random by default; tests pass a fixed one. */
  nonce?: string;
  /** The highest iteration count the client will compute (a bound on a hostile server's demand). */
  maxIterations?: number;
}

type ClientState = "first" | "server-first" | "server-final" | "complete" | "failed";

function clientError(reason: string): KafkaError {
  return new KafkaError("SASL_AUTHENTICATION_FAILED", `SCRAM: ${reason}`);
}

/**
 * The client side of one SCRAM exchange: `firstMessage()`, then `finalMessage(serverFirst)`, then
 * `verifyServerFinal(serverFinal)`. It checks that the server's nonce extends its own, that the
 * iteration count is within 4096..maxIterations, and that the server's signature proves it knows
 * the credential. Failures throw SASL_AUTHENTICATION_FAILED; a call out of turn ILLEGAL_SASL_STATE.
 */
export class ScramClient {
  private state: ClientState = "first";
  private readonly clientNonce: string;
  private readonly maxIterations: number;
  private clientFirstBare = "";
  private expectedSignature: Buffer | undefined;

  constructor(
    readonly mechanism: ScramMechanismName,
    private readonly user: string,
    private readonly password: string,
    options: ScramClientOptions = {},
  ) {
    this.clientNonce = options.nonce ?? randomBytes(NONCE_BYTES).toString("base64");
    if (!PRINTABLE.test(this.clientNonce)) throw clientError("nonce must be printable ASCII without ','");
    this.maxIterations = options.maxIterations ?? SCRAM_MAX_ITERATIONS;
  }

  /** client-first: `n,,n=<user>,r=<nonce>`. */
  firstMessage(): Buffer {
    this.advance("first", "server-first");
    this.clientFirstBare = `n=${escapeSaslName(this.user)},r=${this.clientNonce}`;
    return Buffer.from(`n,,${this.clientFirstBare}`, "utf8");
  }

  /** client-final for the server's first message: the proof, after PBKDF2 (off the event loop). */
  async finalMessage(serverFirst: Buffer): Promise<Buffer> {
    this.advance("server-first", "server-final");
    try {
      const first = this.parseServerFirst(serverFirst);
      const saltedPassword = await scramSaltedPasswordAsync(
        this.mechanism,
        this.password,
        first.salt,
        first.iterations,
      );
      const withoutProof = `c=biws,r=${first.nonce}`;
      const authMessage = `${this.clientFirstBare},${first.message},${withoutProof}`;
      const clientKey = hmac(this.mechanism, saltedPassword, "Client Key");
      const clientSignature = hmac(this.mechanism, hash(this.mechanism, clientKey), authMessage);
      const serverKey = hmac(this.mechanism, saltedPassword, "Server Key");
      this.expectedSignature = hmac(this.mechanism, serverKey, authMessage);
      const proof = xor(clientKey, clientSignature).toString("base64");
      return Buffer.from(`${withoutProof},p=${proof}`, "utf8");
    } catch (err) {
      throw this.fail(err);
    }
  }

  /** Checks server-final: the server's signature, or the error it reports (`e=...`). */
  verifyServerFinal(serverFinal: Buffer): void {
    this.advance("server-final", "complete");
    try {
      const attrs = attributes(text(serverFinal));
      if (attrs[0]?.[0] === "e") throw clientError(`server reported ${attrs[0][1]}`);
      const signature = base64(required(attrs[0], "v"), "server signature");
      const expected = this.expectedSignature!;
      if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) {
        throw clientError("invalid server signature");
      }
    } catch (err) {
      throw this.fail(err);
    }
  }

  private advance(from: ClientState, to: ClientState): void {
    if (this.state !== from) {
      const was = this.state;
      this.state = "failed";
      throw new KafkaError("ILLEGAL_SASL_STATE", `SCRAM client: expected state ${from}, was ${was}`);
    }
    this.state = to;
  }

  private fail(err: unknown): KafkaError {
    this.state = "failed";
    if (KafkaError.is(err)) return err;
    return clientError(err instanceof Error ? err.message : String(err));
  }

  private parseServerFirst(serverFirst: Buffer): {
    message: string;
    nonce: string;
    salt: Buffer;
    iterations: number;
  } {
    const message = text(serverFirst);
    const attrs = attributes(message);
    if (attrs[0]?.[0] === "m") throw clientError("mandatory extension is not supported");
    const serverNonce = nonce(required(attrs[0], "r"));
    if (!serverNonce.startsWith(this.clientNonce) || serverNonce.length === this.clientNonce.length) {
      throw clientError("server nonce does not extend the client nonce");
    }
    const salt = base64(required(attrs[1], "s"), "salt");
    if (salt.length === 0) throw clientError("empty salt");
    const count = required(attrs[2], "i");
    const iterations = /^[1-9][0-9]{0,9}$/.test(count) ? Number(count) : Number.NaN;
    if (!(iterations >= SCRAM_MIN_ITERATIONS && iterations <= this.maxIterations)) {
      throw clientError(
        `iteration count ${count.slice(0, 12)} outside ${SCRAM_MIN_ITERATIONS}..${this.maxIterations}`,
      );
    }
    return { message, nonce: serverNonce, salt, iterations };
  }
}

/** `scramSaltedPassword` on Node's thread pool, off the event loop. */
export function scramSaltedPasswordAsync(
  mechanism: ScramMechanismName,
  password: string,
  salt: Buffer,
  iterations: number,
): Promise<Buffer> {
  const { algorithm, bytes } = HASHES[mechanism];
  return new Promise((resolve, reject) => {
    pbkdf2(Buffer.from(password, "utf8"), salt, iterations, bytes, algorithm, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}
