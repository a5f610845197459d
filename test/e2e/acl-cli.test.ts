/**
 * `samsa acl add | list | remove` as a user runs it, against an in-process broker with a PLAINTEXT
 * and a SASL_PLAINTEXT listener, StandardAuthorizer on and User:admin a super user: kafka-acls'
 * flags become the bindings the store then holds (--producer / --consumer / --idempotent
 * expanded as kafka-acls expands them, prefixed patterns, deny entries with hosts); list prints
 * kafka-acls' listing or -J; remove narrows by what is given; bad input is one line and exit 1;
 * the global --user / --password flags reach the broker, and a user without ALTER on the cluster
 * is refused with CLUSTER_AUTHORIZATION_FAILED.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { AclBinding } from "../../broker/metadata/acl-bindings.js";
import { scramCredential } from "../../protocol/sasl/scram.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { type CliRun, runSamsa } from "../helpers/cli.js";

let tb: TestBroker;
let sasl: number;
const ADMIN_PASSWORD = "admin-secret";
const BOB_PASSWORD = "bob-secret";

beforeAll(async () => {
  tb = await startTestBroker({
    listeners: "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
    "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
    "super.users": "User:admin",
    "connection.failed.authentication.delay.ms": 0,
  });
  sasl = tb.broker.listenerPorts.get("SASL_PLAINTEXT") as number;
  const upsertions = [
    { user: "admin", password: ADMIN_PASSWORD },
    { user: "bob", password: BOB_PASSWORD },
  ].map(({ user, password }) => ({
    user,
    mechanism: "SCRAM-SHA-256" as const,
    ...scramCredential("SCRAM-SHA-256", password, 4096),
  }));
  expect((await tb.broker.store.alterScramCredentials(upsertions, [])).map((r) => r.error)).toEqual([
    null,
    null,
  ]);
}, 60_000);

afterAll(async () => {
  await tb?.stop();
});

/** Runs `samsa acl ...` as User:admin over SASL (the global flags, the password from the environment). */
function asAdmin(args: string[]): Promise<CliRun> {
  return runSamsa(["--user", "admin", "acl", ...args], {
    brokers: `127.0.0.1:${sasl}`,
    env: { ...process.env, SAMSA_PASSWORD: ADMIN_PASSWORD },
  });
}

/** The store's bindings as `TYPE/PATTERN/name principal@host OPERATION PERMISSION`. */
function storeLines(): string[] {
  return tb.broker.store
    .aclBindings()
    .map(
      (b: AclBinding) =>
        `${b.resourceType}/${b.patternType}/${b.resourceName} ${b.principal}@${b.host} ${b.operation} ${b.permission}`,
    );
}

function expectRefused(r: CliRun, what: RegExp): void {
  expect(r.status, r.stdout).toBe(1);
  expect(r.stderr.trim().split("\n")).toEqual([expect.stringMatching(what)]);
}

beforeEach(async () => {
  const any = {
    resourceType: "ANY",
    resourceName: null,
    patternType: "ANY",
    principal: null,
    host: null,
    operation: "ANY",
    permission: "ANY",
  } as const;
  await tb.broker.store.deleteAcls([any]);
});

