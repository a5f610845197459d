/**
 * The message browser's filters, applied to a record's raw bytes before anything is rendered:
 *
 * - key: the key's text (below) equals or contains the given text;
 * - header: a header of that name exists and, when a value is given, its text equals or contains it;
 * - JSON path: the value parses as JSON, the path (json-path.ts) finds something there and, when a
 *   value is given, its text equals or contains it (a string as itself, anything else as its JSON
 *   text: `42`, `true`, `null`, `{"a":1}`).
 *
 * The text of bytes is what the browser shows for them: a JSON string's content (the key `"a"`
 * stored with its quotes matches `a`), other UTF-8 as it is, anything else as lower-case hex. A
 * Kafka null key or header value has no text and matches no text filter. All given filters must
 * match; `match` ("contains", the default, or "exact") applies to each text comparison.
 *
 * Most records of a selective filter fail it, so each text test first asks whether the raw bytes
 * could match at all (`mayContain`, a native byte search) and decodes only when they could. The
 * shortcut never changes an answer: bytes without a backslash hold any text they show verbatim.
 */
import type { RecordHeader } from "../../protocol/record-batch.js";
import { type JsonPathStep, jsonPathGet, parseJsonPath } from "./json-path.js";

export type MatchMode = "contains" | "exact";

export interface FilterSpec {
  key?: string;
  header?: string;
  headerValue?: string;
  jsonPath?: string;
  jsonValue?: string;
  match?: MatchMode;
}

/** A record's fields as the visitor of a batch gives them. */
export interface RawRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers: readonly RecordHeader[];
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const HEX = /^[0-9a-f]+$/;

/**
 * Whether the text of `bytes` (bytesText) may contain `wanted` (`wantedBytes` its UTF-8): false
 * only when it cannot. A text that is the bytes decoded, or a JSON string's content without
 * escapes (no backslash), contains `wanted` only if the bytes contain its UTF-8; a hex text only
 * if `wanted` is hex digits.
 */
function mayContain(bytes: Buffer, wanted: string, wantedBytes: Buffer): boolean {
  return bytes.includes(wantedBytes) || bytes.includes(BACKSLASH) || HEX.test(wanted);
}

/** The text the browser shows for `bytes` (see the file comment); null for a Kafka null. */
export function bytesText(bytes: Buffer | null): string | null {
  if (bytes === null) return null;
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return bytes.toString("hex");
  }
  if (bytes.length >= 2 && bytes[0] === QUOTE && bytes[bytes.length - 1] === QUOTE) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === "string") return parsed;
    } catch {
      // Quoted but not a JSON string: the text as it is.
    }
  }
  return text;
}

/** The record predicate of `spec`, or null when it filters nothing. Throws JsonPathError for a bad path. */
export function compileFilter(spec: FilterSpec): ((r: RawRecord) => boolean) | null {
  const tests: ((r: RawRecord) => boolean)[] = [];
  const same = textMatcher(spec.match ?? "contains");
  if (spec.key !== undefined) {
    const wanted = spec.key;
    const wantedBytes = Buffer.from(wanted);
    tests.push((r) => {
      if (r.key === null || !mayContain(r.key, wanted, wantedBytes)) return false;
      const text = bytesText(r.key);
      return text !== null && same(text, wanted);
    });
  }
  if (spec.header !== undefined) tests.push(headerTest(spec.header, spec.headerValue, same));
  if (spec.jsonPath !== undefined) tests.push(jsonTest(parseJsonPath(spec.jsonPath), spec.jsonValue, same));
  if (tests.length === 0) return null;
  return (r) => {
    for (const test of tests) if (!test(r)) return false;
    return true;
  };
}

function textMatcher(mode: MatchMode): (text: string, wanted: string) => boolean {
  return mode === "exact" ? (text, wanted) => text === wanted : (text, wanted) => text.includes(wanted);
}

function headerTest(
  name: string,
  value: string | undefined,
  same: (text: string, wanted: string) => boolean,
): (r: RawRecord) => boolean {
  const wantedBytes = Buffer.from(value ?? "");
  return (r) => {
    for (const h of r.headers) {
      if (h.key !== name) continue;
      if (value === undefined) return true;
      if (h.value === null || !mayContain(h.value, value, wantedBytes)) continue;
      const text = bytesText(h.value);
      if (text !== null && same(text, value)) return true;
    }
    return false;
  };
}

function jsonTest(
  steps: JsonPathStep[],
  value: string | undefined,
  same: (text: string, wanted: string) => boolean,
): (r: RawRecord) => boolean {
  const wantedBytes = Buffer.from(value ?? "");
  const shortcut = value !== undefined && jsonShortcutHolds(value);
  return (r) => {
    if (r.value === null || r.value.length === 0) return false;
    if (shortcut && !r.value.includes(wantedBytes) && !r.value.includes(BACKSLASH)) return false;
    let parsed: unknown;
    try {
      parsed = JSON.parse(utf8.decode(r.value));
    } catch {
      return false;
    }
    const node = jsonPathGet(parsed, steps);
    if (node === undefined) return false;
    if (value === undefined) return true;
    return same(typeof node === "string" ? node : JSON.stringify(node), value);
  };
}

/**
 * Whether a JSON value whose bytes hold neither `wanted` nor a backslash surely has no node whose
 * text contains `wanted`: true when `wanted` has no JSON punctuation (so it lies inside one token
 * of JSON.stringify's output) and a character no number is written with (so it is not inside a
 * number, whose spelling JSON.stringify may change: 1e2 is 100). Strings without escapes and the
 * literals true, false and null are spelled the same in the bytes and in JSON.stringify's output.
 */
function jsonShortcutHolds(wanted: string): boolean {
  return wanted !== "" && !/[{}[\]:,"\\]/.test(wanted) && /[^0-9.eE+-]/.test(wanted);
}
