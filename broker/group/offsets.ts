/**
 * Committed offsets of the groups: OffsetCommit, OffsetFetch, OffsetDelete, DeleteGroups and
 * offset retention, over the groups the coordinator holds. A commit answers once its records are
 * on every in-sync replica of its `__consumer_offsets` partition (acks=all); the in-memory view
 * changes only after that, so a fetch never returns an offset that a crash or a failover could
 * take back. A commit the replicas do not confirm within `offsets.commit.timeout.ms` answers
 * COORDINATOR_NOT_AVAILABLE and is not visible to OffsetFetch (as Kafka).
 *
 * Commit checks (Kafka's order): empty group id -> INVALID_GROUP_ID; the group's offsets partition
 * loading -> COORDINATOR_LOAD_IN_PROGRESS, not led here -> NOT_COORDINATOR; a group being deleted ->
 * COORDINATOR_NOT_AVAILABLE; generation -1 on an Empty (or unknown) group is a standalone commit;
 * else a fenced static member -> FENCED_INSTANCE_ID, a group completing a rebalance ->
 * REBALANCE_IN_PROGRESS, an unknown member -> UNKNOWN_MEMBER_ID, another generation ->
 * ILLEGAL_GENERATION; then per partition an unknown topic or partition ->
 * UNKNOWN_TOPIC_OR_PARTITION and metadata over `offset.metadata.max.bytes` ->
 * OFFSET_METADATA_TOO_LARGE.
 */
import type { Logger } from "pino";
import type { ErrorName } from "../../protocol/errors.js";
import { KafkaError } from "../../protocol/errors.js";
import type { Int64 } from "../../protocol/reader.js";
import type { BrokerConfig } from "../config.js";
import type { TopicManager } from "../topics.js";
import type { GroupCoordinator } from "./coordinator.js";
import { type Group, offsetKeyOf } from "./group.js";
import type { OffsetsRecordWrite } from "./offsets-topic.js";
import { offsetKey, offsetValue } from "./records.js";

export interface OffsetCommitPartition {
  partition: number;
  /** Exactly as committed: a bigint beyond 2^53 (Reader.int64). */
  offset: Int64;
  leaderEpoch: number;
  metadata: string | null;
}

export interface OffsetCommitRequest {
  /** The OffsetCommit version (error codes differ between versions). */
  apiVersion: number;
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  topics: { name: string; partitions: OffsetCommitPartition[] }[];
}

export interface FetchedOffset {
  topic: string;
  partition: number;
  offset: Int64;
  leaderEpoch: number;
  metadata: string;
}

