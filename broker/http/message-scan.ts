/**
 * The message browser's bounded scan: records of one or more partitions of a topic, read through
 * the Fetch handler as a consumer reads them (KafkaApi.fetch, batches decompressed by records.ts'
 * `plainBatch` within the decompression budget), filtered on their raw bytes (record-filter.ts),
 * and merged by timestamp (ties: partition, then offset).
 *
 * Each partition is a lane from its start position up to an end fixed when the request began (the
 * high watermark then). A lane keeps the matching records of its last fetch not yet shown; a
 * record is shown only when no lane could still hold an earlier one: each other lane has a match
 * buffered, is done, or has scanned a record at least as late (a partition's timestamps are taken
 * to grow, as CreateTime from one producer and LogAppendTime do; where they do not, a page is in
 * timestamp order only as far as they are), so that a partition without matches does not have
 * to be read to its end before others are shown. A scan ends when the page is full (`limit`
 * records, or PAGE_BYTES_MAX of keys, values and headers), when every lane is done, or when a
 * budget runs out: records scanned (`maxScan`), bytes scanned (SCAN_BYTES_MAX) or time
 * (SCAN_TIME_MS). At a budget's end the matches already buffered are shown in timestamp order.
 * The cursor is, per partition, the offset of its first match not shown, else where its scan
 * stopped: a page continued from it skips no match and shows none twice.
 */
import { errorName } from "../../protocol/errors.js";
import {
  ATTRIBUTES_OFFSET,
  BATCH_HEADER_SIZE,
  batchSizeAt,
  CONTROL_MASK,
  LAST_OFFSET_DELTA_OFFSET,
  type RecordHeader,
  visitRecords,
} from "../../protocol/record-batch.js";
import { readInt64 } from "../../protocol/varint.js";
import { DECOMPRESSED_BYTES_MIN } from "../../storage/validate.js";
import { HttpError } from "./errors.js";
import { EARLIEST_OFFSET, type KafkaApi } from "./kafka-api.js";
import type { RawRecord } from "./record-filter.js";
import { plainBatch } from "./records.js";

/** Records one request scans at most (the default and the largest `max_scan`). */
export const SCAN_RECORDS_MAX = 200_000;
/** Key, value and header bytes one request scans at most. */
export const SCAN_BYTES_MAX = 64 * 1024 * 1024;
/** Time one request scans at most, checked between fetches. */
export const SCAN_TIME_MS = 2_000;
/** Key, value and header bytes of the records one page shows at most (at least one record). */
export const PAGE_BYTES_MAX = 4 * 1024 * 1024;
/** Bytes of record batches one fetch asks for, shared by the partitions fetched. */
const FETCH_BYTES = 4 * 1024 * 1024;
/** Bounds of one partition's share of a fetch. */
const PARTITION_FETCH_BYTES_MIN = 64 * 1024;
const PARTITION_FETCH_BYTES_MAX = 1024 * 1024;
/** Partitions in one fetch at most (each gets at least PARTITION_FETCH_BYTES_MIN). */
const FETCH_PARTITIONS_MAX = FETCH_BYTES / PARTITION_FETCH_BYTES_MIN;

/** A matching record, its bytes copied out of the fetched batch. */
export interface Match extends RawRecord {
  partition: number;
  offset: number;
  timestamp: number;
  headers: RecordHeader[];
}

/** One partition's scan: from `next` up to (not including) `end`. */
export interface Lane {
  partition: number;
  next: number;
  end: number;
  matches: Match[];
  head: number;
  /** A fetch gave nothing before `end`: nothing more in this request. */
  stalled: boolean;
  /** Bytes its next fetch asks for: small at first (a page may need few records), doubled each fetch. */
  fetchBytes: number;
  /**
   * Its last fetch, shared with other partitions, gave nothing: its next batch is larger than its
   * share, and only a fetch's first partition gets a whole batch beyond its limit (KIP-74). It is
   * fetched alone next.
   */
  alone: boolean;
  /** The latest timestamp scanned: its records not scanned yet are taken to be no earlier. */
  scannedTimestamp: number;
}

export type StopReason = "limit" | "end" | "page_bytes" | "scan_limit" | "bytes_limit" | "time_limit";

export interface ScanOptions {
  filter: ((r: RawRecord) => boolean) | null;
  limit: number;
  maxScan: number;
  pageBytes: number;
}

