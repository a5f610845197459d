/**
 * The records of the internal topic `__consumer_offsets`, in Kafka's layout so that its tools
 * read them: each key and value starts with an int16 version, then the struct at that version.
 *
 * Source: OffsetCommitKey.json, OffsetCommitValue.json, GroupMetadataKey.json and
 * GroupMetadataValue.json in apache/kafka (group-coordinator module). Key version 0/1 is an
 * offset commit (group, topic, partition); key version 2 is a group's metadata. A null value is a
 * tombstone. samsa writes OffsetCommitValue v3 and GroupMetadataValue v3 and reads v0-v3.
 */
import type { MessageSpec } from "../schema.js";

export const OffsetCommitKey: MessageSpec = {
  apiKey: -1,
  type: "data",
  name: "OffsetCommitKey",
  validVersions: "0-1",
  flexibleVersions: "none",
  fields: [
    { name: "Group", type: "string", versions: "0-1" },
    { name: "Topic", type: "string", versions: "0-1" },
    { name: "Partition", type: "int32", versions: "0-1" },
  ],
};

export const OffsetCommitValue: MessageSpec = {
  apiKey: -1,
  type: "data",
  name: "OffsetCommitValue",
  validVersions: "0-3",
  flexibleVersions: "none",
  fields: [
    { name: "Offset", type: "int64", versions: "0+" },
    { name: "LeaderEpoch", type: "int32", versions: "3+", default: "-1" },
    { name: "Metadata", type: "string", versions: "0+" },
    { name: "CommitTimestamp", type: "int64", versions: "0+" },
    { name: "ExpireTimestamp", type: "int64", versions: "1", default: "-1" },
  ],
};

export const GroupMetadataKey: MessageSpec = {
  apiKey: -1,
  type: "data",
  name: "GroupMetadataKey",
  validVersions: "2",
  flexibleVersions: "none",
  fields: [{ name: "Group", type: "string", versions: "2" }],
};

export const GroupMetadataValue: MessageSpec = {
  apiKey: -1,
  type: "data",
  name: "GroupMetadataValue",
  validVersions: "0-3",
  flexibleVersions: "none",
  fields: [
    { name: "ProtocolType", type: "string", versions: "0+" },
    { name: "Generation", type: "int32", versions: "0+" },
    { name: "Protocol", type: "string", versions: "0+", nullableVersions: "0+" },
    { name: "Leader", type: "string", versions: "0+", nullableVersions: "0+" },
    { name: "CurrentStateTimestamp", type: "int64", versions: "2+", default: "-1" },
    {
      name: "Members",
      type: "[]MemberMetadata",
      versions: "0+",
      fields: [
        { name: "MemberId", type: "string", versions: "0+" },
        { name: "GroupInstanceId", type: "string", versions: "3+", nullableVersions: "3+", default: "null" },
        { name: "ClientId", type: "string", versions: "0+" },
        { name: "ClientHost", type: "string", versions: "0+" },
        { name: "RebalanceTimeout", type: "int32", versions: "1+", default: "-1" },
        { name: "SessionTimeout", type: "int32", versions: "0+" },
        { name: "Subscription", type: "bytes", versions: "0+" },
        { name: "Assignment", type: "bytes", versions: "0+" },
      ],
    },
  ],
};
