// EtcdClusterStore against a real etcd: registrations and their epochs, the controller election
// and its fencing in etcd itself, topic writes, producer ids, and what the store does while etcd
// is paused, killed, compacted or cut off from one store (a TCP proxy in between).
import type { Logger } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { defaultBrokerConfig } from "../../../broker/config.js";
import type { MetadataEvent, PartitionState, TopicState } from "../../../broker/metadata/cluster.js";
import {
  EtcdClusterStore,
  type EtcdStoreOptions,
  etcdStoreOptions,
  parseEtcdUrl,
} from "../../../broker/metadata/etcd-store.js";
import { KafkaError } from "../../../protocol/errors.js";
import { TestEtcd } from "../../helpers/etcd.js";
import { TcpProxy } from "../../helpers/tcp-proxy.js";
import { waitFor, within } from "../../helpers/wait.js";
import { describeClusterStore } from "./store-contract.js";

/** Sessions that no stall of a loaded machine ends; tests of lost sessions pass SHORT_SESSION_MS. */
const LONG_SESSION_MS = 10_000;
const SHORT_SESSION_MS = 1000;

let etcd: TestEtcd;
let nextPrefix = 0;
const opened: EtcdClusterStore[] = [];
const proxies: TcpProxy[] = [];

beforeAll(async () => {
  etcd = await TestEtcd.start();
});

afterEach(async () => {
  if (!etcd.running) await etcd.restart();
  for (const store of opened.splice(0)) await store.close();
  for (const proxy of proxies.splice(0)) await proxy.close();
});

afterAll(async () => {
  await etcd?.destroy();
});

function options(
  prefix: string,
  endpoint = etcd.endpoint,
  sessionTimeoutMs = LONG_SESSION_MS,
): EtcdStoreOptions {
  return {
    endpoints: [endpoint],
    prefix,
    sessionTimeoutMs,
    heartbeatIntervalMs: 100,
    requestTimeoutMs: 500,
    retryBackoffMs: 20,
    retryBackoffMaxMs: 200,
  };
}

/** Opens `count` stores on one fresh prefix (one cluster). */
async function cluster(count: number, sessionTimeoutMs?: number): Promise<EtcdClusterStore[]> {
  const prefix = `/store-test/${nextPrefix++}/`;
  const stores: EtcdClusterStore[] = [];
  for (let i = 0; i < count; i++)
    stores.push(await EtcdClusterStore.open(options(prefix, etcd.endpoint, sessionTimeoutMs)));
  opened.push(...stores);
  return stores;
}

const broker = (nodeId: number) => ({
  nodeId,
  host: "127.0.0.1",
  port: 9000 + nodeId,
  rack: null,
  httpPort: null,
});

function partition(n: number, epoch = 0): PartitionState {
  return {
    partition: n,
    replicas: [1, 2],
    isr: [1, 2],
    leader: 1,
    leaderEpoch: 0,
    partitionEpoch: epoch,
    addingReplicas: [],
    removingReplicas: [],
  };
}

function topic(name: string, partitions = 2): TopicState {
  const id = Buffer.from(name.padEnd(16, "x").slice(0, 16)).toString("hex");
  return { name, id, partitions: Array.from({ length: partitions }, (_, i) => partition(i)), configs: {} };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => new Error("resolved"),
    (err: unknown) => err,
  );
}

