/**
 * Admin.createAcls / describeAcls / deleteAcls against an in-process broker, in KafkaJS's shapes:
 * codes or names in, codes out; a broker's refusal of one binding or filter thrown as its
 * KafkaError; malformed arguments refused before anything is sent (INVALID_ARGUMENT).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  AclOperation,
  AclPatternType,
  AclPermissionType,
  AclResourceType,
  Admin,
} from "../../client/index.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";

let tb: TestBroker;
let admin: Admin;

beforeAll(async () => {
  tb = await startTestBroker();
  admin = new Admin({ brokers: [`127.0.0.1:${tb.port}`], clientId: "admin-acls" });
});

afterAll(async () => {
  await admin?.close();
  await tb?.stop();
});

beforeEach(async () => {
  await admin.deleteAcls({ filters: [{}] });
});

const readOrders = {
  resourceType: AclResourceType.TOPIC,
  resourceName: "orders",
  resourcePatternType: AclPatternType.LITERAL,
  principal: "User:alice",
  host: "*",
  operation: AclOperation.READ,
  permissionType: AclPermissionType.ALLOW,
};

describe("Admin ACLs", () => {
  it("creates bindings given by codes or by names, and describes them with codes", async () => {
    expect(
      await admin.createAcls({
        acl: [
          readOrders,
          {
            resourceType: "group",
            resourceName: "billing",
            principal: "User:alice",
            operation: "Read",
            permissionType: "ALLOW",
          },
          {
            ...readOrders,
            resourcePatternType: "PREFIXED",
            resourceName: "ord",
            operation: "idempotent_write",
          },
        ],
      }),
    ).toBe(true);
    const { resources } = await admin.describeAcls({ resourceType: AclResourceType.TOPIC });
    expect(resources).toEqual([
      {
        resourceType: 2,
        resourceName: "orders",
        resourcePatternType: 3,
        acls: [{ principal: "User:alice", host: "*", operation: 3, permissionType: 3 }],
      },
      {
        resourceType: 2,
        resourceName: "ord",
        resourcePatternType: 4,
        acls: [{ principal: "User:alice", host: "*", operation: 12, permissionType: 3 }],
      },
    ]);
    const all = await admin.describeAcls();
    expect(all.resources.map((r) => r.resourceName)).toEqual(["billing", "orders", "ord"]);
    const match = await admin.describeAcls({
      resourceType: "topic",
      resourceName: "orders-eu",
      resourcePatternType: AclPatternType.MATCH,
    });
    expect(match.resources.map((r) => r.resourceName)).toEqual(["ord"]);
  });

  it("deletes by filters, answering per filter the bindings removed (KafkaJS's filterResponses)", async () => {
    await admin.createAcls({ acl: [readOrders, { ...readOrders, principal: "User:bob" }] });
    const r = await admin.deleteAcls({
      filters: [{ principal: "User:bob" }, { resourceName: "nothing", resourceType: "TOPIC" }],
    });
    expect(r.filterResponses).toEqual([
      {
        errorCode: 0,
        errorMessage: null,
        matchingAcls: [
          {
            errorCode: 0,
            errorMessage: null,
            resourceType: 2,
            resourceName: "orders",
            resourcePatternType: 3,
            principal: "User:bob",
            host: "*",
            operation: 3,
            permissionType: 3,
          },
        ],
      },
      { errorCode: 0, errorMessage: null, matchingAcls: [] },
    ]);
    const left = await admin.describeAcls();
    expect(left.resources.flatMap((res) => res.acls.map((a) => a.principal))).toEqual(["User:alice"]);
  });

  it("throws the broker's error for a binding it refuses, after creating the others", async () => {
    const bad = { ...readOrders, resourceType: AclResourceType.CLUSTER, resourceName: "not-the-cluster" };
    await expect(admin.createAcls({ acl: [readOrders, bad] })).rejects.toMatchObject({
      code: "INVALID_REQUEST",
      message: expect.stringMatching(/acl\[1\].*kafka-cluster/),
    });
    expect((await admin.describeAcls()).resources.map((r) => r.resourceName)).toEqual(["orders"]);
    await expect(admin.describeAcls({ operation: AclOperation.UNKNOWN })).rejects.toMatchObject({
      code: "INVALID_REQUEST",
    });
  });

  it("refuses malformed arguments before sending anything", async () => {
    const cases: [() => Promise<unknown>, RegExp][] = [
      [() => admin.createAcls({ acl: [{ ...readOrders, operation: 99 as never }] }), /acl\[0\]\.operation/],
      [() => admin.createAcls({ acl: [{ ...readOrders, resourceType: "queue" }] }), /acl\[0\]\.resourceType/],
      [() => admin.createAcls({ acl: [{ ...readOrders, principal: "" }] }), /acl\[0\]\.principal/],
      [() => admin.createAcls({} as never), /createAcls\(\{ acl \}\)/],
      [() => admin.describeAcls({ permissionType: "maybe" }), /filter\.permissionType/],
      [() => admin.deleteAcls({ filters: [{ host: 7 as never }] }), /filters\[0\]\.host/],
    ];
    for (const [call, what] of cases)
      await expect(call()).rejects.toMatchObject({
        code: "INVALID_ARGUMENT",
        message: expect.stringMatching(what),
      });
  });
});
