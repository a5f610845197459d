/**
 * End to end: `samsa broker start` with a config value that makes no sense (from a flag, `-s`, or
 * the environment) exits non-zero at once with one line naming the key and the value, and never
 * starts listening or touches its data directory.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runSamsa } from "../helpers/cli.js";

const base = mkdtempSync(path.join(tmpdir(), "config-e2e-"));
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe("samsa broker start refuses nonsense config values", () => {
  it.each([
    [["-s", "num.partitions=0"], {}, "num.partitions=0"],
    [["-s", "offsets.topic.num.partitions=0"], {}, "offsets.topic.num.partitions=0"],
    [["--kafka-port", "70000"], {}, "kafka.port=70000"],
    [[], { SAMSA_CONNECTION_MAX_INFLIGHT_REQUESTS: "0" }, "connection.max.inflight.requests=0"],
  ])("%j %j", async (args, env, named) => {
    const dataDir = path.join(base, named.replace(/[^a-z0-9]/gi, "-"));
    const run = await runSamsa(
      ["broker", "start", "--data-dir", dataDir, "--kafka-port", "0", "--http-port", "0", ...args],
      // A broker that did start would run until this deadline kills it (status null).
      { brokers: null, env: { ...process.env, ...env }, timeoutMs: 20_000 },
    );
    expect(run.status, run.stderr).toBe(1);
    const lines = run.stderr.trimEnd().split("\n");
    expect(lines, run.stderr).toHaveLength(1);
    expect(lines[0]).toContain(named);
    expect(lines[0]).toMatch(/^samsa: INVALID_CONFIG: /);
    expect(existsSync(dataDir)).toBe(false);
  });
});
