/**
 * The ACL matrix (issue 15): every API the broker serves, walked from the handler list, asked by a
 * principal without the ACL Kafka requires (the authorization error Kafka answers) and by one
 * granted exactly that ACL (not refused). Then the rules around it: Metadata hiding topics and
 * refusing auto-creation, authorized-operations bit sets, DENY winning, PREFIXED patterns, super
 * users, topics refused inside an allowed group request, replica fetches, InitProducerId's WRITE
 * on any topic. Handlers are called with request contexts bound as dispatch binds them
 * (security/authorize.ts `authorizeRequest`) to a broker started with an authorizer; the wire
 * path with SASL principals is test/compat/acl.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HANDLERS } from "../../../broker/api/index.js";
import type { RequestContext } from "../../../broker/api/types.js";
import type { AclBinding, AclOperation, AclResourceType } from "../../../broker/metadata/acl-bindings.js";
import { authorizeRequest } from "../../../broker/security/authorize.js";
import { AclOperation as OperationCodes } from "../../../protocol/acl.js";
import { type Message, MessageCodec } from "../../../protocol/codec.js";
import { type ErrorName, errorCode } from "../../../protocol/errors.js";
import { API_SPECS } from "../../../protocol/messages/index.js";
import { startTestBroker, type TestBroker } from "../../helpers/broker.js";
import { batchOf } from "../../helpers/records.js";
import { waitFor } from "../../helpers/wait.js";

const ADMIN = "User:admin";
/** A principal no binding names. */
const NOBODY = "User:nobody";
const ZERO_UUID = "00000000000000000000000000000000";
const CLUSTER = "kafka-cluster";

type Grant = [AclOperation, AclResourceType, string];

/** One API's row: a request, the ACLs it needs, where its refusal shows and which refusal. */
interface Row {
  version: number;
  request: () => Message;
  grants: Grant[];
  /** The code that answers the request's authorization (a partition's, a topic's, the top-level). */
  code: (response: Message) => number;
  /** What a principal without the grants gets. */
  denied: ErrorName;
  /** What the granted principal gets: NONE (default), or "any" code but the refusal. */
  allowed?: "NONE" | "any";
}

/** APIs with no ACL check: the SASL exchange and ApiVersions (and the ACL APIs themselves). */
const EXEMPT = new Set([17, 18, 36, 29, 30, 31]);

