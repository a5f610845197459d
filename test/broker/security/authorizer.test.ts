/**
 * The authorizer's decisions as a table (Kafka's StandardAuthorizer semantics): literal, prefixed
 * and wildcard resources, principals and hosts, DENY over ALLOW, implied operations (ALLOW only),
 * super users, allow.everyone.if.no.acl.found both ways; authorizeByResourceType; and the index
 * following the bindings it is given.
 *
 * Cost of a check (no timed test): one set lookup for super users, one map lookup by resource
 * type, two by name (the name, "*") and one per distinct PREFIXED length of that type no longer
 * than the name, each followed by a scan of the few bindings found; nothing proportional to the
 * number of bindings, which costs O(bindings) once, on the first check after they change.
 */
import { describe, expect, it } from "vitest";
import type { AclBinding, AclOperation, AclResourceType } from "../../../broker/metadata/acl-bindings.js";
import { Authorizer, type AuthorizerOptions, normalizeHost } from "../../../broker/security/authorizer.js";

function acl(text: string): AclBinding {
  // "TOPIC LITERAL orders User:alice * READ ALLOW"
  const [resourceType, patternType, resourceName, principal, host, operation, permission] = text.split(" ");
  return { resourceType, patternType, resourceName, principal, host, operation, permission } as AclBinding;
}

function authorizer(bindings: string[], options: Partial<AuthorizerOptions> = {}): Authorizer {
  const list = Object.freeze(bindings.map(acl));
  return new Authorizer({ bindings: () => list, ...options });
}

/** [case, bindings, request "principal host OPERATION TYPE name", expected]. */
type Row = [string, string[], string, boolean];

const ALICE_READ_ORDERS = "TOPIC LITERAL orders User:alice * READ ALLOW";

