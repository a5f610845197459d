/**
 * The Admin's controller calls (ElectLeaders 43, AlterPartitionReassignments 45,
 * ListPartitionReassignments 46) against a stand-in broker that Metadata names as the controller
 * and that answers with what a test sets: the requests' shape, per-partition errors surfaced as
 * KafkaErrors, NOT_CONTROLLER (top-level, or on every partition: a broker that does not forward)
 * retried after a metadata refresh (CreateTopics too), and arguments refused before any request.
 * Against a real broker: test/e2e/cluster-cli.test.ts.
 */
import * as net from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Admin } from "../../client/admin.js";
import { type Message, MessageCodec } from "../../protocol/codec.js";
import { errorCode, KafkaError } from "../../protocol/errors.js";
import { RequestHeader, ResponseHeader } from "../../protocol/messages/header.js";
import { API_SPECS } from "../../protocol/messages/index.js";
import { Reader } from "../../protocol/reader.js";
import { Writer } from "../../protocol/writer.js";

const API_VERSIONS = 18;
const METADATA = 3;
const SERVED: Record<number, number> = { 3: 12, 18: 3, 19: 7, 43: 2, 45: 0, 46: 0 };
const requestHeader = new MessageCodec(RequestHeader);
const responseHeader = new MessageCodec(ResponseHeader);

interface Seen {
  apiKey: number;
  version: number;
  body: Message;
}

/** A broker that serves ApiVersions and answers 43/45/46 from `answers`, in order. */
class StandIn {
  readonly seen: Seen[] = [];
  answers = new Map<number, Message[]>();
  private server = net.createServer((s) => this.serve(s));
  private port = 0;

  async listen(): Promise<number> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }

  private serve(socket: net.Socket): void {
    let pending = Buffer.alloc(0);
    socket.on("error", () => {});
    socket.on("data", (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
        const frame = pending.subarray(4, 4 + pending.readInt32BE(0));
        pending = pending.subarray(4 + frame.length);
        socket.write(this.answer(frame));
      }
    });
  }

  private answer(frame: Buffer): Buffer {
    const apiKey = frame.readInt16BE(0);
    const version = frame.readInt16BE(2);
    const spec = API_SPECS[apiKey];
    const request = new MessageCodec(spec.request);
    const response = new MessageCodec(spec.response);
    const r = new Reader(frame);
    const header = requestHeader.decode(r, request.isFlexible(version) ? 2 : 1);
    const body = request.decode(r, version);
    this.seen.push({ apiKey, version, body });
    const w = new Writer();
    w.int32(0);
    const headerVersion = apiKey !== API_VERSIONS && response.isFlexible(version) ? 1 : 0;
    responseHeader.encode(w, headerVersion, { correlationId: header.correlationId });
    response.encode(w, version, { ...response.defaults(version), ...this.bodyFor(apiKey) });
    const out = w.toBuffer();
    out.writeInt32BE(out.length - 4, 0);
    return out;
  }

  private bodyFor(apiKey: number): Message {
    if (apiKey === API_VERSIONS) {
      return {
        errorCode: 0,
        apiKeys: Object.entries(SERVED).map(([key, max]) => ({
          apiKey: Number(key),
          minVersion: 0,
          maxVersion: max,
        })),
      };
    }
    if (apiKey === METADATA) {
      return {
        brokers: [{ nodeId: 1, host: "127.0.0.1", port: this.port, rack: null }],
        clusterId: "stand-in",
        controllerId: 1,
        topics: [],
      };
    }
    const next = this.answers.get(apiKey)?.shift();
    if (!next) throw new Error(`no answer set for API ${apiKey}`);
    return next;
  }
}

let standIn: StandIn;
let admin: Admin;

beforeAll(async () => {
  standIn = new StandIn();
  const port = await standIn.listen();
  admin = new Admin({ brokers: [`127.0.0.1:${port}`], retry: { retries: 2, initialBackoffMs: 1 } });
});
afterAll(async () => {
  await admin.close();
  await standIn.close();
});
beforeEach(() => {
  standIn.seen.length = 0;
  standIn.answers.clear();
});

const code = (name: Parameters<typeof errorCode>[0]) => errorCode(name);
const requestsOf = (apiKey: number) => standIn.seen.filter((s) => s.apiKey === apiKey);

