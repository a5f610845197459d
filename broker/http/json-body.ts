/**
 * JSON request bodies, parsed only after a bounded scan. A body is at most http.request.max.bytes
 * (fastify's bodyLimit, refused before it is read when Content-Length says so); before JSON.parse
 * sees it, one linear pass over the text, without recursion and yielding to the event loop every
 * SCAN_SLICE_CHARS, refuses:
 *   - nesting of arrays and objects deeper than http.json.max.depth: 400 BAD_REQUEST (a
 *     100,000-deep body would otherwise overflow the stack of whatever walks the parsed value);
 *   - an array at depth 1 or 2 (the `records` of a produce) of more than http.produce.max.records
 *     items: 413 PAYLOAD_TOO_LARGE, before millions of tiny objects are built.
 * Deeper arrays (a record's own JSON value) are not counted: they are data, bounded by the body.
 * The parse itself is fastify's (secure-json-parse: `__proto__` and `constructor.prototype` keys
 * are refused, 400).
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { HttpError } from "./errors.js";

/** Characters scanned between two yields to the event loop. */
export const SCAN_SLICE_CHARS = 1024 * 1024;

export interface JsonLimits {
  /** Deepest nesting of arrays and objects. */
  maxDepth: number;
  /** Most items of an array at depth 1 or 2. */
  maxItems: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
/** Depth up to which arrays have their items counted. */
const COUNTED_DEPTH = 2;

/** Scans JSON text slice by slice, keeping its place (inside a string, nesting) between slices. */
export class JsonScanner {
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** Whether the open container at each depth (1-based) is an array. */
  private readonly isArray: boolean[] = [];
  /** Commas seen in the open array at depth 1 and 2. */
  private readonly commas = [0, 0, 0];

  constructor(private readonly limits: JsonLimits) {}

  /** Scans text[from, to); throws the HttpError refusing the body, if any. */
  scan(text: string, from: number, to: number): void {
    for (let i = from; i < to; i++) {
      const c = text.charCodeAt(i);
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === BACKSLASH) this.escaped = true;
        else if (c === QUOTE) this.inString = false;
      } else if (c === QUOTE) {
        this.inString = true;
      } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
        this.open(c === OPEN_ARRAY);
      } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
        if (this.depth > 0) this.depth--;
      } else if (c === COMMA && this.depth <= COUNTED_DEPTH && this.isArray[this.depth]) {
        // n commas: n + 1 items.
        if (++this.commas[this.depth] >= this.limits.maxItems) {
          throw HttpError.http(
            "PAYLOAD_TOO_LARGE",
            `more than ${this.limits.maxItems} records in one request (http.produce.max.records)`,
          );
        }
      }
    }
  }

  private open(array: boolean): void {
    if (++this.depth > this.limits.maxDepth) {
      throw HttpError.http(
        "BAD_REQUEST",
        `JSON nested deeper than ${this.limits.maxDepth} levels (http.json.max.depth)`,
      );
    }
    this.isArray[this.depth] = array;
    if (this.depth <= COUNTED_DEPTH) this.commas[this.depth] = 0;
  }
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Scans all of `text`, yielding between slices; throws the HttpError refusing it, if any. */
export async function checkJsonText(text: string, limits: JsonLimits): Promise<void> {
  const scanner = new JsonScanner(limits);
  for (let from = 0; from < text.length; from += SCAN_SLICE_CHARS) {
    if (from > 0) await yieldToEventLoop();
    scanner.scan(text, from, Math.min(text.length, from + SCAN_SLICE_CHARS));
  }
}

export type JsonBodyParser = (request: FastifyRequest, body: string) => Promise<unknown>;

/** A content-type parser (parseAs "string") that scans the text, then parses it as fastify does. */
export function boundedJsonParser(app: FastifyInstance, limits: JsonLimits): JsonBodyParser {
  const parse = app.getDefaultJsonParser("error", "error");
  return async (request, body) => {
    await checkJsonText(body, limits);
    return new Promise((resolve, reject) => {
      parse(request, body, (err: Error | null, parsed?: unknown) => (err ? reject(err) : resolve(parsed)));
    });
  };
}

/** Replaces fastify's application/json parser with the bounded one. */
export function installJsonParser(app: FastifyInstance, limits: JsonLimits): void {
  const parser = boundedJsonParser(app, limits);
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, parser);
}
