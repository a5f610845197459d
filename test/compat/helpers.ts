/**
 * Shared by the compat suites: running kcat (every call bounded by a timeout), parsing its
 * length-framed `-f` output, and reading a partition back over the raw TestClient.
 */
import { spawn, spawnSync } from "node:child_process";
import type { Message } from "../../protocol/codec.js";
import {
  type BatchHeader,
  type Record as BatchRecord,
  batchSpans,
  decodeBatches,
  readBatchHeader,
} from "../../protocol/record-batch.js";
import type { TestClient } from "../helpers/kafka-client.js";

export const KCAT_INSTALL = "apt-get update && apt-get install -y kcat";

/**
 * Throws, naming the install command, unless `command args` exits 0 within 10 s: a tool the compat
 * suites drive is required, never a reason to skip (DESIGN.md, Tests).
 */
export function requireTool(what: string, command: string, args: string[], install: string): void {
  const probe = spawnSync(command, args, { encoding: "utf8", timeout: 10_000 });
  if (probe.error || probe.status !== 0) {
    const why = probe.error ? probe.error.message : `exit ${probe.status}: ${probe.stderr}`;
    throw new Error(
      `${what} is required by test/compat but does not run (${why}). Install it with: ${install} ` +
        "(as root; .ci/run does this)",
    );
  }
}

export function requireKcat(): void {
  requireTool("kcat", "kcat", ["-V"], KCAT_INSTALL);
}

export interface RunResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

export interface RunOptions {
  input?: Buffer | string;
  timeoutMs?: number;
  /** Resolve whatever the exit code (default: a non-zero exit rejects). */
  allowFailure?: boolean;
  /** Named in the error when the command cannot be started. */
  install?: string;
}

/** Runs `command args`, killed after `timeoutMs` (default 15 s; a timeout rejects). */
export function runBounded(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const what = `${command} ${args.join(" ")}`;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    child.on("error", (e) => {
      clearTimeout(timer);
      const hint = options.install ? `; install with: ${options.install}` : "";
      reject(new Error(`${what}: ${e.message}${hint}`));
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      const result = { code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString("utf8") };
      if (timedOut) {
        reject(new Error(`${what} timed out after ${timeoutMs} ms; stderr:\n${result.stderr}`));
      } else if (code !== 0 && !options.allowFailure) {
        reject(new Error(`${what} exited ${code}; stderr:\n${result.stderr}`));
      } else {
        resolve(result);
      }
    });
    child.stdin.on("error", () => {});
    child.stdin.end(options.input ?? "");
  });
}

export type KcatResult = RunResult;
export type KcatOptions = Omit<RunOptions, "install">;

/** Runs `kcat -b 127.0.0.1:<port> ...args`, killed after `timeoutMs` (a timeout rejects). */
export function kcat(port: number, args: string[], options: KcatOptions = {}): Promise<KcatResult> {
  return runBounded("kcat", ["-b", `127.0.0.1:${port}`, ...args], { ...options, install: KCAT_INSTALL });
}

/**
 * kcat's `-f` for consumed messages, framed so that binary keys and values parse unambiguously:
 * offset, partition, timestamp, key length (-1: null) and value length as text, then the key and
 * value bytes, then the headers as kcat prints them (n=v,n=v) and a newline.
 */
export const KCAT_FORMAT = "%o,%p,%T,%K,%S,%k%s%h\\n";

export interface KcatRecord {
  offset: number;
  partition: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  /** `%h` split on "," and the first "=": only for header keys and values without those. */
  headers: [string, string][];
}

export function parseKcat(out: Buffer): KcatRecord[] {
  const records: KcatRecord[] = [];
  let pos = 0;
  const field = (): number => {
    const comma = out.indexOf(0x2c, pos);
    if (comma < 0) throw new Error(`kcat output: no field at byte ${pos}`);
    const n = Number(out.subarray(pos, comma).toString("latin1"));
    if (!Number.isSafeInteger(n)) throw new Error(`kcat output: bad number at byte ${pos}`);
    pos = comma + 1;
    return n;
  };
  const bytes = (length: number): Buffer | null => {
    if (length < 0) return null;
    if (pos + length > out.length) throw new Error(`kcat output: truncated at byte ${pos}`);
    const b = Buffer.from(out.subarray(pos, pos + length));
    pos += length;
    return b;
  };
  while (pos < out.length) {
    const offset = field();
    const partition = field();
    const timestamp = field();
    const keyLength = field();
    const valueLength = field();
    const key = bytes(keyLength);
    const value = bytes(valueLength);
    const eol = out.indexOf(0x0a, pos);
    if (eol < 0) throw new Error(`kcat output: no end of record at byte ${pos}`);
    const h = out.subarray(pos, eol).toString("utf8");
    pos = eol + 1;
    const headers =
      h === ""
        ? []
        : h.split(",").map((kv): [string, string] => {
            const eq = kv.indexOf("=");
            return [kv.slice(0, eq), kv.slice(eq + 1)];
          });
    records.push({ offset, partition, timestamp, key, value, headers });
  }
  return records;
}

/** Consumes partitions with `-C -e` and the framed format. */
export async function kcatConsume(port: number, topic: string, args: string[]): Promise<KcatRecord[]> {
  const { stdout } = await kcat(port, ["-C", "-t", topic, "-e", "-f", KCAT_FORMAT, ...args]);
  return parseKcat(stdout);
}

/** What `kcat -Q` printed: "<topic> [<partition>] offset <n>" lines, by partition. */
export function parseQuery(out: Buffer): Map<number, number> {
  const found = new Map<number, number>();
  for (const line of out.toString("utf8").split("\n")) {
    const m = /^\S+ \[(\d+)\] offset (-?\d+)$/.exec(line.trim());
    if (m) found.set(Number(m[1]), Number(m[2]));
  }
  return found;
}

export interface FetchedPartition {
  records: BatchRecord[];
  batches: BatchHeader[];
  highWatermark: number;
}

function fetchBody(topic: string, partition: number, fetchOffset: number): Message {
  return {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 16 << 20,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      {
        topic,
        partitions: [
          { partition, currentLeaderEpoch: -1, fetchOffset, logStartOffset: -1, partitionMaxBytes: 16 << 20 },
        ],
      },
    ],
    forgottenTopicsData: [],
    rackId: "",
  };
}

/**
 * Reads a partition from offset 0 to its high watermark with Fetch v11: every record (gzip or
 * uncompressed batches only) or, with `decode: false`, only the batch headers.
 */
export async function fetchPartition(
  client: TestClient,
  topic: string,
  partition: number,
  decode = true,
): Promise<FetchedPartition> {
  const records: BatchRecord[] = [];
  const batches: BatchHeader[] = [];
  let offset = 0;
  let highWatermark = 0;
  for (let round = 0; round < 1000; round++) {
    const r = await client.request(1, 11, fetchBody(topic, partition, offset));
    const p = r.responses[0].partitions[0];
    if (p.errorCode !== 0) throw new Error(`fetch ${topic}-${partition}@${offset}: error ${p.errorCode}`);
    highWatermark = Number(p.highWatermark);
    const buf = p.records as Buffer | null;
    if (!buf || buf.length === 0) break;
    for (const [start] of batchSpans(buf)) {
      const header = readBatchHeader(buf, start);
      batches.push(header);
      offset = header.baseOffset + header.lastOffsetDelta + 1;
    }
    if (decode) records.push(...decodeBatches(buf));
    if (offset >= highWatermark) break;
  }
  return { records, batches, highWatermark };
}
