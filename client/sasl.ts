/**
 * SASL authentication of one client connection, as Kafka's clients do it: after ApiVersions,
 * SaslHandshake v1 names the mechanism, then SaslAuthenticate requests (KIP-152) carry PLAIN's
 * one message or SCRAM's client-first and client-final; the server's final SCRAM message is
 * verified, so a broker that does not know the credential cannot pass for one that does.
 *
 * A broker may answer SaslAuthenticate v1+ with a session lifetime (KIP-368): the session then
 * re-authenticates on the same connection at a random point between 85% and 95% of it, as Kafka's
 * clients do. New requests wait meanwhile (`paused`); requests already sent are answered as usual.
 * A failed re-authentication closes the connection, and the requests waiting get its error.
 *
 * Every failure is a non-retriable KafkaError: SASL_AUTHENTICATION_FAILED (with the broker's
 * ErrorMessage), UNSUPPORTED_SASL_MECHANISM (naming the mechanisms the broker offers),
 * ILLEGAL_SASL_STATE (a broker whose listener does not take SASL), UNACCEPTABLE_CREDENTIAL (a
 * PLAIN name or password that cannot be sent).
 */
import { type ErrorName, KafkaError } from "../protocol/errors.js";
import { encodePlain } from "../protocol/sasl/plain.js";
import { ScramClient, type ScramMechanismName } from "../protocol/sasl/scram.js";
import type { ApiKey, RequestOf, ResponseOf } from "../protocol/types/index.js";
import { brokerError, describe, invalid } from "./errors.js";

/** API keys of the two SASL requests. */
export const SASL_HANDSHAKE = 17;
export const SASL_AUTHENTICATE = 36;

/** SaslHandshake v0 means raw SASL frames after it, which this client does not speak. */
const HANDSHAKE_MIN_VERSION = 1;

/** Kafka's clients re-authenticate at a random point in this share of the session lifetime. */
const REAUTH_AT_MIN = 0.85;
const REAUTH_AT_MAX = 0.95;

/** A mechanism as the `sasl` option names it (upper case accepted too). */
export type SaslMechanism = "plain" | "scram-sha-256" | "scram-sha-512";

/** The `sasl` option of the client's connection options. */
export interface SaslOptions {
  mechanism: SaslMechanism | Uppercase<SaslMechanism>;
  username: string;
  password: string;
}

type MechanismName = "PLAIN" | ScramMechanismName;
const MECHANISMS: readonly MechanismName[] = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"];

/** Codes of the errors that authentication raises: no other broker or attempt will do better. */
const AUTHENTICATION_ERRORS = new Set<ErrorName>([
  "SASL_AUTHENTICATION_FAILED",
  "UNSUPPORTED_SASL_MECHANISM",
  "ILLEGAL_SASL_STATE",
  "UNACCEPTABLE_CREDENTIAL",
]);

/** Whether `err` is a failure of SASL authentication (see the file comment). */
export function isAuthenticationError(err: unknown): err is KafkaError {
  return KafkaError.is(err) && AUTHENTICATION_ERRORS.has(err.code);
}

/**
 * Checks a `sasl` option; throws an INVALID_ARGUMENT ClientError naming the field that is wrong.
 * Returns the mechanism's SASL name (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512).
 */
export function checkSaslOptions(sasl: unknown): MechanismName {
  if (typeof sasl !== "object" || sasl === null)
    throw invalid(`sasl must be an object, got ${describe(sasl)}`);
  const { mechanism, username, password } = sasl as Record<string, unknown>;
  const name = typeof mechanism === "string" ? mechanism.toUpperCase() : "";
  if (!MECHANISMS.includes(name as MechanismName)) {
    throw invalid(`sasl.mechanism must be plain, scram-sha-256 or scram-sha-512, got ${describe(mechanism)}`);
  }
  if (typeof username !== "string" || username.length === 0) {
    throw invalid(`sasl.username must be a non-empty string, got ${describe(username)}`);
  }
  if (typeof password !== "string")
    throw invalid(`sasl.password must be a string, got ${describe(password)}`);
  return name as MechanismName;
}

