/** Request bodies that broker tests send often, decoded-message shaped (see protocol/messages). */
import type { Message } from "../../protocol/codec.js";

export function produceRequest(topic: string, records: Buffer, acks = -1, partition = 0): Message {
  return {
    transactionalId: null,
    acks,
    timeoutMs: 30_000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records }] }],
  };
}

export interface FetchOptions {
  partition?: number;
  maxBytes?: number;
  maxWaitMs?: number;
  minBytes?: number;
}

export function fetchRequest(topic: string, offset: number, options: FetchOptions = {}): Message {
  const maxBytes = options.maxBytes ?? 1024 * 1024;
  return {
    replicaId: -1,
    maxWaitMs: options.maxWaitMs ?? 0,
    minBytes: options.minBytes ?? 0,
    maxBytes,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      {
        topic,
        partitions: [
          {
            partition: options.partition ?? 0,
            currentLeaderEpoch: -1,
            fetchOffset: offset,
            logStartOffset: -1,
            partitionMaxBytes: maxBytes,
          },
        ],
      },
    ],
    forgottenTopicsData: [],
    rackId: "",
  };
}
