/**
 * `BrokerMetrics`: one broker's Prometheus registry (its OWN: a process may run several brokers,
 * and the global default registry would mix them) and the instruments its hot paths increment.
 * Made at start unless metrics.enable=false, in which case the broker holds null and its hot
 * paths skip every call (and GET /metrics answers 404). `watch(broker)` adds the series computed
 * at scrape time from the broker's state. See broker/metrics/README.md for the names.
 */
import { Registry } from "prom-client";
import type { Broker } from "../broker.js";
import { ConnectionMetrics } from "./connections.js";
import { registerGroupGauges } from "./groups.js";
import { registerProcessMetrics } from "./process.js";
import { RequestMetrics } from "./requests.js";
import { type CounterSlot, SlotCounter } from "./slots.js";
import { registerBrokerStateGauges, registerKafkaExporterGauges } from "./state.js";
import { StorageMetrics } from "./storage.js";
import { TopicMetrics } from "./topics.js";

export class BrokerMetrics {
  readonly registry = new Registry();
  readonly requests: RequestMetrics;
  readonly topics: TopicMetrics;
  readonly storage: StorageMetrics;
  readonly connections: ConnectionMetrics;
  private readonly isrShrinks: CounterSlot;
  private readonly isrExpands: CounterSlot;

  constructor(apis: readonly { apiKey: number; name: string }[]) {
    const registry = this.registry;
    this.requests = new RequestMetrics(registry, apis);
    this.topics = new TopicMetrics(registry);
    this.storage = new StorageMetrics(registry);
    this.connections = new ConnectionMetrics(registry);
    this.isrShrinks = new SlotCounter(
      registry,
      "samsa_isr_shrinks_total",
      "ISR shrinks committed for partitions led here",
      [],
    ).slot({});
    this.isrExpands = new SlotCounter(
      registry,
      "samsa_isr_expands_total",
      "ISR expansions committed for partitions led here",
      [],
    ).slot({});
    registerProcessMetrics(registry);
  }

  /** Adds the series read from `broker`'s state at each scrape. */
  watch(broker: Broker): void {
    registerBrokerStateGauges(this.registry, broker);
    registerKafkaExporterGauges(this.registry, broker);
    registerGroupGauges(this.registry, broker);
    for (const l of broker.listeners) this.connections.declare(l.name);
    this.connections.declare("http");
    this.connections.declare("ws");
  }

  /** A leader's ISR change was committed: a shrink when it lost members, an expand when it gained. */
  isrCommitted(before: readonly number[], after: readonly number[]): void {
    if (before.some((id) => !after.includes(id))) this.isrShrinks.value++;
    if (after.some((id) => !before.includes(id))) this.isrExpands.value++;
  }

  /** The Prometheus text exposition of every series. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
