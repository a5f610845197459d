/**
 * The chaos suite's substrate (test/helpers/netns.ts, net-cluster.ts): hosts in network
 * namespaces whose links the test cuts and heals, processes inside them that signals reach, a
 * teardown that leaves nothing behind; and a cluster on such hosts whose isolated leader is
 * replaced while a producer in the root namespace still reaches it.
 */
import { execFileSync, spawn } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { connect } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { Cluster } from "../../client/cluster.js";
import { Admin, Producer } from "../../client/index.js";
import { readRecords } from "../helpers/cluster.js";
import { brokerHost, ETCD_HOST, startNetCluster } from "../helpers/net-cluster.js";
import { checkNetworkTools, NETNS_PREFIX, TestNetwork } from "../helpers/netns.js";
import { waitFor, within } from "../helpers/wait.js";

/** A probe's answer counts only within this; a cut link never answers, so it prints "timeout". */
const PROBE_MS = 1500;

/** One line in, `pong <host>` out: prints its port once listening. */
const ECHO_SERVER = `
const name = process.argv[1];
const server = require("node:net").createServer((socket) => {
  socket.on("data", () => socket.write("pong " + name + "\\n"));
  socket.on("error", () => {});
});
server.listen(0, () => console.log("PORT " + server.address().port));
`;

/** Sends one line to host:port and prints the answer, or why there is none. */
const PROBE = `
const [host, port, ms] = process.argv.slice(1);
const socket = require("node:net").connect(Number(port), host);
setTimeout(() => { console.log("timeout"); process.exit(0); }, Number(ms));
socket.on("data", (d) => { console.log(String(d).trim()); process.exit(0); });
socket.on("error", (e) => { console.log(e.code); process.exit(0); });
socket.write("ping\\n");
`;

interface Echo {
  pid: number;
  port: number;
  exited: Promise<NodeJS.Signals | null>;
}

async function startEcho(network: TestNetwork, host: string): Promise<Echo> {
  const child = network.spawn(host, process.execPath, ["-e", ECHO_SERVER, host], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.once("exit", (_, signal) => resolve(signal)),
  );
  const port = await within(
    new Promise<number>((resolve) => {
      child.stdout?.on("data", (d: Buffer) => {
        const match = /PORT (\d+)/.exec(d.toString());
        if (match) resolve(Number(match[1]));
      });
    }),
    `an echo server on ${host}`,
  );
  return { pid: child.pid ?? -1, port, exited };
}

/** What `from` (a host, or null: the root namespace) hears back from `to`'s echo server. */
async function probe(network: TestNetwork, from: string | null, to: string, echo: Echo): Promise<string> {
  const args = ["-e", PROBE, network.address(to), String(echo.port), String(PROBE_MS)];
  if (from !== null) return (await network.exec(from, process.execPath, args)).trim();
  const socket = connect(echo.port, network.address(to));
  try {
    return await new Promise<string>((resolve) => {
      const timer = setTimeout(() => resolve("timeout"), PROBE_MS);
      socket.once("data", (d) => resolve(String(d).trim()));
      socket.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? "error"));
      socket.write("ping\n");
      socket.once("close", () => clearTimeout(timer));
    });
  } finally {
    socket.destroy();
  }
}

/** Waits until `from` reaches `to` (a fresh connection answered). */
async function waitReach(network: TestNetwork, from: string | null, to: string, echo: Echo): Promise<void> {
  await waitFor(
    async () => (await probe(network, from, to, echo)) === `pong ${to}`,
    `${from ?? "root"} -> ${to}`,
  );
}

/** What a network of prefix `smsn<X>` may leave: namespaces, root links, root nft tables. */
function leftovers(prefix: string): string[] {
  const namespaces = root("ip", ["netns", "list"])
    .split("\n")
    .map((line) => line.split(" ")[0] ?? "");
  const links = (JSON.parse(root("ip", ["-j", "link", "show"])) as { ifname: string }[]).map((l) => l.ifname);
  const tables = root("nft", ["list", "tables"]).split("\n");
  const ours = new RegExp(`^(${prefix}-.*|${prefix}br|${prefix}v\\d+|.*samsa_net.*)$`);
  return [...namespaces, ...links, ...tables].filter((name) => ours.test(name)).sort();
}

