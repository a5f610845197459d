/**
 * The workload of `samsa verify run` (issue 14): idempotent acks=all producers send unique values
 * at a bounded rate while consumers read them, half in a consumer group and half by assigning
 * every partition; every send, outcome, assignment and read goes into a history (history.ts),
 * which the checker (check.ts) then judges. It drives the samsa client, so it works against any
 * Kafka-protocol cluster.
 *
 * Phases: set-up (create the topic, or note where a non-empty one ends: only what this run sends
 * is judged), produce for `durationMs`, drain (consumers keep reading until every acknowledged
 * value was read by a group consumer and by an assign consumer, or `drainMs` passes), check.
 * `stop()` ends the current phase early (Ctrl-C): produce, then drain.
 */

import { randomBytes } from "node:crypto";
import { createWriteStream, type WriteStream } from "node:fs";
import { Admin } from "../../client/admin.js";
import type { ClusterOptions } from "../../client/cluster.js";
import { Consumer } from "../../client/consumer.js";
import { Producer } from "../../client/producer.js";
import { HistoryChecker, type Report } from "./check.js";
import { type HistoryEvent, historyLine } from "./history.js";
import { checkHistoryFile } from "./report.js";

export interface VerifyRunOptions {
  brokers: string[];
  /** TLS to the brokers: the client's `ssl` option. */
  ssl?: ClusterOptions["ssl"];
  /** SASL to the brokers: the client's `sasl` option. */
  sasl?: ClusterOptions["sasl"];
  topic: string;
  durationMs: number;
  producers: number;
  consumers: number;
  /** Partitions of the topic when this run creates it. */
  partitions: number;
  /** Sends per second over all producers. */
  rate: number;
  /** The history file; none: the history is judged as it is made, in memory. */
  history?: string;
  /** The group of the group consumers. */
  group: string;
  drainMs: number;
  /** Told about trouble the run survives (a consumer made again). */
  warn?: (line: string) => void;
  /** How long clients get to close once the run is done, before they are dropped (default CLOSE_MS_MAX). */
  closeMs?: number;
  /**
   * The producers' request and acks=all timeouts, when not the client's defaults (30 s each): the
   * chaos suite shortens them so that a write held by a paused or isolated leader is retried sooner.
   */
  producerTimeouts?: { requestTimeoutMs: number; ackTimeoutMs: number };
}

export const RUN_DEFAULTS = {
  durationMs: 60_000,
  producers: 2,
  consumers: 2,
  partitions: 3,
  rate: 1000,
  drainMs: 30_000,
};

/** Replication factor of a topic this run creates, when the cluster has that many brokers. */
const REPLICATION_FACTOR_MAX = 3;
/** Sends of one producer not yet settled; at the limit it waits (brokers down) instead of piling up. */
const IN_FLIGHT_PER_PRODUCER_MAX = 1000;
/** Sends a producer makes up for after it fell behind its rate, in ms of its share of the rate. */
const CATCH_UP_MS_MAX = 1000;
/** How long a consumer waits for a batch before it looks at the phase again. */
const POLL_MS = 200;
/** How often the drain looks whether every acknowledged value was read. */
const DRAIN_CHECK_MS = 100;
/** Pause before a consumer that failed is made again. */
const CONSUMER_RESTART_MS = 500;
/**
 * How long the producers and consumers get to close once the run is done (a consumer leaving its
 * group, a producer's last sends); past it their connections are dropped and the run is judged.
 */
const CLOSE_MS_MAX = 30_000;
/** Client errors that mean the record never left the client: its send failed definitely. */
const DEFINITE_ERRORS = new Set(["INVALID_ARGUMENT", "BUFFER_FULL"]);

/** The brokers could not be reached, or the topic neither found nor created. */
export class RunSetupError extends Error {
  override name = "RunSetupError";
}

/** Bit flags per acknowledged value: who has read it. */
const ACKED = 1;
const READ_BY_GROUP = 2;
const READ_BY_ASSIGN = 4;

/** The default group name: fresh per run, so no committed offset of an earlier run applies. */
export function randomGroup(): string {
  return `verify-${randomBytes(4).toString("hex")}`;
}

