/**
 * DescribeAcls (29), CreateAcls (30) and DeleteAcls (31) on the wire against an in-process broker:
 * each creation validated on its own (INVALID_REQUEST per bad binding, the good ones created,
 * an existing one a success), requests larger than one store call, DescribeAcls filters (ANY,
 * LITERAL, PREFIXED, MATCH, principal), DeleteAcls per filter (overlaps reported by each, a bad
 * filter refused alone), the versions served, and with an authorizer: CLUSTER_AUTHORIZATION_FAILED
 * for a principal without ALTER / DESCRIBE on the cluster, as Kafka answers each API, until a
 * binding allows it.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { AclBinding } from "../../../broker/metadata/acl-bindings.js";
import { Connection } from "../../../client/connection.js";
import { AclOperation, AclPermissionType, PatternType, ResourceType } from "../../../protocol/acl.js";
import { errorCode } from "../../../protocol/errors.js";
import { startTestBroker, type TestBroker } from "../../helpers/broker.js";

const INVALID_REQUEST = errorCode("INVALID_REQUEST");
const CLUSTER_AUTHORIZATION_FAILED = errorCode("CLUSTER_AUTHORIZATION_FAILED");

/** A CreateAcls creation: ALLOW READ on topic t for User:alice from any host, unless overridden. */
function creation(over: Record<string, unknown> = {}) {
  return {
    resourceType: ResourceType.TOPIC,
    resourceName: "t",
    resourcePatternType: PatternType.LITERAL,
    principal: "User:alice",
    host: "*",
    operation: AclOperation.READ,
    permissionType: AclPermissionType.ALLOW,
    ...over,
  };
}

/** A filter matching everything, unless overridden. */
function filter(over: Record<string, unknown> = {}) {
  return {
    resourceTypeFilter: ResourceType.ANY,
    resourceNameFilter: null,
    patternTypeFilter: PatternType.ANY,
    principalFilter: null,
    hostFilter: null,
    operation: AclOperation.ANY,
    permissionType: AclPermissionType.ANY,
    ...over,
  };
}

/** A binding as the store keeps it. */
function stored(over: Partial<AclBinding> = {}): AclBinding {
  return {
    resourceType: "TOPIC",
    resourceName: "t",
    patternType: "LITERAL",
    principal: "User:alice",
    host: "*",
    operation: "READ",
    permission: "ALLOW",
    ...over,
  };
}

