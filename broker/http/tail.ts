/**
 * A JSON live tail over WebSocket: `GET /ws/topics/{topic}?from=earliest|latest|<offset>&partition=<p>`.
 * Every record of the topic (or of partition `p`) from `from` on is sent as one text message, the
 * record's JSON as GET .../records shows it (records.ts), and the tail then follows new appends:
 * it wakes on Partition.onAppend and reads through the Fetch handler, as a consumer would.
 *
 * `from` defaults to `latest` (only what is appended after the tail starts); `earliest` starts at
 * each partition's log start; a numeric offset needs `partition` and must lie within the log. A
 * tail of the whole topic picks up partitions added later, from their start. Should retention
 * delete what a slow tail has not read yet, it continues from the new log start.
 *
 * Backpressure: records are sent while the socket's bufferedAmount is below TAIL_MAX_BUFFERED_BYTES;
 * past it the tail stops (no more fetches) until the kernel has taken the buffer down to
 * TAIL_RESUME_BYTES. Memory per tail is thus that limit plus one fetch (TAIL_FETCH_BYTES).
 *
 * Closes with a reason: 4404 unknown topic or partition (also when the topic is deleted while
 * tailed), 4400 bad parameters (an offset out of range included), 1011 an internal failure, 1001
 * when the broker shuts down, 4401 when credentials were asked for and not given. With the HTTP
 * port's authentication on, an upgrade without an Authorization header is followed by one text
 * message of credentials (authentication.ts) before the tail starts; other messages from the
 * client are ignored.
 */
import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import type { WebSocket } from "ws";
import { errorName } from "../../protocol/errors.js";
import type { Partition } from "../partition.js";
import { CREDENTIALS_MESSAGE_TIMEOUT_MS, credentialsInside } from "./authentication.js";
import { ERROR_RESPONSES, HttpError, toHttpError, WS_CLOSE } from "./errors.js";
import { EARLIEST_OFFSET, type KafkaApi, LATEST_OFFSET } from "./kafka-api.js";
import { closeWebSocket } from "./kafka-ws.js";
import { recordsOf } from "./records.js";
import { PARTITION, TOPIC_PARAMS } from "./schemas.js";
import type { HttpServer } from "./server.js";

/** Socket bytes buffered beyond which a tail stops reading. */
export const TAIL_MAX_BUFFERED_BYTES = 1024 * 1024;
/** Buffered bytes below which a stopped tail reads again. */
export const TAIL_RESUME_BYTES = TAIL_MAX_BUFFERED_BYTES / 2;
/** Bytes of record batches per fetch, and per partition of a fetch. */
export const TAIL_FETCH_BYTES = 1024 * 1024;
export const TAIL_PARTITION_FETCH_BYTES = 256 * 1024;
/** How often an idle tail checks its topic (deleted, new partitions). */
export const TAIL_RECHECK_MS = 1000;
const DRAIN_CHECK_MS = 200;

export interface TailStats {
  topic: string;
  /** Next offset to read, per partition. */
  positions: Record<number, number>;
  /** Records sent to the socket so far. */
  sent: number;
  /** Records read and waiting for the socket to drain. */
  queued: number;
  bufferedAmount: number;
  /** Stopped on backpressure. */
  paused: boolean;
}

interface TailQuery {
  from: string;
  partition?: number;
}

export class Tail {
  private readonly positions = new Map<number, number>();
  private readonly subscriptions = new Map<number, { partition: Partition; stop: () => void }>();
  /** Rendered records not yet sent, from `head` on. */
  private queue: string[] = [];
  private head = 0;
  private stopped = false;
  private appended = false;
  private wake: (() => void) | null = null;
  private drainWaiter: (() => void) | null = null;
  private sent = 0;
  private paused = false;

  constructor(
    private readonly server: HttpServer,
    private readonly ws: WebSocket,
    private readonly api: KafkaApi,
    readonly topic: string,
    private readonly only: number | null,
  ) {
    ws.on("close", () => this.stop());
  }

  stats(): TailStats {
    return {
      topic: this.topic,
      positions: Object.fromEntries(this.positions),
      sent: this.sent,
      queued: this.queue.length - this.head,
      bufferedAmount: this.ws.bufferedAmount,
      paused: this.paused,
    };
  }

  /** Starts at `from` and follows the topic until the socket closes or an error closes it. */
  async run(from: string): Promise<void> {
    try {
      await this.start(from);
      await this.follow();
    } catch (err) {
      const httpError = toHttpError(err);
      if (httpError.statusCode >= 500) this.server.log.error({ err, topic: this.topic }, "tail failed");
      this.close(httpError.wsCloseCode, httpError.message);
    }
  }

  close(code: number, reason: string): void {
    this.stop();
    closeWebSocket(this.ws, code, reason);
  }

