/**
 * The broker's Kafka listeners, as Kafka names them: `listeners=NAME://host:port,...`, each name
 * mapped to a security protocol by `listener.security.protocol.map` (PLAINTEXT, SSL,
 * SASL_PLAINTEXT, SASL_SSL), `advertised.listeners` for what clients are told, and
 * `inter.broker.listener.name` for the one other brokers use.
 *
 * With `listeners` unset the broker has one PLAINTEXT listener on `host:kafka.port`, advertised
 * as `advertised.host` (the configuration before listeners existed). An empty host in
 * `NAME://:port` binds `host`. Every problem is INVALID_CONFIG naming the key and the value.
 */
import { KafkaError } from "../../protocol/errors.js";
import type { BrokerConfig } from "../config.js";
import { type JaasCredentials, parseJaasConfig } from "../security/jaas.js";

export const SECURITY_PROTOCOLS = ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] as const;
export type SecurityProtocol = (typeof SECURITY_PROTOCOLS)[number];

/** SASL mechanisms the broker serves. */
export const SASL_MECHANISMS = ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

export interface ListenerSpec {
  name: string;
  securityProtocol: SecurityProtocol;
  /** Where it binds. Port 0: any free port (the bound one is advertised unless one is given). */
  host: string;
  port: number;
  /** What clients are told (advertised.listeners, else host as advertised.host and the bound port). */
  advertisedHost: string;
  /** null: the bound port. */
  advertisedPort: number | null;
}

/** Whether a listener takes TLS connections. */
export function usesTls(protocol: SecurityProtocol): boolean {
  return protocol === "SSL" || protocol === "SASL_SSL";
}

/** Whether a listener's clients authenticate with SASL before anything else. */
export function usesSasl(protocol: SecurityProtocol): boolean {
  return protocol === "SASL_PLAINTEXT" || protocol === "SASL_SSL";
}

function invalid(key: string, value: string, why: string): KafkaError {
  return new KafkaError("INVALID_CONFIG", `${key}=${value}: ${why}`);
}

const LISTENER_RE = /^([A-Za-z0-9_-]+):\/\/(\[[0-9A-Fa-f:.]+\]|[^:/\s]*):(\d+)$/;

interface Endpoint {
  name: string;
  host: string;
  port: number;
}

/** Parses `NAME://host:port,...` (names upper-cased, distinct). */
export function parseEndpoints(key: string, value: string): Endpoint[] {
  const out: Endpoint[] = [];
  for (const part of value.split(",").map((p) => p.trim())) {
    if (part === "") continue;
    const m = LISTENER_RE.exec(part);
    if (!m) throw invalid(key, value, `"${part}" is not NAME://host:port`);
    const port = Number(m[3]);
    if (port > 65_535) throw invalid(key, value, `port ${port} is out of range`);
    const name = m[1].toUpperCase();
    if (out.some((e) => e.name === name)) throw invalid(key, value, `listener ${name} is named twice`);
    out.push({ name, host: m[2].replace(/^\[|\]$/g, ""), port });
  }
  return out;
}

/** Parses `listener.security.protocol.map`: NAME:PROTOCOL,... */
export function parseProtocolMap(value: string): Map<string, SecurityProtocol> {
  const key = "listener.security.protocol.map";
  const map = new Map<string, SecurityProtocol>();
  for (const part of value.split(",").map((p) => p.trim())) {
    if (part === "") continue;
    const [name, protocol, extra] = part.split(":");
    const upper = (protocol ?? "").toUpperCase();
    if (!name || extra !== undefined || !(SECURITY_PROTOCOLS as readonly string[]).includes(upper))
      throw invalid(key, value, `"${part}" is not NAME:PROTOCOL (${SECURITY_PROTOCOLS.join(", ")})`);
    map.set(name.toUpperCase(), upper as SecurityProtocol);
  }
  return map;
}

/** The enabled SASL mechanisms (sasl.enabled.mechanisms), upper-cased, in the order given. */
export function saslMechanisms(config: Pick<BrokerConfig, "saslEnabledMechanisms">): SaslMechanism[] {
  const value = config.saslEnabledMechanisms;
  const out: SaslMechanism[] = [];
  for (const part of value.split(",").map((p) => p.trim().toUpperCase())) {
    if (part === "") continue;
    if (!(SASL_MECHANISMS as readonly string[]).includes(part))
      throw invalid("sasl.enabled.mechanisms", value, `${part} is not one of ${SASL_MECHANISMS.join(", ")}`);
    if (!out.includes(part as SaslMechanism)) out.push(part as SaslMechanism);
  }
  return out;
}

