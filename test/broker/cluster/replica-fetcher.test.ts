/**
 * The replica fetcher against a real leader broker in this process (issue 13, data plane): the
 * broker's partition is made leader of replicas [1, 2] through its Partition, and a follower
 * Partition over a temporary directory is driven by a ReplicaFetcher as node 2. Records replicate
 * byte for byte, the high watermark follows, a diverged tail is cut (OffsetForLeaderEpoch, then a
 * second round by the fetch's diverging epoch), a follower behind the leader's log start restarts
 * there, acks=all waits for an in-sync follower, idempotent producer state is rebuilt on the
 * follower; errors, a lost connection and stop() during a connect are handled.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type LeaderEndpoint,
  ReplicaFetcher,
  type ReplicaFetcherSettings,
} from "../../../broker/cluster/replica-fetcher.js";
import { ReplicaFetcherHook } from "../../../broker/cluster/replica-fetcher-hook.js";
import { ReplicaFetcherManager } from "../../../broker/cluster/replica-fetcher-manager.js";
import { NO_LEADER } from "../../../broker/metadata/cluster.js";
import { MemoryClusterStore } from "../../../broker/metadata/memory-store.js";
import { Partition } from "../../../broker/partition.js";
import { ProducerIds } from "../../../broker/producer-ids.js";
import type { Message } from "../../../protocol/codec.js";
import { encodeRecordBatch } from "../../../protocol/record-batch.js";
import { DEFAULT_LOG_CONFIG } from "../../../storage/config.js";
import { NodeFs } from "../../../storage/fs.js";
import { PartitionLog } from "../../../storage/log.js";
import { startTestBroker, type TestBroker } from "../../helpers/broker.js";
import { trustInterBroker } from "../../helpers/inter-broker.js";
import { TestClient } from "../../helpers/kafka-client.js";
import { batchOf } from "../../helpers/records.js";
import { produceRequest } from "../../helpers/requests.js";
import { waitFor, within } from "../../helpers/wait.js";

const LEADER = 1;
const FOLLOWER = 2;
const TOPIC = "replicated";
const CREATE_TOPICS = 19;
const PRODUCE = 0;
const FETCH = 1;
const OFFSET_FOR_LEADER_EPOCH = 23;
const INIT_PRODUCER_ID = 22;
const LIST_OFFSETS = 2;
const ALL_BYTES = 64 << 20;
/** The follower's registration epoch, as its session would give it. */
const FOLLOWER_BROKER_EPOCH = 7;

const SETTINGS: ReplicaFetcherSettings = {
  localId: FOLLOWER,
  // Short long polls: the follower learns a moved high watermark at its next fetch.
  waitMaxMs: 50,
  minBytes: 1,
  maxBytes: 1 << 20,
  responseMaxBytes: 10 << 20,
  backoffMs: 20,
  socketTimeoutMs: 10_000,
  brokerEpoch: () => FOLLOWER_BROKER_EPOCH,
};

let tb: TestBroker;
let client: TestClient;
const cleanups: (() => Promise<void>)[] = [];

