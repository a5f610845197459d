/** Starts an in-process broker on free ports with a temporary data directory. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Broker } from "../../broker/broker.js";
import { type BrokerConfig, loadBrokerConfig } from "../../broker/config.js";
import { scramCredential } from "../../protocol/sasl/scram.js";
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

/** The flags of a broker with a SASL_PLAINTEXT listener beside PLAINTEXT, ACLs on and `User:admin` a super user. */
export const SECURED_FLAGS: Record<string, unknown> = {
  listeners: "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
  "authorizer.class.name": "StandardAuthorizer",
  "super.users": "User:admin",
  "connection.failed.authentication.delay.ms": 0,
};

/**
 * A broker with `SECURED_FLAGS` (and `flags`) whose store holds a SCRAM-SHA-256 credential
 * (4096 iterations) for each of `users` (name -> password).
 */
export async function startSecuredBroker(
  users: Readonly<Record<string, string>>,
  flags: Record<string, unknown> = {},
): Promise<TestBroker> {
  const tb = await startTestBroker({ ...SECURED_FLAGS, ...flags });
  const upsertions = Object.entries(users).map(([user, password]) => ({
    user,
    mechanism: "SCRAM-SHA-256" as const,
    ...scramCredential("SCRAM-SHA-256", password, 4096),
  }));
  const results = await tb.broker.store.alterScramCredentials(upsertions, []);
  const failed = results.filter((r) => r.error !== null);
  if (failed.length > 0) {
    await tb.stop();
    throw new Error(`SCRAM users not stored: ${JSON.stringify(failed)}`);
  }
  return tb;
}

/** An HTTP Basic `Authorization` header's value. */
export function basicAuth(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
}
