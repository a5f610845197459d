/** The samsa client: every public type and class. */

export {
  AclOperation,
  AclPermissionType,
  PatternType as AclPatternType,
  ResourceType as AclResourceType,
} from "../protocol/acl.js";
export {
  ASSIGNORS,
  type AssignorName,
  cooperativeStickyAssignor,
  type MemberSubscription,
  type PartitionAssignor,
  rangeAssignor,
  roundRobinAssignor,
  type TopicPartition,
} from "../protocol/assignors.js";
export {
  type Assignment,
  decodeAssignment,
  decodeSubscription,
  encodeAssignment,
  encodeSubscription,
  type Subscription,
  type TopicPartitions,
} from "../protocol/consumer-protocol.js";
export type { RecordHeader } from "../protocol/record-batch.js";
export type {
  AclBinding,
  AclDescription,
  AclFilter,
  AclFilterResponse,
  AclMatchingBinding,
  AclResource,
} from "./acls.js";
export {
  Admin,
  type ConfigEntry,
  type GroupDescription,
  type GroupListing,
  type GroupMemberDescription,
  type NewTopic,
  type OffsetSpec,
  type PartitionOffsets,
  type ScramUserDescription,
  type TopicOutcome,
} from "./admin.js";
export {
  type BrokerInfo,
  Cluster,
  type ClusterOptions,
  type PartitionInfo,
  type TopicInfo,
} from "./cluster.js";
export { Connection, type ConnectionOptions } from "./connection.js";
export {
  Consumer,
  type ConsumerBatch,
  type ConsumerOptions,
  type ConsumerRecord,
  type RebalanceListener,
  type RecordTimestampType,
  type StartAt,
} from "./consumer.js";
export type { CommittedOffset, OffsetAndMetadata } from "./coordinator.js";
export { ClientError, type ClientErrorCode, isRetriable, KafkaError } from "./errors.js";
export {
  type CompressionName,
  Producer,
  type ProducerOptions,
  type ProducerRecord,
  type RecordMetadata,
} from "./producer.js";
export { backoffMs, type RetryOptions, withRetry } from "./retry.js";
export type { SaslMechanism, SaslOptions } from "./sasl.js";