  private async start(from: string): Promise<void> {
    const topic = await this.api.topic(this.topic, false);
    let partitions = topic.partitions.map((p) => p.partition);
    if (this.only !== null) {
      if (!partitions.includes(this.only)) {
        throw HttpError.kafka(
          "UNKNOWN_TOPIC_OR_PARTITION",
          `topic ${this.topic} has no partition ${this.only}`,
        );
      }
      partitions = [this.only];
    }
    if (from === "earliest" || from === "latest") {
      const offsets = await this.api.offsets(
        this.topic,
        partitions,
        from === "earliest" ? EARLIEST_OFFSET : LATEST_OFFSET,
      );
      for (const p of partitions) this.positions.set(p, offsets.get(p) ?? 0);
    } else {
      if (this.only === null) throw HttpError.http("BAD_REQUEST", "from=<offset> needs partition=<p>");
      const offset = Number(from);
      const [start, end] = await Promise.all([
        this.api.offsets(this.topic, [this.only], EARLIEST_OFFSET),
        this.api.offsets(this.topic, [this.only], LATEST_OFFSET),
      ]);
      const first = start.get(this.only) ?? 0;
      const last = end.get(this.only) ?? 0;
      if (offset < first || offset > last) {
        throw HttpError.kafka(
          "OFFSET_OUT_OF_RANGE",
          `offset ${offset} is outside ${this.topic}-${this.only}, which holds [${first}, ${last})`,
        );
      }
      this.positions.set(this.only, offset);
    }
    this.subscribe();
  }

  private async follow(): Promise<void> {
    while (!this.stopped) {
      if (this.head < this.queue.length) {
        await this.send();
        continue;
      }
      this.appended = false;
      const progressed = await this.fetch();
      if (this.stopped || progressed || this.appended) continue;
      const timedOut = await this.waitForAppend(TAIL_RECHECK_MS);
      if (timedOut && !this.stopped) await this.recheck();
    }
  }

  /** Sends the queued records while the socket's buffer is below the limit; waits when it is not. */
  private async send(): Promise<void> {
    while (this.head < this.queue.length && !this.stopped) {
      if (this.ws.bufferedAmount >= TAIL_MAX_BUFFERED_BYTES) {
        this.paused = true;
        await this.drained();
        this.paused = false;
        continue;
      }
      this.ws.send(this.queue[this.head], this.onSent);
      this.queue[this.head++] = "";
      this.sent++;
    }
    this.queue = [];
    this.head = 0;
  }

  private readonly onSent = (): void => {
    this.drainWaiter?.();
  };

  /** Resolves once the socket's buffer is below TAIL_RESUME_BYTES (checked as sends complete). */
  private drained(): Promise<void> {
    return new Promise((resolve) => {
      // A safety net only: each completed send checks too.
      const timer = setInterval(() => this.drainWaiter?.(), DRAIN_CHECK_MS);
      this.drainWaiter = () => {
        if (!this.stopped && this.ws.bufferedAmount >= TAIL_RESUME_BYTES) return;
        clearInterval(timer);
        this.drainWaiter = null;
        resolve();
      };
    });
  }

  /** One fetch of every tailed partition; whether any position moved. */
  private async fetch(): Promise<boolean> {
    const positions = [...this.positions].map(([partition, offset]) => ({ partition, offset }));
    const fetched = await this.api.fetch(this.topic, positions, {
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: TAIL_FETCH_BYTES,
      partitionMaxBytes: TAIL_PARTITION_FETCH_BYTES,
    });
    let progressed = false;
    for (const f of fetched) {
      const position = this.positions.get(f.partition);
      if (position === undefined) continue;
      if (f.errorCode !== 0) {
        const code = errorName(f.errorCode);
        if (code === "UNKNOWN_TOPIC_OR_PARTITION") {
          throw HttpError.kafka(code, `topic ${this.topic} was deleted`);
        }
        if (code !== "OFFSET_OUT_OF_RANGE")
          throw HttpError.kafka(code, `reading ${this.topic}-${f.partition}`);
        // Retention deleted what the tail had not read, or the topic was re-created.
        const start = await this.api.offsets(this.topic, [f.partition], EARLIEST_OFFSET);
        this.positions.set(f.partition, start.get(f.partition) ?? 0);
        progressed = true;
        continue;
      }
      const { records, next } = await recordsOf(
        this.topic,
        f.partition,
        f.records,
        position,
        TAIL_PARTITION_FETCH_BYTES,
      );
      for (const r of records) this.queue.push(JSON.stringify(r));
      if (next > position) {
        this.positions.set(f.partition, next);
        progressed = true;
      }
    }
    return progressed;
  }

