/**
 * Consumer groups with real clients nobody here wrote, against an in-process broker:
 * - KafkaJS 2.2.4 consumers sharing a topic while members join and leave, and a restarted one
 *   resuming from the group's commits;
 * - kcat (librdkafka 2.0.2) balanced consumers (`-G`), eager ("range") and cooperative
 *   ("cooperative-sticky"), one leaving cleanly;
 * - a group mixing both, with one assignor name both speak (librdkafka's "range", and a small
 *   KafkaJS assigner of that name written here), whichever of them leads; and with none in
 *   common (INCONSISTENT_GROUP_PROTOCOL);
 * - session timeouts: a kcat member killed with SIGKILL, whose partitions move to the survivor; a
 *   static kcat member (group.instance.id) restarted in time, which keeps them without a
 *   rebalance; a KafkaJS member stuck in its handler, expired and fenced;
 * - a broker restart under a kcat member: group and commits reloaded from __consumer_offsets.
 *
 * Every record must be processed at least once (duplicates only across rebalances), and at the
 * end the group's committed offsets must equal every partition's log end. Every wait is bounded
 * by `waitFor`, which fails naming what it waited for and the members' state; every spawned kcat
 * is killed after each test. Nothing asserts on speed.
 */
import { type ChildProcess, spawn } from "node:child_process";
import {
  type Admin,
  AssignerProtocol,
  type Consumer,
  type ConsumerConfig,
  Kafka,
  logLevel,
  type PartitionAssigner,
  type Producer,
} from "kafkajs";
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { failOnProcessErrors } from "../helpers/process-errors.js";
import { requireKcat } from "./helpers.js";

let tb: TestBroker;
let kafka: Kafka;
let admin: Admin;
let producer: Producer;
const consumers: Consumer[] = [];
const commitsSeen: {
  groupId: string;
  memberId: string;
  generationId: number;
  partitions: { topic: string; partition: number; offset: number; error: string | null }[];
}[] = [];
const kcats: KcatMember[] = [];

failOnProcessErrors();

beforeAll(async () => {
  requireKcat();
  tb = await startTestBroker({
    "num.partitions": 4,
    "group.initial.rebalance.delay.ms": 200,
    "group.min.session.timeout.ms": 1000,
  });
  kafka = new Kafka({
    clientId: "samsa-groups",
    brokers: [`127.0.0.1:${tb.port}`],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    requestTimeout: 10_000,
  });
  // Every OffsetCommit the coordinator answers, with its per-partition errors (a spy: the broker
  // is in this process).
  const offsets = tb.broker.offsets;
  const commit = offsets.commit.bind(offsets);
  offsets.commit = async (req) => {
    const results = await commit(req);
    commitsSeen.push({
      groupId: req.groupId,
      memberId: req.memberId,
      generationId: req.generationId,
      partitions: req.topics.flatMap((t, ti) =>
        t.partitions.map((p, pi) => ({
          topic: t.name,
          partition: p.partition,
          offset: Number(p.offset),
          error: results[ti][pi],
        })),
      ),
    });
    return results;
  };
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
});

afterEach(async () => {
  await Promise.all(kcats.splice(0).map((k) => k.kill()));
  await Promise.all(consumers.splice(0).map((c) => c.disconnect().catch(() => {})));
});

afterAll(async () => {
  await producer?.disconnect().catch(() => {});
  await admin?.disconnect().catch(() => {});
  await tb?.stop();
});

// ---------------------------------------------------------------------------------------------
// Bounded waiting

/** Polls `cond` every 25 ms; fails after `timeoutMs` with `what` (and its current state). */
async function waitFor(
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string | (() => string),
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${typeof what === "string" ? what : what()}`,
      );
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

// ---------------------------------------------------------------------------------------------
// Topics, producing and offsets

async function createTopic(topic: string, numPartitions: number): Promise<void> {
  expect(await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions }] })).toBe(true);
}

/** Produces `perPartition` records to every partition; values are `<tag>-<partition>-<i>`. */
async function produce(
  topic: string,
  partitions: number[],
  perPartition: number,
  tag: string,
): Promise<void> {
  const messages = partitions.flatMap((partition) =>
    Array.from({ length: perPartition }, (_, i) => ({ partition, value: `${tag}-${partition}-${i}` })),
  );
  for (let i = 0; i < messages.length; i += 100) {
    await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 100) });
  }
}

/** Log end offset by partition. */
async function logEnds(topic: string): Promise<Map<number, number>> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return new Map(offsets.map((o) => [o.partition, Number(o.high)]));
}

/** The group's committed offset by partition (-1: none). */
async function committed(groupId: string, topic: string): Promise<Map<number, number>> {
  const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return new Map(t.partitions.map((p) => [p.partition, Number(p.offset)]));
}

/** Every `partition:offset` below the log ends. */
async function everyRecord(topic: string): Promise<Set<string>> {
  const all = new Set<string>();
  for (const [p, end] of await logEnds(topic)) for (let o = 0; o < end; o++) all.add(`${p}:${o}`);
  return all;
}

const missing = (want: Set<string>, got: Set<string>) => [...want].filter((k) => !got.has(k));

/** Waits until the group's commits equal the log ends of every partition. */
async function waitForCommitsAtLogEnd(groupId: string, topic: string, timeoutMs: number): Promise<void> {
  let last = "";
  await waitFor(
    async () => {
      const [ends, done] = [await logEnds(topic), await committed(groupId, topic)];
      last = `log ends ${JSON.stringify([...ends])}, committed ${JSON.stringify([...done])}`;
      return [...ends].every(([p, end]) => done.get(p) === end);
    },
    timeoutMs,
    () => `group ${groupId}'s commits to reach the log ends of ${topic}: ${last}`,
  );
}

