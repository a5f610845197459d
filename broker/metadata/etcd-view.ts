/**
 * The local view of one cluster's keys in etcd, and the key layout under the cluster's prefix:
 *
 *   cluster-id          the cluster id (written once, by the first store to open)
 *   controller          {nodeId}, bound to the controller's lease; epoch = its create revision
 *   brokers/<nodeId>    {host, port, rack, httpPort, shuttingDown}, bound to the broker's lease;
 *                       epoch = its create revision
 *   topics/<name>       {id, configs, partitions}: one key per topic, so a topic is created,
 *                       changed and deleted by one put, whatever its partition count (etcd's
 *                       --max-txn-ops limits the keys of one txn, 128 by default)
 *   producer-ids        the next producer id never handed out
 *
 * Epochs are etcd create revisions: every (re)creation of a key gets a revision larger than any
 * before it in the cluster, so they only grow, across restarts of etcd included. The view applies
 * etcd's key changes in revision order and answers what they mean as MetadataEvents.
 */
import type {
  BrokerRegistration,
  ControllerInfo,
  MetadataEvent,
  PartitionState,
  TopicState,
} from "./cluster.js";
import { frozenTopic } from "./cluster-checks.js";
import type { EtcdEvent, EtcdKv } from "./etcd-client.js";

export const KEYS = {
  clusterId: "cluster-id",
  controller: "controller",
  brokers: "brokers/",
  topics: "topics/",
  producerIds: "producer-ids",
} as const;

export function brokerKey(nodeId: number): string {
  return `${KEYS.brokers}${nodeId}`;
}

export function topicKey(name: string): string {
  return `${KEYS.topics}${name}`;
}

/** A topic as stored under its key (the name is the key). */
export interface StoredTopic {
  id: string;
  configs: Record<string, string>;
  partitions: PartitionState[];
}

export function storedTopic(topic: TopicState): StoredTopic {
  return { id: topic.id, configs: topic.configs, partitions: topic.partitions };
}

export class EtcdView {
  /** The revision of etcd the view reflects. */
  revision = 0;
  clusterId = "";
  controller: ControllerInfo | null = null;
  producerIdsNext = 0;
  readonly brokers = new Map<number, BrokerRegistration>();
  private readonly topics = new Map<string, TopicState>();
  private readonly topicIds = new Map<string, string>();

  /** Replaces the whole view with `kvs` read at `revision`. */
  load(kvs: EtcdKv[], revision: number, prefix: string): void {
    this.clusterId = "";
    this.controller = null;
    this.producerIdsNext = 0;
    this.brokers.clear();
    this.topics.clear();
    this.topicIds.clear();
    this.apply(
      kvs.map((kv) => ({ type: "PUT", kv })),
      prefix,
    );
    this.revision = revision;
  }

  /** Applies one revision's changes; answers the events they make. */
  apply(changes: EtcdEvent[], prefix: string): MetadataEvent[] {
    const events: MetadataEvent[] = [];
    for (const { type, kv } of changes) {
      if (!kv.key.startsWith(prefix)) continue;
      const key = kv.key.slice(prefix.length);
      const value = type === "PUT" ? kv.value : null;
      if (key === KEYS.clusterId) this.clusterId = value ?? "";
      else if (key === KEYS.producerIds)
        this.producerIdsNext = Math.max(this.producerIdsNext, Number(value ?? 0));
      else if (key === KEYS.controller) events.push(...this.applyController(value, kv.createRevision));
      else if (key.startsWith(KEYS.brokers)) events.push(this.applyBroker(key, value, kv.createRevision));
      else if (key.startsWith(KEYS.topics))
        events.push(...this.applyTopic(key.slice(KEYS.topics.length), value));
    }
    return events;
  }

  private applyController(value: string | null, createRevision: number): MetadataEvent[] {
    const next =
      value === null
        ? null
        : Object.freeze({ nodeId: (JSON.parse(value) as { nodeId: number }).nodeId, epoch: createRevision });
    const same = next?.epoch === this.controller?.epoch && next?.nodeId === this.controller?.nodeId;
    this.controller = next;
    return same ? [] : [{ type: "controller", controller: next }];
  }

  private applyBroker(key: string, value: string | null, createRevision: number): MetadataEvent {
    const nodeId = Number(key.slice(KEYS.brokers.length));
    if (value === null) {
      this.brokers.delete(nodeId);
      return { type: "broker", nodeId, registration: null };
    }
    const stored = JSON.parse(value) as Omit<BrokerRegistration, "nodeId" | "epoch">;
    const registration: BrokerRegistration = Object.freeze({
      nodeId,
      host: stored.host,
      port: stored.port,
      rack: stored.rack,
      httpPort: stored.httpPort,
      epoch: createRevision,
      shuttingDown: stored.shuttingDown,
    });
    this.brokers.set(nodeId, registration);
    return { type: "broker", nodeId, registration };
  }

  /**
   * A topic created, deleted, given partitions or new configs is one "topic" event; a change of
   * partition states alone is one "partition" event per partition whose state changed.
   */
  private applyTopic(name: string, value: string | null): MetadataEvent[] {
    const old = this.topics.get(name);
    if (old) this.topicIds.delete(old.id);
    if (value === null) {
      this.topics.delete(name);
      return old ? [{ type: "topic", name, topic: null }] : [];
    }
    const stored = JSON.parse(value) as StoredTopic;
    const topic = frozenTopic({
      name,
      id: stored.id,
      partitions: stored.partitions,
      configs: stored.configs,
    });
    this.topics.set(name, topic);
    this.topicIds.set(topic.id, name);
    if (
      !old ||
      old.id !== topic.id ||
      old.partitions.length !== topic.partitions.length ||
      !sameConfigs(old, topic)
    )
      return [{ type: "topic", name, topic }];
    return topic.partitions
      .filter((p, i) => JSON.stringify(p) !== JSON.stringify(old.partitions[i]))
      .map((state) => ({ type: "partition", topic: name, partition: state.partition, state }));
  }

  topic(name: string): TopicState | undefined {
    return this.topics.get(name);
  }

  topicList(): TopicState[] {
    return [...this.topics.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  topicById(id: string): TopicState | undefined {
    const name = this.topicIds.get(id);
    return name === undefined ? undefined : this.topics.get(name);
  }
}

function sameConfigs(a: TopicState, b: TopicState): boolean {
  return (
    JSON.stringify(Object.entries(a.configs).sort()) === JSON.stringify(Object.entries(b.configs).sort())
  );
}
