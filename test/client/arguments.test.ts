/**
 * Malformed arguments to the Producer and Admin reject with INVALID_ARGUMENT (a ClientError), as
 * a rejected promise, before anything reaches a broker: no broker runs here, and the bootstrap
 * address is never dialled.
 */
import { describe, expect, it } from "vitest";
import { Admin, ClientError, Producer } from "../../client/index.js";

const brokers = ["127.0.0.1:1"];

async function rejection(call: () => Promise<unknown>): Promise<ClientError> {
  const promise = call();
  expect(promise).toBeInstanceOf(Promise);
  const err = await promise.then(
    () => expect.fail("resolved"),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ClientError);
  expect((err as ClientError).code).toBe("INVALID_ARGUMENT");
  expect((err as ClientError).retriable).toBe(false);
  return err as ClientError;
}

describe("Producer arguments", () => {
  const producer = new Producer({ brokers, connectTimeoutMs: 100, retry: { retries: 0 } }, { acks: 1 });

  it("rejects KafkaJS's { topic, messages } shape, naming it", async () => {
    const err = await rejection(() =>
      producer.send({ topic: "t", messages: [{ value: "x" }] } as unknown as {
        topic: string;
        value: string;
      }),
    );
    expect(err.message).toMatch(/KafkaJS/);
  });

  it("rejects bad records in send() and sendBatch()", async () => {
    const bad: unknown[] = [
      null,
      "text",
      { value: "no topic" },
      { topic: "", value: "x" },
      { topic: 7, value: "x" },
      { topic: "t" },
      { topic: "t", value: 42 },
      { topic: "t", value: { a: 1 } },
      { topic: "t", value: "x", key: 5 },
      { topic: "t", value: "x", partition: -1 },
      { topic: "t", value: "x", partition: 1.5 },
      { topic: "t", value: "x", partition: "0" },
      { topic: "t", value: "x", timestamp: "now" },
      { topic: "t", value: "x", headers: { h: 3 } },
      { topic: "t", value: "x", headers: [{ key: "", value: "v" }] },
      { topic: "t", value: "x", headers: "h=v" },
    ];
    for (const record of bad) {
      await rejection(() => producer.send(record as never));
      const batch = [{ topic: "t", value: "fine" }, record];
      const err = await rejection(() => producer.sendBatch(batch as never));
      expect(err.message).toMatch(/records\[1\]/);
    }
    await rejection(() => producer.sendBatch({ topic: "t", messages: [] } as never));
  });

  it("still takes every well-formed shape (checked up to the network)", async () => {
    const fine = [
      { topic: "t", value: null },
      { topic: "t", value: Buffer.from("x"), key: null, partition: 0, timestamp: 0 },
      { topic: "t", value: "x", headers: { a: "1", b: Buffer.from("2"), c: null } },
      { topic: "t", value: "x", headers: [{ key: "a", value: null }] },
    ];
    for (const record of fine) {
      const err = await producer.send(record).then(
        () => null,
        (e: unknown) => e as ClientError,
      );
      expect(err?.code).not.toBe("INVALID_ARGUMENT");
    }
  });
});

describe("Admin arguments", () => {
  const admin = new Admin({ brokers, connectTimeoutMs: 100, retry: { retries: 0 } });

  it("rejects malformed topic lists, names, counts and offset specs", async () => {
    await rejection(() => admin.createTopics("t" as never));
    await rejection(() => admin.createTopics([{ name: "" }]));
    await rejection(() => admin.createTopics([{ name: "t", partitions: 0 }]));
    await rejection(() => admin.createTopics([{ name: "t", partitions: 2.5 }]));
    await rejection(() => admin.createTopics([{ name: "t", replicationFactor: -2 }]));
    await rejection(() => admin.deleteTopics("t" as never));
    await rejection(() => admin.deleteTopics([3 as never]));
    await rejection(() => admin.describeTopics([null as never]));
    await rejection(() => admin.createPartitions("t", 0));
    await rejection(() => admin.createPartitions("", 2));
    await rejection(() => admin.listOffsets("t", "newest" as never));
    await rejection(() => admin.listOffsets("", "latest"));
  });
});
