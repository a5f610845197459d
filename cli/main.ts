/**
 * The `samsa` command line: broker start, topic management, produce and consume as handy as kcat,
 * consumer groups, offsets and cluster info. Client commands load the client lazily, so --version and --help start
 * fast.
 */
import { readFileSync } from "node:fs";
import { Command } from "commander";
import { registerBenchCommand } from "./commands/bench.js";
import { registerBrokerCommands } from "./commands/broker.js";
import { registerConsumeCommand } from "./commands/consume.js";
import { registerGroupCommands } from "./commands/group.js";
import { registerInfoCommands } from "./commands/info.js";
import { registerProduceCommand } from "./commands/produce.js";
import { registerTopicCommands } from "./commands/topic.js";

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

export function buildProgram(): Command {
  const program = new Command("samsa")
    .description("samsa: a Kafka-compatible message-log broker for Node.js")
    .version(version(), "-V, --version")
    .option("-b, --brokers <list>", "comma-separated host:port or ws://host:port/kafka", "localhost:9092")
    .showHelpAfterError()
    .addHelpText(
      "after",
      `
Examples:
  samsa broker start
  samsa topic create orders -p 3
  echo hello | samsa produce orders
  samsa consume orders -o beginning -e`,
    );
  registerBrokerCommands(program);
  registerTopicCommands(program);
  registerProduceCommand(program);
  registerConsumeCommand(program);
  registerGroupCommands(program);
  registerInfoCommands(program);
  registerBenchCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}
