/**
 * `samsa group list | describe | reset-offsets | delete`: consumer groups as Kafka's
 * kafka-consumer-groups tool shows and changes them. Reset is a dry run unless --execute, and
 * only for a group without members (its consumers would overwrite the offsets).
 */
import type { Command } from "commander";
import type { Admin, PartitionOffsets } from "../../client/admin.js";
import { withAdmin } from "./common.js";

/** Pads columns to their widest cell, two spaces apart, as Kafka's tool prints. */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i])))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

export interface GroupPartitionRow {
  topic: string;
  partition: number;
  currentOffset: number | null;
  logEndOffset: number | null;
  lag: number | null;
  consumerId: string | null;
  host: string | null;
  clientId: string | null;
}

/** One row per partition the group has a commit for or a member reads, with its lag. */
async function describeRows(admin: Admin, groupId: string) {
  const [description] = await admin.describeGroups([groupId]);
  const committed = await admin.fetchOffsets(groupId);
  const owners = new Map<string, { memberId: string; clientHost: string; clientId: string }>();
  for (const m of description.members)
    for (const tp of m.assignment) owners.set(`${tp.topic}\u0000${tp.partition}`, m);
  const keys = new Map<string, { topic: string; partition: number }>();
  for (const c of committed)
    if (c.offset >= 0) keys.set(`${c.topic}\u0000${c.partition}`, { topic: c.topic, partition: c.partition });
  for (const m of description.members)
    for (const tp of m.assignment) keys.set(`${tp.topic}\u0000${tp.partition}`, tp);
  const ends = new Map<string, number>();
  for (const topic of new Set([...keys.values()].map((k) => k.topic))) {
    try {
      for (const o of await admin.listOffsets(topic, "latest"))
        ends.set(`${topic}\u0000${o.partition}`, o.offset);
    } catch {
      // A topic deleted since the commit: its end is unknown ("-").
    }
  }
  const rows: GroupPartitionRow[] = [...keys.entries()]
    .sort(([, a], [, b]) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition))
    .map(([key, tp]) => {
      const c = committed.find((o) => o.topic === tp.topic && o.partition === tp.partition);
      const current = c && c.offset >= 0 ? c.offset : null;
      const end = ends.get(key) ?? null;
      const owner = owners.get(key);
      return {
        topic: tp.topic,
        partition: tp.partition,
        currentOffset: current,
        logEndOffset: end,
        lag: current !== null && end !== null ? Math.max(0, end - current) : null,
        consumerId: owner?.memberId ?? null,
        host: owner ? `/${owner.clientHost}` : null,
        clientId: owner?.clientId ?? null,
      };
    });
  return { description, rows };
}

type ResetSpec =
  | { kind: "earliest" }
  | { kind: "latest" }
  | { kind: "offset"; offset: number }
  | { kind: "datetime"; ms: number }
  | { kind: "shift"; by: number };

interface ResetOpts {
  topic: string;
  toEarliest?: boolean;
  toLatest?: boolean;
  toOffset?: string;
  toDatetime?: string;
  shiftBy?: string;
  execute?: boolean;
}

function resetSpec(opts: ResetOpts): ResetSpec {
  const given: ResetSpec[] = [];
  if (opts.toEarliest) given.push({ kind: "earliest" });
  if (opts.toLatest) given.push({ kind: "latest" });
  if (opts.toOffset !== undefined) {
    if (!/^\d+$/.test(opts.toOffset))
      throw new Error(`--to-offset ${opts.toOffset}: expected an offset >= 0`);
    given.push({ kind: "offset", offset: Number(opts.toOffset) });
  }
  if (opts.toDatetime !== undefined) {
    const text = opts.toDatetime;
    const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
    if (!Number.isFinite(ms)) throw new Error(`--to-datetime ${text}: expected an ISO date or ms timestamp`);
    given.push({ kind: "datetime", ms });
  }
  if (opts.shiftBy !== undefined) {
    if (!/^-?\d+$/.test(opts.shiftBy)) throw new Error(`--shift-by ${opts.shiftBy}: expected an integer`);
    given.push({ kind: "shift", by: Number(opts.shiftBy) });
  }
  if (given.length !== 1) {
    throw new Error(
      "reset-offsets needs exactly one of --to-earliest, --to-latest, --to-offset, --to-datetime, --shift-by",
    );
  }
  return given[0];
}