const t0 = (r: Message) => r.topics[0];
const ROWS: Record<number, Row> = {
  0: {
    version: 9,
    request: () => ({
      transactionalId: null,
      acks: 1,
      timeoutMs: 5000,
      topicData: [{ name: "t", partitionData: [{ index: 0, records: batchOf(1, "m") }] }],
    }),
    grants: [["WRITE", "TOPIC", "t"]],
    code: (r) => r.responses[0].partitionResponses[0].errorCode,
    denied: "TOPIC_AUTHORIZATION_FAILED",
  },
  1: {
    version: 12,
    request: () => fetchOf(-1),
    grants: [["READ", "TOPIC", "t"]],
    code: (r) => r.responses[0].partitions[0].errorCode,
    denied: "TOPIC_AUTHORIZATION_FAILED",
  },
  2: {
    version: 7,
    request: () => ({
      replicaId: -1,
      isolationLevel: 0,
      topics: [{ name: "t", partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1 }] }],
    }),
    grants: [["DESCRIBE", "TOPIC", "t"]],
    code: (r) => t0(r).partitions[0].errorCode,
    denied: "TOPIC_AUTHORIZATION_FAILED",
  },
  3: {
    version: 12,
    request: () => ({ topics: [{ name: "t", topicId: ZERO_UUID }], allowAutoTopicCreation: false }),
    grants: [["DESCRIBE", "TOPIC", "t"]],
    code: (r) => t0(r).errorCode,
    denied: "TOPIC_AUTHORIZATION_FAILED",
  },
  7: {
    version: 3,
    request: () => ({ brokerId: 99, brokerEpoch: 1 }),
    grants: [["CLUSTER_ACTION", "CLUSTER", CLUSTER]],
    code: (r) => r.errorCode,
    denied: "CLUSTER_AUTHORIZATION_FAILED",
    allowed: "any",
  },
  8: {
    version: 8,
    request: () => commitOf("g-commit"),
    grants: [
      ["READ", "GROUP", "g-commit"],
      ["READ", "TOPIC", "t"],
    ],
    code: (r) => t0(r).partitions[0].errorCode,
    denied: "GROUP_AUTHORIZATION_FAILED",
  },
  9: {
    version: 8,
    request: () => ({
      groups: [{ groupId: "g", topics: [{ name: "t", partitionIndexes: [0] }] }],
      requireStable: false,
    }),
    grants: [
      ["DESCRIBE", "GROUP", "g"],
      ["DESCRIBE", "TOPIC", "t"],
    ],
    code: (r) => r.groups[0].errorCode,
    denied: "GROUP_AUTHORIZATION_FAILED",
  },
  10: {
    version: 4,
    request: () => ({ keyType: 0, coordinatorKeys: ["g"] }),
    grants: [["DESCRIBE", "GROUP", "g"]],
    code: (r) => r.coordinators[0].errorCode,
    denied: "GROUP_AUTHORIZATION_FAILED",
  },
  11: {
    version: 5,
    request: () => ({
      groupId: "g",
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 10_000,
      memberId: "",
      groupInstanceId: null,
      protocolType: "consumer",
      protocols: [{ name: "range", metadata: Buffer.alloc(0) }],
    }),
    grants: [["READ", "GROUP", "g"]],
    code: (r) => r.errorCode,
    denied: "GROUP_AUTHORIZATION_FAILED",
    allowed: "any", // MEMBER_ID_REQUIRED: a new member asks twice (v4+)
  },
  12: {
    version: 4,
    request: () => ({ groupId: "g", generationId: 1, memberId: "m", groupInstanceId: null }),
    grants: [["READ", "GROUP", "g"]],
    code: (r) => r.errorCode,
    denied: "GROUP_AUTHORIZATION_FAILED",
    allowed: "any",
  },
  13: {
    version: 4,
    request: () => ({ groupId: "g", members: [{ memberId: "m", groupInstanceId: null }] }),
    grants: [["READ", "GROUP", "g"]],
    code: (r) => r.errorCode,
    denied: "GROUP_AUTHORIZATION_FAILED",
  },
  14: {
    version: 5,
    request: () => ({
      groupId: "g",
      generationId: 1,
      memberId: "m",
      groupInstanceId: null,
      protocolType: "consumer",
      protocolName: "range",
      assignments: [],
    }),
    grants: [["READ", "GROUP", "g"]],
    code: (r) => r.errorCode,
    denied: "GROUP_AUTHORIZATION_FAILED",
    allowed: "any",
  },
  15: {
    version: 5,
    request: () => ({ groups: ["g"], includeAuthorizedOperations: true }),
    grants: [["DESCRIBE", "GROUP", "g"]],
    code: (r) => r.groups[0].errorCode,
    denied: "GROUP_AUTHORIZATION_FAILED",
  },
  16: {
    version: 4,
    request: () => ({ statesFilter: [] }),
    grants: [["DESCRIBE", "GROUP", "g-listed"]],
    // ListGroups refuses nothing: it leaves out the groups the principal may not DESCRIBE.
    code: (r) =>
      r.groups.some((g: Message) => g.groupId === "g-listed") ? 0 : errorCode("GROUP_AUTHORIZATION_FAILED"),
    denied: "GROUP_AUTHORIZATION_FAILED",
  },
  19: {
    version: 5,
    request: () => ({
      topics: [{ name: "made", numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 5000,
      validateOnly: false,
    }),
    grants: [["CREATE", "TOPIC", "made"]],
    code: (r) => t0(r).errorCode,
    denied: "TOPIC_AUTHORIZATION_FAILED",
  },
  20: {
    version: 5,
    request: () => ({ topicNames: ["doomed"], timeoutMs: 5000 }),
    grants: [["DELETE", "TOPIC", "doomed"]],
    code: (r) => r.responses[0].errorCode,
    denied: "TOPIC_AUTHORIZATION_FAILED",
  },
  21: {
    version: 2,
    request: () => ({
      topics: [{ name: "t", partitions: [{ partitionIndex: 0, offset: 0 }] }],
      timeoutMs: 5000,
    }),
    grants: [["DELETE", "TOPIC", "t"]],
    code: (r) => t0(r).partitions[0].errorCode,
    denied: "TOPIC_AUTHORIZATION_FAILED",
  },
  22: {
    version: 4,
    request: () => ({ transactionalId: null, transactionTimeoutMs: -1, producerId: -1, producerEpoch: -1 }),
    grants: [["IDEMPOTENT_WRITE", "CLUSTER", CLUSTER]],
    code: (r) => r.errorCode,
    denied: "CLUSTER_AUTHORIZATION_FAILED",
  },
  23: {
    version: 4,
    request: () => ({
      replicaId: -1,
      topics: [{ topic: "t", partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }] }],
    }),
    grants: [["DESCRIBE", "TOPIC", "t"]],
    code: (r) => t0(r).partitions[0].errorCode,
    denied: "TOPIC_AUTHORIZATION_FAILED",
  },
  32: {
    version: 4,
    request: () => ({
      resources: [{ resourceType: 2, resourceName: "t", configurationKeys: null }],
      includeSynonyms: false,
      includeDocumentation: false,
    }),
    grants: [["DESCRIBE_CONFIGS", "TOPIC", "t"]],
    code: (r) => r.results[0].errorCode,
    denied: "TOPIC_AUTHORIZATION_FAILED",
  },
  33: {
    version: 2,
    request: () => ({
      resources: [
        { resourceType: 2, resourceName: "t", configs: [{ name: "retention.ms", value: "100000" }] },
      ],
      validateOnly: true,
    }),
    grants: [["ALTER_CONFIGS", "TOPIC", "t"]],
    code: (r) => r.responses[0].errorCode,
    denied: "TOPIC_AUTHORIZATION_FAILED",
  },
  35: {
    version: 3,
    request: () => ({ topics: null }),
    grants: [["DESCRIBE", "CLUSTER", CLUSTER]],
    code: (r) => r.errorCode,
    denied: "CLUSTER_AUTHORIZATION_FAILED",
  },
  37: {
    version: 3,
    request: () => ({
      topics: [{ name: "t", count: 2, assignments: null }],
      timeoutMs: 5000,
      validateOnly: true,
    }),
    grants: [["ALTER", "TOPIC", "t"]],
    code: (r) => r.results[0].errorCode,
    denied: "TOPIC_AUTHORIZATION_FAILED",
  },
  42: {
    version: 2,
    request: () => ({ groupsNames: ["g-gone"] }),
    grants: [["DELETE", "GROUP", "g-gone"]],
    code: (r) => r.results[0].errorCode,
    denied: "GROUP_AUTHORIZATION_FAILED",
    allowed: "any", // GROUP_ID_NOT_FOUND
  },
  43: {
    version: 2,
    request: () => ({ electionType: 0, topicPartitions: [{ topic: "t", partitions: [0] }], timeoutMs: 5000 }),
    grants: [["ALTER", "CLUSTER", CLUSTER]],
    code: (r) => r.errorCode,
    denied: "CLUSTER_AUTHORIZATION_FAILED",
  },
  44: {
    version: 1,
    request: () => ({
      resources: [
        {
          resourceType: 2,
          resourceName: "t",
          configs: [{ name: "retention.ms", configOperation: 0, value: "1000" }],
        },
      ],
      validateOnly: true,
    }),
    grants: [["ALTER_CONFIGS", "TOPIC", "t"]],
    code: (r) => r.responses[0].errorCode,
    denied: "TOPIC_AUTHORIZATION_FAILED",
  },
  45: {
    version: 0,
    request: () => ({
      timeoutMs: 5000,
      topics: [{ name: "t", partitions: [{ partitionIndex: 0, replicas: null }] }],
    }),
    grants: [["ALTER", "CLUSTER", CLUSTER]],
    code: (r) => r.errorCode,
    denied: "CLUSTER_AUTHORIZATION_FAILED",
  },
  46: {
    version: 0,
    request: () => ({ timeoutMs: 5000, topics: null }),
    grants: [["DESCRIBE", "CLUSTER", CLUSTER]],
    code: (r) => r.errorCode,
    denied: "CLUSTER_AUTHORIZATION_FAILED",
  },
  47: {
    version: 0,
    request: () => ({ groupId: "g", topics: [{ name: "t", partitions: [{ partitionIndex: 0 }] }] }),
    grants: [
      ["DELETE", "GROUP", "g"],
      ["READ", "TOPIC", "t"],
    ],
    code: (r) => r.errorCode,
    denied: "GROUP_AUTHORIZATION_FAILED",
    allowed: "any", // GROUP_ID_NOT_FOUND
  },
  50: {
    version: 0,
    request: () => ({ users: null }),
    grants: [["DESCRIBE", "CLUSTER", CLUSTER]],
    code: (r) => r.errorCode,
    denied: "CLUSTER_AUTHORIZATION_FAILED",
  },
  51: {
    version: 0,
    request: () => ({ deletions: [{ name: "nobody-here", mechanism: 1 }], upsertions: [] }),
    grants: [["ALTER", "CLUSTER", CLUSTER]],
    code: (r) => r.results[0].errorCode,
    denied: "CLUSTER_AUTHORIZATION_FAILED",
    allowed: "any", // RESOURCE_NOT_FOUND
  },
  56: {
    version: 3,
    request: () => ({ brokerId: 1, brokerEpoch: -1, topics: [] }),
    grants: [["CLUSTER_ACTION", "CLUSTER", CLUSTER]],
    code: (r) => r.errorCode,
    denied: "CLUSTER_AUTHORIZATION_FAILED",
  },
  60: {
    version: 1,
    request: () => ({ includeClusterAuthorizedOperations: true, endpointType: 1 }),
    grants: [["DESCRIBE", "CLUSTER", CLUSTER]],
    // DescribeCluster needs no ACL, as on Kafka: only its bit set is 0 without DESCRIBE.
    code: (r) =>
      r.clusterAuthorizedOperations === 0 ? errorCode("CLUSTER_AUTHORIZATION_FAILED") : r.errorCode,
    denied: "CLUSTER_AUTHORIZATION_FAILED",
  },
  61: {
    version: 0,
    request: () => ({ topics: [{ name: "t", partitionIndexes: [0] }] }),
    grants: [["READ", "TOPIC", "t"]],
    code: (r) => t0(r).partitions[0].errorCode,
    denied: "TOPIC_AUTHORIZATION_FAILED",
  },
  75: {
    version: 0,
    request: () => ({ topics: [{ name: "t" }], responsePartitionLimit: 2000, cursor: null }),
    grants: [["DESCRIBE", "TOPIC", "t"]],
    code: (r) => t0(r).errorCode,
    denied: "TOPIC_AUTHORIZATION_FAILED",
  },
};

