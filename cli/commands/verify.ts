/**
 * `samsa verify`: Jepsen-style checks of a Kafka-protocol cluster (issue 14). `verify check
 * <history>` judges a history of sends, acks, failures and reads (bench/verify/, loaded lazily).
 * Exit codes, for scripts and the chaos suite: 0 nothing found, 1 anomalies found, 2 the history
 * could not be judged (unreadable, malformed, or a bad command line).
 */
import type { Command } from "commander";

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

async function check(history: string, opts: { json?: boolean }): Promise<void> {
  const { checkHistoryFile, summaryText } = await import("../../bench/verify/report.js");
  let report: Awaited<ReturnType<typeof checkHistoryFile>>;
  try {
    report = await checkHistoryFile(history);
  } catch (err) {
    process.stderr.write(`samsa: ${history === "-" ? "stdin" : history}: ${reason(err)}\n`);
    process.exitCode = EXIT_UNJUDGED;
    return;
  }
  process.stdout.write(opts.json ? `${JSON.stringify(report)}\n` : summaryText(report));
  process.exitCode = report.ok ? EXIT_OK : EXIT_ANOMALIES;
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
  samsa verify check history.jsonl`,
    );

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
