/**
 * Consumer-group benchmark (issue 5): an in-process broker (temporary data directory, ports 0,
 * flush.policy `always`) driven by the samsa client over TCP on 127.0.0.1.
 *
 *   rebalance  10 group members subscribe to a 20-partition topic with records in every
 *              partition: time from the first subscribe() to every member having received a
 *              record; then an 11th member joins, then it leaves (close(): commit, LeaveGroup),
 *              each timed until the group is settled (every member in one new generation, every
 *              member owns partitions, all 20 owned exactly once, unchanged for SETTLE_HOLD_MS).
 *              Repeated (default 3) with a new group each time, once per broker
 *              group.initial.rebalance.delay.ms (default 3000, Kafka's, and 0).
 *   commits    Consumer.commit([{ topic, partition, offset }]) of a subscribed member, awaited one
 *              after another: one member; 8 members of 8 groups at once (their offsets go to
 *              different __consumer_offsets partitions, so each commit has its own fdatasync); 8
 *              members of one group, each committing its own partition of an 8-partition topic
 *              (one offsets partition: their fdatasyncs can be shared, group commit). Each phase
 *              ends at 20,000 commits or 5 s. commits/s and latency percentiles.
 *   consume    2,000,000 records of 100 bytes in an 8-partition topic (Producer acks=1, linger
 *              20 ms, 512 KiB batches; the produce rate is reported too), then read to the end
 *              (a) by one assign-mode Consumer, (b) by 4 members of a new group in this process.
 *
 * Client settings are the defaults (heartbeatIntervalMs 3000, assignors range then
 * cooperative-sticky, so eager range) unless named here. MB is 10^6 bytes of record values.
 *
 *   node dist/bench/groups.js [--json] [--delays 3000,0] [--reps 3] [--records N]
 *                             [--heartbeat-ms N] [--scenarios rebalance,commits,consume] [--dir D]
 *
 * commits and consume run once, on the broker of the last --delays value (0 by default).
 */
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { Broker } from "../broker/broker.js";
import { loadBrokerConfig } from "../broker/config.js";
import { Admin } from "../client/admin.js";
import { Consumer, type ConsumerBatch } from "../client/consumer.js";
import { Producer } from "../client/producer.js";
import { optionsOrExit, runMain, scratchDir, table } from "./script.js";

const SCENARIOS = ["rebalance", "commits", "consume"] as const;
type Scenario = (typeof SCENARIOS)[number];

const REBALANCE_MEMBERS = 10;
const REBALANCE_PARTITIONS = 20;
const REBALANCE_RECORDS_PER_PARTITION = 100;
/** A settled group must stay unchanged this long (polled every POLL_MS). */
const SETTLE_HOLD_MS = 300;
const POLL_MS = 2;
/** Any one wait of the rebalance scenario fails after this. */
const REBALANCE_WAIT_MS = 60_000;

const COMMIT_MAX = 20_000;
const COMMIT_MAX_MS = 5_000;
const CONCURRENT_COMMITTERS = 8;
/** Partitions of the commit topic: one per member when the 8 committers share a group. */
const COMMIT_PARTITIONS = CONCURRENT_COMMITTERS;

const CONSUME_PARTITIONS = 8;
const CONSUME_MEMBERS = 4;
const VALUE_BYTES = 100;
/** Records sent and not yet acknowledged by the producer loop (bounds memory and waiters). */
const PRODUCE_WINDOW = 100_000;
const PRODUCE_MAX_MS = 120_000;
const CONSUME_MAX_MS = 120_000;

interface Options {
  json: boolean;
  delays: number[];
  reps: number;
  records: number;
  /** heartbeatIntervalMs of the rebalance scenario's members; null: the client's default. */
  heartbeatMs: number | null;
  scenarios: Scenario[];
  baseDir: string;
}

function usage(): string {
  return [
    "usage: node dist/bench/groups.js [--json] [--delays 3000,0] [--reps N] [--records N]",
    "                                 [--heartbeat-ms N] [--scenarios rebalance,commits,consume] [--dir DIR]",
    "  --json        one JSON object on stdout (no progress, no table)",
    "  --delays      group.initial.rebalance.delay.ms values; rebalance runs under each (default 3000,0)",
    "  --reps N      repetitions of the rebalance scenario per delay (default 3)",
    "  --records N   records produced for the consume scenario (default 2000000)",
    "  --heartbeat-ms N  heartbeatIntervalMs of the rebalance members (default: the client's, 3000)",
    `  --scenarios   subset of ${SCENARIOS.join(",")} (default all); commits and consume run on the last delay's broker`,
    `  --dir DIR     where a temporary data directory is made (default ${os.tmpdir()})`,
  ].join("\n");
}

