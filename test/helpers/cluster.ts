/**
 * A cluster for tests: one etcd (test/helpers/etcd.ts) and `n` in-process brokers joined to it
 * (node ids 1..n, free ports, temporary data directories), with timings short enough for tests:
 * sessions of 4 s (leases of 5 s: shorter ones expire on a loaded 2-core machine whose event
 * loops stall), ISR lag of 1 s, follower long polls of 100 ms. A broker can be stopped
 * (controlled shutdown), crashed (stopped without it: its lease left to expire) and started again
 * on its data directory and its ports (test/helpers/ports.ts: no other socket takes them while it
 * is down), as a real broker comes back at its address (a client knows brokers by the addresses
 * Metadata gave it).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { type Logger, pino } from "pino";
import { afterAll, beforeAll } from "vitest";
import { Broker } from "../../broker/broker.js";
import { loadBrokerConfig } from "../../broker/config.js";
import { addScramUsers, parseAddScram } from "../../broker/format.js";
import { OFFSETS_TOPIC } from "../../broker/group/offsets-topic.js";
import { Consumer } from "../../client/index.js";
import { TestEtcd } from "./etcd.js";
import { stablePort } from "./ports.js";
import { TcpProxy } from "./tcp-proxy.js";
import { waitFor } from "./wait.js";

export const CLUSTER_TEST_FLAGS: Record<string, unknown> = {
  "broker.session.timeout.ms": 4000,
  "broker.heartbeat.interval.ms": 300,
  "etcd.request.timeout.ms": 1000,
  "replica.lag.time.max.ms": 1000,
  "replica.fetch.wait.max.ms": 100,
  "replica.fetch.backoff.ms": 50,
  "controlled.shutdown.retry.backoff.ms": 100,
};

export interface ClusterNode {
  nodeId: number;
  dataDir: string;
  broker: Broker | null;
  /** Its ports, chosen at its first start (0 until then) and kept for its restarts. */
  kafkaPort: number;
  httpPort: number;
}

/** What a test may add to a cluster's start. */
export interface TestClusterOptions {
  /** Runs once etcd is up, before any broker starts (users a SASL inter-broker listener needs). */
  prepare?: (cluster: TestCluster) => Promise<void>;
  /** Each broker's logger (default: SAMSA_TEST_LOG's, else none). */
  logger?: (nodeId: number) => Logger | undefined;
  /** Each broker reaches etcd through a TcpProxy of its own, which the test may cut or freeze. */
  etcdProxies?: boolean;
}

export class TestCluster {
  readonly nodes = new Map<number, ClusterNode>();

  private constructor(
    readonly etcd: TestEtcd,
    private readonly flags: Record<string, unknown>,
    private readonly options: TestClusterOptions,
    /** With `etcdProxies`: each broker's own way to etcd, by node id, made at its first start. */
    private readonly proxies: Map<number, TcpProxy> | null = null,
  ) {}

  /**
   * An etcd and brokers 1..n, each registered; with `etcdProxies`, each broker reaches etcd
   * through a TcpProxy of its own (`etcdProxy(nodeId)`), which the test may cut or freeze.
   */
  static async start(
    n: number,
    flags: Record<string, unknown> = {},
    options: TestClusterOptions = {},
  ): Promise<TestCluster> {
    const cluster = new TestCluster(
      await TestEtcd.start(),
      flags,
      options,
      options.etcdProxies ? new Map() : null,
    );
    try {
      await options.prepare?.(cluster);
      for (let id = 1; id <= n; id++) await cluster.startNode(id);
      await cluster.waitForBrokers(n);
    } catch (err) {
      await cluster.close();
      throw err;
    }
    return cluster;
  }

  get url(): string {
    return `etcd://${this.etcd.endpoint}`;
  }

  /** The proxy between broker `nodeId` and etcd (a cluster started with `etcdProxies`). */
  etcdProxy(nodeId: number): TcpProxy {
    const proxy = this.proxies?.get(nodeId);
    if (!proxy) throw new Error(`broker ${nodeId} has no etcd proxy`);
    return proxy;
  }

  /** Where broker `nodeId` reaches etcd: its own proxy (made now if need be) or etcd itself. */
  private async etcdUrlOf(nodeId: number): Promise<string> {
    if (!this.proxies) return this.url;
    let proxy = this.proxies.get(nodeId);
    if (!proxy) {
      proxy = await TcpProxy.start(Number(this.etcd.endpoint.split(":")[1]));
      this.proxies.set(nodeId, proxy);
    }
    return `etcd://${proxy.endpoint}`;
  }

  /** Starts broker `nodeId` (again, on its data directory if it ran before). */
  async startNode(nodeId: number, flags: Record<string, unknown> = {}): Promise<Broker> {
    const node = this.nodes.get(nodeId) ?? {
      nodeId,
      dataDir: mkdtempSync(path.join(tmpdir(), `samsa-cluster-${nodeId}-`)),
      broker: null,
      kafkaPort: 0,
      httpPort: 0,
    };
    this.nodes.set(nodeId, node);
    if (!node.kafkaPort) node.kafkaPort = await stablePort();
    if (!node.httpPort) node.httpPort = await stablePort();
    const config = loadBrokerConfig({
      flags: {
        "node.id": nodeId,
        cluster: await this.etcdUrlOf(nodeId),
        "data.dir": node.dataDir,
        "kafka.port": node.kafkaPort,
        "http.port": node.httpPort,
        ...CLUSTER_TEST_FLAGS,
        ...this.flags,
        ...flags,
      },
    });
    // SAMSA_TEST_LOG=debug (or info, warn) shows the brokers' logs, for a failing test.
    const level = process.env.SAMSA_TEST_LOG;
    const logger =
      this.options.logger?.(nodeId) ??
      (level ? pino({ level, base: { node: nodeId } }, pino.destination(2)) : undefined);
    node.broker = await Broker.start(config, { logger });
    node.kafkaPort = node.broker.kafkaPort;
    node.httpPort = node.broker.httpPort;
    return node.broker;
  }