function fetchOf(replicaId: number): Message {
  return {
    replicaId,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1 << 20,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      {
        topic: "t",
        partitions: [
          {
            partition: 0,
            currentLeaderEpoch: -1,
            fetchOffset: 0,
            logStartOffset: -1,
            partitionMaxBytes: 1 << 20,
          },
        ],
      },
    ],
    forgottenTopicsData: [],
    rackId: "",
  };
}

function commitOf(groupId: string, topic = "t"): Message {
  return {
    groupId,
    generationIdOrMemberEpoch: -1,
    memberId: "",
    groupInstanceId: null,
    topics: [
      {
        name: topic,
        partitions: [
          { partitionIndex: 0, committedOffset: 0, committedLeaderEpoch: -1, committedMetadata: null },
        ],
      },
    ],
  };
}

let tb: TestBroker;

function binding(
  principal: string,
  [operation, resourceType, resourceName]: Grant,
  permission: "ALLOW" | "DENY" = "ALLOW",
  patternType: "LITERAL" | "PREFIXED" = "LITERAL",
): AclBinding {
  return { principal, host: "*", operation, resourceType, resourceName, permission, patternType };
}

async function grant(bindings: AclBinding[]): Promise<void> {
  const results = await tb.broker.store.createAcls(bindings);
  expect(results.map((r) => r.error)).toEqual(bindings.map(() => null));
}

