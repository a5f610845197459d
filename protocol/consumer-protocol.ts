/**
 * Kafka's ConsumerProtocol: the bytes consumers put in JoinGroup's protocol metadata (a
 * Subscription) and in SyncGroup's assignment (an Assignment). Both start with an int16 version and
 * use the classic (non-flexible) layout; later versions only append fields, so a decoder that knows
 * v0-v3 reads the known prefix of anything newer.
 *
 * Source: ConsumerProtocolSubscription.json / ConsumerProtocolAssignment.json in apache/kafka.
 * Other clients send what they like: KafkaJS writes version 1 with only the v0 fields (no
 * ownedPartitions), librdkafka v0-v1, Java v1-v3. Decoding therefore falls back to lower versions
 * when a declared version's fields are not all there.
 */
import { type Message, MessageCodec } from "./codec.js";
import { KafkaError } from "./errors.js";
import { Reader } from "./reader.js";
import type { MessageSpec } from "./schema.js";
import { Writer } from "./writer.js";

/** Partitions of one topic. */
export interface TopicPartitions {
  topic: string;
  partitions: number[];
}

export interface Subscription {
  topics: string[];
  userData: Buffer | null;
  /** v1+: partitions the member owned in its last generation (cooperative rebalancing). */
  ownedPartitions: TopicPartitions[];
  /** v2+: the generation those partitions were owned in; -1 when unknown. */
  generationId: number;
  /** v3+. */
  rackId: string | null;
}

export interface Assignment {
  assignedPartitions: TopicPartitions[];
  userData: Buffer | null;
}

/** The highest version this client writes and fully understands. */
export const CONSUMER_PROTOCOL_VERSION = 3;

const TOPIC_PARTITION = [
  { name: "Topic", type: "string", versions: "0+" },
  { name: "Partitions", type: "[]int32", versions: "0+" },
];

/**
 * Not a request: a standalone data message. `type: "header"` and apiKey -1 are how this codebase
 * marks specs that are not API bodies (see protocol/messages/header.ts).
 */
const SubscriptionSpec: MessageSpec = {
  apiKey: -1,
  type: "header",
  name: "ConsumerProtocolSubscription",
  validVersions: "0-3",
  flexibleVersions: "none",
  fields: [
    { name: "Topics", type: "[]string", versions: "0+" },
    { name: "UserData", type: "bytes", versions: "0+", nullableVersions: "0+", default: "null" },
    {
      name: "OwnedPartitions",
      type: "[]TopicPartition",
      versions: "1+",
      fields: TOPIC_PARTITION.map((f) => ({ ...f, versions: "1+" })),
    },
    { name: "GenerationId", type: "int32", versions: "2+", default: "-1" },
    { name: "RackId", type: "string", versions: "3+", nullableVersions: "3+", default: "null" },
  ],
};

const AssignmentSpec: MessageSpec = {
  apiKey: -1,
  type: "header",
  name: "ConsumerProtocolAssignment",
  validVersions: "0-3",
  flexibleVersions: "none",
  fields: [
    { name: "AssignedPartitions", type: "[]TopicPartition", versions: "0+", fields: TOPIC_PARTITION },
    { name: "UserData", type: "bytes", versions: "0+", nullableVersions: "0+", default: "null" },
  ],
};

const subscriptionCodec = new MessageCodec(SubscriptionSpec);
const assignmentCodec = new MessageCodec(AssignmentSpec);

function encode(codec: MessageCodec, version: number, body: Message): Buffer {
  if (!Number.isInteger(version) || version < 0 || version > CONSUMER_PROTOCOL_VERSION) {
    throw new RangeError(`consumer protocol version ${version} is not 0-${CONSUMER_PROTOCOL_VERSION}`);
  }
  const w = new Writer(256);
  w.int16(version);
  codec.encode(w, version, body);
  return Buffer.concat(w.toChunks(), w.size);
}

/**
 * Reads the declared version's fields, or, when the bytes end early (KafkaJS's "v1" without
 * ownedPartitions), the fields of the highest lower version that fits. Trailing bytes (fields of
 * versions newer than v3) are ignored.
 */
function decode(codec: MessageCodec, data: Buffer, what: string): Message {
  const r = new Reader(data);
  const declared = r.int16();
  if (declared < 0) throw new KafkaError("CORRUPT_MESSAGE", `${what} version ${declared}`);
  let last: unknown;
  for (let v = Math.min(declared, CONSUMER_PROTOCOL_VERSION); v >= 0; v--) {
    try {
      return codec.decode(new Reader(data, 2), v);
    } catch (err) {
      last = err;
    }
  }
  throw last;
}

/** Encodes a Subscription at `version` (default 3); fields the version lacks are left out. */
export function encodeSubscription(s: Partial<Subscription>, version = CONSUMER_PROTOCOL_VERSION): Buffer {
  return encode(subscriptionCodec, version, {
    topics: s.topics ?? [],
    userData: s.userData ?? null,
    ownedPartitions: s.ownedPartitions ?? [],
    generationId: s.generationId ?? -1,
    rackId: s.rackId ?? null,
  });
}

/** Decodes a Subscription of any version; `version` is what the sender declared. */
export function decodeSubscription(data: Buffer): Subscription & { version: number } {
  const m = decode(subscriptionCodec, data, "subscription");
  return {
    version: data.readInt16BE(0),
    topics: m.topics as string[],
    userData: m.userData as Buffer | null,
    ownedPartitions: m.ownedPartitions as TopicPartitions[],
    generationId: m.generationId as number,
    rackId: m.rackId as string | null,
  };
}

export function encodeAssignment(a: Partial<Assignment>, version = CONSUMER_PROTOCOL_VERSION): Buffer {
  return encode(assignmentCodec, version, {
    assignedPartitions: a.assignedPartitions ?? [],
    userData: a.userData ?? null,
  });
}

/**
 * Decodes an Assignment of any version. Empty bytes (what a coordinator returns to a member the
 * leader gave nothing) decode as no partitions.
 */
export function decodeAssignment(data: Buffer | null): Assignment & { version: number } {
  if (!data || data.length === 0) return { version: 0, assignedPartitions: [], userData: null };
  const m = decode(assignmentCodec, data, "assignment");
  return {
    version: data.readInt16BE(0),
    assignedPartitions: m.assignedPartitions as TopicPartitions[],
    userData: m.userData as Buffer | null,
  };
}
