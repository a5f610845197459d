/**
 * Data for the console's tests, made with the samsa client as a user would: records produced to
 * given partitions, and a consumer group that reads and commits and then leaves (an Empty group
 * with committed offsets), or stays (a Stable group with a member).
 */
import { Consumer, Producer } from "../../client/index.js";
import { waitFor } from "./wait.js";

/** Produces `count` records to each of `partitions` of `topic` (acks=all), keys k0.., JSON values. */
export async function produceTo(brokers: string[], topic: string, partitions: number[], count: number) {
  const producer = new Producer({ brokers }, { lingerMs: 2 });
  try {
    await Promise.all(
      partitions.flatMap((partition) =>
        Array.from({ length: count }, (_, i) =>
          producer.send({ topic, partition, key: `k${i}`, value: JSON.stringify({ n: i, partition }) }),
        ),
      ),
    );
  } finally {
    await producer.close();
  }
}

/**
 * A group member subscribed to `topic` that reads until it has processed `count` records and
 * committed them. `close()` leaves the group (Empty, offsets kept).
 */
export async function groupThatRead(brokers: string[], groupId: string, topic: string, count: number) {
  const consumer = new Consumer({
    brokers,
    groupId,
    autoOffsetReset: "earliest",
    autoCommit: false,
    heartbeatIntervalMs: 100,
    sessionTimeoutMs: 6000,
    maxWaitMs: 100,
  });
  consumer.subscribe([topic]);
  let read = 0;
  const running = consumer.run({
    eachMessage: () => {
      read++;
    },
  });
  await waitFor(() => read >= count, `group ${groupId} to read ${count} records of ${topic}`);
  await consumer.commit();
  return {
    consumer,
    async close() {
      await consumer.close();
      await running;
    },
  };
}
