/**
 * The group routes in a three-broker cluster (broker/http/groups.ts, group-offsets.ts): asked of
 * broker C (3), which neither coordinates the group nor leads all of its partitions (coordinator
 * A, partitions led by B and C), GET /groups lists it and a group coordinated by B, GET
 * /groups/{g} shows its member, committed offsets, log ends read from each leader and lag, and
 * the offset reset's dry run and commit work once the group is empty. A principal without
 * DESCRIBE on the group (alice) does not see it listed and is refused 403 on its page and reset
 * although the coordinator, asked as the broker's super-user principal, would answer, and does
 * not see the coordinator's offsets of a topic it may not DESCRIBE. One
 * cluster for the file, ACLs on, HTTP Basic against SCRAM credentials (admin a super user, as is
 * User:ANONYMOUS, the inter-broker principal here).
 */
import { describe, expect, it } from "vitest";
import type { Broker } from "../../../broker/broker.js";
import { Admin, Consumer, Producer } from "../../../client/index.js";
import { scramCredential } from "../../../protocol/sasl/scram.js";
import { basicAuth } from "../../helpers/broker.js";
import { clusterForFile, coordinatorOf, type TestCluster } from "../../helpers/cluster.js";
import { failOnProcessErrors } from "../../helpers/process-errors.js";
import { waitFor } from "../../helpers/wait.js";

failOnProcessErrors();

const TOPIC = "lagging";
const ENTRY = 3;
/** Records produced to partitions 0, 1 and 2, and the offsets the member commits. */
const ENDS = [5, 7, 9];
const COMMITTED = [2, 3, 4];
const USERS = { admin: "admin-secret", alice: "alice-secret" } as const;

let cluster: TestCluster;
clusterForFile(
  3,
  {
    "authorizer.class.name": "StandardAuthorizer",
    "super.users": "User:ANONYMOUS;User:admin",
    "allow.everyone.if.no.acl.found": true,
    "http.authentication": "basic",
    "connection.failed.authentication.delay.ms": 0,
    "group.initial.rebalance.delay.ms": 0,
  },
  (c) => {
    cluster = c;
  },
);

type User = keyof typeof USERS;

interface Reply {
  status: number;
  body: string;
  json: () => Record<string, unknown>;
}

async function call(user: User, method: "GET" | "POST", url: string, payload?: unknown): Promise<Reply> {
  const http = cluster.broker(ENTRY).http;
  if (!http) throw new Error("no HTTP server");
  const headers: Record<string, string> = {
    authorization: basicAuth(user, USERS[user]),
  };
  if (payload !== undefined) headers["content-type"] = "application/json";
  const res = await http.app.inject({
    method,
    url,
    headers,
    payload: payload === undefined ? undefined : JSON.stringify(payload),
  });
  return { status: res.statusCode, body: res.body, json: () => res.json() as Record<string, unknown> };
}

/** A group name whose coordinator is `node`. */
function groupAt(node: number, prefix: string): string {
  for (let i = 0; i < 1000; i++)
    if (coordinatorOf(cluster, `${prefix}-${i}`) === node) return `${prefix}-${i}`;
  throw new Error(`no group name coordinated by ${node}`);
}

interface OffsetRow {
  partition: number;
  committed_offset: number | null;
  log_end_offset: number | null;
  lag: number | null;
}

async function offsetsOf(group: string): Promise<OffsetRow[]> {
  const res = await call("admin", "GET", `/groups/${group}`);
  expect(res.status, res.body).toBe(200);
  return res.json().offsets as OffsetRow[];
}

