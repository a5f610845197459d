/**
 * Issue 12, bounded memory, in small forms against a broker child with lowered limits (limits.ts):
 * Fetch responses nobody reads, frames stalled halfway, compression bombs (produce to a compacted
 * topic, ListOffsets by timestamp, HTTP read) and one CreateTopics beyond the descriptors the
 * process may open. Each checks the broker's peak RSS growth against limits.ts, that another
 * client is answered during and after, and that the broker starts again on its data directory.
 * The full-scale forms and their numbers: `npm run bench:attacks` (bench/README.md).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { gzipBomb, rawBatch, zstdBomb } from "../../bench/attacks/batches.js";
import { lastLines } from "../../bench/attacks/broker-child.js";
import { createTopic, httpRequest, listOffset, produce } from "../../bench/attacks/kafka-ops.js";
import { fetchBody } from "../../bench/attacks/probe.js";
import type { KafkaConn } from "../../bench/attacks/wire.js";
import { Compression } from "../../protocol/compression.js";
import { encodeRecordBatch } from "../../protocol/record-batch.js";
import { baseSeed, withSeed } from "../helpers/random.js";
import { waitFor, within } from "../helpers/wait.js";
import { type Child, type ChildOptions, startChild } from "./child.js";
import {
  DECOMPRESSION_BUDGET,
  FD_LIMIT,
  PARTITIONS_UNDER_FD_LIMIT,
  PEAK_GROWTH_MB,
  STORE_BUDGET,
} from "./limits.js";

const MiB = 1024 * 1024;
const SEED = baseSeed(12_012);
let child: Child | null = null;

async function start(o: ChildOptions = {}): Promise<Child> {
  child = await startChild(o);
  return child;
}

afterEach(async () => {
  await child?.dispose();
  child = null;
});

/**
 * Probe rounds until `stop()` holds or `rounds` rounds passed: the broker answered another client
 * throughout. Returns the rounds made.
 */
async function probeUntil(c: Child, stop: () => boolean, rounds: number): Promise<number> {
  let n = 0;
  while (n < rounds && !stop()) {
    await c.probe();
    n++;
  }
  return n;
}

/** The peak RSS growth over `base` (MB). */
function growth(c: Child, base: number): number {
  return Math.round(c.peakMb() - base);
}