/** Runs API `key`'s handler as `principal`, with a context bound as dispatch binds one. */
async function call(principal: string, key: number, version: number, body: Message): Promise<Message> {
  const handler = HANDLERS.find((h) => h.apiKey === key);
  if (!handler) throw new Error(`no handler for API ${key}`);
  const ctx: RequestContext = {
    ...authorizeRequest(tb.broker.authorizer, principal, "127.0.0.1"),
    apiKey: key,
    apiVersion: version,
    correlationId: 1,
    clientId: "acl-matrix",
    principal,
    listener: "PLAINTEXT",
    clientHost: "127.0.0.1",
    admit: () => {},
    // Inter-broker: the listener policy lets the ACLs decide the inter-broker APIs.
    interBroker: true,
  };
  const defaults = new MessageCodec(API_SPECS[key].request).defaults(version);
  const response = await handler.handle(tb.broker, { ...defaults, ...body }, ctx);
  if (!response) throw new Error(`API ${key} answered nothing`);
  return response;
}

const okPrincipal = (key: number) => `User:ok-${key}`;

beforeAll(async () => {
  tb = await startTestBroker({ "authorizer.class.name": "StandardAuthorizer", "super.users": ADMIN });
  for (const name of ["t", "doomed", "visible-1", "visible-2", "hidden-1"])
    await tb.broker.topics.create(name, 1, 1, {});
  const grants = Object.entries(ROWS).flatMap(([key, row]) =>
    row.grants.map((g) => binding(okPrincipal(Number(key)), g)),
  );
  for (let i = 0; i < grants.length; i += 60) await grant(grants.slice(i, i + 60));
  // A group for ListGroups to list: a standalone commit by the super user, once the offsets
  // partition is served here.
  await waitFor(
    async () => (await call(ADMIN, 8, 8, commitOf("g-listed"))).topics[0].partitions[0].errorCode === 0,
    "a commit to g-listed",
  );
}, 60_000);

