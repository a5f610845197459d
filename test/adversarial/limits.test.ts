/** The adversarial suite's lowered limits (limits.ts) are broker config keys the broker knows. */
import { describe, expect, it } from "vitest";
import { unknownLimitKeys } from "./limits.js";

describe("the adversarial suite's limits", () => {
  it("names only broker config keys (a renamed key: adjust limits.ts)", () => {
    expect(unknownLimitKeys()).toEqual([]);
  });
});