describe("EtcdClusterStore", () => {
  it("registers brokers once at a time, with epochs that grow, seen by every store", async () => {
    const [a, b] = await cluster(2);
    expect(a.clusterId()).toBe(b.clusterId());
    expect(a.clusterId()).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const first = await a.register(broker(1));
    const err = await rejection(b.register(broker(1)));
    expect(KafkaError.is(err, "DUPLICATE_BROKER_REGISTRATION")).toBe(true);
    await waitFor(() => b.broker(1)?.epoch === first.epoch, "b to see node 1");
    await first.markShuttingDown();
    await waitFor(() => b.broker(1)?.shuttingDown === true, "b to see node 1 shutting down");
    await first.close();
    await waitFor(() => b.broker(1) === undefined, "b to see node 1 gone");
    const second = await b.register(broker(1));
    expect(second.epoch).toBeGreaterThan(first.epoch);
    expect(b.brokers().map((r) => [r.nodeId, r.epoch, r.shuttingDown])).toEqual([[1, second.epoch, false]]);
    await second.close();
  });

  it("elects one controller; the next gets a larger epoch; a deposed one's writes are refused by etcd", async () => {
    const [a, b] = await cluster(2);
    const ctlA = await a.campaign(1);
    const pendingB = b.campaign(2);
    await a.createTopic(ctlA, topic("t1"));
    await ctlA.resign();
    const ctlB = await pendingB;
    expect(ctlB.epoch).toBeGreaterThan(ctlA.epoch);
    await waitFor(() => a.controller()?.nodeId === 2, "a to see node 2 as controller");
    // A controller waking from a pause still believes it leads: only etcd's compare can stop it.
    Object.defineProperty(ctlA, "valid", { get: () => true });
    const err = await rejection(a.createTopic(ctlA, topic("t2")));
    expect(KafkaError.is(err, "NOT_CONTROLLER")).toBe(true);
    await b.createTopic(ctlB, topic("t3"));
    await waitFor(() => a.topic("t3") !== undefined, "a to see t3");
    expect(a.topics().map((t) => t.name)).toEqual(["t1", "t3"]);
  });

  it("topic writes: create once, compare-and-set of a partition, configs, partitions added, delete", async () => {
    const [a, b] = await cluster(2);
    const events: MetadataEvent[] = [];
    b.watch((e) => events.push(e));
    const ctl = await a.campaign(1);
    await a.createTopic(ctl, topic("orders"));
    expect(KafkaError.is(await rejection(a.createTopic(ctl, topic("orders"))), "TOPIC_ALREADY_EXISTS")).toBe(
      true,
    );
    const next = { ...partition(1, 1), isr: [1], leaderEpoch: 1 };
    expect(await a.updatePartition(ctl, "orders", 5, next)).toBe(false);
    expect(await a.updatePartition(ctl, "orders", 0, next)).toBe(true);
    expect(await a.updatePartition(ctl, "orders", 0, { ...next, partitionEpoch: 2 })).toBe(false);
    await a.setTopicConfigs(ctl, "orders", { "retention.ms": "1000" });
    await a.addPartitions(ctl, "orders", [partition(2)]);
    const seen = a.topic("orders");
    expect(seen?.partitions.map((p) => p.partitionEpoch)).toEqual([0, 1, 0]);
    expect({ ...seen?.configs }).toEqual({ "retention.ms": "1000" });
    expect(a.topicById(seen?.id ?? "")?.name).toBe("orders");
    await a.deleteTopic(ctl, "orders");
    expect(KafkaError.is(await rejection(a.deleteTopic(ctl, "orders")), "UNKNOWN_TOPIC_OR_PARTITION")).toBe(
      true,
    );
    await waitFor(() => events.some((e) => e.type === "topic" && e.topic === null), "b to see the deletion");
    const kinds = events.filter((e) => e.type !== "controller").map((e) => e.type);
    expect(kinds).toEqual(["topic", "partition", "topic", "topic", "topic"]);
  });

  it("a lost compare-and-set answers once the view shows the state that refused it", async () => {
    const prefix = `/store-test/${nextPrefix++}/`;
    const a = await EtcdClusterStore.open(options(prefix));
    opened.push(a);
    const ctl = await a.campaign(1);
    await a.createTopic(ctl, topic("t"));
    // a's watch is held from now on; it delivers what it holds a turn after a's next read.
    const held: unknown[] = [];
    const watched = a as unknown as { onWatchMessage(message: unknown): void };
    const deliver = watched.onWatchMessage.bind(a);
    watched.onWatchMessage = (message) => held.push(message);
    const release = () => {
      watched.onWatchMessage = deliver;
      for (const message of held.splice(0)) deliver(message);
    };
    const range = a.client.range.bind(a.client);
    a.client.range = async (...args) => {
      const answer = await range(...args);
      setImmediate(release);
      return answer;
    };
    // Another writer (a controller's write the view has not shown yet) moved partition 0 on.
    const moved = { ...topic("t"), partitions: [partition(0, 1), partition(1)] };
    const key = Buffer.from(`${prefix}topics/t`).toString("base64");
    const value = Buffer.from(JSON.stringify({ id: moved.id, configs: {}, partitions: moved.partitions }));
    await etcd.request("/v3/kv/put", { key, value: value.toString("base64") });
    expect(await a.updatePartition(ctl, "t", 0, { ...partition(0, 1), isr: [1] })).toBe(false);
    expect(a.topic("t")?.partitions[0].partitionEpoch).toBe(1);
  });

  it("skips (and logs once) values under the prefix that do not decode; a throwing listener is logged", async () => {
    const prefix = `/store-test/${nextPrefix++}/`;
    const put = (key: string, value: string) =>
      etcd.request("/v3/kv/put", {
        key: Buffer.from(prefix + key).toString("base64"),
        value: Buffer.from(value).toString("base64"),
      });
    await put("topics/bad", "{oops");
    const logged: Record<string, unknown>[] = [];
    const logger = { error: (fields: Record<string, unknown>) => logged.push(fields) } as unknown as Logger;
    const a = await EtcdClusterStore.open({ ...options(prefix), logger });
    opened.push(a);
    a.watch(() => {
      throw new Error("listener bug");
    });
    const ctl = await a.campaign(1);
    await a.createTopic(ctl, topic("good"));
    const good = a.topic("good");
    await put("topics/good", JSON.stringify({ id: "not hex", configs: {}, partitions: [] }));
    await put("brokers/7", "[]");
    const registration = { host: "h.test", port: 9008, rack: null, httpPort: null, shuttingDown: false };
    await put("brokers/8", JSON.stringify({ ...registration, incarnationId: 42 }));
    await a.createTopic(ctl, topic("after"));
    await waitFor(() => a.topic("after") !== undefined, "the view to go on past the bad values");
    expect(a.topic("good")).toEqual(good);
    expect(a.topic("bad")).toBeUndefined();
    expect(a.broker(7)).toBeUndefined();
    expect(a.broker(8)).toBeUndefined();
    const badKeys = logged.filter((f) => "key" in f).map((f) => String(f.key).slice(prefix.length));
    expect(badKeys.sort()).toEqual(["brokers/7", "brokers/8", "topics/bad", "topics/good"]);
    expect(logged.some((f) => (f.err as Error | undefined)?.message === "listener bug")).toBe(true);
  });

  it("a registration whose answer timed out after etcd applied it does not hold the node id", async () => {
    const [a] = await cluster(1);
    const txn = a.client.txn.bind(a.client);
    a.client.txn = async (...args) => {
      a.client.txn = txn;
      await txn(...args);
      throw new KafkaError("REQUEST_TIMED_OUT", "etcd /v3/kv/txn unanswered (test)");
    };
    expect(KafkaError.is(await rejection(a.register(broker(1))), "REQUEST_TIMED_OUT")).toBe(true);
    const session = await a.register(broker(1));
    expect(a.broker(1)?.epoch).toBe(session.epoch);
    await session.close();
  });

  it("a registration or campaign applied just before etcd became unreachable frees its key once etcd answers", {
    timeout: 120_000,
  }, async () => {
    const proxy = await TcpProxy.start(etcd.clientPort);
    proxies.push(proxy);
    const prefix = `/store-test/${nextPrefix++}/`;
    // Leases etcd keeps for a minute: a key left bound to one would outlast every wait below.
    const a = await EtcdClusterStore.open(options(prefix, proxy.endpoint, 60_000));
    const observer = await EtcdClusterStore.open(options(prefix));
    opened.push(a, observer);
    /**
     * The next txn reaches etcd, then the link drops: its answer and the lease's revoke are lost.
     * Resolves once the link is cut: another store may see the txn applied before this one's
     * answer arrives, and a restore before the cut would be undone by it.
     */
    const cutAfterNextTxn = () =>
      new Promise<void>((cut) => {
        const txn = a.client.txn.bind(a.client);
        a.client.txn = async (...args) => {
          a.client.txn = txn;
          await txn(...args);
          proxy.cut();
          cut();
          throw new KafkaError("REQUEST_TIMED_OUT", "etcd /v3/kv/txn unanswered (test)");
        };
      });

    void cutAfterNextTxn();
    expect(KafkaError.is(await rejection(a.register(broker(1))), "REQUEST_TIMED_OUT")).toBe(true);
    await waitFor(() => observer.broker(1) !== undefined, "the registration applied in etcd");
    expect(KafkaError.is(await rejection(a.register(broker(1))), "REQUEST_TIMED_OUT")).toBe(true);
    proxy.restore();
    const session = await a.register(broker(1));
    await waitFor(() => observer.broker(1)?.epoch === session.epoch, "the retried registration");

    const campaignCut = cutAfterNextTxn();
    const campaign = a.campaign(1);
    await campaignCut;
    await waitFor(() => observer.controller()?.nodeId === 1, "the campaign applied in etcd");
    proxy.restore();
    const controller = await within(campaign, "the retried campaign", 30_000);
    await waitFor(() => observer.controller()?.epoch === controller.epoch, "the new controller seen");
    await controller.resign();
    await session.close();
  });

  it("producer id blocks from several stores never overlap", async () => {
    const stores = await cluster(3);
    const blocks = await Promise.all(
      stores.flatMap((s) => [s.allocateProducerIds(10), s.allocateProducerIds(10)]),
    );
    expect(new Set(blocks).size).toBe(6);
    expect(blocks.every((first) => first % 10 === 0 && first < 60)).toBe(true);
    for (const s of stores) expect(s.producerIdsIssued()).toBeGreaterThanOrEqual(Math.max(...blocks) - 50);
    await waitFor(
      () => stores.every((s) => s.producerIdsIssued() === 60),
      "every store to see 60 ids issued",
    );
  });
});

