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
  // Runs in the browser: its own modules only (and no npm package: see the test below).
  console: [],
};

/** The only client modules the broker may import: one connection, its errors. */
const BROKER_CLIENT_MODULES = new Set(["client/connection.ts", "client/errors.ts"]);

/**
 * Folders held to fewer imports than their room: each may import itself and only the files or
 * folders listed (those marked `type` with `import type` alone).
 */
const SUBROOMS: Record<string, readonly { path: string; typeOnly?: boolean }[]> = {
  // The controller is written against the store contract alone (issue 13): no broker, topics,
  // network or storage, so it runs unchanged over etcd, the embedded store and the test store.
  "broker/controller": [
    { path: "protocol/errors.ts" },
    { path: "broker/metadata" },
    { path: "broker/config.ts", typeOnly: true },
    { path: "broker/logger.ts" },
  ],
};

/** The .ts and .js files under `dir` (the console's modules are .js). */
function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(full));
    else if (entry.name.endsWith(".ts") || entry.name.endsWith(".js")) out.push(full);
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

/** Relative specifiers of `text`'s static imports and export-froms, and whether each is type-only. */
function importsWithKind(text: string): { spec: string; typeOnly: boolean }[] {
  const found: { spec: string; typeOnly: boolean }[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(import|export)(\s+type)?\b[^;]*?\bfrom\s+"(\.[^"]+)"/g))
    found.push({ spec: m[3], typeOnly: m[2] !== undefined });
  for (const spec of relativeImports(text))
    if (!found.some((f) => f.spec === spec)) found.push({ spec, typeOnly: false });
  return found;
}

function subroomViolations(sub: string): Violation[] {
  const found: Violation[] = [];
  for (const file of sourceFiles(path.join(ROOT, sub))) {
    for (const { spec, typeOnly } of importsWithKind(readFileSync(file, "utf8"))) {
      const target = path
        .relative(ROOT, path.resolve(path.dirname(file), spec))
        .replace(/\.js$/, ".ts")
        .split(path.sep)
        .join("/");
      const inside = (p: string) => target === p || target.startsWith(`${p}/`);
      const ok = inside(sub) || SUBROOMS[sub].some((a) => inside(a.path) && (typeOnly || !a.typeOnly));
      if (!ok) found.push({ file: path.relative(ROOT, file), imports: target });
    }
  }
  return found;
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

/** Module specifiers of `text` that are not relative paths (packages, node: modules, URLs). */
function nonRelativeImports(text: string): string[] {
  const specs: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s+"([^"]+)"/g)) specs.push(m[1]);
  for (const m of text.matchAll(/(?:^|\n)\s*import\s+"([^"]+)"/g)) specs.push(m[1]);
  for (const m of text.matchAll(/\bimport\(\s*["'`]([^"'`]+)["'`]\s*\)/g)) specs.push(m[1]);
  return specs.filter((s) => !s.startsWith("./") && !s.startsWith("../"));
}

describe("rooms", () => {
  it("finds import and export-from specifiers, static and dynamic", () => {
    const text =
      'import { a } from "../x/a.js";\nexport { b } from "./b.js";\nconst c = await import("../c.js");\nimport "../d.js";\nimport * as fs from "node:fs";';
    expect(relativeImports(text).sort()).toEqual(["../c.js", "../d.js", "../x/a.js", "./b.js"]);
  });

  it("tells type-only imports from the others", () => {
    const text =
      'import type { A } from "./a.js";\nimport { type B, c } from "./b.js";\nexport type { D } from "./d.js";';
    expect(importsWithKind(text)).toEqual([
      { spec: "./a.js", typeOnly: true },
      { spec: "./b.js", typeOnly: false },
      { spec: "./d.js", typeOnly: true },
    ]);
  });

  it("console imports no package: it runs in a browser without a build", () => {
    const found = sourceFiles(path.join(ROOT, "console")).flatMap((file) =>
      nonRelativeImports(readFileSync(file, "utf8")).map((spec) => `${path.relative(ROOT, file)}: ${spec}`),
    );
    expect(found).toEqual([]);
  });

  for (const sub of Object.keys(SUBROOMS)) {
    it(`${sub} imports only ${SUBROOMS[sub].map((a) => a.path).join(", ")}`, () => {
      expect(subroomViolations(sub)).toEqual([]);
    });
  }

  for (const room of Object.keys(ALLOWED)) {
    it(`${room} imports only ${ALLOWED[room].join(", ") || "itself"}`, () => {
      expect(violations(room)).toEqual([]);
    });
  }
});
