/** What the client commands share: the broker list from -b, and config pairs from -c. */
import type { Command } from "commander";

export function brokersOf(cmd: Command): string[] {
  const opts = cmd.optsWithGlobals() as { brokers?: string };
  return (opts.brokers ?? "localhost:9092")
    .split(",")
    .map((b) => b.trim())
    .filter((b) => b.length > 0);
}

/** Parses `key=value` pairs (repeatable options). */
export function pairs(values: string[] | undefined, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values ?? []) {
    const eq = v.indexOf("=");
    if (eq <= 0) throw new Error(`${what} ${v}: expected key=value`);
    out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return out;
}

export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Unescapes \n, \t, \r, \\ and \xHH in a delimiter or format given on the command line. */
export function unescapeArg(s: string): string {
  return s.replace(/\\(x[0-9a-fA-F]{2}|n|t|r|\\)/g, (_, e: string) => {
    if (e === "n") return "\n";
    if (e === "t") return "\t";
    if (e === "r") return "\r";
    if (e === "\\") return "\\";
    return String.fromCharCode(Number.parseInt(e.slice(1), 16));
  });
}