/** `topic` or `topic:0,2`: the topic and the partitions named (all when none). */
function topicArg(text: string): { topic: string; partitions: number[] | null } {
  const colon = text.lastIndexOf(":");
  if (colon < 0) return { topic: text, partitions: null };
  const list = text.slice(colon + 1).split(",");
  if (list.some((p) => !/^\d+$/.test(p))) throw new Error(`--topic ${text}: expected topic or topic:0,1,...`);
  return { topic: text.slice(0, colon), partitions: list.map(Number) };
}

/** The new offset of each partition, clamped to the log's range as Kafka's tool does. */
async function planReset(
  admin: Admin,
  groupId: string,
  topic: string,
  partitions: number[] | null,
  spec: ResetSpec,
) {
  const bounds: PartitionOffsets[] = await admin.topicOffsets(topic);
  const chosen = partitions ?? bounds.map((b) => b.partition);
  const unknown = chosen.filter((p) => !bounds.some((b) => b.partition === p));
  if (unknown.length > 0) throw new Error(`topic ${topic} has no partition ${unknown.join(",")}`);
  const committed = await admin.fetchOffsets(groupId, [topic]);
  const atTime = spec.kind === "datetime" ? await admin.listOffsets(topic, { timestamp: spec.ms }) : [];
  return chosen.map((partition) => {
    const b = bounds.find((x) => x.partition === partition) as PartitionOffsets;
    let target: number;
    switch (spec.kind) {
      case "earliest":
        target = b.earliest;
        break;
      case "latest":
        target = b.latest;
        break;
      case "offset":
        target = spec.offset;
        break;
      case "datetime": {
        const found = atTime.find((o) => o.partition === partition)?.offset ?? -1;
        target = found < 0 ? b.latest : found;
        break;
      }
      case "shift": {
        const current = committed.find((c) => c.partition === partition)?.offset ?? -1;
        if (current < 0)
          throw new Error(`--shift-by: group ${groupId} has no offset for ${topic}-${partition}`);
        target = current + spec.by;
        break;
      }
    }
    return { topic, partition, offset: Math.min(Math.max(target, b.earliest), b.latest) };
  });
}

