/**
 * vitest for the chaos soak alone (test/chaos/soak.chaos.ts), as `npm run chaos` runs it: one
 * file, no time limit per test beyond the soak's own bounds, the same global setup as `npm test`.
 */
import { defineConfig } from "vitest/config";

/** Beyond the longest soak the script allows (its --minutes plus the fixed phases). */
const SOAK_TIMEOUT_MS = 6 * 3_600_000;

export default defineConfig({
  test: {
    include: ["test/chaos/soak.chaos.ts"],
    globalSetup: ["test/global-setup.ts"],
    testTimeout: SOAK_TIMEOUT_MS,
    hookTimeout: 120_000,
    pool: "forks",
    maxWorkers: 1,
  },
});