/** Where every event goes: the history file, or straight into a checker. */
class HistorySink {
  private readonly file: WriteStream | null;
  private readonly checker: HistoryChecker | null;
  private failure: Error | null = null;
  /** Set once the history is being judged: later outcomes (of sends cut off) are left out. */
  private closed = false;

  constructor(path: string | undefined) {
    this.file = path === undefined ? null : createWriteStream(path, { flags: "w" });
    this.file?.on("error", (err) => {
      this.failure ??= err;
    });
    this.checker = path === undefined ? new HistoryChecker() : null;
  }

  /** Resolves once the file is open (at once without one); rejects when it cannot be made. */
  async opened(): Promise<void> {
    const file = this.file;
    if (file === null || !file.pending) return;
    await new Promise<void>((resolve, reject) => {
      file.once("ready", resolve);
      file.once("error", reject);
    });
  }

  write(event: HistoryEvent): void {
    if (this.closed) return;
    if (this.file) this.file.write(historyLine(event));
    else this.checker?.add(event);
  }

  /** Closes the file and judges it (streaming it back), or judges what was added in memory. */
  async report(path: string | undefined): Promise<Report> {
    this.closed = true;
    if (this.file === null || path === undefined) return (this.checker as HistoryChecker).report();
    await new Promise<void>((resolve) => this.file?.end(resolve));
    if (this.failure) throw this.failure;
    return checkHistoryFile(path);
  }
}

export class VerifyRun {
  private readonly sink: HistorySink;
  /** acknowledged value -> ACKED | READ_BY_* flags; values read before their ack get flags too. */
  private readonly seen = new Map<string, number>();
  /** Values acknowledged, and of those the ones read by every consumer mode. */
  private acked = 0;
  private drained = 0;
  /** Sends of every producer not yet acknowledged or failed. */
  private unsettled = 0;
  /** partition -> the first offset this run judges (the topic's end when the run began). */
  private start = new Map<number, number>();
  private phase: "setup" | "produce" | "drain" | "done" = "setup";
  /** Waiters of phaseEnds, woken by stop(). */
  private readonly wakers = new Set<() => void>();
  /** The clients not yet closed, dropped if they do not close within CLOSE_MS_MAX. */
  private readonly clients = new Set<{ cluster: { close(): Promise<void> } }>();
  private readonly groupConsumers: number;
  private readonly assignConsumers: number;

  constructor(readonly options: VerifyRunOptions) {
    this.sink = new HistorySink(options.history);
    this.groupConsumers = Math.ceil(options.consumers / 2);
    this.assignConsumers = options.consumers - this.groupConsumers;
  }

  /** Ends the current phase now: producing (then the drain begins), or the drain. */
  stop(): void {
    if (this.phase === "setup" || this.phase === "produce") this.phase = "drain";
    else this.phase = "done";
    for (const wake of this.wakers) wake();
  }

  /** Runs every phase and returns the checker's report on the history. */
  async run(): Promise<Report> {
    await this.sink.opened();
    await this.setUp();
    if (this.phase === "setup") this.phase = "produce";
    const producers = Array.from({ length: this.options.producers }, (_, i) => this.produce(`p${i + 1}`));
    const consumers = [
      ...Array.from({ length: this.groupConsumers }, (_, i) => this.consume(`c${i + 1}`, "group")),
      ...Array.from({ length: this.assignConsumers }, (_, i) =>
        this.consume(`c${this.groupConsumers + i + 1}`, "assign"),
      ),
    ];
    await this.phaseEnds("produce", this.options.durationMs);
    if (this.phase === "produce") this.phase = "drain";
    await this.drain();
    this.phase = "done";
    await this.closeWithin(Promise.all([...producers, ...consumers]));
    return this.sink.report(this.options.history);
  }

