import { describe, expect, it } from "vitest";
import {
  AclOperation,
  AclPermissionType,
  aclOperationName,
  CLUSTER_RESOURCE_NAME,
  PatternType,
  parseAclOperation,
  parsePatternType,
  parsePermissionType,
  parseResourceType,
  patternTypeName,
  permissionTypeName,
  ResourceType,
  resourceTypeName,
  WILDCARD,
} from "../../protocol/acl.js";

// The codes of Kafka's enums: org.apache.kafka.common.resource.ResourceType and PatternType,
// org.apache.kafka.common.acl.AclOperation and AclPermissionType.
describe("Kafka's ACL codes", () => {
  it("ResourceType", () => {
    expect(ResourceType).toEqual({
      UNKNOWN: 0,
      ANY: 1,
      TOPIC: 2,
      GROUP: 3,
      CLUSTER: 4,
      TRANSACTIONAL_ID: 5,
      DELEGATION_TOKEN: 6,
      USER: 7,
    });
  });

  it("PatternType", () => {
    expect(PatternType).toEqual({ UNKNOWN: 0, ANY: 1, MATCH: 2, LITERAL: 3, PREFIXED: 4 });
  });

  it("AclOperation", () => {
    expect(AclOperation).toEqual({
      UNKNOWN: 0,
      ANY: 1,
      ALL: 2,
      READ: 3,
      WRITE: 4,
      CREATE: 5,
      DELETE: 6,
      ALTER: 7,
      DESCRIBE: 8,
      CLUSTER_ACTION: 9,
      DESCRIBE_CONFIGS: 10,
      ALTER_CONFIGS: 11,
      IDEMPOTENT_WRITE: 12,
      CREATE_TOKENS: 13,
      DESCRIBE_TOKENS: 14,
      TWO_PHASE_COMMIT: 15,
    });
  });

  it("AclPermissionType", () => {
    expect(AclPermissionType).toEqual({ UNKNOWN: 0, ANY: 1, DENY: 2, ALLOW: 3 });
  });

  it("are frozen", () => {
    expect(Object.isFrozen(ResourceType)).toBe(true);
    expect(Object.isFrozen(AclOperation)).toBe(true);
    expect(CLUSTER_RESOURCE_NAME).toBe("kafka-cluster");
    expect(WILDCARD).toBe("*");
  });
});

describe("kafka-acls names", () => {
  it("names codes in PascalCase", () => {
    expect(resourceTypeName(2)).toBe("Topic");
    expect(resourceTypeName(3)).toBe("Group");
    expect(resourceTypeName(4)).toBe("Cluster");
    expect(resourceTypeName(5)).toBe("TransactionalId");
    expect(resourceTypeName(6)).toBe("DelegationToken");
    expect(resourceTypeName(7)).toBe("User");
    expect(aclOperationName(3)).toBe("Read");
    expect(aclOperationName(8)).toBe("Describe");
    expect(aclOperationName(9)).toBe("ClusterAction");
    expect(aclOperationName(12)).toBe("IdempotentWrite");
    expect(aclOperationName(10)).toBe("DescribeConfigs");
    expect(aclOperationName(15)).toBe("TwoPhaseCommit");
    expect(permissionTypeName(3)).toBe("Allow");
    expect(permissionTypeName(2)).toBe("Deny");
    expect(patternTypeName(3)).toBe("Literal");
    expect(patternTypeName(4)).toBe("Prefixed");
  });

  it("gives undefined for codes Kafka does not define", () => {
    expect(resourceTypeName(8)).toBeUndefined();
    expect(aclOperationName(16)).toBeUndefined();
    expect(aclOperationName(-1)).toBeUndefined();
    expect(permissionTypeName(4)).toBeUndefined();
    expect(patternTypeName(5)).toBeUndefined();
  });

  it("parses names in any case, with or without underscores or dashes", () => {
    for (const text of ["IdempotentWrite", "idempotentwrite", "IDEMPOTENT_WRITE", "idempotent-write"]) {
      expect(parseAclOperation(text), text).toBe(AclOperation.IDEMPOTENT_WRITE);
    }
    expect(parseAclOperation("read")).toBe(3);
    expect(parseAclOperation("All")).toBe(2);
    expect(parseResourceType("topic")).toBe(2);
    expect(parseResourceType("TransactionalId")).toBe(5);
    expect(parseResourceType("TRANSACTIONAL_ID")).toBe(5);
    expect(parsePermissionType("allow")).toBe(3);
    expect(parsePermissionType("DENY")).toBe(2);
    expect(parsePatternType("prefixed")).toBe(4);
    expect(parsePatternType("LITERAL")).toBe(3);
  });

  it("round-trips every code through its name", () => {
    for (const code of Object.values(ResourceType))
      expect(parseResourceType(resourceTypeName(code)!)).toBe(code);
    for (const code of Object.values(PatternType))
      expect(parsePatternType(patternTypeName(code)!)).toBe(code);
    for (const code of Object.values(AclOperation))
      expect(parseAclOperation(aclOperationName(code)!)).toBe(code);
    for (const code of Object.values(AclPermissionType)) {
      expect(parsePermissionType(permissionTypeName(code)!)).toBe(code);
    }
  });

  it("gives undefined for unknown names, including Object.prototype's", () => {
    expect(parseAclOperation("Fly")).toBeUndefined();
    expect(parseAclOperation("")).toBeUndefined();
    expect(parseResourceType("constructor")).toBeUndefined();
    expect(parseResourceType("__proto__")).toBeUndefined();
    expect(parsePermissionType("toString")).toBeUndefined();
  });
});
