/**
 * Producer-id attack, full scale (issue 12, decision 0021): one connection sends idempotent
 * batches whose producer ids nobody handed out (no InitProducerId), one batch per partition of a
 * `--partitions` topic per Produce request, `--window` requests in flight, until `--ids` ids were
 * sent; meanwhile a second client, in a worker thread of its own so the attacker's encoding does
 * not delay it (InitProducerId, then one idempotent batch every 100 ms), keeps producing. Reported: the answers' error codes, the broker's RSS while and after the attack, the
 * other client's latency and errors, the graceful stop (its producer-state snapshots), the
 * snapshot bytes, the restart and the RSS after it, and whether the other client's producer id
 * still works after the restart.
 *
 * The broker runs in its own process (`node <root>/bin/samsa.js broker start`, default config),
 * so its RSS is its own; `--root DIR` runs another built tree (an earlier commit) the same way.
 *
 *   node dist/bench/producer-ids.js [--ids N] [--partitions P] [--window W] [--root DIR] [--json] [--dir D]
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { Connection } from "../client/connection.js";
import { errorName } from "../protocol/errors.js";
import { encodeRecordBatch } from "../protocol/record-batch.js";
import type { ProduceRequestData } from "../protocol/types/produce.js";
import { killAllChildren, now, rssMb, type Server, sleep, startServer } from "./compare/common.js";
import { intOption, optionsOrExit, runMain, scratchDir, table } from "./script.js";

/** dist/bench/producer-ids.js -> the repository root. */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const TOPIC = "pid-attack";
/** Invented ids start here: far beyond any id a broker hands out in a run. */
const INVENTED_BASE = 1_000_000_000;
/** The other client sends one batch this often. */
const GOOD_INTERVAL_MS = 100;
/** RSS is sampled after every this many ids sent. */
const RSS_SAMPLE_IDS = 250_000;

interface Options {
  ids: number;
  partitions: number;
  window: number;
  root: string;
  json: boolean;
  dir: string;
}

function usage(): string {
  return [
    "usage: node dist/bench/producer-ids.js [options]",
    "  --ids N          invented producer ids to send (default 1000000)",
    "  --partitions P   partitions of the attacked topic, one batch each per request (default 100)",
    "  --window W       produce requests in flight (default 32)",
    "  --root DIR       the samsa tree whose bin/samsa.js runs the broker (default this one)",
    "  --json           one JSON object on stdout",
    "  --dir D          where the scratch directory is made (default the OS temp directory)",
  ].join("\n");
}

