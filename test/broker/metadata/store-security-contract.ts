/**
 * The security part of the ClusterStore contract (issue 15), run by `describeClusterStore` for
 * every store: SCRAM credentials (Kafka's AlterUserScramCredentials answers, in its order of
 * checks), ACL bindings (idempotent creation, Kafka's filter semantics on deletion), the events
 * both make, read-your-writes, and a peer's view.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  ACL_CREATIONS_MAX,
  type AclBinding,
  type AclBindingFilter,
} from "../../../broker/metadata/acl-bindings.js";
import type { ClusterStore } from "../../../broker/metadata/cluster.js";
import {
  SCRAM_ALTERATIONS_MAX,
  SCRAM_KEY_BYTES,
  type ScramMechanism,
  type ScramUpsertion,
} from "../../../broker/metadata/scram-credentials.js";
import { waitFor } from "../../helpers/wait.js";
import {
  type ClusterStoreFactory,
  type ClusterStoreHarness,
  codeOf,
  recordEvents,
} from "./store-contract.js";

/** A well-formed upsertion whose bytes are all `seed` (salt) and `seed + 1` (keys). */
export function upsertion(
  user: string,
  mechanism: ScramMechanism = "SCRAM-SHA-256",
  iterations = 4096,
  seed = 1,
): ScramUpsertion {
  const keyBytes = SCRAM_KEY_BYTES[mechanism];
  return {
    user,
    mechanism,
    iterations,
    salt: Buffer.alloc(16, seed),
    storedKey: Buffer.alloc(keyBytes, seed + 1),
    serverKey: Buffer.alloc(keyBytes, seed + 2),
  };
}

export function binding(overrides: Partial<AclBinding> = {}): AclBinding {
  return {
    resourceType: "TOPIC",
    resourceName: "orders",
    patternType: "LITERAL",
    principal: "User:alice",
    host: "*",
    operation: "READ",
    permission: "ALLOW",
    ...overrides,
  };
}

/** A filter matching everything, with `overrides`. */
export function filter(overrides: Partial<AclBindingFilter> = {}): AclBindingFilter {
  return {
    resourceType: "ANY",
    resourceName: null,
    patternType: "ANY",
    principal: null,
    host: null,
    operation: "ANY",
    permission: "ANY",
    ...overrides,
  };
}

/** Each result's user and error code ("NONE" for a success). */
function codes(results: { user: string; error: { code: string } | null }[]): [string, string][] {
  return results.map((r) => [r.user, r.error?.code ?? "NONE"]);
}

