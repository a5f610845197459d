/**
 * kcat (librdkafka 2.0.2) against a three-broker cluster: an RF=3, three-partition topic with
 * min.insync.replicas=2, produced with acks=all to each partition through a broker that does not
 * lead it, then consumed from the beginning once per broker with only that broker as bootstrap.
 * Each broker leads one partition, so every pass reaches the other two through the metadata it
 * was given: every record must come back exactly once, at its offset, in every pass.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { TestCluster } from "../../helpers/cluster.js";
import { kcat, kcatConsume, requireKcat } from "../helpers.js";
import { createReplicatedTopic } from "./helpers.js";

const TOPIC = "kcat-rf3";
const PARTITIONS = 3;
const PER_PARTITION = 200;

let cluster: TestCluster;
let leaders: number[];

beforeAll(async () => {
  cluster = await TestCluster.start(3);
  leaders = await createReplicatedTopic(cluster, TOPIC, PARTITIONS);
}, 120_000);

afterAll(async () => {
  await cluster?.close();
}, 60_000);

const value = (p: number, i: number) => `kc-${p}-${i}`;

// Without kcat this fails naming the install command (never a skip).
it("kcat is installed", () => {
  requireKcat();
});

it("acks=all writes to every partition come back exactly once through each single-broker bootstrap", async () => {
  // Placement spreads leaders: each broker leads one partition.
  expect([...leaders].sort()).toEqual([1, 2, 3]);
  for (let p = 0; p < PARTITIONS; p++) {
    const via = [1, 2, 3].find((id) => id !== leaders[p]) ?? 1;
    const input = Array.from({ length: PER_PARTITION }, (_, i) => `${value(p, i)}\n`).join("");
    const produced = await kcat(
      cluster.broker(via).kafkaPort,
      ["-P", "-t", TOPIC, "-p", String(p), "-X", "acks=all", "-X", "linger.ms=5"],
      { input, timeoutMs: 30_000 },
    );
    // kcat reports a failed delivery on stderr ("Delivery failed for message"), not by its exit code.
    expect(produced.stderr).not.toContain("Delivery failed");
  }
  const expected = Array.from({ length: PARTITIONS }, (_, p) =>
    Array.from({ length: PER_PARTITION }, (_, i) => `${p}:${i}:${value(p, i)}`),
  )
    .flat()
    .sort();
  for (const id of [1, 2, 3]) {
    const records = await kcatConsume(cluster.broker(id).kafkaPort, TOPIC, ["-o", "beginning"]);
    const seen = records.map((r) => `${r.partition}:${r.offset}:${r.value?.toString("utf8")}`).sort();
    expect(seen, `records read with broker ${id} as bootstrap`).toEqual(expected);
  }
});
