/** The tests' own waits (helpers/wait.ts) end at their deadline, even when a check never settles. */
import { expect, it } from "vitest";
import { waitFor } from "./helpers/wait.js";

it("waitFor rejects at its deadline, naming what it waited for, when an async check never settles", async () => {
  let checks = 0;
  const never = () => {
    checks++;
    return new Promise<boolean>(() => {});
  };
  await expect(waitFor(never, "an answer from a paused broker", 50)).rejects.toThrow(
    "timed out after 50 ms waiting for an answer from a paused broker (a check still pending)",
  );
  expect(checks).toBe(1);
});

it("waitFor polls a check until it holds, and rejects once one still fails past the deadline", async () => {
  let n = 0;
  await waitFor(async () => ++n >= 3, "three checks");
  expect(n).toBe(3);
  await expect(waitFor(() => false, "never", 30)).rejects.toThrow("timed out after 30 ms waiting for never");
});
