/**
 * The controller's wire APIs against a single broker (node 1, its own controller): ElectLeaders,
 * AlterPartitionReassignments and ListPartitionReassignments answered through the broker's
 * channel with per-partition errors; AlterPartition and ControlledShutdown only for inter-broker
 * callers and only by the controller.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { ControllerChannel } from "../../../broker/cluster/controller-channel.js";
import { Connection } from "../../../client/connection.js";
import { errorCode, KafkaError } from "../../../protocol/errors.js";
import { startTestBroker, type TestBroker } from "../../helpers/broker.js";
import { trustInterBroker } from "../../helpers/inter-broker.js";

const NODE = 1;
let tb: TestBroker;
let conn: Connection;

beforeAll(async () => {
  tb = await startTestBroker();
  await tb.broker.topics.create("t", 2, 1, {});
  conn = await Connection.connect(`127.0.0.1:${tb.port}`, { clientId: "admin-test" });
});

afterAll(async () => {
  await conn?.close();
  await tb?.stop();
});

const code = (name: Parameters<typeof errorCode>[0]) => errorCode(name);

/** ElectLeaders v2's partition results as "topic-partition code". */
async function elect(
  electionType: number,
  topicPartitions: { topic: string; partitions: number[] }[] | null,
) {
  const r = await conn.send(43, 2, { electionType, topicPartitions, timeoutMs: 10_000 });
  const results = r.replicaElectionResults.flatMap((t) =>
    t.partitionResult.map((p) => `${t.topic}-${p.partitionId} ${p.errorCode}`),
  );
  return { errorCode: r.errorCode, results };
}

/** Replaces the broker's channel for one test (the handlers read `broker.channel`). */
function withChannel(channel: Partial<ControllerChannel>): () => void {
  const original = tb.broker.channel;
  Object.defineProperty(tb.broker, "channel", { value: { ...original, ...channel }, configurable: true });
  return () => Object.defineProperty(tb.broker, "channel", { value: original, configurable: true });
}

describe("ElectLeaders", () => {
  it("answers ELECTION_NOT_NEEDED for partitions their preferred replica leads, unknown ones per partition", async () => {
    const r = await elect(0, [
      { topic: "t", partitions: [1, 0, 7] },
      { topic: "nope", partitions: [0] },
      { topic: "t", partitions: [0] },
    ]);
    expect(r.errorCode).toBe(0);
    expect(r.results).toEqual([
      `t-1 ${code("ELECTION_NOT_NEEDED")}`,
      `t-0 ${code("ELECTION_NOT_NEEDED")}`,
      `t-7 ${code("UNKNOWN_TOPIC_OR_PARTITION")}`,
      `nope-0 ${code("UNKNOWN_TOPIC_OR_PARTITION")}`,
    ]);
  });

  it("unclean election of a led partition is not needed either; null asks every partition that needs one", async () => {
    expect((await elect(1, [{ topic: "t", partitions: [0] }])).results).toEqual([
      `t-0 ${code("ELECTION_NOT_NEEDED")}`,
    ]);
    expect(await elect(0, null)).toEqual({ errorCode: 0, results: [] });
  });

  it("v0 (no election type) elects the preferred replica", async () => {
    const r = await conn.send(43, 0, {
      topicPartitions: [{ topic: "t", partitions: [0] }],
      timeoutMs: 10_000,
    });
    expect(r.replicaElectionResults[0].partitionResult[0].errorCode).toBe(code("ELECTION_NOT_NEEDED"));
  });

  it("refuses an election type other than 0 and 1 with INVALID_REQUEST", async () => {
    const r = await elect(2, [{ topic: "t", partitions: [0] }]);
    expect(r.errorCode).toBe(code("INVALID_REQUEST"));
    expect(r.results).toEqual([`t-0 ${code("INVALID_REQUEST")}`]);
  });

  it("bounds the wait by timeoutMs: REQUEST_TIMED_OUT on every partition asked", async () => {
    const restore = withChannel({ electLeaders: () => new Promise(() => {}) });
    try {
      const r = await conn.send(43, 2, {
        electionType: 0,
        topicPartitions: [{ topic: "t", partitions: [0, 1] }],
        timeoutMs: 50,
      });
      expect(r.replicaElectionResults[0].partitionResult.map((p) => p.errorCode)).toEqual([
        code("REQUEST_TIMED_OUT"),
        code("REQUEST_TIMED_OUT"),
      ]);
    } finally {
      restore();
    }
  });
});

