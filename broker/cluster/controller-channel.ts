/**
 * How a broker asks the controller for changes. The single broker runs its own controller
 * (`LocalControllerChannel`); a broker of a cluster forwards the same calls to the elected
 * controller over the network (`ClusterControllerChannel`, remote-controller-channel.ts). Either
 * way the answer only says that the store holds the change: the broker's replica manager applies
 * it locally after.
 */
import type {
  Controller,
  CreateTopicRequest,
  IsrChangeRequest,
  OngoingReassignment,
  PartitionResult,
  ReassignmentRequest,
} from "../controller/controller.js";
import type { PartitionRef } from "../controller/election.js";
import type { TopicState } from "../metadata/cluster.js";

export interface ControllerChannel {
  /** CreateTopics of one topic, defaults resolved (partitions and replication factor given). */
  createTopic(request: CreateTopicRequest): Promise<TopicState>;
  deleteTopic(name: string): Promise<void>;
  /** Grows `name` to `totalCount` partitions (`assignments`: the new ones' replicas, else placed). */
  createPartitions(
    name: string,
    totalCount: number,
    validateOnly?: boolean,
    assignments?: readonly (readonly number[])[] | null,
  ): Promise<TopicState>;
  /** Replaces the topic's explicit configs. */
  alterConfigs(name: string, configs: Record<string, string>): Promise<void>;
  /** AlterPartition: ISR changes asked by partition leaders. */
  alterPartition(requests: readonly IsrChangeRequest[]): Promise<PartitionResult[]>;
  /** ElectLeaders (null: every partition that needs one). */
  electLeaders(
    type: "PREFERRED" | "UNCLEAN",
    partitions: readonly PartitionRef[] | null,
  ): Promise<PartitionResult[]>;
  /** AlterPartitionReassignments (replicas null cancels). */
  alterReassignments(requests: readonly ReassignmentRequest[]): Promise<PartitionResult[]>;
  /** ListPartitionReassignments (null: all). */
  listReassignments(partitions: readonly PartitionRef[] | null): Promise<OngoingReassignment[]>;
  /** ControlledShutdown: the partitions `nodeId` still leads after the controller moved what it could. */
  controlledShutdown(nodeId: number, brokerEpoch: number): Promise<PartitionRef[]>;
}

/** The channel to a controller in this process. */
export class LocalControllerChannel implements ControllerChannel {
  constructor(private readonly controller: Controller) {}

  createTopic(request: CreateTopicRequest): Promise<TopicState> {
    return this.controller.createTopic(request);
  }

  deleteTopic(name: string): Promise<void> {
    return this.controller.deleteTopic(name);
  }

  createPartitions(
    name: string,
    totalCount: number,
    validateOnly = false,
    assignments: readonly (readonly number[])[] | null = null,
  ): Promise<TopicState> {
    return this.controller.createPartitions(name, totalCount, assignments, validateOnly);
  }

  alterConfigs(name: string, configs: Record<string, string>): Promise<void> {
    return this.controller.alterConfigs(name, configs);
  }

  alterPartition(requests: readonly IsrChangeRequest[]): Promise<PartitionResult[]> {
    return this.controller.alterPartition(requests);
  }

  electLeaders(
    type: "PREFERRED" | "UNCLEAN",
    partitions: readonly PartitionRef[] | null,
  ): Promise<PartitionResult[]> {
    return this.controller.electLeaders(type, partitions);
  }

  alterReassignments(requests: readonly ReassignmentRequest[]): Promise<PartitionResult[]> {
    return this.controller.alterReassignments(requests);
  }

  async listReassignments(partitions: readonly PartitionRef[] | null): Promise<OngoingReassignment[]> {
    return this.controller.listReassignments(partitions);
  }

  controlledShutdown(nodeId: number, brokerEpoch: number): Promise<PartitionRef[]> {
    return this.controller.controlledShutdown(nodeId, brokerEpoch);
  }
}
