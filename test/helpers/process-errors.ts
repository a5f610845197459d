/** Fails a suite on any uncaught exception or unhandled rejection raised while it runs. */
import { afterAll, afterEach, beforeAll, expect } from "vitest";

export function failOnProcessErrors(): void {
  const errors: unknown[] = [];
  const record = (err: unknown) => errors.push(err);
  beforeAll(() => {
    process.on("uncaughtException", record);
    process.on("unhandledRejection", record);
  });
  afterAll(() => {
    process.off("uncaughtException", record);
    process.off("unhandledRejection", record);
  });
  afterEach(() => {
    expect(errors, "uncaught exceptions or unhandled rejections").toEqual([]);
  });
}
