/**
 * A history file judged and told to a person: `checkHistoryFile` streams the file through the
 * checker; `summaryText` is what `samsa verify check` prints without --json.
 */
import { ANOMALY_KINDS, type AnomalyKind, HistoryChecker, type Report } from "./check.js";
import { readHistory } from "./history.js";

/** Partitions named on a kind's line; the rest are summed up as "N more partitions". */
const PARTITIONS_SHOWN = 10;

const MEANING: Record<AnomalyKind, string> = {
  lost: "acknowledged, never read",
  duplicate: "read at more than one offset",
  inconsistent: "one offset holding different values",
  reordered: "a producer's order broken",
  phantom: "read, never sent",
  skip: "a consumer skipped offsets holding values",
  aborted: "read, though its send failed definitely",
};

/** The report on the history at `path` ("-": stdin); rejects with the reader's or checker's error. */
export async function checkHistoryFile(path: string): Promise<Report> {
  const checker = new HistoryChecker();
  for await (const { event, line } of readHistory(path)) checker.add(event, line);
  return checker.report();
}

/** Anomaly count over all kinds. */
export function anomalyCount(report: Report): number {
  return ANOMALY_KINDS.reduce((sum, k) => sum + report.anomalies[k], 0);
}

/** The summary, one line per kind found with its partitions and examples, then OK or FAILED. */
export function summaryText(report: Report): string {
  const t = report.totals;
  const lines = [
    `history: ${t.sent} sent, ${t.acked} acknowledged, ${t.failed_definite + t.failed_indefinite} failed ` +
      `(${t.failed_definite} definite, ${t.failed_indefinite} indefinite), ${t.unresolved} without outcome; ` +
      `${count(t.reads, "read")} of ${count(t.unique_values_read, "value")}`,
  ];
  for (const kind of ANOMALY_KINDS) if (report.anomalies[kind] > 0) lines.push(...kindLines(report, kind));
  const n = anomalyCount(report);
  lines.push(
    n === 0
      ? `OK: no anomalies in ${t.acked} acknowledged records`
      : `FAILED: ${count(n, "anomaly", "anomalies")} in ${t.acked} acknowledged records`,
  );
  return `${lines.join("\n")}\n`;
}

function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function kindLines(report: Report, kind: AnomalyKind): string[] {
  const hit = report.partitions.filter((p) => p.anomalies[kind] > 0);
  const named = hit.slice(0, PARTITIONS_SHOWN).map((p) => `${p.topic}-${p.partition}: ${p.anomalies[kind]}`);
  if (hit.length > PARTITIONS_SHOWN) named.push(`${hit.length - PARTITIONS_SHOWN} more partitions`);
  const lines = [`${kind} (${MEANING[kind]}): ${report.anomalies[kind]} (${named.join(", ")})`];
  for (const e of report.examples[kind]) lines.push(`  ${e.detail}`);
  const more = report.anomalies[kind] - report.examples[kind].length;
  if (more > 0) lines.push(`  ... and ${more} more`);
  return lines;
}
