/**
 * Broker-wide bounds on idempotent-producer state (decision 0021):
 * - only ids the cluster handed out are accepted: an id at or beyond the metadata store's
 *   `producerIdsIssued()` gets UNKNOWN_PRODUCER_ID, so no client can invent state;
 * - `producer.id.expiration.ms`: state of a producer without a batch for that long is removed,
 *   checked every `producer.id.expiration.check.interval.ms` (Kafka's keys and defaults);
 * - KIP-936's producer-id quota: each client (principal, client id and host) may bring at most
 *   `producer.ids.rate` new producer ids per second, measured over a window of
 *   `producer.id.quota.window.num` x `producer.id.quota.window.size.seconds`; an InitProducerId or
 *   a first batch beyond it gets THROTTLING_QUOTA_EXCEEDED and a throttle time;
 * - `max.concurrent.producer.ids`: the entries of all partitions together never exceed it through
 *   this broker's own admissions; a new producer's first batch beyond it gets
 *   THROTTLING_QUOTA_EXCEEDED (after expired state is swept). State a follower copies from its
 *   leader is kept beyond it (each entry was admitted under the leader's cap; see
 *   `Partition.rememberBatch`), and counts.
 */
import { type ErrorName, KafkaError } from "../protocol/errors.js";
import type { RequestContext } from "./api/types.js";
import type { BrokerConfig } from "./config.js";
import type { ClusterStore } from "./metadata/cluster.js";
import { ProducerStateManager } from "./producer-state.js";

export interface ProducerIdLimits {
  /** producer.id.expiration.ms */
  expirationMs: number;
  /** max.concurrent.producer.ids: producer-state entries of all partitions together. */
  maxEntries: number;
  /** producer.ids.rate: new producer ids per second per client. */
  idsPerSecond: number;
  /** producer.id.quota.window.num x producer.id.quota.window.size.seconds, in ms. */
  quotaWindowMs: number;
}

/** Clients whose quota windows are remembered; beyond it the oldest is forgotten. */
export const QUOTA_CLIENTS_MAX = 10_000;
/**
 * How far beyond the view's issued end an id may be and still make the broker read the store
 * afresh before refusing it: another broker may have reserved blocks the view has not shown yet
 * (a few at most, in the time a watch lags), never a million ids. Ids beyond it are refused at
 * once, so invented ids cost the store nothing.
 */
export const ISSUED_LAG_WINDOW = 1_000_000;
/** Least time between two sweeps of every partition when the entry cap is reached. */
const FULL_SWEEP_MIN_INTERVAL_MS = 1000;

/**
 * A KafkaError without a stack trace: these refusals answer what a client sent, at the rate it
 * sends it (an attack sends millions), and capturing a stack was most of their cost.
 */
function refusal(code: ErrorName, message: string): KafkaError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new KafkaError(code, message);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

interface QuotaWindow {
  startMs: number;
  /** Producer ids counted in this window (at most the window's allowance). */
  ids: Set<number>;
}

/** KIP-936's quota: distinct new producer ids per client per window. */
class ProducerIdQuota {
  private readonly windows = new Map<string, QuotaWindow>();
  private readonly allowance: number;

  constructor(
    idsPerSecond: number,
    private readonly windowMs: number,
  ) {
    this.allowance = Math.max(1, Math.floor((idsPerSecond * windowMs) / 1000));
  }

  private window(client: string, nowMs: number): QuotaWindow {
    let w = this.windows.get(client);
    if (!w || nowMs - w.startMs >= this.windowMs) {
      this.windows.delete(client);
      if (this.windows.size >= QUOTA_CLIENTS_MAX) {
        const oldest = this.windows.keys().next().value as string;
        this.windows.delete(oldest);
      }
      w = { startMs: nowMs, ids: new Set() };
      this.windows.set(client, w);
    }
    return w;
  }

  /** Counts `producerId` for `client`; returns 0, or the ms to wait when over the quota. */
  take(client: string, producerId: number, nowMs: number): number {
    const w = this.window(client, nowMs);
    if (w.ids.has(producerId)) return 0;
    if (w.ids.size >= this.allowance) return Math.max(1, w.startMs + this.windowMs - nowMs);
    w.ids.add(producerId);
    return 0;
  }

