/**
 * The CLI's parsers without a broker: -o forms (kcat's and rpk's), -b addresses and
 * SAMSA_BROKERS, the -J envelope and its encodings, stdin splitting and --encoding on input;
 * `--replicas` broker id lists and `cluster up`'s port ranges; the --tls flags as the client's `ssl`.
 */
import { describe, expect, it } from "vitest";
import { upPorts } from "../../cli/commands/cluster.js";
import { brokerIds, parseBrokers, tlsOf, withDefaultPort } from "../../cli/commands/common.js";
import { parseOffset, recordJson } from "../../cli/commands/consume.js";
import { decodeField, RecordSplitter } from "../../cli/commands/produce.js";
import type { ConsumerRecord } from "../../client/consumer.js";

const NOW = Date.parse("2026-12-02T12:00:00Z");

describe("-o", () => {
  const cases: [string, ReturnType<typeof parseOffset>][] = [
    ["beginning", { start: "earliest" }],
    ["start", { start: "earliest" }],
    ["oldest", { start: "earliest" }],
    ["end", { start: "latest" }],
    ["newest", { start: "latest" }],
    ["stored", { start: "stored" }],
    ["42", { start: 42 }],
    ["-10", { start: -10 }],
    ["+5", { start: { afterStart: 5 } }],
    ["@1700000000000", { start: { timestamp: 1700000000000 } }],
    ["s@1700000000000", { start: { timestamp: 1700000000000 } }],
    ["@2026-11-24T00:00:00Z", { start: { timestamp: Date.parse("2026-11-24T00:00:00Z") } }],
    ["@2026-11-24T00:00:00", { start: { timestamp: Date.parse("2026-11-24T00:00:00") } }],
    ["@-1h", { start: { timestamp: NOW - 3_600_000 } }],
    ["@-30m", { start: { timestamp: NOW - 1_800_000 } }],
    ["@-2d", { start: { timestamp: NOW - 2 * 86_400_000 } }],
    ["@-1.5s", { start: { timestamp: NOW - 1_500 } }],
    ["e@1700000000000", { start: "earliest", stop: { timestamp: 1700000000000 } }],
    [":end", { start: "earliest", stop: "end" }],
    ["+3:end", { start: { afterStart: 3 }, stop: "end" }],
    ["10:20", { start: 10, stop: { offset: 20 } }],
    ["10:", { start: 10 }],
    [":20", { start: "earliest", stop: { offset: 20 } }],
    ["@-1h:end", { start: { timestamp: NOW - 3_600_000 }, stop: "end" }],
    [
      "@2026-11-24T00:00:00Z:@2026-11-25T00:00:00Z",
      {
        start: { timestamp: Date.parse("2026-11-24T00:00:00Z") },
        stop: { timestamp: Date.parse("2026-11-25T00:00:00Z") },
      },
    ],
    ["@1000:@2000", { start: { timestamp: 1000 }, stop: { timestamp: 2000 } }],
    ["beginning:@-1m", { start: "earliest", stop: { timestamp: NOW - 60_000 } }],
  ];
  for (const [text, expected] of cases) {
    it(text, () => expect(parseOffset(text, NOW)).toEqual(expected));
  }

  it("rejects what is none of them, in one line", () => {
    for (const bad of ["sometime", "", "@", "@yesterday", "@-1y", "++1", "1:2:3", "end:10x", "e@x", "1.5"]) {
      expect(() => parseOffset(bad, NOW), bad).toThrow(/^-o .*: expected /);
      try {
        parseOffset(bad, NOW);
      } catch (err) {
        expect((err as Error).message).not.toContain("\n");
      }
    }
  });
});

describe("-b and SAMSA_BROKERS", () => {
  it("takes port 9092 for a host without one and keeps everything else", () => {
    expect(withDefaultPort("kafka1")).toBe("kafka1:9092");
    expect(withDefaultPort("10.0.0.5")).toBe("10.0.0.5:9092");
    expect(withDefaultPort("kafka1:19092")).toBe("kafka1:19092");
    expect(withDefaultPort("[::1]")).toBe("[::1]:9092");
    expect(withDefaultPort("[::1]:9093")).toBe("[::1]:9093");
    expect(withDefaultPort("fe80::1")).toBe("[fe80::1]:9092");
    expect(withDefaultPort("ws://h:8082/kafka")).toBe("ws://h:8082/kafka");
    expect(withDefaultPort("WSS://h/kafka")).toBe("WSS://h/kafka");
  });

  it("reads a comma-separated list; -b wins over SAMSA_BROKERS, which wins over localhost", () => {
    expect(parseBrokers("a, b:1 ,[::1]", undefined)).toEqual(["a:9092", "b:1", "[::1]:9092"]);
    expect(parseBrokers(undefined, "env1,env2:7")).toEqual(["env1:9092", "env2:7"]);
    expect(parseBrokers("cli", "env")).toEqual(["cli:9092"]);
    expect(parseBrokers(undefined, undefined)).toEqual(["localhost:9092"]);
    expect(() => parseBrokers(" , ", undefined)).toThrow(/no broker/);
  });
});

