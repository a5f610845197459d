/**
 * protocol/types/ is generated from the specs (protocol/gen/): the committed files must be what
 * the generator writes today, so a spec change without `npm run gen:types` fails here.
 */
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { kebabName, specSources } from "../../protocol/gen/sources.js";
import { generateTypes } from "../../protocol/gen/types.js";
import { API_SPECS } from "../../protocol/messages/index.js";
import type { MessageSpec } from "../../protocol/schema.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const TYPES_DIR = path.join(ROOT, "protocol", "types");
const MESSAGES_DIR = path.join(ROOT, "protocol", "messages");

const generated = generateTypes(specSources(), API_SPECS);

describe("generated message types", () => {
  it("protocol/types/ holds exactly the generated files (and its README)", () => {
    const committed = readdirSync(TYPES_DIR)
      .filter((f) => f !== "README.md")
      .sort();
    expect(committed).toEqual(generated.map((f) => f.file).sort());
  });

  for (const f of generated) {
    it(`${f.file} is up to date (npm run gen:types)`, () => {
      expect(readFileSync(path.join(TYPES_DIR, f.file), "utf8")).toBe(f.text);
    });
  }

  it("covers every spec file of protocol/messages/", () => {
    const specFiles = readdirSync(MESSAGES_DIR)
      .filter((f) => f.endsWith(".ts") && f !== "index.ts")
      .map((f) => f.replace(/\.ts$/, ""))
      .sort();
    expect(
      specSources()
        .map((s) => s.file)
        .sort(),
    ).toEqual(specFiles);
  });

  it("names the API's file after the API", () => {
    expect(kebabName("OffsetForLeaderEpoch")).toBe("offset-for-leader-epoch");
    expect(kebabName("ApiVersions")).toBe("api-versions");
  });

  it("makes version-limited and tagged fields optional, nullable ones `| null`, int64 `L`", () => {
    const spec: MessageSpec = {
      apiKey: 99,
      type: "request",
      name: "SampleRequest",
      validVersions: "0-3",
      flexibleVersions: "2+",
      fields: [
        { name: "Always", type: "int32", versions: "0+" },
        { name: "Later", type: "string", versions: "1+", nullableVersions: "2+" },
        { name: "Tagged", type: "int8", versions: "2+", taggedVersions: "2+", tag: 0 },
        { name: "Offset", type: "int64", versions: "0+" },
        { name: "Max", type: "int64", versions: "0+", default: "9223372036854775807" },
        {
          name: "Items",
          type: "[]Item",
          versions: "1+",
          fields: [{ name: "Only", type: "bytes", versions: "1+" }],
        },
      ],
    };
    const [file] = generateTypes([{ file: "sample", specs: [spec] }], {});
    expect(file.text).toContain("export interface SampleRequestData<L extends Int64 = number> {");
    expect(file.text).toContain("  always: number;");
    expect(file.text).toContain("  later?: string | null;");
    expect(file.text).toContain("  tagged?: number;");
    expect(file.text).toContain("  offset: L;");
    expect(file.text).toContain("  max: Int64;");
    expect(file.text).toContain("  items?: Item[];");
    // A field of a struct that exists from v1 is required when the struct exists.
    expect(file.text).toContain("  only: Buffer;");
  });

  it("wraps an ApiMessages entry wider than the formatter's line, as biome does", () => {
    const spec = (type: "request" | "response"): MessageSpec => ({
      apiKey: 98,
      type,
      name: `AVeryLongApiNameThatMakesTheLineTooWide${type === "request" ? "Request" : "Response"}`,
      validVersions: "0",
      flexibleVersions: "none",
      fields: [],
    });
    const api = { request: spec("request"), response: spec("response") };
    const index = generateTypes([{ file: "long", specs: [api.request, api.response] }], { 98: api }).at(-1)!;
    expect(index.text).toContain(
      [
        "  98: {",
        "    request: AVeryLongApiNameThatMakesTheLineTooWideRequestData;",
        "    response: AVeryLongApiNameThatMakesTheLineTooWideResponseData;",
        "  };",
      ].join("\n"),
    );
  });
});
