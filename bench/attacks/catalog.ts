/**
 * The attacks of issue 12, each at two scales: `full` (the numbers) and `small` (the same
 * shape, seconds and little memory). An attack only attacks and notes what the broker answered in
 * `ctx.outcome`; the harness (main.ts) starts the broker, probes it, watches its memory, stops
 * the attack at its time limit and checks the restart.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Compression } from "../../protocol/compression.js";
import { decodeBatches, encodeRecordBatch } from "../../protocol/record-batch.js";
import { gzipBomb, lz4LyingBatch, rawBatch, smallRecords, zstdBomb } from "./batches.js";
import { createTopic, deleteTopic, httpRequest, listOffset, produce, wsKafkaRequest } from "./kafka-ops.js";
import { fetchBody } from "./probe.js";
import type { KafkaConn } from "./wire.js";

export interface AttackContext {
  port: number;
  httpPort: number;
  pid: number;
  full: boolean;
  dataDir: string;
  /** What the broker answered, for the report. */
  outcome: Record<string, unknown>;
  /** Milliseconds left before the attack's time limit (at least 1). */
  left(): number;
  /** Whether the attack must stop: time limit, broker gone, or killed at the RSS cap. */
  over(): boolean;
  /** A connection the harness closes when the attack ends, whatever happened. */
  connect(): Promise<KafkaConn>;
}

export interface Attack {
  name: string;
  what: string;
  /** Work done before the broker starts (building bombs), so the probe does not see it. */
  prepare?(full: boolean): Promise<unknown>;
  /**
   * Data written before the measured broker starts, by a broker on the same data directory with
   * `settings` (e.g. bombs a produce under the defaults refuses: data written under other limits
   * or by an older version). Not measured; what it answered goes in `outcome.stored`.
   */
  store?: {
    settings: Record<string, string | number>;
    run(ctx: AttackContext, prepared: unknown): Promise<void>;
  };
  run(ctx: AttackContext, prepared: unknown): Promise<void>;
  /** Checks on the restarted broker (a deleted topic's data, a committed offset). */
  afterRestart?(ctx: AttackContext): Promise<void>;
}

const MiB = 1024 * 1024;
const GB = 1e9;

function errorText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 200);
}

/** Runs `step`, noting its result or its error (with the time it took) under `key`. */
async function note<T>(ctx: AttackContext, key: string, step: () => Promise<T>): Promise<T | undefined> {
  const started = performance.now();
  try {
    const value = await step();
    ctx.outcome[key] = value;
    return value;
  } catch (err) {
    ctx.outcome[key] = { failed: errorText(err) };
    return undefined;
  } finally {
    ctx.outcome[`${key}_s`] = Math.round(performance.now() - started) / 1000;
  }
}

/** Produces `batch` `count` times with at most `window` requests in flight; error codes counted. */
async function produceMany(
  ctx: AttackContext,
  conn: KafkaConn,
  topic: string,
  count: number,
  window: number,
  batchFor: (i: number) => Buffer,
  partitions = 1,
): Promise<{ sent: number; codes: Record<string, number> }> {
  const codes: Record<string, number> = {};
  let sent = 0;
  let inFlight = 0;
  let wake: (() => void) | null = null;
  const one = (i: number) => {
    const data = Array.from({ length: partitions }, (_, p) => ({
      index: p,
      records: batchFor(i * partitions + p),
    }));
    const body = {
      transactionalId: null,
      acks: 1,
      timeoutMs: 30_000,
      topicData: [{ name: topic, partitionData: data }],
    };
    inFlight++;
    conn
      .request(0, 9, body, Math.max(ctx.left(), 1000))
      .then(
        (r) => {
          for (const p of r.body.responses[0].partitionResponses)
            codes[p.errorCode] = (codes[p.errorCode] ?? 0) + 1;
        },
        (err) => {
          const k = `error: ${errorText(err)
            .replace(/\d+ ms/, "N ms")
            .slice(0, 60)}`;
          codes[k] = (codes[k] ?? 0) + 1;
        },
      )
      .finally(() => {
        inFlight--;
        wake?.();
      });
  };
  while (sent < count && !ctx.over() && !conn.closed) {
    if (inFlight >= window) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 100);
      });
      continue;
    }
    one(sent++);
  }
  const drainBy = Date.now() + Math.min(ctx.left(), 30_000);
  while (inFlight > 0 && Date.now() < drainBy && !conn.closed) await new Promise((r) => setTimeout(r, 50));
  return { sent: sent * partitions, codes };
}