/** Every listener of `config`, the inter-broker one marked by `interBrokerListener`. */
export function brokerListeners(config: BrokerConfig): ListenerSpec[] {
  if (config.listeners.trim() === "") {
    if (config.advertisedListeners.trim() !== "")
      throw invalid("advertised.listeners", config.advertisedListeners, "needs listeners");
    return [
      {
        name: "PLAINTEXT",
        securityProtocol: "PLAINTEXT",
        host: config.host,
        port: config.kafkaPort,
        advertisedHost: config.advertisedHost,
        advertisedPort: null,
      },
    ];
  }
  const protocols = parseProtocolMap(config.listenerSecurityProtocolMap);
  const advertised = parseEndpoints("advertised.listeners", config.advertisedListeners);
  const listeners = parseEndpoints("listeners", config.listeners).map((e): ListenerSpec => {
    const securityProtocol = protocols.get(e.name);
    if (!securityProtocol)
      throw invalid("listeners", config.listeners, `${e.name} has no listener.security.protocol.map entry`);
    const host = e.host === "" ? config.host : e.host;
    const ad = advertised.find((a) => a.name === e.name);
    const fallbackHost = host === "0.0.0.0" || host === "::" ? config.advertisedHost : host;
    return {
      name: e.name,
      securityProtocol,
      host,
      port: e.port,
      advertisedHost: ad && ad.host !== "" ? ad.host : fallbackHost,
      advertisedPort: ad ? ad.port : null,
    };
  });
  for (const a of advertised) {
    if (!listeners.some((l) => l.name === a.name))
      throw invalid("advertised.listeners", config.advertisedListeners, `${a.name} is not a listener`);
  }
  if (listeners.length === 0) throw invalid("listeners", config.listeners, "names no listener");
  checkSecurity(config, listeners);
  return listeners;
}

/** The listener other brokers connect to. */
export function interBrokerListener(config: BrokerConfig, listeners: ListenerSpec[]): ListenerSpec {
  const name = config.interBrokerListenerName.trim().toUpperCase();
  if (name === "") return listeners[0];
  const found = listeners.find((l) => l.name === name);
  if (!found)
    throw invalid(
      "inter.broker.listener.name",
      config.interBrokerListenerName,
      "is not one of the listeners",
    );
  return found;
}

/** TLS listeners need a certificate and key; SASL listeners an enabled mechanism. */
function checkSecurity(config: BrokerConfig, listeners: ListenerSpec[]): void {
  const tls = listeners.find((l) => usesTls(l.securityProtocol));
  if (tls && (config.sslCertificateLocation === "" || config.sslKeyLocation === "")) {
    throw invalid(
      "listeners",
      config.listeners,
      `${tls.name} (${tls.securityProtocol}) needs ssl.certificate.location and ssl.key.location`,
    );
  }
  if (tls && config.sslClientAuth !== "none" && config.sslCaLocation === "") {
    throw invalid(
      "ssl.client.auth",
      config.sslClientAuth,
      "needs ssl.ca.location to check client certificates",
    );
  }
  const sasl = listeners.find((l) => usesSasl(l.securityProtocol));
  if (sasl && saslMechanisms(config).length === 0)
    throw invalid("sasl.enabled.mechanisms", config.saslEnabledMechanisms, `${sasl.name} needs a mechanism`);
}

/** How this broker logs in to its peers' SASL inter-broker listener. */
export interface InterBrokerSasl extends JaasCredentials {
  mechanism: SaslMechanism;
}

/**
 * The broker's own SASL login for the inter-broker listener `inter`, or null when that listener
 * takes no SASL or the broker has no peers (no `cluster`): `sasl.mechanism.inter.broker.protocol`
 * (empty: the first of `sasl.enabled.mechanisms`; it must be one of them, as Kafka requires) and
 * the username and password of `sasl.jaas.config`, which a cluster's SASL inter-broker listener
 * requires. A given `sasl.jaas.config` is checked even when unused, so a mistake shows at load.
 */
export function interBrokerSasl(
  config: Pick<
    BrokerConfig,
    "cluster" | "saslEnabledMechanisms" | "saslMechanismInterBrokerProtocol" | "saslJaasConfig"
  >,
  inter: ListenerSpec,
): InterBrokerSasl | null {
  const login = config.saslJaasConfig.trim() === "" ? null : parseJaasConfig(config.saslJaasConfig);
  if (!usesSasl(inter.securityProtocol) || config.cluster === "") return null;
  const enabled = saslMechanisms(config);
  const named = config.saslMechanismInterBrokerProtocol;
  const mechanism = named === "" ? enabled[0] : enabled.find((m) => m === named);
  if (!mechanism)
    throw invalid(
      "sasl.mechanism.inter.broker.protocol",
      named,
      `is not one of sasl.enabled.mechanisms (${enabled.join(", ")})`,
    );
  if (!login)
    throw new KafkaError(
      "INVALID_CONFIG",
      `sasl.jaas.config: the inter-broker listener ${inter.name} (${inter.securityProtocol}) needs the broker's username and password (org.apache.kafka.common.security.scram.ScramLoginModule required username="..." password="...";)`,
    );
  return { mechanism, ...login };
}
