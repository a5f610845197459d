/**
 * Brokers talking to each other over a SASL_SSL inter-broker listener (issue 15): the brokers'
 * user seeded in etcd before they start (`samsa storage format --add-scram`'s function), each
 * broker logging in with `sasl.jaas.config` over TLS and presenting its certificate
 * (`ssl.client.auth=required`). An RF=3 topic written with acks=all reaches every replica with
 * the full ISR, and a leader stopped hands over without losing a write. A broker whose
 * inter-broker password is wrong never joins an ISR, and both sides' logs say why.
 */
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Admin, Producer } from "../../../client/index.js";
import { type TestCerts, testCerts } from "../../helpers/certs.js";
import { readRecords, seedScramUser, TestCluster } from "../../helpers/cluster.js";
import { waitFor } from "../../helpers/wait.js";

const PASSWORD = "broker-secret";

const jaas = (password: string) =>
  `org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="${password}";`;

/** Clients on CLIENT (plaintext), brokers on INTERNAL: SASL_SSL with client certificates. */
function secureFlags(certs: TestCerts): Record<string, unknown> {
  return {
    listeners: "CLIENT://127.0.0.1:0,INTERNAL://127.0.0.1:0",
    "listener.security.protocol.map": "CLIENT:PLAINTEXT,INTERNAL:SASL_SSL",
    "inter.broker.listener.name": "INTERNAL",
    "sasl.enabled.mechanisms": "SCRAM-SHA-512,PLAIN",
    "sasl.jaas.config": jaas(PASSWORD),
    "ssl.certificate.location": certs.server.certFile,
    "ssl.key.location": certs.server.keyFile,
    "ssl.ca.location": certs.caFile,
    "ssl.client.auth": "required",
    "connection.failed.authentication.delay.ms": 0,
  };
}

const seedBrokerUser = seedScramUser("broker", PASSWORD);

async function createTopic(cluster: TestCluster, name: string, assignments?: number[][]): Promise<void> {
  const admin = new Admin({ brokers: cluster.bootstrap() });
  try {
    await admin.createTopics([
      assignments ? { name, assignments } : { name, partitions: 3, replicationFactor: 3 },
    ]);
  } finally {
    await admin.close();
  }
}

describe("a cluster whose inter-broker listener is SASL_SSL", () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await TestCluster.start(3, secureFlags(await testCerts()), { prepare: seedBrokerUser });
  }, 60_000);

  afterAll(async () => {
    await cluster?.close();
  }, 60_000);

  it("replicates acks=all writes of an RF=3 topic to every replica, the ISR full", async () => {
    await createTopic(cluster, "rf3");
    const producer = new Producer({ brokers: cluster.bootstrap() }, { acks: -1, lingerMs: 1 });
    await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        producer.send({ topic: "rf3", partition: i % 3, value: `v${i}` }),
      ),
    );
    await producer.close();
    for (let p = 0; p < 3; p++) {
      await waitFor(
        () =>
          cluster.running().every((b) => {
            const partition = b.topics.partition("rf3", p);
            return partition?.logEndOffset === 100 && partition.highWatermark === 100;
          }),
        `rf3-${p}: 100 records on every replica`,
      );
      expect([...(cluster.running()[0].store.topic("rf3")?.partitions[p].isr ?? [])].sort()).toEqual([
        1, 2, 3,
      ]);
    }
  });

  it("keeps every write when the leader stops and the partition moves to a follower", async () => {
    await createTopic(cluster, "moving", [[1, 2, 3]]);
    await cluster.waitForIsr("moving", 0, [1, 2, 3]);
    const producer = new Producer({ brokers: cluster.bootstrap() }, { acks: -1, lingerMs: 1 });
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => producer.send({ topic: "moving", value: `a${i}` })),
    );
    await cluster.stopNode(1);
    const next = await cluster.leaderOf("moving", 0);
    expect(next.config.nodeId).not.toBe(1);
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => producer.send({ topic: "moving", value: `b${i}` })),
    );
    await producer.close();
    const seen = await readRecords(cluster.bootstrap(), "moving", 100);
    expect(seen).toEqual([
      ...Array.from({ length: 50 }, (_, i) => `a${i}`),
      ...Array.from({ length: 50 }, (_, i) => `b${i}`),
    ]);
    // Back, broker 1 logs in again and catches up.
    await cluster.startNode(1);
    await cluster.waitForBrokers(3);
    await cluster.waitForIsr("moving", 0, [1, 2, 3]);
    await waitFor(
      () => cluster.broker(1).topics.partition("moving", 0)?.logEndOffset === 100,
      "broker 1 at 100",
    );
  }, 60_000);
});

describe("a broker with a wrong inter-broker password", () => {
  let cluster: TestCluster;
  /** The warn lines of each broker, as parsed JSON. */
  const lines = new Map<number, Record<string, unknown>[]>();
  const logger = (nodeId: number) => {
    const mine: Record<string, unknown>[] = [];
    lines.set(nodeId, mine);
    return pino({ level: "warn" }, { write: (line: string) => void mine.push(JSON.parse(line)) });
  };
  const loginFailures = () =>
    (lines.get(3) ?? []).filter(
      (l) =>
        String(l.msg).startsWith("replica fetcher cannot log in") &&
        String((l.err as { message?: string } | undefined)?.message).includes("SASL_AUTHENTICATION_FAILED"),
    ).length;

  beforeAll(async () => {
    const flags = secureFlags(await testCerts());
    cluster = await TestCluster.start(2, flags, { prepare: seedBrokerUser, logger });
    await cluster.startNode(3, { "sasl.jaas.config": jaas("not-the-password") });
    await cluster.waitForBrokers(3);
  }, 60_000);

  afterAll(async () => {
    // Its controlled shutdown would need the controller, which refuses its login.
    await cluster?.crashNode(3);
    await cluster?.close();
  }, 60_000);

  it("never joins the ISR, and the logs say why", async () => {
    await createTopic(cluster, "locked", [[1, 2, 3]]);
    const producer = new Producer({ brokers: cluster.bootstrap() }, { acks: -1, lingerMs: 1 });
    // acks=all is answered once the leader has dropped broker 3 from the ISR.
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => producer.send({ topic: "locked", value: `v${i}` })),
    );
    await producer.close();
    await cluster.waitForIsr("locked", 0, [1, 2]);
    await waitFor(
      () => cluster.broker(2).topics.partition("locked", 0)?.logEndOffset === 20,
      "broker 2 at 20",
    );
    // Broker 3 keeps trying and failing, and stays out of the ISR meanwhile.
    const failuresBefore = loginFailures();
    expect(failuresBefore).toBeGreaterThan(0);
    await waitFor(() => loginFailures() >= failuresBefore + 3, "three more refused logins of broker 3");
    expect(cluster.broker(1).store.topic("locked")?.partitions[0].isr).toEqual([1, 2]);
    expect(cluster.broker(3).topics.partition("locked", 0)?.logEndOffset).toBe(0);
    // The leader's side names the refused login on its inter-broker listener.
    const refused = (lines.get(1) ?? []).filter(
      (l) => l.msg === "SASL authentication failed: closing the connection" && l.listener === "INTERNAL",
    );
    expect(refused.length).toBeGreaterThan(0);
    // The password is in no log line.
    for (const l of [...lines.values()].flat()) expect(JSON.stringify(l)).not.toContain("not-the-password");
  }, 60_000);
});
