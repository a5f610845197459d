import { accessSync, constants, mkdirSync } from "node:fs";
import { defineConfig } from "vitest/config";
import LongestFirst from "./test/sequencer.js";

/**
 * Where the tests' temporary files go (docs/decisions/0043): SAMSA_TEST_TMPDIR if set, else a
 * directory on /dev/shm (tmpfs) where there is one, else the system's. The suite writes, fsyncs
 * and deletes thousands of data directories; on this machine's virtual disk (mounted with
 * `discard`) that was most of the storage files' time. No test needs a real disk: kill -9 keeps
 * the page cache, and power cuts are the lossy file system's model (test/helpers/lossy-fs.ts).
 * Set before the workers fork, so they, the brokers they spawn and os.tmpdir() all agree.
 */
function testTmpdir(): string | undefined {
  const chosen = process.env.SAMSA_TEST_TMPDIR ?? "/dev/shm/samsa-test";
  try {
    mkdirSync(chosen, { recursive: true });
    accessSync(chosen, constants.W_OK);
    return chosen;
  } catch {
    if (process.env.SAMSA_TEST_TMPDIR) throw new Error(`SAMSA_TEST_TMPDIR=${chosen} is not writable`);
    return undefined;
  }
}

const tmp = testTmpdir();
if (tmp) process.env.TMPDIR = tmp;

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Compiles dist/ and the kill -9 children's private build once, before any suite.
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Vitest's default on a 2-core machine is one worker: the files would run one after another,
    // though most of their time is spent waiting on sockets and child processes. Four keep both
    // cores busy while files wait (two left vitest at 615 s on 2026-12-03, three at 528 s, four
    // at 506-607 s; with files on tmpfs, four took 476 s).
    maxWorkers: 4,
    // Longest files first (test/sequencer.ts), so the run does not end on one long file alone.
    sequence: { sequencer: LongestFirst },
    env: tmp ? { TMPDIR: tmp } : {},
  },
});
