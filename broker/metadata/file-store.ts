/**
 * The embedded metadata store of a single broker: one JSON document in the data directory,
 * replaced atomically (tmp + fsync + rename) on every change. Changes are serialised, so each
 * write sees the previous one. Producer ids are handed out from blocks reserved on disk, so an id
 * is never reused even after a kill -9.
 *
 * Topic configs are held in maps without a prototype (storage/topic-configs.ts configRecord). On
 * open, a stored config that is unknown or whose value is invalid (written by an older broker or
 * by hand, such as a key named `constructor`) is dropped with a warning and the file rewritten,
 * so one bad key never keeps the broker from starting.
 */
import { randomBytes } from "node:crypto";
import * as path from "node:path";
import type { Logger } from "pino";
import { KafkaError } from "../../protocol/errors.js";
import { NodeFs, type StorageFs, writeFileAtomic } from "../../storage/fs.js";
import { configRecord, keepValidTopicConfigs } from "../../storage/topic-configs.js";
import type { BrokerRecord, MetadataStore, TopicRecord } from "./store.js";

export const METADATA_FILE = "samsa-metadata.json";
/** Producer ids reserved per write of the metadata file. */
export const PRODUCER_ID_BLOCK = 1000;

interface Document {
  version: 1;
  clusterId: string;
  brokers: BrokerRecord[];
  topics: TopicRecord[];
  /** Producer ids below this were reserved and may have been handed out. */
  producerIdBlockEnd: number;
}

/** A random 22-character base64url id, the shape of Kafka's cluster ids. */
export function newClusterId(): string {
  return randomBytes(16).toString("base64url");
}

/** A topic id as stored: 32 lower-case hex digits, never all zeros (Kafka's "no id"). */
export const VALID_TOPIC_ID = /^(?!0{32})[0-9a-f]{32}$/;

/** A random topic id (Kafka's Uuid: 16 random bytes, never the all-zero "no id"). */
export function newTopicId(): string {
  // All zeros comes up once in 2^128 draws; a second draw is as good as certain to differ.
  const id = randomBytes(16).toString("hex");
  return VALID_TOPIC_ID.test(id) ? id : newTopicId();
}

/**
 * Replaces each topic's configs by a prototype-free map of its valid ones; returns whether any
 * was dropped (each logged at warn).
 */
function dropInvalidConfigs(doc: Document, log?: Logger): boolean {
  let changed = false;
  for (const topic of doc.topics) {
    const stored: unknown = topic.configs;
    const configs = stored !== null && typeof stored === "object" ? (stored as Record<string, unknown>) : {};
    const { kept, dropped } = keepValidTopicConfigs(configs);
    for (const d of dropped) {
      log?.warn(
        { topic: topic.name, config: d.name, reason: d.reason },
        "stored topic config dropped: the broker does not accept it",
      );
    }
    changed ||= dropped.length > 0 || stored !== configs;
    topic.configs = kept;
  }
  return changed;
}

export class FileMetadataStore implements MetadataStore {
  private doc: Document;
  /** The current document's topics by name and by id (request paths look topics up per topic). */
  private byName = new Map<string, TopicRecord>();
  private byId = new Map<string, TopicRecord>();
  private chain: Promise<void> = Promise.resolve();
  private nextId = 0;
  private blockEnd = 0;

  private constructor(
    private readonly file: string,
    private readonly sfs: StorageFs,
    doc: Document,
    private readonly nodeId: number,
  ) {
    this.doc = doc;
    this.setDoc(doc);
    this.nextId = this.blockEnd = doc.producerIdBlockEnd;
  }