function root(command: string, args: string[]): string {
  return execFileSync(command, args, { encoding: "utf8", timeout: 20_000 });
}

describe("test hosts in network namespaces", () => {
  let network: TestNetwork;
  const echoes = new Map<string, Echo>();

  beforeAll(async () => {
    network = await TestNetwork.create(["a", "b", "c"]);
    for (const host of network.hostNames()) echoes.set(host, await startEcho(network, host));
  });

  afterAll(async () => {
    await network?.destroy();
  });

  afterEach(async () => {
    for (const host of network.hostNames()) await network.rejoin(host);
  });

  const echo = (host: string): Echo => echoes.get(host) ?? expect.fail(`no echo on ${host}`);

  it("cut stops TCP between two hosts both ways, each still reaches the third and the root; heal restores", async () => {
    for (const [from, to] of [
      ["a", "b"],
      ["b", "a"],
      ["a", "c"],
    ] as const)
      await waitReach(network, from, to, echo(to));
    // A connection from a to b, open across the cut: what it sends meanwhile arrives after the heal.
    const held = await relay(network, "a", "b", echo("b"));
    held.send();
    expect(await held.next()).toBe("pong b");
    await network.cut("a", "b");
    expect(network.cutFrom("a")).toEqual(["b"]);
    expect(await probe(network, "a", "b", echo("b"))).toBe("timeout");
    expect(await probe(network, "b", "a", echo("a"))).toBe("timeout");
    await waitReach(network, "a", "c", echo("c"));
    await waitReach(network, "b", "c", echo("c"));
    await waitReach(network, null, "a", echo("a"));
    await waitReach(network, null, "b", echo("b"));
    // Sent just before the heal (its retransmission timer stays short): held back until then.
    held.send();
    expect(await probe(network, "a", "b", echo("b"))).toBe("timeout");
    expect(held.received()).toEqual([]);
    await network.heal("a", "b");
    expect(await held.next()).toBe("pong b");
    held.close();
    await waitReach(network, "a", "b", echo("b"));
    await waitReach(network, "b", "a", echo("a"));
  });

  it("isolate cuts every link of a host but the root's; rejoin restores them", async () => {
    await network.isolate("a");
    for (const [from, to] of [
      ["a", "b"],
      ["a", "c"],
      ["b", "a"],
      ["c", "a"],
    ] as const)
      expect(await probe(network, from, to, echo(to))).toBe("timeout");
    await waitReach(network, "b", "c", echo("c"));
    await waitReach(network, null, "a", echo("a"));
    await network.rejoin("a");
    expect(network.cutFrom("a")).toEqual([]);
    await waitReach(network, "a", "b", echo("b"));
    await waitReach(network, "c", "a", echo("a"));
  });

  it("spawn's pid is the program's own, in the host's namespace: SIGSTOP pauses it, SIGCONT resumes it", async () => {
    const paused = await startEcho(network, "c");
    expect(readFileSync(`/proc/${paused.pid}/cmdline`, "utf8").split("\0")[0]).toBe(process.execPath);
    const netns = statSync(`/proc/${paused.pid}/ns/net`).ino;
    expect(netns).toBe(statSync(`/run/netns/${network.host("c").namespace}`).ino);
    expect(netns).not.toBe(statSync("/proc/self/ns/net").ino);
    process.kill(paused.pid, "SIGSTOP");
    await waitFor(() => procState(paused.pid) === "T", "the echo server stopped");
    const line = await rootLine(network, "c", paused.port);
    line.send();
    // The kernel still accepts the connection; the program answers nothing while it is stopped.
    await waitReach(network, null, "c", echo("c"));
    expect(line.received()).toEqual([]);
    process.kill(paused.pid, "SIGCONT");
    expect(await line.next()).toBe("pong c");
    line.close();
    process.kill(paused.pid, "SIGKILL");
    expect(await within(paused.exited, "the echo server to die")).toBe("SIGKILL");
  });

  it("refuses to start without root or without ip, naming what is missing", () => {
    const uid = vi.spyOn(process, "getuid").mockReturnValue(1000);
    expect(() => checkNetworkTools()).toThrow(/needs root/);
    uid.mockRestore();
    const path = process.env.PATH;
    process.env.PATH = "/nonexistent";
    try {
      expect(() => checkNetworkTools()).toThrow(/needs `ip`.*apt-get install -y iproute2/);
    } finally {
      process.env.PATH = path;
    }
  });
});

