/**
 * The leader's side of replication at the protocol level (issue 13): Fetch with a replica id and
 * OffsetForLeaderEpoch with a replica id are served only to inter-broker callers; a follower
 * reads up to the log end (beyond the high watermark), its fetch offset moves the high watermark,
 * a diverging last fetched epoch is answered at once with the epoch's end (KIP-320), a follower
 * fetch with no data waits and is woken by an append, and a replica that is not assigned, a
 * partition not led here or a stale epoch are refused as Kafka refuses them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Partition } from "../../broker/partition.js";
import type { Message } from "../../protocol/codec.js";
import { type ErrorName, errorCode } from "../../protocol/errors.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { trustInterBroker } from "../helpers/inter-broker.js";
import { TestClient } from "../helpers/kafka-client.js";
import { batchOf } from "../helpers/records.js";
import { produceRequest } from "../helpers/requests.js";
import { within } from "../helpers/wait.js";

const PRODUCE = 0;
const FETCH = 1;
const CREATE_TOPICS = 19;
const OFFSET_FOR_LEADER_EPOCH = 23;
const LEADER = 1;
const FOLLOWER = 2;
const REPLICA_CLIENT = "samsa-replica-fetcher-2";

let tb: TestBroker;
/** An inter-broker caller (its client id is trusted). */
let replica: TestClient;
/** Anyone else. */
let outsider: TestClient;
let topics = 0;

beforeAll(async () => {
  tb = await startTestBroker({ "node.id": LEADER });
  trustInterBroker(tb.broker, (id) => id === REPLICA_CLIENT);
  replica = await TestClient.connect(tb.port);
  replica.clientId = REPLICA_CLIENT;
  outsider = await TestClient.connect(tb.port);
});

afterAll(async () => {
  replica?.close();
  outsider?.close();
  await tb?.stop();
});

const code = (name: ErrorName) => errorCode(name);

/** A new topic whose partition 0 leads replicas [LEADER, FOLLOWER] with in-sync `isr`. */
async function topic(isr = [LEADER, FOLLOWER]): Promise<{ name: string; id: string; partition: Partition }> {
  const name = `replicated-${topics++}`;
  const r = await outsider.request(CREATE_TOPICS, 7, {
    topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 5000,
  });
  expect(r.topics[0].errorCode).toBe(0);
  const partition = tb.broker.topics.partition(name, 0);
  if (!partition) throw new Error("no partition");
  partition.makeLeader(partition.leaderEpoch, partition.partitionEpoch + 1, isr, [LEADER, FOLLOWER]);
  return { name, id: r.topics[0].topicId as string, partition };
}

async function produce(name: string, records: Buffer): Promise<void> {
  const r = await outsider.request(PRODUCE, 9, produceRequest(name, records, 1));
  expect(r.responses[0].partitionResponses[0].errorCode).toBe(0);
}

interface ReplicaFetch {
  offset: number;
  lastFetchedEpoch?: number;
  currentLeaderEpoch?: number;
  replicaId?: number;
  minBytes?: number;
  maxWaitMs?: number;
}

/** A follower's Fetch v12 (by name) of partition 0. */
function replicaFetch(name: string, f: ReplicaFetch): Message {
  return {
    replicaId: f.replicaId ?? FOLLOWER,
    maxWaitMs: f.maxWaitMs ?? 0,
    minBytes: f.minBytes ?? 0,
    maxBytes: 1 << 20,
    sessionEpoch: -1,
    topics: [
      {
        topic: name,
        partitions: [
          {
            partition: 0,
            currentLeaderEpoch: f.currentLeaderEpoch ?? -1,
            fetchOffset: f.offset,
            lastFetchedEpoch: f.lastFetchedEpoch ?? -1,
            partitionMaxBytes: 1 << 20,
          },
        ],
      },
    ],
    forgottenTopicsData: [],
  };
}

async function fetchPartition(client: TestClient, name: string, f: ReplicaFetch): Promise<Message> {
  const r = await client.request(FETCH, 12, replicaFetch(name, f));
  expect(r.errorCode).toBe(0);
  return r.responses[0].partitions[0];
}

