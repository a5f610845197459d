/**
 * ACLs on a three-broker cluster (issue 15): clients log in over SASL_PLAINTEXT listeners, the
 * brokers talk over their own SASL_PLAINTEXT inter-broker listener as User:broker (seeded before
 * they start, as `samsa storage format --add-scram` does), the one super user besides the admin:
 * no listener takes anyone without a login (broker/README.md "ACLs"). A user granted WRITE and
 * READ on a topic and READ on its group produces with acks=all to an RF=3 topic, every replica stays in sync, and a consumer group reads
 * everything and commits; a user granted nothing sees no topics. The bindings and credentials are
 * written once, through one broker's store, and every broker enforces them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AclBinding } from "../../../broker/metadata/acl-bindings.js";
import { Admin, Consumer, Producer } from "../../../client/index.js";
import { scramCredential } from "../../../protocol/sasl/scram.js";
import { seedScramUser, TestCluster } from "../../helpers/cluster.js";
import { waitFor } from "../../helpers/wait.js";

const USERS = { admin: "admin-secret", app: "app-secret", other: "other-secret" } as const;
const TOPIC = "secured";
const GROUP = "g-app";

const BROKER_PASSWORD = "broker-secret";

let cluster: TestCluster;

const seedBrokerUser = seedScramUser("broker", BROKER_PASSWORD);

beforeAll(async () => {
  const flags = {
    listeners: "SASL_PLAINTEXT://127.0.0.1:0,INTERNAL://127.0.0.1:0",
    "listener.security.protocol.map": "SASL_PLAINTEXT:SASL_PLAINTEXT,INTERNAL:SASL_PLAINTEXT",
    "inter.broker.listener.name": "INTERNAL",
    "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
    "sasl.jaas.config": `org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="${BROKER_PASSWORD}";`,
    "authorizer.class.name": "StandardAuthorizer",
    "super.users": "User:broker;User:admin",
    "connection.failed.authentication.delay.ms": 0,
  };
  cluster = await TestCluster.start(3, flags, { prepare: seedBrokerUser });
}, 120_000);

afterAll(async () => {
  await cluster?.close();
}, 60_000);

function allow(
  operation: AclBinding["operation"],
  resourceType: AclBinding["resourceType"],
  resourceName: string,
): AclBinding {
  return {
    principal: "User:app",
    host: "*",
    operation,
    resourceType,
    resourceName,
    patternType: "LITERAL",
    permission: "ALLOW",
  };
}

const GRANTS = [allow("WRITE", "TOPIC", TOPIC), allow("READ", "TOPIC", TOPIC), allow("READ", "GROUP", GROUP)];

/** Connection options of `user` through every broker's SASL listener. */
function as(user: keyof typeof USERS) {
  return {
    brokers: cluster.running().map((b) => `127.0.0.1:${b.listenerPorts.get("SASL_PLAINTEXT")}`),
    sasl: { mechanism: "scram-sha-512" as const, username: user, password: USERS[user] },
  };
}

async function setUp(): Promise<void> {
  const store = cluster.broker(1).store;
  const upsertions = Object.entries(USERS).map(([user, password]) => ({
    user,
    mechanism: "SCRAM-SHA-512" as const,
    ...scramCredential("SCRAM-SHA-512", password, 4096),
  }));
  expect((await store.alterScramCredentials(upsertions, [])).map((r) => r.error)).toEqual([null, null, null]);
  expect((await store.createAcls(GRANTS)).map((r) => r.error)).toEqual([null, null, null]);
  await waitFor(
    () =>
      cluster.running().every((b) => b.store.scramUsers().length === 4 && b.store.aclBindings().length === 3),
    "every broker's store to hold the users and the bindings",
  );
}

describe("a cluster with SASL clients and ACLs", () => {
  it("replicates what an authorized user produces and serves its consumer group; others see nothing", async () => {
    await setUp();
    const admin = new Admin(as("admin"));
    await admin.createTopics([{ name: TOPIC, partitions: 3, replicationFactor: 3 }]);
    await admin.close();
    const producer = new Producer(as("app"), { acks: -1, lingerMs: 1 });
    const sends = [];
    for (let i = 0; i < 90; i++) sends.push(producer.send({ topic: TOPIC, value: `v${i}` }));
    await Promise.all(sends);
    await producer.close();
    for (const p of [0, 1, 2]) await cluster.waitForIsr(TOPIC, p, [1, 2, 3]);

    const consumer = new Consumer(as("app"), {
      groupId: GROUP,
      autoOffsetReset: "earliest",
      autoCommit: false,
    });
    consumer.subscribe([TOPIC]);
    const seen = new Set<string>();
    try {
      await waitFor(async () => {
        const batch = await consumer.nextBatch(500);
        for (const r of batch?.records ?? []) seen.add(r.value?.toString() ?? "");
        return seen.size === 90;
      }, "the group to read all 90 records");
      // A batch counts as processed once the reader comes back for more (client/consumer.ts).
      await consumer.nextBatch(50);
      await consumer.commit();
    } finally {
      await consumer.close();
    }
    const reader = new Admin(as("admin"));
    const committed = await reader.fetchOffsets(GROUP, [TOPIC]);
    await reader.close();
    // A partition the sticky partitioner never chose has no commit (-1).
    expect(committed.reduce((sum, c) => sum + Math.max(0, c.offset), 0)).toBe(90);

    const other = new Admin(as("other"));
    try {
      expect(await other.listTopics()).toEqual([]);
    } finally {
      await other.close();
    }
  }, 120_000);
});
