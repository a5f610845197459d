/**
 * kcat (librdkafka 2.0.2) against an in-process broker: metadata listing, producing with keys,
 * headers and every compression codec, consuming from every kind of start offset, offset queries
 * by timestamp, binary payloads and multi-partition topics. What comes back must be byte for byte
 * what went in. kcat missing is a failure naming the install command, never a skip.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Compression, encodeRecordBatch } from "../../protocol/record-batch.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { TestClient } from "../helpers/kafka-client.js";
import { baseSeed, withSeed } from "../helpers/random.js";
import { fetchPartition, type KcatRecord, kcat, kcatConsume, parseQuery, requireKcat } from "./helpers.js";

let tb: TestBroker;
let client: TestClient;
let port: number;
let files: string;

beforeAll(async () => {
  tb = await startTestBroker({ "num.partitions": 3 });
  port = tb.port;
  client = await TestClient.connect(port);
  files = mkdtempSync(path.join(tmpdir(), "samsa-kcat-"));
});

afterAll(async () => {
  client?.close();
  await tb?.stop();
  if (files) rmSync(files, { recursive: true, force: true });
});

const text = (b: Buffer | null) => (b === null ? null : b.toString("utf8"));

// Without kcat this fails naming the install command, and so does every test below (never a skip).
it("kcat is installed", () => {
  requireKcat();
});

describe("kcat -L", () => {
  it("lists the broker as controller, every topic and its partitions", async () => {
    await tb.broker.topics.create("meta-one", 1, 1, {});
    await tb.broker.topics.create("meta-five", 5, 1, {});

    const plain = (await kcat(port, ["-L"])).stdout.toString("utf8");
    expect(plain).toContain(`broker 1 at 127.0.0.1:${port} (controller)`);
    expect(plain).toContain(`topic "meta-one" with 1 partitions:`);
    expect(plain).toContain(`topic "meta-five" with 5 partitions:`);

    const json = JSON.parse((await kcat(port, ["-L", "-J"])).stdout.toString("utf8")) as {
      controllerid: number;
      brokers: { id: number; name: string }[];
      topics: { topic: string; error?: string; partitions: { partition: number; leader: number }[] }[];
    };
    expect(json.controllerid).toBe(1);
    expect(json.brokers).toEqual([{ id: 1, name: `127.0.0.1:${port}` }]);
    const five = json.topics.find((t) => t.topic === "meta-five");
    expect(five?.error).toBeUndefined();
    expect(five?.partitions.map((p) => [p.partition, p.leader]).sort((a, b) => a[0] - b[0])).toEqual([
      [0, 1],
      [1, 1],
      [2, 1],
      [3, 1],
      [4, 1],
    ]);
    expect(json.topics.map((t) => t.topic)).toEqual(expect.arrayContaining(["meta-one", "meta-five"]));

    // -t names one topic; an unknown one is auto-created with the broker's num.partitions (3).
    const one = JSON.parse((await kcat(port, ["-L", "-J", "-t", "meta-auto"])).stdout.toString("utf8")) as {
      topics: { topic: string; partitions: unknown[] }[];
    };
    expect(one.topics).toHaveLength(1);
    expect(one.topics[0].partitions).toHaveLength(3);
  });
});

describe("kcat -P then -C: keys, headers, compression", () => {
  const lines: [string, string][] = [
    ["k1", "plain"],
    ["", "empty key"],
    ["ключ", "naïve café ☃ 🚀 \u00ff"],
    ["k4", "colons: a:b:c\ttab"],
    ["k5", "compressible ".repeat(300)],
    ["k6", "x"],
  ];
  // The repetitive header makes every record compressible, so every batch is compressed however
  // librdkafka splits the lines into batches (it sends plain a batch that compression would not
  // shrink: without the header, a batch of only short lines). How it splits them depends on how
  // busy the machine is, so each codec also runs with the worst split, one line per batch.
  const headers: [string, string][] = [
    ["a", "b"],
    ["a", "c"],
    ["uni", "ü€"],
    ["pad", "compressible ".repeat(20)],
  ];
  const codecs = [
    ["none", Compression.None],
    ["gzip", Compression.Gzip],
    ["snappy", Compression.Snappy],
    ["lz4", Compression.Lz4],
    ["zstd", Compression.Zstd],
  ] as const;
  const cases = codecs.flatMap(([name, codec]) =>
    ["linger.ms=0", "batch.num.messages=1"].map((x) => [name, x, codec] as const),
  );

  it.each(cases)("-z %s -X %s: keys, values and headers come back byte for byte", async (name, x, codec) => {
    const topic = `codec-${name}-${x.split("=")[0]}`;
    const before = Date.now();
    await kcat(
      port,
      [
        "-P",
        "-t",
        topic,
        "-p",
        "0",
        "-K:",
        "-z",
        name,
        ...headers.flatMap(([k, v]) => ["-H", `${k}=${v}`]),
        "-X",
        x,
      ],
      { input: lines.map(([k, v]) => `${k}:${v}\n`).join("") },
    );
    const after = Date.now();

    const got = await kcatConsume(port, topic, ["-p", "0", "-o", "beginning"]);
    expect(got.map((r) => [r.offset, r.partition, text(r.key), text(r.value)])).toEqual(
      lines.map(([k, v], i) => [i, 0, k, v]),
    );
    for (const r of got) {
      expect(r.headers).toEqual(headers);
      expect(r.timestamp).toBeGreaterThanOrEqual(before - 1);
      expect(r.timestamp).toBeLessThanOrEqual(after + 1);
    }
    // The empty key is an empty key, not a null one.
    expect(got[1].key).toEqual(Buffer.alloc(0));

    // The broker stored the batches as kcat compressed them, and serves them back untouched.
    const raw = await fetchPartition(client, topic, 0, false);
    expect(raw.highWatermark).toBe(lines.length);
    expect(raw.batches.length).toBeGreaterThan(0);
    if (x === "batch.num.messages=1") expect(raw.batches).toHaveLength(lines.length);
    // librdkafka 2.0.2 uses lz4 only with a broker that advertises FindCoordinator v0 (its
    // marker for Kafka 0.8.2); until consumer groups are served it sends those batches plain.
    const findCoordinator = tb.broker.dispatcher.advertised().some((a) => a.apiKey === 10);
    const stored = codec === Compression.Lz4 && !findCoordinator ? Compression.None : codec;
    for (const b of raw.batches) expect(b.attributes & 0x07).toBe(stored);
    if (codec === Compression.None || codec === Compression.Gzip) {
      const decoded = await fetchPartition(client, topic, 0);
      expect(decoded.records.map((r) => [r.offset, text(r.key), text(r.value)])).toEqual(
        lines.map(([k, v], i) => [i, k, v]),
      );
      for (const r of decoded.records) expect(r.headers.map((h) => [h.key, text(h.value)])).toEqual(headers);
    }
  });

  it("binary keys and values split by -D/-K delimiters round-trip, including NUL, 0xff and newlines", async () => {
    await withSeed(baseSeed(7001), async (rng) => {
      const topic = "binary-delimited";
      // Any byte but the two delimiters (0x1e separates messages, 0x1f key from value).
      const clean = (b: Buffer) => Buffer.from(b.filter((x) => x !== 0x1e && x !== 0x1f));
      const messages: [Buffer, Buffer][] = [
        [Buffer.from([0x00, 0xff, 0x0a, 0x80]), Buffer.from([0x00, 0x0a, 0x0d, 0xfe, 0xff, 0x00])],
        [Buffer.alloc(0), Buffer.from("value with an empty key")],
        [Buffer.from("key of an empty value"), Buffer.alloc(0)],
      ];
      for (let i = 0; i < 20; i++) {
        messages.push([clean(rng.bytes(rng.int(1, 40))), clean(rng.bytes(rng.int(1, 3000)))]);
      }
      const input = Buffer.concat(
        messages.flatMap(([k, v]) => [k, Buffer.from([0x1f]), v, Buffer.from([0x1e])]),
      );
      await kcat(port, ["-P", "-t", topic, "-p", "0", "-D", "\\x1e", "-K", "\\x1f"], { input });

      // The same delimiters on output reproduce the input exactly.
      const echoed = await kcat(port, [
        "-C",
        "-t",
        topic,
        "-p",
        "0",
        "-e",
        "-o",
        "beginning",
        "-D",
        "\\x1e",
        "-K",
        "\\x1f",
      ]);
      expect(echoed.stdout.equals(input)).toBe(true);

      const got = await kcatConsume(port, topic, ["-p", "0", "-o", "beginning"]);
      expect(got.map((r) => [r.key, r.value])).toEqual(messages);
      expect(got.map((r) => r.headers)).toEqual(messages.map(() => []));
    });
  });

  it("files given to -P are one message each, byte for byte, with a null key", async () => {
    await withSeed(baseSeed(7002), async (rng) => {
      const topic = "binary-files";
      const contents = [rng.bytes(1), rng.bytes(300), rng.bytes(64 * 1024), Buffer.from([0, 0, 0])];
      const names = contents.map((c, i) => {
        const name = path.join(files, `f${i}.bin`);
        writeFileSync(name, c);
        return name;
      });
      await kcat(port, ["-P", "-t", topic, "-p", "0", ...names]);
      const got = await kcatConsume(port, topic, ["-p", "0", "-o", "beginning"]);
      expect(got.map((r) => r.offset)).toEqual([0, 1, 2, 3]);
      expect(got.map((r) => r.key)).toEqual([null, null, null, null]);
      expect(got.map((r) => r.value)).toEqual(contents);

      // `-f %s -c 1` from an absolute offset writes exactly the file.
      const one = await kcat(port, ["-C", "-t", topic, "-p", "0", "-o", "2", "-c", "1", "-f", "%s"]);
      expect(one.stdout.equals(contents[2])).toBe(true);
    });
  });
});

describe("kcat -C start offsets and -Q", () => {
  it("starts at the beginning, an absolute offset, N from the end, and past the end", async () => {
    const topic = "offsets";
    const values = Array.from({ length: 10 }, (_, i) => `v${i}`);
    await kcat(port, ["-P", "-t", topic, "-p", "0"], { input: `${values.join("\n")}\n` });
    const read = async (...args: string[]) =>
      (await kcatConsume(port, topic, ["-p", "0", ...args])).map((r) => [r.offset, text(r.value)]);
    const expected = (from: number) => values.slice(from).map((v, i) => [from + i, v]);

    expect(await read("-o", "beginning")).toEqual(expected(0));
    expect(await read("-o", "4")).toEqual(expected(4));
    expect(await read("-o", "-3")).toEqual(expected(7));
    expect(await read("-o", "9")).toEqual(expected(9));
    expect(await read("-o", "end")).toEqual([]);
    expect(await read("-o", "beginning", "-c", "2")).toEqual(expected(0).slice(0, 2));
    // Nulls: kcat prints null keys as empty with %k and -1 with %K.
    const [first] = await kcatConsume(port, topic, ["-p", "0", "-o", "0", "-c", "1"]);
    expect(first.key).toBeNull();
  });

  it("-Q and -o s@ find the first record at or after a timestamp, inside batches too", async () => {
    const topic = "by-time";
    const t0 = 1_700_000_000_000;
    // Offsets 0..9 at t0 + 1000 * offset: a batch of 1, an uncompressed batch of 4, a gzip batch
    // of 3, a batch of 2.
    const spans: [number, number, Compression][] = [
      [0, 1, Compression.None],
      [1, 4, Compression.None],
      [5, 3, Compression.Gzip],
      [8, 2, Compression.None],
    ];
    for (const [from, count, compression] of spans) {
      const records = Array.from({ length: count }, (_, i) => ({
        key: Buffer.from(`k${from + i}`),
        value: Buffer.from(`at-${from + i}`),
        timestamp: t0 + 1000 * (from + i),
      }));
      const r = await client.request(0, 9, {
        transactionalId: null,
        acks: -1,
        timeoutMs: 5000,
        topicData: [
          {
            name: topic,
            partitionData: [{ index: 1, records: encodeRecordBatch(records, { compression }) }],
          },
        ],
      });
      expect(r.responses[0].partitionResponses[0].errorCode).toBe(0);
    }

    const query = async (ts: number) =>
      parseQuery((await kcat(port, ["-Q", "-t", `${topic}:1:${ts}`])).stdout).get(1);
    expect(await query(t0)).toBe(0);
    expect(await query(t0 - 5000)).toBe(0);
    expect(await query(t0 + 1000)).toBe(1);
    expect(await query(t0 + 2500)).toBe(3); // inside the uncompressed batch
    expect(await query(t0 + 6000)).toBe(6); // inside the gzip batch
    expect(await query(t0 + 7000)).toBe(7);
    expect(await query(t0 + 9000)).toBe(9);
    expect(await query(t0 + 9001)).toBe(-1); // nothing that late
    expect(await query(-1)).toBe(10); // latest
    expect(await query(-2)).toBe(0); // earliest

    // Several partitions in one query: the empty partition 0 has no such record.
    const both = parseQuery(
      (await kcat(port, ["-Q", "-t", `${topic}:1:${t0 + 4000}`, "-t", `${topic}:0:${t0}`])).stdout,
    );
    expect(both.get(1)).toBe(4);
    expect(both.get(0)).toBe(-1);

    const from = async (ts: number) =>
      (await kcatConsume(port, topic, ["-p", "1", "-o", `s@${ts}`])).map((r) => [
        r.offset,
        r.timestamp,
        text(r.value),
      ]);
    const expected = (start: number) =>
      Array.from({ length: 10 - start }, (_, i) => [start + i, t0 + 1000 * (start + i), `at-${start + i}`]);
    expect(await from(t0)).toEqual(expected(0));
    expect(await from(t0 + 2000)).toEqual(expected(2));
    expect(await from(t0 + 5500)).toEqual(expected(6));
    expect(await from(t0 + 8000)).toEqual(expected(8));
  });

  it("-Q finds the records kcat itself produced, by the timestamps kcat gave them", async () => {
    const topic = "by-time-kcat";
    for (let round = 0; round < 3; round++) {
      await kcat(port, ["-P", "-t", topic, "-p", "2"], { input: `r${round}-a\nr${round}-b\n` });
      await new Promise((r) => setTimeout(r, 5));
    }
    const got = await kcatConsume(port, topic, ["-p", "2", "-o", "beginning"]);
    expect(got.map((r) => text(r.value))).toEqual(["r0-a", "r0-b", "r1-a", "r1-b", "r2-a", "r2-b"]);
    for (const r of got) {
      const firstAtOrAfter = got.find((x) => x.timestamp >= r.timestamp)!.offset;
      const q = parseQuery((await kcat(port, ["-Q", "-t", `${topic}:2:${r.timestamp}`])).stdout);
      expect(q.get(2)).toBe(firstAtOrAfter);
    }
  });
});

describe("kcat with multi-partition topics", () => {
  it("keyed messages spread over the partitions, each key in one, and come back in order", async () => {
    const topic = "keyed";
    const sent: [string, string][] = [];
    for (let i = 0; i < 60; i++) sent.push([`key-${i % 12}`, `value-${i}`]);
    await kcat(port, ["-P", "-t", topic, "-K:"], { input: sent.map(([k, v]) => `${k}:${v}\n`).join("") });

    const all = await kcatConsume(port, topic, ["-o", "beginning"]);
    expect(all).toHaveLength(sent.length);
    const partitionOf = new Map<string, number>();
    const byPartition = new Map<number, KcatRecord[]>();
    for (const r of all) {
      const key = text(r.key)!;
      expect(partitionOf.get(key) ?? r.partition).toBe(r.partition);
      partitionOf.set(key, r.partition);
      byPartition.set(r.partition, [...(byPartition.get(r.partition) ?? []), r]);
    }
    expect(new Set(partitionOf.values()).size).toBeGreaterThan(1);
    for (const [partition, records] of byPartition) {
      // Offsets dense from 0, and the values of each partition in the order sent.
      expect(records.map((r) => r.offset).sort((a, b) => a - b)).toEqual(records.map((_, i) => i));
      const sorted = [...records].sort((a, b) => a.offset - b.offset).map((r) => text(r.value));
      expect(sorted).toEqual(sent.filter(([k]) => partitionOf.get(k) === partition).map(([, v]) => v));
    }
    // Everything sent came back once.
    expect(all.map((r) => text(r.value)).sort()).toEqual(sent.map(([, v]) => v).sort());

    // -p reads one partition only.
    for (const partition of [0, 1, 2]) {
      const one = await kcatConsume(port, topic, ["-p", String(partition), "-o", "beginning"]);
      expect(one.every((r) => r.partition === partition)).toBe(true);
      expect(one.map((r) => text(r.value))).toEqual(
        (byPartition.get(partition) ?? []).sort((a, b) => a.offset - b.offset).map((r) => text(r.value)),
      );
    }
  });

  it("-p on the producer writes to that partition only", async () => {
    const topic = "pinned";
    for (const partition of [2, 0, 2]) {
      await kcat(port, ["-P", "-t", topic, "-p", String(partition)], { input: `to-${partition}\n` });
    }
    const got = await kcatConsume(port, topic, ["-o", "beginning"]);
    const seen = got.map((r) => [r.partition, r.offset, text(r.value)]).sort();
    expect(seen).toEqual([
      [0, 0, "to-0"],
      [2, 0, "to-2"],
      [2, 1, "to-2"],
    ]);
    const offsets = parseQuery(
      (await kcat(port, ["-Q", "-t", `${topic}:0:-1`, "-t", `${topic}:1:-1`, "-t", `${topic}:2:-1`])).stdout,
    );
    expect([...offsets.entries()].sort()).toEqual([
      [0, 1],
      [1, 0],
      [2, 2],
    ]);
  });

  it("errors come back as errors, promptly: offsets past the end, missing partitions and topics", async () => {
    const topic = "narrow";
    await tb.broker.topics.create(topic, 1, 1, {});
    await kcat(port, ["-P", "-t", topic, "-p", "0"], { input: "a\nb\nc\n" });
    // Fetch answers OFFSET_OUT_OF_RANGE (with an empty record set: librdkafka takes a null one for
    // a parse failure and retries forever); kcat then resets to the end, as auto.offset.reset says.
    const past = await kcat(port, ["-C", "-t", topic, "-p", "0", "-e", "-o", "100", "-f", "%o\\n"], {
      timeoutMs: 10_000,
    });
    expect(past.stdout.toString()).toBe("");
    expect(past.stderr).toContain("Offset out of range");
    const strict = await kcat(
      port,
      ["-C", "-t", topic, "-p", "0", "-e", "-o", "100", "-X", "auto.offset.reset=error"],
      {
        allowFailure: true,
        timeoutMs: 10_000,
      },
    );
    expect(strict.code).not.toBe(0);
    expect(strict.stderr).toContain("Offset out of range");

    const partition = await kcat(port, ["-C", "-t", topic, "-p", "5", "-e", "-o", "beginning"], {
      allowFailure: true,
      timeoutMs: 10_000,
    });
    expect(partition.code).not.toBe(0);
    const missing = await kcat(port, ["-C", "-t", "never-made", "-p", "0", "-e"], {
      allowFailure: true,
      timeoutMs: 10_000,
    });
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("Unknown topic or partition");
  });
});
