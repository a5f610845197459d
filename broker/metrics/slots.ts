/**
 * Hot-path instruments: a counter or histogram whose label sets are resolved ONCE into a slot (a
 * plain object of numbers), so a request increments a field instead of asking prom-client to hash
 * its labels into a string on every call. At scrape time the metric reads its slots: `SlotCounter`
 * through prom-client's own Counter (reset, then each slot's total), `SlotHistogram` by answering
 * `get()` with the bucket, sum and count series prom-client's formatter prints. Slots are never
 * dropped except by `remove` (a deleted topic), so the label sets stay what the broker has seen.
 */
import {
  Counter,
  Histogram,
  type LabelValues,
  type MetricObjectWithValues,
  type MetricType,
  type MetricValueWithName,
  type Registry,
} from "prom-client";

/** One label set of a counter: `value` only grows. */
export interface CounterSlot {
  value: number;
}

/** One label set of a histogram: counts per bucket (not cumulative), sum and count. */
export class HistogramSlot {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }
}

interface Resolved<S> {
  labels: LabelValues<string>;
  slot: S;
}

/** The key of a label set: only built when a slot is resolved, never per increment. */
function keyOf(labelNames: readonly string[], labels: LabelValues<string>): string {
  return labelNames.map((n) => String(labels[n] ?? "")).join("\u0000");
}

export class SlotCounter extends Counter<string> {
  private readonly slots = new Map<string, Resolved<CounterSlot>>();

  constructor(
    registry: Registry,
    name: string,
    help: string,
    private readonly names: readonly string[],
  ) {
    super({
      name,
      help,
      labelNames: [...names],
      registers: [registry],
      collect() {
        const self = this as SlotCounter;
        self.reset();
        for (const { labels, slot } of self.slots.values()) self.inc(labels, slot.value);
      },
    });
  }

  /** The slot of `labels`, made on first use. */
  slot(labels: LabelValues<string>): CounterSlot {
    const key = keyOf(this.names, labels);
    let resolved = this.slots.get(key);
    if (!resolved) {
      resolved = { labels: { ...labels }, slot: { value: 0 } };
      this.slots.set(key, resolved);
    }
    return resolved.slot;
  }

  /** Drops every slot whose label `name` is `value` (a deleted topic's series end). */
  removeWhere(name: string, value: string): void {
    for (const [key, r] of this.slots) if (r.labels[name] === value) this.slots.delete(key);
  }
}

export class SlotHistogram extends Histogram<string> {
  private readonly slots = new Map<string, Resolved<HistogramSlot>>();
  private readonly bounds: readonly number[];

  constructor(
    registry: Registry,
    private readonly metricName: string,
    private readonly metricHelp: string,
    private readonly names: readonly string[],
    buckets: readonly number[],
  ) {
    super({
      name: metricName,
      help: metricHelp,
      labelNames: [...names],
      buckets: [...buckets],
      registers: [registry],
    });
    this.bounds = [...buckets];
  }

  slot(labels: LabelValues<string>): HistogramSlot {
    const key = keyOf(this.names, labels);
    let resolved = this.slots.get(key);
    if (!resolved) {
      resolved = { labels: { ...labels }, slot: new HistogramSlot(this.bounds) };
      this.slots.set(key, resolved);
    }
    return resolved.slot;
  }

  override async get(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    return this.getForPromString();
  }

  /** What the registry's text formatter reads (it prefers this to `get`): the slots' series. */
  async getForPromString(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    const values: MetricValueWithName<string>[] = [];
    const name = this.metricName;
    for (const { labels, slot } of this.slots.values()) {
      let cumulative = 0;
      for (let i = 0; i <= this.bounds.length; i++) {
        cumulative += slot.counts[i];
        const le = i < this.bounds.length ? this.bounds[i] : "+Inf";
        values.push({ metricName: `${name}_bucket`, labels: { ...labels, le }, value: cumulative });
      }
      values.push({ metricName: `${name}_sum`, labels, value: slot.sum });
      values.push({ metricName: `${name}_count`, labels, value: slot.count });
    }
    return {
      name,
      help: this.metricHelp,
      type: "histogram" as unknown as MetricType,
      values,
      aggregator: "sum",
      collect: () => {},
    } as MetricObjectWithValues<MetricValueWithName<string>>;
  }
}
