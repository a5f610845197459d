/** `samsa offsets <topic>`. */
import type { Command } from "commander";
import { connectionOf } from "./common.js";

export function registerInfoCommands(program: Command): void {
  program
    .command("offsets <topic>")
    .description("earliest and latest offset of each partition, or the offsets at a time")
    .option("-t, --at <when>", "@<ms> or an ISO date: the first offset at or after that time")
    .addHelpText(
      "after",
      "\nExamples:\n  samsa offsets orders\n  samsa offsets orders --at 2026-11-24T00:00:00Z",
    )
    .action(async (topic: string, opts: { at?: string }, cmd: Command) => {
      const { Admin } = await import("../../client/admin.js");
      const admin = new Admin({ ...connectionOf(cmd), retry: { retries: 2 } });
      try {
        if (opts.at) {
          const text = opts.at.replace(/^@/, "");
          const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
          if (!Number.isFinite(ms)) throw new Error(`--at ${opts.at}: not a timestamp or ISO date`);
          process.stdout.write("PARTITION\tOFFSET\tTIMESTAMP\n");
          for (const o of await admin.listOffsets(topic, { timestamp: ms })) {
            process.stdout.write(`${o.partition}\t${o.offset}\t${o.timestamp}\n`);
          }
        } else {
          process.stdout.write("PARTITION\tEARLIEST\tLATEST\n");
          for (const o of await admin.topicOffsets(topic))
            process.stdout.write(`${o.partition}\t${o.earliest}\t${o.latest}\n`);
        }
      } finally {
        await admin.close();
      }
    });
}
