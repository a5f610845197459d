/**
 * Kafka messages described as data, in the shape of Kafka's own message specs: for each message
 * its API key, valid and flexible versions, and fields with version ranges, nullability, tags and
 * defaults. `codec.ts` turns one spec into an encoder and decoder for every version.
 *
 * Field names are Kafka's (PascalCase); decoded objects use the same names with a lower-case
 * first letter (`TopicName` -> `topicName`).
 */

export interface FieldSpec {
  name: string;
  /**
   * bool, int8, int16, uint16, int32, int64, float64, string, bytes, records, uuid; `[]T` for an
   * array of T; a struct's name (with `fields`, or one of the spec's `commonStructs`).
   */
  type: string;
  /** "0+", "3-5", "7" or "none". */
  versions: string;
  nullableVersions?: string;
  taggedVersions?: string;
  tag?: number;
  /** Kafka's default, as its spec writes it ("-1", "true", "null", ...). */
  default?: string | number | boolean | null;
  /** Overrides the message's flexible versions for this field (the header's ClientId). */
  flexibleVersions?: string;
  fields?: FieldSpec[];
}

export interface StructSpec {
  name: string;
  versions?: string;
  fields: FieldSpec[];
}

export interface MessageSpec {
  apiKey: number;
  /** `data` for records stored in logs (the `__consumer_offsets` keys and values). */
  type: "request" | "response" | "header" | "data";
  name: string;
  validVersions: string;
  flexibleVersions: string;
  fields: FieldSpec[];
  commonStructs?: StructSpec[];
}

/** An inclusive version range; `hi` is Infinity for "N+". */
export interface VersionRange {
  lo: number;
  hi: number;
}

const NONE: VersionRange = { lo: 1, hi: 0 };

export function parseVersions(text: string | undefined): VersionRange {
  if (text === undefined || text === "none") return NONE;
  const plus = /^(\d+)\+$/.exec(text);
  if (plus) return { lo: Number(plus[1]), hi: Number.POSITIVE_INFINITY };
  const range = /^(\d+)-(\d+)$/.exec(text);
  if (range) return { lo: Number(range[1]), hi: Number(range[2]) };
  if (/^\d+$/.test(text)) return { lo: Number(text), hi: Number(text) };
  throw new Error(`bad version range "${text}"`);
}

export function inVersions(range: VersionRange, version: number): boolean {
  return version >= range.lo && version <= range.hi;
}

/** `TopicName` -> `topicName`. */
export function jsName(kafkaName: string): string {
  return kafkaName.charAt(0).toLowerCase() + kafkaName.slice(1);
}
