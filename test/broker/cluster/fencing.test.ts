/**
 * A leader cut off from etcd gives up its registration before etcd expires it: from then on it
 * refuses acks=1 produce (NOT_LEADER_OR_FOLLOWER), the controller moves its leaderships, and once
 * the link is back it registers again, follows the new leader and rejoins the ISR. Nothing
 * acknowledged is lost.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Admin, Producer } from "../../../client/index.js";
import { readRecords, TestCluster } from "../../helpers/cluster.js";
import { TcpProxy } from "../../helpers/tcp-proxy.js";
import { waitFor } from "../../helpers/wait.js";

let cluster: TestCluster;
let proxy: TcpProxy;

beforeAll(async () => {
  cluster = await TestCluster.start(2);
  proxy = await TcpProxy.start(Number(cluster.etcd.endpoint.split(":")[1]));
  await cluster.startNode(3, { cluster: `etcd://${proxy.endpoint}` });
  await cluster.waitForBrokers(3);
}, 60_000);

afterAll(async () => {
  await cluster?.close();
  await proxy?.close();
}, 60_000);

describe("a leader cut off from etcd", () => {
  it("stops acknowledging acks=1, loses its leaderships, and comes back as a follower", async () => {
    const admin = new Admin({ brokers: cluster.bootstrap() });
    await admin.createTopics([{ name: "fenced", assignments: [[3, 1, 2]] }]);
    await admin.close();
    const cutOff = cluster.broker(3);
    await waitFor(() => cutOff.topics.partition("fenced", 0)?.role === "leader", "broker 3 leads");
    const all = new Producer({ brokers: cluster.bootstrap() }, { acks: -1, lingerMs: 0 });
    for (let i = 0; i < 5; i++) await all.send({ topic: "fenced", value: `a${i}` });
    proxy.cut();
    await waitFor(() => !cutOff.mayLead(), "broker 3 gives up its registration");
    const direct = new Producer(
      { brokers: [`127.0.0.1:${cutOff.kafkaPort}`] },
      { acks: 1, lingerMs: 0, retries: 0, idempotent: false },
    );
    await expect(direct.send({ topic: "fenced", value: "refused" })).rejects.toMatchObject({
      code: "NOT_LEADER_OR_FOLLOWER",
    });
    await direct.close().catch(() => undefined);
    const others = cluster.running().filter((b) => b.config.nodeId !== 3);
    await waitFor(() => {
      const state = others[0].store.topic("fenced")?.partitions[0];
      return state !== undefined && state.leader !== 3 && !state.isr.includes(3);
    }, "the controller moves the leadership away from broker 3");
    const majority = new Producer({ brokers: others.map((b) => `127.0.0.1:${b.kafkaPort}`) }, { acks: -1 });
    for (let i = 0; i < 5; i++) await majority.send({ topic: "fenced", value: `b${i}` });
    await majority.close();
    proxy.restore();
    await waitFor(() => cutOff.mayLead(), "broker 3 registered again");
    await cluster.waitForIsr("fenced", 0, [1, 2, 3]);
    expect(cutOff.topics.partition("fenced", 0)?.role).toBe("follower");
    await all.close();
    const values = await readRecords(cluster.bootstrap(), "fenced", 10);
    expect(values).toEqual([...[0, 1, 2, 3, 4].map((i) => `a${i}`), ...[0, 1, 2, 3, 4].map((i) => `b${i}`)]);
    await waitFor(
      () => cutOff.topics.partition("fenced", 0)?.logEndOffset === 10,
      "broker 3 holds the new leader's records",
    );
  }, 90_000);
});