function epochRequest(name: string, leaderEpoch: number, currentLeaderEpoch = -1): Message {
  return {
    replicaId: FOLLOWER,
    topics: [{ topic: name, partitions: [{ partition: 0, currentLeaderEpoch, leaderEpoch }] }],
  };
}

describe("replica Fetch", () => {
  it("is refused at every version to a caller that is not inter-broker", async () => {
    const { name, id } = await topic();
    for (let v = 4; v <= 17; v++) {
      const body =
        v < 13
          ? replicaFetch(name, { offset: 0 })
          : {
              ...replicaFetch(name, { offset: 0 }),
              topics: [
                { topicId: id, partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 100 }] },
              ],
            };
      if (v >= 15) body.replicaState = { replicaId: FOLLOWER, replicaEpoch: 1 };
      const r = await outsider.request(FETCH, v, body);
      // v4-v6 have no top-level error code: each partition carries it.
      if (v >= 7) expect(r.errorCode, `v${v}`).toBe(code("CLUSTER_AUTHORIZATION_FAILED"));
      expect(r.responses[0].partitions[0], `v${v}`).toMatchObject({
        errorCode: code("CLUSTER_AUTHORIZATION_FAILED"),
        records: Buffer.alloc(0),
      });
    }
    // The same request from the inter-broker caller is served (v15: ReplicaState, by id).
    const served = await replica.request(FETCH, 15, {
      ...replicaFetch(name, { offset: 0 }),
      replicaState: { replicaId: FOLLOWER, replicaEpoch: 1 },
      topics: [{ topicId: id, partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 100 }] }],
    });
    expect(served.errorCode).toBe(0);
    expect(served.responses[0].partitions[0].errorCode).toBe(0);
  });

  it("reads a follower up to the log end, records its fetch offset and moves the high watermark by it", async () => {
    const { name, partition } = await topic();
    await produce(name, batchOf(3, "a"));
    // The follower is in the ISR and has fetched nothing: the high watermark stays at 0.
    expect(partition.highWatermark).toBe(0);
    const first = await fetchPartition(replica, name, { offset: 0 });
    expect(first).toMatchObject({ errorCode: 0, highWatermark: 0, logStartOffset: 0 });
    expect((first.records as Buffer).length).toBeGreaterThan(0);
    // A consumer still sees nothing below the high watermark.
    const consumer = await outsider.request(FETCH, 12, {
      ...replicaFetch(name, { offset: 0 }),
      replicaId: -1,
    });
    expect((consumer.responses[0].partitions[0].records as Buffer).length).toBe(0);

    const second = await fetchPartition(replica, name, {
      offset: 3,
      lastFetchedEpoch: partition.leaderEpoch,
    });
    expect(second).toMatchObject({ errorCode: 0, highWatermark: 3, logStartOffset: 0 });
    expect((second.records as Buffer).length).toBe(0);
    expect(partition.followerState(FOLLOWER)?.logEndOffset).toBe(3);
  });

  it("answers a diverging last fetched epoch at once, with the epoch's end and no records (KIP-320)", async () => {
    const { name, partition } = await topic([LEADER]);
    const epoch = partition.leaderEpoch;
    await produce(name, batchOf(3, "a"));
    partition.makeLeader(epoch + 1, partition.partitionEpoch + 1, [LEADER], [LEADER, FOLLOWER]);
    await produce(name, batchOf(2, "b"));
    // The follower holds offsets 0-4 of epoch `epoch`, which ended at 3 here: it truncates to 3.
    const r = await within(
      fetchPartition(replica, name, { offset: 5, lastFetchedEpoch: epoch, minBytes: 1, maxWaitMs: 60_000 }),
      "the diverging answer",
    );
    expect(r).toMatchObject({ errorCode: 0, divergingEpoch: { epoch, endOffset: 3 } });
    expect((r.records as Buffer).length).toBe(0);
    // Its fetch was not recorded: the leader does not know where the follower's log ends.
    expect(partition.followerState(FOLLOWER)?.logEndOffset).toBe(-1);
  });

  it("holds a follower's fetch that finds no data until an append wakes it", async () => {
    const { name, partition } = await topic([LEADER]);
    await produce(name, batchOf(2, "a"));
    const waiting = fetchPartition(replica, name, {
      offset: 2,
      lastFetchedEpoch: partition.leaderEpoch,
      minBytes: 1,
      maxWaitMs: 60_000,
    });
    await produce(name, batchOf(4, "b"));
    const r = await within(waiting, "the woken follower fetch");
    expect(r.errorCode).toBe(0);
    expect((r.records as Buffer).length).toBeGreaterThan(0);
  });

  it("refuses an unassigned replica, a partition not led here and stale epochs", async () => {
    const { name, partition } = await topic([LEADER]);
    const epoch = partition.leaderEpoch;
    const err = async (f: ReplicaFetch) => (await fetchPartition(replica, name, f)).errorCode;
    expect(await err({ offset: 0, replicaId: 3 })).toBe(code("NOT_LEADER_OR_FOLLOWER"));
    expect(await err({ offset: 0, currentLeaderEpoch: epoch + 1 })).toBe(code("UNKNOWN_LEADER_EPOCH"));
    const unknown = await replica.request(FETCH, 12, replicaFetch("no-such-topic", { offset: 0 }));
    expect(unknown.responses[0].partitions[0].errorCode).toBe(code("UNKNOWN_TOPIC_OR_PARTITION"));
    // Out of range: the answer carries the leader's log start and high watermark.
    await produce(name, batchOf(2, "a"));
    expect(await fetchPartition(replica, name, { offset: 7 })).toMatchObject({
      errorCode: code("OFFSET_OUT_OF_RANGE"),
      logStartOffset: 0,
      highWatermark: 2,
    });
    partition.makeLeader(epoch + 1, partition.partitionEpoch + 1, [LEADER], [LEADER, FOLLOWER]);
    expect(await err({ offset: 0, currentLeaderEpoch: epoch })).toBe(code("FENCED_LEADER_EPOCH"));
    partition.makeFollower(epoch + 2, 3);
    expect(await err({ offset: 0 })).toBe(code("NOT_LEADER_OR_FOLLOWER"));
  });
});

