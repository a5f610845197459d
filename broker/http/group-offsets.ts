/**
 * Resetting a consumer group's committed offsets over HTTP (the console's group page; Kafka's
 * `kafka-consumer-groups --reset-offsets`):
 *
 *   POST /groups/{group}/offsets/reset
 *        `{"to": "earliest"|"latest"|"timestamp"|"offset", "timestamp"?, "offset"?, "topic"?,
 *          "dry_run": bool}` -> `{group_id, state, dry_run, partitions: [{topic, partition,
 *          current_offset, new_offset, log_start_offset, log_end_offset}]}`.
 *
 * Which partitions: every partition of `topic` when it is given, else every partition the group
 * has a committed offset for (Kafka's --all-topics). Where to: the log start offset, the log end
 * offset (high watermark), the first offset whose timestamp is at or after `timestamp` (ms; the
 * log end where there is none, as Kafka's tool), or `offset` held inside [log start, log end] (as
 * Kafka's tool). Offsets come from each partition's leader (leaders.ts).
 *
 * Only a group without members may be reset, as in Kafka: a group with members is 409
 * NON_EMPTY_GROUP (so is one that gains members before the commit, which the coordinator then
 * refuses). `dry_run: true` answers what would be committed and commits nothing; `false` commits
 * it (OffsetCommit v8, generation -1: a standalone commit) and answers the same list. Each Kafka
 * call is checked as the request's principal (READ on the group and the topics, DESCRIBE on the
 * group and the topics). In a cluster any broker answers: DescribeGroups, OffsetFetch and
 * OffsetCommit go to the group's coordinator through groups.ts's `GroupApi` (consumers/forward.ts
 * `ForwardingCalls`, which checks the principal's ACLs as the handler would before forwarding, so
 * a refusal is this broker's handler's, 403), the partitions' leaders come from Metadata asked as
 * the principal (which refuses topics it may not DESCRIBE before any leader is asked).
 */
import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import { errorName } from "../../protocol/errors.js";
import type { Int64 } from "../../protocol/reader.js";
import { callApi } from "./call-api.js";
import { ERROR_RESPONSES, HttpError } from "./errors.js";
import { GroupApi } from "./groups.js";
import { EARLIEST_OFFSET, HTTP_API_VERSIONS, LATEST_OFFSET } from "./kafka-api.js";
import { asker, key, offsetsFrom, type PartitionRef } from "./leaders.js";
import { GROUP_PARAMS, NO_QUERY, OFFSET, TOPIC_NAME } from "./schemas.js";
import type { HttpServer } from "./server.js";

const METADATA = 3;
const ZERO_UUID = "00000000000000000000000000000000";

/** Coordinator refusals of a standalone commit that mean the group has members now. */
const HAS_MEMBERS = new Set(["UNKNOWN_MEMBER_ID", "REBALANCE_IN_PROGRESS", "ILLEGAL_GENERATION"]);