const configKey: Attack = {
  name: "config-key",
  what: "topic configs named constructor, toString, hasOwnProperty, __proto__ (CreateTopics and POST /topics)",
  async run(ctx) {
    const conn = await ctx.connect();
    const keys = ["constructor", "toString", "hasOwnProperty", "__proto__"];
    for (const [i, key] of keys.entries())
      await note(ctx, `create_${key}`, () => createTopic(conn, `cfg-${i}`, 1, { [key]: "1" }));
    // Written by hand: an object literal's "__proto__" key would set the prototype instead.
    for (const key of ["constructor", "__proto__"]) {
      const body = `{"name":"cfg-http-${key.replace(/_/g, "")}","configs":{"${key}":"1"}}`;
      await note(ctx, `http_${key}`, () => httpRequest(ctx.httpPort, "POST", "/topics", body));
    }
  },
};

const manyPartitions: Attack = {
  name: "partitions-20k",
  what: "one CreateTopics of 2 topics x 10,000 partitions (small: 2 x 300)",
  async run(ctx) {
    const conn = await ctx.connect();
    const n = ctx.full ? 10_000 : 300;
    const topic = (name: string) => ({
      name,
      numPartitions: n,
      replicationFactor: 1,
      assignments: [],
      configs: [],
    });
    await note(ctx, "create", async () => {
      const r = await conn.request(
        19,
        7,
        { topics: [topic("wide-a"), topic("wide-b")], timeoutMs: 60_000, validateOnly: false },
        ctx.left(),
      );
      return r.body.topics.map((t: { errorCode: number; errorMessage: string | null }) => ({
        errorCode: t.errorCode,
        errorMessage: t.errorMessage?.slice(0, 120) ?? null,
      }));
    });
    const dirs = fs.readdirSync(ctx.dataDir).filter((d) => d.startsWith("wide-"));
    ctx.outcome.partition_dirs = dirs.length;
    ctx.outcome.open_fds = fs.readdirSync(`/proc/${ctx.pid}/fd`, { withFileTypes: false }).length;
  },
};

const LONG_NAME = `long-${"x".repeat(249 - 5)}`;

async function readValues(conn: KafkaConn, topic: string): Promise<string[] | { errorCode: number }> {
  const r = await conn.request(1, 12, fetchBody(topic, 0, 1 << 20), 30_000);
  const p = r.body.responses[0].partitions[0];
  if (p.errorCode !== 0) return { errorCode: p.errorCode };
  return p.records ? decodeBatches(p.records).map((rec) => rec.value?.toString() ?? "") : [];
}

const deleteLongName: Attack = {
  name: "delete-249",
  what: "a 249-character topic: produce, delete, produce again (auto-create), read from 0",
  async run(ctx) {
    const conn = await ctx.connect();
    await note(ctx, "produce_old", () =>
      produce(conn, LONG_NAME, encodeRecordBatch([{ value: Buffer.from("old") }])),
    );
    await note(ctx, "delete", () => deleteTopic(conn, LONG_NAME));
    await note(ctx, "produce_new", () =>
      produce(conn, LONG_NAME, encodeRecordBatch([{ value: Buffer.from("new") }])),
    );
    await note(ctx, "read", () => readValues(conn, LONG_NAME));
  },
  async afterRestart(ctx) {
    const conn = await ctx.connect();
    await note(ctx, "read_after_restart", () => readValues(conn, LONG_NAME));
  },
};

