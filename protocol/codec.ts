/**
 * One interpreter for every Kafka message: from a MessageSpec and a version it builds (once, then
 * cached) a plan of the fields present at that version, and encodes or decodes plain objects with
 * it. Flexible versions use compact strings, bytes and arrays and carry tagged fields.
 *
 * Decoding fills every field the spec knows: absent ones (other versions, missing tags) get their
 * defaults, so handlers see one shape whatever the version. Unknown tagged fields are skipped.
 */
import { KafkaError } from "./errors.js";
import { Reader } from "./reader.js";
import {
  type FieldSpec,
  inVersions,
  jsName,
  type MessageSpec,
  parseVersions,
  type StructSpec,
  type VersionRange,
} from "./schema.js";
import { Writer } from "./writer.js";

// biome-ignore lint/suspicious/noExplicitAny: decoded messages are plain objects typed by each API module.
export type Message = Record<string, any>;

type Primitive =
  | "bool"
  | "int8"
  | "int16"
  | "uint16"
  | "int32"
  | "int64"
  | "float64"
  | "string"
  | "bytes"
  | "records"
  | "uuid";

const PRIMITIVES = new Set<string>([
  "bool",
  "int8",
  "int16",
  "uint16",
  "int32",
  "int64",
  "float64",
  "string",
  "bytes",
  "records",
  "uuid",
]);

const MIN_BYTES: Record<Primitive, number> = {
  bool: 1,
  int8: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  int64: 8,
  float64: 8,
  string: 1,
  bytes: 1,
  records: 1,
  uuid: 16,
};

const ZERO_UUID = "00000000000000000000000000000000";

interface FieldPlan {
  key: string;
  name: string;
  /** A primitive, or "struct". */
  kind: Primitive | "struct";
  array: boolean;
  nullable: boolean;
  flexible: boolean;
  tag: number;
  struct: StructPlan | null;
  defaultValue: () => unknown;
}

interface StructPlan {
  fields: FieldPlan[];
  tagged: FieldPlan[];
  /** Every field the spec knows, with defaults, for fields absent at this version. */
  absent: FieldPlan[];
  flexible: boolean;
}

function primitiveDefault(kind: Primitive, spec: FieldSpec["default"], nullable: boolean): unknown {
  // Kafka gives "null" defaults only to fields that are nullable wherever they exist, so a field
  // absent at this version (Produce v0-v2's TransactionalId) reads as null, not as "".
  if (spec === null || spec === "null") return null;
  switch (kind) {
    case "bool":
      return spec === true || spec === "true";
    case "string":
      return spec === undefined ? "" : String(spec);
    case "bytes":
    case "records":
      return nullable && spec === undefined ? null : Buffer.alloc(0);
    case "uuid":
      return ZERO_UUID;
    default: {
      if (spec === undefined) return 0;
      const text = String(spec);
      // Kafka writes some defaults in hex ("0x7fffffff").
      const value = text.startsWith("0x") ? Number.parseInt(text, 16) : Number(text);
      // int64 defaults beyond 2^53 (Long.MAX_VALUE) are bigints, as Reader.int64 reads them, so
      // that the wire value and the default compare equal.
      return Number.isSafeInteger(value) ? value : BigInt(text);
    }
  }
}

class Planner {
  private readonly common = new Map<string, StructSpec>();
  private readonly flexible: VersionRange;

  constructor(readonly spec: MessageSpec) {
    for (const s of spec.commonStructs ?? []) this.common.set(s.name, s);
    this.flexible = parseVersions(spec.flexibleVersions);
  }

  plan(version: number): StructPlan {
    return this.struct(this.spec.fields, version);
  }

  private struct(fields: FieldSpec[], version: number): StructPlan {
    const flexible = inVersions(this.flexible, version);
    const plan: StructPlan = { fields: [], tagged: [], absent: [], flexible };
    for (const f of fields) {
      const field = this.field(f, version, flexible);
      const present = inVersions(parseVersions(f.versions), version);
      const tagged =
        flexible && f.taggedVersions !== undefined && inVersions(parseVersions(f.taggedVersions), version);
      if (present && tagged) plan.tagged.push(field);
      else if (present) plan.fields.push(field);
      else plan.absent.push(field);
    }
    plan.tagged.sort((a, b) => a.tag - b.tag);
    return plan;
  }

