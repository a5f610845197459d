/**
 * The REST consumer instances of one broker, by group and instance id. An instance id is unique
 * within its group on this broker (a second creation with the same name: 40902); a broker holds
 * at most `http.consumer.instances.max` instances (beyond: 429, 42901, naming the key). An
 * instance idle (no request) for `http.consumer.instance.timeout.ms` (Confluent's
 * consumer.instance.timeout.ms, default 300000) is closed by a sweep that runs every
 * SWEEP_INTERVAL_MS or a tenth of the timeout, whichever is shorter; `closeAll` closes every
 * instance when the broker stops. An instance is found only by the principal that created it
 * (anyone else: 40403, as if it did not exist).
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { Broker } from "../../broker.js";
import type { HttpCaller } from "../call-api.js";
import { type ConsumerSettings, RestConsumer } from "./consumer.js";
import { restError } from "./rest-errors.js";

/** Longest gap between two expiry sweeps. */
export const SWEEP_INTERVAL_MS = 1000;

export interface InstanceLimits {
  timeoutMs: number;
  max: number;
}

export class ConsumerInstances {
  private readonly byKey = new Map<string, RestConsumer>();
  private readonly sweeper: NodeJS.Timeout;
  private closing = false;

  constructor(
    private readonly broker: Broker,
    private readonly limits: InstanceLimits,
    private readonly log: Logger,
  ) {
    const every = Math.max(1, Math.min(SWEEP_INTERVAL_MS, Math.floor(limits.timeoutMs / 10)));
    this.sweeper = setInterval(() => this.sweep(), every);
    this.sweeper.unref();
  }

  get size(): number {
    return this.byKey.size;
  }

  create(group: string, name: string | null, settings: ConsumerSettings, caller: HttpCaller): RestConsumer {
    if (this.closing) throw restError("KAFKA_RETRIABLE_ERROR", "the broker is shutting down");
    const id = name ?? `rest-consumer-${randomUUID()}`;
    const key = keyOf(group, id);
    if (this.byKey.has(key))
      throw restError(
        "CONSUMER_ALREADY_EXISTS",
        `Consumer with specified consumer ID ${id} already exists in group ${group}.`,
      );
    if (this.byKey.size >= this.limits.max)
      throw restError(
        "TOO_MANY_INSTANCES",
        `this broker already holds ${this.byKey.size} consumer instances (http.consumer.instances.max=${this.limits.max}); delete idle ones or raise the limit`,
      );
    const consumer = new RestConsumer(group, id, settings, caller, this.broker, this.log);
    this.byKey.set(key, consumer);
    return consumer;
  }

  /** The instance `id` of `group` created by `principal`, or 40403. */
  get(group: string, id: string, principal: string): RestConsumer {
    const consumer = this.byKey.get(keyOf(group, id));
    if (consumer === undefined || consumer.caller.principal !== principal)
      throw restError("CONSUMER_INSTANCE_NOT_FOUND", `Consumer instance ${id} not found in group ${group}.`);
    consumer.lastUsedMs = Date.now();
    return consumer;
  }

  /** Removes and closes an instance (its last auto-commit, LeaveGroup). */
  async delete(consumer: RestConsumer): Promise<void> {
    const key = keyOf(consumer.group, consumer.id);
    if (this.byKey.get(key) === consumer) this.byKey.delete(key);
    // After whatever the instance is doing (a long poll): it is no longer found meanwhile.
    await consumer.serially(() => consumer.close());
  }

  private sweep(): void {
    const now = Date.now();
    for (const consumer of this.byKey.values()) {
      if (now - consumer.lastUsedMs < this.limits.timeoutMs) continue;
      this.log.info({ group: consumer.group, instance: consumer.id }, "REST consumer instance expired");
      void this.delete(consumer);
    }
  }

  /** Closes every instance (broker stop); new ones are refused. */
  async closeAll(): Promise<void> {
    this.closing = true;
    clearInterval(this.sweeper);
    const all = [...this.byKey.values()];
    this.byKey.clear();
    await Promise.all(all.map((c) => c.close()));
  }
}

function keyOf(group: string, id: string): string {
  return `${group}\u0000${id}`;
}
