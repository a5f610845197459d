/**
 * `PeerFencer`: fast detection of a crashed peer broker (decision 0033). A broker connecting to a
 * peer's registered Kafka listener (a replica fetcher to its leader, the controller channel to
 * the controller) and refused (ECONNREFUSED: the host answered, nothing listens on the port)
 * knows the process behind that registration is gone: it asks the store to end the registration
 * at once (`ClusterStore.fenceBroker`) instead of waiting out the session timeout, so the
 * controller moves its leaderships within moments of a `kill -9`.
 *
 * Only a refusal counts: a timeout, a reset or a closed connection may be a slow or partitioned
 * peer that is still alive, and those wait for the session timeout as before. The refusal must
 * come from the address the current registration advertises, so a broker restarted elsewhere is
 * not fenced for its old address, and each registration is fenced at most once.
 */
import * as net from "node:net";
import type { Logger } from "pino";
import type { ClusterStore } from "../metadata/cluster.js";

/** Registrations remembered as fenced before the memory is cleared (a bound, not a contract). */
const FENCED_REMEMBERED_MAX = 1024;
/** How long a probe's connect may take before it is given up (proving nothing). */
const PROBE_TIMEOUT_MS = 5000;
/**
 * A probe that connects is repeated this many times, this far apart: a process killed with -9
 * closes its descriptors one by one, and the connection the leader saw close may go before the
 * listener does, so a probe sent at once can still be accepted by a broker that is dying.
 */
const PROBE_REPEATS = 3;
const PROBE_REPEAT_MS = 300;

/** Told that connecting to broker `nodeId` at `address` failed with `err`. */
export type ConnectFailed = (nodeId: number, address: string, err: unknown) => void;

export class PeerFencer {
  /** `nodeId@epoch` of the registrations asked to end. */
  private readonly fenced = new Set<string>();
  /** Nodes with a probe under way. */
  private readonly probing = new Set<number>();

  constructor(
    private readonly store: ClusterStore,
    private readonly localId: number,
    private readonly logger?: Logger,
  ) {}

  /** A connection to `nodeId` at `address` failed with `err`: fences it when `err` is a refusal. */
  readonly connectFailed: ConnectFailed = (nodeId, address, err) => {
    if (nodeId === this.localId || !refused(err)) return;
    const registration = this.store.broker(nodeId);
    if (!registration || hostPort(registration.host, registration.port) !== address) return;
    const key = `${nodeId}@${registration.epoch}`;
    if (this.fenced.has(key)) return;
    if (this.fenced.size >= FENCED_REMEMBERED_MAX) this.fenced.clear();
    this.fenced.add(key);
    this.logger?.warn(
      { nodeId, brokerEpoch: registration.epoch, address },
      "peer broker refuses connections; ending its registration",
    );
    this.store.fenceBroker(nodeId, registration.epoch).then(
      (ended) => this.logger?.info({ nodeId, brokerEpoch: registration.epoch, ended }, "peer broker fenced"),
      (fenceErr: unknown) => {
        this.fenced.delete(key);
        this.logger?.warn({ err: fenceErr, nodeId }, "fencing a peer broker failed");
      },
    );
  };

  /**
   * Connects to `nodeId`'s registered listener and lets go at once; a refusal fences it, an
   * accepted connection is tried again PROBE_REPEATS times. For a
   * leader whose follower's fetch connection closed: the leader holds no connection of its own to
   * the follower, and a dead follower would otherwise hold acks=all writes until its session
   * timeout or replica.lag.time.max.ms.
   */
  probe(nodeId: number, repeatsLeft = PROBE_REPEATS): void {
    const registration = this.store.broker(nodeId);
    if (!registration || nodeId === this.localId || this.probing.has(nodeId)) return;
    const address = hostPort(registration.host, registration.port);
    this.probing.add(nodeId);
    const socket = net.connect({ host: registration.host, port: registration.port });
    let accepted = false;
    socket.setTimeout(PROBE_TIMEOUT_MS, () => socket.destroy());
    socket.once("connect", () => {
      accepted = true;
      socket.destroy();
    });
    socket.once("error", (err) => this.connectFailed(nodeId, address, err));
    socket.once("close", () => {
      this.probing.delete(nodeId);
      if (accepted && repeatsLeft > 0)
        setTimeout(() => this.probe(nodeId, repeatsLeft - 1), PROBE_REPEAT_MS).unref();
    });
  }
}

/** Whether `err` (or an error it wraps) is a refused TCP connection. */
export function refused(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if ((e as NodeJS.ErrnoException).code === "ECONNREFUSED") return true;
    if (e instanceof AggregateError && e.errors.some((inner) => refused(inner))) return true;
  }
  return false;
}

/** `host:port`, the host bracketed when it is an IPv6 address. */
export function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