const MATRIX: Row[] = [
  // literal
  ["literal: allowed", [ALICE_READ_ORDERS], "User:alice 10.0.0.1 READ TOPIC orders", true],
  ["literal: another operation", [ALICE_READ_ORDERS], "User:alice 10.0.0.1 WRITE TOPIC orders", false],
  ["literal: another principal", [ALICE_READ_ORDERS], "User:bob 10.0.0.1 READ TOPIC orders", false],
  ["literal: a longer name is not the name", [ALICE_READ_ORDERS], "User:alice h READ TOPIC orders2", false],
  ["literal: a shorter name is not the name", [ALICE_READ_ORDERS], "User:alice h READ TOPIC order", false],
  ["literal: another resource type", [ALICE_READ_ORDERS], "User:alice h READ GROUP orders", false],
  ["literal: principal type matters", [ALICE_READ_ORDERS], "Group:alice h READ TOPIC orders", false],
  // prefixed
  [
    "prefixed: a name with the prefix",
    ["TOPIC PREFIXED ord User:alice * READ ALLOW"],
    "User:alice h READ TOPIC orders",
    true,
  ],
  [
    "prefixed: the prefix itself",
    ["TOPIC PREFIXED ord User:alice * READ ALLOW"],
    "User:alice h READ TOPIC ord",
    true,
  ],
  [
    "prefixed: a name without it",
    ["TOPIC PREFIXED ord User:alice * READ ALLOW"],
    "User:alice h READ TOPIC or",
    false,
  ],
  [
    "prefixed: '*' is a plain prefix",
    ["TOPIC PREFIXED * User:alice * READ ALLOW"],
    "User:alice h READ TOPIC orders",
    false,
  ],
  [
    "prefixed: a literal name prefix does not match",
    ["TOPIC LITERAL ord User:alice * READ ALLOW"],
    "User:alice h READ TOPIC orders",
    false,
  ],
  // wildcards
  [
    "wildcard resource",
    ["TOPIC LITERAL * User:alice * READ ALLOW"],
    "User:alice h READ TOPIC anything",
    true,
  ],
  ["wildcard principal", ["TOPIC LITERAL orders User:* * READ ALLOW"], "User:bob h READ TOPIC orders", true],
  [
    "wildcard principal, another type",
    ["TOPIC LITERAL orders User:* * READ ALLOW"],
    "Group:ops h READ TOPIC orders",
    true,
  ],
  [
    "operation ALL allows any",
    ["TOPIC LITERAL orders User:alice * ALL ALLOW"],
    "User:alice h ALTER_CONFIGS TOPIC orders",
    true,
  ],
  // hosts
  [
    "host: equal",
    ["TOPIC LITERAL orders User:alice 10.0.0.1 READ ALLOW"],
    "User:alice 10.0.0.1 READ TOPIC orders",
    true,
  ],
  [
    "host: another",
    ["TOPIC LITERAL orders User:alice 10.0.0.1 READ ALLOW"],
    "User:alice 10.0.0.2 READ TOPIC orders",
    false,
  ],
  [
    "host: IPv4-mapped IPv6",
    ["TOPIC LITERAL orders User:alice 10.0.0.1 READ ALLOW"],
    "User:alice ::ffff:10.0.0.1 READ TOPIC orders",
    true,
  ],
  [
    "host: IPv6",
    ["TOPIC LITERAL orders User:alice ::1 READ ALLOW"],
    "User:alice ::1 READ TOPIC orders",
    true,
  ],
  // deny wins
  [
    "deny wins: same pattern",
    [ALICE_READ_ORDERS, "TOPIC LITERAL orders User:alice * READ DENY"],
    "User:alice h READ TOPIC orders",
    false,
  ],
  [
    "deny wins: wildcard principal",
    [ALICE_READ_ORDERS, "TOPIC LITERAL orders User:* * READ DENY"],
    "User:alice h READ TOPIC orders",
    false,
  ],
  [
    "deny wins: prefixed over literal",
    [ALICE_READ_ORDERS, "TOPIC PREFIXED o User:alice * READ DENY"],
    "User:alice h READ TOPIC orders",
    false,
  ],
  [
    "deny wins: wildcard resource",
    [ALICE_READ_ORDERS, "TOPIC LITERAL * User:alice * ALL DENY"],
    "User:alice h READ TOPIC orders",
    false,
  ],
  [
    "deny from one host only",
    [ALICE_READ_ORDERS, "TOPIC LITERAL orders User:alice 10.0.0.9 READ DENY"],
    "User:alice 10.0.0.1 READ TOPIC orders",
    true,
  ],
  [
    "deny of another operation",
    [ALICE_READ_ORDERS, "TOPIC LITERAL orders User:alice * WRITE DENY"],
    "User:alice h READ TOPIC orders",
    true,
  ],
  [
    "deny of another principal",
    [ALICE_READ_ORDERS, "TOPIC LITERAL orders User:bob * READ DENY"],
    "User:alice h READ TOPIC orders",
    true,
  ],
  // implied operations
  ["READ implies DESCRIBE", [ALICE_READ_ORDERS], "User:alice h DESCRIBE TOPIC orders", true],
  [
    "WRITE implies DESCRIBE",
    ["TOPIC LITERAL orders User:alice * WRITE ALLOW"],
    "User:alice h DESCRIBE TOPIC orders",
    true,
  ],
  [
    "DELETE implies DESCRIBE",
    ["TOPIC LITERAL orders User:alice * DELETE ALLOW"],
    "User:alice h DESCRIBE TOPIC orders",
    true,
  ],
  [
    "ALTER implies DESCRIBE",
    ["TOPIC LITERAL orders User:alice * ALTER ALLOW"],
    "User:alice h DESCRIBE TOPIC orders",
    true,
  ],
  [
    "CREATE does not imply DESCRIBE",
    ["TOPIC LITERAL orders User:alice * CREATE ALLOW"],
    "User:alice h DESCRIBE TOPIC orders",
    false,
  ],
  [
    "DESCRIBE implies nothing else",
    ["TOPIC LITERAL orders User:alice * DESCRIBE ALLOW"],
    "User:alice h READ TOPIC orders",
    false,
  ],
  [
    "ALTER_CONFIGS implies DESCRIBE_CONFIGS",
    ["TOPIC LITERAL orders User:alice * ALTER_CONFIGS ALLOW"],
    "User:alice h DESCRIBE_CONFIGS TOPIC orders",
    true,
  ],
  [
    "ALTER does not imply DESCRIBE_CONFIGS",
    ["TOPIC LITERAL orders User:alice * ALTER ALLOW"],
    "User:alice h DESCRIBE_CONFIGS TOPIC orders",
    false,
  ],
  [
    "a DENY of READ does not deny DESCRIBE",
    ["TOPIC LITERAL orders User:alice * ALL ALLOW", "TOPIC LITERAL orders User:alice * READ DENY"],
    "User:alice h DESCRIBE TOPIC orders",
    true,
  ],
  [
    "a DENY of ALL denies DESCRIBE",
    [ALICE_READ_ORDERS, "TOPIC LITERAL orders User:alice * ALL DENY"],
    "User:alice h DESCRIBE TOPIC orders",
    false,
  ],
  // no ACL found (default false)
  ["no binding at all: denied by default", [], "User:alice h READ TOPIC orders", false],
  [
    "no binding of the type: denied by default",
    ["GROUP LITERAL g User:alice * READ ALLOW"],
    "User:alice h READ TOPIC orders",
    false,
  ],
  [
    "bindings for others only: denied",
    ["TOPIC LITERAL orders User:bob * READ ALLOW"],
    "User:alice h READ TOPIC orders",
    false,
  ],
  // cluster
  [
    "cluster",
    ["CLUSTER LITERAL kafka-cluster User:alice * IDEMPOTENT_WRITE ALLOW"],
    "User:alice h IDEMPOTENT_WRITE CLUSTER kafka-cluster",
    true,
  ],
];