function record(fields: Partial<ConsumerRecord>): ConsumerRecord {
  return {
    topic: "t",
    partition: 1,
    offset: 7,
    timestamp: 1234,
    timestampType: "CreateTime",
    key: null,
    value: null,
    headers: [],
    ...fields,
  };
}

describe("-J", () => {
  it("is kcat's envelope, in kcat's field order, headers only when there are some", () => {
    const json = recordJson(
      record({
        key: Buffer.from("k"),
        value: Buffer.from("héllo"),
        headers: [
          { key: "a", value: Buffer.from("1") },
          { key: "b", value: null },
        ],
      }),
      "utf8",
      3,
    );
    expect(json).toBe(
      '{"topic":"t","partition":1,"offset":7,"tstype":"create","ts":1234,"broker":3,"headers":["a","1","b",null],"key":"k","payload":"héllo"}',
    );
    expect(JSON.parse(recordJson(record({}), "utf8", 1))).toEqual({
      topic: "t",
      partition: 1,
      offset: 7,
      tstype: "create",
      ts: 1234,
      broker: 1,
      key: null,
      payload: null,
    });
    const appended = JSON.parse(recordJson(record({ timestampType: "LogAppendTime" }), "utf8", 1));
    expect(appended.tstype).toBe("logappend");
  });

  it("never mangles binary: not-UTF-8 bytes come as base64, flagged; base64 and hex on request", () => {
    const bytes = Buffer.from([0xff, 0x00, 0x80, 0x41, 0x0a]);
    const auto = JSON.parse(
      recordJson(record({ key: bytes, value: bytes, headers: [{ key: "h", value: bytes }] }), "utf8", 1),
    );
    expect(auto.payload_encoding).toBe("base64");
    expect(Buffer.from(auto.payload, "base64").equals(bytes)).toBe(true);
    expect(auto.key_encoding).toBe("base64");
    expect(auto.headers_encoding).toBe("base64");
    expect(Buffer.from(auto.headers[1], "base64").equals(bytes)).toBe(true);
    const b64 = JSON.parse(recordJson(record({ value: Buffer.from("text") }), "base64", 1));
    expect(b64).toMatchObject({
      payload: Buffer.from("text").toString("base64"),
      payload_encoding: "base64",
    });
    const hex = JSON.parse(recordJson(record({ value: bytes }), "hex", 1));
    expect(hex).toMatchObject({ payload: "ff0080410a", payload_encoding: "hex" });
  });
});

describe("produce input", () => {
  it("splits records across chunk boundaries, with one- and many-byte delimiters", () => {
    for (const delim of ["\n", ";;"]) {
      const text = ["a", "bb", "", "ccc", "dddd"].join(delim);
      for (let cut = 0; cut <= text.length; cut++) {
        const splitter = new RecordSplitter(Buffer.from(delim));
        const out: Buffer[] = [];
        splitter.push(Buffer.from(text.slice(0, cut)), out);
        splitter.push(Buffer.from(text.slice(cut)), out);
        splitter.end(out);
        expect(out.map(String), `${JSON.stringify(delim)} cut at ${cut}`).toEqual([
          "a",
          "bb",
          "",
          "ccc",
          "dddd",
        ]);
      }
    }
  });

  it("decodes --encoding base64 and hex, and names a record that is not", () => {
    expect(decodeField(Buffer.from("/wBBCg=="), "base64", "r")).toEqual(Buffer.from([0xff, 0, 0x41, 0x0a]));
    expect(decodeField(Buffer.from("ff00410a"), "hex", "r")).toEqual(Buffer.from([0xff, 0, 0x41, 0x0a]));
    expect(decodeField(Buffer.from("as is"), "utf8", "r")).toEqual(Buffer.from("as is"));
    expect(() => decodeField(Buffer.from("not base64!"), "base64", "record 3 value")).toThrow(
      /record 3 value is not base64/,
    );
    expect(() => decodeField(Buffer.from("abc"), "hex", "record 1 key")).toThrow(/record 1 key is not hex/);
  });
});