  /**
   * Waits for the clients' own ends (`ending`) up to CLOSE_MS_MAX; then drops the connections of
   * those still open (a close stuck at a broker that does not answer) and goes on.
   */
  private async closeWithin(ending: Promise<unknown>): Promise<void> {
    const closeMs = this.options.closeMs ?? CLOSE_MS_MAX;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), closeMs);
    });
    const outcome = await Promise.race([ending.then(() => "ended" as const), late]);
    clearTimeout(timer);
    if (outcome === "ended") return;
    this.options.warn?.(`${this.clients.size} client(s) still closing after ${closeMs} ms: dropped`);
    await Promise.all([...this.clients].map((c) => c.cluster.close().catch(() => {})));
    this.clients.clear();
  }

  /** Creates the topic if missing; notes where each partition ends now. */
  private async setUp(): Promise<void> {
    const admin = new Admin({
      brokers: this.options.brokers,
      ssl: this.options.ssl,
      sasl: this.options.sasl,
      clientId: "samsa-verify",
    });
    try {
      const topics = await admin.listTopics();
      if (!topics.includes(this.options.topic)) {
        const brokers = admin.cluster.brokers().length;
        await admin.createTopics([
          {
            name: this.options.topic,
            partitions: this.options.partitions,
            replicationFactor: Math.max(1, Math.min(REPLICATION_FACTOR_MAX, brokers)),
          },
        ]);
      }
      const ends = await admin.listOffsets(this.options.topic, "latest");
      this.start = new Map(ends.map((e) => [e.partition, Math.max(0, e.offset)]));
    } catch (err) {
      throw new RunSetupError((err as Error).message, { cause: err });
    } finally {
      await admin.close().catch(() => {});
    }
  }

  /** Resolves when `phase` is over: after `ms`, or at once when stop() moved on from it. */
  private async phaseEnds(phase: VerifyRun["phase"], ms: number): Promise<void> {
    if (this.phase !== phase) return;
    await new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.wakers.add(wake);
    });
  }

  /** Waits until every acknowledged value was read in both modes, the drain deadline, or stop(). */
  private async drain(): Promise<void> {
    const deadline = Date.now() + this.options.drainMs;
    while (this.phase === "drain" && Date.now() < deadline && !this.allRead()) {
      await this.phaseEnds("drain", Math.min(DRAIN_CHECK_MS, deadline - Date.now()));
    }
  }

  /** Every acknowledged value read by the modes this run has, and no send still unsettled. */
  private allRead(): boolean {
    return this.unsettled === 0 && this.drained === this.acked;
  }

  private readMask(): number {
    return (
      ACKED | (this.groupConsumers > 0 ? READ_BY_GROUP : 0) | (this.assignConsumers > 0 ? READ_BY_ASSIGN : 0)
    );
  }

  /** Adds `flag` to what is known of `value`, counting it once it is acknowledged and fully read. */
  private mark(value: string, flag: number): void {
    const before = this.seen.get(value) ?? 0;
    const after = before | flag;
    if (after === before) return;
    this.seen.set(value, after);
    if (flag === ACKED) this.acked++;
    const full = this.readMask();
    if ((after & full) === full) this.drained++;
  }

  private event(e: HistoryEvent): void {
    this.sink.write(e);
  }

  /** One producer: sends `<name>-<n>` at its share of the rate until the produce phase ends. */
  private async produce(name: string): Promise<void> {
    const topic = this.options.topic;
    const producer = new Producer({
      brokers: this.options.brokers,
      ssl: this.options.ssl,
      sasl: this.options.sasl,
      clientId: `samsa-verify-${name}`,
      ...this.options.producerTimeouts,
    });
    this.clients.add(producer);
    const intervalMs = (1000 * this.options.producers) / this.options.rate;
    let inFlight = 0;
    let due = Date.now();
    for (let n = 0; this.phase === "produce"; n++) {
      // After a stall (brokers down), catch up on at most CATCH_UP_MS_MAX of missed sends.
      due = Math.max(due + intervalMs, Date.now() - CATCH_UP_MS_MAX);
      if (due > Date.now()) await this.phaseEnds("produce", due - Date.now());
      while (inFlight >= IN_FLIGHT_PER_PRODUCER_MAX && this.phase === "produce")
        await this.phaseEnds("produce", DRAIN_CHECK_MS);
      if (this.phase !== "produce") break;
      const value = `${name}-${n}`;
      this.event({ type: "send", time: Date.now(), process: name, topic, value });
      inFlight++;
      this.unsettled++;
      producer
        .send({ topic, value })
        .then(
          (m) => {
            this.event({
              type: "ack",
              time: Date.now(),
              process: name,
              topic,
              value,
              partition: m.partition,
              offset: m.offset,
            });
            this.mark(value, ACKED);
          },
          (err: Error & { code?: string }) => {
            const definite = DEFINITE_ERRORS.has(err.code ?? "");
            this.event({
              type: "fail",
              time: Date.now(),
              process: name,
              topic,
              value,
              error: err.message,
              definite,
            });
          },
        )
        .finally(() => {
          inFlight--;
          this.unsettled--;
        });
    }
    await this.settle(() => inFlight === 0);
    // Sends still unsettled stay without outcome in the history; closing would wait for them.
    if (inFlight === 0) await producer.close().catch(() => {});
    else void producer.cluster.close().catch(() => {});
    this.clients.delete(producer);
  }

  /** One consumer, made again after a failure, reading until the run is done. */
  private async consume(name: string, mode: "group" | "assign"): Promise<void> {
    /** partition -> the offset after this consumer's last read, where a remade assign consumer resumes. */
    const resume = new Map<number, number>();
    while (this.phase !== "done") {
      try {
        await this.consumeOnce(name, mode, resume);
      } catch (err) {
        this.options.warn?.(`${name}: ${(err as Error).message}; starting it again`);
        await this.phaseEnds(this.phase, CONSUMER_RESTART_MS);
      }
    }
  }

  private async consumeOnce(
    name: string,
    mode: "group" | "assign",
    resume: Map<number, number>,
  ): Promise<void> {
    const topic = this.options.topic;
    const consumer = new Consumer({
      brokers: this.options.brokers,
      ssl: this.options.ssl,
      sasl: this.options.sasl,
      clientId: `samsa-verify-${name}`,
      ...(mode === "group" && { groupId: this.options.group, autoOffsetReset: "earliest" as const }),
    });
    const flag = mode === "group" ? READ_BY_GROUP : READ_BY_ASSIGN;
    this.clients.add(consumer);
    try {
      if (mode === "group") {
        consumer.subscribe([topic], { onPartitionsAssigned: () => this.assigned(consumer, name) });
      } else {
        const info = await consumer.cluster.topic(topic);
        const partitions = info.partitions.map((p) => p.partition);
        const start = (p: number) => resume.get(p) ?? this.start.get(p) ?? 0;
        await consumer.assign(partitions.map((partition) => ({ topic, partition, start: start(partition) })));
        this.event({ type: "assign", time: Date.now(), process: name, topic, partitions, mode });
      }
      while (this.phase !== "done") {
        const batch = await consumer.nextBatch(POLL_MS);
        for (const r of batch?.records ?? []) {
          if (r.offset < (this.start.get(r.partition) ?? 0)) continue;
          const value = r.value?.toString() ?? "";
          this.event({
            type: "read",
            time: Date.now(),
            process: name,
            topic,
            partition: r.partition,
            offset: r.offset,
            value,
          });
          this.mark(value, flag);
          resume.set(r.partition, r.offset + 1);
        }
      }
    } finally {
      await consumer.close().catch(() => {});
      this.clients.delete(consumer);
    }
  }

  /**
   * A group consumer's new assignment: written before any read of it (the listener runs before
   * the consumer hands out records of new partitions); partitions behind the run's start skip to it.
   */
  private async assigned(consumer: Consumer, name: string): Promise<void> {
    const topic = this.options.topic;
    const partitions = consumer
      .assignment()
      .filter((tp) => tp.topic === topic)
      .map((tp) => tp.partition);
    this.event({ type: "assign", time: Date.now(), process: name, topic, partitions, mode: "group" });
    for (const p of partitions) {
      const start = this.start.get(p) ?? 0;
      if ((consumer.position(topic, p) ?? start) < start) await consumer.seek(topic, p, start);
    }
  }

  /** Waits while the run lasts for `done`. */
  private async settle(done: () => boolean): Promise<void> {
    while (!done() && this.phase !== "done") await this.phaseEnds(this.phase, DRAIN_CHECK_MS);
  }
}
