/**
 * The client's TCP framing under arbitrary chunk boundaries: a proxy between client and broker
 * re-cuts every broker response into random small pieces (length prefixes split across chunks,
 * several frames in one chunk), and everything produced must come back intact.
 */
import * as net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { Consumer, Producer } from "../../client/index.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { type Random, withSeed } from "../helpers/random.js";

let tb: TestBroker | null = null;
let proxy: net.Server | null = null;
afterEach(async () => {
  proxy?.close();
  proxy = null;
  await tb?.stop();
  tb = null;
});

/** A TCP proxy that forwards requests whole and answers in pieces of 1..`maxPiece` bytes. */
function chunkingProxy(port: number, random: Random, maxPiece: number): Promise<number> {
  const server = net.createServer((client) => {
    client.setNoDelay(true);
    const upstream = net.connect(port, "127.0.0.1");
    client.pipe(upstream);
    upstream.on("data", (data: Buffer) => {
      // Several pieces in one write, or one per write: both kinds of boundary reach the client.
      let pos = 0;
      while (pos < data.length) {
        const n = Math.min(data.length - pos, random.int(1, maxPiece));
        client.write(data.subarray(pos, pos + n));
        pos += n;
      }
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end);
    upstream.on("error", end);
    client.on("close", end);
    upstream.on("close", end);
  });
  proxy = server;
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port)),
  );
}

describe("client framing", () => {
  it("reassembles responses cut at any byte", async () => {
    await withSeed(7, async (random) => {
      tb = await startTestBroker();
      const port = await chunkingProxy(tb.port, random, 9);
      const brokers = [`127.0.0.1:${port}`];
      const producer = new Producer({ brokers, metadataMaxAgeMs: 60_000 });
      const values = Array.from({ length: 300 }, (_, i) => `value-${i}-${"x".repeat(i % 50)}`);
      await producer.send({ topic: "frames", value: Buffer.from(values[0]) });
      await Promise.all(
        values.slice(1).map((v) => producer.send({ topic: "frames", value: Buffer.from(v) })),
      );
      await producer.close();
      const consumer = new Consumer({ brokers, maxWaitMs: 50, maxPartitionBytes: 4096 });
      await consumer.assignTopic("frames", "earliest");
      const got: string[] = [];
      for (let i = 0; i < 200 && got.length < values.length; i++) {
        const batch = await consumer.nextBatch(2000);
        for (const r of batch?.records ?? []) got.push(r.value?.toString() ?? "");
      }
      await consumer.close();
      expect(got).toEqual(values);
    });
  });
});
