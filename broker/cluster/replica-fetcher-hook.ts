/**
 * What the replica manager calls when a local replica becomes a follower (its `FollowerHook`):
 * `onFollow(partition, leaderId)` after `makeFollower` (a new leader or leader epoch; NO_LEADER
 * while the partition has none) and `onStopFollowing(partition)` before it leads, is deleted or
 * leaves this broker. It turns the leader's node id into its registered endpoint and the topic
 * into its id (ClusterStore), and hands the partition to the `ReplicaFetcherManager`.
 *
 * A leader not registered (yet, or any more) has no endpoint: the partition waits, and is pointed
 * at the leader when its registration appears; a leader registered again at another endpoint (a
 * restart) re-points its partitions. The store listener never throws.
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
    for (const f of this.followed.values()) {
      if (event.type === "resync" || f.leaderId === event.nodeId) this.point(f, false);
    }
  }

  /** Gives the manager `f`'s leader endpoint: always when `restart`, else only if it changed. */
  private point(f: Followed, restart: boolean): void {
    const leader = this.store.broker(f.leaderId);
    if (!leader) {
      if (f.pointedAt === null && !restart) return;
      this.logger?.debug(
        { topic: f.partition.topic, partition: f.partition.index, leader: f.leaderId },
        "leader not registered: fetching waits for its registration",
      );
      f.pointedAt = null;
      this.settle(this.manager.unfollow(f.partition), f.partition);
      return;
    }
    const endpoint: LeaderEndpoint = { nodeId: leader.nodeId, host: leader.host, port: leader.port };
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

  private settle(op: Promise<void>, partition: Partition): void {
    op.catch((err) =>
      this.logger?.error(
        { err, topic: partition.topic, partition: partition.index },
        "replica fetcher manager failed",
      ),
    );
  }
}
