/**
 * A small etcd v3 client over etcd's HTTP/JSON gateway (`/v3/...`, docs/decisions/0023): plain
 * `fetch`, no gRPC and no native code. Keys and values are base64 in the JSON; int64 fields are
 * strings (lease ids stay strings, revisions fit a double).
 *
 * Guarantees: every unary request settles within `requestTimeoutMs`; a request that could not
 * reach etcd, timed out or found etcd without a leader rejects with a retriable KafkaError
 * REQUEST_TIMED_OUT (the write may or may not have happened). A failed request moves the client
 * to the next endpoint for the requests after it.
 */
import { KafkaError } from "../../protocol/errors.js";

/** One key as etcd returns it. */
export interface EtcdKv {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  lease: string;
}

export interface EtcdEvent {
  type: "PUT" | "DELETE";
  kv: EtcdKv;
}

/** One message of a watch stream. */
export interface WatchMessage {
  revision: number;
  events: EtcdEvent[];
  /** Set when the start revision was compacted away: the watch is over, re-read and start anew. */
  compactRevision: number;
  canceled: boolean;
  created: boolean;
}

/** A compare of a txn, in etcd's JSON form (`{ key, target, result, ... }`). */
export type Compare = Record<string, unknown>;
/** An operation of a txn, in etcd's JSON form (`{ request_put: ... }`). */
export type RequestOp = Record<string, unknown>;

export interface TxnResult {
  succeeded: boolean;
  revision: number;
  /** Each op's response, as etcd's JSON. */
  responses: Record<string, unknown>[];
}

export interface EtcdClientOptions {
  /** `host:port` of each member. */
  endpoints: string[];
  /** Deadline of each unary request. */
  requestTimeoutMs: number;
}

/**
 * The watch asks for a member with a leader (gRPC metadata `hasleader`, passed on by etcd's
 * gateway from a `Grpc-Metadata-` header): a member cut off from the quorum cancels the watch
 * instead of keeping it open and silent, so the store restarts it on another member.
 */
const WATCH_HEADERS = { "content-type": "application/json", "Grpc-Metadata-hasleader": "true" };

/** gRPC codes etcd answers when it cannot serve now (no leader, stopping): retriable. */
const UNAVAILABLE_GRPC_CODES = new Set([4, 14]);

export function b64(text: string): string {
  return Buffer.from(text, "utf8").toString("base64");
}

export function unb64(text: string | undefined): string {
  return text === undefined ? "" : Buffer.from(text, "base64").toString("utf8");
}

/** The end of the range holding every key that starts with `prefix` (etcd's prefix range). */
export function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, "utf8");
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i] < 0xff) {
      bytes[i]++;
      return bytes.subarray(0, i + 1).toString("base64");
    }
  }
  return Buffer.from([0]).toString("base64");
}

function toKv(raw: Record<string, string | undefined>): EtcdKv {
  return {
    key: unb64(raw.key),
    value: unb64(raw.value),
    createRevision: Number(raw.create_revision ?? 0),
    modRevision: Number(raw.mod_revision ?? 0),
    lease: raw.lease ?? "0",
  };
}

/** The kvs of a range response (top-level or inside a txn's `response_range`). */
export function rangeKvs(response: Record<string, unknown>): EtcdKv[] {
  const kvs = (response.kvs ?? []) as Record<string, string>[];
  return kvs.map(toKv);
}

function timedOut(what: string, cause?: unknown): KafkaError {
  return new KafkaError("REQUEST_TIMED_OUT", `etcd ${what}`, { cause });
}

export class EtcdClient {
  private endpoint = 0;
  private closed = false;
  private readonly watches = new Set<AbortController>();

  constructor(private readonly options: EtcdClientOptions) {
    if (options.endpoints.length === 0) throw new Error("EtcdClient needs at least one endpoint");
  }

  get requestTimeoutMs(): number {
    return this.options.requestTimeoutMs;
  }

