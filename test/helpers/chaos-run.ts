/**
 * One chaos scenario's workload (issue 14): the `samsa verify run` workload (bench/verify/run.ts:
 * idempotent acks=all producers, a group consumer and an assign consumer) in this process against
 * a ProcessCluster, writing its history to a file that this module tails, so that a scenario can
 * wait for progress ("N more writes acknowledged", on one partition or any) between its faults
 * instead of sleeping. `finish` ends the produce phase, drains, and returns the checker's report;
 * `assertClean` fails naming the seed, the schedule, the checker's summary and the history file
 * (kept on failure, removed on success).
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { HistoryChecker, type Report } from "../../bench/verify/check.js";
import { type HistoryEvent, parseEvent, readHistory } from "../../bench/verify/history.js";
import { summaryText } from "../../bench/verify/report.js";
import { RunSetupError, VerifyRun } from "../../bench/verify/run.js";
import { Admin, Consumer } from "../../client/index.js";
import { KafkaError } from "../../protocol/errors.js";
import type { ProcessCluster } from "./process-cluster.js";
import { waitFor } from "./wait.js";

/** Broker settings of every chaos cluster: sessions of 2 s, groups that start at once. */
export const CHAOS_BROKER_FLAGS: Record<string, unknown> = {
  "broker.session.timeout.ms": 2000,
  "broker.heartbeat.interval.ms": 200,
  "group.initial.rebalance.delay.ms": 0,
};

/**
 * Producer timeouts for scenarios whose leader stops answering (paused) or holds acks=all writes
 * it cannot complete (isolated): the held writes are retried at the new leader after seconds,
 * not after the client's default 30 s.
 */
export const SHORT_PRODUCER_TIMEOUTS = { requestTimeoutMs: 6000, ackTimeoutMs: 4000 };

/** How long a scenario waits for progress or a failover: beyond a loaded machine's worst. */
export const CHAOS_WAIT_MS = 60_000;
/** Tries of the workload's set-up when it fails with a retriable error. */
const SETUP_ATTEMPTS = 5;
/** Bytes read from the history file per read call. */
const TAIL_CHUNK_BYTES = 1 << 20;

export interface ChaosWorkload {
  topic: string;
  /** Sends per second over all producers. */
  rate?: number;
  producers?: number;
  /** Half in a group, half by assign. */
  consumers?: number;
  /** How long the drain may take before whatever is unread counts as lost. */
  drainMs?: number;
  /** The producers' request and ack timeouts (default: the client's, 30 s each). */
  producerTimeouts?: { requestTimeoutMs: number; ackTimeoutMs: number };
}

/** Creates an RF=3, min.insync.replicas=2 topic and waits until every partition's ISR is full. */
export async function createChaosTopic(
  cluster: ProcessCluster,
  topic: string,
  partitions: number,
  assignments?: number[][],
): Promise<void> {
  const admin = new Admin({ brokers: cluster.bootstrap() });
  try {
    await admin.createTopics([
      {
        name: topic,
        ...(assignments ? { assignments } : { partitions, replicationFactor: 3 }),
        configs: { "min.insync.replicas": "2" },
      },
    ]);
  } finally {
    await admin.close();
  }
  await waitForFullIsr(cluster, topic, partitions);
}

/** Waits until every partition of `topic` has a leader and all its replicas in sync. */
export async function waitForFullIsr(
  cluster: ProcessCluster,
  topic: string,
  partitions: number,
  askIds?: number[],
): Promise<void> {
  for (let p = 0; p < partitions; p++) {
    await waitFor(
      async () => {
        const info = await cluster.partition(topic, p, askIds);
        return info !== undefined && info.leader >= 0 && info.isr.length === info.replicas.length;
      },
      `${topic}-${p} with a leader and its full ISR`,
      CHAOS_WAIT_MS,
    );
  }
}

/** Counts the acks of a history file as it grows. */
class HistoryTail {
  private fd: number;
  private position = 0;
  private rest = "";
  private readonly buffer = Buffer.alloc(TAIL_CHUNK_BYTES);
  total = 0;
  readonly byPartition = new Map<number, number>();

  constructor(file: string) {
    this.fd = openSync(file, "a+");
  }

  /** Reads what was appended since the last call. */
  poll(): void {
    while (this.fd >= 0) {
      const n = readSync(this.fd, this.buffer, 0, this.buffer.length, this.position);
      if (n === 0) return;
      this.position += n;
      const lines = (this.rest + this.buffer.toString("utf8", 0, n)).split("\n");
      this.rest = lines.pop() ?? "";
      for (const line of lines) if (line.includes('"ack"')) this.count(parseEvent(line));
    }
  }

  private count(e: HistoryEvent): void {
    if (e.type !== "ack") return;
    this.total++;
    this.byPartition.set(e.partition, (this.byPartition.get(e.partition) ?? 0) + 1);
  }

  close(): void {
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
  }
}

export class ChaosRun {
  /** The scenario's directory: the history file, removed once the history is judged clean. */
  readonly dir: string;
  readonly history: string;
  private readonly run: VerifyRun;
  private readonly done: Promise<Report>;
  private readonly tail: HistoryTail;
  /** Lines that explain a failure: what the scenario did, and the workload's warnings. */
  readonly journal: string[] = [];

