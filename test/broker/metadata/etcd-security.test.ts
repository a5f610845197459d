// EtcdClusterStore's security metadata against a real etcd, beyond the contract suite: the key
// layout, a second store's watch, writes from two stores at once (compare-and-set per key), a
// deletion touching more resources than one txn holds, and values that do not decode.
import type { Logger } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { MetadataEvent } from "../../../broker/metadata/cluster.js";
import { EtcdClusterStore, type EtcdStoreOptions } from "../../../broker/metadata/etcd-store.js";
import { TestEtcd } from "../../helpers/etcd.js";
import { waitFor } from "../../helpers/wait.js";
import { binding, filter, upsertion } from "./store-security-contract.js";

let etcd: TestEtcd;
let nextPrefix = 0;
const opened: EtcdClusterStore[] = [];

beforeAll(async () => {
  etcd = await TestEtcd.start();
});

afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});

afterAll(async () => {
  await etcd?.destroy();
});

function options(prefix: string): EtcdStoreOptions {
  return {
    endpoints: [etcd.endpoint],
    prefix,
    sessionTimeoutMs: 10_000,
    heartbeatIntervalMs: 100,
    requestTimeoutMs: 2000,
    retryBackoffMs: 20,
    retryBackoffMaxMs: 200,
  };
}

/** `count` stores on one fresh prefix, and the prefix. */
async function cluster(
  count: number,
  logger?: Logger,
): Promise<{ prefix: string; stores: EtcdClusterStore[] }> {
  const prefix = `/security-test/${nextPrefix++}/`;
  const stores: EtcdClusterStore[] = [];
  for (let i = 0; i < count; i++) stores.push(await EtcdClusterStore.open({ ...options(prefix), logger }));
  opened.push(...stores);
  return { prefix, stores };
}

/** The keys under `prefix` (relative to it) and their values. */
async function keys(store: EtcdClusterStore, prefix: string, under: string): Promise<Record<string, string>> {
  const { kvs } = await store.client.range(prefix + under, { prefix: true });
  return Object.fromEntries(kvs.map((kv) => [kv.key.slice(prefix.length), kv.value]));
}

async function put(key: string, value: string): Promise<void> {
  await etcd.request("/v3/kv/put", {
    key: Buffer.from(key).toString("base64"),
    value: Buffer.from(value).toString("base64"),
  });
}