  /** The ms `client` must wait before a new id is accepted (0 if it may bring one now). */
  throttleMs(client: string, nowMs: number): number {
    const w = this.windows.get(client);
    if (!w || nowMs - w.startMs >= this.windowMs || w.ids.size < this.allowance) return 0;
    return Math.max(1, w.startMs + this.windowMs - nowMs);
  }
}

export class ProducerIds {
  /** Producer-state entries of every partition (may count deleted partitions until a sweep). */
  entries = 0;
  private readonly quota: ProducerIdQuota;
  private lastFullSweepMs = Number.NEGATIVE_INFINITY;

  constructor(
    readonly limits: ProducerIdLimits,
    /** Ids below this were handed out (or may have been, before a restart); none at or above it. */
    private readonly issuedEnd: () => number,
    /** The state of every partition, for sweeps. */
    private readonly managers: () => Iterable<ProducerStateManager>,
    private readonly now: () => number = Date.now,
    /**
     * A fresh read of the issued end from the store itself, for an id the view does not show yet
     * (InitProducerId of another broker, moments ago). Without it the view is the last word.
     */
    private readonly readIssuedEnd?: () => Promise<number>,
  ) {
    this.quota = new ProducerIdQuota(limits.idsPerSecond, limits.quotaWindowMs);
  }

  /** The read of the store under way, which callers meanwhile share. */
  private reading: Promise<number> | null = null;

  /** A new ProducerStateManager whose entries count towards the broker-wide cap. */
  newState(): ProducerStateManager {
    return new ProducerStateManager((delta) => {
      this.entries += delta;
    });
  }

  nowMs(): number {
    return this.now();
  }

  /** Whether this broker's view shows `producerId` as handed out (ids below 0 carry no state). */
  inView(producerId: number): boolean {
    return producerId < this.issuedEnd();
  }

  /** Throws UNKNOWN_PRODUCER_ID unless `producerId` was handed out by InitProducerId. */
  checkIssued(producerId: number): void {
    if (producerId < this.issuedEnd()) return;
    throw refusal(
      "UNKNOWN_PRODUCER_ID",
      `producer id ${producerId} was never handed out (InitProducerId first)`,
    );
  }

  /**
   * As `checkIssued`, but an id a little beyond the view (within ISSUED_LAG_WINDOW) is looked up
   * in the store before it is refused: in a cluster the broker that handed it out may be another,
   * and this broker's view of the store may not show its block yet. Throws REQUEST_TIMED_OUT
   * (retriable) when the store cannot be read.
   */
  async checkIssuedFresh(producerId: number): Promise<void> {
    const end = this.issuedEnd();
    if (producerId < end) return;
    if (this.readIssuedEnd && producerId < end + ISSUED_LAG_WINDOW) {
      if (producerId < (await this.readOnce())) return;
    }
    this.checkIssued(producerId);
  }

  private async readOnce(): Promise<number> {
    this.reading ??= this.readIssuedEnd!().finally(() => {
      this.reading = null;
    });
    try {
      return await this.reading;
    } catch (err) {
      if (KafkaError.is(err, "REQUEST_TIMED_OUT")) throw err;
      throw new KafkaError("REQUEST_TIMED_OUT", `the issued producer ids could not be read: ${String(err)}`);
    }
  }

  /** Whether a rebuild from the log should keep state of `producerId`. */
  isIssued(producerId: number): boolean {
    return producerId >= 0 && producerId < this.issuedEnd();
  }

  /**
   * Admits a producer that has no state on a partition yet: counts it against `client`'s quota
   * and the broker-wide cap. Throws THROTTLING_QUOTA_EXCEEDED when either is used up.
   */
  admitNew(client: string, producerId: number): void {
    const waitMs = this.quota.take(client, producerId, this.now());
    if (waitMs > 0) {
      throw refusal(
        "THROTTLING_QUOTA_EXCEEDED",
        `more than ${this.limits.idsPerSecond} new producer ids per second from this client; retry in ${waitMs} ms`,
      );
    }
    if (this.entries < this.limits.maxEntries) return;
    this.sweepWhenFull();
    if (this.entries < this.limits.maxEntries) return;
    throw refusal(
      "THROTTLING_QUOTA_EXCEEDED",
      `the broker holds ${this.entries} producer states (max.concurrent.producer.ids=${this.limits.maxEntries})`,
    );
  }

