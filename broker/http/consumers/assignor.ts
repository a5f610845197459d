/**
 * What a REST consumer instance's group member says and decides inside the group protocol:
 * Kafka's ConsumerProtocol subscription (int16 version 0, [topic], user data null) and assignment
 * (int16 version 0, [topic, [partition]], user data null) bytes, and the "range" assignor the
 * member runs when it leads the group: per topic, the members subscribed to it in member-id order
 * each take a consecutive run of partitions, the first (count mod members) one more, as Kafka's
 * RangeAssignor does. Decoding an assignment is groups.ts's `decodeConsumerAssignment`.
 */
import { Writer } from "../../../protocol/writer.js";

/** The protocol type of consumer groups and the assignor's name in JoinGroup. */
export const CONSUMER_PROTOCOL_TYPE = "consumer";
export const RANGE_ASSIGNOR = "range";

export interface TopicPartition {
  topic: string;
  partition: number;
}

export function encodeSubscription(topics: string[]): Buffer {
  const w = new Writer(64);
  w.int16(0);
  w.int32(topics.length);
  for (const t of topics) w.nullableString(t);
  w.nullableBytes(null);
  return w.toBuffer();
}

/** The topics of a ConsumerProtocol subscription (any version: they come first), or null when malformed. */
export function decodeSubscription(bytes: Buffer): string[] | null {
  if (bytes.length < 6) return null;
  const count = bytes.readInt32BE(2);
  if (count < 0 || count * 2 > bytes.length - 6) return null;
  const topics: string[] = [];
  let pos = 6;
  for (let i = 0; i < count; i++) {
    if (pos + 2 > bytes.length) return null;
    const len = bytes.readInt16BE(pos);
    pos += 2;
    if (len < 0 || pos + len > bytes.length) return null;
    topics.push(bytes.toString("utf8", pos, pos + len));
    pos += len;
  }
  return topics;
}

export function encodeAssignment(partitions: TopicPartition[]): Buffer {
  const byTopic = new Map<string, number[]>();
  for (const tp of partitions) {
    const list = byTopic.get(tp.topic);
    if (list) list.push(tp.partition);
    else byTopic.set(tp.topic, [tp.partition]);
  }
  const w = new Writer(64);
  w.int16(0);
  w.int32(byTopic.size);
  for (const [topic, list] of byTopic) {
    w.nullableString(topic);
    w.int32(list.length);
    for (const p of list) w.int32(p);
  }
  w.nullableBytes(null);
  return w.toBuffer();
}

/**
 * Range assignment: `subscriptions` maps member id -> subscribed topics, `partitionCounts` topic
 * -> partitions (topics missing from it, unknown to the cluster, are left out). Every member gets
 * an entry, an empty list when nothing falls to it.
 */
export function rangeAssign(
  subscriptions: Map<string, string[]>,
  partitionCounts: Map<string, number>,
): Map<string, TopicPartition[]> {
  const out = new Map<string, TopicPartition[]>();
  for (const member of subscriptions.keys()) out.set(member, []);
  const membersOf = new Map<string, string[]>();
  for (const [member, topics] of subscriptions) {
    for (const topic of new Set(topics)) {
      const list = membersOf.get(topic);
      if (list) list.push(member);
      else membersOf.set(topic, [member]);
    }
  }
  for (const [topic, members] of membersOf) {
    const count = partitionCounts.get(topic);
    if (count === undefined) continue;
    members.sort();
    const each = Math.floor(count / members.length);
    const extra = count % members.length;
    let next = 0;
    members.forEach((member, i) => {
      const take = each + (i < extra ? 1 : 0);
      const list = out.get(member) as TopicPartition[];
      for (let p = next; p < next + take; p++) list.push({ topic, partition: p });
      next += take;
    });
  }
  return out;
}