  static async open(
    dataDir: string,
    nodeId: number,
    clusterId: string | null,
    sfs: StorageFs = new NodeFs(),
    log?: Logger,
  ): Promise<FileMetadataStore> {
    await sfs.mkdirp(dataDir);
    const file = path.join(dataDir, METADATA_FILE);
    const data = await sfs.readFile(file);
    let doc: Document;
    if (data) {
      try {
        doc = JSON.parse(data.toString("utf8")) as Document;
      } catch (err) {
        throw new KafkaError(
          "KAFKA_STORAGE_ERROR",
          `metadata file ${file} is unreadable: ${(err as Error).message}`,
        );
      }
      if (clusterId && doc.clusterId !== clusterId) {
        throw new KafkaError(
          "INCONSISTENT_CLUSTER_ID",
          `data dir belongs to cluster ${doc.clusterId}, configured ${clusterId}`,
        );
      }
    } else {
      doc = {
        version: 1,
        clusterId: clusterId ?? newClusterId(),
        brokers: [],
        topics: [],
        producerIdBlockEnd: 0,
      };
    }
    const droppedConfigs = dropInvalidConfigs(doc, log);
    const store = new FileMetadataStore(file, sfs, doc, nodeId);
    // Data written before topics had ids (or edited by hand) gets one now, persisted before any
    // client can see it, so the id a client learns never changes across restarts.
    const missingIds = doc.topics.some((t) => !VALID_TOPIC_ID.test(t.id ?? ""));
    if (!data || missingIds || droppedConfigs) {
      await store.mutate((d) => {
        for (const t of d.topics) if (!VALID_TOPIC_ID.test(t.id ?? "")) t.id = newTopicId();
      });
    }
    return store;
  }

  /** Applies `change` to a copy, writes it, then makes it current. Serialised. */
  private mutate<T>(change: (doc: Document) => T): Promise<T> {
    const run = this.chain.then(async () => {
      const next = structuredClone(this.doc);
      const result = change(next);
      await writeFileAtomic(this.sfs, this.file, Buffer.from(`${JSON.stringify(next, null, 2)}\n`));
      this.setDoc(next);
      return result;
    });
    this.chain = run.then(
      () => {},
      () => {},
    );
    return run;
  }

  private setDoc(doc: Document): void {
    // structuredClone gives plain objects back: the configs get their prototype-free maps again.
    for (const t of doc.topics) t.configs = configRecord(Object.entries(t.configs));
    this.doc = doc;
    this.byName = new Map(doc.topics.map((t) => [t.name, t]));
    this.byId = new Map(doc.topics.map((t) => [t.id, t]));
  }

  clusterId(): string {
    return this.doc.clusterId;
  }

  controllerId(): number {
    return this.nodeId;
  }

  brokers(): BrokerRecord[] {
    return this.doc.brokers;
  }

  async registerBroker(broker: BrokerRecord): Promise<void> {
    await this.mutate((doc) => {
      doc.brokers = [...doc.brokers.filter((b) => b.nodeId !== broker.nodeId), broker];
    });
  }

  topics(): TopicRecord[] {
    return this.doc.topics;
  }

  topic(name: string): TopicRecord | undefined {
    return this.byName.get(name);
  }

  topicById(id: string): TopicRecord | undefined {
    return this.byId.get(id);
  }

  async createTopic(topic: TopicRecord): Promise<void> {
    await this.mutate((doc) => {
      if (doc.topics.some((t) => t.name === topic.name)) {
        throw new KafkaError("TOPIC_ALREADY_EXISTS", `topic ${topic.name} already exists`);
      }
      doc.topics.push(topic);
    });
  }

  async deleteTopic(name: string): Promise<void> {
    await this.mutate((doc) => {
      if (!doc.topics.some((t) => t.name === name)) {
        throw new KafkaError("UNKNOWN_TOPIC_OR_PARTITION", `topic ${name} does not exist`);
      }
      doc.topics = doc.topics.filter((t) => t.name !== name);
    });
  }

  async updateTopic(name: string, change: (topic: TopicRecord) => TopicRecord): Promise<TopicRecord> {
    return this.mutate((doc) => {
      const i = doc.topics.findIndex((t) => t.name === name);
      if (i < 0) throw new KafkaError("UNKNOWN_TOPIC_OR_PARTITION", `topic ${name} does not exist`);
      doc.topics[i] = change(structuredClone(doc.topics[i]));
      return doc.topics[i];
    });
  }

  async nextProducerId(): Promise<number> {
    if (this.nextId >= this.blockEnd) {
      // Reserve the block on disk first: after a crash the next start begins past it.
      const end = await this.mutate((doc) => {
        doc.producerIdBlockEnd = Math.max(doc.producerIdBlockEnd, this.blockEnd) + PRODUCER_ID_BLOCK;
        return doc.producerIdBlockEnd;
      });
      if (this.nextId >= this.blockEnd) {
        this.nextId = end - PRODUCER_ID_BLOCK;
        this.blockEnd = end;
      }
    }
    return this.nextId++;
  }

  producerIdsIssued(): number {
    // After a restart nextId starts at the reserved block's end: every id of an earlier run is below it.
    return this.nextId;
  }

  async close(): Promise<void> {
    await this.chain;
  }
}
