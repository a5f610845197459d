/**
 * Kafka's murmur2: the 32-bit MurmurHash2 variant of the Java client's `Utils.murmur2` (seed
 * 0x9747b28c, little-endian 4-byte words), which its default partitioner applies to the bytes of a
 * record's key. `partitionForKey` picks the partition the Java client (and librdkafka's
 * `murmur2` partitioners, and KafkaJS's default partitioner) picks for a keyed record.
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;
const R = 24;

/** The murmur2 hash of `data` as the Java client returns it: a signed 32-bit integer. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = (SEED ^ length) | 0;
  const words = length >>> 2;
  for (let i = 0; i < words; i++) {
    const j = i << 2;
    let k = data[j] | (data[j + 1] << 8) | (data[j + 2] << 16) | (data[j + 3] << 24);
    k = Math.imul(k, M);
    k ^= k >>> R;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const tail = words << 2;
  const rest = length & 3;
  if (rest > 0) {
    // The last 1-3 bytes, highest first, as the Java switch falls through its cases.
    if (rest === 3) h ^= data[tail + 2] << 16;
    if (rest >= 2) h ^= data[tail + 1] << 8;
    h ^= data[tail];
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** Clears the sign bit, as the Java client's `Utils.toPositive` does (not `Math.abs`). */
export function toPositive(n: number): number {
  return n & 0x7fffffff;
}

/** The partition of a keyed record under the Java client's default partitioner. */
export function partitionForKey(key: Uint8Array, numPartitions: number): number {
  if (!Number.isInteger(numPartitions) || numPartitions <= 0) {
    throw new RangeError(`numPartitions must be a positive integer, got ${numPartitions}`);
  }
  return toPositive(murmur2(key)) % numPartitions;
}
