/**
 * `npm run chaos -- --minutes 30 [--seed S] [--phases matrix,random,etcd3,outage]`: the chaos
 * soak of issue 14. Runs test/chaos/soak.chaos.ts under vitest (its cluster helpers need the
 * test suite's private build) with the options as environment variables, then prints one row per
 * scenario (faults, acknowledged writes, reads, seconds) and the seed that replays the run. Exits
 * as the soak did: 0 when every scenario's history was clean. Needs root, `ip`, `nft` and etcd.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { optionsOrExit, runMain, scratchDir, table } from "./script.js";

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const PHASES = ["matrix", "random", "etcd3", "outage"];

interface ChaosOptions {
  minutes: number;
  seed: number;
  phases: string[];
  outageSeconds: number;
}

function usage(): string {
  return [
    "usage: npm run chaos -- [--minutes M] [--seed S] [--phases a,b] [--outage-seconds N]",
    "  --minutes M         random faults for M minutes (default 5), after the matrix (5 bounces per cell)",
    "  --seed S            replay a run: the seed it printed (default: a fresh one)",
    `  --phases a,b        any of ${PHASES.join(",")} (default all)`,
    "  --outage-seconds N  how long every broker stays cut from etcd in the outage phase (default 60)",
  ].join("\n");
}

function parse(args: string[]): ChaosOptions | null {
  const options: ChaosOptions = {
    minutes: 5,
    seed: Math.floor(Math.random() * 2 ** 31),
    phases: PHASES,
    outageSeconds: 60,
  };
  for (let i = 0; i < args.length; i++) {
    const flag = args[i];
    if (flag === "--help" || flag === "-h") return null;
    const value = args[++i];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    const n = Number(value);
    if (flag === "--phases") {
      options.phases = value.split(",");
      const unknown = options.phases.filter((p) => !PHASES.includes(p));
      if (unknown.length > 0) throw new Error(`--phases: unknown ${unknown.join(",")}`);
    } else if (!Number.isInteger(n) || n < 0) {
      throw new Error(`${flag} ${value}: expected a non-negative integer`);
    } else if (flag === "--minutes") options.minutes = n;
    else if (flag === "--seed") options.seed = n;
    else if (flag === "--outage-seconds") options.outageSeconds = n;
    else throw new Error(`unknown option ${flag}`);
  }
  return options;
}

/** Runs the soak under vitest; resolves with its exit code. */
function runSoak(options: ChaosOptions, reportFile: string): Promise<number> {
  const vitest = path.join(ROOT, "node_modules", "vitest", "vitest.mjs");
  const child = spawn(process.execPath, [vitest, "run", "--config", "test/chaos/soak.config.ts"], {
    cwd: ROOT,
    stdio: "inherit",
    env: {
      ...process.env,
      CHAOS_SEED: String(options.seed),
      CHAOS_MINUTES: String(options.minutes),
      CHAOS_PHASES: options.phases.join(","),
      CHAOS_ETCD_OUTAGE_S: String(options.outageSeconds),
      CHAOS_REPORT: reportFile,
    },
  });
  const stop = () => child.kill("SIGINT");
  process.once("SIGINT", stop);
  return new Promise((resolve) =>
    child.once("exit", (code) => {
      process.off("SIGINT", stop);
      resolve(code ?? 1);
    }),
  );
}

function summary(reportFile: string): string {
  if (!existsSync(reportFile)) return "no scenario finished";
  const rows = readFileSync(reportFile, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  return table(
    ["scenario", "faults", "acked", "reads", "s", "notes"],
    rows.map((r) => [
      String(r.name),
      String(r.faults),
      String(r.acked),
      String(r.reads),
      (Number(r.ms) / 1000).toFixed(1),
      notes(r),
    ]),
  );
}

function notes(r: Record<string, unknown>): string {
  if (r.kinds) return String(r.kinds);
  if (r.sessions_expired_after_ms !== undefined) {
    const seconds = (Number(r.acked_for_ms) / 1000).toFixed(1);
    return `sessions expired ${r.sessions_expired_after_ms} ms after the cut; then ${r.acked_after_expiry} acks in ${seconds} s`;
  }
  return "";
}

async function main(): Promise<number> {
  const options = optionsOrExit(parse, usage);
  if (typeof options === "number") return options;
  const scratch = scratchDir(tmpdir(), "samsa-chaos-soak-");
  try {
    const reportFile = path.join(scratch.root, "results.jsonl");
    process.stdout.write(
      `chaos soak: seed ${options.seed}, phases ${options.phases.join(",")}, ${options.minutes} min of random faults\n`,
    );
    const code = await runSoak(options, reportFile);
    process.stdout.write(`\n${summary(reportFile)}\n`);
    process.stdout.write(
      `${code === 0 ? "OK: every history clean" : "FAILED (see above)"}; replay: npm run chaos -- --seed ${options.seed} --minutes ${options.minutes} --phases ${options.phases.join(",")}\n`,
    );
    return code;
  } finally {
    scratch.dispose();
  }
}

runMain(main);
