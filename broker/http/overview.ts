/**
 * The cluster at a glance, for the console's overview (issue 16):
 *
 *   GET /cluster  `{cluster_id, controller_id, brokers: [...], health: {...}, topics: [...]}`.
 *
 * Brokers are the registered ones (the cluster store, as DescribeCluster) and every broker a
 * partition names as a replica: one that is not registered is `up: false`. Each broker counts the
 * partitions it leads and the replicas it holds, and lists its Kafka endpoints and HTTP port.
 * Health, as `rpk cluster health`: offline partitions (no leader, or a leader that is down),
 * under-replicated ones (ISR smaller than the replicas), brokers down; `healthy` when there are
 * none. Topics (those the request's principal may describe: Metadata, with its ACLs) carry their
 * partition count, replication factor, and, from the leader of each partition, the log start and
 * end offsets (ListOffsets) and the size of the leader's log (DescribeLogDirs): asked of this
 * broker as the request's principal, of the other leaders over peer connections (peers.ts; log
 * directories only when the principal may DESCRIBE the cluster). Partitions whose leader did not
 * answer leave `complete: false` and are missing from the sums; `unanswered` names those brokers.
 * Throughput is the console's to compute: the change of `log_end_offset_total` between polls.
 */
import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import type { MetadataResponseData } from "../../protocol/types/metadata.js";
import { type BrokerRegistration, NO_LEADER } from "../metadata/cluster.js";
import { callApi } from "./call-api.js";
import { ERROR_RESPONSES } from "./errors.js";
import { EARLIEST_OFFSET, HTTP_API_VERSIONS, LATEST_OFFSET } from "./kafka-api.js";
import { type Ask, asker, byTopic, key, offsetsFrom, type PartitionRef } from "./leaders.js";
import { closePeerQueries } from "./peers.js";
import { NO_QUERY } from "./schemas.js";
import type { HttpServer } from "./server.js";

const METADATA = 3;
const DESCRIBE_LOG_DIRS = 35;

/** The most offline and under-replicated partitions listed by name (the counts are exact). */
export const HEALTH_LIST_MAX = 100;

const INT = { type: "integer" } as const;
const NULLABLE_INT = { type: ["integer", "null"] } as const;
const PARTITION_REF = {
  type: "object",
  required: ["topic", "partition"],
  properties: { topic: { type: "string" }, partition: INT },
} as const;

const CLUSTER_RESPONSE = {
  type: "object",
  required: ["cluster_id", "controller_id", "brokers", "health", "topics"],
  properties: {
    cluster_id: { type: "string" },
    controller_id: INT,
    brokers: {
      type: "array",
      items: {
        type: "object",
        required: ["node_id", "up", "controller", "rack", "partitions_led", "replicas", "endpoints"],
        properties: {
          node_id: INT,
          up: { type: "boolean" },
          shutting_down: { type: "boolean" },
          controller: { type: "boolean" },
          host: { type: ["string", "null"] },
          port: NULLABLE_INT,
          http_port: NULLABLE_INT,
          rack: { type: ["string", "null"] },
          partitions_led: INT,
          replicas: INT,
          endpoints: {
            type: "array",
            items: {
              type: "object",
              properties: { listener: { type: "string" }, host: { type: "string" }, port: INT },
            },
          },
        },
      },
    },
    health: {
      type: "object",
      required: ["healthy", "down_brokers", "offline_partitions", "under_replicated_partitions"],
      properties: {
        healthy: { type: "boolean" },
        down_brokers: { type: "array", items: INT },
        offline_partitions: INT,
        under_replicated_partitions: INT,
        offline: { type: "array", items: PARTITION_REF },
        under_replicated: { type: "array", items: PARTITION_REF },
        unanswered: { type: "array", items: INT },
      },
    },
    topics: {
      type: "array",
      items: {
        type: "object",
        required: ["name", "internal", "partitions", "replication_factor", "complete"],
        properties: {
          name: { type: "string" },
          internal: { type: "boolean" },
          partitions: INT,
          replication_factor: INT,
          size_bytes: NULLABLE_INT,
          log_start_offset_total: INT,
          log_end_offset_total: INT,
          records: INT,
          offline_partitions: INT,
          under_replicated_partitions: INT,
          complete: { type: "boolean" },
        },
      },
    },
  },
} as const;

