/**
 * ACLs from clients nobody here wrote, against an in-process broker: kafka-python 2.0.2 (Debian's
 * python3-kafka; its KafkaAdminClient speaks CreateAcls / DescribeAcls / DeleteAcls v1) and
 * KafkaJS 2.2.4 (v1 as well). Each creates bindings (one refused per binding: a CLUSTER binding not
 * named kafka-cluster), describes them (every binding; those that MATCH a topic), deletes by
 * filter, and what it wrote is what the broker's store and samsa's Admin see, and the reverse.
 *
 * Debian's python3-confluent-kafka is 1.7.0, whose AdminClient predates ACL calls (1.9), and kcat
 * has no admin commands, so librdkafka is not among them.
 */
import * as path from "node:path";
import {
  AclOperationTypes,
  AclPermissionTypes,
  AclResourceTypes,
  Kafka,
  logLevel,
  ResourcePatternTypes,
} from "kafkajs";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Admin } from "../../client/index.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { requireTool, runBounded } from "./helpers.js";

const PYTHON = "/usr/bin/python3";
const SCRIPT = path.join(import.meta.dirname, "kafka_python_acls.py");
const INSTALL = "apt-get update && apt-get install -y python3-kafka";
const SCENARIO_TIMEOUT_MS = 60_000;

let tb: TestBroker;
let admin: Admin;

beforeAll(async () => {
  tb = await startTestBroker();
  admin = new Admin({ brokers: [`127.0.0.1:${tb.port}`], clientId: "compat-acls" });
});

afterAll(async () => {
  await admin?.close();
  await tb?.stop();
});

beforeEach(async () => {
  await admin.deleteAcls({ filters: [{}] });
});

/** The store's bindings as `TYPE/PATTERN/name principal OPERATION PERMISSION`. */
function storeLines(): string[] {
  return tb.broker.store
    .aclBindings()
    .map(
      (b) =>
        `${b.resourceType}/${b.patternType}/${b.resourceName} ${b.principal} ${b.operation} ${b.permission}`,
    );
}

async function python(scenario: string): Promise<Record<string, unknown>> {
  const { stdout } = await runBounded(PYTHON, [SCRIPT, String(tb.port), scenario], {
    timeoutMs: SCENARIO_TIMEOUT_MS,
    install: INSTALL,
  });
  return JSON.parse(stdout.toString("utf8"));
}

const line = (resource: string, principal: string, operation: string) => ({
  resource,
  principal,
  host: "*",
  operation,
  permission: "ALLOW",
});

describe("kafka-python 2.0.2 KafkaAdminClient", () => {
  it("is installed", () => {
    requireTool("kafka-python", PYTHON, ["-c", "import kafka.admin; kafka.admin.ACL"], INSTALL);
  });

  it("creates, describes (ANY and MATCH) and deletes; the broker refuses the bad binding alone", async () => {
    const created = await python("create");
    expect(created).toEqual({
      succeeded: [
        line("TOPIC/LITERAL/orders", "User:alice", "READ"),
        line("TOPIC/PREFIXED/orders-", "User:bob", "WRITE"),
        line("GROUP/LITERAL/billing", "User:bob", "READ"),
      ],
      failed: [[line("CLUSTER/LITERAL/not-the-cluster", "User:alice", "ALTER"), "InvalidRequestError"]],
    });
    expect(storeLines()).toEqual([
      "GROUP/LITERAL/billing User:bob READ ALLOW",
      "TOPIC/LITERAL/orders User:alice READ ALLOW",
      "TOPIC/PREFIXED/orders- User:bob WRITE ALLOW",
    ]);

    await admin.createAcls({
      acl: [
        {
          resourceType: "TOPIC",
          resourceName: "*",
          principal: "User:*",
          operation: "DESCRIBE",
          permissionType: "ALLOW",
        },
      ],
    });
    const described = await python("describe");
    expect(described.error).toBe("NoError");
    expect(described.all).toHaveLength(4);
    expect(described.match).toEqual([
      line("TOPIC/LITERAL/*", "User:*", "DESCRIBE"),
      line("TOPIC/PREFIXED/orders-", "User:bob", "WRITE"),
    ]);

    const deleted = await python("delete");
    expect(deleted).toEqual({
      error: "NoError",
      removed: [
        line("GROUP/LITERAL/billing", "User:bob", "READ"),
        line("TOPIC/PREFIXED/orders-", "User:bob", "WRITE"),
      ],
    });
    expect((await admin.describeAcls({ principal: "User:bob" })).resources).toEqual([]);
    expect(storeLines()).toHaveLength(2);
  });
});

describe("KafkaJS 2.2.4 admin", () => {
  it("creates, describes and deletes in its own shapes; samsa's Admin agrees", async () => {
    const kafka = new Kafka({
      brokers: [`127.0.0.1:${tb.port}`],
      clientId: "kafkajs-acls",
      logLevel: logLevel.NOTHING,
    });
    const kadmin = kafka.admin();
    await kadmin.connect();
    try {
      const entry = {
        resourceType: AclResourceTypes.TOPIC,
        resourceName: "payments",
        resourcePatternType: ResourcePatternTypes.LITERAL,
        principal: "User:carol",
        host: "10.0.0.1",
        operation: AclOperationTypes.WRITE,
        permissionType: AclPermissionTypes.DENY,
      };
      expect(await kadmin.createAcls({ acl: [entry] })).toBe(true);
      expect(storeLines()).toEqual(["TOPIC/LITERAL/payments User:carol WRITE DENY"]);
      await expect(
        kadmin.createAcls({
          acl: [{ ...entry, resourceType: AclResourceTypes.CLUSTER, resourceName: "nope" }],
        }),
      ).rejects.toMatchObject({ type: "INVALID_REQUEST" });

      const filter = {
        resourceType: AclResourceTypes.ANY,
        resourcePatternType: ResourcePatternTypes.ANY,
        operation: AclOperationTypes.ANY,
        permissionType: AclPermissionTypes.ANY,
      };
      const described = await kadmin.describeAcls(filter);
      expect(described.resources).toEqual([
        {
          resourceType: AclResourceTypes.TOPIC,
          resourceName: "payments",
          resourcePatternType: ResourcePatternTypes.LITERAL,
          acls: [{ principal: "User:carol", host: "10.0.0.1", operation: 4, permissionType: 2 }],
        },
      ]);
      expect((await admin.describeAcls()).resources).toEqual(described.resources);

      const deleted = await kadmin.deleteAcls({ filters: [{ ...filter, principal: "User:carol" }] });
      expect(deleted.filterResponses[0].matchingAcls).toEqual([
        expect.objectContaining({ resourceName: "payments", principal: "User:carol", operation: 4 }),
      ]);
      expect(storeLines()).toEqual([]);
    } finally {
      await kadmin.disconnect();
    }
  });
});
