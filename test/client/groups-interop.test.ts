/**
 * A samsa consumer and a KafkaJS 2.2.4 consumer in one group: each decodes the other's
 * ConsumerProtocol subscription and assignment, whichever of them leads. KafkaJS names its
 * round-robin assignor "RoundRobinAssigner" (Java and librdkafka say "roundrobin"), so the samsa
 * member offers its round-robin assignor under that name.
 */
import { Kafka, type Consumer as KafkaJsConsumer, logLevel } from "kafkajs";
import { afterEach, expect, it } from "vitest";
import { Admin, Consumer, type ConsumerRecord, Producer, roundRobinAssignor } from "../../client/index.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";

let tb: TestBroker | null = null;
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c().catch(() => {});
  await tb?.stop();
  tb = null;
});

async function until(cond: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

for (const first of ["samsa", "kafkajs"] as const) {
  it(`shares a group with KafkaJS (${first} joins first and leads)`, async () => {
    tb = await startTestBroker({ "group.initial.rebalance.delay.ms": 0 });
    const brokers = [`127.0.0.1:${tb.port}`];
    const admin = new Admin({ brokers });
    closers.push(() => admin.close());
    await admin.createTopics([{ name: "t", partitions: 4 }]);

    const got: { who: string; key: string }[] = [];
    const kafkaJsParts = new Set<number>();
    const kafka = new Kafka({ clientId: "kafkajs", brokers, logLevel: logLevel.NOTHING });
    const kjs: KafkaJsConsumer = kafka.consumer({
      groupId: "mixed",
      heartbeatInterval: 200,
      maxWaitTimeInMs: 100,
      retry: { retries: 20 },
    });
    kjs.on(kjs.events.GROUP_JOIN, (e) => {
      kafkaJsParts.clear();
      for (const p of e.payload.memberAssignment.t ?? []) kafkaJsParts.add(p);
    });
    const startKafkaJs = async () => {
      await kjs.connect();
      closers.push(() => kjs.disconnect());
      await kjs.subscribe({ topics: ["t"], fromBeginning: true });
      await kjs.run({
        eachMessage: async ({ partition, message }) => {
          got.push({ who: "kafkajs", key: `${partition}/${message.offset}` });
        },
      });
    };
    const samsa = new Consumer(
      { brokers },
      {
        groupId: "mixed",
        autoOffsetReset: "earliest",
        heartbeatIntervalMs: 200,
        autoCommitIntervalMs: 200,
        maxWaitMs: 100,
        partitionAssignors: [{ ...roundRobinAssignor, name: "RoundRobinAssigner" }],
      },
    );
    closers.push(() => samsa.close());
    const startSamsa = () => {
      samsa.subscribe(["t"]);
      const running = samsa.run({
        eachMessage: (r: ConsumerRecord) =>
          void got.push({ who: "samsa", key: `${r.partition}/${r.offset}` }),
      });
      closers.push(async () => {
        await samsa.stop();
        await running.catch(() => {});
      });
    };

    if (first === "samsa") {
      startSamsa();
      await until(() => samsa.assignment().length === 4, "samsa alone to own all 4");
      await startKafkaJs();
    } else {
      await startKafkaJs();
      await until(() => kafkaJsParts.size === 4, "KafkaJS alone to own all 4");
      startSamsa();
    }
    await until(() => samsa.assignment().length === 2 && kafkaJsParts.size === 2, "2 partitions each");
    const samsaLeads = (samsa as unknown as { member: { isLeader: boolean } }).member.isLeader;
    expect(samsaLeads).toBe(first === "samsa");
    const samsaParts = samsa.assignment().map((p) => p.partition);
    expect([...samsaParts, ...kafkaJsParts].sort()).toEqual([0, 1, 2, 3]);
    const [described] = await admin.describeGroups(["mixed"]);
    expect(described.protocol).toBe("RoundRobinAssigner");
    expect(described.members).toHaveLength(2);

    const producer = new Producer({ brokers }, { lingerMs: 2 });
    await Promise.all(
      Array.from({ length: 80 }, (_, i) => producer.send({ topic: "t", partition: i % 4, value: `v${i}` })),
    );
    await producer.close();
    await until(() => got.length >= 80, "80 records");
    expect(new Set(got.map((g) => g.key)).size).toBe(80);
    for (const g of got) {
      const partition = Number(g.key.split("/")[0]);
      expect(g.who === "samsa" ? samsaParts.includes(partition) : kafkaJsParts.has(partition)).toBe(true);
    }
  });
}