/** What a partition's leader told of it. */
interface PartitionFacts {
  start: number;
  end: number;
  size: number | null;
}

/** Sizes of `parts`' logs on broker `nodeId`; empty when it refuses. */
async function sizesFrom(ask: Ask, nodeId: number, parts: PartitionRef[]) {
  const response = await ask(nodeId, DESCRIBE_LOG_DIRS, HTTP_API_VERSIONS.describeLogDirs, {
    topics: [...byTopic(parts)].map(([topic, partitions]) => ({ topic, partitions })),
  });
  const out = new Map<string, number>();
  if (response.errorCode) return out;
  for (const dir of response.results)
    for (const t of dir.topics)
      for (const p of t.partitions) out.set(key(t.name, p.partitionIndex), p.partitionSize);
  return out;
}

/** What each leader tells of the partitions it leads; leaders that fail are returned apart. */
async function leaderFacts(
  ask: Ask,
  byLeader: Map<number, PartitionRef[]>,
  sizesAllowed: boolean,
): Promise<{ facts: Map<string, PartitionFacts>; unanswered: number[] }> {
  const facts = new Map<string, PartitionFacts>();
  const unanswered: number[] = [];
  await Promise.all(
    [...byLeader].map(async ([nodeId, parts]) => {
      try {
        const [starts, ends, sizes] = await Promise.all([
          offsetsFrom(ask, nodeId, parts, EARLIEST_OFFSET),
          offsetsFrom(ask, nodeId, parts, LATEST_OFFSET),
          sizesAllowed ? sizesFrom(ask, nodeId, parts) : new Map<string, number>(),
        ]);
        for (const p of parts) {
          const k = key(p.topic, p.partition);
          const start = starts.get(k);
          const end = ends.get(k);
          if (start !== undefined && end !== undefined)
            facts.set(k, { start, end, size: sizes.get(k) ?? null });
        }
      } catch {
        unanswered.push(nodeId);
      }
    }),
  );
  return { facts, unanswered: unanswered.sort((a, b) => a - b) };
}

function brokerRows(metadata: MetadataResponseData, registered: BrokerRegistration[], controllerId: number) {
  const byId = new Map(registered.map((b) => [b.nodeId, b]));
  const led = new Map<number, number>();
  const held = new Map<number, number>();
  const ids = new Set<number>(byId.keys());
  for (const t of metadata.topics) {
    for (const p of t.partitions) {
      if (p.leaderId !== NO_LEADER) led.set(p.leaderId, (led.get(p.leaderId) ?? 0) + 1);
      for (const r of p.replicaNodes) {
        ids.add(r);
        held.set(r, (held.get(r) ?? 0) + 1);
      }
    }
  }
  return [...ids]
    .sort((a, b) => a - b)
    .map((nodeId) => {
      const b = byId.get(nodeId);
      return {
        node_id: nodeId,
        up: b !== undefined,
        shutting_down: b?.shuttingDown ?? false,
        controller: nodeId === controllerId,
        host: b?.host ?? null,
        port: b?.port ?? null,
        http_port: b?.httpPort ?? null,
        rack: b?.rack ?? null,
        partitions_led: led.get(nodeId) ?? 0,
        replicas: held.get(nodeId) ?? 0,
        endpoints: b ? [...(b.endpoints ?? [{ listener: "", host: b.host, port: b.port }])] : [],
      };
    });
}

