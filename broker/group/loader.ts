/**
 * Loading one partition of `__consumer_offsets` (Kafka's GroupMetadataManager
 * doLoadGroupsAndOffsets): replays its records into groups and committed offsets that nobody
 * serves yet. The coordinator installs the result only if the election it loaded for is still
 * current, so a load that a resignation or a newer election overtakes leaves nothing behind.
 *
 * Guarantees: the latest record per key wins (a tombstone removes); a group stored with members
 * comes back Stable with its generation, leader and assignments (Empty without members); a group
 * with neither stored metadata nor offsets is not returned. No timer is armed here.
 */
import { Group, type Member, offsetKeyOf } from "./group.js";
import type { OffsetsTopic } from "./offsets-topic.js";
import type { OffsetsRecord, StoredGroup, StoredMember } from "./records.js";

/** The groups of one offsets partition as its log holds them. */
export interface LoadedPartition {
  groups: Map<string, Group>;
  /** Records read. */
  records: number;
}

/**
 * Reads partition `index` of the offsets topic up to its log end and rebuilds its groups. Stops
 * early when `current()` turns false (the caller then discards what is returned).
 */
export async function loadOffsetsPartition(
  topic: OffsetsTopic,
  index: number,
  current: () => boolean,
): Promise<LoadedPartition> {
  const groups = new Map<string, Group>();
  const stored = new Map<string, StoredGroup | null>();
  const groupOf = (id: string): Group => {
    let group = groups.get(id);
    if (!group) {
      group = new Group(id);
      groups.set(id, group);
    }
    return group;
  };
  const records = await topic.loadPartition(
    index,
    (record: OffsetsRecord) => {
      if (record.kind === "group") {
        stored.set(record.group, record.value);
        return;
      }
      const key = offsetKeyOf(record.topic, record.partition);
      if (record.value) {
        groupOf(record.group).offsets.set(key, {
          ...record.value,
          topic: record.topic,
          partition: record.partition,
        });
      } else {
        groups.get(record.group)?.offsets.delete(key);
      }
    },
    current,
  );
  for (const [id, value] of stored) if (value) restoreGroup(groupOf(id), value);
  for (const [id, group] of groups) {
    if (group.members.size === 0 && group.offsets.size === 0 && !stored.get(id)) groups.delete(id);
  }
  return { groups, records };
}

/** Gives `group` the stored generation, protocol, leader and members. */
function restoreGroup(group: Group, value: StoredGroup): void {
  group.generationId = value.generation;
  group.protocolType = value.protocolType || null;
  group.protocolName = value.protocol;
  group.leaderId = value.leader;
  for (const m of value.members) {
    group.members.set(m.memberId, storedMember(m, value));
    if (m.groupInstanceId) group.staticMembers.set(m.groupInstanceId, m.memberId);
  }
  group.transition(group.members.size > 0 ? "Stable" : "Empty");
  if (value.stateTimestamp > 0) group.stateTimestamp = value.stateTimestamp;
}

/** A member as stored: no reply awaited, its session not yet started. */
function storedMember(m: StoredMember, value: StoredGroup): Member {
  return {
    memberId: m.memberId,
    groupInstanceId: m.groupInstanceId,
    clientId: m.clientId,
    clientHost: m.clientHost,
    sessionTimeoutMs: m.sessionTimeoutMs,
    rebalanceTimeoutMs: m.rebalanceTimeoutMs < 0 ? m.sessionTimeoutMs : m.rebalanceTimeoutMs,
    protocolType: value.protocolType,
    protocols: [{ name: value.protocol ?? "", metadata: m.subscription }],
    assignment: m.assignment,
    joinWaiter: null,
    syncWaiter: null,
    sessionTimer: null,
    isNew: false,
  };
}
