/**
 * Asking each partition's leader, for HTTP routes that span the cluster (the overview's offsets
 * and sizes, a group's offset reset): `asker` answers a function that sends a Kafka request to a
 * broker, this one through its handlers as the request's principal, another over a peer
 * connection (peers.ts); `offsetsFrom` asks one leader for the offsets of its partitions at a
 * ListOffsets timestamp.
 */
import type { FastifyRequest } from "fastify";
import type { ApiKey, RequestOf, ResponseOf } from "../../protocol/types/index.js";
import { callApi } from "./call-api.js";
import { HTTP_API_VERSIONS } from "./kafka-api.js";
import { peerQueries } from "./peers.js";
import type { HttpServer } from "./server.js";

const LIST_OFFSETS = 2;

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