function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: "boolean", default: false },
      delays: { type: "string", default: "3000,0" },
      reps: { type: "string", default: "3" },
      records: { type: "string", default: "2000000" },
      "heartbeat-ms": { type: "string" },
      scenarios: { type: "string", default: SCENARIOS.join(",") },
      dir: { type: "string", default: os.tmpdir() },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) return null;
  const delays = values.delays.split(",").map((s) => Number(s.trim()));
  if (delays.length === 0 || delays.some((d) => !Number.isSafeInteger(d) || d < 0))
    throw new Error("--delays must be non-negative integers");
  const reps = Number(values.reps);
  if (!Number.isSafeInteger(reps) || reps < 1) throw new Error("--reps must be a positive integer");
  const records = Number(values.records);
  if (!Number.isSafeInteger(records) || records < CONSUME_PARTITIONS)
    throw new Error(`--records must be an integer >= ${CONSUME_PARTITIONS}`);
  const heartbeatMs = values["heartbeat-ms"] === undefined ? null : Number(values["heartbeat-ms"]);
  if (heartbeatMs !== null && (!Number.isSafeInteger(heartbeatMs) || heartbeatMs < 1))
    throw new Error("--heartbeat-ms must be a positive integer");
  const wanted = new Set(values.scenarios.split(",").map((s) => s.trim()));
  for (const s of wanted)
    if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`unknown scenario ${s}`);
  return {
    json: values.json,
    delays,
    reps,
    records,
    heartbeatMs,
    scenarios: SCENARIOS.filter((s) => wanted.has(s)),
    baseDir: path.resolve(values.dir),
  };
}

// -----------------------------------------------------------------------------------------------
// Helpers

let quiet = false;

function progress(line: string): void {
  if (!quiet) process.stderr.write(`${line}\n`);
}

function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

const now = () => performance.now();
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Polls `cond` every POLL_MS until it holds; fails after `limitMs`. */
async function waitFor(what: string, limitMs: number, cond: () => boolean): Promise<void> {
  const deadline = now() + limitMs;
  while (!cond()) {
    if (now() > deadline) throw new Error(`timed out after ${limitMs} ms waiting for ${what}`);
    await sleep(POLL_MS);
  }
}

