/**
 * The HTTP door's way into the broker: it builds the request objects of Kafka APIs (Metadata,
 * ListOffsets, Produce, Fetch, CreateTopics, DeleteTopics, DescribeConfigs, DescribeLogDirs) and
 * runs them through
 * the same handlers Kafka clients reach (Dispatcher.handle), at fixed versions, as listener
 * "http". A topic- or partition-level error that leaves nothing to answer becomes an HttpError.
 */
import { errorName } from "../../protocol/errors.js";
import type { ApiKey, RequestOf, ResponseOf } from "../../protocol/types/index.js";
import type { MetadataResponseData, MetadataResponseTopic } from "../../protocol/types/metadata.js";
import type { Dispatcher } from "../dispatch.js";
import { callApi, type HttpCaller } from "./call-api.js";
import { HttpError } from "./errors.js";

const PRODUCE = 0;
const FETCH = 1;
const LIST_OFFSETS = 2;
const METADATA = 3;
const CREATE_TOPICS = 19;
const DELETE_TOPICS = 20;
const DESCRIBE_CONFIGS = 32;

/** The versions the HTTP door speaks; each handler serves them. */
export const HTTP_API_VERSIONS = {
  produce: 9,
  fetch: 12,
  listOffsets: 7,
  metadata: 12,
  createTopics: 7,
  deleteTopics: 6,
  describeConfigs: 4,
  describeLogDirs: 3,
} as const;

/** ListOffsets timestamps. */
export const LATEST_OFFSET = -1;
export const EARLIEST_OFFSET = -2;

/** The client id that the handlers see for HTTP requests. */
export { HTTP_CLIENT_ID } from "./call-api.js";

const ZERO_UUID = "00000000000000000000000000000000";
const RESOURCE_TOPIC = 2;

export interface PartitionMetadata {
  partition: number;
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
}

export interface TopicMetadata {
  name: string;
  topicId: string;
  internal: boolean;
  partitions: PartitionMetadata[];
}

export interface BrokerMetadata {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
}

export interface ProducedPartition {
  partition: number;
  errorCode: number;
  errorMessage: string | null;
  baseOffset: number;
}

export interface FetchedPartition {
  partition: number;
  errorCode: number;
  highWatermark: number;
  logStartOffset: number;
  /** Whole record batches, as a Kafka consumer gets them. */
  records: Buffer;
}

export interface FetchOptions {
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  partitionMaxBytes: number;
}

export interface CreatedTopic {
  name: string;
  topicId: string;
  partitions: number;
  replicationFactor: number;
  configs: Record<string, string | null>;
}

