/**
 * Cluster metadata behind one interface: brokers, topics (ids, partition assignments, leaders,
 * ISR, epochs), topic configs, and producer-id blocks. The embedded file store backs a single
 * broker; an etcd-backed store for clusters implements the same interface.
 */

/** Kafka's "no topic id" (Uuid.ZERO_UUID), in the stored hex form. */
export const NULL_TOPIC_ID = "00000000000000000000000000000000";

export interface BrokerRecord {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
}

export interface PartitionRecord {
  partition: number;
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
}

export interface TopicRecord {
  name: string;
  /** 32 hex digits, as Kafka's topic UUIDs. */
  id: string;
  partitions: PartitionRecord[];
  /**
   * Topic configs set explicitly (Kafka names); defaults are not stored. A map without a
   * prototype (storage/topic-configs.ts configRecord), so a client's key is only ever an own key.
   */
  configs: Record<string, string>;
}

export interface MetadataStore {
  clusterId(): string;
  controllerId(): number;
  brokers(): BrokerRecord[];
  registerBroker(broker: BrokerRecord): Promise<void>;
  topics(): TopicRecord[];
  topic(name: string): TopicRecord | undefined;
  topicById(id: string): TopicRecord | undefined;
  /** Throws TOPIC_ALREADY_EXISTS if the name is taken. */
  createTopic(topic: TopicRecord): Promise<void>;
  /** Throws UNKNOWN_TOPIC_OR_PARTITION if absent. */
  deleteTopic(name: string): Promise<void>;
  /** Replaces a topic's record through `change`; throws UNKNOWN_TOPIC_OR_PARTITION if absent. */
  updateTopic(name: string, change: (topic: TopicRecord) => TopicRecord): Promise<TopicRecord>;
  /** A producer id never handed out before, across restarts. */
  nextProducerId(): Promise<number>;
  /**
   * Every producer id below this was handed out (or may have been, by an earlier run); none at
   * or above it was. Produce refuses ids at or above it (broker/producer-ids.ts).
   */
  producerIdsIssued(): number;
  close(): Promise<void>;
}
