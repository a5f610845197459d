/**
 * `samsa verify`: Jepsen-style checks of a Kafka-protocol cluster (issue 14). `verify run` drives
 * the workload against the brokers and judges the history it wrote; `verify check <history>`
 * judges a history of sends, acks, failures and reads (bench/verify/, loaded lazily). Exit codes,
 * for scripts and the chaos suite: 0 nothing found, 1 anomalies found, 2 the history could not be
 * judged (unreadable, malformed, the brokers unreachable, or a bad command line).
 */
import type { Command } from "commander";
import type { Report } from "../../bench/verify/check.js";
import { connectionOf, positiveInt } from "./common.js";

/** The history was judged and holds no anomaly. */
export const EXIT_OK = 0;
/** The history holds at least one anomaly. */
export const EXIT_ANOMALIES = 1;
/** The history (or the command line) could not be judged. */
export const EXIT_UNJUDGED = 2;

/** A reading error in one line: an errno error's code and text without the path it repeats. */
function reason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as NodeJS.ErrnoException).code;
  return code !== undefined && err.message.startsWith(`${code}:`) ? err.message.split(",")[0] : err.message;
}

/** `60s`, `2m`, `500ms` or bare seconds (`60`) as milliseconds. */
export function durationMs(flag: string, value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/.exec(value);
  const ms = m === null ? Number.NaN : Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000 }[m[2] ?? "s"] as number);
  if (!Number.isFinite(ms) || ms <= 0)
    throw new Error(`${flag} ${value}: expected a duration like 60s, 2m or 500ms`);
  return Math.round(ms);
}

/** Prints the report as `check` does and sets the exit code it implies. */
async function printReport(report: Report, json: boolean | undefined): Promise<void> {
  const { summaryText } = await import("../../bench/verify/report.js");
  process.stdout.write(json ? `${JSON.stringify(report)}\n` : summaryText(report));
  process.exitCode = report.ok ? EXIT_OK : EXIT_ANOMALIES;
}

interface RunOpts {
  topic: string;
  duration: string;
  producers: string;
  consumers: string;
  partitions: string;
  rate: string;
  drain: string;
  group?: string;
  history?: string;
  json?: boolean;
}

async function run(opts: RunOpts, cmd: Command): Promise<void> {
  const { VerifyRun, RunSetupError, randomGroup } = await import("../../bench/verify/run.js");
  let workload: InstanceType<typeof VerifyRun>;
  try {
    workload = new VerifyRun({
      ...connectionOf(cmd),
      topic: opts.topic,
      durationMs: durationMs("--duration", opts.duration),
      producers: positiveInt("--producers", opts.producers),
      consumers: positiveInt("--consumers", opts.consumers),
      partitions: positiveInt("--partitions", opts.partitions),
      rate: positiveInt("--rate", opts.rate),
      drainMs: durationMs("--drain", opts.drain),
      group: opts.group ?? randomGroup(),
      history: opts.history,
      warn: (line) => process.stderr.write(`samsa: ${line}\n`),
    });
  } catch (err) {
    process.stderr.write(`samsa: ${(err as Error).message}\n`);
    process.exitCode = EXIT_UNJUDGED;
    return;
  }
  // Ctrl-C ends producing (the drain and the check follow); a second one ends the drain.
  const onSignal = () => workload.stop();
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    await printReport(await workload.run(), opts.json);
  } catch (err) {
    const what = err instanceof RunSetupError ? "brokers" : (opts.history ?? "history");
    process.stderr.write(`samsa: ${what}: ${reason(err)}\n`);
    process.exitCode = EXIT_UNJUDGED;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  // The clients' timers must not keep a finished run alive.
  setImmediate(() => process.exit());
}

async function check(history: string, opts: { json?: boolean }): Promise<void> {
  const { checkHistoryFile } = await import("../../bench/verify/report.js");
  let report: Awaited<ReturnType<typeof checkHistoryFile>>;
  try {
    report = await checkHistoryFile(history);
  } catch (err) {
    process.stderr.write(`samsa: ${history === "-" ? "stdin" : history}: ${reason(err)}\n`);
    process.exitCode = EXIT_UNJUDGED;
    return;
  }
  await printReport(report, opts.json);
}

export function registerVerifyCommands(program: Command): void {
  const verify = program
    .command("verify")
    .description("check that a Kafka-protocol cluster loses, duplicates and reorders nothing")
    // Settings copied to the subcommands made below: flag errors are one line and exit 2, since
    // exit 1 means "anomalies found".
    .showHelpAfterError(false)
    .configureOutput({
      outputError: (text, write) => write(`samsa: ${text.replace(/^error: /, "")}`),
    })
    .exitOverride((err) => process.exit(err.exitCode === 0 ? EXIT_OK : EXIT_UNJUDGED))
    .addHelpText(
      "after",
      `
Examples:
  samsa -b localhost:9092 verify run --topic verify --duration 60s --history h.jsonl
  samsa verify check history.jsonl`,
    );

  verify
    .command("run")
    .description(
      "write unique values with idempotent acks=all producers, read them in a consumer group and by " +
        "assign, record every send, outcome and read as a history, then judge it as check does",
    )
    .requiredOption(
      "--topic <name>",
      "the topic (created if missing; if not empty, only this run's records are judged)",
    )
    .option("--duration <time>", "how long the producers send (60s, 2m, 500ms)", "60s")
    .option("--producers <n>", "producers, named p1..pN", "2")
    .option("--consumers <n>", "consumers: half in the group, half assigning every partition", "2")
    .option("--partitions <n>", "partitions of the topic when it is created", "3")
    .option("--rate <n>", "sends per second over all producers", "1000")
    .option("--drain <time>", "how long consumers may take to read every acknowledged value", "30s")
    .option("--group <id>", "the consumer group (default verify-<random>)")
    .option("--history <file>", "write the history there (default: judged in memory)")
    .option("--json", "print the report as one JSON object")
    .addHelpText(
      "after",
      `
Ctrl-C stops producing (consumers drain, then the history is judged); a second Ctrl-C ends the drain.
Exit status: 0 no anomalies, 1 anomalies found, 2 the brokers could not be reached or a bad flag.

Examples:
  samsa -b localhost:9092 verify run --topic verify --duration 60s --producers 4 --consumers 4
  samsa -b host1:9092,host2:9092 verify run --topic v --rate 5000 --history h.jsonl --json`,
    )
    .action(run);

  verify
    .command("check <history>")
    .description(
      "judge a history (JSON lines of send, ack, fail, assign and read events; - for stdin): " +
        "lost, duplicate, inconsistent, reordered, phantom, skipped and aborted records per partition",
    )
    .option("--json", "print the report as one JSON object")
    .addHelpText(
      "after",
      `
Exit status: 0 no anomalies, 1 anomalies found, 2 the history could not be read or is malformed.

Examples:
  samsa verify check history.jsonl
  samsa verify check history.jsonl --json | jq .anomalies`,
    )
    .action(check);
}
