/**
 * One REST Proxy v2 consumer instance: a subscription (topics or a pattern, served by a
 * GroupMember of member.ts) or a manual assignment (no group membership, as KafkaConsumer.assign),
 * never both (40903); the position of each assigned partition; polls, commits and seeks. Every
 * operation on an instance runs after the one before it (`serially`), as Confluent's proxy holds a
 * consumer per request, so two polls never return the same records.
 *
 * Positions: a partition's first poll starts at its committed offset (OffsetFetch), else where
 * `auto.offset.reset` says (earliest, latest; none: 40903). A poll fetches every assigned partition
 * that has a position in one Fetch (waiting up to its timeout for `fetch.min.bytes`), shows records
 * in the instance's embedded format (binary: base64; json: the parsed JSON text, bytes that are not
 * JSON shown as their UTF-8 text in a JSON string) and moves each position past what it showed;
 * `max_bytes` bounds the keys and values shown (at least one record), and partitions take turns at
 * being read first. OFFSET_OUT_OF_RANGE moves the position as auto.offset.reset says.
 *
 * Commits: given offsets are those of the last records processed and commit offset + 1, as
 * Confluent's proxy does; no offsets commits every position (the next offsets to read). With
 * `auto.commit.enable` the positions are committed at the first poll after AUTO_COMMIT_INTERVAL_MS
 * and when the instance closes.
 */
import type { Logger } from "pino";
import type { TopicPartition } from "../../../protocol/assignors.js";
import { errorName, KafkaError } from "../../../protocol/errors.js";
import type { Record as KafkaRecord } from "../../../protocol/record-batch.js";
import type { Broker } from "../../broker.js";
import type { HttpCaller } from "../call-api.js";
import { HttpError } from "../errors.js";
import { EARLIEST_OFFSET, HTTP_API_VERSIONS, KafkaApi, LATEST_OFFSET } from "../kafka-api.js";
import { RECORDS_PER_READ_MAX, renderedRecordsOf } from "../records.js";
import { ForwardingCalls, type GroupApiKey } from "./forward.js";
import { type ApiCall, GroupMember } from "./member.js";
import { restError } from "./rest-errors.js";

const OFFSET_COMMIT = 8;
const OFFSET_FETCH = 9;
const VERSIONS = { fetch: 12, offsetCommit: 8, offsetFetch: 8 } as const;

/** How often auto.commit.enable commits (Kafka's auto.commit.interval.ms default). */
export const AUTO_COMMIT_INTERVAL_MS = 5000;

export type EmbeddedFormat = "json" | "binary";
export type OffsetReset = "earliest" | "latest" | "none";

export interface ConsumerSettings {
  format: EmbeddedFormat;
  autoOffsetReset: OffsetReset;
  autoCommit: boolean;
  fetchMinBytes: number;
  /** consumer.request.timeout.ms: a poll's wait when it names no timeout. */
  requestTimeoutMs: number;
}

/** A record as Confluent's v2 consumer shows it. */
export interface RestRecord {
  topic: string;
  key: unknown;
  value: unknown;
  partition: number;
  offset: number;
}

export interface PartitionOffset extends TopicPartition {
  offset: number;
}

export interface CommittedOffset extends PartitionOffset {
  metadata: string;
}

const utf8 = new TextDecoder("utf-8");

function showBytes(bytes: Buffer | null, format: EmbeddedFormat): unknown {
  if (bytes === null) return null;
  if (format === "binary") return bytes.toString("base64");
  const text = utf8.decode(bytes);
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

const keyOf = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

function byTopic<T extends TopicPartition>(partitions: T[]): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const tp of partitions) {
    const list = out.get(tp.topic);
    if (list) list.push(tp);
    else out.set(tp.topic, [tp]);
  }
  return out;
}

function distinct(partitions: TopicPartition[]): TopicPartition[] {
  const seen = new Map<string, TopicPartition>();
  for (const tp of partitions)
    seen.set(keyOf(tp.topic, tp.partition), { topic: tp.topic, partition: tp.partition });
  return [...seen.values()];
}

export class RestConsumer {
  lastUsedMs = Date.now();
  private subscription: { topics: string[] } | { pattern: RegExp } | null = null;
  private manual: TopicPartition[] | null = null;
  private member: GroupMember | null = null;
  private groupAssignment: TopicPartition[] = [];
  private readonly positions = new Map<string, number>();
  private lastAutoCommitMs = Date.now();
  private queue: Promise<unknown> = Promise.resolve();
  private firstPartition = 0;
  private closed = false;
  /** Group requests, at the group's coordinator (forward.ts). */
  private readonly call: ApiCall;
  private readonly forward: ForwardingCalls;
  private readonly api: KafkaApi;

