/** Starts an in-process broker on free ports with a temporary data directory. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Broker } from "../../broker/broker.js";
import { type BrokerConfig, loadBrokerConfig } from "../../broker/config.js";

export interface TestBroker {
  broker: Broker;
  port: number;
  dataDir: string;
  /** Stops the broker (and removes its data unless `keepData`). */
  stop(keepData?: boolean): Promise<void>;
}

export async function startTestBroker(
  flags: Record<string, unknown> = {},
  dataDir = mkdtempSync(path.join(tmpdir(), "samsa-broker-")),
): Promise<TestBroker> {
  const config: BrokerConfig = loadBrokerConfig({
    flags: { "data.dir": dataDir, "kafka.port": 0, "http.port": 0, ...flags },
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