/** What the exchange needs of its connection (client/connection.ts provides it). */
export interface SaslChannel {
  readonly address: string;
  /** The version of `apiKey` both sides speak; throws UNSUPPORTED_VERSION when there is none. */
  versionFor(apiKey: number): number;
  /** Sends at once, ahead of the requests that `paused` holds back. */
  send<K extends ApiKey>(apiKey: K, version: number, body: RequestOf<K>): Promise<ResponseOf<K>>;
  /** Closes the connection (after a failed re-authentication). */
  close(): void;
}

/**
 * The SASL session of one connection: `authenticate()` once when it opens; re-authentication
 * follows by itself whenever the broker grants a limited session.
 */
export class SaslSession {
  private readonly mechanism: MechanismName;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Set while a re-authentication runs: new requests wait for it (and get its failure). */
  paused: Promise<void> | undefined;

  constructor(
    private readonly options: SaslOptions,
    private readonly channel: SaslChannel,
  ) {
    this.mechanism = checkSaslOptions(options);
  }

  /**
   * Runs the exchange; resolves once the broker accepted it, and schedules the re-authentication
   * when it gave a session lifetime. Rejects with one of the KafkaErrors of the file comment.
   */
  async authenticate(): Promise<void> {
    const startedMs = Date.now();
    const lifetimeMs = await this.exchange();
    // Counted from before the exchange: the broker's clock for the session starts later.
    if (lifetimeMs > 0 && !this.stopped) {
      const share = REAUTH_AT_MIN + Math.random() * (REAUTH_AT_MAX - REAUTH_AT_MIN);
      const delayMs = Math.max(0, startedMs + lifetimeMs * share - Date.now());
      this.timer = setTimeout(() => this.reauthenticate(), delayMs);
      this.timer.unref();
    }
  }

  /** Ends the session's timer: the connection closed. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private reauthenticate(): void {
    if (this.stopped) return;
    const running = this.authenticate();
    this.paused = running;
    running.then(
      () => {
        if (this.paused === running) this.paused = undefined;
      },
      () => this.channel.close(),
    );
  }

  /** Handshake and authentication; resolves to the session lifetime the broker gave (0: none). */
  private async exchange(): Promise<number> {
    await this.handshake();
    const version = this.channel.versionFor(SASL_AUTHENTICATE);
    const { username, password } = this.options;
    if (this.mechanism === "PLAIN") {
      const answer = await this.step(version, encodePlain({ username, password }));
      return answer.sessionLifetimeMs ?? 0;
    }
    const scram = new ScramClient(this.mechanism, username, password);
    const serverFirst = await this.step(version, scram.firstMessage());
    const serverFinal = await this.step(version, await scram.finalMessage(serverFirst.authBytes));
    scram.verifyServerFinal(serverFinal.authBytes);
    return serverFinal.sessionLifetimeMs ?? 0;
  }

  private async handshake(): Promise<void> {
    const { address } = this.channel;
    let version: number;
    try {
      version = this.channel.versionFor(SASL_HANDSHAKE);
    } catch {
      throw new KafkaError(
        "ILLEGAL_SASL_STATE",
        `broker ${address} does not serve SaslHandshake: no SASL there`,
      );
    }
    if (version < HANDSHAKE_MIN_VERSION) {
      throw new KafkaError(
        "ILLEGAL_SASL_STATE",
        `broker ${address} serves only SaslHandshake v0 (raw SASL frames)`,
      );
    }
    const answer = await this.channel.send(SASL_HANDSHAKE, version, { mechanism: this.mechanism });
    if (answer.errorCode === 0) return;
    const offered = answer.mechanisms.length > 0 ? answer.mechanisms.join(", ") : "none";
    const refused = brokerError(answer.errorCode, `SaslHandshake to ${address}`);
    if (refused.code !== "UNSUPPORTED_SASL_MECHANISM") throw refused;
    throw new KafkaError(
      "UNSUPPORTED_SASL_MECHANISM",
      `broker ${address} does not offer SASL mechanism ${this.mechanism}; it offers ${offered}`,
    );
  }

  /** One SaslAuthenticate round trip; throws the broker's error with its ErrorMessage. */
  private async step(version: number, authBytes: Buffer) {
    const answer = await this.channel.send(SASL_AUTHENTICATE, version, { authBytes });
    if (answer.errorCode !== 0) {
      const what = `SASL/${this.mechanism} authentication to ${this.channel.address}`;
      throw brokerError(answer.errorCode, what, answer.errorMessage);
    }
    return answer;
  }
}
