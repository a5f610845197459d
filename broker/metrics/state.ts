/**
 * Gauges computed at scrape time from the broker's partitions and the cluster store: nothing on the
 * hot path. Per broker: replicas hosted, leaderships, under-replicated partitions (led here, ISR
 * smaller than the replicas), the followers' lag behind this leader, and kafka_exporter's
 * per-partition series for the partitions this broker LEADS, so that summing a series over the
 * brokers counts each partition once. Cluster-wide series (offline partitions, brokers, partitions
 * per topic) come from the active controller alone, as Kafka's OfflinePartitionsCount does: every
 * other broker reports no kafka_brokers / kafka_topic_partitions series and 0 offline partitions.
 */
import { Counter, Gauge, type LabelValues, type Registry } from "prom-client";
import type { Broker } from "../broker.js";
import type { Partition } from "../partition.js";

type Fill = (set: (labels: LabelValues<string>, value: number) => void) => void;

/** A gauge whose values `fill` sets at each scrape (the previous scrape's label sets dropped). */
export function scrapeGauge(
  registry: Registry,
  name: string,
  help: string,
  labelNames: string[],
  fill: Fill,
): void {
  new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      fill((labels, value) => this.set(labels, value));
    },
  });
}

/** The partitions this broker leads now. */
function led(broker: Broker): Partition[] {
  return broker.topics.allPartitions().filter((p) => p.role === "leader");
}

/** How far follower `id` is behind the leader `p` (records), or null before its first fetch. */
function followerLag(p: Partition, id: number): number | null {
  const state = p.followerState(id);
  if (!state || state.logEndOffset < 0) return null;
  return Math.max(0, p.logEndOffset - state.logEndOffset);
}

/** The largest lag of `p`'s followers, or null when it has none known. */
function maxFollowerLag(p: Partition, self: number): number | null {
  let max: number | null = null;
  for (const id of p.replicas) {
    if (id === self) continue;
    const lag = followerLag(p, id);
    if (lag !== null) max = Math.max(max ?? 0, lag);
  }
  return max;
}

function isController(broker: Broker): boolean {
  return broker.store.controller()?.nodeId === broker.config.nodeId;
}

export function registerBrokerStateGauges(registry: Registry, broker: Broker): void {
  const self = broker.config.nodeId;
  const gauge = (name: string, help: string, value: () => number) =>
    scrapeGauge(registry, name, help, [], (set) => set({}, value()));
  gauge(
    "samsa_partitions",
    "Partition replicas hosted by this broker",
    () => broker.topics.allPartitions().length,
  );
  gauge("samsa_partition_leaders", "Partitions this broker leads", () => led(broker).length);
  gauge(
    "samsa_under_replicated_partitions",
    "Partitions led here whose ISR is smaller than their replicas",
    () => led(broker).filter((p) => p.isr.length < p.replicas.length).length,
  );
  gauge("samsa_active_controller", "1 on the broker that is the cluster's controller, else 0", () =>
    isController(broker) ? 1 : 0,
  );
  gauge("samsa_offline_partitions", "Partitions without a leader (reported by the active controller)", () => {
    if (!isController(broker)) return 0;
    let offline = 0;
    for (const t of broker.store.topics()) for (const p of t.partitions) if (p.leader < 0) offline++;
    return offline;
  });
  gauge(
    "samsa_replica_max_lag_records",
    "Largest lag (records) of a follower behind a partition led here",
    () => {
      let max = 0;
      for (const p of led(broker)) max = Math.max(max, maxFollowerLag(p, self) ?? 0);
      return max;
    },
  );
  scrapeGauge(
    registry,
    "samsa_partition_replica_lag_records",
    "Largest lag (records) of a partition's followers behind this leader",
    ["topic", "partition"],
    (set) => {
      for (const p of led(broker)) {
        const lag = maxFollowerLag(p, self);
        if (lag !== null) set({ topic: p.topic, partition: p.index }, lag);
      }
    },
  );
}

/** kafka_exporter's names (danielqsj/kafka_exporter), for the partitions led here. */
export function registerKafkaExporterGauges(registry: Registry, broker: Broker): void {
  const self = broker.config.nodeId;
  const perPartition = (name: string, help: string, value: (p: Partition) => number) =>
    scrapeGauge(registry, name, help, ["topic", "partition"], (set) => {
      for (const p of led(broker)) set({ topic: p.topic, partition: p.index }, value(p));
    });
  perPartition(
    "kafka_topic_partition_current_offset",
    "High watermark of a partition led here",
    (p) => p.highWatermark,
  );
  perPartition(
    "kafka_topic_partition_oldest_offset",
    "Log start offset of a partition led here",
    (p) => p.logStartOffset,
  );
  perPartition(
    "kafka_topic_partition_in_sync_replica",
    "In-sync replicas of a partition led here",
    (p) => p.isr.length,
  );
  perPartition("kafka_topic_partition_leader", "Leader broker id of a partition led here", () => self);
  perPartition(
    "kafka_topic_partition_replicas",
    "Replicas of a partition led here",
    (p) => p.replicas.length,
  );
  perPartition(
    "kafka_topic_partition_under_replicated_partition",
    "1 if a partition led here is under-replicated, else 0",
    (p) => (p.isr.length < p.replicas.length ? 1 : 0),
  );
  perPartition(
    "kafka_topic_partition_leader_is_preferred",
    "1 if this broker is the partition's preferred (first) replica, else 0",
    (p) => (p.replicas[0] === self ? 1 : 0),
  );
  scrapeGauge(
    registry,
    "kafka_topic_partitions",
    "Partitions of a topic (reported by the active controller)",
    ["topic"],
    (set) => {
      if (!isController(broker)) return;
      for (const t of broker.store.topics()) set({ topic: t.name }, t.partitions.length);
    },
  );
  scrapeGauge(
    registry,
    "kafka_brokers",
    "Live brokers in the cluster (reported by the active controller)",
    [],
    (set) => {
      if (isController(broker)) set({}, broker.store.brokers().length);
    },
  );
}

/**
 * samsa_isr_shrinks_total / samsa_isr_expands_total: ISR changes committed for partitions led here
 * (Partition counts them as they commit, the leader's own proposals and the controller's removals
 * of fenced brokers alike), summed at scrape time. A partition's counts only grow; what a
 * partition gone from this broker had counted stays in the totals, so they never go down.
 */
export function registerIsrChangeCounters(registry: Registry, broker: Broker): void {
  const seen = new WeakMap<Partition, { shrinks: number; expands: number }>();
  const totals = { shrinks: 0, expands: 0 };
  const update = () => {
    for (const p of broker.topics.allPartitions()) {
      const last = seen.get(p) ?? { shrinks: 0, expands: 0 };
      totals.shrinks += p.isrShrinks - last.shrinks;
      totals.expands += p.isrExpands - last.expands;
      seen.set(p, { shrinks: p.isrShrinks, expands: p.isrExpands });
    }
  };
  const counter = (name: string, help: string, value: () => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        update();
        this.reset();
        this.inc(value());
      },
    });
  counter("samsa_isr_shrinks_total", "ISR shrinks committed for partitions led here", () => totals.shrinks);
  counter(
    "samsa_isr_expands_total",
    "ISR expansions committed for partitions led here",
    () => totals.expands,
  );
}