describe("without an authorizer", () => {
  let tb: TestBroker;
  let conn: Connection;

  beforeAll(async () => {
    tb = await startTestBroker();
    conn = await Connection.connect(`127.0.0.1:${tb.port}`, { clientId: "acl-test" });
  });

  afterAll(async () => {
    await conn?.close();
    await tb?.stop();
  });

  beforeEach(async () => {
    await tb.broker.store.deleteAcls([
      {
        resourceType: "ANY",
        resourceName: null,
        patternType: "ANY",
        principal: null,
        host: null,
        operation: "ANY",
        permission: "ANY",
      },
    ]);
  });

  const create = async (version: number, creations: ReturnType<typeof creation>[]) =>
    (await conn.send(30, version, { creations })).results;

  it("advertises v1-3 of each (v0 was removed in Kafka 4)", async () => {
    const r = await conn.send(18, 3, { clientSoftwareName: "t", clientSoftwareVersion: "1" });
    const ranges = r.apiKeys.filter((k) => k.apiKey >= 29 && k.apiKey <= 31);
    expect(ranges.map((k) => [k.apiKey, k.minVersion, k.maxVersion])).toEqual([
      [29, 1, 3],
      [30, 1, 3],
      [31, 1, 3],
    ]);
  });

  it("CreateAcls answers each binding on its own: bad ones INVALID_REQUEST, the others created", async () => {
    const creations = [
      creation(),
      creation({ resourceType: ResourceType.ANY }),
      creation({ resourceType: 99 }),
      creation({ resourcePatternType: PatternType.MATCH }),
      creation({ operation: AclOperation.ANY }),
      creation({ operation: AclOperation.UNKNOWN }),
      creation({ permissionType: AclPermissionType.ANY }),
      creation({ resourceName: "" }),
      creation({ resourceType: ResourceType.CLUSTER, resourceName: "other" }),
      creation({ principal: "alice" }),
      creation({ host: "" }),
      creation({ resourcePatternType: PatternType.PREFIXED, resourceName: "orders-" }),
      creation({ resourceType: ResourceType.CLUSTER, resourceName: "kafka-cluster", operation: 7 }),
    ];
    const results = await create(3, creations);
    expect(results.map((r) => r.errorCode)).toEqual([0, ...Array(10).fill(INVALID_REQUEST), 0, 0]);
    expect(results[8].errorMessage).toMatch(/kafka-cluster/);
    expect(results[9].errorMessage).toMatch(/Type:name/);
    expect(results[0].errorMessage).toBeNull();
    expect(tb.broker.store.aclBindings()).toEqual([
      stored({ resourceType: "CLUSTER", resourceName: "kafka-cluster", operation: "ALTER" }),
      stored(),
      stored({ patternType: "PREFIXED", resourceName: "orders-" }),
    ]);
  });

  it("v1 and v2 create the same; an existing binding is a success that adds nothing", async () => {
    expect((await create(1, [creation()]))[0].errorCode).toBe(0);
    expect(
      (await create(2, [creation(), creation({ operation: AclOperation.WRITE })])).map((r) => r.errorCode),
    ).toEqual([0, 0]);
    expect(tb.broker.store.aclBindings()).toEqual([stored(), stored({ operation: "WRITE" })]);
  });

  it("creates more bindings than one store call takes (slices of 64), answering each in order", async () => {
    const creations = Array.from({ length: 150 }, (_, i) =>
      creation({ resourceName: `t${String(i).padStart(3, "0")}`, ...(i === 100 ? { principal: "x" } : {}) }),
    );
    const results = await create(3, creations);
    expect(results).toHaveLength(150);
    expect(results.findIndex((r) => r.errorCode !== 0)).toBe(100);
    expect(results.filter((r) => r.errorCode !== 0)).toHaveLength(1);
    expect(tb.broker.store.aclBindings()).toHaveLength(149);
  });

  describe("DescribeAcls", () => {
    beforeEach(async () => {
      const results = await create(3, [
        creation(),
        creation({ principal: "User:bob", operation: AclOperation.WRITE }),
        creation({ resourceName: "*", principal: "User:*", operation: AclOperation.DESCRIBE }),
        creation({ resourceName: "ord", resourcePatternType: PatternType.PREFIXED }),
        creation({
          resourceType: ResourceType.GROUP,
          resourceName: "g",
          permissionType: AclPermissionType.DENY,
        }),
      ]);
      expect(results.map((r) => r.errorCode)).toEqual([0, 0, 0, 0, 0]);
    });

    const describeBy = async (version: number, over: Record<string, unknown>) => {
      const r = await conn.send(29, version, filter(over));
      expect(r.errorCode).toBe(0);
      return r.resources.map((res) => ({
        resource: `${res.resourceType}/${res.patternType}/${res.resourceName}`,
        acls: res.acls.map((a) => `${a.principal}@${a.host}:${a.operation}/${a.permissionType}`),
      }));
    };

    it("ANY describes every binding, grouped by resource pattern", async () => {
      expect(await describeBy(3, {})).toEqual([
        { resource: "3/3/g", acls: ["User:alice@*:3/2"] },
        { resource: "2/3/*", acls: ["User:*@*:8/3"] },
        { resource: "2/3/t", acls: ["User:alice@*:3/3", "User:bob@*:4/3"] },
        { resource: "2/4/ord", acls: ["User:alice@*:3/3"] },
      ]);
    });

    it("LITERAL and PREFIXED filters match their own pattern type and exact name; v1 answers alike", async () => {
      const literal = { resourceTypeFilter: 2, resourceNameFilter: "t", patternTypeFilter: 3 };
      expect(await describeBy(1, literal)).toEqual([
        { resource: "2/3/t", acls: ["User:alice@*:3/3", "User:bob@*:4/3"] },
      ]);
      const prefixed = { resourceTypeFilter: 2, resourceNameFilter: "ord", patternTypeFilter: 4 };
      expect(await describeBy(2, prefixed)).toEqual([{ resource: "2/4/ord", acls: ["User:alice@*:3/3"] }]);
      expect(await describeBy(3, { ...prefixed, resourceNameFilter: "orders" })).toEqual([]);
    });

    it("MATCH finds every binding that applies to a resource: its literal name, *, and prefixes", async () => {
      const match = { resourceTypeFilter: 2, resourceNameFilter: "orders", patternTypeFilter: 2 };
      expect(await describeBy(3, match)).toEqual([
        { resource: "2/3/*", acls: ["User:*@*:8/3"] },
        { resource: "2/4/ord", acls: ["User:alice@*:3/3"] },
      ]);
    });

    it("filters by principal, operation and permission", async () => {
      expect(await describeBy(3, { principalFilter: "User:bob" })).toEqual([
        { resource: "2/3/t", acls: ["User:bob@*:4/3"] },
      ]);
      expect(await describeBy(3, { permissionType: AclPermissionType.DENY })).toEqual([
        { resource: "3/3/g", acls: ["User:alice@*:3/2"] },
      ]);
      expect(await describeBy(3, { operation: AclOperation.DESCRIBE, hostFilter: "*" })).toEqual([
        { resource: "2/3/*", acls: ["User:*@*:8/3"] },
      ]);
    });

    it("a filter holding an unknown code is INVALID_REQUEST at the top", async () => {
      for (const over of [
        { operation: AclOperation.UNKNOWN },
        { resourceTypeFilter: 42 },
        { patternTypeFilter: 0 },
      ]) {
        const r = await conn.send(29, 3, filter(over));
        expect(r.errorCode, JSON.stringify(over)).toBe(INVALID_REQUEST);
        expect(r.resources).toEqual([]);
      }
    });
  });

  describe("DeleteAcls", () => {
    beforeEach(async () => {
      await create(3, [
        creation(),
        creation({ principal: "User:bob" }),
        creation({ resourceName: "u" }),
        creation({ resourceName: "ord", resourcePatternType: PatternType.PREFIXED }),
      ]);
    });

    it("answers per filter what it removed; a binding two filters match is reported by both", async () => {
      const r = await conn.send(31, 3, {
        filters: [
          filter({ resourceTypeFilter: 2, resourceNameFilter: "t", patternTypeFilter: 3 }),
          filter({ principalFilter: "User:bob" }),
          filter({ operation: AclOperation.UNKNOWN }),
          filter({ resourceTypeFilter: 3 }),
        ],
      });
      const answered = r.filterResults.map((f) => ({
        errorCode: f.errorCode,
        removed: f.matchingAcls.map(
          (m) => `${m.resourceName}/${m.patternType}/${m.principal}/${m.operation}`,
        ),
      }));
      expect(answered).toEqual([
        { errorCode: 0, removed: ["t/3/User:alice/3", "t/3/User:bob/3"] },
        { errorCode: 0, removed: ["t/3/User:bob/3"] },
        { errorCode: INVALID_REQUEST, removed: [] },
        { errorCode: 0, removed: [] },
      ]);
      expect(tb.broker.store.aclBindings().map((b) => b.resourceName)).toEqual(["u", "ord"]);
    });

    it("MATCH removes what applies to a resource; v1 carries the pattern type", async () => {
      const r = await conn.send(31, 1, {
        filters: [filter({ resourceTypeFilter: 2, resourceNameFilter: "orders", patternTypeFilter: 2 })],
      });
      expect(r.filterResults[0].matchingAcls).toEqual([
        {
          errorCode: 0,
          errorMessage: null,
          resourceType: 2,
          resourceName: "ord",
          patternType: 4,
          principal: "User:alice",
          host: "*",
          operation: 3,
          permissionType: 3,
        },
      ]);
      expect(tb.broker.store.aclBindings().map((b) => b.resourceName)).toEqual(["t", "t", "u"]);
    });

    it("takes more filters than one store call (slices of 64)", async () => {
      const filters = Array.from({ length: 70 }, (_, i) =>
        filter({
          resourceTypeFilter: 2,
          resourceNameFilter: i === 69 ? "u" : `none${i}`,
          patternTypeFilter: 3,
        }),
      );
      const r = await conn.send(31, 3, { filters });
      expect(r.filterResults).toHaveLength(70);
      expect(r.filterResults[69].matchingAcls.map((m) => m.resourceName)).toEqual(["u"]);
      expect(tb.broker.store.aclBindings().map((b) => b.resourceName)).toEqual(["t", "t", "ord"]);
    });
  });
});

