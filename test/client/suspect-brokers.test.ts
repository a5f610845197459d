/**
 * How the client leaves a broker that stopped answering (issue 14):
 * - a request that times out closes its connection, so the requests behind it fail at once with
 *   CONNECTION_CLOSED instead of waiting on the same silent broker (a real broker holding one
 *   request by a fault);
 * - a broker whose request timed out or that could not be reached is suspect: Metadata asks the
 *   other brokers (bootstrap ones included) until it answers again or SUSPECT_MS pass (stand-in
 *   brokers answering Metadata from a table, so each refresh's target is exactly known);
 * - Admin.listOffsets retries a partition's retriable error (UNKNOWN_TOPIC_OR_PARTITION from a
 *   leader that has not yet heard of a new topic) after a refresh, and gives up on a topic that
 *   Metadata does not know after `retry.retries` refreshes.
 * - the batches of a partition's requests that failed together (maxInFlightPerPartition > 1) are
 *   retried in the order they were sealed.
 * The same against a three-broker cluster: test/client/paused-leader.test.ts.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { Admin } from "../../client/admin.js";
import { Cluster, SUSPECT_MS } from "../../client/cluster.js";
import { Connection, type ConnectionObserver } from "../../client/connection.js";
import { ClientError } from "../../client/errors.js";
import { Producer } from "../../client/producer.js";
import { errorCode } from "../../protocol/errors.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { waitFor, within } from "../helpers/wait.js";

const METADATA = 3;
const LIST_OFFSETS = 2;
const ID = "0123456789abcdef0123456789abcdef";
const UNKNOWN = errorCode("UNKNOWN_TOPIC_OR_PARTITION");

type Behaviour = "answer" | "silent" | "down";

/**
 * A Cluster whose brokers are stand-ins: "answer" answers Metadata (and ListOffsets from
 * `listOffsetsErrors`, one error code per request, then 0), "silent" times every request out,
 * "down" refuses connections. Every request's target is recorded in `asked`.
 */
class StandInCluster extends Cluster {
  readonly asked: string[] = [];
  readonly listOffsetsErrors: number[] = [];
  existing = new Set(["t"]);

  constructor(readonly behaviour: Map<string, Behaviour>) {
    super({ brokers: [...behaviour.keys()], retry: { retries: 3, initialBackoffMs: 1, maxBackoffMs: 2 } });
  }

  protected override open(address: string, observer: ConnectionObserver): Promise<Connection> {
    if (this.behaviour.get(address) === "down")
      return Promise.reject(new ClientError("CONNECTION_FAILED", `${address} is down`));
    const request = async (apiKey: number, body: { topics: { name: string }[] | null }) => {
      this.asked.push(address);
      if (this.behaviour.get(address) !== "answer") {
        observer.failed();
        throw new ClientError("REQUEST_TIMEOUT", `API ${apiKey} to ${address} timed out`);
      }
      observer.answered();
      if (apiKey === LIST_OFFSETS) return listOffsets(this.listOffsetsErrors.shift() ?? 0);
      return metadata(body.topics?.map((t) => t.name) ?? ["t"], this.existing);
    };
    return Promise.resolve({ closed: false, request } as unknown as Connection);
  }
}

function metadata(names: string[], known: Set<string>) {
  return {
    brokers: [{ nodeId: 1, host: "a", port: 1, rack: null }],
    controllerId: 1,
    clusterId: "c",
    topics: names.map((name) => ({
      errorCode: known.has(name) ? 0 : UNKNOWN,
      name,
      topicId: ID,
      isInternal: false,
      partitions: known.has(name)
        ? [{ errorCode: 0, partitionIndex: 0, leaderId: 1, leaderEpoch: 0, replicaNodes: [1], isrNodes: [1] }]
        : [],
    })),
  };
}

function listOffsets(code: number) {
  return {
    topics: [{ name: "t", partitions: [{ partitionIndex: 0, errorCode: code, timestamp: -1, offset: 7 }] }],
  };
}

