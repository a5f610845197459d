/**
 * ACLs on the wire (issue 15): a broker with a SASL_PLAINTEXT listener, SCRAM users and
 * authorizer.class.name=StandardAuthorizer. kcat consuming as a user without READ on the topic
 * fails with Kafka's authorization error, and as a user with it reads what the super user wrote;
 * the samsa client's idempotent producer is refused InitProducerId (CLUSTER_AUTHORIZATION_FAILED)
 * by a user that may write no topic, and sees TOPIC_AUTHORIZATION_FAILED for a topic it may not
 * write once it may write another; Metadata leaves out the topics a user may not describe. The principal comes from the SASL login, bound by
 * dispatch (test/broker/security/acl-matrix.test.ts covers every API).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AclBinding } from "../../broker/metadata/acl-bindings.js";
import { Admin, Producer } from "../../client/index.js";
import { startSecuredBroker, type TestBroker } from "../helpers/broker.js";
import { kcat, requireKcat } from "./helpers.js";

const USERS = { admin: "admin-secret", reader: "reader-secret", stranger: "stranger-secret" } as const;
let tb: TestBroker;
let port: number;

function allow(principal: string, operation: AclBinding["operation"], resourceName: string): AclBinding {
  return {
    principal,
    host: "*",
    operation,
    resourceType: "TOPIC",
    resourceName,
    patternType: "LITERAL",
    permission: "ALLOW",
  };
}

beforeAll(async () => {
  tb = await startSecuredBroker(USERS);
  port = tb.broker.listenerPorts.get("SASL_PLAINTEXT") ?? 0;
  await tb.broker.topics.create("guarded", 1, 1, {});
  await tb.broker.topics.create("secret", 1, 1, {});
  // The stranger may see the topic (so kcat gets as far as fetching) but not read it.
  const created = await tb.broker.store.createAcls([
    allow("User:reader", "READ", "guarded"),
    allow("User:reader", "WRITE", "scratch"),
    allow("User:stranger", "DESCRIBE", "guarded"),
  ]);
  expect(created.map((r) => r.error)).toEqual([null, null, null]);
}, 60_000);

afterAll(async () => {
  await tb?.stop();
});

function login(user: keyof typeof USERS): string[] {
  return [
    ...["-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=SCRAM-SHA-256"],
    ...["-X", `sasl.username=${user}`, "-X", `sasl.password=${USERS[user]}`],
  ];
}

const consume = ["-C", "-t", "guarded", "-p", "0", "-o", "beginning", "-e"];

describe("kcat", () => {
  it("is installed", () => {
    requireKcat();
  });

  it("consuming without READ fails with the authorization error; with READ it reads", async () => {
    await kcat(port, [...login("admin"), "-P", "-t", "guarded", "-p", "0"], { input: "kept\n" });
    const refused = await kcat(port, [...login("stranger"), ...consume], { allowFailure: true });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/Topic authorization failed/i);
    const read = await kcat(port, [...login("reader"), ...consume]);
    expect(read.stdout.toString("utf8").split("\n")).toContain("kept");
  });
});

describe("the samsa client", () => {
  const options = (user: keyof typeof USERS) => ({
    brokers: [`127.0.0.1:${port}`],
    sasl: { mechanism: "scram-sha-256" as const, username: user, password: USERS[user] },
  });

  const refusal = async (user: keyof typeof USERS) => {
    const producer = new Producer({ ...options(user), retry: { retries: 0 } }, { acks: -1 });
    try {
      await producer.send({ topic: "guarded", partition: 0, value: "no" });
      return null;
    } catch (err) {
      return (err as { code?: string }).code;
    } finally {
      await producer.close();
    }
  };

  it("an idempotent producer needs WRITE on some topic, then WRITE on the topic it sends to", async () => {
    expect(await refusal("stranger")).toBe("CLUSTER_AUTHORIZATION_FAILED");
    expect(await refusal("reader")).toBe("TOPIC_AUTHORIZATION_FAILED");
  });

  it("a topic its user may not describe is refused as TOPIC_AUTHORIZATION_FAILED, not as unknown", async () => {
    const producer = new Producer({ ...options("reader"), retry: { retries: 0 } }, { acks: -1 });
    try {
      await expect(producer.send({ topic: "secret", partition: 0, value: "no" })).rejects.toMatchObject({
        code: "TOPIC_AUTHORIZATION_FAILED",
        retriable: false,
      });
    } finally {
      await producer.close();
    }
  });

  it("lists only the topics its user may describe", async () => {
    const reader = new Admin(options("reader"));
    const admin = new Admin(options("admin"));
    try {
      expect(await reader.listTopics()).toEqual(["guarded"]);
      expect((await admin.listTopics()).sort()).toEqual(["guarded", "secret"]);
    } finally {
      await reader.close();
      await admin.close();
    }
  });
});