interface Stat {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

function stat(xs: number[]): Stat {
  return {
    median: round(median(xs)),
    min: round(Math.min(...xs)),
    max: round(Math.max(...xs)),
    runs: xs.map((x) => round(x)),
  };
}

// -----------------------------------------------------------------------------------------------
// Broker

interface Running {
  broker: Broker;
  brokers: string[];
  admin: Admin;
  delayMs: number;
}

async function startBroker(root: string, delayMs: number): Promise<Running> {
  const dataDir = path.join(root, `broker-delay-${delayMs}`);
  const config = loadBrokerConfig({
    flags: {
      "data.dir": dataDir,
      "kafka.port": 0,
      "http.port": 0,
      "group.initial.rebalance.delay.ms": delayMs,
    },
  });
  const broker = await Broker.start(config);
  const brokers = [`127.0.0.1:${broker.kafkaPort}`];
  return { broker, brokers, admin: new Admin({ brokers }), delayMs };
}

async function stopBroker(r: Running): Promise<void> {
  await r.admin.close();
  await r.broker.stop();
}

async function produce(
  brokers: string[],
  topic: string,
  partitions: number,
  count: number,
  valueBytes: number,
  onProgress?: (done: number) => void,
): Promise<number> {
  const producer = new Producer(
    { brokers },
    { acks: 1, lingerMs: 20, batchSize: 512 * 1024, bufferMemory: 64 * 1024 * 1024 },
  );
  const value = Buffer.alloc(valueBytes, 0x61);
  const start = now();
  let acked = 0;
  let failure: unknown = null;
  let room: (() => void) | null = null;
  const done = () => {
    acked++;
    if (room) {
      const r = room;
      room = null;
      r();
    }
  };
  try {
    // The first record alone, awaited: until the producer's Cluster knows the topic, every send()
    // in flight asks for metadata itself (one Metadata request per record; see bench/RESULTS.md).
    await producer.send({ topic, partition: 0, value });
    acked = 1;
    for (let i = 1; i < count; i++) {
      if (failure) throw failure;
      if (now() - start > PRODUCE_MAX_MS) throw new Error(`produce took over ${PRODUCE_MAX_MS} ms`);
      while (i - acked >= PRODUCE_WINDOW) {
        await new Promise<void>((resolve) => {
          room = resolve;
        });
        if (failure) throw failure;
      }
      producer.send({ topic, partition: i % partitions, value }).then(done, (err: unknown) => {
        failure ??= err;
        done();
      });
      if (onProgress && i % 200_000 === 0) onProgress(i);
    }
    await producer.flush();
    await waitFor("produce acknowledgements", PRODUCE_MAX_MS, () => acked >= count);
    if (failure) throw failure;
  } finally {
    await producer.close();
  }
  return (now() - start) / 1000;
}

// -----------------------------------------------------------------------------------------------
// Rebalance

interface Member {
  consumer: Consumer;
  firstRecordMs: number | null;
  records: number;
  reading: Promise<void>;
}

/** heartbeatIntervalMs of the rebalance members (--heartbeat-ms); undefined: the client's default. */
let memberHeartbeatMs: number | undefined;
const CLIENT_DEFAULT_HEARTBEAT_MS = 3000;

function startMember(brokers: string[], groupId: string, topic: string, t0: number, index: number): Member {
  const consumer = new Consumer({
    brokers,
    clientId: `bench-${index}`,
    groupId,
    autoOffsetReset: "earliest",
    heartbeatIntervalMs: memberHeartbeatMs,
  });
  const m: Member = { consumer, firstRecordMs: null, records: 0, reading: Promise.resolve() };
  consumer.subscribe([topic]);
  m.reading = consumer.run({
    eachBatch: (batch: ConsumerBatch) => {
      if (m.firstRecordMs === null) m.firstRecordMs = now() - t0;
      m.records += batch.records.length;
    },
  });
  return m;
}

/** Every member in one generation newer than `after`, each owning something, all partitions owned once. */
function settled(members: Member[], after: number, partitions: number): boolean {
  const gen = members[0].consumer.generationId;
  if (gen <= after) return false;
  const owned = new Set<number>();
  for (const m of members) {
    if (m.consumer.generationId !== gen) return false;
    const a = m.consumer.assignment();
    if (a.length === 0) return false;
    for (const p of a) {
      if (owned.has(p.partition)) return false;
      owned.add(p.partition);
    }
  }
  return owned.size === partitions;
}

function fingerprint(members: Member[]): string {
  return members
    .map(
      (m) =>
        `${m.consumer.generationId}:${m.consumer
          .assignment()
          .map((p) => p.partition)
          .join(",")}`,
    )
    .join("|");
}

/** Waits until settled() holds and the assignment stays the same for SETTLE_HOLD_MS; returns when it first held. */
async function waitSettled(
  members: Member[],
  after: number,
  partitions: number,
  t0: number,
): Promise<number> {
  const deadline = now() + REBALANCE_WAIT_MS;
  for (;;) {
    await waitFor("the group to settle", Math.max(1, deadline - now()), () =>
      settled(members, after, partitions),
    );
    const at = now() - t0;
    const print = fingerprint(members);
    const holdUntil = now() + SETTLE_HOLD_MS;
    let held = true;
    while (now() < holdUntil) {
      await sleep(POLL_MS);
      if (!settled(members, after, partitions) || fingerprint(members) !== print) {
        held = false;
        break;
      }
    }
    if (held) return at;
  }
}

interface RebalanceRun {
  join_all_consuming_ms: number;
  join_all_assigned_ms: number;
  member_join_settle_ms: number;
  member_leave_settle_ms: number;
  generations: number;
}

async function rebalanceOnce(r: Running, topic: string, rep: number): Promise<RebalanceRun> {
  const groupId = `bench-rebalance-d${r.delayMs}-r${rep}`;
  const members: Member[] = [];
  const all: Member[] = [];
  try {
    const t0 = now();
    let allAssignedMs: number | null = null;
    for (let i = 0; i < REBALANCE_MEMBERS; i++) members.push(startMember(r.brokers, groupId, topic, t0, i));
    all.push(...members);
    await waitFor("every member to receive a record", REBALANCE_WAIT_MS, () => {
      if (allAssignedMs === null && settled(members, 0, REBALANCE_PARTITIONS)) allAssignedMs = now() - t0;
      return members.every((m) => m.firstRecordMs !== null);
    });
    const joinMs = Math.max(...members.map((m) => m.firstRecordMs as number));
    // The group must be settled before the next step, or the next step would time a rebalance in progress.
    await waitSettled(members, 0, REBALANCE_PARTITIONS, t0);
    const g0 = members[0].consumer.generationId;

    const t1 = now();
    const eleventh = startMember(r.brokers, groupId, topic, t1, REBALANCE_MEMBERS);
    members.push(eleventh);
    all.push(eleventh);
    const joinSettleMs = await waitSettled(members, g0, REBALANCE_PARTITIONS, t1);
    const g1 = members[0].consumer.generationId;

    const t2 = now();
    const leaving = members.pop() as Member;
    const closing = leaving.consumer.close();
    const leaveSettleMs = await waitSettled(members, g1, REBALANCE_PARTITIONS, t2);
    await closing;
    const g2 = members[0].consumer.generationId;
    return {
      join_all_consuming_ms: round(joinMs),
      join_all_assigned_ms: round(allAssignedMs ?? joinMs),
      member_join_settle_ms: round(joinSettleMs),
      member_leave_settle_ms: round(leaveSettleMs),
      generations: g2,
    };
  } finally {
    await Promise.all(all.map((m) => m.consumer.close().catch(() => {})));
    await Promise.all(all.map((m) => m.reading.catch(() => {})));
  }
}

interface RebalanceResult {
  delay_ms: number;
  heartbeat_interval_ms: number;
  members: number;
  partitions: number;
  reps: RebalanceRun[];
  join_all_consuming_ms: Stat;
  join_all_assigned_ms: Stat;
  member_join_settle_ms: Stat;
  member_leave_settle_ms: Stat;
}

async function rebalanceScenario(r: Running, reps: number): Promise<RebalanceResult> {
  const topic = "bench-rebalance";
  await r.admin.createTopics([{ name: topic, partitions: REBALANCE_PARTITIONS }]);
  await produce(
    r.brokers,
    topic,
    REBALANCE_PARTITIONS,
    REBALANCE_PARTITIONS * REBALANCE_RECORDS_PER_PARTITION,
    VALUE_BYTES,
  );
  const runs: RebalanceRun[] = [];
  for (let rep = 1; rep <= reps; rep++) {
    const run = await rebalanceOnce(r, topic, rep);
    progress(
      `  delay ${r.delayMs} ms, rep ${rep}: all consuming ${run.join_all_consuming_ms} ms, ` +
        `11th joins ${run.member_join_settle_ms} ms, one leaves ${run.member_leave_settle_ms} ms`,
    );
    runs.push(run);
  }
  return {
    delay_ms: r.delayMs,
    heartbeat_interval_ms: memberHeartbeatMs ?? CLIENT_DEFAULT_HEARTBEAT_MS,
    members: REBALANCE_MEMBERS,
    partitions: REBALANCE_PARTITIONS,
    reps: runs,
    join_all_consuming_ms: stat(runs.map((x) => x.join_all_consuming_ms)),
    join_all_assigned_ms: stat(runs.map((x) => x.join_all_assigned_ms)),
    member_join_settle_ms: stat(runs.map((x) => x.member_join_settle_ms)),
    member_leave_settle_ms: stat(runs.map((x) => x.member_leave_settle_ms)),
  };
}

// -----------------------------------------------------------------------------------------------
// Commits

interface CommitResult {
  committers: number;
  /** One group (its offsets share one __consumer_offsets partition) or a group per committer. */
  groups: number;
  commits: number;
  seconds: number;
  commits_per_sec: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
}

async function commitPhase(
  r: Running,
  topic: string,
  committers: number,
  label: string,
  oneGroup: boolean,
): Promise<CommitResult> {
  const consumers = Array.from(
    { length: committers },
    (_, k) =>
      new Consumer({
        brokers: r.brokers,
        clientId: `bench-commit-${k}`,
        groupId: oneGroup ? `bench-commit-${label}` : `bench-commit-${label}-${k}`,
        autoCommit: false,
      }),
  );
  try {
    for (const c of consumers) c.subscribe([topic]);
    // One group: settled when every member owns one partition in the same generation.
    await waitFor("committers to be assigned", REBALANCE_WAIT_MS, () =>
      consumers.every(
        (c) =>
          c.assignment().length === (oneGroup ? 1 : COMMIT_PARTITIONS) &&
          c.generationId === consumers[0].generationId,
      ),
    );
    const latencies: number[] = [];
    let issued = 0;
    const start = now();
    const deadline = start + COMMIT_MAX_MS;
    await Promise.all(
      consumers.map(async (c) => {
        const partition = c.assignment()[0].partition;
        while (issued < COMMIT_MAX && now() < deadline) {
          const offset = ++issued;
          const t = now();
          await c.commit([{ topic, partition, offset }]);
          latencies.push(now() - t);
        }
      }),
    );
    const seconds = (now() - start) / 1000;
    latencies.sort((a, b) => a - b);
    return {
      committers,
      groups: oneGroup ? 1 : committers,
      commits: latencies.length,
      seconds: round(seconds, 3),
      commits_per_sec: round(latencies.length / seconds, 0),
      p50_ms: round(percentile(latencies, 50), 3),
      p99_ms: round(percentile(latencies, 99), 3),
      max_ms: round(latencies[latencies.length - 1] ?? 0, 3),
    };
  } finally {
    await Promise.all(consumers.map((c) => c.close().catch(() => {})));
  }
}

interface CommitResults {
  sequential: CommitResult;
  concurrent: CommitResult;
  one_group: CommitResult;
}

async function commitScenario(r: Running): Promise<CommitResults> {
  const topic = "bench-commits";
  await r.admin.createTopics([{ name: topic, partitions: COMMIT_PARTITIONS }]);
  const say = (x: CommitResult) =>
    progress(
      `  ${x.committers} committers in ${x.groups} groups: ${x.commits_per_sec} commits/s, ` +
        `p50 ${x.p50_ms} ms, p99 ${x.p99_ms} ms`,
    );
  const sequential = await commitPhase(r, topic, 1, "seq", false);
  say(sequential);
  const concurrent = await commitPhase(r, topic, CONCURRENT_COMMITTERS, "conc", false);
  say(concurrent);
  const oneGroup = await commitPhase(r, topic, CONCURRENT_COMMITTERS, "one", true);
  say(oneGroup);
  return { sequential, concurrent, one_group: oneGroup };
}

// -----------------------------------------------------------------------------------------------
// Consumption

interface ReadResult {
  mode: string;
  records: number;
  /** Records delivered, duplicates included (a rebalance may hand a partition over mid-read). */
  delivered: number;
  seconds: number;
  records_per_sec: number;
  mb_per_sec: number;
  /** Time from subscribe/assign to the first record. */
  first_record_ms: number;
  /** Rate from the first record to the last. */
  after_first_records_per_sec: number;
  /** Records each consumer delivered: shows whether every group member took a share. */
  per_consumer: number[];
}

interface ConsumeResult {
  records: number;
  value_bytes: number;
  partitions: number;
  produce_seconds: number;
  produce_records_per_sec: number;
  produce_mb_per_sec: number;
  assign: ReadResult;
  group: ReadResult;
}

/** Reads with every consumer until each partition's position reaches `ends`; returns the timings. */
async function readToEnd(
  mode: string,
  consumers: Consumer[],
  ends: number[],
  start: number,
): Promise<ReadResult> {
  const reached = ends.map(() => 0);
  let remaining = ends.filter((e) => e > 0).length;
  let delivered = 0;
  const perConsumer = consumers.map(() => 0);
  let failed = false;
  let firstAt: number | null = null;
  const deadline = start + CONSUME_MAX_MS;
  await Promise.all(
    consumers.map(async (c, i) => {
      while (remaining > 0 && !failed) {
        if (now() > deadline) {
          failed = true;
          throw new Error(`${mode}: not at the end after ${CONSUME_MAX_MS} ms`);
        }
        const batch = await c.nextBatch(100).catch((err: unknown) => {
          // The other readers stop too, instead of polling consumers that are being closed.
          failed = true;
          throw err;
        });
        if (!batch) continue;
        firstAt ??= now();
        delivered += batch.records.length;
        perConsumer[i] += batch.records.length;
        const next = batch.records[batch.records.length - 1].offset + 1;
        const p = batch.partition;
        if (next > reached[p]) {
          if (reached[p] < ends[p] && next >= ends[p]) remaining--;
          reached[p] = next;
        }
      }
    }),
  );
  const end = now();
  const records = ends.reduce((a, b) => a + b, 0);
  const seconds = (end - start) / 1000;
  const first = firstAt ?? end;
  return {
    mode,
    records,
    delivered,
    seconds: round(seconds, 3),
    records_per_sec: round(records / seconds, 0),
    mb_per_sec: round((records * VALUE_BYTES) / 1e6 / seconds, 1),
    first_record_ms: round(first - start),
    after_first_records_per_sec: round(records / Math.max(1e-9, (end - first) / 1000), 0),
    per_consumer: perConsumer,
  };
}

async function consumeScenario(r: Running, count: number): Promise<ConsumeResult> {
  const topic = "bench-consume";
  await r.admin.createTopics([{ name: topic, partitions: CONSUME_PARTITIONS }]);
  progress(`  producing ${count} records of ${VALUE_BYTES} bytes ...`);
  const produceSeconds = await produce(r.brokers, topic, CONSUME_PARTITIONS, count, VALUE_BYTES, (done) => {
    if (done > 0) progress(`    ${done} sent`);
  });
  progress(`  produced in ${produceSeconds.toFixed(2)} s (${round(count / produceSeconds, 0)} records/s)`);
  const offsets = await r.admin.topicOffsets(topic);
  const ends = offsets.sort((a, b) => a.partition - b.partition).map((o) => o.latest);

  const single = new Consumer({ brokers: r.brokers, clientId: "bench-assign" });
  let assign: ReadResult;
  try {
    const start = now();
    await single.assignTopic(topic, "earliest");
    assign = await readToEnd("assign", [single], ends, start);
  } finally {
    await single.close();
  }
  progress(`  assign: ${assign.records_per_sec} records/s, ${assign.mb_per_sec} MB/s`);

  const members = Array.from(
    { length: CONSUME_MEMBERS },
    (_, i) =>
      new Consumer({
        brokers: r.brokers,
        clientId: `bench-member-${i}`,
        groupId: "bench-consume-group",
        autoOffsetReset: "earliest",
      }),
  );
  let group: ReadResult;
  try {
    const start = now();
    for (const m of members) m.subscribe([topic]);
    group = await readToEnd(`group of ${CONSUME_MEMBERS}`, members, ends, start);
  } finally {
    await Promise.all(members.map((m) => m.close().catch(() => {})));
  }
  progress(`  group: ${group.records_per_sec} records/s, ${group.mb_per_sec} MB/s`);
  return {
    records: count,
    value_bytes: VALUE_BYTES,
    partitions: CONSUME_PARTITIONS,
    produce_seconds: round(produceSeconds, 3),
    produce_records_per_sec: round(count / produceSeconds, 0),
    produce_mb_per_sec: round((count * VALUE_BYTES) / 1e6 / produceSeconds, 1),
    assign,
    group,
  };
}

// -----------------------------------------------------------------------------------------------
// Output

const fmtStat = (s: Stat) => `${s.median.toFixed(0)} (${s.min.toFixed(0)}-${s.max.toFixed(0)})`;

interface Report {
  benchmark: "groups";
  date: string;
  node: string;
  cpus: number;
  flush_policy: "always";
  rebalance?: RebalanceResult[];
  commits?: { delay_ms: number } & CommitResults;
  consume?: ConsumeResult & { delay_ms: number };
  load_1m: number;
  seconds: number;
}

function printReport(report: Report): void {
  const out: string[] = [];
  if (report.rebalance) {
    out.push(
      `Rebalance: ${REBALANCE_MEMBERS} members, ${REBALANCE_PARTITIONS} partitions, heartbeatIntervalMs ` +
        `${report.rebalance[0]?.heartbeat_interval_ms}; ms, median (range) of ${report.rebalance[0]?.reps.length} runs`,
      table(
        ["initial delay ms", "all consuming", "all assigned", "11th joins: settled", "one leaves: settled"],
        report.rebalance.map((r) => [
          String(r.delay_ms),
          fmtStat(r.join_all_consuming_ms),
          fmtStat(r.join_all_assigned_ms),
          fmtStat(r.member_join_settle_ms),
          fmtStat(r.member_leave_settle_ms),
        ]),
      ),
      "",
    );
  }
  if (report.commits) {
    const c = report.commits;
    out.push(
      `Offset commits: Consumer.commit(explicit offsets), awaited, up to ${COMMIT_MAX} or ${COMMIT_MAX_MS / 1000} s`,
      table(
        ["committers", "groups", "commits", "commits/s", "p50 ms", "p99 ms", "max ms"],
        [c.sequential, c.concurrent, c.one_group].map((x) => [
          String(x.committers),
          String(x.groups),
          String(x.commits),
          String(x.commits_per_sec),
          x.p50_ms.toFixed(2),
          x.p99_ms.toFixed(2),
          x.max_ms.toFixed(2),
        ]),
      ),
      "",
    );
  }
  if (report.consume) {
    const c = report.consume;
    out.push(
      `Consumption: ${c.records} records of ${c.value_bytes} B in ${c.partitions} partitions ` +
        `(produced at ${c.produce_records_per_sec} records/s, ${c.produce_mb_per_sec} MB/s, acks=1)`,
      table(
        [
          "reader",
          "seconds",
          "records/s",
          "MB/s",
          "first record ms",
          "records/s after first",
          "records per consumer",
        ],
        [c.assign, c.group].map((x) => [
          x.mode,
          x.seconds.toFixed(2),
          String(x.records_per_sec),
          x.mb_per_sec.toFixed(1),
          x.first_record_ms.toFixed(0),
          String(x.after_first_records_per_sec),
          x.per_consumer.join(" "),
        ]),
      ),
      "",
    );
  }
  process.stdout.write(`\n${out.join("\n")}\n`);
}

// -----------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const options = optionsOrExit(parseOptions, usage);
  if (typeof options === "number") return options;
  quiet = options.json;
  memberHeartbeatMs = options.heartbeatMs ?? undefined;
  const scratch = scratchDir(options.baseDir, "samsa-bench-groups-");
  const root = scratch.root;
  progress(
    `samsa consumer-group benchmark: data in ${root}, ${os.cpus().length} CPUs, node ${process.version}, ` +
      `load average ${os.loadavg()[0].toFixed(2)}`,
  );