describe("AlterPartitionReassignments and ListPartitionReassignments", () => {
  async function reassign(partitions: { partitionIndex: number; replicas: number[] | null }[], topic = "t") {
    const r = await conn.send(45, 0, { timeoutMs: 10_000, topics: [{ name: topic, partitions }] });
    expect(r.errorCode).toBe(0);
    return r.responses.flatMap((t) =>
      t.partitions.map((p) => [p.partitionIndex, p.errorCode, p.errorMessage]),
    );
  }

  it("a reassignment to the replicas the partition has changes nothing", async () => {
    const before = tb.broker.store.topic("t")?.partitions[0];
    expect(await reassign([{ partitionIndex: 0, replicas: [NODE] }])).toEqual([[0, 0, null]]);
    expect(tb.broker.store.topic("t")?.partitions[0]).toEqual(before);
  });

  it("refuses a broker that is not registered, a cancel with none in progress, an unknown partition", async () => {
    const answers = await reassign([
      { partitionIndex: 0, replicas: [2] },
      { partitionIndex: 1, replicas: null },
      { partitionIndex: 9, replicas: [NODE] },
    ]);
    expect(answers.map(([p, c]) => [p, c])).toEqual([
      [0, code("INVALID_REPLICA_ASSIGNMENT")],
      [1, code("NO_REASSIGNMENT_IN_PROGRESS")],
      [9, code("UNKNOWN_TOPIC_OR_PARTITION")],
    ]);
    expect(answers[0][2]).toMatch(/INVALID_REPLICA_ASSIGNMENT: .*2/);
    expect(tb.broker.store.topic("t")?.partitions[0].replicas).toEqual([NODE]);
  });

  it("lists no reassignment in progress; an unknown partition named is the top-level error", async () => {
    const all = await conn.send(46, 0, { timeoutMs: 10_000, topics: null });
    expect(all).toMatchObject({ errorCode: 0, topics: [] });
    const named = await conn.send(46, 0, {
      timeoutMs: 10_000,
      topics: [{ name: "t", partitionIndexes: [0, 1] }],
    });
    expect(named).toMatchObject({ errorCode: 0, topics: [] });
    const unknown = await conn.send(46, 0, {
      timeoutMs: 10_000,
      topics: [{ name: "t", partitionIndexes: [5] }],
    });
    expect(unknown.errorCode).toBe(code("UNKNOWN_TOPIC_OR_PARTITION"));
    expect(unknown.errorMessage).toContain("t-5");
  });

  it("lists what the controller reports as in progress", async () => {
    const restore = withChannel({
      listReassignments: async () => [
        { topic: "t", partition: 1, replicas: [2, 1], addingReplicas: [2], removingReplicas: [1] },
      ],
    });
    try {
      const r = await conn.send(46, 0, { timeoutMs: 10_000, topics: null });
      expect(r.topics).toEqual([
        {
          name: "t",
          partitions: [{ partitionIndex: 1, replicas: [2, 1], addingReplicas: [2], removingReplicas: [1] }],
        },
      ]);
    } finally {
      restore();
    }
  });
});