  /** Counts the id an InitProducerId hands out against `client`'s quota. */
  countInit(client: string, producerId: number): void {
    this.quota.take(client, producerId, this.now());
  }

  /** The ms before `client` may be handed a new producer id by InitProducerId (0: now). */
  initThrottleMs(client: string): number {
    return this.quota.throttleMs(client, this.now());
  }

  /** The ms `client` must wait before it may bring a new producer id (the cap counts too). */
  throttleMs(client: string): number {
    const quotaMs = this.quota.throttleMs(client, this.now());
    return this.entries >= this.limits.maxEntries ? Math.max(quotaMs, FULL_SWEEP_MIN_INTERVAL_MS) : quotaMs;
  }

  /** Whether the broker-wide cap leaves room for one more entry (rebuilds stop adding when not). */
  hasRoom(): boolean {
    return this.entries < this.limits.maxEntries;
  }

  /** Removes expired state everywhere and recounts the entries. Returns how many were removed. */
  expireAll(): number {
    const now = this.now();
    let removed = 0;
    let total = 0;
    for (const m of this.managers()) {
      removed += m.removeExpired(now, this.limits.expirationMs);
      total += m.size;
    }
    this.entries = total;
    return removed;
  }

  private sweepWhenFull(): void {
    const now = this.now();
    if (now - this.lastFullSweepMs < FULL_SWEEP_MIN_INTERVAL_MS) return;
    this.lastFullSweepMs = now;
    this.expireAll();
  }
}

/** The broker's producer-id bounds from its config; ids are checked against `store`. */
export function producerIdsFor(
  config: BrokerConfig,
  store: Pick<ClusterStore, "producerIdsIssued" | "readProducerIdsIssued">,
  managers: () => Iterable<ProducerStateManager>,
): ProducerIds {
  const limits: ProducerIdLimits = {
    expirationMs: config.producerIdExpirationMs,
    maxEntries: config.maxConcurrentProducerIds,
    idsPerSecond: config.producerIdsRate,
    quotaWindowMs: config.producerIdQuotaWindowNum * config.producerIdQuotaWindowSizeSeconds * 1000,
  };
  return new ProducerIds(
    limits,
    () => store.producerIdsIssued(),
    managers,
    Date.now,
    () => store.readProducerIdsIssued(),
  );
}

/** Producer ids a broker reserves from the cluster store at a time (as Kafka's blocks of 1000). */
export const PRODUCER_ID_BLOCK_SIZE = 1000;

/**
 * Hands out producer ids from blocks reserved with `ClusterStore.allocateProducerIds`: unique
 * across the cluster and across restarts (ids of a block not handed out before a restart are
 * skipped, never reused). One reservation at a time: callers waiting meanwhile share it.
 */
export class ProducerIdBlocks {
  private next = 0;
  private end = 0;
  private reserving: Promise<void> | null = null;

  constructor(
    private readonly store: Pick<ClusterStore, "allocateProducerIds">,
    private readonly blockSize = PRODUCER_ID_BLOCK_SIZE,
  ) {}

  /** A producer id never handed out before by any broker of the cluster. */
  async nextId(): Promise<number> {
    while (this.next >= this.end) {
      this.reserving ??= this.reserve().finally(() => {
        this.reserving = null;
      });
      await this.reserving;
    }
    return this.next++;
  }

  private async reserve(): Promise<void> {
    const first = await this.store.allocateProducerIds(this.blockSize);
    this.next = first;
    this.end = first + this.blockSize;
  }
}

/** Who a producer-id quota belongs to: the principal, client id and host of a request (KIP-936 is per principal; without authentication, client id and host tell clients apart). */
export function quotaClient(ctx: RequestContext): string {
  return `${ctx.principal}\u0000${ctx.clientId ?? ""}\u0000${ctx.clientHost}`;
}
