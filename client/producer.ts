/**
 * The samsa producer. Records are batched per partition (sealed at `batchSize` bytes or after
 * `lingerMs`), keyed records go to the partition the Java client would pick (murmur2), records
 * without a key stick to one partition until its batch is sealed, and every `send()` resolves
 * with its own partition and offset once the broker acknowledged it.
 *
 * Idempotence (on by default with acks=-1): the producer gets an id and epoch from the broker and
 * numbers its batches; one request per partition is in flight at a time and a failed request is
 * retried with the same bytes, so a retry after a lost answer is not written twice and order is
 * kept. Memory for records not yet acknowledged is bounded by `bufferMemory`: `send()` waits (up to
 * `maxBlockMs`) for room, then fails with BUFFER_FULL.
 */
import { errorName, KafkaError } from "../protocol/errors.js";
import { partitionForKey } from "../protocol/murmur2.js";
import {
  Compression,
  encodeRecordBatch,
  type RecordHeader,
  type RecordInput,
} from "../protocol/record-batch.js";
import { Cluster, type ClusterOptions } from "./cluster.js";
import { ClientError, isRetriable } from "./errors.js";
import { backoffMs } from "./retry.js";

export type CompressionName = "none" | "gzip" | "snappy" | "lz4" | "zstd";

const CODECS: Record<CompressionName, Compression> = {
  none: Compression.None,
  gzip: Compression.Gzip,
  snappy: Compression.Snappy,
  lz4: Compression.Lz4,
  zstd: Compression.Zstd,
};

export interface ProducerRecord {
  topic: string;
  key?: Buffer | string | null;
  value: Buffer | string | null;
  headers?: Record<string, string | Buffer | null> | RecordHeader[];
  /** Explicit partition; otherwise chosen from the key (murmur2) or sticky for null keys. */
  partition?: number;
  /** Milliseconds since the epoch; defaults to the time of send(). */
  timestamp?: number;
}

export interface RecordMetadata {
  topic: string;
  partition: number;
  /** -1 with acks=0, which gets no answer. */
  offset: number;
  timestamp: number;
}

export interface ProducerOptions {
  acks?: 0 | 1 | -1;
  /** How long a partition's batch waits for more records before it is sent. */
  lingerMs?: number;
  /** Bytes of records that seal a batch. */
  batchSize?: number;
  /** Bytes of records sent but not yet acknowledged, across all partitions. */
  bufferMemory?: number;
  /** How long send() waits for buffer memory before failing with BUFFER_FULL. */
  maxBlockMs?: number;
  compression?: CompressionName;
  /** Default true when acks is -1. */
  idempotent?: boolean;
  /** Attempts after the first for a batch that fails with a retriable error. */
  retries?: number;
  /**
   * Produce requests of one partition sent before the first is answered (compare Java's
   * max.in.flight.requests.per.connection). Default 1: on loopback, one request at a time carries
   * everything sealed meanwhile, and fewer, larger requests cost the broker less (measured: 5 in
   * flight was 25-40% slower on the 2-core bench machine). More helps over long round trips. An
   * idempotent producer keeps 1, so its sequences arrive in order; otherwise a retried batch may
   * land after later ones.
   */
  maxInFlightPerPartition?: number;
  /**
   * Produce requests to one broker sent before the first is answered (Java's
   * max.in.flight.requests.per.connection, default 5 there too). Batches sealed while a broker
   * is at the limit wait and go out together in its next request: with many partitions whose
   * batches seal at different moments, fewer, larger requests instead of one per partition.
   */
  maxInFlightRequests?: number;
  /** Largest records section sent for one partition in one request. */
  maxRequestBytes?: number;
  /** The broker's timeout for acks=-1. */
  ackTimeoutMs?: number;
  /** Create topics on first send when the broker allows it. */
  allowAutoTopicCreation?: boolean;
}

const DEFAULTS = {
  acks: -1 as 0 | 1 | -1,
  lingerMs: 5,
  batchSize: 16 * 1024,
  bufferMemory: 32 * 1024 * 1024,
  maxBlockMs: 60_000,
  compression: "none" as CompressionName,
  retries: 10,
  maxInFlightPerPartition: 1,
  maxInFlightRequests: 5,
  maxRequestBytes: 1024 * 1024,
  ackTimeoutMs: 30_000,
  allowAutoTopicCreation: true,
};

/** Bytes a record adds to a batch besides its key, value and headers (an estimate). */
const RECORD_OVERHEAD = 24;
const INT32_MAX = 0x7fff_ffff;

