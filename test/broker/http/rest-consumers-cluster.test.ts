/**
 * REST Proxy v2 consumers in a three-broker cluster (broker/http/consumers/forward.ts): an
 * instance created on a broker that is neither its group's coordinator nor the leader of every
 * partition reads every partition's records, commits, and the committed offsets show through an
 * instance of the group on the coordinator and through a Kafka client; a principal without READ
 * on a group (or on a topic) is refused by the instance's broker although the coordinator and
 * leaders, asked as the broker's super-user principal, would serve it; a stopped broker's
 * partitions and group are followed to their new leaders. One cluster for the file, ACLs on
 * (User:ANONYMOUS, the HTTP and inter-broker principal here, is a super user). Two instances of
 * the group on one broker share its partitions after a rebalance.
 */
import { describe, expect, it } from "vitest";
import type { Broker } from "../../../broker/broker.js";
import { ForwardingCalls, GroupChecks } from "../../../broker/http/consumers/forward.js";
import { authorizeRequest } from "../../../broker/security/authorize.js";
import { Admin, Producer } from "../../../client/index.js";
import { errorCode } from "../../../protocol/errors.js";
import { clusterForFile, coordinatorOf, type TestCluster } from "../../helpers/cluster.js";
import { waitFor } from "../../helpers/wait.js";

const V2 = "application/vnd.kafka.v2+json";
const JSON_V2 = "application/vnd.kafka.json.v2+json";
const TOPIC = "spread";
const PARTITIONS = 3;
const ALICE = "User:alice";

let cluster: TestCluster;
clusterForFile(
  3,
  {
    "authorizer.class.name": "StandardAuthorizer",
    "super.users": "User:ANONYMOUS",
    "allow.everyone.if.no.acl.found": true,
  },
  (c) => {
    cluster = c;
  },
);

interface RestRecord {
  topic: string;
  value: unknown;
  partition: number;
  offset: number;
}

async function call(broker: Broker, method: "GET" | "POST" | "DELETE", url: string, body?: unknown) {
  const http = broker.http;
  if (!http) throw new Error("no HTTP server");
  return http.app.inject({
    method,
    url,
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    headers: { ...(body === undefined ? {} : { "content-type": V2 }), accept: JSON_V2 },
  });
}

async function produce(from: number, count: number): Promise<void> {
  const producer = new Producer({ brokers: cluster.bootstrap() }, { acks: -1 });
  try {
    for (let i = from; i < from + count; i++)
      await producer.send({ topic: TOPIC, partition: i % PARTITIONS, value: JSON.stringify(i) });
  } finally {
    await producer.close();
  }
}

/** Polls `instance` on `broker` until every value of `want` came back. */
async function pollUntil(
  broker: Broker,
  group: string,
  instance: string,
  want: number[],
): Promise<RestRecord[]> {
  const seen: RestRecord[] = [];
  const values = new Set<unknown>();
  await waitFor(
    async () => {
      const res = await call(broker, "GET", `/consumers/${group}/instances/${instance}/records?timeout=300`);
      if (res.statusCode === 200) {
        for (const r of res.json() as RestRecord[]) {
          seen.push(r);
          values.add(r.value);
        }
      }
      return want.every((v) => values.has(v));
    },
    `records ${want[0]}..${want[want.length - 1]} polled`,
    30_000,
  );
  return seen;
}

const range = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i);

/** A group whose coordinator is not broker `not` (and is one of `among`, when given). */
function groupAwayFrom(not: number, prefix: string, among: number[] | null = null): string {
  for (let i = 0; i < 1000; i++) {
    const c = coordinatorOf(cluster, `${prefix}-${i}`);
    if (c !== not && (among === null || among.includes(c))) return `${prefix}-${i}`;
  }
  throw new Error("no such group name");
}

/** An OffsetCommit (v8) from outside the group: offset 1 of TOPIC's partition 0 for `groupId`. */
function commitOne(groupId: string) {
  return {
    groupId,
    generationIdOrMemberEpoch: -1,
    memberId: "",
    groupInstanceId: null,
    topics: [
      {
        name: TOPIC,
        partitions: [
          { partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: "" },
        ],
      },
    ],
  };
}

