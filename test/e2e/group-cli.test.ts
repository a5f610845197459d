/**
 * Consumer groups from the shell, as a user runs them (the compiled bin): `samsa consume -g`
 * (kcat -G behaviour: balanced members, resume from commits), `samsa group list | describe |
 * reset-offsets | delete`, and their one-line errors.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { type CliRun, ROOT, runSamsa } from "../helpers/cli.js";
import { waitFor } from "../helpers/wait.js";

let tb: TestBroker;
let brokers: string;
const running: ChildProcess[] = [];

beforeAll(async () => {
  tb = await startTestBroker({
    "group.initial.rebalance.delay.ms": 500,
    "group.min.session.timeout.ms": 1000,
  });
  brokers = `127.0.0.1:${tb.port}`;
}, 120_000);
afterEach(() => {
  for (const c of running.splice(0)) c.kill("SIGKILL");
});
afterAll(async () => tb.stop());

function samsa(args: string[], input = ""): Promise<CliRun> {
  return runSamsa(args, { brokers, input });
}

/** A long-running `samsa consume -g` whose output lines are collected as they come. */
function member(topic: string, group: string) {
  const child = spawn(
    process.execPath,
    ["bin/samsa.js", "-b", brokers, "consume", topic, "-g", group, "-o", "beginning", "-f", "%p %o %s\\n"],
    { cwd: ROOT },
  );
  running.push(child);
  const lines: string[] = [];
  let partial = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    const text = partial + d.toString();
    const parts = text.split("\n");
    partial = parts.pop() ?? "";
    lines.push(...parts);
  });
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  return { child, lines, exited, stderr: () => stderr };
}

/** The data rows of `group describe`: partition -> [current, end, lag, consumer]. */
function describeRows(stdout: string): Map<number, string[]> {
  const rows = new Map<number, string[]>();
  for (const line of stdout.split("\n").slice(3)) {
    const cells = line.trim().split(/\s+/);
    if (cells.length >= 6) rows.set(Number(cells[2]), [cells[3], cells[4], cells[5], cells[6] ?? "-"]);
  }
  return rows;
}

const keyed = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => `k${from + i}:v${from + i}`).join("\n");

