/**
 * The lowered limits the adversarial suite runs the broker with, in one table the lead can adjust:
 * broker config key -> value. The keys are those Kafka uses where Kafka has one, else the names
 * the fixes were expected to choose; a key the broker does not know (yet) is left out of the
 * broker's flags, and `limits.test.ts` lists it, so a renamed key shows up as one failing test
 * instead of a broker that refuses to start. Thresholds of the memory checks are here too.
 */
import { BROKER_CONFIG_KEYS } from "../../broker/config.js";

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * The broker-wide decompression budget the attacks run under. Bombs are stored by a broker
 * started with STORE_BUDGET (a produce decompresses and checks them), then read by one restarted
 * with this budget: data written under other rules, or by an older version.
 */
export const DECOMPRESSION_BUDGET = 16 * MiB;
export const STORE_BUDGET = 128 * MiB;

export const LIMITS: Record<string, string | number> = {
  /** Kafka's cap on one Fetch response (issue 12: responses nobody reads). */
  "fetch.max.bytes": 256 * KiB,
  /** The largest request frame; Kafka requires queued.max.request.bytes to be at least this. */
  "socket.request.max.bytes": 16 * MiB,
  /** Kafka's broker-wide budget of request bytes being received (frames in progress). */
  "queued.max.request.bytes": 16 * MiB,
  /** A broker-wide budget of response bytes queued in memory (samsa's name, net fix). */
  "queued.max.response.bytes": 8 * MiB,
  /** How long a connection may take to finish a frame once started (net fix). */
  "request.frame.timeout.ms": 2000,
  /** Decompressed bytes the broker holds at once, all requests together (also one batch's most). */
  "decompression.memory.max.bytes": DECOMPRESSION_BUDGET,
};

/**
 * The descriptor limit (`prlimit --nofile`) of the broker child that is asked for 2 x
 * `PARTITIONS_UNDER_FD_LIMIT` partitions: too few for one descriptor per partition, enough for a
 * broker that budgets them (or refuses what it cannot hold).
 */
export const FD_LIMIT = 512;
export const PARTITIONS_UNDER_FD_LIMIT = 300;

/** Memory checks: the most a small attack may add to the broker's peak RSS (VmHWM), in MB. */
export const PEAK_GROWTH_MB = {
  /** 60 pipelined Fetch of 4 MiB each, never read (240 MB if every response is held). */
  fetchUnread: 100,
  /** 8 connections each 15 MiB into a declared 16 MiB frame (120 MB if all is held). */
  stalledFrames: 50,
  /**
   * 4 gzip batches each inflating to 128 MB, produced at once to a compacted topic (512 MB if
   * inflated; the budget holds one 16 MiB output, its chunks and their concatenation at a time).
   */
  gzipBombs: 100,
  /** ListOffsets by timestamp over a stored zstd batch inflating to 60 MB. */
  listOffsetsBomb: 40,
  /** An HTTP read of 12 stored zstd batches each inflating to 24 MB (288 MB if inflated). */
  httpReadBombs: 64,
  /**
   * Each pre-authentication attack of pre-auth.test.ts: 240 connections of random frames up to
   * 512 KiB, 30 frames declaring up to 2 GiB, 40 connections 499 KiB into 500 KiB frames (20 MB
   * if every stalled frame is held).
   */
  preAuth: 48,
};

/** The LIMITS whose keys the broker knows: the flags a test broker gets. */
export function knownLimits(extra: Record<string, string | number> = {}): Record<string, string | number> {
  const all = { ...LIMITS, ...extra };
  return Object.fromEntries(Object.entries(all).filter(([key]) => key in BROKER_CONFIG_KEYS));
}

/** The LIMITS keys the broker does not know. */
export function unknownLimitKeys(): string[] {
  return Object.keys(LIMITS).filter((key) => !(key in BROKER_CONFIG_KEYS));
}
