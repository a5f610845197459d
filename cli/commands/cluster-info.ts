/**
 * `samsa cluster info`, as `rpk cluster info`: a CLUSTER section (id, controller), BROKERS
 * (ID with `*` on the controller, HOST, PORT, RACK) and TOPICS (NAME, PARTITIONS, REPLICAS; with
 * `-d` each topic's partitions: leader, epoch, replicas, ISR, offline replicas). Internal topics
 * (`__consumer_offsets`) only with `-i`, as rpk. `-J`: one object with every section.
 */
import type { Command } from "commander";
import type { MetadataResponseData, MetadataResponseTopic } from "../../protocol/types/metadata.js";
import { withAdmin } from "./common.js";
import { table } from "./group.js";
import { readClusterMetadata } from "./health.js";

interface InfoOptions {
  json?: boolean;
  printDetailedTopics?: boolean;
  printInternalTopics?: boolean;
}

/** A section as rpk prints one: its title underlined, its lines, a blank line. */
function section(title: string, body: string): string {
  return `${title}\n${"=".repeat(title.length)}\n${body}\n\n`;
}

const list = (ids: number[]) => `[${ids.join(" ")}]`;

/** The replication factor a topic shows: its largest replica set (0 without partitions). */
function replicationOf(t: MetadataResponseTopic): number {
  return Math.max(0, ...t.partitions.map((p) => p.replicaNodes.length));
}

function topicsOf(m: MetadataResponseData, internal: boolean): MetadataResponseTopic[] {
  return m.topics
    .filter((t) => internal || !t.isInternal)
    .sort((a, b) => ((a.name ?? "") < (b.name ?? "") ? -1 : 1));
}

function brokersSection(m: MetadataResponseData): string {
  const rows = [["ID", "HOST", "PORT", "RACK"]];
  for (const b of [...m.brokers].sort((x, y) => x.nodeId - y.nodeId)) {
    const id = `${b.nodeId}${b.nodeId === m.controllerId ? "*" : ""}`;
    rows.push([id, b.host, String(b.port), b.rack ?? ""]);
  }
  return section("BROKERS", table(rows));
}

/** One topic's partitions, as rpk's `-d` block: `name, N partitions, M replicas` and a table. */
function detailedTopic(t: MetadataResponseTopic): string {
  const head = `${t.name}${t.isInternal ? " (internal)" : ""}, ${t.partitions.length} partitions, ${replicationOf(t)} replicas`;
  const rows = [["", "PARTITION", "LEADER", "EPOCH", "REPLICAS", "ISR", "OFFLINE-REPLICAS"]];
  for (const p of [...t.partitions].sort((a, b) => a.partitionIndex - b.partitionIndex)) {
    rows.push([
      "",
      String(p.partitionIndex),
      String(p.leaderId),
      String(p.leaderEpoch ?? -1),
      list(p.replicaNodes),
      list(p.isrNodes),
      list(p.offlineReplicas ?? []),
    ]);
  }
  return `${head}\n${table(rows)}`;
}

/** The text `cluster info` prints. */
export function formatInfo(m: MetadataResponseData, opts: InfoOptions): string {
  const controller = m.controllerId ?? -1;
  const cluster = table([
    ["ID", m.clusterId ?? "-"],
    ["CONTROLLER", controller < 0 ? "none" : String(controller)],
  ]);
  const topics = topicsOf(m, opts.printInternalTopics === true);
  let body: string;
  if (opts.printDetailedTopics) body = topics.map(detailedTopic).join("\n\n");
  else {
    const rows = [["NAME", "PARTITIONS", "REPLICAS"]];
    for (const t of topics) rows.push([t.name ?? "", String(t.partitions.length), String(replicationOf(t))]);
    body = table(rows);
  }
  const text = `${section("CLUSTER", cluster)}${brokersSection(m)}${section("TOPICS", body)}`;
  return `${text.trimEnd()}\n`;
}

/** The `-J` object. */
export function infoJson(m: MetadataResponseData, opts: InfoOptions): unknown {
  return {
    cluster_id: m.clusterId ?? null,
    controller_id: m.controllerId ?? -1,
    brokers: [...m.brokers]
      .sort((a, b) => a.nodeId - b.nodeId)
      .map((b) => ({ node_id: b.nodeId, host: b.host, port: b.port, rack: b.rack ?? null })),
    topics: topicsOf(m, opts.printInternalTopics === true).map((t) => ({
      name: t.name,
      internal: t.isInternal ?? false,
      partition_count: t.partitions.length,
      replication_factor: replicationOf(t),
      partitions: [...t.partitions]
        .sort((a, b) => a.partitionIndex - b.partitionIndex)
        .map((p) => ({
          partition: p.partitionIndex,
          leader: p.leaderId,
          leader_epoch: p.leaderEpoch ?? -1,
          replicas: p.replicaNodes,
          isr: p.isrNodes,
          offline_replicas: p.offlineReplicas ?? [],
        })),
    })),
  };
}

export function registerInfoCommand(cluster: Command): void {
  cluster
    .command("info")
    .description("cluster id and controller, brokers (with racks), topics")
    .option("-d, --print-detailed-topics", "each topic's partitions: leader, epoch, replicas, ISR, offline")
    .option("-i, --print-internal-topics", "also internal topics (__consumer_offsets)")
    .option("-J, --json", "one JSON object (topics always with their partitions)")
    .addHelpText(
      "after",
      "\nExamples:\n  samsa cluster info -d\n  samsa -b ws://localhost:8082/kafka cluster info -J",
    )
    .action(async (opts: InfoOptions, cmd: Command) => {
      const metadata = await withAdmin(cmd, readClusterMetadata);
      if (opts.json) process.stdout.write(`${JSON.stringify(infoJson(metadata, opts))}\n`);
      else process.stdout.write(formatInfo(metadata, opts));
    });
}
