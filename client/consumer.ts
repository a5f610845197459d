/**
 * The samsa consumer, without groups: assign partitions, choose where each starts (earliest,
 * latest, an offset, a timestamp), then read with `for await` or `run({ eachMessage | eachBatch })`.
 * A fetch loop runs ahead of the reader (prefetch) up to `maxBufferedRecords`; `seek`, `pause`
 * and `resume` take effect on the next fetch, and records fetched before a seek are dropped.
 * Batches from any Kafka producer decode (all four codecs); control batches are skipped.
 */
import { errorName, KafkaError } from "../protocol/errors.js";
import {
  ATTRIBUTES_OFFSET,
  BATCH_HEADER_SIZE,
  CONTROL_MASK,
  decodeRecords,
  LAST_OFFSET_DELTA_OFFSET,
  LENGTH_OFFSET,
  LOG_OVERHEAD,
  type RecordHeader,
} from "../protocol/record-batch.js";
import { readInt64 } from "../protocol/varint.js";
import { Admin } from "./admin.js";
import { Cluster, type ClusterOptions } from "./cluster.js";
import { ClientError, isRetriable } from "./errors.js";
import { backoffMs } from "./retry.js";

export type StartAt = "earliest" | "latest" | number | { timestamp: number };

export interface ConsumerRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

export interface ConsumerBatch {
  topic: string;
  partition: number;
  highWatermark: number;
  records: ConsumerRecord[];
}

export interface ConsumerOptions {
  /** How long the broker may hold a fetch waiting for minBytes. */
  maxWaitMs?: number;
  minBytes?: number;
  maxBytes?: number;
  maxPartitionBytes?: number;
  /** 0 read_uncommitted, 1 read_committed. */
  isolationLevel?: 0 | 1;
  /** Where a partition restarts when its position is out of range; "none" raises the error. */
  autoOffsetReset?: "earliest" | "latest" | "none";
  /** Records fetched ahead of the reader before the fetch loop waits. */
  maxBufferedRecords?: number;
  retries?: number;
}

const DEFAULTS = {
  maxWaitMs: 500,
  minBytes: 1,
  maxBytes: 50 * 1024 * 1024,
  maxPartitionBytes: 1024 * 1024,
  isolationLevel: 0 as 0 | 1,
  autoOffsetReset: "latest" as "earliest" | "latest" | "none",
  maxBufferedRecords: 50_000,
  retries: 10,
};

interface Assigned {
  topic: string;
  partition: number;
  position: number;
  paused: boolean;
  /** Bumped by seek: a fetch begun under an older generation is discarded. */
  generation: number;
  highWatermark: number;
}

/** Splits fetched bytes into whole batches; a truncated last batch (allowed by Kafka) is dropped. */
function wholeBatches(buf: Buffer): [number, number][] {
  const out: [number, number][] = [];
  let pos = 0;
  while (buf.length - pos >= BATCH_HEADER_SIZE) {
    const size = LOG_OVERHEAD + buf.readInt32BE(pos + LENGTH_OFFSET);
    if (size < BATCH_HEADER_SIZE || pos + size > buf.length) break;
    out.push([pos, pos + size]);
    pos += size;
  }
  return out;
}

export class Consumer {
  readonly cluster: Cluster;
  private readonly owned: boolean;
  private readonly options: typeof DEFAULTS;
  private readonly assigned = new Map<string, Assigned>();
  private readonly buffer: ConsumerBatch[] = [];
  private buffered = 0;
  private readonly dataWaiters: (() => void)[] = [];
  private readonly spaceWaiters: (() => void)[] = [];
  private loop: Promise<void> | null = null;
  private running = false;
  private failure: unknown = null;
  private readonly admin: Admin;

  constructor(cluster: ClusterOptions | Cluster, options: ConsumerOptions = {}) {
    this.owned = !(cluster instanceof Cluster);
    this.cluster = cluster instanceof Cluster ? cluster : new Cluster(cluster);
    this.options = { ...DEFAULTS, ...options };
    this.admin = new Admin(this.cluster);
  }

