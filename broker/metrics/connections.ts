/**
 * Connections by listener: the Kafka listeners by name (counted by broker/net/kafka-server.ts as it
 * accepts and loses them), `http` (TCP connections to the HTTP port) and `ws` (WebSocket upgrades
 * on it: the Kafka door /kafka and the live tails), each as opened and closed totals and the
 * number open now (the difference, read at scrape time).
 */
import { Gauge, type Registry } from "prom-client";
import { type CounterSlot, SlotCounter } from "./slots.js";

interface ListenerSlots {
  opened: CounterSlot;
  closed: CounterSlot;
}

export class ConnectionMetrics {
  private readonly opened: SlotCounter;
  private readonly closed: SlotCounter;
  private readonly listeners = new Map<string, ListenerSlots>();

  constructor(registry: Registry) {
    this.opened = new SlotCounter(
      registry,
      "samsa_connections_opened_total",
      "Connections accepted, by listener",
      ["listener"],
    );
    this.closed = new SlotCounter(
      registry,
      "samsa_connections_closed_total",
      "Connections closed, by listener",
      ["listener"],
    );
    const listeners = this.listeners;
    new Gauge({
      name: "samsa_connections",
      help: "Connections open now, by listener",
      labelNames: ["listener"],
      registers: [registry],
      collect() {
        this.reset();
        for (const [listener, s] of listeners) this.set({ listener }, s.opened.value - s.closed.value);
      },
    });
  }

  private slots(listener: string): ListenerSlots {
    let s = this.listeners.get(listener);
    if (!s) {
      s = { opened: this.opened.slot({ listener }), closed: this.closed.slot({ listener }) };
      this.listeners.set(listener, s);
    }
    return s;
  }

  /** Makes the listener's series exist (at zero) before its first connection. */
  declare(listener: string): void {
    this.slots(listener);
  }

  connectionOpened(listener: string): void {
    this.slots(listener).opened.value++;
  }

  connectionClosed(listener: string): void {
    this.slots(listener).closed.value++;
  }
}
