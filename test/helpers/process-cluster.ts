/**
 * A cluster of broker processes for tests where a crash matters: one etcd (test/helpers/etcd.ts)
 * and brokers 1..n, each a child process over the private build (test/helpers/compile-child.ts)
 * on ports chosen once, so a broker killed with SIGKILL and started again comes back at the same
 * endpoint on the same data. Short timings as test/helpers/cluster.ts. Where the processes run is
 * a `ClusterHosts`: loopback by default, or one test host per process in network namespaces
 * (test/helpers/net-cluster.ts).
 */
import { type ChildProcess, type SpawnOptions, spawn } from "node:child_process";
import { appendFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Cluster, type PartitionInfo } from "../../client/cluster.js";
import { Admin } from "../../client/index.js";
import { CLUSTER_TEST_FLAGS } from "./cluster.js";
import { type ChildBuild, compileChild } from "./compile-child.js";
import { TestEtcd } from "./etcd.js";
import { stablePort } from "./ports.js";
import { waitFor } from "./wait.js";

const CHILD = `
import { Broker } from "./broker/broker.js";
import { loadBrokerConfig } from "./broker/config.js";
import { createLogger } from "./broker/logger.js";
const flags = JSON.parse(process.argv[2]);
const config = loadBrokerConfig({ flags });
// Silent unless the flags name a level (SAMSA_TEST_BROKER_LOGS below).
const logger = flags["log.level"] ? createLogger(config.logLevel, "json") : undefined;
const broker = await Broker.start(config, { logger });
process.stdout.write("READY\\n");
process.on("SIGTERM", () => broker.stop().then(() => process.exit(0), () => process.exit(1)));
`;

/** Lines of a child's output kept to explain a failure. */
const OUTPUT_KEPT = 30;
/**
 * SAMSA_TEST_BROKER_LOGS=<dir>: every line each broker process writes is also appended to
 * `<dir>/broker-<id>.log` (stamped with the time it arrived), to explain a chaos failure after
 * the fact, at SAMSA_TEST_BROKER_LOG_LEVEL (default info). Unset in `npm test`.
 */
const LOG_DIR = process.env.SAMSA_TEST_BROKER_LOGS;

/** Where a broker listens and what it advertises. */
export interface BrokerEndpoint {
  host: string;
  kafkaPort: number;
  httpPort: number;
}

/** What a ProcessCluster needs of its etcd: one member (TestEtcd) or several (EtcdCluster). */
export interface ClusterEtcd {
  /** `host:port[,host:port...]`: the brokers' `cluster=etcd://...`. */
  readonly endpoint: string;
  /** Stops every member and removes its data. */
  destroy(): Promise<void>;
}

/** Where a cluster's processes run. */
export interface ClusterHosts {
  startEtcd(): Promise<ClusterEtcd>;
  /** Broker `nodeId`'s endpoint, asked once: a restarted broker comes back on it. */
  brokerEndpoint(nodeId: number): Promise<BrokerEndpoint>;
  spawnBroker(nodeId: number, command: string, args: string[], options: SpawnOptions): ChildProcess;
  /** Called last by `close`, once every process is stopped. */
  close(): Promise<void>;
}

/** Every process on loopback, on free ports. */
export const LOOPBACK_HOSTS: ClusterHosts = {
  startEtcd: () => TestEtcd.start(),
  brokerEndpoint: async () => ({
    host: "127.0.0.1",
    kafkaPort: await stablePort(),
    httpPort: await stablePort(),
  }),
  spawnBroker: (_nodeId, command, args, options) => spawn(command, args, options),
  close: async () => {},
};

interface ProcessNode extends BrokerEndpoint {
  nodeId: number;
  dataDir: string;
  child: ChildProcess | null;
  output: string[];
}

export class ProcessCluster {
  readonly nodes = new Map<number, ProcessNode>();

  private constructor(
    readonly etcd: ClusterEtcd,
    private readonly build: ChildBuild,
    private readonly flags: Record<string, unknown>,
    private readonly hosts: ClusterHosts,
  ) {}

  static async start(
    n: number,
    flags: Record<string, unknown> = {},
    hosts: ClusterHosts = LOOPBACK_HOSTS,
  ): Promise<ProcessCluster> {
    let etcd: ClusterEtcd;
    try {
      etcd = await hosts.startEtcd();
    } catch (err) {
      await hosts.close();
      throw err;
    }
    const cluster = new ProcessCluster(etcd, compileChild("cluster-broker-", CHILD), flags, hosts);
    try {
      for (let id = 1; id <= n; id++) await cluster.startNode(id);
      await cluster.waitForBrokers(n);
    } catch (err) {
      await cluster.close();
      throw err;
    }
    return cluster;
  }

