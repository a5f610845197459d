// The etcd client's primitives against a real etcd: txn compares, prefix ranges, leases (keys
// deleted with them, holder-side loss when etcd stops answering), watches resumed from a revision.
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { b64, EtcdClient, type WatchMessage } from "../../../broker/metadata/etcd-client.js";
import { EtcdLease } from "../../../broker/metadata/etcd-lease.js";
import { KafkaError } from "../../../protocol/errors.js";
import { TestEtcd } from "../../helpers/etcd.js";
import { waitFor } from "../../helpers/wait.js";

let etcd: TestEtcd;
let client: EtcdClient;
let nextPrefix = 0;
const prefix = () => `/client-test/${nextPrefix++}/`;

beforeAll(async () => {
  etcd = await TestEtcd.start();
  client = new EtcdClient({ endpoints: [etcd.endpoint], requestTimeoutMs: 500 });
});

afterAll(async () => {
  client?.close();
  await etcd?.destroy();
});

const createIfAbsent = (key: string, value: string, lease?: string) =>
  client.txn(
    [{ key: b64(key), target: "CREATE", result: "EQUAL", create_revision: "0" }],
    [{ request_put: { key: b64(key), value: b64(value), ...(lease ? { lease } : {}) } }],
  );

describe("etcd client", () => {
  it("a txn compare lets the first create through and refuses the second", async () => {
    const p = prefix();
    const first = await createIfAbsent(`${p}a`, "one");
    const second = await createIfAbsent(`${p}a`, "two");
    await createIfAbsent(`${p}b`, "three");
    expect(first.succeeded).toBe(true);
    expect(second.succeeded).toBe(false);
    const { kvs } = await client.range(p, { prefix: true });
    expect(kvs.map((kv) => [kv.key, kv.value])).toEqual([
      [`${p}a`, "one"],
      [`${p}b`, "three"],
    ]);
    expect(kvs[0].createRevision).toBe(first.revision);
  });

  it("revoking a lease deletes its keys; a lease renewed stays; an unknown one answers TTL 0", async () => {
    const p = prefix();
    const lease = await EtcdLease.grant(
      client,
      { sessionTimeoutMs: 1000, heartbeatIntervalMs: 100 },
      (err) => {
        throw err;
      },
    );
    await createIfAbsent(`${p}leased`, "x", lease.id);
    expect(await client.keepAlive(lease.id)).toBeGreaterThan(0);
    await lease.revoke();
    expect((await client.range(`${p}leased`)).kvs).toEqual([]);
    expect(await client.keepAlive(lease.id)).toBe(0);
  });

  it("a watch from a past revision replays what happened since, in order", async () => {
    const p = prefix();
    const start = (await createIfAbsent(`${p}k1`, "1")).revision;
    await createIfAbsent(`${p}k2`, "2");
    await client.txn([], [{ request_delete_range: { key: b64(`${p}k1`) } }]);
    const seen: WatchMessage[] = [];
    const handle = client.watch(
      p,
      start,
      (m) => seen.push(m),
      () => {},
    );
    try {
      const events = () => seen.flatMap((m) => m.events.map((e) => `${e.type} ${e.kv.key}`));
      await waitFor(() => events().length === 3, "three events replayed");
      expect(events()).toEqual([`PUT ${p}k1`, `PUT ${p}k2`, `DELETE ${p}k1`]);
    } finally {
      handle.cancel();
    }
  });

  it("a watch from a compacted revision is cancelled with the compact revision", async () => {
    const p = prefix();
    const start = (await createIfAbsent(`${p}old`, "1")).revision;
    const now = (await createIfAbsent(`${p}new`, "2")).revision;
    await etcd.request("/v3/kv/compaction", { revision: String(now) });
    const seen: WatchMessage[] = [];
    const handle = client.watch(
      p,
      start,
      (m) => seen.push(m),
      () => {},
    );
    try {
      await waitFor(() => seen.some((m) => m.compactRevision > 0), "the compaction answer");
      expect(seen.find((m) => m.compactRevision > 0)?.compactRevision).toBe(now);
    } finally {
      handle.cancel();
    }
  });
});

