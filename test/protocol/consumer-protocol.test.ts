import { describe, expect, it } from "vitest";
import {
  decodeAssignment,
  decodeSubscription,
  encodeAssignment,
  encodeSubscription,
} from "../../protocol/consumer-protocol.js";

/** Classic Kafka encodings, written by hand so that the layout is checked, not just a round trip. */
function str(s: string): Buffer {
  const b = Buffer.alloc(2 + Buffer.byteLength(s));
  b.writeInt16BE(Buffer.byteLength(s), 0);
  b.write(s, 2);
  return b;
}
function int16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n, 0);
  return b;
}
function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n, 0);
  return b;
}
function bytes(b: Buffer | null): Buffer {
  return b === null ? int32(-1) : Buffer.concat([int32(b.length), b]);
}

describe("consumer protocol", () => {
  it("writes a v0 subscription in Kafka's layout", () => {
    const encoded = encodeSubscription({ topics: ["a", "bc"], userData: Buffer.from([7]) }, 0);
    expect(encoded).toEqual(
      Buffer.concat([int16(0), int32(2), str("a"), str("bc"), bytes(Buffer.from([7]))]),
    );
  });

  it("writes a v3 subscription with owned partitions, generation and rack", () => {
    const encoded = encodeSubscription({
      topics: ["t"],
      userData: null,
      ownedPartitions: [{ topic: "t", partitions: [0, 2] }],
      generationId: 5,
      rackId: "r1",
    });
    expect(encoded).toEqual(
      Buffer.concat([
        int16(3),
        int32(1),
        str("t"),
        bytes(null),
        int32(1),
        str("t"),
        int32(2),
        int32(0),
        int32(2),
        int32(5),
        str("r1"),
      ]),
    );
  });

  it("round-trips every subscription version, keeping the fields each version has", () => {
    const full = {
      topics: ["x", "y"],
      userData: Buffer.from("u"),
      ownedPartitions: [{ topic: "x", partitions: [1] }],
      generationId: 9,
      rackId: "rack",
    };
    for (let v = 0; v <= 3; v++) {
      const d = decodeSubscription(encodeSubscription(full, v));
      expect(d.version).toBe(v);
      expect(d.topics).toEqual(full.topics);
      expect(d.userData).toEqual(full.userData);
      expect(d.ownedPartitions).toEqual(v >= 1 ? full.ownedPartitions : []);
      expect(d.generationId).toBe(v >= 2 ? 9 : -1);
      expect(d.rackId).toBe(v >= 3 ? "rack" : null);
    }
  });

  it("reads a 'v1' subscription that carries only v0 fields (as KafkaJS writes it)", () => {
    const kafkajs = Buffer.concat([int16(1), int32(1), str("orders"), bytes(Buffer.alloc(0))]);
    const d = decodeSubscription(kafkajs);
    expect(d).toMatchObject({ version: 1, topics: ["orders"], ownedPartitions: [], generationId: -1 });
    expect(d.userData).toEqual(Buffer.alloc(0));
  });

  it("reads the known prefix of a newer version", () => {
    const v3 = encodeSubscription({ topics: ["t"], generationId: 4, rackId: "r" });
    const v7 = Buffer.concat([int16(7), v3.subarray(2), Buffer.from("future fields")]);
    expect(decodeSubscription(v7)).toMatchObject({ version: 7, topics: ["t"], generationId: 4, rackId: "r" });
  });

  it("refuses bytes that are not a subscription", () => {
    expect(() => decodeSubscription(Buffer.from([0]))).toThrow(/CORRUPT_MESSAGE/);
    expect(() => decodeSubscription(Buffer.concat([int16(0), int32(5)]))).toThrow(/CORRUPT_MESSAGE/);
  });

  it("writes and reads assignments of every version", () => {
    const a = { assignedPartitions: [{ topic: "t", partitions: [0, 3] }], userData: null };
    expect(encodeAssignment(a, 0)).toEqual(
      Buffer.concat([int16(0), int32(1), str("t"), int32(2), int32(0), int32(3), bytes(null)]),
    );
    for (let v = 0; v <= 3; v++)
      expect(decodeAssignment(encodeAssignment(a, v))).toEqual({ version: v, ...a });
    // A member the leader gave nothing gets empty bytes from the coordinator.
    expect(decodeAssignment(Buffer.alloc(0)).assignedPartitions).toEqual([]);
    // KafkaJS writes version 1 with a zero-length userData.
    const kafkajs = Buffer.concat([int16(1), int32(1), str("t"), int32(1), int32(2), bytes(Buffer.alloc(0))]);
    expect(decodeAssignment(kafkajs).assignedPartitions).toEqual([{ topic: "t", partitions: [2] }]);
  });
});