const disjoint = (sets: Set<number>[]) => {
  const seen = new Set<number>();
  for (const s of sets)
    for (const p of s) {
      if (seen.has(p)) return false;
      seen.add(p);
    }
  return true;
};
const union = (sets: Set<number>[]) => new Set(sets.flatMap((s) => [...s]));
const unionOf = (sets: Set<string>[]) => new Set(sets.flatMap((s) => [...s]));
const sorted = (s: Iterable<number>) => [...s].sort((a, b) => a - b);

// ---------------------------------------------------------------------------------------------
// KafkaJS consumers

/** A KafkaJS consumer that records what it processed and its latest assignment. */
interface KjsMember {
  consumer: Consumer;
  /** `partition:offset` of every record processed, and the values. */
  seen: Set<string>;
  values: string[];
  /** Partitions of `topic` in the latest GROUP_JOIN's assignment (null before the first). */
  assigned: Set<number> | null;
  joins: number;
  /** The member id of the latest GROUP_JOIN. */
  memberId: string;
  crashes: string[];
}

const fast: Partial<ConsumerConfig> = {
  sessionTimeout: 6000,
  rebalanceTimeout: 10_000,
  heartbeatInterval: 300,
  maxWaitTimeInMs: 200,
  retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 1000 },
};

async function kjsMember(
  groupId: string,
  topic: string,
  config: Partial<ConsumerConfig> = {},
  /** Awaited before each record is counted as processed. */
  hook?: (partition: number, offset: string) => Promise<void>,
): Promise<KjsMember> {
  const consumer = kafka.consumer({ groupId, ...fast, ...config });
  consumers.push(consumer);
  const m: KjsMember = {
    consumer,
    seen: new Set(),
    values: [],
    assigned: null,
    joins: 0,
    memberId: "",
    crashes: [],
  };
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    m.joins++;
    m.memberId = e.payload.memberId;
    m.assigned = new Set(e.payload.memberAssignment[topic] ?? []);
  });
  consumer.on(consumer.events.CRASH, (e) => m.crashes.push(String(e.payload.error)));
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      await hook?.(partition, message.offset);
      m.seen.add(`${partition}:${message.offset}`);
      m.values.push(message.value?.toString("utf8") ?? "");
    },
  });
  return m;
}

const describeKjs = (ms: KjsMember[]) =>
  ms
    .map(
      (m, i) =>
        `member ${i}: joins ${m.joins}, assigned ${m.assigned ? JSON.stringify(sorted(m.assigned)) : "none"}, ` +
        `seen ${m.seen.size}${m.crashes.length ? `, crashes ${m.crashes.join("; ")}` : ""}`,
    )
    .join("\n");

/** Waits until the members' latest assignments are non-empty, disjoint and cover `partitions`. */
async function waitForSplit(
  members: { assigned: Set<number> | null }[],
  partitions: number,
  timeoutMs: number,
  state: () => string,
): Promise<void> {
  await waitFor(
    () => {
      const sets = members.map((m) => m.assigned ?? new Set<number>());
      return sets.every((s) => s.size > 0) && disjoint(sets) && union(sets).size === partitions;
    },
    timeoutMs,
    () => `${members.length} members to split ${partitions} partitions:\n${state()}`,
  );
}

/**
 * Kafka's range assignor under librdkafka's name "range", for KafkaJS (whose only built-in
 * assigner is "RoundRobinAssigner", which librdkafka does not speak): per topic, members sorted
 * by id, each gets a contiguous run of partitions, the first `n % members` one more.
 */
const RangeAssigner: PartitionAssigner = ({ cluster }) => ({
  name: "range",
  version: 0,
  async assign({ members, topics }) {
    const plan = new Map<string, Record<string, number[]>>(members.map((m) => [m.memberId, {}]));
    for (const topic of topics) {
      const subscribed = members
        .filter((m) => AssignerProtocol.MemberMetadata.decode(m.memberMetadata)?.topics.includes(topic))
        .map((m) => m.memberId)
        .sort();
      const partitions = cluster
        .findTopicPartitionMetadata(topic)
        .map((p) => p.partitionId)
        .sort((a, b) => a - b);
      const per = Math.floor(partitions.length / Math.max(subscribed.length, 1));
      const extra = partitions.length % Math.max(subscribed.length, 1);
      let next = 0;
      subscribed.forEach((memberId, i) => {
        const count = per + (i < extra ? 1 : 0);
        const mine = plan.get(memberId);
        if (mine) mine[topic] = partitions.slice(next, next + count);
        next += count;
      });
    }
    return members.map((m) => ({
      memberId: m.memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({
        version: 0,
        assignment: plan.get(m.memberId) ?? {},
        userData: Buffer.alloc(0),
      }),
    }));
  },
  protocol({ topics }) {
    return {
      name: "range",
      metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }),
    };
  },
});