  private static id(topic: string, partition: number): string {
    return `${topic}\u0000${partition}`;
  }

  /** Assigns partitions (replacing any earlier assignment) and resolves their start offsets. */
  async assign(partitions: { topic: string; partition: number; start?: StartAt }[]): Promise<void> {
    const next: Assigned[] = [];
    for (const p of partitions) {
      const position = await this.resolve(p.topic, p.partition, p.start ?? this.options.autoOffsetReset);
      next.push({
        topic: p.topic,
        partition: p.partition,
        position,
        paused: false,
        generation: 0,
        highWatermark: -1,
      });
    }
    // Swap in one step: a fetch still in flight for the old assignment no longer matches.
    this.assigned.clear();
    this.delivered.clear();
    for (const a of next) {
      this.assigned.set(Consumer.id(a.topic, a.partition), a);
      this.delivered.set(Consumer.id(a.topic, a.partition), a.position);
    }
    this.buffer.length = 0;
    this.buffered = 0;
    this.start();
    this.wake(this.spaceWaiters);
  }

  /** Assigns every partition of `topic`. */
  async assignTopic(topic: string, start?: StartAt): Promise<void> {
    const info = await this.cluster.topic(topic);
    await this.assign(info.partitions.map((p) => ({ topic, partition: p.partition, start })));
  }

  private async resolve(topic: string, partition: number, start: StartAt | "none"): Promise<number> {
    if (typeof start === "number") {
      if (start >= 0) return start;
      // -N: N records before the end.
      const latest = (await this.admin.listOffsets(topic, "latest")).find((o) => o.partition === partition);
      const earliest = (await this.admin.listOffsets(topic, "earliest")).find(
        (o) => o.partition === partition,
      );
      return Math.max(earliest?.offset ?? 0, (latest?.offset ?? 0) + start);
    }
    if (start === "none")
      throw new KafkaError("OFFSET_OUT_OF_RANGE", `${topic}-${partition} has no valid position`);
    const spec = typeof start === "string" ? start : { timestamp: start.timestamp };
    const offsets = await this.admin.listOffsets(topic, spec);
    const found = offsets.find((o) => o.partition === partition);
    if (!found) throw new KafkaError("UNKNOWN_TOPIC_OR_PARTITION", `${topic}-${partition}`);
    if (found.offset >= 0) return found.offset;
    // No record at or after the timestamp: start at the end.
    return (
      (await this.admin.listOffsets(topic, "latest")).find((o) => o.partition === partition)?.offset ?? 0
    );
  }

  /** Moves a partition's position; records fetched before are dropped. */
  async seek(topic: string, partition: number, to: StartAt): Promise<void> {
    const a = this.assigned.get(Consumer.id(topic, partition));
    if (!a) throw new ClientError("INVALID_ARGUMENT", `${topic}-${partition} is not assigned`);
    const position = await this.resolve(topic, partition, to);
    this.dropBuffered(topic, partition);
    a.position = position;
    a.generation++;
    this.delivered.set(Consumer.id(topic, partition), position);
  }

  /** The offset of the next record the reader will get from this partition. */
  position(topic: string, partition: number): number | undefined {
    const id = Consumer.id(topic, partition);
    if (!this.assigned.has(id)) return undefined;
    return this.delivered.get(id);
  }

  pause(partitions: { topic: string; partition: number }[]): void {
    for (const p of partitions) {
      const a = this.assigned.get(Consumer.id(p.topic, p.partition));
      if (a) {
        a.paused = true;
        a.generation++;
        this.dropBuffered(p.topic, p.partition);
      }
    }
  }

  resume(partitions: { topic: string; partition: number }[]): void {
    for (const p of partitions) {
      const a = this.assigned.get(Consumer.id(p.topic, p.partition));
      if (a) a.paused = false;
    }
    this.wake(this.spaceWaiters);
  }

