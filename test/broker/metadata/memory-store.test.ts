/**
 * MemoryClusterStore through the ClusterStore contract suite, plus what only it promises: frozen
 * values and checked inputs.
 */
import type { Logger } from "pino";
import { describe, expect, it } from "vitest";
import {
  ACL_BINDINGS_MAX,
  ACL_BINDINGS_PER_RESOURCE_MAX,
  ACL_CREATIONS_MAX,
} from "../../../broker/metadata/acl-bindings.js";
import { MemoryClusterStore } from "../../../broker/metadata/memory-store.js";
import { brokerInfo, describeClusterStore, partitionState, topicState } from "./store-contract.js";
import { binding } from "./store-security-contract.js";

describeClusterStore("MemoryClusterStore", async () => {
  const store = new MemoryClusterStore();
  return {
    store,
    loseSession: async (nodeId) => {
      await store.expire(nodeId);
    },
    openPeer: async () => store,
    cleanup: () => store.close(),
  };
});

describe("MemoryClusterStore", () => {
  it("logs a listener's throw and goes on: other listeners, later events, lost sessions", async () => {
    const logged: unknown[] = [];
    const logger = { error: (fields: { err: unknown }) => logged.push(fields.err) } as unknown as Logger;
    const store = new MemoryClusterStore({ logger });
    const seen: string[] = [];
    store.watch(() => {
      throw new Error("watch listener bug");
    });
    store.watch((event) => seen.push(event.type));
    const session = await store.register(brokerInfo(1));
    session.onLost(() => {
      throw new Error("lost listener bug");
    });
    await store.expire(1);
    session.onLost(() => {
      throw new Error("late lost listener bug");
    });
    await store.register(brokerInfo(2));
    await new Promise<void>((resolve) => queueMicrotask(resolve));
    expect(seen).toEqual(["broker", "broker", "broker"]);
    expect(logged.map((err) => (err as Error).message).sort()).toEqual([
      "late lost listener bug",
      "lost listener bug",
      "watch listener bug",
      "watch listener bug",
      "watch listener bug",
    ]);
    await store.close();
  });

  it("refuses a registration whose incarnation id is not one", async () => {
    const store = new MemoryClusterStore();
    for (const incarnationId of ["", "a b", "x".repeat(65), 7 as unknown as string]) {
      await expect(store.register({ ...brokerInfo(1), incarnationId })).rejects.toMatchObject({
        code: "INVALID_REQUEST",
      });
    }
    expect(store.broker(1)).toBeUndefined();
    await store.close();
  });

  it("hands out frozen values", async () => {
    const store = new MemoryClusterStore();
    const ctl = await store.campaign(1);
    await store.register(brokerInfo(1));
    await store.createTopic(ctl, topicState("t", 1, [1]));
    const t = store.topic("t");
    expect(Object.isFrozen(t)).toBe(true);
    expect(Object.isFrozen(t?.partitions[0].isr)).toBe(true);
    expect(Object.isFrozen(t?.configs)).toBe(true);
    expect(Object.isFrozen(store.broker(1))).toBe(true);
    expect(Object.isFrozen(store.topics())).toBe(true);
    await store.close();
  });

  it("refuses partition states that break their invariants, writing nothing", async () => {
    const store = new MemoryClusterStore();
    const ctl = await store.campaign(1);
    await store.createTopic(ctl, topicState("t", 1, [1, 2]));
    const p0 = partitionState(0, [1, 2]);
    const broken = [
      { ...p0, isr: [3], partitionEpoch: 1 },
      { ...p0, leader: 5, partitionEpoch: 1 },
      { ...p0, replicas: [], isr: [], leader: -1, partitionEpoch: 1 },
      { ...p0, replicas: [1, 1], partitionEpoch: 1 },
      { ...p0, partitionEpoch: -1 },
    ];
    for (const next of broken) {
      await expect(store.updatePartition(ctl, "t", 0, next)).rejects.toMatchObject({
        code: "INVALID_REQUEST",
      });
    }
    await expect(store.updatePartition(ctl, "t", 0, { ...p0, partitionEpoch: 0 })).rejects.toMatchObject({
      code: "INVALID_REQUEST",
    });
    await expect(
      store.updatePartition(ctl, "t", 0, { ...p0, leaderEpoch: 0, partitionEpoch: 1 }),
    ).resolves.toBe(true);
    await expect(store.createTopic(ctl, { ...topicState("u"), id: "0".repeat(32) })).rejects.toMatchObject({
      code: "INVALID_REQUEST",
    });
    await expect(store.allocateProducerIds(0)).rejects.toMatchObject({ code: "INVALID_REQUEST" });
    expect(store.topic("u")).toBeUndefined();
    await store.close();
  });

  it("keeps at most ACL_BINDINGS_PER_RESOURCE_MAX bindings on a pattern and ACL_BINDINGS_MAX in all", async () => {
    const store = new MemoryClusterStore();
    const onOrders = (i: number) => binding({ principal: `User:u${i}` });
    for (let i = 0; i < ACL_BINDINGS_PER_RESOURCE_MAX; i += ACL_CREATIONS_MAX) {
      const batch = Array.from(
        { length: Math.min(ACL_CREATIONS_MAX, ACL_BINDINGS_PER_RESOURCE_MAX - i) },
        (_, k) => onOrders(i + k),
      );
      expect((await store.createAcls(batch)).every((r) => r.error === null)).toBe(true);
    }
    const [over, existing, elsewhere] = await store.createAcls([
      onOrders(ACL_BINDINGS_PER_RESOURCE_MAX),
      onOrders(0),
      binding({ resourceName: "payments" }),
    ]);
    expect(over.error?.code).toBe("POLICY_VIOLATION");
    expect(existing.error).toBeNull();
    expect(elsewhere.error).toBeNull();
    let n = ACL_BINDINGS_PER_RESOURCE_MAX + 1;
    while (n < ACL_BINDINGS_MAX) {
      const batch = Array.from({ length: Math.min(ACL_CREATIONS_MAX, ACL_BINDINGS_MAX - n) }, (_, k) =>
        binding({ resourceName: `t${n + k}` }),
      );
      expect((await store.createAcls(batch)).every((r) => r.error === null)).toBe(true);
      n += batch.length;
    }
    const [full] = await store.createAcls([binding({ resourceName: "one-more" })]);
    expect(full.error?.code).toBe("POLICY_VIOLATION");
    expect(store.aclBindings()).toHaveLength(ACL_BINDINGS_MAX);
    await store.close();
  });
});
