/**
 * The few admin steps the attacks share, over a KafkaConn: create and delete topics, produce a
 * batch, read a partition's end offset, plain HTTP requests with a deadline, and a WebSocket
 * Kafka request with chosen headers.
 */
import * as http from "node:http";
import WebSocket from "ws";
import { type KafkaConn, requestFrame } from "./wire.js";

export async function createTopic(
  conn: KafkaConn,
  name: string,
  partitions: number,
  configs: Record<string, string> = {},
  timeoutMs = 120_000,
): Promise<{ errorCode: number; errorMessage: string | null }> {
  const r = await conn.request(
    19,
    7,
    {
      topics: [
        {
          name,
          numPartitions: partitions,
          replicationFactor: 1,
          assignments: [],
          configs: Object.entries(configs).map(([n, value]) => ({ name: n, value })),
        },
      ],
      timeoutMs: 60_000,
      validateOnly: false,
    },
    timeoutMs,
  );
  const t = r.body.topics[0];
  return { errorCode: t.errorCode, errorMessage: t.errorMessage ?? null };
}

export async function deleteTopic(
  conn: KafkaConn,
  name: string,
  timeoutMs = 60_000,
): Promise<{ errorCode: number; errorMessage: string | null }> {
  const r = await conn.request(20, 5, { topicNames: [name], timeoutMs: 30_000 }, timeoutMs);
  const t = r.body.responses[0];
  return { errorCode: t.errorCode, errorMessage: t.errorMessage ?? null };
}

/** Produces `records` (a batch) with acks=1; the partition's error code and base offset. */
export async function produce(
  conn: KafkaConn,
  topic: string,
  records: Buffer,
  partition = 0,
  timeoutMs = 60_000,
): Promise<{ errorCode: number; baseOffset: number; errorMessage: string | null }> {
  const r = await conn.request(
    0,
    9,
    {
      transactionalId: null,
      acks: 1,
      timeoutMs: 30_000,
      topicData: [{ name: topic, partitionData: [{ index: partition, records }] }],
    },
    timeoutMs,
  );
  const p = r.body.responses[0].partitionResponses[0];
  return { errorCode: p.errorCode, baseOffset: p.baseOffset, errorMessage: p.errorMessage ?? null };
}

/** ListOffsets v7 of one partition at `timestamp` (-1 latest, -2 earliest). */
export async function listOffset(
  conn: KafkaConn,
  topic: string,
  timestamp: number,
  timeoutMs = 60_000,
): Promise<{ errorCode: number; offset: number }> {
  const r = await conn.request(
    2,
    7,
    {
      replicaId: -1,
      isolationLevel: 0,
      topics: [
        {
          name: topic,
          partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp, maxNumOffsets: 1 }],
        },
      ],
    },
    timeoutMs,
  );
  const p = r.body.topics[0].partitions[0];
  return { errorCode: p.errorCode, offset: p.offset };
}

export interface HttpAnswer {
  status: number;
  /** The body's first `keepChars` characters (300 unless asked). */
  body: string;
}

/** One HTTP request to 127.0.0.1:port; rejects after `timeoutMs` or on a socket error. */
export function httpRequest(
  port: number,
  method: string,
  path: string,
  body: Buffer | string | null = null,
  headers: Record<string, string> = {},
  timeoutMs = 60_000,
  keepChars = 300,
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const all = body === null ? headers : { "content-type": "application/json", ...headers };
    const req = http.request(
      { host: "127.0.0.1", port, method, path, headers: all, timeout: timeoutMs },
      (res) => {
        let text = "";
        res.on("data", (d: Buffer) => {
          if (text.length < keepChars) text += d.toString("utf8");
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text.slice(0, keepChars) }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer in ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(body ?? undefined);
  });
}

/**
 * Opens a WebSocket to /kafka with `headers` and sends one Kafka request; resolves with whether
 * the upgrade was accepted and the response frame (null when refused).
 */
export function wsKafkaRequest(
  port: number,
  headers: Record<string, string>,
  apiKey: number,
  version: number,
  body: Record<string, unknown>,
  timeoutMs = 10_000,
): Promise<{ upgraded: boolean; status: number | null; response: Buffer | null }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/kafka`, { headers });
    const timer = setTimeout(() => {
      ws.terminate();
      resolve({ upgraded: false, status: null, response: null });
    }, timeoutMs);
    const finish = (r: { upgraded: boolean; status: number | null; response: Buffer | null }) => {
      clearTimeout(timer);
      ws.terminate();
      resolve(r);
    };
    ws.on("unexpected-response", (_req, res) =>
      finish({ upgraded: false, status: res.statusCode ?? null, response: null }),
    );
    ws.on("error", () => finish({ upgraded: false, status: null, response: null }));
    ws.on("open", () => ws.send(requestFrame(apiKey, version, body, 1)));
    ws.on("message", (data: Buffer) => finish({ upgraded: true, status: 101, response: data }));
  });
}
