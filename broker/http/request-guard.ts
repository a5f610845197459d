/**
 * Who may talk to the HTTP port, checked on every request (WebSocket upgrades included) before
 * its route runs. The port listens on loopback by default, yet any web page a browser opens can
 * send requests to it; these checks keep such pages out:
 *
 *   - Host (DNS rebinding: a page on evil.example whose name then resolves to 127.0.0.1): served
 *     only for localhost and *.localhost, IP literals (a name must be rebound; a literal cannot),
 *     the broker's `host` and `advertised.host`, and the names of http.allowed.hosts (`*`: any).
 *     Else 421 MISDIRECTED_REQUEST. A request without Host (HTTP/1.0) has nothing to rebind.
 *   - Origin (a browser names the page that sent a request; curl and the samsa client send none):
 *     admitted for pages on localhost, *.localhost, loopback addresses, `host` and
 *     `advertised.host` (any scheme and port), the origins of http.allowed.origins and of
 *     http.cors.origins (`*`: any). Else 403 FORBIDDEN: a WebSocket is refused before the upgrade,
 *     so no page elsewhere reaches /kafka or the live tail.
 *   - CORS is off unless http.cors.origins names the origin: then its requests get
 *     Access-Control-Allow-Origin, and its preflights (OPTIONS with Access-Control-Request-Method)
 *     are answered 204 (allowing the Authorization header too when the port asks for credentials).
 *     A preflight from any other origin is 403.
 */
import { isIP } from "node:net";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { BrokerConfig } from "../config.js";
import { HttpError } from "./errors.js";

/** Methods and request headers a configured CORS origin may use, and how long a preflight holds. */
const CORS_METHODS = "GET, POST, PATCH, DELETE";
const CORS_HEADERS = "Content-Type";
/** With authentication on, a configured CORS origin's pages may also send credentials. */
const CORS_HEADERS_WITH_AUTHORIZATION = "Content-Type, Authorization";
const CORS_MAX_AGE_S = 600;

/** A comma-separated config value as a set of lower-case entries; null when it holds `*`. */
function listOf(value: string, normalize: (item: string) => string = (item) => item): Set<string> | null {
  const items = value
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== "");
  return items.includes("*") ? null : new Set(items.map(normalize));
}

/** An origin as browsers send it: `https://app.example/` and `https://app.example:443` are `https://app.example`. */
function normalOrigin(origin: string): string {
  try {
    const url = new URL(origin);
    return url.origin === "null" ? origin : url.origin;
  } catch {
    return origin;
  }
}

/** The host name of a Host header value (`name[:port]`, `[v6]:port`), lower-case, no trailing dot. */
export function hostName(host: string): string {
  const h = host.trim().toLowerCase();
  let name = h;
  if (h.startsWith("[")) name = h.slice(1, h.indexOf("]") === -1 ? h.length : h.indexOf("]"));
  else if (h.indexOf(":") === h.lastIndexOf(":")) name = h.split(":")[0];
  return name.endsWith(".") ? name.slice(0, -1) : name;
}

function isLocalName(name: string): boolean {
  return name === "localhost" || name.endsWith(".localhost");
}

function isLoopbackAddress(name: string): boolean {
  return (isIP(name) === 4 && name.startsWith("127.")) || name === "::1";
}

/** The host name of an Origin header (`scheme://host[:port]`), or null when it has none (`null`). */
function originHost(origin: string): string | null {
  try {
    return hostName(new URL(origin).host);
  } catch {
    return null;
  }
}

export class RequestGuard {
  /** Host names served besides the built-in ones; null: any. */
  private readonly hosts: Set<string> | null;
  /** Origins admitted besides the built-in ones; null: any. */
  private readonly origins: Set<string> | null;
  /** Origins given CORS headers; null: any. */
  private readonly cors: Set<string> | null;
  /** The broker's own names: `host` (unless a wildcard address) and `advertised.host`. */
  private readonly ownNames: Set<string>;
  /** Request headers a CORS preflight is told it may send. */
  private readonly corsHeaders: string;

  /** `credentials`: whether the port asks for credentials (authentication.ts). */
  constructor(config: BrokerConfig, credentials = false) {
    this.corsHeaders = credentials ? CORS_HEADERS_WITH_AUTHORIZATION : CORS_HEADERS;
    this.hosts = listOf(config.httpAllowedHosts);
    this.origins = listOf(config.httpAllowedOrigins, normalOrigin);
    this.cors = listOf(config.httpCorsOrigins, normalOrigin);
    this.ownNames = new Set(
      [config.host, config.advertisedHost]
        .map(hostName)
        .filter((n) => n !== "" && n !== "0.0.0.0" && n !== "::"),
    );
  }

  hostAllowed(host: string | undefined): boolean {
    if (host === undefined || this.hosts === null) return true;
    const name = hostName(host);
    return isLocalName(name) || isIP(name) !== 0 || this.ownNames.has(name) || this.hosts.has(name);
  }

  originAllowed(origin: string | undefined): boolean {
    if (origin === undefined) return true;
    if (this.origins === null || this.corsAllowed(origin)) return true;
    const o = origin.trim().toLowerCase();
    if (this.origins.has(o)) return true;
    const name = originHost(o);
    if (name === null) return false;
    return isLocalName(name) || isLoopbackAddress(name) || this.ownNames.has(name);
  }

  corsAllowed(origin: string): boolean {
    return this.cors === null || this.cors.has(origin.trim().toLowerCase());
  }

  /** Whether any CORS origin is configured. */
  get corsOn(): boolean {
    return this.cors === null || this.cors.size > 0;
  }

  /**
   * Checks `request` (an onRequest hook): throws 421 or 403 for a refused Host or Origin, adds
   * CORS headers for a configured origin, and answers its preflight. Returns true when it
   * answered the request itself.
   */
  check(request: FastifyRequest, reply: FastifyReply): boolean {
    const { host, origin } = request.headers;
    if (!this.hostAllowed(host)) {
      throw HttpError.http("MISDIRECTED_REQUEST", `host ${host} is not served here (http.allowed.hosts)`);
    }
    if (!this.originAllowed(origin)) {
      throw HttpError.http("FORBIDDEN", `origin ${origin} is not allowed (http.allowed.origins)`);
    }
    const preflight =
      request.method === "OPTIONS" && request.headers["access-control-request-method"] !== undefined;
    if (this.corsOn) reply.header("Vary", "Origin");
    if (origin === undefined || !this.corsAllowed(origin)) {
      if (preflight)
        throw HttpError.http("FORBIDDEN", "CORS is not enabled for this origin (http.cors.origins)");
      return false;
    }
    reply.header("Access-Control-Allow-Origin", origin);
    if (!preflight) return false;
    reply
      .header("Access-Control-Allow-Methods", CORS_METHODS)
      .header("Access-Control-Allow-Headers", this.corsHeaders)
      .header("Access-Control-Max-Age", String(CORS_MAX_AGE_S))
      .code(204)
      .send();
    return true;
  }
}
