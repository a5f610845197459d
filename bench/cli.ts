/**
 * The `samsa` CLI against kcat on one broker (issue 11): `samsa produce` vs `kcat -P` of the same
 * N lines (`seq 1 N`) from a file on stdin, then `samsa consume -o beginning -e` vs
 * `kcat -C -o beginning -e -q` of those records into a file. Both use their defaults (acks=-1,
 * samsa idempotent), each run into a fresh one-partition topic on a samsa broker started for the
 * run (`node bin/samsa.js broker start`, flush.policy `always`). Wall time from spawn to exit,
 * process start-up included, since that is what a shell user waits for; the two tools alternate
 * in each repetition and the median is reported. Every run is checked: N records stored, N lines
 * read back.
 *
 * With `--baseline BIN`, another tree's `bin/samsa.js` (an earlier commit, built) runs in the same
 * repetitions as "baseline", so a change is measured against what it changes on the same machine
 * at the same moment.
 *
 *   npm run --silent bench:cli [-- --records 1000000 --reps 3 --json --dir DIR --baseline BIN]
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { Admin } from "../client/admin.js";
import { killAllChildren } from "./compare/common.js";
import { startSamsa } from "./compare/samsa.js";
import { optionsOrExit, runMain, scratchDir, table } from "./script.js";

/** dist/bench/cli.js -> the repository root. */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const SAMSA_BIN = path.join(ROOT, "bin", "samsa.js");
/** Any single run longer than this fails the bench. */
const RUN_TIMEOUT_MS = 10 * 60_000;

interface Options {
  records: number;
  reps: number;
  json: boolean;
  baseDir: string;
  baseline: string | null;
}

function usage(): string {
  return `usage: npm run --silent bench:cli -- [--records N] [--reps R] [--json] [--dir DIR]
  --records N   lines produced and consumed per run (default 1000000)
  --reps R      repetitions of each tool; the median is reported (default 3)
  --json        one JSON object on stdout instead of the table
  --dir DIR     where the temporary broker data and input go (default the OS temp directory)
  --baseline BIN  also time this samsa bin (another tree's bin/samsa.js, built) in each repetition
Needs kcat: apt-get update && apt-get install -y kcat`;
}

function parseOptions(args: string[]): Options | null {
  const o: Options = { records: 1_000_000, reps: 3, json: false, baseDir: tmpdir(), baseline: null };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = () => {
      const v = args[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const count = () => {
      const v = value();
      if (!/^[1-9]\d*$/.test(v)) throw new Error(`${a} ${v}: expected a positive integer`);
      return Number(v);
    };
    if (a === "--help" || a === "-h") return null;
    else if (a === "--records") o.records = count();
    else if (a === "--reps") o.reps = count();
    else if (a === "--json") o.json = true;
    else if (a === "--dir") o.baseDir = value();
    else if (a === "--baseline") o.baseline = path.resolve(value());
    else throw new Error(`unknown option ${a}`);
  }
  return o;
}

/** Runs a command with stdin from `inFile` and stdout into `outFile`; its wall time in seconds. */
function timed(cmd: string, args: string[], inFile: string | null, outFile: string | null): Promise<number> {
  return new Promise((resolve, reject) => {
    const stdin = inFile ? fs.openSync(inFile, "r") : "ignore";
    const stdout = outFile ? fs.openSync(outFile, "w") : "ignore";
    const started = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: [stdin, stdout, "pipe"] });
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4096);
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), RUN_TIMEOUT_MS);
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      clearTimeout(timer);
      if (typeof stdin === "number") fs.closeSync(stdin);
      if (typeof stdout === "number") fs.closeSync(stdout);
      if (code === 0) resolve(seconds);
      else reject(new Error(`${path.basename(cmd)} ${args.join(" ")} exited ${code ?? signal}: ${stderr}`));
    });
  });
}

