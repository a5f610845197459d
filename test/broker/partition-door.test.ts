/**
 * Partition is the only door to a partition's log (docs/decisions/0027): no file outside
 * broker/partition.ts and broker/topics.ts reaches a PartitionLog through `.log`. Storage itself
 * (storage/, test/storage/) owns PartitionLog and is not checked. A grep, not a type check: it
 * also catches casts around `private` and files outside the tsconfig.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");
const CHECKED_DIRS = ["broker", "bench", "cli", "client", "protocol", "test"];
const ALLOWED = new Set(["broker/partition.ts", "broker/topics.ts", "test/broker/partition-door.test.ts"]);
const SKIPPED_DIRS = new Set(["test/storage", "node_modules", "dist"]);
/** The logger's members: `this.log.info(...)` is a logger, not a PartitionLog. */
const LOGGER_MEMBERS = new Set([
  "info",
  "warn",
  "error",
  "debug",
  "trace",
  "fatal",
  "child",
  "level",
  "silent",
]);

/** The offending fragments of one line: a partition's `.log`, or `.log.x` where x is no logger member. */
function logAccesses(line: string): string[] {
  const found: string[] = [];
  for (const m of line.matchAll(/\w*partition\w*(?:\([^()]*\))?[!?]*\.log\b/gi)) found.push(m[0]);
  for (const m of line.matchAll(/\.log\??\.(\w+)/g)) if (!LOGGER_MEMBERS.has(m[1])) found.push(m[0]);
  for (const m of line.matchAll(
    /\bp!?\??\.log\b(?![?]?\.(?:info|warn|error|debug|trace|fatal|child|level)\b)/g,
  ))
    found.push(m[0]);
  return found;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) {
      if (!SKIPPED_DIRS.has(rel) && !SKIPPED_DIRS.has(entry.name)) out.push(...sourceFiles(rel));
    } else if (entry.name.endsWith(".ts")) {
      out.push(rel);
    }
  }
  return out;
}

describe("Partition is the only door to a partition's log", () => {
  it("recognises log accesses and leaves loggers alone", () => {
    expect(logAccesses("const { records } = await partition.log.read(next, {});")).not.toEqual([]);
    expect(logAccesses("offsetLag: p.log.logEndOffset - p.log.highWatermark,")).not.toEqual([]);
    expect(logAccesses("const log = tb.broker.topics.partition(t, 0)!.log;")).not.toEqual([]);
    expect(logAccesses("const log = partition.log;")).not.toEqual([]);
    expect(logAccesses('this.log.info({ topic }, "topic created");')).toEqual([]);
    expect(logAccesses('this.log?.error({ err }, "failed");')).toEqual([]);
    expect(logAccesses("partition.logEndOffset >= 2")).toEqual([]);
  });

  it("no file outside broker/partition.ts and broker/topics.ts reaches a PartitionLog", () => {
    const offences: string[] = [];
    for (const dir of CHECKED_DIRS) {
      for (const file of sourceFiles(dir)) {
        if (ALLOWED.has(file)) continue;
        const lines = fs.readFileSync(path.join(ROOT, file), "utf8").split("\n");
        lines.forEach((line, i) => {
          for (const hit of logAccesses(line)) offences.push(`${file}:${i + 1}: ${hit}`);
        });
      }
    }
    expect(offences).toEqual([]);
  });
});
