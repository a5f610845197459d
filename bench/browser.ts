/**
 * The message browser benchmark (issue 16): how long the console takes to show a filtered page of
 * 100 records out of 1,000,000. An in-process broker (temporary data directory, ports 0,
 * flush.policy `os`) holds one topic of `--records` (1,000,000) small JSON values with three
 * headers, over `--partitions` (4) partitions, appended through the Produce handler in batches of
 * 1,000 (record i: key `user-<i mod 1000>`, headers region `r<i mod 10>`, trace and source, value
 * `{"id", "user", "order": {"status", "total", "items": [{"sku", "qty"}]}, "audit"}`).
 *
 * Each scenario asks `GET /topics/{topic}/messages?start=beginning&limit=100&...` over HTTP on
 * 127.0.0.1, as the console does, and follows the cursor until 100 records are shown or the topic
 * is done: requests, records scanned, milliseconds to the 100th record (or the end), per scenario:
 *
 *   none          no filter
 *   key           key exactly `user-42` (0.1%)
 *   header        header region exactly `r7` (10%)
 *   json-1%       $.order.status exactly `refunded` (every 100th record)
 *   json-0.01%    $.audit exactly `true` (every 10,000th record: 100 in 1,000,000, so the whole topic)
 *   end           start=end, no filter (the last 100)
 *
 *   node dist/bench/browser.js [--records N] [--partitions P] [--reps R] [--json] [--dir DIR]
 *
 * Each scenario runs --reps (3) times; the median run is reported.
 */
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { Broker } from "../broker/broker.js";
import { loadBrokerConfig } from "../broker/config.js";
import { KafkaApi } from "../broker/http/kafka-api.js";
import { encodeRecordBatch, type RecordInput } from "../protocol/record-batch.js";
import { intOption, optionsOrExit, runMain, scratchDir, table } from "./script.js";

const TOPIC = "browse-bench";
const BATCH_RECORDS = 1000;
const PAGE = 100;
/** A scenario that has not shown 100 records after this many requests has failed. */
const REQUESTS_MAX = 10_000;

const SCENARIOS: readonly { name: string; query: Record<string, string> }[] = [
  { name: "none", query: {} },
  { name: "key", query: { key: "user-42", match: "exact" } },
  { name: "header", query: { header: "region", header_value: "r7", match: "exact" } },
  { name: "json-1%", query: { json_path: "$.order.status", json_value: "refunded", match: "exact" } },
  { name: "json-0.01%", query: { json_path: "$.audit", json_value: "true", match: "exact" } },
  { name: "end", query: { start: "end" } },
];

interface Options {
  records: number;
  partitions: number;
  reps: number;
  json: boolean;
  baseDir: string;
}

function usage(): string {
  return [
    "usage: node dist/bench/browser.js [--records N] [--partitions P] [--reps R] [--json] [--dir DIR]",
    "  --records N     records in the topic (default 1000000)",
    "  --partitions P  partitions of the topic (default 4)",
    "  --reps R        runs of each scenario; the median is reported (default 3)",
    "  --json          one JSON object on stdout",
    `  --dir DIR       where a temporary data directory is made (default ${os.tmpdir()})`,
  ].join("\n");
}

function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      records: { type: "string", default: "1000000" },
      partitions: { type: "string", default: "4" },
      reps: { type: "string", default: "3" },
      json: { type: "boolean", default: false },
      dir: { type: "string", default: os.tmpdir() },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) return null;
  return {
    records: intOption("--records", values.records),
    partitions: intOption("--partitions", values.partitions),
    reps: intOption("--reps", values.reps),
    json: values.json,
    baseDir: path.resolve(values.dir),
  };
}

let quiet = false;
const progress = (line: string) => {
  if (!quiet) process.stderr.write(`${line}\n`);
};

function record(i: number): RecordInput {
  const value = {
    id: i,
    user: `user-${i % 1000}`,
    order: {
      status: i % 100 === 0 ? "refunded" : "paid",
      total: (i % 997) + 0.5,
      items: [{ sku: `SKU-${i % 4999}`, qty: 1 + (i % 3) }],
    },
    audit: i % 10_000 === 0,
  };
  return {
    key: Buffer.from(JSON.stringify(`user-${i % 1000}`)),
    value: Buffer.from(JSON.stringify(value)),
    headers: [
      { key: "region", value: Buffer.from(`r${i % 10}`) },
      { key: "trace", value: Buffer.from(`trace-${i}`) },
      { key: "source", value: Buffer.from(i % 2 === 0 ? "web" : "mobile") },
    ],
  };
}