  private constructor(
    readonly cluster: ProcessCluster,
    readonly workload: ChaosWorkload,
    readonly group: string,
  ) {
    this.dir = mkdtempSync(path.join(tmpdir(), "samsa-chaos-"));
    this.history = path.join(this.dir, "history.jsonl");
    this.run = new VerifyRun({
      brokers: cluster.bootstrap(),
      topic: workload.topic,
      durationMs: 3_600_000,
      producers: workload.producers ?? 2,
      consumers: workload.consumers ?? 2,
      partitions: 1,
      rate: workload.rate ?? 300,
      history: this.history,
      group,
      drainMs: workload.drainMs ?? 60_000,
      warn: (line) => this.note(`workload: ${line}`),
      producerTimeouts: workload.producerTimeouts,
    });
    this.done = this.run.run();
    this.done.catch(() => {});
    this.tail = new HistoryTail(this.history);
  }

  /**
   * Starts the workload on an existing topic (createChaosTopic) and waits for its first acks. A
   * set-up that fails with a retriable error (a leadership moved back by the controller's
   * rebalance between the topic's creation and the workload's ListOffsets) is tried again.
   */
  static async start(cluster: ProcessCluster, workload: ChaosWorkload): Promise<ChaosRun> {
    for (let attempt = 1; ; attempt++) {
      const run = new ChaosRun(cluster, workload, `chaos-${workload.topic}`);
      try {
        await run.progress(20, "the workload's first acks");
        return run;
      } catch (err) {
        await run.abandon();
        const retriable =
          (err as Error).cause instanceof KafkaError &&
          (err as Error & { cause: KafkaError }).cause.retriable;
        if (!(err instanceof RunSetupError) || !retriable || attempt >= SETUP_ATTEMPTS) throw err;
        rmSync(run.dir, { recursive: true, force: true });
      }
    }
  }

  /** Acknowledged writes so far, on `partition` or on any. */
  acks(partition?: number): number {
    this.tail.poll();
    return partition === undefined ? this.tail.total : (this.tail.byPartition.get(partition) ?? 0);
  }

  /** Waits until `n` more writes (than now) are acknowledged, on `partition` or on any. */
  async progress(n: number, what: string, partition?: number, timeoutMs = CHAOS_WAIT_MS): Promise<void> {
    const from = this.acks(partition);
    const where = partition === undefined ? "" : ` on partition ${partition}`;
    await Promise.race([
      waitFor(() => this.acks(partition) >= from + n, `${n} acks${where}: ${what}`, timeoutMs),
      this.done.then((r) => {
        throw new Error(`the workload ended while waiting for ${what}: ${summaryText(r)}`);
      }),
    ]);
    this.note(`${n} acks${where} (${what}); ${this.acks()} in all`);
  }

  note(line: string): void {
    this.journal.push(`${new Date().toISOString().slice(11, 23)} ${line}`);
  }

  /**
   * Ends the produce phase, drains, and judges the history; with `finalRead`, a fresh consumer
   * first reads every partition from its start to its end (from whichever broker leads it then)
   * and those reads are judged with the rest.
   */
  async finish(options: { finalRead?: boolean } = {}): Promise<Report> {
    this.run.stop();
    const report = await this.done;
    this.tail.close();
    this.note(`drained: ${report.totals.acked} acked, ${report.totals.reads} reads`);
    if (!options.finalRead) return report;
    const checker = new HistoryChecker();
    for await (const { event, line } of readHistory(this.history)) checker.add(event, line);
    for (const e of await this.readAll()) checker.add(e);
    return checker.report();
  }

  /** Every record of the topic, read by assign from offset 0 to the end, as history events. */
  private async readAll(): Promise<HistoryEvent[]> {
    const topic = this.workload.topic;
    const admin = new Admin({ brokers: this.cluster.bootstrap() });
    const ends = await admin.listOffsets(topic, "latest").finally(() => admin.close());
    const consumer = new Consumer({ brokers: this.cluster.bootstrap(), clientId: "chaos-final" });
    const partitions = ends.map((e) => e.partition);
    const events: HistoryEvent[] = [
      { type: "assign", time: Date.now(), process: "final", topic, partitions, mode: "assign" },
    ];
    const next = new Map(partitions.map((p) => [p, 0]));
    try {
      await consumer.assign(partitions.map((partition) => ({ topic, partition, start: 0 })));
      const behind = () => ends.some((e) => (next.get(e.partition) ?? 0) < e.offset);
      await waitFor(
        async () => {
          const batch = await consumer.nextBatch(200);
          for (const r of batch?.records ?? []) {
            const value = r.value?.toString() ?? "";
            const { partition, offset } = r;
            events.push({
              type: "read",
              time: Date.now(),
              process: "final",
              topic,
              partition,
              offset,
              value,
            });
            next.set(r.partition, r.offset + 1);
          }
          return !behind();
        },
        "the final read to reach the end of every partition",
        CHAOS_WAIT_MS,
      );
    } finally {
      await consumer.close();
    }
    this.note(`final read: ${events.length - 1} records`);
    return events;
  }

  /** Throws, naming `context` (seed, schedule), the summary, the log and the history, unless clean. */
  assertClean(report: Report, context: string): void {
    // CHAOS_VERBOSE=1 shows what a passing scenario did, too.
    if (process.env.CHAOS_VERBOSE) {
      process.stderr.write(
        `${this.workload.topic} (${report.ok ? "clean" : "FAILED"}):\n  ${this.journal.join("\n  ")}\n`,
      );
    }
    if (report.ok && report.totals.acked > 0) {
      rmSync(this.dir, { recursive: true, force: true });
      return;
    }
    const why = report.totals.acked === 0 ? "nothing was acknowledged\n" : "";
    throw new Error(
      `${context}\n${why}${summaryText(report)}history kept: ${this.history}\n` +
        `what happened:\n  ${this.journal.join("\n  ")}`,
    );
  }

  /** Stops the workload without judging (a scenario that failed before its end). */
  async abandon(): Promise<void> {
    this.run.stop();
    this.run.stop();
    await this.done.catch(() => {});
    this.tail.close();
  }
}
