/**
 * KafkaJS 2.2.4 against a three-broker cluster, given one broker as its only bootstrap: its
 * producer (acks -1) writes an RF=3, three-partition topic with min.insync.replicas=2 and a
 * consumer group reads every record back exactly once; then the leader of a partition the
 * bootstrap broker does not lead is stopped (controlled shutdown) while the producer keeps
 * sending, its retries re-routing on NOT_LEADER_OR_FOLLOWER, and a second group reads every
 * acknowledged record back.
 *
 * The topic is created by KafkaJS's admin with a manual assignment in which broker 3, the
 * bootstrap, is never the preferred leader: every partition is reached through the metadata it
 * gives.
 */
import { type Consumer, Kafka, logLevel, type Producer } from "kafkajs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { TestCluster } from "../../helpers/cluster.js";
import { waitFor } from "../../helpers/wait.js";
import { MIN_INSYNC, waitForReplicated } from "./helpers.js";

const TOPIC = "kjs-rf3";
const PARTITIONS = 3;
const PER_PARTITION = 100;
/** The only bootstrap broker, last in every replica list: it leads nothing. */
const VIA = 3;
const ASSIGNMENT = [
  [1, 2, 3],
  [2, 1, 3],
  [1, 2, 3],
];

let cluster: TestCluster;
let leaders: number[];
let kafka: Kafka;
const producers: Producer[] = [];
/** What the first test acknowledged, as `partition:value` (read again by the second). */
const firstAcked: string[] = [];
const consumers: Consumer[] = [];

beforeAll(async () => {
  cluster = await TestCluster.start(3, { "group.initial.rebalance.delay.ms": 0 });
  kafka = new Kafka({
    clientId: "samsa-cluster-compat",
    brokers: [`127.0.0.1:${cluster.broker(VIA).kafkaPort}`],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    requestTimeout: 10_000,
    retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 2000 },
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const created = await admin.createTopics({
      topics: [
        {
          topic: TOPIC,
          replicaAssignment: ASSIGNMENT.map((replicas, partition) => ({ partition, replicas })),
          configEntries: Object.entries(MIN_INSYNC).map(([name, value]) => ({ name, value })),
        },
      ],
    });
    if (!created) throw new Error(`${TOPIC} was not created`);
  } finally {
    await admin.disconnect();
  }
  leaders = await waitForReplicated(cluster, TOPIC, PARTITIONS);
}, 120_000);

afterAll(async () => {
  for (const c of consumers) await c.disconnect().catch(() => {});
  for (const p of producers) await p.disconnect().catch(() => {});
  await cluster?.close();
}, 60_000);

async function producer(): Promise<Producer> {
  const p = kafka.producer({ allowAutoTopicCreation: false });
  producers.push(p);
  await p.connect();
  return p;
}

/**
 * Every record of TOPIC read by a new consumer group from the beginning, as
 * `partition:offset:value`, once `done(records)` holds.
 */
async function readByGroup(groupId: string, done: (seen: string[]) => boolean): Promise<string[]> {
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: 6000,
    rebalanceTimeout: 10_000,
    heartbeatInterval: 300,
    maxWaitTimeInMs: 200,
    retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 1000 },
  });
  consumers.push(consumer);
  await consumer.connect();
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
  const seen: string[] = [];
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      seen.push(`${partition}:${message.offset}:${message.value?.toString("utf8")}`);
    },
  });
  try {
    await waitFor(() => done(seen), `group ${groupId} to read ${TOPIC}`, 60_000);
  } finally {
    await consumer.disconnect();
  }
  return seen;
}

const valueIn = (record: string) => record.split(":")[2];

it("acks -1 writes to every partition are read back exactly once by a group, through one bootstrap broker", async () => {
  expect(leaders).toEqual(ASSIGNMENT.map((replicas) => replicas[0]));
  const p = await producer();
  const sent: string[] = [];
  for (let partition = 0; partition < PARTITIONS; partition++) {
    for (let i = 0; i < PER_PARTITION; i++) sent.push(`${partition}:${i}:a-${partition}-${i}`);
  }
  const acks = await p.send({
    topic: TOPIC,
    acks: -1,
    messages: sent.map((r) => ({ partition: Number(r.split(":")[0]), value: valueIn(r) })),
  });
  expect(acks.map((a) => [a.partition, a.errorCode]).sort()).toEqual([
    [0, 0],
    [1, 0],
    [2, 0],
  ]);
  const seen = await readByGroup("kjs-a", (s) => new Set(s).size >= sent.length);
  expect(seen.sort()).toEqual([...sent].sort());
  firstAcked.push(...sent.map((r) => `${r.split(":")[0]}:${valueIn(r)}`));
}, 120_000);

it("keeps producing through a leader's controlled shutdown and reads every acknowledged record back", async () => {
  // Broker 1 leads partitions 0 and 2: both move to in-sync followers.
  const victim = leaders[0];
  const moved = 0;
  const p = await producer();
  const acked: string[] = [];
  let stopping = false;
  let ackedAtStop = 0;
  // One record at a time, round the partitions, until 60 more are acknowledged after the stop.
  const loop = (async () => {
    for (let i = 0; !stopping || acked.length < ackedAtStop + 60; i++) {
      const partition = i % PARTITIONS;
      const value = `b-${i}`;
      await p.send({ topic: TOPIC, acks: -1, messages: [{ partition, value }] });
      acked.push(`${partition}:${value}`);
    }
  })();
  await waitFor(() => acked.length >= 30, "30 records acknowledged before the stop");
  await cluster.stopNode(victim);
  ackedAtStop = acked.length;
  stopping = true;
  await loop;
  const next = await cluster.leaderOf(TOPIC, moved);
  expect(next.config.nodeId).not.toBe(victim);
  // The moved partition took acknowledged writes from its new leader.
  expect(acked.slice(ackedAtStop).some((r) => r.startsWith(`${moved}:`))).toBe(true);

  const want = new Set([...firstAcked, ...acked]);
  const seen = await readByGroup("kjs-b", (s) => {
    const got = new Set(s.map((r) => `${r.split(":")[0]}:${valueIn(r)}`));
    return [...want].every((r) => got.has(r));
  });
  const values = seen.map((r) => `${r.split(":")[0]}:${valueIn(r)}`);
  // Every acknowledged record, nothing that was never sent; each offset once.
  for (const r of want) expect(values).toContain(r);
  expect(values.every((r) => /^\d:(a-\d-\d+|b-\d+)$/.test(r))).toBe(true);
  expect(new Set(seen.map((r) => r.split(":").slice(0, 2).join(":"))).size).toBe(seen.length);
}, 120_000);