describe("the group routes in a cluster", () => {
  let group: string;
  let other: string;

  it("lists, describes and resets from a broker that neither coordinates the group nor leads its partitions", async () => {
    const entry: Broker = cluster.broker(ENTRY);
    for (const [user, password] of Object.entries(USERS)) {
      const results = await entry.store.alterScramCredentials(
        [{ user, mechanism: "SCRAM-SHA-256", ...scramCredential("SCRAM-SHA-256", password, 4096) }],
        [],
      );
      expect(results.map((r) => r.error)).toEqual([null]);
    }
    await waitFor(async () => (await call("alice", "GET", "/whoami")).status === 200, "alice logs in");
    await entry.groups.offsetsTopic.ensure();
    await waitFor(() => coordinatorOf(cluster, "probe") >= 0, "the offsets topic led");
    group = groupAt(1, "gc");
    other = groupAt(2, "other");
    // Coordinator A = 1; partitions led by B = 2 and C = 3 (the broker asked).
    const admin = new Admin({ brokers: cluster.bootstrap() });
    try {
      await admin.createTopics([{ name: TOPIC, assignments: [[2], [3], [2]] }]);
      for (let p = 0; p < ENDS.length; p++) await cluster.leaderOf(TOPIC, p);
      const producer = new Producer({ brokers: cluster.bootstrap() }, { acks: -1 });
      try {
        for (let p = 0; p < ENDS.length; p++)
          for (let i = 0; i < ENDS[p]; i++)
            await producer.send({ topic: TOPIC, partition: p, value: `v${i}` });
      } finally {
        await producer.close();
      }
      await admin.commitOffsets(other, [{ topic: TOPIC, partition: 0, offset: 1 }]);
    } finally {
      await admin.close();
    }

    const consumer = new Consumer({ brokers: cluster.bootstrap(), groupId: group, autoCommit: false });
    try {
      consumer.subscribe([TOPIC]);
      await consumer.nextBatch(10_000);
      await waitFor(async () => {
        const res = await call("admin", "GET", `/groups/${group}`);
        return res.status === 200 && res.json().state === "Stable";
      }, "the group Stable, described from broker 3");
      await consumer.commit(COMMITTED.map((offset, partition) => ({ topic: TOPIC, partition, offset })));

      const list = await call("admin", "GET", "/groups");
      expect(list.status, list.body).toBe(200);
      expect(list.json().unanswered).toEqual([]);
      const listed = list.json().groups as { group_id: string; protocol_type: string; state: string }[];
      expect(listed).toContainEqual({ group_id: group, protocol_type: "consumer", state: "Stable" });
      expect(listed).toContainEqual({ group_id: other, protocol_type: "", state: "Empty" });

      const res = await call("admin", "GET", `/groups/${group}`);
      expect(res.status, res.body).toBe(200);
      const body = res.json();
      const members = body.members as { assignments: unknown }[];
      expect(members.map((m) => m.assignments)).toEqual([[{ topic: TOPIC, partitions: [0, 1, 2] }]]);
      expect(
        (body.offsets as OffsetRow[]).map((o) => [o.partition, o.committed_offset, o.log_end_offset, o.lag]),
      ).toEqual(ENDS.map((end, p) => [p, COMMITTED[p], end, end - COMMITTED[p]]));
      expect(body.total_lag).toBe(12);
    } finally {
      await consumer.close();
    }

    await waitFor(async () => {
      const res = await call("admin", "GET", `/groups/${group}`);
      return res.status === 200 && res.json().state === "Empty";
    }, "the group empty");
    const dry = await call("admin", "POST", `/groups/${group}/offsets/reset`, {
      to: "earliest",
      dry_run: true,
    });
    expect(dry.status, dry.body).toBe(200);
    expect(dry.json().partitions).toEqual(
      ENDS.map((end, partition) => ({
        topic: TOPIC,
        partition,
        current_offset: COMMITTED[partition],
        new_offset: 0,
        log_start_offset: 0,
        log_end_offset: end,
      })),
    );
    expect((await offsetsOf(group)).map((o) => o.committed_offset)).toEqual(COMMITTED);

    const done = await call("admin", "POST", `/groups/${group}/offsets/reset`, {
      to: "latest",
      dry_run: false,
    });
    expect(done.status, done.body).toBe(200);
    expect((done.json().partitions as { new_offset: number }[]).map((p) => p.new_offset)).toEqual(ENDS);
    const after = await offsetsOf(group);
    expect(after.map((o) => [o.committed_offset, o.lag])).toEqual(ENDS.map((end) => [end, 0]));
  }, 60_000);

  it("hides and refuses a group its principal may not DESCRIBE although another broker coordinates it", async () => {
    const entry = cluster.broker(ENTRY);
    // No DESCRIBE on the cluster either: with it ListGroups shows every group, as in Kafka.
    const deny = { principal: "User:alice", host: "*", permission: "DENY", patternType: "LITERAL" } as const;
    const results = await entry.store.createAcls([
      { ...deny, operation: "DESCRIBE", resourceType: "GROUP", resourceName: group },
      { ...deny, operation: "DESCRIBE", resourceType: "CLUSTER", resourceName: "kafka-cluster" },
    ]);
    expect(results.map((r) => r.error)).toEqual([null, null]);
    await waitFor(
      async () => (await call("alice", "GET", `/groups/${group}`)).status === 403,
      "the ACL applied",
    );

    const list = await call("alice", "GET", "/groups");
    expect(list.status, list.body).toBe(200);
    const ids = (list.json().groups as { group_id: string }[]).map((g) => g.group_id);
    expect(ids).toContain(other);
    expect(ids).not.toContain(group);

    for (const res of [
      await call("alice", "GET", `/groups/${group}`),
      await call("alice", "POST", `/groups/${group}/offsets/reset`, { to: "earliest", dry_run: true }),
    ]) {
      expect(res.status, res.body).toBe(403);
      expect(res.json().error_code).toBe("GROUP_AUTHORIZATION_FAILED");
    }
    // The refusal was alice's: admin is answered, and alice sees the other group.
    expect((await call("admin", "GET", `/groups/${group}`)).status).toBe(200);
    expect((await call("alice", "GET", `/groups/${other}`)).status).toBe(200);

    // Without DESCRIBE on the topic, the coordinator's offsets of it are not shown to alice.
    const topicDenied = await entry.store.createAcls([
      { ...deny, operation: "DESCRIBE", resourceType: "TOPIC", resourceName: TOPIC },
    ]);
    expect(topicDenied.map((r) => r.error)).toEqual([null]);
    await waitFor(
      async () => (await call("alice", "GET", `/topics/${TOPIC}`)).status === 403,
      "the topic ACL applied",
    );
    const hidden = await call("alice", "GET", `/groups/${other}`);
    expect(hidden.status, hidden.body).toBe(200);
    expect(hidden.json().offsets).toEqual([]);
    expect(((await call("admin", "GET", `/groups/${other}`)).json().offsets as unknown[]).length).toBe(1);
  }, 30_000);
});