  const began = now();
  const report: Report = {
    benchmark: "groups",
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    flush_policy: "always",
    load_1m: 0,
    seconds: 0,
  };
  try {
    const lastDelay = options.delays[options.delays.length - 1];
    for (const delay of options.delays) {
      const wantsRebalance = options.scenarios.includes("rebalance");
      const isLast = delay === lastDelay;
      if (!wantsRebalance && !isLast) continue;
      const r = await startBroker(root, delay);
      try {
        if (wantsRebalance) {
          progress(`rebalance (group.initial.rebalance.delay.ms=${delay}) ...`);
          report.rebalance ??= [];
          report.rebalance.push(await rebalanceScenario(r, options.reps));
        }
        if (isLast && options.scenarios.includes("commits")) {
          progress(`commits (delay ${delay}) ...`);
          report.commits = { delay_ms: delay, ...(await commitScenario(r)) };
        }
        if (isLast && options.scenarios.includes("consume")) {
          progress(`consume (delay ${delay}) ...`);
          report.consume = { delay_ms: delay, ...(await consumeScenario(r, options.records)) };
        }
      } finally {
        await stopBroker(r);
      }
    }
  } finally {
    scratch.dispose();
  }
  report.load_1m = round(os.loadavg()[0], 2);
  report.seconds = round((now() - began) / 1000, 1);
  if (options.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else {
    printReport(report);
    process.stdout.write(`total ${report.seconds} s, load average ${report.load_1m}\n`);
  }
  return 0;
}

runMain(main);