describe("AlterPartition", () => {
  function brokerEpoch(): number {
    const epoch = tb.broker.store.broker(NODE)?.epoch;
    if (epoch === undefined) throw new Error("node 1 is not registered");
    return epoch;
  }

  function v3Request(partitionEpochDelta = 0, epoch = brokerEpoch()) {
    const topic = tb.broker.store.topic("t");
    if (!topic) throw new Error("no topic t");
    const p = topic.partitions[0];
    return {
      brokerId: NODE,
      brokerEpoch: epoch,
      topics: [
        {
          topicId: topic.id,
          partitions: [
            {
              partitionIndex: 0,
              leaderEpoch: p.leaderEpoch,
              newIsrWithEpochs: [{ brokerId: NODE, brokerEpoch: epoch }],
              leaderRecoveryState: 0,
              partitionEpoch: p.partitionEpoch + partitionEpochDelta,
            },
          ],
        },
        {
          topicId: "0123456789abcdef0123456789abcdef",
          partitions: [{ partitionIndex: 0, leaderEpoch: 0, newIsrWithEpochs: [], partitionEpoch: 0 }],
        },
      ],
    };
  }

  it("is refused to a caller that is not inter-broker", async () => {
    const r = await conn.send(56, 3, v3Request());
    expect(r).toMatchObject({ errorCode: code("CLUSTER_AUTHORIZATION_FAILED"), topics: [] });
  });

  describe("from an inter-broker caller", () => {
    let untrust: () => void;
    beforeAll(() => {
      untrust = trustInterBroker(tb.broker);
    });
    afterAll(() => untrust());

    it("v3: answers the committed state by topic id, UNKNOWN_TOPIC_ID for an id the store does not know", async () => {
      const p = tb.broker.store.topic("t")?.partitions[0];
      const r = await conn.send(56, 3, v3Request());
      expect(r.errorCode).toBe(0);
      expect(r.topics[0].partitions[0]).toEqual({
        partitionIndex: 0,
        errorCode: 0,
        leaderId: NODE,
        leaderEpoch: p?.leaderEpoch,
        isr: [NODE],
        leaderRecoveryState: 0,
        partitionEpoch: p?.partitionEpoch,
      });
      expect(r.topics[1].partitions[0].errorCode).toBe(code("UNKNOWN_TOPIC_ID"));
    });

    it("v0-v1 name topics; an old partition epoch is INVALID_UPDATE_VERSION, a recovering leader INVALID_REQUEST", async () => {
      const p = tb.broker.store.topic("t")?.partitions[1];
      if (!p) throw new Error("no t-1");
      const r = await conn.send(56, 1, {
        brokerId: NODE,
        brokerEpoch: brokerEpoch(),
        topics: [
          {
            topicName: "t",
            partitions: [
              {
                partitionIndex: 1,
                leaderEpoch: p.leaderEpoch,
                newIsr: [NODE],
                partitionEpoch: p.partitionEpoch,
              },
              {
                partitionIndex: 1,
                leaderEpoch: p.leaderEpoch,
                newIsr: [NODE],
                partitionEpoch: p.partitionEpoch - 1,
              },
              { partitionIndex: 4, leaderEpoch: 0, newIsr: [NODE], partitionEpoch: 0 },
              {
                partitionIndex: 0,
                leaderEpoch: p.leaderEpoch,
                newIsr: [NODE],
                leaderRecoveryState: 1,
                partitionEpoch: p.partitionEpoch,
              },
            ],
          },
          {
            topicName: "nope",
            partitions: [{ partitionIndex: 0, leaderEpoch: 0, newIsr: [NODE], partitionEpoch: 0 }],
          },
        ],
      });
      expect(r.topics.map((t) => t.partitions.map((x) => x.errorCode))).toEqual([
        [0, code("INVALID_UPDATE_VERSION"), code("UNKNOWN_TOPIC_OR_PARTITION"), code("INVALID_REQUEST")],
        [code("UNKNOWN_TOPIC_OR_PARTITION")],
      ]);
    });

    it("a broker epoch that is not the sender's registration is STALE_BROKER_EPOCH", async () => {
      const r = await conn.send(56, 3, v3Request(0, brokerEpoch() - 1));
      expect(r).toMatchObject({ errorCode: code("STALE_BROKER_EPOCH"), topics: [] });
    });

    it("NOT_CONTROLLER from a broker the store does not name controller", async () => {
      const spy = vi.spyOn(tb.broker.store, "controller").mockReturnValue({ nodeId: 2, epoch: 1_000 });
      try {
        const r = await conn.send(56, 3, v3Request());
        expect(r).toMatchObject({ errorCode: code("NOT_CONTROLLER"), topics: [] });
      } finally {
        spy.mockRestore();
      }
    });

    it("a controller call that fails as a whole is the top-level error", async () => {
      const spy = vi
        .spyOn(tb.broker.controller, "alterPartition")
        .mockRejectedValueOnce(new KafkaError("NOT_CONTROLLER", "term lost"));
      try {
        const r = await conn.send(56, 3, v3Request());
        expect(r.errorCode).toBe(code("NOT_CONTROLLER"));
      } finally {
        spy.mockRestore();
      }
    });
  });
});

describe("ControlledShutdown", () => {
  it("is refused to a caller that is not inter-broker", async () => {
    const r = await conn.send(7, 3, {
      brokerId: NODE,
      brokerEpoch: tb.broker.store.broker(NODE)?.epoch ?? 0,
    });
    expect(r).toEqual({ errorCode: code("CLUSTER_AUTHORIZATION_FAILED"), remainingPartitions: [] });
  });

  describe("from an inter-broker caller", () => {
    let untrust: () => void;
    beforeAll(() => {
      untrust = trustInterBroker(tb.broker);
    });
    afterAll(() => untrust());

    it("answers the partitions no other replica can take over", async () => {
      const r = await conn.send(7, 3, {
        brokerId: NODE,
        brokerEpoch: tb.broker.store.broker(NODE)?.epoch ?? 0,
      });
      expect(r.errorCode).toBe(0);
      const remaining = r.remainingPartitions.filter((p) => p.topicName === "t").map((p) => p.partitionIndex);
      expect(remaining.sort()).toEqual([0, 1]);
      expect(tb.broker.store.topic("t")?.partitions[0].leader).toBe(NODE);
    });

    it("STALE_BROKER_EPOCH for an epoch that is not the broker's registration; NOT_CONTROLLER off the controller", async () => {
      const stale = await conn.send(7, 3, { brokerId: 2, brokerEpoch: 1 });
      expect(stale.errorCode).toBe(code("STALE_BROKER_EPOCH"));
      const spy = vi.spyOn(tb.broker.store, "controller").mockReturnValue(null);
      try {
        const r = await conn.send(7, 3, { brokerId: NODE, brokerEpoch: 1 });
        expect(r.errorCode).toBe(code("NOT_CONTROLLER"));
      } finally {
        spy.mockRestore();
      }
    });
  });
});