describe("EtcdClusterStore while etcd fails", () => {
  it("etcd paused: the broker gives up its session, reads answer, writes time out, then work again", async () => {
    const [a] = await cluster(1, SHORT_SESSION_MS);
    const session = await a.register(broker(1));
    let lost = false;
    session.onLost(() => {
      lost = true;
    });
    etcd.pause();
    try {
      await waitFor(() => lost, "the session to be lost");
      expect(a.broker(1)?.epoch).toBe(session.epoch);
      const err = await rejection(a.allocateProducerIds(1));
      expect(KafkaError.is(err, "REQUEST_TIMED_OUT")).toBe(true);
    } finally {
      etcd.resume();
    }
    expect(await a.allocateProducerIds(1)).toBeGreaterThanOrEqual(0);
  });

  it("etcd killed and restarted: the watch resumes from its revision and misses nothing", async () => {
    const [a, b] = await cluster(2);
    const events: MetadataEvent[] = [];
    a.watch((e) => events.push(e));
    const ctl = await b.campaign(2);
    await b.createTopic(ctl, topic("before"));
    await waitFor(() => a.topic("before") !== undefined, "a to see 'before'");
    await etcd.kill();
    expect(KafkaError.is(await rejection(b.createTopic(ctl, topic("during"))), "REQUEST_TIMED_OUT")).toBe(
      true,
    );
    await etcd.restart();
    await b.createTopic(ctl, topic("after"));
    await waitFor(() => a.topic("after") !== undefined, "a to see 'after'");
    expect(a.topics().map((t) => t.name)).toEqual(["after", "before"]);
    expect(events.some((e) => e.type === "resync")).toBe(false);
  });

  it("a store cut off while etcd compacts: it reads everything anew and emits resync", async () => {
    const proxy = await TcpProxy.start(etcd.clientPort);
    proxies.push(proxy);
    const prefix = `/store-test/${nextPrefix++}/`;
    const a = await EtcdClusterStore.open(options(prefix, proxy.endpoint));
    const b = await EtcdClusterStore.open(options(prefix));
    opened.push(a, b);
    const events: MetadataEvent[] = [];
    a.watch((e) => events.push(e));
    const ctl = await b.campaign(2);
    await b.createTopic(ctl, topic("early"));
    await waitFor(() => a.topic("early") !== undefined, "a to see 'early'");
    proxy.cut();
    await b.deleteTopic(ctl, "early");
    await b.createTopic(ctl, topic("late"));
    const header = (await etcd.request("/v3/kv/range", { key: Buffer.from(prefix).toString("base64") }))
      .header as {
      revision: string;
    };
    await etcd.request("/v3/kv/compaction", { revision: header.revision });
    expect(a.topic("early")).toBeDefined();
    proxy.restore();
    await waitFor(() => events.some((e) => e.type === "resync"), "a resync event");
    expect(a.topics().map((t) => t.name)).toEqual(["late"]);
    expect(a.controller()?.epoch).toBe(ctl.epoch);
  });

  it("a broker cut off from etcd gives up its session before the others see it expire", async () => {
    const proxy = await TcpProxy.start(etcd.clientPort);
    proxies.push(proxy);
    const prefix = `/store-test/${nextPrefix++}/`;
    const a = await EtcdClusterStore.open(options(prefix, proxy.endpoint, SHORT_SESSION_MS));
    const b = await EtcdClusterStore.open(options(prefix, etcd.endpoint, SHORT_SESSION_MS));
    opened.push(a, b);
    const session = await a.register(broker(1));
    const ctl = await a.campaign(1);
    const order: string[] = [];
    session.onLost(() => order.push("broker lost"));
    ctl.onLost(() => order.push("controller lost"));
    await waitFor(() => b.broker(1) !== undefined && b.controller()?.nodeId === 1, "b to see node 1");
    // The holder's own clock, read when asked, is what its leader paths trust; its fence timers
    // may run late on a loaded machine, so the order of the listeners is not the promise.
    const leases = [session, ctl].map((s) => (s as unknown as { lease: { alive: boolean } }).lease);
    let aliveAtExpiry: boolean[] | null = null;
    b.watch((e) => {
      if (e.type === "broker" && e.registration === null) {
        order.push("expired in etcd");
        aliveAtExpiry ??= leases.map((l) => l.alive);
      }
    });
    proxy.cut();
    const ctlB = await b.campaign(2);
    await waitFor(() => order.includes("expired in etcd"), "the registration to expire in etcd");
    expect(aliveAtExpiry).toEqual([false, false]);
    await waitFor(
      () => order.includes("broker lost") && order.includes("controller lost"),
      "both sessions of node 1 to be lost",
    );
    expect(ctlB.epoch).toBeGreaterThan(ctl.epoch);
    expect(KafkaError.is(await rejection(a.createTopic(ctl, topic("x"))), "NOT_CONTROLLER")).toBe(true);
  });
});

