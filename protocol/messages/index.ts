/**
 * Every API samsa speaks, by API key: its name and the request and response specs. Each spec's
 * validVersions is what the codec can encode and decode; which versions the broker advertises in
 * ApiVersions is the broker's decision (see the notes at the top of each spec file).
 */
import type { MessageSpec } from "../schema.js";
import { AlterConfigsRequest, AlterConfigsResponse } from "./alter-configs.js";
import { AlterPartitionRequest, AlterPartitionResponse } from "./alter-partition.js";
import {
  AlterPartitionReassignmentsRequest,
  AlterPartitionReassignmentsResponse,
} from "./alter-partition-reassignments.js";
import {
  AlterUserScramCredentialsRequest,
  AlterUserScramCredentialsResponse,
} from "./alter-user-scram-credentials.js";
import { ApiVersionsRequest, ApiVersionsResponse } from "./api-versions.js";
import { ControlledShutdownRequest, ControlledShutdownResponse } from "./controlled-shutdown.js";
import { CreateAclsRequest, CreateAclsResponse } from "./create-acls.js";
import { CreatePartitionsRequest, CreatePartitionsResponse } from "./create-partitions.js";
import { CreateTopicsRequest, CreateTopicsResponse } from "./create-topics.js";
import { DeleteAclsRequest, DeleteAclsResponse } from "./delete-acls.js";
import { DeleteGroupsRequest, DeleteGroupsResponse } from "./delete-groups.js";
import { DeleteRecordsRequest, DeleteRecordsResponse } from "./delete-records.js";
import { DeleteTopicsRequest, DeleteTopicsResponse } from "./delete-topics.js";
import { DescribeAclsRequest, DescribeAclsResponse } from "./describe-acls.js";
import { DescribeClusterRequest, DescribeClusterResponse } from "./describe-cluster.js";
import { DescribeConfigsRequest, DescribeConfigsResponse } from "./describe-configs.js";
import { DescribeGroupsRequest, DescribeGroupsResponse } from "./describe-groups.js";
import { DescribeLogDirsRequest, DescribeLogDirsResponse } from "./describe-log-dirs.js";
import { DescribeProducersRequest, DescribeProducersResponse } from "./describe-producers.js";
import {
  DescribeTopicPartitionsRequest,
  DescribeTopicPartitionsResponse,
} from "./describe-topic-partitions.js";
import {
  DescribeUserScramCredentialsRequest,
  DescribeUserScramCredentialsResponse,
} from "./describe-user-scram-credentials.js";
import { ElectLeadersRequest, ElectLeadersResponse } from "./elect-leaders.js";
import { FetchRequest, FetchResponse } from "./fetch.js";
import { FindCoordinatorRequest, FindCoordinatorResponse } from "./find-coordinator.js";
import { HeartbeatRequest, HeartbeatResponse } from "./heartbeat.js";
import {
  IncrementalAlterConfigsRequest,
  IncrementalAlterConfigsResponse,
} from "./incremental-alter-configs.js";
import { InitProducerIdRequest, InitProducerIdResponse } from "./init-producer-id.js";
import { JoinGroupRequest, JoinGroupResponse } from "./join-group.js";
import { LeaveGroupRequest, LeaveGroupResponse } from "./leave-group.js";
import { ListGroupsRequest, ListGroupsResponse } from "./list-groups.js";
import { ListOffsetsRequest, ListOffsetsResponse } from "./list-offsets.js";
import {
  ListPartitionReassignmentsRequest,
  ListPartitionReassignmentsResponse,
} from "./list-partition-reassignments.js";
import { MetadataRequest, MetadataResponse } from "./metadata.js";
import { OffsetCommitRequest, OffsetCommitResponse } from "./offset-commit.js";
import { OffsetDeleteRequest, OffsetDeleteResponse } from "./offset-delete.js";
import { OffsetFetchRequest, OffsetFetchResponse } from "./offset-fetch.js";
import { OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse } from "./offset-for-leader-epoch.js";
import { ProduceRequest, ProduceResponse } from "./produce.js";
import { SaslAuthenticateRequest, SaslAuthenticateResponse } from "./sasl-authenticate.js";
import { SaslHandshakeRequest, SaslHandshakeResponse } from "./sasl-handshake.js";
import { SyncGroupRequest, SyncGroupResponse } from "./sync-group.js";

