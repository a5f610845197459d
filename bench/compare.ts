/**
 * Side-by-side benchmark (issue 6). In one run on this machine, each system runs in its own
 * process on 127.0.0.1 with a temporary data directory, and is driven from this Node process with
 * the same record count and size, into one partition / stream:
 *
 *   samsa    `node bin/samsa.js broker start` (default config: flush.policy `always`), samsa client
 *   kafkajs  the same broker (a fresh process; group.initial.rebalance.delay.ms=0 so KafkaJS's
 *            one-member group does not wait 3 s), KafkaJS 2.2.4
 *   redis    redis-server 7 (AOF, appendfsync everysec), ioredis, pipelined XADD / XREAD COUNT
 *   nats     nats-server 2.9 JetStream (file storage), `nats` package, async publish / ordered consumer
 *
 * Each: produce `records` x `record-size` B as fast as the client allows with at most `window`
 * records unacknowledged (acks=1 for samsa and KafkaJS), latency from send to ack (of every 8th
 * record where the client gives a promise per record: samsa, NATS; of each pipeline or send() call
 * of 1,000 records for Redis and KafkaJS, counted for each of its records); then read them all from
 * the beginning, `--consume-reps` times (3; the median pass is reported, as one 1 M read takes
 * ~0.5 s and varies two-fold on this shared machine). Broker RSS after the run, broker CPU during produce. For samsa
 * also the RSS of a fresh broker with one topic of 1,000 idle partitions. `--scaling` adds samsa
 * runs over partitions (1-1000), record size (10 B-100 KiB) and producers (1-8), see
 * bench/compare/scaling.ts. Charts (SVG) go to bench/charts/.
 *
 *   node dist/bench/compare.js [--json] [--records N] [--record-size B] [--only samsa,kafkajs,redis,nats]
 *                              [--scaling] [--scaling-only] [--window N] [--broker-cpu-prof DIR]
 *                              [--charts DIR] [--write-results] [--out FILE] [--dir DIR]
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  type ConsumeResult,
  cpuSeconds,
  killAllChildren,
  mark,
  medianPass,
  now,
  type ProduceResult,
  progress,
  round,
  rssMb,
  type Server,
  setQuiet,
  type Workload,
} from "./compare/common.js";
import { KAFKAJS_BATCH, kafkajsConsume, kafkajsProduce } from "./compare/kafkajs.js";
import {
  NATS_BIN,
  NATS_PULL,
  natsConsume,
  natsCreateStream,
  natsProduce,
  startNats,
} from "./compare/nats.js";
import {
  REDIS_BIN,
  REDIS_PIPELINE,
  REDIS_READ_COUNT,
  redisConsume,
  redisProduce,
  startRedis,
} from "./compare/redis.js";
import {
  createTopic,
  idlePartitionsRss,
  SAMSA_PRODUCER,
  type SamsaBroker,
  samsaConsume,
  samsaProduce,
  startSamsa,
} from "./compare/samsa.js";
import {
  PRODUCERS_TOPIC_PARTITIONS,
  runScaling,
  type ScalingPoint,
  type ScalingResults,
} from "./compare/scaling.js";
import { chart, type Panel, short } from "./compare/svg.js";
import { optionsOrExit, runMain, scratchDir, table } from "./script.js";

const SYSTEMS = ["samsa", "samsa-batch", "kafkajs", "redis", "nats"] as const;
const DIMENSIONS = ["partitions", "sticky", "size", "producers"] as const;
type Dimension = (typeof DIMENSIONS)[number];
type System = (typeof SYSTEMS)[number];

const LABELS: Record<System, string> = {
  samsa: "samsa (samsa client)",
  "samsa-batch": "samsa (samsa client, sendBatch)",
  kafkajs: "samsa (KafkaJS)",
  redis: "Redis Streams",
  nats: "NATS JetStream",
};

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
/** Any produce or consume phase fails after this. */
const PHASE_MAX_MS = 120_000;
const IDLE_PARTITIONS = 1000;
const IDLE_SETTLE_MS = 5000;

