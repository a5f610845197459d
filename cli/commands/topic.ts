/**
 * `samsa topic ...`: create, list, describe, delete, alter, add-partitions; reassign and
 * reassignments (KIP-455 partition reassignments, sent to the controller).
 */
import type { Command } from "commander";
import type { TopicOutcome } from "../../client/admin.js";
import { brokerIds, collect, nonNegativeInt, pairs, positiveInt, withAdmin } from "./common.js";

/**
 * One line per topic: "<verb> <name>" on stdout, or the topic's error on stderr (as the bin
 * prints errors); the command exits 1 if any topic failed.
 */
function report(outcomes: TopicOutcome[], verb: string): void {
  for (const { name, error } of outcomes) {
    if (error === null) process.stdout.write(`${verb} ${name}\n`);
    else process.stderr.write(`samsa: ${error.message}\n`);
  }
  if (outcomes.some((o) => o.error !== null)) process.exitCode = 1;
}

export function registerTopicCommands(program: Command): void {
  const topic = program.command("topic").description("create, list, describe, alter and delete topics");
  topic
    .command("create <name...>")
    .description("create topics")
    .option("-p, --partitions <n>", "partitions (default: the broker's num.partitions)")
    .option("-r, --replicas <n>", "replication factor (default: the broker's)")
    .option(
      "-c, --config <key=value>",
      "topic config, e.g. -c retention.ms=3600000 (repeatable)",
      collect,
      [],
    )
    .addHelpText(
      "after",
      "\nExample:\n  samsa topic create orders -p 6 -c cleanup.policy=delete -c retention.ms=86400000",
    )
    .action(
      async (
        names: string[],
        opts: { partitions?: string; replicas?: string; config: string[] },
        cmd: Command,
      ) => {
        const configs = pairs(opts.config, "--config");
        const partitions = opts.partitions === undefined ? -1 : positiveInt("--partitions", opts.partitions);
        const replicationFactor = opts.replicas === undefined ? -1 : positiveInt("--replicas", opts.replicas);
        const outcomes = await withAdmin(cmd, (admin) =>
          admin.createTopicsSettled(names.map((name) => ({ name, partitions, replicationFactor, configs }))),
        );
        report(outcomes, "created");
      },
    );
  topic
    .command("list")
    .alias("ls")
    .description("list topics with their partition counts")
    .addHelpText("after", "\nExample:\n  samsa -b localhost:9092 topic list")
    .action(async (_opts: unknown, cmd: Command) => {
      await withAdmin(cmd, async (admin) => {
        const names = await admin.listTopics();
        const infos = names.length > 0 ? await admin.describeTopics(names) : [];
        process.stdout.write("NAME\tPARTITIONS\n");
        for (const t of infos) process.stdout.write(`${t.name}\t${t.partitions.length}\n`);
      });
    });
  topic
    .command("describe <name>")
    .description("partitions with leader, replicas, ISR, log start/end offsets; and configs")
    .option("--no-configs", "omit the configs")
    .addHelpText("after", "\nExample:\n  samsa topic describe orders --no-configs")
    .action(async (name: string, opts: { configs: boolean }, cmd: Command) => {
      await withAdmin(cmd, async (admin) => {
        const [info] = await admin.describeTopics([name]);
        const offsets = await admin.topicOffsets(name);
        const sizes = await admin.partitionSizes(name);
        process.stdout.write(`NAME ${info.name}\nID ${info.id}\nPARTITIONS ${info.partitions.length}\n\n`);
        process.stdout.write("PARTITION\tLEADER\tREPLICAS\tISR\tLOG-START\tLOG-END\tSIZE\n");
        for (const p of info.partitions) {
          const o = offsets.find((x) => x.partition === p.partition);
          process.stdout.write(
            `${p.partition}\t${p.leader}\t[${p.replicas.join(",")}]\t[${p.isr.join(",")}]\t${o?.earliest ?? "-"}\t${o?.latest ?? "-"}\t${sizes.get(p.partition) ?? "-"}\n`,
          );
        }
        if (opts.configs) {
          process.stdout.write("\nCONFIG\tVALUE\tSOURCE\n");
          for (const c of await admin.describeTopicConfigs(name)) {
            process.stdout.write(`${c.name}\t${c.value ?? ""}\t${c.isDefault ? "default" : "override"}\n`);
          }
        }
      });
    });
  topic
    .command("delete <name...>")
    .alias("rm")
    .description("delete topics")
    .addHelpText("after", "\nExample:\n  samsa topic delete orders old-orders")
    .action(async (names: string[], _opts: unknown, cmd: Command) => {
      report(await withAdmin(cmd, (admin) => admin.deleteTopicsSettled(names)), "deleted");
    });
  topic
    .command("alter <name>")
    .description("set (-c key=value) or remove (-d key) topic configs")
    .option("-c, --config <key=value>", "config to set (repeatable)", collect, [])
    .option("-d, --delete <key>", "config to remove, back to its default (repeatable)", collect, [])
    .addHelpText("after", "\nExample:\n  samsa topic alter orders -c retention.ms=3600000 -d segment.bytes")
    .action(async (name: string, opts: { config: string[]; delete: string[] }, cmd: Command) => {
      const changes: Record<string, string | null> = pairs(opts.config, "--config");
      for (const k of opts.delete) changes[k] = null;
      if (Object.keys(changes).length === 0)
        throw new Error("nothing to change: give -c key=value or -d key");
      await withAdmin(cmd, (admin) => admin.alterTopicConfigs(name, changes));
      process.stdout.write(`altered ${name}\n`);
    });
  topic
    .command("add-partitions <name>")
    .description("grow a topic to more partitions")
    .requiredOption("-n, --num <total>", "the new total number of partitions")
    .addHelpText("after", "\nExample:\n  samsa topic add-partitions orders -n 12")
    .action(async (name: string, opts: { num: string }, cmd: Command) => {
      const total = positiveInt("--num", opts.num);
      await withAdmin(cmd, (admin) => admin.createPartitions(name, total));
      process.stdout.write(`${name} now has ${opts.num} partitions\n`);
    });
  registerReassignCommands(topic);
}