export interface ScanResult {
  records: Match[];
  stopped: StopReason;
  scanned: number;
  scannedBytes: number;
}

export function newLane(partition: number, next: number, end: number): Lane {
  return {
    partition,
    next: Math.min(next, end),
    end,
    matches: [],
    head: 0,
    stalled: false,
    fetchBytes: PARTITION_FETCH_BYTES_MIN,
    alone: false,
    scannedTimestamp: Number.NEGATIVE_INFINITY,
  };
}

/** Where a continued scan of `lane` starts: its first match not shown, else where it stopped. */
export function lanePosition(lane: Lane): number {
  return lane.head < lane.matches.length ? lane.matches[lane.head].offset : lane.next;
}

const needsFetch = (l: Lane): boolean => l.head === l.matches.length && l.next < l.end && !l.stalled;

export function recordBytes(r: RawRecord): number {
  let n = (r.key?.length ?? 0) + (r.value?.length ?? 0);
  for (const h of r.headers) n += h.key.length + (h.value?.length ?? 0);
  return n;
}

/** Scans `lanes` (moving their positions) until the page is full, they are done or a budget runs out. */
export async function scanLanes(
  api: KafkaApi,
  topic: string,
  lanes: Lane[],
  options: ScanOptions,
): Promise<ScanResult> {
  const startedMs = Date.now();
  const page = { records: [] as Match[], bytes: 0 };
  const counts = { scanned: 0, bytes: 0 };
  for (;;) {
    const full = emit(lanes, page, options, true);
    if (full) return { ...page, stopped: full, scanned: counts.scanned, scannedBytes: counts.bytes };
    const needy = lanes.filter(needsFetch);
    if (needy.length === 0)
      return { ...page, stopped: "end", scanned: counts.scanned, scannedBytes: counts.bytes };
    const budget = budgetSpent(counts, options, startedMs);
    if (budget) {
      emit(lanes, page, options, false);
      return { ...page, stopped: budget, scanned: counts.scanned, scannedBytes: counts.bytes };
    }
    const alone = needy.find((l) => l.alone);
    await fetchInto(api, topic, alone ? [alone] : needy.slice(0, FETCH_PARTITIONS_MAX), options, counts);
  }
}

function budgetSpent(
  counts: { scanned: number; bytes: number },
  options: ScanOptions,
  startedMs: number,
): StopReason | null {
  if (counts.scanned >= options.maxScan) return "scan_limit";
  if (counts.bytes >= SCAN_BYTES_MAX) return "bytes_limit";
  if (Date.now() - startedMs >= SCAN_TIME_MS) return "time_limit";
  return null;
}

/**
 * Moves buffered matches to the page in timestamp order; with `inOrder`, only while every lane
 * that may still hold an earlier record has a match buffered. Returns why the page is full, or null.
 */
function emit(
  lanes: Lane[],
  page: { records: Match[]; bytes: number },
  options: ScanOptions,
  inOrder: boolean,
): StopReason | null {
  for (;;) {
    if (page.records.length >= options.limit) return "limit";
    if (page.records.length > 0 && page.bytes >= options.pageBytes) return "page_bytes";
    let best: Lane | null = null;
    // The earliest timestamp a lane with nothing buffered may still hold.
    let unknownFrom = Number.POSITIVE_INFINITY;
    for (const lane of lanes) {
      if (lane.head === lane.matches.length) {
        if (needsFetch(lane)) unknownFrom = Math.min(unknownFrom, lane.scannedTimestamp);
        continue;
      }
      if (best === null || earlier(lane.matches[lane.head], best.matches[best.head])) best = lane;
    }
    if (best === null) return null;
    if (inOrder && best.matches[best.head].timestamp > unknownFrom) return null;
    const record = best.matches[best.head++];
    page.records.push(record);
    page.bytes += recordBytes(record);
    if (best.head === best.matches.length) {
      best.matches = [];
      best.head = 0;
    }
  }
}

function earlier(a: Match, b: Match): boolean {
  if (a.timestamp !== b.timestamp) return a.timestamp < b.timestamp;
  if (a.partition !== b.partition) return a.partition < b.partition;
  return a.offset < b.offset;
}