const metadataAmplification: Attack = {
  name: "metadata-amp",
  what: "Metadata v9 naming one 2,000-partition topic 20,000 times (small: 200 x 2,000)",
  async run(ctx) {
    const conn = await ctx.connect();
    const partitions = ctx.full ? 2000 : 200;
    const names = ctx.full ? 20_000 : 2000;
    await note(ctx, "create", () => createTopic(conn, "amp", partitions));
    await note(ctx, "metadata", async () => {
      const topics = Array.from({ length: names }, () => ({ name: "amp" }));
      const body = {
        topics,
        allowAutoTopicCreation: false,
        includeClusterAuthorizedOperations: false,
        includeTopicAuthorizedOperations: false,
      };
      const r = await conn.request(3, 9, body, ctx.left());
      return { response_bytes: r.raw.length, topics: r.body.topics.length };
    });
  },
};

async function fill(ctx: AttackContext, conn: KafkaConn, topic: string, bytes: number): Promise<void> {
  const value = Buffer.alloc(60 * 1024, 0x61);
  const batch = encodeRecordBatch(Array.from({ length: 15 }, () => ({ value })));
  for (let done = 0; done < bytes && !ctx.over(); done += batch.length) {
    const r = await produce(conn, topic, batch);
    if (r.errorCode !== 0) throw new Error(`fill ${topic}: error ${r.errorCode}`);
  }
}

/** Waits `ms`, or less if the attack must stop. */
async function hold(ctx: AttackContext, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until && !ctx.over()) await new Promise((r) => setTimeout(r, 100));
}

const fetchUnread: Attack = {
  name: "fetch-unread",
  what: "300 pipelined Fetch, max_bytes 2^31-1, over 20 MB, never read, held 20 s (small: 30 over 2 MB, 3 s)",
  async run(ctx) {
    const conn = await ctx.connect();
    await createTopic(conn, "big", 1);
    await fill(ctx, conn, "big", ctx.full ? 20 * MiB : 2 * MiB);
    const attacker = await ctx.connect();
    attacker.pauseReading();
    const n = ctx.full ? 300 : 30;
    for (let i = 0; i < n && !ctx.over(); i++) attacker.send(1, 12, fetchBody("big", 0, 0x7fff_ffff));
    await hold(ctx, ctx.full ? 20_000 : 3000);
    ctx.outcome.fetches = n;
    ctx.outcome.attacker_received_bytes = attacker.receivedBytes;
    attacker.close();
  },
};

const stalledFrames: Attack = {
  name: "stalled-frames",
  what: "30 connections each stalled 1 byte short of a declared 100 MiB frame, held 10 s (small: 3 x 10 MiB)",
  async run(ctx) {
    const conns = ctx.full ? 30 : 3;
    const sendBytes = ctx.full ? 100 * MiB - 1 : 10 * MiB;
    const chunk = Buffer.alloc(MiB);
    const one = async () => {
      const c = await ctx.connect();
      const head = Buffer.alloc(14);
      head.writeInt32BE(100 * MiB, 0);
      head.writeInt16BE(0, 4); // Produce
      head.writeInt16BE(9, 6);
      head.writeInt32BE(1, 8);
      const began = performance.now();
      let sent = 0;
      if (await c.writeRaw(head)) sent = 10;
      while (sent > 0 && sent < sendBytes && !ctx.over()) {
        const n = Math.min(chunk.length, sendBytes - sent);
        // Bytes count once written: a write the broker's close ended counts for nothing.
        if (!(await c.writeRaw(n === chunk.length ? chunk : chunk.subarray(0, n)))) break;
        sent += n;
      }
      const closed = c.closed || c.socket.destroyed;
      return { sent, closed, s: (performance.now() - began) / 1000 };
    };
    const results = await Promise.all(Array.from({ length: conns }, one));
    ctx.outcome.sent_mb = Math.round(results.reduce((a, r) => a + r.sent, 0) / 1e6);
    const closed = results.filter((r) => r.closed);
    ctx.outcome.closed_by_broker = closed.length;
    if (closed.length > 0) ctx.outcome.closed_after_s = Math.round(Math.max(...closed.map((r) => r.s)));
    await hold(ctx, ctx.full ? 10_000 : 2000);
  },
};