interface Options {
  json: boolean;
  records: number;
  consumeReps: number;
  recordBytes: number;
  only: System[];
  scaling: boolean;
  scalingOnly: boolean;
  scalingRecords: number;
  scalingMaxBytes: number;
  scalingDims: Dimension[];
  window: number;
  brokerCpuProf: string | null;
  charts: string;
  writeResults: boolean;
  /** Also write the JSON report to this file. */
  out: string | null;
  baseDir: string;
}

function usage(): string {
  return [
    "usage: node dist/bench/compare.js [--json] [--records N] [--record-size B] [--only samsa,kafkajs,redis,nats]",
    "                                  [--consume-reps N] [--scaling] [--scaling-only] [--scaling-records N] [--scaling-max-mb M] [--scaling-dims LIST]",
    "                                  [--window N] [--broker-cpu-prof DIR] [--charts DIR] [--write-results] [--out FILE] [--dir DIR]",
    "  --json              one JSON object on stdout (no progress, no table)",
    "  --records N         records per system in the main table (default 1000000)",
    "  --record-size B     bytes of each record's value (default 100)",
    "  --consume-reps N    read passes over the produced records; the median pass is reported (default 3)",
    `  --only LIST         systems of the main table (default ${SYSTEMS.join(",")})`,
    "  --scaling           also the samsa scaling runs (partitions, record size, producers)",
    "  --scaling-only      only the scaling runs",
    "  --scaling-records N records per scaling point (default 500000; fewer for large records)",
    "  --scaling-max-mb M  bytes per scaling point at most, in MB (default 100)",
    "  --scaling-dims LIST scaling dimensions (default partitions,sticky,size,producers)",
    "  --window N          records sent and not yet acknowledged, at most (default 32768; 32 MiB at most)",
    "  --broker-cpu-prof D run every samsa broker under node --cpu-prof, profiles into D",
    "  --charts DIR        where the SVG charts go (default bench/charts)",
    "  --write-results     replace the generated block of bench/RESULTS.md (between compare markers)",
    "  --out FILE          also write the JSON report to FILE",
    `  --dir DIR           where temporary data directories are made (default ${os.tmpdir()})`,
  ].join("\n");
}