  private url(path: string): string {
    return `http://${this.options.endpoints[this.endpoint]}${path}`;
  }

  private nextEndpoint(): void {
    this.endpoint = (this.endpoint + 1) % this.options.endpoints.length;
  }

  /** POSTs `body` to `path`, answering etcd's JSON or rejecting with a KafkaError. */
  async call(
    path: string,
    body: unknown,
    timeoutMs = this.options.requestTimeoutMs,
  ): Promise<Record<string, unknown>> {
    if (this.closed) throw timedOut(`${path}: client closed`);
    let response: Response;
    let text: string;
    try {
      response = await fetch(this.url(path), {
        method: "POST",
        body: JSON.stringify(body),
        headers: { "content-type": "application/json" },
        // AbortSignal.timeout takes whole milliseconds only (a fraction throws at once).
        signal: AbortSignal.timeout(Math.max(1, Math.ceil(timeoutMs))),
      });
      text = await response.text();
    } catch (err) {
      this.nextEndpoint();
      throw timedOut(`${path} unanswered within ${timeoutMs} ms`, err);
    }
    const json = parseJson(text);
    if (json === null) {
      throw new KafkaError(
        "UNKNOWN_SERVER_ERROR",
        `etcd ${path}: HTTP ${response.status}, not JSON (etcd below 3.4?)`,
      );
    }
    if (response.ok) return json;
    const code = Number(json.code ?? 0);
    const message = String(json.message ?? json.error ?? response.status);
    if (UNAVAILABLE_GRPC_CODES.has(code) || response.status >= 502) {
      this.nextEndpoint();
      throw timedOut(`${path}: ${message}`);
    }
    throw new KafkaError("UNKNOWN_SERVER_ERROR", `etcd ${path}: ${message}`);
  }

  async range(
    key: string,
    options: { prefix?: boolean; revision?: number } = {},
  ): Promise<{ kvs: EtcdKv[]; revision: number }> {
    const body: Record<string, unknown> = { key: b64(key) };
    if (options.prefix) body.range_end = prefixEnd(key);
    if (options.revision !== undefined) body.revision = String(options.revision);
    const json = await this.call("/v3/kv/range", body);
    return { kvs: rangeKvs(json), revision: headerRevision(json) };
  }

  /**
   * The largest mod revision among the keys under `prefix` now (0 when none) and how many keys
   * there are: a cheap probe of whether a watch of the prefix has fallen behind (a put shows in
   * the revision, a delete, such as a lease expiring, in the count).
   */
  async probe(prefix: string): Promise<{ latestModRevision: number; count: number }> {
    const json = await this.call("/v3/kv/range", {
      key: b64(prefix),
      range_end: prefixEnd(prefix),
      limit: "1",
      sort_order: "DESCEND",
      sort_target: "MOD",
      keys_only: true,
    });
    return { latestModRevision: rangeKvs(json)[0]?.modRevision ?? 0, count: Number(json.count ?? 0) };
  }

  async txn(compare: Compare[], success: RequestOp[], failure: RequestOp[] = []): Promise<TxnResult> {
    const json = await this.call("/v3/kv/txn", { compare, success, failure });
    return {
      succeeded: json.succeeded === true,
      revision: headerRevision(json),
      responses: (json.responses ?? []) as Record<string, unknown>[],
    };
  }

  /** Grants a lease of `ttlSeconds`; answers its id and the TTL etcd granted (never below its minimum). */
  async grant(ttlSeconds: number): Promise<{ id: string; ttlSeconds: number }> {
    const json = await this.call("/v3/lease/grant", { TTL: String(ttlSeconds) });
    if (json.error) throw new KafkaError("UNKNOWN_SERVER_ERROR", `etcd lease grant: ${String(json.error)}`);
    return { id: String(json.ID), ttlSeconds: Number(json.TTL) };
  }