describe("EtcdClusterStore security metadata", () => {
  it("keeps one key per credential and one per resource pattern, names with slashes included", async () => {
    const { prefix, stores } = await cluster(1);
    const [a] = stores;
    await a.alterScramCredentials([upsertion("svc/one", "SCRAM-SHA-512")], []);
    await a.createAcls([
      binding({ resourceName: "a/b" }),
      binding({ resourceName: "a/b", principal: "User:bob" }),
      binding({ resourceType: "GROUP", resourceName: "g", patternType: "PREFIXED" }),
    ]);
    const scram = await keys(a, prefix, "scram/");
    expect(Object.keys(scram)).toEqual(["scram/SCRAM-SHA-512/svc/one"]);
    const stored = JSON.parse(scram["scram/SCRAM-SHA-512/svc/one"]);
    expect(stored).toEqual({
      salt: Buffer.alloc(16, 1).toString("base64"),
      storedKey: Buffer.alloc(64, 2).toString("base64"),
      serverKey: Buffer.alloc(64, 3).toString("base64"),
      iterations: 4096,
    });
    expect(JSON.stringify(stored)).not.toContain("password");
    const acls = await keys(a, prefix, "acls/");
    expect(Object.keys(acls).sort()).toEqual(["acls/GROUP/PREFIXED/g", "acls/TOPIC/LITERAL/a/b"]);
    expect(
      JSON.parse(acls["acls/TOPIC/LITERAL/a/b"]).entries.map((e: { principal: string }) => e.principal),
    ).toEqual(["User:alice", "User:bob"]);
    await a.deleteAcls([filter({ resourceType: "GROUP" })]);
    expect(Object.keys(await keys(a, prefix, "acls/"))).toEqual(["acls/TOPIC/LITERAL/a/b"]);
  });

  it("a second store's watch brings it every change, its view agreeing with each event", async () => {
    const { stores } = await cluster(2);
    const [a, b] = stores;
    const seen: MetadataEvent[] = [];
    b.watch((e) => seen.push(e));
    await a.alterScramCredentials([upsertion("alice")], []);
    await a.createAcls([binding()]);
    await waitFor(() => seen.some((e) => e.type === "acl"), "b to see the ACL change");
    expect(b.scramCredential("alice", "SCRAM-SHA-256")).toEqual(a.scramCredential("alice", "SCRAM-SHA-256"));
    expect(b.aclBindings()).toEqual([binding()]);
    await a.alterScramCredentials([], [{ user: "alice", mechanism: "SCRAM-SHA-256" }]);
    await a.deleteAcls([filter()]);
    await waitFor(() => b.aclBindings().length === 0, "b to see the binding go");
    expect(b.scramUsers()).toEqual([]);
    expect(seen.map((e) => e.type)).toEqual(["scram", "acl", "scram", "acl"]);
    expect(seen[2]).toEqual({ type: "scram", user: "alice", mechanism: "SCRAM-SHA-256", credential: null });
  });

  it("two stores writing the same resource and user at once both land (compare-and-set, retried)", async () => {
    const { stores } = await cluster(2);
    const [a, b] = stores;
    const writes = [];
    for (let i = 0; i < 5; i++) {
      writes.push(a.createAcls([binding({ principal: `User:a${i}` })]));
      writes.push(b.createAcls([binding({ principal: `User:b${i}` })]));
    }
    writes.push(a.alterScramCredentials([upsertion("alice", "SCRAM-SHA-256")], []));
    writes.push(b.alterScramCredentials([upsertion("alice", "SCRAM-SHA-512")], []));
    await Promise.all(writes);
    await waitFor(
      () => a.aclBindings().length === 10 && b.aclBindings().length === 10,
      "both views to hold 10",
    );
    expect(a.aclBindings()).toEqual(b.aclBindings());
    await waitFor(() => a.scramUsers()[0]?.mechanisms.length === 2, "a to see both of alice's credentials");
  });

  it("deletes bindings of more resources than one txn holds, reporting each once", async () => {
    const { stores } = await cluster(1);
    const [a] = stores;
    const names = Array.from({ length: 100 }, (_, i) => `t${String(i).padStart(3, "0")}`);
    await a.createAcls(names.slice(0, 50).map((resourceName) => binding({ resourceName })));
    await a.createAcls(names.slice(50).map((resourceName) => binding({ resourceName })));
    expect(a.aclBindings()).toHaveLength(100);
    const [result] = await a.deleteAcls([filter({ principal: "User:alice" })]);
    expect(result.error).toBeNull();
    expect(result.deleted.map((b) => b.resourceName).sort()).toEqual(names);
    expect(a.aclBindings()).toEqual([]);
  });

  it("skips and reports values that do not decode; a write replaces them", async () => {
    const logged: Record<string, unknown>[] = [];
    const logger = { error: (fields: Record<string, unknown>) => logged.push(fields) } as unknown as Logger;
    const { prefix, stores } = await cluster(1, logger);
    const [a] = stores;
    await a.createAcls([binding({ resourceName: "kept" })]);
    await put(`${prefix}acls/TOPIC/LITERAL/bad`, "{not json");
    await put(`${prefix}acls/TOPIC/LITERAL/kept`, JSON.stringify({ entries: [{ principal: "nobody" }] }));
    await put(`${prefix}acls/NOPE/LITERAL/x`, JSON.stringify({ entries: [] }));
    await put(`${prefix}scram/SCRAM-SHA-256/bob`, JSON.stringify({ salt: "AAAA", iterations: 1 }));
    await put(`${prefix}scram/MD5/carol`, "{}");
    await waitFor(() => logged.length === 5, "five bad values reported");
    expect(logged.map((l) => l.key)).toEqual([
      `${prefix}acls/TOPIC/LITERAL/bad`,
      `${prefix}acls/TOPIC/LITERAL/kept`,
      `${prefix}acls/NOPE/LITERAL/x`,
      `${prefix}scram/SCRAM-SHA-256/bob`,
      `${prefix}scram/MD5/carol`,
    ]);
    expect(a.aclBindings()).toEqual([binding({ resourceName: "kept" })]);
    expect(a.scramUsers()).toEqual([]);
    await a.createAcls([binding({ resourceName: "bad" })]);
    await a.alterScramCredentials([upsertion("bob")], []);
    expect(a.aclBindings().map((b) => b.resourceName)).toEqual(["bad", "kept"]);
    expect(a.scramCredential("bob", "SCRAM-SHA-256")?.iterations).toBe(4096);
  });
});
