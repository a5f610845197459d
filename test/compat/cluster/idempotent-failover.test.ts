/**
 * The samsa client's idempotent producer (acks=all) sending a numbered stream to a partition of a
 * three-broker cluster: the leader's answer to one produce is dropped after the append (a request
 * fault), every later produce to it is cut, and then it stops without controlled shutdown
 * (`crashNode`); its leadership moves once its registration is gone. The producer retries
 * the same batch to the new leader, which already holds it as a follower copied it: the batch
 * must be recognised (its original offsets answered) and the stream read back with no duplicate
 * and no gap.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { Consumer, Producer, type RecordMetadata } from "../../../client/index.js";
import { TestCluster } from "../../helpers/cluster.js";
import { waitFor } from "../../helpers/wait.js";
import { createReplicatedTopic } from "./helpers.js";

const TOPIC = "numbered";
const PRODUCE = 0;
const CHUNK = 100;

let cluster: TestCluster;
let leader: number;

beforeAll(async () => {
  cluster = await TestCluster.start(3);
  [leader] = await createReplicatedTopic(cluster, TOPIC, 1);
}, 120_000);

afterAll(async () => {
  await cluster?.close();
}, 60_000);

/** Sends `from` .. `from + CHUNK - 1` as values, in order. */
function sendChunk(producer: Producer, from: number): Promise<RecordMetadata[]> {
  return Promise.all(
    Array.from({ length: CHUNK }, (_, i) =>
      producer.send({ topic: TOPIC, partition: 0, value: String(from + i) }),
    ),
  );
}

/** The partition's values in offset order, read from its leader among the running brokers. */
async function readBack(expected: number): Promise<{ offset: number; value: string }[]> {
  const consumer = new Consumer({ brokers: cluster.bootstrap() });
  await consumer.assign([{ topic: TOPIC, partition: 0, start: "earliest" }]);
  const seen: { offset: number; value: string }[] = [];
  try {
    await waitFor(async () => {
      const batch = await consumer.nextBatch(1_000);
      for (const r of batch?.records ?? []) seen.push({ offset: r.offset, value: r.value?.toString() ?? "" });
      return seen.length >= expected;
    }, `${expected} records of ${TOPIC}`);
  } finally {
    await consumer.close();
  }
  return seen;
}

it("a retry across an unclean leader change is recognised by the new leader: no duplicate, no gap", async () => {
  const producer = new Producer(
    { brokers: cluster.bootstrap(), retry: { initialBackoffMs: 50, maxBackoffMs: 500 } },
    { acks: -1, idempotent: true, lingerMs: 1, retries: 200 },
  );
  try {
    const first = await sendChunk(producer, 0);
    expect(first.map((m) => m.offset)).toEqual(first.map((_, i) => i));

    // The old leader appends the next produce (and waits for the ISR: acks=all), but its answer
    // is lost; every produce after it is cut before the handler, so the retry cannot land there.
    const faults = cluster.broker(leader).dispatcher.faults;
    faults.add({ apiKey: PRODUCE, action: "drop", times: 1 });
    faults.add({ apiKey: PRODUCE, action: "close" });
    const second = sendChunk(producer, CHUNK);
    await waitFor(
      () => (faults.hits.get(PRODUCE) ?? 0) >= 2,
      "the dropped produce retried to the old leader",
    );
    const end = cluster.broker(leader).topics.partition(TOPIC, 0)?.logEndOffset ?? -1;
    expect(end).toBeGreaterThan(CHUNK);
    // Both followers hold what the old leader appended: the retry will find it at the new leader.
    await waitFor(
      () => cluster.running().every((b) => b.topics.partition(TOPIC, 0)?.logEndOffset === end),
      `every replica at log end ${end}`,
    );

    await cluster.crashNode(leader);
    const next = await cluster.leaderOf(TOPIC, 0);
    expect(next.config.nodeId).not.toBe(leader);

    // The retried batch is answered with the offsets its first append got.
    expect((await second).map((m) => m.offset)).toEqual(Array.from({ length: CHUNK }, (_, i) => CHUNK + i));
    const third = await sendChunk(producer, 2 * CHUNK);
    expect(third.map((m) => m.offset)).toEqual(Array.from({ length: CHUNK }, (_, i) => 2 * CHUNK + i));
  } finally {
    await producer.close();
  }

  const seen = await readBack(3 * CHUNK);
  expect(seen.map((r) => r.offset)).toEqual(seen.map((_, i) => i));
  expect(seen.map((r) => r.value)).toEqual(Array.from({ length: 3 * CHUNK }, (_, i) => String(i)));
}, 120_000);
