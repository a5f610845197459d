/**
 * Asking each partition's leader, for HTTP routes that span the cluster (the overview's offsets
 * and sizes, a group's offset reset): `asker` answers a function that sends a Kafka request to a
 * broker, this one through its handlers as the request's principal, another over a peer
 * connection (peers.ts); `offsetsFrom` asks one leader for the offsets of its partitions at a
 * ListOffsets timestamp; `leaderFacts` asks every leader for its partitions' log start offset,
 * high watermark, and (DescribeLogDirs) log size and offset lag.
 */
import type { FastifyRequest } from "fastify";
import type { ApiKey, RequestOf, ResponseOf } from "../../protocol/types/index.js";
import { callApi } from "./call-api.js";
import { EARLIEST_OFFSET, HTTP_API_VERSIONS, LATEST_OFFSET } from "./kafka-api.js";
import { peerQueries } from "./peers.js";
import type { HttpServer } from "./server.js";

const LIST_OFFSETS = 2;
const DESCRIBE_LOG_DIRS = 35;

export interface PartitionRef {
  topic: string;
  partition: number;
}

/** A map key of one partition. */
export function key(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/** `parts` grouped by topic, in first-seen order. */
export function byTopic(parts: PartitionRef[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const p of parts) {
    const list = out.get(p.topic);
    if (list) list.push(p.partition);
    else out.set(p.topic, [p.partition]);
  }
  return out;
}

/** Sends a Kafka request to broker `nodeId`. */
export type Ask = <K extends ApiKey>(
  nodeId: number,
  apiKey: K,
  version: number,
  body: RequestOf<K>,
) => Promise<ResponseOf<K>>;

/** Asks this broker as the request's principal, the others over peer connections. */
export function asker(server: HttpServer, request: FastifyRequest): Ask {
  const self = server.broker.config.nodeId;
  const caller = server.caller(request);
  return (nodeId, apiKey, version, body) =>
    nodeId === self
      ? callApi(server.broker.dispatcher, caller, apiKey, version, body)
      : peerQueries(server.broker).send(nodeId, apiKey, version, body);
}

/**
 * The offsets at `timestamp` (ListOffsets: -1 latest, -2 earliest, else a time in ms) of `parts`
 * from their leader `nodeId`, by `key`; a partition it refused is left out, and one without an
 * offset for the timestamp is -1.
 */
export async function offsetsFrom(
  ask: Ask,
  nodeId: number,
  parts: PartitionRef[],
  timestamp: number,
): Promise<Map<string, number>> {
  const response = await ask(nodeId, LIST_OFFSETS, HTTP_API_VERSIONS.listOffsets, {
    replicaId: -1,
    isolationLevel: 0,
    topics: [...byTopic(parts)].map(([name, partitions]) => ({
      name,
      partitions: partitions.map((partitionIndex) => ({ partitionIndex, currentLeaderEpoch: -1, timestamp })),
    })),
  });
  const out = new Map<string, number>();
  for (const t of response.topics)
    for (const p of t.partitions)
      if (p.errorCode === 0) out.set(key(t.name, p.partitionIndex), p.offset ?? -1);
  return out;
}

/** What a partition's leader told of it: log start offset, high watermark, log size and end. */
export interface PartitionFacts {
  start: number;
  end: number;
  size: number | null;
  /** Log end offset minus high watermark; null without log directories. */
  offsetLag: number | null;
}

interface LogDirFacts {
  size: number;
  offsetLag: number;
}

/** Sizes and offset lags of `parts`' logs on broker `nodeId`; empty when it refuses. */
async function logDirsFrom(
  ask: Ask,
  nodeId: number,
  parts: PartitionRef[],
): Promise<Map<string, LogDirFacts>> {
  const response = await ask(nodeId, DESCRIBE_LOG_DIRS, HTTP_API_VERSIONS.describeLogDirs, {
    topics: [...byTopic(parts)].map(([topic, partitions]) => ({ topic, partitions })),
  });
  const out = new Map<string, LogDirFacts>();
  if (response.errorCode) return out;
  for (const dir of response.results)
    for (const t of dir.topics)
      for (const p of t.partitions)
        out.set(key(t.name, p.partitionIndex), { size: p.partitionSize, offsetLag: p.offsetLag });
  return out;
}

/**
 * What each leader (`byLeader`: its partitions, by node id) tells of the partitions it leads:
 * offsets always, log directories when `logDirsAllowed` (the principal may DESCRIBE the
 * cluster). A leader that fails is listed in `unanswered`, its partitions left out.
 */
export async function leaderFacts(
  ask: Ask,
  byLeader: Map<number, PartitionRef[]>,
  logDirsAllowed: boolean,
): Promise<{ facts: Map<string, PartitionFacts>; unanswered: number[] }> {
  const facts = new Map<string, PartitionFacts>();
  const unanswered: number[] = [];
  await Promise.all(
    [...byLeader].map(async ([nodeId, parts]) => {
      try {
        const [starts, ends, dirs] = await Promise.all([
          offsetsFrom(ask, nodeId, parts, EARLIEST_OFFSET),
          offsetsFrom(ask, nodeId, parts, LATEST_OFFSET),
          logDirsAllowed ? logDirsFrom(ask, nodeId, parts) : new Map<string, LogDirFacts>(),
        ]);
        for (const p of parts) {
          const k = key(p.topic, p.partition);
          const start = starts.get(k);
          const end = ends.get(k);
          const dir = dirs.get(k);
          if (start !== undefined && end !== undefined)
            facts.set(k, { start, end, size: dir?.size ?? null, offsetLag: dir?.offsetLag ?? null });
        }
      } catch {
        unanswered.push(nodeId);
      }
    }),
  );
  return { facts, unanswered: unanswered.sort((a, b) => a - b) };
}