  private field(f: FieldSpec, version: number, flexible: boolean): FieldPlan {
    const array = f.type.startsWith("[]");
    const elementType = array ? f.type.slice(2) : f.type;
    const nullable = inVersions(parseVersions(f.nullableVersions), version);
    const fieldFlexible =
      f.flexibleVersions !== undefined ? inVersions(parseVersions(f.flexibleVersions), version) : flexible;
    let struct: StructPlan | null = null;
    let kind: FieldPlan["kind"];
    if (PRIMITIVES.has(elementType)) {
      kind = elementType as Primitive;
    } else {
      kind = "struct";
      const fields = f.fields ?? this.common.get(elementType)?.fields;
      if (!fields) throw new Error(`${this.spec.name}: unknown struct type ${elementType}`);
      struct = this.struct(fields, version);
    }
    const defaultValue = (): unknown => {
      if (array) return nullable && f.default === "null" ? null : [];
      if (kind === "struct") return nullable ? null : defaultsOf(struct!);
      return primitiveDefault(kind, f.default, nullable);
    };
    return {
      key: jsName(f.name),
      name: f.name,
      kind,
      array,
      nullable,
      flexible: fieldFlexible,
      tag: f.tag ?? -1,
      struct,
      defaultValue,
    };
  }
}

function defaultsOf(plan: StructPlan): Message {
  const out: Message = {};
  for (const f of plan.fields) out[f.key] = f.defaultValue();
  for (const f of plan.tagged) out[f.key] = f.defaultValue();
  for (const f of plan.absent) out[f.key] = f.defaultValue();
  return out;
}

// ------------------------------------------------------------------------------------------------
// Decoding

function readPrimitive(r: Reader, f: FieldPlan, kind: Primitive): unknown {
  switch (kind) {
    case "bool":
      return r.bool();
    case "int8":
      return r.int8();
    case "int16":
      return r.int16();
    case "uint16":
      return r.uint16();
    case "int32":
      return r.int32();
    case "int64":
      return r.int64();
    case "float64":
      return r.float64();
    case "uuid":
      return r.uuid();
    case "string": {
      const s = f.flexible ? r.compactNullableString() : r.nullableString();
      if (s === null && !f.nullable) throw new KafkaError("CORRUPT_MESSAGE", `${f.name} may not be null`);
      return s;
    }
    case "bytes":
    case "records": {
      const b = f.flexible ? r.compactNullableBytes() : r.nullableBytes();
      if (b === null && !f.nullable && kind === "bytes") {
        throw new KafkaError("CORRUPT_MESSAGE", `${f.name} may not be null`);
      }
      return b;
    }
  }
}

function readValue(r: Reader, f: FieldPlan): unknown {
  if (f.array) {
    const minBytes = f.kind === "struct" ? 1 : MIN_BYTES[f.kind];
    const n = f.flexible ? r.compactArrayLength(minBytes) : r.arrayLength(minBytes);
    if (n < 0) {
      if (!f.nullable) throw new KafkaError("CORRUPT_MESSAGE", `${f.name} may not be null`);
      return null;
    }
    const out = new Array<unknown>(n);
    for (let i = 0; i < n; i++)
      out[i] = f.kind === "struct" ? readStruct(r, f.struct!) : readPrimitive(r, f, f.kind);
    return out;
  }
  if (f.kind === "struct") {
    if (f.nullable && r.int8() < 0) return null;
    return readStruct(r, f.struct!);
  }
  return readPrimitive(r, f, f.kind);
}

function readStruct(r: Reader, plan: StructPlan): Message {
  const out: Message = {};
  for (const f of plan.fields) out[f.key] = readValue(r, f);
  for (const f of plan.tagged) out[f.key] = f.defaultValue();
  for (const f of plan.absent) out[f.key] = f.defaultValue();
  if (plan.flexible) readTaggedFields(r, plan, out);
  return out;
}

function readTaggedFields(r: Reader, plan: StructPlan, out: Message): void {
  const count = r.uvarint();
  let lastTag = -1;
  for (let i = 0; i < count; i++) {
    const tag = r.uvarint();
    if (tag <= lastTag) throw new KafkaError("CORRUPT_MESSAGE", `tagged field ${tag} out of order`);
    lastTag = tag;
    const size = r.uvarint();
    const data = r.bytes(size);
    const field = plan.tagged.find((f) => f.tag === tag);
    if (field) out[field.key] = readValue(new Reader(data), field);
  }
}

// ------------------------------------------------------------------------------------------------
// Encoding

