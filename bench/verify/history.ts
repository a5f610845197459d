/**
 * The history of a verify run: every send, its outcome, every consumer's assignment and every
 * record it read, one JSON object per line (JSON lines), in the order they happened as far as the
 * writer knows. `samsa verify run` writes it; `samsa verify check` and the chaos suite read it.
 *
 * Every event has `type`, `time` (ms since the epoch) and `process` (the producer or consumer
 * instance that did it). Fields beyond the ones below are allowed and ignored, so a writer may
 * add what helps a person reading the file.
 *
 * - `send`: a send was invoked; `partition` only when the producer chose it.
 * - `ack`: the send was acknowledged at `partition` and `offset`.
 * - `fail`: the send failed with `error` (`CODE: message`); `definite` is true only when the
 *   record was certainly not written (e.g. refused before it left the client), false when it may
 *   have been (a timeout, a lost connection).
 * - `assign`: a consumer's partitions of `topic` from now on (`mode` says whether a group gave
 *   them or the consumer chose them); each starts a new read session of that partition.
 * - `read`: a consumer read `value` at `partition` and `offset`.
 *
 * Values are unique per send and name their producer: `<process>-<n>`, n a decimal integer that
 * increases with each send of that producer, which is how per-producer order is judged.
 */
import { open } from "node:fs/promises";
import { createInterface } from "node:readline";

export interface SendEvent {
  type: "send";
  time: number;
  process: string;
  topic: string;
  value: string;
  partition?: number;
}

export interface AckEvent {
  type: "ack";
  time: number;
  process: string;
  topic: string;
  value: string;
  partition: number;
  offset: number;
}

export interface FailEvent {
  type: "fail";
  time: number;
  process: string;
  topic: string;
  value: string;
  error: string;
  definite: boolean;
}

export interface AssignEvent {
  type: "assign";
  time: number;
  process: string;
  topic: string;
  partitions: number[];
  mode: "group" | "assign";
}

export interface ReadEvent {
  type: "read";
  time: number;
  process: string;
  topic: string;
  partition: number;
  offset: number;
  value: string;
}

export type HistoryEvent = SendEvent | AckEvent | FailEvent | AssignEvent | ReadEvent;

/** A history that cannot be judged: a line that is not an event, or events that contradict. */
export class HistoryError extends Error {
  override name = "HistoryError";
}

/** The line a writer appends for `event` (with its newline). */
export function historyLine(event: HistoryEvent): string {
  return `${JSON.stringify(event)}\n`;
}

/** The producer and sequence number a value names (`p1-17` -> p1, 17), or null. */
export function valueParts(value: string): { producer: string; n: number } | null {
  const m = /^(.+)-(\d{1,15})$/.exec(value);
  return m === null ? null : { producer: m[1], n: Number(m[2]) };
}

type Fields = Record<string, unknown>;

function requireField(o: Fields, name: string, ok: (v: unknown) => boolean, expected: string): void {
  if (!(name in o)) throw new HistoryError(`missing "${name}"`);
  if (!ok(o[name])) throw new HistoryError(`"${name}" is ${JSON.stringify(o[name])}: expected ${expected}`);
}

const isText = (v: unknown) => typeof v === "string" && v.length > 0;
const isString = (v: unknown) => typeof v === "string";
const isIndex = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
const isTime = (v: unknown) => typeof v === "number" && Number.isFinite(v) && v >= 0;

/** The fields each type carries beyond `type`, `time` and `process`. */
const FIELDS: Record<HistoryEvent["type"], (o: Fields) => void> = {
  send(o) {
    requireField(o, "topic", isText, "a topic name");
    requireField(o, "value", isString, "a string");
    if (o.partition !== undefined) requireField(o, "partition", isIndex, "a partition index");
  },
  ack(o) {
    requireField(o, "topic", isText, "a topic name");
    requireField(o, "value", isString, "a string");
    requireField(o, "partition", isIndex, "a partition index");
    requireField(o, "offset", isIndex, "an offset");
  },
  fail(o) {
    requireField(o, "topic", isText, "a topic name");
    requireField(o, "value", isString, "a string");
    requireField(o, "error", isString, "a string");
    requireField(o, "definite", (v) => typeof v === "boolean", "true or false");
  },
  assign(o) {
    requireField(o, "topic", isText, "a topic name");
    requireField(o, "partitions", (v) => Array.isArray(v) && v.every(isIndex), "a list of partition indexes");
    requireField(o, "mode", (v) => v === "group" || v === "assign", '"group" or "assign"');
  },
  read(o) {
    requireField(o, "topic", isText, "a topic name");
    requireField(o, "partition", isIndex, "a partition index");
    requireField(o, "offset", isIndex, "an offset");
    requireField(o, "value", isString, "a string");
  },
};

/** `line` as an event, or a HistoryError saying what is wrong with it (without the line number). */
export function parseEvent(line: string): HistoryEvent {
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch {
    throw new HistoryError("not JSON");
  }
  if (typeof o !== "object" || o === null || Array.isArray(o)) throw new HistoryError("not a JSON object");
  const fields = o as Fields;
  if (!Object.hasOwn(FIELDS, fields.type as string))
    throw new HistoryError(
      `"type" is ${JSON.stringify(fields.type)}: expected send, ack, fail, assign or read`,
    );
  requireField(fields, "time", isTime, "ms since the epoch");
  requireField(fields, "process", isText, "a process name");
  FIELDS[fields.type as HistoryEvent["type"]](fields);
  return o as HistoryEvent;
}

/** An event and the line of the file it came from (1-based). */
export interface HistoryEntry {
  event: HistoryEvent;
  line: number;
}

/**
 * Streams the events of the history file at `path` ("-": stdin), validating each line as it is
 * read; blank lines are skipped. Fails with a HistoryError "line N: <what is wrong>" at the first
 * malformed line, or with the file system's error when the file cannot be read.
 */
export async function* readHistory(path: string): AsyncGenerator<HistoryEntry> {
  const handle = path === "-" ? null : await open(path, "r");
  const input = handle === null ? process.stdin : handle.createReadStream({ encoding: "utf8" });
  let failure: Error | undefined;
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  input.on("error", (err: Error) => {
    failure = err;
    lines.close();
  });
  let n = 0;
  try {
    for await (const text of lines) {
      n++;
      if (text.trim() === "") continue;
      let event: HistoryEvent;
      try {
        event = parseEvent(text);
      } catch (err) {
        throw new HistoryError(`line ${n}: ${(err as Error).message}`);
      }
      yield { event, line: n };
    }
  } finally {
    lines.close();
    await handle?.close();
  }
  if (failure !== undefined) throw failure;
}
