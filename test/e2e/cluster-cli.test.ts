/**
 * `samsa cluster up`, `cluster elect-leaders` and `topic reassign/reassignments` as a user runs
 * them: one-line refusals of bad input; a local cluster of 3 broker processes and an etcd that
 * every broker's Metadata lists, used through its bootstrap string (an RF=3 topic produced and
 * consumed, a partition's replicas reordered and its leadership moved by a preferred election)
 * and stopped by SIGINT (exit 0, no process left); a broker that cannot start reported and everything stopped (exit 1).
 * Every port is free (0, or a free one for etcd), every wait bounded.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { Admin } from "../../client/admin.js";
import { ROOT, runSamsa } from "../helpers/cli.js";
import { stablePortPair } from "../helpers/ports.js";
import { waitFor, within } from "../helpers/wait.js";

const dir = mkdtempSync(path.join(tmpdir(), "samsa-cluster-cli-"));
const children: ChildProcess[] = [];
/** Bounds a cluster's start and its stop (three controlled shutdowns in turn, then etcd). */
const CLUSTER_DEADLINE_MS = 90_000;
/**
 * Shorter waits between controlled-shutdown attempts and follower polls; the sessions keep their
 * default length, so that three broker processes on a loaded machine keep their registrations.
 */
const FAST = [
  ["-s", "controlled.shutdown.retry.backoff.ms=100"],
  ["-s", "replica.fetch.wait.max.ms=100"],
].flat();

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
  for (const pid of processesUsing(dir)) process.kill(pid, "SIGKILL");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Pids of the processes whose command line names `where` (the cluster's children). */
function processesUsing(where: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(where)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

interface Up {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** `samsa cluster up` in a child of its own, as a terminal runs it. */
function clusterUp(args: string[]): Up {
  const child = spawn(process.execPath, ["bin/samsa.js", "cluster", "up", ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let out = "";
  let err = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/**
 * Reorders up-rf3-0's replicas so that a follower comes first (`topic reassign`), waits until
 * `topic reassignments` lists nothing, then `cluster elect-leaders` makes that follower the leader.
 */
async function moveLeadership(bootstrap: string): Promise<void> {
  const samsa = (args: string[]) => runSamsa(args, { brokers: bootstrap });
  const admin = new Admin({ brokers: bootstrap.split(","), retry: { retries: 2 } });
  try {
    const [before] = (await admin.describeTopics(["up-rf3"]))[0].partitions;
    const replicas = [...before.replicas.filter((id) => id !== before.leader), before.leader];
    const moved = await samsa([
      "topic",
      "reassign",
      "up-rf3",
      "--partition",
      "0",
      "--replicas",
      replicas.join(","),
    ]);
    expect(moved.stdout, moved.stderr).toBe(`reassigning up-rf3-0 to [${replicas.join(",")}]\n`);
    await waitFor(async () => {
      const listed = await samsa(["topic", "reassignments", "up-rf3", "-J"]);
      return listed.status === 0 && JSON.parse(listed.stdout).reassignments.length === 0;
    }, "the reassignment of up-rf3-0 to finish");
    const elected = await samsa(["cluster", "elect-leaders", "--topic", "up-rf3"]);
    expect(elected.status, elected.stderr).toBe(0);
    expect(elected.stdout).toMatch(/^(elected|unchanged) up-rf3-0/);
    await waitFor(async () => {
      admin.cluster.invalidate("up-rf3");
      const [p] = (await admin.describeTopics(["up-rf3"]))[0].partitions;
      return p.leader === replicas[0] && p.replicas.join() === replicas.join();
    }, `broker ${replicas[0]} to lead up-rf3-0`);
  } finally {
    await admin.close();
  }
}

describe("cluster commands refuse bad input in one line", () => {
  it.each([
    [["topic", "reassign", "t", "--partition", "0"], /^samsa: give either --replicas <ids> or --cancel$/],
    [["topic", "reassign", "t", "--partition", "0", "--replicas", "1", "--cancel"], /either --replicas/],
    [
      ["topic", "reassign", "t", "--partition", "0", "--replicas", "1,1"],
      /^samsa: --replicas 1,1: a broker id/,
    ],
    [["topic", "reassign", "t", "--partition", "x", "--replicas", "1"], /^samsa: --partition x: expected/],
    [["cluster", "elect-leaders", "--type", "dirty"], /^samsa: --type dirty: expected preferred or unclean$/],
    [["cluster", "elect-leaders", "--partition", "1"], /^samsa: --partition needs --topic$/],
    [["cluster", "up", "-n", "0"], /^samsa: -n 0: expected a positive integer$/],
    [
      ["cluster", "up", "--kafka-port", "18080"],
      /^samsa: --kafka-port 18080 and --http-port 18080: the port/,
    ],
    [["cluster", "up", "-s", "nonsense"], /^samsa: --set nonsense: expected key=value$/],
  ])("%j", async (args, message) => {
    const r = await runSamsa(args, { brokers: "127.0.0.1:1" });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n")).toEqual([expect.stringMatching(message)]);
  });
});

describe("samsa cluster up", () => {
  it("starts 3 brokers that each list all 3, serves an RF=3 topic, moves a leader, and stops all on SIGINT with exit 0", async () => {
    const where = path.join(dir, "three");
    // etcd takes this port and the next: both claimed, outside the ephemeral range (helpers/ports.ts).
    const etcdPort = await stablePortPair();
    const up = clusterUp(
      [
        "-n",
        "3",
        "--dir",
        where,
        "--kafka-port",
        "0",
        "--http-port",
        "0",
        "--etcd-port",
        String(etcdPort),
        "-J",
      ].concat(FAST),
    );
    await waitFor(
      () => up.stdout().includes("\n") || up.child.exitCode !== null,
      "cluster up to print the cluster",
      CLUSTER_DEADLINE_MS,
    );
    expect(up.child.exitCode, up.stderr()).toBeNull();
    const printed = JSON.parse(up.stdout()) as {
      etcd: { endpoint: string; pid: number };
      brokers: { node_id: number; kafka: string; http: string; data_dir: string; pid: number }[];
      bootstrap: string;
    };
    expect(printed.etcd.endpoint).toBe(`127.0.0.1:${etcdPort}`);
    expect(printed.brokers.map((b) => b.node_id)).toEqual([1, 2, 3]);
    expect(printed.brokers.map((b) => b.data_dir)).toEqual(
      [1, 2, 3].map((i) => path.join(where, `broker-${i}`)),
    );
    expect(printed.bootstrap).toBe(printed.brokers.map((b) => b.kafka).join(","));

    for (const b of printed.brokers) {
      const admin = new Admin({ brokers: [b.kafka], retry: { retries: 2 } });
      try {
        await waitFor(async () => {
          await admin.listTopics();
          return admin.cluster.brokers().length === 3;
        }, `broker ${b.node_id}'s Metadata to list 3 brokers`);
        expect(
          admin.cluster
            .brokers()
            .map((x) => x.nodeId)
            .sort(),
        ).toEqual([1, 2, 3]);
      } finally {
        await admin.close();
      }
    }
    const samsa = (args: string[], input?: string) => runSamsa(args, { brokers: printed.bootstrap, input });
    const created = await samsa(["topic", "create", "up-rf3", "-p", "1", "-r", "3"]);
    expect(created.status, created.stderr).toBe(0);
    const produced = await samsa(["produce", "up-rf3", "--acks", "all"], "a\nb\n");
    expect(produced.status, produced.stderr).toBe(0);
    const read = await samsa(["consume", "up-rf3", "-o", "beginning", "-c", "2", "-f", "%s\n"]);
    expect(read.stdout, read.stderr).toBe("a\nb\n");
    const describe = await samsa(["topic", "describe", "up-rf3", "--no-configs"]);
    expect(describe.stdout, describe.stderr).toMatch(/^0\t[123]\t\[\d,\d,\d\]/m);

    await moveLeadership(printed.bootstrap);

    const pids = [printed.etcd.pid, ...printed.brokers.map((b) => b.pid)];
    up.child.kill("SIGINT");
    expect(await within(up.exited, "cluster up to stop", CLUSTER_DEADLINE_MS)).toBe(0);
    expect(up.stderr()).toMatch(
      /stopping broker 3.*stopping broker 2.*stopping broker 1.*stopping etcd.*stopped/s,
    );
    for (const pid of pids) expect(() => process.kill(pid, 0), `pid ${pid}`).toThrow(/ESRCH/);
    expect(processesUsing(where)).toEqual([]);
    expect(existsSync(path.join(where, "broker-1.log"))).toBe(true);
  }, 240_000);

  it("etcd's port in use: one line naming etcd's error, exit 1, no process left", async () => {
    const where = path.join(dir, "taken");
    // Connections to it (cluster up's /health probes) are closed at once.
    const taken = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const up = clusterUp([
        "-n",
        "1",
        "--dir",
        where,
        "--kafka-port",
        "0",
        "--http-port",
        "0",
        "--etcd-port",
        String(port),
      ]);
      const status = await within(up.exited, "cluster up to give up", CLUSTER_DEADLINE_MS).catch(
        (err: Error) => `${err.message}; stderr: ${up.stderr()}`,
      );
      expect(status, `${up.stdout()} / ${up.stderr()}`).toBe(1);
      const errors = up
        .stderr()
        .split("\n")
        .filter((line) => line.startsWith("samsa:"));
      expect(errors).toEqual([
        expect.stringMatching(/^samsa: etcd exited at start: .*address already in use \(log /),
      ]);
      expect(processesUsing(where)).toEqual([]);
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  }, 120_000);

  it("reports a broker that cannot start and stops everything, exit 1", async () => {
    const where = path.join(dir, "dies");
    const up = clusterUp([
      ...["-n", "2", "--dir", where, "--kafka-port", "0", "--http-port", "0", "--etcd-port", "0"],
      ...["-s", "num.partitions=many"],
    ]);
    expect(await within(up.exited, "cluster up to give up", CLUSTER_DEADLINE_MS)).toBe(1);
    expect(up.stdout()).toBe("");
    expect(up.stderr()).toMatch(
      /^samsa: broker [12] \(pid \d+\) exited with code 1; log .*broker-[12]\.log: .*num\.partitions/m,
    );
    expect(up.stderr()).toContain("stopping etcd");
    expect(processesUsing(where)).toEqual([]);
  }, 120_000);
});
