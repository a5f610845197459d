/**
 * A leader that wrote records no follower copied (acks=1) and then vanished comes back as a
 * follower and truncates them where its log diverged from the new leader's (KIP-101/279): no
 * two replicas hold different records at the same offset.
 */
import { describe, expect, it } from "vitest";
import { Admin, Producer } from "../../../client/index.js";
import { clusterForFile, readRecords, type TestCluster } from "../../helpers/cluster.js";
import { waitFor } from "../../helpers/wait.js";

const FETCH = 1;
let cluster: TestCluster;
// A long ISR lag: the leader's followers stay in its ISR while their fetches are held.
clusterForFile(3, { "replica.lag.time.max.ms": 60_000 }, (c) => {
  cluster = c;
});

describe("a returning replica whose log diverged", () => {
  it("truncates the records only it held and takes the new leader's", async () => {
    const admin = new Admin({ brokers: cluster.bootstrap() });
    await admin.createTopics([{ name: "diverge", partitions: 1, replicationFactor: 3 }]);
    await admin.close();
    const old = await cluster.leaderOf("diverge", 0);
    const oldId = old.config.nodeId;
    const first = new Producer({ brokers: cluster.bootstrap() }, { acks: -1, lingerMs: 0 });
    for (let i = 0; i < 5; i++) await first.send({ topic: "diverge", value: `kept${i}` });
    await first.close();
    await waitFor(
      () => cluster.running().every((b) => b.topics.partition("diverge", 0)?.logEndOffset === 5),
      "5 records on every replica",
    );
    // Its followers' fetches are held from now on: what it writes next only it holds.
    old.dispatcher.faults.add({
      apiKey: FETCH,
      action: "hold",
      match: (ctx) => ctx.clientId?.startsWith("samsa-replica-fetcher-") ?? false,
    });
    const lonely = new Producer({ brokers: [`127.0.0.1:${old.kafkaPort}`] }, { acks: 1, lingerMs: 0 });
    for (let i = 0; i < 4; i++) await lonely.send({ topic: "diverge", value: `lost${i}` });
    await lonely.close();
    expect(old.topics.partition("diverge", 0)?.logEndOffset).toBe(9);
    await cluster.crashNode(oldId);
    const next = await cluster.leaderOf("diverge", 0);
    const second = new Producer({ brokers: cluster.bootstrap() }, { acks: -1, lingerMs: 0 });
    for (let i = 0; i < 6; i++) await second.send({ topic: "diverge", value: `new${i}` });
    await second.close();
    // A follower fetch already waiting at the old leader when the hold began may have taken the
    // first of its lonely records: what the new leader holds is the truth.
    const end = next.topics.partition("diverge", 0)?.logEndOffset ?? -1;
    expect(end).toBeLessThan(9 + 6);
    const expected = await readRecords(cluster.bootstrap(), "diverge", end);
    expect(expected.slice(0, 5)).toEqual(Array.from({ length: 5 }, (_, i) => `kept${i}`));
    expect(expected.slice(-6)).toEqual(Array.from({ length: 6 }, (_, i) => `new${i}`));
    expect(expected).not.toContain("lost3");
    await cluster.startNode(oldId);
    const back = cluster.broker(oldId);
    const atEnd = () => {
      const p = back.topics.partition("diverge", 0);
      return p?.logEndOffset === end && p.highWatermark === end;
    };
    await waitFor(atEnd, "the returning replica at the new leader's end");
    expect(back.topics.partition("diverge", 0)?.role).toBe("follower");
    await cluster.waitForIsr("diverge", 0, [1, 2, 3]);
    // Read from the returning replica alone: the others stop, handing it the lead.
    for (const b of cluster.running()) if (b.config.nodeId !== oldId) await cluster.stopNode(b.config.nodeId);
    await waitFor(
      () => back.topics.partition("diverge", 0)?.role === "leader",
      "the returning replica leads",
    );
    expect(await readRecords([`127.0.0.1:${back.kafkaPort}`], "diverge", end)).toEqual(expected);
    expect(next.config.nodeId).not.toBe(oldId);
  }, 90_000);
});
