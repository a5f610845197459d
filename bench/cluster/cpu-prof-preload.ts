/**
 * Loaded into each broker of a bench cluster with `node --import` (NODE_OPTIONS), never by the
 * broker itself: `--cpu-prof` is not allowed in NODE_OPTIONS, and LocalCluster spawns the brokers
 * with no node flags of their own. Starts the V8 CPU profiler at load and, when the process exits
 * (a controlled shutdown ends in process.exit), writes `CPU.<pid>.cpuprofile` into the directory
 * named by SAMSA_BENCH_CPU_PROF_DIR, the file `node --cpu-prof` would write. An in-thread
 * inspector session answers synchronously, so the 'exit' handler can still write the file.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import * as path from "node:path";

/** Microseconds between samples: Node's --cpu-prof-interval default. */
const SAMPLE_INTERVAL_US = 1000;

const dir = process.env.SAMSA_BENCH_CPU_PROF_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post("Profiler.enable");
  session.post("Profiler.setSamplingInterval", { interval: SAMPLE_INTERVAL_US });
  session.post("Profiler.start");
  process.once("exit", () => {
    session.post("Profiler.stop", (err, result) => {
      if (err) return;
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, `CPU.${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