function positiveInt(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a positive integer`);
  return n;
}

function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: "boolean", default: false },
      records: { type: "string", default: "1000000" },
      "consume-reps": { type: "string", default: "3" },
      "record-size": { type: "string", default: "100" },
      only: { type: "string", default: SYSTEMS.join(",") },
      scaling: { type: "boolean", default: false },
      "scaling-only": { type: "boolean", default: false },
      "scaling-records": { type: "string", default: "500000" },
      "scaling-max-mb": { type: "string", default: "100" },
      "scaling-dims": { type: "string", default: "partitions,sticky,size,producers" },
      window: { type: "string", default: "32768" },
      "broker-cpu-prof": { type: "string" },
      charts: { type: "string", default: path.join(ROOT, "bench", "charts") },
      "write-results": { type: "boolean", default: false },
      out: { type: "string" },
      dir: { type: "string", default: os.tmpdir() },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) return null;
  const only = values.only
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  for (const s of only)
    if (!(SYSTEMS as readonly string[]).includes(s)) throw new Error(`unknown system ${s}`);
  // The other systems are Debian's own servers: say how to get them rather than fail mid-run.
  const servers: [string, string, string][] = [
    ["redis", REDIS_BIN, "redis-server"],
    ["nats", NATS_BIN, "nats-server"],
  ];
  for (const [system, bin, pkg] of servers) {
    if (only.includes(system) && !fs.existsSync(bin)) {
      throw new Error(`${bin} not found: apt-get install -y ${pkg} (or leave ${system} out with --only)`);
    }
  }
  return {
    json: values.json,
    records: positiveInt("--records", values.records),
    consumeReps: positiveInt("--consume-reps", values["consume-reps"]),
    recordBytes: positiveInt("--record-size", values["record-size"]),
    only: SYSTEMS.filter((s) => only.includes(s)),
    scaling: values.scaling || values["scaling-only"],
    scalingOnly: values["scaling-only"],
    scalingRecords: positiveInt("--scaling-records", values["scaling-records"]),
    scalingMaxBytes: positiveInt("--scaling-max-mb", values["scaling-max-mb"]) * 1e6,
    scalingDims: DIMENSIONS.filter((d) => values["scaling-dims"].split(",").includes(d)),
    window: positiveInt("--window", values.window),
    brokerCpuProf: values["broker-cpu-prof"] ? path.resolve(values["broker-cpu-prof"]) : null,
    charts: path.resolve(values.charts),
    writeResults: values["write-results"],
    out: values.out ? path.resolve(values.out) : null,
    baseDir: path.resolve(values.dir),
  };
}

// -----------------------------------------------------------------------------------------------

interface Row {
  system: System;
  label: string;
  produce: ProduceResult;
  consume: ConsumeResult;
  /** Broker CPU (user + system) during the timed produce, percent of one core. */
  broker_cpu_pct: number;
  broker_rss_mb: number;
  broker_peak_rss_mb: number;
}

interface Target {
  name: string;
  goal: string;
  measured: string;
  met: boolean | null;
}

interface Report {
  benchmark: "compare";
  date: string;
  node: string;
  cpus: number;
  cpu_model: string;
  records: number;
  record_bytes: number;
  window: number;
  settings: Record<string, string>;
  rows: Row[];
  idle_partitions?: {
    partitions: number;
    before_mb: number;
    after_mb: number;
    peak_mb: number;
    create_ms: number;
  };
  scaling?: ScalingResults;
  targets: Target[];
  charts: string[];
  load_1m_start: number;
  load_1m: number;
  seconds: number;
}

const WINDOW_BYTES = 32 * 1024 * 1024;
/** Records per `Producer.sendBatch` call in the "samsa-batch" row (as the Redis driver's pipelines). */
const SEND_BATCH = 1000;

async function runSystem(
  system: System,
  root: string,
  o: Options,
  startBroker: (label: string, settings?: Record<string, string | number>) => Promise<SamsaBroker>,
): Promise<Row> {
  const w: Workload = {
    records: o.records,
    recordBytes: o.recordBytes,
    window: Math.max(8, Math.min(o.window, Math.floor(WINDOW_BYTES / o.recordBytes))),
    maxMs: PHASE_MAX_MS,
  };
  let server: Server | null = null;
  let produce: ProduceResult;
  let consume: ConsumeResult;
  let cpu = 0;
  /** `o.consumeReps` read passes from the beginning, one after another; the median one is reported. */
  const passes = async (f: () => Promise<ConsumeResult>): Promise<ConsumeResult> => {
    const all: ConsumeResult[] = [];
    for (let i = 0; i < o.consumeReps; i++) all.push(await f());
    return medianPass(all);
  };
  const timed = async <T>(f: () => Promise<T>): Promise<T> => {
    const pid = (server as Server).pid;
    const c0 = cpuSeconds(pid);
    const t0 = now();
    mark(`${system}-produce-start`);
    const r = await f();
    mark(`${system}-produce-end`);
    cpu = (100 * (cpuSeconds(pid) - c0)) / ((now() - t0) / 1000);
    return r;
  };
  try {
    if (system === "samsa" || system === "samsa-batch" || system === "kafkajs") {
      const b = await startBroker(
        system,
        system === "kafkajs" ? { "group.initial.rebalance.delay.ms": 0 } : {},
      );
      server = b.server;
      const topic = `bench-${system}`;
      await createTopic(b.brokers, topic, 1);
      if (system === "samsa" || system === "samsa-batch") {
        const sendBatch = system === "samsa-batch" ? SEND_BATCH : 0;
        produce = await timed(() => samsaProduce(b.brokers, topic, 1, w, { sendBatch }));
        progress(`  produce: ${produce.records_per_sec} records/s, p99 ${produce.p99_ms} ms`);
        consume = await passes(() =>
          samsaConsume(b.brokers, topic, 1, w.records, w.recordBytes, PHASE_MAX_MS),
        );
      } else {
        produce = await timed(() => kafkajsProduce(b.brokers, topic, w));
        progress(`  produce: ${produce.records_per_sec} records/s, p99 ${produce.p99_ms} ms`);
        consume = await passes(() =>
          kafkajsConsume(b.brokers, topic, w.records, w.recordBytes, PHASE_MAX_MS),
        );
      }
    } else if (system === "redis") {
      const dir = path.join(root, "redis");
      fs.mkdirSync(dir);
      const r = await startRedis(dir);
      server = r.server;
      produce = await timed(() => redisProduce(r.port, "bench", w));
      progress(`  produce: ${produce.records_per_sec} records/s, p99 ${produce.p99_ms} ms`);
      consume = await passes(() => redisConsume(r.port, "bench", w.records, w.recordBytes, PHASE_MAX_MS));
    } else {
      const dir = path.join(root, "nats");
      fs.mkdirSync(dir);
      const r = await startNats(dir);
      server = r.server;
      await natsCreateStream(r.port, "BENCH", "bench");
      produce = await timed(() => natsProduce(r.port, "bench", w));
      progress(`  produce: ${produce.records_per_sec} records/s, p99 ${produce.p99_ms} ms`);
      consume = await passes(() => natsConsume(r.port, "BENCH", w.records, w.recordBytes, PHASE_MAX_MS));
    }
    mark(`${system}-consume-end`);
    progress(
      `  consume: ${consume.records_per_sec} records/s (median of ${(consume.passes ?? []).join(", ")})`,
    );
    const mem = rssMb(server.pid);
    return {
      system,
      label: LABELS[system],
      produce,
      consume,
      broker_cpu_pct: round(cpu, 0),
      broker_rss_mb: mem.rss_mb,
      broker_peak_rss_mb: mem.peak_rss_mb,
    };
  } finally {
    await server?.stop();
  }
}

function targets(report: Report): Target[] {
  const t: Target[] = [];
  const row = (s: System) => report.rows.find((r) => r.system === s);
  const samsa = row("samsa");
  const kjs = row("kafkajs");
  const redis = row("redis");
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
  if (samsa) {
    const p = samsa.produce.records_per_sec;
    t.push({
      name: "produce, 1 samsa producer, acks=1",
      goal: ">= 1,000,000 records/s",
      measured: `${p.toLocaleString("en-US")} records/s`,
      met: p >= 1e6,
    });
    if (redis)
      t.push({
        name: "produce vs Redis Streams (same run)",
        goal: ">= 5x",
        measured: `${ratio(p, redis.produce.records_per_sec)} (${redis.produce.records_per_sec.toLocaleString("en-US")} records/s)`,
        met: p >= 5 * redis.produce.records_per_sec,
      });
    const batch = row("samsa-batch");
    if (batch) {
      const b = batch.produce.records_per_sec;
      t.push({
        name: `produce, 1 samsa producer, acks=1, sendBatch of ${SEND_BATCH}`,
        goal: ">= 1,000,000 records/s",
        measured: `${b.toLocaleString("en-US")} records/s`,
        met: b >= 1e6,
      });
      if (redis)
        t.push({
          name: "produce with sendBatch vs Redis Streams (same run)",
          goal: ">= 5x",
          measured: `${ratio(b, redis.produce.records_per_sec)} (${redis.produce.records_per_sec.toLocaleString("en-US")} records/s)`,
          met: b >= 5 * redis.produce.records_per_sec,
        });
    }
    const c = samsa.consume.records_per_sec;
    t.push({
      name: "consume, 1 samsa consumer",
      goal: ">= 3,000,000 records/s",
      measured: `${c.toLocaleString("en-US")} records/s`,
      met: c >= 3e6,
    });
    if (kjs) {
      t.push({
        name: "samsa client vs KafkaJS, produce",
        goal: ">= 5x",
        measured: `${ratio(p, kjs.produce.records_per_sec)} (${kjs.produce.records_per_sec.toLocaleString("en-US")} records/s)`,
        met: p >= 5 * kjs.produce.records_per_sec,
      });
      t.push({
        name: "samsa client vs KafkaJS, consume",
        goal: ">= 5x",
        measured: `${ratio(c, kjs.consume.records_per_sec)} (${kjs.consume.records_per_sec.toLocaleString("en-US")} records/s)`,
        met: c >= 5 * kjs.consume.records_per_sec,
      });
    }
  }
  for (const [parts, how] of [
    [report.scaling?.partitions, "record i to partition i % P"],
    [report.scaling?.sticky, "null keys, sticky partitioner"],
  ] as const) {
    if (!parts || parts.length < 2) continue;
    const first = parts[0];
    const last = parts[parts.length - 1];
    const drop = 1 - last.records_per_sec / first.records_per_sec;
    t.push({
      name: `partitions ${first.x} -> ${last.x}: produce drop (${how})`,
      goal: "<= 25%",
      measured: `${(100 * drop).toFixed(0)}% (${first.records_per_sec.toLocaleString("en-US")} -> ${last.records_per_sec.toLocaleString("en-US")} records/s)`,
      met: drop <= 0.25,
    });
  }
  if (report.idle_partitions) {
    const r = report.idle_partitions.after_mb;
    t.push({
      name: `broker RSS, ${report.idle_partitions.partitions} idle partitions`,
      goal: "<= 200 MB",
      measured: `${r} MB`,
      met: r <= 200,
    });
  }
  return t;
}

// -----------------------------------------------------------------------------------------------
// Output

function mdTable(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

const n0 = (v: number) => Math.round(v).toLocaleString("en-US");

const MAIN_HEADER = [
  "system",
  "produce rec/s",
  "MB/s",
  "p50 ms",
  "p99 ms",
  "consume rec/s",
  "(range)",
  "MB/s",
  "broker CPU %",
  "broker RSS MB (peak)",
];

function mainRows(report: Report): string[][] {
  return report.rows.map((r) => [
    r.label,
    n0(r.produce.records_per_sec),
    r.produce.mb_per_sec.toFixed(1),
    r.produce.p50_ms.toFixed(2),
    r.produce.p99_ms.toFixed(2),
    n0(r.consume.records_per_sec),
    (r.consume.passes ?? []).length > 1
      ? `${short(Math.min(...(r.consume.passes ?? [])))}-${short(Math.max(...(r.consume.passes ?? [])))}`
      : "",
    r.consume.mb_per_sec.toFixed(1),
    String(r.broker_cpu_pct),
    `${r.broker_rss_mb.toFixed(0)} (${r.broker_peak_rss_mb.toFixed(0)})`,
  ]);
}

const SCALING_HEADER = [
  "",
  "records",
  "rec/s",
  "MB/s",
  "p50 ms",
  "p99 ms",
  "broker CPU %",
  "broker CPU us/rec",
  "RSS MB",
];

function scalingRows(points: ScalingPoint[], label: (x: number) => string): string[][] {
  return points.map((p) => [
    label(p.x),
    n0(p.records),
    n0(p.records_per_sec),
    p.mb_per_sec.toFixed(1),
    p.p50_ms.toFixed(2),
    p.p99_ms.toFixed(2),
    String(p.broker_cpu_pct),
    p.broker_cpu_us_per_record.toFixed(2),
    p.broker_rss_mb.toFixed(0),
  ]);
}

const sizeLabel = (b: number) => (b >= 1024 ? `${b / 1024} KiB` : `${b} B`);

function scalingSections(report: Report): { title: string; header: string[]; rows: string[][] }[] {
  const s = report.scaling;
  if (!s) return [];
  const out: { title: string; header: string[]; rows: string[][] }[] = [];
  if (s.partitions)
    out.push({
      title: `Partitions (1 producer, ${n0(s.partitions[0].records)} x ${report.record_bytes} B, record i to partition i % P)`,
      header: ["partitions", ...SCALING_HEADER.slice(1)],
      rows: scalingRows(s.partitions, String),
    });
  if (s.sticky)
    out.push({
      title: `Partitions, null keys (1 producer, ${n0(s.sticky[0].records)} x ${report.record_bytes} B, sticky partitioner)`,
      header: ["partitions", ...SCALING_HEADER.slice(1)],
      rows: scalingRows(s.sticky, String),
    });
  if (s.size)
    out.push({
      title: `Record size (1 producer, 1 partition, at most ${s.max_bytes / 1e6} MB per point)`,
      header: ["record size", ...SCALING_HEADER.slice(1)],
      rows: scalingRows(s.size, sizeLabel),
    });
  if (s.producers)
    out.push({
      title: `Producers (worker threads, ${PRODUCERS_TOPIC_PARTITIONS} partitions, ${n0(s.producers[0].records)} x ${report.record_bytes} B in all)`,
      header: ["producers", ...SCALING_HEADER.slice(1)],
      rows: scalingRows(s.producers, String),
    });
  return out;
}

function printReport(report: Report): void {
  const out: string[] = [];
  if (report.rows.length) {
    out.push(
      `Side by side: ${n0(report.records)} records x ${report.record_bytes} B, one partition/stream, window ${report.window}`,
      table(MAIN_HEADER, mainRows(report)),
      "",
    );
  }
  if (report.idle_partitions) {
    const i = report.idle_partitions;
    out.push(
      `samsa broker RSS: ${i.before_mb} MB fresh, ${i.after_mb} MB with ${i.partitions} idle partitions (created in ${i.create_ms} ms, peak ${i.peak_mb} MB)`,
      "",
    );
  }
  for (const s of scalingSections(report)) out.push(s.title, table(s.header, s.rows), "");
  if (report.targets.length) {
    out.push(
      "Targets",
      table(
        ["target", "goal", "measured", "met"],
        report.targets.map((t) => [t.name, t.goal, t.measured, t.met === null ? "-" : t.met ? "yes" : "NO"]),
      ),
      "",
    );
  }
  if (report.charts.length) out.push(`charts: ${report.charts.join(", ")}`);
  process.stdout.write(`\n${out.join("\n")}\n`);
}

function markdown(report: Report): string {
  const out: string[] = [];
  const rel = (p: string) => path.relative(path.join(ROOT, "bench"), p);
  out.push(
    `Generated by \`bench/compare.ts\` at ${report.date} (${report.seconds} s, 1-minute load ${report.load_1m_start} at the start, ${report.load_1m} at the end; ${report.cpus} x ${report.cpu_model}, Node ${report.node}).`,
    "",
  );
  if (report.rows.length) {
    out.push(
      `${n0(report.records)} records x ${report.record_bytes} B per system, one partition / stream, at most ${report.window} records unacknowledged.`,
      "",
      mdTable(MAIN_HEADER, mainRows(report)),
      "",
    );
  }
  if (report.idle_partitions) {
    const i = report.idle_partitions;
    out.push(
      `samsa broker RSS with ${i.partitions} idle partitions: **${i.after_mb} MB** (${i.before_mb} MB before the topic was created; created in ${i.create_ms} ms; peak ${i.peak_mb} MB).`,
      "",
    );
  }
  for (const s of scalingSections(report)) out.push(`${s.title}:`, "", mdTable(s.header, s.rows), "");
  if (report.targets.length) {
    out.push(
      mdTable(
        ["target", "goal", "measured", "met"],
        report.targets.map((t) => [
          t.name,
          t.goal,
          t.measured,
          t.met === null ? "-" : t.met ? "yes" : "**no**",
        ]),
      ),
      "",
    );
  }
  if (report.charts.length)
    out.push(report.charts.map((c) => `![${path.basename(c)}](${rel(c)})`).join("\n"), "");
  return out.join("\n");
}

