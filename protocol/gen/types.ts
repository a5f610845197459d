/**
 * Writes TypeScript types for the message specs, as text: one module per spec file (its request
 * and response, or its data records), each struct an interface, plus an index with a map from API
 * key to request and response types. Pure: `main.ts` writes the files, and a test regenerates them
 * in memory to find committed output that is stale (docs/decisions/0025).
 *
 * The types say what `MessageCodec` decodes and accepts to encode, for every version at once:
 * - a field absent from some of its struct's versions, or tagged, is optional (encoding fills its
 *   default; decoding fills it too, so a decoded message has it);
 * - nullable in any version -> `| null`; `records` are `Buffer | null` (the codec lets them be
 *   null whatever the spec says); uuids are hex strings;
 * - int64 is the struct's type parameter `L` (`number` by default: the broker refuses a request
 *   holding a wider value unless the handler takes bigints, `L = Int64`), except a field whose
 *   default is beyond 2^53 (Long.MAX_VALUE): its default is a bigint, so it is always `Int64`.
 */
import { type FieldSpec, jsName, type MessageSpec, parseVersions, type VersionRange } from "../schema.js";

/** The specs of one file in protocol/messages/, named by its file name without `.ts`. */
export interface SpecSource {
  file: string;
  specs: MessageSpec[];
}

/** A generated module: its file name in protocol/types/ and its text. */
export interface GeneratedFile {
  file: string;
  text: string;
}

const PRIMITIVE_TYPES: Record<string, string> = {
  bool: "boolean",
  int8: "number",
  int16: "number",
  uint16: "number",
  int32: "number",
  float64: "number",
  string: "string",
  bytes: "Buffer",
  records: "Buffer | null",
  uuid: "string",
};

const GENERIC = "<L extends Int64 = number>";

/** The formatter's line width (biome.json): wider lines are wrapped as it would wrap them. */
const LINE_WIDTH = 110;

/** One interface to write. */
interface StructOut {
  name: string;
  /** The spec's own struct name, to find collisions. */
  specName: string;
  /** The versions the struct exists in. */
  range: VersionRange;
  fields: FieldSpec[];
  message: MessageSpec;
  generic: boolean;
}

function intersect(a: VersionRange, b: VersionRange): VersionRange {
  return { lo: Math.max(a.lo, b.lo), hi: Math.min(a.hi, b.hi) };
}

function covers(outer: VersionRange, inner: VersionRange): boolean {
  return inner.lo <= outer.lo && inner.hi >= outer.hi;
}

function isEmpty(r: VersionRange): boolean {
  return r.lo > r.hi;
}

function elementType(f: FieldSpec): string {
  return f.type.startsWith("[]") ? f.type.slice(2) : f.type;
}

function isStruct(f: FieldSpec): boolean {
  const t = elementType(f);
  return t !== "int64" && !(t in PRIMITIVE_TYPES);
}

/** Whether an int64 field's default is beyond 2^53, so the codec gives a bigint for it. */
function wideDefault(f: FieldSpec): boolean {
  if (f.default === undefined || f.default === null || typeof f.default === "boolean") return false;
  const text = String(f.default);
  if (text === "null") return false;
  const value = text.startsWith("0x") ? Number.parseInt(text, 16) : Number(text);
  return !Number.isSafeInteger(value);
}

function versionNote(f: FieldSpec): string {
  const notes = [`v${f.versions}`];
  if (f.nullableVersions && f.nullableVersions !== "none") notes.push(`nullable v${f.nullableVersions}`);
  if (f.taggedVersions) notes.push(`tagged v${f.taggedVersions} (tag ${f.tag})`);
  return notes.join(", ");
}

/** Collects a message's structs in order of first appearance, depth first. */
class Collector {
  readonly structs: StructOut[] = [];

  constructor(private readonly message: MessageSpec) {}

  structFields(f: FieldSpec): FieldSpec[] {
    const common = this.message.commonStructs?.find((s) => s.name === elementType(f));
    const fields = f.fields ?? common?.fields;
    if (!fields) throw new Error(`${this.message.name}: unknown struct type ${elementType(f)}`);
    return fields;
  }

