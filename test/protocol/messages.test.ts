import { describe, expect, it } from "vitest";
import { type Message, MessageCodec } from "../../protocol/codec.js";
import { KafkaError } from "../../protocol/errors.js";
import { API_SPECS } from "../../protocol/messages/index.js";
import { Reader } from "../../protocol/reader.js";
import {
  type FieldSpec,
  inVersions,
  jsName,
  type MessageSpec,
  parseVersions,
} from "../../protocol/schema.js";
import { Writer } from "../../protocol/writer.js";

function encode(codec: MessageCodec, version: number, value: Message): Buffer {
  const w = new Writer(64);
  codec.encode(w, version, value);
  return w.toBuffer();
}

function decode(codec: MessageCodec, version: number, bytes: Buffer): Message {
  const r = new Reader(bytes);
  const out = codec.decode(r, version);
  expect(r.remaining()).toBe(0);
  return out;
}

function versionsOf(spec: MessageSpec): number[] {
  const { lo, hi } = parseVersions(spec.validVersions);
  const out: number[] = [];
  for (let v = lo; v <= hi; v++) out.push(v);
  return out;
}

// ------------------------------------------------------------------------------------------------
// Sample values built from the spec: every field present at the version gets a distinct value that
// differs from its default, arrays get two elements (one below the second level), and in the
// "nulls" variant every nullable field is null.

class Sampler {
  private seed = 7;

  constructor(
    private readonly spec: MessageSpec,
    private readonly version: number,
    private readonly nulls: boolean,
  ) {}

  message(): Message {
    return this.struct(this.spec.fields, 0);
  }

  private struct(fields: FieldSpec[], depth: number): Message {
    const out: Message = {};
    for (const f of fields) {
      if (!inVersions(parseVersions(f.versions), this.version)) continue;
      out[jsName(f.name)] = this.field(f, depth);
    }
    return out;
  }

  private field(f: FieldSpec, depth: number): unknown {
    const nullable = inVersions(parseVersions(f.nullableVersions), this.version);
    if (this.nulls && nullable) return null;
    if (f.type.startsWith("[]")) {
      const element = f.type.slice(2);
      const count = depth < 2 ? 2 : 1;
      return Array.from({ length: count }, () => this.value(f, element, depth + 1));
    }
    return this.value(f, f.type, depth + 1);
  }

  private value(f: FieldSpec, type: string, depth: number): unknown {
    const n = this.seed++;
    switch (type) {
      case "bool":
        return !(f.default === true || f.default === "true");
      case "int8":
        return (n % 100) + 2;
      case "int16":
        return 1000 + n;
      case "uint16":
        return 40_000 + n;
      case "int32":
        return 100_000 + n;
      case "int64":
        return 2 ** 40 + n;
      case "float64":
        return n + 0.5;
      case "string":
        return `s${n}`;
      case "bytes":
      case "records":
        return Buffer.from([n & 0xff, 0xab, n >> 8]);
      case "uuid":
        return n.toString(16).padStart(32, "c");
      default: {
        const fields = f.fields ?? this.spec.commonStructs?.find((s) => s.name === type)?.fields;
        if (!fields) throw new Error(`no fields for ${type}`);
        return this.struct(fields, depth);
      }
    }
  }
}

const APIS = Object.entries(API_SPECS).map(([key, api]) => ({ key: Number(key), ...api }));

describe("API_SPECS", () => {
  it("holds the 41 APIs under their keys, with matching request and response versions", () => {
    expect(APIS.map((a) => a.key)).toEqual([
      0, 1, 2, 3, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 29, 30, 31, 32, 33, 35, 36,
      37, 42, 43, 44, 45, 46, 47, 50, 51, 56, 60, 61, 75,
    ]);
    for (const api of APIS) {
      expect(api.request.apiKey).toBe(api.key);
      expect(api.response.apiKey).toBe(api.key);
      expect(api.request.type).toBe("request");
      expect(api.response.type).toBe("response");
      expect(api.request.name).toBe(`${api.name}Request`);
      expect(api.response.name).toBe(`${api.name}Response`);
      expect(api.response.validVersions).toBe(api.request.validVersions);
      expect(api.response.flexibleVersions).toBe(api.request.flexibleVersions);
    }
  });

  it("starts every API at v0, for the old versions KafkaJS and librdkafka still send", () => {
    // Inter-broker only, which no client sends: its flexible version alone.
    const brokersOnly = new Set(["ControlledShutdown"]);
    for (const api of APIS.filter((a) => !brokersOnly.has(a.name))) {
      expect(parseVersions(api.request.validVersions).lo, api.name).toBe(0);
    }
  });

  it("plans every version of every spec without unknown types", () => {
    for (const api of APIS) {
      for (const spec of [api.request, api.response]) {
        const codec = new MessageCodec(spec);
        for (const v of versionsOf(spec)) expect(() => codec.defaults(v)).not.toThrow();
      }
    }
  });
});