describe("replica OffsetForLeaderEpoch", () => {
  it("answers an inter-broker follower from the epoch cache, checking its current epoch (KIP-320)", async () => {
    const { name, partition } = await topic([LEADER]);
    const epoch = partition.leaderEpoch;
    await produce(name, batchOf(3, "a"));
    partition.makeLeader(epoch + 1, partition.partitionEpoch + 1, [LEADER], [LEADER, FOLLOWER]);
    await produce(name, batchOf(2, "b"));
    const ask = async (client: TestClient, v: number, leaderEpoch: number, current = -1) =>
      (await client.request(OFFSET_FOR_LEADER_EPOCH, v, epochRequest(name, leaderEpoch, current))).topics[0]
        .partitions[0];
    for (const v of [3, 4]) {
      expect((await ask(outsider, v, epoch)).errorCode, `v${v}`).toBe(code("CLUSTER_AUTHORIZATION_FAILED"));
      expect(await ask(replica, v, epoch, epoch + 1)).toMatchObject({
        errorCode: 0,
        leaderEpoch: epoch,
        endOffset: 3,
      });
      expect(await ask(replica, v, epoch + 1)).toMatchObject({
        errorCode: 0,
        leaderEpoch: epoch + 1,
        endOffset: 5,
      });
      expect((await ask(replica, v, epoch, epoch)).errorCode).toBe(code("FENCED_LEADER_EPOCH"));
      expect((await ask(replica, v, epoch, epoch + 2)).errorCode).toBe(code("UNKNOWN_LEADER_EPOCH"));
    }
    partition.makeFollower(epoch + 2, 3);
    expect((await ask(replica, 4, epoch)).errorCode).toBe(code("NOT_LEADER_OR_FOLLOWER"));
  });
});