  constructor(
    readonly group: string,
    readonly id: string,
    readonly settings: ConsumerSettings,
    /** The creator: every call of the instance runs as this principal. */
    readonly caller: HttpCaller,
    broker: Broker,
    private readonly log: Logger,
  ) {
    this.forward = new ForwardingCalls(broker, caller, group, log);
    this.call = (apiKey, version, request) =>
      this.forward.groupCall(apiKey as GroupApiKey, version, request as never) as never;
    this.api = new KafkaApi(broker.dispatcher, caller);
  }

  /** Runs `op` after every operation asked before it. */
  serially<T>(op: () => Promise<T>): Promise<T> {
    this.lastUsedMs = Date.now();
    const run = this.queue.then(op, op);
    this.queue = run.catch(() => {});
    return run;
  }

  /** The partitions this instance reads: its manual assignment, else its group's assignment. */
  assigned(): TopicPartition[] {
    return this.manual ?? this.groupAssignment;
  }

  subscribe(topics: string[] | null, pattern: string | null): void {
    if (this.manual !== null)
      throw restError(
        "ILLEGAL_STATE",
        "Subscription to topics, partitions and pattern are mutually exclusive.",
      );
    this.subscription =
      pattern !== null ? { pattern: new RegExp(`^(?:${pattern})$`) } : { topics: [...new Set(topics)] };
    if (this.member === null) {
      const member: GroupMember = new GroupMember({
        group: this.group,
        call: this.call,
        api: this.api,
        topics: () => this.subscribedTopics(),
        // A member left (unsubscribe) may still finish a join: its assignment is not ours.
        onAssigned: (partitions) => {
          if (this.member === member) this.onAssigned(partitions);
        },
        log: this.log,
      });
      this.member = member;
    }
    void this.member.rejoin();
  }

  /** The topics subscribed: those named, or those the pattern matches now. */
  async subscribedTopics(): Promise<string[]> {
    const s = this.subscription;
    if (s === null) return [];
    if ("topics" in s) return s.topics;
    return (await this.api.topics()).filter((t) => !t.internal && s.pattern.test(t.name)).map((t) => t.name);
  }

  private onAssigned(partitions: TopicPartition[]): void {
    this.groupAssignment = partitions;
    const kept = new Set(partitions.map((tp) => keyOf(tp.topic, tp.partition)));
    for (const key of this.positions.keys()) if (!kept.has(key)) this.positions.delete(key);
  }

  async unsubscribe(): Promise<void> {
    await this.member?.leave();
    this.member = null;
    this.subscription = null;
    this.groupAssignment = [];
    if (this.manual === null) this.positions.clear();
  }

  assign(partitions: TopicPartition[]): void {
    if (this.subscription !== null)
      throw restError(
        "ILLEGAL_STATE",
        "Subscription to topics, partitions and pattern are mutually exclusive.",
      );
    this.manual = partitions.length === 0 ? null : distinct(partitions);
    const kept = new Set(this.assigned().map((tp) => keyOf(tp.topic, tp.partition)));
    for (const key of this.positions.keys()) if (!kept.has(key)) this.positions.delete(key);
  }

  /** Polls once: the records after each assigned partition's position, in the instance's format. */
  async records(timeoutMs: number | null, maxBytes: number): Promise<RestRecord[]> {
    if (this.subscription === null && this.manual === null)
      throw restError("ILLEGAL_STATE", "Consumer is not subscribed to any topics or assigned any partitions");
    const wait = timeoutMs ?? this.settings.requestTimeoutMs;
    if (this.member !== null && !(await this.member.ready(wait))) {
      const failed = this.member.lastError;
      this.member.lastError = null;
      if (failed !== null) throw failed;
      return [];
    }
    if (this.settings.autoCommit && Date.now() - this.lastAutoCommitMs >= AUTO_COMMIT_INTERVAL_MS) {
      this.lastAutoCommitMs = Date.now();
      await this.commit(null);
    }
    const partitions = this.assigned();
    // Nothing assigned (more instances than partitions): wait as a Kafka poll would, not spin the client.
    if (partitions.length === 0) return new Promise((resolve) => setTimeout(() => resolve([]), wait).unref());
    await this.resolvePositions(partitions);
    return this.fetch(partitions, wait, maxBytes);
  }

  private requireAssigned(partitions: TopicPartition[]): void {
    const assigned = new Set(this.assigned().map((tp) => keyOf(tp.topic, tp.partition)));
    for (const tp of partitions) {
      if (!assigned.has(keyOf(tp.topic, tp.partition)))
        throw restError("ILLEGAL_STATE", `No current assignment for partition ${tp.topic}-${tp.partition}`);
    }
  }

