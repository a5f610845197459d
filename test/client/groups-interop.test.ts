/**
 * A samsa consumer in one group with a KafkaJS 2.2.4 consumer, and with kcat's balanced consumer
 * (librdkafka): each decodes the other's ConsumerProtocol subscription and assignment, whichever
 * of them leads. KafkaJS names its round-robin assignor "RoundRobinAssigner" (Java and librdkafka
 * say "roundrobin"), so the samsa member offers its round-robin assignor under that name.
 * kcat must be installed (test/compat/helpers.ts says how); it is never skipped.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { Kafka, type Consumer as KafkaJsConsumer, logLevel } from "kafkajs";
import { afterEach, expect, it } from "vitest";
import { Admin, Consumer, type ConsumerRecord, Producer, roundRobinAssignor } from "../../client/index.js";
import { requireKcat } from "../compat/helpers.js";
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

/** kcat's balanced consumer in group `group`, printing "partition offset" lines; killed on cleanup. */
function kcatMember(port: number, group: string, assignor: string) {
  const lines: string[] = [];
  let stderr = "";
  const child: ChildProcess = spawn(
    "kcat",
    [
      "-b",
      `127.0.0.1:${port}`,
      "-G",
      group,
      "-X",
      `partition.assignment.strategy=${assignor}`,
      "-X",
      "auto.offset.reset=earliest",
      "-X",
      "session.timeout.ms=6000",
      "-X",
      "heartbeat.interval.ms=200",
      "-X",
      "topic.metadata.refresh.interval.ms=500",
      "-u",
      "-q",
      "-f",
      "%p %o\\n",
      "t",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let partial = "";
  child.stdout!.on("data", (d: Buffer) => {
    const text = partial + d.toString("utf8");
    const parts = text.split("\n");
    partial = parts.pop() ?? "";
    lines.push(...parts.filter((l) => l.length > 0));
  });
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
  closers.push(async () => {
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  });
  return { lines, stderr: () => stderr };
}

for (const first of ["samsa", "kcat"] as const) {
  it(`shares a group with kcat/librdkafka (${first} joins first and leads)`, async () => {
    requireKcat();
    tb = await startTestBroker({ "group.initial.rebalance.delay.ms": 0 });
    const brokers = [`127.0.0.1:${tb.port}`];
    const admin = new Admin({ brokers });
    closers.push(() => admin.close());
    await admin.createTopics([{ name: "t", partitions: 4 }]);
    const samsaGot: string[] = [];
    const samsa = new Consumer(
      { brokers },
      {
        groupId: "rd",
        autoOffsetReset: "earliest",
        heartbeatIntervalMs: 200,
        autoCommitIntervalMs: 200,
        maxWaitMs: 100,
        partitionAssignors: ["range"],
      },
    );
    closers.push(() => samsa.close());
    const startSamsa = () => {
      samsa.subscribe(["t"]);
      const running = samsa.run({ eachMessage: (r) => void samsaGot.push(`${r.partition} ${r.offset}`) });
      closers.push(async () => {
        await samsa.stop();
        await running.catch(() => {});
      });
    };
    const members = async () => (await admin.describeGroups(["rd"]))[0].members;
    let rd: ReturnType<typeof kcatMember>;
    if (first === "samsa") {
      startSamsa();
      await until(() => samsa.assignment().length === 4, "samsa alone to own all 4");
      rd = kcatMember(tb.port, "rd", "range");
    } else {
      rd = kcatMember(tb.port, "rd", "range");
      let alone = false;
      const deadline = Date.now() + 30_000;
      while (!alone) {
        const m = await members();
        alone = m.length === 1 && m[0].assignment.length === 4;
        if (!alone && Date.now() > deadline) throw new Error(`kcat did not join: ${rd.stderr()}`);
        if (!alone) await new Promise((r) => setTimeout(r, 50));
      }
      startSamsa();
    }
    let described: Awaited<ReturnType<typeof members>> = [];
    const deadline = Date.now() + 30_000;
    for (;;) {
      described = await members();
      if (
        described.length === 2 &&
        samsa.assignment().length === 2 &&
        described.every((m) => m.assignment.length === 2)
      )
        break;
      if (Date.now() > deadline)
        throw new Error(`no 2 + 2 split: ${JSON.stringify(described)}; kcat: ${rd.stderr()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const samsaParts = samsa.assignment().map((p) => p.partition);
    const rdParts = described.find((m) => m.memberId !== samsa.memberId)!.assignment.map((p) => p.partition);
    expect([...samsaParts, ...rdParts].sort()).toEqual([0, 1, 2, 3]);
    const samsaLeads = (samsa as unknown as { member: { isLeader: boolean } }).member.isLeader;
    expect(samsaLeads).toBe(first === "samsa");

    const producer = new Producer({ brokers }, { lingerMs: 2 });
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => producer.send({ topic: "t", partition: i % 4, value: `v${i}` })),
    );
    await producer.close();
    await until(() => samsaGot.length + rd.lines.length >= 40, "40 records between the two");
    const all = [...samsaGot, ...rd.lines];
    expect(new Set(all).size).toBe(40);
    expect(samsaGot.every((l) => samsaParts.includes(Number(l.split(" ")[0])))).toBe(true);
    expect(rd.lines.every((l) => rdParts.includes(Number(l.split(" ")[0])))).toBe(true);
  });
}
