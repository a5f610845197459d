/**
 * `samsa cluster info` and `samsa cluster health` as a user runs them, against three in-process
 * brokers on one etcd (rack r1): info's CLUSTER, BROKERS (controller starred, rack) and TOPICS
 * sections, `-d`, `-i` and `-J`; health healthy (exit 0), then with a broker stopped (exit 1:
 * nodes_down, the partition only it held leaderless, the others under-replicated),
 * `--exit-when-healthy` waiting out the broker's restart (exit 0) and bounded by `--timeout-ms`
 * (also at a broker that never answers), `--watch` ended by Ctrl-C,
 * an unreachable cluster (exit 2, one line) and a bad flag (exit 2).
 */
import { spawn } from "node:child_process";
import * as net from "node:net";
import { describe, expect, it } from "vitest";
import { freePort } from "../../broker/metadata/etcd-launcher.js";
import { Admin } from "../../client/admin.js";
import { ROOT, runSamsa } from "../helpers/cli.js";
import { clusterForFile, type TestCluster } from "../helpers/cluster.js";
import { waitFor, within } from "../helpers/wait.js";

let cluster: TestCluster;
clusterForFile(3, { "broker.rack": "r1" }, (c) => {
  cluster = c;
});

/** The broker stopped in the middle of the file: not the controller, so a controller stays. */
let down = -1;
let controller = -1;

function samsa(args: string[]) {
  return runSamsa(args, { brokers: cluster.bootstrap().join(","), timeoutMs: 60_000 });
}

