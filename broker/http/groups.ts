/**
 * Consumer groups over HTTP: what `kafka-consumer-groups --describe` shows, as JSON.
 *
 *   GET /groups          `{"groups": [{group_id, protocol_type, state}], "unanswered": [node id]}`,
 *                        sorted by id (ListGroups).
 *   GET /groups/{group}  `{group_id, state, protocol_type, protocol, members: [{member_id,
 *                        group_instance_id, client_id, client_host, assignments: [{topic,
 *                        partitions}]}], offsets: [{topic, partition, committed_offset,
 *                        log_end_offset, lag, member_id, metadata}], total_lag}`.
 *
 * The description comes from Kafka APIs only: DescribeGroups (state, members, assignments),
 * OffsetFetch (committed offsets) and ListOffsets (the high watermark, which this route reports as
 * the log end offset, as Kafka's tool does). Lag is high watermark - committed offset, never below
 * 0. `offsets` lists every partition with a committed offset and every partition assigned to a
 * member without one (committed_offset, lag and metadata null there); a partition whose topic no
 * longer exists has log_end_offset and lag null. total_lag sums the lags that are known.
 *
 * Assignments are decoded when the protocol type is "consumer" (Kafka's ConsumerProtocol
 * Assignment: int16 version, [topic, [int32 partition]], user data bytes; the same in v0-v3) and
 * the group is Stable (DescribeGroups reports them only then); otherwise, or when the bytes are
 * not such an assignment, a member's list is empty.
 *
 * In a cluster (issue 16) any broker answers for every group. GET /groups asks ListGroups of
 * every registered broker (as Kafka's admin listConsumerGroups does): this one through its
 * handler as the request's principal, the others over peer connections, where they run as this
 * broker's (super user) principal; so the merged list keeps only the groups the request's
 * principal may DESCRIBE (all with DESCRIBE on the cluster), as the handler filters them. A
 * broker that fails to answer, or answers an error (COORDINATOR_LOAD_IN_PROGRESS while it loads
 * its groups), does not fail the route: the answer is the partial list, and `unanswered` names
 * those brokers (the overview's word for it, overview.ts). A group listed by two brokers while
 * its coordinator moves is listed once.
 *
 * GET /groups/{group} sends DescribeGroups and OffsetFetch to the group's coordinator through
 * `ForwardingCalls` (consumers/forward.ts, which checks DESCRIBE on the group and filters topics
 * as the handler would before forwarding anything, so a refusal is this broker's handler's: 403
 * GROUP_AUTHORIZATION_FAILED), and each partition's high watermark comes from its leader (the
 * cluster store's; ListOffsets, leaders.ts `offsetsFrom`). Topics the principal may not DESCRIBE
 * are asked of this broker's handler, which refuses them as it always did. A partition without a
 * leader, or whose leader does not answer, has log_end_offset and lag null.
 */

import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import { decodeAssignment } from "../../protocol/consumer-protocol.js";
import { errorCode } from "../../protocol/errors.js";
import type { Int64 } from "../../protocol/reader.js";
import type { DescribedGroup } from "../../protocol/types/describe-groups.js";
import type { ResponseOf } from "../../protocol/types/index.js";
import type { ListedGroup } from "../../protocol/types/list-groups.js";
import type { OffsetFetchResponsePartitions } from "../../protocol/types/offset-fetch.js";
import { onCluster } from "../api/authorized.js";
import type { HttpCaller } from "./call-api.js";
import { ForwardingCalls } from "./consumers/forward.js";
import { ERROR_RESPONSES, HttpError } from "./errors.js";
import { LATEST_OFFSET } from "./kafka-api.js";
import { asker, key, offsetsFrom, type PartitionRef } from "./leaders.js";
import { GROUP_PARAMS, NO_QUERY } from "./schemas.js";
import type { HttpServer } from "./server.js";

const LIST_GROUPS = 16;
const DESCRIBE_GROUPS = 15;
const OFFSET_FETCH = 9;
const OFFSET_COMMIT = 8;

/** The versions these routes speak; each handler serves them. */
export const HTTP_GROUP_API_VERSIONS = {
  listGroups: 5,
  describeGroups: 6,
  offsetFetch: 8,
  offsetCommit: 8,
} as const;

