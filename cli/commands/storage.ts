/**
 * `samsa storage format --add-scram ...`: SCRAM users put in the cluster store before the brokers
 * start (broker/format.ts), as Kafka's `kafka-storage format --add-scram` seeds a KRaft cluster:
 * the brokers' own user for a SASL inter-broker listener, and a first administrator when every
 * listener asks for a login. Takes the brokers' configuration (`--cluster`, `--data-dir`,
 * `--config`, `-s`, SAMSA_* variables) to find the store.
 */
import type { Command } from "commander";

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

interface FormatFlags {
  addScram: string[];
  dataDir?: string;
  cluster?: string;
  config?: string;
  set: string[];
}

export function registerStorageCommands(program: Command): void {
  const storage = program.command("storage").description("prepare the cluster store before brokers start");
  storage
    .command("format")
    .description("add SCRAM users to the cluster store (etcd, or a single broker's data directory)")
    .option(
      "--add-scram <user>",
      "MECHANISM=[name=<user>,password=<password>(,iterations=N)], as kafka-storage (repeatable)",
      collect,
      [],
    )
    .option("--data-dir <dir>", "a single broker's data directory (default ./data; not while it runs)")
    .option("--cluster <endpoints>", "the cluster's etcd at etcd://host:port[,host:port]")
    .option("--config <file>", "the brokers' JSON config file")
    .option("-s, --set <key=value>", "any broker config key (repeatable)", collect, [])
    .addHelpText(
      "after",
      `
Example (the brokers' user of a SASL inter-broker listener, then start the brokers):
  samsa storage format --cluster etcd://127.0.0.1:2379 \\
    --add-scram 'SCRAM-SHA-512=[name=broker,password=broker-secret]' \\
    --add-scram 'SCRAM-SHA-512=[name=admin,password=admin-secret]'`,
    )
    .action(async (opts: FormatFlags) => {
      if (opts.addScram.length === 0) throw new Error("storage format needs at least one --add-scram");
      const flags: Record<string, unknown> = { "data.dir": opts.dataDir, cluster: opts.cluster };
      for (const pair of opts.set) {
        const eq = pair.indexOf("=");
        if (eq <= 0) throw new Error(`--set ${pair}: expected key=value`);
        flags[pair.slice(0, eq)] = pair.slice(eq + 1);
      }
      const [{ loadBrokerConfig }, { addScramUsers, parseAddScram }] = await Promise.all([
        import("../../broker/config.js"),
        import("../../broker/format.js"),
      ]);
      const users = opts.addScram.map(parseAddScram);
      const config = loadBrokerConfig({ file: opts.config, env: process.env, flags });
      await addScramUsers(config, users);
      const where = config.cluster === "" ? config.dataDir : config.cluster;
      for (const u of users)
        process.stdout.write(
          `user ${u.user}: ${u.mechanism} credential set (${u.iterations} iterations) in ${where}\n`,
        );
    });
}
