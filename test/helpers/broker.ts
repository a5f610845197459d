/** Starts an in-process broker on free ports with a temporary data directory. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Broker } from "../../broker/broker.js";
import { type BrokerConfig, loadBrokerConfig } from "../../broker/config.js";
import { stablePort } from "./ports.js";

export interface TestBroker {
  broker: Broker;
  port: number;
  dataDir: string;
  /** Stops the broker (and removes its data unless `keepData`). */
  stop(keepData?: boolean): Promise<void>;
}

/**
 * A broker on ports a test may restart it on (test/helpers/ports.ts), unless `flags` name them,
 * with a temporary data directory unless `dataDir` is given.
 */
export async function startTestBroker(
  flags: Record<string, unknown> = {},
  dataDir = mkdtempSync(path.join(tmpdir(), "samsa-broker-")),
): Promise<TestBroker> {
  const config: BrokerConfig = loadBrokerConfig({
    flags: {
      "data.dir": dataDir,
      "kafka.port": "kafka.port" in flags ? 0 : await stablePort(),
      "http.port": "http.port" in flags ? 0 : await stablePort(),
      ...flags,
    },
  });
  const broker = await Broker.start(config);
  return {
    broker,
    port: broker.kafkaPort,
    dataDir,
    async stop(keepData = false) {
      await broker.stop();
      if (!keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
