/**
 * `samsa bench produce|consume|e2e`: load tests against any Kafka-protocol broker (-b), with the
 * meaning of kafka-producer-perf-test, kafka-consumer-perf-test and Kafka's EndToEndLatency. The
 * load generators live in bench/load/ (loaded lazily); this file parses flags and prints: a line
 * every --report-interval-ms on stderr, a summary (or with --json one JSON object) on stdout.
 * Ctrl-C stops a run and prints what was measured so far (a second Ctrl-C exits at once).
 */
import type { Command } from "commander";
import type { BenchResult } from "../../bench/load/report.js";
import type { CompressionName } from "../../client/producer.js";
import { connectionOf } from "./common.js";

interface CommonOpts {
  topic: string;
  json?: boolean;
  reportIntervalMs: string;
}

interface ProducerFlags {
  acks: string;
  lingerMs?: string;
  batchSize?: string;
  compression: string;
  partitions: string;
  replicationFactor?: string;
  recordSize: string;
}

interface ProduceOpts extends CommonOpts, ProducerFlags {
  records: string;
  keySize: string;
  producers: string;
  throughput: string;
  duration?: string;
  maxUnacked: string;
  sendBatch: string;
}

interface ConsumeOpts extends CommonOpts {
  records?: string;
  group?: string;
  consumers: string;
  timeout: string;
}

interface E2eOpts extends CommonOpts, ProducerFlags {
  rate: string;
  records?: string;
  duration?: string;
  maxWaitMs: string;
  timeout: string;
}

const COMPRESSIONS = ["none", "gzip", "snappy", "lz4", "zstd"];

/** An integer flag value >= min. */
function int(flag: string, value: string, min: number): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isSafeInteger(n) || n < min)
    throw new Error(`${flag} ${value}: expected an integer >= ${min}`);
  return n;
}

/** A number flag value > 0. */
function positive(flag: string, value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n <= 0)
    throw new Error(`${flag} ${value}: expected a number > 0`);
  return n;
}

function acksOf(value: string): 0 | 1 | -1 {
  const acks = value === "all" ? -1 : Number(value);
  if (acks !== 0 && acks !== 1 && acks !== -1) throw new Error(`--acks ${value}: expected 0, 1, -1 or all`);
  return acks;
}

function producerSettings(o: ProducerFlags) {
  if (!COMPRESSIONS.includes(o.compression))
    throw new Error(`--compression ${o.compression}: expected ${COMPRESSIONS.join(", ")}`);
  return {
    acks: acksOf(o.acks),
    compression: o.compression as CompressionName,
    ...(o.replicationFactor !== undefined && {
      replicationFactor: int("--replication-factor", o.replicationFactor, 1),
    }),
    ...(o.lingerMs !== undefined && { lingerMs: int("--linger-ms", o.lingerMs, 0) }),
    ...(o.batchSize !== undefined && { batchSize: int("--batch-size", o.batchSize, 1) }),
  };
}

function addProducerFlags(cmd: Command, lingerDefault: string): Command {
  return cmd
    .option("--acks <acks>", "0, 1, -1 or all", "-1")
    .option("--linger-ms <ms>", `batching delay (default ${lingerDefault})`)
    .option("--batch-size <bytes>", "bytes that seal a partition's batch (default 16384)")
    .option("-z, --compression <codec>", "none, gzip, snappy, lz4 or zstd", "none")
    .option(
      "--partitions <n>",
      "partitions when the topic is created (an existing topic is used as it is)",
      "1",
    )
    .option(
      "--replication-factor <n>",
      "replicas when the topic is created (default: the broker's default.replication.factor)",
    )
    .option("--record-size <bytes>", "bytes of each record's value", "100");
}

function addCommonFlags(cmd: Command, topic: string): Command {
  return cmd
    .option("-t, --topic <name>", "topic", topic)
    .option("--json", "print only one JSON object at the end (progress lines still go to stderr)")
    .option("--report-interval-ms <ms>", "how often a progress line is printed", "5000");
}

