/**
 * EmbeddedClusterStore: the contract suite on a data directory, then what the file adds:
 * persistence across reopen (SCRAM credentials and ACL bindings included), the version 1 and 2
 * migrations, refusals of files that cannot be trusted, and writes that a crash leaves whole or
 * absent.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EmbeddedClusterStore } from "../../../broker/metadata/embedded-store.js";
import { FileMetadataStore, METADATA_FILE } from "../../../broker/metadata/file-store.js";
import { KafkaError } from "../../../protocol/errors.js";
import { LossyFs } from "../../helpers/lossy-fs.js";
import { brokerInfo, describeClusterStore, partitionState, topicState } from "./store-contract.js";
import { binding, filter, upsertion } from "./store-security-contract.js";

function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), "embedded-store-"));
}

describeClusterStore("EmbeddedClusterStore", async () => {
  const dir = tempDir();
  const store = await EmbeddedClusterStore.open(dir);
  return {
    store,
    loseSession: async (nodeId) => {
      await store.expire(nodeId);
    },
    openPeer: async () => store,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

/** The KafkaError `promise` rejects with. */
async function refusal(promise: Promise<unknown>): Promise<KafkaError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!KafkaError.is(err)) throw new Error(`expected a KafkaError, got ${String(err)}`);
  return err;
}