interface Batch {
  buf: Buffer;
  count: number;
  bytes: number;
  records: RecordInput[];
  resolves: ((m: RecordMetadata) => void)[];
  rejects: ((e: unknown) => void)[];
}

/** The batch a partition is filling: records and their callers' settle functions, side by side. */
interface OpenBatch {
  records: RecordInput[];
  resolves: ((m: RecordMetadata) => void)[];
  rejects: ((e: unknown) => void)[];
  bytes: number;
}

const NO_HEADERS: RecordHeader[] = [];

/** One partition's part of a Produce response. */
interface PartitionAnswer {
  index: number;
  errorCode: number;
  baseOffset: number;
  errorMessage?: string | null;
}

class PartitionQueue {
  open: OpenBatch | null = null;
  /** Seals the open batch when its linger ends (an immediate for lingerMs 0). */
  timer: NodeJS.Timeout | NodeJS.Immediate | null = null;
  readonly ready: Batch[] = [];
  /** Produce requests sent for this partition and not yet answered. */
  inFlight = 0;
  /** A retry waits for its backoff: no request for this partition before this time (ms). */
  retryAt = 0;
  attempts = 0;
  nextSequence = 0;

  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {}
}

function toBuffer(v: Buffer | string | null | undefined): Buffer | null {
  if (v === null || v === undefined) return null;
  return typeof v === "string" ? Buffer.from(v) : v;
}

function toHeaders(h: ProducerRecord["headers"]): RecordHeader[] {
  if (!h) return [];
  if (Array.isArray(h)) return h;
  return Object.entries(h).map(([key, value]) => ({ key, value: toBuffer(value) }));
}

export class Producer {
  readonly cluster: Cluster;
  private readonly owned: boolean;
  private readonly options: typeof DEFAULTS & { idempotent: boolean };
  /** Every partition queue, and the same by topic and partition index. */
  private readonly queues: PartitionQueue[] = [];
  private readonly queuesByTopic = new Map<string, PartitionQueue[]>();
  private readonly sticky = new Map<string, number>();
  private bufferUsed = 0;
  private readonly memoryWaiters: (() => void)[] = [];
  private outstanding = 0;
  private readonly idleWaiters: (() => void)[] = [];
  private producerId = -1;
  private producerEpoch = -1;
  private idInit: Promise<void> | null = null;
  private closed = false;
  /** Requests in flight per partition: 1 when idempotent, else maxInFlightPerPartition. */
  private readonly maxInFlight: number;
  /** Produce requests in flight per leader broker id. */
  private readonly requestsTo = new Map<number, number>();

  /**
   * `cluster`: connection options or a shared Cluster. Producer options may be given in `options`
   * or, with connection options, in the same object: `new Producer({ brokers, acks: 1 })`.
   */
  constructor(cluster: (ClusterOptions & ProducerOptions) | Cluster, options: ProducerOptions = {}) {
    this.owned = !(cluster instanceof Cluster);
    this.cluster = cluster instanceof Cluster ? cluster : new Cluster(cluster);
    const given: ProducerOptions = { ...(cluster instanceof Cluster ? {} : cluster), ...options };
    const merged = { ...DEFAULTS };
    for (const k of Object.keys(DEFAULTS) as (keyof typeof DEFAULTS)[]) {
      if (given[k] !== undefined) (merged as Record<string, unknown>)[k] = given[k];
    }
    this.options = { ...merged, idempotent: given.idempotent ?? merged.acks === -1 };
    if (this.options.idempotent && this.options.acks !== -1) {
      throw new ClientError("INVALID_ARGUMENT", "an idempotent producer needs acks=-1");
    }
    if (!(this.options.compression in CODECS)) {
      throw new ClientError("INVALID_ARGUMENT", `unknown compression ${this.options.compression}`);
    }
    const perPartition = this.options.maxInFlightPerPartition;
    if (!Number.isInteger(perPartition) || perPartition < 1) {
      throw new ClientError(
        "INVALID_ARGUMENT",
        `maxInFlightPerPartition ${perPartition}: expected an integer >= 1`,
      );
    }
    const perBroker = this.options.maxInFlightRequests;
    if (!Number.isInteger(perBroker) || perBroker < 1) {
      throw new ClientError("INVALID_ARGUMENT", `maxInFlightRequests ${perBroker}: expected an integer >= 1`);
    }
    this.maxInFlight = this.options.idempotent ? 1 : perPartition;
  }

