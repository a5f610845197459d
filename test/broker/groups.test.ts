/**
 * The group coordinator at the protocol level: raw requests at explicit versions through
 * TestClient, each member on its own connection (a connection answers in request order, so a
 * waiting JoinGroup would hold back that connection's heartbeats).
 *
 * JoinGroup (member ids, generations, leader and followers, protocol votes, refusals), SyncGroup
 * (followers wait for the leader), Heartbeat, session and rebalance timeouts, LeaveGroup (v0, v3+
 * batches, by instance id), static membership, OffsetCommit/OffsetFetch across versions and their
 * refusals, ListGroups, DescribeGroups, DeleteGroups, OffsetDelete, FindCoordinator and the
 * internal topic; persistence across a clean restart and a kill -9 of a child-process broker,
 * offset retention, and compaction of `__consumer_offsets`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Message } from "../../protocol/codec.js";
import { type ErrorName, errorCode } from "../../protocol/errors.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { type ChildBuild, compileChild } from "../helpers/compile-child.js";
import {
  API,
  assignment,
  type CommitPartition,
  committedOf,
  type Joined,
  type JoinOptions,
  joinGroupRequest,
  offsetCommitRequest,
  offsetFetchGroupsRequest,
  offsetFetchRequest,
  subscription,
  syncGroupRequest,
} from "../helpers/group-requests.js";
import { TestClient } from "../helpers/kafka-client.js";
import { failOnProcessErrors } from "../helpers/process-errors.js";
import { batchOf } from "../helpers/records.js";
import { produceRequest } from "../helpers/requests.js";

failOnProcessErrors();

const PRODUCE = 0;
const METADATA = 3;
const CREATE_TOPICS = 19;
const DELETE_TOPICS = 20;
const OFFSETS_TOPIC = "__consumer_offsets";

const FLAGS = {
  "group.initial.rebalance.delay.ms": 0,
  "group.min.session.timeout.ms": 100,
  "offsets.topic.num.partitions": 3,
  "log.level": "warn",
};

const code = (name: ErrorName) => errorCode(name);

// ------------------------------------------------------------------------------------------------
// Bounded waiting

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `cond` every 20 ms until it holds; fails after `timeoutMs`. */
async function waitFor(
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** The promise's value if it settles within `ms`, else the string "pending". */
async function within<T>(p: Promise<T>, ms: number): Promise<T | "pending"> {
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<"pending">((resolve) => {
    timer = setTimeout(() => resolve("pending"), ms);
  });
  try {
    return await Promise.race([p, pending]);
  } finally {
    clearTimeout(timer);
  }
}

/** The promise's value; fails if it takes longer than `ms`. */
async function settle<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  const r = await within(p, ms);
  if (r === "pending") throw new Error(`${what} did not answer within ${ms} ms`);
  return r;
}

// ------------------------------------------------------------------------------------------------
// A group member on its own connection

class Member {
  memberId = "";
  generationId = -1;
  leader = "";
  protocolName: string | null = null;

  private constructor(
    readonly client: TestClient,
    readonly groupId: string,
    public opts: JoinOptions,
    readonly version: number,
  ) {}

  static async connect(port: number, groupId: string, opts: JoinOptions = {}, version = 5): Promise<Member> {
    return new Member(await TestClient.connect(port), groupId, opts, version);
  }

  get instanceId(): string | null {
    return this.opts.groupInstanceId ?? null;
  }

  get isLeader(): boolean {
    return this.memberId !== "" && this.memberId === this.leader;
  }

  /** One JoinGroup with the member's current id; remembers the id and generation it is given. */
  async joinOnce(extra: Partial<JoinOptions> = {}, version = this.version): Promise<Joined> {
    const r = (await this.client.request(
      API.JOIN_GROUP,
      version,
      joinGroupRequest(this.groupId, { ...this.opts, ...extra, memberId: this.memberId }),
    )) as unknown as Joined;
    if (r.errorCode === code("MEMBER_ID_REQUIRED")) this.memberId = r.memberId;
    if (r.errorCode === 0) {
      this.memberId = r.memberId;
      this.generationId = r.generationId;
      this.leader = r.leader;
      this.protocolName = r.protocolName;
    }
    return r;
  }

  /** Joins, answering MEMBER_ID_REQUIRED with a second join as clients do. */
  async join(extra: Partial<JoinOptions> = {}): Promise<Joined> {
    const r = await this.joinOnce(extra);
    return r.errorCode === code("MEMBER_ID_REQUIRED") ? this.joinOnce(extra) : r;
  }

  sync(assignments: { memberId: string; assignment: Buffer }[] = [], generationId = this.generationId) {
    return this.client.request(
      API.SYNC_GROUP,
      3,
      syncGroupRequest(this.groupId, generationId, this.memberId, assignments, this.instanceId),
    );
  }

  async heartbeat(generationId = this.generationId, memberId = this.memberId): Promise<number> {
    const r = await this.client.request(API.HEARTBEAT, 3, {
      groupId: this.groupId,
      generationId,
      memberId,
      groupInstanceId: this.instanceId,
    });
    return r.errorCode;
  }

  /** Commits as this member (its generation and id) at OffsetCommit v8; the partitions' errors. */
  async commit(
    topics: Record<string, CommitPartition[]>,
    generationId = this.generationId,
  ): Promise<number[]> {
    const r = await this.client.request(
      API.OFFSET_COMMIT,
      8,
      offsetCommitRequest(this.groupId, topics, generationId, this.memberId, this.instanceId),
    );
    return (r.topics as Message[]).flatMap((t) => (t.partitions as Message[]).map((p) => p.errorCode));
  }

  close(): void {
    this.client.close();
  }
}

/**
 * Forms a Stable group of `opts.length` members in one generation, the leader assigning `topic`
 * partition i to member i, everyone synced. Dynamic members first get their ids (JoinGroup v4+):
 * the ids handed out hold the join phase until all have joined. Static members get no such id,
 * so a group of static members only is grown one member at a time, the others rejoining.
 */
async function formGroup(port: number, groupId: string, opts: JoinOptions[], topic = "t"): Promise<Member[]> {
  const members = await Promise.all(opts.map((o) => Member.connect(port, groupId, o)));
  const dynamic = members.filter((m) => m.instanceId === null);
  if (dynamic.length > 0) {
    for (const m of dynamic) expect((await m.joinOnce()).errorCode).toBe(code("MEMBER_ID_REQUIRED"));
    const joined = await settle(Promise.all(members.map((m) => m.joinOnce())), 10_000, "joins");
    for (const r of joined) expect(r.errorCode).toBe(0);
  } else {
    expect((await settle(members[0].joinOnce(), 10_000, "first join")).errorCode).toBe(0);
    for (let k = 1; k < members.length; k++) {
      const joining = members[k].joinOnce();
      await waitFor(
        async () => (await describeGroup(members[0].client, groupId)).groupState === "PreparingRebalance",
        10_000,
        "the rebalance for a new member",
      );
      const rejoins = members.slice(0, k).map((m) => m.joinOnce());
      const joined = await settle(Promise.all([joining, ...rejoins]), 10_000, "rejoins");
      for (const r of joined) expect(r.errorCode).toBe(0);
    }
  }
  const generations = new Set(members.map((m) => m.generationId));
  expect(generations.size).toBe(1);
  await syncAll(members, topic);
  return members;
}