  /** Resolves on an append to a tailed partition (false), or after `ms` (true). */
  private waitForAppend(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve(true);
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve(false);
      };
    });
  }

  private readonly onAppend = (): void => {
    this.appended = true;
    this.wake?.();
  };

  /** The topic still exists; new partitions join a whole-topic tail from their start. */
  private async recheck(): Promise<void> {
    let partitions: number[];
    try {
      partitions = (await this.api.topic(this.topic, false)).partitions.map((p) => p.partition);
    } catch (err) {
      if (HttpError.is(err) && err.statusCode === 404) {
        throw HttpError.kafka("UNKNOWN_TOPIC_OR_PARTITION", `topic ${this.topic} was deleted`);
      }
      throw err;
    }
    const added = this.only === null ? partitions.filter((p) => !this.positions.has(p)) : [];
    if (added.length > 0) {
      const starts = await this.api.offsets(this.topic, added, EARLIEST_OFFSET);
      for (const p of added) this.positions.set(p, starts.get(p) ?? 0);
    }
    this.subscribe();
  }

  /** Listens for appends to every tailed partition (again, where a partition was re-created). */
  private subscribe(): void {
    if (this.stopped) return;
    for (const index of this.positions.keys()) {
      const partition = this.server.broker.topics.partition(this.topic, index);
      const current = this.subscriptions.get(index);
      if (current?.partition === partition) continue;
      current?.stop();
      if (partition) this.subscriptions.set(index, { partition, stop: partition.onAppend(this.onAppend) });
      else this.subscriptions.delete(index);
    }
  }

  private stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const s of this.subscriptions.values()) s.stop();
    this.subscriptions.clear();
    this.queue = [];
    this.head = 0;
    this.wake?.();
    this.drainWaiter?.();
    this.server.tails.delete(this);
  }
}

const TAIL_QUERY = {
  type: "object",
  additionalProperties: false,
  properties: {
    from: { type: "string", pattern: "^(earliest|latest|[0-9]{1,15})$", default: "latest" },
    partition: PARTITION,
  },
} as const;

type TailRequest = FastifyRequest<{ Params: { topic: string }; Querystring: TailQuery }>;

/**
 * Waits for the tail's credentials message (authentication.ts): true once it names a user, who
 * becomes the request's principal; false, the socket closed 4401, when it is wrong or late.
 */
function credentialsMessage(server: HttpServer, ws: WebSocket, request: TailRequest): Promise<boolean> {
  const authenticator = server.authenticator;
  if (!authenticator) return Promise.resolve(true);
  return new Promise((resolve) => {
    const refuse = (reason: string) => {
      closeWebSocket(ws, WS_CLOSE.UNAUTHORIZED, reason);
      resolve(false);
    };
    const timer = setTimeout(
      () => refuse("credentials expected as the first message"),
      CREDENTIALS_MESSAGE_TIMEOUT_MS,
    );
    ws.once("close", () => {
      clearTimeout(timer);
      resolve(false);
    });
    ws.once("message", (data: Buffer) => {
      clearTimeout(timer);
      void authenticator.principalOf(data, request.ip).then((principal) => {
        if (principal === null) return refuse("authentication failed");
        request.principal = principal;
        resolve(true);
      });
    });
  });
}

function startTail(server: HttpServer, ws: WebSocket, request: TailRequest): void {
  if (server.authenticator && credentialsInside(request)) {
    void credentialsMessage(server, ws, request).then((ok) => {
      if (ok && ws.readyState === ws.OPEN) beginTail(server, ws, request);
    });
    return;
  }
  beginTail(server, ws, request);
}

function beginTail(server: HttpServer, ws: WebSocket, request: TailRequest): void {
  if (server.closing) {
    closeWebSocket(ws, WS_CLOSE.GOING_AWAY, "broker shutting down");
    return;
  }
  if (request.validationError) {
    closeWebSocket(ws, WS_CLOSE.BAD_PARAMETERS, request.validationError.message);
    return;
  }
  const tail = new Tail(
    server,
    ws,
    server.api(request),
    request.params.topic,
    request.query.partition ?? null,
  );
  server.tails.add(tail);
  void tail.run(request.query.from);
}

export const tailRoutes: FastifyPluginAsync<{ server: HttpServer }> = async (app, { server }) => {
  app.route<{ Params: { topic: string }; Querystring: TailQuery }>({
    method: "GET",
    url: "/ws/topics/:topic",
    // Bad parameters close the WebSocket with 4400 rather than refuse the upgrade.
    attachValidation: true,
    schema: { params: TOPIC_PARAMS, querystring: TAIL_QUERY, response: { ...ERROR_RESPONSES } },
    handler: async () => {
      throw HttpError.http("UPGRADE_REQUIRED", "GET /ws/topics/{topic} is a WebSocket: a JSON live tail");
    },
    wsHandler: (ws, request) => startTail(server, ws, request),
  });
};
