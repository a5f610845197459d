/**
 * The group coordinator following `__consumer_offsets` leadership (issue 13), over a
 * MemoryClusterStore, this node's controller and a TopicManager on a temp-dir LogManager, wired as
 * broker.ts wires them (the replica manager's leadership listener elects and resigns):
 * - a group whose offsets partition another broker leads answers NOT_COORDINATOR everywhere;
 * - while a partition loads, its groups answer COORDINATOR_LOAD_IN_PROGRESS; once loaded they are
 *   served with their offsets;
 * - a resignation answers waiting joins NOT_COORDINATOR, stops timers and drops the groups; one
 *   that overtakes a load leaves nothing; a newer election reloads from the log, the same one not;
 * - leadership moved away and back through the controller unloads and reloads the groups;
 * - commits wait for every in-sync replica: a follower that never fetches makes the commit time
 *   out (COORDINATOR_NOT_AVAILABLE) and nothing is visible to OffsetFetch; one that fetches lets
 *   it through.
 * And at the protocol level, on an in-process broker: every group API's answer for a group whose
 * partition this broker resigned (NOT_COORDINATOR) and while it loads again
 * (COORDINATOR_LOAD_IN_PROGRESS), ListGroups listing only loaded groups.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { LocalControllerChannel } from "../../broker/cluster/controller-channel.js";
import { type BrokerConfig, defaultBrokerConfig } from "../../broker/config.js";
import { Controller } from "../../broker/controller/controller.js";
import { GroupCoordinator, type JoinRequest } from "../../broker/group/coordinator.js";
import { GroupOffsets } from "../../broker/group/offsets.js";
import { OFFSETS_TOPIC, OffsetsTopic } from "../../broker/group/offsets-topic.js";
import { offsetKey, offsetsPartitionFor, offsetValue } from "../../broker/group/records.js";
import { MemoryClusterStore } from "../../broker/metadata/memory-store.js";
import type { Partition } from "../../broker/partition.js";
import { TopicManager } from "../../broker/topics.js";
import type { Message } from "../../protocol/codec.js";
import { encodeRecordBatch } from "../../protocol/record-batch.js";
import { NodeFs } from "../../storage/fs.js";
import { LogManager } from "../../storage/log-manager.js";
import { startTestBroker } from "../helpers/broker.js";
import {
  API,
  committedOf,
  heartbeatRequest,
  joinGroupRequest,
  offsetCommitRequest,
  offsetFetchGroupsRequest,
  offsetFetchRequest,
  syncGroupRequest,
} from "../helpers/group-requests.js";
import { TestClient } from "../helpers/kafka-client.js";
import { waitFor, within } from "../helpers/wait.js";

const LOCAL = 1;
const OTHER = 2;
const CONTROLLER_ID = 100;
/** Short, so that a commit the follower never confirms is answered soon. */
const COMMIT_TIMEOUT_MS = 200;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Setup {
  config: BrokerConfig;
  store: MemoryClusterStore;
  controller: Controller;
  topics: TopicManager;
  groups: GroupCoordinator;
  offsets: GroupOffsets;
}

/**
 * Node LOCAL with `__consumer_offsets` assigned as `assignments` (one replica list per partition,
 * leader first) and a one-partition topic "t" led here, for commits to name.
 */
