/**
 * The HTTP door's way into the broker: it builds the request objects of Kafka APIs (Metadata,
 * ListOffsets, Produce, Fetch, CreateTopics, DeleteTopics, DescribeConfigs, DescribeLogDirs) and
 * runs them through
 * the same handlers Kafka clients reach (Dispatcher.handle), at fixed versions, as listener
 * "http". A topic- or partition-level error that leaves nothing to answer becomes an HttpError.
 */
import type { Message } from "../../protocol/codec.js";
import { errorName } from "../../protocol/errors.js";
import type { Dispatcher } from "../dispatch.js";
import { HttpError } from "./errors.js";

const PRODUCE = 0;
const FETCH = 1;
const LIST_OFFSETS = 2;
const METADATA = 3;
const CREATE_TOPICS = 19;
const DELETE_TOPICS = 20;
const DESCRIBE_CONFIGS = 32;
const DESCRIBE_LOG_DIRS = 35;

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
export const HTTP_CLIENT_ID = "samsa-http";

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

export interface PartitionLogDir {
  /** Bytes of the partition's log on disk. */
  size: number;
  /** Log end offset minus high watermark. */
  offsetLag: number;
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
    private readonly clientHost: string,
  ) {}

  private async call(apiKey: number, version: number, request: Message): Promise<Message> {
    const response = await this.dispatcher.handle(apiKey, version, request, {
      clientHost: this.clientHost,
      listener: "http",
      clientId: HTTP_CLIENT_ID,
    });
    if (response === null) throw new Error(`API ${apiKey} answered nothing`);
    return response;
  }

  private metadata(topics: string[] | null, allowAutoTopicCreation: boolean): Promise<Message> {
    return this.call(METADATA, HTTP_API_VERSIONS.metadata, {
      topics: topics === null ? null : topics.map((name) => ({ topicId: ZERO_UUID, name })),
      allowAutoTopicCreation,
      includeTopicAuthorizedOperations: false,
    });
  }

  async brokers(): Promise<BrokerMetadata[]> {
    const response = await this.metadata([], false);
    return (response.brokers as BrokerMetadata[]).map((b) => ({
      nodeId: b.nodeId,
      host: b.host,
      port: b.port,
      rack: b.rack,
    }));
  }

  /** Every topic, sorted by name. */
  async topics(): Promise<TopicMetadata[]> {
    const response = await this.metadata(null, false);
    return (response.topics as Message[])
      .filter((t) => t.errorCode === 0)
      .map(toTopicMetadata)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** One topic; created first when `autoCreate` and the broker's auto.create.topics.enable allow. */
  async topic(name: string, autoCreate: boolean): Promise<TopicMetadata> {
    const response = await this.metadata([name], autoCreate);
    const topic = (response.topics as Message[])[0];
    if (!topic) throw HttpError.kafka("UNKNOWN_TOPIC_OR_PARTITION", `topic ${name} does not exist`);
    if (topic.errorCode !== 0) throw HttpError.kafka(topic.errorCode as number, topicMessage(topic, name));
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
    for (const p of (response.topics as Message[])[0]?.partitions ?? []) {
      if (p.errorCode !== 0) {
        throw HttpError.kafka(p.errorCode as number, `listing offsets of ${topic}-${p.partitionIndex}`);
      }
      out.set(p.partitionIndex as number, p.offset as number);
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
    const results = (response.responses as Message[])[0]?.partitionResponses as Message[];
    return results.map((r) => ({
      partition: r.index as number,
      errorCode: r.errorCode as number,
      errorMessage: (r.errorMessage as string | null) ?? null,
      baseOffset: r.baseOffset as number,
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
    if (response.errorCode !== 0) throw HttpError.kafka(response.errorCode as number, `fetching ${topic}`);
    const partitions = ((response.responses as Message[])[0]?.partitions ?? []) as Message[];
    return partitions.map((p) => ({
      partition: p.partitionIndex as number,
      errorCode: p.errorCode as number,
      highWatermark: p.highWatermark as number,
      logStartOffset: p.logStartOffset as number,
      records: (p.records as Buffer | null) ?? Buffer.alloc(0),
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
    const result = (response.topics as Message[])[0];
    if (result.errorCode !== 0)
      throw HttpError.kafka(result.errorCode as number, result.errorMessage as string);
    return {
      name: result.name as string,
      topicId: result.topicId as string,
      partitions: result.numPartitions as number,
      replicationFactor: result.replicationFactor as number,
      configs: configMap(result.configs as Message[]),
    };
  }

  async deleteTopic(name: string): Promise<{ name: string; topicId: string }> {
    const response = await this.call(DELETE_TOPICS, HTTP_API_VERSIONS.deleteTopics, {
      topics: [{ name, topicId: ZERO_UUID }],
      timeoutMs: 60_000,
    });
    const result = (response.responses as Message[])[0];
    if (result.errorCode !== 0)
      throw HttpError.kafka(result.errorCode as number, result.errorMessage as string);
    return { name: result.name as string, topicId: result.topicId as string };
  }

  /** The topic's effective configs (its own over the broker's defaults); only `keys` when given. */
  async topicConfigs(name: string, keys: string[] | null = null): Promise<Record<string, string | null>> {
    const response = await this.call(DESCRIBE_CONFIGS, HTTP_API_VERSIONS.describeConfigs, {
      resources: [{ resourceType: RESOURCE_TOPIC, resourceName: name, configurationKeys: keys }],
      includeSynonyms: false,
      includeDocumentation: false,
    });
    const result = (response.results as Message[])[0];
    if (result.errorCode !== 0)
      throw HttpError.kafka(result.errorCode as number, result.errorMessage as string);
    return configMap(result.configs as Message[]);
  }

  /** The topic's max.message.bytes: the largest batch a produce to it may hold. */
  async maxMessageBytes(name: string): Promise<number> {
    const value = Number((await this.topicConfigs(name, ["max.message.bytes"]))["max.message.bytes"]);
    if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`topic ${name}: no max.message.bytes`);
    return value;
  }

  /** Size on disk and offset lag of each of the topic's partitions held here. */
  async logDirs(topic: string, partitions: number[]): Promise<Map<number, PartitionLogDir>> {
    const response = await this.call(DESCRIBE_LOG_DIRS, HTTP_API_VERSIONS.describeLogDirs, {
      topics: [{ topic, partitions }],
    });
    if (response.errorCode !== 0) throw HttpError.kafka(response.errorCode as number, `log dirs of ${topic}`);
    const out = new Map<number, PartitionLogDir>();
    for (const dir of response.results as Message[]) {
      if (dir.errorCode !== 0) throw HttpError.kafka(dir.errorCode as number, `log dir ${dir.logDir}`);
      for (const t of dir.topics as Message[]) {
        if (t.name !== topic) continue;
        for (const p of t.partitions as Message[]) {
          out.set(p.partitionIndex as number, {
            size: p.partitionSize as number,
            offsetLag: p.offsetLag as number,
          });
        }
      }
    }
    return out;
  }
}

function toTopicMetadata(topic: Message): TopicMetadata {
  return {
    name: topic.name as string,
    topicId: topic.topicId as string,
    internal: Boolean(topic.isInternal),
    partitions: (topic.partitions as Message[])
      .map((p) => ({
        partition: p.partitionIndex as number,
        leader: p.leaderId as number,
        leaderEpoch: p.leaderEpoch as number,
        replicas: p.replicaNodes as number[],
        isr: p.isrNodes as number[],
      }))
      .sort((a, b) => a.partition - b.partition),
  };
}

function topicMessage(topic: Message, name: string): string {
  const code = errorName(topic.errorCode as number);
  if (code === "UNKNOWN_TOPIC_OR_PARTITION") return `topic ${name} does not exist`;
  if (code === "INVALID_TOPIC_EXCEPTION") return `"${name}" is not a legal topic name`;
  return `topic ${name}: ${code}`;
}

function configMap(entries: Message[]): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const e of [...entries].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    out[e.name as string] = (e.value as string | null) ?? null;
  }
  return out;
}
