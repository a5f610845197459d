/**
 * Keys and values of `__consumer_offsets` records, in Kafka's layout (protocol/messages/
 * consumer-offsets.ts): an offset commit per (group, topic, partition), and a group's metadata
 * (generation, protocol, leader, members with their subscriptions and assignments). A null value
 * is a tombstone; compaction keeps the latest record per key.
 */

import { MessageCodec } from "../../protocol/codec.js";
import {
  GroupMetadataKey,
  GroupMetadataValue,
  OffsetCommitKey,
  OffsetCommitValue,
} from "../../protocol/messages/consumer-offsets.js";
import type { Int64 } from "../../protocol/reader.js";
import { Reader } from "../../protocol/reader.js";
import { Writer } from "../../protocol/writer.js";

const OFFSET_KEY_VERSION = 1;
const OFFSET_VALUE_VERSION = 3;
const GROUP_KEY_VERSION = 2;
const GROUP_VALUE_VERSION = 3;

const offsetKeyCodec = new MessageCodec(OffsetCommitKey);
const offsetValueCodec = new MessageCodec(OffsetCommitValue);
const groupKeyCodec = new MessageCodec(GroupMetadataKey);
const groupValueCodec = new MessageCodec(GroupMetadataValue);

export interface CommittedOffset {
  /** Any int64 a client committed, exactly (a bigint beyond 2^53). */
  offset: Int64;
  leaderEpoch: number;
  metadata: string;
  commitTimestamp: number;
}

export interface StoredMember {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
  /** The member's metadata for the group's chosen protocol. */
  subscription: Buffer;
  assignment: Buffer;
}

export interface StoredGroup {
  protocolType: string;
  generation: number;
  protocol: string | null;
  leader: string | null;
  stateTimestamp: number;
  members: StoredMember[];
}

export type OffsetsRecord =
  | { kind: "offset"; group: string; topic: string; partition: number; value: CommittedOffset | null }
  | { kind: "group"; group: string; value: StoredGroup | null };

function encode(codec: MessageCodec, version: number, value: Record<string, unknown>): Buffer {
  const w = new Writer(256);
  w.int16(version);
  codec.encode(w, version, value);
  return w.toBuffer();
}

export function offsetKey(group: string, topic: string, partition: number): Buffer {
  return encode(offsetKeyCodec, OFFSET_KEY_VERSION, { group, topic, partition });
}

export function offsetValue(o: CommittedOffset): Buffer {
  return encode(offsetValueCodec, OFFSET_VALUE_VERSION, {
    offset: o.offset,
    leaderEpoch: o.leaderEpoch,
    metadata: o.metadata,
    commitTimestamp: o.commitTimestamp,
  });
}

export function groupKey(group: string): Buffer {
  return encode(groupKeyCodec, GROUP_KEY_VERSION, { group });
}

export function groupValue(g: StoredGroup): Buffer {
  return encode(groupValueCodec, GROUP_VALUE_VERSION, {
    protocolType: g.protocolType,
    generation: g.generation,
    protocol: g.protocol,
    leader: g.leader,
    currentStateTimestamp: g.stateTimestamp,
    members: g.members.map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      clientId: m.clientId,
      clientHost: m.clientHost,
      rebalanceTimeout: m.rebalanceTimeoutMs,
      sessionTimeout: m.sessionTimeoutMs,
      subscription: m.subscription,
      assignment: m.assignment,
    })),
  });
}

/**
 * Decodes one record of `__consumer_offsets`; null for a key version this broker does not know
 * (Kafka's newer record types: transactions, share groups), which loading skips.
 * Throws CORRUPT_MESSAGE for bytes that do not decode.
 */
export function decodeOffsetsRecord(key: Buffer, value: Buffer | null): OffsetsRecord | null {
  const r = new Reader(key);
  const version = r.int16();
  if (version === 0 || version === 1) {
    const k = offsetKeyCodec.decode(r, version);
    let decoded: CommittedOffset | null = null;
    if (value) {
      const vr = new Reader(value);
      const vv = Math.min(vr.int16(), OFFSET_VALUE_VERSION);
      const v = offsetValueCodec.decode(vr, vv);
      decoded = {
        offset: v.offset,
        leaderEpoch: v.leaderEpoch,
        metadata: v.metadata ?? "",
        commitTimestamp: v.commitTimestamp,
      };
    }
    return { kind: "offset", group: k.group, topic: k.topic, partition: k.partition, value: decoded };
  }
  if (version === GROUP_KEY_VERSION) {
    const k = groupKeyCodec.decode(r, version);
    let decoded: StoredGroup | null = null;
    if (value) {
      const vr = new Reader(value);
      const vv = Math.min(vr.int16(), GROUP_VALUE_VERSION);
      const v = groupValueCodec.decode(vr, vv);
      decoded = {
        protocolType: v.protocolType,
        generation: v.generation,
        protocol: v.protocol,
        leader: v.leader,
        stateTimestamp: v.currentStateTimestamp,
        members: (v.members as Record<string, unknown>[]).map((m) => ({
          memberId: m.memberId as string,
          groupInstanceId: (m.groupInstanceId as string | null) ?? null,
          clientId: m.clientId as string,
          clientHost: m.clientHost as string,
          rebalanceTimeoutMs: m.rebalanceTimeout as number,
          sessionTimeoutMs: m.sessionTimeout as number,
          subscription: m.subscription as Buffer,
          assignment: m.assignment as Buffer,
        })),
      };
    }
    return { kind: "group", group: k.group, value: decoded };
  }
  return null;
}

/** Kafka's choice of a group's `__consumer_offsets` partition: abs(Java hashCode) mod count. */
export function offsetsPartitionFor(groupId: string, partitions: number): number {
  let h = 0;
  for (let i = 0; i < groupId.length; i++) h = (Math.imul(h, 31) + groupId.charCodeAt(i)) | 0;
  // Kafka's Utils.abs maps MIN_VALUE to 0.
  return (h === -2147483648 ? 0 : Math.abs(h)) % partitions;
}
