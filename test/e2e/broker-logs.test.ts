/**
 * `samsa broker start`'s log as an operator sees it: JSON lines when stderr is not a terminal,
 * readable lines on a terminal (run under `script`, which gives the broker a pseudo-terminal) or
 * with --log-format pretty; topic creation, auto-creation and deletion at info, connections
 * opened and closed at debug.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { TestClient } from "../helpers/kafka-client.js";
import { waitFor, within } from "../helpers/wait.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const SCRIPT_INSTALL = "apt-get install -y bsdutils";
const ESC = "\x1b";
const scratch = mkdtempSync(path.join(tmpdir(), "samsa-logs-"));
const running: ChildProcess[] = [];
afterEach(async () => {
  for (const child of running.splice(0)) {
    const exited = new Promise((resolve) => child.once("close", resolve));
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await within(exited, "the broker to stop").catch(() => child.kill("SIGKILL"));
  }
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Broker {
  port: number;
  /** Everything written so far (stderr; under `script`, the terminal's output). */
  output(): string;
}

/** Starts the bin's broker on free ports; `command` wraps the argument list (e.g. in `script`). */
async function startBroker(flags: string[], wrap?: (args: string[]) => [string, string[]]): Promise<Broker> {
  const dataDir = mkdtempSync(path.join(scratch, "data-"));
  const args = [
    "bin/samsa.js",
    "broker",
    "start",
    "--data-dir",
    dataDir,
    "--kafka-port",
    "0",
    "--http-port",
    "0",
  ];
  const [file, argv] = wrap
    ? wrap([process.execPath, ...args, ...flags])
    : [process.execPath, [...args, ...flags]];
  const child = spawn(file, argv, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  running.push(child);
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d));
  child.stderr!.on("data", (d: Buffer) => (output += d));
  let port = 0;
  await waitFor(() => {
    const m = /listening: kafka [\d.]+:(\d+)/.exec(output);
    if (m) port = Number(m[1]);
    if (child.exitCode !== null) throw new Error(`broker exited ${child.exitCode}: ${output}`);
    return port > 0;
  }, "the broker to start");
  return { port, output: () => output };
}

/** Creates, auto-creates (Metadata with allowAutoTopicCreation) and deletes topics. */
async function topicEvents(port: number): Promise<void> {
  const c = await TestClient.connect(port);
  try {
    await c.request(3, 9, { topics: [{ name: "logs-auto" }], allowAutoTopicCreation: true });
    const created = await c.request(19, 4, {
      topics: [
        {
          name: "logs-made",
          numPartitions: 2,
          replicationFactor: 1,
          assignments: [],
          configs: [{ name: "retention.ms", value: "60000" }],
        },
      ],
      timeoutMs: 10_000,
      validateOnly: false,
    });
    expect(created.topics[0].errorCode).toBe(0);
    const deleted = await c.request(20, 4, { topicNames: ["logs-made"], timeoutMs: 10_000 });
    expect(deleted.responses[0].errorCode).toBe(0);
  } finally {
    c.close();
  }
}

function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe("broker log", () => {
  it("is JSON lines when stderr is not a terminal: topic events at info, connections at debug", async () => {
    const b = await startBroker(["-s", "log.level=debug"]);
    await topicEvents(b.port);
    const has = (msg: string) => jsonLines(b.output()).some((e) => e.msg === msg);
    await waitFor(() => has("topic deleted") && has("connection closed"), "the topic and connection events");
    const lines = b
      .output()
      .split("\n")
      .filter((l) => l.startsWith("{"));
    expect(lines.length).toBeGreaterThan(3);
    const events = jsonLines(b.output());
    expect(events.find((e) => e.msg === "topic auto-created")).toMatchObject({
      level: 30,
      topic: "logs-auto",
      partitions: 1,
      replicationFactor: 1,
      configs: {},
    });
    expect(events.find((e) => e.msg === "topic created")).toMatchObject({
      level: 30,
      topic: "logs-made",
      partitions: 2,
      configs: { "retention.ms": "60000" },
    });
    expect(events.find((e) => e.msg === "topic deleted")).toMatchObject({
      level: 30,
      topic: "logs-made",
      partitions: 2,
    });
    expect(events.find((e) => e.msg === "connection opened")).toMatchObject({
      level: 20,
      listener: "PLAINTEXT",
    });
    expect(events.find((e) => e.msg === "connection closed")).toMatchObject({
      level: 20,
      listener: "PLAINTEXT",
    });
  });

  it("leaves connections out at the default level, info", async () => {
    const b = await startBroker(["--log-format", "json"]);
    await topicEvents(b.port);
    await waitFor(() => b.output().includes('"topic deleted"'), "the topic deleted event");
    expect(jsonLines(b.output()).filter((e) => String(e.msg).startsWith("connection"))).toEqual([]);
  });

  it("is readable lines on a terminal", async () => {
    const probe = spawnSync("script", ["--version"], { encoding: "utf8" });
    if (probe.error) throw new Error(`this test needs script(1): ${SCRIPT_INSTALL}`);
    const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
    const b = await startBroker([], (argv) => ["script", ["-qfec", argv.map(quote).join(" "), "/dev/null"]]);
    await topicEvents(b.port);
    await waitFor(() => b.output().includes("topic deleted"), "the topic deleted line");
    const plain = b.output().replaceAll("\r", "").replaceAll(`${ESC}[32m`, "").replaceAll(`${ESC}[0m`, "");
    expect(plain).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO +topic created topic=logs-made partitions=2 /m);
    expect(plain).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO +topic deleted topic=logs-made partitions=2$/m);
    expect(plain).not.toContain('{"level"');
    expect(b.output()).toContain(`${ESC}[32mINFO`);
  });

  it("--log-format pretty gives readable lines without a terminal; a bad format is one-line error", async () => {
    const b = await startBroker(["--log-format", "pretty"]);
    await topicEvents(b.port);
    await waitFor(() => b.output().includes("topic deleted"), "the topic deleted line");
    expect(b.output()).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} INFO {2}topic auto-created topic=logs-auto partitions=1 /m,
    );
    expect(b.output()).not.toContain(ESC);

    const bad = spawnSync(process.execPath, ["bin/samsa.js", "broker", "start", "--log-format", "xml"], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(bad.status).toBe(1);
    expect(bad.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^samsa: .*log.format=xml/)]);
  });
});
