/**
 * The replica manager: applies what the cluster store says to this broker's local replicas
 * (issue 13: metadata flows one way, controller -> store -> brokers). For every partition whose
 * replicas include this node it opens the log (creating it if new) and gives the partition its
 * role: `makeLeader` when the store names this node leader, else `makeFollower` and the follower
 * hook (the replica fetcher). A topic deleted (or re-created under a new id) or a replica moved
 * away stops the replica (`stopReplica`: acks=all appends waiting on it are answered
 * NOT_LEADER_OR_FOLLOWER) and deletes the local log; changed topic configs reach the logs and
 * min.insync.replicas.
 *
 * Guarantees:
 * - Changes of one topic are applied one at a time, in a queue per topic; each application reads
 *   the store's current state, so a coalesced or repeated event changes nothing extra.
 * - The store's listener never throws: an application that fails is logged and retried after
 *   `retryMs` (until it succeeds, the topic changes or the manager stops).
 * - `sync(topic)` resolves once an application that began after the call has finished (or
 *   rejects with its error): a caller that changed the store through the controller waits with
 *   it until the change is applied locally.
 * - The leadership listener is told, after the role is applied, of every new term (led, or
 *   followed at a new leader or epoch) and of every removal, in the order applied; so by the time
 *   `sync` resolves, the group coordinator has elected or resigned accordingly.
 */
import type { Logger } from "pino";
import type { LogConfig } from "../../storage/config.js";
import type { StorageFs } from "../../storage/fs.js";
import type { LogManager } from "../../storage/log-manager.js";
import type { ClusterStore, MetadataEvent, PartitionState, TopicState } from "../metadata/cluster.js";
import { Partition } from "../partition.js";
import type { ProducerIds } from "../producer-ids.js";

/** Pause before a failed application of a topic is tried again. */
export const REPLICA_APPLY_RETRY_MS = 1000;

/**
 * What the replica fetcher implements: a local replica became a follower of `leaderId` (a new
 * leader or leader epoch; NO_LEADER while the partition has none), or stopped following (it leads
 * now, or its log is being removed).
 */
export interface FollowerHook {
  onFollow(partition: Partition, leaderId: number): void;
  onStopFollowing(partition: Partition): void;
}

/**
 * Told after a local replica's role is applied: `leading` true when this broker became leader (or
 * leads at a new leader epoch), false when it became a follower (or follows at a new epoch) or
 * the replica is removed. The group coordinator elects and resigns `__consumer_offsets`
 * partitions by it. A listener that throws is logged; it never fails the application.
 */
export type LeadershipListener = (
  topic: string,
  partition: number,
  leading: boolean,
  leaderEpoch: number,
) => void;

export interface ReplicaManagerOptions {
  logs: LogManager;
  sfs: StorageFs;
  producerIds: ProducerIds;
  /** The log config of a topic with these explicit configs. */
  logConfig: (configs: Record<string, string>) => LogConfig;
  /** min.insync.replicas of a topic with these explicit configs. */
  minInsyncReplicas: (configs: Record<string, string>) => number;
  retryMs?: number;
  logger?: Logger;
}

/** The local replicas of one topic, and what was applied to them. */
interface LocalTopic {
  id: string;
  configsKey: string;
  partitions: Map<number, Partition>;
}

export class ReplicaManager {
  /** Topics with local replicas (or known from the store), by name. */
  private readonly topics = new Map<string, LocalTopic>();
  /** An application of each topic queued and not yet begun. */
  private readonly pending = new Map<string, Promise<void>>();
  /** The last application of each topic, settled or running. */
  private readonly tails = new Map<string, Promise<void>>();
  private readonly retries = new Map<string, NodeJS.Timeout>();
  private unwatch: (() => void) | null = null;
  private stopped = false;
  /** The replica fetcher; null until one is attached (a single broker has no followers). */
  followers: FollowerHook | null = null;
  /** Runs once a topic is gone from the store and its local logs are removed (groups drop offsets). */
  onTopicRemoved: ((name: string) => Promise<void>) | null = null;
  /** Told of every applied leadership change and removal (the group coordinator). */
  onLeadership: LeadershipListener | null = null;

