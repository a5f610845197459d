/**
 * The browser's filters and JSON path on raw records, without a broker: the byte-search shortcut
 * never changes an answer (escaped JSON strings, numbers JSON.stringify spells otherwise, hex text
 * of non-UTF-8 keys), and the JSON path grammar's refusals.
 */
import { describe, expect, it } from "vitest";
import { JsonPathError, jsonPathGet, parseJsonPath } from "../../../broker/http/json-path.js";
import {
  bytesText,
  compileFilter,
  type FilterSpec,
  type RawRecord,
} from "../../../broker/http/record-filter.js";

const rec = (
  key: string | Buffer | null,
  value: string | null,
  headers: [string, string][] = [],
): RawRecord => ({
  key: typeof key === "string" ? Buffer.from(key) : key,
  value: value === null ? null : Buffer.from(value),
  headers: headers.map(([k, v]) => ({ key: k, value: Buffer.from(v) })),
});

function matches(spec: FilterSpec, r: RawRecord): boolean {
  const filter = compileFilter(spec);
  if (filter === null) throw new Error("no filter");
  return filter(r);
}

describe("text of bytes", () => {
  it("is a JSON string's content, other UTF-8 as it is, else hex", () => {
    expect(bytesText(Buffer.from('"a\\u0062c"'))).toBe("abc");
    expect(bytesText(Buffer.from("plain"))).toBe("plain");
    expect(bytesText(Buffer.from([0xff, 0x01]))).toBe("ff01");
    expect(bytesText(null)).toBeNull();
  });
});

describe("the byte-search shortcut keeps every answer", () => {
  it("finds keys and header values written with JSON escapes", () => {
    expect(matches({ key: "gold", match: "exact" }, rec('"\\u0067old"', null))).toBe(true);
    expect(matches({ header: "h", headerValue: "old" }, rec(null, null, [["h", '"g\\u006fld"']]))).toBe(true);
  });

  it("finds hex text of keys that are not UTF-8", () => {
    expect(matches({ key: "ff01", match: "exact" }, rec(Buffer.from([0xff, 0x01]), null))).toBe(true);
    expect(matches({ key: "ff02" }, rec(Buffer.from([0xff, 0x01]), null))).toBe(false);
  });

  it("finds JSON string values with escapes and numbers spelled otherwise", () => {
    const escaped = rec(null, '{"tier":"\\u0067old"}');
    expect(matches({ jsonPath: "$.tier", jsonValue: "gold", match: "exact" }, escaped)).toBe(true);
    const exponent = rec(null, '{"n":1e2}');
    expect(matches({ jsonPath: "$.n", jsonValue: "100", match: "exact" }, exponent)).toBe(true);
    const spaced = rec(null, '{"o": {"a": 1}}');
    expect(matches({ jsonPath: "$.o", jsonValue: '{"a":1}', match: "exact" }, spaced)).toBe(true);
    expect(matches({ jsonPath: "$.tier", jsonValue: "silver" }, escaped)).toBe(false);
  });

  it("matches true, false and null by their JSON text, and a path without a value by presence", () => {
    const r = rec(null, '{"a":true,"b":null,"c":[1,{"d":"x"}]}');
    expect(matches({ jsonPath: "$.a", jsonValue: "true", match: "exact" }, r)).toBe(true);
    expect(matches({ jsonPath: "$.b", jsonValue: "null", match: "exact" }, r)).toBe(true);
    expect(matches({ jsonPath: "$.c[1].d" }, r)).toBe(true);
    expect(matches({ jsonPath: "$.c[2]" }, r)).toBe(false);
    expect(matches({ jsonPath: "$.a" }, rec(null, "not json"))).toBe(false);
  });
});

describe("JSON path", () => {
  it("parses members, quoted members and indexes", () => {
    expect(parseJsonPath("$")).toEqual([]);
    expect(parseJsonPath('$.a.b_1[0][\'x y\']["q\\""]')).toEqual(["a", "b_1", 0, "x y", 'q"']);
    expect(jsonPathGet({ a: [{ b: 2 }] }, parseJsonPath("$.a[0].b"))).toBe(2);
    expect(jsonPathGet({ a: 1 }, parseJsonPath("$.toString"))).toBeUndefined();
  });

  it("refuses what is outside the grammar", () => {
    for (const bad of ["a.b", "$.", "$..a", "$[x]", "$[-1]", "$['a'", "$.1a", "$[*]", `$${".a".repeat(40)}`])
      expect(() => parseJsonPath(bad), bad).toThrow(JsonPathError);
  });
});
