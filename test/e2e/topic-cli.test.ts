import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { type CliRun, runSamsa } from "../helpers/cli.js";

let tb: TestBroker;
let brokers: string;

beforeAll(async () => {
  tb = await startTestBroker({ "auto.create.topics.enable": false });
  brokers = `127.0.0.1:${tb.port}`;
});
afterAll(async () => tb.stop());

function samsa(args: string[]): Promise<CliRun> {
  return runSamsa(args, { brokers });
}

describe("samsa topic", () => {
  it("delete a b c reports each topic's outcome on its own line and exits 1 if any failed", async () => {
    expect((await samsa(["topic", "create", "del-a", "del-c", "-p", "1"])).status).toBe(0);
    const r = await samsa(["topic", "delete", "del-a", "del-missing", "del-c"]);
    expect(r.stdout.split("\n")).toEqual(["deleted del-a", "deleted del-c", ""]);
    expect(r.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^samsa: .*del-missing/)]);
    expect(r.stderr).toContain("UNKNOWN_TOPIC_OR_PARTITION");
    expect(r.status).toBe(1);
    expect(tb.broker.topics.partition("del-a", 0)).toBeUndefined();
    expect(tb.broker.topics.partition("del-c", 0)).toBeUndefined();

    const ok = await samsa(["topic", "delete", "del-missing-too"]);
    expect(ok.status).toBe(1);
    expect(ok.stdout).toBe("");
  });

  it("create a b reports each topic's outcome: an existing one fails, the others are created", async () => {
    expect((await samsa(["topic", "create", "cr-old"])).status).toBe(0);
    const r = await samsa(["topic", "create", "cr-new", "cr-old", "-p", "2"]);
    expect(r.stdout.split("\n")).toEqual(["created cr-new", ""]);
    expect(r.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(/^samsa: .*TOPIC_ALREADY_EXISTS.*cr-old/),
    ]);
    expect(r.status).toBe(1);
    expect(tb.broker.topics.partition("cr-new", 1)).toBeDefined();
  });

  it("refuses counts that are not positive integers in one line, creating nothing", async () => {
    for (const args of [
      ["topic", "create", "bad", "-p", "abc"],
      ["topic", "create", "bad", "-p", "0"],
      ["topic", "create", "bad", "-p", "-3"],
      ["topic", "create", "bad", "-p", "1.5"],
      ["topic", "create", "bad", "-r", "abc"],
      ["topic", "create", "bad", "-r", "0"],
      ["topic", "add-partitions", "bad", "-n", "x"],
    ]) {
      const r = await samsa(args);
      const what = args.join(" ");
      expect(r.status, what).toBe(1);
      expect(r.stderr.trim().split("\n"), what).toEqual([
        expect.stringMatching(/^samsa: --\w+ .*positive integer/),
      ]);
      expect(r.stdout, what).toBe("");
    }
    expect(tb.broker.topics.partition("bad", 0)).toBeUndefined();
  });
});
