/**
 * What the replica manager calls when a local replica becomes a follower (its `FollowerHook`):
 * `onFollow(partition, leaderId)` after `makeFollower` (a new leader or leader epoch; NO_LEADER
 * while the partition has none) and `onStopFollowing(partition)` before it leads, is deleted or
 * leaves this broker. It turns the leader's node id into its registered endpoint and the topic
 * into its id (ClusterStore), and hands the partition to the `ReplicaFetcherManager`.
 *
 * A leader whose registration goes (its lease lost, say while etcd was cut off) is still fetched
 * from at the endpoint it last registered: the partition state still names it leader, it still
 * serves acks=all (decision 0030), and its high watermark needs its followers' fetches, while an
 * ISR change to drop them may be impossible until etcd answers. Were the followers to stop, a
 * view that saw the registration go but not come back before etcd was cut again would stall
 * acks=all for the whole cut. Fetching from a leader the controller replaced is safe: it gets
 * fenced answers, or records the new leader's epochs later truncate, and the replaced leader
 * cannot acknowledge without the new one, which does not fetch from it. A leader never seen
 * registered has no endpoint: the partition waits and is pointed at the leader when its
 * registration appears; a leader registered again at another endpoint (a restart) re-points its
 * partitions. The store listener never throws.
 */
import type { Logger } from "pino";
import { type ClusterStore, type MetadataEvent, NO_LEADER } from "../metadata/cluster.js";
import type { Partition } from "../partition.js";
import type { LeaderEndpoint } from "./replica-fetcher.js";
import type { ReplicaFetcherManager } from "./replica-fetcher-manager.js";

interface Followed {
  partition: Partition;
  leaderId: number;
  /** `nodeId@host:port` of the endpoint the manager was given; null while none is known. */
  pointedAt: string | null;
}

const partitionKey = (p: Partition): string => `${p.topic}\u0000${p.index}`;
const endpointKey = (e: LeaderEndpoint): string => `${e.nodeId}@${e.host}:${e.port}`;

export class ReplicaFetcherHook {
  private readonly followed = new Map<string, Followed>();
  /** Each leader's endpoint as last registered (one per broker of the cluster). */
  private readonly lastEndpoints = new Map<number, LeaderEndpoint>();
  private readonly unwatch: () => void;

  constructor(
    private readonly manager: ReplicaFetcherManager,
    private readonly store: ClusterStore,
    private readonly logger?: Logger,
  ) {
    this.unwatch = store.watch((event) => {
      try {
        this.onEvent(event);
      } catch (err) {
        this.logger?.error({ err }, "replica fetcher could not follow a metadata change");
      }
    });
  }

  /** `partition` follows `leaderId` at its (new) leader epoch: fetching restarts. */
  onFollow(partition: Partition, leaderId: number): void {
    if (leaderId === NO_LEADER) {
      this.onStopFollowing(partition);
      return;
    }
    const f: Followed = { partition, leaderId, pointedAt: null };
    this.followed.set(partitionKey(partition), f);
    this.point(f, true);
  }

  /** `partition` no longer follows: its fetcher lets it go (and stops if left empty). */
  onStopFollowing(partition: Partition): void {
    this.followed.delete(partitionKey(partition));
    this.settle(this.manager.unfollow(partition), partition);
  }

  /** Stops watching the store (the manager is stopped by its owner). */
  close(): void {
    this.unwatch();
  }

  private onEvent(event: MetadataEvent): void {
    if (event.type !== "broker" && event.type !== "resync") return;
    if (event.type === "broker") this.endpointOf(event.nodeId);
    for (const f of this.followed.values()) {
      if (event.type === "resync" || f.leaderId === event.nodeId) this.point(f, false);
    }
  }

  /** Gives the manager `f`'s leader endpoint: always when `restart`, else only if it changed. */
  private point(f: Followed, restart: boolean): void {
    const endpoint = this.endpointOf(f.leaderId);
    if (!endpoint) {
      if (f.pointedAt === null && !restart) return;
      this.logger?.debug(
        { topic: f.partition.topic, partition: f.partition.index, leader: f.leaderId },
        "leader never registered: fetching waits for its registration",
      );
      f.pointedAt = null;
      this.settle(this.manager.unfollow(f.partition), f.partition);
      return;
    }
    const key = endpointKey(endpoint);
    if (!restart && f.pointedAt === key) return;
    f.pointedAt = key;
    this.logger?.debug(
      { topic: f.partition.topic, partition: f.partition.index, leader: key, restart },
      "fetching from the leader",
    );
    const topicId = this.store.topic(f.partition.topic)?.id ?? null;
    this.settle(this.manager.follow(f.partition, endpoint, topicId), f.partition);
  }

  /** Broker `nodeId`'s registered endpoint, or the one it last registered while it has none. */
  private endpointOf(nodeId: number): LeaderEndpoint | undefined {
    const registration = this.store.broker(nodeId);
    if (!registration) return this.lastEndpoints.get(nodeId);
    const endpoint: LeaderEndpoint = { nodeId, host: registration.host, port: registration.port };
    this.lastEndpoints.set(nodeId, endpoint);
    return endpoint;
  }

  private settle(op: Promise<void>, partition: Partition): void {
    op.catch((err) =>
      this.logger?.error(
        { err, topic: partition.topic, partition: partition.index },
        "replica fetcher manager failed",
      ),
    );
  }
}