  private dropBuffered(topic: string, partition: number): void {
    for (let i = this.buffer.length - 1; i >= 0; i--) {
      const b = this.buffer[i];
      if (b.topic === topic && b.partition === partition) {
        this.buffered -= b.records.length;
        this.buffer.splice(i, 1);
      }
    }
    // The position must go back to the first record not yet handed out.
    const a = this.assigned.get(Consumer.id(topic, partition));
    if (a) a.position = this.delivered.get(Consumer.id(topic, partition)) ?? a.position;
    this.wake(this.spaceWaiters);
  }

  /** Offset after the last record handed to the reader, per partition. */
  private readonly delivered = new Map<string, number>();

  private wake(list: (() => void)[]): void {
    for (const w of list.splice(0)) w();
  }

  private start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.fetchLoop();
  }

  private async fetchLoop(): Promise<void> {
    let attempt = 0;
    while (this.running) {
      if (this.buffered >= this.options.maxBufferedRecords) {
        await new Promise<void>((r) => this.spaceWaiters.push(r));
        continue;
      }
      const active = [...this.assigned.values()].filter((a) => !a.paused);
      if (active.length === 0) {
        await new Promise<void>((r) => this.spaceWaiters.push(r));
        continue;
      }
      try {
        await this.fetchOnce(active);
        attempt = 0;
      } catch (err) {
        if (!isRetriable(err) || attempt >= this.options.retries) {
          this.failure = err;
          this.running = false;
          this.wake(this.dataWaiters);
          return;
        }
        this.cluster.invalidate();
        await new Promise((r) => setTimeout(r, backoffMs(attempt++, this.cluster.retry)));
      }
    }
  }

  private async fetchOnce(active: Assigned[]): Promise<void> {
    const byLeader = new Map<number, Assigned[]>();
    for (const a of active) {
      const info = await this.cluster.topic(a.topic);
      const leader = info.partitions[a.partition]?.leader ?? -1;
      byLeader.set(leader, [...(byLeader.get(leader) ?? []), a]);
    }
    await Promise.all([...byLeader].map(([leader, parts]) => this.fetchFrom(leader, parts)));
  }

  private async fetchFrom(leader: number, parts: Assigned[]): Promise<void> {
    const conn = await this.cluster.brokerConnection(leader);
    // Partitions paused, seeked or unassigned while connecting are left out of this fetch.
    const started = parts
      .filter((a) => !a.paused && this.assigned.get(Consumer.id(a.topic, a.partition)) === a)
      .map((a) => ({ a, generation: a.generation, position: a.position }));
    if (started.length === 0) return;
    const topics = new Map<
      string,
      {
        partition: number;
        currentLeaderEpoch: number;
        fetchOffset: number;
        logStartOffset: number;
        partitionMaxBytes: number;
      }[]
    >();
    for (const { a, position } of started) {
      topics.set(a.topic, [
        ...(topics.get(a.topic) ?? []),
        {
          partition: a.partition,
          currentLeaderEpoch: -1,
          fetchOffset: position,
          logStartOffset: -1,
          partitionMaxBytes: this.options.maxPartitionBytes,
        },
      ]);
    }
    const r = await conn.request(1, {
      replicaId: -1,
      maxWaitMs: this.options.maxWaitMs,
      minBytes: this.options.minBytes,
      maxBytes: this.options.maxBytes,
      isolationLevel: this.options.isolationLevel,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })),
      forgottenTopicsData: [],
      rackId: "",
    });
    Cluster.check(r.errorCode, "fetch");
    for (const t of r.responses as {
      topic: string;
      partitions: {
        partitionIndex: number;
        errorCode: number;
        highWatermark: number;
        records: Buffer | null;
      }[];
    }[]) {
      for (const p of t.partitions) {
        const entry = started.find((s) => s.a.topic === t.topic && s.a.partition === p.partitionIndex);
        if (!entry || entry.a.generation !== entry.generation) continue;
        if (this.assigned.get(Consumer.id(t.topic, p.partitionIndex)) !== entry.a) continue;
        const a = entry.a;
        if (p.errorCode !== 0) {
          const code = errorName(p.errorCode);
          if (code === "OFFSET_OUT_OF_RANGE" && this.options.autoOffsetReset !== "none") {
            a.position = await this.resolve(a.topic, a.partition, this.options.autoOffsetReset);
            a.generation++;
            continue;
          }
          throw new KafkaError(code, `fetch ${a.topic}-${a.partition} at ${entry.position}`);
        }
        a.highWatermark = p.highWatermark;
        if (p.records && p.records.length > 0) this.accept(a, p.records);
      }
    }
  }

  /** Decodes fetched batches into records at or after the position and buffers them. */
  private accept(a: Assigned, data: Buffer): void {
    const records: ConsumerRecord[] = [];
    let next = a.position;
    for (const [start, end] of wholeBatches(data)) {
      const lastOffset = readInt64(data, start) + data.readInt32BE(start + LAST_OFFSET_DELTA_OFFSET);
      if (lastOffset < a.position) continue;
      next = Math.max(next, lastOffset + 1);
      if ((data.readInt16BE(start + ATTRIBUTES_OFFSET) & CONTROL_MASK) !== 0) continue;
      for (const r of decodeRecords(data.subarray(start, end))) {
        if (r.offset < a.position) continue;
        records.push({ topic: a.topic, partition: a.partition, ...r });
      }
    }
    a.position = next;
    if (records.length === 0) return;
    this.buffer.push({ topic: a.topic, partition: a.partition, highWatermark: a.highWatermark, records });
    this.buffered += records.length;
    this.wake(this.dataWaiters);
  }

  /**
   * The next fetched batch, waiting for one up to `timeoutMs`; null on timeout or once stopped.
   */
  async nextBatch(timeoutMs = Number.POSITIVE_INFINITY): Promise<ConsumerBatch | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const batch = this.buffer.shift();
      if (batch) {
        this.buffered -= batch.records.length;
        const last = batch.records[batch.records.length - 1];
        this.delivered.set(Consumer.id(batch.topic, batch.partition), last.offset + 1);
        this.wake(this.spaceWaiters);
        return batch;
      }
      if (this.failure) throw this.failure;
      if (!this.running) return null;
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await new Promise<void>((resolve) => {
        let timer: NodeJS.Timeout | undefined;
        const waiter = () => {
          if (timer) clearTimeout(timer);
          resolve();
        };
        if (Number.isFinite(left)) {
          timer = setTimeout(() => {
            const i = this.dataWaiters.indexOf(waiter);
            if (i >= 0) this.dataWaiters.splice(i, 1);
            resolve();
          }, left);
        }
        this.dataWaiters.push(waiter);
      });
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<ConsumerRecord> {
    for (;;) {
      const batch = await this.nextBatch();
      if (!batch) return;
      for (const r of batch.records) yield r;
    }
  }

  /** Calls `eachBatch` or `eachMessage` for every record until stop(); resolves when stopped. */
  async run(handlers: {
    eachMessage?: (record: ConsumerRecord) => Promise<void> | void;
    eachBatch?: (batch: ConsumerBatch) => Promise<void> | void;
  }): Promise<void> {
    for (;;) {
      const batch = await this.nextBatch();
      if (!batch) return;
      if (handlers.eachBatch) await handlers.eachBatch(batch);
      else if (handlers.eachMessage) for (const r of batch.records) await handlers.eachMessage(r);
    }
  }

  /** Stops fetching; pending reads end. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake(this.dataWaiters);
    this.wake(this.spaceWaiters);
    await this.loop?.catch(() => {});
  }

  async close(): Promise<void> {
    await this.stop();
    if (this.owned) await this.cluster.close();
  }
}
