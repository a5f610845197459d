/**
 * The durability journal's rounds (storage/journal.ts, flush.policy=always): how long each
 * round's writes and its fdatasync took, and the bytes written. Storage does not import the broker;
 * it tells a `JournalStats` (this object) of each durable round.
 */
import type { Registry } from "prom-client";
import type { JournalStats } from "../../storage/journal.js";
import { type CounterSlot, type HistogramSlot, SlotCounter, SlotHistogram } from "./slots.js";

/** Journal latency buckets (seconds): 50 µs (page cache, fast NVMe) to 2.5 s (a stalled disk). */
export const JOURNAL_LATENCY_BUCKETS_S = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
];

export class StorageMetrics implements JournalStats {
  private readonly write: HistogramSlot;
  private readonly fsync: HistogramSlot;
  private readonly bytes: CounterSlot;

  constructor(registry: Registry) {
    this.write = new SlotHistogram(
      registry,
      "samsa_journal_write_seconds",
      "Time to write one journal round (every append waiting in it, one writev)",
      [],
      JOURNAL_LATENCY_BUCKETS_S,
    ).slot({});
    this.fsync = new SlotHistogram(
      registry,
      "samsa_journal_fsync_seconds",
      "Time of one journal round's fdatasync (group commit: one per round for every partition)",
      [],
      JOURNAL_LATENCY_BUCKETS_S,
    ).slot({});
    this.bytes = new SlotCounter(
      registry,
      "samsa_journal_bytes_total",
      "Bytes written to the journal",
      [],
    ).slot({});
  }

  round(writeSeconds: number, fsyncSeconds: number, bytes: number): void {
    this.write.observe(writeSeconds);
    this.fsync.observe(fsyncSeconds);
    this.bytes.value += bytes;
  }
}