  /** Gives a position to each of `partitions` that has none: its committed offset, else auto.offset.reset's. */
  private async resolvePositions(partitions: TopicPartition[]): Promise<void> {
    const missing = partitions.filter((tp) => !this.positions.has(keyOf(tp.topic, tp.partition)));
    if (missing.length === 0) return;
    const unset: TopicPartition[] = [];
    for (const c of await this.committed(missing)) {
      if (c.offset >= 0) this.positions.set(keyOf(c.topic, c.partition), c.offset);
      else unset.push(c);
    }
    await this.reset(unset);
  }

  /** Moves the positions of `partitions` as auto.offset.reset says. */
  private async reset(partitions: TopicPartition[]): Promise<void> {
    if (partitions.length === 0) return;
    const policy = this.settings.autoOffsetReset;
    if (policy === "none") {
      const tp = partitions[0];
      throw restError(
        "ILLEGAL_STATE",
        `no offset for ${tp.topic}-${tp.partition} and auto.offset.reset is none`,
      );
    }
    await this.seekTo(partitions, policy === "earliest" ? EARLIEST_OFFSET : LATEST_OFFSET);
  }

  /** Sets each partition's position to ListOffsets' answer for `timestamp` (EARLIEST_OFFSET / LATEST_OFFSET). */
  private async seekTo(partitions: TopicPartition[], timestamp: number): Promise<void> {
    const response = await this.forward.listOffsets(HTTP_API_VERSIONS.listOffsets, {
      replicaId: -1,
      isolationLevel: 0,
      topics: [...byTopic(partitions)].map(([name, list]) => ({
        name,
        partitions: list.map((tp) => ({ partitionIndex: tp.partition, currentLeaderEpoch: -1, timestamp })),
      })),
    });
    for (const t of response.topics)
      for (const p of t.partitions) {
        if (p.errorCode !== 0)
          throw HttpError.kafka(p.errorCode, `listing offsets of ${t.name}-${p.partitionIndex}`);
        this.positions.set(keyOf(t.name, p.partitionIndex), p.offset ?? -1);
      }
  }

  private async fetch(partitions: TopicPartition[], waitMs: number, maxBytes: number): Promise<RestRecord[]> {
    const start = this.firstPartition++ % partitions.length;
    const order = [...partitions.slice(start), ...partitions.slice(0, start)];
    const asked = order.map((tp) => ({
      ...tp,
      offset: this.positions.get(keyOf(tp.topic, tp.partition)) ?? 0,
    }));
    const response = await this.forward.fetch(VERSIONS.fetch, {
      replicaId: -1,
      maxWaitMs: waitMs,
      minBytes: this.settings.fetchMinBytes,
      maxBytes,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [...byTopic(asked)].map(([topic, list]) => ({
        topic,
        partitions: list.map((tp) => ({
          partition: tp.partition,
          currentLeaderEpoch: -1,
          fetchOffset: tp.offset,
          lastFetchedEpoch: -1,
          logStartOffset: -1,
          partitionMaxBytes: maxBytes,
        })),
      })),
      forgottenTopicsData: [],
      rackId: "",
    });
    if (response.errorCode) throw new KafkaError(errorName(response.errorCode), "fetching");
    const fetched = new Map<string, { errorCode: number; records: Buffer }>();
    for (const t of response.responses)
      for (const p of t.partitions)
        fetched.set(keyOf(t.topic ?? "", p.partitionIndex), {
          errorCode: p.errorCode,
          records: p.records ?? Buffer.alloc(0),
        });
    return this.show(asked, fetched, maxBytes);
  }

  /** The fetched records in `asked` order, within `maxBytes` and RECORDS_PER_READ_MAX; positions moved past them. */
  private async show(
    asked: PartitionOffset[],
    fetched: Map<string, { errorCode: number; records: Buffer }>,
    maxBytes: number,
  ): Promise<RestRecord[]> {
    const out: RestRecord[] = [];
    let bytesLeft = maxBytes;
    const format = this.settings.format;
    const render = (topic: string, partition: number, r: KafkaRecord): RestRecord => {
      bytesLeft -= (r.key?.length ?? 0) + (r.value?.length ?? 0);
      return {
        topic,
        key: showBytes(r.key, format),
        value: showBytes(r.value, format),
        partition,
        offset: r.offset,
      };
    };
    const outOfRange: TopicPartition[] = [];
    for (const tp of asked) {
      const key = keyOf(tp.topic, tp.partition);
      const f = fetched.get(key);
      // A rebalance during the fetch may have taken the partition away.
      if (f === undefined || this.positions.get(key) !== tp.offset) continue;
      if (f.errorCode !== 0) {
        if (errorName(f.errorCode) === "OFFSET_OUT_OF_RANGE") outOfRange.push(tp);
        else this.log.debug({ partition: tp, error: errorName(f.errorCode) }, "REST consumer fetch refused");
        continue;
      }
      if (bytesLeft <= 0 && out.length > 0) break;
      if (out.length >= RECORDS_PER_READ_MAX) break;
      const { records, next } = await renderedRecordsOf(
        render,
        tp.topic,
        tp.partition,
        f.records,
        tp.offset,
        Math.max(bytesLeft, 1),
      );
      const room = RECORDS_PER_READ_MAX - out.length;
      if (records.length > room) {
        out.push(...records.slice(0, room));
        this.positions.set(key, records[room].offset);
        break;
      }
      out.push(...records);
      this.positions.set(key, next);
    }
    await this.reset(outOfRange);
    return out;
  }