describe("samsa acl add", () => {
  it("adds principal x host x operation on each resource and prints kafka-acls' listing", async () => {
    const r = await asAdmin(
      ["add", "--allow-principal", "User:alice", "--allow-principal", "User:carol"].concat([
        "--operation",
        "Read",
        "--operation",
        "describe",
        "--topic",
        "orders",
        "--group",
        "billing",
      ]),
    );
    expect(r.status, r.stderr).toBe(0);
    expect(storeLines()).toEqual([
      "GROUP/LITERAL/billing User:alice@* DESCRIBE ALLOW",
      "GROUP/LITERAL/billing User:alice@* READ ALLOW",
      "GROUP/LITERAL/billing User:carol@* DESCRIBE ALLOW",
      "GROUP/LITERAL/billing User:carol@* READ ALLOW",
      "TOPIC/LITERAL/orders User:alice@* DESCRIBE ALLOW",
      "TOPIC/LITERAL/orders User:alice@* READ ALLOW",
      "TOPIC/LITERAL/orders User:carol@* DESCRIBE ALLOW",
      "TOPIC/LITERAL/orders User:carol@* READ ALLOW",
    ]);
    const topic = "`ResourcePattern(resourceType=TOPIC, name=orders, patternType=LITERAL)`";
    expect(r.stdout).toContain(
      `Adding ACLs for resource ${topic}:\n \t(principal=User:alice, host=*, operation=READ, permissionType=ALLOW)\n`,
    );
    expect(r.stdout).toContain(`Current ACLs for resource ${topic}:\n`);
  });

  it("--producer --idempotent and --consumer expand as kafka-acls does; hosts and deny entries; prefixed", async () => {
    const r = await asAdmin(
      [
        "add",
        "--allow-principal",
        "User:app",
        "--allow-host",
        "10.0.0.7",
        "--deny-principal",
        "User:*",
      ].concat(
        [
          "--deny-host",
          "10.0.0.9",
          "--producer",
          "--idempotent",
          "--consumer",
          "--topic",
          "pay-",
          "--group",
          "pay-",
        ],
        ["--resource-pattern-type", "PREFIXED", "-J"],
      ),
    );
    expect(r.status, r.stderr).toBe(0);
    const added = JSON.parse(r.stdout).added;
    expect(added).toHaveLength(12);
    expect(added[0]).toEqual({
      resource_type: "TOPIC",
      resource_name: "pay-",
      pattern_type: "PREFIXED",
      principal: "User:app",
      host: "10.0.0.7",
      operation: "WRITE",
      permission_type: "ALLOW",
    });
    const lines = storeLines();
    expect(lines.filter((l) => l.includes("User:app"))).toEqual([
      "CLUSTER/LITERAL/kafka-cluster User:app@10.0.0.7 IDEMPOTENT_WRITE ALLOW",
      "GROUP/PREFIXED/pay- User:app@10.0.0.7 READ ALLOW",
      "TOPIC/PREFIXED/pay- User:app@10.0.0.7 CREATE ALLOW",
      "TOPIC/PREFIXED/pay- User:app@10.0.0.7 DESCRIBE ALLOW",
      "TOPIC/PREFIXED/pay- User:app@10.0.0.7 READ ALLOW",
      "TOPIC/PREFIXED/pay- User:app@10.0.0.7 WRITE ALLOW",
    ]);
    expect(lines.filter((l) => l.includes("User:*"))).toHaveLength(6);
    expect(
      lines.filter((l) => l.includes("User:*")).every((l) => l.includes("@10.0.0.9 ") && l.endsWith("DENY")),
    ).toBe(true);
  });

  it("refuses bad input in one line, exit 1, adding nothing", async () => {
    const cases: [string[], RegExp][] = [
      [["--allow-principal", "alice", "--topic", "t"], /--allow-principal alice: expected Type:name/],
      [["--topic", "t"], /needs --allow-principal or --deny-principal/],
      [["--allow-principal", "User:a"], /name a resource/],
      [
        ["--allow-principal", "User:a", "--operation", "Fly", "--topic", "t"],
        /--operation Fly: expected one of/,
      ],
      [["--allow-principal", "User:a", "--operation", "Any", "--topic", "t"], /--operation Any/],
      [
        ["--allow-principal", "User:a", "--operation", "IdempotentWrite", "--topic", "t"],
        /does not apply to TOPIC/,
      ],
      [
        ["--allow-principal", "User:a", "--topic", "t", "--resource-pattern-type", "match"],
        /match and any are for list/,
      ],
      [["--allow-principal", "User:a", "--producer"], /--producer needs --topic/],
      [["--allow-principal", "User:a", "--consumer", "--topic", "t"], /--consumer needs --topic and --group/],
      [["--allow-principal", "User:a", "--idempotent", "--topic", "t"], /--idempotent needs --producer/],
      [
        ["--allow-host", "1.2.3.4", "--deny-principal", "User:a", "--topic", "t"],
        /--allow-host needs --allow-principal/,
      ],
    ];
    for (const [args, what] of cases) expectRefused(await asAdmin(["add", ...args]), what);
    expect(storeLines()).toEqual([]);
  });
});

