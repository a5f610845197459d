/**
 * etcd down for the whole cluster: brokers keep serving the partitions they lead with their
 * current ISR (acks=all), metadata changes get a retriable error, a broker restarted meanwhile
 * cannot start but loses nothing, and everything resumes once etcd is back.
 */
import { describe, expect, it } from "vitest";
import { Admin, Producer } from "../../../client/index.js";
import { clusterForFile, readRecords, type TestCluster } from "../../helpers/cluster.js";
import { waitFor } from "../../helpers/wait.js";

let cluster: TestCluster;
clusterForFile(3, {}, (c) => {
  cluster = c;
});

function count(topic: string, expected: number): Promise<string[]> {
  return readRecords(cluster.bootstrap(), topic, expected);
}

describe("etcd down", () => {
  it("keeps acks=all produce and fetch served, refuses metadata changes retriably, and resumes", async () => {
    const admin = new Admin({ brokers: cluster.bootstrap() });
    await admin.createTopics([{ name: "outage", partitions: 1, replicationFactor: 3 }]);
    const producer = new Producer({ brokers: cluster.bootstrap() }, { acks: -1, lingerMs: 0 });
    for (let i = 0; i < 10; i++) await producer.send({ topic: "outage", value: `before${i}` });
    const leader = await cluster.leaderOf("outage", 0);
    await cluster.etcd.stop();
    // Past every lease: the brokers have given up their registrations, and still serve.
    await waitFor(() => cluster.running().every((b) => !b.mayLead()), "every registration given up");
    for (let i = 0; i < 10; i++) await producer.send({ topic: "outage", value: `during${i}` });
    expect(leader.topics.partition("outage", 0)?.highWatermark).toBe(20);
    expect(await count("outage", 20)).toHaveLength(20);
    const refused = await admin
      .createTopics([{ name: "while-down", partitions: 1, replicationFactor: 1 }], { timeoutMs: 2_000 })
      .then(
        () => null,
        (err: unknown) => err,
      );
    expect(refused).toMatchObject({ retriable: true });
    await cluster.etcd.restart();
    await waitFor(() => cluster.running().every((b) => b.mayLead()), "every broker registered again");
    await cluster.waitForBrokers(3);
    await admin.createTopics([{ name: "after", partitions: 1, replicationFactor: 3 }]);
    for (let i = 0; i < 10; i++) await producer.send({ topic: "outage", value: `after${i}` });
    await producer.send({ topic: "after", value: "x" });
    await producer.close();
    await admin.close();
    const all = await count("outage", 30);
    expect(new Set(all).size).toBe(30);
  }, 120_000);

  it("a broker restarted while etcd is down fails to start and keeps its data", async () => {
    const admin = new Admin({ brokers: cluster.bootstrap() });
    await admin.createTopics([{ name: "kept", partitions: 1, replicationFactor: 3 }]);
    await admin.close();
    const producer = new Producer({ brokers: cluster.bootstrap() }, { acks: -1, lingerMs: 0 });
    for (let i = 0; i < 5; i++) await producer.send({ topic: "kept", value: `k${i}` });
    await producer.close();
    await waitFor(
      () => cluster.running().every((b) => b.topics.partition("kept", 0)?.logEndOffset === 5),
      "5 records on every replica",
    );
    await cluster.stopNode(3);
    await cluster.etcd.stop();
    await expect(cluster.startNode(3)).rejects.toMatchObject({ code: "REQUEST_TIMED_OUT" });
    await cluster.etcd.restart();
    const back = await cluster.startNode(3);
    await cluster.waitForBrokers(3);
    await waitFor(() => back.topics.partition("kept", 0)?.logEndOffset === 5, "broker 3 holds its 5 records");
  }, 120_000);
});