describe.each(APIS)("$name (key $key)", (api) => {
  describe.each([api.request, api.response])("$name", (spec) => {
    const codec = new MessageCodec(spec);

    it.each(versionsOf(spec))("round-trips a sample at v%i", (v) => {
      for (const nulls of [false, true]) {
        const sample = new Sampler(spec, v, nulls).message();
        const bytes = encode(codec, v, sample);
        const decoded = decode(codec, v, bytes);
        expect(decoded).toMatchObject(sample);
        expect(encode(codec, v, decoded)).toEqual(bytes);
      }
    });

    it.each(versionsOf(spec))("round-trips defaults at v%i without adding bytes", (v) => {
      const empty = encode(codec, v, {});
      const decoded = decode(codec, v, empty);
      expect(decoded).toEqual(codec.defaults(v));
      expect(encode(codec, v, decoded)).toEqual(empty);
    });

    it.each(versionsOf(spec))("refuses every truncation of a v%i body with CORRUPT_MESSAGE", (v) => {
      const bytes = encode(codec, v, new Sampler(spec, v, false).message());
      for (let cut = 0; cut < bytes.length; cut++) {
        let thrown: unknown;
        try {
          codec.decode(new Reader(bytes.subarray(0, cut)), v);
        } catch (err) {
          thrown = err;
        }
        expect(KafkaError.is(thrown, "CORRUPT_MESSAGE"), `cut at ${cut} of ${bytes.length}`).toBe(true);
      }
    });
  });
});

// ------------------------------------------------------------------------------------------------
// Byte vectors derived by hand from the specs.

function codecOf(key: number, side: "request" | "response"): MessageCodec {
  return new MessageCodec(API_SPECS[key][side]);
}

function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ""), "hex");
}