  /**
   * Queues a record; resolves with its partition and offset once acknowledged. When the topic's
   * metadata is cached, buffer memory is free and the producer id is known (the steady state),
   * the record joins its batch synchronously: no await, one promise per record.
   */
  send(record: ProducerRecord): Promise<RecordMetadata> {
    if (this.closed) return Promise.reject(new ClientError("CLOSED", "producer is closed"));
    const key = toBuffer(record.key);
    const value = toBuffer(record.value);
    const headers = record.headers ? toHeaders(record.headers) : NO_HEADERS;
    const now = Date.now();
    const timestamp = record.timestamp ?? now;
    let bytes = RECORD_OVERHEAD + (key?.length ?? 0) + (value?.length ?? 0);
    for (const h of headers) bytes += h.key.length + (h.value?.length ?? 0) + 4;
    const info = this.cluster.cachedTopic(record.topic, now);
    if (
      info &&
      this.memoryWaiters.length === 0 &&
      this.bufferUsed + bytes <= this.options.bufferMemory &&
      (!this.options.idempotent || this.producerId >= 0)
    ) {
      let partition: number;
      try {
        partition = this.partitionOf(record.topic, info.partitions.length, key, record.partition);
      } catch (err) {
        return Promise.reject(err);
      }
      this.bufferUsed += bytes;
      return this.enqueue(this.queueFor(record.topic, partition), { key, value, headers, timestamp }, bytes);
    }
    return this.sendSlowly(record.topic, { key, value, headers, timestamp }, bytes, record.partition);
  }

  /** The path that waits: for metadata, buffer memory or the producer id. */
  private async sendSlowly(
    topic: string,
    input: RecordInput,
    bytes: number,
    explicit: number | undefined,
  ): Promise<RecordMetadata> {
    await this.reserveMemory(bytes);
    let partition: number;
    try {
      const info = await this.cluster.topic(topic, this.options.allowAutoTopicCreation);
      partition = this.partitionOf(topic, info.partitions.length, input.key ?? null, explicit);
      if (this.options.idempotent) await this.ensureProducerId();
    } catch (err) {
      this.releaseMemory(bytes);
      throw err;
    }
    return this.enqueue(this.queueFor(topic, partition), input, bytes);
  }

  private enqueue(queue: PartitionQueue, input: RecordInput, bytes: number): Promise<RecordMetadata> {
    return new Promise<RecordMetadata>((resolve, reject) => {
      let open = queue.open;
      if (!open) {
        open = { records: [], resolves: [], rejects: [], bytes: 0 };
        queue.open = open;
      }
      open.records.push(input);
      open.resolves.push(resolve);
      open.rejects.push(reject);
      open.bytes += bytes;
      this.outstanding++;
      if (open.bytes >= this.options.batchSize) this.seal(queue);
      else if (!queue.timer) {
        // setTimeout(0) waits at least 1 ms in Node: lingerMs 0 seals once this turn's sends are in.
        queue.timer =
          this.options.lingerMs > 0
            ? setTimeout(() => this.seal(queue), this.options.lingerMs)
            : setImmediate(() => this.seal(queue));
      }
    });
  }