describe("issue 12 attacks: memory stays bounded and the broker answers others", () => {
  it("300 Fetch with max_bytes 2^31-1 never read (small: 60 over 4 MiB)", async () => {
    await withSeed(SEED, async (rng) => {
      const c = await start();
      const admin = await c.connect();
      await createTopic(admin, "big", 1);
      const batch = encodeRecordBatch(Array.from({ length: 16 }, () => ({ value: rng.bytes(16 * 1024) })));
      for (let done = 0; done < 4 * MiB; done += batch.length)
        expect((await produce(admin, "big", batch)).errorCode).toBe(0);
      const base = c.peakMb();
      const attacker = await c.connect();
      attacker.pauseReading();
      for (let i = 0; i < 60; i++) attacker.send(1, 12, fetchBody("big", 0, 0x7fff_ffff));
      const limit = PEAK_GROWTH_MB.fetchUnread;
      await probeUntil(c, () => growth(c, base) > limit, 30);
      expect(growth(c, base), "peak RSS growth (MB) while the responses are unread").toBeLessThanOrEqual(
        limit,
      );
      attacker.close();
      await c.probe();
      await c.restart();
      await c.probe();
    });
  });

  it("30 connections stalled inside a declared 100 MiB frame (small: 8 x 15 MiB of 16 MiB frames)", async () => {
    const c = await start();
    const base = c.peakMb();
    const chunk = Buffer.alloc(MiB);
    const attackers: KafkaConn[] = [];
    for (let i = 0; i < 8; i++) {
      const a = await c.connect();
      const head = Buffer.alloc(14);
      head.writeInt32BE(16 * MiB, 0);
      head.writeInt16BE(0, 4);
      head.writeInt16BE(9, 6);
      head.writeInt32BE(1, 8);
      void a.writeRaw(head);
      // Queued without waiting: a broker that stops reading leaves them in this process.
      for (let n = 0; n < 15; n++) void a.writeRaw(chunk);
      attackers.push(a);
    }
    const limit = PEAK_GROWTH_MB.stalledFrames;
    await probeUntil(c, () => growth(c, base) > limit || attackers.every((a) => a.closed), 30);
    expect(growth(c, base), "peak RSS growth (MB) with frames in progress").toBeLessThanOrEqual(limit);
    await waitFor(
      () => attackers.every((a) => a.closed),
      "the broker closing connections stalled inside a frame",
    );
    await c.probe();
    await c.restart();
    await c.probe();
  });

  it("gzip bombs produced to a compacted topic (small: 4 at once, 128 MB each)", async () => {
    const bomb = rawBatch(await gzipBomb(128e6, "k"), { compression: Compression.Gzip, recordCount: 1 });
    const c = await start();
    const admin = await c.connect();
    expect((await createTopic(admin, "compacted", 1, { "cleanup.policy": "compact" })).errorCode).toBe(0);
    const base = c.peakMb();
    const attackers = await Promise.all([0, 1, 2, 3].map(() => c.connect()));
    const answers = attackers.map((a) => produce(a, "compacted", bomb));
    await c.probe();
    const results = await within(Promise.all(answers), "the bombs' produce answers");
    for (const r of results) expect(r.errorCode, "a bomb's produce is refused").not.toBe(0);
    expect(growth(c, base), "peak RSS growth (MB) decompressing the bombs").toBeLessThanOrEqual(
      PEAK_GROWTH_MB.gzipBombs,
    );
    await c.probe();
    await c.restart();
    await c.probe();
  });

  it("ListOffsets by timestamp over a stored zstd bomb (small: 60 MB)", async () => {
    const t0 = 1_800_000_000_000;
    const bomb = rawBatch(zstdBomb(60e6), {
      compression: Compression.Zstd,
      recordCount: 1,
      baseTimestamp: t0,
      maxTimestamp: t0 + 1000,
    });
    const c = await start({ settings: { "decompression.memory.max.bytes": STORE_BUDGET } });
    const admin0 = await c.connect();
    await createTopic(admin0, "stamped", 1);
    expect((await produce(admin0, "stamped", bomb)).errorCode, "the bomb stored").toBe(0);
    await c.restart({ "decompression.memory.max.bytes": DECOMPRESSION_BUDGET });
    const admin = await c.connect();
    const base = c.peakMb();
    const asked = listOffset(admin, "stamped", t0 + 500);
    await c.probe();
    await within(asked, "ListOffsets by timestamp");
    expect(growth(c, base), "peak RSS growth (MB) of ListOffsets by timestamp").toBeLessThanOrEqual(
      PEAK_GROWTH_MB.listOffsetsBomb,
    );
    await c.probe();
  });

  it("an HTTP read of zstd bombs (small: 12 batches of 24 MB)", async () => {
    const bomb = rawBatch(zstdBomb(24e6), { compression: Compression.Zstd, recordCount: 1 });
    const c = await start({ settings: { "decompression.memory.max.bytes": STORE_BUDGET } });
    const admin = await c.connect();
    await createTopic(admin, "inflated", 1);
    for (let i = 0; i < 12; i++) {
      expect((await produce(admin, "inflated", bomb)).errorCode, "a bomb stored").toBe(0);
    }
    await c.restart({ "decompression.memory.max.bytes": DECOMPRESSION_BUDGET });
    const base = c.peakMb();
    const read = httpRequest(c.broker.httpPort, "GET", "/topics/inflated/partitions/0/records?offset=0");
    await c.probe();
    const answer = await within(read, "the HTTP read");
    expect(answer.status, answer.body).toBeLessThan(500);
    expect(growth(c, base), "peak RSS growth (MB) of the HTTP read").toBeLessThanOrEqual(
      PEAK_GROWTH_MB.httpReadBombs,
    );
    await c.probe();
  });

  it("2 x 10,000 partitions in one CreateTopics (small: 2 x 300 under a limit of 512 descriptors)", async () => {
    const c = await start({ wrapper: ["prlimit", `--nofile=${FD_LIMIT}:${FD_LIMIT}`, "--"] });
    const n = PARTITIONS_UNDER_FD_LIMIT;
    const admin = await c.connect();
    const topic = (name: string) => ({
      name,
      numPartitions: n,
      replicationFactor: 1,
      assignments: [],
      configs: [],
    });
    const r = await admin
      .request(19, 7, { topics: [topic("wide-a"), topic("wide-b")], timeoutMs: 60_000, validateOnly: false })
      .catch((err: Error) => {
        const log = lastLines(path.join(c.dir, "broker.log"));
        throw new Error(`CreateTopics: ${err.message}; broker ${c.broker.exitStatus() ?? "running"}: ${log}`);
      });
    await c.probe();
    for (const t of r.body.topics as { name: string; errorCode: number; errorMessage: string | null }[]) {
      const dirs = fs.readdirSync(c.dataDir).filter((d) => d.startsWith(`${t.name}-`));
      if (t.errorCode === 0) {
        expect(dirs.length, `${t.name}: every partition made`).toBe(n);
      } else {
        expect(t.errorMessage, `${t.name}: a refusal says why`).toBeTruthy();
        expect(dirs, `${t.name}: a refused topic leaves nothing on disk`).toEqual([]);
      }
    }
    await c.restart();
    await c.probe();
  });
});