interface Bombs {
  gzip: Buffer;
  zstd: Buffer;
}

/**
 * Inflated size of the bombs that stay under samsa's bound at e86b635 (max(64 MiB,
 * max.message.bytes), storage/validate.ts): inflated in full, on the event loop.
 */
const UNDER_BOUND = 60e6;
/** How many of those at once: about 1 GB inflated in all. */
const UNDER_BOUND_COUNT = 16;

interface CompactedBombs extends Bombs {
  under: Buffer;
}

const bombProduceCompacted: Attack = {
  name: "bomb-compacted",
  what: "produce to a compacted topic: a gzip and a zstd batch each inflating to 1 GB, then 16 gzip batches of 60 MB at once on 16 connections (small: 64 MB; 4 x 16 MB)",
  async prepare(full) {
    const size = full ? GB : 64e6;
    return {
      gzip: await gzipBomb(size, "k"),
      zstd: zstdBomb(size, "k"),
      under: await gzipBomb(full ? UNDER_BOUND : 16e6, "k"),
    } satisfies CompactedBombs;
  },
  async run(ctx, prepared) {
    const bombs = prepared as CompactedBombs;
    ctx.outcome.gzip_bytes = bombs.gzip.length;
    ctx.outcome.zstd_bytes = bombs.zstd.length;
    ctx.outcome.under_bound_gzip_bytes = bombs.under.length;
    const conn = await ctx.connect();
    await note(ctx, "create", () => createTopic(conn, "compacted", 1, { "cleanup.policy": "compact" }));
    const batch = (records: Buffer, compression: Compression) =>
      rawBatch(records, { compression, recordCount: 1 });
    await note(ctx, "produce_gzip", () =>
      produce(conn, "compacted", batch(bombs.gzip, Compression.Gzip), 0, ctx.left()),
    );
    await note(ctx, "produce_zstd", () =>
      produce(conn, "compacted", batch(bombs.zstd, Compression.Zstd), 0, ctx.left()),
    );
    const n = ctx.full ? UNDER_BOUND_COUNT : 4;
    const attackers = await Promise.all(Array.from({ length: n }, () => ctx.connect()));
    const under = batch(bombs.under, Compression.Gzip);
    await note(ctx, "produce_under_bound", async () => {
      const answers = await Promise.all(attackers.map((a) => produce(a, "compacted", under, 0, ctx.left())));
      return answers.map((a) => a.errorCode);
    });
  },
};

const T0 = 1_800_000_000_000;

/**
 * The broker that stores the read attacks' bombs: a produce now decompresses and checks every
 * compressed batch, within `decompression.memory.max.bytes` (default 256 MiB) and max(64 MiB,
 * max.message.bytes) per batch (storage/validate.ts), so the defaults refuse a 1 GB batch. It is
 * stored under both raised (broker-wide, so the topic keeps the defaults) and read by a broker
 * with the defaults.
 */
const STORE_BUDGET = 1536 * MiB;
const STORE_SETTINGS = {
  "decompression.memory.max.bytes": STORE_BUDGET,
  "message.max.bytes": STORE_BUDGET,
};

/** Bombs as batches: the first stored before the measured broker starts, the others in `run`. */
function stampedBatches(prepared: unknown): Buffer[] {
  return (prepared as Buffer[]).map((records) =>
    rawBatch(records, {
      compression: Compression.Zstd,
      recordCount: 1,
      baseTimestamp: T0,
      maxTimestamp: T0 + 1000,
    }),
  );
}

