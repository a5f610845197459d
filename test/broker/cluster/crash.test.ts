/**
 * Broker processes on one etcd, killed with SIGKILL: with min.insync.replicas=2 and acks=all, no
 * acknowledged write is lost when the leader dies mid-stream, and the dead broker, started again,
 * catches up and rejoins the ISR; a producer with default options writing without pause across
 * three such kills surfaces no error and writes every record once, in order.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Admin, Producer } from "../../../client/index.js";
import { readRecords } from "../../helpers/cluster.js";
import { ProcessCluster } from "../../helpers/process-cluster.js";
import { SlidingStream } from "../../helpers/sliding-stream.js";
import { waitFor } from "../../helpers/wait.js";

let cluster: ProcessCluster;

beforeAll(async () => {
  cluster = await ProcessCluster.start(3);
}, 90_000);

afterAll(async () => {
  await cluster?.close();
}, 60_000);

function readValues(topic: string, count: number): Promise<string[]> {
  return readRecords(cluster.bootstrap(), topic, count);
}

describe("kill -9 of a partition leader", () => {
  it("loses no acknowledged acks=all write with min.insync.replicas=2, and the dead broker rejoins", async () => {
    const admin = new Admin({ brokers: cluster.bootstrap() });
    await admin.createTopics([
      { name: "crash", partitions: 1, replicationFactor: 3, configs: { "min.insync.replicas": "2" } },
    ]);
    await admin.close();
    const before = await cluster.waitForLeader("crash", 0, () => true);
    const producer = new Producer({ brokers: cluster.bootstrap() }, { acks: -1, lingerMs: 1, retries: 50 });
    const acked: string[] = [];
    const failed: unknown[] = [];
    let sent = 0;
    const send = () => {
      const value = `r${sent++}`;
      producer.send({ topic: "crash", value }).then(
        () => acked.push(value),
        (err) => failed.push(err),
      );
    };
    for (let i = 0; i < 200; i++) send();
    await waitFor(() => acked.length >= 100, "100 acknowledged before the kill");
    await cluster.kill(before.leader);
    for (let i = 0; i < 200; i++) send();
    const after = await cluster.waitForLeader("crash", 0, (id) => id !== before.leader);
    expect(after.leaderEpoch).toBeGreaterThan(before.leaderEpoch);
    await waitFor(() => acked.length + failed.length === sent, "every send settled");
    await producer.close();
    expect(acked.length).toBeGreaterThanOrEqual(300);
    const values = new Set(await readValues("crash", acked.length));
    const lost = acked.filter((v) => !values.has(v));
    expect(lost).toEqual([]);
    await cluster.startNode(before.leader);
    await waitFor(async () => {
      const p = await cluster.partition("crash", 0);
      return p !== undefined && p.isr.length === 3;
    }, "the restarted broker back in the ISR");
  }, 120_000);

  it("loses nothing when the restarted broker leads and its new leader is killed in turn", async () => {
    const admin = new Admin({ brokers: cluster.bootstrap() });
    await admin.createTopics([
      { name: "crash-twice", partitions: 1, replicationFactor: 3, configs: { "min.insync.replicas": "2" } },
    ]);
    await admin.close();
    const producer = new Producer({ brokers: cluster.bootstrap() }, { acks: -1, lingerMs: 1, retries: 100 });
    const acked: string[] = [];
    let sent = 0;
    const burst = async (n: number) => {
      const sends = [];
      for (let i = 0; i < n; i++) {
        const value = `t${sent++}`;
        sends.push(producer.send({ topic: "crash-twice", value }).then(() => acked.push(value)));
      }
      await Promise.all(sends);
    };
    await burst(50);
    for (let kill = 0; kill < 2; kill++) {
      const before = await cluster.waitForLeader("crash-twice", 0, () => true);
      await cluster.kill(before.leader);
      await burst(50);
      await cluster.startNode(before.leader);
      await waitFor(async () => {
        const p = await cluster.partition("crash-twice", 0);
        return p !== undefined && p.isr.length === 3;
      }, "the restarted broker back in the ISR");
      await burst(50);
    }
    await producer.close();
    expect(acked).toHaveLength(250);
    const values = new Set(await readValues("crash-twice", 250));
    expect(acked.filter((v) => !values.has(v))).toEqual([]);
  }, 180_000);
});

describe("a long-lived producer across repeated leader kills", () => {
  it("surfaces no error with default options and writes every record once, in order", async () => {
    const topic = "crash-stream";
    const admin = new Admin({ brokers: cluster.bootstrap() });
    await admin.createTopics([
      { name: topic, partitions: 1, replicationFactor: 3, configs: { "min.insync.replicas": "2" } },
    ]);
    await admin.close();
    await waitFor(async () => (await cluster.partition(topic, 0))?.isr.length === 3, "ISR of 3");
    const producer = new Producer({ brokers: cluster.bootstrap() });
    const stream = new SlidingStream(producer, topic, 2000);
    await stream.progress(1000, "records acknowledged before the first kill");
    for (let round = 1; round <= 3; round++) {
      const before = await cluster.waitForLeader(topic, 0, () => true);
      await cluster.kill(before.leader);
      await stream.progress(1000, `records acknowledged by a new leader (round ${round})`);
      await cluster.startNode(before.leader);
      await waitFor(
        async () => (await cluster.partition(topic, 0))?.isr.length === 3,
        `broker ${before.leader} back in the ISR (round ${round})`,
      );
      await stream.progress(
        1000,
        `records acknowledged after broker ${before.leader} is back (round ${round})`,
      );
    }
    await stream.stop();
    await producer.close();
    expect(stream.failed.map(String)).toEqual([]);
    const numbered = Array.from({ length: stream.acked.length }, (_, i) => `s${i}`);
    expect(stream.inOffsetOrder()).toEqual(numbered);
    expect(await readValues(topic, numbered.length)).toEqual(numbered);
  }, 240_000);
});
