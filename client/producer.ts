/**
 * The samsa producer. Records are batched per partition (sealed at `batchSize` bytes or after
 * `lingerMs`), keyed records go to the partition the Java client would pick (murmur2), records
 * without a key stick to one partition until its batch is sealed, and every `send()` resolves
 * with its own partition and offset once the broker acknowledged it. `sendBatch()` takes many
 * records through the same path with one promise, settled by count (a ticket per call).
 *
 * Idempotence (on by default with acks=-1): the producer gets an id and epoch from the broker and
 * numbers its batches; one request per partition is in flight at a time, carrying one batch of that
 * partition (as Kafka's clients: a broker recognises a retry batch by batch, among the last five of
 * the producer), and a failed request is retried with the same bytes, so a retry after a lost
 * answer is not written twice and order is kept. A batch that fails for good leaves a gap in its
 * partition's sequences that the broker would refuse every later batch for: the producer then takes
 * a new id and numbers its unsent batches afresh (Kafka's KIP-360 epoch bump does the same).
 *
 * Retriable errors are retried with backoff until the batch is acknowledged or `deliveryTimeoutMs`
 * has passed since its first record was added (Java's delivery.timeout.ms, 120 s): a failover or a
 * rolling restart surfaces no error. Each attempt is bounded by the connection's requestTimeoutMs
 * (Java's request.timeout.ms), the whole by deliveryTimeoutMs: a request to a paused or cut-off
 * leader times out, its connection closes (client/connection.ts) so that the batches in flight
 * behind it fail at once too, and they are retried, with their sequence numbers, at the leader
 * that a Metadata request names, asked of a broker other than the silent one (client/cluster.ts:
 * suspect brokers are asked last). Memory for records not yet acknowledged is bounded by
 * `bufferMemory`: `send()` waits (up to `maxBlockMs`) for room, then fails with BUFFER_FULL.
 */
import { KafkaError } from "../protocol/errors.js";
import { partitionForKey } from "../protocol/murmur2.js";
import {
  Compression,
  RecordBatchBuilder,
  type RecordHeader,
  type RecordInput,
  restampProducer,
} from "../protocol/record-batch.js";
import type { ProduceResponseData } from "../protocol/types/produce.js";
import { Cluster, type ClusterOptions, type TopicInfo } from "./cluster.js";
import {
  brokerError,
  ClientError,
  checkArray,
  checkInteger,
  checkName,
  describe,
  invalid,
  isRetriable,
} from "./errors.js";
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
  /**
   * Attempts after the first for a batch that fails with a retriable error (default: no limit
   * but `deliveryTimeoutMs`, as Java's retries=MAX_INT).
   */
  retries?: number;
  /**
   * How long a batch may take from its first record to its acknowledgement, retries included;
   * then it fails with REQUEST_TIMEOUT naming the last error (Java's delivery.timeout.ms).
   */
  deliveryTimeoutMs?: number;
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
   * (The connection's own `maxInFlightRequests`, 64, bounds every request on a connection.)
   */
  maxInFlightPerBroker?: number;
  /** Largest records section sent for one partition in one request. */
  maxRequestBytes?: number;
  /**
   * The broker's timeout for acks=-1 (the Produce request's `timeoutMs`). Default: the
   * connection's `requestTimeoutMs`, as Java's producer sends its request.timeout.ms there: a
   * longer wait would have the client give up requests the broker is still right to hold (and
   * close their connection: client/connection.ts).
   */
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
  retries: Number.MAX_SAFE_INTEGER,
  deliveryTimeoutMs: 120_000,
  maxInFlightPerPartition: 1,
  maxInFlightPerBroker: 5,
  maxRequestBytes: 1024 * 1024,
  ackTimeoutMs: 30_000,
  allowAutoTopicCreation: true,
};

/** Bytes a record adds to a batch besides its key, value and headers (an estimate). */
const RECORD_OVERHEAD = 24;
const INT32_MAX = 0x7fff_ffff;
/**
 * Room a new batch starts with; it doubles as records arrive. A batch of one record (lingerMs 0,
 * light traffic) then costs a small buffer, not batchSize bytes outside bufferMemory's count.
 */
const BATCH_INITIAL_BYTES = 4096;

/**
 * One sendBatch() call. Its records are settled by count, run by run, so a record of a batch costs
 * no promise, closure or RecordMetadata of its own; the call's promise settles once.
 */