afterAll(async () => {
  await tb?.stop();
});

describe("every API checks its ACLs", () => {
  it("has a row for every handler the broker serves, or is exempt", () => {
    const missing = HANDLERS.filter((h) => !ROWS[h.apiKey] && !EXEMPT.has(h.apiKey)).map((h) => h.name);
    expect(missing).toEqual([]);
  });

  for (const h of HANDLERS) {
    const row = ROWS[h.apiKey];
    if (!row) continue;
    it(`${h.name}: ${row.denied} without ${row.grants.map((g) => g.join(" ")).join(", ")}; not refused with it`, async () => {
      const denied = await call(NOBODY, h.apiKey, row.version, row.request());
      expect(row.code(denied)).toBe(errorCode(row.denied));
      const allowed = await call(okPrincipal(h.apiKey), h.apiKey, row.version, row.request());
      if (row.allowed === "any") expect(row.code(allowed)).not.toBe(errorCode(row.denied));
      else expect(row.code(allowed)).toBe(0);
    });
  }

  it("a super user needs no ACL for any of them", async () => {
    for (const [key, row] of Object.entries(ROWS)) {
      const response = await call(ADMIN, Number(key), row.version, row.request());
      expect(row.code(response), `API ${key}`).not.toBe(errorCode(row.denied));
    }
  });
});

