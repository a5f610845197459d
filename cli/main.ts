/**
 * The `samsa` command line: broker start, topic management, produce and consume as handy as kcat,
 * consumer groups, offsets, a local cluster and its admin. Client commands load the client
 * lazily, so --version and --help start fast.
 */
import { readFileSync } from "node:fs";
import { Command } from "commander";
import { registerAclCommands } from "./commands/acl.js";
import { registerBenchCommand } from "./commands/bench.js";
import { registerBrokerCommands } from "./commands/broker.js";
import { registerClusterCommands } from "./commands/cluster.js";
import { registerCompletionCommand } from "./commands/completion.js";
import { registerConsumeCommand } from "./commands/consume.js";
import { registerGroupCommands } from "./commands/group.js";
import { registerInfoCommands } from "./commands/info.js";
import { registerProduceCommand } from "./commands/produce.js";
import { registerSecurityCommands } from "./commands/security.js";
import { registerStorageCommands } from "./commands/storage.js";
import { registerTopicCommands } from "./commands/topic.js";
import { registerUserCommands } from "./commands/user.js";
import { registerVerifyCommands } from "./commands/verify.js";

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
    .option(
      "-b, --brokers <list>",
      "comma-separated host[:port] (port 9092 when omitted) or ws://host:port/kafka; default $SAMSA_BROKERS, else localhost:9092",
    )
    .option("--tls", "connect to the brokers over TLS (verified with the system's CAs)")
    .option("--tls-ca <file>", "PEM file of the CAs that sign the brokers' certificates (implies --tls)")
    .option("--tls-cert <file>", "PEM client certificate, for brokers that ask for one (with --tls-key)")
    .option("--tls-key <file>", "PEM private key of --tls-cert")
    .option("--tls-insecure", "TLS without verifying the brokers' certificates (testing only)")
    .option("--user <name>", "SASL user name (with --password or $SAMSA_PASSWORD)")
    .option("--password <password>", "SASL password (prefer $SAMSA_PASSWORD: flags show in ps)")
    .option("--sasl-mechanism <name>", "PLAIN, SCRAM-SHA-256 (default) or SCRAM-SHA-512")
    .showHelpAfterError()
    .addHelpText(
      "after",
      `
Examples:
  samsa broker start
  samsa topic create orders -p 3
  echo hello | samsa produce orders
  samsa consume orders -o beginning -e
  samsa -b localhost:9093 --tls-ca certs/ca.pem topic list
  SAMSA_PASSWORD=secret samsa -b localhost:9094 --user alice --sasl-mechanism SCRAM-SHA-512 topic list`,
    );
  registerBrokerCommands(program);
  registerTopicCommands(program);
  registerProduceCommand(program);
  registerConsumeCommand(program);
  registerGroupCommands(program);
  registerInfoCommands(program);
  registerClusterCommands(program);
  registerBenchCommand(program);
  registerVerifyCommands(program);
  registerSecurityCommands(program);
  registerUserCommands(program);
  registerStorageCommands(program);
  registerAclCommands(program);
  // Last: its script is made from every command registered before.
  registerCompletionCommand(program);
  return program;
}

/**
 * A reader that closed its end (`samsa consume t | head -3`) ends the command quietly, as for any
 * Unix filter, instead of an unhandled EPIPE with its stack trace: exit code 0, or the one a
 * failure already set (`topic delete a nope | head -0` still says nope failed). Done once here so
 * every command's output is covered.
 */
export function endQuietlyOnClosedPipe(stream: NodeJS.WriteStream = process.stdout): void {
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit();
    process.stderr.write(`samsa: writing output: ${err.message}\n`);
    process.exit(1);
  });
}

export async function main(argv: string[]): Promise<void> {
  endQuietlyOnClosedPipe(process.stdout);
  // A closed stderr (progress piped into `head`) must not end a produce halfway: its errors are
  // dropped, and the command's outcome is its exit code.
  process.stderr.on("error", () => {});
  await buildProgram().parseAsync(argv);
}
