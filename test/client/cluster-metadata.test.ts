/**
 * client/cluster.ts against brokers whose Metadata answers disagree: one cut off from the
 * cluster keeps naming itself leader under an old leader epoch. The client asks a different
 * broker on each refresh and never goes back to an older leader epoch of the same topic (KIP-320).
 * The brokers are stand-ins that answer Metadata from a table, so each answer is exactly known.
 */
import { describe, expect, it } from "vitest";
import { Cluster } from "../../client/cluster.js";
import type { Connection } from "../../client/connection.js";
import { ClientError } from "../../client/errors.js";

interface Answer {
  topicId: string;
  leader: number;
  leaderEpoch: number;
}

/** A Cluster whose connections are stand-ins answering Metadata from `answers` by address. */
class StandInCluster extends Cluster {
  readonly asked: string[] = [];
  constructor(readonly answers: Map<string, Answer | "down">) {
    super({ brokers: [...answers.keys()] });
  }

  override connection(address: string): Promise<Connection> {
    const answer = this.answers.get(address);
    if (answer === undefined || answer === "down")
      return Promise.reject(new ClientError("CONNECTION_FAILED", `${address} is down`));
    const request = async (_apiKey: number, body: { topics: { name: string }[] | null }) => {
      this.asked.push(address);
      const live = this.answers.get(address);
      if (live === undefined || live === "down") throw new ClientError("CONNECTION_CLOSED", "gone");
      return metadata(live, body.topics?.map((t) => t.name) ?? ["t"]);
    };
    return Promise.resolve({ closed: false, request } as unknown as Connection);
  }
}

function metadata(answer: Answer, names: string[]) {
  return {
    brokers: [1, 2, 3].map((nodeId) => ({ nodeId, host: "stand-in", port: 9000 + nodeId, rack: null })),
    controllerId: 2,
    clusterId: "c",
    topics: names.map((name) => ({
      errorCode: 0,
      name,
      topicId: answer.topicId,
      isInternal: false,
      partitions: [
        {
          errorCode: 0,
          partitionIndex: 0,
          leaderId: answer.leader,
          leaderEpoch: answer.leaderEpoch,
          replicaNodes: [1, 2, 3],
          isrNodes: [1, 2, 3],
          offlineReplicas: [],
        },
      ],
    })),
  };
}

const ID = "0123456789abcdef0123456789abcdef";

describe("Cluster metadata from brokers that disagree", () => {
  it("asks the brokers in turn and keeps the newest leader epoch across invalidate", async () => {
    const answers = new Map<string, Answer | "down">([
      ["a:1", { topicId: ID, leader: 1, leaderEpoch: 4 }],
      ["b:2", { topicId: ID, leader: 2, leaderEpoch: 5 }],
    ]);
    const cluster = new StandInCluster(answers);
    await cluster.refresh(["t"]);
    await cluster.refresh(["t"]);
    expect(cluster.asked).toEqual(["a:1", "b:2"]);
    expect((await cluster.topic("t")).partitions[0]).toMatchObject({ leader: 2, leaderEpoch: 5 });
    for (let i = 0; i < 4; i++) {
      cluster.invalidate("t");
      const info = await cluster.topic("t");
      expect(info.partitions[0]).toMatchObject({ leader: 2, leaderEpoch: 5 });
    }
    expect(cluster.asked.filter((a) => a === "a:1").length).toBeGreaterThanOrEqual(2);
    answers.set("a:1", { topicId: ID, leader: 1, leaderEpoch: 6 });
    for (let i = 0; i < 2; i++) await cluster.refresh(["t"]);
    expect((await cluster.topic("t")).partitions[0]).toMatchObject({ leader: 1, leaderEpoch: 6 });
  });

  it("takes a lower leader epoch of a re-created topic (another id)", async () => {
    const answers = new Map<string, Answer | "down">([["a:1", { topicId: ID, leader: 1, leaderEpoch: 9 }]]);
    const cluster = new StandInCluster(answers);
    await cluster.refresh(["t"]);
    answers.set("a:1", { topicId: ID.replace("0", "f"), leader: 3, leaderEpoch: 0 });
    await cluster.refresh(["t"]);
    expect((await cluster.topic("t")).partitions[0]).toMatchObject({ leader: 3, leaderEpoch: 0 });
  });

  it("moves on to the next broker when the one asked fails", async () => {
    const answers = new Map<string, Answer | "down">([
      ["a:1", { topicId: ID, leader: 1, leaderEpoch: 1 }],
      ["b:2", { topicId: ID, leader: 1, leaderEpoch: 1 }],
    ]);
    const cluster = new StandInCluster(answers);
    await cluster.refresh(["t"]);
    answers.set("b:2", "down");
    await cluster.refresh(["t"]);
    await cluster.refresh(["t"]);
    expect(cluster.asked).toEqual(["a:1", "a:1", "a:1"]);
  });
});