  /** Starts broker `nodeId` (again, on the same ports and data) and waits until it listens. */
  async startNode(nodeId: number): Promise<void> {
    let node = this.nodes.get(nodeId);
    if (!node) {
      node = {
        nodeId,
        dataDir: mkdtempSync(path.join(tmpdir(), `samsa-proc-${nodeId}-`)),
        ...(await this.hosts.brokerEndpoint(nodeId)),
        child: null,
        output: [],
      };
      this.nodes.set(nodeId, node);
    }
    const flags = {
      "node.id": nodeId,
      cluster: `etcd://${this.etcd.endpoint}`,
      "data.dir": node.dataDir,
      host: node.host,
      "advertised.host": node.host,
      "kafka.port": node.kafkaPort,
      "http.port": node.httpPort,
      ...CLUSTER_TEST_FLAGS,
      ...this.flags,
      ...(LOG_DIR ? { "log.level": process.env.SAMSA_TEST_BROKER_LOG_LEVEL ?? "info" } : {}),
    };
    const child = this.hosts.spawnBroker(
      nodeId,
      process.execPath,
      [this.build.child, JSON.stringify(flags)],
      {
        cwd: this.build.build,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    node.child = child;
    const keep = (d: Buffer) => {
      const lines = d.toString().split("\n").filter(Boolean);
      if (LOG_DIR) {
        const stamp = new Date().toISOString();
        appendFileSync(
          path.join(LOG_DIR, `broker-${nodeId}.log`),
          lines.map((l) => `${stamp} ${l}\n`).join(""),
        );
      }
      node.output.push(...lines);
      node.output.splice(0, Math.max(0, node.output.length - OUTPUT_KEPT));
    };
    child.stderr?.on("data", keep);
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on("data", (d: Buffer) => {
        keep(d);
        if (d.toString().includes("READY")) resolve();
      });
      child.once("exit", (code, signal) =>
        reject(
          new Error(
            `broker ${nodeId} exited (${code ?? signal}) before listening:\n${node.output.join("\n")}`,
          ),
        ),
      );
    });
  }

  /** `kill -9` of broker `nodeId`; resolves once the process is gone. */
  async kill(nodeId: number): Promise<void> {
    await this.signal(nodeId, "SIGKILL");
  }

  /** SIGTERM (controlled shutdown, then a clean stop); resolves once the process exited. */
  async stopNode(nodeId: number): Promise<void> {
    await this.signal(nodeId, "SIGTERM");
  }

  private async signal(nodeId: number, signal: NodeJS.Signals): Promise<void> {
    const node = this.nodes.get(nodeId);
    const child = node?.child;
    if (!node || !child) return;
    node.child = null;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill(signal);
    await exited;
  }

  /** host:port of every broker started (running or not). */
  bootstrap(): string[] {
    return [...this.nodes.keys()].map((id) => this.endpoint(id));
  }

  /** host:port of broker `nodeId`'s Kafka listener. */
  endpoint(nodeId: number): string {
    const node = this.nodes.get(nodeId);
    if (!node) throw new Error(`no broker ${nodeId}`);
    return `${node.host}:${node.kafkaPort}`;
  }

  /** The pid of broker `nodeId`'s process while one runs. */
  pid(nodeId: number): number | undefined {
    return this.nodes.get(nodeId)?.child?.pid;
  }

  running(): number[] {
    return [...this.nodes.values()].filter((n) => n.child).map((n) => n.nodeId);
  }

  /** A partition as Metadata from a running broker (one of `askIds`, if given) tells it. */
  async partition(
    topic: string,
    partition: number,
    askIds = this.running(),
  ): Promise<PartitionInfo | undefined> {
    const admin = new Admin({ brokers: askIds.map((id) => this.endpoint(id)) });
    try {
      const [info] = await admin.describeTopics([topic]);
      return info?.partitions.find((p) => p.partition === partition);
    } catch {
      return undefined;
    } finally {
      await admin.close();
    }
  }

  /** Waits until Metadata names a leader of `topic`-`partition` that `accept` takes. */
  async waitForLeader(
    topic: string,
    partition: number,
    accept: (leader: number) => boolean,
    askIds?: number[],
  ): Promise<PartitionInfo> {
    let found: PartitionInfo | undefined;
    await waitFor(async () => {
      found = await this.partition(topic, partition, askIds);
      return found !== undefined && found.leader >= 0 && accept(found.leader);
    }, `a leader of ${topic}-${partition}`);
    if (!found) throw new Error("unreachable");
    return found;
  }

  async waitForBrokers(n: number): Promise<void> {
    await waitFor(async () => {
      const cluster = new Cluster({ brokers: this.bootstrap() });
      try {
        await cluster.refresh([]);
        return cluster.brokers().length === n && cluster.controllerId >= 0;
      } catch {
        return false;
      } finally {
        await cluster.close();
      }
    }, `${n} brokers registered`);
  }

  async close(): Promise<void> {
    for (const id of [...this.nodes.keys()]) await this.kill(id);
    for (const node of this.nodes.values()) rmSync(node.dataDir, { recursive: true, force: true });
    this.build.remove();
    try {
      await this.etcd.destroy();
    } finally {
      await this.hosts.close();
    }
  }
}