describe("golden vectors", () => {
  it("ApiVersions v0 request: empty body", () => {
    const codec = codecOf(18, "request");
    expect(encode(codec, 0, {})).toEqual(Buffer.alloc(0));
    expect(decode(codec, 0, Buffer.alloc(0))).toEqual({ clientSoftwareName: "", clientSoftwareVersion: "" });
  });

  it("ApiVersions v3 request: compact strings and an empty tagged section", () => {
    const codec = codecOf(18, "request");
    const bytes = hex("02 61 02 62 00");
    expect(encode(codec, 3, { clientSoftwareName: "a", clientSoftwareVersion: "b" })).toEqual(bytes);
    expect(decode(codec, 3, bytes)).toEqual({ clientSoftwareName: "a", clientSoftwareVersion: "b" });
  });

  it("ApiVersions v3 response: a tagged int64 is written only when it differs from its default", () => {
    const codec = codecOf(18, "response");
    const value = {
      errorCode: 0,
      apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 4 }],
      throttleTimeMs: 0,
      finalizedFeaturesEpoch: 5,
    };
    // error, 1 key (count 2), key 18 v0-v4, key's tags, throttle, 1 tag: tag 1, size 8, value 5.
    const bytes = hex("0000 02 0012 0000 0004 00 00000000 01 01 08 0000000000000005");
    expect(encode(codec, 3, value)).toEqual(bytes);
    expect(decode(codec, 3, bytes)).toMatchObject(value);
    expect(encode(codec, 3, { ...value, finalizedFeaturesEpoch: -1 })).toEqual(
      hex("0000 02 0012 0000 0004 00 00000000 00"),
    );
  });

  it("Metadata v0 request with topics [t]", () => {
    const codec = codecOf(3, "request");
    const bytes = hex("00000001 0001 74");
    expect(encode(codec, 0, { topics: [{ name: "t" }] })).toEqual(bytes);
    expect(decode(codec, 0, bytes).topics).toEqual([{ name: "t", topicId: "0".repeat(32) }]);
  });

  it("Metadata v1 request for every topic: a null array", () => {
    const codec = codecOf(3, "request");
    expect(encode(codec, 1, { topics: null })).toEqual(hex("ffffffff"));
    expect(decode(codec, 1, hex("ffffffff")).topics).toBeNull();
    // v0 has no null: an empty array means every topic.
    expect(encode(codec, 0, { topics: null })).toEqual(hex("00000000"));
  });

  it("CreateTopics v5 request: a flexible body without tagged fields", () => {
    const codec = codecOf(19, "request");
    const value = {
      topics: [
        {
          name: "t",
          numPartitions: 1,
          replicationFactor: 1,
          assignments: [],
          configs: [{ name: "a", value: null }],
        },
      ],
      timeoutMs: 1000,
      validateOnly: false,
    };
    const bytes = hex(
      [
        "02", // topics: 1 (compact count + 1)
        "02 74", // name "t"
        "00000001", // numPartitions 1
        "0001", // replicationFactor 1
        "01", // assignments: none
        "02 02 61 00 00", // configs: 1 -> name "a", value null, no tags
        "00", // topic: no tags
        "000003e8", // timeoutMs 1000
        "00", // validateOnly false
        "00", // no tags
      ].join(""),
    );
    expect(encode(codec, 5, value)).toEqual(bytes);
    expect(decode(codec, 5, bytes)).toEqual(value);
  });

  it("Produce v3 request: nullable transactional id and records", () => {
    const codec = codecOf(0, "request");
    const value = {
      transactionalId: null,
      acks: -1,
      timeoutMs: 30000,
      topicData: [{ name: "t", partitionData: [{ index: 0, records: null }] }],
    };
    const bytes = hex("ffff ffff 00007530 00000001 0001 74 00000001 00000000 ffffffff");
    expect(encode(codec, 3, value)).toEqual(bytes);
    expect(decode(codec, 3, bytes)).toMatchObject(value);
  });
});

describe("golden vectors: DescribeProducers and DescribeTopicPartitions", () => {
  it("DescribeProducers v0 request: a topic and its partition indexes", () => {
    const codec = codecOf(61, "request");
    const value = { topics: [{ name: "t", partitionIndexes: [0, 1] }] };
    // topics: 1 -> name "t", indexes: 2 -> 0, 1; topic tags; message tags.
    const bytes = hex("02 02 74 03 00000000 00000001 00 00");
    expect(encode(codec, 0, value)).toEqual(bytes);
    expect(decode(codec, 0, bytes)).toEqual(value);
  });

  it("DescribeProducers v0 response: a partition's producer state", () => {
    const codec = codecOf(61, "response");
    const value = {
      throttleTimeMs: 0,
      topics: [
        {
          name: "t",
          partitions: [
            {
              partitionIndex: 0,
              errorCode: 0,
              errorMessage: null,
              activeProducers: [
                {
                  producerId: 7,
                  producerEpoch: 1,
                  lastSequence: 9,
                  lastTimestamp: -1,
                  coordinatorEpoch: -1,
                  currentTxnStartOffset: -1,
                },
              ],
            },
          ],
        },
      ],
    };
    const bytes = hex(
      [
        "00000000", // throttle
        "02 02 74", // topics: 1 -> "t"
        "02 00000000 0000 00", // partitions: 1 -> index 0, no error, null message
        "02 0000000000000007 00000001 00000009 ffffffffffffffff ffffffff ffffffffffffffff 00",
        "00 00 00", // partition, topic and message tags
      ].join(""),
    );
    expect(encode(codec, 0, value)).toEqual(bytes);
    expect(decode(codec, 0, bytes)).toEqual(value);
  });

  it("DescribeTopicPartitions v0 request: a nullable cursor struct (1 present, -1 null)", () => {
    const codec = codecOf(75, "request");
    const value = {
      topics: [{ name: "t" }],
      responsePartitionLimit: 5,
      cursor: { topicName: "t", partitionIndex: 2 },
    };
    const bytes = hex("02 02 74 00 00000005 01 02 74 00000002 00 00");
    expect(encode(codec, 0, value)).toEqual(bytes);
    expect(decode(codec, 0, bytes)).toEqual(value);
    const noCursor = hex("02 02 74 00 000007d0 ff 00");
    expect(encode(codec, 0, { topics: [{ name: "t" }] })).toEqual(noCursor);
    expect(decode(codec, 0, noCursor)).toEqual({
      topics: [{ name: "t" }],
      responsePartitionLimit: 2000,
      cursor: null,
    });
  });

  it("DescribeTopicPartitions v0 response: null ELR arrays and no next cursor", () => {
    const codec = codecOf(75, "response");
    const id = "0123456789abcdef0123456789abcdef";
    const value = {
      throttleTimeMs: 0,
      topics: [
        {
          errorCode: 0,
          name: "t",
          topicId: id,
          isInternal: false,
          partitions: [
            {
              errorCode: 0,
              partitionIndex: 0,
              leaderId: 1,
              leaderEpoch: 0,
              replicaNodes: [1],
              isrNodes: [1],
              eligibleLeaderReplicas: null,
              lastKnownELR: null,
              offlineReplicas: [],
            },
          ],
          topicAuthorizedOperations: -2147483648,
        },
      ],
      nextCursor: null,
    };
    const bytes = hex(
      [
        "00000000", // throttle
        `02 0000 02 74 ${id} 00`, // topics: 1 -> no error, "t", id, not internal
        "02 0000 00000000 00000001 00000000", // partitions: 1 -> no error, index 0, leader 1, epoch 0
        "02 00000001 02 00000001 00 00 01 00", // replicas [1], isr [1], ELR null, last ELR null, offline []
        "80000000 00", // authorized operations omitted; topic tags
        "ff 00", // next cursor null; message tags
      ].join(""),
    );
    expect(encode(codec, 0, value)).toEqual(bytes);
    expect(decode(codec, 0, bytes)).toEqual(value);
  });
});