/** Appends the records, record i to partition i mod P, BATCH_RECORDS a batch. */
async function fill(broker: Broker, options: Options): Promise<number> {
  const caller = {
    clientHost: "127.0.0.1",
    principal: "User:ANONYMOUS",
    authorize: () => true,
    authorizeAny: () => true,
  };
  const api = new KafkaApi(broker.dispatcher, caller);
  const began = performance.now();
  const perPartition = Math.ceil(options.records / options.partitions);
  for (let start = 0; start < perPartition; start += BATCH_RECORDS) {
    const data: { partition: number; records: Buffer }[] = [];
    for (let p = 0; p < options.partitions; p++) {
      const batch: RecordInput[] = [];
      for (let k = start; k < Math.min(start + BATCH_RECORDS, perPartition); k++) {
        const i = k * options.partitions + p;
        if (i < options.records) batch.push(record(i));
      }
      if (batch.length > 0) data.push({ partition: p, records: encodeRecordBatch(batch) });
    }
    for (const r of await api.produce(TOPIC, data))
      if (r.errorCode !== 0) throw new Error(`produce to ${TOPIC}-${r.partition} failed: ${r.errorCode}`);
  }
  return (performance.now() - began) / 1000;
}

interface Run {
  requests: number;
  shown: number;
  scanned: number;
  ms: number;
  first_request_ms: number;
}

interface Page {
  records: unknown[];
  cursor: string;
  scanned: number;
  done: boolean;
}

/** One scenario: requests following the cursor until PAGE records are shown or the topic is done. */
async function runScenario(port: number, query: Record<string, string>): Promise<Run> {
  const began = performance.now();
  const run: Run = { requests: 0, shown: 0, scanned: 0, ms: 0, first_request_ms: 0 };
  let cursor: string | null = null;
  while (run.shown < PAGE && run.requests < REQUESTS_MAX) {
    const params = new URLSearchParams({ start: "beginning", ...query, limit: String(PAGE - run.shown) });
    if (cursor !== null) params.set("cursor", cursor);
    const res = await fetch(`http://127.0.0.1:${port}/topics/${TOPIC}/messages?${params}`);
    if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
    const page = (await res.json()) as Page;
    run.requests++;
    if (run.requests === 1) run.first_request_ms = performance.now() - began;
    run.shown += page.records.length;
    run.scanned += page.scanned;
    cursor = page.cursor;
    if (page.done || query.start === "end") break;
  }
  run.ms = performance.now() - began;
  return run;
}

function median(runs: Run[]): Run {
  return [...runs].sort((a, b) => a.ms - b.ms)[Math.floor(runs.length / 2)];
}

async function main(): Promise<number> {
  const options = optionsOrExit(parseOptions, usage);
  if (typeof options === "number") return options;
  quiet = options.json;
  const scratch = scratchDir(options.baseDir, "samsa-bench-browser-");
  const config = loadBrokerConfig({
    flags: {
      "data.dir": scratch.root,
      "kafka.port": 0,
      "http.port": 0,
      "log.level": "warn",
      "log.flush.policy": "os",
    },
  });
  const broker = await Broker.start(config);
  const report: Record<string, unknown> = {
    benchmark: "browser",
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    records: options.records,
    partitions: options.partitions,
  };
  try {
    await broker.topics.create(TOPIC, options.partitions, 1, {});
    progress(`filling ${TOPIC}: ${options.records} records over ${options.partitions} partitions ...`);
    report.fill_seconds = Math.round((await fill(broker, options)) * 10) / 10;
    const results: Record<string, Run> = {};
    for (const s of SCENARIOS) {
      const runs: Run[] = [];
      for (let r = 0; r < options.reps; r++) runs.push(await runScenario(broker.httpPort, s.query));
      results[s.name] = median(runs);
      progress(`${s.name}: ${JSON.stringify(results[s.name])}`);
    }
    report.scenarios = results;
  } finally {
    await broker.stop();
    scratch.dispose();
  }
  report.load_1m = Math.round(os.loadavg()[0] * 100) / 100;
  if (options.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else {
    const rows = Object.entries(report.scenarios as Record<string, Run>).map(([name, r]) => [
      name,
      String(r.shown),
      String(r.requests),
      r.scanned.toLocaleString("en-US"),
      r.first_request_ms.toFixed(0),
      r.ms.toFixed(0),
    ]);
    process.stdout.write(
      `${table(["scenario", "shown", "requests", "scanned", "first ms", "total ms"], rows)}\n` +
        `fill ${report.fill_seconds} s, load average ${report.load_1m}\n`,
    );
  }
  return 0;
}

runMain(main);
