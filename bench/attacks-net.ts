/**
 * Issue 12's network attacks at full scale against a broker in a child process, measuring what a
 * test cannot: the broker's RSS (VmRSS, and VmHWM, the peak, from /proc/<pid>/status) and the
 * ApiVersions latency of a probe client on its own connection while each attack runs.
 *
 * - `amplification`: a 2,000-partition topic; one Metadata v12 naming it 20,000 times (0.11 MiB).
 * - `unread`: `--unread-mb` MB in one partition; one connection pipelines `--fetches` Fetch
 *   requests with max_bytes 2^31-1 and never reads; then it closes.
 * - `frames`: `--frames` connections each declare a 100 MiB frame and send `--frame-mb` MB of it,
 *   then stall; then they close.
 *
 * Each attack gets a fresh broker (`node <root>/bin/samsa.js broker start`, flush.policy=os), so
 * `--root` can point at another tree's build to compare (the "before" of bench/RESULTS.md). The
 * broker is killed if its RSS passes `--rss-cap-mb` (the machine is shared), and reported so.
 *
 *   npm run build && node dist/bench/attacks-net.js [--root DIR] [--only a,b] [--json]
 */
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { MessageCodec } from "../protocol/codec.js";
import { RequestHeader, ResponseHeader } from "../protocol/messages/header.js";
import { API_SPECS } from "../protocol/messages/index.js";
import { Reader } from "../protocol/reader.js";
import { encodeRecordBatch } from "../protocol/record-batch.js";
import { Writer } from "../protocol/writer.js";
import { optionsOrExit, runMain, scratchDir, table } from "./script.js";

const ATTACKS = ["amplification", "unread", "frames"] as const;
type Attack = (typeof ATTACKS)[number];

interface Options {
  root: string;
  only: Attack[];
  json: boolean;
  fetches: number;
  unreadMb: number;
  frames: number;
  frameMb: number;
  rssCapMb: number;
  attackSeconds: number;
}

function usage(): string {
  return [
    "usage: node dist/bench/attacks-net.js [options]",
    "  --root DIR          tree whose bin/samsa.js runs the broker (default: this one)",
    `  --only a,b          attacks among ${ATTACKS.join(",")} (default all)`,
    "  --fetches N         unread: pipelined fetches (default 300)",
    "  --unread-mb N       unread: MB stored in the partition (default 8)",
    "  --frames N          frames: stalled connections (default 30)",
    "  --frame-mb N        frames: MB sent of each 100 MiB frame (default 40)",
    "  --attack-seconds N  how long each attack runs before the attacker closes (default 15)",
    "  --rss-cap-mb N      kill the broker past this RSS (default 4096)",
    "  --json              one JSON object per attack",
  ].join("\n");
}