/** The leader assigns `topic` partition i to member i; every member syncs; all succeed. */
async function syncAll(members: Member[], topic = "t"): Promise<void> {
  const leader = members.find((m) => m.isLeader);
  if (!leader) throw new Error("no leader among the members");
  const assignments = members.map((m, i) => ({
    memberId: m.memberId,
    assignment: assignment({ [topic]: [i] }),
  }));
  const synced = await settle(
    Promise.all(members.map((m) => (m === leader ? m.sync(assignments) : m.sync()))),
    10_000,
    "syncs",
  );
  for (const [i, s] of synced.entries()) {
    expect(s.errorCode).toBe(0);
    expect(s.assignment).toEqual(assignment({ [topic]: [i] }));
  }
}

async function createTopic(c: TestClient, name: string, partitions = 3): Promise<number> {
  const r = await c.request(CREATE_TOPICS, 7, {
    topics: [{ name, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 10_000,
    validateOnly: false,
  });
  return r.topics[0].errorCode;
}

async function describeGroup(c: TestClient, groupId: string, version = 5): Promise<Message> {
  const r = await c.request(API.DESCRIBE_GROUPS, version, {
    groups: [groupId],
    includeAuthorizedOperations: false,
  });
  return r.groups[0];
}

async function fetchOffsets(
  c: TestClient,
  groupId: string,
  topics: Record<string, number[]> | null,
  version = 7,
): Promise<Record<string, Record<number, number>>> {
  const r = await c.request(API.OFFSET_FETCH, version, offsetFetchRequest(groupId, topics));
  expect(r.errorCode).toBe(0);
  return committedOf(r.topics);
}

async function commitStandalone(
  c: TestClient,
  groupId: string,
  topics: Record<string, CommitPartition[]>,
  version = 8,
): Promise<number[]> {
  const r = await c.request(API.OFFSET_COMMIT, version, offsetCommitRequest(groupId, topics));
  return (r.topics as Message[]).flatMap((t) => (t.partitions as Message[]).map((p) => p.errorCode));
}

// ------------------------------------------------------------------------------------------------
// One broker for the protocol tests

let tb: TestBroker;
let admin: TestClient;
const open: Member[] = [];

async function member(groupId: string, opts: JoinOptions = {}, version = 5): Promise<Member> {
  const m = await Member.connect(tb.port, groupId, opts, version);
  open.push(m);
  return m;
}

async function group(groupId: string, opts: JoinOptions[], topic = "t"): Promise<Member[]> {
  const members = await formGroup(tb.port, groupId, opts, topic);
  open.push(...members);
  return members;
}

beforeAll(async () => {
  tb = await startTestBroker(FLAGS);
  admin = await TestClient.connect(tb.port);
  expect(await createTopic(admin, "t")).toBe(0);
  expect(await createTopic(admin, "t2")).toBe(0);
});

afterAll(async () => {
  for (const m of open) m.close();
  admin?.close();
  await tb?.stop();
});

describe("JoinGroup", () => {
  it("v4+: a new member gets MEMBER_ID_REQUIRED and an id, then joins with it", async () => {
    const m = await member("join-v5");
    const first = await m.joinOnce();
    expect(first.errorCode).toBe(code("MEMBER_ID_REQUIRED"));
    expect(first.memberId).not.toBe("");
    expect(first.generationId).toBe(-1);
    const second = await m.joinOnce();
    expect(second).toMatchObject({
      errorCode: 0,
      generationId: 1,
      memberId: first.memberId,
      leader: first.memberId,
      protocolName: "range",
    });
    expect(second.members.map((x) => x.memberId)).toEqual([first.memberId]);
    expect(second.members[0].metadata).toEqual(subscription(["t"]));
  });

  it.each([0, 1, 2, 3])("v%i: a new member joins directly", async (version) => {
    const m = await member(`join-v${version}`, {}, version);
    const r = await m.joinOnce();
    expect(r.errorCode).toBe(0);
    expect(r.generationId).toBe(1);
    expect(r.memberId).not.toBe("");
    expect(r.leader).toBe(r.memberId);
  });

  it("increments the generation per rebalance; the leader alone gets the members' metadata", async () => {
    const [a] = await group("gen", [{ protocols: [["range", subscription(["t"])]] }]);
    expect(a.generationId).toBe(1);
    const b = await member("gen", { protocols: [["range", subscription(["t2"])]] });
    expect((await b.joinOnce()).errorCode).toBe(code("MEMBER_ID_REQUIRED"));
    const bJoin = b.joinOnce();
    // The join phase waits for a, which learns of the rebalance from its heartbeat.
    expect(await within(bJoin, 200)).toBe("pending");
    expect(await a.heartbeat()).toBe(code("REBALANCE_IN_PROGRESS"));
    const [aj, bj] = await settle(Promise.all([a.joinOnce(), bJoin]), 5000, "rejoin");
    expect(aj.generationId).toBe(2);
    expect(bj.generationId).toBe(2);
    expect(aj.leader).toBe(a.memberId);
    expect(bj.leader).toBe(a.memberId);
    const meta = new Map(aj.members.map((x) => [x.memberId, x.metadata]));
    expect(meta.get(a.memberId)).toEqual(subscription(["t"]));
    expect(meta.get(b.memberId)).toEqual(subscription(["t2"]));
    expect(bj.members).toEqual([]);
    await syncAll([a, b]);
    // b leaves: a rejoins alone into generation 3.
    const left = await b.client.request(API.LEAVE_GROUP, 0, { groupId: "gen", memberId: b.memberId });
    expect(left.errorCode).toBe(0);
    expect(await a.heartbeat()).toBe(code("REBALANCE_IN_PROGRESS"));
    const again = await settle(a.joinOnce(), 5000, "rejoin");
    expect(again.generationId).toBe(3);
    expect(again.members.map((x) => x.memberId)).toEqual([a.memberId]);
  });

  it("selects the protocol with the most votes among those every member supports", async () => {
    const proto = (names: string[]): [string, Buffer][] => names.map((n) => [n, subscription(["t"])]);
    const members = await Promise.all([
      member("votes", { protocols: proto(["roundrobin", "range", "sticky"]) }),
      member("votes", { protocols: proto(["range", "roundrobin"]) }),
      member("votes", { protocols: proto(["range", "roundrobin", "cooperative"]) }),
    ]);
    for (const m of members) expect((await m.joinOnce()).errorCode).toBe(code("MEMBER_ID_REQUIRED"));
    const joined = await settle(Promise.all(members.map((m) => m.joinOnce())), 5000, "joins");
    for (const r of joined) expect(r).toMatchObject({ errorCode: 0, protocolName: "range" });

    // Two votes for roundrobin against one for range; "sticky" is not common to all.
    const others = await Promise.all([
      member("votes2", { protocols: proto(["sticky", "roundrobin", "range"]) }),
      member("votes2", { protocols: proto(["roundrobin", "range"]) }),
      member("votes2", { protocols: proto(["range", "roundrobin", "sticky"]) }),
    ]);
    for (const m of others) expect((await m.joinOnce()).errorCode).toBe(code("MEMBER_ID_REQUIRED"));
    const joined2 = await settle(Promise.all(others.map((m) => m.joinOnce())), 5000, "joins");
    for (const r of joined2) expect(r).toMatchObject({ errorCode: 0, protocolName: "roundrobin" });
  });

  it("refuses another protocol type or no common protocol: INCONSISTENT_GROUP_PROTOCOL", async () => {
    await group("inconsistent", [{ protocols: [["range", subscription(["t"])]] }]);
    const otherType = await member("inconsistent", { protocolType: "connect" });
    expect((await otherType.joinOnce()).errorCode).toBe(code("INCONSISTENT_GROUP_PROTOCOL"));
    const noCommon = await member("inconsistent", { protocols: [["sticky", subscription(["t"])]] });
    expect((await noCommon.joinOnce()).errorCode).toBe(code("INCONSISTENT_GROUP_PROTOCOL"));
    const none = await member("inconsistent-empty", { protocols: [] });
    expect((await none.joinOnce()).errorCode).toBe(code("INCONSISTENT_GROUP_PROTOCOL"));
    const v0 = await member("inconsistent", { protocolType: "connect" }, 0);
    expect((await v0.joinOnce()).errorCode).toBe(code("INCONSISTENT_GROUP_PROTOCOL"));
  });

  it("refuses bad session timeouts, an empty group id and unknown member ids", async () => {
    const low = await member("timeouts", { sessionTimeoutMs: 99 });
    expect((await low.joinOnce()).errorCode).toBe(code("INVALID_SESSION_TIMEOUT"));
    const high = await member("timeouts", { sessionTimeoutMs: 30 * 60_000 + 1 });
    expect((await high.joinOnce()).errorCode).toBe(code("INVALID_SESSION_TIMEOUT"));
    const noId = await member("");
    expect((await noId.joinOnce()).errorCode).toBe(code("INVALID_GROUP_ID"));
    const stranger = await member("no-such-group");
    stranger.memberId = "ghost";
    expect((await stranger.joinOnce()).errorCode).toBe(code("UNKNOWN_MEMBER_ID"));
    await group("known", [{}]);
    const ghost = await member("known");
    ghost.memberId = "ghost";
    expect((await ghost.joinOnce()).errorCode).toBe(code("UNKNOWN_MEMBER_ID"));
    expect(await ghost.heartbeat(1)).toBe(code("UNKNOWN_MEMBER_ID"));
    expect((await ghost.sync([], 1)).errorCode).toBe(code("UNKNOWN_MEMBER_ID"));
  });
});

describe("SyncGroup and Heartbeat", () => {
  it("followers wait for the leader's SyncGroup; each gets its own assignment", async () => {
    const members = await Promise.all([member("sync"), member("sync")]);
    for (const m of members) await m.joinOnce();
    await settle(Promise.all(members.map((m) => m.joinOnce())), 5000, "joins");
    const leader = members.find((m) => m.isLeader) as Member;
    const follower = members.find((m) => !m.isLeader) as Member;
    const followerSync = follower.sync();
    expect(await within(followerSync, 200)).toBe("pending");
    // Wrong generations are refused at once, while the follower waits.
    expect((await leader.sync([], leader.generationId + 1)).errorCode).toBe(code("ILLEGAL_GENERATION"));
    expect(await leader.heartbeat(leader.generationId + 1)).toBe(code("ILLEGAL_GENERATION"));
    expect(await leader.heartbeat()).toBe(0);
    const leaderSync = await settle(
      leader.sync([
        { memberId: leader.memberId, assignment: assignment({ t: [0, 1] }) },
        { memberId: follower.memberId, assignment: assignment({ t: [2] }) },
      ]),
      5000,
      "leader sync",
    );
    expect(leaderSync.errorCode).toBe(0);
    expect(leaderSync.assignment).toEqual(assignment({ t: [0, 1] }));
    const f = await settle(followerSync, 5000, "follower sync");
    expect(f.errorCode).toBe(0);
    expect(f.assignment).toEqual(assignment({ t: [2] }));
    expect(await follower.heartbeat()).toBe(0);
    // A Stable group answers a late SyncGroup with the member's assignment.
    expect((await follower.sync()).assignment).toEqual(assignment({ t: [2] }));
    // v5 names the protocol type and name; they must be the group's.
    const v5 = (protocolType: string, protocolName: string) =>
      follower.client.request(API.SYNC_GROUP, 5, {
        ...syncGroupRequest("sync", follower.generationId, follower.memberId),
        protocolType,
        protocolName,
      });
    expect(await v5("consumer", "range")).toMatchObject({
      errorCode: 0,
      protocolType: "consumer",
      protocolName: "range",
    });
    expect((await v5("consumer", "roundrobin")).errorCode).toBe(code("INCONSISTENT_GROUP_PROTOCOL"));
    expect((await v5("connect", "range")).errorCode).toBe(code("INCONSISTENT_GROUP_PROTOCOL"));
    expect((await describeGroup(admin, "sync")).groupState).toBe("Stable");
  });

  it("answers heartbeats during PreparingRebalance with REBALANCE_IN_PROGRESS", async () => {
    const [a, b] = await group("hb", [{}, {}]);
    const leader = a.isLeader ? a : b;
    const follower = leader === a ? b : a;
    // The leader rejoining starts a rebalance.
    const rejoin = leader.joinOnce();
    await waitFor(
      async () => (await describeGroup(admin, "hb")).groupState === "PreparingRebalance",
      5000,
      "PreparingRebalance",
    );
    expect(await follower.heartbeat()).toBe(code("REBALANCE_IN_PROGRESS"));
    expect((await follower.sync()).errorCode).toBe(code("REBALANCE_IN_PROGRESS"));
    const [lj, fj] = await settle(Promise.all([rejoin, follower.joinOnce()]), 5000, "rejoin");
    expect(lj.generationId).toBe(fj.generationId);
    expect(lj.generationId).toBe(2);
  });
});

describe("timeouts", () => {
  it("removes a member that stops heartbeating after its session timeout", async () => {
    // a's session is long, so that only b (which says nothing) can expire.
    const [a, b] = await group("session", [
      { sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 5000 },
      { sessionTimeoutMs: 400, rebalanceTimeoutMs: 5000 },
    ]);
    // a heartbeats; b says nothing.
    let answer = 0;
    await waitFor(
      async () => {
        answer = await a.heartbeat();
        return answer !== 0;
      },
      5000,
      "a rebalance after b's session timeout",
    );
    expect(answer).toBe(code("REBALANCE_IN_PROGRESS"));
    const r = await settle(a.joinOnce(), 5000, "rejoin");
    expect(r.errorCode).toBe(0);
    expect(r.generationId).toBe(2);
    expect(r.leader).toBe(a.memberId);
    expect(r.members.map((m) => m.memberId)).toEqual([a.memberId]);
    expect(await b.heartbeat()).toBe(code("UNKNOWN_MEMBER_ID"));
  });

  it("drops a member that does not rejoin within the rebalance timeout", async () => {
    const [a, b] = await group("rebalance", [
      { sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 500 },
      { sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 500 },
    ]);
    const leader = a.isLeader ? a : b;
    const follower = leader === a ? b : a;
    const rejoin = leader.joinOnce();
    // The follower keeps heartbeating (so its session lives) but never rejoins.
    let last = 0;
    await waitFor(
      async () => {
        last = await follower.heartbeat();
        return last === code("UNKNOWN_MEMBER_ID");
      },
      5000,
      "the follower to be dropped",
    );
    const r = await settle(rejoin, 5000, "leader's rejoin");
    expect(r.errorCode).toBe(0);
    expect(r.generationId).toBe(2);
    expect(r.members.map((m) => m.memberId)).toEqual([leader.memberId]);
  });
});

describe("a leader that never syncs", () => {
  it("is removed after the rebalance timeout; waiting followers are told to rejoin", async () => {
    const opts = { sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 1000 };
    const members = await Promise.all([member("no-sync", opts), member("no-sync", opts)]);
    for (const m of members) expect((await m.joinOnce()).errorCode).toBe(code("MEMBER_ID_REQUIRED"));
    await settle(Promise.all(members.map((m) => m.joinOnce())), 5000, "joins");
    const leader = members.find((m) => m.isLeader) as Member;
    const follower = members.find((m) => !m.isLeader) as Member;
    const waiting = follower.sync();
    // While the group completes its rebalance, commits are refused.
    expect(await follower.commit({ t: [{ partition: 0, offset: 1 }] })).toEqual([
      code("REBALANCE_IN_PROGRESS"),
    ]);
    const s = await settle(waiting, 5000, "the follower's sync");
    expect(s.errorCode).toBe(code("REBALANCE_IN_PROGRESS"));
    const r = await settle(follower.joinOnce(), 5000, "rejoin");
    expect(r.errorCode).toBe(0);
    expect(r.leader).toBe(follower.memberId);
    expect(r.members.map((m) => m.memberId)).toEqual([follower.memberId]);
    expect(await leader.heartbeat()).toBe(code("UNKNOWN_MEMBER_ID"));
  });
});

describe("LeaveGroup and static membership", () => {
  it("v0: the last member leaving empties the group", async () => {
    const [a] = await group("leave-v0", [{}]);
    const r = await a.client.request(API.LEAVE_GROUP, 0, { groupId: "leave-v0", memberId: a.memberId });
    expect(r.errorCode).toBe(0);
    const d = await describeGroup(admin, "leave-v0");
    expect(d.groupState).toBe("Empty");
    expect(d.members).toEqual([]);
    const again = await a.client.request(API.LEAVE_GROUP, 0, { groupId: "leave-v0", memberId: a.memberId });
    expect(again.errorCode).toBe(code("UNKNOWN_MEMBER_ID"));
  });

  it("v3+: a batch, by member id and by instance id, each with its own answer", async () => {
    const [a, b, c] = await group("leave-v3", [{ groupInstanceId: "i-a" }, { groupInstanceId: "i-b" }, {}]);
    const r = await admin.request(API.LEAVE_GROUP, 4, {
      groupId: "leave-v3",
      members: [
        { memberId: "", groupInstanceId: "i-a", reason: null },
        { memberId: "wrong-id", groupInstanceId: "i-b", reason: null },
        { memberId: c.memberId, groupInstanceId: null, reason: null },
        { memberId: "", groupInstanceId: "i-nobody", reason: null },
      ],
    });
    expect(r.errorCode).toBe(0);
    expect((r.members as Message[]).map((m) => m.errorCode)).toEqual([
      0,
      code("FENCED_INSTANCE_ID"),
      0,
      code("UNKNOWN_MEMBER_ID"),
    ]);
    expect(await a.heartbeat()).toBe(code("UNKNOWN_MEMBER_ID"));
    expect(await b.heartbeat()).toBe(code("REBALANCE_IN_PROGRESS"));
    const d = await describeGroup(admin, "leave-v3");
    expect((d.members as Message[]).map((m) => m.memberId)).toEqual([b.memberId]);
  });

  it("a static member restarting with a new id fences the old one without a rebalance", async () => {
    const members = await group("static", [{ groupInstanceId: "s-1" }, { groupInstanceId: "s-2" }]);
    const leader = members.find((m) => m.isLeader) as Member;
    const follower = members.find((m) => !m.isLeader) as Member;
    const generation = follower.generationId;
    const oldId = follower.memberId;
    const restarted = await member("static", { groupInstanceId: follower.instanceId });
    const r = await settle(restarted.joinOnce(), 5000, "static rejoin");
    expect(r.errorCode).toBe(0);
    expect(r.memberId).not.toBe(oldId);
    expect(r.generationId).toBe(generation);
    expect(r.leader).toBe(leader.memberId);
    expect(await follower.heartbeat()).toBe(code("FENCED_INSTANCE_ID"));
    expect((await follower.sync()).errorCode).toBe(code("FENCED_INSTANCE_ID"));
    expect(await follower.commit({ t: [{ partition: 0, offset: 1 }] })).toEqual([code("FENCED_INSTANCE_ID")]);
    // No new generation: the leader's heartbeat is fine; the new id gets the old assignment.
    expect(await leader.heartbeat()).toBe(0);
    const s = await restarted.sync();
    expect(s.errorCode).toBe(0);
    const oldIndex = members.indexOf(follower);
    expect(s.assignment).toEqual(assignment({ t: [oldIndex] }));
    const d = await describeGroup(admin, "static");
    expect(d.groupState).toBe("Stable");
    expect((d.members as Message[]).map((m) => m.memberId).sort()).toEqual(
      [leader.memberId, r.memberId].sort(),
    );
    // A static leader restarting does not rebalance either (Kafka's rule: only a change of the
    // group's protocol would): from v9 it is told to skip the assignment, and gets the members.
    const newLeader = await member("static", { groupInstanceId: leader.instanceId }, 9);
    const l2 = await settle(newLeader.joinOnce(), 5000, "static leader rejoin");
    expect(l2).toMatchObject({ errorCode: 0, generationId: generation, skipAssignment: true });
    expect(l2.leader).toBe(l2.memberId);
    expect(l2.members.map((m) => m.memberId).sort()).toEqual([l2.memberId, r.memberId].sort());
    expect(await leader.heartbeat()).toBe(code("FENCED_INSTANCE_ID"));
    expect(await restarted.heartbeat()).toBe(0);
    expect((await newLeader.sync()).assignment).toEqual(assignment({ t: [members.indexOf(leader)] }));
    expect((await describeGroup(admin, "static")).groupState).toBe("Stable");
  });
});

describe("OffsetCommit and OffsetFetch", () => {
  const versions: [commit: number, fetch: number][] = [
    [2, 1],
    [3, 2],
    [5, 5],
    [7, 7],
    [8, 8],
    [9, 9],
  ];

  it.each(versions)("commit v%i, fetch v%i: the committed values come back", async (cv, fv) => {
    const groupId = `commit-v${cv}`;
    const partitions = [
      { partition: 0, offset: 10 + cv, metadata: `meta-${cv}` },
      { partition: 2, offset: 20 + cv, metadata: null },
    ];
    expect(await commitStandalone(admin, groupId, { t: partitions }, cv)).toEqual([0, 0]);
    if (fv >= 8) {
      const r = await admin.request(
        API.OFFSET_FETCH,
        fv,
        offsetFetchGroupsRequest({
          [groupId]: { t: [0, 1, 2] },
          [`${groupId}-unknown`]: null,
        }),
      );
      const [g, unknown] = r.groups as Message[];
      expect(g.errorCode).toBe(0);
      const parts = (g.topics as Message[])[0].partitions as Message[];
      expect(parts.map((p) => [p.partitionIndex, p.committedOffset, p.metadata])).toEqual([
        [0, 10 + cv, `meta-${cv}`],
        [1, -1, ""],
        [2, 20 + cv, ""],
      ]);
      expect(unknown).toMatchObject({ groupId: `${groupId}-unknown`, errorCode: 0, topics: [] });
      const everything = await admin.request(
        API.OFFSET_FETCH,
        fv,
        offsetFetchGroupsRequest({ [groupId]: null }),
      );
      expect(committedOf((everything.groups as Message[])[0].topics)).toEqual({
        t: { 0: 10 + cv, 2: 20 + cv },
      });
      return;
    }
    const r = await admin.request(API.OFFSET_FETCH, fv, offsetFetchRequest(groupId, { t: [0, 1, 2] }));
    const parts = (r.topics as Message[])[0].partitions as Message[];
    expect(parts.map((p) => [p.partitionIndex, p.committedOffset, p.metadata, p.errorCode])).toEqual([
      [0, 10 + cv, `meta-${cv}`, 0],
      [1, -1, "", 0],
      [2, 20 + cv, "", 0],
    ]);
    if (fv >= 2)
      expect(await fetchOffsets(admin, groupId, null, fv)).toEqual({ t: { 0: 10 + cv, 2: 20 + cv } });
  });

  it("carries the leader epoch from commit v6+ to fetch v5+", async () => {
    const body = offsetCommitRequest("epochs", { t: [{ partition: 1, offset: 5 }] });
    body.topics[0].partitions[0].committedLeaderEpoch = 7;
    const c = await admin.request(API.OFFSET_COMMIT, 8, body);
    expect(c.topics[0].partitions[0].errorCode).toBe(0);
    const f = await admin.request(API.OFFSET_FETCH, 5, offsetFetchRequest("epochs", { t: [1] }));
    expect(f.topics[0].partitions[0]).toMatchObject({ committedOffset: 5, committedLeaderEpoch: 7 });
  });

  it("refuses non-members, wrong generations, unknown partitions and oversize metadata", async () => {
    const [a] = await group("commits", [{}]);
    expect(await a.commit({ t: [{ partition: 0, offset: 3 }] })).toEqual([0]);
    expect(await a.commit({ t: [{ partition: 0, offset: 4 }] }, a.generationId + 1)).toEqual([
      code("ILLEGAL_GENERATION"),
    ]);
    const stranger = await member("commits");
    stranger.memberId = "stranger";
    expect(await stranger.commit({ t: [{ partition: 0, offset: 5 }] }, a.generationId)).toEqual([
      code("UNKNOWN_MEMBER_ID"),
    ]);
    // A standalone commit (generation -1) is refused while the group has members.
    expect(await commitStandalone(admin, "commits", { t: [{ partition: 0, offset: 6 }] })).toEqual([
      code("UNKNOWN_MEMBER_ID"),
    ]);
    expect(
      await a.commit({
        t: [
          { partition: 1, offset: 7 },
          { partition: 99, offset: 1 },
          { partition: 2, offset: 8, metadata: "x".repeat(4097) },
        ],
        "no-such-topic": [{ partition: 0, offset: 1 }],
      }),
    ).toEqual([
      0,
      code("UNKNOWN_TOPIC_OR_PARTITION"),
      code("OFFSET_METADATA_TOO_LARGE"),
      code("UNKNOWN_TOPIC_OR_PARTITION"),
    ]);
    expect(await fetchOffsets(admin, "commits", null)).toEqual({ t: { 0: 3, 1: 7 } });
    // Once the member leaves, the Empty group takes standalone commits.
    await a.client.request(API.LEAVE_GROUP, 3, {
      groupId: "commits",
      members: [{ memberId: a.memberId, groupInstanceId: null }],
    });
    expect((await describeGroup(admin, "commits")).groupState).toBe("Empty");
    expect(await commitStandalone(admin, "commits", { t: [{ partition: 0, offset: 6 }] })).toEqual([0]);
    expect(await fetchOffsets(admin, "commits", { t: [0] })).toEqual({ t: { 0: 6 } });
  });

  it("refuses commits with an empty group id", async () => {
    expect(await commitStandalone(admin, "", { t: [{ partition: 0, offset: 1 }] })).toEqual([
      code("INVALID_GROUP_ID"),
    ]);
  });
});

describe("ListGroups, DescribeGroups, DeleteGroups, OffsetDelete", () => {
  it("lists groups with their types, filtered by state from v4", async () => {
    await group("list-stable", [{}]);
    expect(await commitStandalone(admin, "list-empty", { t: [{ partition: 0, offset: 1 }] })).toEqual([0]);
    const v0 = await admin.request(API.LIST_GROUPS, 0, {});
    const byId = new Map((v0.groups as Message[]).map((g) => [g.groupId, g]));
    expect(byId.get("list-stable")).toMatchObject({ protocolType: "consumer" });
    expect(byId.get("list-empty")).toMatchObject({ protocolType: "" });
    const stable = await admin.request(API.LIST_GROUPS, 4, { statesFilter: ["Stable"] });
    const stableIds = (stable.groups as Message[]).map((g) => g.groupId);
    expect(stableIds).toContain("list-stable");
    expect(stableIds).not.toContain("list-empty");
    for (const g of stable.groups as Message[]) expect(g.groupState).toBe("Stable");
    const empty = await admin.request(API.LIST_GROUPS, 4, { statesFilter: ["empty"] });
    expect((empty.groups as Message[]).map((g) => g.groupId)).toContain("list-empty");
    const classic = await admin.request(API.LIST_GROUPS, 5, { statesFilter: [], typesFilter: ["classic"] });
    expect((classic.groups as Message[]).map((g) => g.groupId)).toEqual(
      expect.arrayContaining(["list-stable", "list-empty"]),
    );
    for (const g of classic.groups as Message[]) expect(g.groupType).toBe("classic");
    const consumer = await admin.request(API.LIST_GROUPS, 5, { statesFilter: [], typesFilter: ["consumer"] });
    expect(consumer.groups).toEqual([]);
  });

  it("describes groups: members with metadata and assignment; unknown is Dead before v6", async () => {
    const [a] = await group("describe", [
      { groupInstanceId: "d-1", protocols: [["range", subscription(["t"])]] },
    ]);
    const d = await describeGroup(admin, "describe", 5);
    expect(d).toMatchObject({
      errorCode: 0,
      groupState: "Stable",
      protocolType: "consumer",
      protocolData: "range",
    });
    expect(d.members).toHaveLength(1);
    expect(d.members[0]).toMatchObject({ memberId: a.memberId, groupInstanceId: "d-1", clientId: "test" });
    expect(d.members[0].memberMetadata).toEqual(subscription(["t"]));
    expect(d.members[0].memberAssignment).toEqual(assignment({ t: [0] }));
    const v0 = await describeGroup(admin, "describe-nobody", 0);
    expect(v0).toMatchObject({ errorCode: 0, groupState: "Dead" });
    const v5 = await describeGroup(admin, "describe-nobody", 5);
    expect(v5).toMatchObject({ errorCode: 0, groupState: "Dead" });
    const v6 = await describeGroup(admin, "describe-nobody", 6);
    expect(v6.errorCode).toBe(code("GROUP_ID_NOT_FOUND"));
    expect((await describeGroup(admin, "", 6)).errorCode).toBe(code("INVALID_GROUP_ID"));
  });

  it("deletes empty groups and their offsets, not groups with members", async () => {
    const [a] = await group("delete-busy", [{}]);
    expect(await commitStandalone(admin, "delete-me", { t: [{ partition: 1, offset: 42 }] })).toEqual([0]);
    const r = await admin.request(API.DELETE_GROUPS, 2, {
      groupsNames: ["delete-busy", "delete-none", "delete-me"],
    });
    expect((r.results as Message[]).map((x) => [x.groupId, x.errorCode])).toEqual([
      ["delete-busy", code("NON_EMPTY_GROUP")],
      ["delete-none", code("GROUP_ID_NOT_FOUND")],
      ["delete-me", 0],
    ]);
    expect(await fetchOffsets(admin, "delete-me", { t: [1] })).toEqual({ t: { 1: -1 } });
    expect((await describeGroup(admin, "delete-me", 6)).errorCode).toBe(code("GROUP_ID_NOT_FOUND"));
    const listed = await admin.request(API.LIST_GROUPS, 0, {});
    expect((listed.groups as Message[]).map((g) => g.groupId)).not.toContain("delete-me");
    expect(await a.heartbeat()).toBe(0);
  });

  it("OffsetDelete: GROUP_SUBSCRIBED_TO_TOPIC for a subscribed topic, deletes the others", async () => {
    const [a] = await group("offset-delete", [{ protocols: [["range", subscription(["t"])]] }]);
    expect(await a.commit({ t: [{ partition: 0, offset: 1 }], t2: [{ partition: 0, offset: 2 }] })).toEqual([
      0, 0,
    ]);
    const r = await admin.request(API.OFFSET_DELETE, 0, {
      groupId: "offset-delete",
      topics: [
        { name: "t", partitions: [{ partitionIndex: 0 }] },
        { name: "t2", partitions: [{ partitionIndex: 0 }] },
      ],
    });
    expect(r.errorCode).toBe(0);
    expect((r.topics as Message[]).map((t) => [t.name, t.partitions[0].errorCode])).toEqual([
      ["t", code("GROUP_SUBSCRIBED_TO_TOPIC")],
      ["t2", 0],
    ]);
    expect(await fetchOffsets(admin, "offset-delete", null)).toEqual({ t: { 0: 1 } });
    const unknown = await admin.request(API.OFFSET_DELETE, 0, {
      groupId: "offset-delete-nobody",
      topics: [{ name: "t", partitions: [{ partitionIndex: 0 }] }],
    });
    expect(unknown.errorCode).toBe(code("GROUP_ID_NOT_FOUND"));
  });
});

describe("FindCoordinator and __consumer_offsets", () => {
  let fresh: TestBroker;
  let c: TestClient;

  beforeAll(async () => {
    fresh = await startTestBroker(FLAGS);
    c = await TestClient.connect(fresh.port);
  });
  afterAll(async () => {
    c?.close();
    await fresh?.stop();
  });

  it("v0-v4 name this broker and create the internal topic", async () => {
    // Before it exists, clients cannot create it either.
    expect(await createTopic(c, OFFSETS_TOPIC)).toBe(code("INVALID_REQUEST"));
    expect(fresh.broker.topics.record(OFFSETS_TOPIC)).toBeUndefined();
    const self = { nodeId: 1, port: fresh.port };
    const v0 = await c.request(API.FIND_COORDINATOR, 0, { key: "g" });
    expect(v0).toMatchObject({ errorCode: 0, ...self });
    expect(fresh.broker.topics.record(OFFSETS_TOPIC)?.partitions).toHaveLength(3);
    for (const v of [1, 2, 3]) {
      expect(await c.request(API.FIND_COORDINATOR, v, { key: "g", keyType: 0 })).toMatchObject({
        errorCode: 0,
        ...self,
      });
    }
    const v4 = await c.request(API.FIND_COORDINATOR, 4, { keyType: 0, coordinatorKeys: ["a", "b", ""] });
    expect((v4.coordinators as Message[]).map((x) => [x.key, x.errorCode, x.nodeId, x.port])).toEqual([
      ["a", 0, 1, fresh.port],
      ["b", 0, 1, fresh.port],
      ["", code("INVALID_REQUEST"), -1, -1],
    ]);
    const md = await c.request(METADATA, 12, {
      topics: [{ topicId: "00000000000000000000000000000000", name: OFFSETS_TOPIC }],
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    });
    expect(md.topics[0]).toMatchObject({ name: OFFSETS_TOPIC, errorCode: 0, isInternal: true });
  });

  it("clients cannot produce to, create or delete it", async () => {
    const p = await c.request(PRODUCE, 9, produceRequest(OFFSETS_TOPIC, batchOf(1, "x")));
    expect(p.responses[0].partitionResponses[0].errorCode).toBe(code("INVALID_TOPIC_EXCEPTION"));
    // Once it exists, CreateTopics says so first (its documented validation order, as Kafka).
    expect(await createTopic(c, OFFSETS_TOPIC)).toBe(code("TOPIC_ALREADY_EXISTS"));
    const d = await c.request(DELETE_TOPICS, 6, {
      topics: [{ name: OFFSETS_TOPIC, topicId: "00000000000000000000000000000000" }],
      timeoutMs: 10_000,
    });
    expect(d.responses[0].errorCode).toBe(code("INVALID_REQUEST"));
    expect(fresh.broker.topics.record(OFFSETS_TOPIC)).toBeDefined();
  });
});

// ------------------------------------------------------------------------------------------------
// Persistence, retention and compaction: brokers of their own

describe("persistence", () => {
  it("offsets and the group's generation and members survive a clean restart", async () => {
    let b = await startTestBroker(FLAGS);
    const dataDir = b.dataDir;
    let members: Member[] = [];
    try {
      const c = await TestClient.connect(b.port);
      expect(await createTopic(c, "t")).toBe(0);
      c.close();
      members = await formGroup(b.port, "persist", [
        { sessionTimeoutMs: 3000, rebalanceTimeoutMs: 3000 },
        { sessionTimeoutMs: 3000, rebalanceTimeoutMs: 3000 },
      ]);
      expect(await members[0].commit({ t: [{ partition: 0, offset: 11, metadata: "m" }] })).toEqual([0]);
      expect(await members[1].commit({ t: [{ partition: 1, offset: 22 }] })).toEqual([0]);
      for (const m of members) m.close();
      await b.stop(true);
      b = await startTestBroker(FLAGS, dataDir);
      const c2 = await TestClient.connect(b.port);
      try {
        expect(await fetchOffsets(c2, "persist", null)).toEqual({ t: { 0: 11, 1: 22 } });
        const d = await describeGroup(c2, "persist");
        expect(d.groupState).toBe("Stable");
        expect(d.protocolData).toBe("range");
        expect((d.members as Message[]).map((m) => m.memberId).sort()).toEqual(
          members.map((m) => m.memberId).sort(),
        );
        const byId = new Map((d.members as Message[]).map((m) => [m.memberId, m.memberAssignment]));
        for (const [i, m] of members.entries()) expect(byId.get(m.memberId)).toEqual(assignment({ t: [i] }));
        // The same generation: a heartbeat of the old generation is answered without error.
        const hb = await c2.request(API.HEARTBEAT, 3, {
          groupId: "persist",
          generationId: members[0].generationId,
          memberId: members[0].memberId,
          groupInstanceId: null,
        });
        expect(hb.errorCode).toBe(0);
        // Members that do not come back expire after their session timeout.
        await waitFor(
          async () => (await describeGroup(c2, "persist")).groupState === "Empty",
          15_000,
          "the restored members to expire",
        );
        expect(await fetchOffsets(c2, "persist", null)).toEqual({ t: { 0: 11, 1: 22 } });
      } finally {
        c2.close();
      }
    } finally {
      await b.stop();
    }
  });
});

/** The child broker: the sources compiled into a private directory (not dist/, see kill.test.ts). */
const CHILD = `
import { Broker } from "./broker/broker.js";
import { loadBrokerConfig } from "./broker/config.js";
const [dataDir, flags] = process.argv.slice(2);
const config = loadBrokerConfig({ flags: { "data.dir": dataDir, "kafka.port": 0, "http.port": 0, ...JSON.parse(flags) } });
const broker = await Broker.start(config);
process.stdout.write("samsa-port " + broker.kafkaPort + "\\n");
`;

describe("kill -9", () => {
  let compiled: ChildBuild;

  beforeAll(() => {
    compiled = compileChild("samsa-groups-kill-", CHILD);
  });
  afterAll(() => compiled.remove());

  function startChild(
    dataDir: string,
  ): Promise<{ child: ChildProcess; port: number; exited: Promise<void> }> {
    const child = spawn(process.execPath, [compiled.child, dataDir, JSON.stringify(FLAGS)], {
      cwd: compiled.build,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
    return new Promise((resolve, reject) => {
      let out = "";
      let err = "";
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`child broker did not start: ${err}`));
      }, 20_000);
      child.stderr?.on("data", (d: Buffer) => {
        err += d.toString();
      });
      child.stdout?.on("data", (d: Buffer) => {
        out += d.toString();
        const m = /samsa-port (\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve({ child, port: Number(m[1]), exited });
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`child broker exited with ${code}: ${err}`));
      });
    });
  }

  it("keeps every acknowledged commit", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "samsa-groups-kill-data-"));
    try {
      let broker = await startChild(dataDir);
      let c = await TestClient.connect(broker.port);
      expect(await createTopic(c, "k", 3)).toBe(0);
      // A group whose assignment was acknowledged must come back with it too.
      const [held] = await formGroup(broker.port, "crash-group", [{ sessionTimeoutMs: 30_000 }], "k");
      const PARTITIONS = 3;
      const IN_FLIGHT = 4;
      const KILL_AFTER_ACKS = 150;
      const acked = [-1, -1, -1];
      const sent = [-1, -1, -1];
      let acks = 0;
      let killed = false;
      // Offsets rise per partition; up to IN_FLIGHT commits travel at once; SIGKILL lands mid-loop.
      const loop = async (lane: number) => {
        for (let i = lane; !killed && i < 10_000; i += IN_FLIGHT) {
          const partition = i % PARTITIONS;
          const offset = i;
          sent[partition] = Math.max(sent[partition], offset);
          let r: Message;
          try {
            r = await c.request(
              API.OFFSET_COMMIT,
              8,
              offsetCommitRequest("crash", { k: [{ partition, offset, metadata: `m${offset}` }] }),
            );
          } catch {
            return;
          }
          expect(r.topics[0].partitions[0].errorCode).toBe(0);
          acked[partition] = Math.max(acked[partition], offset);
          if (++acks === KILL_AFTER_ACKS) {
            killed = true;
            broker.child.kill("SIGKILL");
          }
        }
      };
      await settle(Promise.all([0, 1, 2, 3].map(loop)), 30_000, "the commit loop");
      await settle(broker.exited, 10_000, "the child's exit");
      c.close();
      held.close();
      expect(acks).toBeGreaterThanOrEqual(KILL_AFTER_ACKS);

      broker = await startChild(dataDir);
      c = await TestClient.connect(broker.port);
      try {
        const got = await fetchOffsets(c, "crash", { k: [0, 1, 2] });
        for (let p = 0; p < PARTITIONS; p++) {
          expect(got.k[p], `partition ${p}`).toBeGreaterThanOrEqual(acked[p]);
          expect(got.k[p], `partition ${p}`).toBeLessThanOrEqual(sent[p]);
          expect(got.k[p] % PARTITIONS).toBe(p);
        }
        const d = await describeGroup(c, "crash-group");
        expect(d.groupState).toBe("Stable");
        expect((d.members as Message[]).map((m) => [m.memberId, m.memberAssignment])).toEqual([
          [held.memberId, assignment({ k: [0] })],
        ]);
      } finally {
        c.close();
        broker.child.kill("SIGKILL");
        await broker.exited;
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("offset retention", () => {
  it("expires an Empty group's offsets and the group; a Stable group keeps its subscribed topics'", async () => {
    const b = await startTestBroker(FLAGS);
    const members: Member[] = [];
    try {
      const c = await TestClient.connect(b.port);
      expect(await createTopic(c, "t")).toBe(0);
      expect(await createTopic(c, "t2")).toBe(0);
      // A consumer group whose only member left: Empty, with offsets.
      const [gone] = await formGroup(b.port, "ret-empty", [{}]);
      members.push(gone);
      expect(await gone.commit({ t: [{ partition: 0, offset: 5 }] })).toEqual([0]);
      await gone.client.request(API.LEAVE_GROUP, 0, { groupId: "ret-empty", memberId: gone.memberId });
      // A standalone committer.
      expect(await commitStandalone(c, "ret-standalone", { t: [{ partition: 1, offset: 6 }] })).toEqual([0]);
      // A Stable group subscribed to t, with offsets of t and t2.
      const [live] = await formGroup(b.port, "ret-stable", [
        { protocols: [["range", subscription(["t"])]], sessionTimeoutMs: 30_000 },
      ]);
      members.push(live);
      expect(
        await live.commit({ t: [{ partition: 0, offset: 7 }], t2: [{ partition: 0, offset: 8 }] }),
      ).toEqual([0, 0]);

      // Nothing is due yet.
      expect(await b.broker.offsets.expire(Date.now())).toBe(0);
      const retentionMs = b.broker.config.offsetsRetentionMinutes * 60_000;
      const expired = await b.broker.offsets.expire(Date.now() + retentionMs + 1000);
      expect(expired).toBe(3);
      expect((await describeGroup(c, "ret-empty", 6)).errorCode).toBe(code("GROUP_ID_NOT_FOUND"));
      expect((await describeGroup(c, "ret-standalone", 6)).errorCode).toBe(code("GROUP_ID_NOT_FOUND"));
      expect(await fetchOffsets(c, "ret-empty", null)).toEqual({});
      expect(await fetchOffsets(c, "ret-standalone", null)).toEqual({});
      expect(await fetchOffsets(c, "ret-stable", null)).toEqual({ t: { 0: 7 } });
      expect((await describeGroup(c, "ret-stable", 6)).groupState).toBe("Stable");
      c.close();
    } finally {
      for (const m of members) m.close();
      await b.stop();
    }
  });
});

describe("compaction of __consumer_offsets", () => {
  it("keeps the latest offsets (and no deleted group's) through compaction and a restart", async () => {
    const flags = { ...FLAGS, "offsets.topic.num.partitions": 1, "offsets.topic.segment.bytes": 1024 };
    let b = await startTestBroker(flags);
    const dataDir = b.dataDir;
    try {
      let c = await TestClient.connect(b.port);
      expect(await createTopic(c, "t")).toBe(0);
      // A group rebalanced many times: its metadata record is rewritten each time.
      const [a] = await formGroup(b.port, "compact-group", [{ sessionTimeoutMs: 30_000 }]);
      for (let i = 0; i < 20; i++) {
        expect((await settle(a.joinOnce(), 5000, "leader rejoin")).errorCode).toBe(0);
        await syncAll([a]);
      }
      a.close();
      const COMMITS = 300;
      for (let i = 0; i < COMMITS; i++) {
        const errors = await commitStandalone(c, "compact", { t: [{ partition: i % 3, offset: i }] });
        expect(errors).toEqual([0]);
      }
      expect(await commitStandalone(c, "compact-deleted", { t: [{ partition: 0, offset: 99 }] })).toEqual([
        0,
      ]);
      const del = await c.request(API.DELETE_GROUPS, 2, { groupsNames: ["compact-deleted"] });
      expect(del.results[0].errorCode).toBe(0);
      // More commits so that the deletion's segment is closed (compaction leaves the active one).
      for (let i = COMMITS; i < COMMITS + 30; i++) {
        expect(await commitStandalone(c, "compact", { t: [{ partition: i % 3, offset: i }] })).toEqual([0]);
      }
      const sizeOf = () => b.broker.logs.sizes().find((s) => s.topic === OFFSETS_TOPIC && s.partition === 0);
      const before = sizeOf();
      expect(before?.segments).toBeGreaterThan(5);
      const cleaned = await b.broker.logs.compactAll();
      expect(cleaned).toBeGreaterThan(0);
      const after = sizeOf();
      expect(after?.bytes).toBeLessThan((before?.bytes ?? 0) / 2);
      const expected = { t: { 0: COMMITS + 27, 1: COMMITS + 28, 2: COMMITS + 29 } };
      expect(await fetchOffsets(c, "compact", null)).toEqual(expected);
      c.close();
      await b.stop(true);

      b = await startTestBroker(flags, dataDir);
      c = await TestClient.connect(b.port);
      expect(await fetchOffsets(c, "compact", null)).toEqual(expected);
      expect(await fetchOffsets(c, "compact-deleted", null)).toEqual({});
      const d = await describeGroup(c, "compact-group");
      expect(d.groupState).toBe("Stable");
      expect((d.members as Message[]).map((m) => m.memberId)).toEqual([a.memberId]);
      const hb = await c.request(API.HEARTBEAT, 3, {
        groupId: "compact-group",
        generationId: a.generationId,
        memberId: a.memberId,
        groupInstanceId: null,
      });
      expect(a.generationId).toBe(21);
      expect(hb.errorCode).toBe(0);
      expect((await describeGroup(c, "compact-deleted", 6)).errorCode).toBe(code("GROUP_ID_NOT_FOUND"));
      c.close();
    } finally {
      await b.stop();
    }
  });
});

// ------------------------------------------------------------------------------------------------
// Coordinator bugs found while writing this suite: each test fails until the coordinator is fixed.

describe("coordinator races and limits (regressions)", () => {
  // Regression (this was a bug): group.max.size is checked only when a member id is handed out (MEMBER_ID_REQUIRED), against
  // the members already in the group; the ids handed out are not counted and their rejoin
  // (coordinator.ts joinKnownMember -> addMember) is not checked. Every JoinGroup v4+ client goes
  // through that path, so the limit never holds for them. Kafka (acceptJoiningMember) refuses a
  // joining member with GROUP_MAX_SIZE_REACHED once the members awaiting a join reach the limit.
  it("group.max.size holds for members that join with a handed-out id (JoinGroup v4+)", async () => {
    const b = await startTestBroker({ ...FLAGS, "group.max.size": 2 });
    const members: Member[] = [];
    try {
      for (let i = 0; i < 3; i++) members.push(await Member.connect(b.port, "max-size"));
      for (const m of members) expect((await m.joinOnce()).errorCode).toBe(code("MEMBER_ID_REQUIRED"));
      const answers = await settle(Promise.all(members.map((m) => m.joinOnce())), 10_000, "joins");
      const codes = answers.map((r) => r.errorCode).sort((x, y) => x - y);
      expect(codes).toEqual([0, 0, code("GROUP_MAX_SIZE_REACHED")]);
      expect(b.broker.groups.group("max-size")?.members.size).toBe(2);
    } finally {
      for (const m of members) m.close();
      await b.stop();
    }
  });

  // Regression (this was a bug): GroupOffsets.expire() decides that an Empty group holds nothing, awaits the append of the
  // group's tombstone, then calls coordinator.remove(group) without checking the group again. A
  // JoinGroup that arrives during that append (one fsync) joins the group; remove() then clears
  // the group's join timer and drops it, so the JoinGroup is never answered (with
  // group.initial.rebalance.delay.ms > 0, the default; with 0 the member is told it joined a group
  // that no longer exists). Over TCP the same happens when the JoinGroup lands in the fsync window.
  it("a JoinGroup that races the expiry of its empty group is answered", async () => {
    const b = await startTestBroker({ ...FLAGS, "group.initial.rebalance.delay.ms": 200 });
    try {
      const [m] = await formGroup(b.port, "expire-race", [{}]);
      await m.client.request(API.LEAVE_GROUP, 0, { groupId: "expire-race", memberId: m.memberId });
      m.close();
      // Empty, generation > 0, no offsets: expire() removes it at once.
      expect(b.broker.groups.group("expire-race")?.state).toBe("Empty");
      const expiring = b.broker.offsets.expire(Date.now());
      const joining = b.broker.groups.join({
        groupId: "expire-race",
        sessionTimeoutMs: 10_000,
        rebalanceTimeoutMs: 10_000,
        memberId: "",
        groupInstanceId: null,
        protocolType: "consumer",
        protocols: [{ name: "range", metadata: subscription(["t"]) }],
        requireKnownMemberId: false,
        clientId: "racer",
        clientHost: "127.0.0.1",
      });
      await expiring;
      const answer = await within(joining, 3000);
      expect(answer, "the JoinGroup was never answered").not.toBe("pending");
      if (answer !== "pending" && answer.errorCode === 0) {
        expect(b.broker.groups.group("expire-race")?.members.has(answer.memberId)).toBe(true);
      }
    } finally {
      await b.stop();
    }
  });

  // Regression (this was a bug): DeleteGroups writes tombstones only for the offsets the group holds in memory when it
  // starts. A commit already past its checks and waiting for its append (a new partition) lands in
  // the log before those tombstones but gets none; the group is then dropped from memory with it.
  // The broker says the group and offset are gone, and after a restart the deleted group comes
  // back from the log with that offset. Memory and log must agree, whichever order wins.
  it("a commit racing DeleteGroups leaves memory and log in agreement", async () => {
    let b = await startTestBroker(FLAGS);
    const dataDir = b.dataDir;
    try {
      let c = await TestClient.connect(b.port);
      expect(await createTopic(c, "t")).toBe(0);
      expect(await commitStandalone(c, "delete-race", { t: [{ partition: 0, offset: 1 }] })).toEqual([0]);
      const committing = b.broker.offsets.commit({
        apiVersion: 8,
        groupId: "delete-race",
        generationId: -1,
        memberId: "",
        groupInstanceId: null,
        topics: [{ name: "t", partitions: [{ partition: 1, offset: 5, leaderEpoch: -1, metadata: "" }] }],
      });
      const deleting = b.broker.offsets.deleteGroups(["delete-race"]);
      expect(await committing).toEqual([[null]]);
      expect(await deleting).toEqual([null]);
      const before = await fetchOffsets(c, "delete-race", null);
      c.close();
      await b.stop(true);
      b = await startTestBroker(FLAGS, dataDir);
      c = await TestClient.connect(b.port);
      const after = await fetchOffsets(c, "delete-race", null);
      c.close();
      expect(after, `before the restart ${JSON.stringify(before)}`).toEqual(before);
    } finally {
      await b.stop();
    }
  });

  // Regression (this was a bug): OffsetCommit v9+ to a group that does not exist with a generation >= 0 is answered
  // ILLEGAL_GENERATION; Kafka answers GROUP_ID_NOT_FOUND from v9 (OffsetMetadataManager
  // .validateOffsetCommit) and ILLEGAL_GENERATION before. broker/group/offsets.ts commitAllowed.
  it("OffsetCommit v9 to an unknown group with a generation: GROUP_ID_NOT_FOUND (v8: ILLEGAL_GENERATION)", async () => {
    const body = offsetCommitRequest("never-created", { t: [{ partition: 0, offset: 1 }] }, 3, "someone");
    const v8 = await admin.request(API.OFFSET_COMMIT, 8, body);
    expect(v8.topics[0].partitions[0].errorCode).toBe(code("ILLEGAL_GENERATION"));
    const v9 = await admin.request(API.OFFSET_COMMIT, 9, body);
    expect(v9.topics[0].partitions[0].errorCode).toBe(code("GROUP_ID_NOT_FOUND"));
  });

  // Regression (this was a bug): deleting a topic leaves the groups' committed offsets of its partitions. Kafka removes
  // them (BrokerMetadataPublisher -> GroupCoordinator.onPartitionsDeleted writes tombstones), so a
  // topic created again under the same name starts without committed offsets; here a consumer of
  // the new topic resumes from the old topic's offset and skips the new topic's first records.
  it("deleting a topic deletes the committed offsets of its partitions", async () => {
    expect(await createTopic(admin, "doomed", 1)).toBe(0);
    expect(await commitStandalone(admin, "doomed-reader", { doomed: [{ partition: 0, offset: 5 }] })).toEqual(
      [0],
    );
    const d = await admin.request(DELETE_TOPICS, 6, {
      topics: [{ name: "doomed", topicId: "00000000000000000000000000000000" }],
      timeoutMs: 10_000,
    });
    expect(d.responses[0].errorCode).toBe(0);
    expect(await createTopic(admin, "doomed", 1)).toBe(0);
    const p = await admin.request(PRODUCE, 9, produceRequest("doomed", batchOf(10, "new")));
    expect(p.responses[0].partitionResponses[0].errorCode).toBe(0);
    expect(await fetchOffsets(admin, "doomed-reader", { doomed: [0] })).toEqual({ doomed: { 0: -1 } });
  });
});