const BEGIN = "<!-- compare:begin (generated by npm run bench:compare -- --write-results) -->";
const END = "<!-- compare:end -->";

function writeResults(report: Report): string {
  const file = path.join(ROOT, "bench", "RESULTS.md");
  const text = fs.readFileSync(file, "utf8");
  const block = `${BEGIN}\n${markdown(report)}${END}`;
  const b = text.indexOf(BEGIN.slice(0, 22));
  const e = text.indexOf(END);
  const next =
    b >= 0 && e > b
      ? text.slice(0, b) + block + text.slice(e + END.length)
      : `${text.trimEnd()}\n\n${block}\n`;
  fs.writeFileSync(file, next);
  return file;
}

function writeCharts(report: Report, dir: string): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const note = `${report.date.slice(0, 16).replace("T", " ")} UTC, ${report.cpus} CPUs, loopback; one run, noisy`;
  const put = (name: string, svg: string) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, svg);
    files.push(f);
  };
  if (report.rows.length) {
    const labels = report.rows.map((r) => r.label);
    const panels: Panel[] = [
      {
        title: "Throughput",
        unit: "records/s",
        labels,
        series: [
          { name: "produce", values: report.rows.map((r) => r.produce.records_per_sec) },
          { name: "consume", values: report.rows.map((r) => r.consume.records_per_sec) },
        ],
      },
      {
        title: "Produce latency, send to ack",
        unit: "ms",
        labels,
        series: [
          { name: "p50", values: report.rows.map((r) => r.produce.p50_ms) },
          { name: "p99", values: report.rows.map((r) => r.produce.p99_ms) },
        ],
      },
    ];
    put(
      "compare.svg",
      chart(
        `Side by side: ${short(report.records)} x ${report.record_bytes} B, 1 partition/stream`,
        note,
        panels,
      ),
    );
  }
  const dims: [keyof ScalingResults, string, (x: number) => string][] = [
    ["partitions", "partitions", String],
    ["sticky", "partitions (null keys, sticky)", String],
    ["size", "record size", sizeLabel],
    ["producers", "producers", String],
  ];
  for (const [key, what, label] of dims) {
    const pts = report.scaling?.[key] as ScalingPoint[] | undefined;
    if (!pts) continue;
    const labels = pts.map((p) => label(p.x));
    const panels: Panel[] = [
      {
        title: "Produce throughput",
        unit: "records/s",
        labels,
        series: [{ name: "records/s", values: pts.map((p) => p.records_per_sec) }],
      },
      ...(key === "size"
        ? [
            {
              title: "Produce throughput",
              unit: "MB/s",
              labels,
              series: [{ name: "MB/s", values: pts.map((p) => p.mb_per_sec) }],
            },
          ]
        : []),
      {
        title: "Latency, send to ack",
        unit: "ms",
        labels,
        series: [
          { name: "p50", values: pts.map((p) => p.p50_ms) },
          { name: "p99", values: pts.map((p) => p.p99_ms) },
        ],
      },
      {
        title: "Broker CPU per record",
        unit: "µs/record",
        labels,
        series: [{ name: "broker CPU", values: pts.map((p) => p.broker_cpu_us_per_record) }],
      },
    ];
    put(`scaling-${key}.svg`, chart(`samsa scaling: ${what}`, note, panels));
  }
  return files;
}

