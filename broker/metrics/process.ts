/**
 * The Node process's own metrics (prom-client's defaults: CPU, RSS, heap and heap spaces, event-loop
 * delay, GC durations, handles, open files, version), collected ONCE per process and shown by every
 * broker's registry. prom-client's `collectDefaultMetrics` starts a GC PerformanceObserver and an
 * event-loop delay monitor on every call and never stops them: a process that starts many brokers
 * (the tests) would leak one of each per broker and, with GC, observe every collection once per
 * broker. So the collectors live in one process registry and each broker registers the same
 * metric objects in its own (docs/decisions/0038). They describe the process, not the broker:
 * two brokers in one process show the same values, as they should.
 */
import { collectDefaultMetrics, type Metric, Registry } from "prom-client";

/** Event-loop delay sampling resolution (ms): prom-client's default. */
const EVENT_LOOP_RESOLUTION_MS = 10;

let processMetrics: Metric[] | null = null;

/** The process-wide default metrics, started on first use. */
function sharedProcessMetrics(): Metric[] {
  if (processMetrics === null) {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_RESOLUTION_MS });
    processMetrics = registry.getMetricsAsArray() as unknown as Metric[];
  }
  return processMetrics;
}

/** Registers the process's default metrics in a broker's `registry`. */
export function registerProcessMetrics(registry: Registry): void {
  for (const metric of sharedProcessMetrics()) registry.registerMetric(metric);
}