export class GroupOffsets {
  private expiryTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly coordinator: GroupCoordinator,
    private readonly topics: TopicManager,
    private readonly config: BrokerConfig,
    private readonly log: Logger,
  ) {}

  /** Starts the periodic removal of expired offsets. */
  start(): void {
    this.expiryTimer = setInterval(() => {
      void this.expire(Date.now()).catch((err) => this.log.warn({ err }, "offset expiry failed"));
    }, this.config.offsetsRetentionCheckIntervalMs);
    this.expiryTimer.unref();
  }

  stop(): void {
    if (this.expiryTimer) clearInterval(this.expiryTimer);
    this.expiryTimer = null;
  }

  /** The group-level check of a commit: null when the member may commit. */
  private commitAllowed(req: OffsetCommitRequest): ErrorName | null {
    if (this.coordinator.isStopped) return "NOT_COORDINATOR";
    if (!req.groupId) return "INVALID_GROUP_ID";
    const refused = this.coordinator.coordinatorError(req.groupId);
    if (refused) return refused;
    const group = this.coordinator.group(req.groupId);
    if (!group) {
      if (req.generationId < 0) return null;
      // KIP-1043 era (v9+) names the missing group; older versions say the generation is wrong.
      return req.apiVersion >= 9 ? "GROUP_ID_NOT_FOUND" : "ILLEGAL_GENERATION";
    }
    if (group.state === "Dead") return "COORDINATOR_NOT_AVAILABLE";
    if (req.generationId < 0 && group.state === "Empty") return null;
    if (req.groupInstanceId) {
      const known = group.staticMembers.get(req.groupInstanceId);
      if (known !== undefined && known !== req.memberId) return "FENCED_INSTANCE_ID";
    }
    if (group.state === "CompletingRebalance") return "REBALANCE_IN_PROGRESS";
    if (!group.members.has(req.memberId)) return "UNKNOWN_MEMBER_ID";
    if (req.generationId !== group.generationId) return "ILLEGAL_GENERATION";
    return null;
  }

  /** Commits offsets; the answer has one error (or null) per partition, in request order. */
  async commit(req: OffsetCommitRequest): Promise<(ErrorName | null)[][]> {
    if (req.groupId && !this.coordinator.offsetsTopic.exists()) {
      // The first group request creates the offsets topic; only then is the commit decided.
      const refused = await this.coordinator.coordinatorErrorCreating(req.groupId);
      if (refused) return req.topics.map((t) => t.partitions.map(() => refused));
    }
    const refused = this.commitAllowed(req);
    if (refused) return req.topics.map((t) => t.partitions.map(() => refused));
    const results: (ErrorName | null)[][] = [];
    const writes: OffsetsRecordWrite[] = [];
    const accepted: { topic: string; p: OffsetCommitPartition; at: [number, number] }[] = [];
    const now = Date.now();
    for (const [ti, t] of req.topics.entries()) {
      const record = this.topics.record(t.name);
      results.push(
        t.partitions.map((p, pi) => {
          if (!record || p.partition < 0 || p.partition >= record.partitions.length) {
            return "UNKNOWN_TOPIC_OR_PARTITION";
          }
          const metadata = p.metadata ?? "";
          if (Buffer.byteLength(metadata) > this.config.offsetMetadataMaxBytes)
            return "OFFSET_METADATA_TOO_LARGE";
          writes.push({
            key: offsetKey(req.groupId, t.name, p.partition),
            value: offsetValue({
              offset: p.offset,
              leaderEpoch: p.leaderEpoch,
              metadata,
              commitTimestamp: now,
            }),
          });
          accepted.push({ topic: t.name, p, at: [ti, pi] });
          return null;
        }),
      );
    }
    if (writes.length === 0) return results;
    // The group exists (a standalone commit creates it) and knows this commit is in flight, so
    // that a deletion starting meanwhile waits for it and tombstones what it stores.
    const group = this.coordinator.getOrCreate(req.groupId);
    const stored = this.coordinator.append(group, writes);
    group.pendingCommits.add(stored);
    try {
      await stored;
    } catch (err) {
      const code: ErrorName = KafkaError.is(err) ? err.code : "UNKNOWN_SERVER_ERROR";
      for (const a of accepted) results[a.at[0]][a.at[1]] = code;
      this.coordinator.maybeForget(group);
      return results;
    } finally {
      group.pendingCommits.delete(stored);
    }
    // Unloaded meanwhile (a resignation): the record is in the log, which the next coordinator loads.
    if (this.coordinator.group(group.id) !== group) return results;
    for (const { topic, p } of accepted) {
      group.offsets.set(offsetKeyOf(topic, p.partition), {
        topic,
        partition: p.partition,
        offset: p.offset,
        leaderEpoch: p.leaderEpoch,
        metadata: p.metadata ?? "",
        commitTimestamp: now,
      });
    }
    const member = group.members.get(req.memberId);
    if (member && req.generationId === group.generationId) {
      // A commit from a live member counts as a sign of life, as in Kafka.
      this.coordinator.heartbeat(group.id, req.generationId, req.memberId, req.groupInstanceId);
    }
    return results;
  }

  /**
   * The committed offsets of a group: of the partitions asked for (-1 where none), or every one
   * it has when `topics` is null.
   */
  fetch(groupId: string, topics: { name: string; partitions: number[] }[] | null): FetchedOffset[] {
    const group = this.coordinator.group(groupId);
    if (topics === null) {
      if (!group) return [];
      return [...group.offsets.values()]
        .map((o) => ({ ...o }))
        .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
    }
    const out: FetchedOffset[] = [];
    for (const t of topics) {
      for (const partition of t.partitions) {
        const o = group?.offsets.get(offsetKeyOf(t.name, partition));
        out.push(
          o
            ? { topic: t.name, partition, offset: o.offset, leaderEpoch: o.leaderEpoch, metadata: o.metadata }
            : { topic: t.name, partition, offset: -1, leaderEpoch: -1, metadata: "" },
        );
      }
    }
    return out;
  }

  /**
   * OffsetDelete: removes a group's offsets of partitions its members do not subscribe to. The
   * group-level error (or null), and one per partition.
   */
  async deleteOffsets(
    groupId: string,
    topics: { name: string; partitions: number[] }[],
  ): Promise<{ error: ErrorName | null; partitions: (ErrorName | null)[][] }> {
    const none = (error: ErrorName) => ({
      error,
      partitions: topics.map((t) => t.partitions.map(() => null)),
    });
    if (this.coordinator.isStopped) return none("NOT_COORDINATOR");
    if (!groupId) return none("INVALID_GROUP_ID");
    const refused = this.coordinator.coordinatorError(groupId);
    if (refused) return none(refused);
    const group = this.coordinator.group(groupId);
    if (!group || group.state === "Dead") return none("GROUP_ID_NOT_FOUND");
    if (group.state !== "Empty" && group.protocolType !== "consumer") return none("NON_EMPTY_GROUP");
    const subscribed = group.subscribedTopics();
    const removed: string[] = [];
    const partitions = topics.map((t) =>
      t.partitions.map((p): ErrorName | null => {
        const record = this.topics.record(t.name);
        if (!record || p < 0 || p >= record.partitions.length) return "UNKNOWN_TOPIC_OR_PARTITION";
        if (subscribed?.has(t.name)) return "GROUP_SUBSCRIBED_TO_TOPIC";
        if (group.offsets.has(offsetKeyOf(t.name, p))) removed.push(offsetKeyOf(t.name, p));
        return null;
      }),
    );
    try {
      await this.removeOffsets(group, removed);
    } catch (err) {
      return none(KafkaError.is(err) ? err.code : "UNKNOWN_SERVER_ERROR");
    }
    return { error: null, partitions };
  }

  /** Writes tombstones for some of a group's offsets, then forgets them. */
  private async removeOffsets(group: Group, keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    const writes: OffsetsRecordWrite[] = [];
    for (const k of keys) {
      const o = group.offsets.get(k);
      if (o) writes.push({ key: offsetKey(group.id, o.topic, o.partition), value: null });
    }
    await this.coordinator.append(group, writes);
    for (const k of keys) group.offsets.delete(k);
  }

  /** DeleteGroups: removes empty groups with their offsets; one error (or null) per group. */
  async deleteGroups(ids: string[]): Promise<(ErrorName | null)[]> {
    const results: (ErrorName | null)[] = [];
    for (const id of ids) results.push(await this.deleteGroup(id));
    return results;
  }

  private async deleteGroup(id: string): Promise<ErrorName | null> {
    if (this.coordinator.isStopped) return "NOT_COORDINATOR";
    if (!id) return "INVALID_GROUP_ID";
    const refused = this.coordinator.coordinatorError(id);
    if (refused) return refused;
    const group = this.coordinator.group(id);
    if (!group || group.state === "Dead") return "GROUP_ID_NOT_FOUND";
    if (group.state !== "Empty") return "NON_EMPTY_GROUP";
    try {
      await this.removeGroup(group, null);
    } catch (err) {
      return KafkaError.is(err) ? err.code : "UNKNOWN_SERVER_ERROR";
    }
    this.log.info({ group: id }, "group deleted");
    return null;
  }

  /**
   * Removes an Empty group: Dead first (joins and commits meanwhile are told to retry), then the
   * commits already in flight finish, then tombstones for every offset it holds and its metadata.
   * On a storage failure the group is Empty again and the error propagates.
   */
  private async removeGroup(group: Group, keys: string[] | null): Promise<void> {
    group.transition("Dead");
    try {
      await Promise.allSettled([...group.pendingCommits]);
      await this.removeOffsets(group, keys ?? [...group.offsets.keys()]);
      await this.coordinator.deleteStoredGroup(group);
    } catch (err) {
      group.transition("Empty");
      throw err;
    }
    this.coordinator.remove(group);
  }

  /** Removes every group's offsets of a deleted topic (Kafka's onPartitionsDeleted). */
  async topicDeleted(topic: string): Promise<void> {
    const ofTopic = (group: Group) =>
      [...group.offsets.keys()].filter((k) => group.offsets.get(k)?.topic === topic);
    const held = (group: Group) => this.coordinator.group(group.id) === group;
    for (const group of this.coordinator.allGroups()) {
      if (ofTopic(group).length === 0) continue;
      // Commits in flight land first, so that their offsets of the topic are removed too.
      await Promise.allSettled([...group.pendingCommits]);
      // Unloaded meanwhile (a resignation): this broker no longer writes for it.
      if (!held(group)) continue;
      await this.removeOffsets(group, ofTopic(group));
    }
  }

  /**
   * Offset retention (KIP-211): an Empty group's offsets expire `offsets.retention.minutes` after
   * it became empty; a group without a protocol (standalone commits) expires each offset that
   * long after its commit; a consumer group's offsets of topics no member subscribes to expire
   * that long after their commit. A group left with nothing is removed.
   */
  async expire(nowMs: number): Promise<number> {
    const retentionMs = this.config.offsetsRetentionMinutes * 60_000;
    let expired = 0;
    for (const group of this.coordinator.allGroups()) {
      if (group.state === "Dead") continue;
      const keys: string[] = [];
      if (group.state === "Empty" && group.protocolType) {
        if (nowMs - group.stateTimestamp >= retentionMs) keys.push(...group.offsets.keys());
      } else if (group.state === "Empty" || group.state === "Stable") {
        const subscribed = group.state === "Stable" ? group.subscribedTopics() : new Set<string>();
        if (subscribed) {
          for (const [k, o] of group.offsets) {
            if (!subscribed.has(o.topic) && nowMs - o.commitTimestamp >= retentionMs) keys.push(k);
          }
        }
      }
      if (keys.length > 0) {
        await this.removeOffsets(group, keys);
        expired += keys.length;
        this.log.info({ group: group.id, offsets: keys.length }, "committed offsets expired");
      }
      if (
        group.state === "Empty" &&
        group.offsets.size === 0 &&
        group.pendingMembers.size === 0 &&
        group.pendingCommits.size === 0
      ) {
        // Dead before the tombstone is stored: a join or commit arriving meanwhile retries and
        // finds a fresh group, rather than one that is about to disappear.
        await this.removeGroup(group, []);
        this.log.info({ group: group.id }, "empty group removed");
      }
    }
    return expired;
  }
}