describe("Metadata", () => {
  const all = { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: true };
  const named = (...names: string[]) => ({
    topics: names.map((name) => ({ name, topicId: ZERO_UUID })),
    allowAutoTopicCreation: true,
  });
  const byName = (r: Message) => new Map<string, Message>(r.topics.map((t: Message) => [t.name, t]));

  it("lists only the topics a principal may DESCRIBE, refuses the others by name, existing or not", async () => {
    const alice = "User:meta-alice";
    await grant([binding(alice, ["DESCRIBE", "TOPIC", "visible-"], "ALLOW", "PREFIXED")]);
    const listed = await call(alice, 3, 12, all);
    expect(listed.topics.map((t: Message) => t.name).sort()).toEqual(["visible-1", "visible-2"]);
    const answered = byName(await call(alice, 3, 12, named("visible-1", "hidden-1", "no-such-topic")));
    expect(answered.get("visible-1")?.errorCode).toBe(0);
    expect(answered.get("hidden-1")?.errorCode).toBe(errorCode("TOPIC_AUTHORIZATION_FAILED"));
    expect(answered.get("no-such-topic")?.errorCode).toBe(errorCode("TOPIC_AUTHORIZATION_FAILED"));
    // A topic id that names a topic it may not describe: refused, the name not told.
    const hiddenId = tb.broker.store.topic("hidden-1")?.id;
    const byId = await call(alice, 3, 12, {
      topics: [{ name: null, topicId: hiddenId }],
      allowAutoTopicCreation: false,
    });
    expect(byId.topics[0]).toMatchObject({ name: null, errorCode: errorCode("TOPIC_AUTHORIZATION_FAILED") });
  });

  it("auto-creates a topic only for a principal that may CREATE it", async () => {
    const bob = "User:meta-bob";
    await grant([binding(bob, ["DESCRIBE", "TOPIC", "auto-"], "ALLOW", "PREFIXED")]);
    const refused = await call(bob, 3, 12, named("auto-1"));
    expect(refused.topics[0].errorCode).toBe(errorCode("TOPIC_AUTHORIZATION_FAILED"));
    expect(tb.broker.store.topic("auto-1")).toBeUndefined();
    await grant([binding(bob, ["CREATE", "TOPIC", "auto-"], "ALLOW", "PREFIXED")]);
    const created = await call(bob, 3, 12, named("auto-1"));
    expect(created.topics[0].errorCode).toBe(0);
    expect(tb.broker.store.topic("auto-1")).toBeDefined();
  });

  it("reports the authorized operations as Kafka's bit sets when asked", async () => {
    const carol = "User:meta-carol";
    await grant([
      binding(carol, ["READ", "TOPIC", "visible-1"]),
      binding(carol, ["ALTER", "CLUSTER", CLUSTER]),
    ]);
    const r = await call(carol, 3, 10, { ...all, includeClusterAuthorizedOperations: true });
    const bit = (op: keyof typeof OperationCodes) => 1 << OperationCodes[op];
    // READ implies DESCRIBE; ALTER on the cluster implies DESCRIBE of it.
    expect(byName(r).get("visible-1")?.topicAuthorizedOperations).toBe(bit("READ") | bit("DESCRIBE"));
    expect(r.clusterAuthorizedOperations).toBe(bit("ALTER") | bit("DESCRIBE"));
    const nobody = await call(NOBODY, 3, 10, { ...all, includeClusterAuthorizedOperations: true });
    expect(nobody.topics).toEqual([]);
    expect(nobody.clusterAuthorizedOperations).toBe(0);
  });
});

