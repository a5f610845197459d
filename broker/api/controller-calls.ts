/**
 * What the handlers of the controller's APIs share (ElectLeaders, AlterPartitionReassignments,
 * ListPartitionReassignments, AlterPartition, ControlledShutdown): a request's timeoutMs as a bound
 * on the wait for the controller, and an answer's error fields.
 */
import { KafkaError } from "../../protocol/errors.js";
import type { Broker } from "../broker.js";
import type { PartitionRef } from "../controller/election.js";

/**
 * `work`'s value, or REQUEST_TIMED_OUT once `timeoutMs` has passed (the controller may still
 * apply the change afterwards, as Kafka's does). A timeout of 0 or less sets no bound of its own:
 * the controller channel's timeout still bounds the wait.
 */
export async function boundedWait<T>(work: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  if (!(timeoutMs > 0)) return work;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new KafkaError("REQUEST_TIMED_OUT", `${what} did not complete within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** The error code and message of an answer: 0 and null for none. */
export function errorOf(err: KafkaError | null): { errorCode: number; errorMessage: string | null } {
  return err ? { errorCode: err.errorCode, errorMessage: err.message } : { errorCode: 0, errorMessage: null };
}

/** `err` as the KafkaError to answer: itself, or UNKNOWN_SERVER_ERROR (logged). */
export function answerable(broker: Broker, err: unknown, what: string): KafkaError {
  if (KafkaError.is(err)) return err;
  broker.log.error({ err }, `${what} failed`);
  return new KafkaError("UNKNOWN_SERVER_ERROR", `${what} failed: ${(err as Error)?.message ?? String(err)}`);
}

/** Whether the store holds partition `partition` of `topic`. */
export function partitionExists(broker: Broker, ref: PartitionRef): boolean {
  const count = broker.store.topic(ref.topic)?.partitions.length ?? 0;
  return Number.isInteger(ref.partition) && ref.partition >= 0 && ref.partition < count;
}

export function unknownPartition(ref: PartitionRef): KafkaError {
  return new KafkaError("UNKNOWN_TOPIC_OR_PARTITION", `${ref.topic}-${ref.partition} does not exist`);
}

/**
 * Topics with their partitions, in request order, each topic once: how the answers of
 * ElectLeaders and AlterPartitionReassignments group per-partition results.
 */
export function groupByTopic<R extends PartitionRef>(
  results: readonly R[],
): { topic: string; results: R[] }[] {
  const byTopic = new Map<string, R[]>();
  for (const r of results) {
    const list = byTopic.get(r.topic);
    if (list) list.push(r);
    else byTopic.set(r.topic, [r]);
  }
  return [...byTopic].map(([topic, list]) => ({ topic, results: list }));
}

/** `answers` in the order `asked` names their partitions (each answer once). */
export function inAskedOrder<R extends PartitionRef>(
  asked: readonly PartitionRef[],
  answers: readonly R[],
): R[] {
  const byKey = new Map(answers.map((a) => [`${a.partition}:${a.topic}`, a]));
  return asked.flatMap((ref) => byKey.get(`${ref.partition}:${ref.topic}`) ?? []);
}

/** Each partition of `topics` once, in the order first named. */
export function distinctRefs<T>(
  topics: readonly T[],
  topicOf: (topic: T) => string,
  partitionsOf: (topic: T) => readonly number[],
): PartitionRef[] {
  const seen = new Set<string>();
  const out: PartitionRef[] = [];
  for (const t of topics) {
    const topic = topicOf(t);
    for (const partition of partitionsOf(t)) {
      const key = `${partition}:${topic}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ topic, partition });
    }
  }
  return out;
}

/**
 * Whether this broker is the controller now, as the store names it (the controller's APIs that
 * are never forwarded, AlterPartition and ControlledShutdown, answer NOT_CONTROLLER otherwise).
 */
export function isController(broker: Broker): boolean {
  return broker.store.controller()?.nodeId === broker.config.nodeId;
}
