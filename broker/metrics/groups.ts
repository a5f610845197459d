/**
 * kafka_exporter's consumer-group series, computed at scrape time for the groups this broker
 * COORDINATES (so each group appears on one broker, and sums over brokers count it once):
 * committed offsets, lag (the partition's high watermark minus the committed offset, never
 * negative, as `samsa group describe` and Kafka's tool report it), lag summed per topic, members.
 * The high watermark is this broker's replica's (leader, or a follower's slightly older one); a
 * committed partition with no replica here has no lag series (its committed offset is still shown).
 */
import type { Registry } from "prom-client";
import type { Broker } from "../broker.js";
import type { Group } from "../group/group.js";
import { scrapeGauge } from "./state.js";

interface CommittedLag {
  topic: string;
  partition: number;
  committed: number;
  /** null: no replica of the partition here. */
  lag: number | null;
}

function committedLags(broker: Broker, group: Group): CommittedLag[] {
  return [...group.offsets.values()].map((o) => {
    const committed = Number(o.offset);
    const hw = broker.topics.partition(o.topic, o.partition)?.highWatermark;
    return {
      topic: o.topic,
      partition: o.partition,
      committed,
      lag: hw === undefined ? null : Math.max(0, hw - committed),
    };
  });
}

export function registerGroupGauges(registry: Registry, broker: Broker): void {
  const groups = () => broker.groups.allGroups();
  scrapeGauge(
    registry,
    "kafka_consumergroup_current_offset",
    "Committed offset of a group's partition (groups coordinated here)",
    ["consumergroup", "topic", "partition"],
    (set) => {
      for (const g of groups())
        for (const c of committedLags(broker, g))
          set({ consumergroup: g.id, topic: c.topic, partition: c.partition }, c.committed);
    },
  );
  scrapeGauge(
    registry,
    "kafka_consumergroup_lag",
    "High watermark minus committed offset of a group's partition (groups coordinated here)",
    ["consumergroup", "topic", "partition"],
    (set) => {
      for (const g of groups())
        for (const c of committedLags(broker, g))
          if (c.lag !== null) set({ consumergroup: g.id, topic: c.topic, partition: c.partition }, c.lag);
    },
  );
  scrapeGauge(
    registry,
    "kafka_consumergroup_lag_sum",
    "A group's lag summed over a topic's partitions (groups coordinated here)",
    ["consumergroup", "topic"],
    (set) => {
      for (const g of groups()) {
        const sums = new Map<string, number>();
        for (const c of committedLags(broker, g))
          if (c.lag !== null) sums.set(c.topic, (sums.get(c.topic) ?? 0) + c.lag);
        for (const [topic, lag] of sums) set({ consumergroup: g.id, topic }, lag);
      }
    },
  );
  scrapeGauge(
    registry,
    "kafka_consumergroup_members",
    "Members of a group (groups coordinated here)",
    ["consumergroup"],
    (set) => {
      for (const g of groups()) set({ consumergroup: g.id }, g.members.size);
    },
  );
}