describe("samsa acl list and remove", () => {
  beforeEach(async () => {
    const r = await asAdmin(
      ["add", "--allow-principal", "User:alice", "--allow-principal", "User:bob"].concat([
        "--operation",
        "Read",
        "--operation",
        "Write",
        "--topic",
        "orders",
      ]),
    );
    expect(r.status, r.stderr).toBe(0);
    const p = await asAdmin([
      "add",
      "--allow-principal",
      "User:alice",
      "--topic",
      "ord",
      "--resource-pattern-type",
      "prefixed",
    ]);
    expect(p.status, p.stderr).toBe(0);
  });

  it("lists every binding, a resource's (literal by default, match for all that apply), or a principal's", async () => {
    const all = await asAdmin(["list"]);
    expect(all.status, all.stderr).toBe(0);
    expect(all.stdout.match(/^Current ACLs for resource/gm)).toHaveLength(2);
    expect(all.stdout.match(/^ \t\(principal=/gm)).toHaveLength(5);

    const literal = JSON.parse((await asAdmin(["list", "--topic", "orders", "-J"])).stdout).acls;
    expect(literal).toHaveLength(4);
    const match = JSON.parse(
      (await asAdmin(["list", "--topic", "orders", "--resource-pattern-type", "match", "-J"])).stdout,
    ).acls;
    expect(match).toHaveLength(5);
    const bob = JSON.parse((await asAdmin(["list", "--principal", "User:bob", "-J"])).stdout).acls;
    expect(bob.map((b: { operation: string }) => b.operation)).toEqual(["READ", "WRITE"]);
    expectRefused(await asAdmin(["list", "--principal", "bob"]), /--principal bob: expected Type:name/);
  });

  it("removes a principal's operation, every operation of a principal, or every ACL of a resource", async () => {
    const fromHost = ["--allow-principal", "User:bob", "--allow-host", "10.0.0.5", "--operation", "Write"];
    expect((await asAdmin(["add", ...fromHost, "--topic", "orders"])).status).toBe(0);
    // No --allow-host: the principal's WRITE from every host goes.
    const one = await asAdmin([
      "remove",
      "--topic",
      "orders",
      "--allow-principal",
      "User:bob",
      "--operation",
      "Write",
    ]);
    expect(one.status, one.stderr).toBe(0);
    expect(one.stdout).toContain(
      "Removed ACLs for resource `ResourcePattern(resourceType=TOPIC, name=orders, patternType=LITERAL)`:",
    );
    expect(one.stdout).toContain("(principal=User:bob, host=*, operation=WRITE, permissionType=ALLOW)");
    expect(one.stdout).toContain(
      "(principal=User:bob, host=10.0.0.5, operation=WRITE, permissionType=ALLOW)",
    );
    expect(storeLines().filter((l) => l.includes("User:bob"))).toEqual([
      "TOPIC/LITERAL/orders User:bob@* READ ALLOW",
    ]);

    const alice = JSON.parse(
      (await asAdmin(["remove", "--topic", "orders", "--allow-principal", "User:alice", "-J"])).stdout,
    );
    expect(alice.removed.map((b: { operation: string }) => b.operation)).toEqual(["READ", "WRITE"]);

    const everything = await asAdmin(["remove", "--topic", "orders", "--resource-pattern-type", "match"]);
    expect(everything.status, everything.stderr).toBe(0);
    expect(storeLines()).toEqual([]);
    const none = await asAdmin(["remove", "--topic", "orders"]);
    expect(none.stdout).toBe("No ACLs matched.\n");
  });
});

describe("who may change ACLs", () => {
  it("a user without ALTER on the cluster is refused in one line; the binding that grants it lets them", async () => {
    const bob = (args: string[]) =>
      runSamsa(["--user", "bob", "--password", BOB_PASSWORD, "acl", ...args], {
        brokers: `127.0.0.1:${sasl}`,
      });
    const add = ["add", "--allow-principal", "User:bob", "--operation", "Read", "--topic", "t"];
    expectRefused(await bob(add), /CLUSTER_AUTHORIZATION_FAILED/);
    expectRefused(await bob(["list"]), /CLUSTER_AUTHORIZATION_FAILED/);
    expect(storeLines()).toEqual([]);

    const grant = await asAdmin([
      "add",
      "--allow-principal",
      "User:bob",
      "--operation",
      "Alter",
      "--cluster",
    ]);
    expect(grant.status, grant.stderr).toBe(0);
    const r = await bob(add);
    expect(r.status, r.stderr).toBe(0);
    expect(storeLines()).toContain("TOPIC/LITERAL/t User:bob@* READ ALLOW");
  });

  it("a wrong password is one line, exit 1", async () => {
    const r = await runSamsa(["--user", "admin", "--password", "nope", "acl", "list"], {
      brokers: `127.0.0.1:${sasl}`,
    });
    expectRefused(r, /SASL_AUTHENTICATION_FAILED/);
  });
});