class BatchTicket {
  /** Records not yet acknowledged, including those not yet queued. */
  pending: number;
  private settled = false;

  constructor(
    count: number,
    private readonly resolve: () => void,
    private readonly reject: (e: unknown) => void,
  ) {
    this.pending = count;
  }

  /** `n` records were acknowledged; resolves when none is left. */
  ack(n: number): void {
    this.pending -= n;
    if (this.pending === 0 && !this.settled) {
      this.settled = true;
      this.resolve();
    }
  }

  /** `n` records failed (or will not be queued): the call rejects with the first error. */
  fail(n: number, error: unknown): void {
    this.pending -= n;
    if (!this.settled) {
      this.settled = true;
      this.reject(error);
    }
  }
}

/**
 * The batch a partition is filling, its records encoded as they come (`builder`): no record object
 * is kept. send() records keep their callers' settle functions, their index in the batch and their
 * timestamp; sendBatch() records keep only a ticket per run of consecutive records.
 */
interface OpenBatch {
  builder: RecordBatchBuilder;
  timestamps: number[];
  resolves: ((m: RecordMetadata) => void)[];
  rejects: ((e: unknown) => void)[];
  indexes: number[];
  tickets: BatchTicket[];
  runs: number[];
  bytes: number;
  /** When its first record was added (Date.now()): deliveryTimeoutMs counts from here. */
  createdAt: number;
}

interface Batch extends OpenBatch {
  buf: Buffer;
  count: number;
  /** Whether a request carried it: a batch sent once keeps its producer id and sequence. */
  sent: boolean;
  /** The producer identity (`Producer.identity`) its id and sequence were stamped under. */
  identity: number;
  /** Its place among its partition's batches, in the order they were sealed. */
  order: number;
}

/**
 * The settle functions of the promise being made: `new Promise(capture)` hands them over without
 * a closure per call (the executor runs synchronously).
 */
let capturedResolve: (value: never) => void = () => {};
let capturedReject: (e: unknown) => void = () => {};
function capture(resolve: (value: never) => void, reject: (e: unknown) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
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
  /** Batches sealed so far: the next one's `order`. */
  sealed = 0;
  /**
   * An idempotent partition's lingering batch whose seal waits for the request in flight (or the
   * batches queued) before it: sealed then, so that it goes out whole, not in small pieces.
   */
  sealDue = false;

  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {}
}

/**
 * Puts the batches of a failed request back among `q`'s ready ones in the order they were sealed:
 * when several requests of a partition fail together (their connection closed), their retries go
 * out in the original order whichever failure is settled first.
 */
function requeue(q: PartitionQueue, batches: Batch[]): void {
  let at = 0;
  while (at < q.ready.length && q.ready[at].order < batches[0].order) at++;
  q.ready.splice(at, 0, ...batches);
}

/** `seq` + `n` in Kafka's sequence space (int32, wrapping to 0 after the maximum). */
function addSequence(seq: number, n: number): number {
  const next = seq + n;
  return next > INT32_MAX ? next - INT32_MAX - 1 : next;
}

function isBytes(v: unknown): boolean {
  return typeof v === "string" || Buffer.isBuffer(v);
}

/**
 * Throws INVALID_ARGUMENT unless `record` is a ProducerRecord: a topic, a value that is a string,
 * a Buffer or null (never missing: KafkaJS's `{ topic, messages }` has none), and when given, a key
 * of the same kinds, an integer partition >= 0, a timestamp >= 0 and headers as an object or an
 * array of `{ key, value }`. Whether the partition exists is the topic's to say (UNKNOWN_TOPIC_OR_PARTITION).
 */
function checkRecord(record: unknown, where: string): asserts record is ProducerRecord {
  if (typeof record !== "object" || record === null || Array.isArray(record))
    throw invalid(`${where} must be a record object, got ${describe(record)}`);
  const r = record as Record<string, unknown>;
  checkName(r.topic, `${where}.topic`);
  if (r.value !== null && !isBytes(r.value)) {
    if (r.value === undefined && "messages" in r)
      throw invalid(
        `${where} has messages but no value: that is KafkaJS's shape; samsa takes one record per send(), or sendBatch(messages.map((m) => ({ topic, ...m })))`,
      );
    throw invalid(`${where}.value must be a string, a Buffer or null, got ${describe(r.value)}`);
  }
  if (r.key !== undefined && r.key !== null && !isBytes(r.key))
    throw invalid(`${where}.key must be a string, a Buffer or null, got ${describe(r.key)}`);
  if (r.partition !== undefined) checkInteger(r.partition, `${where}.partition`);
  if (r.timestamp !== undefined) checkInteger(r.timestamp, `${where}.timestamp`);
  if (r.headers !== undefined && r.headers !== null) checkHeaders(r.headers, `${where}.headers`);
}