function registerReassignCommands(topic: Command): void {
  topic
    .command("reassign <name>")
    .description("move a partition to other brokers (--replicas), or cancel its move (--cancel)")
    .requiredOption("--partition <p>", "the partition")
    .option("--replicas <ids>", "the new replica list, preferred leader first, e.g. 2,3,4")
    .option("--cancel", "cancel the reassignment in progress, back to the replicas it had")
    .addHelpText(
      "after",
      "\nExamples:\n  samsa topic reassign orders --partition 0 --replicas 2,3,4\n  samsa topic reassign orders --partition 0 --cancel",
    )
    .action(
      async (
        name: string,
        opts: { partition: string; replicas?: string; cancel?: boolean },
        cmd: Command,
      ) => {
        const partition = nonNegativeInt("--partition", opts.partition);
        if ((opts.replicas === undefined) === (opts.cancel === undefined))
          throw new Error("give either --replicas <ids> or --cancel");
        const replicas = opts.replicas === undefined ? null : brokerIds("--replicas", opts.replicas);
        await withAdmin(cmd, (admin) =>
          admin.alterPartitionReassignments([{ topic: name, partition, replicas }]),
        );
        process.stdout.write(
          replicas === null
            ? `cancelled reassignment of ${name}-${partition}\n`
            : `reassigning ${name}-${partition} to [${replicas.join(",")}]\n`,
        );
      },
    );
  topic
    .command("reassignments [name]")
    .description("reassignments in progress: of one topic, or all")
    .option("-J, --json", "one JSON object")
    .addHelpText("after", "\nExamples:\n  samsa topic reassignments\n  samsa topic reassignments orders -J")
    .action(async (name: string | undefined, opts: { json?: boolean }, cmd: Command) => {
      const ongoing = await withAdmin(cmd, async (admin) => {
        if (name === undefined) return admin.listPartitionReassignments();
        const [info] = await admin.describeTopics([name]);
        return admin.listPartitionReassignments(
          info.partitions.map((p) => ({ topic: name, partition: p.partition })),
        );
      });
      if (opts.json) {
        const reassignments = ongoing.map((r) => ({
          topic: r.topic,
          partition: r.partition,
          replicas: r.replicas,
          adding_replicas: r.addingReplicas,
          removing_replicas: r.removingReplicas,
        }));
        process.stdout.write(`${JSON.stringify({ reassignments })}\n`);
        return;
      }
      const ids = (list: number[]) => `[${list.join(",")}]`;
      process.stdout.write("TOPIC\tPARTITION\tREPLICAS\tADDING\tREMOVING\n");
      for (const r of ongoing) {
        process.stdout.write(
          `${r.topic}\t${r.partition}\t${ids(r.replicas)}\t${ids(r.addingReplicas)}\t${ids(r.removingReplicas)}\n`,
        );
      }
    });
}
