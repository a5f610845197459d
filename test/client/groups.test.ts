/**
 * Consumer groups against a real in-process broker: membership, rebalances (eager and
 * cooperative), commits, session and poll timeouts, static membership, and the Admin group calls.
 * Every wait is bounded (`until`) and no assertion depends on how fast the machine is: tests wait
 * for states, not for durations.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  Admin,
  type ClusterOptions,
  Consumer,
  type ConsumerOptions,
  type ConsumerRecord,
  Producer,
  type RebalanceListener,
  type TopicPartition,
} from "../../client/index.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { failOnProcessErrors } from "../helpers/process-errors.js";

failOnProcessErrors();

let tb: TestBroker | null = null;
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c().catch(() => {});
  await tb?.stop();
  tb = null;
});

/** Session timeouts as low as 500 ms and no wait before a new group's first rebalance. */
async function setup(flags: Record<string, unknown> = {}) {
  tb = await startTestBroker({
    "group.initial.rebalance.delay.ms": 0,
    "group.min.session.timeout.ms": 500,
    ...flags,
  });
  const brokers = [`127.0.0.1:${tb.port}`];
  const admin = new Admin({ brokers });
  closers.push(() => admin.close());
  return { brokers, admin };
}

/** A group consumer with quick heartbeats and commits, tracked for closing. */
function member(
  brokers: string[],
  options: ConsumerOptions & Omit<ClusterOptions, "brokers"> = {},
): Consumer {
  const c = new Consumer({
    brokers,
    groupId: "g",
    autoOffsetReset: "earliest",
    heartbeatIntervalMs: 100,
    sessionTimeoutMs: 3000,
    autoCommitIntervalMs: 200,
    maxWaitMs: 100,
    ...options,
  });
  closers.push(() => c.close());
  return c;
}

