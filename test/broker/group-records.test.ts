import { describe, expect, it } from "vitest";
import {
  decodeOffsetsRecord,
  groupKey,
  groupValue,
  offsetKey,
  offsetsPartitionFor,
  offsetValue,
  type StoredGroup,
} from "../../broker/group/records.js";

describe("__consumer_offsets records", () => {
  it("offset commits round-trip in Kafka's layout (key v1, value v3)", () => {
    const key = offsetKey("g", "t", 7);
    // int16 version 1, string "g", string "t", int32 7
    expect(key.toString("hex")).toBe("0001000167000174" + "00000007");
    const value = offsetValue({ offset: 42, leaderEpoch: 3, metadata: "m", commitTimestamp: 1000 });
    expect(value.readInt16BE(0)).toBe(3);
    expect(decodeOffsetsRecord(key, value)).toEqual({
      kind: "offset",
      group: "g",
      topic: "t",
      partition: 7,
      value: { offset: 42, leaderEpoch: 3, metadata: "m", commitTimestamp: 1000 },
    });
    expect(decodeOffsetsRecord(key, null)).toEqual({
      kind: "offset",
      group: "g",
      topic: "t",
      partition: 7,
      value: null,
    });
  });

  it("reads older value versions (v1 carries an expire timestamp)", () => {
    const v1 = Buffer.alloc(2 + 8 + 2 + 8 + 8);
    v1.writeInt16BE(1, 0);
    v1.writeBigInt64BE(5n, 2);
    v1.writeInt16BE(0, 10);
    v1.writeBigInt64BE(99n, 12);
    v1.writeBigInt64BE(-1n, 20);
    const parsed = decodeOffsetsRecord(offsetKey("g", "t", 0), v1);
    expect(parsed).toMatchObject({
      value: { offset: 5, leaderEpoch: -1, metadata: "", commitTimestamp: 99 },
    });
  });

  it("group metadata round-trips with members", () => {
    const stored: StoredGroup = {
      protocolType: "consumer",
      generation: 4,
      protocol: "range",
      leader: "m1",
      stateTimestamp: 123,
      members: [
        {
          memberId: "m1",
          groupInstanceId: "i1",
          clientId: "c",
          clientHost: "127.0.0.1",
          rebalanceTimeoutMs: 60_000,
          sessionTimeoutMs: 10_000,
          subscription: Buffer.from([1, 2]),
          assignment: Buffer.from([3]),
        },
      ],
    };
    const key = groupKey("grp");
    expect(key.readInt16BE(0)).toBe(2);
    expect(decodeOffsetsRecord(key, groupValue(stored))).toEqual({
      kind: "group",
      group: "grp",
      value: stored,
    });
    expect(decodeOffsetsRecord(key, null)).toEqual({ kind: "group", group: "grp", value: null });
  });

  it("skips key versions it does not know and refuses bytes that do not decode", () => {
    const unknown = Buffer.from([0, 9, 0, 0]);
    expect(decodeOffsetsRecord(unknown, null)).toBeNull();
    expect(() => decodeOffsetsRecord(Buffer.from([0, 1, 0, 50]), null)).toThrow();
  });

  it("chooses the partition as Kafka does: abs(String.hashCode) mod partitions", () => {
    expect(offsetsPartitionFor("", 50)).toBe(0);
    expect(offsetsPartitionFor("a", 50)).toBe(97 % 50);
    // "Aa" and "BB" share the hash 2112.
    expect(offsetsPartitionFor("Aa", 50)).toBe(2112 % 50);
    expect(offsetsPartitionFor("BB", 50)).toBe(2112 % 50);
    // "polygenelubricants".hashCode() is Integer.MIN_VALUE: Kafka's Utils.abs maps it to 0.
    expect(offsetsPartitionFor("polygenelubricants", 50)).toBe(0);
    // "my-group".hashCode() is -1906497762: negative hashes take the absolute value.
    expect(offsetsPartitionFor("my-group", 50)).toBe(1906497762 % 50);
    // Against the definition s[0]*31^(n-1) + ... + s[n-1] in wrapping 32-bit arithmetic.
    for (const id of ["consumer-group-1", "zzzzzzzz", "samsa", "ünïcödé"]) {
      let sum = 0n;
      for (const ch of id) sum = sum * 31n + BigInt(ch.charCodeAt(0));
      const hash = Number(BigInt.asIntN(32, sum));
      expect(offsetsPartitionFor(id, 50)).toBe(Math.abs(hash) % 50);
    }
  });
});