export function describeSecurityMetadata(name: string, factory: ClusterStoreFactory): void {
  describe(`${name}: ClusterStore contract, security metadata`, () => {
    let h: ClusterStoreHarness;
    let store: ClusterStore;

    beforeEach(async () => {
      h = await factory();
      store = h.store;
    });
    afterEach(async () => {
      await h.cleanup();
    });

    describe("SCRAM credentials", () => {
      it("stores them by user and mechanism, lists users, hands out copies, and a peer sees them", async () => {
        const rec = recordEvents(store);
        expect(codes(await store.alterScramCredentials([upsertion("alice")], []))).toEqual([
          ["alice", "NONE"],
        ]);
        const more = [
          upsertion("alice", "SCRAM-SHA-512", 8192, 7),
          upsertion("bob/x", "SCRAM-SHA-256", 16384),
        ];
        expect(codes(await store.alterScramCredentials(more, []))).toEqual([
          ["alice", "NONE"],
          ["bob/x", "NONE"],
        ]);
        const read = store.scramCredential("alice", "SCRAM-SHA-512");
        expect(read?.iterations).toBe(8192);
        expect(read?.salt.equals(Buffer.alloc(16, 7))).toBe(true);
        expect(read?.storedKey.equals(Buffer.alloc(64, 8))).toBe(true);
        expect(read?.serverKey.equals(Buffer.alloc(64, 9))).toBe(true);
        read?.salt.fill(0);
        expect(store.scramCredential("alice", "SCRAM-SHA-512")?.salt.equals(Buffer.alloc(16, 7))).toBe(true);
        expect(store.scramCredential("carol", "SCRAM-SHA-256")).toBeUndefined();
        expect(store.scramUsers()).toEqual([
          {
            user: "alice",
            mechanisms: [
              { mechanism: "SCRAM-SHA-256", iterations: 4096 },
              { mechanism: "SCRAM-SHA-512", iterations: 8192 },
            ],
          },
          { user: "bob/x", mechanisms: [{ mechanism: "SCRAM-SHA-256", iterations: 16384 }] },
        ]);
        expect(rec.events.filter((e) => e.type === "scram").map((e) => e.type === "scram" && e.user)).toEqual(
          ["alice", "alice", "bob/x"],
        );
        expect(rec.stale).toEqual([]);
        const peer = await h.openPeer();
        await waitFor(() => peer.scramUsers().length === 2, "the peer to see both users");
        expect(peer.scramCredential("bob/x", "SCRAM-SHA-256")?.iterations).toBe(16384);
      });

      it("deletes a credential, with an event saying it is gone", async () => {
        await store.alterScramCredentials([upsertion("alice")], []);
        const rec = recordEvents(store);
        const results = await store.alterScramCredentials(
          [],
          [{ user: "alice", mechanism: "SCRAM-SHA-256" }],
        );
        expect(codes(results)).toEqual([["alice", "NONE"]]);
        expect(store.scramCredential("alice", "SCRAM-SHA-256")).toBeUndefined();
        expect(store.scramUsers()).toEqual([]);
        expect(rec.events).toEqual([
          { type: "scram", user: "alice", mechanism: "SCRAM-SHA-256", credential: null },
        ]);
        expect(rec.stale).toEqual([]);
      });

      it("answers one result per user in Kafka's order of checks and applies only what passed", async () => {
        await store.alterScramCredentials([upsertion("alice"), upsertion("hank")], []);
        const results = await store.alterScramCredentials(
          [
            upsertion("alice", "SCRAM-SHA-512"), // alice's deletion passed: duplicate, both dropped
            upsertion("erin", "SCRAM-SHA-256", 4095),
            upsertion("frank", "SCRAM-SHA-512", 16385),
            upsertion("gina"),
            upsertion("gina", "SCRAM-SHA-512"),
            upsertion("carol"), // carol already failed: ignored
            { ...upsertion("ivan"), storedKey: Buffer.alloc(31) },
            upsertion("judy", "SCRAM-SHA-512"),
          ],
          [
            { user: "carol", mechanism: "SCRAM-SHA-256" },
            { user: "", mechanism: "SCRAM-SHA-256" },
            { user: "dave", mechanism: "UNKNOWN" },
            { user: "alice", mechanism: "SCRAM-SHA-256" },
            { user: "hank", mechanism: "SCRAM-SHA-256" },
          ],
        );
        expect(codes(results)).toEqual([
          ["carol", "RESOURCE_NOT_FOUND"],
          ["", "UNACCEPTABLE_CREDENTIAL"],
          ["dave", "UNSUPPORTED_SASL_MECHANISM"],
          ["alice", "DUPLICATE_RESOURCE"],
          ["hank", "NONE"],
          ["erin", "UNACCEPTABLE_CREDENTIAL"],
          ["frank", "UNACCEPTABLE_CREDENTIAL"],
          ["gina", "DUPLICATE_RESOURCE"],
          ["ivan", "UNACCEPTABLE_CREDENTIAL"],
          ["judy", "NONE"],
        ]);
        expect(store.scramUsers().map((u) => u.user)).toEqual(["alice", "judy"]);
        expect(store.scramCredential("alice", "SCRAM-SHA-256")).toBeDefined();
        expect(store.scramCredential("alice", "SCRAM-SHA-512")).toBeUndefined();
      });

      it("refuses a request of more than SCRAM_ALTERATIONS_MAX entries, changing nothing", async () => {
        const many = Array.from({ length: SCRAM_ALTERATIONS_MAX + 1 }, (_, i) => upsertion(`u${i}`));
        expect(await codeOf(store.alterScramCredentials(many, []))).toBe("INVALID_REQUEST");
        expect(store.scramUsers()).toEqual([]);
      });
    });

    describe("ACL bindings", () => {
      it("creates bindings once, in a fixed order, one array until they change, and a peer sees them", async () => {
        const rec = recordEvents(store);
        const b1 = binding();
        const b2 = binding({ principal: "User:*", operation: "DESCRIBE" });
        const b3 = binding({ resourceType: "GROUP", resourceName: "a/b", patternType: "PREFIXED" });
        const results = await store.createAcls([b1, b2, b1, b3]);
        expect(results.map((r) => r.error)).toEqual([null, null, null, null]);
        const first = store.aclBindings();
        expect(first).toEqual([b3, b2, b1]);
        expect(store.aclBindings()).toBe(first);
        expect((await store.createAcls([b2])).map((r) => r.error)).toEqual([null]);
        expect(store.aclBindings()).toEqual([b3, b2, b1]);
        await store.createAcls([binding({ permission: "DENY" })]);
        expect(store.aclBindings()).not.toBe(first);
        expect(store.aclBindings()).toHaveLength(4);
        expect(rec.events.every((e) => e.type === "acl")).toBe(true);
        expect(rec.events.length).toBeGreaterThanOrEqual(3);
        expect(rec.stale).toEqual([]);
        const peer = await h.openPeer();
        await waitFor(() => peer.aclBindings().length === 4, "the peer to see the four bindings");
        expect(peer.aclBindings()).toEqual(store.aclBindings());
      });

      it("answers INVALID_REQUEST for each malformed binding and creates the others", async () => {
        const bad = [
          binding({ resourceType: "ANY" as never }),
          binding({ patternType: "MATCH" as never }),
          binding({ operation: "ANY" as never }),
          binding({ permission: "ANY" as never }),
          binding({ resourceName: "" }),
          binding({ resourceType: "CLUSTER", resourceName: "my-cluster" }),
          binding({ principal: "alice" }),
          binding({ host: "" }),
          binding({ resourceName: "x".repeat(1025) }),
        ];
        const good = binding({ resourceType: "CLUSTER", resourceName: "kafka-cluster", operation: "ALTER" });
        const results = await store.createAcls([...bad, good]);
        expect(results.map((r) => r.error?.code ?? "NONE")).toEqual([
          ...bad.map(() => "INVALID_REQUEST"),
          "NONE",
        ]);
        expect(store.aclBindings()).toEqual([good]);
        const many = Array.from({ length: ACL_CREATIONS_MAX + 1 }, (_, i) =>
          binding({ resourceName: `t${i}` }),
        );
        expect(await codeOf(store.createAcls(many))).toBe("INVALID_REQUEST");
        expect(store.aclBindings()).toEqual([good]);
      });

      it("deletes by Kafka's filters: each reports what it matched, each binding removed once", async () => {
        const literal = binding();
        const prefixed = binding({
          resourceName: "ord",
          patternType: "PREFIXED",
          principal: "User:bob",
          operation: "WRITE",
        });
        const wildcard = binding({ resourceName: "*", principal: "User:*", operation: "DESCRIBE" });
        const group = binding({ resourceType: "GROUP" });
        const other = binding({ resourceName: "payments", host: "10.0.0.1" });
        await store.createAcls([literal, prefixed, wildcard, group, other]);
        const rec = recordEvents(store);
        const results = await store.deleteAcls([
          filter({ resourceType: "TOPIC", resourceName: "orders", patternType: "MATCH" }),
          filter({ resourceName: "orders" }),
          filter({ patternType: "UNKNOWN" as never }),
          filter({ host: "10.0.0.2" }),
        ]);
        expect(results.map((r) => r.error?.code ?? "NONE")).toEqual([
          "NONE",
          "NONE",
          "INVALID_REQUEST",
          "NONE",
        ]);
        expect(results[0].deleted).toEqual(expect.arrayContaining([literal, prefixed, wildcard]));
        expect(results[0].deleted).toHaveLength(3);
        expect(results[1].deleted).toEqual(expect.arrayContaining([literal, group]));
        expect(results[1].deleted).toHaveLength(2);
        expect(results[3].deleted).toEqual([]);
        expect(store.aclBindings()).toEqual([other]);
        expect(rec.events.filter((e) => e.type === "acl" && e.bindings.length === 0)).toHaveLength(4);
        expect(rec.stale).toEqual([]);
        const all = await store.deleteAcls([filter()]);
        expect(all[0].deleted).toEqual([other]);
        expect(store.aclBindings()).toEqual([]);
      });
    });
  });
}
