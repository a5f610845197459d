/**
 * The follower side of replication for one broker, as Kafka's `ReplicaFetcherManager`: one
 * `ReplicaFetcher` per leader broker (and endpoint), holding every partition this broker follows
 * on that leader. The replica manager calls `follow` after `makeFollower` (and again after every
 * leader or epoch change) and `unfollow` before the partition leads, is deleted or leaves this
 * broker. A fetcher left with no partition is stopped.
 *
 * Calls take effect in the order made (one queue): a partition moved to another leader is removed
 * from the old fetcher, with any answer being applied to it finished, before the new one adds it,
 * so two fetchers never write one log.
 */
import type { Partition } from "../partition.js";
import { type LeaderEndpoint, ReplicaFetcher, type ReplicaFetcherSettings } from "./replica-fetcher.js";

const fetcherKey = (leader: LeaderEndpoint): string => `${leader.nodeId}@${leader.host}:${leader.port}`;
const partitionKey = (p: Partition): string => `${p.topic}\u0000${p.index}`;

export class ReplicaFetcherManager {
  private readonly fetchers = new Map<string, ReplicaFetcher>();
  /** The fetcher of each followed partition, by partition. */
  private readonly fetcherOf = new Map<string, ReplicaFetcher>();
  /** Fetchers left empty and stopping; stop() waits for them. */
  private readonly stopping = new Set<Promise<void>>();
  private queue: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly settings: ReplicaFetcherSettings) {}

  /**
   * Fetches `partition` (already a follower of `leader.nodeId`) from `leader`, from its log end
   * after truncating where it diverged. `topicId` (32 hex digits) lets the fetcher name topics by
   * id (Fetch v15); without it, by name. Following again restarts it (a new leader epoch).
   */
  follow(partition: Partition, leader: LeaderEndpoint, topicId: string | null = null): Promise<void> {
    return this.enqueue(async () => {
      if (this.stopped) return;
      const wanted = fetcherKey(leader);
      const current = this.fetcherOf.get(partitionKey(partition));
      if (current && fetcherKey(current.leader) !== wanted) await this.detach(partition, current);
      let fetcher = this.fetchers.get(wanted);
      if (!fetcher) {
        fetcher = new ReplicaFetcher(leader, this.settings);
        this.fetchers.set(wanted, fetcher);
        fetcher.start();
      }
      fetcher.add(partition, topicId);
      this.fetcherOf.set(partitionKey(partition), fetcher);
    });
  }

  /** Stops fetching `partition`; resolves once nothing more is written to it by a fetcher. */
  unfollow(partition: Partition): Promise<void> {
    return this.enqueue(async () => {
      const current = this.fetcherOf.get(partitionKey(partition));
      if (current) await this.detach(partition, current);
    });
  }

  /** Resolves once every call made so far has taken effect. */
  settled(): Promise<void> {
    return this.queue;
  }

  /** The fetcher that follows `partition`, if any (for tests and status). */
  fetcherFor(partition: Partition): ReplicaFetcher | undefined {
    return this.fetcherOf.get(partitionKey(partition));
  }

  /** The running fetchers, one per leader endpoint. */
  allFetchers(): ReplicaFetcher[] {
    return [...this.fetchers.values()];
  }

  /** Stops every fetcher (awaited: connections closed, no timer left). Later calls do nothing. */
  stop(): Promise<void> {
    return this.enqueue(async () => {
      this.stopped = true;
      const all = [...this.fetchers.values()];
      this.fetchers.clear();
      this.fetcherOf.clear();
      await Promise.all([...all.map((f) => f.stop()), ...this.stopping]);
    });
  }

  private async detach(partition: Partition, fetcher: ReplicaFetcher): Promise<void> {
    this.fetcherOf.delete(partitionKey(partition));
    await fetcher.remove(partition);
    if (fetcher.partitions().length > 0) return;
    this.fetchers.delete(fetcherKey(fetcher.leader));
    // Not awaited here: a fetcher stuck connecting to a paused leader would hold every other
    // follow behind it. It holds no partition any more, so it writes nothing; stop() awaits it.
    const stopped: Promise<void> = fetcher
      .stop()
      .catch(() => {})
      .finally(() => this.stopping.delete(stopped));
    this.stopping.add(stopped);
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.queue.then(task);
    // One failed call must not stop the ones after it; its caller sees the failure.
    this.queue = run.catch(() => {});
    return run;
  }
}