/** One Fetch for `lanes` (each with nothing buffered), their records scanned into their buffers. */
async function fetchInto(
  api: KafkaApi,
  topic: string,
  lanes: Lane[],
  options: ScanOptions,
  counts: { scanned: number; bytes: number },
): Promise<void> {
  const share = Math.floor(FETCH_BYTES / lanes.length);
  const partitionMaxBytes = Math.max(
    PARTITION_FETCH_BYTES_MIN,
    Math.min(PARTITION_FETCH_BYTES_MAX, share, Math.max(...lanes.map((l) => l.fetchBytes))),
  );
  for (const lane of lanes) lane.fetchBytes = Math.min(2 * lane.fetchBytes, PARTITION_FETCH_BYTES_MAX);
  const fetched = await api.fetch(
    topic,
    lanes.map((l) => ({ partition: l.partition, offset: l.next })),
    { maxWaitMs: 0, minBytes: 0, maxBytes: partitionMaxBytes * lanes.length, partitionMaxBytes },
  );
  const byPartition = new Map(fetched.map((f) => [f.partition, f]));
  for (const lane of lanes) {
    const f = byPartition.get(lane.partition);
    if (!f) {
      lane.stalled = true;
      continue;
    }
    if (f.errorCode !== 0) {
      await recoverLane(api, topic, lane, f.errorCode);
      continue;
    }
    const before = lane.next;
    await scanBatches(lane, f.records, options, counts);
    // Nothing read though the budget allows: a batch beyond its share (fetched alone next), or,
    // alone, nothing more this request.
    if (lane.next === before && lane.matches.length === 0 && counts.scanned < options.maxScan) {
      if (lanes.length > 1) lane.alone = true;
      else lane.stalled = true;
    } else lane.alone = false;
  }
}

/** A lane whose fetch failed: below the log start (retention moved it) it continues there. */
async function recoverLane(api: KafkaApi, topic: string, lane: Lane, code: number): Promise<void> {
  const name = errorName(code);
  if (name !== "OFFSET_OUT_OF_RANGE") throw HttpError.kafka(name, `reading ${topic}-${lane.partition}`);
  const start = (await api.offsets(topic, [lane.partition], EARLIEST_OFFSET)).get(lane.partition) ?? -1;
  if (start > lane.next) lane.next = Math.min(start, lane.end);
  else lane.stalled = true;
}

/** Thrown by the record visitor when the scan budget of records is spent. */
const ENOUGH = Symbol("enough");

/** Scans the whole batches of `batches` from the lane's position up to its end. */
async function scanBatches(
  lane: Lane,
  batches: Buffer,
  options: ScanOptions,
  counts: { scanned: number; bytes: number },
): Promise<void> {
  let pos = 0;
  while (batches.length - pos >= BATCH_HEADER_SIZE && lane.next < lane.end) {
    const size = batchSizeAt(batches, pos);
    if (size < BATCH_HEADER_SIZE || pos + size > batches.length) return;
    const last = readInt64(batches, pos) + batches.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET);
    if ((batches.readInt16BE(pos + ATTRIBUTES_OFFSET) & CONTROL_MASK) === 0) {
      const left = Math.max(DECOMPRESSED_BYTES_MIN, SCAN_BYTES_MAX - counts.bytes);
      const plain = await plainBatch(batches, pos, size, left);
      if (plain === null) return;
      let stoppedAt = -1;
      try {
        visitRecords(plain.batch, 0, (offset, timestamp, key, value, headers) => {
          if (offset < lane.next || offset >= lane.end) return;
          if (counts.scanned >= options.maxScan) {
            stoppedAt = offset;
            throw ENOUGH;
          }
          counts.scanned++;
          if (timestamp > lane.scannedTimestamp) lane.scannedTimestamp = timestamp;
          const raw = { key, value, headers };
          counts.bytes += recordBytes(raw);
          if (options.filter === null || options.filter(raw))
            lane.matches.push(copied(lane, offset, timestamp, raw));
        });
      } catch (err) {
        if (err !== ENOUGH) throw err;
      } finally {
        plain.release();
      }
      if (stoppedAt >= 0) {
        lane.next = stoppedAt;
        return;
      }
    }
    lane.next = Math.max(lane.next, Math.min(last + 1, lane.end));
    pos += size;
  }
}

const copy = (b: Buffer | null): Buffer | null => (b === null ? null : Buffer.from(b));

function copied(lane: Lane, offset: number, timestamp: number, r: RawRecord): Match {
  return {
    partition: lane.partition,
    offset,
    timestamp,
    key: copy(r.key),
    value: copy(r.value),
    headers: r.headers.map((h) => ({ key: h.key, value: copy(h.value) })),
  };
}