describe("etcd client while etcd is down", () => {
  it("a stopped etcd: requests fail with REQUEST_TIMED_OUT, the lease holder loses its lease first", async () => {
    const lease = await EtcdLease.grant(
      client,
      { sessionTimeoutMs: 1000, heartbeatIntervalMs: 100 },
      (err) => {
        throw err;
      },
    );
    let lost = false;
    lease.onLost(() => {
      lost = true;
    });
    etcd.pause();
    try {
      await waitFor(() => lost, "the holder to give up its lease");
      const err = await client.range("/anything").catch((e: unknown) => e);
      expect(KafkaError.is(err, "REQUEST_TIMED_OUT")).toBe(true);
      expect((err as KafkaError).retriable).toBe(true);
    } finally {
      etcd.resume();
    }
    expect(lease.alive).toBe(false);
    await waitFor(
      async () => (await client.range("/anything").then(() => true)) as boolean,
      "etcd to answer again",
    );
  });

  it("a killed etcd: a watch ends, requests fail retriably, and both work again after a restart", async () => {
    const p = prefix();
    await createIfAbsent(`${p}before`, "1");
    let ended = false;
    const handle = client.watch(
      p,
      1,
      () => {},
      () => {
        ended = true;
      },
    );
    await etcd.kill();
    await waitFor(() => ended, "the watch to end");
    const err = await createIfAbsent(`${p}during`, "2").catch((e: unknown) => e);
    expect(KafkaError.is(err, "REQUEST_TIMED_OUT")).toBe(true);
    await etcd.restart();
    expect((await createIfAbsent(`${p}after`, "3")).succeeded).toBe(true);
    handle.cancel();
    const { kvs } = await client.range(p, { prefix: true });
    expect(kvs.map((kv) => kv.key)).toEqual([`${p}after`, `${p}before`]);
  });
});

describe("etcd lease liveness", () => {
  it("a session shorter than the request timeout keeps its lease through many renewals", async () => {
    // Each renewal's deadline is the time left of the session (a fraction of a ms in general),
    // not the request timeout: it must still reach etcd (AbortSignal.timeout takes integers).
    const slow = new EtcdClient({ endpoints: [etcd.endpoint], requestTimeoutMs: 5000 });
    const lost: number[] = [];
    const lease = await EtcdLease.grant(slow, { sessionTimeoutMs: 1500, heartbeatIntervalMs: 100 }, (err) => {
      throw err;
    });
    lease.onLost(() => lost.push(performance.now()));
    const renewed: number[] = [];
    const keepAlive = slow.keepAlive.bind(slow);
    vi.spyOn(slow, "keepAlive").mockImplementation(async (id, timeoutMs) => {
      const ttl = await keepAlive(id, timeoutMs);
      renewed.push(ttl);
      return ttl;
    });
    try {
      await waitFor(() => renewed.length >= 30 || lost.length > 0, "30 renewals or a loss");
      expect(lost).toEqual([]);
      expect(lease.alive).toBe(true);
    } finally {
      vi.restoreAllMocks();
      await lease.revoke();
      slow.close();
    }
  });

  it("reads the clock when asked: a stall past the session timeout shows at once, before any timer", async () => {
    const silent = {
      requestTimeoutMs: 500,
      grant: async () => ({ id: "1", ttlSeconds: 62 }),
      keepAlive: () => new Promise<number>(() => {}),
    } as unknown as EtcdClient;
    const lease = await EtcdLease.grant(
      silent,
      { sessionTimeoutMs: 60_000, heartbeatIntervalMs: 20_000 },
      (err) => {
        throw err;
      },
    );
    try {
      expect(lease.alive).toBe(true);
      // The event loop was stalled past the session timeout: no timer has run yet.
      const now = performance.now();
      vi.spyOn(performance, "now").mockReturnValue(now + 60_001);
      expect(lease.alive).toBe(false);
    } finally {
      vi.restoreAllMocks();
      lease.stop();
    }
  });
});

describe("etcd watch request", () => {
  it("asks for a member with a leader (Grpc-Metadata-hasleader), so a cut-off member cancels it", async () => {
    let headers: IncomingHttpHeaders | null = null;
    const server = createServer((req, res) => {
      headers = req.headers;
      res.writeHead(200, { "content-type": "application/json" });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const watcher = new EtcdClient({ endpoints: [`127.0.0.1:${port}`], requestTimeoutMs: 500 });
    const handle = watcher.watch(
      "/p/",
      1,
      () => {},
      () => {},
    );
    try {
      await waitFor(() => headers !== null, "the watch request");
      expect(headers?.["grpc-metadata-hasleader"]).toBe("true");
    } finally {
      handle.cancel();
      watcher.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