  /**
   * Adds the struct of `fields` and its nested ones; returns whether it needs `L`. A struct met
   * again (a common struct used twice) widens to the versions of both uses.
   */
  add(name: string, fields: FieldSpec[], range: VersionRange): boolean {
    let out = this.structs.find((s) => s.specName === name);
    if (out && JSON.stringify(out.fields) !== JSON.stringify(fields)) {
      throw new Error(`${this.message.name}: two different structs named ${name}`);
    }
    if (out) out.range = { lo: Math.min(out.range.lo, range.lo), hi: Math.max(out.range.hi, range.hi) };
    else {
      out = { name, specName: name, range, fields, message: this.message, generic: false };
      this.structs.push(out);
    }
    for (const f of fields) {
      const present = intersect(range, parseVersions(f.versions));
      if (isEmpty(present)) continue;
      if (isStruct(f)) {
        if (this.add(elementType(f), this.structFields(f), present)) out.generic = true;
      } else if (elementType(f) === "int64" && !wideDefault(f)) {
        out.generic = true;
      }
    }
    return out.generic;
  }
}

/** Gives colliding struct names (two different structs of one file) their message's prefix. */
function nameStructs(structs: StructOut[], topNames: Set<string>): void {
  const byName = new Map<string, StructOut[]>();
  for (const s of structs) byName.set(s.specName, [...(byName.get(s.specName) ?? []), s]);
  for (const [name, group] of byName) {
    const distinct = new Set(group.map((s) => s.message.name));
    if (group.length > 1 && distinct.size > 1) {
      for (const s of group) s.name = `${s.message.name}${name}`;
    } else if (topNames.has(name)) {
      for (const s of group) s.name = `${s.message.name}${name}`;
    }
  }
}

class FileWriter {
  private readonly lines: string[] = [];
  usesInt64 = false;

  constructor(private readonly structs: StructOut[]) {}

  private structOf(owner: StructOut, f: FieldSpec): StructOut {
    const found = this.structs.find(
      (s) => s.message === owner.message && s.specName === elementType(f) && s !== owner,
    );
    if (!found) throw new Error(`${owner.message.name}: no struct ${elementType(f)}`);
    return found;
  }

  private typeOf(owner: StructOut, f: FieldSpec, present: VersionRange): string {
    const element = elementType(f);
    let t: string;
    if (element === "int64") {
      t = wideDefault(f) ? "Int64" : "L";
      if (t === "Int64") this.usesInt64 = true;
    } else if (element in PRIMITIVE_TYPES) {
      t = PRIMITIVE_TYPES[element];
    } else {
      const s = this.structOf(owner, f);
      t = s.generic ? `${s.name}<L>` : s.name;
    }
    const array = f.type.startsWith("[]");
    if (array) t = t.includes("|") ? `(${t})[]` : `${t}[]`;
    const nullable = !isEmpty(intersect(present, parseVersions(f.nullableVersions)));
    if (nullable && !t.endsWith("| null")) t += " | null";
    return t;
  }

  write(s: StructOut, doc: string): void {
    if (s.generic) this.usesInt64 = true;
    this.lines.push(`/** ${doc} */`);
    this.lines.push(`export interface ${s.name}${s.generic ? GENERIC : ""} {`);
    for (const f of s.fields) {
      const present = intersect(s.range, parseVersions(f.versions));
      if (isEmpty(present)) continue;
      const optional = f.taggedVersions !== undefined || !covers(s.range, present);
      this.lines.push(`  /** ${versionNote(f)} */`);
      this.lines.push(`  ${jsName(f.name)}${optional ? "?" : ""}: ${this.typeOf(s, f, present)};`);
    }
    this.lines.push("}", "");
  }

  text(header: string[]): string {
    const imports = this.usesInt64 ? ['import type { Int64 } from "../reader.js";', ""] : [];
    return [...header, ...imports, ...this.lines].join("\n");
  }
}

/** The name of a message's top-level type: `FetchRequest` -> `FetchRequestData`. */
export function typeName(spec: MessageSpec): string {
  return `${spec.name}Data`;
}

interface FileResult {
  file: GeneratedFile;
  /** Top-level type name -> whether it takes `L`. */
  tops: Map<string, boolean>;
}

