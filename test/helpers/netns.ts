/**
 * Test hosts in network namespaces, for the chaos suite (issue 14): a bridge and N named hosts,
 * each a namespace with loopback up and a veth pair into the bridge, on a private /24
 * (10.213.X.0/24, X chosen per network so that several coexist; the bridge holds .1, so the test
 * process reaches every host from the root namespace). Links between two hosts are cut and healed
 * by nftables rules inside the hosts' namespaces (docs/decisions/0032-test-network.md).
 *
 * Every name carries the prefix `smsn<X>`: the bridge `smsn<X>br`, the root ends of the veths
 * `smsn<X>v<i>`, the namespaces `smsn<X>-<host>`. The bridge's alias names the owning pid; a
 * network whose owner is gone (a crashed run) is removed by the next `TestNetwork.create`.
 * Needs root, `ip` (iproute2) and `nft` (nftables); fails naming the missing one.
 */
import { type ChildProcess, execFile, execFileSync, type SpawnOptions, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { pidExists } from "../../storage/dir-lock.js";
import { waitFor } from "./wait.js";

/** Every namespace and link of these networks starts with it; no other helper uses it. */
export const NETNS_PREFIX = "smsn";
/** The networks' addresses: 10.213.X.0/24. */
const SUBNET_BASE = "10.213";
/** Subnets tried, X in [0, SUBNETS). */
const SUBNETS = 256;
/** Hosts get .2 upwards; .1 is the bridge (the root namespace). */
const FIRST_HOST_OCTET = 2;
const MAX_HOSTS = 200;
const HOST_NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;
/** The nftables table each host's namespace holds; its set `cut` lists the peers cut off. */
const NFT_TABLE = "samsa_net";
/** How long one `ip`/`nft` command may take before it counts as failed. */
const COMMAND_TIMEOUT_MS = 20_000;
const OWNER_ALIAS = /^samsa-netns pid=(\d+)$/;

/** One host of a network. */
export interface TestHost {
  name: string;
  /** The namespace (`ip netns exec <namespace> ...`). */
  namespace: string;
  /** Its address on the bridge. */
  address: string;
  /** The veth end in the root namespace, enslaved to the bridge. */
  link: string;
}

function run(command: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, { timeout: COMMAND_TIMEOUT_MS }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${command} ${args.join(" ")} failed: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Fails naming what is missing: root, `ip` or `nft`. */
export function checkNetworkTools(): void {
  if (process.getuid?.() !== 0) {
    throw new Error(
      "TestNetwork needs root (`ip netns add` creates namespaces): run the chaos suite as root",
    );
  }
  const tools = [
    ["ip", "-V", "apt-get install -y iproute2"],
    ["nft", "--version", "apt-get install -y nftables"],
  ];
  for (const [tool, flag, install] of tools) {
    try {
      execFileSync(tool, [flag], { stdio: "ignore", timeout: COMMAND_TIMEOUT_MS });
    } catch {
      throw new Error(`TestNetwork needs \`${tool}\`, which did not run: ${install} (after apt-get update)`);
    }
  }
}

/** Names of our namespaces (`smsn<X>-...`), with their X. */
async function listNamespaces(): Promise<{ name: string; subnet: number }[]> {
  const out = await run("ip", ["netns", "list"]);
  const found = [];
  for (const line of out.split("\n")) {
    const name = line.split(" ")[0] ?? "";
    const match = new RegExp(`^${NETNS_PREFIX}(\\d+)-`).exec(name);
    if (match) found.push({ name, subnet: Number(match[1]) });
  }
  return found;
}

/** Our links in the root namespace, each with its X and (bridges only) the owner pid. */
async function listLinks(): Promise<{ name: string; subnet: number; owner: number | undefined }[]> {
  const links = JSON.parse(await run("ip", ["-j", "link", "show"])) as { ifname: string; ifalias?: string }[];
  const found = [];
  for (const link of links) {
    const match = new RegExp(`^${NETNS_PREFIX}(\\d+)(br|v\\d+)$`).exec(link.ifname);
    if (!match) continue;
    const owner = OWNER_ALIAS.exec(link.ifalias ?? "")?.[1];
    found.push({ name: link.ifname, subnet: Number(match[1]), owner: owner ? Number(owner) : undefined });
  }
  return found;
}

/** SIGKILLs every process inside `namespace` and waits until they are gone. */
async function killAllIn(namespace: string): Promise<void> {
  const pids = (await run("ip", ["netns", "pids", namespace]).catch(() => ""))
    .split("\n")
    .filter((line) => line !== "")
    .map(Number);
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  await waitFor(() => pids.every(gone), `the processes in ${namespace} to die`);
}

/** Whether `pid` has exited (a zombie waiting for its parent counts as gone). */
function gone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

/** Removes namespaces (with their processes) and root links; missing ones are fine. */
async function removeAll(namespaces: string[], links: string[]): Promise<void> {
  for (const namespace of namespaces) {
    await killAllIn(namespace);
    await run("ip", ["netns", "delete", namespace]).catch(() => {});
  }
  // The veths' root ends first (a deleted namespace frees its devices asynchronously), then the bridge.
  const ordered = [...links].sort((a, b) => Number(a.endsWith("br")) - Number(b.endsWith("br")));
  for (const link of ordered) await run("ip", ["link", "delete", link]).catch(() => {});
}

/**
 * Removes every network of ours whose owner process is gone (left by a crashed run): a bridge
 * whose alias names a dead pid, or namespaces and veths whose bridge is gone already.
 */
export async function sweepStaleNetworks(): Promise<void> {
  const namespaces = await listNamespaces();
  const links = await listLinks();
  const live = liveSubnets(links);
  const stale = new Set([...namespaces, ...links].map((x) => x.subnet).filter((x) => !live.has(x)));
  for (const subnet of stale) {
    // Claimed again since the listing (a network destroyed and a new one made on its subnet)?
    if (liveSubnets(await listLinks()).has(subnet)) continue;
    await removeAll(
      namespaces.filter((n) => n.subnet === subnet).map((n) => n.name),
      links.filter((l) => l.subnet === subnet).map((l) => l.name),
    );
  }
}

/** Subnets whose bridge names a live owner. */
function liveSubnets(links: { name: string; subnet: number; owner: number | undefined }[]): Set<number> {
  const owned = links.filter((l) => l.name.endsWith("br") && l.owner !== undefined && pidExists(l.owner));
  return new Set(owned.map((l) => l.subnet));
}

/** Networks of this process not yet destroyed, torn down synchronously if the process exits. */
const open = new Set<TestNetwork>();
process.on("exit", () => {
  for (const network of open) network.destroySync();
});

export class TestNetwork {
  private readonly hosts = new Map<string, TestHost>();
  /** Per host, the peers it is cut off from (kept symmetric). */
  private readonly cuts = new Map<string, Set<string>>();
  private readonly children = new Set<ChildProcess>();
  private destroyed = false;

  private constructor(readonly subnet: number) {}

  /** `smsn<X>`: the start of every name of this network. */
  get prefix(): string {
    return `${NETNS_PREFIX}${this.subnet}`;
  }

  get bridge(): string {
    return `${this.prefix}br`;
  }

  /** The root namespace's address on the bridge (where the test process's packets come from). */
  get bridgeAddress(): string {
    return `${SUBNET_BASE}.${this.subnet}.1`;
  }

  /**
   * Creates a bridge and one host per name, after removing networks left by crashed runs. On a
   * failure halfway, what was made is removed again before the error is thrown.
   */
  static async create(hostNames: string[]): Promise<TestNetwork> {
    checkNetworkTools();
    if (hostNames.length === 0 || hostNames.length > MAX_HOSTS) throw new Error(`1..${MAX_HOSTS} hosts`);
    for (const name of hostNames) {
      if (!HOST_NAME.test(name)) throw new Error(`host name ${JSON.stringify(name)} is not ${HOST_NAME}`);
    }
    if (new Set(hostNames).size !== hostNames.length) throw new Error(`host names repeat: ${hostNames}`);
    await sweepStaleNetworks();
    const network = await TestNetwork.claimSubnet();
    open.add(network);
    try {
      for (const [index, name] of hostNames.entries()) await network.addHost(name, index);
    } catch (err) {
      await network.destroy();
      throw err;
    }
    return network;
  }

  /**
   * Creates the bridge of the first free subnet, starting at one derived from the pid. Creating
   * the bridge (with its owner alias, in one step) is the claim: a subnet taken by another
   * process in the meantime fails with "File exists" and the next one is tried.
   */
  private static async claimSubnet(): Promise<TestNetwork> {
    const taken = new Set((await listLinks()).map((l) => l.subnet));
    for (let i = 0; i < SUBNETS; i++) {
      const subnet = (process.pid + i) % SUBNETS;
      if (taken.has(subnet)) continue;
      const network = new TestNetwork(subnet);
      const alias = `samsa-netns pid=${process.pid}`;
      try {
        await run("ip", ["link", "add", "name", network.bridge, "alias", alias, "type", "bridge"]);
      } catch (err) {
        if (String(err).includes("File exists")) continue;
        throw err;
      }
      await run("ip", ["addr", "add", `${network.bridgeAddress}/24`, "dev", network.bridge]);
      await run("ip", ["link", "set", network.bridge, "up"]);
      return network;
    }
    throw new Error(`no free subnet among ${SUBNET_BASE}.0-${SUBNETS - 1}.0/24`);
  }

  private async addHost(name: string, index: number): Promise<void> {
    const host: TestHost = {
      name,
      namespace: `${this.prefix}-${name}`,
      address: `${SUBNET_BASE}.${this.subnet}.${FIRST_HOST_OCTET + index}`,
      link: `${this.prefix}v${index}`,
    };
    this.hosts.set(name, host);
    this.cuts.set(name, new Set());
    const ns = host.namespace;
    const inner = `${this.prefix}p${index}`;
    await run("ip", ["netns", "add", ns]);
    await run("ip", ["link", "add", host.link, "type", "veth", "peer", "name", inner, "netns", ns]);
    await run("ip", ["-n", ns, "link", "set", inner, "name", "eth0"]);
    await run("ip", ["-n", ns, "addr", "add", `${host.address}/24`, "dev", "eth0"]);
    await run("ip", ["-n", ns, "link", "set", "eth0", "up"]);
    await run("ip", ["-n", ns, "link", "set", "lo", "up"]);
    await run("ip", ["link", "set", host.link, "master", this.bridge, "up"]);
    const rules = [
      `table inet ${NFT_TABLE} {`,
      "  set cut { type ipv4_addr; }",
      "  chain input { type filter hook input priority 0; ip saddr @cut drop; }",
      "  chain output { type filter hook output priority 0; ip daddr @cut drop; }",
      "}",
    ];
    await run("ip", ["netns", "exec", ns, "nft", "-f", "-"], `${rules.join("\n")}\n`);
  }

  /** The host called `name`; throws if there is none. */
  host(name: string): TestHost {
    const host = this.hosts.get(name);
    if (!host) throw new Error(`no host ${name} in ${this.prefix} (hosts: ${[...this.hosts.keys()]})`);
    return host;
  }

  address(name: string): string {
    return this.host(name).address;
  }

  hostNames(): string[] {
    return [...this.hosts.keys()];
  }

  /**
   * Starts `command` inside `host`'s namespace. `ip netns exec` execs the command, so the
   * returned child's pid is the program's own: kill -9, SIGSTOP and SIGCONT reach it directly.
   * `destroy` kills whatever is still running.
   */
  spawn(host: string, command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
    const child = spawn("ip", ["netns", "exec", this.host(host).namespace, command, ...args], options);
    this.children.add(child);
    child.once("exit", () => this.children.delete(child));
    return child;
  }

  /** Runs `command` inside `host`'s namespace to its end; resolves with its stdout. */
  exec(host: string, command: string, args: string[]): Promise<string> {
    return run("ip", ["netns", "exec", this.host(host).namespace, command, ...args]);
  }

  /** Drops every packet between `a` and `b`, both ways; their other links stay up. */
  async cut(a: string, b: string): Promise<void> {
    this.pair(a, b, true);
    await this.apply([a, b]);
  }

  /** Restores the traffic that `cut(a, b)` (or an `isolate` of either) stopped between them. */
  async heal(a: string, b: string): Promise<void> {
    this.pair(a, b, false);
    await this.apply([a, b]);
  }

  /** Cuts `a` off from every other host (the root namespace, so the test, still reaches it). */
  async isolate(a: string): Promise<void> {
    for (const other of this.others(a)) this.pair(a, other, true);
    await this.apply(this.hostNames());
  }

  /** Heals every cut of `a`. */
  async rejoin(a: string): Promise<void> {
    for (const other of this.others(a)) this.pair(a, other, false);
    await this.apply(this.hostNames());
  }

  /** The hosts `a` is cut off from now. */
  cutFrom(a: string): string[] {
    this.host(a);
    return [...(this.cuts.get(a) ?? [])];
  }

  private others(a: string): string[] {
    this.host(a);
    return this.hostNames().filter((name) => name !== a);
  }

  private pair(a: string, b: string, cut: boolean): void {
    this.host(a);
    this.host(b);
    if (a === b) throw new Error(`cannot cut ${a} from itself`);
    for (const [x, y] of [
      [a, b],
      [b, a],
    ] as const) {
      if (cut) this.cuts.get(x)?.add(y);
      else this.cuts.get(x)?.delete(y);
    }
  }

  /** Rewrites each host's set of cut peers, in one nft transaction per host. */
  private async apply(hosts: string[]): Promise<void> {
    if (this.destroyed) throw new Error(`${this.prefix} is destroyed`);
    for (const name of hosts) {
      const peers = [...(this.cuts.get(name) ?? [])].map((peer) => this.address(peer));
      const script = [`flush set inet ${NFT_TABLE} cut`];
      if (peers.length > 0) script.push(`add element inet ${NFT_TABLE} cut { ${peers.join(", ")} }`);
      await run(
        "ip",
        ["netns", "exec", this.host(name).namespace, "nft", "-f", "-"],
        `${script.join("\n")}\n`,
      );
    }
  }

  /**
   * Kills every process in the hosts (SIGKILL), deletes the namespaces (and with them their
   * rules), the veths and the bridge. Safe to call twice and after a failed `create`.
   */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    open.delete(this);
    const namespaces = [...this.hosts.values()].map((h) => h.namespace);
    const links = [...(await listLinks())].filter((l) => l.subnet === this.subnet).map((l) => l.name);
    await removeAll(namespaces, links);
  }

  /** `destroy` for a process that is exiting (no event loop left): best effort, synchronous. */
  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const child of this.children) child.kill("SIGKILL");
    const quiet = { stdio: "ignore", timeout: COMMAND_TIMEOUT_MS } as const;
    for (const host of this.hosts.values()) {
      try {
        execFileSync("ip", ["netns", "delete", host.namespace], quiet);
      } catch {
        // gone already
      }
    }
    for (const link of [...[...this.hosts.values()].map((h) => h.link), this.bridge]) {
      try {
        execFileSync("ip", ["link", "delete", link], quiet);
      } catch {
        // gone already
      }
    }
  }
}
