/**
 * What clients learn of a three-broker cluster, asked of each broker in turn: Metadata and
 * DescribeCluster over the wire and `kcat -L` list all three brokers, the same controller and
 * cluster id, and the same leaders and ISRs; after the controller stops, the two left agree on
 * its successor.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Message } from "../../../protocol/codec.js";
import { TestCluster } from "../../helpers/cluster.js";
import { TestClient } from "../../helpers/kafka-client.js";
import { waitFor } from "../../helpers/wait.js";
import { kcat, requireKcat } from "../helpers.js";
import { createReplicatedTopic } from "./helpers.js";

const METADATA = 3;
const DESCRIBE_CLUSTER = 60;
const TOPIC = "meta";

let cluster: TestCluster;
let leaders: number[];
const clients: TestClient[] = [];

beforeAll(async () => {
  cluster = await TestCluster.start(3);
  leaders = await createReplicatedTopic(cluster, TOPIC, 3);
}, 120_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await cluster?.close();
}, 60_000);

async function clientOf(nodeId: number): Promise<TestClient> {
  const c = await TestClient.connect(cluster.broker(nodeId).kafkaPort);
  clients.push(c);
  return c;
}

/** The running brokers as Metadata should list them, by node id. */
function expectedBrokers() {
  return cluster
    .running()
    .map((b) => ({ nodeId: b.config.nodeId, host: "127.0.0.1", port: b.kafkaPort }))
    .sort((a, b) => a.nodeId - b.nodeId);
}

const metadata = (c: TestClient) =>
  c.request(METADATA, 12, {
    topics: null,
    allowAutoTopicCreation: false,
    includeTopicAuthorizedOperations: false,
  });

/** A topic's partitions as [partition, leader, replicas, isr], sorted. */
function partitionsOf(r: Message, topic: string): [number, number, number[], number[]][] {
  const t = (r.topics as Message[]).find((x) => x.name === topic);
  if (!t) return [];
  const sorted = (ids: number[]) => [...ids].sort((a, b) => a - b);
  return (t.partitions as Message[])
    .map((p): [number, number, number[], number[]] => [
      p.partitionIndex,
      p.leaderId,
      sorted(p.replicaNodes),
      sorted(p.isrNodes),
    ])
    .sort((a, b) => a[0] - b[0]);
}

// Without kcat this fails naming the install command (never a skip).
it("kcat is installed", () => {
  requireKcat();
});

describe("three brokers, asked one by one", () => {
  it("Metadata from each broker lists all three brokers, one controller and the same partitions", async () => {
    const controller = cluster.running()[0].store.controller()?.nodeId;
    expect([1, 2, 3]).toContain(controller);
    const clusterIds = new Set<string>();
    for (const id of [1, 2, 3]) {
      const r = await metadata(await clientOf(id));
      const brokers = (r.brokers as Message[])
        .map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port }))
        .sort((a, b) => a.nodeId - b.nodeId);
      expect(brokers, `brokers from broker ${id}`).toEqual(expectedBrokers());
      expect(r.controllerId, `controller from broker ${id}`).toBe(controller);
      clusterIds.add(r.clusterId);
      expect(partitionsOf(r, TOPIC), `partitions from broker ${id}`).toEqual(
        leaders.map((leader, p) => [p, leader, [1, 2, 3], [1, 2, 3]]),
      );
    }
    expect(clusterIds.size).toBe(1);
    expect([...clusterIds][0]).toBe(cluster.broker(1).store.clusterId());
  });

  it("DescribeCluster v0-v2 from each broker: the same cluster id, controller and three brokers", async () => {
    const controller = cluster.running()[0].store.controller()?.nodeId;
    for (const id of [1, 2, 3]) {
      const c = await clientOf(id);
      for (const v of [0, 1, 2]) {
        const r = await c.request(DESCRIBE_CLUSTER, v, {
          includeClusterAuthorizedOperations: false,
          endpointType: 1,
        });
        expect(r, `DescribeCluster v${v} from broker ${id}`).toMatchObject({
          errorCode: 0,
          clusterId: cluster.broker(1).store.clusterId(),
          controllerId: controller,
        });
        const brokers = (r.brokers as Message[])
          .map((b) => ({ nodeId: b.brokerId, host: b.host, port: b.port }))
          .sort((a, b) => a.nodeId - b.nodeId);
        expect(brokers).toEqual(expectedBrokers());
      }
    }
  });

  it("kcat -L with one broker as bootstrap, each in turn, shows three brokers and the same controller", async () => {
    const controller = cluster.running()[0].store.controller()?.nodeId;
    const names = expectedBrokers().map((b) => ({ id: b.nodeId, name: `${b.host}:${b.port}` }));
    for (const id of [1, 2, 3]) {
      const port = cluster.broker(id).kafkaPort;
      const plain = (await kcat(port, ["-L"])).stdout.toString("utf8");
      expect(plain).toContain(" 3 brokers:");
      const controllerName = names.find((n) => n.id === controller)?.name;
      expect(plain).toContain(`broker ${controller} at ${controllerName} (controller)`);

      const json = JSON.parse((await kcat(port, ["-L", "-J"])).stdout.toString("utf8")) as {
        controllerid: number;
        brokers: { id: number; name: string }[];
        topics: {
          topic: string;
          partitions: {
            partition: number;
            leader: number;
            replicas: { id: number }[];
            isrs: { id: number }[];
          }[];
        }[];
      };
      expect(json.controllerid, `kcat's controller via broker ${id}`).toBe(controller);
      expect([...json.brokers].sort((a, b) => a.id - b.id)).toEqual(names);
      const topic = json.topics.find((t) => t.topic === TOPIC);
      const ids = (xs: { id: number }[]) => xs.map((x) => x.id).sort((a, b) => a - b);
      expect(
        topic?.partitions
          .map((p) => [p.partition, p.leader, ids(p.replicas), ids(p.isrs)])
          .sort((a, b) => (a[0] as number) - (b[0] as number)),
      ).toEqual(leaders.map((leader, p) => [p, leader, [1, 2, 3], [1, 2, 3]]));
    }
  });

  it("once the controller stops, the two brokers left list each other and agree on a new controller", async () => {
    const old = cluster.running()[0].store.controller()?.nodeId;
    if (old === undefined) throw new Error("no controller");
    await cluster.stopNode(old);
    await cluster.waitForBrokers(2);
    const left = [1, 2, 3].filter((id) => id !== old);
    await waitFor(
      () => cluster.running().every((b) => left.includes(b.store.controller()?.nodeId ?? -1)),
      "a controller among the brokers left",
    );
    const controllers = new Set<number>();
    for (const id of left) {
      const r = await metadata(await clientOf(id));
      expect((r.brokers as Message[]).map((b) => b.nodeId).sort()).toEqual(left);
      controllers.add(r.controllerId);
    }
    expect(controllers.size).toBe(1);
    expect(left).toContain([...controllers][0]);
    // Every partition the old controller led has moved to a live broker.
    const c = await clientOf(left[0]);
    await waitFor(async () => {
      const parts = partitionsOf(await metadata(c), TOPIC);
      return parts.length === 3 && parts.every(([, leader]) => left.includes(leader));
    }, `${TOPIC}'s leaders on the brokers left`);
  });
});