/**
 * checkRecord's common case without building a message per record (sendBatch() checks every
 * record it is given): a record object with a topic, Buffer or string key and value, and no
 * partition, timestamp or headers that would need a closer look. Anything else goes to
 * checkRecord, which names what is wrong.
 */
function plainRecord(record: unknown): boolean {
  if (typeof record !== "object" || record === null) return false;
  const r = record as Record<string, unknown>;
  const { topic, key, value, partition, timestamp } = r;
  return (
    typeof topic === "string" &&
    topic.length > 0 &&
    (value === null || isBytes(value)) &&
    (key === undefined || key === null || isBytes(key)) &&
    (partition === undefined || (Number.isInteger(partition) && (partition as number) >= 0)) &&
    (timestamp === undefined || (Number.isInteger(timestamp) && (timestamp as number) >= 0)) &&
    (r.headers === undefined || r.headers === null) &&
    !Array.isArray(record)
  );
}

function checkHeaders(headers: unknown, where: string): void {
  if (Array.isArray(headers)) {
    headers.forEach((h, i) => {
      const header = h as { key?: unknown; value?: unknown } | null;
      if (typeof header !== "object" || header === null)
        throw invalid(`${where}[${i}] must be { key, value }`);
      checkName(header.key, `${where}[${i}].key`);
      if (header.value !== null && !isBytes(header.value))
        throw invalid(`${where}[${i}].value must be a string, a Buffer or null`);
    });
    return;
  }
  if (typeof headers !== "object" || Buffer.isBuffer(headers))
    throw invalid(`${where} must be an object or an array of { key, value }, got ${describe(headers)}`);
  for (const [key, value] of Object.entries(headers as object)) {
    if (value !== null && !isBytes(value))
      throw invalid(`${where}.${key} must be a string, a Buffer or null, got ${describe(value)}`);
  }
}

function toBuffer(v: Buffer | string | null | undefined): Buffer | null {
  if (v === null || v === undefined) return null;
  return typeof v === "string" ? Buffer.from(v) : v;
}

/** Whether every header value is a Buffer or null (a string one must be encoded first). */
function headersReady(h: readonly RecordHeader[]): boolean {
  for (let i = 0; i < h.length; i++) if (h[i].value !== null && !Buffer.isBuffer(h[i].value)) return false;
  return true;
}

function toHeaders(h: ProducerRecord["headers"]): RecordHeader[] {
  if (!h) return [];
  if (Array.isArray(h))
    return headersReady(h) ? h : h.map(({ key, value }) => ({ key, value: toBuffer(value) }));
  return Object.entries(h).map(([key, value]) => ({ key, value: toBuffer(value) }));
}

/** The record as the batch encoder takes it: strings encoded once, the timestamp fixed at send time. */
function toInput(record: ProducerRecord, now: number): RecordInput {
  return {
    key: toBuffer(record.key),
    value: toBuffer(record.value),
    headers: record.headers ? toHeaders(record.headers) : NO_HEADERS,
    timestamp: record.timestamp ?? now,
  };
}

/**
 * toInput() for sendBatch(): a record already in the encoder's form (key and value Buffers or
 * null, headers absent or an array, a timestamp) is its own input, not copied, which spares an
 * object per record for callers that send many (the CLI's lines).
 */
function batchInput(record: ProducerRecord, now: number): RecordInput {
  const { key, value, headers } = record;
  if (
    typeof record.timestamp === "number" &&
    (value === null || Buffer.isBuffer(value)) &&
    (key === undefined || key === null || Buffer.isBuffer(key)) &&
    (headers === undefined || (Array.isArray(headers) && headersReady(headers)))
  )
    return record as RecordInput;
  return toInput(record, now);
}