describeClusterStore("EtcdClusterStore", async () => {
  const prefix = `/contract/${nextPrefix++}/`;
  const stores = [await EtcdClusterStore.open(options(prefix))];
  return {
    store: stores[0],
    /** Revokes, from outside the store, the leases of node `nodeId`'s registration and controller key. */
    loseSession: async (nodeId) => {
      const leases = new Set<string>();
      for (const key of [`brokers/${nodeId}`, "controller"]) {
        const { kvs } = await stores[0].client.range(prefix + key);
        const kv = kvs[0];
        if (kv && (key !== "controller" || JSON.parse(kv.value).nodeId === nodeId)) leases.add(kv.lease);
      }
      for (const id of leases) await etcd.request("/v3/lease/revoke", { ID: id });
    },
    openPeer: async () => {
      const peer = await EtcdClusterStore.open(options(prefix));
      stores.push(peer);
      return peer;
    },
    cleanup: async () => {
      for (const store of stores) await store.close();
    },
  };
});

describe("EtcdClusterStore with a silent etcd member", () => {
  it("a watch on a member that stopped answering is restarted on the next endpoint", async () => {
    const proxy = await TcpProxy.start(etcd.clientPort);
    proxies.push(proxy);
    const prefix = `/store-test/${nextPrefix++}/`;
    const a = await EtcdClusterStore.open({
      ...options(prefix),
      endpoints: [proxy.endpoint, etcd.endpoint],
      watchCheckIntervalMs: 50,
    });
    const b = await EtcdClusterStore.open(options(prefix));
    opened.push(a, b);
    const ctl = await b.campaign(2);
    await b.createTopic(ctl, topic("first"));
    await waitFor(() => a.topic("first") !== undefined, "a to see 'first'");
    proxy.freeze();
    await b.createTopic(ctl, topic("second"));
    await waitFor(() => a.topic("second") !== undefined, "a to see 'second' through the other endpoint");
    expect(a.topics().map((t) => t.name)).toEqual(["first", "second"]);
  });
});