const bombListOffsets: Attack = {
  name: "bomb-list-offsets",
  what: "a 32 KB zstd batch inflating to 1 GB stored (by a broker with decompression.memory.max.bytes and message.max.bytes 1.5 GiB), ListOffsets by a timestamp inside it; then a 60 MB one asked by 16 connections at once (small: 64 MB; 16 MB x 4)",
  async prepare(full) {
    return [zstdBomb(full ? GB : 64e6), zstdBomb(full ? UNDER_BOUND : 16e6)];
  },
  store: {
    settings: STORE_SETTINGS,
    async run(ctx, prepared) {
      const [big] = stampedBatches(prepared);
      const conn = await ctx.connect();
      await createTopic(conn, "stamped", 1);
      ctx.outcome.batch_bytes = big.length;
      await note(ctx, "produce", () => produce(conn, "stamped", big, 0, ctx.left()));
    },
  },
  async run(ctx, prepared) {
    const [big, under] = stampedBatches(prepared);
    const conn = await ctx.connect();
    await createTopic(conn, "stamped-again", 1);
    await createTopic(conn, "stamped-under", 1);
    await note(ctx, "produce_again", () => produce(conn, "stamped-again", big, 0, ctx.left()));
    await note(ctx, "list_offsets", () => listOffset(conn, "stamped", T0 + 500, ctx.left()));
    await note(ctx, "produce_under_bound", () => produce(conn, "stamped-under", under, 0, ctx.left()));
    const attackers = await Promise.all(
      Array.from({ length: ctx.full ? UNDER_BOUND_COUNT : 4 }, () => ctx.connect()),
    );
    await note(ctx, "list_offsets_under_bound", async () => {
      const answers = await Promise.all(
        attackers.map((a) => listOffset(a, "stamped-under", T0 + 500, ctx.left())),
      );
      return answers.map((a) => a.errorCode);
    });
  },
};

/** Produces `bomb` twelve times; the answers' error codes. */
async function produceTwelve(ctx: AttackContext, conn: KafkaConn, topic: string, bomb: Buffer) {
  const codes: number[] = [];
  for (let i = 0; i < 12 && !ctx.over(); i++)
    codes.push((await produce(conn, topic, bomb, 0, ctx.left())).errorCode);
  return codes;
}

async function httpRead(ctx: AttackContext, topic: string) {
  const url = `/topics/${topic}/partitions/0/records?offset=0`;
  return httpRequest(ctx.httpPort, "GET", url, null, {}, ctx.left());
}

const zstdBatches = (prepared: unknown) =>
  (prepared as Buffer[]).map((records) =>
    rawBatch(records, { compression: Compression.Zstd, recordCount: 1 }),
  );

const bombHttpRead: Attack = {
  name: "bomb-http-read",
  what: "twelve 9.6 KB zstd batches of 300 MB records stored (by a broker with decompression.memory.max.bytes and message.max.bytes 1.5 GiB), GET .../records?offset=0; then the same with twelve 60 MB batches produced (small: 12 x 8 MB; 12 x 4 MB)",
  async prepare(full) {
    return [zstdBomb(full ? 300e6 : 8e6), zstdBomb(full ? UNDER_BOUND : 4e6)];
  },
  store: {
    settings: STORE_SETTINGS,
    async run(ctx, prepared) {
      const [big] = zstdBatches(prepared);
      const conn = await ctx.connect();
      ctx.outcome.batch_bytes = big.length;
      await createTopic(conn, "inflated", 1);
      ctx.outcome.inflated_produce_codes = await produceTwelve(ctx, conn, "inflated", big);
    },
  },
  async run(ctx, prepared) {
    const [big, under] = zstdBatches(prepared);
    const conn = await ctx.connect();
    await createTopic(conn, "inflated-again", 1);
    await note(ctx, "produce_again", () => produce(conn, "inflated-again", big, 0, ctx.left()));
    await note(ctx, "inflated_http_read", () => httpRead(ctx, "inflated"));
    await createTopic(conn, "inflated-under", 1);
    ctx.outcome["inflated-under_produce_codes"] = await produceTwelve(ctx, conn, "inflated-under", under);
    await note(ctx, "inflated-under_http_read", () => httpRead(ctx, "inflated-under"));
  },
};