function generateFile(source: SpecSource): FileResult {
  const all: StructOut[] = [];
  const tops = new Map<string, boolean>();
  const topStructs: StructOut[] = [];
  for (const spec of source.specs) {
    const c = new Collector(spec);
    c.add(typeName(spec), spec.fields, parseVersions(spec.validVersions));
    topStructs.push(c.structs[0]);
    all.push(...c.structs.slice(1));
  }
  nameStructs(all, new Set(topStructs.map((s) => s.name)));
  const writer = new FileWriter([...topStructs, ...all]);
  for (const top of topStructs) {
    tops.set(top.name, top.generic);
    writer.write(top, `${top.message.name}, v${top.message.validVersions}.`);
  }
  for (const s of all) writer.write(s, `${s.specName} of ${s.message.name}.`);
  const header = [
    `// Generated by protocol/gen/types.ts from protocol/messages/${source.file}.ts: do not edit.`,
    "// Regenerate with `npm run gen:types`.",
    "",
  ];
  return { file: { file: `${source.file}.ts`, text: writer.text(header) }, tops };
}

/** `  K: { request: R; response: S };`, wrapped one member a line past the formatter's width. */
function apiEntry(key: number, request: string, response: string, tops: Map<string, boolean>): string {
  const ref = (name: string) => (tops.get(name) ? `${name}<L>` : name);
  const line = `  ${key}: { request: ${ref(request)}; response: ${ref(response)} };`;
  if (line.length <= LINE_WIDTH) return line;
  return `  ${key}: {\n    request: ${ref(request)};\n    response: ${ref(response)};\n  };`;
}

/** `import type { a, b } from "x";`, wrapped one name a line past the formatter's width. */
function namedList(keyword: string, names: string[], from: string): string {
  const line = `${keyword} type { ${names.join(", ")} } from "${from}";`;
  if (line.length <= LINE_WIDTH) return line;
  return `${keyword} type {\n${names.map((n) => `  ${n},\n`).join("")}} from "${from}";`;
}

function indexFile(
  sources: SpecSource[],
  results: FileResult[],
  apis: Readonly<Record<number, { request: MessageSpec; response: MessageSpec }>>,
): GeneratedFile {
  const tops = new Map<string, boolean>();
  for (const r of results) for (const [name, generic] of r.tops) tops.set(name, generic);
  const modules = sources
    .map((source, i) => ({ file: source.file, names: [...results[i].tops.keys()].sort() }))
    // As the formatter orders them: by module name, a name before its longer namesakes.
    .sort((a, b) => (a.file < b.file ? -1 : 1))
    .map((m) => ({ from: `./${m.file}.js`, names: m.names }));
  const apiTypes = new Set(Object.values(apis).flatMap((a) => [typeName(a.request), typeName(a.response)]));
  const lines = [
    "// Generated by protocol/gen/types.ts: do not edit. Regenerate with `npm run gen:types`.",
    'import type { Int64 } from "../reader.js";',
  ];
  for (const m of modules) {
    const used = m.names.filter((n) => apiTypes.has(n));
    if (used.length > 0) lines.push(namedList("import", used, m.from));
  }
  lines.push("");
  for (const m of modules) lines.push(namedList("export", m.names, m.from));
  lines.push("");
  lines.push("/** API key -> its request and response types; `L` is the type of int64 fields. */");
  lines.push(`export interface ApiMessages${GENERIC} {`);
  for (const [key, api] of Object.entries(apis)) {
    lines.push(apiEntry(Number(key), typeName(api.request), typeName(api.response), tops));
  }
  lines.push("}", "");
  lines.push("/** An API key samsa has specs for. */");
  lines.push("export type ApiKey = keyof ApiMessages;");
  lines.push("");
  lines.push("/** The request type of API `K`. */");
  lines.push(
    `export type RequestOf<K extends ApiKey, L extends Int64 = number> = ApiMessages<L>[K]["request"];`,
  );
  lines.push("");
  lines.push("/** The response type of API `K`. */");
  lines.push(
    `export type ResponseOf<K extends ApiKey, L extends Int64 = number> = ApiMessages<L>[K]["response"];`,
  );
  lines.push("");
  return { file: "index.ts", text: lines.join("\n") };
}

/** Every generated file of protocol/types/, index.ts last. */
export function generateTypes(
  sources: SpecSource[],
  apis: Readonly<Record<number, { request: MessageSpec; response: MessageSpec }>>,
): GeneratedFile[] {
  const results = sources.map(generateFile);
  return [...results.map((r) => r.file), indexFile(sources, results, apis)];
}
