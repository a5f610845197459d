import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { murmur2, partitionForKey, toPositive } from "../../protocol/murmur2.js";
import { mulberry32 } from "../helpers/random.js";

const bytes = (s: string): Buffer => Buffer.from(s, "utf8");

describe("murmur2", () => {
  // apache/kafka, clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java, testMurmur2:
  // the Java client's Utils.murmur2 (signed int).
  it.each([
    ["21", -973932308],
    ["foobar", -790332482],
    ["a-little-bit-long-string", -985981536],
    ["a-little-bit-longer-string", -1486304829],
    ["lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971],
    ["abc", 479470107],
  ])("Kafka's UtilsTest: %s -> %i", (key, expected) => {
    expect(murmur2(bytes(key))).toBe(expected);
  });

  // tulios/kafkajs, src/producer/partitioners/defaultJava/murmur2.spec.js: values its authors
  // generated with the Java client's murmur2 (that partitioner became KafkaJS 2's default).
  it.each([
    ["0", 971027396],
    ["1", -1993445489],
    ["128", -326012175],
    ["2187", -1508407203],
    ["16384", -325739742],
    ["78125", -1654490814],
    ["279936", 1462227128],
    ["823543", -2014198330],
    ["2097152", 607668903],
    ["4782969", -1182699775],
    ["10000000", -1830336757],
    ["19487171", -1603849305],
    ["35831808", -857013643],
    ["62748517", -1167431028],
    ["105413504", -381294639],
    ["170859375", -1658323481],
    ["100:48069", 1009543857],
  ])("KafkaJS's Java-generated vectors: %s -> %i", (key, expected) => {
    expect(murmur2(bytes(key))).toBe(expected);
  });

  // confluentinc/librdkafka, src/rdmurmur2.c, unittest_murmurhashneutral2: "java_murmur2_results",
  // which librdkafka's rd_murmur2 returns already masked with 0x7fffffff.
  it.each([
    ["kafka", 1348980580],
    ["amqp", 767747138],
    ["giberish123456789", 257239820],
  ])("librdkafka's unit test: toPositive(murmur2(%s)) -> %i", (key, expected) => {
    expect(toPositive(murmur2(bytes(key)))).toBe(expected);
  });

  it("hashes every tail length (0-3 trailing bytes) and high bytes like KafkaJS's Java-compatible port", () => {
    // kafkajs (devDependency) ships the Java-compatible murmur2 as its default partitioner's hash.
    const require = createRequire(import.meta.url);
    const kafkajsMurmur2 = require("kafkajs/src/producer/partitioners/default/murmur2.js") as (
      key: Buffer,
    ) => number;
    const rand = mulberry32(2024);
    for (let i = 0; i < 2000; i++) {
      const key = Buffer.alloc(i % 67);
      for (let j = 0; j < key.length; j++) key[j] = Math.floor(rand() * 256);
      expect(murmur2(key)).toBe(kafkajsMurmur2(key));
    }
  });

  it("hashes the empty key (seed ^ 0, then the final mix; KafkaJS's port agrees)", () => {
    expect(murmur2(Buffer.alloc(0))).toBe(275646681);
  });
});

describe("toPositive", () => {
  it("clears the sign bit rather than negating (Utils.toPositive, not Math.abs)", () => {
    expect(toPositive(-790332482)).toBe(1357151166);
    expect(toPositive(-2147483648)).toBe(0);
    expect(toPositive(-1)).toBe(0x7fffffff);
    expect(toPositive(42)).toBe(42);
  });
});

describe("partitionForKey", () => {
  it("is toPositive(murmur2(key)) % numPartitions", () => {
    expect(partitionForKey(bytes("foobar"), 10)).toBe(1357151166 % 10);
    expect(partitionForKey(bytes("foobar"), 1)).toBe(0);
  });

  // Observed, not computed: kcat 1.7.1 (librdkafka 2.0.2) produced these keys with
  // `-X partitioner=murmur2` (librdkafka's Java-compatible partitioner) to a 7-partition topic and
  // the partitions they landed in were read back with `kcat -C -f '%p %k'`.
  it.each([
    ["key-0", 0],
    ["key-190056", 0],
    ["key-15838", 1],
    ["key-102947", 1],
    ["key-55433", 2],
    ["key-63352", 2],
    ["key-31676", 3],
    ["key-197975", 3],
    ["key-39595", 4],
    ["key-71271", 4],
    ["key-7919", 5],
    ["key-23757", 5],
    ["key-118785", 6],
    ["key-126704", 6],
  ])("puts %s where librdkafka's murmur2 partitioner did (partition %i of 7)", (key, partition) => {
    expect(partitionForKey(bytes(key), 7)).toBe(partition);
  });

  it("refuses a partition count that is not a positive integer", () => {
    for (const n of [0, -1, 1.5, Number.NaN])
      expect(() => partitionForKey(bytes("k"), n)).toThrow(RangeError);
  });
});