describe("decoding defaults", () => {
  it("fills a null transactional id for Produce v0-v2, which have none", () => {
    const codec = codecOf(0, "request");
    const bytes = encode(codec, 0, { acks: 1, timeoutMs: 1000, topicData: [] });
    expect(decode(codec, 0, bytes).transactionalId).toBeNull();
  });

  it("keeps a tagged struct at its default off the wire after a decode", () => {
    const codec = codecOf(0, "response");
    const value = {
      responses: [{ name: "t", partitionResponses: [{ index: 0, errorCode: 0, baseOffset: 5 }] }],
    };
    const bytes = encode(codec, 10, value);
    const decoded = decode(codec, 10, bytes);
    expect(decoded.responses[0].partitionResponses[0].currentLeader).toEqual({
      leaderId: -1,
      leaderEpoch: -1,
    });
    expect(encode(codec, 10, decoded)).toEqual(bytes);
    // A leader that is known is written, as tag 0.
    decoded.responses[0].partitionResponses[0].currentLeader = { leaderId: 2, leaderEpoch: 3 };
    // Before: 00 (no tags). After: 01 (one tag), tag 0, size 9: two int32 and the struct's own 00.
    expect(encode(codec, 10, decoded).length).toBe(bytes.length + 11);
  });

  it("reads Fetch v18's 'not supported' high watermark (int64 max) as the default", () => {
    const codec = codecOf(1, "request");
    const value = {
      maxWaitMs: 500,
      minBytes: 1,
      topics: [
        { topicId: "1".repeat(32), partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1 }] },
      ],
    };
    const plain = encode(codec, 18, value);
    const unset = decode(codec, 18, plain).topics[0].partitions[0].highWatermark;
    const partition = { ...value.topics[0].partitions[0], highWatermark: 12 };
    const withTag = encode(codec, 18, {
      ...value,
      topics: [{ ...value.topics[0], partitions: [partition] }],
    });
    // Replace the tag's value 12 with 0x7fffffffffffffff: the decoder must take it for the default.
    const at = withTag.indexOf(hex("01 08 000000000000000c"));
    expect(at).toBeGreaterThan(0);
    const max = Buffer.from(withTag);
    hex("7fffffffffffffff").copy(max, at + 2);
    const decoded = decode(codec, 18, max);
    expect(decoded.topics[0].partitions[0].highWatermark).toBe(2n ** 63n - 1n);
    expect(unset).toBe(2n ** 63n - 1n);
    expect(encode(codec, 18, decoded)).toEqual(plain);
  });
});