function parse(args: string[]): Options | null {
  const { values } = parseArgs({
    args,
    options: {
      ids: { type: "string", default: "1000000" },
      partitions: { type: "string", default: "100" },
      window: { type: "string", default: "32" },
      root: { type: "string", default: ROOT },
      json: { type: "boolean", default: false },
      dir: { type: "string", default: os.tmpdir() },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) return null;
  return {
    ids: intOption("--ids", values.ids),
    partitions: intOption("--partitions", values.partitions),
    window: intOption("--window", values.window),
    root: path.resolve(values.root),
    json: values.json,
    dir: values.dir,
  };
}

const codeName = (code: number): string => (code === 0 ? "NONE" : errorName(code));

async function startBroker(
  root: string,
  dataDir: string,
  partitions: number,
): Promise<{ server: Server; address: string }> {
  const args = [
    path.join(root, "bin", "samsa.js"),
    "broker",
    "start",
    "--data-dir",
    dataDir,
    "--kafka-port",
    "0",
    "--http-port",
    "0",
    "--host",
    "127.0.0.1",
    "-s",
    `num.partitions=${partitions}`,
  ];
  const env = { ...process.env, SAMSA_LOG_LEVEL: process.env.SAMSA_LOG_LEVEL ?? "warn" };
  const { server, value: port } = await startServer(
    "samsa",
    process.execPath,
    args,
    (out) => {
      const m = /listening: kafka [^\s:]+:(\d+)/.exec(out);
      return m ? Number(m[1]) : undefined;
    },
    600_000,
    env,
  );
  return { server, address: `127.0.0.1:${port}` };
}

const batch = (producerId: number, seq: number) =>
  encodeRecordBatch([{ value: Buffer.from("x") }], { producerId, producerEpoch: 0, baseSequence: seq });

function produceBody(partitionData: { index: number; records: Buffer }[]): ProduceRequestData {
  return { transactionalId: null, acks: 1, timeoutMs: 30_000, topicData: [{ name: TOPIC, partitionData }] };
}

/** The other client: an id from InitProducerId, then one batch every GOOD_INTERVAL_MS until stopped. */
class GoodProducer {
  producerId = -1;
  seq = 0;
  readonly latenciesMs: number[] = [];
  readonly errors = new Map<string, number>();
  private stopped = false;
  private loop: Promise<void> = Promise.resolve();

  constructor(private conn: Connection) {}

  async init(): Promise<void> {
    const r = await this.conn.send(22, 4, {
      transactionalId: null,
      transactionTimeoutMs: 60_000,
      producerId: -1,
      producerEpoch: -1,
    });
    if (r.errorCode !== 0) throw new Error(`InitProducerId failed: ${codeName(r.errorCode as number)}`);
    this.producerId = r.producerId as number;
  }

  /** Sends the next batch; its error name, or NONE. */
  async sendOne(): Promise<string> {
    const start = now();
    const r = await this.conn.send(
      0,
      9,
      produceBody([{ index: 0, records: batch(this.producerId, this.seq) }]),
    );
    this.latenciesMs.push(now() - start);
    const code = r.responses[0].partitionResponses[0].errorCode as number;
    if (code === 0) this.seq++;
    return codeName(code);
  }

  start(): void {
    this.loop = (async () => {
      while (!this.stopped) {
        const name = await this.sendOne().catch((err: Error) => `request failed: ${err.message}`);
        if (name !== "NONE") this.errors.set(name, (this.errors.get(name) ?? 0) + 1);
        await sleep(GOOD_INTERVAL_MS);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

interface GoodReport {
  producerId: number;
  seq: number;
  latenciesMs: number[];
  errors: Record<string, number>;
}

/** The worker thread's body: the other client, until the main thread posts "stop". */
async function goodWorker(address: string): Promise<void> {
  const conn = await Connection.connect(address, { clientId: "good" });
  const good = new GoodProducer(conn);
  await good.init();
  good.start();
  parentPort?.postMessage("ready");
  await new Promise<void>((resolve) => parentPort?.once("message", () => resolve()));
  await good.stop();
  await conn.close().catch(() => {});
  const report: GoodReport = {
    producerId: good.producerId,
    seq: good.seq,
    latenciesMs: good.latenciesMs,
    errors: Object.fromEntries(good.errors),
  };
  parentPort?.postMessage(report);
}

/** Starts the other client in a worker; resolves once it produces, with a function that stops it. */
async function startGoodWorker(address: string): Promise<() => Promise<GoodReport>> {
  const worker = new Worker(new URL(import.meta.url), { workerData: { address } });
  const next = () =>
    new Promise<unknown>((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
    });
  await next();
  return async () => {
    const done = next();
    worker.postMessage("stop");
    const report = (await done) as GoodReport;
    await worker.terminate();
    return report;
  };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

interface AttackResult {
  codes: Record<string, number>;
  seconds: number;
  rssSamples: { ids: number; rss_mb: number }[];
  failure: string | null;
}

/** Sends `o.ids` invented ids, `o.window` requests in flight. */
async function attack(conn: Connection, pid: number, o: Options): Promise<AttackResult> {
  const codes: Record<string, number> = {};
  const rssSamples: { ids: number; rss_mb: number }[] = [];
  const start = now();
  let sent = 0;
  let nextSample = RSS_SAMPLE_IDS;
  const inFlight = new Set<Promise<void>>();
  let failure: string | null = null;
  while (sent < o.ids && failure === null) {
    const count = Math.min(o.partitions, o.ids - sent);
    const data = Array.from({ length: count }, (_, i) => ({
      index: i,
      records: batch(INVENTED_BASE + sent + i, 0),
    }));
    sent += count;
    const p: Promise<void> = conn
      .send(0, 9, produceBody(data))
      .then((r) => {
        for (const part of r.responses[0].partitionResponses) {
          const name = codeName(part.errorCode as number);
          codes[name] = (codes[name] ?? 0) + 1;
        }
      })
      .catch((err: Error) => {
        failure = err.message;
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= o.window) await Promise.race(inFlight);
    if (sent >= nextSample) {
      rssSamples.push({ ids: sent, rss_mb: rssMb(pid).rss_mb });
      nextSample += RSS_SAMPLE_IDS;
    }
  }
  await Promise.all(inFlight);
  return { codes, seconds: (now() - start) / 1000, rssSamples, failure };
}

function snapshotBytes(dataDir: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(dataDir, { withFileTypes: true })) {
    const file = path.join(dataDir, entry.name, "producer-state.snapshot");
    if (entry.isDirectory() && fs.existsSync(file)) total += fs.statSync(file).size;
  }
  return total;
}

async function main(): Promise<number> {
  const parsed = optionsOrExit(parse, usage);
  if (typeof parsed === "number") return parsed;
  const o = parsed;
  const scratch = scratchDir(o.dir, "samsa-bench-pid-", killAllChildren);
  const say = (line: string) => {
    if (!o.json) process.stderr.write(`${line}\n`);
  };
  try {
    const dataDir = path.join(scratch.root, "data");
    let broker = await startBroker(o.root, dataDir, o.partitions);
    const rssStart = rssMb(broker.server.pid).rss_mb;
    const attacker = await Connection.connect(broker.address, { clientId: "attacker" });
    await attacker.send(
      0,
      9,
      produceBody([{ index: 0, records: encodeRecordBatch([{ value: Buffer.from("t") }]) }]),
    );
    const stopGood = await startGoodWorker(broker.address);
    say(`attack: ${o.ids} invented ids, ${o.partitions} per request, ${o.window} in flight`);
    const result = await attack(attacker, broker.server.pid, o);
    const goodReport = await stopGood();
    const rssAfter = rssMb(broker.server.pid);
    await attacker.close().catch(() => {});
    say(`attack done in ${result.seconds.toFixed(1)} s; stopping the broker`);
    const stopStart = now();
    await broker.server.stop(600_000);
    const stopSeconds = (now() - stopStart) / 1000;
    const exitedWith = broker.server.proc.exitCode ?? broker.server.proc.signalCode;
    const snapshots = snapshotBytes(dataDir);
    const restartStart = now();
    broker = await startBroker(o.root, dataDir, o.partitions);
    const restartSeconds = (now() - restartStart) / 1000;
    const rssRestart = rssMb(broker.server.pid).rss_mb;
    const after = await Connection.connect(broker.address, { clientId: "good" });
    const good = new GoodProducer(after);
    good.producerId = goodReport.producerId;
    good.seq = goodReport.seq;
    const afterRestart = await good.sendOne().catch((err: Error) => `request failed: ${err.message}`);
    await after.close().catch(() => {});
    await broker.server.stop(600_000);
    const report = {
      root: o.root,
      ids: o.ids,
      partitions: o.partitions,
      attack_seconds: Number(result.seconds.toFixed(1)),
      ids_per_second: Math.round(o.ids / result.seconds),
      answers: result.codes,
      attack_failure: result.failure,
      rss_start_mb: rssStart,
      rss_during_mb: result.rssSamples,
      rss_after_attack_mb: rssAfter.rss_mb,
      peak_rss_mb: rssAfter.peak_rss_mb,
      other_client: {
        batches: goodReport.latenciesMs.length,
        errors: goodReport.errors,
        p50_ms: Number(percentile(goodReport.latenciesMs, 50).toFixed(1)),
        p99_ms: Number(percentile(goodReport.latenciesMs, 99).toFixed(1)),
        max_ms: Number(percentile(goodReport.latenciesMs, 100).toFixed(1)),
      },
      stop_seconds: Number(stopSeconds.toFixed(1)),
      stop_exit: exitedWith,
      snapshot_bytes: snapshots,
      restart_seconds: Number(restartSeconds.toFixed(1)),
      rss_after_restart_mb: rssRestart,
      other_client_after_restart: afterRestart,
    };
    if (o.json) {
      process.stdout.write(`${JSON.stringify(report)}\n`);
    } else {
      const rows = Object.entries(report)
        .filter(([k]) => k !== "rss_during_mb")
        .map(([k, v]) => [k, typeof v === "object" ? JSON.stringify(v) : String(v)]);
      process.stdout.write(`${table(["", "value"], rows)}\n`);
      process.stdout.write(`rss during: ${result.rssSamples.map((s) => `${s.ids}:${s.rss_mb}`).join(" ")}\n`);
    }
    return 0;
  } finally {
    killAllChildren();
    scratch.dispose();
  }
}

if (isMainThread) runMain(main, killAllChildren);
else void goodWorker((workerData as { address: string }).address);