describe("EtcdClusterStore with a member that misses a delete", () => {
  it("a watch that missed only a delete (a lease expiring) is restarted on the next endpoint", async () => {
    const proxy = await TcpProxy.start(etcd.clientPort);
    proxies.push(proxy);
    const prefix = `/store-test/${nextPrefix++}/`;
    const a = await EtcdClusterStore.open({
      ...options(prefix),
      endpoints: [proxy.endpoint, etcd.endpoint],
      watchCheckIntervalMs: 50,
    });
    const b = await EtcdClusterStore.open(options(prefix));
    opened.push(a, b);
    const ctl = await b.campaign(2);
    await b.createTopic(ctl, topic("first"));
    await b.createTopic(ctl, topic("second"));
    await waitFor(() => a.topic("second") !== undefined, "a to see 'second'");
    proxy.freeze();
    await b.deleteTopic(ctl, "first");
    await waitFor(() => a.topic("first") === undefined, "a to see the delete through the other endpoint");
    expect(a.topics().map((t) => t.name)).toEqual(["second"]);
  });
});

describe("EtcdClusterStore producer ids beyond a lagging view", () => {
  it("readProducerIdsIssued reads etcd itself, where the view has not seen another store's block", async () => {
    const proxy = await TcpProxy.start(etcd.clientPort);
    proxies.push(proxy);
    const prefix = `/store-test/${nextPrefix++}/`;
    const a = await EtcdClusterStore.open({
      ...options(prefix),
      endpoints: [proxy.endpoint, etcd.endpoint],
      watchCheckIntervalMs: 3_600_000,
    });
    const b = await EtcdClusterStore.open(options(prefix));
    opened.push(a, b);
    await b.allocateProducerIds(10);
    await waitFor(() => a.producerIdsIssued() === 10, "a to see the first block");
    proxy.freeze();
    expect(await b.allocateProducerIds(10)).toBe(10);
    expect(a.producerIdsIssued()).toBe(10);
    // The first read may go to the frozen endpoint and time out; the store then tries the next.
    const issued = await a.readProducerIdsIssued().catch((err) => {
      expect(err).toMatchObject({ code: "REQUEST_TIMED_OUT" });
      return a.readProducerIdsIssued();
    });
    expect(issued).toBe(20);
    expect(a.producerIdsIssued()).toBe(20);
  });
});

describe("EtcdClusterStore options", () => {
  it("come from the broker's config keys", () => {
    expect(parseEtcdUrl("etcd://a:1,b:2/")).toEqual(["a:1", "b:2"]);
    const config = {
      ...defaultBrokerConfig(),
      cluster: "etcd://127.0.0.1:2379",
      brokerSessionTimeoutMs: 7000,
      brokerHeartbeatIntervalMs: 700,
      etcdRequestTimeoutMs: 900,
    };
    expect(etcdStoreOptions(config, "/samsa/")).toEqual({
      endpoints: ["127.0.0.1:2379"],
      prefix: "/samsa/",
      sessionTimeoutMs: 7000,
      heartbeatIntervalMs: 700,
      requestTimeoutMs: 900,
    });
  });
});
