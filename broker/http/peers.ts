/**
 * The HTTP routes' way to ask another broker of the cluster a Kafka API (the console's overview:
 * offsets and log sizes of the partitions that broker leads). One connection per peer, opened on
 * first use over the inter-broker listener with its security (cluster/peer-security.ts) and kept
 * while the HTTP server runs: at most one per registered broker. A peer's request runs as this
 * broker's principal, so a route asks a peer only what the request's principal was already
 * allowed to learn here (topics its Metadata listed; the cluster's log directories only when it
 * may DESCRIBE the cluster). A failed or timed-out request drops the connection; the next one
 * reconnects.
 */
import { Connection } from "../../client/connection.js";
import { KafkaError } from "../../protocol/errors.js";
import type { ApiKey, RequestOf, ResponseOf } from "../../protocol/types/index.js";
import type { Broker } from "../broker.js";
import { hostPort } from "../cluster/peer-fencer.js";
import { peerSecurity } from "../cluster/peer-security.js";
import type { BrokerRegistration } from "../metadata/cluster.js";

/** How long a peer has to connect, and to answer one request. */
export const PEER_QUERY_TIMEOUT_MS = 3000;

interface PeerConnection {
  key: string;
  connecting: Promise<Connection>;
}

const byBroker = new WeakMap<Broker, PeerQueries>();

/** The broker's peer connections for HTTP routes, made on first use. */
export function peerQueries(broker: Broker): PeerQueries {
  let peers = byBroker.get(broker);
  if (!peers) {
    peers = new PeerQueries(broker);
    byBroker.set(broker, peers);
  }
  return peers;
}

/** Closes `server`'s broker's peer connections (the HTTP server's onClose). */
export function closePeerQueries(server: { broker: Broker }): void {
  byBroker.get(server.broker)?.close();
  byBroker.delete(server.broker);
}

export class PeerQueries {
  private readonly conns = new Map<number, PeerConnection>();
  private readonly security: ReturnType<typeof peerSecurity>;
  private closed = false;

  constructor(private readonly broker: Broker) {
    this.security = peerSecurity(broker.config);
  }

  /** Sends `body` to broker `nodeId` at `version`; throws BROKER_NOT_AVAILABLE when it is not registered. */
  async send<K extends ApiKey>(
    nodeId: number,
    apiKey: K,
    version: number,
    body: RequestOf<K>,
  ): Promise<ResponseOf<K>> {
    const registration = this.broker.store.broker(nodeId);
    if (!registration || this.closed)
      throw new KafkaError("BROKER_NOT_AVAILABLE", `broker ${nodeId} is not registered`);
    const conn = await this.connection(registration);
    try {
      return await conn.send(apiKey, version, body, PEER_QUERY_TIMEOUT_MS);
    } catch (err) {
      this.drop(nodeId);
      throw err;
    }
  }

  private async connection(registration: BrokerRegistration): Promise<Connection> {
    const address = hostPort(registration.host, registration.port);
    const key = `${registration.epoch}@${address}`;
    let entry = this.conns.get(registration.nodeId);
    if (entry?.key !== key) {
      this.drop(registration.nodeId);
      entry = {
        key,
        connecting: Connection.connect(address, {
          ...this.security(),
          clientId: `samsa-broker-${this.broker.config.nodeId}-http`,
          connectTimeoutMs: PEER_QUERY_TIMEOUT_MS,
          requestTimeoutMs: PEER_QUERY_TIMEOUT_MS,
        }),
      };
      this.conns.set(registration.nodeId, entry);
    }
    const mine = entry;
    try {
      const conn = await mine.connecting;
      if (!conn.closed) return conn;
    } catch (err) {
      if (this.conns.get(registration.nodeId) === mine) this.conns.delete(registration.nodeId);
      throw err;
    }
    this.drop(registration.nodeId);
    throw new KafkaError("BROKER_NOT_AVAILABLE", `connection to broker ${registration.nodeId} closed`);
  }

  private drop(nodeId: number): void {
    const entry = this.conns.get(nodeId);
    if (!entry) return;
    this.conns.delete(nodeId);
    entry.connecting.then(
      (conn) => void conn.close().catch(() => {}),
      () => {},
    );
  }

  /** Closes every connection; later sends fail. */
  close(): void {
    this.closed = true;
    for (const nodeId of [...this.conns.keys()]) this.drop(nodeId);
  }
}

/**
 * A connection of the caller's own to broker `nodeId` over the inter-broker listener (with its
 * security, as the shared ones): for requests that may wait long (a REST consumer's JoinGroup or
 * Fetch) and so must not share a connection, whose answers come back in order. The caller closes it.
 */
export function ownPeerConnection(broker: Broker, nodeId: number, clientId: string): Promise<Connection> {
  const registration = broker.store.broker(nodeId);
  if (!registration)
    return Promise.reject(new KafkaError("BROKER_NOT_AVAILABLE", `broker ${nodeId} is not registered`));
  return Connection.connect(hostPort(registration.host, registration.port), {
    ...peerSecurity(broker.config)(),
    clientId,
    connectTimeoutMs: PEER_QUERY_TIMEOUT_MS,
    requestTimeoutMs: PEER_QUERY_TIMEOUT_MS,
  });
}
