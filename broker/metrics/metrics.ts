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
import {
  registerBrokerStateGauges,
  registerIsrChangeCounters,
  registerKafkaExporterGauges,
} from "./state.js";
import { StorageMetrics } from "./storage.js";
import { TopicMetrics } from "./topics.js";

export class BrokerMetrics {
  readonly registry = new Registry();
  readonly requests: RequestMetrics;
  readonly topics: TopicMetrics;
  readonly storage: StorageMetrics;
  readonly connections: ConnectionMetrics;

  constructor(apis: readonly { apiKey: number; name: string }[]) {
    const registry = this.registry;
    this.requests = new RequestMetrics(registry, apis);
    this.topics = new TopicMetrics(registry);
    this.storage = new StorageMetrics(registry);
    this.connections = new ConnectionMetrics(registry);
    registerProcessMetrics(registry);
  }

  /** Adds the series read from `broker`'s state at each scrape. */
  watch(broker: Broker): void {
    registerBrokerStateGauges(this.registry, broker);
    registerIsrChangeCounters(this.registry, broker);
    registerKafkaExporterGauges(this.registry, broker);
    registerGroupGauges(this.registry, broker);
    for (const l of broker.listeners) this.connections.declare(l.name);
    this.connections.declare("http");
    this.connections.declare("ws");
  }

  /** The Prometheus text exposition of every series. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