/** Waits until `cond` holds, checking every 20 ms; fails after `timeoutMs` saying what it waited for. */
async function until(
  cond: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function produce(brokers: string[], topic: string, count: number, from = 0): Promise<void> {
  const producer = new Producer({ brokers }, { lingerMs: 2 });
  await Promise.all(
    Array.from({ length: count }, (_, i) =>
      producer.send({ topic, key: `k${from + i}`, value: `v${from + i}` }),
    ),
  );
  await producer.close();
}

const key = (r: { topic: string; partition: number; offset: number }) =>
  `${r.topic}/${r.partition}/${r.offset}`;
const names = (list: TopicPartition[]) => list.map((p) => `${p.topic}-${p.partition}`).sort();

/** Runs `c` with eachMessage, recording what it got; `slow` may delay a record's handling. */
function consume(c: Consumer, got: ConsumerRecord[], slow?: (r: ConsumerRecord) => Promise<void> | void) {
  const done = c.run({
    eachMessage: async (r) => {
      if (slow) await slow(r);
      got.push(r);
    },
  });
  closers.push(async () => {
    await c.stop();
    await done.catch(() => {});
  });
  return done;
}

describe("consumer groups", () => {
  it("two members share a topic; every record is consumed exactly once", async () => {
    const { brokers, admin } = await setup();
    await admin.createTopics([{ name: "t", partitions: 4 }]);
    const a = member(brokers);
    const b = member(brokers);
    const gotA: ConsumerRecord[] = [];
    const gotB: ConsumerRecord[] = [];
    a.subscribe(["t"]);
    consume(a, gotA);
    await until(() => a.assignment().length === 4, "a alone to own all 4 partitions");
    await produce(brokers, "t", 100);
    await until(() => gotA.length >= 20, "a to read before b joins");
    b.subscribe(["t"]);
    consume(b, gotB);
    await until(
      () => a.assignment().length === 2 && b.assignment().length === 2 && a.generationId === b.generationId,
      "2 + 2 partitions in one generation",
    );
    expect(names([...a.assignment(), ...b.assignment()])).toEqual(["t-0", "t-1", "t-2", "t-3"]);
    await produce(brokers, "t", 100, 100);
    await until(() => gotA.length + gotB.length >= 200, "200 records");
    // Orderly rebalances commit on revoke: nothing is read twice.
    const all = [...gotA, ...gotB].map(key);
    expect(new Set(all).size).toBe(all.length);
    expect(all).toHaveLength(200);
    const bParts = new Set(names(b.assignment()));
    expect(gotB.every((r) => bParts.has(`${r.topic}-${r.partition}`))).toBe(true);
    expect(gotB.length).toBeGreaterThan(0);
  });

  it("reassigns when a third member joins and when one leaves", async () => {
    const { brokers, admin } = await setup();
    await admin.createTopics([{ name: "t", partitions: 4 }]);
    const got: ConsumerRecord[] = [];
    const consumers = [member(brokers), member(brokers)];
    for (const c of consumers) {
      c.subscribe(["t"]);
      consume(c, got);
    }
    const settled = (list: Consumer[], sizes: number[]) =>
      list.every((c) => c.generationId === list[0].generationId && c.generationId >= 0) &&
      list
        .map((c) => c.assignment().length)
        .sort()
        .join() === sizes.join();
    await until(() => settled(consumers, [2, 2]), "two members with 2 partitions each");
    await produce(brokers, "t", 60);

    const third = member(brokers);
    third.subscribe(["t"]);
    consume(third, got);
    await until(() => settled([...consumers, third], [1, 1, 2]), "three members sharing 4 partitions");
    const described = (await admin.describeGroups(["g"]))[0];
    expect(described.state).toBe("Stable");
    expect(described.protocol).toBe("range");
    expect(described.members).toHaveLength(3);
    expect(names(described.members.flatMap((m) => m.assignment))).toEqual(["t-0", "t-1", "t-2", "t-3"]);
    expect(described.members.every((m) => m.topics.join() === "t")).toBe(true);
    await produce(brokers, "t", 60, 60);

    await consumers[0].close();
    await until(() => settled([consumers[1], third], [2, 2]), "two members left with 2 partitions each");
    await produce(brokers, "t", 60, 120);
    await until(() => new Set(got.map(key)).size >= 180, "180 records");
    const all = got.map(key);
    expect(new Set(all).size).toBe(180);
    expect(all).toHaveLength(180);
  });

  it("a restarted consumer resumes from its committed offsets", async () => {
    const { brokers, admin } = await setup();
    await admin.createTopics([{ name: "t", partitions: 2 }]);
    await produce(brokers, "t", 100);
    const first = member(brokers);
    first.subscribe(["t"]);
    const got: ConsumerRecord[] = [];
    for await (const r of first) {
      got.push(r);
      if (got.length === 30) break;
    }
    await first.close();
    const committed = await admin.fetchOffsets("g", ["t"]);
    // close() committed the offset after the last record the loop body finished, per partition.
    for (const c of committed) {
      const mine = got.filter((r) => r.partition === c.partition);
      expect(c.offset).toBe(mine.length === 0 ? -1 : Math.max(...mine.map((r) => r.offset)) + 1);
    }
    const second = member(brokers);
    second.subscribe(["t"]);
    const rest: ConsumerRecord[] = [];
    consume(second, rest);
    await until(() => got.length + rest.length >= 100, "the other 70 records");
    const all = [...got, ...rest].map(key);
    expect(new Set(all).size).toBe(100);
    expect(all).toHaveLength(100);
  });

  it("removes a member that stops heartbeating after its session timeout", async () => {
    const { brokers, admin } = await setup();
    await admin.createTopics([{ name: "t", partitions: 4 }]);
    const doomed = member(brokers, { sessionTimeoutMs: 1000 });
    const survivor = member(brokers, { sessionTimeoutMs: 1000 });
    const revoked: TopicPartition[][] = [];
    doomed.subscribe(["t"]);
    survivor.subscribe(["t"], { onPartitionsRevoked: (p) => void revoked.push(p) });
    await until(
      () => doomed.assignment().length === 2 && survivor.assignment().length === 2,
      "2 + 2 partitions",
    );
    const generation = survivor.generationId;
    // A crash as the coordinator sees it: the member goes silent without leaving. (Reaching into
    // the member is the only way to silence it without also closing its connection.)
    (doomed as unknown as { member: { stopHeartbeats(): void; closed: boolean } }).member.stopHeartbeats();
    (doomed as unknown as { member: { closed: boolean } }).member.closed = true;
    await until(
      () => survivor.assignment().length === 4 && survivor.generationId > generation,
      "the survivor to own all 4 partitions",
    );
    expect((await admin.describeGroups(["g"]))[0].members.map((m) => m.memberId)).toEqual([
      survivor.memberId,
    ]);
  });

  it("a member that comes back after its session expired finds its partitions lost and rejoins", async () => {
    const { brokers, admin } = await setup();
    await admin.createTopics([{ name: "t", partitions: 4 }]);
    const events: string[] = [];
    // No auto-commit: only the heartbeat may tell this member it was dropped.
    const away = member(brokers, { sessionTimeoutMs: 1000, autoCommit: false });
    const other = member(brokers, { sessionTimeoutMs: 1000 });
    away.subscribe(["t"], {
      onPartitionsRevoked: (p) => void events.push(`revoked ${names(p)}`),
      onPartitionsLost: (p) => void events.push(`lost ${names(p)}`),
    });
    other.subscribe(["t"]);
    await until(() => away.assignment().length === 2 && other.assignment().length === 2, "2 + 2 partitions");
    const lostPartitions = names(away.assignment());
    const inside = (away as unknown as { member: { stopHeartbeats(): void; startHeartbeats(): void } })
      .member;
    inside.stopHeartbeats();
    await until(() => other.assignment().length === 4, "the other member to own all 4");
    // Back: the next heartbeat (or commit) hears UNKNOWN_MEMBER_ID; the partitions are lost, not
    // revoked (no commit), and the member joins again.
    inside.startHeartbeats();
    await until(
      () =>
        away.assignment().length === 2 &&
        other.assignment().length === 2 &&
        away.generationId === other.generationId,
      "2 + 2 partitions again",
    );
    expect(events[0]).toBe(`lost ${lostPartitions}`);
    expect(events.some((e) => e.startsWith("revoked"))).toBe(false);
  });

  it("a member rides out a coordinator restart", async () => {
    const { brokers, admin } = await setup();
    await admin.createTopics([{ name: "t", partitions: 2 }]);
    const c = member(brokers, {
      sessionTimeoutMs: 10_000,
      retry: { initialBackoffMs: 50, maxBackoffMs: 500 },
    });
    const got: ConsumerRecord[] = [];
    c.subscribe(["t"]);
    consume(c, got);
    await produce(brokers, "t", 20);
    await until(() => got.length === 20, "20 records");
    await until(
      async () => (await admin.fetchOffsets("g", ["t"])).reduce((n, o) => n + o.offset, 0) === 20,
      "the commit",
    );
    const port = tb!.port;
    const dataDir = tb!.dataDir;
    await tb!.stop(true);
    await new Promise((r) => setTimeout(r, 300));
    tb = await startTestBroker(
      { "kafka.port": port, "group.initial.rebalance.delay.ms": 0, "group.min.session.timeout.ms": 500 },
      dataDir,
    );
    await produce(brokers, "t", 20, 20);
    await until(() => got.length >= 40, "the 20 records written after the restart");
    expect(new Set(got.map(key)).size).toBe(40);
    expect(got).toHaveLength(40);
    const [described] = await admin.describeGroups(["g"]);
    expect(described.members.map((m) => m.memberId)).toEqual([c.memberId]);
  });

  it("a handler slower than the session timeout (within maxPollIntervalMs) causes no rebalance", async () => {
    const { brokers, admin } = await setup();
    await admin.createTopics([{ name: "t", partitions: 2 }]);
    const c = member(brokers, { sessionTimeoutMs: 1000, maxPollIntervalMs: 60_000 });
    const events: string[] = [];
    const listener: RebalanceListener = {
      onPartitionsAssigned: (p) => void events.push(`assigned ${names(p)}`),
      onPartitionsRevoked: (p) => void events.push(`revoked ${names(p)}`),
      onPartitionsLost: (p) => void events.push(`lost ${names(p)}`),
    };
    c.subscribe(["t"], listener);
    await until(() => c.assignment().length === 2, "the assignment");
    const generation = c.generationId;
    await produce(brokers, "t", 3);
    const got: ConsumerRecord[] = [];
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let entered = false;
    consume(c, got, async (r) => {
      if (r.offset === 0 && !entered) {
        entered = true;
        await released;
      }
    });
    await until(() => entered, "the handler to start");
    // Three session timeouts pass inside the handler, as seen by heartbeats that keep succeeding.
    const describe = async () => (await admin.describeGroups(["g"]))[0];
    const start = Date.now();
    await until(
      async () => Date.now() - start > 3000 && (await describe()).state === "Stable",
      "3 s of handling",
      30_000,
    );
    release();
    await until(() => got.length === 3, "all three records");
    expect(c.generationId).toBe(generation);
    expect(events).toEqual(["assigned t-0,t-1"]);
    expect((await describe()).members.map((m) => m.memberId)).toEqual([c.memberId]);
  });

  it("a handler slower than maxPollIntervalMs leaves the group and rejoins when it returns", async () => {
    const { brokers, admin } = await setup();
    await admin.createTopics([{ name: "t", partitions: 2 }]);
    const slow = member(brokers, { maxPollIntervalMs: 1000, sessionTimeoutMs: 10_000 });
    const other = member(brokers, { maxPollIntervalMs: 30_000, sessionTimeoutMs: 10_000 });
    const slowEvents: string[] = [];
    slow.subscribe(["t"], {
      onPartitionsRevoked: (p) => void slowEvents.push(`revoked ${names(p)}`),
      onPartitionsLost: (p) => void slowEvents.push(`lost ${names(p)}`),
    });
    other.subscribe(["t"]);
    await until(() => slow.assignment().length === 1 && other.assignment().length === 1, "1 + 1 partitions");
    const slowPartition = slow.assignment()[0].partition;
    const gotSlow: ConsumerRecord[] = [];
    const gotOther: ConsumerRecord[] = [];
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let stuck: ConsumerRecord | null = null;
    consume(slow, gotSlow, async (r) => {
      if (!stuck) {
        stuck = r;
        await released;
      }
    });
    consume(other, gotOther);
    await produce(brokers, "t", 20);
    await until(() => stuck !== null, "the slow handler to start");
    // The slow member left: the other one takes both partitions, and reads the stuck record too
    // (it was never committed).
    await until(() => other.assignment().length === 2, "the other member to own both partitions");
    expect((await admin.describeGroups(["g"]))[0].members.map((m) => m.memberId)).toEqual([other.memberId]);
    await until(
      () => gotOther.some((r) => r.partition === slowPartition && r.offset === stuck!.offset),
      "the other member to read the stuck record",
    );
    release();
    await until(
      () =>
        slow.assignment().length === 1 &&
        other.assignment().length === 1 &&
        slow.generationId === other.generationId,
      "the slow member back in the group",
    );
    expect(slowEvents).toEqual([`lost t-${slowPartition}`]);
  });

  it("cooperative-sticky: members keep their partitions through incremental rebalances", async () => {
    const { brokers, admin } = await setup();
    await admin.createTopics([{ name: "t", partitions: 6 }]);
    const options: ConsumerOptions = { partitionAssignors: ["cooperative-sticky"] };
    const log = new Map<string, string[]>();
    const listen = (name: string): RebalanceListener => {
      log.set(name, []);
      return {
        onPartitionsAssigned: (p) => void log.get(name)!.push(`+${names(p).join(",")}`),
        onPartitionsRevoked: (p) => void log.get(name)!.push(`-${names(p).join(",")}`),
        onPartitionsLost: (p) => void log.get(name)!.push(`lost ${names(p).join(",")}`),
      };
    };
    const got: ConsumerRecord[] = [];
    const a = member(brokers, options);
    a.subscribe(["t"], listen("a"));
    consume(a, got);
    await until(() => a.assignment().length === 6, "a to own all 6");
    await produce(brokers, "t", 60);
    await until(() => got.length >= 10, "a to read");

    // a never drops below the 3 partitions it keeps while b joins.
    let aMin = 6;
    const watch = setInterval(() => (aMin = Math.min(aMin, a.assignment().length)), 5);
    const b = member(brokers, options);
    b.subscribe(["t"], listen("b"));
    consume(b, got);
    await until(
      () => a.assignment().length === 3 && b.assignment().length === 3 && a.generationId === b.generationId,
      "3 + 3 partitions",
    );
    clearInterval(watch);
    expect(aMin).toBe(3);
    // a revoked exactly the 3 that moved; b got them in the follow-up rebalance.
    const aLog = log.get("a")!;
    expect(aLog[0]).toBe("+t-0,t-1,t-2,t-3,t-4,t-5");
    const revoked = aLog.filter((e) => e.startsWith("-"));
    expect(revoked).toHaveLength(1);
    expect(revoked[0].slice(1).split(",").sort()).toEqual(names(b.assignment()));
    expect(log.get("b")!.filter((e) => e !== "+")).toEqual([`+${names(b.assignment()).join(",")}`]);
    expect((await admin.describeGroups(["g"]))[0].protocol).toBe("cooperative-sticky");

    await produce(brokers, "t", 60, 60);
    await until(() => new Set(got.map(key)).size >= 120, "120 records");
    expect(got).toHaveLength(120);

    // b leaves: a takes its partitions back without giving any up.
    const aBefore = names(a.assignment());
    await b.close();
    await until(() => a.assignment().length === 6, "a to own all 6 again");
    expect(names(a.assignment()).filter((p) => aBefore.includes(p))).toEqual(aBefore);
    expect(log.get("a")!.filter((e) => e.startsWith("-"))).toHaveLength(1);
  });

  it("an eager rebalance waits for the running handler, commits its record, then reassigns", async () => {
    const { brokers, admin } = await setup();
    await admin.createTopics([{ name: "t", partitions: 2 }]);
    await produce(brokers, "t", 20);
    const a = member(brokers);
    const got: ConsumerRecord[] = [];
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let held: ConsumerRecord | null = null;
    const aEvents: string[] = [];
    a.subscribe(["t"], { onPartitionsRevoked: (p) => void aEvents.push(`revoked ${names(p)}`) });
    consume(a, got, async (r) => {
      if (got.length === 5 && !held) {
        held = r;
        await released;
      }
    });
    await until(() => held !== null, "a to hold a record in its handler");
    const b = member(brokers);
    b.subscribe(["t"]);
    consume(b, got);
    const state = async () => (await admin.describeGroups(["g"]))[0].state;
    await until(async () => (await state()) === "PreparingRebalance", "the rebalance to start");
    // Ten heartbeat intervals: long enough for a to hear of the rebalance. However slow the
    // machine, a correct member does nothing until its handler returns: a has not revoked
    // anything, and b has nothing yet.
    await new Promise((r) => setTimeout(r, 1000));
    expect(aEvents).toEqual([]);
    expect(b.assignment()).toEqual([]);
    release();
    await until(() => a.assignment().length === 1 && b.assignment().length === 1, "1 + 1 partitions");
    expect(aEvents).toEqual(["revoked t-0,t-1"]);
    await until(() => new Set(got.map(key)).size === 20, "all 20 records");
    expect(got.map(key).filter((k) => k === key(held!))).toHaveLength(1);
    expect(got).toHaveLength(20);
  });

  it("the leader notices partitions added to a subscribed topic and rebalances", async () => {
    const { brokers, admin } = await setup();
    await admin.createTopics([{ name: "t", partitions: 2 }]);
    const a = member(brokers, { metadataMaxAgeMs: 200 });
    const b = member(brokers, { metadataMaxAgeMs: 200 });
    a.subscribe(["t"]);
    b.subscribe(["t"]);
    await until(() => a.assignment().length === 1 && b.assignment().length === 1, "1 + 1 partitions");
    await admin.createPartitions("t", 6);
    await until(() => a.assignment().length === 3 && b.assignment().length === 3, "3 + 3 partitions");
  });

  it("joins a group over WebSocket", async () => {
    const { admin } = await setup();
    await admin.createTopics([{ name: "t", partitions: 2 }]);
    const ws = [`ws://127.0.0.1:${tb!.broker.httpPort}/kafka`];
    await produce([`127.0.0.1:${tb!.port}`], "t", 10);
    const c = member(ws);
    c.subscribe(["t"]);
    const got: ConsumerRecord[] = [];
    consume(c, got);
    await until(() => got.length === 10, "10 records over WebSocket");
    await c.close();
    expect((await admin.fetchOffsets("g", ["t"])).reduce((n, o) => n + o.offset, 0)).toBe(10);
  });

  /** Two static members, b joined last (so its stored subscription is a first join's, and a leads). */
  async function staticPair(brokers: string[]) {
    const staticOptions = (id: string): ConsumerOptions => ({
      groupInstanceId: id,
      sessionTimeoutMs: 20_000,
    });
    const events: string[] = [];
    const a = member(brokers, staticOptions("a"));
    a.subscribe(["t"], {
      onPartitionsAssigned: (p) => void events.push(`a+${names(p)}`),
      onPartitionsRevoked: (p) => void events.push(`a-${names(p)}`),
    });
    await until(() => a.assignment().length === 4, "a alone");
    const b = member(brokers, staticOptions("b"));
    b.subscribe(["t"]);
    await until(
      () => a.assignment().length === 2 && b.assignment().length === 2 && a.generationId === b.generationId,
      "2 + 2 partitions",
    );
    const isLeader = (c: Consumer) => (c as unknown as { member: { isLeader: boolean } }).member.isLeader;
    expect([isLeader(a), isLeader(b)]).toEqual([true, false]);
    return { a, b, events, staticOptions };
  }

  it("a static member that restarts within its session gets its partitions back without a rebalance", async () => {
    const { brokers, admin } = await setup();
    await admin.createTopics([{ name: "t", partitions: 4 }]);
    const { a, b, events, staticOptions } = await staticPair(brokers);
    const generation = a.generationId;
    const bPartitions = names(b.assignment());
    const eventsBefore = events.length;
    await b.close();
    // Static members do not leave on close: the group keeps b's place for its session.
    const [described] = await admin.describeGroups(["g"]);
    expect(described.members.map((m) => m.groupInstanceId).sort()).toEqual(["a", "b"]);
    const again = member(brokers, staticOptions("b"));
    again.subscribe(["t"]);
    await until(() => again.assignment().length === 2, "the restarted member's assignment");
    expect(names(again.assignment())).toEqual(bPartitions);
    expect(again.generationId).toBe(generation);
    expect(a.generationId).toBe(generation);
    expect(events.length).toBe(eventsBefore);
  });

  // Kafka's rule (doStaticNewMemberJoinGroup): a static member that rejoins a Stable group with a
  // new member id causes a rebalance only if the group's protocol would change, even when it is
  // the leader or its subscription bytes differ (ConsumerProtocolSubscription v2+ carries the
  // generation, so they always differ after the first rebalance).
  it("a restarted static leader (whose subscription changed) causes no rebalance", async () => {
    const { brokers, admin } = await setup();
    await admin.createTopics([{ name: "t", partitions: 4 }]);
    const { a, b, staticOptions } = await staticPair(brokers);
    const generation = b.generationId;
    const aPartitions = names(a.assignment());
    await a.close();
    const again = member(brokers, staticOptions("a"));
    again.subscribe(["t"]);
    await until(() => again.assignment().length === 2, "the restarted leader's assignment");
    expect(names(again.assignment())).toEqual(aPartitions);
    expect(b.generationId).toBe(generation);
    expect(again.generationId).toBe(generation);
  });

  it("a second consumer with the same group.instance.id fences the first, which stops (as Java's)", async () => {
    const { brokers, admin } = await setup();
    await admin.createTopics([{ name: "t", partitions: 4 }]);
    const { b, staticOptions } = await staticPair(brokers);
    const bPartitions = names(b.assignment());
    // b keeps running; a twin joins as "b" and takes its place.
    const twin = member(brokers, staticOptions("b"));
    twin.subscribe(["t"]);
    await until(() => twin.assignment().length === 2, "the twin's assignment");
    expect(names(twin.assignment())).toEqual(bPartitions);
    // The fenced member hears FENCED_INSTANCE_ID on its next heartbeat and fails its reads
    // instead of rejoining (which would fence the twin in turn).
    await expect(b.nextBatch(20_000)).rejects.toMatchObject({ code: "FENCED_INSTANCE_ID" });
    const [described] = await admin.describeGroups(["g"]);
    expect(described.members.map((m) => m.memberId)).toContain(twin.memberId);
    expect(described.members).toHaveLength(2);
  });

  it("subscribes by RegExp, commits explicitly, and starts from autoOffsetReset without a commit", async () => {
    const { brokers, admin } = await setup();
    await admin.createTopics([
      { name: "orders-eu", partitions: 1 },
      { name: "orders-us", partitions: 1 },
      { name: "audit", partitions: 1 },
    ]);
    await produce(brokers, "orders-eu", 5);
    await produce(brokers, "audit", 5);
    const c = member(brokers, { autoCommit: false, autoOffsetReset: "latest" });
    c.subscribe(/^orders-/);
    await until(() => c.assignment().length === 2, "both orders topics");
    expect(names(c.assignment())).toEqual(["orders-eu-0", "orders-us-0"]);
    // "latest": the 5 records written before are skipped.
    await produce(brokers, "orders-eu", 3, 5);
    const batch = await c.nextBatch(10_000);
    expect(batch?.records.map((r) => r.value?.toString())).toEqual(["v5", "v6", "v7"]);
    expect(await admin.fetchOffsets("g", ["orders-eu"])).toEqual(
      [{ topic: "orders-eu", partition: 0, offset: -1, metadata: null, leaderEpoch: -1 }].map((o) =>
        expect.objectContaining({ topic: o.topic, partition: o.partition, offset: o.offset }),
      ),
    );
    // commit() stores the position after the batch nextBatch() handed out.
    await c.commit();
    expect((await admin.fetchOffsets("g", ["orders-eu"]))[0].offset).toBe(8);
    await c.commit([{ topic: "orders-us", partition: 0, offset: 0, metadata: "m" }]);
    expect((await admin.fetchOffsets("g", ["orders-us"]))[0]).toMatchObject({ offset: 0, metadata: "m" });
  });
  it("raises a group error the member cannot recover from from the next read", async () => {
    const { brokers, admin } = await setup();
    await admin.createTopics([{ name: "t", partitions: 1 }]);
    const tooShort = member(brokers, { groupId: "short", sessionTimeoutMs: 100 });
    tooShort.subscribe(["t"]);
    await expect(tooShort.nextBatch(20_000)).rejects.toMatchObject({ code: "INVALID_SESSION_TIMEOUT" });

    const rangeOnly = member(brokers, { partitionAssignors: ["range"] });
    rangeOnly.subscribe(["t"]);
    await until(() => rangeOnly.assignment().length === 1, "the first member's assignment");
    const roundRobinOnly = member(brokers, { partitionAssignors: ["roundrobin"] });
    roundRobinOnly.subscribe(["t"]);
    await expect(roundRobinOnly.nextBatch(20_000)).rejects.toMatchObject({
      code: "INCONSISTENT_GROUP_PROTOCOL",
    });
    expect(rangeOnly.assignment()).toHaveLength(1);
  });

  it("refuses to mix assign() and subscribe(), and subscribe() without a groupId", async () => {
    const { brokers, admin } = await setup();
    await admin.createTopics([{ name: "t", partitions: 1 }]);
    const noGroup = new Consumer({ brokers });
    closers.push(() => noGroup.close());
    expect(() => noGroup.subscribe(["t"])).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    const assigned = member(brokers);
    await assigned.assign([{ topic: "t", partition: 0 }]);
    expect(() => assigned.subscribe(["t"])).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    const subscribed = member(brokers);
    subscribed.subscribe(["t"]);
    await expect(subscribed.assign([{ topic: "t", partition: 0 }])).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
  });
});

describe("Admin and groups", () => {
  it("lists, describes, commits to, deletes offsets of and deletes groups", async () => {
    const { brokers, admin } = await setup();
    await admin.createTopics([{ name: "t", partitions: 2 }]);
    await admin.commitOffsets("offline", [
      { topic: "t", partition: 0, offset: 5 },
      { topic: "t", partition: 1, offset: 7 },
    ]);
    expect((await admin.fetchOffsets("offline")).map((o) => [o.topic, o.partition, o.offset])).toEqual([
      ["t", 0, 5],
      ["t", 1, 7],
    ]);
    const c = member(brokers, { groupId: "live" });
    c.subscribe(["t"]);
    await until(() => c.assignment().length === 2, "the live member's assignment");
    const groups = await admin.listGroups();
    expect(groups.map((g) => g.groupId)).toEqual(expect.arrayContaining(["live", "offline"]));
    expect(groups.find((g) => g.groupId === "live")?.protocolType).toBe("consumer");
    const [live] = await admin.describeGroups(["live"]);
    expect(live).toMatchObject({
      groupId: "live",
      state: "Stable",
      protocolType: "consumer",
      protocol: "range",
    });
    expect(live.members).toEqual([
      expect.objectContaining({ memberId: c.memberId, topics: ["t"], assignment: c.assignment() }),
    ]);
    // A group with members refuses offsets from outside it, and cannot be deleted.
    await expect(
      admin.commitOffsets("live", [{ topic: "t", partition: 0, offset: 1 }]),
    ).rejects.toMatchObject({
      code: expect.stringMatching(/UNKNOWN_MEMBER_ID|ILLEGAL_GENERATION/),
    });
    await expect(admin.deleteGroups(["live"])).rejects.toMatchObject({ code: "NON_EMPTY_GROUP" });
    await admin.deleteOffsets("offline", "t", [1]);
    expect((await admin.fetchOffsets("offline", ["t"])).map((o) => o.offset)).toEqual([5, -1]);
    await admin.deleteGroups(["offline"]);
    expect((await admin.listGroups()).map((g) => g.groupId)).not.toContain("offline");
    await c.close();
    await until(async () => (await admin.describeGroups(["live"]))[0].state === "Empty", "live to be empty");
    await admin.deleteGroups(["live"]);
  });

  it("commits from assign() mode as a client outside the group", async () => {
    const { brokers, admin } = await setup();
    await admin.createTopics([{ name: "t", partitions: 1 }]);
    await produce(brokers, "t", 4);
    const c = new Consumer({ brokers, groupId: "manual" });
    closers.push(() => c.close());
    await c.assign([{ topic: "t", partition: 0, start: "earliest" }]);
    const got: ConsumerRecord[] = [];
    for await (const r of c) {
      got.push(r);
      if (got.length === 4) break;
    }
    await c.commit();
    expect((await admin.fetchOffsets("manual", ["t"]))[0].offset).toBe(4);
    expect(c.memberId).toBe("");
  });
});
