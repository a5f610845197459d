/**
 * The Security page's routes (broker/http/security.ts) on a broker with HTTP authentication and
 * ACLs on (a SASL listener, StandardAuthorizer, admin a super user, bob nobody): /whoami for each
 * caller; users created with a password that then logs in, listed, deleted; ACLs created, listed
 * by filter and deleted; bob refused with 403 CLUSTER_AUTHORIZATION_FAILED; bad input refused
 * with 400. Plus /whoami on a broker with security off.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { basicAuth, startSecuredBroker, startTestBroker, type TestBroker } from "../../helpers/broker.js";
import { failOnProcessErrors } from "../../helpers/process-errors.js";

failOnProcessErrors();

const USERS = { admin: "admin-secret", bob: "bob-secret" } as const;

let tb: TestBroker;

beforeAll(async () => {
  tb = await startSecuredBroker(USERS);
}, 30_000);

afterAll(async () => {
  await tb?.stop();
});

const ADMIN = basicAuth("admin", USERS.admin);
const BOB = basicAuth("bob", USERS.bob);

async function call(
  broker: TestBroker,
  method: "GET" | "POST" | "DELETE",
  url: string,
  authorization: string | null,
  payload?: unknown,
) {
  const headers: Record<string, string> = {};
  if (authorization) headers.authorization = authorization;
  if (payload !== undefined) headers["content-type"] = "application/json";
  const http = broker.broker.http;
  if (!http) throw new Error("no HTTP server");
  const res = await http.app.inject({
    method,
    url,
    headers,
    payload: payload === undefined ? undefined : JSON.stringify(payload),
  });
  return { status: res.statusCode, body: res.body, json: () => res.json() as Record<string, unknown> };
}

const BINDING = {
  resource_type: "TOPIC",
  resource_name: "orders",
  pattern_type: "LITERAL",
  principal: "User:carol",
  host: "*",
  operation: "READ",
  permission: "ALLOW",
} as const;

describe("whoami", () => {
  it("says who the caller is and that authentication and authorization are on", async () => {
    expect((await call(tb, "GET", "/whoami", null)).status).toBe(401);
    const admin = await call(tb, "GET", "/whoami", ADMIN);
    expect(admin.json()).toEqual({
      principal: "User:admin",
      authentication: true,
      authorization: true,
      cluster_operations: ["DESCRIBE", "ALTER", "CREATE", "DESCRIBE_CONFIGS", "ALTER_CONFIGS"],
    });
    const bob = await call(tb, "GET", "/whoami", BOB);
    expect(bob.json()).toMatchObject({ principal: "User:bob", cluster_operations: [] });
  });

  it("says security is off on a broker without it", async () => {
    const open = await startTestBroker();
    try {
      const res = await call(open, "GET", "/whoami", null);
      expect(res.json()).toMatchObject({
        principal: "User:ANONYMOUS",
        authentication: false,
        authorization: false,
      });
    } finally {
      await open.stop();
    }
  });
});

describe("users", () => {
  it("creates a user whose password then logs in, lists it, and deletes it", async () => {
    const created = await call(tb, "POST", "/security/users", ADMIN, {
      name: "dave",
      password: "dave-secret",
      mechanism: "SCRAM-SHA-512",
      iterations: 8192,
    });
    expect(created.status, created.body).toBe(201);
    expect(created.json()).toEqual({ name: "dave", mechanism: "SCRAM-SHA-512", iterations: 8192 });
    const dave = await call(tb, "GET", "/whoami", basicAuth("dave", "dave-secret"));
    expect(dave.json().principal).toBe("User:dave");
    const listed = await call(tb, "GET", "/security/users", ADMIN);
    expect(listed.json().users).toContainEqual({
      name: "dave",
      mechanisms: [{ mechanism: "SCRAM-SHA-512", iterations: 8192 }],
    });
    expect((await call(tb, "DELETE", "/security/users/dave", ADMIN)).status).toBe(204);
    expect((await call(tb, "GET", "/whoami", basicAuth("dave", "dave-secret"))).status).toBe(401);
    const again = await call(tb, "DELETE", "/security/users/dave", ADMIN);
    expect(again.status).toBe(404);
    expect(again.json().error_code).toBe("RESOURCE_NOT_FOUND");
  });

  it("refuses bad input with 400", async () => {
    const bad = [
      { name: "x", password: "p", mechanism: "MD5" },
      { name: "x", password: "p", iterations: 10 },
      { name: "", password: "p" },
      { name: "x" },
    ];
    for (const body of bad) {
      const res = await call(tb, "POST", "/security/users", ADMIN, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json().error_code).toBe("BAD_REQUEST");
    }
  });
});

describe("ACLs", () => {
  it("creates, lists by filter and deletes a binding", async () => {
    const created = await call(tb, "POST", "/security/acls", ADMIN, BINDING);
    expect(created.status, created.body).toBe(201);
    expect(created.json()).toEqual(BINDING);
    const byPrincipal = await call(tb, "GET", "/security/acls?principal=User%3Acarol", ADMIN);
    expect(byPrincipal.json().acls).toEqual([BINDING]);
    const other = await call(tb, "GET", "/security/acls?resource_type=GROUP", ADMIN);
    expect(other.json().acls).toEqual([]);
    const qs = new URLSearchParams(BINDING).toString();
    const deleted = await call(tb, "DELETE", `/security/acls?${qs}`, ADMIN);
    expect(deleted.status, deleted.body).toBe(200);
    expect(deleted.json().deleted).toEqual([BINDING]);
    expect((await call(tb, "GET", "/security/acls", ADMIN)).json().acls).toEqual([]);
  });

  it("refuses a delete that does not name every filter field, and names outside Kafka's", async () => {
    const partial = await call(tb, "DELETE", "/security/acls?principal=User%3Acarol", ADMIN);
    expect(partial.status).toBe(400);
    const bad = await call(tb, "POST", "/security/acls", ADMIN, { ...BINDING, operation: "ANY" });
    expect(bad.status).toBe(400);
    expect(bad.json().error_code).toBe("BAD_REQUEST");
  });
});

describe("a principal without rights on the cluster", () => {
  it("gets 403 CLUSTER_AUTHORIZATION_FAILED for users and ACLs", async () => {
    const attempts = [
      await call(tb, "POST", "/security/acls", BOB, BINDING),
      await call(tb, "GET", "/security/acls", BOB),
      await call(tb, "POST", "/security/users", BOB, { name: "eve", password: "eve-secret" }),
      await call(tb, "GET", "/security/users", BOB),
      await call(tb, "DELETE", "/security/users/admin?mechanism=SCRAM-SHA-256", BOB),
    ];
    for (const res of attempts) {
      expect(res.status, res.body).toBe(403);
      expect(res.json().error_code).toBe("CLUSTER_AUTHORIZATION_FAILED");
    }
    expect((await call(tb, "GET", "/whoami", ADMIN)).status).toBe(200);
  });
});