export interface ApiSpec {
  /** Kafka's API name ("Produce"). */
  name: string;
  request: MessageSpec;
  response: MessageSpec;
}

function api(name: string, request: MessageSpec, response: MessageSpec): ApiSpec {
  return { name, request, response };
}

/** API key -> specs. */
export const API_SPECS: Readonly<Record<number, ApiSpec>> = {
  0: api("Produce", ProduceRequest, ProduceResponse),
  1: api("Fetch", FetchRequest, FetchResponse),
  2: api("ListOffsets", ListOffsetsRequest, ListOffsetsResponse),
  3: api("Metadata", MetadataRequest, MetadataResponse),
  7: api("ControlledShutdown", ControlledShutdownRequest, ControlledShutdownResponse),
  8: api("OffsetCommit", OffsetCommitRequest, OffsetCommitResponse),
  9: api("OffsetFetch", OffsetFetchRequest, OffsetFetchResponse),
  10: api("FindCoordinator", FindCoordinatorRequest, FindCoordinatorResponse),
  11: api("JoinGroup", JoinGroupRequest, JoinGroupResponse),
  12: api("Heartbeat", HeartbeatRequest, HeartbeatResponse),
  13: api("LeaveGroup", LeaveGroupRequest, LeaveGroupResponse),
  14: api("SyncGroup", SyncGroupRequest, SyncGroupResponse),
  15: api("DescribeGroups", DescribeGroupsRequest, DescribeGroupsResponse),
  16: api("ListGroups", ListGroupsRequest, ListGroupsResponse),
  17: api("SaslHandshake", SaslHandshakeRequest, SaslHandshakeResponse),
  18: api("ApiVersions", ApiVersionsRequest, ApiVersionsResponse),
  19: api("CreateTopics", CreateTopicsRequest, CreateTopicsResponse),
  20: api("DeleteTopics", DeleteTopicsRequest, DeleteTopicsResponse),
  21: api("DeleteRecords", DeleteRecordsRequest, DeleteRecordsResponse),
  22: api("InitProducerId", InitProducerIdRequest, InitProducerIdResponse),
  23: api("OffsetForLeaderEpoch", OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse),
  29: api("DescribeAcls", DescribeAclsRequest, DescribeAclsResponse),
  30: api("CreateAcls", CreateAclsRequest, CreateAclsResponse),
  31: api("DeleteAcls", DeleteAclsRequest, DeleteAclsResponse),
  32: api("DescribeConfigs", DescribeConfigsRequest, DescribeConfigsResponse),
  33: api("AlterConfigs", AlterConfigsRequest, AlterConfigsResponse),
  35: api("DescribeLogDirs", DescribeLogDirsRequest, DescribeLogDirsResponse),
  36: api("SaslAuthenticate", SaslAuthenticateRequest, SaslAuthenticateResponse),
  37: api("CreatePartitions", CreatePartitionsRequest, CreatePartitionsResponse),
  42: api("DeleteGroups", DeleteGroupsRequest, DeleteGroupsResponse),
  43: api("ElectLeaders", ElectLeadersRequest, ElectLeadersResponse),
  44: api("IncrementalAlterConfigs", IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse),
  45: api(
    "AlterPartitionReassignments",
    AlterPartitionReassignmentsRequest,
    AlterPartitionReassignmentsResponse,
  ),
  46: api(
    "ListPartitionReassignments",
    ListPartitionReassignmentsRequest,
    ListPartitionReassignmentsResponse,
  ),
  47: api("OffsetDelete", OffsetDeleteRequest, OffsetDeleteResponse),
  50: api(
    "DescribeUserScramCredentials",
    DescribeUserScramCredentialsRequest,
    DescribeUserScramCredentialsResponse,
  ),
  51: api("AlterUserScramCredentials", AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse),
  56: api("AlterPartition", AlterPartitionRequest, AlterPartitionResponse),
  60: api("DescribeCluster", DescribeClusterRequest, DescribeClusterResponse),
  61: api("DescribeProducers", DescribeProducersRequest, DescribeProducersResponse),
  75: api("DescribeTopicPartitions", DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse),
};
