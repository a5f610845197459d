import { describe, expect, it } from "vitest";
import { loadBrokerConfig } from "../../../broker/config.js";
import type { AclBinding } from "../../../broker/metadata/acl-bindings.js";
import { authorizeRequest, brokerAuthorizer, parseSuperUsers } from "../../../broker/security/authorize.js";

const readT: AclBinding = {
  resourceType: "TOPIC",
  resourceName: "t",
  patternType: "LITERAL",
  principal: "User:alice",
  host: "*",
  operation: "READ",
  permission: "ALLOW",
};

describe("the broker's authorizer from its config", () => {
  it("is off unless authorizer.class.name names one: every check is allowed", () => {
    const config = loadBrokerConfig({ env: {} });
    const checks = authorizeRequest(
      brokerAuthorizer(config, { aclBindings: () => [] }),
      "User:x",
      "127.0.0.1",
    );
    expect(checks.authorize("WRITE", "TOPIC", "t")).toBe(true);
    expect(checks.authorizeAny("WRITE", "TOPIC")).toBe(true);
  });

  it("with Kafka's class name, checks the store's bindings, super.users and the no-ACL default", () => {
    const config = loadBrokerConfig({
      flags: {
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": "User:admin; User:ops",
      },
    });
    const authorizer = brokerAuthorizer(config, { aclBindings: () => [readT] });
    const alice = authorizeRequest(authorizer, "User:alice", "127.0.0.1");
    expect(alice.authorize("READ", "TOPIC", "t")).toBe(true);
    expect(alice.authorize("DESCRIBE", "TOPIC", "t")).toBe(true);
    expect(alice.authorize("WRITE", "TOPIC", "t")).toBe(false);
    expect(alice.authorize("READ", "TOPIC", "other")).toBe(false);
    expect(
      authorizeRequest(authorizer, "User:ops", "::1").authorize("ALTER", "CLUSTER", "kafka-cluster"),
    ).toBe(true);
  });

  it("refuses an authorizer it does not know, naming the key", () => {
    expect(() => loadBrokerConfig({ flags: { "authorizer.class.name": "com.example.Nope" } })).toThrow(
      /authorizer\.class\.name/,
    );
  });

  it("reads super.users as Kafka does: ;-separated, blanks ignored", () => {
    expect(parseSuperUsers(" User:a ;;User:b;")).toEqual(["User:a", "User:b"]);
    expect(parseSuperUsers("")).toEqual([]);
  });
});