async function clusterView(server: HttpServer, request: FastifyRequest) {
  const caller = server.caller(request);
  const metadata = await callApi(server.broker.dispatcher, caller, METADATA, HTTP_API_VERSIONS.metadata, {
    topics: null,
    allowAutoTopicCreation: false,
    includeTopicAuthorizedOperations: false,
  });
  metadata.topics = metadata.topics.filter((t) => t.errorCode === 0 && t.name);
  const store = server.broker.store;
  const registered = store.brokers();
  const up = new Set(registered.map((b) => b.nodeId));
  const controllerId = store.controller()?.nodeId ?? metadata.controllerId ?? -1;
  const offline: PartitionRef[] = [];
  const underReplicated: PartitionRef[] = [];
  const byLeader = new Map<number, PartitionRef[]>();
  for (const t of metadata.topics) {
    for (const p of t.partitions) {
      const ref = { topic: t.name ?? "", partition: p.partitionIndex };
      if (p.leaderId === NO_LEADER || !up.has(p.leaderId)) offline.push(ref);
      else byLeader.set(p.leaderId, [...(byLeader.get(p.leaderId) ?? []), ref]);
      if (p.isrNodes.length < p.replicaNodes.length) underReplicated.push(ref);
    }
  }
  const sizesAllowed = caller.authorize("DESCRIBE", "CLUSTER", "kafka-cluster");
  const { facts, unanswered } = await leaderFacts(asker(server, request), byLeader, sizesAllowed);
  const brokers = brokerRows(metadata, registered, controllerId);
  const downBrokers = brokers.filter((b) => !b.up).map((b) => b.node_id);
  const offlineKeys = new Set(offline.map((p) => key(p.topic, p.partition)));
  const underKeys = new Set(underReplicated.map((p) => key(p.topic, p.partition)));
  return {
    cluster_id: store.clusterId(),
    controller_id: controllerId,
    brokers,
    health: {
      healthy: offline.length === 0 && underReplicated.length === 0 && downBrokers.length === 0,
      down_brokers: downBrokers,
      offline_partitions: offline.length,
      under_replicated_partitions: underReplicated.length,
      offline: offline.slice(0, HEALTH_LIST_MAX),
      under_replicated: underReplicated.slice(0, HEALTH_LIST_MAX),
      unanswered,
    },
    topics: metadata.topics
      .map((t) => topicRow(t.name ?? "", Boolean(t.isInternal), t.partitions, facts, offlineKeys, underKeys))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
  };
}

function topicRow(
  name: string,
  internal: boolean,
  partitions: MetadataResponseData["topics"][number]["partitions"],
  facts: Map<string, PartitionFacts>,
  offlineKeys: Set<string>,
  underKeys: Set<string>,
) {
  let start = 0;
  let end = 0;
  let size: number | null = null;
  let complete = true;
  for (const p of partitions) {
    const f = facts.get(key(name, p.partitionIndex));
    if (!f) {
      complete = false;
      continue;
    }
    start += Math.max(0, f.start);
    end += Math.max(0, f.end);
    if (f.size !== null) size = (size ?? 0) + f.size;
    else complete = false;
  }
  return {
    name,
    internal,
    partitions: partitions.length,
    replication_factor: partitions[0]?.replicaNodes.length ?? 0,
    size_bytes: size,
    log_start_offset_total: start,
    log_end_offset_total: end,
    records: end - start,
    offline_partitions: partitions.filter((p) => offlineKeys.has(key(name, p.partitionIndex))).length,
    under_replicated_partitions: partitions.filter((p) => underKeys.has(key(name, p.partitionIndex))).length,
    complete,
  };
}

export const overviewRoutes: FastifyPluginAsync<{ server: HttpServer }> = async (app, { server }) => {
  app.addHook("onClose", async () => closePeerQueries(server));

  app.get(
    "/cluster",
    { schema: { querystring: NO_QUERY, response: { 200: CLUSTER_RESPONSE, ...ERROR_RESPONSES } } },
    async (request) => clusterView(server, request),
  );
};