export function registerGroupCommands(program: Command): void {
  const group = program
    .command("group")
    .description("consumer groups: list, describe, reset offsets, delete");

  group
    .command("list")
    .description("every group with its state")
    .addHelpText("after", "\nExample:\n  samsa group list")
    .action(async (_opts: unknown, cmd: Command) => {
      await withAdmin(cmd, async (admin) => {
        const groups = await admin.listGroups();
        const rows = [["GROUP", "STATE", "PROTOCOL-TYPE"]];
        for (const g of groups) rows.push([g.groupId, g.state || "-", g.protocolType || "-"]);
        process.stdout.write(`${table(rows)}\n`);
      });
    });

  group
    .command("describe <group>")
    .description("members, committed offsets and lag per partition (as kafka-consumer-groups --describe)")
    .option("-J, --json", "one JSON object")
    .addHelpText("after", "\nExamples:\n  samsa group describe billing\n  samsa group describe billing -J")
    .action(async (groupId: string, opts: { json?: boolean }, cmd: Command) => {
      await withAdmin(cmd, async (admin) => {
        const { description, rows } = await describeRows(admin, groupId);
        if (description.state === "Dead" && rows.length === 0) {
          throw new Error(`group ${groupId} does not exist`);
        }
        if (opts.json) {
          const totalLag = rows.reduce((sum, r) => sum + (r.lag ?? 0), 0);
          process.stdout.write(
            `${JSON.stringify({
              group: groupId,
              state: description.state,
              protocol_type: description.protocolType,
              protocol: description.protocol,
              members: description.members.map((m) => ({
                member_id: m.memberId,
                group_instance_id: m.groupInstanceId,
                client_id: m.clientId,
                host: m.clientHost,
                assignment: m.assignment,
              })),
              partitions: rows.map((r) => ({
                topic: r.topic,
                partition: r.partition,
                current_offset: r.currentOffset,
                log_end_offset: r.logEndOffset,
                lag: r.lag,
                consumer_id: r.consumerId,
                host: r.host,
                client_id: r.clientId,
              })),
              total_lag: totalLag,
            })}\n`,
          );
          return;
        }
        const head =
          description.members.length === 0
            ? `Consumer group '${groupId}' has no active members (state ${description.state}).`
            : `Consumer group '${groupId}' is ${description.state} with ${description.members.length} member(s), assignor ${description.protocol || "-"}.`;
        const out = [
          [
            "GROUP",
            "TOPIC",
            "PARTITION",
            "CURRENT-OFFSET",
            "LOG-END-OFFSET",
            "LAG",
            "CONSUMER-ID",
            "HOST",
            "CLIENT-ID",
          ],
        ];
        const dash = (v: number | string | null) => (v === null ? "-" : String(v));
        for (const r of rows) {
          out.push([
            groupId,
            r.topic,
            String(r.partition),
            dash(r.currentOffset),
            dash(r.logEndOffset),
            dash(r.lag),
            dash(r.consumerId),
            dash(r.host),
            dash(r.clientId),
          ]);
        }
        process.stdout.write(`${head}\n\n${table(out)}\n`);
      });
    });

  group
    .command("reset-offsets <group>")
    .description("set a group's committed offsets of a topic (dry run unless --execute)")
    .requiredOption("--topic <topic[:partitions]>", "the topic, optionally with partitions: orders:0,2")
    .option("--to-earliest", "the first offset of each partition")
    .option("--to-latest", "the log end of each partition")
    .option("--to-offset <n>", "this offset (clamped to the partition's range)")
    .option("--to-datetime <when>", "the first offset at or after an ISO date or ms timestamp")
    .option("--shift-by <n>", "the committed offset plus n (negative moves back)")
    .option("--execute", "commit the new offsets (otherwise only print them)")
    .addHelpText(
      "after",
      `
Examples:
  samsa group reset-offsets billing --topic orders --to-earliest
  samsa group reset-offsets billing --topic orders:0 --shift-by -100 --execute
  samsa group reset-offsets billing --topic orders --to-datetime 2026-11-24T00:00:00Z --execute`,
    )
    .action(async (groupId: string, opts: ResetOpts, cmd: Command) => {
      const spec = resetSpec(opts);
      const { topic, partitions } = topicArg(opts.topic);
      await withAdmin(cmd, async (admin) => {
        const [description] = await admin.describeGroups([groupId]);
        if (description.state !== "Empty" && description.state !== "Dead") {
          throw new Error(
            `group ${groupId} is ${description.state} with ${description.members.length} member(s): stop its consumers before resetting`,
          );
        }
        const plan = await planReset(admin, groupId, topic, partitions, spec);
        if (opts.execute) await admin.commitOffsets(groupId, plan);
        const rows = [["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"]];
        for (const p of plan) rows.push([groupId, p.topic, String(p.partition), String(p.offset)]);
        process.stdout.write(`${table(rows)}\n`);
        if (!opts.execute) process.stdout.write("(dry run: add --execute to commit these offsets)\n");
      });
    });

  group
    .command("delete <groups...>")
    .description("delete groups without members and their offsets, or only a topic's offsets (--topic)")
    .option("--topic <topic>", "delete only the group's committed offsets of this topic")
    .addHelpText(
      "after",
      "\nExamples:\n  samsa group delete billing\n  samsa group delete billing --topic old-orders",
    )
    .action(async (groupIds: string[], opts: { topic?: string }, cmd: Command) => {
      await withAdmin(cmd, async (admin) => {
        if (opts.topic) {
          const info = await admin.cluster.topic(opts.topic);
          for (const groupId of groupIds) {
            await admin.deleteOffsets(
              groupId,
              opts.topic,
              info.partitions.map((p) => p.partition),
            );
            process.stdout.write(`deleted offsets of ${opts.topic} for group ${groupId}\n`);
          }
          return;
        }
        await admin.deleteGroups(groupIds);
        for (const g of groupIds) process.stdout.write(`deleted group ${g}\n`);
      });
    });
}