describe("samsa consume -g and samsa group", () => {
  it("two members share a topic, commit what they printed, and a later member resumes", async () => {
    expect((await samsa(["topic", "create", "gc", "-p", "4"])).status).toBe(0);
    expect((await samsa(["produce", "gc", "-K", ":"], keyed(0, 40))).status).toBe(0);
    const a = member("gc", "cli-g");
    const b = member("gc", "cli-g");
    const values = () => [...a.lines, ...b.lines].map((l) => l.split(" ")[2]);
    await waitFor(() => new Set(values()).size === 40, "all 40 records printed by the two members");

    // While both run: two members, each partition owned by exactly one.
    let described = "";
    await waitFor(async () => {
      described = (await samsa(["group", "describe", "cli-g"])).stdout;
      const owners = [...describeRows(described).values()].map((r) => r[3]);
      return owners.length === 4 && owners.every((o) => o !== "-") && new Set(owners).size === 2;
    }, "a Stable group of two members owning all four partitions");
    expect(described).toMatch(/Consumer group 'cli-g' is Stable with 2 member\(s\), assignor range/);
    expect(described).toMatch(
      /GROUP\s+TOPIC\s+PARTITION\s+CURRENT-OFFSET\s+LOG-END-OFFSET\s+LAG\s+CONSUMER-ID\s+HOST\s+CLIENT-ID/,
    );
    // Printed offsets are committed before a partition changes hands: nothing printed twice.
    expect(values().sort()).toEqual(Array.from({ length: 40 }, (_, i) => `v${i}`).sort());

    a.child.kill("SIGINT");
    b.child.kill("SIGINT");
    expect(await a.exited).toBe(0);
    expect(await b.exited).toBe(0);
    const after = await samsa(["group", "describe", "cli-g"]);
    expect(after.stdout).toContain("has no active members (state Empty)");
    const rows = describeRows(after.stdout);
    expect(rows.size).toBe(4);
    let total = 0;
    for (const [, [current, end, lag]] of rows) {
      expect(current).toBe(end);
      expect(lag).toBe("0");
      total += Number(end);
    }
    expect(total).toBe(40);
    expect((await samsa(["group", "list"])).stdout).toMatch(/cli-g\s+Empty\s+consumer/);

    // A new member of the group prints only what came after the commits.
    expect((await samsa(["produce", "gc", "-K", ":"], keyed(40, 48))).status).toBe(0);
    const c = await samsa(["consume", "gc", "-g", "cli-g", "-e", "-f", "%s\\n"]);
    expect(c.status, c.stderr).toBe(0);
    expect(c.stdout.trim().split("\n").sort()).toEqual(
      Array.from({ length: 8 }, (_, i) => `v${40 + i}`).sort(),
    );
  }, 90_000);

  it("resets offsets (dry run unless --execute) and deletes offsets and groups", async () => {
    expect((await samsa(["topic", "create", "gr", "-p", "2"])).status).toBe(0);
    expect((await samsa(["produce", "gr", "-p", "0"], keyed(0, 10))).status).toBe(0);
    expect((await samsa(["produce", "gr", "-p", "1"], keyed(0, 6))).status).toBe(0);
    const consumed = await samsa(["consume", "gr", "-g", "reset-g", "-o", "beginning", "-e"]);
    expect(consumed.stdout.trim().split("\n")).toHaveLength(16);
    const current = () => samsa(["group", "describe", "reset-g"]).then((r) => describeRows(r.stdout));
    expect([...(await current()).entries()].map(([p, r]) => [p, r[0]])).toEqual([
      [0, "10"],
      [1, "6"],
    ]);

    const dry = await samsa(["group", "reset-offsets", "reset-g", "--topic", "gr", "--to-earliest"]);
    expect(dry.status).toBe(0);
    expect(dry.stdout).toMatch(/reset-g\s+gr\s+0\s+0\n/);
    expect(dry.stdout).toContain("dry run");
    expect((await current()).get(0)?.[0]).toBe("10");

    const shift = await samsa([
      "group",
      "reset-offsets",
      "reset-g",
      "--topic",
      "gr:0",
      "--shift-by",
      "-3",
      "--execute",
    ]);
    expect(shift.status, shift.stderr).toBe(0);
    expect((await current()).get(0)?.slice(0, 3)).toEqual(["7", "10", "3"]);
    expect((await current()).get(1)?.[0]).toBe("6");

    // Clamped to the partition's range, as Kafka's tool does.
    await samsa(["group", "reset-offsets", "reset-g", "--topic", "gr", "--to-offset", "1000", "--execute"]);
    expect([...(await current()).values()].map((r) => r[0])).toEqual(["10", "6"]);
    await samsa([
      "group",
      "reset-offsets",
      "reset-g",
      "--topic",
      "gr",
      "--to-datetime",
      "2000-01-01T00:00:00Z",
      "--execute",
    ]);
    expect([...(await current()).values()].map((r) => r[0])).toEqual(["0", "0"]);
    await samsa(["group", "reset-offsets", "reset-g", "--topic", "gr:1", "--to-latest", "--execute"]);
    expect([...(await current()).values()].map((r) => r[0])).toEqual(["0", "6"]);

    // The reset re-reads from the new offsets.
    const again = await samsa(["consume", "gr", "-g", "reset-g", "-e"]);
    expect(again.stdout.trim().split("\n")).toHaveLength(10);

    expect((await samsa(["group", "delete", "reset-g", "--topic", "gr"])).status).toBe(0);
    expect((await current()).size).toBe(0);
    expect((await samsa(["group", "delete", "reset-g"])).stdout).toContain("deleted group reset-g");
    expect((await samsa(["group", "list"])).stdout).not.toContain("reset-g");
  }, 90_000);

  it("refuses what it cannot do with a one-line error and a non-zero exit", async () => {
    expect((await samsa(["topic", "create", "ge", "-p", "1"])).status).toBe(0);
    const live = member("ge", "busy-g");
    await waitFor(
      async () => (await samsa(["group", "describe", "busy-g"])).stdout.includes("Stable"),
      "busy-g stable",
    );
    const cases: [string[], RegExp][] = [
      [
        ["group", "reset-offsets", "busy-g", "--topic", "ge", "--to-earliest", "--execute"],
        /busy-g is Stable with 1 member/,
      ],
      [["group", "delete", "busy-g"], /NON_EMPTY_GROUP/],
      [["group", "delete", "no-such-group"], /GROUP_ID_NOT_FOUND/],
      [["group", "describe", "no-such-group"], /group no-such-group does not exist/],
      [["group", "reset-offsets", "busy-g", "--topic", "ge"], /needs exactly one of/],
      [["group", "reset-offsets", "x", "--topic", "ge", "--to-offset", "-1"], /--to-offset -1/],
      [["group", "reset-offsets", "x", "--topic", "ge:7", "--to-earliest"], /has no partition 7/],
      [["group", "reset-offsets", "x", "--topic", "ge", "--shift-by", "1"], /no offset for ge-0/],
      [["consume", "ge", "-g", "x", "-p", "0"], /-p cannot be used with -g/],
      [["consume", "ge", "-g", "x", "-o", "5"], /with -g, -o is beginning or end/],
    ];
    for (const [args, message] of cases) {
      const r = await samsa(args);
      expect(r.status, args.join(" ")).toBe(1);
      expect(r.stderr, args.join(" ")).toMatch(message);
      expect(r.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1);
    }
    live.child.kill("SIGTERM");
    expect(await live.exited).toBe(0);
    expect((await samsa(["group", "delete", "busy-g"])).status).toBe(0);
  }, 90_000);
});