export class KafkaApi {
  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly caller: HttpCaller,
  ) {}

  private call<K extends ApiKey>(apiKey: K, version: number, request: RequestOf<K>): Promise<ResponseOf<K>> {
    return callApi(this.dispatcher, this.caller, apiKey, version, request);
  }

  /**
   * Refuses (403 TOPIC_AUTHORIZATION_FAILED) unless the caller may `operation` the topic: for a
   * route that would otherwise answer a refusal per record (produce), a refusal of the whole request.
   */
  requireTopic(operation: "WRITE" | "READ", topic: string): void {
    if (!this.caller.authorize(operation, "TOPIC", topic))
      throw HttpError.kafka(
        "TOPIC_AUTHORIZATION_FAILED",
        `${this.caller.principal} may not ${operation} topic ${topic}`,
      );
  }

  private metadata(topics: string[] | null, allowAutoTopicCreation: boolean): Promise<MetadataResponseData> {
    return this.call(METADATA, HTTP_API_VERSIONS.metadata, {
      topics: topics === null ? null : topics.map((name) => ({ topicId: ZERO_UUID, name })),
      allowAutoTopicCreation,
      includeTopicAuthorizedOperations: false,
    });
  }

  async brokers(): Promise<BrokerMetadata[]> {
    const response = await this.metadata([], false);
    return response.brokers.map((b) => ({
      nodeId: b.nodeId,
      host: b.host,
      port: b.port,
      rack: b.rack ?? null,
    }));
  }

  /** Every topic, sorted by name. */
  async topics(): Promise<TopicMetadata[]> {
    const response = await this.metadata(null, false);
    return response.topics
      .filter((t) => t.errorCode === 0)
      .map(toTopicMetadata)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** One topic; created first when `autoCreate` and the broker's auto.create.topics.enable allow. */
  async topic(name: string, autoCreate: boolean): Promise<TopicMetadata> {
    const response = await this.metadata([name], autoCreate);
    const topic = response.topics[0];
    if (!topic) throw HttpError.kafka("UNKNOWN_TOPIC_OR_PARTITION", `topic ${name} does not exist`);
    if (topic.errorCode !== 0) throw HttpError.kafka(topic.errorCode, topicMessage(topic, name));
    return toTopicMetadata(topic);
  }

  /** The offset for `timestamp` (LATEST_OFFSET, EARLIEST_OFFSET, ...) of each partition. */
  async offsets(topic: string, partitions: number[], timestamp: number): Promise<Map<number, number>> {
    const response = await this.call(LIST_OFFSETS, HTTP_API_VERSIONS.listOffsets, {
      replicaId: -1,
      isolationLevel: 0,
      topics: [
        {
          name: topic,
          partitions: partitions.map((p) => ({ partitionIndex: p, currentLeaderEpoch: -1, timestamp })),
        },
      ],
    });
    const out = new Map<number, number>();
    for (const p of response.topics[0]?.partitions ?? []) {
      if (p.errorCode !== 0) {
        throw HttpError.kafka(p.errorCode, `listing offsets of ${topic}-${p.partitionIndex}`);
      }
      out.set(p.partitionIndex, p.offset ?? -1);
    }
    return out;
  }

  /** Appends record batches (acks=all); one result per partition, in request order. */
  async produce(topic: string, data: { partition: number; records: Buffer }[]): Promise<ProducedPartition[]> {
    const response = await this.call(PRODUCE, HTTP_API_VERSIONS.produce, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 30_000,
      topicData: [
        { name: topic, partitionData: data.map((d) => ({ index: d.partition, records: d.records })) },
      ],
    });
    const results = response.responses[0]?.partitionResponses;
    return results.map((r) => ({
      partition: r.index,
      errorCode: r.errorCode,
      errorMessage: r.errorMessage ?? null,
      baseOffset: r.baseOffset,
    }));
  }

  /** Fetches as a consumer (read_uncommitted), waiting per `options` as a Kafka fetch does. */
  async fetch(
    topic: string,
    positions: { partition: number; offset: number }[],
    options: FetchOptions,
  ): Promise<FetchedPartition[]> {
    const response = await this.call(FETCH, HTTP_API_VERSIONS.fetch, {
      replicaId: -1,
      maxWaitMs: options.maxWaitMs,
      minBytes: options.minBytes,
      maxBytes: options.maxBytes,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [
        {
          topic,
          partitions: positions.map((p) => ({
            partition: p.partition,
            currentLeaderEpoch: -1,
            fetchOffset: p.offset,
            lastFetchedEpoch: -1,
            logStartOffset: -1,
            partitionMaxBytes: options.partitionMaxBytes,
          })),
        },
      ],
      forgottenTopicsData: [],
      rackId: "",
    });
    if (response.errorCode) throw HttpError.kafka(response.errorCode, `fetching ${topic}`);
    const partitions = response.responses[0]?.partitions ?? [];
    return partitions.map((p) => ({
      partition: p.partitionIndex,
      errorCode: p.errorCode,
      highWatermark: p.highWatermark,
      logStartOffset: p.logStartOffset ?? -1,
      records: p.records ?? Buffer.alloc(0),
    }));
  }

  /** Creates a topic; -1 partitions or replication factor take the broker's defaults. */
  async createTopic(
    name: string,
    partitions: number,
    replicationFactor: number,
    configs: Record<string, string>,
  ): Promise<CreatedTopic> {
    const response = await this.call(CREATE_TOPICS, HTTP_API_VERSIONS.createTopics, {
      topics: [
        {
          name,
          numPartitions: partitions,
          replicationFactor,
          assignments: [],
          configs: Object.entries(configs).map(([key, value]) => ({ name: key, value })),
        },
      ],
      timeoutMs: 60_000,
      validateOnly: false,
    });
    const result = response.topics[0];
    if (result.errorCode !== 0) throw HttpError.kafka(result.errorCode, result.errorMessage);
    return {
      name: result.name,
      topicId: result.topicId ?? ZERO_UUID,
      partitions: result.numPartitions ?? -1,
      replicationFactor: result.replicationFactor ?? -1,
      configs: configMap(result.configs ?? []),
    };
  }

  async deleteTopic(name: string): Promise<{ name: string; topicId: string }> {
    const response = await this.call(DELETE_TOPICS, HTTP_API_VERSIONS.deleteTopics, {
      topics: [{ name, topicId: ZERO_UUID }],
      timeoutMs: 60_000,
    });
    const result = response.responses[0];
    if (result.errorCode !== 0) throw HttpError.kafka(result.errorCode, result.errorMessage);
    return { name: result.name ?? name, topicId: result.topicId ?? ZERO_UUID };
  }

  /** The topic's effective configs (its own over the broker's defaults); only `keys` when given. */
  async topicConfigs(name: string, keys: string[] | null = null): Promise<Record<string, string | null>> {
    const response = await this.call(DESCRIBE_CONFIGS, HTTP_API_VERSIONS.describeConfigs, {
      resources: [{ resourceType: RESOURCE_TOPIC, resourceName: name, configurationKeys: keys }],
      includeSynonyms: false,
      includeDocumentation: false,
    });
    const result = response.results[0];
    if (result.errorCode !== 0) throw HttpError.kafka(result.errorCode, result.errorMessage);
    return configMap(result.configs);
  }

  /** The topic's max.message.bytes: the largest batch a produce to it may hold. */
  async maxMessageBytes(name: string): Promise<number> {
    const value = Number((await this.topicConfigs(name, ["max.message.bytes"]))["max.message.bytes"]);
    if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`topic ${name}: no max.message.bytes`);
    return value;
  }
}

function toTopicMetadata(topic: MetadataResponseTopic): TopicMetadata {
  return {
    name: topic.name ?? "",
    topicId: topic.topicId ?? ZERO_UUID,
    internal: Boolean(topic.isInternal),
    partitions: topic.partitions
      .map((p) => ({
        partition: p.partitionIndex,
        leader: p.leaderId,
        leaderEpoch: p.leaderEpoch ?? -1,
        replicas: p.replicaNodes,
        isr: p.isrNodes,
      }))
      .sort((a, b) => a.partition - b.partition),
  };
}

function topicMessage(topic: MetadataResponseTopic, name: string): string {
  const code = errorName(topic.errorCode);
  if (code === "UNKNOWN_TOPIC_OR_PARTITION") return `topic ${name} does not exist`;
  if (code === "INVALID_TOPIC_EXCEPTION") return `"${name}" is not a legal topic name`;
  return `topic ${name}: ${code}`;
}

function configMap(entries: { name: string; value: string | null }[]): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const e of [...entries].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    out[e.name] = e.value ?? null;
  }
  return out;
}