// ---------------------------------------------------------------------------------------------
// kcat balanced consumers

/** `kcat -G`: its records (`partition offset value` lines) and its latest assignment (stderr). */
class KcatMember {
  readonly child: ChildProcess;
  readonly seen = new Set<string>();
  readonly values: string[] = [];
  /** Partitions of the latest "assigned:" rebalance line (null before the first). */
  assigned: Set<number> | null = null;
  stderr = "";
  private stdout = "";
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;

  constructor(
    port: number,
    readonly groupId: string,
    readonly topic: string,
    extra: string[] = [],
  ) {
    const args = [
      "-b",
      `127.0.0.1:${port}`,
      "-G",
      groupId,
      // Not `-o beginning`: kcat (1.7) then sets that offset on every assignment, overriding the
      // group's commits. Without committed offsets, start at the beginning.
      "-X",
      "auto.offset.reset=earliest",
      "-u",
      "-f",
      "%p %o %s\\n",
      "-X",
      "session.timeout.ms=6000",
      "-X",
      "heartbeat.interval.ms=300",
      // librdkafka's defaults: offsets stored as printed, committed every 5 s and on close.
      // (kcat's `-X auto.commit.interval.ms=` sets the legacy topic-level property, which the
      // KafkaConsumer ignores: the interval cannot be shortened from kcat's command line.)
      "-X",
      "enable.auto.commit=true",
      "-X",
      "partition.assignment.strategy=range",
      ...extra,
      topic,
    ];
    this.child = spawn("kcat", args, { stdio: ["ignore", "pipe", "pipe"] });
    this.exited = new Promise((resolve) => {
      this.child.on("exit", (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
      this.child.on("error", (e) => {
        this.stderr += `\nspawn error: ${e.message}`;
        this.exit = { code: -1, signal: null };
        resolve(this.exit);
      });
    });
    this.child.stdout?.on("data", (d: Buffer) => this.onStdout(d.toString("utf8")));
    this.child.stderr?.on("data", (d: Buffer) => this.onStderr(d.toString("utf8")));
  }

  private onStdout(text: string): void {
    this.stdout += text;
    const lines = this.stdout.split("\n");
    this.stdout = lines.pop() ?? "";
    for (const line of lines) {
      const m = /^(\d+) (\d+) (.*)$/.exec(line);
      if (!m) throw new Error(`kcat printed an unexpected line: ${JSON.stringify(line)}`);
      this.seen.add(`${m[1]}:${m[2]}`);
      this.values.push(m[3]);
    }
  }

  private stderrLine = "";
  private onStderr(text: string): void {
    this.stderr += text;
    this.stderrLine += text;
    const lines = this.stderrLine.split("\n");
    this.stderrLine = lines.pop() ?? "";
    for (const line of lines) {
      // Eager: "% Group g rebalanced (memberid m): assigned: t [0], t [1]" (or "revoked: ...").
      // Cooperative: "% Group g rebalanced: incremental assignment of 2 partition(s) (memberid m,
      // COOPERATIVE rebalance protocol): t [1], t [3]" (or "incremental revoke of ...").
      const eager = /rebalanced \(memberid [^)]*\): (assigned|revoked): ?(.*)$/.exec(line);
      const incremental =
        /rebalanced: incremental (assignment|revoke) of \d+ partition\(s\) \([^)]*\): ?(.*)$/.exec(line);
      const m = eager ?? incremental;
      if (!m) continue;
      const partitions = [...m[2].matchAll(/(\S+) \[(\d+)\]/g)]
        .filter((x) => x[1] === this.topic)
        .map((x) => Number(x[2]));
      if (eager) {
        this.assigned = new Set(eager[1] === "assigned" ? partitions : []);
      } else {
        const now = new Set(this.assigned ?? []);
        for (const p of partitions) {
          if (m[1] === "assignment") now.add(p);
          else now.delete(p);
        }
        this.assigned = now;
      }
    }
  }