describe("teardown", () => {
  it("destroy leaves no namespace, link, rule or process behind", async () => {
    const network = await TestNetwork.create(["x", "y"]);
    try {
      const echo = await startEcho(network, "x");
      await network.cut("x", "y");
      expect(await network.exec("x", "nft", ["list", "set", "inet", "samsa_net", "cut"])).toContain(
        network.address("y"),
      );
      expect(leftovers(network.prefix)).toEqual(
        ["-x", "-y", "br", "v0", "v1"].map((suffix) => `${network.prefix}${suffix}`).sort(),
      );
      await network.destroy();
      expect(await within(echo.exited, "the process inside to die")).toBe("SIGKILL");
      expect(leftovers(network.prefix)).toEqual([]);
    } finally {
      await network.destroy();
    }
  });

  it("create removes what a crashed run left: its namespaces, their processes, its links", async () => {
    const dead = await deadPid();
    const prefix = `${NETNS_PREFIX}${freeSubnet()}`;
    root("ip", ["link", "add", "name", `${prefix}br`, "alias", `samsa-netns pid=${dead}`, "type", "bridge"]);
    root("ip", ["netns", "add", `${prefix}-left`]);
    root("ip", [
      "link",
      "add",
      `${prefix}v0`,
      "type",
      "veth",
      "peer",
      "name",
      "eth0",
      "netns",
      `${prefix}-left`,
    ]);
    const orphan = spawn("ip", ["netns", "exec", `${prefix}-left`, "sleep", "600"], { stdio: "ignore" });
    const orphanExit = new Promise((resolve) => orphan.once("exit", (_, signal) => resolve(signal)));
    await waitFor(() => procState(orphan.pid ?? -1) === "S", "the orphan asleep in its namespace");
    expect(leftovers(prefix)).toHaveLength(3);
    const network = await TestNetwork.create(["fresh"]);
    try {
      expect(await within(orphanExit, "the orphan killed")).toBe("SIGKILL");
      expect(leftovers(prefix)).toEqual([]);
    } finally {
      await network.destroy();
    }
  });
});

describe("a cluster on test hosts", () => {
  it("replaces a leader isolated from brokers and etcd; acks=all writes go on from the root namespace", async () => {
    const { cluster, network } = await startNetCluster(3);
    try {
      const topic = "isolated";
      const admin = new Admin({ brokers: cluster.bootstrap() });
      await admin.createTopics([
        { name: topic, partitions: 1, replicationFactor: 3, configs: { "min.insync.replicas": "2" } },
      ]);
      await admin.close();
      await waitFor(async () => (await cluster.partition(topic, 0))?.isr.length === 3, "ISR of 3");
      const before = await cluster.waitForLeader(topic, 0, () => true);
      const metadata = new Cluster({ brokers: cluster.bootstrap() });
      await metadata.refresh([]);
      await metadata.close();
      const advertised = metadata.brokers().map((b) => [b.nodeId, b.host]);
      expect(advertised.sort()).toEqual([1, 2, 3].map((id) => [id, network.address(brokerHost(id))]));
      const others = cluster.running().filter((id) => id !== before.leader);
      // The isolated leader goes on answering Metadata with its last view (itself, the old
      // epoch), and the client asks the first reachable bootstrap broker: listed first, it would
      // keep the producer on it. Listed last, the producer refreshes from a broker that knows.
      const bootstrap = [...others, before.leader].map((id) => cluster.endpoint(id));
      // A write held by the isolated leader (its followers gone, its ISR frozen without etcd) is
      // answered unacknowledged after ackTimeoutMs; the producer retries it on the new leader.
      const producer = new Producer({ brokers: bootstrap }, { acks: -1, lingerMs: 1, ackTimeoutMs: 2000 });
      const acked: string[] = [];
      const send = async (value: string) => {
        await producer.send({ topic, value });
        acked.push(value);
      };
      for (let i = 0; i < 20; i++) await send(`before-${i}`);
      await network.isolate(brokerHost(before.leader));
      expect(network.cutFrom(brokerHost(before.leader))).toContain(ETCD_HOST);
      const after = await cluster.waitForLeader(topic, 0, (id) => id !== before.leader, others);
      expect(after.leaderEpoch).toBeGreaterThan(before.leaderEpoch);
      expect(await cluster.partition(topic, 0, [before.leader]), "the root still reaches it").toBeDefined();
      for (let i = 0; i < 20; i++) await within(send(`after-${i}`), `acks=all write ${i} on the new leader`);
      await producer.close();
      const read = await readRecords(
        others.map((id) => cluster.endpoint(id)),
        topic,
        acked.length,
      );
      expect(acked.filter((v) => !read.includes(v))).toEqual([]);
    } finally {
      await cluster.close();
    }
    expect(leftovers(network.prefix)).toEqual([]);
  });
});

