/**
 * How a broker asks the controller for topic changes. The single broker runs its own controller
 * (`LocalControllerChannel`); a broker of a cluster forwards the same calls to the elected
 * controller over the network (a later step of issue 13). Either way the answer only says that
 * the store holds the change: the broker's replica manager applies it locally after.
 */
import type { Controller, CreateTopicRequest } from "../controller/controller.js";
import type { TopicState } from "../metadata/cluster.js";

export interface ControllerChannel {
  /** CreateTopics of one topic, defaults resolved (partitions and replication factor given). */
  createTopic(request: CreateTopicRequest): Promise<TopicState>;
  deleteTopic(name: string): Promise<void>;
  /** Grows `name` to `totalCount` partitions. */
  createPartitions(name: string, totalCount: number, validateOnly?: boolean): Promise<TopicState>;
  /** Replaces the topic's explicit configs. */
  alterConfigs(name: string, configs: Record<string, string>): Promise<void>;
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

  createPartitions(name: string, totalCount: number, validateOnly = false): Promise<TopicState> {
    return this.controller.createPartitions(name, totalCount, null, validateOnly);
  }

  alterConfigs(name: string, configs: Record<string, string>): Promise<void> {
    return this.controller.alterConfigs(name, configs);
  }
}
