/**
 * The order test files start in: longest first (test/durations.json, each file's time in a recent
 * full run, refreshed by hand now and then), so that a long file never starts last and leaves the
 * other workers idle while it runs alone. Files not listed (under 5 s, or new) follow, larger files
 * first. Vitest's own order does this only with a results cache, which a fresh clone (CI) lacks.
 */
import { readFileSync, statSync } from "node:fs";
import * as path from "node:path";
import { BaseSequencer, type TestSpecification } from "vitest/node";

const ROOT = path.resolve(import.meta.dirname, "..");
const DURATIONS: Record<string, number> = JSON.parse(
  readFileSync(path.join(ROOT, "test", "durations.json"), "utf8"),
);

function weight(spec: TestSpecification): [number, number] {
  const file = path.relative(ROOT, spec.moduleId).split(path.sep).join("/");
  return [DURATIONS[file] ?? 0, statSync(spec.moduleId).size];
}

export default class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const weights = new Map(files.map((f) => [f, weight(f)] as const));
    return [...files].sort((a, b) => {
      const [da, sa] = weights.get(a)!;
      const [db, sb] = weights.get(b)!;
      return db - da || sb - sa;
    });
  }
}