// -----------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const o = optionsOrExit(parseOptions, usage);
  if (typeof o === "number") return o;
  const opts = o;
  setQuiet(opts.json);
  const scratch = scratchDir(opts.baseDir, "samsa-bench-compare-", killAllChildren);
  const root = scratch.root;
  process.once("exit", killAllChildren);
  if (opts.brokerCpuProf) fs.mkdirSync(opts.brokerCpuProf, { recursive: true });

  let brokers = 0;
  const startBroker = async (label: string, settings: Record<string, string | number> = {}) => {
    const dataDir = path.join(root, `samsa-${++brokers}-${label}`);
    return startSamsa({ dataDir, settings, cpuProfDir: opts.brokerCpuProf ?? undefined });
  };

  const cpuModel = os.cpus()[0]?.model ?? "unknown";
  progress(
    `samsa side-by-side benchmark: data in ${root}, ${os.cpus().length} x ${cpuModel}, node ${process.version}, ` +
      `load average ${os.loadavg()[0].toFixed(2)}`,
  );
  const began = now();
  const report: Report = {
    benchmark: "compare",
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    cpu_model: cpuModel,
    records: opts.records,
    record_bytes: opts.recordBytes,
    window: Math.max(8, Math.min(opts.window, Math.floor(WINDOW_BYTES / opts.recordBytes))),
    settings: {
      samsa: `acks=1, lingerMs ${SAMSA_PRODUCER.lingerMs}, batchSize ${SAMSA_PRODUCER.batchSize}; Consumer defaults (assign mode)`,
      kafkajs: `acks=1, ${KAFKAJS_BATCH} messages per send(); consumer maxBytesPerPartition 1 MiB, one-member group`,
      redis: `AOF appendfsync everysec; pipelines of ${REDIS_PIPELINE} XADD; XREAD COUNT ${REDIS_READ_COUNT}`,
      nats: `JetStream file storage; js.publish() async; ordered consumer, pulls of ${NATS_PULL}`,
    },
    rows: [],
    targets: [],
    charts: [],
    load_1m_start: round(os.loadavg()[0], 2),
    load_1m: 0,
    seconds: 0,
  };
  try {
    if (!opts.scalingOnly) {
      for (const system of opts.only) {
        progress(`${LABELS[system]}: ${opts.records} x ${opts.recordBytes} B ...`);
        report.rows.push(await runSystem(system, root, opts, startBroker));
      }
      if (opts.only.includes("samsa")) {
        progress(`samsa: RSS with ${IDLE_PARTITIONS} idle partitions ...`);
        const b = await startBroker("idle");
        try {
          const r = await idlePartitionsRss(b.brokers, b.server.pid, IDLE_PARTITIONS, IDLE_SETTLE_MS, rssMb);
          report.idle_partitions = { partitions: IDLE_PARTITIONS, ...r };
          progress(`  ${r.before_mb} MB -> ${r.after_mb} MB`);
        } finally {
          await b.server.stop();
        }
      }
    }
    if (opts.scaling) {
      report.scaling = await runScaling({
        records: opts.scalingRecords,
        recordBytes: opts.recordBytes,
        maxBytes: opts.scalingMaxBytes,
        window: opts.window,
        windowBytes: WINDOW_BYTES,
        maxMs: PHASE_MAX_MS,
        startBroker: (label) => startBroker(label),
        dimensions: opts.scalingDims,
      });
    }
  } finally {
    scratch.dispose();
  }
  report.load_1m = round(os.loadavg()[0], 2);
  report.seconds = round((now() - began) / 1000, 1);
  report.targets = targets(report);
  report.charts = writeCharts(report, opts.charts);
  if (opts.writeResults) progress(`wrote ${writeResults(report)}`);
  if (opts.out) fs.writeFileSync(opts.out, `${JSON.stringify(report, null, 2)}\n`);
  if (opts.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else {
    printReport(report);
    process.stdout.write(`total ${report.seconds} s, load average ${report.load_1m}\n`);
  }
  return 0;
}

runMain(main, killAllChildren);