function request(text: string): [string, string, AclOperation, AclResourceType, string] {
  const [principal, host, operation, resourceType, resourceName] = text.split(" ");
  return [principal, host, operation as AclOperation, resourceType as AclResourceType, resourceName];
}

describe("Authorizer.authorize", () => {
  it.each(MATRIX)("%s", (_, bindings, req, expected) => {
    expect(authorizer(bindings).authorize(...request(req))).toBe(expected);
  });

  it.each<[string, string[], string, boolean]>([
    ["no binding at all", [], "User:alice h READ TOPIC orders", true],
    [
      "no binding of the type",
      ["GROUP LITERAL g User:bob * READ ALLOW"],
      "User:alice h READ TOPIC orders",
      true,
    ],
    [
      "no binding matching the name",
      ["TOPIC LITERAL payments User:bob * READ ALLOW"],
      "User:alice h READ TOPIC orders",
      true,
    ],
    [
      "a binding on the resource for someone else",
      ["TOPIC LITERAL orders User:bob * READ ALLOW"],
      "User:alice h READ TOPIC orders",
      false,
    ],
    [
      "a prefixed binding for someone else",
      ["TOPIC PREFIXED ord User:bob * READ ALLOW"],
      "User:alice h READ TOPIC orders",
      false,
    ],
    [
      "a wildcard binding for another operation",
      ["TOPIC LITERAL * User:alice * WRITE ALLOW"],
      "User:alice h READ TOPIC orders",
      false,
    ],
    [
      "a deny on the resource",
      ["TOPIC LITERAL orders User:alice * READ DENY"],
      "User:alice h READ TOPIC orders",
      false,
    ],
  ])("allow.everyone.if.no.acl.found=true: %s", (_, bindings, req, expected) => {
    expect(authorizer(bindings, { allowEveryoneIfNoAclFound: true }).authorize(...request(req))).toBe(
      expected,
    );
  });

  it("allows a super user everything, DENY bindings included; others as the bindings say", () => {
    const a = authorizer(["TOPIC LITERAL * User:* * ALL DENY"], {
      superUsers: ["User:admin", "User:broker"],
    });
    for (const op of ["READ", "WRITE", "ALTER_CONFIGS", "CLUSTER_ACTION"] as const) {
      expect(a.authorize("User:admin", "h", op, "TOPIC", "orders")).toBe(true);
      expect(a.authorize("User:alice", "h", op, "TOPIC", "orders")).toBe(false);
    }
    expect(a.authorize("User:broker", "h", "CLUSTER_ACTION", "CLUSTER", "kafka-cluster")).toBe(true);
    expect(a.authorize("User:Admin", "h", "READ", "TOPIC", "orders")).toBe(false);
  });

  it("follows the bindings: rebuilt when the source returns another array, kept while it is the same", () => {
    let list: readonly AclBinding[] = Object.freeze([acl(ALICE_READ_ORDERS)]);
    let calls = 0;
    const a = new Authorizer({
      bindings: () => {
        calls += 1;
        return list;
      },
    });
    expect(a.authorize("User:alice", "h", "READ", "TOPIC", "orders")).toBe(true);
    list = Object.freeze([...list, acl("TOPIC LITERAL orders User:alice * READ DENY")]);
    expect(a.authorize("User:alice", "h", "READ", "TOPIC", "orders")).toBe(false);
    list = Object.freeze([]);
    expect(a.authorize("User:alice", "h", "READ", "TOPIC", "orders")).toBe(false);
    expect(calls).toBe(3);
  });

  it("normalizes IPv4-mapped IPv6 hosts only", () => {
    expect(normalizeHost("::ffff:192.168.1.2")).toBe("192.168.1.2");
    expect(normalizeHost("::FFFF:10.0.0.1")).toBe("10.0.0.1");
    expect(normalizeHost("::1")).toBe("::1");
    expect(normalizeHost("10.0.0.1")).toBe("10.0.0.1");
  });
});

