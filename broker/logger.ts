/**
 * The broker's logger: pino on stderr, as JSON lines (one object per line, for log collectors)
 * or as readable lines for a person at a terminal. `log.format=auto` (the default) picks readable
 * lines when stderr is a TTY and JSON otherwise; `json` and `pretty` force either.
 *
 * The readable form is a small formatter of pino's own JSON lines rather than pino-pretty: the
 * broker needs one fixed layout, and the bin then has no formatting dependency to ship.
 */
import { type DestinationStream, type Logger, pino } from "pino";
import type { LogFormat } from "./config.js";

/** Where the logger writes: stderr by default; tests pass a stream of their own. */
export interface LogOutput {
  write(text: string): unknown;
  isTTY?: boolean;
}

export function createLogger(
  level: string,
  format: LogFormat = "auto",
  out: LogOutput = process.stderr,
): Logger {
  const pretty = format === "pretty" || (format === "auto" && out.isTTY === true);
  const options = { level, base: { service: "samsa" } };
  if (!pretty)
    return out === process.stderr ? pino(options, pino.destination(2)) : pino(options, toStream(out));
  const colors = out.isTTY === true;
  return pino(options, toStream({ write: (line: string) => out.write(formatLine(line, colors)) }));
}

function toStream(out: LogOutput): DestinationStream {
  return { write: (line: string) => void out.write(line) };
}

const LEVELS: Record<number, [name: string, color: string]> = {
  10: ["TRACE", "\x1b[90m"],
  20: ["DEBUG", "\x1b[36m"],
  30: ["INFO ", "\x1b[32m"],
  40: ["WARN ", "\x1b[33m"],
  50: ["ERROR", "\x1b[31m"],
  60: ["FATAL", "\x1b[35m"],
};
const RESET = "\x1b[0m";
/** Fields every line carries, left out of the readable form. */
const OMITTED = new Set(["level", "time", "msg", "pid", "hostname", "service"]);

/**
 * One of pino's JSON lines as `HH:MM:SS.mmm LEVEL message key=value ...` (local time), with an
 * error's stack on the lines after it. A line that is not JSON passes through unchanged.
 */
export function formatLine(line: string, colors = false): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const [name, color] = LEVELS[entry.level as number] ?? [String(entry.level), ""];
  const level = colors && color ? `${color}${name}${RESET}` : name;
  const fields: string[] = [];
  let stack = "";
  for (const [key, value] of Object.entries(entry)) {
    if (OMITTED.has(key)) continue;
    if (key === "err" && value !== null && typeof value === "object") {
      const err = value as { message?: string; stack?: string };
      fields.push(`err=${quote(err.message ?? "")}`);
      if (err.stack) stack = `\n${err.stack.replace(/^/gm, "    ")}`;
    } else {
      fields.push(`${key}=${quote(value)}`);
    }
  }
  const text = [clock(entry.time), level, String(entry.msg ?? ""), ...fields]
    .filter((s) => s !== "")
    .join(" ");
  return `${text}${stack}\n`;
}

function clock(time: unknown): string {
  if (typeof time !== "number") return "";
  const d = new Date(time);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, "0")}`;
}

/** Plain words stay bare; anything else (spaces, quotes, objects) is written as JSON. */
function quote(value: unknown): string {
  if (typeof value === "string" && /^[^\s"=]+$/.test(value)) return value;
  return JSON.stringify(value) ?? String(value);
}