/** `n` refreshes of topic "t"; the addresses they asked. */
async function refreshes(cluster: StandInCluster, n: number): Promise<string[]> {
  const from = cluster.asked.length;
  for (let i = 0; i < n; i++) await cluster.refresh(["t"]);
  return cluster.asked.slice(from);
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("suspect brokers", () => {
  it("a broker whose request timed out is asked last until it answers again", async () => {
    const behaviour = new Map<string, Behaviour>([
      ["a:1", "silent"],
      ["b:2", "answer"],
      ["c:3", "answer"],
    ]);
    const cluster = new StandInCluster(behaviour);
    // The first refresh asks a:1 (the first bootstrap broker), which times out; b:2 answers.
    expect(await refreshes(cluster, 1)).toEqual(["a:1", "b:2"]);
    expect(cluster.isSuspect("a:1")).toBe(true);
    // Refreshes still go round, among the brokers that answer.
    const next = await refreshes(cluster, 6);
    expect(next).not.toContain("a:1");
    expect(new Set(next)).toEqual(new Set(["b:2", "c:3"]));
    // a:1 answers a request of its own (a produce to the partitions it leads): no longer suspect.
    behaviour.set("a:1", "answer");
    await (await cluster.connection("a:1")).request(METADATA, {
      topics: null,
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
      includeClusterAuthorizedOperations: false,
    });
    expect(cluster.isSuspect("a:1")).toBe(false);
    expect(await refreshes(cluster, 3)).toContain("a:1");
  });

  it("a broker that refused its connection is asked last; suspicion ends after SUSPECT_MS", async () => {
    const behaviour = new Map<string, Behaviour>([
      ["a:1", "down"],
      ["b:2", "answer"],
    ]);
    const cluster = new StandInCluster(behaviour);
    expect(await refreshes(cluster, 1)).toEqual(["b:2"]);
    behaviour.set("a:1", "answer");
    expect(await refreshes(cluster, 4)).toEqual(["b:2", "b:2", "b:2", "b:2"]);
    const now = Date.now();
    vi.spyOn(Date, "now").mockReturnValue(now + SUSPECT_MS + 1);
    expect(await refreshes(cluster, 2)).toContain("a:1");
  });

  it("every broker suspect: they are still asked, in turn", async () => {
    const behaviour = new Map<string, Behaviour>([
      ["a:1", "silent"],
      ["b:2", "silent"],
    ]);
    const cluster = new StandInCluster(behaviour);
    await expect(cluster.refresh(["t"])).rejects.toMatchObject({ code: "REQUEST_TIMEOUT" });
    behaviour.set("b:2", "answer");
    await cluster.refresh(["t"]);
    expect(cluster.isSuspect("b:2")).toBe(false);
  });
});

describe("Admin.listOffsets retries", () => {
  it("a leader's UNKNOWN_TOPIC_OR_PARTITION for a topic just created, after a refresh", async () => {
    const cluster = new StandInCluster(new Map([["a:1", "answer"]]));
    cluster.listOffsetsErrors.push(UNKNOWN, UNKNOWN);
    const admin = new Admin(cluster);
    expect(await admin.listOffsets("t", "latest")).toEqual([{ partition: 0, offset: 7, timestamp: -1 }]);
    expect(cluster.asked.filter((a) => a === "a:1").length).toBeGreaterThanOrEqual(5);
  });

  it("a topic Metadata does not know fails after retry.retries refreshes", async () => {
    const cluster = new StandInCluster(new Map([["a:1", "answer"]]));
    const admin = new Admin(cluster);
    await expect(admin.listOffsets("nope", "latest")).rejects.toMatchObject({
      code: "UNKNOWN_TOPIC_OR_PARTITION",
    });
    // One Metadata request per attempt: the first and retries: 3.
    expect(cluster.asked.length).toBe(4);
  });
});

describe("a request that times out", () => {
  let tb: TestBroker | null = null;
  afterEach(async () => {
    tb?.broker.dispatcher.faults.clear();
    await tb?.stop();
    tb = null;
  });

  it("closes its connection: the requests behind it fail at once, and the observer hears of it", async () => {
    tb = await startTestBroker();
    const heard: string[] = [];
    const conn = await Connection.connect(
      `127.0.0.1:${tb.port}`,
      { requestTimeoutMs: 300 },
      { answered: () => heard.push("answered"), failed: () => heard.push("failed") },
    );
    expect(heard).toEqual(["answered"]);
    tb.broker.dispatcher.faults.add({ apiKey: METADATA, action: "hold", times: 1 });
    const body = {
      topics: null,
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
      includeClusterAuthorizedOperations: false,
    };
    const held = conn.request(METADATA, body);
    // Behind the held one, with a timeout of its own far beyond the test's wait.
    const behind = conn.request(METADATA, body, 600_000);
    behind.catch(() => {});
    await expect(held).rejects.toMatchObject({ code: "REQUEST_TIMEOUT" });
    await expect(within(behind, "the request behind the timed-out one")).rejects.toMatchObject({
      code: "CONNECTION_CLOSED",
      message: expect.stringMatching(/after a request timed out/),
    });
    expect(conn.closed).toBe(true);
    expect(heard).toEqual(["answered", "failed"]);
  });

  it("fails a partition's requests in flight together; their batches are retried in the order sealed", async () => {
    tb = await startTestBroker();
    const brokers = [`127.0.0.1:${tb.port}`];
    const admin = new Admin({ brokers });
    await admin.createTopics([{ name: "inflight", partitions: 1 }]);
    await admin.close();
    const faults = tb.broker.dispatcher.faults;
    const producer = new Producer(
      { brokers, requestTimeoutMs: 1_000, retry: { initialBackoffMs: 10, maxBackoffMs: 20 } },
      { acks: 1, idempotent: false, lingerMs: 0, maxInFlightPerPartition: 3 },
    );
    try {
      await producer.send({ topic: "inflight", partition: 0, value: "warm-up" });
      // Three requests, one batch each, held by the broker: the first's timeout fails all three.
      faults.add({ apiKey: 0, action: "hold", times: 3 });
      const sends = [];
      for (let i = 0; i < 3; i++) {
        sends.push(producer.send({ topic: "inflight", partition: 0, value: `v${i}` }));
        await waitFor(() => faults.hits.get(0) === i + 1, `request ${i + 1} held`);
      }
      const offsets = (await within(Promise.all(sends), "the retried sends")).map((m) => m.offset);
      expect(offsets).toEqual([1, 2, 3]);
    } finally {
      await producer.close();
    }
  });
});