describe("with an authorizer", () => {
  let tb: TestBroker;
  let conn: Connection;

  beforeAll(async () => {
    tb = await startTestBroker({
      "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
      "super.users": "User:admin",
    });
    conn = await Connection.connect(`127.0.0.1:${tb.port}`, { clientId: "acl-test" });
  });

  afterAll(async () => {
    await conn?.close();
    await tb?.stop();
  });

  it("refuses a principal without ALTER / DESCRIBE on the cluster, as Kafka answers each API", async () => {
    const created = await conn.send(30, 3, { creations: [creation(), creation({ operation: 4 })] });
    expect(created.results.map((r) => r.errorCode)).toEqual([
      CLUSTER_AUTHORIZATION_FAILED,
      CLUSTER_AUTHORIZATION_FAILED,
    ]);
    expect(created.results[0].errorMessage).toMatch(/User:ANONYMOUS/);
    const deleted = await conn.send(31, 3, { filters: [filter(), filter()] });
    expect(deleted.filterResults.map((r) => r.errorCode)).toEqual([
      CLUSTER_AUTHORIZATION_FAILED,
      CLUSTER_AUTHORIZATION_FAILED,
    ]);
    const described = await conn.send(29, 3, filter());
    expect(described.errorCode).toBe(CLUSTER_AUTHORIZATION_FAILED);
    expect(tb.broker.store.aclBindings()).toEqual([]);
  });

  it("allows them once a binding grants ALTER on the cluster (which implies DESCRIBE)", async () => {
    const grant = stored({
      resourceType: "CLUSTER",
      resourceName: "kafka-cluster",
      principal: "User:ANONYMOUS",
      operation: "ALTER",
    });
    expect(await tb.broker.store.createAcls([grant])).toEqual([{ error: null }]);
    const created = await conn.send(30, 3, { creations: [creation()] });
    expect(created.results.map((r) => r.errorCode)).toEqual([0]);
    const described = await conn.send(29, 3, filter({ resourceTypeFilter: ResourceType.TOPIC }));
    expect(described.errorCode).toBe(0);
    expect(described.resources.map((r) => r.resourceName)).toEqual(["t"]);
    const deleted = await conn.send(31, 3, { filters: [filter({ resourceTypeFilter: ResourceType.TOPIC })] });
    expect(deleted.filterResults[0].matchingAcls).toHaveLength(1);
  });
});