describe("Admin.electLeaders", () => {
  it("asks for the partitions by topic with the election type, and gives one outcome per partition", async () => {
    standIn.answers.set(43, [
      {
        errorCode: 0,
        replicaElectionResults: [
          {
            topic: "t",
            partitionResult: [
              { partitionId: 0, errorCode: 0, errorMessage: null },
              { partitionId: 1, errorCode: code("ELECTION_NOT_NEEDED"), errorMessage: null },
            ],
          },
          {
            topic: "u",
            partitionResult: [
              {
                partitionId: 3,
                errorCode: code("ELIGIBLE_LEADERS_NOT_AVAILABLE"),
                errorMessage: "no live replica",
              },
            ],
          },
        ],
      },
    ]);
    const outcomes = await admin.electLeaders("unclean", [
      { topic: "t", partition: 0 },
      { topic: "t", partition: 1 },
      { topic: "u", partition: 3 },
    ]);
    const [sent] = requestsOf(43);
    expect(sent.version).toBe(2);
    expect(sent.body.electionType).toBe(1);
    expect(sent.body.topicPartitions).toEqual([
      { topic: "t", partitions: [0, 1] },
      { topic: "u", partitions: [3] },
    ]);
    expect(outcomes.map((o) => [o.topic, o.partition, o.error?.code ?? null])).toEqual([
      ["t", 0, null],
      ["t", 1, "ELECTION_NOT_NEEDED"],
      ["u", 3, "ELIGIBLE_LEADERS_NOT_AVAILABLE"],
    ]);
    expect(outcomes[2].error).toBeInstanceOf(KafkaError);
    expect(outcomes[2].error?.message).toContain("u-3");
    expect(outcomes[2].error?.message).toContain("no live replica");
  });

  it("without partitions asks for all (null); preferred is type 0", async () => {
    standIn.answers.set(43, [{ errorCode: 0, replicaElectionResults: [] }]);
    expect(await admin.electLeaders("preferred")).toEqual([]);
    const [sent] = requestsOf(43);
    expect(sent.body.topicPartitions).toBeNull();
    expect(sent.body.electionType).toBe(0);
  });

  it("retries a retriable top-level error (NOT_CONTROLLER) and throws one that is not", async () => {
    standIn.answers.set(43, [
      { errorCode: code("NOT_CONTROLLER"), replicaElectionResults: [] },
      { errorCode: 0, replicaElectionResults: [] },
    ]);
    expect(await admin.electLeaders("preferred")).toEqual([]);
    expect(requestsOf(43)).toHaveLength(2);

    standIn.answers.set(43, [
      { errorCode: code("CLUSTER_AUTHORIZATION_FAILED"), replicaElectionResults: [] },
    ]);
    await expect(admin.electLeaders("preferred")).rejects.toMatchObject({
      code: "CLUSTER_AUTHORIZATION_FAILED",
    });
  });

  it("sends again, after a metadata refresh, a request every partition answered NOT_CONTROLLER", async () => {
    const notController = {
      partitionId: 0,
      errorCode: code("NOT_CONTROLLER"),
      errorMessage: "node 2 is not",
    };
    standIn.answers.set(43, [
      { errorCode: 0, replicaElectionResults: [{ topic: "t", partitionResult: [notController] }] },
      {
        errorCode: 0,
        replicaElectionResults: [
          { topic: "t", partitionResult: [{ partitionId: 0, errorCode: 0, errorMessage: null }] },
        ],
      },
    ]);
    const outcomes = await admin.electLeaders("preferred", [{ topic: "t", partition: 0 }]);
    expect(outcomes).toEqual([{ topic: "t", partition: 0, error: null }]);
    expect(standIn.seen.map((s) => s.apiKey)).toEqual([43, METADATA, 43]);

    standIn.seen.length = 0;
    standIn.answers.set(45, [
      {
        errorCode: 0,
        errorMessage: null,
        responses: [
          {
            name: "t",
            partitions: [{ partitionIndex: 0, errorCode: code("NOT_CONTROLLER"), errorMessage: null }],
          },
        ],
      },
      {
        errorCode: 0,
        errorMessage: null,
        responses: [{ name: "t", partitions: [{ partitionIndex: 0, errorCode: 0, errorMessage: null }] }],
      },
    ]);
    await admin.alterPartitionReassignments([{ topic: "t", partition: 0, replicas: [1] }]);
    expect(standIn.seen.map((s) => s.apiKey)).toEqual([45, METADATA, 45]);
  });

  it("refuses bad arguments before sending anything", async () => {
    await expect(admin.electLeaders("sideways" as "preferred")).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
    await expect(admin.electLeaders("preferred", [{ topic: "", partition: 0 }])).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
    await expect(admin.electLeaders("preferred", [{ topic: "t", partition: -1 }])).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
    expect(requestsOf(43)).toHaveLength(0);
  });
});