describe("REST consumers in a cluster", () => {
  let entry: Broker;
  let group: string;

  it("reads every partition and commits from a broker that neither coordinates nor leads them all", async () => {
    const admin = new Admin({ brokers: cluster.bootstrap() });
    await admin.createTopics([{ name: TOPIC, partitions: PARTITIONS, replicationFactor: 2 }]);
    await admin.close();
    for (let p = 0; p < PARTITIONS; p++) await cluster.leaderOf(TOPIC, p);
    await cluster.broker(1).groups.offsetsTopic.ensure();
    await waitFor(() => coordinatorOf(cluster, "probe") >= 0, "the offsets topic led");
    entry = cluster.broker(1);
    group = groupAwayFrom(1, "rc");
    const leaders = range(0, PARTITIONS).map((p) => entry.store.topic(TOPIC)?.partitions[p]?.leader);
    expect(
      leaders.some((l) => l !== 1),
      "some partition led elsewhere",
    ).toBe(true);
    expect(coordinatorOf(cluster, group)).not.toBe(1);
    await produce(0, 30);

    const created = await call(entry, "POST", `/consumers/${group}`, {
      name: "c1",
      format: "json",
      "auto.offset.reset": "earliest",
    });
    expect(created.statusCode, created.body).toBe(200);
    const sub = await call(entry, "POST", `/consumers/${group}/instances/c1/subscription`, {
      topics: [TOPIC],
    });
    expect(sub.statusCode, sub.body).toBe(204);
    const records = await pollUntil(entry, group, "c1", range(0, 30));
    expect(new Set(records.map((r) => r.partition))).toEqual(new Set(range(0, PARTITIONS)));

    const committed = await call(entry, "POST", `/consumers/${group}/instances/c1/offsets`);
    expect(committed.statusCode, committed.body).toBe(204);
    // Read back on the coordinator, by an instance of the same group created there, and by a Kafka client.
    const coordinator = cluster.broker(coordinatorOf(cluster, group));
    const other = await call(coordinator, "POST", `/consumers/${group}`, { name: "c2", format: "json" });
    expect(other.statusCode, other.body).toBe(200);
    const back = await call(coordinator, "GET", `/consumers/${group}/instances/c2/offsets`, {
      partitions: range(0, PARTITIONS).map((partition) => ({ topic: TOPIC, partition })),
    });
    expect(back.statusCode, back.body).toBe(200);
    const offsets = (back.json() as { offsets: { partition: number; offset: number }[] }).offsets;
    expect(offsets.map((o) => [o.partition, o.offset]).sort()).toEqual(
      range(0, PARTITIONS).map((p) => [p, 10]),
    );
    expect((await call(coordinator, "DELETE", `/consumers/${group}/instances/c2`)).statusCode).toBe(204);
    const admin2 = new Admin({ brokers: cluster.bootstrap() });
    const fetched = await admin2.fetchOffsets(group, [TOPIC]);
    await admin2.close();
    expect(fetched.map((o) => [o.partition, Number(o.offset)]).sort()).toEqual(
      range(0, PARTITIONS).map((p) => [p, 10]),
    );
  }, 60_000);

  it("rebalances two instances of the group made on the same broker, each with its own coordinator connection", async () => {
    const created = await call(entry, "POST", `/consumers/${group}`, { name: "c3", format: "json" });
    expect(created.statusCode, created.body).toBe(200);
    const sub = await call(entry, "POST", `/consumers/${group}/instances/c3/subscription`, {
      topics: [TOPIC],
    });
    expect(sub.statusCode, sub.body).toBe(204);
    const assigned = async (instance: string): Promise<number[]> => {
      const res = await call(entry, "GET", `/consumers/${group}/instances/${instance}/assignments`);
      return (res.json() as { partitions: { partition: number }[] }).partitions.map((p) => p.partition);
    };
    await waitFor(async () => {
      // A poll lets a waiting join finish; each instance then holds part of the partitions.
      await call(entry, "GET", `/consumers/${group}/instances/c3/records?timeout=100`);
      await call(entry, "GET", `/consumers/${group}/instances/c1/records?timeout=100`);
      const [a, b] = [await assigned("c1"), await assigned("c3")];
      return a.length > 0 && b.length > 0 && a.length + b.length === PARTITIONS;
    }, "c1 and c3 sharing the partitions");
    expect((await call(entry, "DELETE", `/consumers/${group}/instances/c3`)).statusCode).toBe(204);
    await waitFor(async () => {
      await call(entry, "GET", `/consumers/${group}/instances/c1/records?timeout=100`);
      return (await assigned("c1")).length === PARTITIONS;
    }, "c1 holding every partition again");
  }, 30_000);

  it("refuses a principal without READ on the group before forwarding to the coordinator", async () => {
    const secret = groupAwayFrom(1, "secret");
    const results = await entry.store.createAcls([
      {
        principal: ALICE,
        host: "*",
        operation: "READ",
        permission: "DENY",
        resourceType: "GROUP",
        resourceName: secret,
        patternType: "LITERAL",
      },
    ]);
    expect(results.map((r) => r.error)).toEqual([null]);
    const alice = {
      clientHost: "127.0.0.1",
      principal: ALICE,
      ...authorizeRequest(entry.authorizer, ALICE, "127.0.0.1"),
    };
    expect(GroupChecks.group(alice.authorize, 11, secret)).toBe(false);
    expect(GroupChecks.group(alice.authorize, 11, group)).toBe(true);
    const forward = new ForwardingCalls(entry, alice, secret, entry.log);
    try {
      const joined = await forward.groupCall(11, 7, {
        groupId: secret,
        sessionTimeoutMs: 10_000,
        rebalanceTimeoutMs: 30_000,
        memberId: "",
        groupInstanceId: null,
        protocolType: "consumer",
        protocols: [{ name: "range", metadata: Buffer.alloc(0) }],
      });
      expect(joined.errorCode).toBe(errorCode("GROUP_AUTHORIZATION_FAILED"));
      const commit = await forward.groupCall(8, 8, commitOne(secret));
      expect(commit.topics[0].partitions[0].errorCode).toBe(errorCode("GROUP_AUTHORIZATION_FAILED"));
    } finally {
      forward.close();
    }
    // A topic alice may not READ: a commit of it and a fetch of it are refused, the group allowed.
    const denied = await entry.store.createAcls([
      {
        principal: ALICE,
        host: "*",
        operation: "READ",
        permission: "DENY",
        resourceType: "TOPIC",
        resourceName: TOPIC,
        patternType: "LITERAL",
      },
    ]);
    expect(denied.map((r) => r.error)).toEqual([null]);
    const inGroup = new ForwardingCalls(entry, alice, group, entry.log);
    try {
      const commit = await inGroup.groupCall(8, 8, commitOne(group));
      expect(commit.topics[0].partitions[0].errorCode).toBe(errorCode("TOPIC_AUTHORIZATION_FAILED"));
      const fetched = await inGroup.fetch(12, {
        replicaId: -1,
        maxWaitMs: 0,
        minBytes: 1,
        maxBytes: 1 << 20,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [
          {
            topic: TOPIC,
            partitions: range(0, PARTITIONS).map((partition) => ({
              partition,
              currentLeaderEpoch: -1,
              fetchOffset: 0,
              lastFetchedEpoch: -1,
              logStartOffset: -1,
              partitionMaxBytes: 1 << 20,
            })),
          },
        ],
        forgottenTopicsData: [],
        rackId: "",
      });
      const codes = fetched.responses.flatMap((t) => t.partitions.map((p) => p.errorCode));
      expect(codes).toEqual(range(0, PARTITIONS).map(() => errorCode("TOPIC_AUTHORIZATION_FAILED")));
    } finally {
      inGroup.close();
    }
    // Through HTTP as a super user the same group is served: the refusal was alice's.
    const created = await call(entry, "POST", `/consumers/${secret}`, { name: "ok", format: "json" });
    expect(created.statusCode, created.body).toBe(200);
    await call(entry, "DELETE", `/consumers/${secret}/instances/ok`);
  }, 30_000);

  it("follows partitions and the group to their new leaders when a broker stops", async () => {
    // The coordinator, when it leads a partition too (else a partition's leader other than broker 1).
    const leaders = range(0, PARTITIONS).map((p) => entry.store.topic(TOPIC)?.partitions[p]?.leader ?? -1);
    const coordinator = coordinatorOf(cluster, group);
    const stopped = leaders.includes(coordinator)
      ? coordinator
      : (leaders.find((l) => l !== 1) ?? coordinator);
    await cluster.stopNode(stopped);
    await waitFor(
      () =>
        range(0, PARTITIONS).every((p) => {
          const leader = entry.store.topic(TOPIC)?.partitions[p]?.leader ?? -1;
          return leader >= 0 && leader !== stopped;
        }),
      "leaders moved off the stopped broker",
    );
    await produce(30, 30);
    await pollUntil(entry, group, "c1", range(30, 30));
    // A commit reaches the new coordinator (once the member has rejoined there, if it must).
    await waitFor(async () => {
      const res = await call(entry, "POST", `/consumers/${group}/instances/c1/offsets`);
      if (res.statusCode !== 204)
        await call(entry, "GET", `/consumers/${group}/instances/c1/records?timeout=100`);
      return res.statusCode === 204;
    }, "a commit after the coordinator moved");
    expect(coordinatorOf(cluster, group)).not.toBe(stopped);
    const admin = new Admin({ brokers: cluster.bootstrap() });
    const fetched = await admin.fetchOffsets(group, [TOPIC]);
    await admin.close();
    expect(fetched.map((o) => [o.partition, Number(o.offset)]).sort()).toEqual(
      range(0, PARTITIONS).map((p) => [p, 20]),
    );
    const deleted = await call(entry, "DELETE", `/consumers/${group}/instances/c1`);
    expect(deleted.statusCode, deleted.body).toBe(204);
  }, 60_000);
});