async function setup(assignments: number[][]): Promise<Setup> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "samsa-gl-"));
  const config: BrokerConfig = {
    ...defaultBrokerConfig(),
    nodeId: LOCAL,
    dataDir,
    offsetsTopicPartitions: assignments.length,
    offsetsCommitTimeoutMs: COMMIT_TIMEOUT_MS,
    groupInitialRebalanceDelayMs: 0,
    groupMinSessionTimeoutMs: 10,
  };
  const store = new MemoryClusterStore();
  for (const id of [LOCAL, OTHER])
    await store.register({ nodeId: id, host: "127.0.0.1", port: 9000 + id, rack: null, httpPort: null });
  const controller = new Controller(store, CONTROLLER_ID, { placementStart: () => 0 });
  controller.start();
  await controller.elected();
  const logs = await LogManager.open({
    dataDir,
    checkpointIntervalMs: 0,
    retentionCheckIntervalMs: 0,
    journal: false,
  });
  const log = pino({ level: "silent" });
  const topics = new TopicManager(
    config,
    store,
    logs,
    new NodeFs(),
    new LocalControllerChannel(controller),
    log,
  );
  const groups = new GroupCoordinator(new OffsetsTopic(topics, config), config, log);
  topics.replicas.onLeadership = (topic, partition, leading, epoch) =>
    groups.onLeadership(topic, partition, leading, epoch);
  await topics.loadAll();
  const offsets = new GroupOffsets(groups, topics, config, log);
  cleanups.push(async () => {
    groups.stop();
    await controller.stop();
    await topics.replicas.stop();
    await logs.close();
    await store.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
  await controller.createTopic({ name: "t", partitions: 0, replicationFactor: 0, assignments: [[LOCAL]] });
  await controller.createTopic({
    name: OFFSETS_TOPIC,
    partitions: 0,
    replicationFactor: 0,
    assignments,
    configs: { "cleanup.policy": "compact" },
  });
  await topics.replicas.sync("t");
  await topics.replicas.sync(OFFSETS_TOPIC);
  return { config, store, controller, topics, groups, offsets };
}

/** A group id whose offsets partition is `partition` of `count`. */
function groupIn(partition: number, count: number, prefix = "g"): string {
  for (let i = 0; ; i++)
    if (offsetsPartitionFor(`${prefix}${i}`, count) === partition) return `${prefix}${i}`;
}

function offsetsPartition(s: Setup, index: number): Partition {
  const p = s.topics.partition(OFFSETS_TOPIC, index);
  if (!p) throw new Error(`no local replica of ${OFFSETS_TOPIC}-${index}`);
  return p;
}

function joinRequest(groupId: string, memberId = ""): JoinRequest {
  return {
    groupId,
    sessionTimeoutMs: 30_000,
    rebalanceTimeoutMs: 60_000,
    memberId,
    groupInstanceId: null,
    protocolType: "consumer",
    protocols: [{ name: "range", metadata: Buffer.from("m") }],
    requireKnownMemberId: false,
    clientId: "c",
    clientHost: "h",
  };
}

/** A standalone commit of t-0 at `offset`: its one error (null: committed). */
async function commit(s: Setup, groupId: string, offset: number): Promise<string | null> {
  const [[error]] = await s.offsets.commit({
    apiVersion: 8,
    groupId,
    generationId: -1,
    memberId: "",
    groupInstanceId: null,
    topics: [{ name: "t", partitions: [{ partition: 0, offset, leaderEpoch: -1, metadata: "" }] }],
  });
  return error;
}

/** The committed offset of t-0 the coordinator answers (-1: none). */
function fetched(s: Setup, groupId: string): number {
  return Number(s.offsets.fetch(groupId, [{ name: "t", partitions: [0] }])[0].offset);
}

/** Every group API's answer for `groupId`, as the coordinator gives it (the request's error). */
async function everyAnswer(s: Setup, groupId: string): Promise<Record<string, string | null>> {
  const join = await s.groups.join(joinRequest(groupId));
  const sync = await s.groups.sync({
    groupId,
    generationId: 1,
    memberId: "m",
    groupInstanceId: null,
    protocolType: null,
    protocolName: null,
    assignments: [],
  });
  const name = (code: number) => (code === 0 ? null : String(code));
  return {
    join: name(join.errorCode),
    sync: name(sync.errorCode),
    heartbeat: s.groups.heartbeat(groupId, 1, "m", null),
    leave: s.groups.leave(groupId, [{ memberId: "m", groupInstanceId: null }])[0],
    commit: await commit(s, groupId, 1),
    deleteGroups: (await s.offsets.deleteGroups([groupId]))[0],
    deleteOffsets: (await s.offsets.deleteOffsets(groupId, [{ name: "t", partitions: [0] }])).error,
    coordinator: s.groups.coordinatorError(groupId),
  };
}

/**
 * Holds every load of an offsets partition after it has read the log and before the coordinator
 * installs what it read: `read` resolves once a load is held, `release` lets it go on.
 */
function holdLoads(groups: GroupCoordinator): { read: Promise<void>; release: () => void } {
  const topic = groups.offsetsTopic;
  const load = topic.loadPartition.bind(topic);
  let release!: () => void;
  let reached!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const read = new Promise<void>((resolve) => {
    reached = resolve;
  });
  topic.loadPartition = async (index, visit, current) => {
    const count = await load(index, visit, current);
    reached();
    await gate;
    return count;
  };
  return { read, release };
}

const CODES = { NOT_COORDINATOR: "16", COORDINATOR_LOAD_IN_PROGRESS: "14" };

function allRefused(refusal: "NOT_COORDINATOR" | "COORDINATOR_LOAD_IN_PROGRESS") {
  return {
    join: CODES[refusal],
    sync: CODES[refusal],
    heartbeat: refusal,
    leave: refusal,
    commit: refusal,
    deleteGroups: refusal,
    deleteOffsets: refusal,
    coordinator: refusal,
  };
}

describe("the group coordinator follows __consumer_offsets leadership", () => {
  it("serves the groups of partitions led here; another broker's answer NOT_COORDINATOR everywhere", async () => {
    const s = await setup([[LOCAL], [OTHER]]);
    const mine = groupIn(0, 2);
    const theirs = groupIn(1, 2);
    expect(await commit(s, mine, 7)).toBeNull();
    expect(fetched(s, mine)).toBe(7);
    expect(await everyAnswer(s, theirs)).toEqual(allRefused("NOT_COORDINATOR"));
    expect(s.groups.group(theirs)).toBeUndefined();
  });

  it("a resignation answers a waiting join NOT_COORDINATOR, stops the group's timers and drops it", async () => {
    const s = await setup([[LOCAL]]);
    const id = groupIn(0, 1);
    const first = await s.groups.join(joinRequest(id));
    expect(first.errorCode).toBe(0);
    // A second member's join waits for the first to rejoin (rebalance timeout 60 s).
    const waiting = s.groups.join(joinRequest(id));
    const group = s.groups.group(id);
    expect(group?.state).toBe("PreparingRebalance");
    expect(group?.joinTimer).not.toBeNull();

    s.groups.resign(0);
    const answer = await within(waiting, "the waiting join's answer");
    expect(answer.errorCode).toBe(Number(CODES.NOT_COORDINATOR));
    expect(group?.state).toBe("Dead");
    expect(group?.joinTimer).toBeNull();
    const sessions = [...(group?.members.values() ?? [])].map((m) => m.sessionTimer);
    expect(sessions).toEqual([null, null]);
    expect(s.groups.allGroups()).toEqual([]);
    expect(await everyAnswer(s, id)).toEqual(allRefused("NOT_COORDINATOR"));
  });

  it("while a partition loads its groups answer COORDINATOR_LOAD_IN_PROGRESS; then they are served", async () => {
    const s = await setup([[LOCAL]]);
    const id = groupIn(0, 1);
    expect(await commit(s, id, 42)).toBeNull();
    const epoch = offsetsPartition(s, 0).leaderEpoch;
    s.groups.resign(0);
    expect(fetched(s, id)).toBe(-1);

    const held = holdLoads(s.groups);
    const electing = s.groups.elect(0, epoch);
    expect(s.groups.isLoading()).toBe(true);
    await within(held.read, "the load's read");
    expect(await everyAnswer(s, id)).toEqual(allRefused("COORDINATOR_LOAD_IN_PROGRESS"));
    held.release();
    await electing;
    expect(s.groups.isLoading()).toBe(false);
    expect(s.groups.coordinatorError(id)).toBeNull();
    expect(fetched(s, id)).toBe(42);
    expect(await commit(s, id, 43)).toBeNull();
    expect(fetched(s, id)).toBe(43);
  });

  it("a resignation that overtakes a load leaves nothing; the next election loads once", async () => {
    const s = await setup([[LOCAL]]);
    const ids = [groupIn(0, 1, "a"), groupIn(0, 1, "b")];
    for (const id of ids) expect(await commit(s, id, 5)).toBeNull();
    const epoch = offsetsPartition(s, 0).leaderEpoch;
    s.groups.resign(0);

    // The resignation comes after the load has read the log, before it installs what it read.
    const held = holdLoads(s.groups);
    const overtaken = s.groups.elect(0, epoch);
    await within(held.read, "the load's read");
    s.groups.resign(0);
    held.release();
    await overtaken;
    expect(s.groups.allGroups()).toEqual([]);
    expect(s.groups.isLoading()).toBe(false);
    expect(s.groups.coordinatorError(ids[0])).toBe("NOT_COORDINATOR");

    await s.groups.elect(0, epoch);
    expect(
      s.groups
        .allGroups()
        .map((g) => g.id)
        .sort(),
    ).toEqual([...ids].sort());
    for (const id of ids) expect(fetched(s, id)).toBe(5);
  });

  it("an election at a newer epoch reloads from the log; the same epoch again changes nothing", async () => {
    const s = await setup([[LOCAL]]);
    const id = groupIn(0, 1);
    expect(await commit(s, id, 1)).toBeNull();
    const partition = offsetsPartition(s, 0);
    const epoch = partition.leaderEpoch;
    // A record the coordinator did not write (as a former leader's would be): memory does not know it.
    const batch = encodeRecordBatch([
      {
        key: offsetKey(id, "t", 0),
        value: offsetValue({ offset: 99, leaderEpoch: -1, metadata: "", commitTimestamp: Date.now() }),
      },
    ]);
    await partition.appendAsLeader(batch, { acks: 1 });
    await s.groups.elect(0, epoch);
    expect(fetched(s, id)).toBe(1);
    await s.groups.elect(0, epoch + 1);
    expect(fetched(s, id)).toBe(99);
  });

  it("leadership moved away through the controller unloads the groups; moved back, they are reloaded", async () => {
    const s = await setup([[LOCAL, OTHER]]);
    const id = groupIn(0, 1);
    const partition = offsetsPartition(s, 0);
    expect(await commitConfirmed(s, partition, id, 11)).toBeNull();

    const moveTo = async (leader: number) => {
      const replicas = leader === LOCAL ? [LOCAL, OTHER] : [OTHER, LOCAL];
      const [moved] = await s.controller.alterReassignments([
        { topic: OFFSETS_TOPIC, partition: 0, replicas },
      ]);
      expect(moved.error).toBeNull();
      const [elected] = await s.controller.electLeaders("PREFERRED", [
        { topic: OFFSETS_TOPIC, partition: 0 },
      ]);
      expect(elected.error).toBeNull();
      await s.topics.replicas.sync(OFFSETS_TOPIC);
    };
    await moveTo(OTHER);
    expect(partition.role).toBe("follower");
    expect(s.groups.allGroups()).toEqual([]);
    expect(s.groups.coordinatorError(id)).toBe("NOT_COORDINATOR");
    expect(await commit(s, id, 12)).toBe("NOT_COORDINATOR");

    await moveTo(LOCAL);
    expect(partition.role).toBe("leader");
    await s.groups.loading();
    expect(s.groups.coordinatorError(id)).toBeNull();
    expect(fetched(s, id)).toBe(11);
  });

  it("a commit waits for every in-sync replica: unconfirmed it times out, unseen by OffsetFetch", async () => {
    const s = await setup([[LOCAL, OTHER]]);
    const id = groupIn(0, 1);
    const partition = offsetsPartition(s, 0);
    expect([...partition.isr].sort()).toEqual([LOCAL, OTHER]);

    // OTHER never fetches: the high watermark stays, the commit is answered after the timeout.
    expect(await commit(s, id, 3)).toBe("COORDINATOR_NOT_AVAILABLE");
    expect(fetched(s, id)).toBe(-1);
    expect(s.offsets.fetch(id, null)).toEqual([]);

    // OTHER fetches past the commit's record: the commit is answered and visible.
    expect(await commitConfirmed(s, partition, id, 4)).toBeNull();
    expect(fetched(s, id)).toBe(4);
  });
});

/** A commit that OTHER confirms by fetching the partition past its record (as a follower would). */
async function commitConfirmed(s: Setup, partition: Partition, groupId: string, offset: number) {
  const end = partition.logEndOffset;
  const committing = commit(s, groupId, offset);
  await waitFor(() => partition.logEndOffset > end, "the commit's record in the leader's log");
  await partition.fetchForFollower(OTHER, partition.logEndOffset, -1, { maxBytes: 1024 });
  return within(committing, "the confirmed commit's answer");
}

/** The error code of each group API, at the versions named, for `groupId` (one member "m"). */
async function wireAnswers(c: TestClient, groupId: string): Promise<Record<string, number>> {
  const first = (r: Message, list: string, field = "errorCode") => (r[list] as Message[])[0][field] as number;
  const commitV8 = await c.request(
    API.OFFSET_COMMIT,
    8,
    offsetCommitRequest(groupId, { t: [{ partition: 0, offset: 9 }] }),
  );
  const fetchV1 = await c.request(API.OFFSET_FETCH, 1, offsetFetchRequest(groupId, { t: [0] }));
  const deleted = await c.request(API.DELETE_GROUPS, 2, { groupsNames: [groupId] });
  return {
    join: (await c.request(API.JOIN_GROUP, 5, joinGroupRequest(groupId))).errorCode,
    sync: (await c.request(API.SYNC_GROUP, 3, syncGroupRequest(groupId, 1, "m"))).errorCode,
    heartbeat: (await c.request(API.HEARTBEAT, 3, heartbeatRequest(groupId, 1, "m"))).errorCode,
    leaveV0: (await c.request(API.LEAVE_GROUP, 0, { groupId, memberId: "m" })).errorCode,
    leaveV3: (
      await c.request(API.LEAVE_GROUP, 3, { groupId, members: [{ memberId: "m", groupInstanceId: null }] })
    ).errorCode,
    commit: first(commitV8.topics[0] as Message, "partitions"),
    fetchV1: first(fetchV1.topics[0] as Message, "partitions"),
    fetchV7: (await c.request(API.OFFSET_FETCH, 7, offsetFetchRequest(groupId, { t: [0] }))).errorCode,
    fetchV8: first(
      await c.request(API.OFFSET_FETCH, 8, offsetFetchGroupsRequest({ [groupId]: null })),
      "groups",
    ),
    describe: first(
      await c.request(API.DESCRIBE_GROUPS, 5, { groups: [groupId], includeAuthorizedOperations: false }),
      "groups",
    ),
    deleteGroups: first(deleted, "results"),
    offsetDelete: (
      await c.request(API.OFFSET_DELETE, 0, {
        groupId,
        topics: [{ name: "t", partitions: [{ partitionIndex: 0 }] }],
      })
    ).errorCode,
  };
}

function everyWire(code: number): Record<string, number> {
  const apis = ["join", "sync", "heartbeat", "leaveV0", "leaveV3", "commit", "fetchV1", "fetchV7", "fetchV8"];
  return Object.fromEntries([...apis, "describe", "deleteGroups", "offsetDelete"].map((a) => [a, code]));
}

describe("the group APIs follow the coordinator's ownership", () => {
  it("answer NOT_COORDINATOR after a resignation and COORDINATOR_LOAD_IN_PROGRESS while loading", async () => {
    const b = await startTestBroker({ "offsets.topic.num.partitions": 1, "log.level": "warn" });
    const c = await TestClient.connect(b.port);
    try {
      const created = await c.request(19, 7, {
        topics: [{ name: "t", numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
        timeoutMs: 10_000,
        validateOnly: false,
      });
      expect((created.topics as Message[])[0].errorCode).toBe(0);
      const commitV8 = await c.request(
        API.OFFSET_COMMIT,
        8,
        offsetCommitRequest("g", { t: [{ partition: 0, offset: 5 }] }),
      );
      expect(((commitV8.topics as Message[])[0].partitions as Message[])[0].errorCode).toBe(0);
      const groups = b.broker.groups;
      const epoch = b.broker.topics.partition(OFFSETS_TOPIC, 0)?.leaderEpoch ?? -1;
      const listed = async () => {
        const r = await c.request(API.LIST_GROUPS, 4, { statesFilter: [] });
        return { errorCode: r.errorCode, groups: (r.groups as Message[]).map((g) => g.groupId) };
      };
      expect(await listed()).toEqual({ errorCode: 0, groups: ["g"] });

      groups.resign(0);
      expect(await wireAnswers(c, "g")).toEqual(everyWire(16));
      expect(await listed()).toEqual({ errorCode: 0, groups: [] });

      const held = holdLoads(groups);
      const electing = groups.elect(0, epoch);
      await within(held.read, "the load's read");
      expect(await wireAnswers(c, "g")).toEqual(everyWire(14));
      expect(await listed()).toEqual({ errorCode: 14, groups: [] });
      held.release();
      await electing;

      expect(await listed()).toEqual({ errorCode: 0, groups: ["g"] });
      const fetched = await c.request(API.OFFSET_FETCH, 7, offsetFetchRequest("g", { t: [0] }));
      expect(fetched.errorCode).toBe(0);
      expect(committedOf(fetched.topics as Message[])).toEqual({ t: { 0: 5 } });
    } finally {
      c.close();
      await b.stop();
    }
  });
});