/** `samsa <args>` left running, its stdout collected as it comes. */
function running(args: string[]) {
  const child = spawn(process.execPath, ["bin/samsa.js", "-b", cluster.bootstrap().join(","), ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

const lines = (s: string) => s.split("\n").filter((l) => l !== "");

describe("samsa cluster info", () => {
  it("sets up: an RF=3 topic in sync, and a topic held by one non-controller broker alone", async () => {
    controller = cluster.running()[0].store.controller()?.nodeId ?? -1;
    down = [3, 2, 1].find((id) => id !== controller) ?? -1;
    const admin = new Admin({ brokers: cluster.bootstrap() });
    try {
      await admin.createTopics([
        { name: "hot", partitions: 2, replicationFactor: 3 },
        { name: "solo", assignments: [[down]] },
      ]);
    } finally {
      await admin.close();
    }
    for (const p of [0, 1]) await cluster.waitForIsr("hot", p, [1, 2, 3]);
    await cluster.waitForIsr("solo", 0, [down]);
  });

  it("prints CLUSTER (id, controller), BROKERS (controller starred, rack) and TOPICS", async () => {
    const r = await samsa(["cluster", "info"]);
    expect(r.status, r.stderr).toBe(0);
    const clusterId = cluster.running()[0].store.clusterId();
    expect(r.stdout).toContain(`CLUSTER\n=======\nID          ${clusterId}\nCONTROLLER  ${controller}\n\n`);
    const brokers = r.stdout.slice(r.stdout.indexOf("BROKERS"), r.stdout.indexOf("TOPICS"));
    expect(lines(brokers).slice(0, 2)).toEqual(["BROKERS", "======="]);
    expect(lines(brokers)[2].split(/\s+/)).toEqual(["ID", "HOST", "PORT", "RACK"]);
    const rows = lines(brokers)
      .slice(3)
      .map((l) => l.split(/\s+/));
    expect(rows.map((row) => row[0])).toEqual(
      [1, 2, 3].map((id) => (id === controller ? `${id}*` : String(id))),
    );
    for (const row of rows) expect(row[3]).toBe("r1");
    const topics = lines(r.stdout.slice(r.stdout.indexOf("TOPICS")));
    expect(topics.slice(2).map((l) => l.split(/\s+/))).toEqual([
      ["NAME", "PARTITIONS", "REPLICAS"],
      ["hot", "2", "3"],
      ["solo", "1", "1"],
    ]);
  });

  it("-d: each topic's partitions with leader, epoch, replicas, ISR, offline replicas", async () => {
    const r = await samsa(["cluster", "info", "-d"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("hot, 2 partitions, 3 replicas\n");
    expect(r.stdout).toContain("solo, 1 partitions, 1 replicas\n");
    expect(r.stdout).toMatch(/PARTITION\s+LEADER\s+EPOCH\s+REPLICAS\s+ISR\s+OFFLINE-REPLICAS/);
    expect(r.stdout).toMatch(
      new RegExp(`\\n\\s+0\\s+${down}\\s+\\d+\\s+\\[${down}\\]\\s+\\[${down}\\]\\s+\\[\\]`),
    );
  });

  it("-J: one object; -i adds the internal topics", async () => {
    const r = await samsa(["cluster", "info", "-J", "-i"]);
    expect(r.status, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info).toMatchObject({ controller_id: controller, cluster_id: expect.any(String) });
    expect(info.brokers).toEqual(
      [1, 2, 3].map((id) => ({ node_id: id, host: "127.0.0.1", port: expect.any(Number), rack: "r1" })),
    );
    const solo = info.topics.find((t: { name: string }) => t.name === "solo");
    expect(solo).toEqual({
      name: "solo",
      internal: false,
      partition_count: 1,
      replication_factor: 1,
      partitions: [
        {
          partition: 0,
          leader: down,
          leader_epoch: expect.any(Number),
          replicas: [down],
          isr: [down],
          offline_replicas: [],
        },
      ],
    });
  });
});

describe("samsa cluster health", () => {
  it("a healthy cluster: the overview, exit 0", async () => {
    const r = await samsa(["cluster", "health"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      [
        "CLUSTER HEALTH OVERVIEW",
        "=======================",
        "Healthy:                          true",
        "Unhealthy reasons:                []",
        `Controller ID:                    ${controller}`,
        "All nodes:                        [1 2 3]",
        "Nodes down:                       []",
        "Leaderless partitions (0):        []",
        "Under-replicated partitions (0):  []",
        "",
      ].join("\n"),
    );
  });

  it("a broker stopped: nodes_down, its lone partition leaderless, the others under-replicated, exit 1", async () => {
    await cluster.stopNode(down);
    await waitFor(
      () => cluster.running().every((b) => !b.store.brokers().some((x) => x.nodeId === down)),
      `broker ${down} gone from every store`,
    );
    const r = await samsa(["cluster", "health", "-J"]);
    expect(r.status, r.stderr).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual({
      healthy: false,
      unhealthy_reasons: ["nodes_down", "leaderless_partitions", "under_replicated_partitions"],
      controller_id: controller,
      all_nodes: [1, 2, 3],
      nodes_down: [down],
      leaderless_count: 1,
      leaderless_partitions: ["solo/0"],
      under_replicated_count: 2,
      under_replicated_partitions: ["hot/0", "hot/1"],
    });
    const text = await samsa(["cluster", "health"]);
    expect(text.status).toBe(1);
    expect(text.stdout).toContain(
      "Unhealthy reasons:                [nodes_down leaderless_partitions under_replicated_partitions]\n",
    );
    expect(text.stdout).toContain(`Nodes down:                       [${down}]\n`);
    expect(text.stdout).toContain("Leaderless partitions (1):        [solo/0]\n");
  });

  it("--exit-when-healthy waits until the broker is back and in sync, exit 0", async () => {
    const run = running(["cluster", "health", "-e", "-J", "--interval-ms", "100", "--timeout-ms", "60000"]);
    await waitFor(() => run.stdout().includes('"healthy":false'), "the first, unhealthy, report");
    await cluster.startNode(down);
    expect(await within(run.exited, "health -e to exit", 60_000), run.stderr()).toBe(0);
    const reports = lines(run.stdout()).map((l) => JSON.parse(l));
    expect(reports[0].healthy).toBe(false);
    expect(reports.at(-1)).toMatchObject({ healthy: true, nodes_down: [], all_nodes: [1, 2, 3] });
  });

  it("--exit-when-healthy gives up after --timeout-ms with the last report's exit code", async () => {
    const port = await freePort();
    const r = await runSamsa(["cluster", "health", "-e", "--interval-ms", "50", "--timeout-ms", "300"], {
      brokers: `127.0.0.1:${port}`,
    });
    expect(r.status).toBe(2);
    expect(lines(r.stderr)).toEqual([expect.stringMatching(/^samsa: cannot reach the cluster: /)]);
  });

  it("--exit-when-healthy stops at --timeout-ms even while a broker holds its request unanswered", async () => {
    const held: net.Socket[] = [];
    const silent = net.createServer((socket) => held.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = silent.address() as net.AddressInfo;
      const r = await runSamsa(["cluster", "health", "-e", "--timeout-ms", "500"], {
        brokers: `127.0.0.1:${port}`,
      });
      expect(r.status).toBe(2);
      expect(r.stderr).toBe("samsa: cannot reach the cluster: no answer before --timeout-ms passed\n");
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it("--watch prints the overview and keeps looking until Ctrl-C, then exits with its code", async () => {
    const run = running(["cluster", "health", "--watch", "--interval-ms", "100"]);
    await waitFor(() => run.stdout().includes("Under-replicated partitions"), "the first overview");
    run.child.kill("SIGINT");
    expect(await within(run.exited, "health --watch to exit", 20_000), run.stderr()).toBe(0);
    expect(run.stdout().match(/CLUSTER HEALTH OVERVIEW/g)).toHaveLength(1);
  });

  it("an unreachable cluster: one line, exit 2", async () => {
    const port = await freePort();
    const r = await runSamsa(["cluster", "health"], { brokers: `127.0.0.1:${port}` });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(lines(r.stderr)).toEqual([expect.stringMatching(/^samsa: cannot reach the cluster: /)]);
  });

  it("a bad flag: one line, exit 2 (1 means unhealthy)", async () => {
    for (const args of [
      ["cluster", "health", "--timeout-ms", "soon"],
      ["cluster", "health", "--no-such-flag"],
    ]) {
      const r = await samsa(args);
      expect(r.status, args.join(" ")).toBe(2);
      expect(lines(r.stderr), args.join(" ")).toEqual([expect.stringMatching(/^samsa: /)]);
    }
  });
});