const GROUPS_RESPONSE = {
  type: "object",
  required: ["groups", "unanswered"],
  properties: {
    unanswered: { type: "array", items: { type: "integer" } },
    groups: {
      type: "array",
      items: {
        type: "object",
        required: ["group_id", "protocol_type", "state"],
        properties: {
          group_id: { type: "string" },
          protocol_type: { type: "string" },
          state: { type: "string" },
        },
      },
    },
  },
} as const;

const NULLABLE_INT = { type: ["integer", "null"] } as const;

const GROUP_RESPONSE = {
  type: "object",
  required: ["group_id", "state", "protocol_type", "protocol", "members", "offsets", "total_lag"],
  properties: {
    group_id: { type: "string" },
    state: { type: "string" },
    protocol_type: { type: "string" },
    protocol: { type: ["string", "null"] },
    members: {
      type: "array",
      items: {
        type: "object",
        required: ["member_id", "group_instance_id", "client_id", "client_host", "assignments"],
        properties: {
          member_id: { type: "string" },
          group_instance_id: { type: ["string", "null"] },
          client_id: { type: "string" },
          client_host: { type: "string" },
          assignments: {
            type: "array",
            items: {
              type: "object",
              required: ["topic", "partitions"],
              properties: {
                topic: { type: "string" },
                partitions: { type: "array", items: { type: "integer" } },
              },
            },
          },
        },
      },
    },
    offsets: {
      type: "array",
      items: {
        type: "object",
        required: [
          "topic",
          "partition",
          "committed_offset",
          "log_end_offset",
          "lag",
          "member_id",
          "metadata",
        ],
        properties: {
          topic: { type: "string" },
          partition: { type: "integer" },
          // A committed offset is any int64, exact: a bigint beyond 2^53 is written as its digits.
          committed_offset: { type: "integer", nullable: true },
          log_end_offset: NULLABLE_INT,
          lag: NULLABLE_INT,
          member_id: { type: ["string", "null"] },
          metadata: { type: ["string", "null"] },
        },
      },
    },
    total_lag: { type: "integer" },
  },
} as const;

export interface TopicAssignment {
  topic: string;
  partitions: number[];
}

/**
 * The partitions of a ConsumerProtocol Assignment (protocol/consumer-protocol.ts), or null when
 * the bytes are not one: a member's assignment is whatever its group's leader sent.
 */
export function decodeConsumerAssignment(bytes: Buffer): TopicAssignment[] | null {
  try {
    return decodeAssignment(bytes).assignedPartitions;
  } catch {
    return null;
  }
}

interface CommittedRow {
  topic: string;
  partition: number;
  committed_offset: Int64 | null;
  log_end_offset: number | null;
  lag: number | null;
  member_id: string | null;
  metadata: string | null;
}

/** A committed offset as OffsetFetch answers it, with its topic. */
type CommittedOffset = OffsetFetchResponsePartitions<Int64> & { topic: string };

/**
 * One group's Kafka calls for an HTTP request: DescribeGroups, OffsetFetch and OffsetCommit at the
 * group's coordinator (ForwardingCalls, over the shared peer connections), high watermarks at
 * each partition's leader. Used by the group page and the offset reset (group-offsets.ts).
 */
export class GroupApi {
  private readonly caller: HttpCaller;
  private readonly forward: ForwardingCalls;

  constructor(
    private readonly server: HttpServer,
    private readonly request: FastifyRequest,
    readonly groupId: string,
  ) {
    this.caller = server.caller(request);
    this.forward = new ForwardingCalls(server.broker, this.caller, groupId, request.log, "shared");
  }

  /** The group as DescribeGroups reports it; null when it does not exist. */
  async describe(): Promise<DescribedGroup | null> {
    const response = await this.forward.groupCall(DESCRIBE_GROUPS, HTTP_GROUP_API_VERSIONS.describeGroups, {
      groups: [this.groupId],
      includeAuthorizedOperations: false,
    });
    const group = response.groups[0];
    if (!group) throw HttpError.kafka("UNKNOWN_SERVER_ERROR", `no description of group ${this.groupId}`);
    if (group.errorCode === errorCode("GROUP_ID_NOT_FOUND")) return null;
    if (group.errorCode !== 0) {
      throw HttpError.kafka(group.errorCode, group.errorMessage ?? null);
    }
    return group;
  }