describe("rules", () => {
  it("DENY wins over ALLOW, also through User:* and a PREFIXED pattern", async () => {
    const dave = "User:rules-dave";
    await grant([binding(dave, ["READ", "TOPIC", "t"])]);
    expect((await call(dave, 1, 12, fetchOf(-1))).responses[0].partitions[0].errorCode).toBe(0);
    await grant([binding("User:*", ["READ", "TOPIC", "t"], "DENY", "PREFIXED")]);
    const code = (await call(dave, 1, 12, fetchOf(-1))).responses[0].partitions[0].errorCode;
    await tb.broker.store.deleteAcls([
      {
        resourceType: "TOPIC",
        resourceName: "t",
        patternType: "PREFIXED",
        principal: "User:*",
        host: null,
        operation: "ANY",
        permission: "DENY",
      },
    ]);
    expect(code).toBe(errorCode("TOPIC_AUTHORIZATION_FAILED"));
  });

  it("a PREFIXED ALLOW covers the topics named by its prefix and no other", async () => {
    const erin = "User:rules-erin";
    await grant([binding(erin, ["READ", "TOPIC", "visible-"], "ALLOW", "PREFIXED")]);
    const body = {
      topics: [
        { name: "visible-2", partitionIndexes: [0] },
        { name: "hidden-1", partitionIndexes: [0] },
      ],
    };
    const r = await call(erin, 61, 0, body);
    expect(r.topics.map((t: Message) => t.partitions[0].errorCode)).toEqual([
      0,
      errorCode("TOPIC_AUTHORIZATION_FAILED"),
    ]);
  });

  it("OffsetCommit and OffsetFetch refuse the topics a principal may not use inside an allowed group", async () => {
    const frank = "User:rules-frank";
    await grant([
      binding(frank, ["READ", "GROUP", "g-frank"]),
      binding(frank, ["READ", "TOPIC", "visible-1"]),
    ]);
    const committed = await call(frank, 8, 8, commitOf("g-frank", "hidden-1"));
    expect(committed.topics[0].partitions[0].errorCode).toBe(errorCode("TOPIC_AUTHORIZATION_FAILED"));
    expect(
      (await call(frank, 8, 8, commitOf("g-frank", "visible-1"))).topics[0].partitions[0].errorCode,
    ).toBe(0);
    // The super user commits to hidden-1 as well; an every-partition fetch leaves it out.
    expect((await call(ADMIN, 8, 8, commitOf("g-frank", "hidden-1"))).topics[0].partitions[0].errorCode).toBe(
      0,
    );
    const everything = await call(frank, 9, 8, { groups: [{ groupId: "g-frank", topics: null }] });
    expect(everything.groups[0].topics.map((t: Message) => t.name)).toEqual(["visible-1"]);
    const asked = await call(frank, 9, 8, {
      groups: [{ groupId: "g-frank", topics: [{ name: "hidden-1", partitionIndexes: [0] }] }],
    });
    expect(asked.groups[0].topics[0].partitions[0]).toMatchObject({
      errorCode: errorCode("TOPIC_AUTHORIZATION_FAILED"),
      committedOffset: -1,
    });
  });

  it("a replica fetch needs CLUSTER_ACTION on the cluster: CLUSTER_AUTHORIZATION_FAILED at the top", async () => {
    const refused = await call(okPrincipal(1), 1, 12, fetchOf(2));
    expect(refused.errorCode).toBe(errorCode("CLUSTER_AUTHORIZATION_FAILED"));
    await grant([binding("User:rules-broker", ["CLUSTER_ACTION", "CLUSTER", CLUSTER])]);
    const served = await call("User:rules-broker", 1, 12, fetchOf(2));
    expect(served.errorCode).toBe(0);
  });

  it("InitProducerId: WRITE on any topic stands for IDEMPOTENT_WRITE, as Kafka's authorizeByResourceType", async () => {
    const gina = "User:rules-gina";
    const body = ROWS[22].request();
    expect((await call(gina, 22, 4, body)).errorCode).toBe(errorCode("CLUSTER_AUTHORIZATION_FAILED"));
    await grant([binding(gina, ["WRITE", "TOPIC", "visible-"], "ALLOW", "PREFIXED")]);
    expect((await call(gina, 22, 4, body)).errorCode).toBe(0);
  });
});