  /** Renews a lease once; answers the TTL left (0: the lease is gone). */
  async keepAlive(id: string, timeoutMs?: number): Promise<number> {
    const json = await this.call("/v3/lease/keepalive", { ID: id }, timeoutMs);
    const result = (json.result ?? {}) as Record<string, unknown>;
    return Number(result.TTL ?? 0);
  }

  /**
   * Revokes a lease (its keys are deleted); a lease already gone is not an error. Answers the
   * revision after the deletion (0 when the lease was gone).
   */
  async revoke(id: string): Promise<number> {
    try {
      return headerRevision(await this.call("/v3/lease/revoke", { ID: id }));
    } catch (err) {
      if (KafkaError.is(err, "UNKNOWN_SERVER_ERROR") && /lease not found/.test(err.message)) return 0;
      throw err;
    }
  }

  /**
   * Watches every key under `prefix` from `startRevision` on. `onMessage` gets each message in
   * order; `onEnd` is called once when the stream ends for any reason (error, etcd gone, cancel),
   * unless `cancel()` was called. The stream has no deadline: a silent etcd is detected by the
   * caller's own requests (docs/decisions/0023).
   */
  watch(
    prefix: string,
    startRevision: number,
    onMessage: (message: WatchMessage) => void,
    onEnd: (err: unknown) => void,
  ): { cancel(): void } {
    const abort = new AbortController();
    this.watches.add(abort);
    const body = {
      create_request: {
        key: b64(prefix),
        range_end: prefixEnd(prefix),
        start_revision: String(startRevision),
      },
    };
    const run = async (): Promise<void> => {
      const response = await fetch(this.url("/v3/watch"), {
        method: "POST",
        body: JSON.stringify(body),
        headers: WATCH_HEADERS,
        signal: abort.signal,
      });
      if (!response.ok || response.body === null) throw new Error(`etcd watch: HTTP ${response.status}`);
      await readLines(response.body, (line) => onMessage(toWatchMessage(JSON.parse(line))));
      throw new Error("etcd watch stream ended");
    };
    run().catch((err) => {
      this.watches.delete(abort);
      if (abort.signal.aborted) return;
      this.nextEndpoint();
      onEnd(err);
    });
    return {
      cancel: () => {
        this.watches.delete(abort);
        abort.abort();
      },
    };
  }

  /** Cancels every watch; further requests fail. */
  close(): void {
    this.closed = true;
    for (const abort of this.watches) abort.abort();
    this.watches.clear();
  }
}

function parseJson(text: string): Record<string, unknown> | null {
  if (text === "") return {};
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === "object" ? (parsed as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function headerRevision(json: Record<string, unknown>): number {
  const header = (json.header ?? {}) as Record<string, string>;
  return Number(header.revision ?? 0);
}

function toWatchMessage(line: Record<string, unknown>): WatchMessage {
  if (line.error) throw new Error(`etcd watch: ${JSON.stringify(line.error)}`);
  const result = (line.result ?? {}) as Record<string, unknown>;
  const events = (result.events ?? []) as Record<string, unknown>[];
  return {
    revision: headerRevision(result),
    events: events.map((e) => ({
      type: e.type === "DELETE" ? "DELETE" : "PUT",
      kv: toKv(e.kv as Record<string, string>),
    })),
    compactRevision: Number(result.compact_revision ?? 0),
    canceled: result.canceled === true,
    created: result.created === true,
  };
}

/** Longest line a watch stream may send before the client gives up on it. */
const WATCH_LINE_MAX_BYTES = 64 * 1024 * 1024;

/** Calls `onLine` with each newline-terminated line of a byte stream. */
async function readLines(body: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    pending += decoder.decode(chunk, { stream: true });
    let newline = pending.indexOf("\n");
    while (newline >= 0) {
      const line = pending.slice(0, newline).trim();
      pending = pending.slice(newline + 1);
      if (line !== "") onLine(line);
      newline = pending.indexOf("\n");
    }
    if (pending.length > WATCH_LINE_MAX_BYTES) throw new Error("etcd watch: line beyond the limit");
  }
}