  /** Every committed offset of the group (of the topics the principal may DESCRIBE). */
  async committed(): Promise<CommittedOffset[]> {
    const response = (await this.forward.groupCall(OFFSET_FETCH, HTTP_GROUP_API_VERSIONS.offsetFetch, {
      groups: [{ groupId: this.groupId, topics: null }],
      requireStable: false,
    })) as ResponseOf<typeof OFFSET_FETCH, Int64>;
    const group = response.groups?.[0];
    if (!group) throw HttpError.kafka("UNKNOWN_SERVER_ERROR", `no offsets of group ${this.groupId}`);
    if (group.errorCode !== 0) throw HttpError.kafka(group.errorCode, `offsets of ${this.groupId}`);
    const out: CommittedOffset[] = [];
    for (const t of group.topics) {
      for (const p of t.partitions) {
        if (p.errorCode !== 0) throw HttpError.kafka(p.errorCode, `offset of ${t.name}-${p.partitionIndex}`);
        // v8 names topics (ids are v10+).
        out.push({ topic: t.name ?? "", ...p });
      }
    }
    return out;
  }

  /** Commits `offsets` as a standalone consumer (generation -1); the response's partitions as answered. */
  async commit(offsets: { topic: string; partition: number; offset: number }[]) {
    const topics = new Map<string, { partition: number; offset: number }[]>();
    for (const o of offsets) topics.set(o.topic, [...(topics.get(o.topic) ?? []), o]);
    const response = await this.forward.groupCall(OFFSET_COMMIT, HTTP_GROUP_API_VERSIONS.offsetCommit, {
      groupId: this.groupId,
      generationIdOrMemberEpoch: -1,
      memberId: "",
      groupInstanceId: null,
      topics: [...topics].map(([name, list]) => ({
        name,
        partitions: list.map((o) => ({
          partitionIndex: o.partition,
          committedOffset: o.offset,
          committedLeaderEpoch: -1,
          committedMetadata: "",
        })),
      })),
    });
    return response.topics;
  }