describe("EmbeddedClusterStore on disk", () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = tempDir();
    file = path.join(dir, METADATA_FILE);
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function writeDoc(doc: unknown): void {
    writeFileSync(file, typeof doc === "string" ? doc : JSON.stringify(doc));
  }

  it("keeps topics, epochs and producer ids across a reopen", async () => {
    const first = await EmbeddedClusterStore.open(dir);
    const broker = await first.register(brokerInfo(1));
    const ctl = await first.campaign(1);
    await first.createTopic(ctl, { ...topicState("t", 2), configs: { "retention.ms": "60000" } });
    const p1 = first.topic("t")?.partitions[1];
    const moved = { ...partitionState(1, [1]), leaderEpoch: 4, partitionEpoch: 7 };
    expect(await first.updatePartition(ctl, "t", p1?.partitionEpoch ?? -1, moved)).toBe(true);
    const ids = await first.allocateProducerIds(100);
    const before = first.topic("t");
    await first.close();

    const doc = JSON.parse(readFileSync(file, "utf8"));
    expect(doc.version).toBe(3);
    const second = await EmbeddedClusterStore.open(dir);
    expect(second.clusterId()).toBe(first.clusterId());
    expect(second.topic("t")).toEqual(before);
    expect(second.topic("t")?.partitions[1]).toEqual(moved);
    expect(Object.getPrototypeOf(second.topic("t")?.configs)).toBeNull();
    expect(second.brokers()).toEqual([]);
    expect(second.controller()).toBeNull();
    expect((await second.register(brokerInfo(1))).epoch).toBeGreaterThan(broker.epoch);
    expect((await second.campaign(1)).epoch).toBeGreaterThan(ctl.epoch);
    expect(second.producerIdsIssued()).toBeGreaterThanOrEqual(ids + 100);
    expect(await second.allocateProducerIds(1)).toBeGreaterThanOrEqual(ids + 100);
    await second.close();
  });

  it("migrates a version 1 file: leader epochs kept, partition epochs from them, ISR as stored", async () => {
    const v1 = await FileMetadataStore.open(dir, 1, null);
    await v1.createTopic({
      name: "old",
      id: "0123456789abcdef0123456789abcdef",
      partitions: [
        { partition: 0, leader: 1, leaderEpoch: 3, replicas: [1], isr: [1] },
        { partition: 1, leader: 1, leaderEpoch: 0, replicas: [1], isr: [] },
      ],
      configs: { "cleanup.policy": "compact" },
    });
    const handedOut = await v1.nextProducerId();
    const cluster = v1.clusterId();
    await v1.close();

    const store = await EmbeddedClusterStore.open(dir, { clusterId: cluster });
    expect(store.clusterId()).toBe(cluster);
    const t = store.topicById("0123456789abcdef0123456789abcdef");
    expect(t?.name).toBe("old");
    expect(t?.partitions).toEqual([
      { ...partitionState(0, [1]), leaderEpoch: 3, partitionEpoch: 3 },
      { ...partitionState(1, [1]), isr: [] },
    ]);
    expect({ ...t?.configs }).toEqual({ "cleanup.policy": "compact" });
    expect(store.producerIdsIssued()).toBeGreaterThan(handedOut);
    expect(await store.allocateProducerIds(1)).toBeGreaterThan(handedOut);
    await store.close();
    expect(JSON.parse(readFileSync(file, "utf8")).version).toBe(3);
    const reopened = await EmbeddedClusterStore.open(dir);
    expect(reopened.topic("old")).toEqual(t);
    await reopened.close();
  });

  it("keeps SCRAM credentials and ACL bindings across a reopen", async () => {
    const first = await EmbeddedClusterStore.open(dir);
    await first.alterScramCredentials([upsertion("alice"), upsertion("bob", "SCRAM-SHA-512", 8192, 5)], []);
    await first.createAcls([
      binding(),
      binding({ resourceName: "pay", patternType: "PREFIXED", permission: "DENY" }),
    ]);
    const credential = first.scramCredential("bob", "SCRAM-SHA-512");
    const users = first.scramUsers();
    const bindings = first.aclBindings();
    await first.close();

    const second = await EmbeddedClusterStore.open(dir);
    expect(second.scramUsers()).toEqual(users);
    expect(second.scramCredential("bob", "SCRAM-SHA-512")).toEqual(credential);
    expect(second.aclBindings()).toEqual(bindings);
    await second.alterScramCredentials([], [{ user: "alice", mechanism: "SCRAM-SHA-256" }]);
    await second.deleteAcls([filter({ patternType: "PREFIXED" })]);
    await second.close();

    const third = await EmbeddedClusterStore.open(dir);
    expect(third.scramUsers().map((u) => u.user)).toEqual(["bob"]);
    expect(third.aclBindings()).toEqual([binding()]);
    await third.close();
  });

  it("migrates a version 2 file: no credentials, no bindings, rewritten as version 3", async () => {
    const t = { ...topicState("t"), configs: {} };
    writeDoc({
      version: 2,
      clusterId: "c2",
      controllerEpoch: 4,
      brokerEpoch: 5,
      producerIdsIssued: 6,
      topics: [t],
    });
    const store = await EmbeddedClusterStore.open(dir);
    expect(store.topic("t")).toEqual(t);
    expect(store.producerIdsIssued()).toBe(6);
    expect(store.scramUsers()).toEqual([]);
    expect(store.aclBindings()).toEqual([]);
    await store.close();
    const doc = JSON.parse(readFileSync(file, "utf8"));
    expect(doc).toMatchObject({ version: 3, clusterId: "c2", scramCredentials: [], aclBindings: [] });
    expect(doc.topics).toEqual([t]);
  });

  it("repairs a version 1 topic without an id or with a refused config, once and for good", async () => {
    writeDoc({
      version: 1,
      clusterId: "c1",
      brokers: [{ nodeId: 1, host: "h", port: 1, rack: null }],
      topics: [
        {
          name: "t",
          partitions: [{ partition: 0, leader: 1, leaderEpoch: 0, replicas: [1], isr: [1] }],
          configs: { constructor: "x", "retention.ms": "nope", "segment.ms": "1000" },
        },
      ],
      producerIdBlockEnd: 2000,
    });
    const store = await EmbeddedClusterStore.open(dir);
    const t = store.topic("t");
    expect(t?.id).toMatch(/^[0-9a-f]{32}$/);
    expect({ ...t?.configs }).toEqual({ "segment.ms": "1000" });
    expect(store.producerIdsIssued()).toBe(2000);
    expect(store.brokers()).toEqual([]);
    await store.close();
    const again = await EmbeddedClusterStore.open(dir);
    expect(again.topic("t")?.id).toBe(t?.id);
    await again.close();
  });

  it("refuses a file it cannot trust with KAFKA_STORAGE_ERROR naming the file and the fault", async () => {
    const good = { version: 2, clusterId: "c", controllerEpoch: 1, brokerEpoch: 1, producerIdsIssued: 0 };
    const v3 = { ...good, version: 3, topics: [], scramCredentials: [], aclBindings: [] };
    const key = Buffer.alloc(32, 2).toString("base64");
    const scram = {
      user: "alice",
      mechanism: "SCRAM-SHA-256",
      salt: Buffer.alloc(16, 1).toString("base64"),
      storedKey: key,
      serverKey: key,
      iterations: 4096,
    };
    const t = {
      name: "t",
      id: "0123456789abcdef0123456789abcdef",
      partitions: [partitionState(0, [1])],
      configs: {},
    };
    const cases: [unknown, RegExp][] = [
      ['{"version": 2, "clusterId": "c", "top', /unreadable/],
      ["[]", /not a JSON object/],
      [{ ...good, version: 4, topics: [] }, /version 4/],
      [{ ...good, clusterId: "", topics: [] }, /no cluster id/],
      [{ ...good, brokerEpoch: -1, topics: [] }, /brokerEpoch/],
      [{ ...good, topics: {} }, /topics is not a list/],
      [
        { ...good, topics: [{ ...t, partitions: [{ ...t.partitions[0], isr: [2] }] }] },
        /topic t: partition 0: isr/,
      ],
      [{ ...good, topics: [{ ...t, partitions: [{ ...t.partitions[0], partition: 1 }] }] }, /numbered 1/],
      [{ ...good, topics: [{ ...t, partitions: [{ partition: 0 }] }] }, /topic t: partition 0/],
      [{ ...good, topics: [t, { ...t, id: "1123456789abcdef0123456789abcdef" }] }, /topic t appears twice/],
      [{ ...good, topics: [t, { ...t, name: "u" }] }, /used twice/],
      [{ ...v3, scramCredentials: {} }, /scramCredentials is not a list/],
      [{ ...v3, aclBindings: null }, /aclBindings is not a list/],
      [
        { ...v3, scramCredentials: [{ ...scram, iterations: 100 }] },
        /a SCRAM credential: Too few iterations/,
      ],
      [{ ...v3, scramCredentials: [{ ...scram, salt: "not base64!" }] }, /salt is not base64/],
      [{ ...v3, scramCredentials: [{ ...scram, storedKey: "AAAA" }] }, /StoredKey must be 32 bytes/],
      [{ ...v3, scramCredentials: [{ ...scram, mechanism: "MD5" }] }, /unknown mechanism/],
      [{ ...v3, scramCredentials: [scram, scram] }, /credential of alice appears twice/],
      [{ ...v3, aclBindings: [{ ...binding(), operation: "ANY" }] }, /an ACL binding: Invalid operation/],
      [{ ...v3, aclBindings: [binding(), binding()] }, /an ACL binding appears twice/],
    ];
    for (const [doc, why] of cases) {
      writeDoc(doc);
      const err = await refusal(EmbeddedClusterStore.open(dir));
      expect(err.code).toBe("KAFKA_STORAGE_ERROR");
      expect(err.message).toContain(file);
      expect(err.message).toMatch(why);
    }
  });

  it("refuses a data directory of another cluster", async () => {
    const store = await EmbeddedClusterStore.open(dir, { clusterId: "mine" });
    await store.close();
    const err = await refusal(EmbeddedClusterStore.open(dir, { clusterId: "theirs" }));
    expect(err.code).toBe("INCONSISTENT_CLUSTER_ID");
  });

  it("never reads a partial temp file left by a crash", async () => {
    const store = await EmbeddedClusterStore.open(dir);
    const ctl = await store.campaign(1);
    await store.createTopic(ctl, topicState("kept"));
    await store.close();
    writeFileSync(`${file}.tmp`, '{"version": 2, "clusterId": "torn", "topi');
    const reopened = await EmbeddedClusterStore.open(dir);
    expect(reopened.topic("kept")).toBeDefined();
    const next = await reopened.campaign(1);
    await reopened.createTopic(next, topicState("after"));
    await reopened.close();
    expect(JSON.parse(readFileSync(file, "utf8")).topics).toHaveLength(2);
  });

  it("refuses a change whose write tears, and a power cut keeps the last whole write", async () => {
    const fs = new LossyFs();
    const store = await EmbeddedClusterStore.open(dir, { sfs: fs });
    const ctl = await store.campaign(1);
    await store.createTopic(ctl, topicState("kept"));
    const issued = await store.allocateProducerIds(10);

    fs.tearNextWrite(20);
    const err = await refusal(store.createTopic(ctl, topicState("torn")));
    expect(err.code).toBe("KAFKA_STORAGE_ERROR");
    expect(store.topic("torn")).toBeUndefined();
    fs.failFdatasync(1);
    expect((await refusal(store.allocateProducerIds(5))).code).toBe("KAFKA_STORAGE_ERROR");
    expect(store.producerIdsIssued()).toBe(issued + 10);

    fs.powerCut();
    const reopened = await EmbeddedClusterStore.open(dir);
    expect(reopened.topic("kept")).toBeDefined();
    expect(reopened.topic("torn")).toBeUndefined();
    expect(reopened.producerIdsIssued()).toBe(issued + 10);
    expect((await reopened.campaign(1)).epoch).toBeGreaterThan(ctl.epoch);
    await reopened.close();
  });
});
