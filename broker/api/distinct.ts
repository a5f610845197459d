/**
 * Each named item of a request answered once. A client that names the same topic, partition,
 * group or resource many times must not multiply the work and the size of the answer
 * (docs/decisions/0019); as Kafka, which gathers them in maps, the first occurrence counts and
 * the rest are dropped. Linear in the request: no quadratic scans.
 */

/** `items`, each key once, in the order first named. */
export function distinct<T>(items: readonly T[], key: (item: T) => unknown): T[] {
  const seen = new Set<unknown>();
  const out: T[] = [];
  for (const item of items) {
    const k = key(item);
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(item);
  }
  return out;
}

/**
 * Topics with their partitions, each topic once (a topic named again has its partitions added to
 * its first entry) and each partition of a topic once.
 */
export function distinctPartitions<T, P>(
  topics: readonly T[],
  topicKey: (topic: T) => string,
  partitionsOf: (topic: T) => readonly P[],
  partitionKey: (partition: P) => number,
  withPartitions: (topic: T, partitions: P[]) => T,
): T[] {
  const merged = new Map<string, { topic: T; seen: Set<number>; partitions: P[] }>();
  for (const topic of topics) {
    const key = topicKey(topic);
    let entry = merged.get(key);
    if (!entry) {
      entry = { topic, seen: new Set(), partitions: [] };
      merged.set(key, entry);
    }
    for (const p of partitionsOf(topic)) {
      const k = partitionKey(p);
      if (entry.seen.has(k)) continue;
      entry.seen.add(k);
      entry.partitions.push(p);
    }
  }
  return [...merged.values()].map((e) => withPartitions(e.topic, e.partitions));
}
