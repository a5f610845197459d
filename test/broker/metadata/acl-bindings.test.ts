/**
 * Kafka's AclBindingFilter semantics as a table (ResourcePatternFilter and AccessControlEntryFilter
 * matches), and the checks of bindings and filters.
 */
import { describe, expect, it } from "vitest";
import {
  type AclBinding,
  type AclBindingFilter,
  aclBindingProblem,
  aclFilterMatches,
  aclFilterProblem,
} from "../../../broker/metadata/acl-bindings.js";
import { binding, filter } from "./store-security-contract.js";

const literal = binding(); // TOPIC LITERAL orders User:alice * READ ALLOW
const prefixed = binding({ resourceName: "ord", patternType: "PREFIXED" });
const wildcard = binding({ resourceName: "*" });
const group = binding({ resourceType: "GROUP" });

/** [case, filter, binding, matches]. */
const ROWS: [string, Partial<AclBindingFilter>, AclBinding, boolean][] = [
  ["everything matches the ANY filter", {}, prefixed, true],
  ["resource type", { resourceType: "GROUP" }, literal, false],
  ["resource type equal", { resourceType: "GROUP" }, group, true],
  ["LITERAL filter: equal name", { patternType: "LITERAL", resourceName: "orders" }, literal, true],
  [
    "LITERAL filter: not a prefixed binding",
    { patternType: "LITERAL", resourceName: "ord" },
    prefixed,
    false,
  ],
  [
    "LITERAL filter '*': only the wildcard binding",
    { patternType: "LITERAL", resourceName: "*" },
    wildcard,
    true,
  ],
  [
    "LITERAL filter '*' is no wildcard of filters",
    { patternType: "LITERAL", resourceName: "*" },
    literal,
    false,
  ],
  ["LITERAL filter, null name: every literal", { patternType: "LITERAL" }, wildcard, true],
  ["PREFIXED filter: equal prefix", { patternType: "PREFIXED", resourceName: "ord" }, prefixed, true],
  [
    "PREFIXED filter: no prefix matching",
    { patternType: "PREFIXED", resourceName: "orders" },
    prefixed,
    false,
  ],
  ["ANY filter: name equal, literal", { resourceName: "orders" }, literal, true],
  ["ANY filter: name equal, prefixed", { resourceName: "ord" }, prefixed, true],
  ["ANY filter: a prefix is not equal", { resourceName: "orders" }, prefixed, false],
  ["ANY filter: the wildcard is not equal", { resourceName: "orders" }, wildcard, false],
  ["MATCH: the literal", { patternType: "MATCH", resourceName: "orders" }, literal, true],
  ["MATCH: the wildcard", { patternType: "MATCH", resourceName: "orders" }, wildcard, true],
  ["MATCH: a prefix of the name", { patternType: "MATCH", resourceName: "orders" }, prefixed, true],
  ["MATCH: not a longer prefix", { patternType: "MATCH", resourceName: "or" }, prefixed, false],
  ["MATCH: not another literal", { patternType: "MATCH", resourceName: "orders2" }, literal, false],
  ["MATCH, null name: everything", { patternType: "MATCH" }, prefixed, true],
  ["principal equal", { principal: "User:alice" }, literal, true],
  ["principal is compared, not matched", { principal: "User:*" }, literal, false],
  ["host equal", { host: "*" }, literal, true],
  ["host is compared, not matched", { host: "10.0.0.1" }, literal, false],
  ["operation equal", { operation: "READ" }, literal, true],
  ["operation: no implied ones", { operation: "DESCRIBE" }, literal, false],
  ["operation ALL is a value, not ANY", { operation: "ALL" }, literal, false],
  ["permission", { permission: "DENY" }, literal, false],
];

describe("aclFilterMatches", () => {
  it.each(ROWS)("%s", (_, f, b, expected) => {
    expect(aclFilterMatches(filter(f), b)).toBe(expected);
  });
});

describe("checks", () => {
  it("accepts every concrete type, pattern, operation and permission, and a Type:name principal", () => {
    expect(
      aclBindingProblem(binding({ resourceType: "TRANSACTIONAL_ID", operation: "TWO_PHASE_COMMIT" })),
    ).toBe(null);
    expect(aclBindingProblem(binding({ principal: "Group:ops", host: "::1", permission: "DENY" }))).toBe(
      null,
    );
    expect(aclBindingProblem(binding({ resourceType: "CLUSTER", resourceName: "kafka-cluster" }))).toBe(null);
  });

  it("names what is wrong", () => {
    expect(aclBindingProblem(binding({ principal: ":alice" }))).toMatch(/Type:name/);
    expect(aclBindingProblem(binding({ principal: "User:é".padEnd(1100, "x") }))).toMatch(/1024 bytes/);
    expect(aclBindingProblem(binding({ host: "h".repeat(256) }))).toMatch(/255 bytes/);
    expect(aclFilterProblem(filter({ resourceType: "UNKNOWN" as never }))).toMatch(/patternFilter/);
    expect(aclFilterProblem(filter({ operation: "UNKNOWN" as never }))).toMatch(/entryFilter/);
    expect(aclFilterProblem(filter())).toBe(null);
  });
});
