/**
 * Fetch (key 1), v0-v18; flexible from v12.
 *
 * Source: FetchRequest.json / FetchResponse.json in apache/kafka (the 4.x form, validVersions 4-18;
 * v18 adds the follower's tagged HighWatermark, KIP-1166), read from a 4.x fork (aiven/inkless,
 * whose own v19 additions are left out) and checked against Aiven-Open/kio's v18 classes.
 * Deviation: Kafka 4.x no longer serves v0-v3 (KIP-896); their layout is what the field ranges
 * describe (v3 adds MaxBytes), and they are kept here for KafkaJS.
 */
import type { MessageSpec } from "../schema.js";

export const FetchRequest: MessageSpec = {
  apiKey: 1,
  type: "request",
  name: "FetchRequest",
  validVersions: "0-18",
  flexibleVersions: "12+",
  fields: [
    {
      name: "ClusterId",
      type: "string",
      versions: "12+",
      nullableVersions: "12+",
      default: "null",
      taggedVersions: "12+",
      tag: 0,
    },
    { name: "ReplicaId", type: "int32", versions: "0-14", default: "-1" },
    {
      name: "ReplicaState",
      type: "ReplicaState",
      versions: "15+",
      taggedVersions: "15+",
      tag: 1,
      fields: [
        { name: "ReplicaId", type: "int32", versions: "15+", default: "-1" },
        { name: "ReplicaEpoch", type: "int64", versions: "15+", default: "-1" },
      ],
    },
    { name: "MaxWaitMs", type: "int32", versions: "0+" },
    { name: "MinBytes", type: "int32", versions: "0+" },
    { name: "MaxBytes", type: "int32", versions: "3+", default: "0x7fffffff" },
    { name: "IsolationLevel", type: "int8", versions: "4+", default: "0" },
    { name: "SessionId", type: "int32", versions: "7+", default: "0" },
    { name: "SessionEpoch", type: "int32", versions: "7+", default: "-1" },
    {
      name: "Topics",
      type: "[]FetchTopic",
      versions: "0+",
      fields: [
        { name: "Topic", type: "string", versions: "0-12" },
        { name: "TopicId", type: "uuid", versions: "13+" },
        {
          name: "Partitions",
          type: "[]FetchPartition",
          versions: "0+",
          fields: [
            { name: "Partition", type: "int32", versions: "0+" },
            { name: "CurrentLeaderEpoch", type: "int32", versions: "9+", default: "-1" },
            { name: "FetchOffset", type: "int64", versions: "0+" },
            { name: "LastFetchedEpoch", type: "int32", versions: "12+", default: "-1" },
            { name: "LogStartOffset", type: "int64", versions: "5+", default: "-1" },
            { name: "PartitionMaxBytes", type: "int32", versions: "0+" },
            { name: "ReplicaDirectoryId", type: "uuid", versions: "17+", taggedVersions: "17+", tag: 0 },
            {
              name: "HighWatermark",
              type: "int64",
              versions: "18+",
              default: "9223372036854775807",
              taggedVersions: "18+",
              tag: 1,
            },
          ],
        },
      ],
    },
    {
      name: "ForgottenTopicsData",
      type: "[]ForgottenTopic",
      versions: "7+",
      fields: [
        { name: "Topic", type: "string", versions: "7-12" },
        { name: "TopicId", type: "uuid", versions: "13+" },
        { name: "Partitions", type: "[]int32", versions: "7+" },
      ],
    },
    { name: "RackId", type: "string", versions: "11+", default: "" },
  ],
};

export const FetchResponse: MessageSpec = {
  apiKey: 1,
  type: "response",
  name: "FetchResponse",
  validVersions: "0-18",
  flexibleVersions: "12+",
  fields: [
    { name: "ThrottleTimeMs", type: "int32", versions: "1+" },
    { name: "ErrorCode", type: "int16", versions: "7+" },
    { name: "SessionId", type: "int32", versions: "7+", default: "0" },
    {
      name: "Responses",
      type: "[]FetchableTopicResponse",
      versions: "0+",
      fields: [
        { name: "Topic", type: "string", versions: "0-12" },
        { name: "TopicId", type: "uuid", versions: "13+" },
        {
          name: "Partitions",
          type: "[]PartitionData",
          versions: "0+",
          fields: [
            { name: "PartitionIndex", type: "int32", versions: "0+" },
            { name: "ErrorCode", type: "int16", versions: "0+" },
            { name: "HighWatermark", type: "int64", versions: "0+" },
            { name: "LastStableOffset", type: "int64", versions: "4+", default: "-1" },
            { name: "LogStartOffset", type: "int64", versions: "5+", default: "-1" },
            {
              name: "DivergingEpoch",
              type: "EpochEndOffset",
              versions: "12+",
              taggedVersions: "12+",
              tag: 0,
              fields: [
                { name: "Epoch", type: "int32", versions: "12+", default: "-1" },
                { name: "EndOffset", type: "int64", versions: "12+", default: "-1" },
              ],
            },
            {
              name: "CurrentLeader",
              type: "LeaderIdAndEpoch",
              versions: "12+",
              taggedVersions: "12+",
              tag: 1,
              fields: [
                { name: "LeaderId", type: "int32", versions: "12+", default: "-1" },
                { name: "LeaderEpoch", type: "int32", versions: "12+", default: "-1" },
              ],
            },
            {
              name: "SnapshotId",
              type: "SnapshotId",
              versions: "12+",
              taggedVersions: "12+",
              tag: 2,
              fields: [
                { name: "EndOffset", type: "int64", versions: "0+", default: "-1" },
                { name: "Epoch", type: "int32", versions: "0+", default: "-1" },
              ],
            },
            {
              name: "AbortedTransactions",
              type: "[]AbortedTransaction",
              versions: "4+",
              nullableVersions: "4+",
              fields: [
                { name: "ProducerId", type: "int64", versions: "4+" },
                { name: "FirstOffset", type: "int64", versions: "4+" },
              ],
            },
            { name: "PreferredReadReplica", type: "int32", versions: "11+", default: "-1" },
            { name: "Records", type: "records", versions: "0+", nullableVersions: "0+" },
          ],
        },
      ],
    },
    {
      name: "NodeEndpoints",
      type: "[]NodeEndpoint",
      versions: "16+",
      taggedVersions: "16+",
      tag: 0,
      fields: [
        { name: "NodeId", type: "int32", versions: "16+" },
        { name: "Host", type: "string", versions: "16+" },
        { name: "Port", type: "int32", versions: "16+" },
        { name: "Rack", type: "string", versions: "16+", nullableVersions: "16+", default: "null" },
      ],
    },
  ],
};
