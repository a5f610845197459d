/** `samsa broker start`: runs one broker in the foreground until SIGINT or SIGTERM. */
import type { Command } from "commander";
import type { Broker } from "../../broker/broker.js";
import { BROKER_CONFIG_KEYS, loadBrokerConfig } from "../../broker/config.js";

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function registerBrokerCommands(program: Command): void {
  const broker = program.command("broker").description("run and inspect brokers");
  broker
    .command("start")
    .description("start a broker: alone with its embedded metadata store, or in a cluster (--cluster)")
    .option("--data-dir <dir>", "data directory (default ./data)")
    .option("--kafka-port <port>", "Kafka protocol port (default 9092)")
    .option("--http-port <port>", "HTTP and WebSocket port (default 8082)")
    .option("--host <host>", "address to bind (default 127.0.0.1)")
    .option("--advertised-host <host>", "host given to clients in Metadata (default: --host)")
    .option("--node-id <id>", "broker id (default 1; each broker of a cluster needs its own)")
    .option("--cluster <endpoints>", "join the cluster on etcd at etcd://host:port[,host:port]")
    .option("--rack <rack>", "this broker's rack, for rack-aware replica assignment")
    .option("--config <file>", "JSON file of config keys to values")
    .option("--log-format <format>", "auto (readable on a terminal, else JSON lines), json or pretty")
    .option("-s, --set <key=value>", "any config key, e.g. -s num.partitions=3 (repeatable)", collect, [])
    .addHelpText(
      "after",
      `
Configuration: defaults < --config file < SAMSA_* environment < flags.
Keys: ${Object.keys(BROKER_CONFIG_KEYS).join(", ")}.
Examples:
  samsa broker start
  samsa broker start --data-dir /var/lib/samsa --kafka-port 9092
  samsa broker start --cluster etcd://127.0.0.1:2379 --node-id 2 --data-dir ./broker-2
  SAMSA_NUM_PARTITIONS=3 samsa broker start -s log.flush.policy=os
  samsa broker start --log-format json 2> broker.log`,
    )
    .action(async (opts: Record<string, string | string[] | undefined>) => {
      const flags: Record<string, unknown> = {
        "data.dir": opts.dataDir,
        "kafka.port": opts.kafkaPort,
        "http.port": opts.httpPort,
        host: opts.host,
        "advertised.host": opts.advertisedHost,
        "node.id": opts.nodeId,
        cluster: opts.cluster,
        "broker.rack": opts.rack,
        "log.format": opts.logFormat,
      };
      for (const pair of (opts.set as string[]) ?? []) {
        const eq = pair.indexOf("=");
        if (eq <= 0) throw new Error(`--set ${pair}: expected key=value`);
        flags[pair.slice(0, eq)] = pair.slice(eq + 1);
      }
      const config = loadBrokerConfig({ file: opts.config as string | undefined, env: process.env, flags });
      // Before the broker's module graph loads (it opens many files at once): a limit too low is one line.
      (await import("../../broker/open-files.js")).checkOpenFilesLimit(config.maxOpenFiles);
      const [{ Broker }, { createLogger }] = await Promise.all([
        import("../../broker/broker.js"),
        import("../../broker/logger.js"),
      ]);
      const logger = createLogger(config.logLevel, config.logFormat);
      const running = await Broker.start(config, { logger });
      process.stderr.write(
        `samsa broker ${config.nodeId} listening: kafka ${config.host}:${running.kafkaPort}, http ${config.host}:${running.httpPort}, data ${config.dataDir}, listeners ${boundListeners(running)}\n`,
      );
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, "shutting down");
        running.stop().then(
          () => process.exit(0),
          (err) => {
            logger.error({ err }, "shutdown failed");
            process.exit(1);
          },
        );
      };
      process.on("SIGINT", () => stop("SIGINT"));
      process.on("SIGTERM", () => stop("SIGTERM"));
    });
}

/** Every Kafka listener as bound, for the start line: `PLAINTEXT=127.0.0.1:9092 SASL_SSL=127.0.0.1:9094`. */
function boundListeners(broker: Pick<Broker, "listeners" | "listenerPorts">): string {
  return broker.listeners
    .map((l) => `${l.name}=${l.host}:${broker.listenerPorts.get(l.name) ?? l.port}`)
    .join(" ");
}