/** Runs `run` with Ctrl-C wired to its AbortSignal, then prints the summary or the JSON object. */
async function execute<R extends BenchResult & { error?: string }>(
  opts: CommonOpts,
  verb: string,
  run: (signal: AbortSignal, reportIntervalMs: number) => Promise<R>,
  more?: (result: R) => string,
): Promise<void> {
  const reportIntervalMs = int("--report-interval-ms", opts.reportIntervalMs, 1);
  const { summaryLine } = await import("../../bench/load/report.js");
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
  };
  process.on("SIGINT", onSigint);
  let result: R;
  try {
    result = await run(controller.signal, reportIntervalMs);
  } finally {
    process.removeListener("SIGINT", onSigint);
  }
  const text = opts.json
    ? JSON.stringify(result)
    : [summaryLine(result, verb), ...(more ? [more(result)] : [])].join("\n");
  process.stdout.write(`${text}\n`);
  if (result.error !== undefined) throw new Error(result.error);
  if (result.interrupted) process.exitCode = 130;
}

async function progress(verb: string) {
  const { stderrReport } = await import("../../bench/load/report.js");
  return stderrReport(verb);
}

export function registerBenchCommand(program: Command): void {
  const bench = program
    .command("bench")
    .description("load tests: produce, consume and end-to-end latency against any Kafka-protocol broker")
    // Settings copied to the subcommands made below: flag errors are one line and exit 1.
    .showHelpAfterError(false)
    .configureOutput({
      outputError: (text, write) => write(`samsa: ${text.replace(/^error: /, "")}`),
    })
    .addHelpText(
      "after",
      `
Examples:
  samsa bench produce --records 2000000 --record-size 100 --acks 1
  samsa bench consume --records 2000000
  samsa bench e2e --rate 10000 --duration 10`,
    );

  addCommonFlags(
    addProducerFlags(
      bench
        .command("produce")
        .description(
          "send records as fast as allowed; latency is send() to acknowledgement (kafka-producer-perf-test)",
        )
        .option("-n, --records <n>", "records to send", "1000000")
        .option("--key-size <bytes>", "bytes of each key, from a pool of 1024 random keys; 0: null keys", "0")
        .option("--producers <n>", "Producer instances in this process", "1")
        .option("--throughput <n>", "cap in records/s across all producers; -1: unlimited", "-1")
        .option("--duration <s>", "stop sending after this many seconds")
        .option("--max-unacked <n>", "records a producer may have sent and not yet seen acknowledged", "5000")
        .option(
          "--send-batch <n>",
          "records per Producer.sendBatch() call (latency: call to its promise); 0: send() per record",
          "0",
        ),
      "5",
    ),
    "samsa-bench",
  )
    .addHelpText(
      "after",
      `
Examples:
  samsa bench produce --records 2000000 --record-size 100 --acks 1
  samsa bench produce -t orders --partitions 8 --producers 4 --key-size 16 -z lz4 --json
  samsa bench produce --records 2000000 --acks 1 --send-batch 1000
  samsa -b kafka-host:9092 bench produce --throughput 50000 --duration 60
  samsa -b 127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094 bench produce -t rf3 --replication-factor 3`,
    )
    .action(async (opts: ProduceOpts, cmd: Command) => {
      const { brokers, ssl, sasl } = connectionOf(cmd);
      const settings = producerSettings(opts);
      const throughput = Number(opts.throughput);
      if (
        opts.throughput.trim() === "" ||
        !Number.isSafeInteger(throughput) ||
        throughput === 0 ||
        throughput < -1
      )
        throw new Error(`--throughput ${opts.throughput}: expected a positive integer or -1`);
      const options = {
        brokers,
        ssl,
        sasl,
        topic: opts.topic,
        records: int("--records", opts.records, 1),
        recordSize: int("--record-size", opts.recordSize, 0),
        keySize: int("--key-size", opts.keySize, 0),
        partitions: int("--partitions", opts.partitions, 1),
        producers: int("--producers", opts.producers, 1),
        throughput,
        maxUnacked: int("--max-unacked", opts.maxUnacked, 1),
        sendBatch: int("--send-batch", opts.sendBatch, 0),
        ...(opts.duration !== undefined && { durationSec: positive("--duration", opts.duration) }),
        ...settings,
      };
      const report = await progress("sent");
      const { runProduce } = await import("../../bench/load/produce.js");
      await execute(opts, "sent", (signal, reportIntervalMs) =>
        runProduce({ ...options, signal, reportIntervalMs }, report),
      );
    });

  addCommonFlags(
    bench
      .command("consume")
      .description("read records from the beginning (kafka-consumer-perf-test)")
      .option("-n, --records <n>", "records to read (default: all the topic holds at the start)")
      .option("-g, --group <group>", "read as members of this consumer group (default: assign mode)")
      .option(
        "--consumers <n>",
        "consumers: group members, or assign-mode consumers sharing the partitions",
        "1",
      )
      .option("--timeout <ms>", "fail when no record came for this long", "10000"),
    "samsa-bench",
  )
    .addHelpText(
      "after",
      `
Latency is how long each read waited for a batch of records (the client prefetches).

Examples:
  samsa bench consume --records 2000000
  samsa bench consume -t orders --group bench --consumers 4 --json`,
    )
    .action(async (opts: ConsumeOpts, cmd: Command) => {
      const { brokers, ssl, sasl } = connectionOf(cmd);
      const options = {
        brokers,
        ssl,
        sasl,
        topic: opts.topic,
        ...(opts.records !== undefined && { records: int("--records", opts.records, 1) }),
        ...(opts.group !== undefined && { group: opts.group }),
        consumers: int("--consumers", opts.consumers, 1),
        timeoutMs: int("--timeout", opts.timeout, 1),
      };
      const report = await progress("received");
      const { runConsume } = await import("../../bench/load/consume.js");
      await execute(
        opts,
        "received",
        (signal, reportIntervalMs) => runConsume({ ...options, signal, reportIntervalMs }, report),
        (r) =>
          r.fetch_seconds === 0
            ? `first record after ${r.first_record_ms.toFixed(0)} ms.`
            : `first record after ${r.first_record_ms.toFixed(0)} ms; from then on ` +
              `${r.fetch_records_per_sec.toFixed(1)} records/sec (${r.fetch_mb_per_sec.toFixed(2)} MB/sec) ` +
              `in ${r.fetch_seconds.toFixed(3)} s.`,
      );
    });

  addCommonFlags(
    addProducerFlags(
      bench
        .command("e2e")
        .description("end-to-end latency at a fixed rate: send time in each value, receipt minus send")
        .option("--rate <n>", "records/s", "10000")
        .option("-n, --records <n>", "records to send (default: --duration, else 10 s at --rate)")
        .option("--duration <s>", "seconds to send for")
        .option("--max-wait-ms <ms>", "the consumer's fetch long poll", "10")
        .option("--timeout <ms>", "fail when records are missing and none came for this long", "10000"),
      "0",
    ),
    "samsa-bench-e2e",
  )
    .addHelpText(
      "after",
      `
Examples:
  samsa bench e2e --rate 10000 --duration 10
  samsa bench e2e --rate 2000 --records 10000 --acks 1 --json
  samsa -b 127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094 bench e2e -t e2e-rf3 --replication-factor 3 --rate 5000`,
    )
    .action(async (opts: E2eOpts, cmd: Command) => {
      const { brokers, ssl, sasl } = connectionOf(cmd);
      const settings = producerSettings(opts);
      const recordSize = int("--record-size", opts.recordSize, 8);
      const options = {
        brokers,
        ssl,
        sasl,
        topic: opts.topic,
        rate: positive("--rate", opts.rate),
        recordSize,
        partitions: int("--partitions", opts.partitions, 1),
        ...(opts.records !== undefined && { records: int("--records", opts.records, 1) }),
        ...(opts.duration !== undefined && { durationSec: positive("--duration", opts.duration) }),
        maxWaitMs: int("--max-wait-ms", opts.maxWaitMs, 0),
        timeoutMs: int("--timeout", opts.timeout, 1),
        ...settings,
      };
      const report = await progress("received");
      const { runE2e } = await import("../../bench/load/e2e.js");
      await execute(opts, "received", (signal, reportIntervalMs) =>
        runE2e({ ...options, signal, reportIntervalMs }, report),
      );
    });
}