  broker(nodeId: number): Broker {
    const b = this.nodes.get(nodeId)?.broker;
    if (!b) throw new Error(`broker ${nodeId} is not running`);
    return b;
  }

  running(): Broker[] {
    return [...this.nodes.values()].flatMap((n) => (n.broker ? [n.broker] : []));
  }

  /** host:port of every running broker. */
  bootstrap(): string[] {
    return this.running().map((b) => `127.0.0.1:${b.kafkaPort}`);
  }

  /** Stops broker `nodeId` cleanly (controlled shutdown), keeping its data. */
  async stopNode(nodeId: number): Promise<void> {
    const node = this.nodes.get(nodeId);
    const b = node?.broker;
    if (!node || !b) return;
    node.broker = null;
    await b.stop();
  }

  /**
   * Stops broker `nodeId` without controlled shutdown: its registration goes at once and the
   * controller moves its leaderships as after a crash (its data is flushed, as a clean stop does).
   */
  async crashNode(nodeId: number): Promise<void> {
    const node = this.nodes.get(nodeId);
    const b = node?.broker;
    if (!node || !b) return;
    node.broker = null;
    await b.stop({ controlledShutdown: false });
  }

  /**
   * Waits until every running broker's store lists `n` live brokers and names the same
   * controller, and that broker's controller holds its term.
   */
  async waitForBrokers(n: number): Promise<void> {
    await waitFor(() => {
      const running = this.running();
      const id = running[0]?.store.controller()?.nodeId;
      return (
        running.every((b) => b.store.brokers().length === n && b.store.controller()?.nodeId === id) &&
        running.some((b) => b.config.nodeId === id && b.controller.active)
      );
    }, `${n} brokers registered and a controller elected`);
  }

  /** The running broker the store names leader of `topic`-`partition`, once one is. */
  async leaderOf(topic: string, partition: number): Promise<Broker> {
    let leader: Broker | undefined;
    await waitFor(() => {
      const id = this.running()[0]?.store.topic(topic)?.partitions[partition]?.leader;
      leader = this.running().find((b) => b.config.nodeId === id);
      return leader?.topics.partition(topic, partition)?.role === "leader";
    }, `a leader of ${topic}-${partition}`);
    if (!leader) throw new Error("unreachable");
    return leader;
  }

  /** Waits until `topic`-`partition`'s ISR, in the store, is exactly `isr` (any order). */
  async waitForIsr(topic: string, partition: number, isr: number[]): Promise<void> {
    const want = [...isr].sort().join(",");
    await waitFor(() => {
      const state = this.running()[0]?.store.topic(topic)?.partitions[partition];
      return state !== undefined && [...state.isr].sort().join(",") === want;
    }, `ISR of ${topic}-${partition} to be [${want}]`);
  }

  async close(): Promise<void> {
    for (const node of this.nodes.values()) {
      await node.broker?.stop().catch(() => undefined);
      node.broker = null;
      rmSync(node.dataDir, { recursive: true, force: true });
    }
    for (const proxy of this.proxies?.values() ?? []) await proxy.close();
    await this.etcd.destroy();
  }
}

/**
 * A TestCluster of `n` brokers for the tests of one file: started before them (handed to `take`)
 * and closed after them.
 */
export function clusterForFile(
  n: number,
  flags: Record<string, unknown>,
  take: (cluster: TestCluster) => void,
): void {
  let started: TestCluster | undefined;
  beforeAll(async () => {
    started = await TestCluster.start(n, flags);
    take(started);
  }, 60_000);
  afterAll(async () => {
    await started?.close();
  }, 60_000);
}

/**
 * The first `count` records of `topic` read from the beginning of partitions 0..partitions-1
 * through `brokers`, each as `format` makes it (default: its value).
 */
export async function readRecords(
  brokers: string[],
  topic: string,
  count: number,
  options: { partitions?: number; format?: (r: { partition: number; value: Buffer | null }) => string } = {},
): Promise<string[]> {
  const format = options.format ?? ((r) => r.value?.toString() ?? "");
  const consumer = new Consumer({ brokers });
  const partitions = Array.from({ length: options.partitions ?? 1 }, (_, partition) => partition);
  await consumer.assign(partitions.map((partition) => ({ topic, partition, start: "earliest" as const })));
  const out: string[] = [];
  try {
    while (out.length < count) {
      const batch = await consumer.nextBatch(5_000);
      for (const r of batch?.records ?? []) out.push(format(r));
    }
  } finally {
    await consumer.close();
  }
  return out;
}

/** The node `cluster`'s store names leader of the group's `__consumer_offsets` partition: its coordinator. */
export function coordinatorOf(cluster: TestCluster, groupId: string): number {
  const b = cluster.running()[0];
  const partition = b.groups.offsetsTopic.partitionFor(groupId);
  return b.store.topic(OFFSETS_TOPIC)?.partitions[partition]?.leader ?? -1;
}

/**
 * A `prepare` for TestCluster.start: writes a SCRAM-SHA-512 user to the cluster's etcd before any
 * broker starts, as `samsa storage format --add-scram` does (the brokers' own inter-broker login).
 */
export function seedScramUser(name: string, password: string): (cluster: TestCluster) => Promise<void> {
  return async (cluster) => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "samsa-format-"));
    try {
      const config = loadBrokerConfig({ flags: { cluster: cluster.url, "data.dir": dataDir } });
      await addScramUsers(config, [parseAddScram(`SCRAM-SHA-512=[name=${name},password=${password}]`)]);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  };
}