describe("Admin.alterPartitionReassignments", () => {
  it("sends new replica lists and cancels (null) grouped by topic; resolves when all are accepted", async () => {
    standIn.answers.set(45, [
      {
        errorCode: 0,
        errorMessage: null,
        responses: [
          {
            name: "t",
            partitions: [
              { partitionIndex: 0, errorCode: 0, errorMessage: null },
              { partitionIndex: 1, errorCode: 0, errorMessage: null },
            ],
          },
        ],
      },
    ]);
    await admin.alterPartitionReassignments([
      { topic: "t", partition: 0, replicas: [2, 3, 4] },
      { topic: "t", partition: 1, replicas: null },
    ]);
    expect(requestsOf(45)[0].body.topics).toEqual([
      {
        name: "t",
        partitions: [
          { partitionIndex: 0, replicas: [2, 3, 4] },
          { partitionIndex: 1, replicas: null },
        ],
      },
    ]);
  });

  it("throws a partition's error as a KafkaError naming the partition", async () => {
    standIn.answers.set(45, [
      {
        errorCode: 0,
        errorMessage: null,
        responses: [
          {
            name: "t",
            partitions: [
              { partitionIndex: 0, errorCode: 0, errorMessage: null },
              { partitionIndex: 1, errorCode: code("NO_REASSIGNMENT_IN_PROGRESS"), errorMessage: null },
            ],
          },
        ],
      },
    ]);
    const err = await admin
      .alterPartitionReassignments([
        { topic: "t", partition: 0, replicas: [1] },
        { topic: "t", partition: 1, replicas: null },
      ])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KafkaError);
    expect(err).toMatchObject({ code: "NO_REASSIGNMENT_IN_PROGRESS" });
    expect((err as Error).message).toContain("t-1");
  });

  it("throws a request-level error", async () => {
    standIn.answers.set(45, [
      { errorCode: code("CLUSTER_AUTHORIZATION_FAILED"), errorMessage: "no", responses: [] },
    ]);
    await expect(
      admin.alterPartitionReassignments([{ topic: "t", partition: 0, replicas: [1] }]),
    ).rejects.toMatchObject({ code: "CLUSTER_AUTHORIZATION_FAILED" });
  });

  it("refuses empty, repeated or negative replica lists before sending anything", async () => {
    for (const replicas of [[], [1, 1], [-1], [1.5]]) {
      await expect(
        admin.alterPartitionReassignments([{ topic: "t", partition: 0, replicas }]),
        JSON.stringify(replicas),
      ).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    }
    expect(requestsOf(45)).toHaveLength(0);
  });
});

describe("Admin.listPartitionReassignments", () => {
  it("lists every reassignment (topics null) or those of the partitions given, sorted", async () => {
    const ongoing = (name: string, partitionIndex: number) => ({
      name,
      partitions: [{ partitionIndex, replicas: [1, 2, 3, 4], addingReplicas: [4], removingReplicas: [1] }],
    });
    standIn.answers.set(46, [
      { errorCode: 0, errorMessage: null, topics: [ongoing("u", 0), ongoing("t", 2)] },
      { errorCode: 0, errorMessage: null, topics: [] },
    ]);
    expect(await admin.listPartitionReassignments()).toEqual([
      { topic: "t", partition: 2, replicas: [1, 2, 3, 4], addingReplicas: [4], removingReplicas: [1] },
      { topic: "u", partition: 0, replicas: [1, 2, 3, 4], addingReplicas: [4], removingReplicas: [1] },
    ]);
    expect(
      await admin.listPartitionReassignments([
        { topic: "t", partition: 0 },
        { topic: "t", partition: 1 },
      ]),
    ).toEqual([]);
    const [all, some] = requestsOf(46);
    expect(all.body.topics).toBeNull();
    expect(some.body.topics).toEqual([{ name: "t", partitionIndexes: [0, 1] }]);
  });
});

describe("Admin.createTopics", () => {
  it("sends again, after a metadata refresh, a request every topic answered NOT_CONTROLLER", async () => {
    const result = (name: string, errorCode: number) => ({ name, errorCode, errorMessage: null });
    standIn.answers.set(19, [
      { topics: [result("a", code("NOT_CONTROLLER")), result("b", code("NOT_CONTROLLER"))] },
      { topics: [result("a", 0), result("b", code("TOPIC_ALREADY_EXISTS"))] },
    ]);
    const outcomes = await admin.createTopicsSettled([{ name: "a" }, { name: "b" }]);
    expect(outcomes.map((o) => [o.name, o.error?.code ?? null])).toEqual([
      ["a", null],
      ["b", "TOPIC_ALREADY_EXISTS"],
    ]);
    expect(standIn.seen.map((s) => s.apiKey)).toEqual([19, METADATA, 19]);
  });
});
