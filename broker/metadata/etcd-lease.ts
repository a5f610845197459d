/**
 * An etcd lease held by this process: renewed every `heartbeatIntervalMs`, and given up by its
 * holder once `sessionTimeoutMs` has passed since the last renewal etcd confirmed (counted from
 * when that renewal was sent). etcd keeps the lease ceil((sessionTimeoutMs + LEASE_TTL_MARGIN_MS)
 * / 1000) seconds after it last heard a renewal, so the holder stops first, by at least the
 * margin: it never acts on a lease that etcd may already have expired and handed to someone else,
 * even with its timers running late on a loaded machine.
 */
import { performance } from "node:perf_hooks";
import type { EtcdClient } from "./etcd-client.js";
import { callListener, callListenerSoon, type ListenerFault } from "./listeners.js";

/** How much longer etcd keeps a lease than its holder trusts it (timer lateness, clock rates). */
export const LEASE_TTL_MARGIN_MS = 1000;

export interface LeaseTiming {
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
}

export class EtcdLease {
  private lastRenewedAt: number;
  private heartbeat: NodeJS.Timeout | undefined;
  private fence: NodeJS.Timeout | undefined;
  private lost = false;
  private stopped = false;
  private readonly listeners: (() => void)[] = [];

  private constructor(
    private readonly client: EtcdClient,
    readonly id: string,
    private readonly timing: LeaseTiming,
    grantSentAt: number,
    private readonly fault: ListenerFault,
  ) {
    this.lastRenewedAt = grantSentAt;
    this.armFence();
    this.scheduleHeartbeat();
  }

  /** Grants a lease and starts renewing it; a lost-listener's throw goes to `fault`. */
  static async grant(client: EtcdClient, timing: LeaseTiming, fault: ListenerFault): Promise<EtcdLease> {
    const sentAt = performance.now();
    const { id } = await client.grant(Math.ceil((timing.sessionTimeoutMs + LEASE_TTL_MARGIN_MS) / 1000));
    return new EtcdLease(client, id, timing, sentAt, fault);
  }

  /**
   * Whether the holder may still act on the lease: not lost, not stopped, and its deadline not
   * passed by the clock now. The clock is read when asked, not left to the fence timer, so after
   * an event-loop stall the I/O callbacks that run before the timers already see it expired.
   */
  get alive(): boolean {
    return !this.lost && !this.stopped && performance.now() < this.deadline;
  }

  /** When (performance.now()) the holder stops trusting the lease, unless a renewal confirms it. */
  private get deadline(): number {
    return this.lastRenewedAt + this.timing.sessionTimeoutMs;
  }

  /** `listener` runs once when the lease is lost (not when it is revoked by its holder). */
  onLost(listener: () => void): void {
    if (this.lost) callListenerSoon(listener, this.fault);
    else this.listeners.push(listener);
  }

  /** Stops renewing and revokes the lease, deleting its keys; answers etcd's revision after it. */
  async revoke(): Promise<number> {
    this.stop();
    return this.client.revoke(this.id);
  }

  /** Stops renewing without telling etcd (the lease runs out by itself). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.heartbeat);
    clearTimeout(this.fence);
  }

  private scheduleHeartbeat(): void {
    this.heartbeat = setTimeout(() => void this.renew(), this.timing.heartbeatIntervalMs);
    this.heartbeat.unref();
  }

  private async renew(): Promise<void> {
    if (!this.alive) return this.markLost();
    const sentAt = performance.now();
    const leftMs = this.deadline - sentAt;
    try {
      const ttl = await this.client.keepAlive(
        this.id,
        Math.max(1, Math.min(this.client.requestTimeoutMs, leftMs)),
      );
      if (!this.alive || ttl <= 0) return this.markLost();
      this.lastRenewedAt = sentAt;
      this.armFence();
    } catch {
      // etcd unreachable: keep trying until the fence fires.
    }
    if (this.alive) this.scheduleHeartbeat();
    else this.markLost();
  }

  private armFence(): void {
    clearTimeout(this.fence);
    const dueMs = this.deadline - performance.now();
    this.fence = setTimeout(() => this.markLost(), Math.max(0, dueMs));
    this.fence.unref();
  }

  private markLost(): void {
    if (this.lost || this.stopped) return;
    this.lost = true;
    clearTimeout(this.heartbeat);
    clearTimeout(this.fence);
    for (const listener of this.listeners.splice(0)) callListener(listener, this.fault);
  }
}
