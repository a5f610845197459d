#!/usr/bin/env node
import { spawn } from "node:child_process";
import { constants } from "node:os";
import { fileURLToPath } from "node:url";

/**
 * `samsa bench` runs with a larger young generation (--max-semi-space-size=64): a load generator
 * keeps many records in flight, and with V8's default 16 MiB semi-spaces they outlive scavenges
 * and are promoted, which cost about a third of a producer's throughput (bench/RESULTS.md). The
 * size is fixed when the heap is made, so the command re-runs itself with the flag.
 */
const BENCH_NODE_FLAGS = ["--max-semi-space-size=64"];
/** Signals the re-run child is sent when this process receives them. */
const FORWARDED_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"];

/** Global options that take a value, which is not the command's name. */
const VALUED_GLOBALS = [
  "-b",
  "--brokers",
  "--tls-ca",
  "--tls-cert",
  "--tls-key",
  "--user",
  "--password",
  "--sasl-mechanism",
];

function commandOf(args) {
  for (let i = 0; i < args.length; i++) {
    if (VALUED_GLOBALS.includes(args[i])) i++;
    else if (!args[i].startsWith("-")) return args[i];
  }
  return undefined;
}

const args = process.argv.slice(2);
const tuned = process.execArgv.some((a) => a.startsWith("--max-semi-space-size"));
if (commandOf(args) === "bench" && !tuned) {
  // The child gets a process group of its own, so each signal reaches it exactly once, through
  // this process: Ctrl-C (sent to the terminal's foreground group, which holds only this
  // process) and `kill -INT <pid>` alike stop the run with its partial summary; a second one
  // stops it at once.
  const child = spawn(
    process.execPath,
    [...BENCH_NODE_FLAGS, ...process.execArgv, fileURLToPath(import.meta.url), ...args],
    { stdio: "inherit", detached: true },
  );
  for (const signal of FORWARDED_SIGNALS) process.on(signal, () => child.kill(signal));
  child.on("exit", (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 0)));
} else {
  const { main } = await import("../dist/cli/main.js");
  main(process.argv).catch((err) => {
    process.stderr.write(`samsa: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
