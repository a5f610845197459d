/**
 * NATS JetStream: Debian's nats-server (2.9) on a free loopback port, JetStream with file storage
 * in a temporary directory (its default flushing: writes go to the OS at once, fsync runs on a
 * timer, not per message), driven through the `nats` package (noAsyncTraces: no Error object per
 * request). Produce: `js.publish()` (async, one PubAck promise per message) with at most `window`
 * acks pending; latency of every LATENCY_SAMPLE-th message from publish() to its PubAck. Consume: an ordered consumer (no acks) with `consume()` in pulls of
 * NATS_PULL messages, until every message arrived.
 */
import { connect, type NatsConnection, StorageType } from "nats";
import {
  type ConsumeResult,
  consumeResult,
  freePort,
  LATENCY_SAMPLE,
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

export const NATS_BIN = "/usr/sbin/nats-server";
export const NATS_PULL = 10_000;

export async function startNats(dir: string): Promise<{ server: Server; port: number }> {
  const port = await freePort();
  const args = ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir];
  const { server } = await startServer("nats", NATS_BIN, args, (out) =>
    out.includes("Server is ready") ? true : undefined,
  );
  return { server, port };
}

async function open(port: number): Promise<NatsConnection> {
  return connect({ servers: `127.0.0.1:${port}`, maxReconnectAttempts: 0, noAsyncTraces: true });
}

export async function natsCreateStream(port: number, stream: string, subject: string): Promise<void> {
  const nc = await open(port);
  try {
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: stream, subjects: [subject], storage: StorageType.File });
  } finally {
    await nc.close();
  }
}

export async function natsProduce(port: number, subject: string, w: Workload): Promise<ProduceResult> {
  const nc = await open(port);
  const js = nc.jetstream();
  const value = makeValue(w.recordBytes);
  const lat = new Latency();
  try {
    await js.publish(subject, value);
    const start = now();
    const win = new Window(w.window, start + w.maxMs, "nats produce");
    for (let i = 0; i < w.records; i++) {
      if (!win.tryAcquire(1)) await win.acquire(1);
      if (i % LATENCY_SAMPLE !== 0) {
        js.publish(subject, value).then(win.releaseOne, win.failOne);
        continue;
      }
      const t = now();
      js.publish(subject, value).then(() => {
        lat.recordMs(now() - t);
        win.release(1);
      }, win.failOne);
    }
    await win.drain();
    return produceResult(w.records, w.recordBytes, (now() - start) / 1000, lat);
  } finally {
    await nc.close();
  }
}

export async function natsConsume(
  port: number,
  stream: string,
  total: number,
  recordBytes: number,
  maxMs: number,
): Promise<ConsumeResult> {
  const nc = await open(port);
  try {
    const js = nc.jetstream();
    const start = now();
    const consumer = await js.consumers.get(stream);
    const messages = await consumer.consume({ max_messages: NATS_PULL });
    let got = 0;
    let first = -1;
    const timer = setTimeout(() => messages.stop(), maxMs);
    try {
      for await (const m of messages) {
        if (first < 0) first = now() - start;
        if (m.data.length !== recordBytes)
          throw new Error(`nats consume: a message of ${m.data.length} bytes`);
        if (++got >= total) break;
      }
    } finally {
      clearTimeout(timer);
      messages.stop();
    }
    if (got < total) throw new Error(`nats consume: ${got} of ${total} after ${maxMs} ms`);
    return consumeResult(total, recordBytes, (now() - start) / 1000, first);
  } finally {
    await nc.close();
  }
}
