/**
 * Redis Streams: Debian's redis-server on a free loopback port with a temporary directory, AOF on
 * with `appendfsync everysec` (Redis' default durable setting; RDB snapshots off), driven through
 * ioredis. Produce: `XADD stream * v <value>` in explicit pipelines of REDIS_PIPELINE commands, up
 * to window / REDIS_PIPELINE pipelines in flight; a record's latency is its pipeline's exec().
 * Consume: `XREAD COUNT REDIS_READ_COUNT STREAMS stream <last id>` until every entry was read.
 */
import { Redis } from "ioredis";
import {
  type ConsumeResult,
  consumeResult,
  freePort,
  Latency,
  makeValue,
  now,
  type ProduceResult,
  produceResult,
  type Server,
  startServer,
  Window,
  type Workload,
} from "./common.js";

export const REDIS_BIN = "/usr/bin/redis-server";
export const REDIS_PIPELINE = 1000;
export const REDIS_READ_COUNT = 10_000;

export async function startRedis(dir: string): Promise<{ server: Server; port: number }> {
  const port = await freePort();
  const args = [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--dir",
    dir,
    "--appendonly",
    "yes",
    "--appendfsync",
    "everysec",
    "--save",
    "",
    "--daemonize",
    "no",
    "--protected-mode",
    "no",
    "--logfile",
    "",
  ];
  const { server } = await startServer("redis", REDIS_BIN, args, (out) =>
    out.includes("Ready to accept connections") ? true : undefined,
  );
  return { server, port };
}

function connect(port: number): Redis {
  return new Redis({ host: "127.0.0.1", port, maxRetriesPerRequest: 3, enableAutoPipelining: false });
}

export async function redisProduce(port: number, key: string, w: Workload): Promise<ProduceResult> {
  const redis = connect(port);
  const value = makeValue(w.recordBytes);
  const lat = new Latency();
  try {
    await redis.xadd(key, "*", "v", value);
    const batch = Math.min(REDIS_PIPELINE, w.window);
    const start = now();
    const win = new Window(w.window, start + w.maxMs, "redis produce");
    for (let sent = 0; sent < w.records; ) {
      const n = Math.min(batch, w.records - sent);
      if (!win.tryAcquire(n)) await win.acquire(n);
      const p = redis.pipeline();
      for (let j = 0; j < n; j++) p.xadd(key, "*", "v", value);
      win.settleCall(p.exec(), n, lat, now(), (results) => results?.find(([err]) => err)?.[0]);
      sent += n;
    }
    await win.drain();
    return produceResult(w.records, w.recordBytes, (now() - start) / 1000, lat);
  } finally {
    redis.disconnect();
  }
}

type XReadReply = [Buffer, [Buffer, Buffer[]][]][] | null;

export async function redisConsume(
  port: number,
  key: string,
  total: number,
  recordBytes: number,
  maxMs: number,
): Promise<ConsumeResult> {
  const redis = connect(port);
  try {
    await redis.ping();
    const start = now();
    let last = "0-0";
    let got = 0;
    let first = -1;
    while (got < total) {
      if (now() - start > maxMs) throw new Error(`redis consume: ${got} of ${total} after ${maxMs} ms`);
      const reply = (await redis.callBuffer(
        "XREAD",
        "COUNT",
        String(REDIS_READ_COUNT),
        "STREAMS",
        key,
        last,
      )) as XReadReply;
      if (!reply || reply.length === 0) continue;
      const entries = reply[0][1];
      if (entries.length === 0) continue;
      if (first < 0) first = now() - start;
      got += entries.length;
      last = entries[entries.length - 1][0].toString();
    }
    return consumeResult(total, recordBytes, (now() - start) / 1000, first);
  } finally {
    redis.disconnect();
  }
}