/** A connection from the root namespace to host:port, line by line. */
async function rootLine(network: TestNetwork, host: string, port: number): Promise<Lines> {
  const socket = connect(port, network.address(host));
  await within(new Promise((resolve) => socket.once("connect", resolve)), `a connection to ${host}`);
  return lines(socket, socket, () => socket.destroy());
}

/** Relays its stdin to host:port and the answers to its stdout. */
const RELAY = `
const [host, port] = process.argv.slice(1);
const socket = require("node:net").connect(Number(port), host, () => console.log("CONNECTED"));
process.stdin.pipe(socket);
socket.pipe(process.stdout);
`;

/** A connection from host `from` to `to`'s echo server, kept open across cuts, line by line. */
async function relay(network: TestNetwork, from: string, to: string, echo: Echo): Promise<Lines> {
  const args = ["-e", RELAY, network.address(to), String(echo.port)];
  const child = network.spawn(from, process.execPath, args, { stdio: ["pipe", "pipe", "inherit"] });
  if (!child.stdout || !child.stdin) throw new Error("no pipes");
  const out = lines(child.stdout, child.stdin, () => child.kill("SIGKILL"));
  expect(await out.next()).toBe("CONNECTED");
  return out;
}

interface Lines {
  /** The next line not yet taken. */
  next(): Promise<string>;
  /** Lines received and not yet taken. */
  received(): string[];
  /** Writes one request line. */
  send(): void;
  close(): void;
}

function lines(input: NodeJS.ReadableStream, output: NodeJS.WritableStream, close: () => void): Lines {
  const got: string[] = [];
  let taken = 0;
  let buffer = "";
  input.on("data", (d: Buffer) => {
    buffer += d.toString();
    const parts = buffer.split("\n");
    buffer = parts.pop() ?? "";
    got.push(...parts);
  });
  return {
    async next() {
      await waitFor(() => got.length > taken, "a line");
      return got[taken++] ?? "";
    },
    received: () => got.slice(taken),
    send: () => output.write("ping\n"),
    close,
  };
}

/** The state letter of /proc/<pid>/stat (R, S, T, Z...), or "gone". */
function procState(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.charAt(stat.lastIndexOf(")") + 2);
  } catch {
    return "gone";
  }
}

async function deadPid(): Promise<number> {
  const child = spawn("true");
  await new Promise((resolve) => child.once("exit", resolve));
  return child.pid ?? expect.fail("no pid");
}

/** A subnet no network holds now, from the top down (networks claim from their pid up). */
function freeSubnet(): number {
  const links = (JSON.parse(root("ip", ["-j", "link", "show"])) as { ifname: string }[]).map((l) => l.ifname);
  for (let subnet = 255; subnet >= 0; subnet--) {
    if (!links.some((name) => new RegExp(`^${NETNS_PREFIX}${subnet}(br|v\\d+)$`).test(name))) return subnet;
  }
  throw new Error("no free subnet");
}
