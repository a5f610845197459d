/**
 * Stores batches in a partition as replication would: unchecked beyond framing and CRC, offsets
 * and epochs as given. The partition follows an imagined leader for the moment and then leads
 * again at the same epochs (its high watermark moves to the log end).
 */
import type { Partition } from "../../broker/partition.js";
import { writeInt64 } from "../../protocol/varint.js";

/** Appends `batch` at the partition's log end as a follower copy (its baseOffset is patched). */
export async function storeAsReplica(partition: Partition, batch: Buffer): Promise<void> {
  const { leaderEpoch, partitionEpoch, isr, replicas } = partition;
  partition.makeFollower(leaderEpoch, partition.localId + 1);
  try {
    writeInt64(batch, 0, partition.logEndOffset);
    await partition.appendAsFollower(batch);
  } finally {
    partition.makeLeader(leaderEpoch, partitionEpoch, isr, replicas);
  }
}