  constructor(
    private readonly store: ClusterStore,
    readonly nodeId: number,
    private readonly options: ReplicaManagerOptions,
  ) {}

  /**
   * Applies every topic of the store, removes the logs on disk that no topic assigns here (the
   * remains of deletions or creations a crash interrupted), then follows the store's changes.
   */
  async start(): Promise<void> {
    this.unwatch = this.store.watch((event) => this.onEvent(event));
    for (const topic of this.store.topics()) await this.sync(topic.name);
    for (const { topic, partition } of this.options.logs.all()) {
      if (!this.partition(topic, partition)) await this.options.logs.deleteLog(topic, partition);
    }
  }

  /** Stops following the store; resolves once the applications under way have ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unwatch?.();
    this.unwatch = null;
    for (const t of this.retries.values()) clearTimeout(t);
    this.retries.clear();
    await Promise.all([...this.tails.values()]);
  }

  partition(topic: string, index: number): Partition | undefined {
    return this.topics.get(topic)?.partitions.get(index);
  }

  allPartitions(): Partition[] {
    return [...this.topics.values()].flatMap((t) => [...t.partitions.values()]);
  }

  /** Applies the store's state of `name` now (after its earlier applications); rejects with a failure. */
  sync(name: string): Promise<void> {
    const queued = this.pending.get(name);
    if (queued) return queued;
    const previous = this.tails.get(name) ?? Promise.resolve();
    const run = previous.then(() => {
      this.pending.delete(name);
      return this.applyTopic(name);
    });
    this.pending.set(name, run);
    const tail = run.then(
      () => {},
      () => {},
    );
    this.tails.set(name, tail);
    void tail.then(() => {
      if (this.tails.get(name) === tail) this.tails.delete(name);
    });
    return run;
  }

  private onEvent(event: MetadataEvent): void {
    if (this.stopped) return;
    if (event.type === "topic") this.schedule(event.name);
    else if (event.type === "partition") this.schedule(event.topic);
    else if (event.type === "resync") {
      const names = new Set([...this.topics.keys(), ...this.store.topics().map((t) => t.name)]);
      for (const name of names) this.schedule(name);
    }
  }

  /** An application of `name` whose failure is logged and retried, never thrown. */
  private schedule(name: string): void {
    if (this.stopped) return;
    const retry = this.retries.get(name);
    if (retry) clearTimeout(retry);
    this.retries.delete(name);
    this.sync(name).catch((err) => {
      this.options.logger?.error({ err, topic: name }, "applying the topic's metadata failed; retrying");
      if (this.stopped || this.retries.has(name)) return;
      const timer = setTimeout(() => {
        this.retries.delete(name);
        this.schedule(name);
      }, this.options.retryMs ?? REPLICA_APPLY_RETRY_MS);
      timer.unref();
      this.retries.set(name, timer);
    });
  }

  /** Brings the local replicas of `name` to what the store says now. */
  private async applyTopic(name: string): Promise<void> {
    if (this.stopped) return;
    const topic = this.store.topic(name);
    const held = this.topics.get(name);
    if (held && (!topic || topic.id !== held.id)) await this.removeTopic(name, held);
    if (!topic) return;
    let local = this.topics.get(name);
    if (!local) {
      local = { id: topic.id, configsKey: configsKey(topic.configs), partitions: new Map() };
      this.topics.set(name, local);
    }
    this.applyConfigs(topic, local);
    // One partition that fails (its log cannot be opened or removed) must not hold back the role
    // changes of the others: each is tried, and the first failure is rethrown (then retried).
    let failure: unknown = null;
    const attempt = async (step: () => Promise<void>) => {
      try {
        await step();
      } catch (err) {
        failure ??= err;
      }
    };
    for (const state of topic.partitions) {
      await attempt(async () => {
        const existing = local.partitions.get(state.partition);
        if (!state.replicas.includes(this.nodeId)) {
          if (existing) await this.removePartition(local, existing);
          return;
        }
        const partition = existing ?? (await this.open(topic, local, state.partition));
        this.applyRole(partition, state);
      });
    }
    for (const p of local.partitions.values())
      if (p.index >= topic.partitions.length) await attempt(() => this.removePartition(local, p));
    if (failure) throw failure;
  }

