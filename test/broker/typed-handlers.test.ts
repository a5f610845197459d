/**
 * Handlers read their requests through the generated types (protocol/types/), never by casting
 * fields of a loosely typed message: a cast hides a field the spec renamed or made optional.
 */
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { HANDLERS } from "../../broker/api/index.js";
import { API_SPECS } from "../../protocol/messages/index.js";

const API_DIR = path.resolve(import.meta.dirname, "../../broker/api");

/** `as number`, `as string[]`, `as Message`, `as { ... }`: casts of values to message shapes. */
const FIELD_CAST = /\bas\s+(?:number|string|boolean|bigint|Int64|Message|\{|[A-Z]\w*\[\])/;

/** The code lines of `text` that cast, without comments. */
function castLines(text: string): string[] {
  return text
    .split("\n")
    .map((line) => line.replace(/\/\/.*$/, ""))
    .filter((line) => !/^\s*(\*|\/\*\*)/.test(line))
    .filter((line) => FIELD_CAST.test(line));
}

describe("typed handlers", () => {
  it("finds the casts it forbids", () => {
    const text = [
      "const a = request.acks as number;",
      "const t = request.topics as Message[];",
      "const x = request.topics as { name: string }[];",
      "const n = names[i] as string;",
      " * as number in a comment is fine;",
      'const ok = "X" as const;',
    ].join("\n");
    expect(castLines(text)).toHaveLength(4);
  });

  it("broker/api/ casts no request field", () => {
    const found: string[] = [];
    for (const file of readdirSync(API_DIR).filter((f) => f.endsWith(".ts"))) {
      for (const line of castLines(readFileSync(path.join(API_DIR, file), "utf8"))) {
        found.push(`${file}: ${line.trim()}`);
      }
    }
    expect(found).toEqual([]);
  });

  it("serves the controller's APIs (issue 13), each at every version its specs hold", () => {
    const controllerApis = [7, 43, 45, 46, 56];
    for (const key of controllerApis) {
      const handler = HANDLERS.find((h) => h.apiKey === key);
      expect(handler, `API ${key}`).toBeDefined();
      expect(`${handler?.minVersion}-${handler?.maxVersion}`.replace(/^(\d+)-\1$/, "$1")).toBe(
        API_SPECS[key]?.request.validVersions,
      );
    }
  });

  it("every handler's API has specs", () => {
    for (const h of HANDLERS) expect(API_SPECS[h.apiKey]?.name, h.name).toBe(h.name);
  });
});