describe("Authorizer.authorizeByResourceType", () => {
  it.each<[string, string[], Partial<AuthorizerOptions>, boolean]>([
    ["an allow on one topic", ["TOPIC LITERAL orders User:alice * WRITE ALLOW"], {}, true],
    ["an allow of ALL on a prefix", ["TOPIC PREFIXED ord User:alice * ALL ALLOW"], {}, true],
    ["an allow for everyone", ["TOPIC LITERAL orders User:* * WRITE ALLOW"], {}, true],
    ["no binding", [], {}, false],
    ["no binding, allow.everyone.if.no.acl.found", [], { allowEveryoneIfNoAclFound: true }, true],
    ["a super user", ["TOPIC LITERAL * User:* * ALL DENY"], { superUsers: ["User:alice"] }, true],
    ["another operation only", ["TOPIC LITERAL orders User:alice * READ ALLOW"], {}, false],
    ["another host only", ["TOPIC LITERAL orders User:alice 10.9.9.9 WRITE ALLOW"], {}, false],
    [
      "the allowed literal denied",
      ["TOPIC LITERAL orders User:alice * WRITE ALLOW", "TOPIC LITERAL orders User:alice * WRITE DENY"],
      {},
      false,
    ],
    [
      "the allowed literal under a denied prefix",
      ["TOPIC LITERAL orders User:alice * WRITE ALLOW", "TOPIC PREFIXED or User:* * WRITE DENY"],
      {},
      false,
    ],
    [
      "the allowed prefix under a denied shorter prefix",
      ["TOPIC PREFIXED orders User:alice * WRITE ALLOW", "TOPIC PREFIXED o User:alice * ALL DENY"],
      {},
      false,
    ],
    [
      "a denied longer prefix leaves the allowed prefix",
      ["TOPIC PREFIXED ord User:alice * WRITE ALLOW", "TOPIC PREFIXED orders User:alice * WRITE DENY"],
      {},
      true,
    ],
    [
      "one allowed topic of two denied",
      [
        "TOPIC LITERAL a User:alice * WRITE ALLOW",
        "TOPIC LITERAL b User:alice * WRITE ALLOW",
        "TOPIC LITERAL a User:alice * WRITE DENY",
      ],
      {},
      true,
    ],
    [
      "a wildcard deny",
      ["TOPIC LITERAL orders User:alice * WRITE ALLOW", "TOPIC LITERAL * User:alice * WRITE DENY"],
      {},
      false,
    ],
    ["bindings of another type", ["GROUP LITERAL g User:alice * WRITE ALLOW"], {}, false],
  ])("WRITE on some TOPIC: %s", (_, bindings, options, expected) => {
    expect(authorizer(bindings, options).authorizeByResourceType("User:alice", "h", "WRITE", "TOPIC")).toBe(
      expected,
    );
  });

  it("counts no implied operation: an ALLOW of READ is no DESCRIBE of some topic", () => {
    const a = authorizer(["TOPIC LITERAL orders User:alice * READ ALLOW"]);
    expect(a.authorize("User:alice", "h", "DESCRIBE", "TOPIC", "orders")).toBe(true);
    expect(a.authorizeByResourceType("User:alice", "h", "DESCRIBE", "TOPIC")).toBe(false);
    expect(a.authorizeByResourceType("User:alice", "h", "READ", "TOPIC")).toBe(true);
  });
});