  /** Commits `offsets` (each + 1, as Confluent) or, when null, every position. */
  async commit(offsets: PartitionOffset[] | null): Promise<void> {
    const list: PartitionOffset[] =
      offsets !== null
        ? offsets.map((o) => ({ ...o, offset: o.offset + 1 }))
        : this.assigned()
            .filter((tp) => this.positions.has(keyOf(tp.topic, tp.partition)))
            .map((tp) => ({ ...tp, offset: this.positions.get(keyOf(tp.topic, tp.partition)) as number }));
    if (list.length === 0) return;
    const member = this.member;
    const response = await this.call(OFFSET_COMMIT, VERSIONS.offsetCommit, {
      groupId: this.group,
      generationIdOrMemberEpoch: member?.stable ? member.generationId : -1,
      memberId: member?.stable ? member.memberId : "",
      groupInstanceId: null,
      topics: [...byTopic(list)].map(([name, partitions]) => ({
        name,
        partitions: partitions.map((p) => ({
          partitionIndex: p.partition,
          committedOffset: p.offset,
          committedLeaderEpoch: -1,
          committedMetadata: "",
        })),
      })),
    });
    for (const t of response.topics)
      for (const p of t.partitions)
        if (p.errorCode !== 0)
          throw new KafkaError(errorName(p.errorCode), `committing ${t.name}-${p.partitionIndex}`);
  }

  /** The committed offsets of `partitions` (-1 where none), or of the assigned partitions when null. */
  async committed(partitions: TopicPartition[] | null): Promise<CommittedOffset[]> {
    const asked = distinct(partitions ?? this.assigned());
    if (asked.length === 0) return [];
    const response = await this.call(OFFSET_FETCH, VERSIONS.offsetFetch, {
      groups: [
        {
          groupId: this.group,
          topics: [...byTopic(asked)].map(([name, list]) => ({
            name,
            partitionIndexes: list.map((tp) => tp.partition),
          })),
        },
      ],
      requireStable: false,
    });
    const group = response.groups?.[0];
    if (!group) throw new KafkaError("UNKNOWN_SERVER_ERROR", "OffsetFetch answered no group");
    if (group.errorCode !== 0)
      throw new KafkaError(errorName(group.errorCode), `offsets of group ${this.group}`);
    const out: CommittedOffset[] = [];
    for (const t of group.topics)
      for (const p of t.partitions) {
        if (p.errorCode !== 0)
          throw new KafkaError(errorName(p.errorCode), `offset of ${t.name}-${p.partitionIndex}`);
        out.push({
          topic: t.name ?? "",
          partition: p.partitionIndex,
          offset: Number(p.committedOffset),
          metadata: p.metadata ?? "",
        });
      }
    return out;
  }

  /** Seeks: the next poll of each partition starts at its offset. Only assigned partitions. */
  seek(offsets: PartitionOffset[]): void {
    this.requireAssigned(offsets);
    for (const o of offsets) this.positions.set(keyOf(o.topic, o.partition), o.offset);
  }

  async seekToBeginning(partitions: TopicPartition[]): Promise<void> {
    this.requireAssigned(partitions);
    await this.seekTo(partitions, EARLIEST_OFFSET);
  }

  async seekToEnd(partitions: TopicPartition[]): Promise<void> {
    this.requireAssigned(partitions);
    await this.seekTo(partitions, LATEST_OFFSET);
  }

  /** Closes: commits the positions with auto.commit.enable, leaves the group. Never rejects. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.settings.autoCommit) {
      try {
        await this.commit(null);
      } catch (err) {
        this.log.debug({ err, group: this.group, instance: this.id }, "REST consumer's last commit failed");
      }
    }
    await this.member?.leave();
    this.member = null;
    this.forward.close();
  }
}
