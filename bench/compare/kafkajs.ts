/**
 * KafkaJS 2.2.4 against the same samsa broker process. KafkaJS has no linger batching: the caller
 * hands it arrays of messages, so the driver sends `KAFKAJS_BATCH` records per `producer.send()`
 * (acks=1, not idempotent, explicit partition) with up to window / KAFKAJS_BATCH sends in flight.
 * A record's latency is that of its send() call. The consumer is a one-member group reading from
 * the beginning with `eachBatch` (the broker runs with group.initial.rebalance.delay.ms=0).
 */
import kafkajs from "kafkajs";
import {
  type ConsumeResult,
  consumeResult,
  Latency,
  makeValue,
  now,
  type ProduceResult,
  produceResult,
  Window,
  type Workload,
} from "./common.js";

const { Kafka, logLevel, Partitioners } = kafkajs;

export const KAFKAJS_BATCH = 1000;
let groups = 0;

function client(brokers: string[], id: string) {
  return new Kafka({ clientId: id, brokers, logLevel: logLevel.NOTHING, retry: { retries: 3 } });
}

export async function kafkajsProduce(brokers: string[], topic: string, w: Workload): Promise<ProduceResult> {
  const kafka = client(brokers, "bench-kafkajs-producer");
  const producer = kafka.producer({
    createPartitioner: Partitioners.LegacyPartitioner,
    allowAutoTopicCreation: false,
    idempotent: false,
  });
  await producer.connect();
  const value = makeValue(w.recordBytes);
  const lat = new Latency();
  try {
    await producer.send({ topic, acks: 1, messages: [{ value, partition: 0 }] });
    const batch = Math.min(KAFKAJS_BATCH, w.window);
    const start = now();
    const win = new Window(w.window, start + w.maxMs, "kafkajs produce");
    for (let sent = 0; sent < w.records; ) {
      const n = Math.min(batch, w.records - sent);
      if (!win.tryAcquire(n)) await win.acquire(n);
      const messages = new Array(n);
      for (let j = 0; j < n; j++) messages[j] = { value, partition: 0 };
      win.settleCall(producer.send({ topic, acks: 1, messages }), n, lat, now());
      sent += n;
    }
    await win.drain();
    return produceResult(w.records, w.recordBytes, (now() - start) / 1000, lat);
  } finally {
    await producer.disconnect();
  }
}

export async function kafkajsConsume(
  brokers: string[],
  topic: string,
  total: number,
  recordBytes: number,
  maxMs: number,
): Promise<ConsumeResult> {
  const kafka = client(brokers, "bench-kafkajs-consumer");
  const consumer = kafka.consumer({
    groupId: `bench-kafkajs-${Date.now()}-${++groups}`,
    maxBytesPerPartition: 1024 * 1024,
    maxWaitTimeInMs: 100,
  });
  const start = now();
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    let got = 0;
    let first = -1;
    let done!: () => void;
    const finished = new Promise<void>((resolve) => {
      done = resolve;
    });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        if (first < 0) first = now() - start;
        got += batch.messages.length;
        if (got >= total) done();
      },
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      finished,
      new Promise<void>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`kafkajs consume: ${got} of ${total} after ${maxMs} ms`)),
          maxMs,
        );
      }),
    ]);
    clearTimeout(timer);
    return consumeResult(total, recordBytes, (now() - start) / 1000, first);
  } finally {
    await consumer.disconnect();
  }
}