describe("malformed input", () => {
  it("refuses an int32 array count larger than the bytes left, before reading elements", () => {
    const codec = codecOf(3, "request");
    // Metadata v0: 2^31-1 topics declared, 3 bytes follow.
    expect(() => codec.decode(new Reader(hex("7fffffff 0001 74")), 0)).toThrow(/CORRUPT_MESSAGE.*exceeds/);
    // ListGroups v4: 3 filters of at least one byte each, 2 bytes follow.
    expect(() => codecOf(16, "request").decode(new Reader(hex("04 01 01")), 4)).toThrow(
      /CORRUPT_MESSAGE.*exceeds/,
    );
  });

  it("refuses a compact array count larger than the bytes left", () => {
    // Metadata v9: 2^32 - 3 topics declared in an unsigned varint.
    const codec = codecOf(3, "request");
    expect(() => codec.decode(new Reader(hex("feffffff0f 00")), 9)).toThrow(/CORRUPT_MESSAGE.*exceeds/);
  });

  it("checks an array of int32 against four bytes per element", () => {
    // Metadata v0 response, one broker skipped: ReplicaNodes declares 3 ids but 8 bytes remain.
    const codec = codecOf(3, "response");
    const body = hex(
      "00000000 00000001 0000 0001 74 00000001 0000 00000000 00000001 00000003 0000000100000002",
    );
    expect(() => codec.decode(new Reader(body), 0)).toThrow(/CORRUPT_MESSAGE.*exceeds/);
  });

  it("refuses a null where the spec does not allow one", () => {
    const codec = codecOf(3, "request");
    expect(() => codec.decode(new Reader(hex("ffffffff")), 0)).toThrow(KafkaError);
    expect(() => codec.decode(new Reader(hex("00000001 ffff")), 0)).toThrow(/CORRUPT_MESSAGE/);
  });
});

describe("cluster API layouts (specs without handlers yet)", () => {
  it("ControlledShutdown v3: broker id, broker epoch, no tags", () => {
    const bytes = encode(codecOf(7, "request"), 3, { brokerId: 5, brokerEpoch: 7 });
    expect(bytes.toString("hex")).toBe("00000005000000000000000700");
  });

  it("ElectLeaders v2: election type, every partition (null), timeout", () => {
    const codec = codecOf(43, "request");
    const bytes = encode(codec, 2, { electionType: 1, topicPartitions: null, timeoutMs: 1000 });
    expect(bytes.toString("hex")).toBe("0100000003e800");
    expect(decode(codec, 2, bytes)).toEqual({ electionType: 1, topicPartitions: null, timeoutMs: 1000 });
  });

  it("AlterPartition v3: topic id, the ISR with broker epochs, partition epoch", () => {
    const codec = codecOf(56, "request");
    const topicId = "0123456789abcdef0123456789abcdef";
    const request = {
      brokerId: 1,
      brokerEpoch: 9,
      topics: [
        {
          topicId,
          partitions: [
            {
              partitionIndex: 0,
              leaderEpoch: 3,
              newIsrWithEpochs: [{ brokerId: 1, brokerEpoch: 9 }],
              leaderRecoveryState: 0,
              partitionEpoch: 4,
            },
          ],
        },
      ],
    };
    const bytes = encode(codec, 3, request);
    expect(bytes.toString("hex")).toBe(
      [
        "00000001 0000000000000009", // broker id, epoch
        `02 ${topicId}`, // one topic, by id
        "02 00000000 00000003", // one partition: index, leader epoch
        "02 00000001 0000000000000009 00", // one ISR member with its epoch
        "00 00000004 00", // recovery state, partition epoch, partition tags
        "00 00", // topic tags, message tags
      ]
        .join("")
        .replace(/ /g, ""),
    );
    const decoded = decode(codec, 3, bytes);
    expect(decoded.topics[0].partitions[0].newIsrWithEpochs).toEqual([{ brokerId: 1, brokerEpoch: 9 }]);
    expect(decoded.topics[0].partitions[0].newIsr).toEqual([]);
  });
});