beforeEach(async () => {
  tb = await startTestBroker({ "node.id": LEADER });
  trustInterBroker(tb.broker);
  client = await TestClient.connect(tb.port);
  const r = await client.request(CREATE_TOPICS, 7, {
    topics: [{ name: TOPIC, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 5000,
  });
  expect(r.topics[0].errorCode).toBe(0);
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  client.close();
  await tb.stop();
});

/** The broker's partition, made leader of [LEADER, FOLLOWER] with in-sync replicas `isr`. */
function leaderPartition(isr: number[] = [LEADER], epoch?: number): Partition {
  const p = tb.broker.topics.partition(TOPIC, 0);
  if (!p) throw new Error("no partition");
  p.makeLeader(epoch ?? p.leaderEpoch, p.partitionEpoch + 1, isr, [LEADER, FOLLOWER]);
  return p;
}

/** A follower replica of the topic's partition 0 over a temporary directory. */
async function followerPartition(dir = fs.mkdtempSync(path.join(os.tmpdir(), "samsa-follower-"))) {
  const log = await PartitionLog.open({ dir, config: { ...DEFAULT_LOG_CONFIG, fileDeleteDelayMs: 0 } });
  const limits = { expirationMs: 86_400_000, maxEntries: 10_000, idsPerSecond: 1_000, quotaWindowMs: 1_000 };
  const ids = new ProducerIds(
    limits,
    () => 1_000_000,
    () => [],
  );
  const partition = new Partition(TOPIC, 0, log, new NodeFs(), ids, FOLLOWER);
  await partition.load();
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await log.close();
  };
  cleanups.push(async () => {
    await close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { partition, dir, close };
}

/** A peer that accepts and never answers: a connection to it hangs in ApiVersions. */
async function silentPeer(): Promise<{ sockets: net.Socket[]; closedSockets: net.Socket[]; port: number }> {
  const sockets: net.Socket[] = [];
  const closedSockets: net.Socket[] = [];
  const silent = net.createServer((s) => {
    sockets.push(s);
    s.on("close", () => closedSockets.push(s));
    s.on("error", () => {});
    // Reads (and drops) what the fetcher sends, so that its end of the connection is seen.
    s.resume();
  });
  await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
  cleanups.push(() => new Promise<void>((r) => silent.close(() => r())));
  return { sockets, closedSockets, port: (silent.address() as net.AddressInfo).port };
}

function endpoint(port = tb.port): LeaderEndpoint {
  return { nodeId: LEADER, host: "127.0.0.1", port };
}

function startFetcher(
  follower: Partition,
  settings: Partial<ReplicaFetcherSettings> = {},
  topicId: string | null = null,
): ReplicaFetcher {
  const fetcher = new ReplicaFetcher(endpoint(), { ...SETTINGS, ...settings });
  cleanups.push(() => fetcher.stop());
  fetcher.add(follower, topicId);
  fetcher.start();
  return fetcher;
}

async function produce(records: Buffer, acks = 1): Promise<Message> {
  const r = await client.request(PRODUCE, 9, produceRequest(TOPIC, records, acks));
  return r.responses[0].partitionResponses[0];
}

async function bytes(p: Partition): Promise<Buffer> {
  return (await p.readLocal(p.logStartOffset, ALL_BYTES)).records;
}

/** Waits until the follower holds the leader's bytes and high watermark. */
async function caughtUp(leader: Partition, follower: Partition, what = "the follower to catch up") {
  await waitFor(
    async () =>
      follower.logEndOffset === leader.logEndOffset &&
      follower.highWatermark === leader.highWatermark &&
      (await bytes(follower)).equals(await bytes(leader)),
    what,
  );
}

/** Appends `count` records at the partition's current epoch as its leader. */
async function lead(p: Partition, count: number, prefix: string): Promise<void> {
  await p.appendAsLeader(batchOf(count, prefix), { acks: 1 });
}

describe("the replica fetcher", () => {
  it("copies the leader's batches byte for byte (offsets, epochs) and follows its high watermark", async () => {
    const leader = leaderPartition();
    const { partition: follower } = await followerPartition();
    follower.makeFollower(leader.leaderEpoch, LEADER, leader.partitionEpoch);
    const fetcher = startFetcher(follower);
    for (let i = 0; i < 5; i++) expect((await produce(batchOf(3 + i, `r${i}`))).errorCode).toBe(0);
    await caughtUp(leader, follower);
    expect(follower.logEndOffset).toBe(25);
    expect(await bytes(follower)).toEqual(await bytes(leader));
    expect(follower.latestEpoch).toBe(leader.leaderEpoch);
    // The leader recorded the follower's log end (its fetch offset).
    expect(leader.followerState(FOLLOWER)?.logEndOffset).toBe(25);

    // A new leader epoch, after the follower is re-pointed, is stamped and copied too.
    const next = leader.leaderEpoch + 1;
    leaderPartition([LEADER], next);
    expect((await produce(batchOf(2, "later"))).errorCode).toBe(0);
    follower.makeFollower(next, LEADER, leader.partitionEpoch);
    fetcher.add(follower);
    await caughtUp(leader, follower);
    expect(await bytes(follower)).toEqual(await bytes(leader));
    expect(follower.localEpochEndOffset(next - 1)).toEqual({ epoch: next - 1, endOffset: 25 });
    expect(fetcher.phase(follower)).toBe("fetching");
  });

  it("holds acks=all until the in-sync follower has the batch", async () => {
    const leader = leaderPartition([LEADER, FOLLOWER]);
    const { partition: follower } = await followerPartition();
    follower.makeFollower(leader.leaderEpoch, LEADER, leader.partitionEpoch);
    let answered = false;
    const acked = produce(batchOf(4, "all"), -1).then((r) => {
      answered = true;
      return r;
    });
    await waitFor(() => leader.logEndOffset === 4, "the leader's append");
    // No follower has fetched: the high watermark cannot pass the batch.
    expect(leader.highWatermark).toBe(0);
    expect(answered).toBe(false);
    startFetcher(follower);
    const r = await within(acked, "the acks=all answer");
    expect(r.errorCode).toBe(0);
    expect(follower.logEndOffset).toBe(4);
    expect(leader.highWatermark).toBe(4);
    await caughtUp(leader, follower);
  });

  it("cuts the tail a follower wrote as leader of an older epoch, by OffsetForLeaderEpoch on becoming follower", async () => {
    const leader = leaderPartition();
    const { partition: follower } = await followerPartition();
    follower.makeFollower(leader.leaderEpoch, LEADER, leader.partitionEpoch);
    const fetcher = startFetcher(follower);
    await produce(batchOf(3, "common"));
    await caughtUp(leader, follower);
    await fetcher.stop();
    const base = leader.leaderEpoch;

    // The follower led epoch base+1 for a moment and wrote what no one copied.
    follower.makeLeader(base + 1, 10, [FOLLOWER], [LEADER, FOLLOWER]);
    await lead(follower, 2, "lost");
    // The broker leads epoch base+2 and writes other records at the same offsets.
    leaderPartition([LEADER], base + 2);
    await produce(batchOf(4, "kept"));
    follower.makeFollower(base + 2, LEADER, 11);

    const epochRequests = countRequests(OFFSET_FOR_LEADER_EPOCH);
    startFetcher(follower);
    await caughtUp(leader, follower);
    expect(await bytes(follower)).toEqual(await bytes(leader));
    expect(follower.logEndOffset).toBe(7);
    expect(follower.epochAt(3)).toBe(base + 2);
    expect(epochRequests()).toBe(1);
  });

  it("converges when the follower led an epoch in which it wrote nothing", async () => {
    const leader = leaderPartition();
    const { partition: follower } = await followerPartition();
    follower.makeFollower(leader.leaderEpoch, LEADER, leader.partitionEpoch);
    const fetcher = startFetcher(follower);
    await produce(batchOf(3, "a"));
    await caughtUp(leader, follower);
    await fetcher.stop();
    const base = leader.leaderEpoch;
    // The follower's epoch cache now holds base+1 at its log end, with no batch of that epoch.
    follower.makeLeader(base + 1, 30, [FOLLOWER], [LEADER, FOLLOWER]);
    expect(follower.latestEpoch).toBe(base + 1);
    leaderPartition([LEADER], base + 2);
    await produce(batchOf(2, "b"));
    follower.makeFollower(base + 2, LEADER, 31);
    startFetcher(follower);
    await caughtUp(leader, follower);
    expect(follower.latestEpoch).toBe(base + 2);
  });

  it("resolves a divergence over several epochs: one OffsetForLeaderEpoch round, then the fetch's diverging epoch (KIP-320)", async () => {
    const leader = leaderPartition([LEADER], 10);
    const { partition: follower } = await followerPartition();
    follower.makeFollower(10, LEADER, leader.partitionEpoch);
    const first = startFetcher(follower);
    await lead(leader, 3, "e10");
    await caughtUp(leader, follower);
    await first.stop();
    // leader:   10@0 (0-4), 12@5 (5-9), 15@10 (10-11)
    // follower: 10@0 (0-2), 11@3 (3-7), 13@8 (8-11)
    await lead(leader, 2, "e10-more");
    follower.makeLeader(11, 20, [FOLLOWER], [LEADER, FOLLOWER]);
    await lead(follower, 5, "e11");
    follower.makeLeader(13, 21, [FOLLOWER], [LEADER, FOLLOWER]);
    await lead(follower, 4, "e13");
    leaderPartition([LEADER], 12);
    await lead(leader, 5, "e12");
    leaderPartition([LEADER], 15);
    await lead(leader, 2, "e15");
    follower.makeFollower(15, LEADER, 22);
    expect(follower.logEndOffset).toBe(12);

    const epochRequests = countRequests(OFFSET_FOR_LEADER_EPOCH);
    const fetches = countRequests(FETCH);
    startFetcher(follower);
    await caughtUp(leader, follower);
    expect(await bytes(follower)).toEqual(await bytes(leader));
    // Round one (epoch 13 -> the leader's 12 ends at 10; the follower's 11 ends at 8) by
    // OffsetForLeaderEpoch, round two (epoch 11 -> the leader's 10 ends at 5; the follower's
    // at 3) by the diverging epoch of a fetch.
    expect(epochRequests()).toBe(1);
    expect(fetches()).toBeGreaterThanOrEqual(2);
    expect([3, 5, 10].map((o) => follower.epochAt(o))).toEqual([10, 12, 15]);
  });

  it("restarts a follower that is behind the leader's log start there", async () => {
    const leader = leaderPartition();
    const { partition: follower } = await followerPartition();
    follower.makeFollower(leader.leaderEpoch, LEADER, leader.partitionEpoch);
    const fetcher = startFetcher(follower);
    await produce(batchOf(3, "old"));
    await caughtUp(leader, follower);
    await fetcher.stop();
    await produce(batchOf(5, "newer"));
    expect(await leader.deleteRecordsBefore(6)).toBe(6);

    startFetcher(follower);
    await caughtUp(leader, follower);
    // The leader's log starts at 6, inside the batch of offsets 3-7: the follower restarted at
    // that batch's base, then took the leader's log start.
    await waitFor(() => follower.logStartOffset === 6, "the leader's log start");
    expect(await bytes(follower)).toEqual(await bytes(leader));
  });

  it("truncates a follower past the leader's log end to that end, not to the leader's high watermark", async () => {
    // The leader holds 5 records above its high watermark (its follower has not fetched them).
    const leader = leaderPartition([LEADER, FOLLOWER]);
    await produce(batchOf(5, "leader"));
    expect([leader.logEndOffset, leader.highWatermark]).toEqual([5, 0]);
    // A follower with 8 records and no epochs (so no epoch tells where they diverge): its fetch at
    // 8 is out of range.
    const { partition: follower } = await followerPartition();
    follower.makeFollower(leader.leaderEpoch, LEADER, leader.partitionEpoch);
    await follower.appendAsFollower(
      encodeRecordBatch(
        Array.from({ length: 8 }, (_, i) => ({ value: Buffer.from(`own${i}`) })),
        { baseOffset: 0, partitionLeaderEpoch: -1 },
      ),
    );
    follower.updateFollowerHighWatermark(8);
    const cuts: number[] = [];
    const truncateTo = follower.truncateTo.bind(follower);
    follower.truncateTo = (offset, epoch) => {
      cuts.push(offset);
      return truncateTo(offset, epoch);
    };
    const lists = countRequests(LIST_OFFSETS);
    startFetcher(follower);
    await waitFor(
      () => follower.logEndOffset === 5 && leader.highWatermark === 5,
      "the follower at the leader's end",
    );
    // Cut to the leader's log end (5), never below it to its high watermark (0).
    expect(Math.min(...cuts)).toBe(5);
    expect(lists()).toBeGreaterThan(0);
  });

  it("backs off after a divergence that changes nothing, instead of fetching again at once", async () => {
    const leader = leaderPartition();
    const { partition: follower } = await followerPartition();
    follower.makeFollower(leader.leaderEpoch, LEADER, leader.partitionEpoch);
    const fetcher = startFetcher(follower, { backoffMs: 3_600_000 });
    await produce(batchOf(4, "a"));
    await caughtUp(leader, follower);
    // A leader that names a divergence at its own epoch and log end: the follower's log already
    // ends there, so truncating changes nothing, and the same answer would come back at once.
    const fetches = countRequests(FETCH);
    const fetchForFollower = leader.fetchForFollower.bind(leader);
    leader.fetchForFollower = async (...args) => {
      const got = await fetchForFollower(...args);
      return {
        ...got,
        records: Buffer.alloc(0),
        divergingEpoch: { epoch: leader.leaderEpoch, endOffset: 4 },
      };
    };
    cleanups.push(async () => {
      leader.fetchForFollower = fetchForFollower;
    });
    // The fetch held by the leader when it changed (counted already) or the next one diverges.
    const before = fetches();
    await waitFor(() => fetcher.phase(follower) === "waiting", "the fetcher backing off");
    expect(fetches() - before).toBeLessThanOrEqual(1);
    expect(follower.logEndOffset).toBe(4);
  });

  it("names this broker's epoch to the leader when it fetches by topic id (KIP-903), not by name (v12)", async () => {
    const leader = leaderPartition();
    const { partition: follower } = await followerPartition();
    follower.makeFollower(leader.leaderEpoch, LEADER, leader.partitionEpoch);
    const topicId = tb.broker.store.topic(TOPIC)?.id ?? null;
    expect(topicId).toMatch(/^[0-9a-f]{32}$/);
    const byName = startFetcher(follower);
    await produce(batchOf(2, "by-name"));
    await caughtUp(leader, follower);
    expect(leader.followerState(FOLLOWER)?.brokerEpoch).toBe(-1);
    await byName.stop();

    let epoch = FOLLOWER_BROKER_EPOCH;
    startFetcher(follower, { brokerEpoch: () => epoch }, topicId);
    await produce(batchOf(2, "by-id"));
    await caughtUp(leader, follower);
    await waitFor(
      () => leader.followerState(FOLLOWER)?.brokerEpoch === FOLLOWER_BROKER_EPOCH,
      "the epoch named",
    );
    // A new session (the follower re-registered): its next fetch names the new epoch.
    epoch = FOLLOWER_BROKER_EPOCH + 1;
    await waitFor(() => leader.followerState(FOLLOWER)?.brokerEpoch === epoch, "the new epoch named");
  });

  it("rebuilds idempotent producer state on the follower, so it de-duplicates a retry once it leads", async () => {
    const leader = leaderPartition();
    const { partition: follower, dir, close } = await followerPartition();
    follower.makeFollower(leader.leaderEpoch, LEADER, leader.partitionEpoch);
    const fetcher = startFetcher(follower);
    const init = await client.request(INIT_PRODUCER_ID, 4, {
      transactionalId: null,
      transactionTimeoutMs: 60_000,
      producerId: -1,
      producerEpoch: -1,
    });
    const id = init.producerId as number;
    const batch = (seq: number, n: number) =>
      encodeRecordBatch(
        Array.from({ length: n }, (_, i) => ({ value: Buffer.from(`p${seq + i}`) })),
        { producerId: id, producerEpoch: 0, baseSequence: seq },
      );
    expect((await produce(batch(0, 2))).baseOffset).toBe(0);
    expect((await produce(batch(2, 3))).baseOffset).toBe(2);
    await caughtUp(leader, follower);
    await fetcher.stop();

    // The follower takes the lead: a retry of the last batch gets its original offsets.
    follower.makeLeader(leader.leaderEpoch + 1, 50, [FOLLOWER], [LEADER, FOLLOWER]);
    const retry = await follower.appendAsLeader(batch(2, 3), { acks: 1 });
    expect(retry).toMatchObject({ duplicate: true, result: { baseOffset: 2, lastOffset: 4 } });
    // And the state survives a reopen of the follower's log (rebuilt from the copied batches).
    await close();
    const again = await followerPartition(dir);
    again.partition.makeLeader(leader.leaderEpoch + 1, 51, [FOLLOWER], [LEADER, FOLLOWER]);
    const later = await again.partition.appendAsLeader(batch(2, 3), { acks: 1 });
    expect(later).toMatchObject({ duplicate: true, result: { baseOffset: 2 } });
    expect(again.partition.logEndOffset).toBe(5);
  });
});

describe("the replica fetcher's errors and lifecycle", () => {
  it("waits for new metadata when fenced, and goes on once re-pointed at the new epoch", async () => {
    const leader = leaderPartition();
    const { partition: follower } = await followerPartition();
    follower.makeFollower(leader.leaderEpoch, LEADER, leader.partitionEpoch);
    const fetcher = startFetcher(follower);
    await produce(batchOf(2, "a"));
    await caughtUp(leader, follower);
    const next = leader.leaderEpoch + 1;
    leaderPartition([LEADER], next);
    await produce(batchOf(2, "b"));
    // It waits for a new follow, not for a backoff: still waiting an hour from now.
    const later = () => Date.now() + 3_600_000;
    await waitFor(() => fetcher.phase(follower, later()) === "waiting", "the fenced follower to wait");
    expect(follower.logEndOffset).toBe(2);
    follower.makeFollower(next, LEADER, leader.partitionEpoch);
    fetcher.add(follower);
    await caughtUp(leader, follower);
    expect(await bytes(follower)).toEqual(await bytes(leader));
  });

  it("backs off and retries a partition the leader does not lead, without a new follow", async () => {
    const leader = leaderPartition();
    const { partition: follower } = await followerPartition();
    // The follower learned of the new epoch before the leader did (UNKNOWN_LEADER_EPOCH).
    follower.makeFollower(leader.leaderEpoch + 1, LEADER, leader.partitionEpoch + 1);
    const fetches = countRequests(FETCH);
    const epochs = countRequests(OFFSET_FOR_LEADER_EPOCH);
    await produce(batchOf(2, "x"));
    const fetcher = startFetcher(follower);
    await waitFor(() => fetches() >= 2 || epochs() >= 2, "refused requests repeated");
    expect(follower.logEndOffset).toBe(0);
    expect(fetcher.phase(follower, Date.now() + 3_600_000)).not.toBe("waiting");
    leaderPartition([LEADER], leader.leaderEpoch + 1);
    await caughtUp(leader, follower);
  });

  it("reconnects after a lost connection and goes on copying", async () => {
    const leader = leaderPartition();
    const { partition: follower } = await followerPartition();
    follower.makeFollower(leader.leaderEpoch, LEADER, leader.partitionEpoch);
    const cut = tb.broker.dispatcher.faults;
    cut.add({ apiKey: FETCH, action: "close", times: 2 });
    await produce(batchOf(3, "before"));
    startFetcher(follower);
    await caughtUp(leader, follower);
    expect(cut.hits.get(FETCH)).toBe(2);
    await produce(batchOf(3, "after"));
    await caughtUp(leader, follower);
    expect(await bytes(follower)).toEqual(await bytes(leader));
  });

  it("stops cleanly while connecting (its socket closed) and while a fetch is held", async () => {
    const { sockets, closedSockets, port } = await silentPeer();
    const { partition: follower } = await followerPartition();
    follower.makeFollower(0, LEADER, 0);
    // Its ApiVersions times out after the socket timeout; stop waits for that and closes it.
    const hung = new ReplicaFetcher(endpoint(port), { ...SETTINGS, socketTimeoutMs: 300 });
    hung.add(follower);
    hung.start();
    await waitFor(() => sockets.length === 1, "the fetcher to connect");
    await within(hung.stop(), "stop during a connect");
    await waitFor(() => closedSockets.length === 1, "the socket to close");
    expect(sockets).toHaveLength(1);

    // A fetch held by the leader: stop closes the connection under it.
    const leader = leaderPartition();
    follower.makeFollower(leader.leaderEpoch, LEADER, leader.partitionEpoch);
    const held = tb.broker.dispatcher.faults.add({ apiKey: FETCH, action: "hold" });
    cleanups.push(async () => held());
    const fetcher = new ReplicaFetcher(endpoint(), SETTINGS);
    fetcher.add(follower);
    fetcher.start();
    await waitFor(() => (tb.broker.dispatcher.faults.hits.get(FETCH) ?? 0) >= 1, "a held fetch");
    await within(fetcher.stop(), "stop during a held fetch");
  });
});

describe("the replica fetcher manager", () => {
  it("keeps one fetcher per leader, stops it once empty, and moves a partition between fetchers", async () => {
    const leader = leaderPartition();
    const { partition: follower } = await followerPartition();
    follower.makeFollower(leader.leaderEpoch, LEADER, leader.partitionEpoch);
    const manager = new ReplicaFetcherManager(SETTINGS);
    cleanups.push(() => manager.stop());
    await manager.follow(follower, endpoint());
    await manager.follow(follower, endpoint());
    expect(manager.allFetchers()).toHaveLength(1);
    await produce(batchOf(2, "m"));
    await caughtUp(leader, follower);

    await manager.unfollow(follower);
    expect(manager.allFetchers()).toHaveLength(0);
    expect(manager.fetcherFor(follower)).toBeUndefined();
    await produce(batchOf(2, "n"));
    // Nothing fetches it now: the leader's end moved, the follower's did not.
    expect(follower.logEndOffset).toBe(2);

    // Another endpoint of the same leader (a restart on a new port): a new fetcher.
    const old = { ...endpoint(), port: 1 };
    await manager.follow(follower, old);
    const first = manager.fetcherFor(follower);
    await manager.follow(follower, endpoint(), tb.broker.store.topic(TOPIC)?.id ?? null);
    expect(manager.allFetchers()).toHaveLength(1);
    expect(manager.fetcherFor(follower)).not.toBe(first);
    await caughtUp(leader, follower);
    expect(await bytes(follower)).toEqual(await bytes(leader));
    await manager.stop();
    expect(manager.allFetchers()).toHaveLength(0);
  });
});

describe("the replica fetcher manager and a leader that never answers", () => {
  it("lets go of a fetcher stuck connecting without holding the next follow behind it", async () => {
    const { sockets, closedSockets, port } = await silentPeer();
    const { partition: stuck } = await followerPartition();
    stuck.makeFollower(0, LEADER, 0);
    // A socket timeout far beyond the test's: waiting for the connect would fail the test.
    const manager = new ReplicaFetcherManager({ ...SETTINGS, socketTimeoutMs: 600_000 });
    await manager.follow(stuck, { nodeId: 3, host: "127.0.0.1", port });
    await waitFor(() => sockets.length === 1, "the fetcher to connect");
    await manager.unfollow(stuck);
    // Its connect is still pending (the socket open): unfollow did not wait for it.
    expect(closedSockets).toHaveLength(0);
    expect(manager.allFetchers()).toHaveLength(0);

    const leader = leaderPartition();
    const { partition: follower } = await followerPartition();
    follower.makeFollower(leader.leaderEpoch, LEADER, leader.partitionEpoch);
    await manager.follow(follower, endpoint());
    await produce(batchOf(2, "s"));
    await caughtUp(leader, follower);
    for (const s of sockets) s.destroy();
    await manager.stop();
  });
});

describe("the replica fetcher hook (the replica manager's FollowerHook)", () => {
  it("points a follower at its leader's registered endpoint, waits until it has one, keeps it while the registration is lost, and lets go", async () => {
    const leader = leaderPartition();
    const { partition: follower } = await followerPartition();
    follower.makeFollower(leader.leaderEpoch, LEADER, leader.partitionEpoch);
    const store = new MemoryClusterStore();
    const manager = new ReplicaFetcherManager(SETTINGS);
    const hook = new ReplicaFetcherHook(manager, store);
    cleanups.push(async () => {
      hook.close();
      await manager.stop();
      await store.close();
    });
    const info = { nodeId: LEADER, host: "127.0.0.1", port: tb.port, rack: null, httpPort: null };
    const fetchers = async () => {
      await manager.settled();
      return manager.allFetchers().length;
    };

    // No registration of the leader yet: nothing to fetch from.
    hook.onFollow(follower, LEADER);
    expect(await fetchers()).toBe(0);
    const session = await store.register(info);
    await produce(batchOf(2, "a"));
    await caughtUp(leader, follower);

    // The leader's registration goes (its lease lost while etcd is cut off, say): the follower
    // keeps fetching from where the leader last registered, so acks=all goes on (decision 0030).
    await session.close();
    expect(store.broker(LEADER)).toBeUndefined();
    await produce(batchOf(2, "b"));
    await caughtUp(leader, follower);
    expect(await fetchers()).toBe(1);
    // A new leader term while it is still unregistered: the same endpoint, fetching again.
    hook.onFollow(follower, LEADER);
    await produce(batchOf(2, "c"));
    await caughtUp(leader, follower);
    // It registers again: fetching goes on.
    await store.register(info);
    await produce(batchOf(2, "d"));
    await caughtUp(leader, follower);

    hook.onStopFollowing(follower);
    expect(await fetchers()).toBe(0);
    hook.onFollow(follower, NO_LEADER);
    expect(await fetchers()).toBe(0);
  });
});

/** Counts the requests of `apiKey` the leader receives from now on (a fault that lets them pass). */
function countRequests(apiKey: number): () => number {
  const faults = tb.broker.dispatcher.faults;
  let n = 0;
  const remove = faults.add({
    apiKey,
    action: "delay",
    delayMs: 0,
    match: () => {
      n++;
      return false;
    },
  });
  cleanups.push(async () => remove());
  return () => n;
}