function countLines(file: string): number {
  const data = fs.readFileSync(file);
  let n = 0;
  for (let i = data.indexOf(10); i >= 0; i = data.indexOf(10, i + 1)) n++;
  return n;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

interface Tool {
  name: string;
  produce(brokers: string, topic: string, input: string): Promise<number>;
  consume(brokers: string, topic: string, output: string): Promise<number>;
}

function samsaTool(name: string, bin: string): Tool {
  return {
    name,
    produce: (b, t, input) =>
      timed(process.execPath, [bin, "-b", b, "produce", t, "--no-progress"], input, null),
    consume: (b, t, output) =>
      timed(process.execPath, [bin, "-b", b, "consume", t, "-o", "beginning", "-e"], null, output),
  };
}

const KCAT: Tool = {
  name: "kcat",
  produce: (b, t, input) => timed("kcat", ["-b", b, "-P", "-t", t], input, null),
  consume: (b, t, output) =>
    timed("kcat", ["-b", b, "-C", "-t", t, "-o", "beginning", "-e", "-q"], null, output),
};

async function main(): Promise<number> {
  const o = optionsOrExit(parseOptions, usage);
  if (typeof o === "number") return o;
  if (spawnSync("kcat", ["-V"]).error)
    throw new Error("kcat not found: apt-get update && apt-get install -y kcat");
  if (o.baseline && !fs.existsSync(o.baseline)) throw new Error(`--baseline ${o.baseline}: no such file`);
  const TOOLS = [samsaTool("samsa", SAMSA_BIN), KCAT];
  if (o.baseline) TOOLS.push(samsaTool("baseline", o.baseline));
  const scratch = scratchDir(o.baseDir, "samsa-bench-cli-", killAllChildren);
  try {
    const input = path.join(scratch.root, "input.txt");
    fs.writeFileSync(input, Array.from({ length: o.records }, (_, i) => `${i + 1}\n`).join(""));
    const broker = await startSamsa({ dataDir: path.join(scratch.root, "data") });
    const brokers = broker.brokers[0];
    const admin = new Admin({ brokers: broker.brokers });
    const times: Record<string, { produce: number[]; consume: number[] }> = {};
    for (const t of TOOLS) times[t.name] = { produce: [], consume: [] };
    try {
      for (let rep = 0; rep < o.reps; rep++) {
        // Alternate who goes first, so neither always meets a warmer or busier machine.
        const order = rep % 2 === 0 ? TOOLS : [...TOOLS].reverse();
        for (const tool of order) {
          const topic = `bench-cli-${tool.name}-${rep}`;
          await admin.createTopics([{ name: topic, partitions: 1 }]);
          const p = await tool.produce(brokers, topic, input);
          const stored = (await admin.listOffsets(topic, "latest"))[0].offset;
          if (stored !== o.records) throw new Error(`${tool.name} produce stored ${stored} of ${o.records}`);
          const output = path.join(scratch.root, `${topic}.out`);
          const c = await tool.consume(brokers, topic, output);
          const read = countLines(output);
          if (read !== o.records)
            throw new Error(`${tool.name} consume printed ${read} of ${o.records} lines`);
          fs.rmSync(output);
          times[tool.name].produce.push(p);
          times[tool.name].consume.push(c);
          if (!o.json)
            process.stderr.write(
              `rep ${rep + 1}: ${tool.name} produce ${p.toFixed(2)} s, consume ${c.toFixed(2)} s\n`,
            );
        }
      }
    } finally {
      await admin.close();
      await broker.server.stop();
    }
    const result = Object.fromEntries(
      TOOLS.map((t) => [
        t.name,
        {
          produce_s: median(times[t.name].produce),
          consume_s: median(times[t.name].consume),
          produce_runs_s: times[t.name].produce,
          consume_runs_s: times[t.name].consume,
        },
      ]),
    );
    type What = "produce_s" | "consume_s";
    const ratio = (what: What, name = "samsa") => result[name][what] / result.kcat[what];
    if (o.json) {
      const baseline = o.baseline
        ? {
            baseline_produce_ratio: ratio("produce_s", "baseline"),
            baseline_consume_ratio: ratio("consume_s", "baseline"),
          }
        : {};
      process.stdout.write(
        `${JSON.stringify({ records: o.records, reps: o.reps, ...result, produce_ratio: ratio("produce_s"), consume_ratio: ratio("consume_s"), ...baseline })}\n`,
      );
    } else {
      const rows = (["produce_s", "consume_s"] as const).map((what) => [
        `${what.replace("_s", "")} ${o.records} lines`,
        result.samsa[what].toFixed(2),
        result.kcat[what].toFixed(2),
        ratio(what).toFixed(2),
        (o.records / result.samsa[what] / 1000).toFixed(0),
        (o.records / result.kcat[what] / 1000).toFixed(0),
        ...(o.baseline ? [result.baseline[what].toFixed(2), ratio(what, "baseline").toFixed(2)] : []),
      ]);
      const head = [`median of ${o.reps}`, "samsa s", "kcat s", "samsa/kcat", "samsa k/s", "kcat k/s"];
      if (o.baseline) head.push("baseline s", "baseline/kcat");
      process.stdout.write(`${table(head, rows)}\n`);
    }
    return 0;
  } finally {
    scratch.dispose();
  }
}

runMain(main, killAllChildren);