  private async reserveMemory(bytes: number): Promise<void> {
    if (bytes > this.options.bufferMemory) {
      throw new ClientError("BUFFER_FULL", `a record of ${bytes} bytes exceeds bufferMemory`);
    }
    const deadline = Date.now() + this.options.maxBlockMs;
    while (this.bufferUsed + bytes > this.options.bufferMemory) {
      const left = deadline - Date.now();
      if (left <= 0)
        throw new ClientError("BUFFER_FULL", `no buffer memory freed within ${this.options.maxBlockMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.memoryWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    this.bufferUsed += bytes;
  }

  private releaseMemory(bytes: number): void {
    this.bufferUsed -= bytes;
    if (this.memoryWaiters.length > 0) for (const w of this.memoryWaiters.splice(0)) w();
  }

  /** Explicit, by key (murmur2, as Java), or the topic's sticky partition for null keys. */
  private partitionOf(topic: string, count: number, key: Buffer | null, explicit?: number): number {
    if (explicit !== undefined) {
      if (!Number.isInteger(explicit) || explicit < 0 || explicit >= count) {
        throw new KafkaError("UNKNOWN_TOPIC_OR_PARTITION", `topic ${topic} has no partition ${explicit}`);
      }
      return explicit;
    }
    if (key) return partitionForKey(key, count);
    let sticky = this.sticky.get(topic);
    if (sticky === undefined || sticky >= count) {
      sticky = Math.floor(Math.random() * count);
      this.sticky.set(topic, sticky);
    }
    return sticky;
  }

  private ensureProducerId(): Promise<void> {
    if (!this.idInit) {
      this.idInit = (async () => {
        const conn = await this.cluster.anyConnection();
        const r = await conn.request(22, {
          transactionalId: null,
          transactionTimeoutMs: 60_000,
          producerId: -1,
          producerEpoch: -1,
        });
        Cluster.check(r.errorCode, "InitProducerId");
        this.producerId = r.producerId;
        this.producerEpoch = r.producerEpoch;
      })();
      this.idInit.catch(() => {
        this.idInit = null;
      });
    }
    return this.idInit;
  }

  private queueFor(topic: string, partition: number): PartitionQueue {
    let byPartition = this.queuesByTopic.get(topic);
    if (!byPartition) {
      byPartition = [];
      this.queuesByTopic.set(topic, byPartition);
    }
    let q = byPartition[partition];
    if (!q) {
      q = new PartitionQueue(topic, partition);
      byPartition[partition] = q;
      this.queues.push(q);
    }
    return q;
  }

  /** Closes the partition's open batch and hands it to the sender. */
  private seal(queue: PartitionQueue): void {
    const timer = queue.timer;
    if (timer) {
      if ("refresh" in timer) clearTimeout(timer);
      else clearImmediate(timer);
    }
    queue.timer = null;
    const open = queue.open;
    if (!open) return;
    queue.open = null;
    // A null-key topic moves on to another partition once its sticky batch is full.
    if (this.sticky.get(queue.topic) === queue.partition) this.sticky.delete(queue.topic);
    const idempotent = this.options.idempotent;
    try {
      const buf = encodeRecordBatch(open.records, {
        compression: CODECS[this.options.compression],
        producerId: idempotent ? this.producerId : -1,
        producerEpoch: idempotent ? this.producerEpoch : -1,
        baseSequence: idempotent ? queue.nextSequence : -1,
        baseTimestamp: open.records[0].timestamp,
      });
      if (idempotent) {
        const next = queue.nextSequence + open.records.length;
        queue.nextSequence = next > INT32_MAX ? next - INT32_MAX - 1 : next;
      }
      queue.ready.push({ buf, count: open.records.length, ...open });
    } catch (err) {
      this.finish({ buf: Buffer.alloc(0), count: 0, ...open }, err);
      return;
    }
    // A leader at its bound of requests in flight takes this batch with its next answer's send:
    // no pass over every partition for each batch sealed meanwhile.
    const leader = this.cluster.cachedTopic(queue.topic)?.partitions[queue.partition]?.leader;
    if (leader !== undefined && (this.requestsTo.get(leader) ?? 0) >= this.options.maxInFlightRequests)
      return;
    this.kickSender();
  }

  private sending = false;

  private kickSender(): void {
    if (this.sending) return;
    this.sending = true;
    queueMicrotask(() => {
      this.sending = false;
      void this.sendReady();
    });
  }

  /** Sends every partition that has ready batches and nothing in flight, grouped by leader. */
  private async sendReady(): Promise<void> {
    const byLeader = new Map<number, PartitionQueue[]>();
    const now = Date.now();
    for (const q of this.queues) {
      if (q.inFlight >= this.maxInFlight || q.ready.length === 0 || q.retryAt > now) continue;
      let info = this.cluster.cachedTopic(q.topic, now);
      if (!info) {
        try {
          info = await this.cluster.topic(q.topic);
        } catch (err) {
          this.failQueue(q, err);
          continue;
        }
        if (q.inFlight >= this.maxInFlight) continue;
      }
      const leader = info.partitions[q.partition]?.leader ?? -1;
      // A broker with the most requests in flight gets this batch in its next request.
      if ((this.requestsTo.get(leader) ?? 0) >= this.options.maxInFlightRequests) continue;
      q.inFlight++;
      let list = byLeader.get(leader);
      if (!list) {
        list = [];
        byLeader.set(leader, list);
      }
      list.push(q);
    }
    for (const [leader, queues] of byLeader) {
      this.requestsTo.set(leader, (this.requestsTo.get(leader) ?? 0) + 1);
      void this.sendTo(leader, queues);
    }
  }

  private async sendTo(leader: number, queues: PartitionQueue[]): Promise<void> {
    const taken = new Map<PartitionQueue, Batch[]>();
    const topicData = new Map<string, { index: number; records: Buffer }[]>();
    for (const q of queues) {
      const batches: Batch[] = [];
      let bytes = 0;
      while (
        q.ready.length > 0 &&
        (batches.length === 0 || bytes + q.ready[0].buf.length <= this.options.maxRequestBytes)
      ) {
        const b = q.ready.shift()!;
        batches.push(b);
        bytes += b.buf.length;
      }
      taken.set(q, batches);
      const records = batches.length === 1 ? batches[0].buf : Buffer.concat(batches.map((b) => b.buf));
      let partitions = topicData.get(q.topic);
      if (!partitions) {
        partitions = [];
        topicData.set(q.topic, partitions);
      }
      partitions.push({ index: q.partition, records });
    }
    const body = {
      transactionalId: null,
      acks: this.options.acks,
      timeoutMs: this.options.ackTimeoutMs,
      topicData: [...topicData].map(([name, partitionData]) => ({ name, partitionData })),
    };
    let response: Awaited<ReturnType<Awaited<ReturnType<Cluster["brokerConnection"]>>["request"]>> | null =
      null;
    let failure: unknown = null;
    try {
      const conn = await this.cluster.brokerConnection(leader);
      if (this.options.acks === 0) await conn.sendOnly(0, body);
      else response = await conn.request(0, body);
    } catch (err) {
      failure = err;
    }
    this.requestsTo.set(leader, (this.requestsTo.get(leader) ?? 1) - 1);
    // Answers by topic and partition: a lookup per partition, not a scan of the response.
    const answers = new Map<string, Map<number, PartitionAnswer>>();
    if (response) {
      for (const t of response.responses as { name: string; partitionResponses: PartitionAnswer[] }[]) {
        let byIndex = answers.get(t.name);
        if (!byIndex) {
          byIndex = new Map();
          answers.set(t.name, byIndex);
        }
        for (const p of t.partitionResponses) byIndex.set(p.index, p);
      }
    }
    for (const [q, batches] of taken) {
      let error: unknown = failure;
      let baseOffset = -1;
      if (response) {
        const p = answers.get(q.topic)?.get(q.partition);
        if (!p) error = new KafkaError("UNKNOWN_SERVER_ERROR", `no answer for ${q.topic}-${q.partition}`);
        else if (p.errorCode !== 0)
          error = new KafkaError(errorName(p.errorCode), p.errorMessage ?? `${q.topic}-${q.partition}`);
        else baseOffset = p.baseOffset;
      }
      if (error && isRetriable(error) && q.attempts < this.options.retries && !this.closed) {
        // Retry the same bytes (same sequences) ahead of anything sealed since.
        q.ready.unshift(...batches);
        const wait = backoffMs(q.attempts++, this.cluster.retry);
        q.retryAt = Date.now() + wait;
        this.cluster.invalidate(q.topic);
        setTimeout(() => {
          // The backoff is over when this fires (a clock read here may lag the timer by a ms).
          q.retryAt = 0;
          q.inFlight--;
          this.kickSender();
        }, wait);
        continue;
      }
      q.attempts = 0;
      q.inFlight--;
      let offset = baseOffset;
      for (const b of batches) {
        this.finish(b, error, offset, q);
        if (offset >= 0) offset += b.count;
      }
    }
    this.kickSender();
  }

  private failQueue(q: PartitionQueue, err: unknown): void {
    for (const b of q.ready.splice(0)) this.finish(b, err);
  }

  private finish(batch: Batch, error: unknown, baseOffset = -1, q?: PartitionQueue): void {
    const n = batch.resolves.length;
    if (error) {
      for (let i = 0; i < n; i++) batch.rejects[i](error);
    } else {
      const topic = q?.topic ?? "";
      const partition = q?.partition ?? -1;
      for (let i = 0; i < n; i++) {
        batch.resolves[i]({
          topic,
          partition,
          offset: baseOffset >= 0 ? baseOffset + i : -1,
          timestamp: batch.records[i].timestamp ?? -1,
        });
      }
    }
    this.releaseMemory(batch.bytes);
    this.outstanding -= n;
    if (this.outstanding === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Sends every batched record now and resolves when all sent records are acknowledged. */
  async flush(): Promise<void> {
    for (const q of this.queues) this.seal(q);
    if (this.outstanding === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Flushes, then closes the connections (if the producer made its own cluster). */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    if (this.owned) await this.cluster.close();
  }
}
