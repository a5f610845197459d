/**
 * Request faults (broker/net/faults.ts): delay, hold and close requests by API key, or drop the
 * answer of one that ran, for one caller's requests or all; other APIs and callers unaffected.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { encodeRecordBatch } from "../../protocol/record-batch.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { TestClient } from "../helpers/kafka-client.js";
import { waitFor } from "../helpers/wait.js";

const PRODUCE = 0;
const METADATA = 3;
const API_VERSIONS = 18;

let tb: TestBroker;
const clients: TestClient[] = [];

async function client(id = "test"): Promise<TestClient> {
  const c = await TestClient.connect(tb.port);
  c.clientId = id;
  clients.push(c);
  return c;
}

const metadata = (c: TestClient) => c.request(METADATA, 12, { topics: [], allowAutoTopicCreation: false });

beforeEach(async () => {
  tb = await startTestBroker();
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await tb.stop();
});

describe("request faults", () => {
  it("holds a request until the fault is removed, while other APIs and later requests pass", async () => {
    const faults = tb.broker.dispatcher.faults;
    const remove = faults.add({ apiKey: METADATA, action: "hold", times: 1 });
    const held = await client();
    let answered = false;
    const pending = metadata(held).then((r) => {
      answered = true;
      return r;
    });
    await waitFor(() => faults.hits.get(METADATA) === 1, "the Metadata request to be held");
    // times: 1 -> the next Metadata, on another connection, is not held; nor is ApiVersions.
    const other = await client();
    expect((await metadata(other)).brokers).toHaveLength(1);
    expect((await other.request(API_VERSIONS, 3, {})).errorCode).toBe(0);
    expect(answered).toBe(false);
    remove();
    expect((await pending).brokers).toHaveLength(1);
  });

  it("delays a request and closes a connection on a close fault", async () => {
    const faults = tb.broker.dispatcher.faults;
    faults.add({ apiKey: METADATA, action: "delay", delayMs: 50, times: 1 });
    const c = await client();
    expect((await metadata(c)).brokers).toHaveLength(1);
    expect(faults.hits.get(METADATA)).toBe(1);
    faults.add({ apiKey: METADATA, action: "close" });
    await expect(metadata(c)).rejects.toThrow(/closed/);
    faults.clear();
    expect((await metadata(await client())).brokers).toHaveLength(1);
  });

  it("applies only to the requests its match accepts", async () => {
    const faults = tb.broker.dispatcher.faults;
    faults.add({ apiKey: METADATA, action: "close", match: (ctx) => ctx.clientId === "victim" });
    const victim = await client("victim");
    const bystander = await client("bystander");
    await expect(metadata(victim)).rejects.toThrow(/closed/);
    expect((await metadata(bystander)).brokers).toHaveLength(1);
    // Client requests are not inter-broker ones.
    faults.clear();
    faults.add({ apiKey: METADATA, action: "close", match: (ctx) => ctx.interBroker });
    expect((await metadata(bystander)).brokers).toHaveLength(1);
  });

  it("drops the answer of a request it ran: the produce is appended, the connection closed", async () => {
    const faults = tb.broker.dispatcher.faults;
    await tb.broker.topics.create("dropped", 1, 1, {});
    faults.add({ apiKey: PRODUCE, action: "drop", times: 1 });
    const produce = (c: TestClient) =>
      c.request(PRODUCE, 9, {
        transactionalId: null,
        acks: -1,
        timeoutMs: 5000,
        topicData: [
          {
            name: "dropped",
            partitionData: [{ index: 0, records: encodeRecordBatch([{ value: Buffer.from("x") }]) }],
          },
        ],
      });
    await expect(produce(await client())).rejects.toThrow(/closed/);
    expect(tb.broker.topics.partition("dropped", 0)?.logEndOffset).toBe(1);
    // times: 1 -> the next one is answered, after the first.
    const r = await produce(await client());
    expect(r.responses[0].partitionResponses[0]).toMatchObject({ errorCode: 0, baseOffset: 1 });
  });
});
