/** Every API handler this broker serves; ApiVersions advertises exactly these. */

import { alterConfigs } from "./alter-configs.js";
import { alterPartition } from "./alter-partition.js";
import { alterPartitionReassignments } from "./alter-partition-reassignments.js";
import { alterUserScramCredentials } from "./alter-user-scram-credentials.js";
import { apiVersions } from "./api-versions.js";
import { controlledShutdown } from "./controlled-shutdown.js";
import { createAcls } from "./create-acls.js";
import { createPartitions } from "./create-partitions.js";
import { createTopics } from "./create-topics.js";
import { deleteAcls } from "./delete-acls.js";
import { deleteGroups } from "./delete-groups.js";
import { deleteRecords } from "./delete-records.js";
import { deleteTopics } from "./delete-topics.js";
import { describeAcls } from "./describe-acls.js";
import { describeCluster } from "./describe-cluster.js";
import { describeConfigs } from "./describe-configs.js";
import { describeGroups } from "./describe-groups.js";
import { describeLogDirs } from "./describe-log-dirs.js";
import { describeProducers } from "./describe-producers.js";
import { describeTopicPartitions } from "./describe-topic-partitions.js";
import { describeUserScramCredentials } from "./describe-user-scram-credentials.js";
import { electLeaders } from "./elect-leaders.js";
import { fetch } from "./fetch.js";
import { findCoordinator } from "./find-coordinator.js";
import { heartbeat } from "./heartbeat.js";
import { incrementalAlterConfigs } from "./incremental-alter-configs.js";
import { initProducerId } from "./init-producer-id.js";
import { joinGroup } from "./join-group.js";
import { leaveGroup } from "./leave-group.js";
import { listGroups } from "./list-groups.js";
import { listOffsets } from "./list-offsets.js";
import { listPartitionReassignments } from "./list-partition-reassignments.js";
import { metadata } from "./metadata.js";
import { offsetCommit } from "./offset-commit.js";
import { offsetDelete } from "./offset-delete.js";
import { offsetFetch } from "./offset-fetch.js";
import { offsetForLeaderEpoch } from "./offset-for-leader-epoch.js";
import { produce } from "./produce.js";
import { saslAuthenticate } from "./sasl-authenticate.js";
import { saslHandshake } from "./sasl-handshake.js";
import { syncGroup } from "./sync-group.js";
import type { AnyApiHandler } from "./types.js";

export const HANDLERS: AnyApiHandler[] = [
  produce,
  fetch,
  listOffsets,
  metadata,
  controlledShutdown,
  offsetCommit,
  offsetFetch,
  findCoordinator,
  joinGroup,
  heartbeat,
  leaveGroup,
  syncGroup,
  describeGroups,
  listGroups,
  saslHandshake,
  apiVersions,
  initProducerId,
  createTopics,
  deleteTopics,
  deleteRecords,
  offsetForLeaderEpoch,
  saslAuthenticate,
  createPartitions,
  describeConfigs,
  alterConfigs,
  incrementalAlterConfigs,
  describeLogDirs,
  deleteGroups,
  electLeaders,
  alterPartitionReassignments,
  listPartitionReassignments,
  offsetDelete,
  alterPartition,
  describeCluster,
  describeProducers,
  describeTopicPartitions,
  describeUserScramCredentials,
  alterUserScramCredentials,
  describeAcls,
  createAcls,
  deleteAcls,
];