describe("--replicas", () => {
  it("takes distinct broker ids", () => {
    expect(brokerIds("--replicas", "2,3,4")).toEqual([2, 3, 4]);
    expect(brokerIds("--replicas", "0")).toEqual([0]);
    expect(brokerIds("--replicas", "1, 2")).toEqual([1, 2]);
  });

  it("refuses anything else in one line naming the flag", () => {
    for (const bad of ["", "1,,2", "2,3,2", "a", "-1", "1.5", "1,2,"]) {
      expect(() => brokerIds("--replicas", bad), bad).toThrow(
        /^--replicas .*: (expected|a broker id is given twice)/,
      );
    }
  });
});

describe("cluster up ports", () => {
  const opts = (o: Partial<Parameters<typeof upPorts>[0]> = {}) => ({
    nodes: "3",
    dir: "d",
    kafkaPort: "19092",
    httpPort: "18080",
    etcdPort: "12379",
    set: [],
    timeoutMs: "60000",
    ...o,
  });

  it("takes the defaults, and 0 for free ports", () => {
    expect(upPorts(opts())).toEqual({ n: 3, kafka: 19092, http: 18080, etcd: 12379 });
    expect(upPorts(opts({ kafkaPort: "0", httpPort: "0", etcdPort: "0" }))).toEqual({
      n: 3,
      kafka: 0,
      http: 0,
      etcd: 0,
    });
  });

  it("refuses counts, ranges past 65535 and overlapping ranges in one line", () => {
    const cases: [Partial<Parameters<typeof upPorts>[0]>, RegExp][] = [
      [{ nodes: "0" }, /^-n 0: expected a positive integer/],
      [{ nodes: "x" }, /^-n x: expected a positive integer/],
      [{ nodes: "33" }, /^-n 33: at most 32 brokers/],
      [{ kafkaPort: "65534" }, /^--kafka-port 65534: 3 ports from it go past 65535/],
      [{ etcdPort: "65535" }, /^--etcd-port 65535: 2 ports from it go past 65535/],
      [{ httpPort: "-1" }, /^--http-port -1: expected a non-negative integer/],
      [{ httpPort: "19094" }, /^--kafka-port 19092 and --http-port 19094: the port ranges overlap/],
      [{ etcdPort: "18079" }, /^--http-port 18080 and --etcd-port 18079: the port ranges overlap/],
    ];
    for (const [o, message] of cases) expect(() => upPorts(opts(o)), JSON.stringify(o)).toThrow(message);
    expect(() => upPorts(opts({ etcdPort: "18078" }))).not.toThrow();
  });
});

describe("--tls flags", () => {
  const files: Record<string, string> = { "ca.pem": "CA", "c.pem": "CERT", "k.pem": "KEY" };
  const read = (file: string): Buffer => {
    if (!(file in files)) throw new Error(`ENOENT: no such file or directory, open '${file}'`);
    return Buffer.from(files[file]);
  };

  it("gives no ssl without a flag, and any flag turns TLS on (as rpk)", () => {
    expect(tlsOf({}, read)).toBeUndefined();
    expect(tlsOf({ tls: true }, read)).toEqual({});
    expect(tlsOf({ tlsCa: "ca.pem" }, read)).toEqual({ ca: Buffer.from("CA") });
    expect(tlsOf({ tlsInsecure: true }, read)).toEqual({ rejectUnauthorized: false });
    expect(tlsOf({ tlsCert: "c.pem", tlsKey: "k.pem" }, read)).toEqual({
      cert: Buffer.from("CERT"),
      key: Buffer.from("KEY"),
    });
  });

  it("refuses a certificate without its key and names a file it cannot read", () => {
    expect(() => tlsOf({ tlsCert: "c.pem" }, read)).toThrow(/^--tls-cert needs --tls-key$/);
    expect(() => tlsOf({ tlsKey: "k.pem" }, read)).toThrow(/^--tls-key needs --tls-cert$/);
    expect(() => tlsOf({ tlsCa: "nope.pem" }, read)).toThrow(/^--tls-ca nope\.pem: ENOENT/);
  });
});
