/**
 * The rooms' import arrows (DESIGN.md "Rooms", docs/decisions/0024): every relative import of a
 * source file is resolved to the top-level folder it lands in, and checked against the table.
 * `broker` may use the client's connection (and its errors) for inter-broker requests, nothing
 * else of the client; `client` never reaches `broker` or `storage`.
 */
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "..");

/** Which rooms each room may import (its own always). */
const ALLOWED: Record<string, readonly string[]> = {
  protocol: [],
  storage: ["protocol"],
  broker: ["protocol", "storage", "client"],
  client: ["protocol"],
  cli: ["protocol", "client", "broker", "bench"],
  // Benchmarks start brokers and drive storage directly, besides the client.
  bench: ["protocol", "storage", "broker", "client"],
};

/** The only client modules the broker may import: one connection, its errors. */
const BROKER_CLIENT_MODULES = new Set(["client/connection.ts", "client/errors.ts"]);

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(full));
    else if (entry.name.endsWith(".ts")) out.push(full);
  }
  return out;
}

/** Relative module specifiers of `file`'s import and export-from statements. */
function relativeImports(text: string): string[] {
  const specs: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s+"(\.[^"]+)"/g))
    specs.push(m[1]);
  for (const m of text.matchAll(/(?:^|\n)\s*import\s+"(\.[^"]+)"/g)) specs.push(m[1]);
  for (const m of text.matchAll(/\bimport\(\s*"(\.[^"]+)"\s*\)/g)) specs.push(m[1]);
  return specs;
}

interface Violation {
  file: string;
  imports: string;
}

function violations(room: string): Violation[] {
  const found: Violation[] = [];
  for (const file of sourceFiles(path.join(ROOT, room))) {
    for (const spec of relativeImports(readFileSync(file, "utf8"))) {
      const target = path.relative(ROOT, path.resolve(path.dirname(file), spec)).replace(/\.js$/, ".ts");
      const targetRoom = target.split(path.sep)[0];
      if (targetRoom === room) continue;
      const ok =
        ALLOWED[room].includes(targetRoom) &&
        (room !== "broker" || targetRoom !== "client" || BROKER_CLIENT_MODULES.has(target));
      if (!ok) found.push({ file: path.relative(ROOT, file), imports: target });
    }
  }
  return found;
}

describe("rooms", () => {
  it("finds import and export-from specifiers, static and dynamic", () => {
    const text =
      'import { a } from "../x/a.js";\nexport { b } from "./b.js";\nconst c = await import("../c.js");\nimport "../d.js";\nimport * as fs from "node:fs";';
    expect(relativeImports(text).sort()).toEqual(["../c.js", "../d.js", "../x/a.js", "./b.js"]);
  });

  for (const room of Object.keys(ALLOWED)) {
    it(`${room} imports only ${ALLOWED[room].join(", ") || "itself"}`, () => {
      expect(violations(room)).toEqual([]);
    });
  }
});