  /** Sends `signal` and waits (bounded) for the exit. */
  async stop(
    signal: NodeJS.Signals,
    timeoutMs = 10_000,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.exit) return this.exit;
    this.child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new Error(`kcat did not exit within ${timeoutMs} ms of ${signal}; stderr:\n${this.stderr}`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL, for cleanup: never throws. */
  async kill(): Promise<void> {
    await this.stop("SIGKILL", 5000).catch(() => {});
  }

  describe(): string {
    return `kcat: assigned ${this.assigned ? JSON.stringify(sorted(this.assigned)) : "none"}, seen ${this.seen.size}, exit ${JSON.stringify(this.exit)}; stderr:\n${this.stderr.slice(-2000)}`;
  }
}

function kcatMember(groupId: string, topic: string, extra: string[] = []): KcatMember {
  const k = new KcatMember(tb.port, groupId, topic, extra);
  kcats.push(k);
  return k;
}

// ---------------------------------------------------------------------------------------------

describe("KafkaJS 2.2.4 consumer group", () => {
  it("members share a topic while one joins and one leaves; every record is processed and committed; a restarted member resumes from the commit", async () => {
    const topic = "grp-kjs";
    const groupId = "g-kjs";
    const all6 = [0, 1, 2, 3, 4, 5];
    await createTopic(topic, 6);
    await produce(topic, all6, 50, "a");

    const a = await kjsMember(groupId, topic);
    const b = await kjsMember(groupId, topic);
    const state = () => describeKjs(members);
    let members = [a, b];
    await waitForSplit(members, 6, 20_000, state);

    await produce(topic, all6, 50, "b");
    const c = await kjsMember(groupId, topic);
    members = [a, b, c];
    await waitForSplit(members, 6, 20_000, state);
    await produce(topic, all6, 50, "c");

    // a leaves (LeaveGroup): b and c take its partitions.
    await a.consumer.disconnect();
    members = [b, c];
    await waitForSplit(members, 6, 20_000, state);
    await produce(topic, all6, 50, "d");

    const want = await everyRecord(topic);
    expect(want.size).toBe(6 * 200);
    const seen = () => unionOf([a, b, c].map((m) => m.seen));
    await waitFor(
      () => missing(want, seen()).length === 0,
      20_000,
      () =>
        `every record processed; missing ${missing(want, seen()).slice(0, 20).join(" ")}...\n${describeKjs([a, b, c])}`,
    );
    await waitForCommitsAtLogEnd(groupId, topic, 10_000);
    for (const m of [a, b, c]) expect(m.crashes).toEqual([]);

    await b.consumer.disconnect();
    await c.consumer.disconnect();

    // A new instance in the same group resumes from the commits: it sees exactly the new records.
    const before = await logEnds(topic);
    const d = await kjsMember(groupId, topic);
    await produce(topic, all6, 10, "e");
    const fresh = new Set([...(await everyRecord(topic))].filter((k) => !want.has(k)));
    expect(fresh.size).toBe(60);
    await waitFor(
      () => missing(fresh, d.seen).length === 0,
      20_000,
      () => `the restarted member to process the 60 new records\n${describeKjs([d])}`,
    );
    await waitForCommitsAtLogEnd(groupId, topic, 10_000);
    expect([...d.seen].filter((k) => !fresh.has(k))).toEqual([]);
    expect(d.values.every((v) => v.startsWith("e-"))).toBe(true);
    expect(d.values).toHaveLength(60);
    expect([...before.values()]).toEqual(all6.map(() => 200));
  }, 90_000);
});

describe("kcat -G balanced consumers", () => {
  it.each(["range", "cooperative-sticky"])(
    "%s: two kcat members split a 4-partition topic and print every record; each commits on a clean exit, and one leaving hands its partitions to the other",
    async (strategy) => {
      const topic = `grp-kcat-${strategy}`;
      const groupId = `g-kcat-${strategy}`;
      const assignor = ["-X", `partition.assignment.strategy=${strategy}`];
      await createTopic(topic, 4);
      const x = kcatMember(groupId, topic, assignor);
      const y = kcatMember(groupId, topic, assignor);
      const state = () => `x ${x.describe()}\ny ${y.describe()}`;
      await waitForSplit([x, y], 4, 30_000, state);
      // Written once both share the topic: records written before could all go to the first member
      // to join (and be committed by it) before the second one is given any partition.
      await produce(topic, [0, 1, 2, 3], 25, "k");
      const want = await everyRecord(topic);
      const seen = () => unionOf([x.seen, y.seen]);
      await waitFor(
        () => missing(want, seen()).length === 0,
        20_000,
        () => `every record printed; missing ${missing(want, seen()).slice(0, 20).join(" ")}\n${state()}`,
      );
      // Each printed only records of its own partitions, and a non-empty, disjoint share.
      const partitionsOf = (k: KcatMember) => new Set([...k.seen].map((s) => Number(s.split(":")[0])));
      expect(partitionsOf(x).size).toBeGreaterThan(0);
      expect(partitionsOf(y).size).toBeGreaterThan(0);
      expect(disjoint([partitionsOf(x), partitionsOf(y)])).toBe(true);
      expect(sorted(partitionsOf(x))).toEqual(sorted(x.assigned ?? []));
      expect(sorted(partitionsOf(y))).toEqual(sorted(y.assigned ?? []));
      const xPartitions = sorted(x.assigned ?? []);

      // x exits cleanly on SIGTERM: it commits its partitions' ends (on close, if the 5 s timer
      // has not already) and leaves the group, so y is given every partition.
      expect(await x.stop("SIGTERM"), state()).toEqual({ code: 0, signal: null });
      const ends = await logEnds(topic);
      const afterX = await committed(groupId, topic);
      for (const p of xPartitions) expect(afterX.get(p), `partition ${p}\n${state()}`).toBe(ends.get(p));
      await waitFor(
        () => y.assigned?.size === 4,
        20_000,
        () => `y to be given all 4 partitions\n${state()}`,
      );

      // y resumes x's partitions from x's commits: it prints the new records, none of x's old ones.
      await produce(topic, [0, 1, 2, 3], 10, "later");
      const all = await everyRecord(topic);
      const later = new Set([...all].filter((r) => !want.has(r)));
      await waitFor(
        () => missing(later, y.seen).length === 0,
        20_000,
        () => `y to print the later records; missing ${missing(later, y.seen).join(" ")}\n${state()}`,
      );
      expect([...y.seen].filter((r) => xPartitions.includes(Number(r.split(":")[0])) && want.has(r))).toEqual(
        [],
      );

      expect(await y.stop("SIGTERM"), state()).toEqual({ code: 0, signal: null });
      await waitForCommitsAtLogEnd(groupId, topic, 10_000);
    },
    60_000,
  );
});

describe("a mixed group: KafkaJS and kcat with the range assignor", () => {
  it.each([
    ["KafkaJS joins first (KafkaJS leads)", true],
    ["kcat joins first (librdkafka leads)", false],
  ])(
    "%s: the partitions split between them, every record consumed and committed",
    async (_, kjsFirst) => {
      const topic = `grp-mixed-${kjsFirst ? "k" : "l"}`;
      const groupId = `g-mixed-${kjsFirst ? "k" : "l"}`;
      await createTopic(topic, 4);
      await produce(topic, [0, 1, 2, 3], 25, "m");

      let j: KjsMember;
      let k: KcatMember;
      if (kjsFirst) {
        j = await kjsMember(groupId, topic, { partitionAssigners: [RangeAssigner] });
        k = kcatMember(groupId, topic);
      } else {
        k = kcatMember(groupId, topic);
        await waitFor(
          () => k.assigned !== null,
          20_000,
          () => `kcat to join alone\n${k.describe()}`,
        );
        j = await kjsMember(groupId, topic, { partitionAssigners: [RangeAssigner] });
      }
      const state = () => `${describeKjs([j])}\n${k.describe()}`;
      await waitForSplit([j, k], 4, 30_000, state);
      // Range over 4 partitions and 2 members: two contiguous partitions each.
      for (const s of [j.assigned, k.assigned]) {
        const ps = sorted(s ?? []);
        expect(ps, state()).toHaveLength(2);
        expect(ps[1] - ps[0], state()).toBe(1);
      }
      // DescribeGroups agrees: Stable, protocol "range", each member's assignment as it was told.
      await waitFor(
        async () => (await admin.describeGroups([groupId])).groups[0].state === "Stable",
        10_000,
        `group ${groupId} to be Stable`,
      );
      const [group] = (await admin.describeGroups([groupId])).groups;
      expect(group).toMatchObject({ errorCode: 0, protocolType: "consumer", protocol: "range" });
      expect(group.members.map((m) => m.clientId).sort()).toEqual(["rdkafka", "samsa-groups"]);
      for (const m of group.members) {
        const assignment = AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment ?? {};
        const mine = m.clientId === "rdkafka" ? k.assigned : j.assigned;
        expect(sorted(assignment[topic] ?? []), state()).toEqual(sorted(mine ?? []));
        expect(AssignerProtocol.MemberMetadata.decode(m.memberMetadata)?.topics).toEqual([topic]);
      }
      await produce(topic, [0, 1, 2, 3], 25, "n");
      const want = await everyRecord(topic);
      const seen = () => unionOf([j.seen, k.seen]);
      await waitFor(
        () => missing(want, seen()).length === 0,
        20_000,
        () => `every record consumed; missing ${missing(want, seen()).slice(0, 20).join(" ")}\n${state()}`,
      );
      expect(j.crashes).toEqual([]);
      expect(await k.stop("SIGTERM")).toEqual({ code: 0, signal: null });
      await waitForCommitsAtLogEnd(groupId, topic, 15_000);
    },
    60_000,
  );
  it("no protocol in common (KafkaJS's RoundRobinAssigner, kcat's range): kcat is refused with INCONSISTENT_GROUP_PROTOCOL, the KafkaJS member is undisturbed", async () => {
    const topic = "grp-inconsistent";
    const groupId = "g-inconsistent";
    await createTopic(topic, 2);
    const j = await kjsMember(groupId, topic);
    await waitFor(
      () => j.assigned?.size === 2,
      20_000,
      () => `KafkaJS to join alone\n${describeKjs([j])}`,
    );
    const joins = j.joins;
    const k = kcatMember(groupId, topic);
    await waitFor(
      () => k.exit !== null,
      20_000,
      () => `kcat to give up\n${k.describe()}`,
    );
    expect(k.exit, k.describe()).toEqual({ code: 1, signal: null });
    expect(k.stderr).toContain("Inconsistent group protocol");
    const [group] = (await admin.describeGroups([groupId])).groups;
    expect(group).toMatchObject({ state: "Stable", protocol: "RoundRobinAssigner" });
    expect(group.members.map((m) => m.clientId)).toEqual(["samsa-groups"]);
    expect(j.joins).toBe(joins);
  }, 30_000);
});

describe("session timeout with real clients", () => {
  it("a kcat member killed with SIGKILL: after its session timeout its partitions go to the KafkaJS member, which consumes what is produced to them", async () => {
    const topic = "grp-expire";
    const groupId = "g-expire";
    await createTopic(topic, 4);
    await produce(topic, [0, 1, 2, 3], 10, "p");
    // When the broker last accepted each member's heartbeat (a spy: the broker is in this process).
    // Each restarts the member's session timer, so no member goes sooner than 2 s after its last.
    const heardAt = new Map<string, number>();
    const groups = tb.broker.groups;
    const heartbeat = groups.heartbeat.bind(groups);
    groups.heartbeat = (group, generation, memberId, instanceId) => {
      const at = Date.now();
      const error = heartbeat(group, generation, memberId, instanceId);
      if (group === groupId && error === null) heardAt.set(memberId, at);
      return error;
    };
    onTestFinished(() => {
      groups.heartbeat = heartbeat;
    });

    const j = await kjsMember(groupId, topic, { partitionAssigners: [RangeAssigner] });
    const k = kcatMember(groupId, topic, ["-X", "session.timeout.ms=2000"]);
    const state = () => `${describeKjs([j])}\n${k.describe()}`;
    await waitForSplit([j, k], 4, 30_000, state);
    const kcatPartitions = sorted(k.assigned ?? []);
    const joinsBefore = j.joins;
    const membersBefore = [...(groups.group(groupId)?.members.keys() ?? [])];
    await waitFor(() => membersBefore.every((m) => heardAt.has(m)), 20_000, "a heartbeat from each member");

    expect(await k.stop("SIGKILL")).toEqual({ code: null, signal: "SIGKILL" });
    // No LeaveGroup: only the session timeout (2 s) removes the member.
    await waitFor(
      () => j.joins > joinsBefore && j.assigned?.size === 4,
      20_000,
      () => `the KafkaJS member to be given all 4 partitions\n${state()}`,
    );
    // The broker did not move the partitions on the kill itself: kcat's member left a session
    // timeout after its last heartbeat, however long before the kill that was on a loaded machine
    // (half of it here, leaving room for a slow event loop around the timer).
    const membersAfter = new Set(groups.group(groupId)?.members.keys());
    const gone = membersBefore.filter((m) => !membersAfter.has(m));
    expect(gone).toHaveLength(1);
    expect(Date.now() - heardAt.get(gone[0])!).toBeGreaterThanOrEqual(1000);

    const seenBefore = new Set(j.seen);
    await produce(topic, kcatPartitions, 10, "after");
    const ends = await logEnds(topic);
    const fresh = new Set(
      kcatPartitions.flatMap((p) => Array.from({ length: 10 }, (_, i) => `${p}:${ends.get(p)! - 10 + i}`)),
    );
    await waitFor(
      () => missing(fresh, j.seen).length === 0,
      20_000,
      () =>
        `KafkaJS to consume the records produced to kcat's old partitions ${JSON.stringify(kcatPartitions)}\n${state()}`,
    );
    expect(j.values.filter((v) => v.startsWith("after-")).sort()).toEqual(
      kcatPartitions.flatMap((p) => Array.from({ length: 10 }, (_, i) => `after-${p}-${i}`)).sort(),
    );
    expect(seenBefore.size).toBeGreaterThan(0);
    await waitForCommitsAtLogEnd(groupId, topic, 10_000);
  }, 60_000);
  it("a static kcat member (group.instance.id) killed and restarted within its session timeout gets its partitions back without a rebalance", async () => {
    const topic = "grp-static";
    const groupId = "g-static";
    await createTopic(topic, 4);

    const j = await kjsMember(groupId, topic, { partitionAssigners: [RangeAssigner] });
    await waitFor(
      () => j.assigned?.size === 4,
      20_000,
      () => `KafkaJS to join alone\n${describeKjs([j])}`,
    );
    const staticArgs = ["-X", "group.instance.id=kcat-static-1", "-X", "session.timeout.ms=6000"];
    const k1 = kcatMember(groupId, topic, staticArgs);
    let state = () => `${describeKjs([j])}\nk1 ${k1.describe()}`;
    await waitForSplit([j, k1], 4, 30_000, state);
    const kcatPartitions = sorted(k1.assigned ?? []);
    const jPartitions = sorted(j.assigned ?? []);
    const joinsBefore = j.joins;
    await produce(topic, [0, 1, 2, 3], 10, "s");
    await waitFor(
      () =>
        missing(
          new Set(kcatPartitions.flatMap((p) => Array.from({ length: 10 }, (_, i) => `${p}:${i}`))),
          k1.seen,
        ).length === 0,
      20_000,
      () => `k1 to print its partitions' records\n${state()}`,
    );

    expect(await k1.stop("SIGKILL")).toEqual({ code: null, signal: "SIGKILL" });
    const k2 = kcatMember(groupId, topic, staticArgs);
    state = () => `${describeKjs([j])}\nk1 ${k1.describe()}\nk2 ${k2.describe()}`;
    await waitFor(
      () => k2.assigned !== null && k2.assigned.size > 0,
      20_000,
      () => `k2 to be assigned\n${state()}`,
    );
    expect(sorted(k2.assigned ?? []), state()).toEqual(kcatPartitions);

    // k2 continues from k1's commits and consumes new records; the KafkaJS member never rejoined.
    await produce(topic, kcatPartitions, 5, "static");
    const ends = await logEnds(topic);
    const fresh = new Set(
      kcatPartitions.flatMap((p) => Array.from({ length: 5 }, (_, i) => `${p}:${ends.get(p)! - 5 + i}`)),
    );
    await waitFor(
      () => missing(fresh, k2.seen).length === 0,
      20_000,
      () => `k2 to print the new records\n${state()}`,
    );
    expect(j.joins, state()).toBe(joinsBefore);
    expect(sorted(j.assigned ?? [])).toEqual(jPartitions);
    const [group] = (await admin.describeGroups([groupId])).groups;
    expect(group.state).toBe("Stable");
    expect(group.members).toHaveLength(2);
  }, 60_000);
  it("a KafkaJS member stuck in eachMessage past its session timeout is fenced: kcat takes its partitions, and its late commit does not move the group's offsets back", async () => {
    const topic = "grp-stuck";
    const groupId = "g-stuck";
    await createTopic(topic, 2);
    let release = () => {};
    const released = new Promise<void>((r) => {
      release = r;
    });
    let stuckAt: string | null = null;
    let lateCommit: string | null = null;
    const j: KjsMember = await kjsMember(
      groupId,
      topic,
      {
        partitionAssigners: [RangeAssigner],
        sessionTimeout: 2000,
        retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 500 },
      },
      async (partition, offset) => {
        if (stuckAt !== null) return;
        stuckAt = `${partition}:${offset}`;
        await released;
        // Still inside eachMessage, so KafkaJS has not rejoined: it commits with the member id
        // and generation the coordinator has since expired.
        lateCommit = await j.consumer
          .commitOffsets([{ topic, partition, offset: String(Number(offset) + 1) }])
          .then(
            () => "accepted",
            (e: { type?: string; cause?: { type?: string } }) => e.cause?.type ?? e.type ?? String(e),
          );
      },
    );
    await waitFor(
      () => j.assigned?.size === 2,
      20_000,
      () => `KafkaJS to join alone\n${describeKjs([j])}`,
    );
    const k = kcatMember(groupId, topic);
    const state = () => `${describeKjs([j])}\n${k.describe()}; stuck at ${stuckAt}`;
    await waitForSplit([j, k], 2, 30_000, state);
    const joinsAtSplit = j.joins;
    const fencedMemberId = j.memberId;
    await produce(topic, [0, 1], 20, "s");
    await waitFor(
      () => stuckAt !== null,
      20_000,
      () => `KafkaJS to get stuck on its first record\n${state()}`,
    );

    // No heartbeat from the stuck member: after 2 s kcat is given both partitions, prints every
    // record (the stuck one included: nothing was committed) and commits the log ends.
    await waitFor(
      () => k.assigned?.size === 2,
      20_000,
      () => `kcat to be given both partitions\n${state()}`,
    );
    const want = await everyRecord(topic);
    await waitFor(
      () => missing(want, k.seen).length === 0,
      20_000,
      () => `kcat to print every record; missing ${missing(want, k.seen).join(" ")}\n${state()}`,
    );
    // (kcat commits every 5 s.)
    await waitForCommitsAtLogEnd(groupId, topic, 20_000);

    // The stuck member commits its record with its old generation and member id: refused. It
    // rejoins; nothing moved the group's offsets back from the log ends.
    release();
    await waitFor(
      () => lateCommit !== null,
      10_000,
      () => `the stale commit to be answered\n${state()}`,
    );
    expect(lateCommit).toBe("UNKNOWN_MEMBER_ID");
    await waitFor(
      () => j.joins > joinsAtSplit && (j.assigned?.size ?? 0) > 0 && k.assigned?.size === 1,
      20_000,
      () => `the fenced KafkaJS member to rejoin and get a share\n${state()}`,
    );
    expect(j.seen.size, state()).toBe(1);
    const [stuckPartition, stuckOffset] = (stuckAt ?? "").split(":").map(Number);
    const lateCommits = commitsSeen.filter(
      (c) =>
        c.groupId === groupId &&
        c.memberId === fencedMemberId &&
        c.partitions.some((p) => p.partition === stuckPartition && p.offset === stuckOffset + 1),
    );
    expect(
      lateCommits.length,
      JSON.stringify(commitsSeen.filter((c) => c.groupId === groupId)),
    ).toBeGreaterThan(0);
    for (const c of lateCommits)
      for (const p of c.partitions) expect(p.error, JSON.stringify(c)).toBe("UNKNOWN_MEMBER_ID");
    await produce(topic, [0, 1], 5, "t");
    const all = await everyRecord(topic);
    const later = new Set([...all].filter((r) => !want.has(r)));
    await waitFor(
      () => missing(later, unionOf([j.seen, k.seen])).length === 0,
      20_000,
      () => `the later records to be consumed\n${state()}`,
    );
    expect(await k.stop("SIGTERM"), state()).toEqual({ code: 0, signal: null });
    await waitForCommitsAtLogEnd(groupId, topic, 15_000);
    // From the log ends on, nothing was re-read by the rejoined member.
    const reread = [...j.seen].filter((r) => want.has(r) && r !== stuckAt);
    expect(reread, state()).toEqual([]);
  }, 60_000);
});

