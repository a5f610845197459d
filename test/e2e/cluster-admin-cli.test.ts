/**
 * `samsa cluster elect-leaders`, `topic reassign` and `topic reassignments` against a single
 * broker (it is its own controller): what each prints, and each broker error as one line with a
 * non-zero exit. Moves between brokers: test/e2e/cluster-cli.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { type CliRun, runSamsa } from "../helpers/cli.js";

let tb: TestBroker;

beforeAll(async () => {
  tb = await startTestBroker({ "auto.create.topics.enable": false });
  expect((await samsa(["topic", "create", "adm", "-p", "2"])).status).toBe(0);
});
afterAll(async () => tb.stop());

function samsa(args: string[]): Promise<CliRun> {
  return runSamsa(args, { brokers: `127.0.0.1:${tb.port}` });
}

describe("samsa cluster elect-leaders", () => {
  it("says each partition of a topic already has its preferred leader, exit 0", async () => {
    const r = await samsa(["cluster", "elect-leaders", "--topic", "adm"]);
    expect(r.stdout).toBe("unchanged adm-0 (ELECTION_NOT_NEEDED)\nunchanged adm-1 (ELECTION_NOT_NEEDED)\n");
    expect(r.status, r.stderr).toBe(0);
  });

  it("-J: one object with a result per partition; unclean on one partition", async () => {
    const r = await samsa([
      "cluster",
      "elect-leaders",
      "--topic",
      "adm",
      "--partition",
      "1",
      "--type",
      "unclean",
      "-J",
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      election_type: "unclean",
      partitions: [{ topic: "adm", partition: 1, error: "ELECTION_NOT_NEEDED", message: expect.any(String) }],
    });
  });

  it("all partitions: nothing to elect on one broker, exit 0", async () => {
    const r = await samsa(["cluster", "elect-leaders"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/^elected/m);
  });

  it("an unknown topic or partition is one line on stderr, exit 1", async () => {
    for (const args of [
      ["cluster", "elect-leaders", "--topic", "nope"],
      ["cluster", "elect-leaders", "--topic", "adm", "--partition", "9"],
    ]) {
      const r = await samsa(args);
      expect(r.status, args.join(" ")).toBe(1);
      expect(r.stderr.trim().split("\n"), args.join(" ")).toEqual([
        expect.stringMatching(/^samsa: UNKNOWN_TOPIC_OR_PARTITION/),
      ]);
    }
  });
});

describe("samsa topic reassign and reassignments", () => {
  it("lists no reassignment in progress, as a table and as JSON", async () => {
    const table = await samsa(["topic", "reassignments"]);
    expect(table.stdout).toBe("TOPIC\tPARTITION\tREPLICAS\tADDING\tREMOVING\n");
    const json = await samsa(["topic", "reassignments", "adm", "-J"]);
    expect(JSON.parse(json.stdout)).toEqual({ reassignments: [] });
  });

  it("accepts a reassignment to the replicas a partition has", async () => {
    const r = await samsa(["topic", "reassign", "adm", "--partition", "0", "--replicas", "1"]);
    expect(r.stdout).toBe("reassigning adm-0 to [1]\n");
    expect(r.status, r.stderr).toBe(0);
  });

  it("refuses a cancel of nothing, an unknown broker and an unknown partition in one line, exit 1", async () => {
    const cases: [string[], RegExp][] = [
      [["--partition", "0", "--cancel"], /^samsa: NO_REASSIGNMENT_IN_PROGRESS: reassign adm-0/],
      [["--partition", "1", "--replicas", "7"], /^samsa: INVALID_REPLICA_ASSIGNMENT: reassign adm-1/],
      [["--partition", "5", "--replicas", "1"], /^samsa: UNKNOWN_TOPIC_OR_PARTITION: reassign adm-5/],
    ];
    for (const [args, message] of cases) {
      const r = await samsa(["topic", "reassign", "adm", ...args]);
      expect(r.status, args.join(" ")).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr.trim().split("\n"), args.join(" ")).toEqual([expect.stringMatching(message)]);
    }
  });
});
