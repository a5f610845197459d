/**
 * The load generators' `replicationFactor` (`samsa bench produce|e2e --replication-factor`) reaches
 * CreateTopics: against one in-process broker, 2 replicas are refused with the broker's
 * INVALID_REPLICATION_FACTOR and nothing is created, 1 replica creates the topic and produces.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runE2e } from "../../bench/load/e2e.js";
import { runProduce } from "../../bench/load/produce.js";
import { Admin } from "../../client/admin.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";

let tb: TestBroker;
let brokers: string[];

beforeAll(async () => {
  tb = await startTestBroker();
  brokers = [`127.0.0.1:${tb.port}`];
});
afterAll(async () => tb.stop());

async function topics(): Promise<string[]> {
  const admin = new Admin({ brokers });
  try {
    return await admin.listTopics();
  } finally {
    await admin.close();
  }
}

describe("load generators: replicationFactor", () => {
  it("asks CreateTopics for it: more replicas than brokers is refused, nothing created", async () => {
    const produce = runProduce({ brokers, topic: "rf-2", records: 10, recordSize: 10, replicationFactor: 2 });
    await expect(produce).rejects.toMatchObject({ code: "INVALID_REPLICATION_FACTOR" });
    const e2e = runE2e({ brokers, topic: "rf-2-e2e", records: 10, rate: 1000, replicationFactor: 2 });
    await expect(e2e).rejects.toMatchObject({ code: "INVALID_REPLICATION_FACTOR" });
    expect(await topics()).not.toContain("rf-2");
    expect(await topics()).not.toContain("rf-2-e2e");
  });

  it("creates the topic with one replica and produces into it", async () => {
    const r = await runProduce({ brokers, topic: "rf-1", records: 10, recordSize: 10, replicationFactor: 1 });
    expect(r.records).toBe(10);
    expect(await topics()).toContain("rf-1");
  });
});