function parse(args: string[]): Options | null {
  const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
  const o: Options = {
    root: here,
    only: [...ATTACKS],
    json: false,
    fetches: 300,
    unreadMb: 8,
    frames: 30,
    frameMb: 40,
    rssCapMb: 4096,
    attackSeconds: 15,
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = () => {
      const v = args[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const int = () => {
      const n = Number(value());
      if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${a} needs a positive integer`);
      return n;
    };
    if (a === "--help" || a === "-h") return null;
    else if (a === "--root") o.root = path.resolve(value());
    else if (a === "--only") o.only = value().split(",") as Attack[];
    else if (a === "--json") o.json = true;
    else if (a === "--fetches") o.fetches = int();
    else if (a === "--unread-mb") o.unreadMb = int();
    else if (a === "--frames") o.frames = int();
    else if (a === "--frame-mb") o.frameMb = int();
    else if (a === "--rss-cap-mb") o.rssCapMb = int();
    else if (a === "--attack-seconds") o.attackSeconds = int();
    else throw new Error(`unknown option ${a}`);
  }
  for (const attack of o.only) if (!ATTACKS.includes(attack)) throw new Error(`unknown attack ${attack}`);
  return o;
}

// ------------------------------------------------------------------------------------------------
// Frames

const requestHeader = new MessageCodec(RequestHeader);

function frame(
  apiKey: number,
  version: number,
  body: Record<string, unknown>,
  correlationId: number,
): Buffer {
  const codec = new MessageCodec(API_SPECS[apiKey].request);
  const w = new Writer();
  w.int32(0);
  requestHeader.encode(w, codec.isFlexible(version) ? 2 : 1, {
    requestApiKey: apiKey,
    requestApiVersion: version,
    correlationId,
    clientId: "bench-attacks",
  });
  codec.encode(w, version, body);
  const buf = w.toBuffer();
  buf.writeInt32BE(buf.length - 4, 0);
  return buf;
}

function fetchFrame(topic: string, correlationId: number): Buffer {
  const max = 0x7fffffff;
  return frame(
    1,
    12,
    {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: max,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [
        {
          topic,
          partitions: [
            {
              partition: 0,
              currentLeaderEpoch: -1,
              fetchOffset: 0,
              logStartOffset: -1,
              partitionMaxBytes: max,
            },
          ],
        },
      ],
      forgottenTopicsData: [],
      rackId: "",
    },
    correlationId,
  );
}

/** A connection that counts the response frames it receives (if it reads at all). */
class Conn {
  responses = 0;
  /** The last response frame, without its length prefix. */
  last: Buffer = Buffer.alloc(0);
  /** Bytes received, length prefixes included. */
  bytes = 0;
  closed = false;
  private pending: Buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: net.Socket) {
    socket.on("data", (d: Buffer) => {
      this.bytes += d.length;
      this.pending = this.pending.length ? Buffer.concat([this.pending, d]) : d;
      while (this.pending.length >= 4 && this.pending.length >= 4 + this.pending.readInt32BE(0)) {
        this.last = this.pending.subarray(4, 4 + this.pending.readInt32BE(0));
        this.pending = this.pending.subarray(4 + this.pending.readInt32BE(0));
        this.responses++;
      }
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on("close", () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on("error", () => {});
  }

  static open(port: number): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, "127.0.0.1", () => resolve(new Conn(s)));
      s.once("error", reject);
    });
  }

  /** Resolves once `n` responses arrived; false on close or after `ms`. */
  async until(n: number, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (this.responses < n) {
      const left = deadline - Date.now();
      if (this.closed || left <= 0) return false;
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return true;
  }

  async request(bytes: Buffer, ms = 60_000): Promise<boolean> {
    const want = this.responses + 1;
    this.socket.write(bytes);
    return this.until(want, ms);
  }
}

// ------------------------------------------------------------------------------------------------
// The broker child and what is measured of it

interface Sample {
  rssMb: number;
  hwmMb: number;
}

function memoryOf(pid: number): Sample | null {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
    return { rssMb: kb("VmRSS") / 1024, hwmMb: kb("VmHWM") / 1024 };
  } catch {
    return null;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

interface BrokerChild {
  child: ChildProcess;
  port: number;
  exited: () => boolean;
  stop(): Promise<void>;
}

async function startBroker(root: string, dir: string): Promise<BrokerChild> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      path.join(root, "bin", "samsa.js"),
      "broker",
      "start",
      "--data-dir",
      dir,
      "--kafka-port",
      String(port),
      "--http-port",
      "0",
      "-s",
      "log.flush.policy=os",
      "-s",
      "log.level=warn",
    ],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  let exited = false;
  child.on("exit", () => {
    exited = true;
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error("the broker exited while starting");
    if (Date.now() > deadline) throw new Error("the broker did not listen within 60 s");
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1", () => {
        s.destroy();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    port,
    exited: () => exited,
    async stop() {
      if (exited) return;
      child.kill("SIGKILL");
      await new Promise((r) => child.once("exit", r));
    },
  };
}

/** Samples RSS and a probe's ApiVersions latency every `everyMs` until stopped. */
class Watch {
  private samples: Sample[] = [];
  latenciesMs: number[] = [];
  /** Probes that got no answer within 5 s. */
  unanswered = 0;
  killedForRss = false;
  private stopped = false;
  private readonly done: Promise<void>;

  constructor(
    private readonly broker: BrokerChild,
    private readonly probe: Conn,
    private readonly capMb: number,
  ) {
    this.done = this.run();
  }

  private async run(): Promise<void> {
    let corr = 1_000_000;
    while (!this.stopped && !this.broker.exited()) {
      const m = memoryOf(this.broker.child.pid!);
      if (m) this.samples.push(m);
      if (m && m.rssMb > this.capMb) {
        this.killedForRss = true;
        await this.broker.stop();
        break;
      }
      const t0 = performance.now();
      const ok = await this.probe.request(frame(18, 3, {}, corr++), 5000);
      if (ok) this.latenciesMs.push(performance.now() - t0);
      else this.unanswered++;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async stop(): Promise<{ maxRssMb: number; hwmMb: number; lastRssMb: number }> {
    this.stopped = true;
    await this.done;
    const last = memoryOf(this.broker.child.pid!) ?? this.samples.at(-1) ?? { rssMb: 0, hwmMb: 0 };
    return {
      maxRssMb: Math.max(0, ...this.samples.map((s) => s.rssMb)),
      hwmMb: Math.max(last.hwmMb, ...this.samples.map((s) => s.hwmMb)),
      lastRssMb: last.rssMb,
    };
  }
}

// ------------------------------------------------------------------------------------------------
// Attacks

interface Result {
  attack: Attack;
  root: string;
  outcome: string;
  rss_before_mb: number;
  rss_max_mb: number;
  vm_hwm_mb: number;
  rss_after_close_mb: number;
  probe_p50_ms: number | null;
  probe_max_ms: number | null;
  probes_unanswered: number;
  broker_alive: boolean;
}

function percentile(xs: number[], p: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

async function createTopic(port: number, name: string, partitions: number): Promise<void> {
  const c = await Conn.open(port);
  const body = {
    topics: [{ name, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 60_000,
    validateOnly: false,
  };
  // Until the broker has registered itself its listener answers INVALID_REPLICATION_FACTOR (38).
  for (let attempt = 1; ; attempt++) {
    if (!(await c.request(frame(19, 7, body, attempt), 120_000))) throw new Error(`creating ${name} failed`);
    const reader = new Reader(c.last);
    new MessageCodec(ResponseHeader).decode(reader, 1);
    const created = new MessageCodec(API_SPECS[19].response).decode(reader, 7);
    const topic = (created.topics as Record<string, unknown>[])[0];
    if (topic.errorCode === 0) break;
    if (topic.errorCode !== 38 || attempt >= 100)
      throw new Error(`creating ${name}: error ${topic.errorCode} ${topic.errorMessage}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  // The topic must be there with its partitions (about 30 bytes each in Metadata v8).
  const before = c.bytes;
  const md = { topics: [{ name }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false };
  await c.request(frame(3, 8, md, 1000));
  if (c.bytes - before < partitions * 20)
    throw new Error(`${name} was not created with ${partitions} partitions`);
  c.socket.destroy();
}

async function fill(port: number, topic: string, mb: number): Promise<void> {
  const c = await Conn.open(port);
  const value = Buffer.alloc(1_000_000, 0x61);
  for (let i = 0; i < mb; i++) {
    const records = encodeRecordBatch([{ value, timestamp: Date.now() }]);
    const body = {
      transactionalId: null,
      acks: 1,
      timeoutMs: 30_000,
      topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
    };
    if (!(await c.request(frame(0, 7, body, i + 1)))) throw new Error("produce failed");
  }
  c.socket.destroy();
}

/** Runs `attack` against a fresh broker: set-up, the attack for a while, the attacker gone. */
async function run(attack: Attack, o: Options, dir: string): Promise<Result> {
  const broker = await startBroker(o.root, fs.mkdtempSync(path.join(dir, `${attack}-`)));
  current = broker;
  try {
    let attackers: Conn[] = [];
    let outcome = "";
    if (attack === "amplification") await createTopic(broker.port, "wide", 2000);
    if (attack === "unread") await fill(broker.port, "unread", o.unreadMb);
    const before = memoryOf(broker.child.pid!)?.rssMb ?? 0;
    const probe = await Conn.open(broker.port);
    const watch = new Watch(broker, probe, o.rssCapMb);
    const t0 = Date.now();
    if (attack === "amplification") {
      const c = await Conn.open(broker.port);
      attackers = [c];
      const topics = Array.from({ length: 20_000 }, () => ({ name: "wide" }));
      // v8: names without topic ids, 6 bytes each, as in the issue (0.11 MiB).
      const bytes = frame(
        3,
        8,
        { topics, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false },
        1,
      );
      const ok = await c.request(bytes, o.attackSeconds * 1000 * 4);
      const mib = (n: number) => (n / 1048576).toFixed(2);
      outcome = ok
        ? `answered in ${Date.now() - t0} ms (request ${mib(bytes.length)} MiB, response ${mib(c.bytes)} MiB)`
        : `no answer in ${Date.now() - t0} ms`;
    } else if (attack === "unread") {
      const c = await Conn.open(broker.port);
      attackers = [c];
      c.socket.pause();
      const frames = Array.from({ length: o.fetches }, (_, i) => fetchFrame("unread", i + 1));
      c.socket.write(Buffer.concat(frames));
      await new Promise((r) => setTimeout(r, o.attackSeconds * 1000));
      outcome = `${o.fetches} fetches of max_bytes 2^31-1 over ${o.unreadMb} MB, unread for ${o.attackSeconds} s`;
    } else {
      const chunk = Buffer.alloc(1024 * 1024);
      for (let i = 0; i < o.frames; i++) {
        const c = await Conn.open(broker.port);
        attackers.push(c);
        const prefix = Buffer.alloc(8);
        prefix.writeInt32BE(100 * 1024 * 1024, 0);
        prefix.writeInt16BE(3, 4);
        c.socket.write(prefix);
        for (let mb = 0; mb < o.frameMb; mb++) c.socket.write(chunk);
      }
      await new Promise((r) => setTimeout(r, o.attackSeconds * 1000));
      outcome = `${o.frames} connections x ${o.frameMb} MB of a 100 MiB frame, stalled ${o.attackSeconds} s`;
    }
    const during = await watch.stop();
    for (const c of attackers) c.socket.destroy();
    // Let the broker notice and give back what the attackers held.
    await new Promise((r) => setTimeout(r, 5000));
    const after = memoryOf(broker.child.pid!)?.rssMb ?? 0;
    const alive = !broker.exited();
    probe.socket.destroy();
    return {
      attack,
      root: o.root,
      outcome: watch.killedForRss ? `${outcome}; killed past ${o.rssCapMb} MB RSS` : outcome,
      rss_before_mb: Math.round(before),
      rss_max_mb: Math.round(during.maxRssMb),
      vm_hwm_mb: Math.round(during.hwmMb),
      rss_after_close_mb: Math.round(after),
      probe_p50_ms: round(percentile(watch.latenciesMs, 50)),
      probe_max_ms: round(percentile(watch.latenciesMs, 100)),
      probes_unanswered: watch.unanswered,
      broker_alive: alive,
    };
  } finally {
    await broker.stop();
  }
}

function round(x: number | null): number | null {
  return x === null ? null : Math.round(x * 10) / 10;
}

/** The broker running now, killed on any way out. */
let current: BrokerChild | null = null;
let cleanup: () => void = () => {
  current?.child.kill("SIGKILL");
};

async function main(): Promise<number> {
  const o = optionsOrExit(parse, usage);
  if (typeof o === "number") return o;
  const scratch = scratchDir(os.tmpdir(), "samsa-bench-attacks-", () => current?.child.kill("SIGKILL"));
  const dir = scratch.root;
  cleanup = () => {
    current?.child.kill("SIGKILL");
    scratch.dispose();
  };
  const results: Result[] = [];
  for (const attack of o.only) {
    const r = await run(attack, o, dir);
    results.push(r);
    if (o.json) process.stdout.write(`${JSON.stringify(r)}\n`);
    else process.stderr.write(`${attack}: ${r.outcome}\n`);
  }
  if (!o.json) {
    process.stdout.write(
      table(
        [
          "attack",
          "RSS before",
          "RSS max",
          "VmHWM",
          "RSS after close",
          "probe p50",
          "probe max",
          "no answer",
          "alive",
        ],
        results.map((r) => [
          r.attack,
          `${r.rss_before_mb} MB`,
          `${r.rss_max_mb} MB`,
          `${r.vm_hwm_mb} MB`,
          `${r.rss_after_close_mb} MB`,
          `${r.probe_p50_ms} ms`,
          `${r.probe_max_ms} ms`,
          String(r.probes_unanswered),
          String(r.broker_alive),
        ]),
      ),
    );
  }
  cleanup();
  return 0;
}

runMain(main, () => cleanup());