  /**
   * High watermarks of `parts` by partition key, each from its leader (the cluster store's); a
   * partition without a leader, or whose leader fails, is left out. A topic the principal may not
   * DESCRIBE is refused here, as ListOffsets refuses it (403 TOPIC_AUTHORIZATION_FAILED), before
   * anything is forwarded.
   */
  async highWatermarks(parts: PartitionRef[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const byLeader = new Map<number, PartitionRef[]>();
    for (const p of parts) {
      if (!this.caller.authorize("DESCRIBE", "TOPIC", p.topic))
        throw HttpError.kafka("TOPIC_AUTHORIZATION_FAILED", `listing offsets of ${p.topic}-${p.partition}`);
      const leader = this.server.broker.store.topic(p.topic)?.partitions[p.partition]?.leader ?? -1;
      if (leader >= 0) byLeader.set(leader, [...(byLeader.get(leader) ?? []), p]);
    }
    const ask = asker(this.server, this.request);
    const answers = await Promise.all(
      [...byLeader].map(([leader, list]) =>
        offsetsFrom(ask, leader, list, LATEST_OFFSET).catch((err: unknown) => {
          this.request.log.debug({ err, leader }, "a leader did not answer ListOffsets");
          return new Map<string, number>();
        }),
      ),
    );
    for (const answer of answers) for (const [k, v] of answer) out.set(k, v);
    return out;
  }
}

/**
 * ListGroups of every registered broker, merged: the groups the principal may DESCRIBE (every
 * group with DESCRIBE on the cluster), each once; brokers that failed or answered an error in
 * `unanswered`.
 */
async function listEverywhere(
  server: HttpServer,
  request: FastifyRequest,
): Promise<{ groups: ListedGroup[]; unanswered: number[] }> {
  const self = server.broker.config.nodeId;
  const nodes = new Set([self, ...server.broker.store.brokers().map((b) => b.nodeId)]);
  const ask = asker(server, request);
  const unanswered: number[] = [];
  const answers = await Promise.all(
    [...nodes].map(async (nodeId) => {
      try {
        const response = await ask(nodeId, LIST_GROUPS, HTTP_GROUP_API_VERSIONS.listGroups, {
          statesFilter: [],
          typesFilter: [],
        });
        if (response.errorCode !== 0) unanswered.push(nodeId);
        return response.groups;
      } catch (err) {
        request.log.debug({ err, nodeId }, "a broker did not answer ListGroups");
        unanswered.push(nodeId);
        return [];
      }
    }),
  );
  const caller = server.caller(request);
  const everyGroup = onCluster(caller, "DESCRIBE");
  const merged = new Map<string, ListedGroup>();
  for (const g of answers.flat())
    if (!merged.has(g.groupId) && (everyGroup || caller.authorize("DESCRIBE", "GROUP", g.groupId)))
      merged.set(g.groupId, g);
  return { groups: [...merged.values()], unanswered: unanswered.sort((a, b) => a - b) };
}

function membersOf(group: DescribedGroup) {
  const decode = group.protocolType === "consumer";
  return group.members.map((m) => ({
    member_id: m.memberId,
    group_instance_id: m.groupInstanceId ?? null,
    client_id: m.clientId,
    client_host: m.clientHost,
    assignments: decode ? (decodeConsumerAssignment(m.memberAssignment) ?? []) : [],
  }));
}

/** Committed offsets beside assigned partitions, each with its log end offset and lag. */
async function offsetRows(api: GroupApi, members: ReturnType<typeof membersOf>): Promise<CommittedRow[]> {
  const rows = new Map<string, CommittedRow>();
  const row = (topic: string, partition: number): CommittedRow => {
    const k = key(topic, partition);
    let r = rows.get(k);
    if (!r) {
      r = {
        topic,
        partition,
        committed_offset: null,
        log_end_offset: null,
        lag: null,
        member_id: null,
        metadata: null,
      };
      rows.set(k, r);
    }
    return r;
  };
  for (const c of await api.committed()) {
    const r = row(c.topic, c.partitionIndex);
    r.committed_offset = c.committedOffset;
    r.metadata = c.metadata;
  }
  for (const m of members) {
    for (const a of m.assignments) for (const p of a.partitions) row(a.topic, p).member_id = m.member_id;
  }
  const ends = await api.highWatermarks([...rows.values()]);
  for (const r of rows.values()) {
    const end = ends.get(key(r.topic, r.partition));
    if (end === undefined || end < 0) continue;
    r.log_end_offset = end;
    const committed = r.committed_offset;
    // A bigint offset lies beyond 2^53, past any log end: no lag.
    if (committed !== null && committed >= 0)
      r.lag = typeof committed === "bigint" ? 0 : Math.max(0, end - committed);
  }
  return [...rows.values()].sort((a, b) =>
    a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition,
  );
}

export const groupRoutes: FastifyPluginAsync<{ server: HttpServer }> = async (app, { server }) => {
  app.get(
    "/groups",
    { schema: { querystring: NO_QUERY, response: { 200: GROUPS_RESPONSE, ...ERROR_RESPONSES } } },
    async (request) => {
      const { groups, unanswered } = await listEverywhere(server, request);
      return {
        groups: groups
          .map((g) => ({
            group_id: g.groupId,
            protocol_type: g.protocolType,
            state: g.groupState ?? "",
          }))
          .sort((a, b) => (a.group_id < b.group_id ? -1 : a.group_id > b.group_id ? 1 : 0)),
        unanswered,
      };
    },
  );

  app.get<{ Params: { group: string } }>(
    "/groups/:group",
    {
      schema: {
        params: GROUP_PARAMS,
        querystring: NO_QUERY,
        response: { 200: GROUP_RESPONSE, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const groupId = request.params.group;
      const api = new GroupApi(server, request, groupId);
      const group = await api.describe();
      if (!group) {
        // DescribeGroups' GROUP_ID_NOT_FOUND is what the route's 404 means.
        const err = HttpError.kafka("GROUP_ID_NOT_FOUND", `group ${groupId} does not exist`);
        return reply.status(404).send(err.body);
      }
      const members = membersOf(group);
      const offsets = await offsetRows(api, members);
      return {
        group_id: groupId,
        state: group.groupState,
        protocol_type: group.protocolType,
        protocol: group.protocolData || null,
        members,
        offsets,
        total_lag: offsets.reduce((sum, o) => sum + (o.lag ?? 0), 0),
      };
    },
  );
};