const producerIds: Attack = {
  name: "producer-ids",
  what: "9,000,000 invented producer ids (idempotent batches, no InitProducerId), 50 per request (small: 20,000)",
  async run(ctx) {
    const conn = await ctx.connect();
    const partitions = 50;
    await createTopic(conn, "pids", partitions);
    const records = smallRecords(1);
    const total = ctx.full ? 9_000_000 : 20_000;
    const result = await produceMany(
      ctx,
      conn,
      "pids",
      Math.ceil(total / partitions),
      16,
      (i) => rawBatch(records, { producerId: 1_000_000 + i, producerEpoch: 0, baseSequence: 0 }),
      partitions,
    );
    ctx.outcome.ids_sent = result.sent;
    ctx.outcome.codes = result.codes;
  },
};

/** `{"records":[...]}` of `count` records `{"value":"x"}`. */
function tinyRecordsBody(count: number): Buffer {
  const one = '{"value":"x"},';
  const body = `{"records":[${one.repeat(count - 1)}{"value":"x"}]}`;
  return Buffer.from(body);
}

/** An HTTP produce's answer summed up: how many records got an offset, and the errors by code. */
async function postRecords(ctx: AttackContext, topic: string, body: Buffer) {
  const answer = await httpRequest(
    ctx.httpPort,
    "POST",
    `/topics/${topic}`,
    body,
    {},
    ctx.left(),
    256 * 1024 * 1024,
  );
  if (answer.status !== 200) return { status: answer.status, body: answer.body.slice(0, 300) };
  const results = (JSON.parse(answer.body) as { offsets: Record<string, unknown>[] }).offsets;
  const errors: Record<string, number> = {};
  for (const r of results) {
    if (typeof r.offset === "number") continue;
    const code = String(r.error_code ?? JSON.stringify(r).slice(0, 60));
    errors[code] = (errors[code] ?? 0) + 1;
  }
  return { status: 200, records: results.length, errors };
}

const httpBigBody: Attack = {
  name: "http-46mib",
  what: "POST /topics/{t} with a 46 MiB JSON body of tiny records (small: 2 MiB)",
  async prepare(full) {
    return tinyRecordsBody(Math.floor(((full ? 46 : 2) * MiB) / 14));
  },
  async run(ctx, prepared) {
    const conn = await ctx.connect();
    await createTopic(conn, "json", 1);
    ctx.outcome.body_bytes = (prepared as Buffer).length;
    await note(ctx, "post", () => postRecords(ctx, "json", prepared as Buffer));
  },
};

const httpDeepJson: Attack = {
  name: "http-deep-json",
  what: "POST /topics/{t} with JSON nested 100,000 deep",
  async run(ctx) {
    const conn = await ctx.connect();
    await createTopic(conn, "json", 1);
    const depth = 100_000;
    const body = `{"records":[{"value":${"[".repeat(depth)}${"]".repeat(depth)}}]}`;
    await note(ctx, "post", () => httpRequest(ctx.httpPort, "POST", "/topics/json", body, {}, ctx.left()));
  },
};

const http300k: Attack = {
  name: "http-300k-records",
  what: "POST /topics/{t} with 300,000 tiny records (small: 30,000)",
  async prepare(full) {
    return tinyRecordsBody(full ? 300_000 : 30_000);
  },
  async run(ctx, prepared) {
    const conn = await ctx.connect();
    await createTopic(conn, "json", 1);
    await note(ctx, "post", () => postRecords(ctx, "json", prepared as Buffer));
  },
};