  private applyConfigs(topic: TopicState, local: LocalTopic): void {
    const key = configsKey(topic.configs);
    if (key === local.configsKey) return;
    local.configsKey = key;
    const logConfig = this.options.logConfig(topic.configs);
    const minIsr = this.options.minInsyncReplicas(topic.configs);
    for (const p of local.partitions.values()) p.updateConfig(logConfig, minIsr);
  }

  /** Opens (creating if new) the log of a partition assigned here, and loads its producer state. */
  private async open(topic: TopicState, local: LocalTopic, index: number): Promise<Partition> {
    const { logs, sfs, producerIds } = this.options;
    const existed = logs.getLog(topic.name, index) !== undefined;
    // `fresh`: a directory on disk that was not loaded at start is a deletion's remains, never data.
    const log = await logs.createLog(topic.name, index, true, this.options.logConfig(topic.configs));
    const minIsr = this.options.minInsyncReplicas(topic.configs);
    const partition = new Partition(topic.name, index, log, sfs, producerIds, this.nodeId, minIsr);
    try {
      await partition.load();
    } catch (err) {
      // A log this application created leaves nothing behind; one loaded at start keeps its data.
      if (!existed) await logs.deleteLog(topic.name, index).catch(() => {});
      throw err;
    }
    local.partitions.set(index, partition);
    return partition;
  }

  /** Gives a local replica the role the store names; a stale state (an older epoch) is skipped. */
  private applyRole(partition: Partition, state: PartitionState): void {
    if (state.leaderEpoch < partition.leaderEpoch) {
      this.options.logger?.warn(
        { topic: partition.topic, partition: partition.index, epoch: state.leaderEpoch },
        "a stale partition state was not applied",
      );
      return;
    }
    if (state.leader === this.nodeId) {
      const newTerm = partition.role !== "leader" || partition.leaderEpoch !== state.leaderEpoch;
      if (partition.role === "follower") this.followers?.onStopFollowing(partition);
      partition.makeLeader(state.leaderEpoch, state.partitionEpoch, state.isr, state.replicas);
      if (newTerm) this.tellLeadership(partition, true);
      return;
    }
    const changed =
      partition.role !== "follower" ||
      partition.leader !== state.leader ||
      partition.leaderEpoch !== state.leaderEpoch;
    if (!changed) return;
    partition.makeFollower(state.leaderEpoch, state.leader, state.partitionEpoch);
    this.followers?.onFollow(partition, state.leader);
    this.tellLeadership(partition, false);
  }

  /** Tells the leadership listener of `partition`'s role now; a throw is logged, never passed on. */
  private tellLeadership(partition: Partition, leading: boolean): void {
    try {
      this.onLeadership?.(partition.topic, partition.index, leading, partition.leaderEpoch);
    } catch (err) {
      this.options.logger?.error(
        { err, topic: partition.topic, partition: partition.index, leading },
        "a leadership listener failed",
      );
    }
  }

  private async removePartition(local: LocalTopic, partition: Partition): Promise<void> {
    if (partition.role === "follower") this.followers?.onStopFollowing(partition);
    this.tellLeadership(partition, false);
    // Its producer state leaves the broker-wide count (max.concurrent.producer.ids) now.
    partition.producers.clear();
    partition.stopReplica();
    local.partitions.delete(partition.index);
    await this.options.logs.deleteLog(partition.topic, partition.index);
  }

  private async removeTopic(name: string, local: LocalTopic): Promise<void> {
    for (const p of [...local.partitions.values()]) await this.removePartition(local, p);
    this.topics.delete(name);
    try {
      await this.onTopicRemoved?.(name);
    } catch (err) {
      this.options.logger?.warn({ err, topic: name }, "a hook of a removed topic failed");
    }
  }
}

/** The explicit configs as one comparable string (keys sorted). */
function configsKey(configs: Record<string, string>): string {
  return JSON.stringify(
    Object.keys(configs)
      .sort()
      .map((k) => [k, configs[k]]),
  );
}
