/**
 * The invariants of cluster metadata, checked where it enters a ClusterStore (a controller's
 * write, a file read back from disk), and the frozen copies the stores hand out. A check returns
 * what is wrong in one phrase, or null; the caller chooses the error (INVALID_REQUEST for a
 * write, KAFKA_STORAGE_ERROR for a file).
 */
import { configRecord } from "../../storage/topic-configs.js";
import { NO_LEADER, type PartitionState, type TopicState } from "./cluster.js";
import { VALID_TOPIC_ID } from "./file-store.js";

function isId(n: unknown): n is number {
  return Number.isSafeInteger(n) && (n as number) >= 0;
}

/** What is wrong with a list of node ids (`what` names it), or null. */
function nodeListProblem(list: unknown, what: string): string | null {
  if (!Array.isArray(list)) return `${what} is not a list`;
  if (!list.every(isId)) return `${what} holds something other than node ids`;
  if (new Set(list).size !== list.length) return `${what} names a node twice`;
  return null;
}

/** What is wrong with a partition's state, or null. */
export function partitionProblem(p: PartitionState): string | null {
  if (p === null || typeof p !== "object") return "partition state is not an object";
  if (!isId(p.partition)) return "partition number is not a non-negative integer";
  if (!isId(p.leaderEpoch) || !isId(p.partitionEpoch)) return "epochs must be non-negative integers";
  for (const [list, what] of [
    [p.replicas, "replicas"],
    [p.isr, "isr"],
    [p.addingReplicas, "addingReplicas"],
    [p.removingReplicas, "removingReplicas"],
  ] as const) {
    const problem = nodeListProblem(list, what);
    if (problem) return problem;
  }
  if (p.replicas.length === 0) return "replicas is empty";
  const assigned = new Set(p.replicas);
  for (const [list, what] of [
    [p.isr, "isr"],
    [p.addingReplicas, "addingReplicas"],
    [p.removingReplicas, "removingReplicas"],
  ] as const) {
    if (!list.every((n) => assigned.has(n))) return `${what} names a node outside replicas`;
  }
  if (p.leader !== NO_LEADER && !assigned.has(p.leader)) return "leader is not a replica";
  return null;
}

/** What is wrong with a topic's state (its partitions numbered 0.. in order), or null. */
export function topicProblem(t: TopicState): string | null {
  if (t === null || typeof t !== "object") return "topic state is not an object";
  if (typeof t.name !== "string" || t.name.length === 0) return "topic name is empty";
  if (typeof t.id !== "string" || !VALID_TOPIC_ID.test(t.id)) return "topic id is not 32 hex digits";
  if (!Array.isArray(t.partitions) || t.partitions.length === 0) return "topic has no partitions";
  if (t.configs === null || typeof t.configs !== "object") return "configs is not a map";
  if (!Object.values(t.configs).every((v) => typeof v === "string")) return "a config value is not a string";
  for (const [i, p] of t.partitions.entries()) {
    const problem = partitionProblem(p);
    if (problem) return `partition ${i}: ${problem}`;
    if (p.partition !== i) return `partition at index ${i} is numbered ${p.partition}`;
  }
  return null;
}

/** A frozen copy of `p`, sharing nothing with it. */
export function frozenPartition(p: PartitionState): PartitionState {
  return Object.freeze({
    partition: p.partition,
    replicas: Object.freeze([...p.replicas]),
    isr: Object.freeze([...p.isr]),
    leader: p.leader,
    leaderEpoch: p.leaderEpoch,
    partitionEpoch: p.partitionEpoch,
    addingReplicas: Object.freeze([...p.addingReplicas]),
    removingReplicas: Object.freeze([...p.removingReplicas]),
  }) as PartitionState;
}

/** A frozen, prototype-free config map copied from `configs` (own keys only). */
export function frozenConfigs(configs: Record<string, string>): Record<string, string> {
  return Object.freeze(configRecord(Object.entries(configs)));
}

/** A frozen copy of `t` (configs prototype-free), sharing nothing with it. */
export function frozenTopic(t: TopicState): TopicState {
  return Object.freeze({
    name: t.name,
    id: t.id,
    partitions: Object.freeze(t.partitions.map(frozenPartition)) as PartitionState[],
    configs: frozenConfigs(t.configs),
  });
}