const RESET_BODY = {
  type: "object",
  required: ["to", "dry_run"],
  additionalProperties: false,
  properties: {
    to: { type: "string", enum: ["earliest", "latest", "timestamp", "offset"] },
    timestamp: { type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    offset: OFFSET,
    topic: TOPIC_NAME,
    dry_run: { type: "boolean" },
  },
} as const;

const RESET_RESPONSE = {
  type: "object",
  required: ["group_id", "state", "dry_run", "partitions"],
  properties: {
    group_id: { type: "string" },
    state: { type: "string" },
    dry_run: { type: "boolean" },
    partitions: {
      type: "array",
      items: {
        type: "object",
        required: [
          "topic",
          "partition",
          "current_offset",
          "new_offset",
          "log_start_offset",
          "log_end_offset",
        ],
        properties: {
          topic: { type: "string" },
          partition: { type: "integer" },
          // A committed offset is any int64: one beyond 2^53 is written as its digits.
          current_offset: { type: "integer", nullable: true },
          new_offset: { type: "integer" },
          log_start_offset: { type: "integer" },
          log_end_offset: { type: "integer" },
        },
      },
    },
  },
} as const;

interface ResetBody {
  to: "earliest" | "latest" | "timestamp" | "offset";
  timestamp?: number;
  offset?: number;
  topic?: string;
  dry_run: boolean;
}

interface ResetRow {
  topic: string;
  partition: number;
  current_offset: Int64 | null;
  new_offset: number;
  log_start_offset: number;
  log_end_offset: number;
}

class GroupReset {
  private readonly api: GroupApi;

  constructor(
    private readonly server: HttpServer,
    private readonly request: FastifyRequest,
    private readonly groupId: string,
  ) {
    this.api = new GroupApi(server, request, groupId);
  }

  /** The group's state; throws 409 NON_EMPTY_GROUP while it has members. "Dead" when unknown. */
  async stateWhenEmpty(): Promise<string> {
    const group = await this.api.describe();
    if (group === null) return "Dead";
    if (group.members.length > 0 || !["Empty", "Dead"].includes(group.groupState))
      throw nonEmpty(this.groupId, `it has ${group.members.length} member(s) (state ${group.groupState})`);
    return group.groupState;
  }

  /** Committed offsets by partition key. */
  async committed(): Promise<Map<string, { ref: PartitionRef; offset: Int64 }>> {
    const out = new Map<string, { ref: PartitionRef; offset: Int64 }>();
    for (const c of await this.api.committed()) {
      if (c.committedOffset < 0) continue;
      const ref = { topic: c.topic, partition: c.partitionIndex };
      out.set(key(ref.topic, ref.partition), { ref, offset: c.committedOffset });
    }
    return out;
  }

  /** Each partition's leader, for `topics` (Metadata); throws for a topic that does not exist. */
  async leaders(topics: string[]): Promise<{ refs: PartitionRef[]; leaderOf: Map<string, number> }> {
    const response = await callApi(
      this.server.broker.dispatcher,
      this.server.caller(this.request),
      METADATA,
      HTTP_API_VERSIONS.metadata,
      {
        topics: topics.map((name) => ({ topicId: ZERO_UUID, name })),
        allowAutoTopicCreation: false,
        includeTopicAuthorizedOperations: false,
      },
    );
    const refs: PartitionRef[] = [];
    const leaderOf = new Map<string, number>();
    for (const t of response.topics) {
      if (t.errorCode !== 0) throw HttpError.kafka(t.errorCode, `topic ${t.name}: ${errorName(t.errorCode)}`);
      for (const p of [...t.partitions].sort((a, b) => a.partitionIndex - b.partitionIndex)) {
        refs.push({ topic: t.name ?? "", partition: p.partitionIndex });
        leaderOf.set(key(t.name ?? "", p.partitionIndex), p.leaderId);
      }
    }
    return { refs, leaderOf };
  }

  /** Commits `rows`' new offsets as a standalone consumer (generation -1). */
  async commit(rows: ResetRow[]): Promise<void> {
    const topics = await this.api.commit(
      rows.map((r) => ({ topic: r.topic, partition: r.partition, offset: r.new_offset })),
    );
    for (const t of topics)
      for (const p of t.partitions) {
        if (p.errorCode === 0) continue;
        const name = errorName(p.errorCode);
        if (HAS_MEMBERS.has(name))
          throw nonEmpty(this.groupId, `the coordinator refused the commit: ${name}`);
        throw HttpError.kafka(p.errorCode, `committing ${t.name}-${p.partitionIndex}`);
      }
  }
}

function nonEmpty(groupId: string, why: string): HttpError {
  return HttpError.kafka(
    "NON_EMPTY_GROUP",
    `group ${groupId} is not empty: ${why}; stop its consumers before resetting offsets`,
  );
}

/** The offsets of `refs` at each of `timestamps`, asked of their leaders. */
async function leaderOffsets(
  server: HttpServer,
  request: FastifyRequest,
  refs: PartitionRef[],
  leaderOf: Map<string, number>,
  timestamps: number[],
): Promise<Map<string, number>[]> {
  const byLeader = new Map<number, PartitionRef[]>();
  for (const r of refs) {
    const leader = leaderOf.get(key(r.topic, r.partition)) ?? -1;
    if (leader < 0) throw HttpError.kafka("LEADER_NOT_AVAILABLE", `${r.topic}-${r.partition} has no leader`);
    byLeader.set(leader, [...(byLeader.get(leader) ?? []), r]);
  }
  const ask = asker(server, request);
  return Promise.all(
    timestamps.map(async (ts) => {
      const merged = new Map<string, number>();
      for (const m of await Promise.all([...byLeader].map(([n, parts]) => offsetsFrom(ask, n, parts, ts))))
        for (const [k, v] of m) merged.set(k, v);
      return merged;
    }),
  );
}

function target(body: ResetBody, start: number, end: number, atTime: number | undefined): number {
  if (body.to === "earliest") return start;
  if (body.to === "latest") return end;
  if (body.to === "timestamp") return atTime === undefined || atTime < 0 ? end : Math.max(start, atTime);
  return Math.min(Math.max(body.offset ?? 0, start), end);
}

async function reset(server: HttpServer, request: FastifyRequest, groupId: string, body: ResetBody) {
  if (body.to === "timestamp" && body.timestamp === undefined)
    throw HttpError.http("BAD_REQUEST", 'body.timestamp is required with "to": "timestamp"');
  if (body.to === "offset" && body.offset === undefined)
    throw HttpError.http("BAD_REQUEST", 'body.offset is required with "to": "offset"');
  const group = new GroupReset(server, request, groupId);
  const state = await group.stateWhenEmpty();
  const committed = await group.committed();
  const topics =
    body.topic !== undefined ? [body.topic] : [...new Set([...committed.values()].map((c) => c.ref.topic))];
  if (topics.length === 0) {
    if (state === "Dead") throw HttpError.kafka("GROUP_ID_NOT_FOUND", `group ${groupId} does not exist`);
    throw HttpError.http("BAD_REQUEST", `group ${groupId} has no committed offsets: name a topic`);
  }
  const { refs: all, leaderOf } = await group.leaders(topics);
  const refs = body.topic !== undefined ? all : all.filter((r) => committed.has(key(r.topic, r.partition)));
  const stamps = [EARLIEST_OFFSET, LATEST_OFFSET, ...(body.to === "timestamp" ? [body.timestamp ?? 0] : [])];
  const [starts, ends, atTimes] = await leaderOffsets(server, request, refs, leaderOf, stamps);
  const rows: ResetRow[] = refs.map((r) => {
    const k = key(r.topic, r.partition);
    const start = starts.get(k);
    const end = ends.get(k);
    if (start === undefined || end === undefined)
      throw HttpError.kafka(
        "LEADER_NOT_AVAILABLE",
        `no offsets of ${r.topic}-${r.partition} from its leader`,
      );
    return {
      topic: r.topic,
      partition: r.partition,
      current_offset: committed.get(k)?.offset ?? null,
      new_offset: target(body, start, end, atTimes?.get(k)),
      log_start_offset: start,
      log_end_offset: end,
    };
  });
  if (!body.dry_run && rows.length > 0) await group.commit(rows);
  return { group_id: groupId, state, dry_run: body.dry_run, partitions: rows };
}

export const groupOffsetRoutes: FastifyPluginAsync<{ server: HttpServer }> = async (app, { server }) => {
  app.post<{ Params: { group: string }; Body: ResetBody }>(
    "/groups/:group/offsets/reset",
    {
      schema: {
        params: GROUP_PARAMS,
        querystring: NO_QUERY,
        body: RESET_BODY,
        response: { 200: RESET_RESPONSE, ...ERROR_RESPONSES },
      },
    },
    async (request) => reset(server, request, request.params.group, request.body),
  );
};