/** Bytes counted against bufferMemory and batchSize for a record. */
function sizeOf(input: RecordInput): number {
  let bytes = RECORD_OVERHEAD + (input.key?.length ?? 0) + (input.value?.length ?? 0);
  for (const h of input.headers ?? NO_HEADERS) bytes += h.key.length + (h.value?.length ?? 0) + 4;
  return bytes;
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
  /**
   * Records accepted by send() or sendBatch() that wait (for metadata, the producer id or buffer
   * memory) before joining a batch: flush() waits for them too.
   */
  private unqueued = 0;
  /** flush() calls running: records joining a batch meanwhile do not wait out lingerMs. */
  private flushing = 0;
  private readonly idleWaiters: (() => void)[] = [];
  private producerId = -1;
  private producerEpoch = -1;
  private idInit: Promise<void> | null = null;
  /** Bumped when the producer gives up its id after a batch failed for good (see resetIdentity). */
  private identity = 0;
  /** A new id being fetched: idempotent batches wait for it. */
  private resetting: Promise<void> | null = null;
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
    if (given.ackTimeoutMs === undefined)
      merged.ackTimeoutMs = this.cluster.options.requestTimeoutMs ?? DEFAULTS.ackTimeoutMs;
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
    const perBroker = this.options.maxInFlightPerBroker;
    if (!Number.isInteger(perBroker) || perBroker < 1) {
      throw new ClientError(
        "INVALID_ARGUMENT",
        `maxInFlightPerBroker ${perBroker}: expected an integer >= 1`,
      );
    }
    const delivery = this.options.deliveryTimeoutMs;
    if (!Number.isInteger(delivery) || delivery < 1) {
      throw new ClientError("INVALID_ARGUMENT", `deliveryTimeoutMs ${delivery}: expected an integer >= 1`);
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
    try {
      checkRecord(record, "record");
    } catch (err) {
      return Promise.reject(err);
    }
    const now = Date.now();
    const input = toInput(record, now);
    const bytes = sizeOf(input);
    const info = this.cluster.cachedTopic(record.topic, now);
    if (
      info &&
      this.memoryWaiters.length === 0 &&
      this.bufferUsed + bytes <= this.options.bufferMemory &&
      (!this.options.idempotent || this.producerId >= 0)
    ) {
      let partition: number;
      try {
        partition = this.partitionOf(
          record.topic,
          info.partitions.length,
          input.key ?? null,
          record.partition,
        );
      } catch (err) {
        return Promise.reject(err);
      }
      this.bufferUsed += bytes;
      return this.enqueue(this.queueFor(record.topic, partition), input, bytes);
    }
    return this.sendSlowly(record.topic, input, bytes, record.partition);
  }

  /** The path that waits: for metadata, buffer memory or the producer id. */
  private async sendSlowly(
    topic: string,
    input: RecordInput,
    bytes: number,
    explicit: number | undefined,
  ): Promise<RecordMetadata> {
    this.unqueued++;
    try {
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
    } finally {
      this.queued(1);
    }
  }

  /** `n` records that waited joined their batches or failed. */
  private queued(n: number): void {
    this.unqueued -= n;
    this.notifyIdle();
  }

  private notifyIdle(): void {
    if (this.outstanding === 0 && this.unqueued === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Adds a send() record to its partition's batch; its bytes are already reserved. */
  private enqueue(queue: PartitionQueue, input: RecordInput, bytes: number): Promise<RecordMetadata> {
    const promise = new Promise<RecordMetadata>(capture);
    const open = this.openBatch(queue);
    open.indexes.push(open.builder.count);
    open.timestamps.push(input.timestamp ?? -1);
    open.resolves.push(capturedResolve as (m: RecordMetadata) => void);
    open.rejects.push(capturedReject);
    this.append(queue, open, input, bytes);
    return promise;
  }

  /**
   * Queues `records` in array order with one promise, which resolves once every record is
   * acknowledged and rejects with the first error. Each record goes through partitioning,
   * batching, buffer memory, idempotence and retries as with send(); what the call saves is a
   * promise, two settle functions and a RecordMetadata per record.
   *
   * Before any record is queued, every topic of the call is looked up (and created when allowed)
   * and every record is checked (explicit partition in range, size within bufferMemory): an
   * invalid record rejects the call with nothing queued. A later failure (the broker's refusal
   * after retries, BUFFER_FULL after maxBlockMs, close()) rejects it too; records queued before it
   * may then have been written. Records beyond the free buffer memory wait for room as send()
   * does, so a call may hold more bytes than bufferMemory.
   */
  sendBatch(records: readonly ProducerRecord[]): Promise<void> {
    if (this.closed) return Promise.reject(new ClientError("CLOSED", "producer is closed"));
    try {
      checkArray(records, "sendBatch(records)");
      for (let i = 0; i < records.length; i++) {
        if (!plainRecord(records[i])) checkRecord(records[i], `records[${i}]`);
      }
    } catch (err) {
      return Promise.reject(err);
    }
    const n = records.length;
    if (n === 0) return Promise.resolve();
    const promise = new Promise<void>(capture);
    const ticket = new BatchTicket(n, capturedResolve as () => void, capturedReject);
    const now = Date.now();
    const inputs = new Array<RecordInput>(n);
    const sizes = new Array<number>(n);
    const topics = new Map<string, TopicInfo | undefined>();
    let missing = false;
    let lastTopic: string | undefined;
    for (let i = 0; i < n; i++) {
      const record = records[i];
      const input = batchInput(record, now);
      const bytes = sizeOf(input);
      if (bytes > this.options.bufferMemory) {
        ticket.fail(n, new ClientError("BUFFER_FULL", `record ${i}: ${bytes} bytes exceed bufferMemory`));
        return promise;
      }
      inputs[i] = input;
      sizes[i] = bytes;
      if (record.topic !== lastTopic && !topics.has(record.topic)) {
        const info = this.cluster.cachedTopic(record.topic, now);
        topics.set(record.topic, info);
        if (!info) missing = true;
      }
      lastTopic = record.topic;
    }
    if (missing || (this.options.idempotent && this.producerId < 0)) {
      void this.sendBatchSlowly(records, inputs, sizes, topics, ticket);
    } else if (this.checkPartitions(records, topics as Map<string, TopicInfo>, ticket)) {
      this.queueBatch(records, inputs, sizes, topics as Map<string, TopicInfo>, ticket, 0);
    }
    return promise;
  }

  /** sendBatch() when a topic's metadata or the producer id must be fetched first. */
  private async sendBatchSlowly(
    records: readonly ProducerRecord[],
    inputs: RecordInput[],
    sizes: number[],
    topics: Map<string, TopicInfo | undefined>,
    ticket: BatchTicket,
  ): Promise<void> {
    this.unqueued += records.length;
    try {
      for (const [topic, info] of topics) {
        if (!info) topics.set(topic, await this.cluster.topic(topic, this.options.allowAutoTopicCreation));
      }
      if (this.options.idempotent) await this.ensureProducerId();
      if (this.closed) throw new ClientError("CLOSED", "producer is closed");
    } catch (err) {
      ticket.fail(records.length, err);
      this.queued(records.length);
      return;
    }
    const known = topics as Map<string, TopicInfo>;
    if (this.checkPartitions(records, known, ticket))
      this.queueBatch(records, inputs, sizes, known, ticket, 0);
    this.queued(records.length);
  }

  /** False, with the ticket failed, when a record names a partition its topic does not have. */
  private checkPartitions(
    records: readonly ProducerRecord[],
    topics: Map<string, TopicInfo>,
    ticket: BatchTicket,
  ): boolean {
    for (const r of records) {
      const p = r.partition;
      if (p === undefined) continue;
      const count = topics.get(r.topic)!.partitions.length;
      if (!Number.isInteger(p) || p < 0 || p >= count) {
        ticket.fail(
          records.length,
          new KafkaError("UNKNOWN_TOPIC_OR_PARTITION", `topic ${r.topic} has no partition ${p}`),
        );
        return false;
      }
    }
    return true;
  }

  /**
   * Queues records `from`.. of a checked sendBatch() call synchronously while buffer memory
   * lasts, then goes on in queueBatchLater once room frees.
   */
  private queueBatch(
    records: readonly ProducerRecord[],
    inputs: RecordInput[],
    sizes: number[],
    topics: Map<string, TopicInfo>,
    ticket: BatchTicket,
    from: number,
  ): void {
    let lastTopic: string | undefined;
    let count = 0;
    for (let i = from; i < records.length; i++) {
      const bytes = sizes[i];
      if (this.bufferUsed + bytes > this.options.bufferMemory) {
        void this.queueBatchLater(records, inputs, sizes, topics, ticket, i);
        return;
      }
      this.bufferUsed += bytes;
      const record = records[i];
      const topic = record.topic;
      if (topic !== lastTopic) {
        lastTopic = topic;
        count = topics.get(topic)!.partitions.length;
      }
      const input = inputs[i];
      const partition = this.partitionOf(topic, count, input.key ?? null, record.partition);
      const queue = this.queueFor(topic, partition);
      const open = this.openBatch(queue);
      const last = open.tickets.length - 1;
      if (last >= 0 && open.tickets[last] === ticket) open.runs[last]++;
      else {
        open.tickets.push(ticket);
        open.runs.push(1);
      }
      this.append(queue, open, input, bytes);
    }
  }

  private async queueBatchLater(
    records: readonly ProducerRecord[],
    inputs: RecordInput[],
    sizes: number[],
    topics: Map<string, TopicInfo>,
    ticket: BatchTicket,
    from: number,
  ): Promise<void> {
    const waiting = records.length - from;
    this.unqueued += waiting;
    try {
      await this.reserveMemory(sizes[from], false);
      if (this.closed) throw new ClientError("CLOSED", "producer is closed");
    } catch (err) {
      ticket.fail(waiting, err);
      this.queued(waiting);
      return;
    }
    this.queueBatch(records, inputs, sizes, topics, ticket, from);
    this.queued(waiting);
  }

  private openBatch(queue: PartitionQueue): OpenBatch {
    let open = queue.open;
    if (!open) {
      open = {
        builder: new RecordBatchBuilder(Math.min(this.options.batchSize, BATCH_INITIAL_BYTES)),
        timestamps: [],
        resolves: [],
        rejects: [],
        indexes: [],
        tickets: [],
        runs: [],
        bytes: 0,
        createdAt: Date.now(),
      };
      queue.open = open;
    }
    return open;
  }

  /** Adds a record whose waiter is registered: seals the batch when full, else starts its linger. */
  private append(queue: PartitionQueue, open: OpenBatch, input: RecordInput, bytes: number): void {
    open.builder.append(input);
    open.bytes += bytes;
    this.outstanding++;
    if (open.bytes >= this.options.batchSize) this.seal(queue);
    else if (!queue.timer && !queue.sealDue) {
      // setTimeout(0) waits at least 1 ms in Node: lingerMs 0 seals once this turn's sends are in.
      queue.timer =
        this.options.lingerMs > 0 && this.flushing === 0
          ? setTimeout(() => this.seal(queue), this.options.lingerMs)
          : setImmediate(() => this.seal(queue));
    }
  }

  /**
   * Waits until `bytes` more fit in bufferMemory and takes them; with `take` false it only waits,
   * for a caller that takes them itself. BUFFER_FULL for a record larger than bufferMemory or after
   * maxBlockMs. While anything waits, open batches are sealed without waiting out their linger (as
   * Java's accumulator does when memory is exhausted): only sending frees memory, so a lingering
   * batch would keep a waiter, or a sendBatch() larger than bufferMemory, stuck.
   */
  private async reserveMemory(bytes: number, take = true): Promise<void> {
    if (bytes > this.options.bufferMemory) {
      throw new ClientError("BUFFER_FULL", `a record of ${bytes} bytes exceeds bufferMemory`);
    }
    const deadline = Date.now() + this.options.maxBlockMs;
    while (this.bufferUsed + bytes > this.options.bufferMemory) {
      const left = deadline - Date.now();
      if (left <= 0)
        throw new ClientError("BUFFER_FULL", `no buffer memory freed within ${this.options.maxBlockMs} ms`);
      for (const q of this.queues) if (q.open) this.seal(q);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.memoryWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    if (take) this.bufferUsed += bytes;
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
      this.idInit = this.initProducerId();
      this.idInit.catch(() => {
        this.idInit = null;
      });
    }
    return this.idInit;
  }

  /**
   * InitProducerId, retried with backoff while its error is retriable (the broker asked died under
   * it, a producer-id block is being allocated) for up to maxBlockMs: the sends waiting on it
   * fail only then.
   */
  private async initProducerId(): Promise<void> {
    const deadline = Date.now() + this.options.maxBlockMs;
    for (let attempt = 0; ; attempt++) {
      try {
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
        return;
      } catch (err) {
        const wait = backoffMs(attempt, this.cluster.retry);
        if (!isRetriable(err) || this.closed || Date.now() + wait > deadline) throw err;
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
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

  /**
   * Closes the partition's open batch and hands it to the sender. An idempotent partition with a
   * request in flight or batches queued keeps a batch below batchSize open (`sealDue`) until they
   * are done, unless `force`d: each of its requests carries one batch.
   */
  private seal(queue: PartitionQueue, force = false): void {
    const timer = queue.timer;
    if (timer) {
      if ("refresh" in timer) clearTimeout(timer);
      else clearImmediate(timer);
    }
    queue.timer = null;
    const open = queue.open;
    if (!open) return;
    if (
      !force &&
      this.options.idempotent &&
      (queue.inFlight > 0 || queue.ready.length > 0) &&
      open.bytes < this.options.batchSize
    ) {
      queue.sealDue = true;
      return;
    }
    queue.sealDue = false;
    queue.open = null;
    // A null-key topic moves on to another partition once its sticky batch is full.
    if (this.sticky.get(queue.topic) === queue.partition) this.sticky.delete(queue.topic);
    const idempotent = this.options.idempotent;
    try {
      const count = open.builder.count;
      const buf = open.builder.finish({
        compression: CODECS[this.options.compression],
        producerId: idempotent ? this.producerId : -1,
        producerEpoch: idempotent ? this.producerEpoch : -1,
        baseSequence: idempotent ? queue.nextSequence : -1,
      });
      if (idempotent) queue.nextSequence = addSequence(queue.nextSequence, count);
      queue.ready.push({ ...open, buf, count, sent: false, identity: this.identity, order: queue.sealed++ });
    } catch (err) {
      this.finish(
        { ...open, buf: Buffer.alloc(0), count: open.builder.count, sent: false, identity: -1, order: -1 },
        err,
      );
      return;
    }
    // A partition with a request in flight sends this batch when that request is answered, and a
    // leader at its bound of requests in flight takes it with its next answer's send: no pass
    // over every partition for each batch sealed meanwhile.
    if (queue.inFlight >= this.maxInFlight) return;
    const leader = this.cluster.cachedTopic(queue.topic)?.partitions[queue.partition]?.leader;
    if (leader !== undefined && (this.requestsTo.get(leader) ?? 0) >= this.options.maxInFlightPerBroker)
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
    // Idempotent batches wait while the producer takes a new id (resetIdentity restamps them).
    if (this.resetting) return;
    const byLeader = new Map<number, PartitionQueue[]>();
    const now = Date.now();
    for (const q of this.queues) {
      if (q.inFlight >= this.maxInFlight || q.ready.length === 0 || q.retryAt > now) continue;
      let info = this.cluster.cachedTopic(q.topic, now);
      if (!info) {
        try {
          info = await this.cluster.topic(q.topic);
        } catch (err) {
          // Metadata not to be had now (no broker, a topic being created): retried as a send is.
          q.inFlight++;
          this.settle(q, q.ready.splice(0, 1), err, -1);
          continue;
        }
        if (q.inFlight >= this.maxInFlight || this.resetting) continue;
      }
      const leader = info.partitions[q.partition]?.leader ?? -1;
      // A broker with the most requests in flight gets this batch in its next request.
      if ((this.requestsTo.get(leader) ?? 0) >= this.options.maxInFlightPerBroker) continue;
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
      // An idempotent partition sends one batch per request (see the header).
      const limit = this.options.idempotent ? 0 : this.options.maxRequestBytes;
      while (q.ready.length > 0 && (batches.length === 0 || bytes + q.ready[0].buf.length <= limit)) {
        const b = q.ready.shift()!;
        b.sent = true;
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
    let response: ProduceResponseData | null = null;
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
          error = brokerError(p.errorCode, `${q.topic}-${q.partition}`, p.errorMessage);
        else baseOffset = p.baseOffset;
      }
      this.settle(q, batches, error, baseOffset);
    }
    this.kickSender();
  }

  /**
   * The outcome of `batches` of `q` (counted in q.inFlight): acknowledged at `baseOffset`, retried
   * after a backoff (the same bytes, back in their sealed place: ahead of anything sealed since)
   * while the error is retriable, retries are left and the delivery timeout allows, or failed for
   * good.
   */
  private settle(q: PartitionQueue, batches: Batch[], error: unknown, baseOffset: number): void {
    if (error && batches.length > 0 && isRetriable(error) && !this.closed) {
      const wait = backoffMs(q.attempts, this.cluster.retry);
      const deadline = batches[0].createdAt + this.options.deliveryTimeoutMs;
      if (q.attempts < this.options.retries && Date.now() + wait < deadline) {
        q.attempts++;
        requeue(q, batches);
        q.retryAt = Date.now() + wait;
        this.cluster.invalidate(q.topic);
        setTimeout(() => {
          // The backoff is over when this fires (a clock read here may lag the timer by a ms).
          q.retryAt = 0;
          q.inFlight--;
          this.kickSender();
        }, wait);
        return;
      }
      if (q.attempts < this.options.retries)
        error = new ClientError(
          "REQUEST_TIMEOUT",
          `${q.topic}-${q.partition}: not acknowledged within deliveryTimeoutMs (${this.options.deliveryTimeoutMs} ms); last error: ${error instanceof Error ? error.message : String(error)}`,
          { cause: error },
        );
    }
    q.attempts = 0;
    q.inFlight--;
    let offset = baseOffset;
    for (const b of batches) {
      this.finish(b, error, offset, q);
      if (offset >= 0) offset += b.count;
    }
    if (error && this.options.idempotent && batches.some((b) => b.identity === this.identity))
      this.resetIdentity();
    if (q.sealDue && q.inFlight === 0 && q.ready.length === 0) this.seal(q, true);
  }

  /**
   * After an idempotent batch failed for good, its partition's later sequences would leave a gap
   * the broker refuses (OUT_OF_ORDER_SEQUENCE_NUMBER) for ever: the producer takes a new id and
   * re-numbers from 0, per partition and in order, every batch no request has carried yet. Batches
   * already sent keep their id and sequence, so their retries are still recognised. Sending waits
   * until the new id is known; the fetch is retried with backoff.
   */
  private resetIdentity(): void {
    if (this.resetting) return;
    this.identity++;
    this.producerId = -1;
    this.producerEpoch = -1;
    this.idInit = null;
    this.resetting = (async () => {
      for (let attempt = 0; !this.closed; attempt++) {
        try {
          await this.ensureProducerId();
          break;
        } catch (err) {
          this.expireWaiting(err);
          await new Promise((resolve) => setTimeout(resolve, backoffMs(attempt, this.cluster.retry)));
        }
      }
      for (const q of this.queues) {
        q.nextSequence = 0;
        for (const b of q.ready) {
          if (b.sent) continue;
          restampProducer(b.buf, this.producerId, this.producerEpoch, q.nextSequence);
          b.identity = this.identity;
          q.nextSequence = addSequence(q.nextSequence, b.count);
        }
      }
    })().finally(() => {
      this.resetting = null;
      this.kickSender();
    });
  }

  /** Fails the queued batches whose delivery timeout has passed while none could be sent. */
  private expireWaiting(cause: unknown): void {
    const now = Date.now();
    for (const q of this.queues) {
      while (q.ready.length > 0 && q.ready[0].createdAt + this.options.deliveryTimeoutMs <= now) {
        const b = q.ready.shift()!;
        const message = `${q.topic}-${q.partition}: not sent within deliveryTimeoutMs (${this.options.deliveryTimeoutMs} ms)`;
        this.finish(b, new ClientError("REQUEST_TIMEOUT", message, { cause }), -1, q);
      }
      if (q.sealDue && q.inFlight === 0 && q.ready.length === 0) this.seal(q, true);
    }
  }

  /** Settles a batch's send() and sendBatch() callers and gives its memory back. */
  private finish(batch: Batch, error: unknown, baseOffset = -1, q?: PartitionQueue): void {
    const { resolves, rejects, indexes, timestamps, tickets, runs } = batch;
    if (error) {
      for (let i = 0; i < rejects.length; i++) rejects[i](error);
      for (let i = 0; i < tickets.length; i++) tickets[i].fail(runs[i], error);
    } else {
      const topic = q?.topic ?? "";
      const partition = q?.partition ?? -1;
      for (let i = 0; i < resolves.length; i++) {
        const index = indexes[i];
        resolves[i]({
          topic,
          partition,
          offset: baseOffset >= 0 ? baseOffset + index : -1,
          timestamp: timestamps[i],
        });
      }
      for (let i = 0; i < tickets.length; i++) tickets[i].ack(runs[i]);
    }
    this.releaseMemory(batch.bytes);
    this.outstanding -= batch.count;
    this.notifyIdle();
  }

  /**
   * Sends every record accepted so far (including those still waiting for metadata or memory)
   * without waiting out lingerMs, and resolves once each is acknowledged, or failed; with acks=0,
   * once each request is written to its socket.
   */
  async flush(): Promise<void> {
    for (const q of this.queues) this.seal(q);
    if (this.outstanding === 0 && this.unqueued === 0) return;
    this.flushing++;
    try {
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    } finally {
      this.flushing--;
    }
  }

  /** Flushes, then closes the connections (if the producer made its own cluster). */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    if (this.owned) await this.cluster.close();
  }
}