const lz4Count: Attack = {
  name: "lz4-count",
  what: "20,500 lz4 batches of 84 bytes declaring 2^31-1 records each (small: 200)",
  async run(ctx) {
    const conn = await ctx.connect();
    await createTopic(conn, "lz4", 1);
    const batch = lz4LyingBatch();
    ctx.outcome.batch_bytes = batch.length;
    const result = await produceMany(ctx, conn, "lz4", ctx.full ? 20_500 : 200, 32, () => batch);
    ctx.outcome.batches_sent = result.sent;
    ctx.outcome.codes = result.codes;
    await note(ctx, "log_end", () => listOffset(conn, "lz4", -1));
    const dir = path.join(ctx.dataDir, "lz4-0");
    ctx.outcome.segment_files = fs.existsSync(dir)
      ? fs.readdirSync(dir).filter((f) => f.endsWith(".log")).length
      : 0;
  },
};

/** 2^62 as the 8 bytes an int64 field carries it in. */
const OFFSET_2_62 = Buffer.from([0x40, 0, 0, 0, 0, 0, 0, 0]);

async function fetchCommitted(
  conn: KafkaConn,
): Promise<{ decoded: number; exact: boolean; errorCode: number }> {
  const r = await conn.request(9, 8, {
    groups: [{ groupId: "g62", topics: [{ name: "committed", partitionIndexes: [0] }] }],
    requireStable: false,
  });
  const p = r.body.groups[0].topics[0].partitions[0];
  return { decoded: p.committedOffset, exact: r.raw.includes(OFFSET_2_62), errorCode: p.errorCode };
}

const offset62: Attack = {
  name: "offset-2^62",
  what: "OffsetCommit of offset 2^62, then OffsetFetch (the int64 read from the response bytes)",
  async run(ctx) {
    const conn = await ctx.connect();
    await createTopic(conn, "committed", 1);
    await note(ctx, "commit", async () => {
      const r = await conn.request(8, 8, {
        groupId: "g62",
        generationIdOrMemberEpoch: -1,
        memberId: "",
        groupInstanceId: null,
        topics: [
          {
            name: "committed",
            partitions: [
              {
                partitionIndex: 0,
                committedOffset: 2n ** 62n,
                committedLeaderEpoch: -1,
                committedMetadata: null,
              },
            ],
          },
        ],
      });
      return { errorCode: r.body.topics[0].partitions[0].errorCode };
    });
    await note(ctx, "fetch", () => fetchCommitted(conn));
  },
  async afterRestart(ctx) {
    await note(ctx, "fetch_after_restart", async () => fetchCommitted(await ctx.connect()));
  },
};

const browser: Attack = {
  name: "browser",
  what: "a WebSocket to /kafka with Origin https://evil.example sends DeleteTopics; GET /topics with Host: evil.example",
  async run(ctx) {
    const conn = await ctx.connect();
    await createTopic(conn, "victim", 1);
    await note(ctx, "ws_evil_origin", async () => {
      const r = await wsKafkaRequest(ctx.httpPort, { Origin: "https://evil.example" }, 20, 5, {
        topicNames: ["victim"],
        timeoutMs: 5000,
      });
      return { upgraded: r.upgraded, status: r.status };
    });
    const md = await conn.request(3, 9, {
      topics: [{ name: "victim" }],
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
    ctx.outcome.victim_deleted = md.body.topics[0].errorCode !== 0;
    await note(ctx, "http_evil_host", () =>
      httpRequest(ctx.httpPort, "GET", "/topics", null, { Host: "evil.example" }, 10_000),
    );
  },
};

export const ATTACKS: readonly Attack[] = [
  configKey,
  manyPartitions,
  deleteLongName,
  metadataAmplification,
  fetchUnread,
  stalledFrames,
  bombProduceCompacted,
  bombListOffsets,
  bombHttpRead,
  producerIds,
  httpBigBody,
  httpDeepJson,
  http300k,
  lz4Count,
  offset62,
  browser,
];