function writePrimitive(w: Writer, f: FieldPlan, kind: Primitive, v: unknown): void {
  switch (kind) {
    case "bool":
      w.bool(Boolean(v));
      return;
    case "int8":
      w.int8(Number(v ?? 0));
      return;
    case "int16":
      w.int16(Number(v ?? 0));
      return;
    case "uint16":
      w.uint16(Number(v ?? 0));
      return;
    case "int32":
      w.int32(Number(v ?? 0));
      return;
    case "int64":
      w.int64(typeof v === "bigint" ? v : Number(v ?? 0));
      return;
    case "float64":
      w.float64(Number(v ?? 0));
      return;
    case "uuid":
      w.uuid(typeof v === "string" ? v : ZERO_UUID);
      return;
    case "string": {
      const s = v == null ? (f.nullable ? null : "") : String(v);
      if (f.flexible) w.compactNullableString(s);
      else w.nullableString(s);
      return;
    }
    case "bytes":
    case "records": {
      const b = v == null ? (f.nullable || kind === "records" ? null : Buffer.alloc(0)) : (v as Buffer);
      if (f.flexible) w.compactNullableBytes(b);
      else w.nullableBytes(b);
      return;
    }
  }
}

function writeValue(w: Writer, f: FieldPlan, v: unknown): void {
  if (f.array) {
    if (v == null) {
      if (f.nullable) {
        if (f.flexible) w.uvarint(0);
        else w.int32(-1);
        return;
      }
      v = [];
    }
    const items = v as unknown[];
    if (f.flexible) w.uvarint(items.length + 1);
    else w.int32(items.length);
    for (const item of items) {
      if (f.kind === "struct") writeStruct(w, f.struct!, (item ?? {}) as Message);
      else writePrimitive(w, f, f.kind, item);
    }
    return;
  }
  if (f.kind === "struct") {
    if (f.nullable) {
      if (v == null) {
        w.int8(-1);
        return;
      }
      w.int8(1);
    }
    writeStruct(w, f.struct!, (v ?? {}) as Message);
    return;
  }
  writePrimitive(w, f, f.kind, v);
}

function isDefault(f: FieldPlan, v: unknown): boolean {
  if (v === undefined) return true;
  const d = f.defaultValue();
  if (Array.isArray(v)) return Array.isArray(d) && v.length === 0;
  if (Buffer.isBuffer(v)) return Buffer.isBuffer(d) && v.length === 0;
  if (f.kind === "struct" && v !== null && typeof v === "object") {
    // A struct is at its default when every field it carries at this version is.
    if (d === null) return false;
    const s = f.struct!;
    return [...s.fields, ...s.tagged].every((g) => isDefault(g, (v as Message)[g.key]));
  }
  if (v !== null && typeof v === "object") return false;
  return v === d;
}

function writeStruct(w: Writer, plan: StructPlan, value: Message): void {
  for (const f of plan.fields) {
    const v = value[f.key];
    writeValue(w, f, v === undefined ? f.defaultValue() : v);
  }
  if (!plan.flexible) return;
  const present = plan.tagged.filter((f) => !isDefault(f, value[f.key]));
  w.uvarint(present.length);
  for (const f of present) {
    const inner = new Writer(64);
    writeValue(inner, f, value[f.key]);
    w.uvarint(f.tag);
    w.uvarint(inner.size);
    for (const chunk of inner.toChunks()) w.raw(chunk);
  }
}

// ------------------------------------------------------------------------------------------------

/** Encoder and decoder of one message at every version it supports. */
export class MessageCodec {
  private readonly planner: Planner;
  private readonly plans = new Map<number, StructPlan>();
  readonly versions: VersionRange;
  readonly flexibleVersions: VersionRange;

  constructor(readonly spec: MessageSpec) {
    this.planner = new Planner(spec);
    this.versions = parseVersions(spec.validVersions);
    this.flexibleVersions = parseVersions(spec.flexibleVersions);
  }

  supports(version: number): boolean {
    return inVersions(this.versions, version);
  }

  isFlexible(version: number): boolean {
    return inVersions(this.flexibleVersions, version);
  }

  private planFor(version: number): StructPlan {
    let plan = this.plans.get(version);
    if (!plan) {
      if (!this.supports(version)) {
        throw new KafkaError("UNSUPPORTED_VERSION", `${this.spec.name} v${version} is not supported`);
      }
      plan = this.planner.plan(version);
      this.plans.set(version, plan);
    }
    return plan;
  }

  /** Decodes a message body; the reader ends positioned after it. */
  decode(r: Reader, version: number): Message {
    return readStruct(r, this.planFor(version));
  }

  encode(w: Writer, version: number, value: Message): void {
    writeStruct(w, this.planFor(version), value);
  }

  /** A message with every field at its default for `version`. */
  defaults(version: number): Message {
    return defaultsOf(this.planFor(version));
  }
}
