/**
 * How this broker connects to its peers' inter-broker listener (issue 15): with that listener's
 * security protocol, as Kafka's brokers do. Every broker of a cluster names the same
 * inter-broker listener, and a registration's `host:port` is its endpoint.
 *
 * - SSL and SASL_SSL: TLS, the peer's certificate checked against `ssl.ca.location` (the
 *   system's CAs when unset) and the registered host; the broker presents its own certificate
 *   (`ssl.certificate.location`, `ssl.key.location`) when its listeners ask clients for one
 *   (`ssl.client.auth` requested or required: every broker of a cluster is configured alike).
 * - SASL_PLAINTEXT and SASL_SSL: SASL with `sasl.mechanism.inter.broker.protocol` and the
 *   username and password of `sasl.jaas.config` (net/listeners.ts `interBrokerSasl`).
 *
 * The files are read at each connect, so renewed certificates are used by new connections as the
 * listeners use them.
 */
import { readFileSync } from "node:fs";
import type * as tls from "node:tls";
import type { ConnectionOptions } from "../../client/connection.js";
import type { BrokerConfig } from "../config.js";
import { brokerListeners, interBrokerListener, interBrokerSasl, usesTls } from "../net/listeners.js";

/** What a connection to a peer adds to its options. */
export type PeerSecurity = Pick<ConnectionOptions, "ssl" | "sasl">;

/** The options of each new connection to a peer, by `config` (see the file comment). */
export function peerSecurity(config: BrokerConfig): () => PeerSecurity {
  const inter = interBrokerListener(config, brokerListeners(config));
  const sasl = interBrokerSasl(config, inter);
  const tlsOn = usesTls(inter.securityProtocol);
  const presentCertificate = config.sslClientAuth !== "none";
  return () => {
    const out: PeerSecurity = {};
    if (sasl) out.sasl = { mechanism: sasl.mechanism, username: sasl.username, password: sasl.password };
    if (tlsOn) {
      const ssl: tls.ConnectionOptions = {};
      if (config.sslCaLocation !== "") ssl.ca = readFileSync(config.sslCaLocation);
      if (presentCertificate) {
        ssl.cert = readFileSync(config.sslCertificateLocation);
        ssl.key = readFileSync(config.sslKeyLocation);
      }
      out.ssl = ssl;
    }
    return out;
  };
}
