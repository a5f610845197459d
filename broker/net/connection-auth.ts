/**
 * What one Kafka connection has proved about its peer (issue 15). A connection on a SASL
 * listener starts unauthenticated: it may send only ApiVersions, SaslHandshake and
 * SaslAuthenticate, in frames of at most PRE_AUTH_MAX_FRAME_BYTES, until a SaslAuthenticate
 * succeeds; anything else closes it (as Kafka does). A TLS listener's principal is the client
 * certificate's subject when one was presented (mTLS), else ANONYMOUS; a PLAINTEXT listener's is
 * ANONYMOUS.
 *
 * Re-authentication (KIP-368): with connections.max.reauth.ms set, a SASL session expires; a
 * client that asked (SaslAuthenticate v1+) is told the lifetime and may authenticate again on
 * the same connection, as the same principal. Once expired, any request but the SASL ones
 * closes the connection.
 */
import { type SaslMechanism, type SecurityProtocol, usesSasl } from "./listeners.js";

/** Kafka's limit on frames before authentication (DESIGN.md; Kafka's CVE-2022-34917). */
export const PRE_AUTH_MAX_FRAME_BYTES = 512 * 1024;

export const ANONYMOUS = "User:ANONYMOUS";

const SASL_HANDSHAKE = 17;
const API_VERSIONS = 18;
const SASL_AUTHENTICATE = 36;

/** One SASL exchange under way: the mechanism's server side. */
export interface SaslExchange {
  mechanism: SaslMechanism;
  /** Answers one client message; resolves with the reply and, once complete, the user name. */
  evaluate(message: Buffer): Promise<{ reply: Buffer; username: string | null }>;
}

export class ConnectionAuth {
  private principalNow: string;
  private authenticatedOnce = false;
  /** The mechanism SaslHandshake chose, until its exchange completes or fails. */
  private handshake: SaslMechanism | null = null;
  private exchangeNow: SaslExchange | null = null;
  /** When the SASL session ends (ms since the epoch), or null: never. */
  private expiresAtMs: number | null = null;
  /** A failed login: the connection is answered and then closed. */
  failed = false;
  /**
   * After a SaslHandshake v0 the client sends the mechanism's messages as bare length-prefixed
   * tokens, not SaslAuthenticate requests, until the exchange completes (Kafka's v0 flow).
   */
  rawTokens = false;

  constructor(
    readonly securityProtocol: SecurityProtocol,
    /** The principal the transport proved (a client certificate's subject), if any. */
    tlsPrincipal: string | null = null,
    private readonly now: () => number = Date.now,
  ) {
    this.principalNow = tlsPrincipal ?? ANONYMOUS;
  }

  get sasl(): boolean {
    return usesSasl(this.securityProtocol);
  }

  get principal(): string {
    return this.principalNow;
  }

  /** Whether requests beyond the SASL ones may run now. */
  get authenticated(): boolean {
    if (!this.sasl) return true;
    return this.authenticatedOnce && !this.expired;
  }

  get expired(): boolean {
    return this.expiresAtMs !== null && this.now() >= this.expiresAtMs;
  }

  /** The largest frame this connection may send now. */
  maxFrameBytes(limit: number): number {
    return this.sasl && !this.authenticatedOnce ? Math.min(limit, PRE_AUTH_MAX_FRAME_BYTES) : limit;
  }

  /** Whether `apiKey` may run in the connection's present state (else the connection closes). */
  allows(apiKey: number): boolean {
    if (apiKey === SASL_HANDSHAKE || apiKey === SASL_AUTHENTICATE) return true;
    if (this.authenticated) return true;
    return apiKey === API_VERSIONS && !this.authenticatedOnce;
  }

  /** SaslHandshake chose `mechanism`; the next SaslAuthenticate begins its exchange. */
  beginHandshake(mechanism: SaslMechanism): void {
    this.handshake = mechanism;
    this.exchangeNow = null;
  }

  /** The mechanism chosen by the last SaslHandshake, or null when none is pending. */
  get pendingMechanism(): SaslMechanism | null {
    return this.handshake;
  }

  get exchange(): SaslExchange | null {
    return this.exchangeNow;
  }

  startExchange(exchange: SaslExchange): void {
    this.exchangeNow = exchange;
  }

  /**
   * The exchange completed as `principal`. Returns false (and changes nothing) on a
   * re-authentication as someone else, which Kafka refuses.
   */
  complete(principal: string, lifetimeMs: number): boolean {
    if (this.authenticatedOnce && principal !== this.principalNow) return false;
    this.principalNow = principal;
    this.authenticatedOnce = true;
    this.handshake = null;
    this.exchangeNow = null;
    this.expiresAtMs = lifetimeMs > 0 ? this.now() + lifetimeMs : null;
    this.rawTokens = false;
    return true;
  }

  /** The exchange failed: nothing more is served on this connection. */
  fail(): void {
    this.failed = true;
    this.rawTokens = false;
    this.handshake = null;
    this.exchangeNow = null;
  }
}