describe("broker restart", () => {
  it("a kcat member rides out a broker restart: the group and its commits are reloaded from __consumer_offsets, and kcat continues in the same generation", async () => {
    const flags = {
      "num.partitions": 2,
      "group.initial.rebalance.delay.ms": 0,
      "group.min.session.timeout.ms": 1000,
    };
    let own = await startTestBroker(flags);
    const port = own.port;
    const dataDir = own.dataDir;
    const connect = async () => {
      const client = new Kafka({
        clientId: "samsa-groups-restart",
        brokers: [`127.0.0.1:${port}`],
        logLevel: logLevel.NOTHING,
        connectionTimeout: 3000,
        requestTimeout: 10_000,
      });
      const a = client.admin();
      const p = client.producer({ allowAutoTopicCreation: false });
      await a.connect();
      await p.connect();
      return { a, p };
    };
    let { a, p } = await connect();
    try {
      const topic = "grp-restart";
      const groupId = "g-restart";
      await a.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 2 }] });
      await p.send({
        topic,
        acks: -1,
        messages: [0, 1].map((partition) => ({ partition, value: "before" })),
      });

      // -E: do not exit while every broker is down; reconnect quickly.
      const k = new KcatMember(port, groupId, topic, ["-E", "-X", "reconnect.backoff.max.ms=200"]);
      kcats.push(k);
      await waitFor(
        () => k.seen.size === 2,
        20_000,
        () => `kcat to print both records\n${k.describe()}`,
      );
      const assignedLines = () =>
        k.stderr.split("\n").filter((l) => /rebalanced .*: assigned:/.test(l)).length;
      expect(assignedLines()).toBe(1);
      // Its 5 s auto-commit timer commits both.
      let committedBefore = "";
      await waitFor(
        async () => {
          const [t] = await a.fetchOffsets({ groupId, topics: [topic] });
          committedBefore = JSON.stringify(t.partitions.map((x) => [x.partition, x.offset]));
          return t.partitions.every((x) => x.offset === "1");
        },
        20_000,
        () => `kcat's commits before the restart: ${committedBefore}\n${k.describe()}`,
      );
      const [before] = (await a.describeGroups([groupId])).groups;

      await p.disconnect();
      await a.disconnect();
      await own.stop(true);
      own = await startTestBroker({ ...flags, "kafka.port": port }, dataDir);
      ({ a, p } = await connect());

      // Reloaded: the same commits, the same Stable group with kcat's member id.
      const [t] = await a.fetchOffsets({ groupId, topics: [topic] });
      expect(t.partitions.map((x) => x.offset)).toEqual(["1", "1"]);
      const [after] = (await a.describeGroups([groupId])).groups;
      expect(after.state).toBe("Stable");
      expect(after.members.map((m) => m.memberId)).toEqual(before.members.map((m) => m.memberId));

      // kcat reconnects and prints what is produced next, from the commits on, without rejoining.
      await p.send({ topic, acks: -1, messages: [0, 1].map((partition) => ({ partition, value: "after" })) });
      await waitFor(
        () => k.seen.has("0:1") && k.seen.has("1:1"),
        20_000,
        () => `kcat to print the records produced after the restart\n${k.describe()}`,
      );
      expect(k.values.sort()).toEqual(["after", "after", "before", "before"]);
      expect(assignedLines(), k.describe()).toBe(1);
      expect(await k.stop("SIGTERM"), k.describe()).toEqual({ code: 0, signal: null });
      const [end] = await a.fetchOffsets({ groupId, topics: [topic] });
      expect(end.partitions.map((x) => x.offset)).toEqual(["2", "2"]);
    } finally {
      await p.disconnect().catch(() => {});
      await a.disconnect().catch(() => {});
      await own.stop();
    }
  }, 60_000);
});
