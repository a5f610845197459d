import { defineConfig } from "vitest/config";
import LongestFirst from "./test/sequencer.js";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Compiles dist/ and the kill -9 children's private build once, before any suite.
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Vitest's default on a 2-core machine is one worker: the files would run one after another,
    // though most of their time is spent waiting on sockets, child processes and fsync. Four
    // keep both cores busy while files wait (two left vitest at 615 s on 2026-12-03, three at
    // 528 s, 579 s once issue 16's tests came; four took 506 s, green, in a fresh clone).
    maxWorkers: 4,
    // Longest files first (test/sequencer.ts), so the run does not end on one long file alone.
    sequence: { sequencer: LongestFirst },
  },
});
