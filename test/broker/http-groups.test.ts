/**
 * GET /groups and GET /groups/{group} (broker/http/groups.ts): groups listed by id; a group's
 * state, members with their decoded assignments, committed offsets with log end offsets and lag
 * (checked exactly against produced records), for a standalone committer and a real consumer
 * group; unknown groups (404) and refused query parameters (400); the assignment decoder.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeConsumerAssignment } from "../../broker/http/groups.js";
import type { HttpServer } from "../../broker/http/server.js";
import { errorCode } from "../../protocol/errors.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import {
  API,
  assignment,
  joinGroup,
  offsetCommitRequest,
  subscription,
  syncGroupRequest,
} from "../helpers/group-requests.js";
import { TestClient } from "../helpers/kafka-client.js";
import { failOnProcessErrors } from "../helpers/process-errors.js";
import { batchOf } from "../helpers/records.js";
import { produceRequest } from "../helpers/requests.js";

failOnProcessErrors();

const CREATE_TOPICS = 19;

let tb: TestBroker;
let client: TestClient;

function httpOf(): HttpServer {
  const http = tb.broker.http;
  if (!http) throw new Error("the broker has no HTTP server");
  return http;
}

async function get(url: string): Promise<{ statusCode: number; body: string; json: () => unknown }> {
  return httpOf().app.inject({ method: "GET", url });
}

function expectError(
  res: { statusCode: number; body: string; json: () => unknown },
  status: number,
  code: string,
) {
  expect(res.statusCode, res.body).toBe(status);
  const body = res.json() as { error_code: string; message: string };
  expect(body.error_code).toBe(code);
  expect(body.message.length).toBeGreaterThan(0);
}

async function createTopic(name: string, partitions: number): Promise<void> {
  const r = await client.request(CREATE_TOPICS, 7, {
    topics: [{ name, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 10_000,
    validateOnly: false,
  });
  expect(r.topics[0].errorCode).toBe(0);
}

async function produce(topic: string, partition: number, count: number): Promise<void> {
  const r = await client.request(0, 9, produceRequest(topic, batchOf(count, "v"), -1, partition));
  expect(r.responses[0].partitionResponses[0].errorCode).toBe(0);
}

async function commit(
  groupId: string,
  topic: string,
  offsets: Record<number, number>,
  generationId = -1,
  memberId = "",
): Promise<void> {
  const partitions = Object.entries(offsets).map(([p, offset]) => ({
    partition: Number(p),
    offset,
    metadata: `m${p}`,
  }));
  const r = await client.request(
    API.OFFSET_COMMIT,
    8,
    offsetCommitRequest(groupId, { [topic]: partitions }, generationId, memberId),
  );
  for (const p of r.topics[0].partitions) expect(p.errorCode).toBe(0);
}

beforeAll(async () => {
  tb = await startTestBroker({ "group.initial.rebalance.delay.ms": 0, "group.min.session.timeout.ms": 100 });
  client = await TestClient.connect(tb.port);
  await createTopic("orders", 3);
  await createTopic("audit", 1);
  await produce("orders", 0, 10);
  await produce("orders", 1, 4);
  await produce("orders", 2, 6);
  await produce("audit", 0, 5);
});

afterAll(async () => {
  client?.close();
  await tb?.stop();
});

describe("GET /groups", () => {
  it("lists no groups on a fresh broker", async () => {
    const res = await get("/groups");
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ groups: [], unanswered: [] });
  });

  it("refuses query parameters", async () => {
    expectError(await get("/groups?state=Stable"), 400, "BAD_REQUEST");
  });
});

describe("GET /groups/{group}", () => {
  it("reports a standalone committer's offsets with exact lag", async () => {
    await commit("standalone", "orders", { 0: 3, 1: 4 });
    await commit("standalone", "audit", { 0: 9 });
    const res = await get("/groups/standalone");
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({
      group_id: "standalone",
      state: "Empty",
      protocol_type: "",
      protocol: null,
      members: [],
      offsets: [
        // A committed offset past the log end counts no lag (never negative).
        {
          topic: "audit",
          partition: 0,
          committed_offset: 9,
          log_end_offset: 5,
          lag: 0,
          member_id: null,
          metadata: "m0",
        },
        {
          topic: "orders",
          partition: 0,
          committed_offset: 3,
          log_end_offset: 10,
          lag: 7,
          member_id: null,
          metadata: "m0",
        },
        {
          topic: "orders",
          partition: 1,
          committed_offset: 4,
          log_end_offset: 4,
          lag: 0,
          member_id: null,
          metadata: "m1",
        },
      ],
      total_lag: 7,
    });
    // Lag follows the log: two more records on partition 1.
    await produce("orders", 1, 2);
    const after = (await get("/groups/standalone")).json() as {
      total_lag: number;
      offsets: { lag: number }[];
    };
    expect(after.offsets.map((o) => o.lag)).toEqual([0, 7, 2]);
    expect(after.total_lag).toBe(9);
  });

  it("reports a consumer group's members, decoded assignments and per-member lag", async () => {
    const other = await TestClient.connect(tb.port);
    try {
      const sub = subscription(["orders"]);
      const [a, b] = await Promise.all([
        joinGroup(client, "app", { protocols: [["range", sub]] }),
        joinGroup(other, "app", { protocols: [["range", sub]] }),
      ]);
      expect(a.errorCode).toBe(0);
      expect(b.errorCode).toBe(0);
      expect(a.generationId).toBe(b.generationId);
      const leader = a.leader === a.memberId ? { c: client, j: a } : { c: other, j: b };
      const follower = leader.j === a ? { c: other, j: b } : { c: client, j: a };
      const assignments = [
        { memberId: leader.j.memberId, assignment: assignment({ orders: [0, 1] }) },
        { memberId: follower.j.memberId, assignment: assignment({ orders: [2] }, Buffer.from("ud")) },
      ];
      const [ls, fs] = await Promise.all([
        leader.c.request(
          API.SYNC_GROUP,
          3,
          syncGroupRequest("app", leader.j.generationId, leader.j.memberId, assignments),
        ),
        follower.c.request(
          API.SYNC_GROUP,
          3,
          syncGroupRequest("app", follower.j.generationId, follower.j.memberId),
        ),
      ]);
      expect(ls.errorCode).toBe(0);
      expect(fs.errorCode).toBe(0);
      await commit("app", "orders", { 0: 8 }, leader.j.generationId, leader.j.memberId);
      await commit("app", "orders", { 2: 1 }, follower.j.generationId, follower.j.memberId);

      const res = await get("/groups/app");
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json() as Record<string, unknown>;
      expect(body).toMatchObject({
        group_id: "app",
        state: "Stable",
        protocol_type: "consumer",
        protocol: "range",
      });
      const members = body.members as { member_id: string; client_id: string; assignments: unknown }[];
      expect(members.map((m) => m.member_id).sort()).toEqual([a.memberId, b.memberId].sort());
      const byId = new Map(members.map((m) => [m.member_id, m]));
      expect(byId.get(leader.j.memberId)?.assignments).toEqual([{ topic: "orders", partitions: [0, 1] }]);
      expect(byId.get(follower.j.memberId)?.assignments).toEqual([{ topic: "orders", partitions: [2] }]);
      expect(byId.get(leader.j.memberId)?.client_id).toBe("test");
      expect(body.offsets).toEqual([
        {
          topic: "orders",
          partition: 0,
          committed_offset: 8,
          log_end_offset: 10,
          lag: 2,
          member_id: leader.j.memberId,
          metadata: "m0",
        },
        // Assigned, nothing committed yet.
        {
          topic: "orders",
          partition: 1,
          committed_offset: null,
          log_end_offset: 6,
          lag: null,
          member_id: leader.j.memberId,
          metadata: null,
        },
        {
          topic: "orders",
          partition: 2,
          committed_offset: 1,
          log_end_offset: 6,
          lag: 5,
          member_id: follower.j.memberId,
          metadata: "m2",
        },
      ]);
      expect(body.total_lag).toBe(7);

      const list = await get("/groups");
      expect(list.json()).toEqual({
        groups: [
          { group_id: "app", protocol_type: "consumer", state: "Stable" },
          { group_id: "standalone", protocol_type: "", state: "Empty" },
        ],
        unanswered: [],
      });
    } finally {
      other.close();
    }
  });

  it("still answers when a committed topic has been deleted", async () => {
    await createTopic("ephemeral", 1);
    await produce("ephemeral", 0, 3);
    await commit("mixed", "ephemeral", { 0: 1 });
    await commit("mixed", "audit", { 0: 2 });
    const del = await client.request(20, 6, {
      topics: [{ name: "ephemeral", topicId: "00000000000000000000000000000000" }],
      timeoutMs: 10_000,
    });
    expect(del.responses[0].errorCode).toBe(0);
    const res = await get("/groups/mixed");
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json() as { offsets: Record<string, unknown>[]; total_lag: number };
    // Kafka drops a deleted topic's offsets; where they remain, their end and lag are unknown.
    for (const o of body.offsets.filter((x) => x.topic === "ephemeral")) {
      expect(o).toMatchObject({ log_end_offset: null, lag: null });
    }
    expect(body.offsets.find((o) => o.topic === "audit")).toMatchObject({ committed_offset: 2, lag: 3 });
    expect(body.total_lag).toBe(3);
  });

  it("answers 404 GROUP_ID_NOT_FOUND for an unknown group", async () => {
    expectError(await get("/groups/nobody-here"), 404, "GROUP_ID_NOT_FOUND");
    expectError(await get("/groups/a%2Fb"), 404, "GROUP_ID_NOT_FOUND");
    expect(errorCode("GROUP_ID_NOT_FOUND")).toBe(69);
  });

  it("refuses unknown query parameters with 400", async () => {
    expectError(await get("/groups/standalone?verbose=1"), 400, "BAD_REQUEST");
  });
});

describe("decodeConsumerAssignment", () => {
  it("decodes Kafka's layout and refuses truncated or lying bytes", () => {
    const bytes = assignment({ a: [0, 2], b: [] }, Buffer.from("user"));
    expect(decodeConsumerAssignment(bytes)).toEqual([
      { topic: "a", partitions: [0, 2] },
      { topic: "b", partitions: [] },
    ]);
    expect(decodeConsumerAssignment(Buffer.alloc(0))).toEqual([]);
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(decodeConsumerAssignment(bytes.subarray(0, cut)), `cut at ${cut}`).toBeNull();
    }
    const lying = Buffer.from(bytes);
    lying.writeInt32BE(0x7fff_ffff, 2);
    expect(decodeConsumerAssignment(lying)).toBeNull();
  });
});
